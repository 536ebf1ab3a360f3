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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from instrument import Instrument
from instrument.exports.fhir import COMPLETION_SECONDS, SITE, questionnaire_url

from .. import names

# A finding as read.py records it (platforms.base.Finding; not imported, which would import
# every platform, this one's among them, before this module is done)
Finding = tuple[str, int | None, str, str, str]

SUFFIXES = (".json", ".ndjson", ".jsonl")
STATUS = "status"
QUESTIONNAIRE = "questionnaire"
ENCOUNTER = "encounter"
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


@dataclass
class _Read:
    rows: list[dict[str, Any]]
    findings: list[Finding]
    unreadable: list[bool]


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
    return [path]


def _resources(path: Path, read: _Read) -> Iterator[dict[str, Any]]:
    """Every resource of a file: a Bundle's entries, a lone resource, or NDJSON lines (a line
    that is not a JSON object becomes an unreadable row)."""
    text = path.read_text(encoding="utf-8-sig")
    stripped = text.strip()
    try:
        whole = json.loads(stripped)
    except json.JSONDecodeError as exc:
        whole = None
        first = stripped.split("\n", 1)[0]
        try:
            json.loads(first)
        except json.JSONDecodeError:
            # not NDJSON either (its first line is no resource): one broken JSON document
            raise ValueError(
                f"{path.name}: not valid JSON ({exc.msg} at line {exc.lineno}, column "
                f"{exc.colno}); a Bundle or resource must be one JSON object, a bulk export "
                "one per line."
            ) from None
    if isinstance(whole, dict):
        if whole.get("resourceType") == "Bundle":
            for entry in whole.get("entry") or []:
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(resource, dict):
                    yield resource
        else:
            yield whole
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            resource = json.loads(line)
        except json.JSONDecodeError as exc:
            resource = None
            reason = f"not JSON ({exc.msg} at column {exc.colno})"
        else:
            reason = "not a JSON object"
        if isinstance(resource, dict):
            yield resource
            continue
        read.rows.append({})
        read.unreadable.append(True)
        read.findings.append(
            ("unreadable_line", len(read.rows), path.name, f"line {number}", f"{reason}; set aside")
        )


def _reference(value: Any) -> tuple[str | None, str | None]:
    """A reference's resource type and id (``Patient/123`` or a full URL ending so), or its
    identifier's value."""
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str) and ref:
            parts = ref.rstrip("/").split("/")
            if "_history" in parts:
                parts = parts[: parts.index("_history")]
            kind = parts[-2] if len(parts) >= 2 else None
            return kind, parts[-1]
        ident = value.get("identifier")
        if isinstance(ident, dict) and ident.get("value") is not None:
            return value.get("type"), str(ident["value"])
    return None, None


def _answers(items: Any, out: dict[str, Any], unknown: list[str], known: set[str]) -> None:
    for item in items or []:
        if not isinstance(item, dict):
            continue
        link = item.get("linkId")
        for answer in item.get("answer") or []:
            if not isinstance(answer, dict):
                continue
            value: Any = None
            if isinstance(answer.get("valueCoding"), dict):
                value = answer["valueCoding"].get("code")
            elif "valueInteger" in answer:
                value = answer["valueInteger"]
            elif "valueDecimal" in answer:
                value = answer["valueDecimal"]
            elif "valueString" in answer:
                value = answer["valueString"]
            if isinstance(link, str):
                if link in known:
                    out[link] = value
                elif value is not None:
                    unknown.append(link)
            _answers(answer.get("item"), out, unknown, known)
        _answers(item.get("item"), out, unknown, known)


def read_fhir(path: Path, instrument: Instrument) -> tuple[pd.DataFrame, list[Finding]]:
    """The QuestionnaireResponses at ``path`` as a table (context columns, then one column per
    item answered anywhere), and the findings of reading them."""
    read = _Read([], [], [])
    known = set(instrument.item_ids)
    ours = questionnaire_url(instrument, None).rsplit("-", 1)[0] + "-"
    others: dict[str, int] = {}
    unknown_links: dict[str, int] = {}
    skipped: dict[str, int] = {}
    for file in _files(path):
        for resource in _resources(file, read):
            kind = resource.get("resourceType")
            if kind != "QuestionnaireResponse":
                skipped[str(kind)] = skipped.get(str(kind), 0) + 1
                continue
            identifier = resource.get("identifier")
            business = identifier.get("value") if isinstance(identifier, dict) else None
            row: dict[str, Any] = {
                names.RESPONSE_ID: business if business is not None else resource.get("id"),
                names.RESPONDENT_ID: _reference(resource.get("subject"))[1],
                names.DATE: resource.get("authored"),
                ENCOUNTER: _reference(resource.get("encounter"))[1],
                STATUS: resource.get("status"),
                QUESTIONNAIRE: resource.get("questionnaire"),
            }
            for extension in resource.get("extension") or []:
                if not isinstance(extension, dict):
                    continue
                if extension.get("url") == COMPLETION_SECONDS:
                    row[names.DURATION] = extension.get("valueDecimal")
                elif extension.get("url") == SITE:
                    row[names.SITE_ID] = extension.get("valueString")
            kind, author = _reference(resource.get("author"))
            if author is not None and kind in ("Practitioner", "PractitionerRole"):
                row[names.CLINICIAN_ID] = author
            unknown: list[str] = []
            _answers(resource.get("item"), row, unknown, known)
            for link in unknown:
                unknown_links[link] = unknown_links.get(link, 0) + 1
            url = row[QUESTIONNAIRE]
            row[OTHER] = isinstance(url, str) and not url.split("|")[0].startswith(ours)
            if row[OTHER]:
                others[url] = others.get(url, 0) + 1
            read.rows.append(row)
            read.unreadable.append(False)
    if not read.rows:
        found = ", ".join(f"{k} {v:,}" for k, v in skipped.items()) or "nothing"
        raise ValueError(f"{path.name}: no QuestionnaireResponse in it (found {found}).")
    frame = pd.DataFrame(read.rows)
    frame[UNREADABLE] = read.unreadable
    frame[OTHER] = frame[OTHER].fillna(False).astype(bool) if OTHER in frame else False
    for column in (names.RESPONSE_ID, names.RESPONDENT_ID, names.DATE, STATUS, QUESTIONNAIRE):
        if column not in frame:
            frame[column] = None
    frame[names.SESSION] = _sessions(frame)
    for link, count in unknown_links.items():
        read.findings.append(
            ("unknown_link", None, link, f"{count:,} answers", "a linkId that is no item of "
             f"instrument '{instrument.name}'; its answers are not read")
        )  # fmt: skip
    for url, count in others.items():
        read.findings.append(
            ("other_questionnaire", None, QUESTIONNAIRE, url,
             f"{count:,} responses to a Questionnaire of another instrument (ours start "
             f"{ours}); set aside")
        )  # fmt: skip
    for kind, count in skipped.items():
        read.findings.append(
            ("other_resource", None, "resourceType", kind, f"{count:,} resources that are not "
             "QuestionnaireResponses are passed over")
        )  # fmt: skip
    items = [i for i in instrument.item_ids if i in frame.columns]
    context = [c for c in frame.columns if c not in items]
    return frame[context + items], read.findings


def _sessions(frame: pd.DataFrame) -> pd.Series:
    """Each response's number among its subject's, by ``authored`` (then the order read)."""
    when = pd.to_datetime(frame[names.DATE], errors="coerce", utc=True)
    order = pd.DataFrame(
        {"who": frame[names.RESPONDENT_ID], "when": when, "at": np.arange(len(frame))}
    )
    ranked = order.sort_values(["who", "when", "at"], na_position="last")
    numbers = ranked.groupby("who", dropna=False).cumcount() + 1
    out = numbers.reindex(order.index).astype(float)
    out[frame[names.RESPONDENT_ID].isna().to_numpy()] = np.nan
    return out


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
