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

import numpy as np
import pandas as pd
from scipy.stats import chi2

from .matrices import Representation
from .ml import ML
from .model import CFAResult

COLUMNS = ["lhs", "op", "rhs", "group_a", "group_b", "row_a", "row_b", "X2", "df", "pvalue"]


def score_tests(result: CFAResult) -> tuple[pd.DataFrame, dict[str, float]]:
    """One row per equality constraint (rows of the parameter table it ties), and the test of
    releasing all of them at once."""
    table, stats, theta = result.table, result.stats, result.theta
    assert table is not None and stats is not None and theta is not None
    pairs = table.constraints()
    if not pairs:
        return pd.DataFrame(columns=COLUMNS), {"X2": 0.0, "df": 0, "pvalue": float("nan")}
    rep = Representation.of(table)
    loose = Representation.of(table.unconstrained())
    spread = np.array([theta[k] for k in rep.free_index if k >= 0])
    ml = ML(loose, stats)
    score = -ml.gradient(spread) / 2
    info = ml.hessian(spread) / 2
    q = loose.n_free
    r = np.zeros((len(pairs), q))
    for k, (a, b) in enumerate(pairs):
        r[k, loose.free_index[a]] = 1.0
        r[k, loose.free_index[b]] = -1.0
    n = stats.n
    total = float(n * score @ np.linalg.pinv(info) @ score)
    rows = []
    for k, (a, b) in enumerate(pairs):
        kept = np.delete(r, k, axis=0)
        z = np.block([[info, kept.T], [kept, np.zeros((len(kept), len(kept)))]])
        block = np.linalg.pinv(z)[:q, :q]
        x2 = float(n * score @ block @ score)
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
                "pvalue": float(chi2.sf(x2, 1)),
            }
        )
    overall = {"X2": total, "df": len(pairs), "pvalue": float(chi2.sf(total, len(pairs)))}
    return pd.DataFrame(rows, columns=COLUMNS), overall
