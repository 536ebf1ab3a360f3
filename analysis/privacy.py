"""Protecting patients in outputs: keyed pseudonyms, and CSV cells that cannot run as formulas."""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


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


def neutralize_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Neutralise text cells and column names that a spreadsheet would run as a formula
    (:func:`neutralize_text`). Numbers stay numbers: a negative margin is data, not a
    formula."""
    out = frame.copy()
    out.columns = [neutralize_text(str(c)) for c in out.columns]
    for k in range(out.shape[1]):  # by position: two names may now read alike
        series = out.iloc[:, k]
        if isinstance(series.dtype, pd.CategoricalDtype):
            series = series.astype(object)
        if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
            continue
        text = series.astype(object)
        codes, uniques = pd.factorize(text)
        safe = np.array(
            [neutralize_text(u) if isinstance(u, str) else u for u in uniques] + [None],
            dtype=object,
        )
        if any(a is not b for a, b in zip(safe[:-1], uniques, strict=True)):
            text = pd.Series(safe[codes], index=text.index, dtype=object).where(text.notna(), text)
        out.isetitem(k, text.to_numpy(dtype=object))
    return out
