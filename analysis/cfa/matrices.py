"""Stage 3: parameter table -> model matrices per group, implied moments and their Jacobian.

In each group ``Sigma = Lambda Psi Lambda' + Theta`` and, with a mean structure,
``mu = nu + Lambda alpha``. The moments of a group are stacked as ``[mu, vech(Sigma)]`` (vech:
the lower triangle row by row, ``np.tril_indices``); ``delta`` is their Jacobian by the free
parameters, one (p + p*) x q matrix per group (p* x q without means), from which every
estimator's gradient and information follow (lavaan's Delta).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .partable import Parameter, ParTable
from .samplestats import SampleStats

Cell = tuple[str, int, int]  # (matrix, row, column); nu and alpha use column 0; a threshold
# is (tau, its position among the thresholds, its item)


@dataclass(frozen=True)
class Matrices:
    lam: np.ndarray
    psi: np.ndarray
    theta: np.ndarray
    nu: np.ndarray
    alpha: np.ndarray
    tau: np.ndarray  # thresholds of the ordinal items, item by item
    delta: np.ndarray  # scale factors (1 / sd of each latent response; 1 for a continuous item)

    @property
    def sigma(self) -> np.ndarray:
        return self.lam @ self.psi @ self.lam.T + self.theta

    @property
    def mu(self) -> np.ndarray:
        return self.nu + self.lam @ self.alpha


@dataclass(frozen=True)
class Representation:
    """Where each parameter sits (matrix, row, column, group) and its free position."""

    table: ParTable
    free_index: tuple[int, ...]
    n_free: int
    cells: tuple[Cell, ...]

    @classmethod
    def of(cls, table: ParTable) -> Representation:
        obs = {name: k for k, name in enumerate(table.observed)}
        lat = {name: k for k, name in enumerate(table.latent)}
        cells: list[Cell] = []
        for p in table.parameters:
            if p.matrix == "lambda":
                cells.append(("lambda", obs[p.rhs], lat[p.lhs]))
            elif p.matrix == "psi":
                cells.append(("psi", lat[p.lhs], lat[p.rhs]))
            elif p.matrix == "theta":
                cells.append(("theta", obs[p.lhs], obs[p.rhs]))
            elif p.matrix == "nu":
                cells.append(("nu", obs[p.lhs], 0))
            elif p.matrix == "tau":
                cells.append(("tau", table.threshold_position(p), obs[p.lhs]))
            elif p.matrix == "delta":
                cells.append(("delta", obs[p.lhs], 0))
            else:
                cells.append(("alpha", lat[p.lhs], 0))
        index = table.free_index()
        return cls(table, tuple(index), max(index, default=-1) + 1, tuple(cells))

    @property
    def p(self) -> int:
        return len(self.table.observed)

    @property
    def m(self) -> int:
        return len(self.table.latent)

    @property
    def n_groups(self) -> int:
        return self.table.n_groups

    @property
    def meanstructure(self) -> bool:
        return self.table.meanstructure

    @cached_property
    def blocks(self) -> tuple[tuple[int, ...], ...]:
        """The parameter rows of each group."""
        return tuple(
            tuple(k for k, p in enumerate(self.table.parameters) if p.group == g)
            for g in range(self.n_groups)
        )

    @cached_property
    def vech(self) -> tuple[np.ndarray, np.ndarray]:
        return np.tril_indices(self.p)

    def matrices(self, theta: np.ndarray, group: int = 0) -> Matrices:
        lam = np.zeros((self.p, self.m))
        psi = np.zeros((self.m, self.m))
        th = np.zeros((self.p, self.p))
        nu = np.zeros(self.p)
        alpha = np.zeros(self.m)
        tau = np.zeros(self.table.n_thresholds)
        scale = np.ones(self.p)
        params = self.table.parameters
        for k in self.blocks[group]:
            name, r, c = self.cells[k]
            i = self.free_index[k]
            value = theta[i] if i >= 0 else params[k].value
            if name == "lambda":
                lam[r, c] = value
            elif name == "psi":
                psi[r, c] = psi[c, r] = value
            elif name == "theta":
                th[r, c] = th[c, r] = value
            elif name == "nu":
                nu[r] = value
            elif name == "tau":
                tau[r] = value
            elif name == "delta":
                scale[r] = value
            else:
                alpha[r] = value
        if self.ordinal.size:
            common = np.einsum("if,fg,ig->i", lam, psi, lam)
            where = self.ordinal
            if self.table.parameterization == "theta":
                # Theta: the residual variance is the parameter; the scale factor is the
                # inverse standard deviation of the latent response it gives.
                with np.errstate(invalid="ignore", divide="ignore"):
                    scale[where] = 1.0 / np.sqrt(common[where] + th[where, where])
            else:
                # Delta: each ordinal item's latent response has variance 1 / delta^2 (1 in
                # one group), so its residual variance is what the factors leave of that.
                th[where, where] = 1.0 / scale[where] ** 2 - common[where]
        return Matrices(lam, psi, th, nu, alpha, tau, scale)

    @cached_property
    def ordinal(self) -> np.ndarray:
        """Positions of the ordinal items among the indicators."""
        ordered = set(self.table.ordered)
        return np.array([k for k, name in enumerate(self.table.observed) if name in ordered], int)

    def implied(self, theta: np.ndarray, group: int = 0) -> np.ndarray:
        return self.matrices(theta, group).sigma

    def delta(self, theta: np.ndarray, group: int = 0) -> np.ndarray:
        """d[mu, vech Sigma] / d theta for one group (rows: p means if a mean structure, then
        p* covariances; columns: the free parameters)."""
        mats = self.matrices(theta, group)
        out = np.zeros((self.moments, self.n_free))
        for k in self.blocks[group]:
            i = self.free_index[k]
            if i >= 0:
                out[:, i] += cell_delta(self.cells[k], mats, self.vech, self.meanstructure)
        return out

    @property
    def moments(self) -> int:
        return self.p * (self.p + 1) // 2 + (self.p if self.meanstructure else 0)

    def values(self, theta: np.ndarray) -> np.ndarray:
        """Every parameter's value (free ones from ``theta``) in table order; an ordinal item's
        residual variance as it follows from the others."""
        out = np.array(
            [
                theta[k] if k >= 0 else p.value
                for p, k in zip(self.table.parameters, self.free_index, strict=True)
            ]
        )
        if self.ordinal.size:
            for g, block in enumerate(self.blocks):
                th = self.matrices(theta, g).theta
                for k in block:
                    name, r, c = self.cells[k]
                    if name == "theta" and r == c and np.isnan(out[k]):
                        out[k] = th[r, r]
        return out

    def start(self, stats: SampleStats) -> np.ndarray:
        """Starting values from each group's moments: half of each indicator's variance for
        factor and residual variances, loadings from covariances with the marker, 0 for
        covariances and latent means, sample means for intercepts. A parameter shared across
        groups starts from the first group that has it."""
        theta = np.full(self.n_free, np.nan)
        for g, sample in enumerate(stats.groups):
            s = sample.cov
            marker_cov = _marker_covariances(self, s, g)
            for k in self.blocks[g]:
                i = self.free_index[k]
                if i < 0 or not np.isnan(theta[i]):
                    continue
                p = self.table.parameters[k]
                name, r, c = self.cells[k]
                if not np.isnan(p.value):
                    theta[i] = p.value
                elif name == "lambda":
                    theta[i] = marker_cov.get((r, c), 1.0)
                elif name == "theta":
                    theta[i] = 0.5 * s[r, r] if r == c else 0.0
                elif name == "psi":
                    theta[i] = 0.05 if r != c else _factor_variance(self, c, s, g)
                elif name == "nu":
                    theta[i] = sample.mean[r]
                elif name == "tau":
                    assert sample.ordinal is not None
                    theta[i] = float(sample.ordinal.statistics[r])
                elif name == "delta":
                    theta[i] = 1.0
                else:
                    theta[i] = 0.0
        return theta


def cell_delta(
    cell: Cell, mats: Matrices, vech: tuple[np.ndarray, np.ndarray], meanstructure: bool
) -> np.ndarray:
    """The derivative of ``[mu, vech Sigma]`` by one matrix cell."""
    name, r, c = cell
    rows, cols = vech
    p = mats.lam.shape[0]
    mean = np.zeros(p)
    if name == "lambda":  # dSigma = e_r (Lambda Psi)_c' + (Lambda Psi)_c e_r'
        lp = mats.lam @ mats.psi[:, c]
        cov = (rows == r) * lp[cols] + lp[rows] * (cols == r)
        mean[r] = mats.alpha[c]
    elif name == "psi":
        a, b = mats.lam[:, r], mats.lam[:, c]
        cov = a[rows] * b[cols] + (b[rows] * a[cols] if r != c else 0.0)
    elif name == "theta":
        cov = (((rows == r) & (cols == c)) | ((rows == c) & (cols == r))).astype(float)
    elif name == "nu":
        cov = np.zeros(len(rows))
        mean[r] = 1.0
    elif name in ("tau", "delta"):  # not among the moments of a continuous model
        cov = np.zeros(len(rows))
    else:
        cov = np.zeros(len(rows))
        mean = mats.lam[:, r].copy()
    return np.concatenate([mean, cov]) if meanstructure else cov


def _indicators(rep: Representation, factor: int, group: int) -> list[tuple[int, Parameter]]:
    return [
        (rep.cells[k][1], rep.table.parameters[k])
        for k in rep.blocks[group]
        if rep.cells[k][0] == "lambda" and rep.cells[k][2] == factor
    ]


def _factor_variance(rep: Representation, factor: int, s: np.ndarray, group: int) -> float:
    first = _indicators(rep, factor, group)[0][0]
    return 0.5 * float(s[first, first])


def _marker_covariances(
    rep: Representation, s: np.ndarray, group: int
) -> dict[tuple[int, int], float]:
    """Start loadings: cov(indicator, marker) / (half the marker's variance), in [-2, 2]."""
    out = {}
    for f in range(rep.m):
        rows = _indicators(rep, f, group)
        if not rows:  # a factor of another block (a two-level model's other level)
            continue
        marker = rows[0][0]
        scale = 0.5 * s[marker, marker]
        for r, _ in rows:
            out[(r, f)] = float(np.clip(s[r, marker] / scale, -2, 2)) if scale > 0 else 1.0
    return out
