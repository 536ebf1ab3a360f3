"""Scoring an export a block of rows at a time: the sample's statistics first, then the rows.

`score_export` takes a few things from the whole sample: each pillar's alpha and SD (the SEM
behind ``p_adequate``), the correlation of the pillars' half-score differences, and, for a
minimum set by an outcome (``criterion``), every first session's pillar score and outcome.
Everything else is row by row. `BlockScoring` gathers those statistics while the blocks pass
once (`observe`), then scores each block (`score`). A block's table is the same rows of
`score_export`'s table on the whole export, to the rounding of the sums; tests/test_store.py
holds a store filled block by block to one filled at once.

Memory: the moments are a few small matrices; a criterion minimum keeps the respondent, session,
outcome and pillar scores of every usable row (about 50 bytes a row), nothing more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from instrument import Instrument

from .. import names
from ..reliability import PairwiseMoments
from .rule import MeasurementError, Threshold, classify, error_model
from .score import DEFAULT_MAX_MISSING_SHARE, alpha_of, score_items
from .thresholds import CriterionSpec, ThresholdPlan, default_plan, resolve_thresholds


@dataclass(frozen=True)
class CompleteMoments:
    """Count, sums and cross-products of the rows complete in every column; they add over
    blocks of rows."""

    n: int
    sums: np.ndarray
    cross: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray) -> CompleteMoments:
        rows = values[~np.isnan(values).any(axis=1)]
        return cls(len(rows), rows.sum(axis=0), rows.T @ rows)

    def __add__(self, other: CompleteMoments) -> CompleteMoments:
        return CompleteMoments(self.n + other.n, self.sums + other.sums, self.cross + other.cross)

    def correlation(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = (self.cross - np.outer(self.sums, self.sums) / self.n) / (self.n - 1)
            sd = np.sqrt(np.diag(cov))
            return np.asarray(cov / np.outer(sd, sd))


class BlockScoring:
    """Score an export block by block: `observe` every block, `finish`, then `score` each.

    ``rule_note`` says why the rule is not applied ('' when it is); ``thresholds`` and
    ``error`` are the whole export's, and ``rows`` counts each pillar's scored rows."""

    def __init__(
        self,
        instrument: Instrument,
        plan: ThresholdPlan | None = None,
        *,
        max_missing_share: float = DEFAULT_MAX_MISSING_SHARE,
        load_reference: Callable[[Path], pd.DataFrame] | None = None,
    ) -> None:
        self._instrument = instrument
        self._plan = plan
        self._max_missing = max_missing_share
        self._load_reference = load_reference
        self._moments: dict[str, PairwiseMoments] = {}
        self._count: dict[str, int] = {}
        self._sum: dict[str, float] = {}
        self._squares: dict[str, float] = {}
        self._halves: CompleteMoments | None = None
        self._kept: list[pd.DataFrame] = []
        self._scale_range: dict[str, tuple[int, int]] = {}
        self._observed = False
        self.rule_note = ""
        self.thresholds: tuple[Threshold, ...] = ()
        self.error: MeasurementError | None = None
        self.perspective = ""

    @property
    def pillars(self) -> tuple[str, ...]:
        return () if self.rule_note else self._instrument.rule_pillars

    @property
    def rows(self) -> dict[str, int]:
        return dict(self._count)

    def observe(self, data: pd.DataFrame) -> None:
        """Take in a block's statistics (the first block also decides whether the rule
        applies: the columns are the same in every block)."""
        from . import rule_note

        scores = score_items(data, self._instrument, max_missing_share=self._max_missing)
        if not self._observed:
            self.rule_note = rule_note(scores, self._instrument.rule_pillars, self._plan)
            self._scale_range = scores.scale_range
            self.perspective = scores.perspective
            self._observed = True
        for subscale, moments in scores.moments.items():
            known = self._moments.get(subscale)
            self._moments[subscale] = moments if known is None else known + moments
        pillars = list(self.pillars)
        if not pillars:
            return
        for p in pillars:
            values = scores.scores[p].to_numpy()
            given = values[~np.isnan(values)]
            self._count[p] = self._count.get(p, 0) + len(given)
            self._sum[p] = self._sum.get(p, 0.0) + float(given.sum())
            self._squares[p] = self._squares.get(p, 0.0) + float(given @ given)
        halves = CompleteMoments.of(scores.half_difference[pillars].to_numpy())
        self._halves = halves if self._halves is None else self._halves + halves
        outcomes = self._outcomes()
        if outcomes:
            context = [
                c for c in (names.RESPONDENT_ID, names.SESSION, *outcomes) if c in data.columns
            ]
            kept = pd.concat([data[context], scores.scores[pillars]], axis=1)
            self._kept.append(kept.reset_index(drop=True))

    def finish(self) -> None:
        """The minimums and the measurement-error model, from every block observed."""
        pillars = list(self.pillars)
        if not pillars:
            return
        plan = self._plan or default_plan(self._instrument.rule_pillars)
        if self._kept:
            kept = pd.concat(self._kept, ignore_index=True)
            self._kept = []
        else:
            kept = pd.DataFrame(columns=pillars, dtype=float)
        self.thresholds = resolve_thresholds(
            plan,
            kept[pillars],
            self._scale_range,
            kept,
            self._load_reference,
            self._instrument.scale_source,
        )
        chosen = [t.pillar for t in self.thresholds]
        sd = {}
        for p in chosen:
            n = self._count[p]
            spread = self._squares[p] - self._sum[p] ** 2 / n if n else np.nan
            sd[p] = float(np.sqrt(max(spread, 0.0) / (n - 1))) if n > 1 else np.nan
        halves = self._halves
        assert halves is not None  # observe ran on at least one block
        order = [pillars.index(p) for p in chosen]
        correlation = halves.correlation()[np.ix_(order, order)]
        self.error = error_model(
            pd.Series({p: alpha_of(self._moments[p]) for p in chosen}),
            pd.Series(sd),
            correlation,
            halves.n,
            plan.error_correlation,
        )

    def score(self, data: pd.DataFrame) -> pd.DataFrame:
        """A block's scores and decisions, as `score_export`'s table has them."""
        from . import decided_table, scores_only_table

        scores = score_items(data, self._instrument, max_missing_share=self._max_missing)
        if not self.pillars:
            return scores_only_table(data, scores)
        if self.error is None:
            raise RuntimeError("BlockScoring.score before finish().")
        return decided_table(data, classify(scores, self.thresholds, self.error))

    def _outcomes(self) -> list[str]:
        if self._plan is None:
            return []
        specs = self._plan.specs.values()
        return sorted({s.outcome for s in specs if isinstance(s, CriterionSpec)})
