"""What kind of file is this? Size, binary or text, encoding, delimiter, and the first rows.

Every refusal is an :class:`ExportError` with one line naming the file and what to do.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..wording import worded
from .fhir import is_fhir

DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB: about 12 million responses to 36 items as CSV
BINARY_SUFFIXES = {
    ".sav": "spss",
    ".zsav": "spss",
    ".dta": "stata",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".parquet": "parquet",
    ".pq": "parquet",
}
DELIMITERS = ",;\t|"
# A survey export has tens to hundreds of columns; a header past this is not one, and reading
# it would take minutes and gigabytes before anything could be said.
MAX_COLUMNS = 20_000
# Excel (.xlsx) is a zip of XML: its compressed size says little. Excel's own sheet holds at
# most 1,048,576 rows; the expanded size is bounded like a text export's (--max-size).
EXCEL_MAX_ROWS = 1_048_576
_PEEK_BYTES = 1 << 16
_HEADER_BYTES = 1 << 21  # a header row longer than 2 MiB is not a survey export's


class ExportError(ValueError):
    """An export that cannot be read at all (as opposed to data-quality findings)."""


@dataclass(frozen=True)
class Sniffed:
    path: Path
    kind: str  # 'text', 'spss', 'stata', 'excel', 'parquet' or 'fhir'
    encoding: str | None = None
    delimiter: str | None = None
    head: tuple[tuple[str, ...], ...] = ()  # the first rows from the header on
    offset: int = 0  # file rows above the header (``--header-row N`` skips N - 1)
    encoding_errors: str = "strict"  # 'replace' for a file that says UTF-8 but has bad bytes


def _size_text(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def _encoding(start: bytes) -> str:
    """The encoding, judged from the first bytes. A UTF-8 guess that later meets an invalid
    byte is read again as cp1252 by the reader."""
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if start.startswith(codecs.BOM_UTF8):
        # The file says it is UTF-8; a bad byte further on does not make it cp1252 (which
        # would read the BOM as part of the first column's name).
        return "utf-8-sig"
    # UTF-16 without a BOM: ASCII text with every other byte zero (and the others not).
    odd, even = start[1::2], start[0::2]
    if len(start) >= 4 and odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    try:
        # The last bytes of the sample may cut a character in two: drop up to three.
        (start if len(start) < _PEEK_BYTES else start[:-3]).decode("utf-8")
    except UnicodeDecodeError:
        # Excel's "CSV" on Windows: cp1252, a superset of Latin-1's printable characters.
        try:
            start.decode("cp1252")
        except UnicodeDecodeError:
            return "latin-1"
        return "cp1252"
    return "utf-8-sig" if start.startswith(codecs.BOM_UTF8) else "utf-8"


def _delimiter(sample: str) -> str:
    lines = [ln for ln in sample.splitlines() if ln.strip()][:20]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


_DIMENSION = re.compile(rb'<(?:\w+:)?dimension ref="[A-Z]+\d+:[A-Z]+(\d+)"')


def _check_excel(path: Path, max_bytes: int) -> None:
    """Refuse a workbook that expands past ``max_bytes`` or declares more rows than a sheet
    can hold, before anything is decompressed (a zip bomb is a small file)."""
    try:
        with zipfile.ZipFile(path) as book:
            entries = book.infolist()
            expanded = sum(e.file_size for e in entries)
            if expanded > max_bytes:
                raise ExportError(
                    worded(
                        f"{path.name}: the workbook expands to {_size_text(expanded)}, more "
                        f"than the {_size_text(max_bytes)} limit for one export; save it as "
                        "CSV, or raise the limit with `max_bytes`."
                    )
                )
            for entry in entries:
                if entry.filename.startswith("xl/worksheets/") and entry.filename.endswith(".xml"):
                    with book.open(entry) as sheet:
                        found = _DIMENSION.search(sheet.read(4096))
                    if found and int(found.group(1)) > EXCEL_MAX_ROWS:
                        raise ExportError(
                            f"{path.name}: a sheet declares {int(found.group(1)):,} rows, more "
                            f"than an Excel sheet holds ({EXCEL_MAX_ROWS:,}); save it as CSV."
                        )
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError):
        # Our words, not zipfile's ('Bad magic number for file header').
        raise ExportError(
            f"{path.name}: not a readable Excel file: it is damaged, or in another format "
            f"than its name says."
        ) from None


def sniff(
    path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, header_row: int | None = None
) -> Sniffed:
    """Check that ``path`` is a readable export and find how to read it; ``header_row`` is the
    row (1 = the first) that holds the column names, when rows above it are titles or notes."""
    if header_row is not None and header_row < 1:
        raise ExportError(f"'header-row' must be 1 or more; got {header_row}.")
    offset = (header_row or 1) - 1
    path = Path(path)
    if not path.exists():
        raise ExportError(f"{path}: no such file.")
    if path.is_dir():
        if is_fhir(path, b""):
            total = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
            if total > max_bytes:
                raise ExportError(
                    worded(
                        f"{path.name}: {_size_text(total)} of files is more than the "
                        f"{_size_text(max_bytes)} limit for one export; raise it with "
                        "`max_bytes`."
                    )
                )
            return Sniffed(path, "fhir")
        raise ExportError(
            f"{path}: is a directory, not an export file (a folder is read only when it holds "
            "FHIR .json or .ndjson files)."
        )
    size = path.stat().st_size
    if size == 0:
        raise ExportError(f"{path.name}: the file is empty.")
    if size > max_bytes:
        raise ExportError(
            worded(
                f"{path.name}: {_size_text(size)} is larger than the {_size_text(max_bytes)} "
                "limit for one export; split it, or raise the limit with `max_bytes`."
            )
        )
    kind = BINARY_SUFFIXES.get(path.suffix.lower())
    if kind is not None:
        if offset and kind != "excel":
            raise ExportError(
                worded(f"{path.name}: `header_row` applies to CSV and Excel files only.")
            )
        if kind == "excel":
            _check_excel(path, max_bytes)
        return Sniffed(path, kind, offset=offset)
    with path.open("rb") as handle:
        start = handle.read(_PEEK_BYTES)
        first_line = start
        while b"\n" not in first_line and len(first_line) < _HEADER_BYTES:
            more = handle.read(_PEEK_BYTES)
            if not more:
                break
            first_line += more
    if is_fhir(path, start):
        return Sniffed(path, "fhir")
    if start.startswith(b"$FL2") or start.startswith(b"$FL3"):
        return Sniffed(path, "spss")
    if start.startswith(b"PK\x03\x04"):
        _check_excel(path, max_bytes)
        return Sniffed(path, "excel", offset=offset)
    if start.startswith(b"PAR1"):
        return Sniffed(path, "parquet")
    header_line = first_line.split(b"\n", 1)[0]
    if (
        len(header_line) >= _HEADER_BYTES
        or max(header_line.count(d.encode()) for d in DELIMITERS) >= MAX_COLUMNS
    ):
        raise ExportError(
            f"{path.name}: the header has more than {MAX_COLUMNS:,} columns; a survey export "
            f"has far fewer (is the delimiter right?)."
        )
    encoding = _encoding(start)
    single_byte = encoding.startswith("utf-8") or encoding in ("cp1252", "latin-1")
    # A stray NUL or two (a damaged byte) leaves a text file a text file: the cell that holds
    # it is a finding. Many of them mean binary content.
    if single_byte and start.count(b"\x00") > max(2, len(start) // 10_000):
        raise ExportError(
            f"{path.name}: not a text file (binary content); expected CSV or TSV, Excel "
            f"(.xlsx), SPSS (.sav), Stata (.dta) or Parquet."
        )
    text = start.decode(encoding if encoding != "utf-16" else "utf-16", errors="replace")
    if not text.strip():
        raise ExportError(f"{path.name}: the file has no text.")
    delimiter = _delimiter(text)
    try:
        rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        head = tuple(tuple(row) for _, row in zip(range(offset + 6), rows, strict=False))
    except csv.Error as exc:
        raise ExportError(f"{path.name}: cannot be read as a table ({exc}).") from None
    if offset and len(head) <= offset:
        raise ExportError(f"{path.name}: there is no row {offset + 1} to take the header from.")
    if head and len(head[offset]) > MAX_COLUMNS:
        raise ExportError(
            f"{path.name}: the header has more than {MAX_COLUMNS:,} columns; a survey export "
            f"has far fewer (is the delimiter right?)."
        )
    return Sniffed(path, "text", encoding, delimiter, head[offset:], offset)
