"""Stage 3: parameter table -> model matrices, implied covariance and its derivatives.

``Sigma = Lambda Psi Lambda' + Theta``. Every free parameter's derivative ``dSigma/dtheta`` is a
p x p matrix; they are stacked as an array of shape (q, p, p), from which the ML gradient and
the expected information follow (:mod:`analysis.cfa.estimate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .partable import Parameter, ParTable


@dataclass(frozen=True)
class Representation:
    """Where each parameter sits: matrix, row, column; and the free-parameter positions."""

    table: ParTable
    free_index: tuple[int, ...]
    n_free: int
    cells: tuple[tuple[str, int, int], ...]

    @classmethod
    def of(cls, table: ParTable) -> Representation:
        obs = {name: k for k, name in enumerate(table.observed)}
        lat = {name: k for k, name in enumerate(table.latent)}
        cells = []
        for p in table.parameters:
            if p.matrix == "lambda":
                cells.append(("lambda", obs[p.rhs], lat[p.lhs]))
            elif p.matrix == "psi":
                cells.append(("psi", lat[p.lhs], lat[p.rhs]))
            else:
                cells.append(("theta", obs[p.lhs], obs[p.rhs]))
        index = table.free_index()
        return cls(table, tuple(index), max(index, default=-1) + 1, tuple(cells))

    @property
    def p(self) -> int:
        return len(self.table.observed)

    @property
    def m(self) -> int:
        return len(self.table.latent)

    def matrices(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lam = np.zeros((self.p, self.m))
        psi = np.zeros((self.m, self.m))
        th = np.zeros((self.p, self.p))
        target = {"lambda": lam, "psi": psi, "theta": th}
        for p, k, (name, r, c) in zip(
            self.table.parameters, self.free_index, self.cells, strict=True
        ):
            value = theta[k] if k >= 0 else p.value
            target[name][r, c] = value
            if name != "lambda":
                target[name][c, r] = value
        return lam, psi, th

    def implied(self, theta: np.ndarray) -> np.ndarray:
        lam, psi, th = self.matrices(theta)
        return lam @ psi @ lam.T + th

    def derivatives(self, theta: np.ndarray) -> np.ndarray:
        """dSigma/dtheta_k for every free parameter, shape (q, p, p)."""
        lam, psi, _ = self.matrices(theta)
        out = np.zeros((self.n_free, self.p, self.p))
        for k, cell in zip(self.free_index, self.cells, strict=True):
            if k >= 0:
                out[k] += cell_derivative(cell, lam, psi, self.p)
        return out

    def values(self, theta: np.ndarray) -> np.ndarray:
        """Every parameter's value (free ones from ``theta``) in table order."""
        return np.array(
            [
                theta[k] if k >= 0 else p.value
                for p, k in zip(self.table.parameters, self.free_index, strict=True)
            ]
        )

    def start(self, s: np.ndarray) -> np.ndarray:
        """Starting values: half of each indicator's variance for factor and residual
        variances, loadings from covariances with the marker, 0 for covariances."""
        theta = np.full(self.n_free, np.nan)
        marker_cov = _marker_covariances(self, s)
        for p, k, (name, r, c) in zip(
            self.table.parameters, self.free_index, self.cells, strict=True
        ):
            if k < 0 or not np.isnan(theta[k]):
                continue
            if not np.isnan(p.value):
                theta[k] = p.value
            elif name == "lambda":
                theta[k] = marker_cov.get((r, c), 1.0)
            elif name == "theta":
                theta[k] = 0.5 * s[r, r] if r == c else 0.0
            else:
                theta[k] = 0.05 if r != c else _factor_variance(self, c, s)
        return theta


def cell_derivative(
    cell: tuple[str, int, int], lam: np.ndarray, psi: np.ndarray, p: int
) -> np.ndarray:
    name, r, c = cell
    if name == "lambda":
        m = np.zeros((p, p))
        m[r, :] = (lam @ psi)[:, c]
        return m + m.T
    if name == "psi":
        d = np.outer(lam[:, r], lam[:, c])
        return d + d.T if r != c else d
    d = np.zeros((p, p))
    d[r, c] = 1.0
    d[c, r] = 1.0
    return d


def _indicators(rep: Representation, factor: int) -> list[tuple[int, Parameter]]:
    return [
        (r, p)
        for p, (name, r, c) in zip(rep.table.parameters, rep.cells, strict=True)
        if name == "lambda" and c == factor
    ]


def _factor_variance(rep: Representation, factor: int, s: np.ndarray) -> float:
    first = _indicators(rep, factor)[0][0]
    return 0.5 * float(s[first, first])


def _marker_covariances(rep: Representation, s: np.ndarray) -> dict[tuple[int, int], float]:
    """Start loadings: cov(indicator, marker) / (half the marker's variance), in [-2, 2]."""
    out = {}
    for f in range(rep.m):
        rows = _indicators(rep, f)
        marker = rows[0][0]
        scale = 0.5 * s[marker, marker]
        for r, _ in rows:
            out[(r, f)] = float(np.clip(s[r, marker] / scale, -2, 2)) if scale > 0 else 1.0
    return out
