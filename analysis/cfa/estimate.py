"""Stage 4: estimation. Maximum likelihood by Fisher scoring, with the information matrices and
casewise scores that standard errors and robust (MLR) corrections need.

The ML discrepancy is ``F = log|Sigma| + tr(S Sigma^-1) - log|S| - p`` with ``S`` the sample
covariance with denominator N (as lavaan); the chi-square is ``N F``. Its gradient is
``g_k = tr(G dSigma_k)`` with ``G = Sigma^-1 - Sigma^-1 S Sigma^-1``, and its expected Hessian
``H_kl = tr(Sigma^-1 dSigma_k Sigma^-1 dSigma_l)``; the Fisher information of the whole sample
is ``N/2 H``. Fisher scoring steps ``-H^-1 g``, halved until F decreases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .matrices import Representation

MAX_ITERATIONS = 300
TOLERANCE = 1e-10


@dataclass(frozen=True)
class Estimate:
    theta: np.ndarray
    fmin: float
    iterations: int
    converged: bool
    message: str


def discrepancy(sigma: np.ndarray, s: np.ndarray, logdet_s: float) -> float:
    sign, logdet = np.linalg.slogdet(sigma)
    if sign <= 0:
        return np.inf
    try:
        trace = np.trace(np.linalg.solve(sigma, s))
    except np.linalg.LinAlgError:
        return np.inf
    return float(logdet + trace - logdet_s - len(s))


def gradient(rep: Representation, theta: np.ndarray, s: np.ndarray) -> np.ndarray:
    sigma = rep.implied(theta)
    inv = np.linalg.inv(sigma)
    g = inv - inv @ s @ inv
    return np.einsum("ij,kji->k", g, rep.derivatives(theta))


def expected_hessian(rep: Representation, theta: np.ndarray) -> np.ndarray:
    """``H_kl = tr(Sigma^-1 dSigma_k Sigma^-1 dSigma_l)`` (twice the per-case information)."""
    inv = np.linalg.inv(rep.implied(theta))
    a = np.einsum("ij,kjl->kil", inv, rep.derivatives(theta))
    return np.einsum("kij,lji->kl", a, a)


def fit_ml(rep: Representation, s: np.ndarray, start: np.ndarray | None = None) -> Estimate:
    """Fisher scoring with Levenberg-Marquardt damping: the step solves
    ``(H + mu mean(diag H) I) step = -g``; mu shrinks after a successful step and grows after a
    failed one, so a singular H (an empirically under-identified model) cannot stall it."""
    logdet_s = float(np.linalg.slogdet(s)[1])
    theta = rep.start(s) if start is None else start.copy()
    f = discrepancy(rep.implied(theta), s, logdet_s)
    if not np.isfinite(f):
        theta = rep.start(np.diag(np.diag(s)))
        f = discrepancy(rep.implied(theta), s, logdet_s)
    mu = 0.0
    g = gradient(rep, theta, s)
    for iteration in range(1, MAX_ITERATIONS + 1):
        h = expected_hessian(rep, theta)
        scale = float(np.mean(np.diag(h))) or 1.0
        while True:
            try:
                step = -np.linalg.solve(h + mu * scale * np.eye(len(theta)), g)
            except np.linalg.LinAlgError:
                step = None
            if step is not None:
                trial = theta + step
                f_trial = discrepancy(rep.implied(trial), s, logdet_s)
                if f_trial <= f + 1e-14:
                    break
            mu = max(mu * 10, 1e-8)
            if mu > 1e8:
                return Estimate(
                    theta,
                    f,
                    iteration,
                    bool(np.max(np.abs(g)) < 1e-5),
                    "no step decreased the discrepancy",
                )
        mu /= 10 if mu > 1e-8 else np.inf
        change = f - f_trial
        theta, f = trial, f_trial
        g = gradient(rep, theta, s)
        if np.max(np.abs(g)) < 1e-8 or (np.max(np.abs(step)) < TOLERANCE and change < 1e-14):
            return Estimate(theta, f, iteration, True, "converged")
    converged = bool(np.max(np.abs(g)) < 1e-5)
    return Estimate(theta, f, MAX_ITERATIONS, converged, "iteration limit reached")


def observed_hessian(rep: Representation, theta: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Hessian of F by central differences of the analytic gradient."""
    q = len(theta)
    out = np.empty((q, q))
    for k in range(q):
        h = 1e-5 * max(1.0, abs(theta[k]))
        up, down = theta.copy(), theta.copy()
        up[k] += h
        down[k] -= h
        out[:, k] = (gradient(rep, up, s) - gradient(rep, down, s)) / (2 * h)
    return (out + out.T) / 2


def _pair_products(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per case, ``u_r u_c`` for every r >= c (n x p*), with the index pairs."""
    rows, cols = np.tril_indices(u.shape[1])
    return u[:, rows] * u[:, cols], rows, cols


def casewise_scores(rep: Representation, theta: np.ndarray, centered: np.ndarray) -> np.ndarray:
    """Per-case derivatives of the log-likelihood (means saturated at the sample means):
    ``d l_i / d theta_k = -1/2 tr(Sigma^-1 dSigma_k) + 1/2 u_i' dSigma_k u_i`` with
    ``u_i = Sigma^-1 d_i``. The quadratic forms are one matrix product: the products
    ``u_ir u_ic`` (r >= c) times the derivatives' lower triangles, off-diagonal cells doubled.
    """
    inv = np.linalg.inv(rep.implied(theta))
    deriv = rep.derivatives(theta)
    products, rows, cols = _pair_products(centered @ inv)
    weights = deriv[:, rows, cols] * np.where(rows == cols, 1.0, 2.0)
    trace = np.einsum("ij,kji->k", inv, deriv)
    return 0.5 * (products @ weights.T - trace[None, :])


def saturated_scores(s: np.ndarray, centered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Information (per case) and casewise scores of the saturated model, in vech(Sigma).

    The derivative of Sigma by its (r, c) element is ``E_rc + E_cr`` (or ``E_rr``), so the
    quadratic form is ``2 u_r u_c`` (or ``u_r^2``) and the trace ``2 S^-1_rc`` (or ``S^-1_rr``).
    """
    inv = np.linalg.inv(s)
    products, rows, cols = _pair_products(centered @ inv)
    double = np.where(rows == cols, 1.0, 2.0)
    scores = 0.5 * (products * double - (inv[rows, cols] * double)[None, :])
    # Information 1/2 tr(S^-1 dS_k S^-1 dS_l) in closed form for unit derivative matrices.
    a, b = rows[:, None], cols[:, None]
    c, d = rows[None, :], cols[None, :]
    info = 0.5 * (inv[a, c] * inv[b, d] + inv[a, d] * inv[b, c])
    info *= double[:, None] * double[None, :] / 2
    return info, scores


def robust_trace(info: np.ndarray, scores: np.ndarray) -> float:
    """``tr(A^-1 B)`` with A the per-case information and B the mean outer product of scores."""
    b = scores.T @ scores / len(scores)
    return float(np.trace(np.linalg.solve(info, b)))
