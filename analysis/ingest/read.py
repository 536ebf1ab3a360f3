"""Read a survey export into one tidy table: context columns, then one column per item id.

Recognised shapes: a plain CSV (item ids as column names), a Qualtrics CSV export (three header
rows, ImportId JSON, -99 for "seen but unanswered"), a REDCap raw record export (record id,
repeat instance), and SPSS .sav (value labels and user-missing codes read by pyreadstat).
Item answers come back as floats with NaN for every kind of missing answer.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat

from instrument import Instrument
from instrument.exports.qualtrics import EMBEDDED_FIELDS, qualtrics_columns

from .. import names

QUALTRICS_MISSING = (-99,)
_QUALTRICS_MARKERS = ("StartDate", "ResponseId")


class ExportError(ValueError):
    """An export that cannot be read at all (as opposed to data-quality findings)."""


@dataclass(frozen=True)
class Export:
    """A read export: ``data`` holds context columns then the instrument's item columns."""

    data: pd.DataFrame
    platform: str
    source: str
    items: tuple[str, ...]


def _head_lines(path: Path, n: int = 3) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        text = "".join(handle.readline() for _ in range(n))
    return list(csv.reader(io.StringIO(text)))


def detect_platform(path: Path) -> str:
    if path.suffix.lower() == ".sav":
        return "spss"
    rows = _head_lines(path)
    if not rows or not rows[0]:
        raise ExportError(f"{path}: the file is empty.")
    header = rows[0]
    third = rows[2][0] if len(rows) > 2 and rows[2] else ""
    if all(m in header for m in _QUALTRICS_MARKERS) and third.startswith('{"ImportId"'):
        return "qualtrics"
    if header[0] == "record_id" and any(h.endswith("_complete") for h in header):
        return "redcap"
    return "csv"


def _item_columns(frame: pd.DataFrame, instrument: Instrument) -> dict[str, str]:
    """Export column -> item id, matching ids without regard to case."""
    wanted = {item_id.casefold(): item_id for item_id in instrument.item_ids}
    return {col: wanted[col.casefold()] for col in frame.columns if col.casefold() in wanted}


def _numeric(values: pd.Series, missing: tuple[int, ...] = ()) -> pd.Series:
    out = pd.to_numeric(values, errors="coerce").astype(float)
    return out.mask(out.isin(missing))


def _assemble(
    context: pd.DataFrame, answers: pd.DataFrame, instrument: Instrument, source: str, platform: str
) -> Export:
    if answers.shape[1] == 0:
        raise ExportError(f"{source}: no column matches an item of instrument '{instrument.name}'.")
    order = [i for i in instrument.item_ids if i in answers.columns]
    raters = {instrument.item(i).perspective for i in order}
    if names.PERSPECTIVE not in context and len(raters) == 1:
        # The items say who rated when the export does not.
        context = context.assign(**{names.PERSPECTIVE: raters.pop()})
    data = pd.concat(
        [context.reset_index(drop=True), answers[order].reset_index(drop=True)], axis=1
    )
    return Export(data, platform, source, tuple(order))


def _read_plain(path: Path, instrument: Instrument) -> Export:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    mapping = _item_columns(frame, instrument)
    answers = pd.DataFrame({item: _numeric(frame[col]) for col, item in mapping.items()})
    context = frame.drop(columns=list(mapping)).replace("", np.nan)
    for col in (names.SESSION, names.DURATION, names.DROPOUT):
        if col in context:
            context[col] = pd.to_numeric(context[col])
    return _assemble(context, answers, instrument, path.name, "csv")


def _qualtrics_layout(frame: pd.DataFrame, instrument: Instrument) -> dict[str, str]:
    """Column -> item for the form whose survey layout matches the most columns."""
    best: dict[str, str] = {}
    for form in (*instrument.forms, None):
        try:
            columns = qualtrics_columns(instrument, form)
        except ValueError:
            continue
        present = {c: i for c, i in columns.items() if c in frame.columns}
        if len(present) > len(best):
            best = present
    return best or _item_columns(frame, instrument)


def _read_qualtrics(path: Path, instrument: Instrument) -> Export:
    frame = pd.read_csv(
        path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skiprows=[1, 2]
    )
    mapping = _qualtrics_layout(frame, instrument)
    answers = pd.DataFrame(
        {item: _numeric(frame[col], QUALTRICS_MISSING) for col, item in mapping.items()}
    )
    recorded = pd.to_datetime(frame["RecordedDate"], errors="coerce")
    context = pd.DataFrame({names.RESPONSE_ID: frame["ResponseId"]})
    for field in EMBEDDED_FIELDS:
        if field in frame:
            context[field] = frame[field].replace("", np.nan)
    if names.SESSION in context:
        context[names.SESSION] = pd.to_numeric(context[names.SESSION])
    context[names.DATE] = recorded.dt.strftime("%Y-%m-%d")
    context[names.DURATION] = pd.to_numeric(frame["Duration (in seconds)"], errors="coerce")
    return _assemble(context, answers, instrument, path.name, "qualtrics")


def _read_redcap(path: Path, instrument: Instrument) -> Export:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    mapping = _item_columns(frame, instrument)
    answers = pd.DataFrame({item: _numeric(frame[col]) for col, item in mapping.items()})
    instance = (
        pd.to_numeric(frame["redcap_repeat_instance"]).fillna(1)
        if "redcap_repeat_instance" in frame
        else pd.Series(1, index=frame.index)
    )
    context = pd.DataFrame(
        {
            names.RESPONSE_ID: frame["record_id"] + "_" + instance.astype(int).astype(str),
            names.RESPONDENT_ID: frame["record_id"],
        }
    )
    for src, dst in (("clinician_id", names.CLINICIAN_ID), ("site_id", names.SITE_ID)):
        if src in frame:
            context[dst] = frame[src].replace("", np.nan)
    context[names.SESSION] = instance.astype(np.int64)
    if "visit_date" in frame:
        context[names.DATE] = frame["visit_date"].replace("", np.nan)
    return _assemble(context, answers, instrument, path.name, "redcap")


def _read_spss(path: Path, instrument: Instrument) -> Export:
    try:
        frame, _meta = pyreadstat.read_sav(str(path), user_missing=False)
    except pyreadstat.ReadstatError as exc:
        raise ExportError(f"{path.name}: not a readable SPSS file ({exc}).") from None
    mapping = _item_columns(frame, instrument)
    answers = pd.DataFrame({item: _numeric(frame[col]) for col, item in mapping.items()})
    context = frame.drop(columns=list(mapping))
    if names.DATE in context:
        context[names.DATE] = pd.to_datetime(context[names.DATE]).dt.strftime("%Y-%m-%d")
    for col in (names.SESSION, names.DROPOUT):
        if col in context:
            context[col] = context[col].astype(np.int64)
    return _assemble(context, answers, instrument, path.name, "spss")


_READERS = {
    "csv": _read_plain,
    "qualtrics": _read_qualtrics,
    "redcap": _read_redcap,
    "spss": _read_spss,
}


def read_export(path: str | Path, instrument: Instrument) -> Export:
    """Read ``path``, recognising its platform, into context columns plus item columns."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such file.")
    return _READERS[detect_platform(path)](path, instrument)
