"""Stage 5b: the normal-theory maximum likelihood estimator, over groups.

The discrepancy of a group is
``F_g = log|Sigma| + tr(S Sigma^-1) - log|S| - p + (m - mu)' Sigma^-1 (m - mu)``
(S with denominator n, as lavaan; the mean term only with a mean structure), and the objective
is ``F = sum_g (n_g / N) F_g``, so the chi-square is ``N F``. With the Jacobian Delta of each
group's moments (:mod:`analysis.cfa.matrices`) the gradient is ``sum_g w_g Delta_g' f_g`` and the
expected Hessian ``2 sum_g w_g Delta_g' W_g Delta_g``, W_g the per-case information of the
moments; the Fisher information of the whole sample is ``N/2`` times that Hessian.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .linalg import positive_inverse
from .matrices import Representation
from .optimize import central_jacobian
from .samplestats import GroupSample, SampleStats


def vech_information(inv: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Per-case information of vech(Sigma): ``1/2 tr(Sigma^-1 E_a Sigma^-1 E_b)`` for the unit
    derivative matrices E (an off-diagonal element appears twice in Sigma)."""
    a, b = rows[:, None], cols[:, None]
    c, d = rows[None, :], cols[None, :]
    double = np.where(rows == cols, 1.0, 2.0)
    info = 0.5 * (inv[a, c] * inv[b, d] + inv[a, d] * inv[b, c])
    return info * (double[:, None] * double[None, :] / 2)


def moment_information(
    inv: np.ndarray, vech: tuple[np.ndarray, np.ndarray], means: bool
) -> np.ndarray:
    """Per-case information of ``[mu, vech Sigma]``: block diagonal, ``Sigma^-1`` for the means."""
    cov = vech_information(inv, *vech)
    if not means:
        return cov
    p = len(inv)
    out = np.zeros((p + len(cov), p + len(cov)))
    out[:p, :p] = inv
    out[p:, p:] = cov
    return out


def normal_information(
    inv: np.ndarray, delta: np.ndarray, vech: tuple[np.ndarray, np.ndarray], means: bool
) -> np.ndarray:
    """``Delta' W Delta`` for the normal-theory per-case information W of the moments
    (:func:`moment_information`), without forming W: with ``D_k`` the symmetric matrix of
    column k's covariance derivatives, entry (k, l) is ``1/2 tr(Sigma^-1 D_k Sigma^-1 D_l)``,
    plus the means' ``Delta_mu' Sigma^-1 Delta_mu``. For p items W has p^2 (p + 1)^2 / 4
    entries; this costs a few products of p x p matrices per parameter."""
    rows, cols = vech
    p = len(inv)
    cov = delta[p:] if means else delta
    d = np.zeros((delta.shape[1], p, p))
    d[:, rows, cols] = cov.T
    d[:, cols, rows] = cov.T
    out = 0.5 * np.tensordot(inv @ d @ inv, d, axes=([1, 2], [1, 2]))
    if means:
        out += delta[:p].T @ inv @ delta[:p]
    return out


def moment_scores(
    inv: np.ndarray, deviations: np.ndarray, vech: tuple[np.ndarray, np.ndarray], means: bool
) -> np.ndarray:
    """Per case, the derivative of its log-likelihood by ``[mu, vech Sigma]``:
    ``u`` and ``1/2 (u_r u_c - Sigma^-1_rc)`` (doubled off the diagonal), ``u = Sigma^-1 d``."""
    rows, cols = vech
    u = deviations @ inv
    double = np.where(rows == cols, 1.0, 2.0)
    cov = 0.5 * (u[:, rows] * u[:, cols] - inv[rows, cols][None, :]) * double
    return np.hstack([u, cov]) if means else cov


BLOCK_ROWS = 65_536  # rows of casewise scores held at once: memory stays bounded at any n


def moment_score_products(
    inv: np.ndarray, deviations: np.ndarray, vech: tuple[np.ndarray, np.ndarray], means: bool
) -> np.ndarray:
    """``sum_i m_i m_i'`` over the rows' moment scores (:func:`moment_scores`), a block of
    rows at a time; the casewise parameter scores' products follow as ``Delta' (.) Delta``."""
    size = len(inv) * (1 if means else 0) + len(vech[0])
    total = np.zeros((size, size))
    for start in range(0, len(deviations), BLOCK_ROWS):
        scores = moment_scores(inv, deviations[start : start + BLOCK_ROWS], vech, means)
        total += scores.T @ scores
    return total


@dataclass(frozen=True)
class GroupState:
    sigma: np.ndarray
    inv: np.ndarray
    logdet: float
    mu: np.ndarray | None


class ML:
    """The ML objective for a model and its sample statistics. Each group's part of the
    gradient and of the information is taken through its moments (``moment_gradient``,
    ``moment_weight``, and ``parameter_information``, which ML computes without forming its
    weight); another likelihood of the same moments (FIML) changes only those."""

    name = "ml"

    def __init__(self, rep: Representation, stats: SampleStats) -> None:
        self.rep = rep
        self.stats = stats
        self.weights = stats.weights
        self.logdet_s = [float(np.linalg.slogdet(g.cov)[1]) for g in stats.groups]

    def state(self, theta: np.ndarray, g: int) -> GroupState | None:
        """The group's implied moments, or None where Sigma is not positive definite."""
        mats = self.rep.matrices(theta, g)
        sigma = mats.sigma
        found = positive_inverse(sigma)
        if found is None:
            return None
        mu = mats.mu if self.rep.meanstructure else None
        return GroupState(sigma, found[0], found[1], mu)

    def _d(self, state: GroupState, sample: GroupSample) -> np.ndarray:
        return np.zeros(len(sample.mean)) if state.mu is None else sample.mean - state.mu

    def group_values(self, theta: np.ndarray) -> np.ndarray:
        out = []
        for g, sample in enumerate(self.stats.groups):
            state = self.state(theta, g)
            if state is None:
                return np.full(len(self.stats.groups), np.inf)
            d = self._d(state, sample)
            f = (
                state.logdet
                + float(np.sum(state.inv * sample.cov))
                - self.logdet_s[g]
                - len(sample.mean)
                + float(d @ state.inv @ d)
            )
            out.append(f)
        return np.array(out)

    def value(self, theta: np.ndarray) -> float:
        return float(self.weights @ self.group_values(theta))

    def moment_gradient(self, state: GroupState, g: int) -> np.ndarray:
        """The derivative of the group's discrepancy by its moments ``[mu, vech Sigma]``."""
        rows, cols = self.rep.vech
        double = np.where(rows == cols, 1.0, 2.0)
        sample = self.stats.groups[g]
        d = self._d(state, sample)
        inv = state.inv
        big_g = inv - inv @ (sample.cov + np.outer(d, d)) @ inv
        f = big_g[rows, cols] * double
        return np.concatenate([-2 * inv @ d, f]) if self.rep.meanstructure else f

    def moment_weight(self, state: GroupState, g: int) -> np.ndarray:
        """The expected per-case information of the group's moments."""
        return moment_information(state.inv, self.rep.vech, self.rep.meanstructure)

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        out = np.zeros(self.rep.n_free)
        for g in range(len(self.stats.groups)):
            state = self.state(theta, g)
            if state is None:
                return np.full(self.rep.n_free, np.nan)
            out += self.weights[g] * (self.rep.delta(theta, g).T @ self.moment_gradient(state, g))
        return out

    def parameter_information(self, state: GroupState, g: int, delta: np.ndarray) -> np.ndarray:
        """``Delta' W Delta``, W the group's :meth:`moment_weight`: for ML's normal-theory
        weight, without forming W (:func:`normal_information`)."""
        return normal_information(state.inv, delta, self.rep.vech, self.rep.meanstructure)

    def information(self, theta: np.ndarray) -> list[np.ndarray]:
        """Per group, the expected per-case information of the parameters (NaN where the
        implied covariance is not positive definite: a fit that ended outside the space)."""
        out = []
        for g in range(len(self.stats.groups)):
            state = self.state(theta, g)
            if state is None:
                out.append(np.full((self.rep.n_free, self.rep.n_free), np.nan))
                continue
            out.append(self.parameter_information(state, g, self.rep.delta(theta, g)))
        return out

    def hessian(self, theta: np.ndarray) -> np.ndarray:
        return 2 * sum(w * i for w, i in zip(self.weights, self.information(theta), strict=True))

    def observed_hessian(self, theta: np.ndarray) -> np.ndarray:
        """The Hessian of F at ``theta``, by central differences of the analytic gradient."""
        out = central_jacobian(self.gradient, theta)
        return (out + out.T) / 2

    def moment_products(self, state: GroupState, g: int) -> np.ndarray:
        """The sum over the group's cases of the outer products of their moment scores (means
        at the model's means; without a mean structure, at the sample means)."""
        sample = self.stats.groups[g]
        dev = sample.rows - (state.mu if state.mu is not None else sample.mean)
        return moment_score_products(state.inv, dev, self.rep.vech, self.rep.meanstructure)

    def score_products(self, theta: np.ndarray) -> list[np.ndarray]:
        """Per group, ``sum_i s_i s_i'`` of the cases' derivatives of their log-likelihood by
        the free parameters: the meat of the sandwich, ``Delta' (sum_i m_i m_i') Delta``."""
        out = []
        for g in range(len(self.stats.groups)):
            state = self.state(theta, g)
            assert state is not None
            delta = self.rep.delta(theta, g)
            out.append(delta.T @ self.moment_products(state, g) @ delta)
        return out

    def loglik(self, theta: np.ndarray) -> float:
        """The normal log-likelihood of the sample (means at the sample means when there is no
        mean structure)."""
        total = 0.0
        values = self.group_values(theta)
        for g, sample in enumerate(self.stats.groups):
            p = len(sample.mean)
            f = values[g] + self.logdet_s[g] + p
            total += -sample.n / 2 * (p * np.log(2 * np.pi) + f)
        return total

    def unrestricted_loglik(self) -> float:
        total = 0.0
        for g, sample in enumerate(self.stats.groups):
            p = len(sample.mean)
            total += -sample.n / 2 * (p * np.log(2 * np.pi) + self.logdet_s[g] + p)
        return total
