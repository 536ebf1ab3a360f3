"""Protecting patients in outputs: keyed pseudonyms, and CSV cells that cannot run as formulas."""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# The fewest patients any released cell (a group, a month, the totals) may show. Enforced
# here, for every caller, by check_min_n: the command line and Python alike.
MIN_N_FLOOR = 5


def check_min_n(min_n: int, identifiable: bool) -> None:
    """Refuse a minimum cell size below :data:`MIN_N_FLOOR` unless ``identifiable`` (output
    that stays with the clinic's own staff), and below 1 in any case."""
    if min_n < 1:
        raise ValueError(f"the minimum group size must be at least 1; got {min_n}.")
    if min_n < MIN_N_FLOOR and not identifiable:
        raise ValueError(
            f"the minimum group size is at least {MIN_N_FLOOR} patients; got {min_n}. A "
            f"smaller one can show a single patient (identifiable output allows it, for "
            f"output that stays with the clinic's own staff)."
        )


def pseudonymize(values: pd.Series, key: str) -> pd.Series:
    """Replace identifiers by a keyed hash (HMAC-SHA256, 16 hex digits): the same id and key
    always give the same pseudonym; without the key the id cannot be recovered or checked."""
    if not key:
        raise ValueError("'key' must be a non-empty string.")
    secret = key.encode("utf-8")

    def keyed(value: object) -> str:
        digest = hmac.new(secret, str(value).encode("utf-8"), hashlib.sha256).hexdigest()
        return "anon_" + digest[:16]

    mapping = {value: keyed(value) for value in values.dropna().unique()}
    return values.map(mapping)


def neutralize_text(value: str) -> str:
    """One cell or column name made safe for a spreadsheet: prefixed with a single quote when
    it starts with what a spreadsheet would run as a formula (= + - @, tab, CR, LF), or when
    a line inside it does (a spreadsheet that splits on the CR starts a record there)."""
    lines = value.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if any(line.startswith(FORMULA_STARTS) for line in lines[1:]) or value.startswith(
        (*FORMULA_STARTS, "\n")
    ):
        return "'" + value
    return value


# What neutralize_text looks for, as one pattern: a formula start at the beginning, or after a
# line break. Cells that match are passed to neutralize_text, which decides; the others (nearly
# all) are left as they are, without a Python call per cell.
_MAY_RUN = r"^[=+\-@\t\r\n]|[\r\n][=+\-@\t]"


def neutralize_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Neutralise text cells and column names that a spreadsheet would run as a formula
    (:func:`neutralize_text`). Numbers stay numbers: a negative margin is data, not a
    formula."""
    out = frame.copy(deep=False)  # columns are replaced, never written into
    out.columns = [neutralize_text(str(c)) for c in out.columns]
    for k in range(out.shape[1]):  # by position: two names may now read alike
        series = out.iloc[:, k]
        if isinstance(series.dtype, pd.CategoricalDtype):
            # The categories are screened, not the cells: a few labels, however many rows.
            labels = pd.Series(series.cat.categories.astype(object))
            safe = _neutralized(labels)
            if safe is not None:
                codes = series.cat.codes.to_numpy()
                padded = np.concatenate([safe, np.array([None], dtype=object)])
                values = padded[np.where(codes < 0, len(safe), codes)]
                out.isetitem(k, values)
            continue
        if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
            continue
        changed = _neutralized(series)
        if changed is not None:
            out.isetitem(k, changed)
    return out


def _neutralized(series: pd.Series) -> np.ndarray | None:
    """The column with its formula-like text neutralised, or None when nothing is. Text is
    screened by one pattern in Arrow (mixed columns as their text), and only the cells it
    flags go through :func:`neutralize_text`."""
    text = series if pd.api.types.is_string_dtype(series) else series.astype("string[pyarrow]")
    flagged = text.str.contains(_MAY_RUN, regex=True, na=False).to_numpy(dtype=bool)
    if not flagged.any():
        return None
    values = series.to_numpy(dtype=object, copy=True)
    for i in np.flatnonzero(flagged):
        if isinstance(values[i], str):  # a number's text (-2) is not neutralised: it is data
            values[i] = neutralize_text(values[i])
    return values
