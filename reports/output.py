"""Writing results for people and programs: JSON that has no NaN, CSV that is safe to open."""

from __future__ import annotations

import io
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


# CRLF ends each record (RFC 4180). Every text cell is quoted (pyarrow's "needed" style quotes
# all text, since any text may hold a quote): a CR or LF inside a cell stays inside its record.
def _arrow_table(frame: pd.DataFrame) -> Any:
    """The frame as an Arrow table: missing values null, mixed-type text columns (quarantined
    rows) as text."""
    import pyarrow as pa  # here: only writing a table pays for the import

    out = frame.copy(deep=False)  # the columns replaced below are new; the others are shared
    for k in range(out.shape[1]):
        if pd.api.types.is_object_dtype(out.iloc[:, k]):
            out.isetitem(k, out.iloc[:, k].astype("string").array)
    return pa.Table.from_pandas(out, preserve_index=False)


def _write_arrow_csv(frame: pd.DataFrame, sink: Any) -> None:
    import pyarrow.csv as pc

    pc.write_csv(_arrow_table(neutralize_formulas(frame)), sink, pc.WriteOptions(eol="\r\n"))


def csv_text(frame: pd.DataFrame) -> str:
    """CSV with formula-like text and names neutralised, text quoted, missing values blank.
    Every CSV the tool writes goes through here or :func:`write_csv` (pyarrow's writer: the
    speed of the format, where pandas formats each number in Python)."""
    buffer = io.BytesIO()
    _write_arrow_csv(frame, buffer)
    return buffer.getvalue().decode("utf-8")


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        _write_arrow_csv(frame, str(tmp))


def write_table(frame: pd.DataFrame, path: Path, *, parquet: bool | None = None) -> None:
    """A table as its file name asks (or ``parquet`` says): Parquet for ``.parquet``
    (columnar, typed, written at the speed of the format; a spreadsheet does not run its text,
    so it is kept as it is), else CSV through :func:`write_csv`."""
    if parquet is None:
        parquet = path.suffix.lower() == ".parquet"
    if not parquet:
        write_csv(frame, path)
        return
    import pyarrow.parquet as pq

    table = _arrow_table(frame)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
