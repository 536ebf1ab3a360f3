"""HL7 FHIR QuestionnaireResponses as one more platform: a ``Bundle`` JSON file, an NDJSON bulk
export (one resource a line, FHIR Bulk Data), or a folder of either, read into the table every
other platform gives.

One row per QuestionnaireResponse, or per line of an NDJSON file that is not one (a malformed
line is a row without answers, set aside with its line number: nothing is lost):

- ``response_id``: the response's business ``identifier`` where it has one, else its ``id``;
- ``respondent_id``: the id its ``subject`` reference names (``123`` of ``Patient/123``, or of a
  full URL), pseudonymised on request as any id;
- ``clinician_id``: the id of its ``author`` when that is a Practitioner (or PractitionerRole);
- ``date``: ``authored``; ``session``: the response's order among the same subject's by
  ``authored`` (and its ``encounter`` kept beside it);
- ``status``: ``completed`` is read as it is, ``in-progress`` and ``amended`` are findings, and
  ``entered-in-error`` is set aside;
- ``questionnaire``: the canonical URL it answers; a response to another instrument's
  Questionnaire is set aside;
- ``duration`` and ``site_id`` from the project's extensions, where the record keeps them;
- one column per ``linkId`` (groups are walked), the answer's ``valueCoding.code`` or
  ``valueInteger``; a linkId that is no item of the instrument is a finding.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from instrument import Instrument
from instrument.exports.fhir import COMPLETION_SECONDS, SITE, questionnaire_url

from .. import names
from . import fhir_bulk
from .fhir_bulk import ENCOUNTER, PRACTITIONER, QUESTIONNAIRE, STATUS

# A finding as read.py records it (platforms.base.Finding; not imported, which would import
# every platform, this one's among them, before this module is done)
Finding = tuple[str, int | None, str, str, str]

SUFFIXES = (".json", ".ndjson", ".jsonl")
UNREADABLE = "fhir_unreadable"
OTHER = "fhir_other_questionnaire"
METADATA = frozenset({STATUS, QUESTIONNAIRE, ENCOUNTER, UNREADABLE, OTHER})
SET_ASIDE_STATUS = "entered-in-error"
NOTED_STATUS = ("in-progress", "amended", "stopped")


def is_fhir(path: Path, start: bytes) -> bool:
    """A JSON resource or NDJSON file (its first character ``{``), or a folder of them."""
    if path.is_dir():
        return any(p.suffix.lower() in SUFFIXES for p in path.iterdir())
    return start.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


CHUNK = 65_536  # rows a block of answers holds: the reader keeps arrays, not dicts per row
CONTEXT = (
    names.RESPONSE_ID,
    names.RESPONDENT_ID,
    names.CLINICIAN_ID,
    names.SITE_ID,
    names.DATE,
    names.DURATION,
    ENCOUNTER,
    STATUS,
    QUESTIONNAIRE,
)


@dataclass
class _Part:
    """Rows read: their context columns, their answers to the items ``columns`` places in the
    instrument, and their flags."""

    context: dict[str, Any]  # a column's values: an Arrow array, or an object array
    answers: np.ndarray
    columns: np.ndarray
    unreadable: np.ndarray
    other: np.ndarray


class _Collector:
    """The rows read so far, in parts: each part's context columns, its answers (a float
    block, one column per item answered so far: an instrument has many more items than a form)
    and its flags. Rows read one at a time fill lists and a block of CHUNK rows, which become a
    part when full; the bulk reader adds whole parts. The counts findings need are kept beside
    them."""

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.items = instrument.item_ids
        self.index = {item: k for k, item in enumerate(self.items)}
        self.parts: list[_Part] = []
        self.context: dict[str, list[Any]] = {c: [] for c in CONTEXT}
        self.unreadable: list[bool] = []
        self.other: list[bool] = []
        self.seen = np.zeros(len(self.items), dtype=bool)  # items some response holds
        self.block = np.full((CHUNK, len(self.items)), np.nan)
        self.filled = 0
        self.done = 0  # rows in the parts
        self.ours = questionnaire_url(instrument, None).rsplit("-", 1)[0] + "-"
        self.findings: list[Finding] = []
        self.others: dict[str, int] = {}
        self.unknown: dict[str, int] = {}
        self.uncoded: dict[str, int] = {}
        self.skipped: dict[str, int] = {}

    @property
    def rows(self) -> int:
        return self.done + self.filled

    def _flush(self) -> None:
        """The rows read one at a time become a part."""
        if not self.filled:
            return
        context = {
            c: np.fromiter(self.context[c], dtype=object, count=self.filled) for c in CONTEXT
        }
        columns = np.flatnonzero(self.seen)
        self.parts.append(
            _Part(
                context,
                self.block[: self.filled, columns],
                columns,
                np.array(self.unreadable, dtype=bool),
                np.array(self.other, dtype=bool),
            )
        )
        self.done += self.filled
        self.context = {c: [] for c in CONTEXT}
        self.unreadable, self.other = [], []
        self.block = np.full((CHUNK, len(self.items)), np.nan)
        self.filled = 0

    def _next_row(self) -> np.ndarray:
        if self.filled == CHUNK:
            self._flush()
        row = self.block[self.filled]
        self.filled += 1
        return row

    def add_bulk(self, bulk: fhir_bulk.Bulk) -> None:
        """The blocks the bulk reader read, after the rows read so far."""
        self._flush()
        for block in bulk.blocks:
            n = len(block.answers)
            context = {c: block.context[c] for c in CONTEXT}
            columns = np.flatnonzero(block.seen)
            self.parts.append(
                _Part(context, block.answers, columns, np.zeros(n, dtype=bool), block.other)
            )
            self.seen |= block.seen
            self.done += n
        for mine, theirs in (
            (self.others, bulk.others),
            (self.unknown, bulk.unknown),
            (self.uncoded, bulk.uncoded),
            (self.skipped, bulk.skipped),
        ):
            for key, count in theirs.items():
                mine[key] = mine.get(key, 0) + count

    def unreadable_line(self, file: str, number: int, reason: str) -> None:
        self._next_row()
        for column in CONTEXT:
            self.context[column].append(None)
        self.unreadable.append(True)
        self.other.append(False)
        self.findings.append(
            ("unreadable_line", self.rows, file, f"line {number}", f"{reason}; set aside")
        )

    def add(self, resource: dict[str, Any]) -> None:
        kind = resource.get("resourceType")
        if kind == "Bundle":  # a Bundle on one line, or one line of Bundles
            for entry in resource.get("entry") or []:
                inner = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(inner, dict):
                    self.add(inner)
            return
        if kind != "QuestionnaireResponse":
            self.skipped[str(kind)] = self.skipped.get(str(kind), 0) + 1
            return
        answers = self._next_row()
        identifier = resource.get("identifier")
        business = identifier.get("value") if isinstance(identifier, dict) else None
        values: dict[str, Any] = {
            names.RESPONSE_ID: business if business is not None else resource.get("id"),
            names.RESPONDENT_ID: _reference(resource.get("subject"))[1],
            names.DATE: resource.get("authored"),
            ENCOUNTER: _reference(resource.get("encounter"))[1],
            STATUS: resource.get("status"),
            QUESTIONNAIRE: _canonical(resource),
        }
        for extension in resource.get("extension") or []:
            if isinstance(extension, dict):
                if extension.get("url") == COMPLETION_SECONDS:
                    values[names.DURATION] = extension.get("valueDecimal")
                elif extension.get("url") == SITE:
                    values[names.SITE_ID] = extension.get("valueString")
        kind_of_author, author = _reference(resource.get("author"))
        if author is not None and kind_of_author in PRACTITIONER:
            values[names.CLINICIAN_ID] = author
        for column in CONTEXT:
            self.context[column].append(values.get(column))
        self._answers(resource.get("item"), answers)
        url = values[QUESTIONNAIRE]
        other = isinstance(url, str) and not url.split("|")[0].startswith(self.ours)
        if other:
            self.others[url] = self.others.get(url, 0) + 1
        self.unreadable.append(False)
        self.other.append(other)

    def _answers(self, items: Any, row: np.ndarray) -> None:
        """The answers of ``items`` into ``row``, through groups and answers' nested items
        (descended only where there are some: most items are leaves)."""
        if not isinstance(items, list):
            return
        for item in items:
            if not isinstance(item, dict):
                continue
            link = item.get("linkId")
            answers = item.get("answer")
            if answers:
                position = self.index.get(link) if isinstance(link, str) else None
                for answer in answers:
                    if not isinstance(answer, dict):
                        continue
                    if position is not None:
                        coding = answer.get("valueCoding")
                        code = coding.get("code") if isinstance(coding, dict) else None
                        value = None
                        if isinstance(code, str):  # the common case, without a call
                            try:
                                value = float(code)
                            except ValueError:
                                value = None
                        row[position] = value if value is not None else self._value(answer, link)
                        self.seen[position] = True
                    elif isinstance(link, str):
                        self.unknown[link] = self.unknown.get(link, 0) + 1
                    nested = answer.get("item")
                    if nested:
                        self._answers(nested, row)
            inner = item.get("item")
            if inner:
                self._answers(inner, row)

    def _value(self, answer: dict[str, Any], link: Any) -> float:
        """The answer's code: ``valueCoding.code`` (or its display, a scale label), or an
        integer or decimal value; NaN (counted) for what is no code of the scale."""
        coding = answer.get("valueCoding")
        if isinstance(coding, dict):
            code = coding.get("code")
            try:
                return float(str(code))
            except ValueError:
                scale = (
                    self.instrument.scale_of(link)
                    if isinstance(link, str) and link in self.index
                    else None
                )
                label = coding.get("display") or code
                found = scale.code_of(str(label)) if scale is not None and label else None
                if found is not None:
                    return float(found)
        else:
            for key in ("valueInteger", "valueDecimal"):
                if isinstance(answer.get(key), (int, float)):
                    return float(answer[key])
        if isinstance(link, str) and link in self.index:
            self.uncoded[link] = self.uncoded.get(link, 0) + 1
        return float("nan")

    def frame(self, name: str) -> tuple[pd.DataFrame, list[Finding]]:
        if not self.rows:
            found = ", ".join(f"{k} {v:,}" for k, v in self.skipped.items()) or "nothing"
            raise ValueError(f"{name}: no QuestionnaireResponse in it (found {found}).")
        self._flush()
        parts, self.parts = self.parts, []
        frame = pd.DataFrame({c: _column([p.context[c] for p in parts]) for c in CONTEXT})
        frame[UNREADABLE] = np.concatenate([p.unreadable for p in parts])
        frame[OTHER] = np.concatenate([p.other for p in parts])
        frame[names.SESSION] = _sessions(frame)
        items = [i for k, i in enumerate(self.items) if self.seen[k]]
        column_of = np.cumsum(self.seen) - 1  # an item's column among those answered
        answers = np.empty((len(frame), len(items)))
        at = 0
        while parts:  # each part's answers copied and let go, so they are held once
            part = parts.pop(0)
            n = len(part.other)
            held = column_of[part.columns]
            answers[at : at + n][:, held] = part.answers
            answers[at : at + n][:, np.setdiff1d(np.arange(len(items)), held)] = np.nan
            at += n
        frame = pd.concat([frame, pd.DataFrame(answers, columns=items, copy=False)], axis=1)
        empty = [c for c in (names.CLINICIAN_ID, names.SITE_ID, names.DURATION, ENCOUNTER)
                 if frame[c].isna().all()]  # fmt: skip
        return frame.drop(columns=empty), self.findings + self._findings()

    def _findings(self) -> list[Finding]:
        out: list[Finding] = []
        name = self.instrument.name
        for link, count in self.unknown.items():
            out.append(
                ("unknown_link", None, link, f"{count:,} answers", "a linkId that is no item of "
                 f"instrument '{name}'; its answers are not read")
            )  # fmt: skip
        for link, count in self.uncoded.items():
            out.append(
                ("uncoded_answer", None, link, f"{count:,} answers", "an answer that is no "
                 "code or label of the item's scale; left empty")
            )  # fmt: skip
        for url, count in self.others.items():
            out.append(
                ("other_questionnaire", None, QUESTIONNAIRE, url,
                 f"{count:,} responses to a Questionnaire of another instrument (ours start "
                 f"{self.ours}); set aside")
            )  # fmt: skip
        for kind, count in self.skipped.items():
            out.append(
                ("other_resource", None, "resourceType", kind, f"{count:,} resources that are "
                 "not QuestionnaireResponses are passed over")
            )  # fmt: skip
        return out


def _column(parts: list[Any]) -> pd.Series:
    """A context column from its parts (Arrow arrays from the bulk reader, object arrays from
    the line reader), typed as a list of its values would be: text as pandas' string type
    (kept in Arrow, not as a Python object a row), numbers as floats."""
    import pyarrow as pa

    try:
        arrays = [p if isinstance(p, pa.Array) else pa.array(p, from_pandas=True) for p in parts]
        types = {a.type for a in arrays} - {pa.null()}
        if len(types) > 1:
            raise TypeError(types)
        kind = types.pop() if types else pa.null()
        return pa.chunked_array([a.cast(kind) for a in arrays], type=kind).to_pandas()
    except (pa.ArrowException, TypeError):  # values of mixed types, as a line may give
        objects = [
            p.to_numpy(zero_copy_only=False) if isinstance(p, pa.Array) else p for p in parts
        ]
        return pd.Series(np.concatenate(objects).astype(object)).infer_objects()


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
    return [path]


def _read_file(path: Path, rows: _Collector, bulk: bool) -> None:
    """A Bundle, a lone resource, or NDJSON: in columns where the bulk reader can, else line by
    line (a line that is no JSON object becomes an unreadable row)."""
    with path.open("r", encoding="utf-8-sig") as handle:
        first = handle.readline()
        rest = handle.readline()
    one_line = json_line(first)
    if one_line is not None and (rest.strip() == "" or json_line(rest) is not None):
        read = fhir_bulk.read_ndjson(path, rows.index, rows.ours, split_reference) if bulk else None
        if read is not None:
            rows.add_bulk(read)
        else:
            _read_lines(path, rows)
        return
    text = path.read_text(encoding="utf-8-sig").strip()
    try:
        whole = json.loads(text)
    except json.JSONDecodeError as exc:
        if one_line is not None:  # NDJSON whose second line is broken
            _read_lines(path, rows)
            return
        raise ValueError(
            f"{path.name}: not valid JSON ({exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}); a Bundle or resource must be one JSON object, a bulk export "
            "one per line."
        ) from None
    if isinstance(whole, dict):
        rows.add(whole)
    else:
        raise ValueError(f"{path.name}: not a FHIR resource (a JSON object with resourceType).")


def json_line(line: str) -> dict[str, Any] | None:
    """A line that is a whole JSON object, or None."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _read_lines(path: Path, rows: _Collector) -> None:
    with path.open("r", encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                resource = json.loads(line)
            except json.JSONDecodeError as exc:
                rows.unreadable_line(
                    path.name, number, f"not JSON ({exc.msg} at column {exc.colno})"
                )
                continue
            if isinstance(resource, dict):
                rows.add(resource)
            else:
                rows.unreadable_line(path.name, number, "not a JSON object")


def _canonical(resource: dict[str, Any]) -> Any:
    """The Questionnaire a response answers: its ``questionnaire``, or where that is a local
    reference (``#q``, as SDC forms filled offline send it) the contained Questionnaire's
    ``url`` and ``version``."""
    url = resource.get("questionnaire")
    if not (isinstance(url, str) and url.startswith("#")):
        return url
    for inner in resource.get("contained") or []:
        if isinstance(inner, dict) and inner.get("id") == url[1:] and inner.get("url"):
            version = inner.get("version")
            return f"{inner['url']}|{version}" if version else inner["url"]
    return url


def _reference(value: Any) -> tuple[str | None, str | None]:
    """A reference's resource type and id (``Patient/123`` or a full URL ending so), or its
    identifier's value."""
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str) and ref:
            return split_reference(ref)
        ident = value.get("identifier")
        if isinstance(ident, dict) and ident.get("value") is not None:
            return value.get("type"), str(ident["value"])
    return None, None


def split_reference(ref: str) -> tuple[str | None, str]:
    """``Patient/123``, or a full URL ending so (a version's ``_history`` cut off): the type
    and the id."""
    parts = ref.rstrip("/").split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    kind = parts[-2] if len(parts) >= 2 else None
    return kind, parts[-1]


def read_fhir(
    path: Path, instrument: Instrument, *, bulk: bool = True
) -> tuple[pd.DataFrame, list[Finding]]:
    """The QuestionnaireResponses at ``path`` as a table (context columns, then one column per
    item some response holds), and the findings of reading them. An NDJSON file is read by
    :mod:`analysis.ingest.fhir_bulk` where it can be (``bulk=False``: always line by line)."""
    rows = _Collector(instrument)
    for file in _files(path):
        _read_file(file, rows, bulk)
    return rows.frame(path.name)


def _sessions(frame: pd.DataFrame) -> pd.Series:
    """Each response's number among its subject's, by ``authored`` (then the order read)."""
    who, _ = pd.factorize(frame[names.RESPONDENT_ID])  # -1 where there is no subject
    when = pd.to_datetime(frame[names.DATE], errors="coerce", utc=True)
    stamp = when.to_numpy(dtype="datetime64[ns]").view(np.int64)
    stamp = np.where(when.isna().to_numpy(), np.iinfo(np.int64).max, stamp)  # undated last
    order = np.lexsort((np.arange(len(frame)), stamp, who))
    ranked = who[order]
    first = np.r_[True, ranked[1:] != ranked[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    numbers = np.empty(len(order))
    numbers[order] = np.arange(len(order)) - start + 1
    numbers[who < 0] = np.nan
    return pd.Series(numbers, index=frame.index)


def marks(frame: pd.DataFrame) -> tuple[pd.Series, list[Finding]]:
    """Rows set aside (``entered-in-error``, ``other_questionnaire``, ``unreadable``), and the
    statuses noted."""
    flags = pd.Series("", index=frame.index, dtype=object)
    findings: list[Finding] = []
    status = frame[STATUS].astype(object) if STATUS in frame else pd.Series(None, index=frame.index)
    flags[(status == SET_ASIDE_STATUS).to_numpy()] = "entered_in_error"
    if OTHER in frame:
        flags[frame[OTHER].astype(bool).to_numpy() & (flags == "").to_numpy()] = (
            "other_questionnaire"
        )
    if UNREADABLE in frame:
        flags[frame[UNREADABLE].astype(bool).to_numpy()] = "unreadable"
    counts = status[status.isin(NOTED_STATUS)].value_counts()
    for value, count in counts.items():
        findings.append(
            ("fhir_status", None, STATUS, str(value), f"{count:,} responses marked {value}; read "
             "as they are")
        )  # fmt: skip
    wrong = int((status == SET_ASIDE_STATUS).sum())
    if wrong:
        findings.append(
            ("fhir_status", None, STATUS, SET_ASIDE_STATUS, f"{wrong:,} responses marked "
             "entered-in-error; set aside")
        )  # fmt: skip
    return flags, findings
