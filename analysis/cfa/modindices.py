"""Modification indices: the chi-square drop expected from freeing one fixed parameter, with
the expected parameter change (EPC), in each group.

Score test with the expected information: for a candidate parameter c with gradient ``g_c`` of
F and expected Hessian blocks H, ``MI = N/2 g_c^2 / (H_cc - H_cf H_ff^-1 H_fc)`` and
``EPC = -g_c / (H_cc - H_cf H_ff^-1 H_fc)``. Under WLSMV and ULSMV the same test is taken on the
model extended by the candidates, with the discrepancy's gradient and lavaan's expected
information ``sum_g (n_g/N) D_g' W D_g``, as lavaan's ``modindices`` does for them.
Candidates are the loadings not in the model, the residual covariances between indicators,
and factor covariances fixed by the model (as in an orthogonal model): lavaan's set for a CFA.
Where freeing a parameter would leave the model unidentified (the conditional information is
zero) the index is not available (NaN).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .dwls import DWLS
from .matrices import Cell, Representation, cell_delta
from .ml import ML
from .partable import Matrix, Parameter

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


def modification_indices(rep: Representation, ml: ML | DWLS, theta: np.ndarray) -> pd.DataFrame:
    if isinstance(ml, DWLS):
        return _least_squares(rep, ml, theta)
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
    return _frame(per_group, mi, epc)


def _frame(
    per_group: list[list[tuple[str, str, str, Cell]]], mi: np.ndarray, epc: np.ndarray
) -> pd.DataFrame:
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


MATRIX_OF: dict[str, Matrix] = {"lambda": "lambda", "theta": "theta", "psi": "psi"}


def _same(a: Cell, b: Cell) -> bool:
    """The same cell, either triangle of a symmetric matrix."""
    symmetric = a[0] in ("theta", "psi") and (a[0], a[2], a[1]) == b
    return a == b or symmetric


def _least_squares(rep: Representation, objective: DWLS, theta: np.ndarray) -> pd.DataFrame:
    """The score test of each candidate on the model extended by all of them (at 0)."""
    per_group = [candidates(rep, g) for g in range(rep.n_groups)]
    added: list[Parameter] = []
    kept = list(rep.table.parameters)
    for g, cands in enumerate(per_group):
        for lhs, op, rhs, cell in cands:
            fixed = next(
                (k for k, p in enumerate(kept) if p.group == g and _same(rep.cells[k], cell)),
                None,
            )
            if fixed is not None:  # a fixed factor covariance: freed where it is
                kept[fixed] = replace(kept[fixed], free=True, label=None)
            else:
                added.append(Parameter(lhs, op, rhs, MATRIX_OF[cell[0]], True, 0.0, group=g))
    if not added and kept == list(rep.table.parameters):
        return pd.DataFrame(columns=COLUMNS)
    extended = Representation.of(replace(rep.table, parameters=tuple(kept + added)))
    values = rep.values(theta)
    start = np.zeros(extended.n_free)
    for k, i in enumerate(extended.free_index):
        if i >= 0:
            start[i] = values[k] if k < len(values) else 0.0
    wide = type(objective)(extended, objective.stats)
    score = -wide.gradient(start) / 2
    info = wide.bread(start)
    # the candidates' positions: each is a row of its own, in the order of ``per_group``
    rows: list[int] = []
    for g, cands in enumerate(per_group):
        for *_, cell in cands:
            k = next(
                k
                for k, p in enumerate(extended.table.parameters)
                if p.group == g and _same(extended.cells[k], cell)
            )
            rows.append(extended.free_index[k])
    c = np.array(rows)
    f = np.setdiff1d(np.arange(extended.n_free), c)
    i_ff, i_cf = info[np.ix_(f, f)], info[np.ix_(c, f)]
    i_cc = info[c, c]
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = i_cc - np.einsum("kl,lk->k", i_cf, np.linalg.solve(i_ff, i_cf.T))
        cond[cond < 1e-10 * np.abs(i_cc).max()] = np.nan
        mi = objective.stats.n * score[c] ** 2 / cond
        epc = score[c] / cond
    return _frame(per_group, mi, epc)
