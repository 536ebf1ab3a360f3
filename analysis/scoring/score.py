"""Subscale scores: reverse keying, the item-mean metric, percent of maximum possible, prorating.

A subscale is scored when enough of its items are answered: by default no more than a quarter
may be missing (1 of 4, 2 of 8, 1 of 5). Otherwise its score is missing and the row says why.
Answers outside the item's scale are not scored (treated as missing) and the row says which.
Everything is vectorised: no Python loop over respondents.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from instrument import Instrument, ResponseScale

from ..choices import DEFAULT_MAX_MISSING_SHARE
from ..keying import numeric_column, reverse_in_place
from ..reliability import PairwiseMoments, alpha_of_covariance


@dataclass(frozen=True)
class SubscaleScores:
    """Scores for every row of an export, labelled by subscale name.

    ``scores`` is on the item-mean metric (reverse-keyed items already reversed), ``pomp`` is
    percent of maximum possible (0 = every answer at the bottom, 100 = at the top), ``answered``
    counts answered items, and ``notes`` explains every score left missing and every answer
    not scored ('' when nothing to say). ``alpha`` (pairwise, as the reliability tables) and
    ``half_difference`` (odd-item minus even-item mean, complete cases, else NaN) are
    computed here, where the
    keyed answers are at hand, for the measurement-error model of the alliance rule;
    ``moments`` are the keyed items' pairwise moments alpha is taken from, which add over
    blocks of rows.
    """

    scores: pd.DataFrame
    pomp: pd.DataFrame
    answered: pd.DataFrame
    notes: pd.Series
    items: dict[str, tuple[str, ...]]
    scale_range: dict[str, tuple[int, int]]
    form: str
    perspective: str
    max_missing_share: float
    alpha: dict[str, float]
    half_difference: pd.DataFrame
    moments: dict[str, PairwiseMoments]

    def needed(self, subscale: str) -> int:
        return items_needed(len(self.items[subscale]), self.max_missing_share)


def items_needed(n_items: int, max_missing_share: float) -> int:
    """Answered items a subscale of ``n_items`` needs under the missing-share rule."""
    return max(1, math.ceil(n_items * (1 - max_missing_share) - 1e-9))


def _form_of(instrument: Instrument, present: list[str]) -> str:
    wanted = set(present)
    for name, form in instrument.forms.items():
        if set(form.items) == wanted:
            return name
    return "custom"


def score_items(
    data: pd.DataFrame,
    instrument: Instrument,
    *,
    max_missing_share: float = DEFAULT_MAX_MISSING_SHARE,
    rows: np.ndarray | None = None,
) -> SubscaleScores:
    """Score every subscale of ``instrument`` whose items appear as columns of ``data``.

    Parameters
    ----------
    data : DataFrame
        One row per response; item ids as column names (other columns are ignored).
    instrument : Instrument
    max_missing_share : float, default 0.25
        Largest share of a subscale's items that may be unanswered for it to be scored
        (prorated: the mean of the answered items).
    rows : boolean array, optional
        Score only these rows (numbered 0, 1, ... in the result); default all. Their answers
        are taken a block of rows at a time, so the table is never copied whole.
    """
    if not 0 <= max_missing_share < 1:
        raise ValueError(
            f"'max_missing_share' must be at least 0 and below 1; got {max_missing_share!r}."
        )
    present = [i for i in instrument.item_ids if i in data.columns]
    if not present:
        raise ValueError(f"no column of the data is an item of instrument '{instrument.name}'.")
    perspectives = {instrument.item(i).perspective for i in present}
    if len(perspectives) > 1:
        raise ValueError(
            "the data holds both patient- and clinician-rated items; score each rater's "
            "responses separately."
        )
    groups: dict[str, list[str]] = {}
    for item_id in present:
        groups.setdefault(instrument.item(item_id).subscale, []).append(item_id)

    index = data.index if rows is None else pd.RangeIndex(int(rows.sum()))
    subscales = [
        _Subscale.of(data, instrument, name, ids, max_missing_share) for name, ids in groups.items()
    ]
    scored = _Scored.empty(subscales, len(index))
    taken = None if rows is None else np.flatnonzero(rows)

    def score_block(start: int) -> list[tuple[PairwiseMoments, _Cells]]:
        stop = min(start + _ROWS_PER_BLOCK, len(index))
        source = slice(start, stop) if taken is None else taken[start:stop]
        return [scored.fill(s, instrument, source, start) for s in subscales]

    # A block of rows at a time, so that a subscale's answers and what is made of them stay in
    # the cache, and two blocks at once: numpy lets go of the interpreter while it works.
    starts = range(0, len(index), _ROWS_PER_BLOCK)
    if len(starts) > 1:
        with ThreadPoolExecutor(max_workers=2) as pool:
            blocks = list(pool.map(score_block, starts))
    else:
        blocks = [score_block(0)]  # no rows: a block of none, whose moments are zeros

    notes = np.full(len(index), "", dtype=object)
    off_scale: list[tuple[int, int, float]] = []  # (row, column, value) of unscorable answers
    position = {item_id: j for j, item_id in enumerate(present)}
    moments: dict[str, PairwiseMoments] = {}
    for k, sub in enumerate(subscales):
        moments[sub.name] = sum((b[k][0] for b in blocks[1:]), start=blocks[0][k][0])
        columns = np.asarray([position[i] for i in sub.ids])
        for _, (at, where, values) in (b[k] for b in blocks):
            off_scale.extend(zip(at, columns[where], values, strict=True))
        count = scored.count[sub.name]
        short = np.flatnonzero(count < sub.need)
        if len(short):
            text = [
                f"{sub.name}: {c} of {len(sub.ids)} items answered ({sub.need} needed)"
                for c in count[short]
            ]
            notes[short] = [
                f"{n}; {t}" if n else t for n, t in zip(notes[short], text, strict=True)
            ]
    if off_scale:
        by_row: dict[int, list[tuple[int, float]]] = {}
        for row, col, value in off_scale:
            by_row.setdefault(int(row), []).append((int(col), float(value)))
        for row, cells in by_row.items():
            listed = ", ".join(f"{present[c]}={v:g}" for c, v in sorted(cells))
            note = "not on the scale, not scored: " + listed
            notes[row] = f"{note}; {notes[row]}" if notes[row] else note
    return SubscaleScores(
        scores=pd.DataFrame(scored.mean, index=index),
        pomp=pd.DataFrame({s.name: s.pomp(scored.mean[s.name]) for s in subscales}, index=index),
        answered=pd.DataFrame(scored.count, index=index),
        notes=pd.Series(notes, index=index, name="scoring_notes"),
        items={s: tuple(ids) for s, ids in groups.items()},
        scale_range={s.name: s.scale_range for s in subscales},
        form=_form_of(instrument, present),
        perspective=perspectives.pop(),
        max_missing_share=max_missing_share,
        alpha={name: alpha_of(m) for name, m in moments.items()},
        half_difference=pd.DataFrame(scored.halves, index=index),
        moments=moments,
    )


_ROWS_PER_BLOCK = 1 << 15
_Cells = tuple[np.ndarray, np.ndarray, np.ndarray]  # answers off the scale: rows, items, values


@dataclass(frozen=True)
class _Subscale:
    """A subscale's items, their answers as numbers (whole columns, as read), its scale and the
    answers it needs to be scored."""

    name: str
    ids: list[str]
    columns: list[np.ndarray]
    scale: ResponseScale | None
    need: int

    @classmethod
    def of(
        cls,
        data: pd.DataFrame,
        instrument: Instrument,
        name: str,
        ids: list[str],
        max_missing_share: float,
    ) -> _Subscale:
        scales = {instrument.scale_of(i) for i in ids}
        if len({(sc.minimum, sc.maximum) if sc else None for sc in scales}) > 1:
            raise ValueError(
                f"subscale {name!r} mixes response scales; its items must share one scale "
                f"to be averaged."
            )
        columns = [numeric_column(data[i]) for i in ids]
        return cls(name, ids, columns, scales.pop(), items_needed(len(ids), max_missing_share))

    @property
    def scale_range(self) -> tuple[int, int]:
        return (int(self.scale.minimum), int(self.scale.maximum)) if self.scale else (0, 0)

    def pomp(self, mean: np.ndarray) -> np.ndarray:
        if self.scale is None:
            return np.nan * mean
        low, high = self.scale.minimum, self.scale.maximum
        return (mean - low) / (high - low) * 100


@dataclass(frozen=True)
class _Scored:
    """Per subscale, every row's score, answered items and half-score difference, filled in a
    block of rows at a time."""

    mean: dict[str, np.ndarray]
    count: dict[str, np.ndarray]
    halves: dict[str, np.ndarray]

    @classmethod
    def empty(cls, subscales: list[_Subscale], n: int) -> _Scored:
        names = [s.name for s in subscales]
        return cls(
            {s: np.empty(n) for s in names},
            {s: np.empty(n, dtype=np.int64) for s in names},
            {s: np.empty(n) for s in names},
        )

    def fill(
        self, sub: _Subscale, instrument: Instrument, source: slice | np.ndarray, start: int
    ) -> tuple[PairwiseMoments, _Cells]:
        """Score the rows ``source`` of the columns into the rows from ``start`` on; their
        moments, and their answers that are not on the scale."""
        size = (source.stop - source.start) if isinstance(source, slice) else len(source)
        buffer = np.empty((len(sub.ids), size))
        for j, column in enumerate(sub.columns):
            buffer[j] = column[source]
        block = buffer.T  # (rows, items), each item's answers together in memory
        off: _Cells = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0))
        if sub.scale is not None:
            bad = sub.scale.off_scale(block)
            if bad.any():
                at, where = np.nonzero(bad)
                off = (at + start, where, block[at, where])
                block[bad] = np.nan
        reverse_in_place(block, instrument, sub.ids)
        missing = np.isnan(block)
        filled = np.where(missing, 0.0, block)
        count = len(sub.ids) - missing.sum(axis=1)
        rows = slice(start, start + size)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.mean[sub.name][rows] = np.where(
                count >= sub.need, filled.sum(axis=1) / count, np.nan
            )
        self.count[sub.name][rows] = count
        self.halves[sub.name][rows] = _half_difference(filled, count == len(sub.ids))
        return PairwiseMoments.of_filled(filled, missing), off


def alpha_of(moments: PairwiseMoments) -> float:
    """Pairwise alpha (as ``reliability.cronbach_alpha``) from a subscale's moments."""
    return alpha_of_covariance(moments.covariance())


def _half_difference(filled: np.ndarray, complete: np.ndarray) -> np.ndarray:
    """Mean of odd-position items minus mean of even-position items, complete rows only."""
    if filled.shape[1] < 2:
        return np.full(len(filled), np.nan)
    odd, even = filled[:, 0::2], filled[:, 1::2]
    diff = odd.sum(axis=1) / odd.shape[1] - even.sum(axis=1) / even.shape[1]
    return np.where(complete, diff, np.nan)
