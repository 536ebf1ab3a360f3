"""Stage 5c: full-information maximum likelihood, the casewise normal likelihood of incomplete
rows, pattern by pattern (lavaan's ``missing = "ml"``).

A row that answered the indicators ``o`` contributes the normal density of its answers under
``mu_o`` and ``Sigma_oo``. With the rows of a pattern summarised by their means and covariances,
a group's discrepancy is ``F_g = 2 (logL1_g - logL_g(theta)) / n_g``, logL1 the unrestricted
model's log-likelihood (EM, :mod:`.missing`), so that ``N F`` is the likelihood-ratio
chi-square and, with complete rows, F is exactly ML's. The gradient and the expected
information reach the parameters through the same moments as ML's: each pattern adds its
part of the derivative by ``[mu, vech Sigma]``, weighted by its share of the group's rows.
"""

from __future__ import annotations

import numpy as np

from .matrices import Representation
from .missing import Pattern, pattern_inverses, pattern_loglik
from .ml import ML, GroupState, moment_score_products
from .optimize import central_jacobian
from .samplestats import SampleStats


def embed(inner: np.ndarray, index: np.ndarray, p: int) -> np.ndarray:
    out = np.zeros((p, p))
    out[np.ix_(index, index)] = inner
    return out


class FIML(ML):
    """The FIML objective; every method of :class:`.ML` keeps its meaning."""

    name = "fiml"

    def __init__(self, rep: Representation, stats: SampleStats) -> None:
        if not rep.meanstructure:
            raise ValueError("FIML needs a mean structure: build the table with meanstructure.")
        self.rep = rep
        self.stats = stats
        self.weights = stats.weights
        self.h1 = []
        for g in stats.groups:
            assert g.h1 is not None, "FIML needs sample statistics by missing-data pattern"
            self.h1.append(g.h1.loglik)

    def _group_loglik(self, state: GroupState, g: int) -> float:
        assert state.mu is not None
        return pattern_loglik(self.stats.groups[g].patterns, state.mu, state.sigma)

    def group_values(self, theta: np.ndarray) -> np.ndarray:
        out = []
        for g, sample in enumerate(self.stats.groups):
            state = self.state(theta, g)
            if state is None:
                return np.full(len(self.stats.groups), np.inf)
            out.append(2 * (self.h1[g] - self._group_loglik(state, g)) / sample.n)
        return np.array(out)

    def moment_gradient(self, state: GroupState, g: int) -> np.ndarray:
        sample = self.stats.groups[g]
        assert state.mu is not None
        return pattern_gradient(sample.patterns, state.mu, state.sigma, self.rep.vech, sample.n)

    def moment_weight(self, state: GroupState, g: int) -> np.ndarray:
        sample = self.stats.groups[g]
        return pattern_weight(sample.patterns, state.sigma, self.rep.vech, sample.n)

    def parameter_information(self, state: GroupState, g: int, delta: np.ndarray) -> np.ndarray:
        return delta.T @ self.moment_weight(state, g) @ delta

    def observed_hessian(self, theta: np.ndarray) -> np.ndarray:
        """The Hessian of F: ``2 Delta' W Delta`` with W the observed information of the
        moments (:func:`h1_observed_information` at the implied moments), plus the moments'
        curvature weighted by their gradient, ``sum_j f_j d2 m_j``, which needs only the
        Jacobian Delta at nearby points (no pass over the patterns)."""
        q = len(theta)
        total = np.zeros((q, q))
        for g, sample in enumerate(self.stats.groups):
            state = self.state(theta, g)
            assert state is not None and state.mu is not None
            delta = self.rep.delta(theta, g)
            w = h1_observed_information(
                sample.patterns, state.mu, state.sigma, self.rep.vech, sample.n
            )
            f = self.moment_gradient(state, g)

            def pulled(t: np.ndarray, g: int = g, f: np.ndarray = f) -> np.ndarray:
                return self.rep.delta(t, g).T @ f

            curvature = central_jacobian(pulled, theta)
            part = 2 * delta.T @ w @ delta + (curvature + curvature.T) / 2
            total += self.weights[g] * part
        return total

    def moment_products(self, state: GroupState, g: int) -> np.ndarray:
        assert state.mu is not None
        found = self.stats.groups[g].patterns
        return pattern_score_products(found, state.mu, state.sigma, self.rep.vech)

    def loglik(self, theta: np.ndarray) -> float:
        total = 0.0
        for g in range(len(self.stats.groups)):
            state = self.state(theta, g)
            if state is None:
                return -np.inf
            total += self._group_loglik(state, g)
        return total

    def unrestricted_loglik(self) -> float:
        return float(sum(self.h1))


def pattern_score_products(
    found: tuple[Pattern, ...],
    mu: np.ndarray,
    sigma: np.ndarray,
    vech: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """``sum_i m_i m_i'`` of the rows' derivatives of their log-likelihood by ``[mu, vech
    Sigma]`` (zero for the moments of items a row did not answer), pattern by pattern and a
    block of rows at a time."""
    p = len(mu)
    total = np.zeros((p + len(vech[0]), p + len(vech[0])))
    for pat, block in zip(found, pattern_inverses(found, sigma), strict=True):
        o = pat.index
        inv = embed(block, o, p)
        dev = np.zeros((pat.n, p))
        dev[:, o] = pat.rows - mu[o]
        total += moment_score_products(inv, dev, vech, True)
    return total


def pattern_gradient(
    found: tuple[Pattern, ...],
    mu: np.ndarray,
    sigma: np.ndarray,
    vech: tuple[np.ndarray, np.ndarray],
    n: int,
) -> np.ndarray:
    """The derivative of ``-2 logL / n`` by ``[mu, vech Sigma]``: each pattern's ML gradient
    in its own indicators, weighted by its share of the rows."""
    p = len(mu)
    rows, cols = vech
    double = np.where(rows == cols, 1.0, 2.0)
    mean_part = np.zeros(p)
    cov_part = np.zeros((p, p))
    for pat, inv in zip(found, pattern_inverses(found, sigma), strict=True):
        o = pat.index
        share = pat.n / n
        u = inv @ (pat.mean - mu[o])
        mean_part[o] -= 2 * share * u
        cov_part[pat.block] += share * (inv - inv @ pat.cov @ inv - np.outer(u, u))
    return np.concatenate([mean_part, cov_part[rows, cols] * double])


def _pair_sums(
    left: np.ndarray, right: np.ndarray, weights: np.ndarray, vech: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """``sum_k w_k 1/2 tr(L_k E_r R_k E_s)`` over vech positions r, s, for stacks of p x p
    matrices: one product of the flattened stacks gives every ``L_k[a, b] R_k[c, d]`` sum."""
    k, p, _ = left.shape
    t = (left.reshape(k, p * p) * weights[:, None]).T @ right.reshape(k, p * p)
    rows, cols = vech
    r, c = rows[:, None], cols[:, None]
    s, u = rows[None, :], cols[None, :]

    def at(a: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return t[a * p + b, x * p + y]

    terms = at(r, u, c, s) + at(r, s, c, u) + at(c, u, r, s) + at(c, s, r, u)
    double = np.where(rows == cols, 1.0, 2.0)
    return 0.5 * terms * (double[:, None] * double[None, :] / 4)


def _inverses(found: tuple[Pattern, ...], sigma: np.ndarray) -> np.ndarray:
    """Each pattern's ``Sigma_oo^-1``, embedded in a p x p matrix of zeros."""
    p = len(sigma)
    out = np.zeros((len(found), p, p))
    for k, (pat, inv) in enumerate(zip(found, pattern_inverses(found, sigma), strict=True)):
        out[k][pat.block] = inv
    return out


def pattern_weight(
    found: tuple[Pattern, ...], sigma: np.ndarray, vech: tuple[np.ndarray, np.ndarray], n: int
) -> np.ndarray:
    """The expected per-case information of ``[mu, vech Sigma]`` over the patterns."""
    p = len(sigma)
    shares = np.array([pat.n / n for pat in found])
    inv = _inverses(found, sigma)
    m = len(vech[0])
    total = np.zeros((p + m, p + m))
    total[:p, :p] = np.einsum("k,kij->ij", shares, inv)
    total[p:, p:] = _pair_sums(inv, inv, shares, vech)
    return total


def h1_observed_information(
    found: tuple[Pattern, ...],
    mu: np.ndarray,
    sigma: np.ndarray,
    vech: tuple[np.ndarray, np.ndarray],
    n: int,
) -> np.ndarray:
    """The observed per-case information of ``[mu, vech Sigma]`` (half the Hessian of
    ``-2 logL / n``), pattern by pattern: with ``A = Sigma_oo^-1``, ``u = A d`` and
    ``B = A (S_k + d d') A``, the blocks are ``A``, ``A E u`` and ``2 B(A, B) - B(A, A)``
    (``B(P, Q) = 1/2 tr(P E Q E)``). At the EM estimates of complete rows it is the expected
    information."""
    rows, cols = vech
    p = len(mu)
    m = len(rows)
    double = np.where(rows == cols, 1.0, 2.0)
    shares = np.array([pat.n / n for pat in found])
    a = _inverses(found, sigma)
    b = np.zeros_like(a)
    u = np.zeros((len(found), p))
    for k, pat in enumerate(found):
        o = pat.index
        inv = a[k][pat.block]
        d = pat.mean - mu[o]
        u[k, o] = inv @ d
        b[k][pat.block] = inv @ (pat.cov + np.outer(d, d)) @ inv
    total = np.zeros((p + m, p + m))
    total[:p, :p] = np.einsum("k,kij->ij", shares, a)
    # A E u, column by column of vech: A[:, r] u_c + A[:, c] u_r (once on the diagonal)
    cross = a[:, :, rows] * u[:, None, cols] + a[:, :, cols] * u[:, None, rows]
    total[:p, p:] = np.einsum("k,kij->ij", shares, cross) * (double / 2)
    total[p:, p:] = 2 * _pair_sums(a, b, shares, vech) - _pair_sums(a, a, shares, vech)
    total[p:, :p] = total[:p, p:].T
    return total
