"""Reliability per level, as semTools' ``compRelSEM`` gives it on a two-level model (against the
unrestricted within and between covariances, lavaan's h1):

- a factor at both levels (a configural construct, one name at both levels):
  ``omega_W`` = the within factor's common variance of the item sum over the sum's within
  variance: how well the pillar tracks one patient's change from session to session;
  ``omega_2L`` = both levels' common variance over the sum's total variance;
- a factor at level 2 only (a shared construct): ``omega_B`` = its common variance over the
  variance of a patient's mean sum score, ``sum(Sigma_W) E(1/n_j) + sum(Sigma_B)``: how well the
  pillar tells patients apart; ``IRR`` the same with all the between variance counted;
- a factor at level 1 only: ``omega_W``;

and beside them ``icc``, the share of the factor's item sum's variance that lies between
clusters (unrestricted covariances).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..matrices import Representation
from .likelihood import BETWEEN, WITHIN, LevelMoments
from .moments import ClusterMoments

COLUMNS = ("factor", "construct", "icc", "omega_W", "omega_2L", "omega_B", "IRR")


def level_reliability(
    rep: Representation, theta: np.ndarray, h1: LevelMoments, stats: ClusterMoments
) -> pd.DataFrame:
    mats = {level: rep.matrices(theta, level) for level in (WITHIN, BETWEEN)}
    covs = {WITHIN: h1.within, BETWEEN: h1.between}
    scale = float(np.mean(1.0 / stats.cluster_sizes))
    rows = []
    for f, name in enumerate(rep.table.latent):
        indicators = {level: _items(rep, name, level) for level in (WITHIN, BETWEEN)}
        at = [level for level in (WITHIN, BETWEEN) if indicators[level].size]
        row: dict[str, object] = {"factor": name}
        items = indicators[at[0]]
        between = _sum(covs[BETWEEN], items)
        row["icc"] = between / (between + _sum(covs[WITHIN], items))
        common = {
            level: _common(mats[level].lam, mats[level].psi, f, indicators[level]) for level in at
        }
        if at == [WITHIN, BETWEEN]:
            total = {level: _sum(covs[level], items) for level in at}
            row["construct"] = "configural"
            row["omega_W"] = common[WITHIN] / total[WITHIN]
            row["omega_2L"] = (common[WITHIN] + common[BETWEEN]) / (total[WITHIN] + total[BETWEEN])
        elif at == [BETWEEN]:
            den = _sum(covs[WITHIN], items) * scale + _sum(covs[BETWEEN], items)
            row["construct"] = "shared"
            row["omega_B"] = common[BETWEEN] / den
            row["IRR"] = _sum(covs[BETWEEN], items) / den
        else:
            row["construct"] = "within"
            row["omega_W"] = common[WITHIN] / _sum(covs[WITHIN], indicators[WITHIN])
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _items(rep: Representation, factor: str, level: int) -> np.ndarray:
    """The factor's indicators at the level (positions among the items), as the model names
    them."""
    names = [
        p.rhs for p in rep.table.parameters if p.op == "=~" and p.lhs == factor and p.group == level
    ]
    return np.array([rep.table.observed.index(n) for n in names], int)


def _common(lam: np.ndarray, psi: np.ndarray, factor: int, items: np.ndarray) -> float:
    loadings = lam[items, factor]
    return float(loadings.sum() ** 2 * psi[factor, factor])


def _sum(cov: np.ndarray, items: np.ndarray) -> float:
    return float(cov[np.ix_(items, items)].sum())
