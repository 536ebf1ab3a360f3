"""Modification indices: the chi-square drop expected from freeing one fixed parameter, with
the expected parameter change (EPC), in each group.

Score test with the expected information: for a candidate parameter c with gradient ``g_c`` of
F and expected Hessian blocks H, ``MI = N/2 g_c^2 / (H_cc - H_cf H_ff^-1 H_fc)`` and
``EPC = -g_c / (H_cc - H_cf H_ff^-1 H_fc)``. Candidates are the loadings not in the model, the
residual covariances between indicators, and factor covariances fixed by the model (as in an
orthogonal model): lavaan's set for a CFA. Where freeing a parameter would leave the model
unidentified (the conditional information is zero) the index is not available (NaN).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .matrices import Cell, Representation, cell_delta
from .ml import ML

COLUMNS = ["lhs", "op", "rhs", "group", "mi", "epc"]


def candidates(rep: Representation, group: int) -> list[tuple[str, str, str, Cell]]:
    taken = {rep.cells[k] for k in rep.blocks[group]}
    out = []
    for f, factor in enumerate(rep.table.latent):
        for i, item in enumerate(rep.table.observed):
            if ("lambda", i, f) not in taken:
                out.append((factor, "=~", item, ("lambda", i, f)))
    obs = rep.table.observed
    for i in range(len(obs)):
        for j in range(i + 1, len(obs)):
            if ("theta", i, j) not in taken and ("theta", j, i) not in taken:
                out.append((obs[i], "~~", obs[j], ("theta", j, i)))
    for k in rep.blocks[group]:
        param, (name, r, c) = rep.table.parameters[k], rep.cells[k]
        if name == "psi" and r != c and not param.free:
            out.append((param.lhs, "~~", param.rhs, rep.cells[k]))
    return out


def modification_indices(rep: Representation, ml: ML, theta: np.ndarray) -> pd.DataFrame:
    n = ml.stats.n
    q = rep.n_free
    per_group = [candidates(rep, g) for g in range(rep.n_groups)]
    total = sum(len(c) for c in per_group)
    if total == 0:
        return pd.DataFrame(columns=COLUMNS)
    # One extended Jacobian per group: the free parameters, then every group's candidates.
    h = np.zeros((q + total, q + total))
    grad = np.zeros(q + total)
    offset = q
    for g in range(len(ml.stats.groups)):
        mats = rep.matrices(theta, g)
        extra = np.zeros((rep.moments, total))
        for j, (*_, cell) in enumerate(per_group[g]):
            extra[:, offset - q + j] = cell_delta(cell, mats, rep.vech, rep.meanstructure)
        delta = np.hstack([rep.delta(theta, g), extra])
        state = ml.state(theta, g)
        assert state is not None
        f = ml.moment_gradient(state, g)
        w = ml.moment_weight(state, g)
        h += 2 * ml.weights[g] * (delta.T @ w @ delta)
        grad += ml.weights[g] * (delta.T @ f)
        offset += len(per_group[g])
    h_ff, h_cf = h[:q, :q], h[q:, :q]
    h_cc = np.diag(h)[q:]
    g_c = grad[q:]
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = h_cc - np.einsum("kl,lk->k", h_cf, np.linalg.solve(h_ff, h_cf.T))
        cond[cond < 1e-10 * np.abs(h_cc).max()] = np.nan
        mi = n / 2 * g_c**2 / cond
        epc = -g_c / cond
    listed = [(c, g) for g, cands in enumerate(per_group) for c in cands]
    frame = pd.DataFrame(
        {
            "lhs": [c[0] for c, _ in listed],
            "op": [c[1] for c, _ in listed],
            "rhs": [c[2] for c, _ in listed],
            "group": [g + 1 for _, g in listed],
            "mi": mi,
            "epc": epc,
        }
    )
    return frame.sort_values("mi", ascending=False, ignore_index=True)
