"""Two-level CFA (lavaan's ``level: 1`` / ``level: 2`` blocks with ``cluster =``), a stage of
its own beside ML, FIML and DWLS: its parameter tables (:mod:`.tables`), its sample statistics
(:mod:`.moments`: within and between moments per cluster size), its likelihood
(:mod:`.likelihood`), the unrestricted model by EM (:mod:`.em`), the fit measures and
estimates (:mod:`.fit`), the reliability per level (:mod:`.reliability`) and the result
(:mod:`.result`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from instrument.syntax import has_levels, split_levels

from ..partable import ModelError
from .fit import estimates, fit_levels, fit_measures, icc, unrestricted
from .moments import cluster_moments
from .reliability import level_reliability
from .result import TwoLevelResult
from .tables import model_table


def fit_twolevel(data: pd.DataFrame, model: str, cluster: str) -> TwoLevelResult:
    """Fit a two-level ``model`` to ``data`` by ML, the rows nested in the clusters of column
    ``cluster``. Rows with a missing answer to a model item are left out and counted (two-level
    FIML is not available yet); a row without a cluster is refused."""
    table = model_table(model)
    items = list(table.observed)
    absent = [c for c in [*items, cluster] if c not in data.columns]
    if absent:
        raise ModelError(f"the data have no column {', '.join(map(repr, absent))}.")
    if data[cluster].isna().any():
        raise ModelError(f"{int(data[cluster].isna().sum())} rows have no {cluster}.")
    answers = data[items].apply(pd.to_numeric, errors="coerce")
    complete = answers.notna().all(axis=1).to_numpy()
    rows = answers.to_numpy(float)[complete]
    codes = pd.factorize(data[cluster].to_numpy()[complete])[0]
    if len(rows) == 0 or codes.max(initial=-1) < 1:
        raise ModelError(
            f"a two-level model needs at least two clusters of {cluster} with complete rows."
        )
    stats = cluster_moments(rows, codes)
    if stats.n - stats.clusters <= len(items):
        raise ModelError(
            f"{stats.n:,} rows in {stats.clusters:,} clusters leave too few sessions within "
            f"clusters for {len(items)} items."
        )
    h1, h1_loglik = unrestricted(stats)
    objective, est = fit_levels(table, stats)
    findings = []
    if not est.converged:
        findings.append(f"the estimation did not converge ({est.message})")
    frame, singular = estimates(objective, est.theta)
    if singular:
        findings.append("the information matrix is singular: standard errors are not available")
    findings += _negative_variances(frame)
    return TwoLevelResult(
        model=model,
        cluster=cluster,
        n=stats.n,
        clusters=stats.clusters,
        observed=table.observed,
        estimates=frame,
        fit=fit_measures(objective, est.theta, h1, h1_loglik, stats),
        icc=pd.Series(icc(h1), index=list(table.observed)),
        reliability=level_reliability(objective.rep, est.theta, h1, stats),
        converged=est.converged,
        iterations=est.iterations,
        findings=tuple(findings),
        left_out=int(np.sum(~complete)),
    )


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
