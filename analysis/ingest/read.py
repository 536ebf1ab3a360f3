"""Read a survey export into one tidy table: context columns, then one column per item id.

Stages: sniff the file (size, binary or text, encoding, delimiter) -> recognise the platform from
its first rows -> read it -> match columns to items and context -> turn answers into codes
(numbers, or scale labels such as "Always" without regard to case and spacing).

Every answer that cannot be used becomes a *finding* with row, column, value and reason, and
the cell is left empty; nothing is dropped silently. Rows are numbered from 1 for the first data
row (header rows are not counted). Platform row flags (Qualtrics previews, tests, spam,
unfinished responses; incomplete REDCap forms) are kept in ``flags`` for the checks to act on.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from instrument import Instrument, ResponseScale

from .. import names
from ..wording import worded
from .damage import duplicate_columns, text_damage
from .fhir import read_fhir
from .identifiers import DroppedColumn, IdentifierPolicy, find_dictionary, find_identifiers
from .identifiers import name_reason as identifier_name
from .identifiers import refuse_unknown as refuse_unknown_columns
from .identifiers import value_reason as identifier_values
from .mapping import ColumnMap, fold, match_context, match_items
from .platforms import Finding, Layout, Platform, detect, platform_of
from .readstat import read_readstat
from .sniff import DEFAULT_MAX_BYTES, EXCEL_MAX_ROWS, ExportError, Sniffed, sniff

FINDING_COLUMNS = ("kind", "row", "column", "value", "reason")
# A blank cell, and R's write.csv missing value: neither an answer nor a declared missing code.
NA_VALUES = ["", "NA"]


@dataclass(frozen=True)
class Export:
    """A read export. ``data``: context columns then items (floats, NaN when missing);
    ``flags``: per-row platform marks ('preview', 'test', 'spam', 'unfinished' or '');
    ``findings``: one row per unusable cell; ``raw``: the rows as read, for the quarantine file,
    less the columns left out as identifiers (``identifiers``, each with why; ``dictionary``:
    the REDCap data dictionary that was consulted)."""

    data: pd.DataFrame
    platform: str
    source: str
    items: tuple[str, ...]
    flags: pd.Series = field(default_factory=lambda: pd.Series(dtype=object))
    findings: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=FINDING_COLUMNS))
    unmatched_columns: tuple[str, ...] = ()
    missing_items: tuple[str, ...] = ()
    encoding: str | None = None
    delimiter: str | None = None
    raw: pd.DataFrame | None = None
    # Per item: answers given as a missing code (Qualtrics' -99 "seen but unanswered", SPSS
    # user-missing, the mapping's ``missing:``), as distinct from blanks (not shown).
    declared_by_item: dict[str, int] = field(default_factory=dict)
    identifiers: tuple[DroppedColumn, ...] = ()
    dictionary: str | None = None
    flag_sources: dict[str, str] = field(default_factory=dict)  # mark -> the column behind it
    # Context column -> the export column it was read from (respondent_id -> 'record_id').
    context_sources: dict[str, str] = field(default_factory=dict)

    @property
    def rows_in(self) -> int:
        return len(self.data)

    @property
    def declared_missing(self) -> int:
        """Answers given as a missing code, over all items."""
        return sum(self.declared_by_item.values())


# ---------------------------------------------------------------- reading the table
def _return_freed_memory() -> None:
    """Hand back to the system what the parse freed. pandas parses a large file on several
    threads, and glibc keeps what each thread frees for that thread: 370 MB at 1M rows that
    the rest of the command could not use. Trimming takes about 10 ms. Elsewhere than glibc
    there is nothing to do."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _read_text(s: Sniffed, layout: Layout, numeric: set[str]) -> tuple[pd.DataFrame, str | None]:
    """The table and the encoding it was read with."""
    try:
        return _read_table(s, layout, numeric), s.encoding
    except UnicodeDecodeError as exc:
        if s.encoding == "utf-8-sig" and s.encoding_errors == "strict":
            # A BOM says UTF-8: a stray bad byte is replaced (and the cell then fails its
            # item's scale, a finding), rather than the whole file read as cp1252.
            return _read_text(replace(s, encoding_errors="replace"), layout, numeric)
        if s.encoding == "utf-8":
            # Valid UTF-8 at the start, not further on: a Windows export after all.
            return _read_text(replace(s, encoding="cp1252"), layout, numeric)
        raise ExportError(
            f"{s.path.name}: cannot be decoded as {s.encoding} (byte {exc.start}); save it as "
            f"UTF-8 and try again."
        ) from None


def _read_table(s: Sniffed, layout: Layout, numeric: set[str]) -> pd.DataFrame:
    """Item columns (``numeric``) are parsed by pandas as numbers where they are numbers
    (fast); id-like columns stay text, so that ids like '007' keep their zeros. An item column
    whose chunks mix numbers and text comes back mixed, and the text path of the recoding
    sorts it."""
    header = s.head[0] if s.head else ()
    first_rows = [row for row in s.head[1:] if len(row) == len(header)]
    # Text where it matters: id-like columns, and any column whose first values have leading
    # zeros ('007'); pandas infers the rest (numbers stay numbers, fast).
    text_columns = [
        c
        for k, c in enumerate(header)
        if c not in numeric
        and c not in (names.SESSION, names.DURATION, names.DROPOUT)
        and (
            c in names.CONTEXT_COLUMNS
            or "id" in c.casefold()
            or any(len(r[k]) > 1 and r[k].startswith("0") and r[k][1] != "." for r in first_rows)
        )
    ]
    if s.encoding in ("utf-8", "utf-8-sig"):
        # pandas reads a large UTF-8 file on all cores, but a text dtype for a column of
        # words costs more than the whole read. So only the text columns whose first values
        # look like numbers (which inference would turn into numbers) are asked for as text;
        # the others are kept if inference left them text (or empty) throughout.
        looks_numeric = {
            c: str
            for k, c in enumerate(header)
            if c in text_columns and all(_is_number(r[k]) or not r[k] for r in first_rows)
        }
        frame = _read_csv(s, layout, looks_numeric)
        if all(
            pd.api.types.is_string_dtype(frame[c]) or frame[c].isna().all()
            for c in text_columns
            if c in frame
        ):
            for c in text_columns:
                if c in frame and not pd.api.types.is_string_dtype(frame[c]):
                    frame[c] = frame[c].astype(pd.StringDtype(na_value=np.nan))
            return frame
    return _read_csv(s, layout, dict.fromkeys(text_columns, str))


def _read_csv(s: Sniffed, layout: Layout, dtype: dict[str, type[str]]) -> pd.DataFrame:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                s.path,
                sep=s.delimiter,
                encoding=s.encoding,
                encoding_errors=s.encoding_errors,
                **_header_options(s, layout),
                keep_default_na=False,
                na_values=NA_VALUES,
                dtype=dtype or None,
                # A line that looks blank is still a row of the file: it is counted (and
                # quarantined for having no answers), never silently skipped.
                skip_blank_lines=False,
                index_col=False,
            )
    except pd.errors.ParserError as exc:
        found = _RAGGED.search(str(exc))
        if found:
            width, line, saw = map(int, found.groups())
            raise _ragged(s, line, saw, width) from None
        if "EOF inside string" in str(exc):
            raise ExportError(
                f"{s.path.name}: the file ends inside a quoted cell: it was cut off, or a "
                f"quote is not closed; export it again."
            ) from None
        raise ExportError(
            f"{s.path.name}: cannot be read as a table (its quoting or line ends are "
            f"broken); check the delimiter and quoting."
        ) from None
    except pd.errors.EmptyDataError:
        raise ExportError(f"{s.path.name}: the file has no header row.") from None
    except pd.errors.ParserWarning:
        # A first data row longer than the header. pandas would take its extra fields for an
        # index and shift the rows, or (index_col=False) drop them with this warning.
        header = s.head[0] if s.head else ()
        first = 1 + len(layout.skip)
        saw = len(s.head[first]) if len(s.head) > first else len(header) + 1
        raise _ragged(s, first + 1, saw, len(header)) from None
    return frame


def _header_options(s: Sniffed, layout: Layout) -> dict[str, Any]:
    """How pandas should find the header. It reads in parallel only when the rows to skip are
    a number, so a platform's extra header rows (Qualtrics' question texts and import ids)
    are skipped by count, with the header row given as the names, when that header is
    whole in the sniffed start and has no repeated name. Rows above the header
    (``--header-row``) are skipped first."""
    header = s.head[0] if s.head else ()
    rows = 1 + len(layout.skip)
    if not layout.skip:
        return {"skiprows": s.offset} if s.offset else {}
    if (
        layout.skip == tuple(range(1, rows))
        and len(s.head) > rows
        and len(set(header)) == len(header)
    ):
        return {"header": None, "names": list(header), "skiprows": s.offset + rows}
    return {"skiprows": [*range(s.offset), *(s.offset + k for k in layout.skip)]}


def _ragged(s: Sniffed, line: int, saw: int, width: int) -> ExportError:
    return ExportError(
        f"{s.path.name}: line {line} has {saw} fields where the header has {width}; "
        f"check the delimiter and quoting (ragged rows)."
    )


def _read_binary(
    s: Sniffed,
) -> tuple[pd.DataFrame, dict[str, list[float | str]], dict[str, str]]:
    """SPSS, Stata, Excel or Parquet; also the user-missing codes SPSS declares per column,
    and SPSS's and Stata's variable labels."""
    name = s.path.name
    try:
        if s.kind in ("spss", "stata"):
            frame, meta = read_readstat(s.path, s.kind)
            missing: dict[str, list[float | str]] = {}
            for column, ranges in (getattr(meta, "missing_ranges", None) or {}).items():
                missing[column] = [r["lo"] for r in ranges if r["lo"] == r["hi"]]
            for column, values in (getattr(meta, "missing_user_values", None) or {}).items():
                missing.setdefault(column, []).extend(values)
            labels = {
                str(k): str(v)
                for k, v in (getattr(meta, "column_names_to_labels", None) or {}).items()
                if v
            }
            return frame, missing, labels
        if s.kind == "excel":
            return (
                pd.read_excel(
                    s.path,
                    dtype=str,
                    keep_default_na=False,
                    na_values=NA_VALUES,
                    header=s.offset,
                    # A sheet without a (true) dimension tag is still read no further.
                    nrows=EXCEL_MAX_ROWS,
                ),
                {},
                {},
            )
        return pd.read_parquet(s.path), {}, {}
    except Exception:  # pyreadstat, pyarrow and openpyxl each raise their own types
        raise _unreadable(name, s.kind) from None


_KIND_NAMES = {"spss": "SPSS", "stata": "Stata", "excel": "Excel", "parquet": "Parquet"}


def _unreadable(name: str, kind: str) -> ExportError:
    """Our words for a file its reader refused: the reader's own message names its options
    ('specify an engine'), which a user of this tool does not have."""
    return ExportError(
        f"{name}: not a readable {_KIND_NAMES.get(kind, kind)} file: it is damaged, or in "
        f"another format than its name says."
    )


def value_labels(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """Column -> {code: label} as an SPSS or Stata file declares them (read from its
    metadata alone); empty for other formats. Codes may be numbers, or letters for Stata's
    tagged missing values."""
    s = sniff(path, max_bytes=max_bytes)
    if s.kind not in ("spss", "stata"):
        return {}
    try:
        _, meta = read_readstat(s.path, s.kind, metadata_only=True)
    except Exception:  # pyreadstat's own errors, and a crash of its process
        raise _unreadable(s.path.name, s.kind) from None
    return dict(meta.variable_value_labels or {})


# ---------------------------------------------------------------- answers
def _codes(
    column: pd.Series,
    item_id: str,
    instrument: Instrument,
    recode: dict[str, float],
    missing: set[str],
    platform: Platform,
) -> tuple[np.ndarray, list[tuple[int, str, str]], int]:
    """Numbers for one item's answers, (row, value, kind) for every unusable answer, and how
    many answers were declared-missing codes."""
    scale = instrument.scale_of(item_id)
    problems: list[tuple[int, str, str]] = []
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        return _numeric_codes(column, scale, missing)
    text = column.astype(object).where(column.notna(), "").astype(str).str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, copy=True)
    blank = (text == "").to_numpy()
    declared = text.isin(missing).to_numpy() | np.isin(
        values, [float(m) for m in missing if _is_number(m)]
    )
    values[declared] = np.nan
    labelled = np.isnan(values) & ~blank & ~declared
    if labelled.any():
        lookup: dict[str, float] = {}
        for label in pd.unique(text[labelled]):
            code = recode.get(fold(label))
            if code is None and scale is not None:
                code = scale.code_of(label)
            if code is None:
                code = platform.code_of(label)
            if code is not None:
                lookup[label] = float(code)
        mapped = text[labelled].map(lookup).to_numpy(dtype=float)
        values[labelled] = mapped
        for r in np.flatnonzero(labelled)[np.isnan(mapped)]:
            value = text.iloc[r]
            kind = "unknown_label" if re.search(r"[A-Za-z]", value) else "not_a_number"
            problems.append((int(r), _shown(value), kind))
    if scale is not None:
        off = scale.off_scale(values)
        for r in np.flatnonzero(off):
            problems.append((int(r), _shown(text.iloc[r]) or f"{values[r]:g}", "out_of_range"))
        values[off] = np.nan
    else:
        absurd = _absurd(values)
        for r in np.flatnonzero(absurd):
            problems.append((int(r), _shown(text.iloc[r]), "absurd"))
        values[absurd] = np.nan
    return values, problems, int(declared.sum())


_ROWS_FOR_TWO_THREADS = 1 << 15

# No response scale runs to this: an answer beyond it (or infinite, as a 2,000-digit number
# reads) is a broken cell, not an answer, whatever the item.
ABSURD = 1e12


def _absurd(values: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return ~np.isnan(values) & ~(np.abs(values) < ABSURD)


def _shown(value: str, limit: int = 40) -> str:
    """A cell as a finding shows it: a long one cut, with its length."""
    return value if len(value) <= limit else f"{value[:limit]}... ({len(value):,} characters)"


def _numeric_codes(
    column: pd.Series, scale: ResponseScale | None, missing: set[str]
) -> tuple[np.ndarray, list[tuple[int, str, str]], int]:
    """The fast path for a column that is already numbers (most exports). A float column with
    nothing to blank comes back as itself, not copied."""
    values = column.to_numpy(dtype=float)
    codes = [float(m) for m in missing if _is_number(m)]
    declared = np.isin(values, codes) if codes else None
    problems: list[tuple[int, str, str]] = []
    blank = [declared] if declared is not None and declared.any() else []
    if scale is not None and not _on_scale(values, scale):
        off = scale.off_scale(values)
        if blank:
            off &= ~blank[0]
        problems = [(int(r), f"{values[r]:g}", "out_of_range") for r in np.flatnonzero(off)]
        blank.append(off)
    elif scale is None:
        absurd = _absurd(values)
        if absurd.any():
            problems = [(int(r), f"{values[r]:g}", "absurd") for r in np.flatnonzero(absurd)]
            blank.append(absurd)
    if blank:
        values = values.copy()
        for mask in blank:
            values[mask] = np.nan
    return values, problems, 0 if declared is None else int(declared.sum())


def _on_scale(values: np.ndarray, scale: ResponseScale) -> bool:
    """Whether every value is a whole number within the scale (or missing): two reductions
    and a rounding, where finding the cells (ResponseScale.off_scale) takes a mask per
    condition."""
    if np.fmin.reduce(values) < scale.minimum or np.fmax.reduce(values) > scale.maximum:
        return False
    # NaN differs from its rounding too, so a whole-numbered column differs only there.
    return bool(np.count_nonzero(np.round(values) != values) == np.count_nonzero(np.isnan(values)))


def _code_text(value: object) -> str:
    """A declared missing code as the text it matches: SPSS codes are numbers (-9 as '-9'),
    Stata's tagged missing values are letters ('a' for .a)."""
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _is_number(value: object) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True


_REASONS = {
    "unknown_label": "not a label of the item's scale",
    "not_a_number": "not a number or a label",
    "out_of_range": "outside the item's scale",
    "absurd": f"not a finite number below {ABSURD:.0e}: no answer, whatever the scale",
}


_ISO_DAY = r"\d{4}-\d{2}-\d{2}"
_ISO_TIME = r"[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"  # local time: no zone to move the day


def _dates(values: pd.Series) -> pd.Series:
    """Dates as YYYY-MM-DD where they parse (ISO quickly, other layouts slowly); else as given.
    An export holds few distinct dates, so each is looked at once."""
    distinct = pd.Series(values.dropna().unique())
    if pd.api.types.infer_dtype(distinct) == "string":
        if distinct.str.fullmatch(_ISO_DAY).all():
            return values  # already dates as we write them
        if distinct.str.fullmatch(_ISO_DAY + _ISO_TIME).all():
            # Timestamps, nearly one per row (Qualtrics' RecordedDate): their day is the
            # start, once the days are real dates.
            day = values.str.slice(0, 10)
            days = pd.to_datetime(day.dropna().unique(), errors="coerce", format="%Y-%m-%d")
            if days.notna().all():
                return day
    codes, uniques = pd.factorize(values)
    distinct = pd.Series(uniques)
    try:
        parsed = pd.to_datetime(distinct, errors="raise", format="ISO8601")
    except (ValueError, TypeError):
        try:
            parsed = pd.to_datetime(distinct, errors="coerce", format="mixed")
        except ValueError:  # time zones that differ between rows: each value's own day
            return pd.Series(
                pd.Series(_local_days(distinct).to_numpy(dtype=object).take(codes))
                .where(codes >= 0, None)
                .to_numpy(),
                index=values.index,
            )
    text = parsed.dt.strftime("%Y-%m-%d").where(parsed.notna(), distinct.astype(object))
    out = text.to_numpy(dtype=object).take(codes)
    out[codes < 0] = None
    return pd.Series(out, index=values.index)


def _looks_like_dates(values: pd.Series) -> bool:
    """Whether a column holds dates: datetimes, or text of which most distinct values parse
    as dates (a stray word among dates stays, as given). Numbers (a labelled yes/no, a count)
    are not dates, whatever the column's name."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return True
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        return False
    distinct = pd.Series(values.dropna().unique())
    if distinct.empty:
        return False
    if distinct.map(lambda v: hasattr(v, "year")).all():
        return True  # date objects (SPSS and Stata dates)
    text = distinct.astype(str).head(200)
    if text.str.fullmatch(r"-?\d+(\.\d+)?").all():
        return False
    # In UTC only to parse: dates whose time zones differ between rows parse only so.
    parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
    return bool(parsed.notna().mean() >= 0.5)


def _local_days(distinct: pd.Series) -> pd.Series:
    """Each value's day where it was written (its own time zone), as YYYY-MM-DD; a value that
    is no date stays as given. One value at a time: only for zones that differ between rows."""

    def day(value: object) -> object:
        try:
            return pd.Timestamp(str(value)).strftime("%Y-%m-%d")
        except (ValueError, TypeError):
            return value

    return distinct.map(day)


def _context(
    frame: pd.DataFrame, chosen: dict[str, str], platform: Platform
) -> tuple[pd.DataFrame, dict[str, str]]:
    """The context columns, and which export column each one came from (a column named
    ``date`` that holds no dates is not taken for the date)."""
    out = pd.DataFrame(index=frame.index)
    used = dict(chosen)
    for name in names.CONTEXT_COLUMNS + names.EXTRA_COLUMNS:
        if name not in chosen:
            continue
        values = frame[chosen[name]]
        if name in (names.SESSION, names.DURATION, names.DROPOUT):
            out[name] = pd.to_numeric(values, errors="coerce")
        elif name == names.DATE:
            if not _looks_like_dates(values):
                del used[name]
                continue
            out[name] = _dates(values)
        elif pd.api.types.is_numeric_dtype(values.dtype):
            # Numeric ids (SPSS, Parquet): 12.0 is the id '12'.
            numbers = values.to_numpy(dtype=float)
            whole = np.isfinite(numbers) & (numbers == np.round(numbers))
            text = values.astype(str).to_numpy(dtype=object)
            text[whole] = numbers[whole].astype(np.int64).astype(str)
            text[~np.isfinite(numbers)] = None
            out[name] = text
        else:
            out[name] = values if values.dtype != object else values.astype("str")
    platform.keys(frame, out)
    ordered = [c for c in (*names.CONTEXT_COLUMNS, *names.EXTRA_COLUMNS) if c in out]
    return out[ordered], used


def _item_columns(
    columns: list[str],
    instrument: Instrument,
    mapping: ColumnMap,
    platform: Platform,
    labels: dict[str, str] | None,
) -> dict[str, str]:
    if platform.labels_are_headers():
        labels = {c: c for c in columns}
    return match_items(
        columns,
        instrument,
        explicit=mapping.columns,
        layout=platform.item_columns(columns, instrument),
        labels=labels,
    )


def read_export(
    path: str | Path,
    instrument: Instrument,
    *,
    column_map: ColumnMap | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    header_row: int | None = None,
    identifiers: IdentifierPolicy | None = None,
    id_column: str | None = None,
    require_complete: bool = False,
) -> Export:
    """Read ``path`` (any supported format and platform) against ``instrument``;
    ``header_row`` (1-based) is the row with the column names when rows above it are titles.

    Columns that identify a person (names, e-mail, phone, date of birth: see
    :mod:`analysis.ingest.identifiers`) are left out as the file is read, as ``identifiers``
    says (default: found and left out); ``id_column`` names the respondent id column."""
    mapping = column_map or ColumnMap()
    if id_column is not None:
        mapping = replace(mapping, context={**mapping.context, names.RESPONDENT_ID: id_column})
    policy = identifiers if identifiers is not None else IdentifierPolicy()
    s = sniff(path, max_bytes=max_bytes, header_row=header_row)
    user_missing: dict[str, list[float | str]] = {}
    fhir_findings: list[Finding] = []
    variable_labels: dict[str, str] = {}
    encoding = s.encoding
    header: list[str] = []
    if s.kind == "text":
        layout = detect(s.head)
        renamed = dict(layout.rename)
        header = [renamed.get(h, h) for h in s.head[0]] if s.head else []
        labels = dict(zip(header, layout.labels, strict=False)) if layout.labels else None
        expected = _item_columns(header, instrument, mapping, platform_of(layout), labels)
        frame, encoding = _read_text(s, layout, set(expected))
        _return_freed_memory()
        if renamed:
            frame = frame.rename(columns=renamed)
    elif s.kind == "fhir":
        layout = Layout("fhir")
        try:
            frame, fhir_findings = read_fhir(s.path, instrument)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ExportError(
                str(exc)
                if isinstance(exc, ValueError)
                else (f"{s.path.name}: not UTF-8 text, as FHIR JSON must be.")
            ) from None
    else:
        layout = Layout(s.kind if s.kind in ("spss", "stata") else "csv")
        frame, user_missing, variable_labels = _read_binary(s)
        if s.kind == "excel" and len(frame):
            # An Excel file saved from a platform export keeps the platform's header rows.
            head = (
                tuple(map(str, frame.columns)),
                *(
                    tuple("" if pd.isna(v) else str(v) for v in row)
                    for row in frame.head(5).itertuples(index=False)
                ),
            )
            layout = detect(head)
            if layout.skip:
                frame = frame.drop(index=[k - 1 for k in layout.skip]).reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    name = s.path.name
    records: list[Finding] = duplicate_columns(
        header if s.kind == "text" else None, list(frame.columns)
    )
    if s.kind == "text":
        records += text_damage(s, encoding, frame)
    if s.kind == "fhir":
        records += fhir_findings
    if len(frame) == 0:
        raise ExportError(f"{name}: the file has a header but no data rows.")
    columns = list(frame.columns)
    platform = platform_of(layout)
    labels = dict(zip(columns, layout.labels, strict=False)) if layout.labels else None
    item_of = _item_columns(columns, instrument, mapping, platform, labels)
    if not item_of:
        shown = ", ".join(repr(c) for c in columns[:8]) + (" ..." if len(columns) > 8 else "")
        hint = " (one column only: is the delimiter right?)" if len(columns) == 1 else ""
        raise ExportError(
            worded(
                f"{name}: no column matches an item of instrument '{instrument.name}'{hint}; "
                f"columns: {shown}. Is this an export of another instrument? A mapping file "
                "(`map_file`) can name the columns."
            )
        )
    conventions = dict(platform.conventions)
    if layout.id_column is not None:
        conventions[names.RESPONDENT_ID] = layout.id_column
    chosen = match_context(columns, mapping.context, conventions)
    refuse_unknown_columns(policy, columns, name)
    candidates = [c for c in columns if c not in item_of and c not in chosen.values()]
    dictionary = policy.dictionary or find_dictionary(s.path, columns)
    dropped = find_identifiers(
        frame, candidates, policy, labels=variable_labels, dictionary=dictionary
    )
    if dropped:
        frame = frame.drop(columns=[d.column for d in dropped])
        columns = list(frame.columns)
    context, chosen = _context(frame, chosen, platform)

    missing_codes = {str(m) for m in mapping.missing} | set(platform.missing_codes)
    order = [i for i in instrument.item_ids if i in item_of.values()]
    column_of = {i: c for c, i in item_of.items()}
    # The items start as a view of the columns read (copy-on-write keeps ``raw`` as read);
    # only a column that changes is replaced. Copying them all would cost as much as the read.
    items = frame[[column_of[i] for i in order]].set_axis(order, axis=1)
    declared: dict[str, int] = {}
    recode = {fold(k): v for k, v in mapping.recode.items()}

    def coded(item_id: str) -> tuple[np.ndarray, list[tuple[int, str, str]], int]:
        col = column_of[item_id]
        codes = missing_codes | {_code_text(v) for v in user_missing.get(col, [])}
        return _codes(frame[col], item_id, instrument, recode, codes, platform)

    # On a large export two columns at a time: numpy lets go of the interpreter while it
    # checks a column's codes, and each column is read alone.
    if len(frame) >= _ROWS_FOR_TWO_THREADS:
        with ThreadPoolExecutor(max_workers=2) as pool:
            answers = list(pool.map(coded, order))
    else:
        answers = [coded(item_id) for item_id in order]
    for item_id, (values, problems, n_declared) in zip(order, answers, strict=True):
        col = column_of[item_id]
        column = frame[col]
        declared[item_id] = n_declared
        if column.dtype != np.float64 or not np.shares_memory(values, column.to_numpy()):
            items[item_id] = values
        records.extend((kind, r + 1, col, value, _REASONS[kind]) for r, value, kind in problems)
    if names.PERSPECTIVE not in context:
        raters = {instrument.item(i).perspective for i in order}
        if len(raters) == 1:  # the items say who rated when the export does not
            context[names.PERSPECTIVE] = raters.pop()
    # Frames here carry the default 0..n-1 index (Excel's header rows are dropped with a
    # reset above), so no copy is spent re-indexing them.
    data = pd.concat([context, items], axis=1)
    used = set(item_of) | set(chosen.values())
    marks = platform.marks(frame, set(item_of), require_complete)
    records.extend(marks.findings)
    identifying = _identifying_id(frame, chosen.get(names.RESPONDENT_ID))
    if identifying is not None:
        records.append(identifying)
    return Export(
        data=data,
        platform=layout.platform,
        source=name,
        items=tuple(order),
        flags=marks.flags,
        flag_sources=dict(marks.sources),
        findings=pd.DataFrame(records, columns=list(FINDING_COLUMNS)),
        unmatched_columns=tuple(
            c for c in columns if c not in used and not platform.is_metadata(c)
        ),
        missing_items=tuple(
            i
            for i in instrument.item_ids
            if i not in item_of.values()
            and instrument.item(i).perspective in {instrument.item(j).perspective for j in order}
        ),
        encoding=encoding,
        delimiter=s.delimiter,
        raw=frame,
        declared_by_item=declared,
        identifiers=tuple(dropped),
        dictionary=dictionary.name if dictionary is not None else None,
        context_sources=dict(chosen),
    )


def _identifying_id(frame: pd.DataFrame, column: str | None) -> Finding | None:
    """A finding when the respondent id is itself an identifier (e-mail addresses, phone
    numbers, a medical record number): it is kept, as the key, and should be pseudonymised."""
    if column is None:
        return None
    found = identifier_values(frame[column]) or identifier_name(column)
    if found is None:
        return None
    return (
        "identifying_id",
        None,
        column,
        found,
        "the respondent id identifies the patient; pseudonymise it (pseudonymize: a key)",
    )
