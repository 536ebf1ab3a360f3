"""Modification indices: the chi-square drop expected from freeing one fixed parameter, with
the expected parameter change (EPC).

Score test with the expected information: for a candidate parameter c with gradient ``g_c`` of
F and expected Hessian blocks H, ``MI = N/2 g_c^2 / (H_cc - H_cf H_ff^-1 H_fc)`` and
``EPC = -g_c / (H_cc - H_cf H_ff^-1 H_fc)``. Candidates are the loadings not in the model and the
residual covariances between indicators, and factor covariances fixed by the model (as in an
orthogonal model): lavaan's set for a CFA. Where freeing a parameter would leave the model
unidentified (the conditional information is zero) the index is not available (NaN).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .matrices import Representation, cell_derivative


def candidates(rep: Representation) -> list[tuple[str, str, str, tuple[str, int, int]]]:
    taken = set(rep.cells)
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
    for param, cell in zip(rep.table.parameters, rep.cells, strict=True):
        name, r, c = cell
        if name == "psi" and r != c and not param.free:
            out.append((param.lhs, "~~", param.rhs, cell))
    return out


def modification_indices(
    rep: Representation, theta: np.ndarray, s: np.ndarray, n: int
) -> pd.DataFrame:
    cands = candidates(rep)
    columns = ["lhs", "op", "rhs", "mi", "epc"]
    if not cands:
        return pd.DataFrame(columns=columns)
    lam, psi, th = rep.matrices(theta)
    sigma = lam @ psi @ lam.T + th
    inv = np.linalg.inv(sigma)
    g = inv - inv @ s @ inv
    free_d = rep.derivatives(theta)
    cand_d = np.stack([cell_derivative(cell, lam, psi, rep.p) for *_, cell in cands])
    a_free = np.einsum("ij,kjl->kil", inv, free_d)
    a_cand = np.einsum("ij,kjl->kil", inv, cand_d)
    h_ff = np.einsum("kij,lji->kl", a_free, a_free)
    h_cf = np.einsum("kij,lji->kl", a_cand, a_free)
    h_cc = np.einsum("kij,kji->k", a_cand, a_cand)
    grad = np.einsum("ij,kji->k", g, cand_d)
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = h_cc - np.einsum("kl,lk->k", h_cf, np.linalg.solve(h_ff, h_cf.T))
        cond[cond < 1e-10 * np.abs(h_cc).max()] = np.nan
        mi = n / 2 * grad**2 / cond
        epc = -grad / cond
    frame = pd.DataFrame(
        {
            "lhs": [c[0] for c in cands],
            "op": [c[1] for c in cands],
            "rhs": [c[2] for c in cands],
            "mi": mi,
            "epc": epc,
        }
    )
    return frame.sort_values("mi", ascending=False, ignore_index=True)
