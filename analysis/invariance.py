"""Measurement invariance across groups: configural -> metric -> scalar -> strict.

Each level holds one more kind of parameter equal across the groups (loadings, then item
intercepts, then residual variances) and is compared with the level before it: the chi-square
difference (Satorra-Bentler scaled under MLR) and the changes in CFI and RMSEA against Chen's
(2007) criteria, ΔCFI <= .010 and ΔRMSEA <= .015. Large samples make every chi-square
difference significant, so the decision follows the changes in fit; the test is reported beside
them.

When a level fails, partial invariance: the score test of each equality constraint that level
added (as lavaan's ``lavTestScore``) points at the parameter whose equality costs the most fit;
it is freed in the group where it differs, the model is refitted, and the step repeats until
the level holds or no constraint is significant (Bonferroni over the constraints tested). Each
freed parameter is a finding that names the item and the group: an item that works differently
for a group of patients biases the comparison of their scores. Later levels keep the parameters
freed before them.

Every level is fitted to the same rows (complete on the model's items and the group), so the
comparisons are between nested models of one sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from .cfa import CFAResult, ModelError, fit_cfa, prepare
from .cfa.compare import chisq_difference
from .cfa.model import Estimator
from .cfa.partable import Key, ParTable, build_partable
from .cfa.samplestats import SampleStats
from .cfa.scoretest import score_tests

LEVELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("configural", ()),
    ("metric", ("loadings",)),
    ("scalar", ("loadings", "intercepts")),
    ("strict", ("loadings", "intercepts", "residuals")),
)
LEVEL_NAMES = tuple(level[0] for level in LEVELS)
CHEN_CFI = 0.010
CHEN_RMSEA = 0.015
ALPHA = 0.05
WHAT = {"loadings": "loading", "intercepts": "intercept", "residuals": "residual variance"}


@dataclass(frozen=True)
class Freed:
    """One parameter released from equality: in ``group`` it differs from the first group."""

    level: str
    lhs: str
    op: str
    rhs: str
    group: str
    reference: str
    x2: float
    p: float

    @property
    def item(self) -> str:
        return self.rhs if self.op == "=~" else self.lhs

    @property
    def parameter(self) -> str:
        return f"{self.lhs} ~ 1" if self.op == "~1" else f"{self.lhs} {self.op} {self.rhs}"

    def sentence(self) -> str:
        kind = {"=~": "loading", "~1": "intercept", "~~": "residual variance"}[self.op]
        return (
            f"{self.level} invariance: the {kind} of item {self.item!r} ({self.parameter}) "
            f"differs in group {self.group!r} from group {self.reference!r} (score test "
            f"X2 = {self.x2:.2f}, {_p(self.p)}); freed in that group"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "item": self.item,
            "parameter": self.parameter,
            "group": self.group,
            "reference_group": self.reference,
            "score_x2": self.x2,
            "p": self.p,
        }


@dataclass(frozen=True)
class Level:
    name: str
    equal: tuple[str, ...]
    result: CFAResult
    comparison: dict[str, float] | None = None  # against the level before (None: configural)
    holds: bool = True
    freed: tuple[Freed, ...] = ()  # released at this level (partial invariance)
    full: CFAResult | None = None  # the fully constrained fit, when parameters were freed
    full_comparison: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        fit = self.result.fit
        out: dict[str, Any] = {
            "level": self.name,
            "equal": list(self.equal),
            "holds": self.holds,
            "partial": bool(self.freed),
            "fit": {k: fit.get(k) for k in FIT_KEYS},
            "converged": self.result.converged,
            "comparison": self.comparison,
            "freed": [f.to_dict() for f in self.freed],
        }
        if self.full is not None:
            out["full"] = {
                "fit": {k: self.full.fit.get(k) for k in FIT_KEYS},
                "comparison": self.full_comparison,
            }
        return out


FIT_KEYS = (
    "chisq",
    "df",
    "pvalue",
    "cfi",
    "tli",
    "rmsea",
    "rmsea_ci_lower",
    "rmsea_ci_upper",
    "srmr",
    "scaling_factor",
    "chisq_ml",
)


@dataclass(frozen=True)
class InvarianceResult:
    model: str
    group: str
    groups: tuple[str, ...]
    group_n: tuple[int, ...]
    estimator: Estimator
    levels: tuple[Level, ...]
    first_failure: str | None
    left_out: dict[str, int] = field(default_factory=dict)
    findings: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        return sum(self.group_n)

    @property
    def freed(self) -> tuple[Freed, ...]:
        return tuple(f for level in self.levels for f in level.freed)

    def sentence(self) -> str:
        per = ", ".join(f"{g} {n}" for g, n in zip(self.groups, self.group_n, strict=True))
        out = f"{self.n} rows in {len(self.groups)} groups of {self.group!r} ({per})"
        reasons = []
        if self.left_out.get("incomplete"):
            reasons.append(f"{self.left_out['incomplete']} with a missing item")
        if self.left_out.get("no_group"):
            reasons.append(f"{self.left_out['no_group']} without a group value")
        if reasons:
            out += "; left out: " + ", ".join(reasons)
        return out

    def conclusion(self) -> str:
        reached = [lv for lv in self.levels if lv.holds]
        if not reached:
            return "even the configural model could not be fitted"
        top = reached[-1]
        partial = "partial " if any(lv.freed for lv in reached) else ""
        if self.first_failure is None:
            return f"{partial}{top.name} invariance holds (every level tested)"
        failed = next(lv for lv in self.levels if lv.name == self.first_failure)
        if failed.holds:
            return (
                f"{self.first_failure} invariance fails in full and holds in part once "
                f"{len(failed.freed)} parameter{'s' if len(failed.freed) != 1 else ''} "
                f"{'are' if len(failed.freed) != 1 else 'is'} freed; {partial}{top.name} "
                f"invariance is the highest level reached"
            )
        return (
            f"{top.name} invariance is the highest level reached; {self.first_failure} "
            f"invariance fails"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "group": self.group,
            "estimator": self.estimator,
            "sample": {
                "n": self.n,
                "groups": [
                    {"label": g, "n": n} for g, n in zip(self.groups, self.group_n, strict=True)
                ],
                "left_out": dict(self.left_out),
            },
            "criteria": {"delta_cfi": CHEN_CFI, "delta_rmsea": CHEN_RMSEA, "alpha": ALPHA},
            "levels": [lv.to_dict() for lv in self.levels],
            "first_failure": self.first_failure,
            "conclusion": self.conclusion(),
            "findings": list(self.findings),
        }


def _p(p: float) -> str:
    return "p < .001" if p < 0.001 else f"p = {p:.3f}"


def compare(restricted: CFAResult, previous: CFAResult) -> dict[str, float]:
    out = dict(chisq_difference(restricted, previous))
    out["delta_cfi"] = float(restricted.fit["cfi"] - previous.fit["cfi"])
    out["delta_rmsea"] = float(restricted.fit["rmsea"] - previous.fit["rmsea"])
    return out


def holds(comparison: dict[str, float]) -> bool:
    """Chen (2007): a drop in CFI of at most .010 and a rise in RMSEA of at most .015."""
    d_cfi, d_rmsea = comparison["delta_cfi"], comparison["delta_rmsea"]
    if not (np.isfinite(d_cfi) and np.isfinite(d_rmsea)):
        return False
    return d_cfi >= -CHEN_CFI - 1e-12 and d_rmsea <= CHEN_RMSEA + 1e-12


def _release(table: ParTable, released: set[tuple[Key, int]]) -> ParTable:
    """The table with each released (parameter, group) cut loose from its shared label."""
    if not released:
        return table
    params = tuple(
        replace(p, label=None) if (p.key, p.group) in released and p.label else p
        for p in table.parameters
    )
    return replace(table, parameters=params)


def run_invariance(
    data: pd.DataFrame,
    model: str,
    group: str,
    *,
    estimator: Estimator = "ml",
    levels: Sequence[str] = LEVEL_NAMES,
    partial: bool = True,
    group_partial: Sequence[Key] = (),
    progress: Any = None,
) -> InvarianceResult:
    """Fit the levels in order; stop at a level that fails even in part."""
    wanted = [(name, equal) for name, equal in LEVELS if name in levels]
    if not wanted or wanted[0][0] != "configural":
        raise ModelError("the sequence starts at the configural level.")
    base_table, stats = prepare(data, model, group=group)
    statements_model = model

    def fit(equal: tuple[str, ...], released: set[tuple[Key, int]]) -> CFAResult:
        table = build_partable(
            statements_model,
            groups=stats.labels,
            group_equal=equal,
            group_partial=group_partial,
        )
        return fit_cfa(
            data,
            model,
            estimator=estimator,
            group=group,
            table=_release(table, released),
            stats=stats,
            modindices=False,
        )

    del base_table
    out: list[Level] = []
    findings: list[str] = []
    released: set[tuple[Key, int]] = set()
    first_failure: str | None = None
    previous: CFAResult | None = None
    for name, equal in wanted:
        if progress is not None:
            progress(name)
        result = fit(equal, released)
        if previous is None:
            out.append(Level(name, equal, result))
            previous = result
            if not result.converged:
                findings.append("the configural model did not converge; the sequence stops")
                first_failure = name
                break
            continue
        comparison = compare(result, previous)
        if holds(comparison) and result.converged:
            out.append(Level(name, equal, result, comparison))
            previous = result
            continue
        first_failure = first_failure or name
        if not partial:
            out.append(Level(name, equal, result, comparison, holds=False))
            break
        level = _partial(name, equal, result, comparison, previous, released, stats, fit)
        out.append(level)
        findings += [f.sentence() for f in level.freed]
        if not level.holds:
            break
        released |= {((f.lhs, f.op, f.rhs), stats.labels.index(f.group)) for f in level.freed}
        previous = level.result
    first = out[0].result
    return InvarianceResult(
        model=model,
        group=group,
        groups=first.groups,
        group_n=first.group_n,
        estimator=estimator,
        levels=tuple(out),
        first_failure=first_failure,
        left_out=dict(first.left_out),
        findings=tuple(findings),
    )


def _partial(
    name: str,
    equal: tuple[str, ...],
    full: CFAResult,
    full_comparison: dict[str, float],
    previous: CFAResult,
    released: set[tuple[Key, int]],
    stats: SampleStats,
    fit: Any,
) -> Level:
    """Free, one at a time, the constraint of this level whose score test is largest."""
    new_kind = equal[-1]
    freed: list[Freed] = []
    result, comparison = full, full_comparison
    loose = set(released)
    while True:
        table = result.table
        assert table is not None
        tests, _ = score_tests(result)
        if tests.empty:
            break
        kinds = [table.parameters[int(r)].kind for r in tests["row_a"]]
        tests = tests[[k == new_kind for k in kinds]]
        if tests.empty:
            break
        best = tests.iloc[int(np.argmax(tests["X2"].to_numpy()))]
        if float(best["pvalue"]) >= ALPHA / len(tests):
            break
        param = table.parameters[int(best["row_b"])]
        freed.append(
            Freed(
                name,
                param.lhs,
                param.op,
                param.rhs,
                stats.labels[param.group],
                stats.labels[int(best["group_a"]) - 1],
                float(best["X2"]),
                float(best["pvalue"]),
            )
        )
        loose.add((param.key, param.group))
        result = fit(equal, loose)
        comparison = compare(result, previous)
        if holds(comparison) and result.converged:
            return Level(name, equal, result, comparison, True, tuple(freed), full, full_comparison)
    return Level(
        name,
        equal,
        result,
        comparison,
        False,
        tuple(freed),
        full if freed else None,
        full_comparison if freed else None,
    )
