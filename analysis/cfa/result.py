"""The fitted model: one frozen :class:`CFAResult`, whatever the estimator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..choices import Estimator
from .partable import ParTable
from .samplestats import SampleStats
from .spec import DEFAULT, FitSpec


def parameter_table(
    estimates: pd.DataFrame, block: tuple[str, list[str]] | None = None
) -> pd.DataFrame:
    """The estimates as lavaan's ``parameterEstimates(fit, standardized = TRUE)`` gives them:
    estimate, SE, z, p, the 95% interval, the completely standardized estimate and its SE
    (``standardizedSolution``); ``block`` names each row's group or level (column, labels)."""
    e = estimates
    out = e[["lhs", "op", "rhs"]].copy()
    if block is not None:
        out[block[0]] = block[1]
    for column in ("label", "est", "se", "z", "pvalue"):
        out[column] = e[column]
    out["ci_lower"] = e["est"] - 1.959964 * e["se"]
    out["ci_upper"] = e["est"] + 1.959964 * e["se"]
    out["std_all"] = e["std_all"]
    out["std_all_se"] = e["std_se"]
    return out


@dataclass(frozen=True)
class CFAResult:
    """Everything about one fitted model. ``estimates`` has one row per parameter and group."""

    model: str
    estimator: Estimator
    n: int
    observed: tuple[str, ...]
    latent: tuple[str, ...]
    estimates: pd.DataFrame
    fit: dict[str, float]
    converged: bool
    iterations: int
    implied: pd.DataFrame  # the first group's; every group's in ``implied_by_group``
    sample: pd.DataFrame
    modindices: pd.DataFrame
    residual_correlations: pd.DataFrame
    findings: tuple[str, ...] = field(default=())
    groups: tuple[str, ...] = ("",)
    group_n: tuple[int, ...] = ()
    group_column: str | None = None
    left_out: dict[str, int] = field(default_factory=dict)
    table: ParTable | None = None
    stats: SampleStats | None = None
    theta: np.ndarray | None = None
    implied_by_group: tuple[pd.DataFrame, ...] = ()
    sample_by_group: tuple[pd.DataFrame, ...] = ()
    spec: FitSpec = DEFAULT  # how it was fitted

    @property
    def loadings(self) -> pd.DataFrame:
        e = self.estimates
        return e[(e["op"] == "=~") & (e["group"] == 1)].reset_index(drop=True)

    def factor_correlations(self, group: int = 1) -> pd.DataFrame:
        e = self.estimates
        psi = e[(e["op"] == "~~") & e["lhs"].isin(self.latent) & (e["group"] == group)]
        names = list(self.latent)
        values = np.eye(len(names))
        for lhs, rhs, std in zip(psi["lhs"], psi["rhs"], psi["std_all"], strict=True):
            a, b = names.index(str(lhs)), names.index(str(rhs))
            values[a, b] = values[b, a] = float(std)
        return pd.DataFrame(values, index=names, columns=names)

    def missing_data(self) -> dict[str, Any]:
        """How missing answers were handled: the method and, under FIML, the missing-data
        patterns and the item pair answered together by the smallest share of rows."""
        stats = self.stats
        if stats is None or stats.missing == "listwise":
            return {"method": "listwise"}
        lowest, r, c = min(g.lowest_pair() for g in stats.groups)
        if stats.missing == "pairwise":
            return {
                "method": "pairwise",
                "lowest_coverage": lowest,
                "lowest_coverage_items": [stats.observed[r], stats.observed[c]],
            }
        return {
            "method": "fiml",
            "patterns": stats.n_patterns,
            "lowest_coverage": lowest,
            "lowest_coverage_items": [stats.observed[r], stats.observed[c]],
        }

    def parameters(self) -> pd.DataFrame:
        """The parameter table as lavaan's ``parameterEstimates(fit, standardized = TRUE)``
        gives it: one row per parameter (and group): estimate, SE, z, p, the 95% interval, the
        completely standardized estimate and its SE (``standardizedSolution``), in every group.
        Fixed parameters have no SE."""
        e = self.estimates
        block = None
        if self.group_column is not None:
            block = ("group", [self.groups[g - 1] for g in e["group"].astype(int)])
        return parameter_table(e, block)

    def nesting(self) -> str:
        """How the fit treated rows that are not independent, in words ('' when nothing was
        nested or said of it)."""
        parts = list(self.spec.notes)
        stats = self.stats
        if stats is not None and stats.cluster is not None:
            parts.insert(
                0,
                f"clustered by {stats.cluster} ({stats.n:,} rows in {stats.n_clusters:,} "
                "clusters): cluster-robust standard errors and scaled test",
            )
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "estimator": self.estimator,
            "n": self.n,
            "converged": self.converged,
            "fit": dict(self.fit),
            "findings": list(self.findings),
            "missing": self.missing_data(),
        }
        if self.group_column is not None:
            out["group"] = {
                "column": self.group_column,
                "groups": [
                    {"label": g, "n": n} for g, n in zip(self.groups, self.group_n, strict=True)
                ],
            }
        return out
