"""What a damaged export shows once read, as findings rather than a refusal: NUL bytes in
cells, a text file that had to be read as Windows cp1252, a last record cut off by the end of
the file, and names that head more than one column. Each finding is a row of the export's
findings: (kind, row, column, value, reason)."""

from __future__ import annotations

import codecs
import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .sniff import Sniffed

Finding = tuple[str, int | None, str, str, str]


def text_damage(s: Sniffed, encoding: str | None, frame: pd.DataFrame) -> list[Finding]:
    """Findings on a text file's damage: NUL bytes in cells (each replaced by U+FFFD, so no
    store or terminal meets one), a UTF-8 file that had to be read as cp1252, and a last
    record cut off before its end."""
    out: list[Finding] = []
    for column in frame.columns if _holds_nul(s.path) else ():
        values = frame[column]
        if values.dtype.kind not in "OSU" and not pd.api.types.is_string_dtype(values.dtype):
            continue
        hit = values.astype("string").str.contains("\x00", regex=False).fillna(False)
        if hit.any():
            cleaned = values[hit].astype(str).str.replace("\x00", "\ufffd")
            frame[column] = values.where(~hit, cleaned)
            reason = "a NUL byte in the cell (shown as \ufffd)"
            out += [
                ("nul_byte", int(r) + 1, column, "\\x00", reason)
                for r in np.flatnonzero(hit.to_numpy())
            ]
    if encoding == "cp1252":
        line = _first_bad_utf8_line(s.path)
        out.append(
            (
                "encoding",
                None,
                "",
                f"line {line}",
                f"not valid UTF-8 from line {line} on, so the file was read as Windows cp1252; "
                "if it is UTF-8 with a damaged byte, text near that line may be wrong",
            )
        )
    with s.path.open("rb") as handle:
        handle.seek(max(0, s.path.stat().st_size - 65536))
        tail = handle.read()
    if tail and not tail.endswith((b"\n", b"\r")) and len(frame):
        last = tail.rsplit(b"\n", 1)[-1].decode(encoding or "utf-8", errors="replace")
        try:
            reader = csv.reader(io.StringIO(last, newline=""), delimiter=s.delimiter or ",")
            fields = next(reader, [])
        except csv.Error:  # the cut fell inside a quoted field
            fields = []
        width = len(s.head[0]) if s.head else len(frame.columns)
        if len(fields) < width:
            out.append(
                (
                    "cut_off",
                    len(frame),
                    "",
                    f"{len(fields)} of {width} fields",
                    "the file ends in the middle of this record: its last fields were lost "
                    "(was the export cut short?)",
                )
            )
    return out


def _holds_nul(path: Path) -> bool:
    """Whether the file has a NUL byte anywhere: one pass over its bytes (memchr's speed),
    so that only a file that does is searched cell by cell."""
    with path.open("rb") as handle:
        while block := handle.read(1 << 22):
            if b"\x00" in block:
                return True
    return False


def _first_bad_utf8_line(path: Path) -> int:
    """The line (1 = the header) of a file's first byte that is not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 1
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                return lines + block[: exc.start].count(b"\n")
            lines += block.count(b"\n")
    return lines


def duplicate_columns(header: list[str] | None, columns: list[str]) -> list[Finding]:
    """A finding per name that heads more than one column. The first such column is read
    under the name; pandas reads the others as 'name.1', 'name.2', which match nothing."""
    out: list[Finding] = []
    if header is not None:
        positions: dict[str, list[int]] = {}
        for k, column in enumerate(header):
            positions.setdefault(column, []).append(k + 1)
        repeated = {c: p for c, p in positions.items() if len(p) > 1}
    else:  # a workbook: only the names pandas gave the repeats are left
        present = set(columns)
        repeated = {}
        for k, column in enumerate(columns):
            found = re.fullmatch(r"(.+)\.(\d+)", column)
            if found and found.group(1) in present:
                repeated.setdefault(found.group(1), [columns.index(found.group(1)) + 1])
                repeated[found.group(1)].append(k + 1)
    for column, where in repeated.items():
        places = ", ".join(str(p) for p in where)
        out.append(
            (
                "duplicate_column",
                None,
                column,
                f"columns {places}",
                f"{len(where)} columns are named so; the first (column {where[0]}) is read "
                f"under the name, the others as '{column}.1' and so on",
            )
        )
    return out
