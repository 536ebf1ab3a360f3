"""Score (Lagrange multiplier) tests of equality constraints, as lavaan's ``lavTestScore``.

The constrained model is refitted in no way: its estimates are spread over the unconstrained
parameter table (every free row its own parameter), where the gradient of the log-likelihood
is no longer zero. With ``J`` the expected per-case information of the unconstrained
parameters, ``s`` the per-case score and ``R`` the constraints' Jacobian, releasing constraint
r while keeping the others gives ``X2_r = N s' Z_r^+ s``, ``Z_r^+`` the parameter block of the
(generalised) inverse of ``[[J, R_-r'], [R_-r, 0]]``; releasing them all gives
``N s' J^+ s``. Under MLR lavaan computes the same (ordinary) statistic, and so does this.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from scipy import special

from .dwls import DWLS
from .families import family_for
from .matrices import Representation
from .partable import ALL_THRESHOLDS, ParTable
from .result import CFAResult

COLUMNS = ["lhs", "op", "rhs", "group_a", "group_b", "row_a", "row_b", "X2", "df", "pvalue"]


class _Lagrange:
    """The unconstrained score, information and constraint Jacobian at a constrained fit."""

    def __init__(self, result: CFAResult) -> None:
        table, stats, theta = result.table, result.stats, result.theta
        assert table is not None and stats is not None and theta is not None
        self.table = table
        # Equality constraints, and fixed values that stand for one: under the theta
        # parameterization, strict invariance fixes the ordinal residual variances of every
        # group at the first group's 1 (a row paired with itself: releasing it frees it).
        fixed = _held_residuals(table)
        self.pairs = table.constraints() + [(k, k) for k in fixed]
        rep = Representation.of(table)
        opened = table.unconstrained()
        if fixed:
            opened = replace(
                opened,
                parameters=tuple(
                    replace(p, free=True) if k in fixed else p
                    for k, p in enumerate(opened.parameters)
                ),
            )
        loose = Representation.of(opened)
        spread = np.array(
            [
                theta[rep.free_index[k]] if rep.free_index[k] >= 0 else p.value
                for k, p in enumerate(table.parameters)
                if loose.free_index[k] >= 0
            ]
        )
        ml = family_for(result.spec).objective(loose, stats)
        self.score = -ml.gradient(spread) / 2
        # DWLS: lavaan's expected information weighs groups by n_g / N (the sandwich's bread),
        # while its gradient keeps the discrepancy's (n_g - 1) / N.
        self.info = ml.bread(spread) if isinstance(ml, DWLS) else ml.hessian(spread) / 2
        self.q = loose.n_free
        self.r = np.zeros((len(self.pairs), self.q))
        for k, (a, b) in enumerate(self.pairs):
            self.r[k, loose.free_index[a]] = 1.0
            if b != a:
                self.r[k, loose.free_index[b]] = -1.0
        self.n = stats.n
        # The bordered inverse's parameter block solves J x + K'y = s, K x = 0 (K: the kept
        # constraints). J is singular when the constraints identify the model (latent means
        # free once intercepts are equal), but J + K'K is not, and gives the same x. With
        # H = J + R'R inverted once, J + K'K = H - C'C (C: the released rows) is a rank-|C|
        # Woodbury update, and each test a solve in the constraints' own small system.
        self.h_inverse: np.ndarray | None = None
        h = self.info + self.r.T @ self.r
        if np.linalg.cond(h) < 1e12:
            self.h_inverse = np.linalg.inv(h)

    def released(self, constraints: list[int]) -> float:
        """The statistic for releasing ``constraints`` (their positions in ``pairs``)."""
        kept = np.setdiff1d(np.arange(len(self.pairs)), constraints)
        if self.h_inverse is not None:
            a = self.h_inverse
            c = self.r[constraints]
            ac = a @ c.T
            inner = np.eye(len(constraints)) - c @ ac
            if np.linalg.cond(inner) < 1e12:
                a = a + ac @ np.linalg.solve(inner, ac.T)  # (J + K'K)^-1
                a_s = a @ self.score
                value = float(self.score @ a_s)
                if len(kept):
                    k = self.r[kept]
                    w = k @ a_s
                    value -= float(w @ np.linalg.solve(k @ a @ k.T, w))
                return self.n * value
        kept_rows = self.r[kept]
        size = len(kept_rows)
        z = np.block([[self.info, kept_rows.T], [kept_rows, np.zeros((size, size))]])
        block = np.linalg.pinv(z)[: self.q, : self.q]
        return float(self.n * self.score @ block @ self.score)

    def total(self) -> float:
        return self.released(list(range(len(self.pairs))))


def _held_residuals(table: ParTable) -> list[int]:
    """Rows of ordinal residual variances held at the first group's 1 in the others, once
    thresholds are equal (the theta parameterization's strict invariance; without equal
    thresholds the 1 identifies the latent response and is no constraint)."""
    if table.parameterization != "theta" or table.n_groups < 2:
        return []
    ordered = set(table.ordered)
    # items whose thresholds are held equal, by group (an item with thresholds of its own
    # keeps its residual variance at 1 to identify it: no constraint either)
    equal = {(q.lhs, q.group) for q in table.parameters if q.matrix == "tau" and q.label}
    return [
        k
        for k, p in enumerate(table.parameters)
        if p.matrix == "theta"
        and p.lhs == p.rhs
        and p.lhs in ordered
        and p.group > 0
        and not p.free
        and (p.lhs, p.group) in equal
    ]


def release_tests(result: CFAResult) -> pd.DataFrame:
    """One test per constrained parameter: releasing every equality constraint that ties it
    across the groups at once (df = groups - 1; lavaan's ``lavTestScore(release = ...)``).
    An ordinal item's thresholds are one test, ``(item, '|', '*')``, released together."""
    columns = ["lhs", "op", "rhs", "kind", "X2", "df", "pvalue"]
    assert result.table is not None
    if not result.table.constraints() and not _held_residuals(result.table):
        return pd.DataFrame(columns=columns)
    lm = _Lagrange(result)
    by_key: dict[tuple[str, str, str], list[int]] = {}
    for k, (a, _) in enumerate(lm.pairs):
        p = lm.table.parameters[a]
        # an item's thresholds are released together (one alone leaves its scale unidentified)
        key = (p.lhs, "|", ALL_THRESHOLDS) if p.matrix == "tau" else p.key
        by_key.setdefault(key, []).append(k)
    rows = []
    for key, constraints in by_key.items():
        x2 = lm.released(constraints)
        first = lm.table.parameters[lm.pairs[constraints[0]][0]]
        df = len(constraints)
        rows.append(
            {
                "lhs": key[0],
                "op": key[1],
                "rhs": key[2],
                "kind": first.kind,
                "X2": x2,
                "df": df,
                "pvalue": float(special.chdtrc(df, x2)),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def score_tests(result: CFAResult) -> tuple[pd.DataFrame, dict[str, float]]:
    """One row per equality constraint (rows of the parameter table it ties), and the test of
    releasing all of them at once."""
    assert result.table is not None
    if not result.table.constraints() and not _held_residuals(result.table):
        return pd.DataFrame(columns=COLUMNS), {"X2": 0.0, "df": 0, "pvalue": float("nan")}
    lm = _Lagrange(result)
    table, pairs = lm.table, lm.pairs
    total = lm.total()
    rows = []
    for k, (a, b) in enumerate(pairs):
        x2 = lm.released([k])
        p = table.parameters[a]
        rows.append(
            {
                "lhs": p.lhs,
                "op": p.op,
                "rhs": p.rhs,
                "group_a": p.group + 1,
                "group_b": table.parameters[b].group + 1,
                "row_a": a,
                "row_b": b,
                "X2": x2,
                "df": 1,
                "pvalue": float(special.chdtrc(1, x2)),
            }
        )
    overall = {"X2": total, "df": len(pairs), "pvalue": float(special.chdtrc(len(pairs), total))}
    return pd.DataFrame(rows, columns=COLUMNS), overall
