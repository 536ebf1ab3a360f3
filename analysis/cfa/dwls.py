"""Stage 5b for ordinal items: diagonally weighted least squares (lavaan's DWLS, the estimator
of WLSMV) on the thresholds and polychoric correlations (:mod:`.ordinal`).

A group's statistics ``s`` are its thresholds, item by item, then its polychoric correlations
(lower triangle, row by row); the model's are the thresholds ``tau - mu`` (``mu`` the implied
means, 0 in one group) and the off-diagonal of ``Sigma`` (delta parameterization: the latent
responses have unit variance). The discrepancy is ``F = sum_g (n_g / N) (s - m)' W (s - m)``
with ``W`` the inverse of gamma's diagonal; the test statistic is
``sum_g (n_g - 1) (s - m)' W (s - m)``, as lavaan 0.6 computes it for DWLS.

Standard errors are the sandwich ``(D'WD)^-1 D'W Gamma W D (D'WD)^-1 / (N - G)`` (lavaan's
``robust.sem``, which counts N - G as its statistic does); the test statistics are in
:mod:`.teststat`.
"""

from __future__ import annotations

import numpy as np

from .matrices import Representation
from .samplestats import SampleStats


class DWLS:
    """The DWLS objective; the same interface to the optimizer as :class:`.ml.ML`."""

    name = "dwls"

    def __init__(self, rep: Representation, stats: SampleStats) -> None:
        self.rep = rep
        self.stats = stats
        self.weights = stats.weights
        rows, cols = rep.vech
        offset = rep.p if rep.meanstructure else 0
        self.off = np.flatnonzero(rows != cols) + offset  # delta's rows of the correlations
        self.pairs = np.tril_indices(rep.p, -1)
        self.items = np.repeat(np.arange(rep.p), rep.table.thresholds)  # item of each threshold
        self.samples = []
        for g in stats.groups:
            assert g.ordinal is not None
            self.samples.append(g.ordinal)
        self.unit = [self._threshold_columns(g) for g in range(len(stats.groups))]

    def _threshold_columns(self, g: int) -> np.ndarray:
        """d tau / d theta: 1 where a free parameter is the group's threshold."""
        rep = self.rep
        out = np.zeros((rep.table.n_thresholds, rep.n_free))
        for k in rep.blocks[g]:
            name, r, _ = rep.cells[k]
            i = rep.free_index[k]
            if name == "tau" and i >= 0:
                out[r, i] = 1.0
        return out

    def moments(self, theta: np.ndarray, g: int) -> np.ndarray:
        """The model's thresholds and off-diagonal correlations in group ``g``."""
        mats = self.rep.matrices(theta, g)
        tau = mats.tau - (mats.mu[self.items] if self.rep.meanstructure else 0.0)
        r, c = self.pairs
        return np.concatenate([tau, mats.sigma[r, c]])

    def jacobian(self, theta: np.ndarray, g: int) -> np.ndarray:
        delta = self.rep.delta(theta, g)
        tau = self.unit[g]
        if self.rep.meanstructure:
            tau = tau - delta[: self.rep.p][self.items]
        return np.vstack([tau, delta[self.off]])

    def residuals(self, theta: np.ndarray, g: int) -> np.ndarray:
        return self.samples[g].statistics - self.moments(theta, g)

    def value(self, theta: np.ndarray) -> float:
        total = 0.0
        for g, s in enumerate(self.samples):
            d = self.residuals(theta, g)
            total += self.weights[g] * float(d @ (s.weights * d))
        return total

    def chisq(self, theta: np.ndarray) -> float:
        total = 0.0
        for g, s in enumerate(self.samples):
            d = self.residuals(theta, g)
            total += (s.n - 1) * float(d @ (s.weights * d))
        return total

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        out = np.zeros(self.rep.n_free)
        for g, s in enumerate(self.samples):
            d = self.residuals(theta, g)
            out -= 2 * self.weights[g] * (self.jacobian(theta, g).T @ (s.weights * d))
        return out

    def information(self, theta: np.ndarray) -> list[np.ndarray]:
        """Per group, ``D' W D``."""
        out = []
        for g, s in enumerate(self.samples):
            j = self.jacobian(theta, g)
            out.append(j.T @ (s.weights[:, None] * j))
        return out

    def hessian(self, theta: np.ndarray) -> np.ndarray:
        return 2 * sum(w * i for w, i in zip(self.weights, self.information(theta), strict=True))

    def bread(self, theta: np.ndarray) -> np.ndarray:
        """``sum_g (n_g/N) D_g' W_g D_g``: the information the sandwich inverts."""
        return self.hessian(theta) / 2

    def meat(self, theta: np.ndarray) -> np.ndarray:
        """``sum_g (n_g/N) D_g' W_g Gamma_g W_g D_g``."""
        out = np.zeros((self.rep.n_free, self.rep.n_free))
        for g, s in enumerate(self.samples):
            wj = s.weights[:, None] * self.jacobian(theta, g)
            out += self.weights[g] * (wj.T @ s.gamma @ wj)
        return out

    def vcov(self, theta: np.ndarray) -> np.ndarray:
        inv = np.linalg.pinv(self.bread(theta))
        return inv @ self.meat(theta) @ inv / (self.stats.n - len(self.samples))
