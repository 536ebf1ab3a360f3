"""Stage 5b for ordinal items: diagonally weighted least squares (lavaan's DWLS, the estimator
of WLSMV) on the thresholds and polychoric correlations (:mod:`.ordinal`).

A group's statistics ``s`` are its thresholds, item by item, then its polychoric correlations
(lower triangle, row by row); the model's are the thresholds ``delta (tau - mu)`` (``mu`` the
implied means, ``delta`` the scale factors; 0 and 1 in one group) and the off-diagonal of
``D Sigma D`` (delta parameterization: the scaled latent responses have unit variance). The
discrepancy minimised is ``F = sum_g ((n_g - 1) / N) (s - m)' W (s - m)`` with ``W`` the
inverse of gamma's diagonal, and the test statistic ``N F``, as lavaan 0.6 weighs groups for
DWLS.

Standard errors are the sandwich ``(D'WD)^-1 D'W Gamma W D (D'WD)^-1 / (N - G)`` (lavaan's
``robust.sem``, which counts N - G as its statistic does); the test statistics are in
:mod:`.teststat`.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from .matrices import Representation
from .ordinal import OrdinalSample
from .samplestats import SampleStats


class DWLS:
    """The DWLS objective; the same interface to the optimizer as :class:`.ml.ML`."""

    name = "dwls"

    def __init__(self, rep: Representation, stats: SampleStats) -> None:
        self.rep = rep
        self.stats = stats
        self.weights = stats.weights  # n_g / N: the sandwich's and the traces' weights
        # The discrepancy's weights, (n_g - 1) / N as lavaan's DWLS (they differ from n_g / N
        # only with groups, where they move the estimates in the fifth decimal).
        self.fit_weights = np.array([g.n - 1 for g in stats.groups], float) / stats.n
        rows, cols = rep.vech
        offset = rep.p if rep.meanstructure else 0
        self.off = np.flatnonzero(rows != cols) + offset  # delta's rows of the correlations
        self.pairs = np.tril_indices(rep.p, -1)
        self.samples = []
        for g in stats.groups:
            assert g.ordinal is not None
            self.samples.append(g.ordinal)
        first = self.samples[0]
        # Threshold slots: an ordinal item's thresholds, a continuous item's (minus) mean.
        self.continuous = first.continuous
        slots = [len(t) for t in first.thresholds]
        self.items = np.repeat(np.arange(rep.p), slots)  # the item of each slot
        offsets = np.concatenate([[0], np.cumsum(rep.table.thresholds)])
        self.slot_tau = np.concatenate(
            [
                np.array([-1]) if self.continuous[j] else np.arange(offsets[j], offsets[j + 1])
                for j in range(rep.p)
            ]
        ).astype(int)
        self.unit = [self._threshold_columns(g) for g in range(len(stats.groups))]
        # With scale factors (free, or following from the theta parameterization) or a mean
        # structure (groups) the Jacobian is taken numerically.
        self.analytic = (
            not rep.meanstructure
            and not any(c[0] == "delta" for c in rep.cells)
            and rep.table.parameterization == "delta"
        )

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

    def correlations(self, theta: np.ndarray, g: int) -> np.ndarray:
        """The model's correlations of the latent responses, ``D Sigma D``."""
        mats = self.rep.matrices(theta, g)
        return mats.sigma * np.outer(mats.delta, mats.delta)

    def moments(self, theta: np.ndarray, g: int) -> np.ndarray:
        """The model's statistics in group ``g``: thresholds (a continuous item: minus its
        mean), continuous items' variances, off-diagonal covariances of the responses."""
        mats = self.rep.matrices(theta, g)
        mu = mats.mu[self.items] if self.rep.meanstructure else np.zeros(len(self.items))
        ordinal = self.slot_tau >= 0
        tau = np.where(ordinal, mats.tau[np.maximum(self.slot_tau, 0)] - mu, -mu)
        slots = np.where(ordinal, mats.delta[self.items] * tau, tau)
        r, c = self.pairs
        scaled = mats.sigma * np.outer(mats.delta, mats.delta)
        variances = np.diag(mats.sigma)[self.continuous]
        return np.concatenate([slots, variances, scaled[r, c]])

    def jacobian(self, theta: np.ndarray, g: int) -> np.ndarray:
        if not self.analytic:
            return self._numeric_jacobian(theta, g)
        delta = self.rep.delta(theta, g)
        return np.vstack([self.unit[g], delta[self.off]])

    def _numeric_jacobian(self, theta: np.ndarray, g: int) -> np.ndarray:
        """Central differences of the moments (exact to about 1e-10)."""
        out = np.zeros((len(self.samples[g].statistics), len(theta)))
        columns = {self.rep.free_index[k] for k in self.rep.blocks[g]} - {-1}
        for i in columns:
            h = 1e-6 * max(1.0, abs(theta[i]))
            up, down = theta.copy(), theta.copy()
            up[i] += h
            down[i] -= h
            out[:, i] = (self.moments(up, g) - self.moments(down, g)) / (2 * h)
        return out

    def residuals(self, theta: np.ndarray, g: int) -> np.ndarray:
        return self.samples[g].statistics - self.moments(theta, g)

    def value(self, theta: np.ndarray) -> float:
        total = 0.0
        for g, s in enumerate(self.samples):
            d = self.residuals(theta, g)
            total += self.fit_weights[g] * float(d @ (s.weights * d))
        return total

    def chisq(self, theta: np.ndarray) -> float:
        return self.stats.n * self.value(theta)

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        out = np.zeros(self.rep.n_free)
        for g, s in enumerate(self.samples):
            d = self.residuals(theta, g)
            out -= 2 * self.fit_weights[g] * (self.jacobian(theta, g).T @ (s.weights * d))
        return out

    def information(self, theta: np.ndarray) -> list[np.ndarray]:
        """Per group, ``D' W D``."""
        out = []
        for g, s in enumerate(self.samples):
            j = self.jacobian(theta, g)
            out.append(j.T @ (s.weights[:, None] * j))
        return out

    def hessian(self, theta: np.ndarray) -> np.ndarray:
        info = self.information(theta)
        return 2 * sum(w * i for w, i in zip(self.fit_weights, info, strict=True))

    def bread(self, theta: np.ndarray) -> np.ndarray:
        """``sum_g (n_g/N) D_g' W_g D_g``: the information the sandwich inverts."""
        info = self.information(theta)
        return sum(w * i for w, i in zip(self.weights, info, strict=True))

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


class UnitWeighted(OrdinalSample):
    """An ordinal sample whose statistics are weighted equally (ULS): weights of 1."""

    @property
    def weights(self) -> np.ndarray:
        return np.ones(len(self.statistics))


class ULS(DWLS):
    """Unweighted least squares on the same statistics (the estimator of ULSMV): the DWLS
    objective, sandwich and traces with every weight 1."""

    name = "uls"

    def __init__(self, rep: Representation, stats: SampleStats) -> None:
        super().__init__(rep, stats)
        self.samples = [
            UnitWeighted(**{f.name: getattr(s, f.name) for f in fields(s)}) for s in self.samples
        ]
