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


def neutralize_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula (= + - @, tab, CR) with a
    single quote. Numbers stay numbers: a negative margin is data, not a formula."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if isinstance(series.dtype, pd.CategoricalDtype):
            series = series.astype(object)
        if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
            continue
        text = series.astype(object)
        risky = np.array(
            [isinstance(v, str) and v.startswith(FORMULA_STARTS) for v in text], dtype=bool
        )
        if risky.any():
            text = text.where(~risky, "'" + text.astype(str))
        out[column] = text
    return out
