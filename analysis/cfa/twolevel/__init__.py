"""Two-level CFA (lavaan's ``level: 1`` / ``level: 2`` blocks with ``cluster =``), a stage of
its own beside ML, FIML and DWLS: its parameter tables (:mod:`.tables`), its sample statistics
(:mod:`.moments`: within and between moments per cluster size), its likelihood
(:mod:`.likelihood`), the unrestricted model by EM (:mod:`.em`), the fit measures and
estimates (:mod:`.fit`), the reliability per level (:mod:`.reliability`) and the result
(:mod:`.result`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from instrument.syntax import has_levels, split_levels

from ...choices import MissingMethod
from ..partable import ModelError
from .fit import LevelData, estimates, fit_levels, fit_measures, icc, unrestricted
from .missing import cluster_rows
from .moments import cluster_moments
from .reliability import level_reliability
from .result import TwoLevelResult
from .tables import model_table


def fit_twolevel(
    data: pd.DataFrame,
    model: str,
    cluster: str,
    missing: MissingMethod = "fiml",
    *,
    standard_errors: bool = True,
    stage: Callable[[str], None] | None = None,
) -> TwoLevelResult:
    """Fit a two-level ``model`` to ``data`` by ML, the rows nested in the clusters of column
    ``cluster``. Missing answers by two-level FIML (``missing='fiml'``, lavaan's ``missing =
    "ml"``: every answer counts; a row with no answer is left out and counted) or complete rows
    only (``'listwise'``); a row without a cluster is refused. ``standard_errors=False`` skips
    the observed information (the costliest step under FIML) where only the fit, the ICCs and
    the reliability are wanted. ``stage`` is told the fit's stages as they start, once the
    model and the data have passed every check."""
    said = stage or (lambda _message: None)
    if missing not in ("fiml", "listwise"):
        raise ModelError(f"a two-level model takes missing 'fiml' or 'listwise'; got {missing!r}.")
    table = model_table(model)
    items = list(table.observed)
    absent = [c for c in [*items, cluster] if c not in data.columns]
    if absent:
        raise ModelError(f"the data have no column {', '.join(map(repr, absent))}.")
    if data[cluster].isna().any():
        raise ModelError(f"{int(data[cluster].isna().sum())} rows have no {cluster}.")
    answers = data[items].apply(pd.to_numeric, errors="coerce")
    keep = answers.notna().all(axis=1) if missing == "listwise" else answers.notna().any(axis=1)
    keep = keep.to_numpy()
    rows = answers.to_numpy(float)[keep]
    codes = pd.factorize(data[cluster].to_numpy()[keep])[0]
    if len(rows) == 0 or codes.max(initial=-1) < 1:
        raise ModelError(
            f"a two-level model needs at least two clusters of {cluster} with answers."
        )
    incomplete = int(np.isnan(rows).any(axis=1).sum())
    filled = np.where(np.isnan(rows), np.nanmean(rows, axis=0), rows)
    moments = cluster_moments(filled, codes)
    if moments.n - moments.clusters <= len(items):
        raise ModelError(
            f"{moments.n:,} rows in {moments.clusters:,} clusters leave too few sessions within "
            f"clusters for {len(items)} items."
        )
    if not _varies_within(moments.within, filled):
        raise ModelError(
            f"the answers do not vary enough within clusters of {cluster} for a two-level "
            f"model: their within-cluster covariance is singular (the rows of each cluster "
            f"repeat one another, or an item is constant or a sum of others within clusters)."
        )
    sample = LevelData(moments, cluster_rows(rows, codes) if incomplete else None)
    said(
        f"fitting the two-level model: {moments.n:,} rows in {moments.clusters:,} clusters of "
        f"{cluster}" + (f", {incomplete:,} with missing answers (FIML)" if incomplete else "")
    )
    h1, h1_loglik = unrestricted(sample)
    objective, est = fit_levels(table, sample)
    findings = []
    if not est.converged:
        findings.append(f"the estimation did not converge ({est.message})")
    if standard_errors:
        said(f"the two-level model's standard errors ({objective.rep.n_free} parameters)")
    frame, singular = estimates(objective, est.theta, standard_errors)
    if singular and standard_errors:
        findings.append("the information matrix is singular: standard errors are not available")
    findings += _negative_variances(frame)
    reliability = level_reliability(objective.rep, est.theta, h1, moments)
    findings += _impossible_omegas(reliability)
    return TwoLevelResult(
        model=model,
        cluster=cluster,
        n=moments.n,
        clusters=moments.clusters,
        observed=table.observed,
        estimates=frame,
        fit=fit_measures(objective, est.theta, h1, h1_loglik, sample),
        icc=pd.Series(icc(h1), index=list(table.observed)),
        reliability=reliability,
        converged=est.converged,
        iterations=est.iterations,
        findings=tuple(findings),
        left_out=int(np.sum(~keep)),
        incomplete=incomplete,
        missing=missing,
    )


def _varies_within(within: np.ndarray, rows: np.ndarray) -> bool:
    """Whether the pooled within-cluster covariance is of full rank, on the scale of the
    answers: every item varies within clusters (by more than rounding, against its spread
    over all rows), and no item is, within clusters, a sum of others. Rows that repeat
    within each cluster leave a covariance of rounding noise (1e-31), which a Cholesky
    factor would pass."""
    spread = np.sqrt(np.clip(np.diag(within), 0, None))
    if np.any(spread <= 1e-8 * rows.std(axis=0)) or not np.all(spread > 0):
        return False
    correlation = within / np.outer(spread, spread)
    return bool(np.linalg.eigvalsh(correlation)[0] > 1e-10)


def _impossible_omegas(reliability: pd.DataFrame) -> list[str]:
    """An omega above 1: the model's common variance of a sum exceeds the sum's observed
    variance at that level, a sign that the model does not fit that level."""
    out = []
    for column, level in (("omega_W", "within"), ("omega_B", "between")):
        over = reliability[reliability[column] > 1]
        if len(over):
            names = ", ".join(
                f"{f} {v:.2f}" for f, v in zip(over["factor"], over[column], strict=True)
            )
            out.append(
                f"omega {level} above 1 ({names}): the model's common variance exceeds the "
                f"observed {level} variance of the items' sum, so the model misfits; read "
                "omega from one that fits (SRMR within and between)"
            )
    return out


def _negative_variances(frame: pd.DataFrame) -> list[str]:
    """One finding per level with negative variances (Heywood cases)."""
    out = []
    variances = frame[(frame["op"] == "~~") & (frame["lhs"] == frame["rhs"])]
    for level, name in ((1, "within"), (2, "between")):
        bad = variances[(variances["level"] == level) & (variances["est"] < 0)]
        if bad.empty:
            continue
        worst = bad.iloc[int(np.argmin(bad["est"].to_numpy()))]
        out.append(
            f"{len(bad)} negative {name}-level variance{'s' if len(bad) > 1 else ''} (the "
            f"lowest {worst['lhs']} {worst['est']:.3f}): "
            + (
                "the items have almost no variance of their own between clusters"
                if level == 2
                else "the within-level model does not fit these items"
            )
        )
    return out


__all__ = ["TwoLevelResult", "fit_twolevel", "has_levels", "split_levels"]
