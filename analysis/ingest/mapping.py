"""Which export column is which item, and which holds the respondent, clinician, site, session
and date: from the platform's conventions, or from a small mapping file.

Mapping file (``--map MAP.yaml``)::

    columns:            # export column -> item id
      Q1_1: pb01
      Q1_2: pb02
    context:            # standard name -> export column
      respondent_id: PatientID
      clinician_id: Doctor
      date: VisitDate
    recode:             # answer text -> code, for labels the scales do not know
      "Totally agree": 5
    missing: [-9, 99, "N/A"]   # codes that mean "no answer"

Exact names first; when a rule finds two candidates for one item or context column, the read
stops with a message listing them rather than guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from instrument import Instrument

from .. import names
from ..fileio import read_yaml
from ..wording import worded
from .sniff import ExportError

CONTEXT_NAMES = (*names.CONTEXT_COLUMNS, *names.EXTRA_COLUMNS)


@dataclass(frozen=True)
class ColumnMap:
    """A mapping file's sections (all empty: no file). pydantic checks a file's fields and
    types, and is imported only then: 0.04 s of every command's start otherwise."""

    __pydantic_config__: ClassVar[dict[str, Any]] = {"extra": "forbid"}
    columns: dict[str, str] = field(default_factory=dict)
    context: dict[str, str] = field(default_factory=dict)
    recode: dict[str, float] = field(default_factory=dict)
    missing: list[float | str] = field(default_factory=list)


def load_map(path: str | Path | None) -> ColumnMap:
    if path is None:
        return ColumnMap()
    from pydantic import TypeAdapter, ValidationError

    path = Path(path)
    raw = read_yaml(path, ExportError, missing="no such mapping file") or {}
    try:
        mapping = TypeAdapter(ColumnMap).validate_python(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        why = "unknown field" if err["type"] == "unexpected_keyword_argument" else err["msg"]
        raise ExportError(f"{path.name}: field {where!r}: {why}.") from None
    unknown = sorted(set(mapping.context) - set(CONTEXT_NAMES))
    if unknown:
        raise ExportError(
            f"{path.name}: field 'context': unknown name {unknown[0]!r}; known names: "
            f"{', '.join(CONTEXT_NAMES)}."
        )
    return mapping


def fold(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def _refuse_duplicates(found: dict[str, str], what: str) -> None:
    by_target: dict[str, list[str]] = {}
    for column, target in found.items():
        by_target.setdefault(target, []).append(column)
    for target, columns in by_target.items():
        if len(columns) > 1:
            listed = ", ".join(repr(c) for c in columns)
            raise ExportError(
                worded(
                    f"columns {listed} could all be {what} {target!r}; name the right one in a "
                    "mapping file (`map_file`)."
                )
            )


def match_items(
    columns: Iterable[str],
    instrument: Instrument,
    *,
    explicit: dict[str, str] | None = None,
    layout: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, str]:
    """Export column -> item id. In order: the mapping file; item wording, from a header row of
    texts (``labels``: column -> text, the statement after the last ' - '); the platform's own
    column names (``layout``); item ids, exactly and then without regard to case."""
    columns = list(columns)
    explicit = explicit or {}
    unknown = [i for i in explicit.values() if i not in instrument.item_ids]
    if unknown:
        raise ExportError(f"mapping file: {unknown[0]!r} is not an item of '{instrument.name}'.")
    missing = [c for c in explicit if c not in columns]
    if missing:
        raise ExportError(f"mapping file: the export has no column {missing[0]!r}.")
    found = {c: i for c, i in explicit.items()}
    taken = set(found.values())
    rules: list[dict[str, str]] = []
    if labels:
        by_text = {fold(item.text): item.id for item in instrument.items if item.text}
        from_text = {}
        for column, text in labels.items():
            statement = fold(text.rsplit(" - ", 1)[-1])
            if statement in by_text:
                from_text[column] = by_text[statement]
        rules.append(from_text)
    rules.append(layout or {})
    rules.append({c: c for c in columns if c in instrument.item_ids})
    folded = {fold(i): i for i in instrument.item_ids}
    rules.append({c: folded[fold(c)] for c in columns if fold(c) in folded})
    for rule in rules:
        new = {c: i for c, i in rule.items() if c in columns and c not in found and i not in taken}
        _refuse_duplicates(new, "item")
        found.update(new)
        taken |= set(new.values())
    return found


# Columns that identify the respondent when no column is named respondent_id: common names,
# a REDCap record id, and R's unnamed row index (write.csv's first column, read as
# 'Unnamed: 0'). Taken only when exactly one of them is present.
RESPONDENT_FALLBACKS = (
    "patient_id",
    "participant_id",
    "subject_id",
    "study_id",
    "record_id",
    "id",
    "Unnamed: 0",
)


def match_context(
    columns: Iterable[str],
    explicit: dict[str, str],
    conventions: dict[str, str | tuple[str, ...]],
) -> dict[str, str]:
    """Standard context name -> export column: mapping file, platform conventions (the first
    candidate present), exact standard names, standard names without regard to case, and
    for the respondent a common id column (:data:`RESPONDENT_FALLBACKS`)."""
    columns = list(columns)
    for name, column in explicit.items():
        if column not in columns:
            raise ExportError(
                f"mapping file: context {name!r}: the export has no column {column!r}."
            )
    out = dict(explicit)
    for name, candidates in conventions.items():
        options = (candidates,) if isinstance(candidates, str) else candidates
        present = [c for c in options if c in columns]
        if name not in out and present:
            out[name] = present[0]
    for name in CONTEXT_NAMES:
        if name in out:
            continue
        if name in columns:
            out[name] = name
            continue
        alike = [c for c in columns if fold(c) == fold(name)]
        if len(alike) > 1:
            listed = ", ".join(repr(c) for c in alike)
            raise ExportError(
                worded(
                    f"columns {listed} could all be {name!r}; name the right one in a "
                    "mapping file (`map_file`)."
                )
            )
        if alike:
            out[name] = alike[0]
    if names.RESPONDENT_ID not in out:
        taken = set(out.values())
        folded = {fold(f) for f in RESPONDENT_FALLBACKS}
        found = [c for c in columns if fold(c) in folded and c not in taken]
        if len(found) == 1:
            out[names.RESPONDENT_ID] = found[0]
    return out
