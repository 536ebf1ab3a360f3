"""The two-level normal likelihood (lavaan's ``lav_mvnorm_cluster``), as an objective the
engine's optimiser takes.

A patient's sessions stacked have covariance ``I (x) Sigma_W + 11' (x) Sigma_B``, so with
``Sigma_s = Sigma_W + s Sigma_B`` for a patient of s sessions,

``-2 log L = N p log 2 pi + (N - J) [log|Sigma_W| + tr(Sigma_W^-1 S_PW)]
            + sum_s m_s [log|Sigma_s| + s tr(Sigma_s^-1 (C_s + d_s d_s'))]``,

``d_s`` the mean of those patients' means minus ``mu`` and ``C_s`` their covariance
(:mod:`.moments`). The objective is ``-log L / N``. Its gradient goes through each level's
moments (``[mu, vech Sigma]`` of the within and the between block, lavaan's Delta of each);
its Hessian for the optimiser is the expected information of those moments, and the standard
errors use the observed information (lavaan's default for two-level models), by central
differences of the analytic gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..linalg import positive_inverse
from ..matrices import Representation
from ..ml import vech_information
from ..optimize import central_jacobian
from .moments import ClusterMoments

WITHIN, BETWEEN = 0, 1


@dataclass(frozen=True)
class LevelMoments:
    mu: np.ndarray
    within: np.ndarray
    between: np.ndarray


class TwoLevelML:
    """``-log L / N`` of a two-level model (a Representation whose block 0 is the within level,
    without means, and block 1 the between level, with the means)."""

    def __init__(self, rep: Representation, stats: ClusterMoments) -> None:
        self.rep = rep
        self.stats = stats
        rows, cols = rep.vech
        self.double = np.where(rows == cols, 1.0, 2.0)

    def moments(self, theta: np.ndarray) -> LevelMoments:
        w = self.rep.matrices(theta, WITHIN)
        b = self.rep.matrices(theta, BETWEEN)
        return LevelMoments(b.mu, w.sigma, b.sigma)

    def loglik(self, theta: np.ndarray) -> float:
        return loglik(self.moments(theta), self.stats)

    def value(self, theta: np.ndarray) -> float:
        return -self.loglik(theta) / self.stats.n

    def moment_gradient(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """``d(-log L)/d[mu, vech Sigma]`` of the within and the between block."""
        m = self.moments(theta)
        parts = _parts(m, self.stats)
        if parts is None:
            return None
        s = self.stats
        rows, cols = self.rep.vech
        w_inv = parts.within_inv
        g_w = 0.5 * (s.n - s.clusters) * (w_inv - w_inv @ s.within @ w_inv)
        g_b = np.zeros_like(g_w)
        g_mu = np.zeros(s.p)
        for group, inv, d in zip(s.sizes, parts.inverses, parts.deviations, strict=True):
            a = group.size * (group.cov + np.outer(d, d))
            core = 0.5 * group.count * (inv - inv @ a @ inv)
            g_w += core
            g_b += group.size * core
            g_mu -= group.count * group.size * (inv @ d)
        zeros = np.zeros(s.p)
        return (
            np.concatenate([zeros, g_w[rows, cols] * self.double]),
            np.concatenate([g_mu, g_b[rows, cols] * self.double]),
        )

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        parts = self.moment_gradient(theta)
        if parts is None:
            return np.full(self.rep.n_free, np.nan)
        within, between = parts
        total = self.rep.delta(theta, WITHIN).T @ within
        total += self.rep.delta(theta, BETWEEN).T @ between
        return total / self.stats.n

    def information(self, theta: np.ndarray) -> np.ndarray:
        """The expected information of ``[mu_W, vech Sigma_W, mu_B, vech Sigma_B]`` (the
        within means are not parameters: their rows are zero)."""
        return expected_information(self.moments(theta), self.stats, self.rep.vech)

    def delta(self, theta: np.ndarray) -> np.ndarray:
        return np.vstack([self.rep.delta(theta, WITHIN), self.rep.delta(theta, BETWEEN)])

    def hessian(self, theta: np.ndarray) -> np.ndarray:
        delta = self.delta(theta)
        return delta.T @ self.information(theta) @ delta / self.stats.n

    def observed_information(self, theta: np.ndarray) -> np.ndarray:
        """The Hessian of ``-log L`` at ``theta``: central differences of the gradient."""
        out = central_jacobian(self.gradient, theta)
        return self.stats.n * (out + out.T) / 2


def expected_information(
    m: LevelMoments, stats: ClusterMoments, vech: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """The expected information of complete data with these cluster sizes in the moments
    ``[mu_W, vech Sigma_W, mu_B, vech Sigma_B]`` (rows of the within means zero)."""
    p = stats.p
    parts = _parts(m, stats)
    assert parts is not None
    rows, cols = vech
    k = p + len(rows)
    info = np.zeros((2 * k, 2 * k))
    ww = (stats.n - stats.clusters) * vech_information(parts.within_inv, rows, cols)
    wb = np.zeros_like(ww)
    bb = np.zeros_like(ww)
    mm = np.zeros((p, p))
    for group, inv in zip(stats.sizes, parts.inverses, strict=True):
        v = group.count * vech_information(inv, rows, cols)
        ww += v
        wb += group.size * v
        bb += group.size**2 * v
        mm += group.count * group.size * inv
    info[p:k, p:k] = ww
    info[p:k, k + p :] = wb
    info[k + p :, p:k] = wb.T
    info[k + p :, k + p :] = bb
    info[k : k + p, k : k + p] = mm
    return info


@dataclass(frozen=True)
class _Parts:
    within_inv: np.ndarray
    within_logdet: float
    inverses: tuple[np.ndarray, ...]
    logdets: tuple[float, ...]
    deviations: tuple[np.ndarray, ...]


def _parts(m: LevelMoments, stats: ClusterMoments) -> _Parts | None:
    """The inverses and log-determinants the likelihood needs, or None where a covariance is not
    positive definite (by Cholesky: a determinant's sign would pass an even number of negative
    eigenvalues)."""
    within = positive_inverse(m.within)
    if within is None:
        return None
    inverses, logdets, deviations = [], [], []
    for group in stats.sizes:
        found = positive_inverse(m.within + group.size * m.between)
        if found is None:
            return None
        inverses.append(found[0])
        logdets.append(found[1])
        deviations.append(group.mean - m.mu)
    return _Parts(within[0], within[1], tuple(inverses), tuple(logdets), tuple(deviations))


def loglik(m: LevelMoments, stats: ClusterMoments) -> float:
    parts = _parts(m, stats)
    if parts is None:
        return -np.inf
    total = stats.n * stats.p * np.log(2 * np.pi)
    total += (stats.n - stats.clusters) * (
        parts.within_logdet + float(np.sum(parts.within_inv * stats.within))
    )
    for group, inv, logdet, d in zip(
        stats.sizes, parts.inverses, parts.logdets, parts.deviations, strict=True
    ):
        a = group.size * (group.cov + np.outer(d, d))
        total += group.count * (logdet + float(np.sum(inv * a)))
    return -0.5 * total
