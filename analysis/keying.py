"""Reverse keying and the favourable end of an item: each defined once, for every caller.

A reverse-keyed item (keying ``-``) is turned around on its own scale, ``low + high - x``, so
that a high number is favourable for every item. An item's favourable end is its scale's
maximum, or its minimum when it is reverse-keyed; the share of answers there is its ceiling.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from instrument import Instrument


def reverse_in_place(block: np.ndarray, instrument: Instrument, items: list[str]) -> None:
    """Reverse the reverse-keyed columns of a float matrix whose columns are ``items``.
    Items without a scale are left as they are (there is no range to turn them around in)."""
    for k, item_id in enumerate(items):
        item = instrument.item(item_id)
        scale = instrument.scale_of(item)
        if item.reverse and scale is not None:
            block[:, k] = scale.minimum + scale.maximum - block[:, k]


def numeric_matrix(data: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """The columns as one new float matrix; text that is not a number becomes NaN.

    Column-major: each column is copied whole. Filling a row-major matrix a column at a time
    writes across all of it for every column, ten times slower at 1M rows (0.9 s for 24)."""
    out = np.empty((len(columns), len(data)))
    for j, name in enumerate(columns):
        out[j] = numeric_column(data[name])
    return out.T


def numeric_column(column: pd.Series) -> np.ndarray:
    """A column as floats, without a copy where it already is one; text that is not a number,
    and a nullable or Arrow column's missing values, become NaN."""
    if not pd.api.types.is_numeric_dtype(column.dtype):
        column = pd.to_numeric(column, errors="coerce")
    if isinstance(column.dtype, np.dtype):
        return column.to_numpy(dtype=float)
    return column.to_numpy(dtype=float, na_value=np.nan)


def keyed(data: pd.DataFrame, instrument: Instrument, items: list[str]) -> pd.DataFrame:
    """Item answers as numbers (text that is not a number becomes missing), reverse-keyed
    items reversed; labelled by item id."""
    block = numeric_matrix(data, items)
    reverse_in_place(block, instrument, items)
    return pd.DataFrame(block, index=data.index, columns=items)


def ceiling_code(answers: np.ndarray, end: float | None) -> float:
    """The code a ceiling is counted at: ``end`` (an item's favourable end), or the largest of
    ``answers`` when the item has no scale (NaN when none was given)."""
    if end is not None:
        return float(end)
    given = answers[~np.isnan(answers)]
    return float(given.max()) if len(given) else np.nan


def ceiling_share(column: pd.Series, end: float | None) -> float:
    """Share of the answers at ``end`` (an item's favourable end; the largest answer seen when
    the item has no scale); 0 when nothing was answered."""
    answered = int(column.notna().sum())
    if not answered:
        return 0.0
    top = ceiling_code(numeric_column(column), end)
    return float((column == top).sum() / answered)


def ceiling_shares(
    data: pd.DataFrame, instrument: Instrument, items: list[str]
) -> dict[str, float]:
    """Ceiling share per item of raw (not reversed) answers, at each item's favourable end."""
    return {i: ceiling_share(data[i], instrument.favourable_end(i)) for i in items}
