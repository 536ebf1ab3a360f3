"""Measurement invariance across groups: configural -> metric -> scalar -> strict.

Each level holds one more kind of parameter equal across the groups (loadings, then item
intercepts, then residual variances) and is compared with the level before it: the chi-square
difference (Satorra-Bentler scaled under MLR) and the changes in CFI and RMSEA against Chen's
(2007) criteria, ΔCFI <= .010 and ΔRMSEA <= .015. Large samples make every chi-square
difference significant, so the decision follows the changes in fit; the test is reported beside
them.

When a level fails, partial invariance: the score test of the equality constraints that level
added (as lavaan's ``lavTestScore``) points at the parameter whose equality costs the most fit;
it is freed in every group (lavaan's ``group.partial``), the model is refitted, and the step
repeats until the level holds or no parameter is significant (Bonferroni over the parameters
tested). The test releases all of a parameter's constraints at once (df = groups - 1), so it
does not depend on which group comes first. Each freed parameter is a finding that names the
item and the group where it differs most: an item that works differently for a group of
patients biases the comparison of their scores. Later levels keep the parameters
freed before them.

Every level is fitted to the same rows (complete on the model's items and the group), so the
comparisons are between nested models of one sample.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ..choices import ORDINAL_ESTIMATORS, Estimator
from .compare import chisq_difference
from .driver import fit_model, prepare
from .fitkeys import STEP
from .partable import ALL_THRESHOLDS, Key, ModelError, build_partable, describe, item_of
from .result import CFAResult
from .scoretest import release_tests
from .spec import FitSpec

LEVELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("configural", ()),
    ("metric", ("loadings",)),
    ("scalar", ("loadings", "intercepts")),
    ("strict", ("loadings", "intercepts", "residuals")),
)
LEVEL_NAMES = tuple(level[0] for level in LEVELS)
# Ordinal items (WLSMV, ULSMV), in lavaan's theta parameterization (each latent response's
# residual variance 1 in the first group), where residual variances can be held equal: the
# thresholds enter with the loadings (residual variances and latent means are then free in
# every group but the first), intercepts, fixed at 0 for ordinal items, add no constraint
# (scalar is metric's model), and strict holds the residual variances at the first group's.
ORDINAL_LEVELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("configural", ()),
    ("metric", ("thresholds", "loadings")),
    ("scalar", ("thresholds", "loadings", "intercepts")),
    ("strict", ("thresholds", "loadings", "intercepts", "residuals")),
)
ORDINAL_NOTE = (
    "ordinal items: fitted in lavaan's theta parameterization (parameterization = 'theta'); "
    "metric invariance holds thresholds and loadings equal, as lavaan's group.equal = "
    "c('thresholds', 'loadings'); scalar adds intercepts, which are fixed at 0 for ordinal "
    "items, so its fit is metric's; strict holds the latent responses' residual variances at "
    "the first group's; a level that fails is freed in part by score tests (as lavTestScore); "
    "the chi-square differences are Satorra's (2000) scaled and shifted ones, as lavTestLRT, "
    "and the decision rests on the changes in CFI and RMSEA"
)
CHEN_CFI = 0.010
CHEN_RMSEA = 0.015
ALPHA = 0.05


@dataclass(frozen=True)
class Freed:
    """One parameter released from equality across the groups (lavaan's ``group.partial``),
    with its estimate in each group once freed and the group where it differs most."""

    level: str
    lhs: str
    op: str
    rhs: str
    x2: float
    df: int
    p: float
    estimates: dict[str, float]  # once freed, per group

    @property
    def item(self) -> str:
        return item_of(self.key)

    @property
    def key(self) -> Key:
        return (self.lhs, self.op, self.rhs)

    @property
    def parameter(self) -> str:
        return describe(self.key)

    @property
    def group(self) -> str:
        """The group whose estimate lies farthest from the median of the others'."""
        names = list(self.estimates)
        values = np.array([self.estimates[g] for g in names])
        if len(values) == 2:
            return names[1]
        gaps = [abs(v - np.median(np.delete(values, k))) for k, v in enumerate(values)]
        return names[int(np.argmax(gaps))]

    @property
    def kind(self) -> str:
        return {"=~": "loading", "~1": "intercept", "~~": "residual variance", "|": "threshold"}[
            self.op
        ]

    def sentence(self, column: str) -> str:
        together = self.rhs == ALL_THRESHOLDS
        others = {g: v for g, v in self.estimates.items() if g != self.group}
        it = "its first threshold" if together else "it"
        if len(self.estimates) == 2:
            (a, va), (b, vb) = self.estimates.items()
            where = f"{it} is {va:.2f} in {a!r} and {vb:.2f} in {b!r}"
        else:
            low, high = min(others.values()), max(others.values())
            where = (
                f"{it} differs most in {self.group!r} ({self.estimates[self.group]:.2f}, "
                f"against {low:.2f} to {high:.2f} elsewhere)"
            )
        what = (
            f"the thresholds of item {self.item!r} ({self.parameter}) are"
            if together
            else f"the {self.kind} of item {self.item!r} ({self.parameter}) is"
        )
        freed = (
            "freed in every group, its latent response's scale held at the first group's"
            if together
            else "freed in every group"
        )
        return (
            f"{self.level} invariance: {what} not equal across the groups of {column!r} (score "
            f"test X2 = {self.x2:.2f} on {self.df} df, {_p(self.p)}); {where}; {freed}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "item": self.item,
            "parameter": self.parameter,
            "group": self.group,
            "estimates": dict(self.estimates),
            "score_x2": self.x2,
            "score_df": self.df,
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
    # The largest score test of the level's constraints once it holds: what comes nearest to
    # an item that differs (in the JSON; not a finding: on ordinal answers with a ceiling the
    # normal-theory score test is liberal, see benchmarks/bench_invariance.py).
    largest: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        fit = self.result.fit
        out: dict[str, Any] = {
            "level": self.name,
            "equal": list(self.equal),
            "holds": self.holds,
            "partial": bool(self.freed),
            "fit": {k: fit.get(k) for k in STEP},
            "converged": self.result.converged,
            "comparison": self.comparison,
            "freed": [f.to_dict() for f in self.freed],
            "largest_score_test": self.largest,
        }
        if self.full is not None:
            out["full"] = {
                "fit": {k: self.full.fit.get(k) for k in STEP},
                "comparison": self.full_comparison,
            }
        return out


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
    missing: dict[str, Any] = field(default_factory=lambda: {"method": "listwise"})

    @property
    def n(self) -> int:
        return sum(self.group_n)

    @property
    def freed(self) -> tuple[Freed, ...]:
        return tuple(f for level in self.levels for f in level.freed)

    def rows(self) -> list[tuple[str, dict[str, Any], dict[str, Any] | None, bool]]:
        """The sequence as a table shows it: (label, fit, comparison with the level before or
        None, holds), a level that held only in part giving two rows, full then partial."""
        out: list[tuple[str, dict[str, Any], dict[str, Any] | None, bool]] = []
        for level in self.to_dict()["levels"]:
            name = level["level"]
            if level.get("full") is not None:
                out.append((name, level["full"]["fit"], level["full"]["comparison"], False))
                name = f"{name} (partial, {len(level['freed'])} freed)"
            out.append((name, level["fit"], level["comparison"], level["holds"]))
        return out

    def level(self, name: str) -> Level | None:
        return next((lv for lv in self.levels if lv.name == name), None)

    def shown_level(self) -> tuple[str, Level]:
        """The level a picture of the items' parameters is about (the first that failed, else
        scalar), and the fitted level before it, where those parameters are still free."""
        name = self.first_failure if self.first_failure in ("metric", "strict") else "scalar"
        sources = {"metric": "configural", "scalar": "metric", "strict": "scalar"}
        return name, self.level(sources[name]) or self.levels[0]

    def item_parameters(self) -> tuple[str, pd.DataFrame]:
        """The parameter a picture should show per item and group, and its values (items x
        groups): for the level that failed first (else the scalar level), the parameters it
        constrains, from the level before it, where they are still free. Intercepts have each
        group's factor mean taken out (``nu_g - lambda alpha_g``, alpha from the scalar model),
        so that under invariance the groups line up and an item that parts from them stands
        out; loadings come from the configural model, residual variances from the scalar.
        Under WLSMV: every threshold (``item|tK``) in the configural model, where each group
        has its own."""
        if self.estimator in ORDINAL_ESTIMATORS:
            e = self.levels[0].result.estimates
            rows = e[e["op"] == "|"].assign(key=lambda f: f["lhs"] + "|" + f["rhs"])
            values = rows.pivot_table(index="key", columns="group", values="est", sort=False)
            values.columns = [self.groups[int(g) - 1] for g in values.columns]
            return "threshold, configural model", values
        name, source = self.shown_level()
        e = source.result.estimates
        observed = list(source.result.observed)
        if name == "metric":
            rows = e[e["op"] == "=~"]
            values = rows.pivot_table(index="rhs", columns="group", values="est", sort=False)
            kind = "loading"
        elif name == "strict":
            rows = e[(e["op"] == "~~") & (e["lhs"] == e["rhs"]) & e["lhs"].isin(observed)]
            values = rows.pivot_table(index="lhs", columns="group", values="est", sort=False)
            kind = "residual variance"
        else:
            rows = e[(e["op"] == "~1") & e["lhs"].isin(observed)]
            values = rows.pivot_table(index="lhs", columns="group", values="est", sort=False)
            kind = "intercept, factor mean taken out"
            scalar = self.level("scalar")
            if scalar is not None:
                s = scalar.result.estimates
                means = s[(s["op"] == "~1") & s["lhs"].isin(source.result.latent)]
                alpha = {
                    (str(f), int(g)): float(v)
                    for f, g, v in zip(means["lhs"], means["group"], means["est"], strict=True)
                }
                loads = e[e["op"] == "=~"]
                for f, item, g, lam in zip(
                    loads["lhs"], loads["rhs"], loads["group"], loads["est"], strict=True
                ):
                    shift = float(lam) * alpha.get((str(f), int(g)), 0.0)
                    values.loc[item, g] = float(values.loc[item, g]) - shift
        values = values.reindex([i for i in observed if i in values.index])
        values.columns = [self.groups[int(g) - 1] for g in values.columns]
        return kind, values

    def sentence(self) -> str:
        per = ", ".join(f"{g} {n}" for g, n in zip(self.groups, self.group_n, strict=True))
        out = f"{self.n} rows in {len(self.groups)} groups of {self.group!r} ({per})"
        reasons = []
        if self.left_out.get("incomplete"):
            reasons.append(f"{self.left_out['incomplete']} with a missing item")
        if self.left_out.get("no_answer"):
            reasons.append(f"{self.left_out['no_answer']} without an answer to the model")
        if self.left_out.get("no_group"):
            reasons.append(f"{self.left_out['no_group']} without a group value")
        if reasons:
            out += "; left out: " + ", ".join(reasons)
        return out

    def conclusion(self) -> str:
        reached = [lv for lv in self.levels if lv.holds]
        if not reached:
            return "the configural model did not converge, so no level could be tested"
        top = reached[-1]
        partial = "partial " if any(lv.freed for lv in reached) else ""
        parts = []
        for level in self.levels:
            if level.freed and level.holds:
                k = len(level.freed)
                parts.append(
                    f"{level.name} invariance fails in full and holds in part once {k} "
                    f"parameter{'s are' if k != 1 else ' is'} freed"
                )
            elif not level.holds:
                parts.append(f"{level.name} invariance fails")
        if top is self.levels[-1] and top.name == LEVEL_NAMES[-1]:
            parts.append(f"{partial}{top.name} invariance holds (every level tested)")
        else:
            parts.append(f"{partial}{top.name} invariance is the highest level reached")
        return "; ".join(parts)

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
                "missing": dict(self.missing),
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


def run_invariance(
    data: pd.DataFrame,
    model: str,
    spec: FitSpec,
    *,
    levels: Sequence[str] = LEVEL_NAMES,
    partial: bool = True,
    progress: Any = None,
) -> InvarianceResult:
    """Fit the levels in order across ``spec.group``; stop at a level that fails even in part.
    Every level is fitted to the same rows, as ``spec`` says (its estimator and missing-data
    method; ``spec.group_partial``: parameters free from the start). Under WLSMV and ULSMV the
    levels are :data:`ORDINAL_LEVELS`, in the theta parameterization."""
    if spec.group is None:
        raise ModelError("invariance needs a group column.")
    group = spec.group
    ordered = spec.estimator in ORDINAL_ESTIMATORS
    sequence = ORDINAL_LEVELS if ordered else LEVELS
    if ordered:
        spec = replace(spec, parameterization="theta")
    wanted = [(name, equal) for name, equal in sequence if name in levels]
    if not wanted or wanted[0][0] != "configural":
        raise ModelError("the sequence starts at the configural level.")
    _, stats = prepare(data, model, replace(spec, group_equal=(), group_partial=()))
    thresholds = None
    if ordered:
        first_group = stats.groups[0].ordinal
        assert first_group is not None
        thresholds = {
            v: len(t) for v, t in zip(stats.observed, first_group.thresholds, strict=True)
        }

    def fit(equal: tuple[str, ...], released: tuple[Key, ...]) -> CFAResult:
        table = build_partable(
            model,
            groups=stats.labels,
            group_equal=equal,
            group_partial=released,
            meanstructure=True if spec.missing == "fiml" else None,
            thresholds=thresholds,
            parameterization=spec.parameterization,
        )
        step = replace(spec, group_equal=equal, group_partial=released)
        return fit_model(data, model, step, table=table, stats=stats, modindices=False)

    def release(level: str, best: pd.Series) -> tuple[Key, Callable[[CFAResult], Freed]]:
        key: Key = (str(best["lhs"]), str(best["op"]), str(best["rhs"]))

        def freed(result: CFAResult) -> Freed:
            e = result.estimates
            shown = "t1" if key[2] == ALL_THRESHOLDS else key[2]  # an item's thresholds: its first
            row = e[(e["lhs"] == key[0]) & (e["op"] == key[1]) & (e["rhs"] == shown)]
            estimates = {
                result.groups[int(g) - 1]: float(v)
                for g, v in zip(row["group"], row["est"], strict=True)
            }
            x2, df, p = float(best["X2"]), int(best["df"]), float(best["pvalue"])
            return Freed(level, *key, x2, df, p, estimates)

        return key, freed

    out, findings, first_failure = run_sequence(
        wanted,
        fit,
        release,
        lambda f: f.sentence(group),
        released=tuple(spec.group_partial),
        partial=partial,
        progress=progress,
    )
    if ordered:
        findings.insert(0, ORDINAL_NOTE)
    first = out[0].result
    return InvarianceResult(
        model=model,
        group=group,
        groups=first.groups,
        group_n=first.group_n,
        estimator=spec.estimator,
        levels=tuple(out),
        first_failure=first_failure,
        left_out=dict(first.left_out),
        findings=tuple(findings),
        missing=first.missing_data(),
    )


def _tests(result: CFAResult, kinds: Sequence[str]) -> pd.DataFrame:
    """The score tests of the equality constraints of ``kinds``, largest first."""
    tests = release_tests(result)
    return tests[tests["kind"].isin(list(kinds))].sort_values("X2", ascending=False)


def significant_tests(result: CFAResult, kinds: Sequence[str]) -> pd.DataFrame:
    """Those significant after Bonferroni over the parameters tested, largest first."""
    tests = _tests(result, kinds)
    return tests[tests["pvalue"] < ALPHA / len(tests)] if len(tests) else tests


def new_kinds(equal: tuple[str, ...], before: tuple[str, ...]) -> tuple[str, ...]:
    """What a level holds equal that the level before it did not."""
    return tuple(k for k in equal if k not in before) or equal[-1:]


def largest_test(kinds: Sequence[str], result: CFAResult) -> dict[str, Any] | None:
    tests = _tests(result, kinds)
    if tests.empty:
        return None
    top = tests.iloc[0]
    key: Key = (str(top["lhs"]), str(top["op"]), str(top["rhs"]))
    return {
        "item": item_of(key),
        "parameter": describe(key),
        "X2": float(top["X2"]),
        "df": int(top["df"]),
        "p": float(top["pvalue"]),
        "bonferroni_p": min(1.0, float(top["pvalue"]) * len(tests)),
    }


Release = Callable[[str, pd.Series], tuple[Any, Callable[[CFAResult], Freed]]]


def run_sequence(
    wanted: Sequence[tuple[str, tuple[str, ...]]],
    fit: Callable[[tuple[str, ...], tuple[Any, ...]], CFAResult],
    release: Release,
    sentence: Callable[[Freed], str],
    *,
    released: tuple[Any, ...] = (),
    partial: bool = True,
    largest: bool = True,
    progress: Any = None,
) -> tuple[list[Level], list[str], str | None]:
    """Fit the levels in order and stop at one that fails even in part: the levels, the
    findings (each freed parameter's sentence) and the first level that failed in full.
    ``fit(equal, released)`` fits a level with the ``released`` parameters free; ``release``
    turns a score test's row into what to release and how to describe it once refitted."""
    out: list[Level] = []
    findings: list[str] = []
    first_failure: str | None = None
    previous: CFAResult | None = None
    before: tuple[str, ...] = ()
    for name, equal in wanted:
        if progress is not None:
            progress(name)
        result = fit(equal, released)
        kinds = new_kinds(equal, before)
        before = equal
        if previous is None:
            out.append(Level(name, equal, result, holds=result.converged))
            previous = result
            if not result.converged:
                findings.append("the configural model did not converge; the sequence stops")
                first_failure = name
                break
            continue
        comparison = compare(result, previous)
        if holds(comparison) and result.converged:
            top = largest_test(kinds, result) if largest else None
            out.append(Level(name, equal, result, comparison, largest=top))
            previous = result
            continue
        first_failure = first_failure or name
        if not partial:
            out.append(Level(name, equal, result, comparison, holds=False))
            break
        level, keys = _partial(
            name, equal, kinds, result, comparison, previous, released, fit, release
        )
        out.append(level)
        findings += [sentence(f) for f in level.freed]
        if not level.holds:
            break
        released += keys
        previous = level.result
    return out, findings, first_failure


def _partial(
    name: str,
    equal: tuple[str, ...],
    kinds: tuple[str, ...],
    full: CFAResult,
    full_comparison: dict[str, float],
    previous: CFAResult,
    released: tuple[Any, ...],
    fit: Callable[[tuple[str, ...], tuple[Any, ...]], CFAResult],
    release: Release,
) -> tuple[Level, tuple[Any, ...]]:
    """Free, one at a time, the parameter of this level whose equality constraints' score
    test (all groups at once) is largest, until the level holds or none is significant; the
    level and what it released."""
    freed: list[Freed] = []
    keys: tuple[Any, ...] = ()
    result, comparison = full, full_comparison
    while True:
        hits = significant_tests(result, kinds)
        if hits.empty:
            break
        key, describe_freed = release(name, hits.iloc[0])
        keys += (key,)
        result = fit(equal, released + keys)
        freed.append(describe_freed(result))
        comparison = compare(result, previous)
        if holds(comparison) and result.converged:
            level = Level(
                name, equal, result, comparison, True, tuple(freed), full, full_comparison
            )
            return level, keys
    level = Level(
        name,
        equal,
        result,
        comparison,
        False,
        tuple(freed),
        full if freed else None,
        full_comparison if freed else None,
    )
    return level, keys
