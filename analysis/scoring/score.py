"""Subscale scores: reverse keying, the item-mean metric, percent of maximum possible, prorating.

A subscale is scored when enough of its items are answered: by default no more than a quarter
may be missing (1 of 4, 2 of 8, 1 of 5). Otherwise its score is missing and the row says why.
Answers outside the item's scale are not scored (treated as missing) and the row says which.
Everything is vectorised: no Python loop over respondents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from instrument import Instrument

from ..choices import DEFAULT_MAX_MISSING_SHARE
from ..keying import numeric_matrix, reverse_in_place
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
        Score only these rows (numbered 0, 1, ... in the result); default all. Only their
        answers are made numbers, one subscale at a time, so the table is never copied whole.
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
    notes = np.full(len(index), "", dtype=object)
    off_scale: list[tuple[int, int, float]] = []  # (row, column, value) of unscorable answers

    scores, pomp, answered, alpha, halves = {}, {}, {}, {}, {}
    moments: dict[str, PairwiseMoments] = {}
    scale_range: dict[str, tuple[int, int]] = {}
    position = {item_id: j for j, item_id in enumerate(present)}
    for subscale, ids in groups.items():
        cols = [position[i] for i in ids]
        scales = {instrument.scale_of(i) for i in ids}
        if len({(sc.minimum, sc.maximum) if sc else None for sc in scales}) > 1:
            raise ValueError(
                f"subscale {subscale!r} mixes response scales; its items must share one scale "
                f"to be averaged."
            )
        scale = scales.pop()
        low, high = (scale.minimum, scale.maximum) if scale else (-np.inf, np.inf)
        # One subscale at a time: each pass over the data touches only its columns, and only
        # its answers are held as numbers (all 47 items at once were 376 MB at 1M rows).
        block = numeric_matrix(data, ids, rows)
        if scale is not None:
            bad = scale.off_scale(block)
            if bad.any():
                at, where = np.nonzero(bad)
                off_scale.extend(zip(at, np.asarray(cols)[where], block[at, where], strict=True))
                block[bad] = np.nan
        reverse_in_place(block, instrument, ids)
        missing = np.isnan(block)
        filled = np.where(missing, 0.0, block)
        count = len(ids) - missing.sum(axis=1)
        total = filled.sum(axis=1)
        need = items_needed(len(ids), max_missing_share)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(count >= need, total / count, np.nan)
        scores[subscale] = mean
        scale_range[subscale] = (int(low), int(high)) if scale else (0, 0)
        pomp[subscale] = (mean - low) / (high - low) * 100 if scale else np.nan * mean
        answered[subscale] = count
        complete = count == len(ids)
        moments[subscale] = PairwiseMoments.of_filled(filled, missing)
        alpha[subscale] = alpha_of(moments[subscale])
        halves[subscale] = _half_difference(filled, complete)
        short = np.flatnonzero(count < need)
        if len(short):
            text = [
                f"{subscale}: {c} of {len(ids)} items answered ({need} needed)"
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
        scores=pd.DataFrame(scores, index=index),
        pomp=pd.DataFrame(pomp, index=index),
        answered=pd.DataFrame(answered, index=index),
        notes=pd.Series(notes, index=index, name="scoring_notes"),
        items={s: tuple(ids) for s, ids in groups.items()},
        scale_range=scale_range,
        form=_form_of(instrument, present),
        perspective=perspectives.pop(),
        max_missing_share=max_missing_share,
        alpha=alpha,
        half_difference=pd.DataFrame(halves, index=index),
        moments=moments,
    )


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
