"""Each respondent's factor scores from a fitted model, as lavaan's ``lavPredict``.

- ``regression`` (lavaan's default for continuous items, the empirical Bayes estimate):
  ``alpha + Psi L' S^-1 (y - mu)``, its standard error from ``Psi - Psi L' S^-1 L Psi``;
- ``bartlett``: ``alpha + (L' S^-1 L)^-1 L' S^-1 (y - mu)``, its standard error from
  ``(L' S^-1 L)^-1 - Psi`` (lavaan's form, which allows a zero residual variance);
- ``eap``: for ordinal items (WLSMV, ULSMV), the posterior mean of the factors given the
  categories answered, under the fitted normal-ogive model, and the posterior standard
  deviation as its standard error. The integral is adaptive Gauss-Hermite quadrature (the grid
  follows each row's posterior), so that a narrow posterior is resolved with few points.

Each row is scored from the items it answered, as ``lavPredict`` does under
``missing = "ml"`` (the observed part of ``S``, ``L`` and ``mu``): a fit on complete rows scores
the complete rows only, as lavaan's does, and says how many it left. With groups, each row is
scored with its group's parameters. ``mu`` is the implied mean, or the sample mean when the model
has no mean structure (lavaan's ``computeEY``).

The reliability of a factor's scores is the share of their variance that is the factor's,
averaged over the rows scored: ``1 - SE^2 / psi`` for regression and EAP scores (the squared
determinacy), ``psi / (psi + SE^2)`` for Bartlett scores, whose error adds to the factor.
Validated against lavaan 0.6.14 ``lavPredict(se = "standard")`` (tests/reference).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from ..choices import FACTOR_METHOD_REQUESTS, ORDINAL_ESTIMATORS, FactorMethod, MissingMethod
from .matrices import Matrices, Representation
from .partable import ModelError
from .result import CFAResult
from .samplestats import group_values

SE_FLOOR = 1e-5  # lavaan: an error variance below this gives no standard error
SCORE_SUFFIX = "_fs"
SE_SUFFIX = "_fs_se"
PASSES = 30  # adaptive quadrature: at most this many re-centred passes over a row ...
TOLERANCE = 1e-7  # ... stopping when no posterior mean moves more than this
CHUNK = 2_000  # rows integrated at once
START_NODES = 2_000  # the first pass's grid, on the prior, shared by every row


@dataclass(frozen=True)
class FactorScores:
    """Scores of every row of the data, in its order: ``<factor>_fs`` and ``<factor>_fs_se``
    (NaN for a row that was not scored)."""

    method: FactorMethod
    factors: tuple[str, ...]
    table: pd.DataFrame
    reliability: dict[str, float]
    scored: int
    unscored: int
    missing: MissingMethod
    points: int = 0  # EAP: quadrature points per factor

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "method": self.method,
            "factors": list(self.factors),
            "rows_scored": self.scored,
            "rows_not_scored": self.unscored,
            "missing": self.missing,
            "reliability": dict(self.reliability),
            "columns": list(self.table.columns),
        }
        if self.points:
            out["quadrature_points_per_factor"] = self.points
        return out

    def lines(self) -> list[str]:
        how = {
            "regression": "regression (lavPredict's default)",
            "bartlett": "Bartlett",
            "eap": f"EAP (adaptive quadrature, {self.points} points per factor)",
        }[self.method]
        rows = (
            "each from the items it answered"
            if self.missing != "listwise"
            else "complete rows only (the model was fitted to them)"
        )
        first = f"factor scores, {how}, for {self.scored:,} rows, {rows}"
        if self.unscored:
            first += f"; {self.unscored:,} rows not scored"
        rel = ", ".join(f"{f} {v:.3f}" for f, v in self.reliability.items())
        return [first, f"reliability of the scores: {rel}"]


def choose_method(estimator: str, method: str) -> FactorMethod:
    """The method asked for, checked against the model: EAP for ordinal items, regression or
    Bartlett for continuous ones; 'auto' takes EAP or regression."""
    if method not in FACTOR_METHOD_REQUESTS:
        raise ValueError(
            f"'method' must be one of {', '.join(map(repr, FACTOR_METHOD_REQUESTS))}; got "
            f"{method!r}."
        )
    ordinal = estimator in ORDINAL_ESTIMATORS
    if method == "auto":
        return "eap" if ordinal else "regression"
    if ordinal and method != "eap":
        raise ModelError(
            f"{method} scores are for continuous items; a model of ordinal items "
            f"({estimator.upper()}) is scored by EAP (method 'eap')."
        )
    if not ordinal and method == "eap":
        raise ModelError(
            "EAP scores are for ordinal items (WLSMV, ULSMV); under a continuous model they "
            "equal the regression scores (method 'regression')."
        )
    return method  # type: ignore[return-value]


def factor_scores(result: CFAResult, data: pd.DataFrame, method: str = "auto") -> FactorScores:
    """Score every row of ``data``, the frame ``result`` was fitted to (the same columns, and
    its group column when it has groups)."""
    if result.theta is None or result.table is None or result.stats is None:
        raise ValueError("factor scores need a fitted model (fit_model's result).")
    chosen = choose_method(result.estimator, method)
    rep = Representation.of(result.table)
    stats = result.stats
    x = data[list(result.observed)].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    answered = ~np.isnan(x)
    used = answered.all(axis=1) if stats.missing == "listwise" else answered.any(axis=1)
    if result.group_column is not None:
        labels = group_values(data[result.group_column]).to_numpy(dtype=object)
    else:
        labels = np.full(len(x), "", dtype=object)
    m = rep.m
    scores = np.full((len(x), m), np.nan)
    errors = np.full((len(x), m), np.nan)
    shares: list[np.ndarray] = []
    points = _points(m) if chosen == "eap" else 0
    for g, label in enumerate(result.groups):
        rows = used & (labels == label)
        if not rows.any():
            continue
        mats = rep.matrices(result.theta, g)
        if chosen == "eap":
            sample = stats.groups[g].ordinal
            assert sample is not None
            fs, se = _eap(x[rows], mats, rep, sample.levels, points)
        else:
            mean = mats.mu if rep.meanstructure else stats.groups[g].mean
            fs, se = _linear(x[rows], mats, mean, bartlett=chosen == "bartlett")
        scores[rows], errors[rows] = fs, se
        psi = np.diag(mats.psi)
        error = se**2
        shares.append(psi / (psi + error) if chosen == "bartlett" else 1 - error / psi)
    share = np.vstack(shares)
    reliability = {
        f: float(np.nanmean(share[:, k])) if np.isfinite(share[:, k]).any() else float("nan")
        for k, f in enumerate(result.latent)
    }
    columns: dict[str, np.ndarray] = {}
    for k, f in enumerate(result.latent):
        columns[f + SCORE_SUFFIX] = scores[:, k]
        columns[f + SE_SUFFIX] = errors[:, k]
    table = pd.DataFrame(columns, index=data.index)
    n_used = int(used.sum())
    return FactorScores(
        chosen,
        tuple(result.latent),
        table,
        reliability,
        n_used,
        len(x) - n_used,
        stats.missing,
        points,
    )


def _patterns(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The answered/unanswered patterns of ``x`` and each row's pattern."""
    patterns, which = np.unique(~np.isnan(x), axis=0, return_inverse=True)
    return patterns, which.ravel()


def _linear(
    x: np.ndarray, mats: Matrices, mean: np.ndarray, *, bartlett: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Regression or Bartlett scores and their standard errors, pattern by pattern."""
    lam, psi, sigma, alpha = mats.lam, mats.psi, mats.sigma, mats.alpha
    fs = np.full((len(x), lam.shape[1]), np.nan)
    se = np.full_like(fs, np.nan)
    patterns, which = _patterns(x)
    for k, seen in enumerate(patterns):
        rows = which == k
        inv = np.linalg.inv(sigma[np.ix_(seen, seen)])
        loadings = lam[seen]
        if bartlett:
            info = np.linalg.pinv(loadings.T @ inv @ loadings)
            weights = info @ loadings.T @ inv
            weights[np.all(weights == 0, axis=1)] = np.nan  # a factor with no item answered
            error = info - psi
        else:
            weights = psi @ loadings.T @ inv
            error = psi - weights @ loadings @ psi
        fs[rows] = alpha + (x[rows][:, seen] - mean[seen]) @ weights.T
        variance = np.diag(error).copy()
        variance[~(variance >= SE_FLOOR)] = np.nan
        se[rows] = np.sqrt(variance)
    return fs, se


def _points(m: int) -> int:
    """Gauss-Hermite points per factor: 7 for up to three factors, fewer beyond (the grid is
    re-centred on each row's posterior, so few points suffice)."""
    points = 7 if m <= 3 else 5 if m <= 5 else 3
    if points**m > 50_000:
        raise ModelError(f"EAP scores over {m} factors need too large a grid; fit fewer factors.")
    return points


def _eap(
    x: np.ndarray,
    mats: Matrices,
    rep: Representation,
    levels: tuple[tuple[float, ...], ...],
    points: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and standard deviations of the factors, row by row: a first pass on
    the prior's grid (shared by every row), then passes on a grid centred and scaled by each
    row's posterior so far, until no mean moves."""
    m = mats.psi.shape[0]
    nodes, weights = special.roots_hermitenorm(points)
    grid = np.array(list(itertools.product(range(points), repeat=m)))
    z = nodes[grid]  # standard normal nodes, nodes x m
    log_w = np.log(weights[grid]).sum(axis=1) + 0.5 * (z**2).sum(axis=1)  # w / phi(z)
    prior_inv = np.linalg.inv(mats.psi)
    residual_sd = np.sqrt(np.diag(mats.theta))
    ordinal = _categories(x, rep, mats, levels)
    fs = np.empty((len(x), m))
    se = np.empty_like(fs)
    first = max(points, int(START_NODES ** (1 / m)))  # the prior's grid: finer, computed once
    start_nodes, start_weights = special.roots_hermitenorm(first)
    start_grid = np.array(list(itertools.product(range(first), repeat=m)))
    shared = mats.alpha + start_nodes[start_grid] @ np.linalg.cholesky(mats.psi).T
    shared_prior = np.log(start_weights[start_grid]).sum(axis=1)
    for start in range(0, len(x), CHUNK):
        part = np.arange(start, min(start + CHUNK, len(x)))
        log_post = shared_prior + _loglik(x[part], shared, mats, residual_sd, ordinal, part)
        mean, cov = _moments_shared(log_post, shared)
        active = np.arange(len(part))
        for _ in range(PASSES):
            root = np.linalg.cholesky(cov[active] + 1e-12 * np.eye(m))
            eta = mean[active, None, :] + np.einsum("rij,nj->rni", root, z)
            d = eta - mats.alpha  # the grid's own scale (det root) is the same at every node
            log_post = log_w - 0.5 * np.einsum("rni,ij,rnj->rn", d, prior_inv, d)
            log_post += _loglik(x[part[active]], eta, mats, residual_sd, ordinal, part[active])
            new_mean, new_cov = _moments(log_post, eta)
            moved = np.max(np.abs(new_mean - mean[active]), axis=1)
            mean[active], cov[active] = new_mean, new_cov
            active = active[moved >= TOLERANCE]
            if not len(active):
                break
        fs[part] = mean
        se[part] = np.sqrt(np.einsum("rii->ri", cov))
    return fs, se


def _moments_shared(log_post: np.ndarray, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_moments` on one grid (nodes x m) for every row."""
    post = np.exp(log_post - log_post.max(axis=1, keepdims=True))
    post /= post.sum(axis=1, keepdims=True)
    mean = post @ eta
    m = eta.shape[1]
    second = (post @ (eta[:, :, None] * eta[:, None, :]).reshape(len(eta), m * m)).reshape(-1, m, m)
    return mean, second - mean[:, :, None] * mean[:, None, :]


def _moments(log_post: np.ndarray, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The posterior mean and covariance of each row, from its log posterior at its nodes."""
    post = np.exp(log_post - log_post.max(axis=1, keepdims=True))
    post /= post.sum(axis=1, keepdims=True)
    mean = np.einsum("rn,rni->ri", post, eta)
    dev = eta - mean[:, None, :]
    return mean, np.einsum("rn,rni,rnj->rij", post, dev, dev)


@dataclass(frozen=True)
class _Ordinal:
    items: np.ndarray  # positions of the ordinal items
    category: np.ndarray  # rows x ordinal items: the category answered (0, 1, ...; -1: none)
    cuts: tuple[np.ndarray, ...]  # each ordinal item's thresholds, between -inf and inf


def _categories(
    x: np.ndarray, rep: Representation, mats: Matrices, levels: tuple[tuple[float, ...], ...]
) -> _Ordinal:
    """Each answer's category among its item's (and the item's thresholds, between which the
    category lies on the latent response)."""
    counts = rep.table.thresholds or tuple(len(v) - 1 if v else 0 for v in levels)
    items = np.array([j for j, c in enumerate(counts) if c > 0], dtype=int)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    category = np.full((len(x), len(items)), -1, dtype=int)
    all_cuts = []
    for k, j in enumerate(items):
        cuts = np.concatenate([[-np.inf], mats.tau[offsets[j] : offsets[j + 1]], [np.inf]])
        all_cuts.append(cuts)
        values = np.asarray(levels[j])
        where = np.searchsorted(values, x[:, j])
        known = ~np.isnan(x[:, j]) & (where < len(values))
        known[known] &= values[where[known]] == x[known, j]
        category[known, k] = where[known]
    return _Ordinal(items, category, tuple(all_cuts))


def _loglik(
    x: np.ndarray,
    eta: np.ndarray,
    mats: Matrices,
    residual_sd: np.ndarray,
    ordinal: _Ordinal,
    part: np.ndarray,
) -> np.ndarray:
    """log P(answers | eta) at every row's nodes (rows x nodes), over the items answered.
    ``eta``: each row's own grid (rows x nodes x m), or one grid for every row (nodes x m),
    on which each item's log probability of each category is computed once and then picked
    by each row's answer."""
    shared = eta.ndim == 2
    out = np.zeros((len(x), eta.shape[-2]))
    for k, j in enumerate(ordinal.items):
        if shared:
            linear = eta @ mats.lam[j] + mats.nu[j]  # nodes
            cdf = special.ndtr((ordinal.cuts[k][:, None] - linear) / residual_sd[j])
            table = np.log(np.maximum(np.diff(cdf, axis=0), 1e-300))  # categories x nodes
            category = ordinal.category[part, k]
            seen = category >= 0
            out[seen] += table[category[seen]]
            continue
        category = ordinal.category[part, k]
        seen = category >= 0
        if not seen.any():
            continue
        cuts = ordinal.cuts[k]
        linear = (eta if seen.all() else eta[seen]) @ mats.lam[j] + mats.nu[j]  # rows x nodes
        a = (cuts[category[seen] + 1, None] - linear) / residual_sd[j]
        b = (cuts[category[seen], None] - linear) / residual_sd[j]
        out[seen] += _log_interval(a, b)
    for j in np.setdiff1d(np.arange(x.shape[1]), ordinal.items):
        seen = ~np.isnan(x[:, j])
        linear = (eta if shared else eta[seen]) @ mats.lam[j] + mats.nu[j]
        r = (x[seen, j, None] - linear) / residual_sd[j]
        out[seen] += -0.5 * r**2 - np.log(residual_sd[j])
    return out


def _log_interval(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log(Phi(a) - Phi(b)) for a > b, from the tail where the difference is accurate."""
    upper_tail = b > 0  # both in the upper tail: 1 - Phi is the accurate side
    hi = np.where(upper_tail, -b, a)
    lo = np.where(upper_tail, -a, b)
    return np.log(np.maximum(special.ndtr(hi) - special.ndtr(lo), 1e-300))
