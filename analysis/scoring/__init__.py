"""Scoring and the non-compensatory alliance rule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from instrument import Instrument

from .. import names
from .rule import STATUSES, Classification, MeasurementError, classify, measurement_error
from .score import DEFAULT_MAX_MISSING_SHARE, SubscaleScores, items_needed, score_items
from .thresholds import (
    PILLARS,
    Threshold,
    ThresholdError,
    ThresholdPlan,
    default_plan,
    load_thresholds,
    resolve_thresholds,
    youden_cut,
)


@dataclass(frozen=True)
class ScoreResult:
    """One row per response: context columns, scores and the rule's decisions."""

    table: pd.DataFrame
    scores: SubscaleScores
    classification: Classification

    def summary(self) -> dict[str, object]:
        return {
            "form": self.scores.form,
            "perspective": self.scores.perspective,
            "max_missing_share": self.scores.max_missing_share,
            **self.classification.summary(),
        }


def score_export(
    data: pd.DataFrame,
    instrument: Instrument,
    thresholds: ThresholdPlan | None = None,
    *,
    max_missing_share: float = DEFAULT_MAX_MISSING_SHARE,
    load_reference: Callable[[Path], pd.DataFrame] | None = None,
) -> ScoreResult:
    """Score an export and apply the non-compensatory rule to its pillars.

    ``thresholds`` defaults to the fixed 3.5-on-1-5 minimum for bond, goals and tasks;
    ``load_reference`` turns a normative reference file into a table of pillar scores.
    """
    scores = score_items(data, instrument, max_missing_share=max_missing_share)
    plan = thresholds or default_plan(
        tuple(p for p in PILLARS if p in scores.scores.columns) or tuple(scores.scores.columns)
    )
    resolved = resolve_thresholds(plan, scores.scores, scores.scale_range, data, load_reference)
    pillars = tuple(t.pillar for t in resolved)
    error = measurement_error(scores, pillars, plan.error_correlation)
    decided = classify(scores, resolved, error)
    context = [c for c in names.CONTEXT_COLUMNS if c in data.columns]
    table = pd.concat([data[context], decided.table], axis=1)
    return ScoreResult(table, scores, decided)


__all__ = [
    "DEFAULT_MAX_MISSING_SHARE",
    "PILLARS",
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
