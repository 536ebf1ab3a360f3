"""Scoring and the non-compensatory alliance rule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from instrument import Instrument

from .. import names
from ..wording import worded
from .rule import STATUSES, Classification, MeasurementError, classify, measurement_error
from .score import DEFAULT_MAX_MISSING_SHARE, SubscaleScores, items_needed, score_items
from .thresholds import (
    Threshold,
    ThresholdError,
    ThresholdPlan,
    default_plan,
    load_thresholds,
    resolve_thresholds,
    youden_cut,
)

NO_RULE = (
    "no rule declared: the instrument names no pillars (add 'rule: {pillars: [...]}' to its "
    "YAML, or give --pillars a,b,c)"
)


@dataclass(frozen=True)
class ScoreResult:
    """One row per response: context columns, scores and the rule's decisions.

    ``classification`` is None when the instrument declares no rule: the scores are then all
    there is, and ``rule_note`` says why."""

    table: pd.DataFrame
    scores: SubscaleScores
    classification: Classification | None
    rule_note: str = ""

    @property
    def pillars(self) -> tuple[str, ...]:
        c = self.classification
        return tuple(t.pillar for t in c.thresholds) if c is not None else ()

    def to_dict(self) -> dict[str, object]:
        head: dict[str, object] = {
            "form": self.scores.form,
            "perspective": self.scores.perspective,
            "max_missing_share": self.scores.max_missing_share,
            "pillars": list(self.pillars),
        }
        if self.classification is None:
            return {**head, "rows": len(self.table), "rule": None, "rule_note": self.rule_note}
        return {**head, **self.classification.to_dict()}

    def lines(self) -> list[str]:
        """What `alliance score` says of a scoring: the counts of the rule, the failing pillars,
        masked ruptures, classification accuracy and the minimums with their provenance."""
        c = self.classification
        if c is None:
            return [
                f"scored {len(self.table):,} responses ({self.scores.form} form) on "
                f"{', '.join(self.scores.scores.columns)}",
                self.rule_note,
            ]
        counts = c.counts
        lines = [
            f"scored {sum(counts.values()):,} responses ({self.scores.form} form): "
            f"{counts['adequate']:,} adequate, {counts['inadequate']:,} inadequate, "
            f"{counts['insufficient_data']:,} with too few answers",
        ]
        if c.most_failed_pillar:
            fails = ", ".join(f"{p} {n:,}" for p, n in c.fails_by_pillar.items())
            lines.append(f"failing pillars: {fails}; most often {c.most_failed_pillar}")
        lines.append(
            f"masked ruptures (adequate total, a pillar below its minimum): {c.masked_ruptures:,}"
        )
        lines.append(f"classification accuracy {c.accuracy:.3f}, consistency {c.consistency:.3f}")
        for t in c.thresholds:
            lines.append(f"minimum {t.pillar} = {t.value:.3g} ({t.method}): {t.provenance}")
        return lines


def score_export(
    data: pd.DataFrame,
    instrument: Instrument,
    thresholds: ThresholdPlan | None = None,
    *,
    max_missing_share: float = DEFAULT_MAX_MISSING_SHARE,
    load_reference: Callable[[Path], pd.DataFrame] | None = None,
    rows: np.ndarray | None = None,
) -> ScoreResult:
    """Score an export and apply the non-compensatory rule to the instrument's pillars
    (``instrument.rule_pillars``; none declared: scores only).

    ``thresholds`` defaults to the fixed minimum (3.5 on a 1-5 scale, 62.5% of the range) for
    every pillar; ``load_reference`` turns a normative reference file into a table of pillar
    scores. ``rows`` (a boolean mask) scores only those rows, as ``data[rows]`` with a new
    index would, without that copy of the whole table.
    """
    scores = score_items(data, instrument, max_missing_share=max_missing_share, rows=rows)
    if rows is not None:
        items = set(instrument.item_ids)
        others = [c for c in data.columns if c not in items]
        data = data.loc[rows, others].reset_index(drop=True)
    note = rule_note(scores, instrument.rule_pillars, thresholds)
    if note:
        return ScoreResult(scores_only_table(data, scores), scores, None, note)
    pillars = instrument.rule_pillars
    plan = thresholds or default_plan(pillars)
    resolved = resolve_thresholds(
        plan, scores.scores, scores.scale_range, data, load_reference, instrument.scale_source
    )
    error = measurement_error(scores, tuple(t.pillar for t in resolved), plan.error_correlation)
    decided = classify(scores, resolved, error)
    return ScoreResult(decided_table(data, decided), scores, decided)


def rule_note(
    scores: SubscaleScores, pillars: tuple[str, ...], thresholds: ThresholdPlan | None
) -> str:
    """Why the rule cannot be applied to these scores ('' when it can); an error when
    minimums were asked for, or a pillar of the rule is missing or has no scale."""
    absent = [p for p in pillars if p not in scores.scores.columns]
    if not pillars or len(absent) == len(pillars):
        note = (
            NO_RULE
            if not pillars
            else (
                f"the rule's pillars ({', '.join(pillars)}) have no items in this export (a form "
                f"without them, such as trust alone)"
            )
        )
        if thresholds is not None:
            raise ThresholdError(f"{thresholds.source}: minimums were given, but {note}.")
        return note
    if absent:
        present = [p for p in pillars if p not in absent]
        raise ThresholdError(
            worded(
                f"the rule's pillar {absent[0]!r} has no items in this export (scored: "
                f"{', '.join(scores.scores.columns)}); to apply the rule to the others, give "
                f"`pillars` {','.join(present) or 'A,B'}."
            )
        )
    unscaled = [p for p in pillars if scores.scale_range[p] == (0, 0)]
    if unscaled:
        raise ThresholdError(
            f"the rule needs a response scale for {unscaled[0]!r}, and none is known: the "
            f"instrument declares none, the export has no value labels and the answers are not "
            f"whole numbers to take a range from; give --scale LOW-HIGH (e.g. 1-5)."
        )
    return ""


def scores_only_table(data: pd.DataFrame, scores: SubscaleScores) -> pd.DataFrame:
    context = [c for c in names.CONTEXT_COLUMNS if c in data.columns]
    table = pd.concat([data[context], scores.scores], axis=1)
    table["form"] = scores.form
    table["scoring_notes"] = scores.notes
    return table


def decided_table(data: pd.DataFrame, decided: Classification) -> pd.DataFrame:
    context = [c for c in names.CONTEXT_COLUMNS if c in data.columns]
    return pd.concat([data[context], decided.table], axis=1)


__all__ = [
    "DEFAULT_MAX_MISSING_SHARE",
    "NO_RULE",
    "STATUSES",
    "Classification",
    "MeasurementError",
    "ScoreResult",
    "SubscaleScores",
    "Threshold",
    "ThresholdError",
    "ThresholdPlan",
    "classify",
    "default_plan",
    "items_needed",
    "load_thresholds",
    "measurement_error",
    "resolve_thresholds",
    "score_export",
    "score_items",
    "youden_cut",
]
