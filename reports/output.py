"""Writing results for people and programs: JSON that has no NaN, CSV that is safe to open."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.fileio import atomic_path
from analysis.privacy import neutralize_formulas


def plain(value: Any) -> Any:
    """Numbers, strings, lists and dicts only: numpy scalars unwrapped, NaN and NA as None."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return plain(value.to_dict(orient="records"))
    if isinstance(value, pd.Series):
        return plain(value.to_dict())
    if isinstance(value, np.generic):
        value = value.item()
    if value is pd.NA or value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps_json(value: Any) -> str:
    return json.dumps(plain(value), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


# CRLF ends each record (RFC 4180). It also makes the writer quote every cell that holds a CR
# or an LF: with LF alone a lone CR went out unquoted, and a spreadsheet split the record there.
_CSV = {"index": False, "lineterminator": "\r\n"}


def csv_text(frame: pd.DataFrame) -> str:
    """CSV with formula-like text and names neutralised, CR and LF quoted, missing values
    blank. Every CSV the tool writes goes through here or :func:`write_csv`."""
    return neutralize_formulas(frame).to_csv(**_CSV)  # type: ignore[call-overload]


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        neutralize_formulas(frame).to_csv(tmp, **_CSV)  # type: ignore[call-overload]


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """A table as its file name asks: Parquet for ``.parquet`` (columnar, typed, written at
    the speed of the format; a spreadsheet does not run its text, so it is kept as it is),
    else CSV through :func:`write_csv`."""
    if path.suffix.lower() != ".parquet":
        write_csv(frame, path)
        return
    import pyarrow as pa  # here: only a Parquet output pays for the import
    import pyarrow.parquet as pq

    out = frame.copy()
    for k in range(out.shape[1]):  # mixed-type text columns (quarantined rows) as text
        if pd.api.types.is_object_dtype(out.iloc[:, k]):
            out.isetitem(k, out.iloc[:, k].astype("string").array)
    table = pa.Table.from_pandas(out, preserve_index=False)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
