"""Reliability per subscale and discriminant validity between subscales.

- ``alpha`` with its 95% CI (Feldt's, as pingouin gives it), ``alpha_if_deleted`` and
  ``item_total`` (corrected item-total correlation, psych's r.drop), all from the pairwise
  covariance matrix as psych and pingouin do by default (validated against psych::alpha);
  mean inter-item correlation; ceiling
  share per item.
- From a fitted CFA: ``omega_total`` = (sum lambda)^2 psi / ((sum lambda)^2 psi + 1' Theta 1)
  (McDonald's omega over the model-implied variance of the sum: residual covariances between
  the factor's items count, twice, as semTools' ``compRelSEM`` counts them);
  ``composite_reliability`` = the same true-score variance over the *observed* variance of the
  sum (semTools::compRelSEM, obs.var = TRUE); ``ave`` = sum lambda^2 psi over the sum of the
  items' observed variances (semTools::AVE, obs.var = TRUE).
- ``omega_hierarchical`` of a bifactor model: (sum of general loadings)^2 over the model-implied
  variance of the total.
- HTMT (semTools::htmt, default htmt2: geometric means of absolute correlations; ``classic``
  for the arithmetic version) and the Fornell-Larcker table (sqrt(AVE) on the diagonal, factor
  correlations off it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .cfa import CFAResult
from .cfa.matrices import Representation
from .keying import ceiling_share
from .reliability import MissingPolicy, alpha_of_covariance, feldt_interval, item_covariance


@dataclass(frozen=True)
class ItemReliability:
    alpha: float
    alpha_ci: tuple[float, float]
    alpha_if_deleted: dict[str, float]
    item_total: dict[str, float]
    mean_inter_item_r: float
    ceiling_share: dict[str, float]
    n: int
    alpha_missing: MissingPolicy = "pairwise"

    def to_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "alpha_missing": self.alpha_missing,
            "alpha_ci": list(self.alpha_ci),
            "alpha_if_deleted": self.alpha_if_deleted,
            "item_total": self.item_total,
            "mean_inter_item_r": self.mean_inter_item_r,
            "ceiling_share": self.ceiling_share,
            "n": self.n,
        }


def item_reliability(
    items: pd.DataFrame, ceiling: dict[str, float] | None = None
) -> ItemReliability:
    """Alpha and item statistics of one subscale (reverse-keyed items already reversed).

    ``ceiling``: each item's ceiling share, counted at its favourable end by the caller
    (:func:`analysis.keying.ceiling_shares`); default: at the largest keyed answer seen.
    """
    ids = list(items.columns)
    n_complete = int(items.notna().all(axis=1).sum())
    if len(ids) < 2 or n_complete < 3:
        nan = float("nan")
        return ItemReliability(nan, (nan, nan), {}, {}, nan, {}, n_complete)
    values = items.to_numpy(dtype=float)
    cov = item_covariance(values)
    alpha = alpha_of_covariance(cov)
    ci = feldt_interval(alpha, len(items), len(ids))
    if_deleted, item_total = {}, {}
    for k, item in enumerate(ids):
        rest = [j for j in range(len(ids)) if j != k]
        block = cov[np.ix_(rest, rest)]
        if_deleted[item] = alpha_of_covariance(block) if len(rest) > 1 else float("nan")
        item_total[item] = float(cov[k, rest].sum() / np.sqrt(cov[k, k] * block.sum()))
    corr = items.corr().to_numpy()
    mean_r = float(corr[np.triu_indices(len(ids), 1)].mean())
    if ceiling is None:
        ceiling = {i: ceiling_share(items[i], None) for i in ids}
    return ItemReliability(
        float(alpha),
        (float(ci[0]), float(ci[1])),
        if_deleted,
        item_total,
        mean_r,
        ceiling,
        n_complete,
    )


def _factor_parts(
    result: CFAResult, factor: str
) -> tuple[np.ndarray, float, np.ndarray, list[str]]:
    """A factor's loadings, variance, its items' residual covariance matrix and the items (the
    first group's), from the model's matrices."""
    table, theta = result.table, result.theta
    assert table is not None and theta is not None
    mats = Representation.of(table).matrices(theta, 0)
    k = table.latent.index(factor)
    items = [
        p.rhs for p in table.parameters if p.matrix == "lambda" and p.lhs == factor and p.group == 0
    ]
    where = [table.observed.index(i) for i in items]
    return mats.lam[where, k], float(mats.psi[k, k]), mats.theta[np.ix_(where, where)], items


def factor_reliability(result: CFAResult) -> dict[str, dict[str, float]]:
    """omega_total, composite_reliability and ave per factor of a simple-structure CFA."""
    out = {}
    sample = result.sample.to_numpy()
    for factor in result.latent:
        lam, psi, theta, items = _factor_parts(result, factor)
        true = lam.sum() ** 2 * psi
        where = [result.observed.index(i) for i in items]
        observed = sample[np.ix_(where, where)]
        squared = float((lam**2).sum() * psi)
        out[factor] = {
            "omega_total": float(true / (true + theta.sum())),
            "composite_reliability": float(true / observed.sum()),
            "ave": squared / float(np.trace(observed)),
        }
    return out


def omega_hierarchical(result: CFAResult, general: str) -> float:
    """Share of the total score's model-implied variance due to the general factor."""
    e = result.estimates
    lam = e[(e["op"] == "=~") & (e["lhs"] == general)]
    items = list(lam["rhs"])
    psi = float(e[(e["op"] == "~~") & (e["lhs"] == general) & (e["rhs"] == general)]["est"].iloc[0])
    total = float(result.implied.loc[items, items].to_numpy().sum())
    return float(lam["est"].sum() ** 2 * psi / total)


def htmt(
    data: pd.DataFrame, groups: dict[str, list[str]], *, classic: bool = False
) -> pd.DataFrame:
    """Heterotrait-monotrait ratio of correlations between every pair of item groups."""
    items = [i for ids in groups.values() for i in ids]
    x = data[items].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    x = x[~np.isnan(x).any(axis=1)]  # complete rows, as semTools' htmt (listwise)
    r = np.abs(np.corrcoef(x, rowvar=False))
    position = {item: k for k, item in enumerate(items)}
    names = list(groups)
    where = {g: [position[i] for i in ids] for g, ids in groups.items()}

    def mean(values: np.ndarray) -> float:
        return float(values.mean()) if classic else float(np.exp(np.log(values).mean()))

    mono = {}
    for g, ids in where.items():
        block = r[np.ix_(ids, ids)]
        mono[g] = mean(block[np.triu_indices(len(ids), 1)])
    out = np.eye(len(names))
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            hetero = mean(r[np.ix_(where[names[a]], where[names[b]])].ravel())
            out[a, b] = out[b, a] = hetero / np.sqrt(mono[names[a]] * mono[names[b]])
    return pd.DataFrame(out, index=names, columns=names)


def fornell_larcker(result: CFAResult, reliability: dict[str, dict[str, float]]) -> pd.DataFrame:
    """sqrt(AVE) on the diagonal, factor correlations off it: a factor is distinct when its
    sqrt(AVE) exceeds its correlations with the others."""
    table = result.factor_correlations().copy()
    for factor in result.latent:
        table.loc[factor, factor] = np.sqrt(reliability[factor]["ave"])
    return table


def ordinal_reliability(result: CFAResult) -> dict[str, dict[str, float]]:
    """Under WLSMV, per factor of a simple structure: ``omega_ordinal``, Green & Yang's (2009)
    omega on the scale of the sum of the answers (semTools' ``compRelSEM(ord.scale = TRUE)``:
    the common factor's share of the sum score's variance, both through the thresholds and
    the bivariate normal, the denominator from the sample's polychoric correlations), and
    ``alpha_ordinal``, alpha on the polychoric correlations (Zumbo, Gadermann & Zeisser)."""
    stats = result.stats
    assert stats is not None and stats.groups[0].ordinal is not None
    sample = stats.groups[0].ordinal
    names = list(result.observed)
    out = {}
    for factor in result.latent:
        lam, psi, _, items = _factor_parts(result, factor)
        where = [names.index(i) for i in items]
        common = np.outer(lam, lam) * psi
        poly = sample.correlations[np.ix_(where, where)]
        taus = [sample.thresholds[k] for k in where]
        k = len(items)
        out[factor] = {
            "omega_ordinal": _sum_score_variance(common, taus) / _sum_score_variance(poly, taus),
            "alpha_ordinal": float(k / (k - 1) * (1 - k / poly.sum())) if k > 1 else float("nan"),
        }
    return out


def _sum_score_variance(r: np.ndarray, taus: list[np.ndarray]) -> float:
    """The variance of the sum of category numbers of items cut from normal responses with
    correlations ``r`` at thresholds ``taus``: ``sum_jk sum_cc' Phi2(t_c, t_c'; r_jk) -
    Phi(t_c) Phi(t_c')``."""
    from scipy import special

    from .cfa.ordinal import bvn_cdf

    total = 0.0
    for j, tj in enumerate(taus):
        for k, tk in enumerate(taus):
            a, b = np.meshgrid(tj, tk, indexing="ij")
            both = float(bvn_cdf(a, b, float(r[j, k])).sum())
            total += both - float(special.ndtr(tj).sum() * special.ndtr(tk).sum())
    return total
