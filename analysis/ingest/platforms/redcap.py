"""REDCap: the raw record export, recognised by REDCap's own columns
(``redcap_repeat_instrument``, ``redcap_repeat_instance``, ``redcap_event_name``,
``redcap_survey_identifier``, ``<form>_complete``) whatever the record id in the first column is
called (``record_id``, ``study_id``, ``patient_id``...); and the label export, ``Record ID``
first and ``Complete?`` columns, field labels as headers and choice labels as answers.

A response is a record's event and repeat instance; a form's status (set by hand: 0
Incomplete, 1 Unverified, 2 Complete) is reported, and sets rows aside only when asked."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd

from instrument import Instrument

from ... import names
from .base import Conventions, Finding, Head, Layout, Marks, Platform, folded

COLUMNS = (
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
    "redcap_event_name",
    "redcap_survey_identifier",
)
_STATUS = {"0": "Incomplete", "1": "Unverified", "2": "Complete", "": "blank"}


def _status_columns(columns: list[str], item_columns: set[str]) -> list[str]:
    """The form status columns of the forms holding the items. REDCap lists a form's fields
    and then its ``<form>_complete`` column, so an item's form status is the first status
    column after it."""
    status = [k for k, c in enumerate(columns) if c.endswith(("_complete", "Complete?"))]
    found: list[str] = []
    for k, column in enumerate(columns):
        if column in item_columns:
            after = [j for j in status if j > k]
            if after and columns[after[0]] not in found:
                found.append(columns[after[0]])
    return found


class _REDCap(Platform):
    def is_metadata(self, column: str) -> bool:
        return column in self.metadata or column.endswith(("_complete", "Complete?"))

    def marks(self, frame: pd.DataFrame, item_columns: set[str], require_complete: bool) -> Marks:
        # REDCap's form status is set by hand and often left at 0 on forms whose answers are
        # all there: it is reported, and sets rows aside only when asked (require_complete).
        # Rows without answers are set aside anyway.
        flags = pd.Series("", index=frame.index, dtype=object)
        records: list[Finding] = []
        sources: dict[str, str] = {}
        for column in _status_columns(list(frame.columns), item_columns):
            value = folded(frame[column])
            named = value.map(lambda v: _STATUS.get(v, v.capitalize()))
            counts = named.value_counts()
            shown = ", ".join(f"{label} {count:,}" for label, count in counts.items())
            if require_complete:
                flags = flags.where(value.isin(["2", "complete"]) | (flags != ""), "unfinished")
                sources["unfinished"] = column
                reason = "REDCap form status; rows not marked Complete are set aside"
            else:
                reason = (
                    "REDCap form status (set by hand); rows are not set aside for it, only "
                    "for lacking answers (require_complete: set aside rows not Complete)"
                )
            records.append(("form_status", None, column, shown, reason))
        return Marks(flags, tuple(records), tuple(sources.items()))


class REDCap(_REDCap):
    """The raw record export."""

    name = "redcap"
    metadata = frozenset(
        {
            "record_id",
            "redcap_repeat_instrument",
            "redcap_repeat_instance",
            "redcap_event_name",
            "redcap_survey_identifier",
            "redcap_data_access_group",
        }
    )
    conventions: ClassVar[Conventions] = {names.DATE: "visit_date"}

    def detect(self, head: Head) -> Layout | None:
        header = head[0] if head else ()
        if header and (
            set(header) & set(COLUMNS)
            or (header[0] == "record_id" and any(h.endswith("_complete") for h in header))
        ):
            return Layout(self.name, id_column=header[0])
        return None

    def keys(self, frame: pd.DataFrame, context: pd.DataFrame) -> None:
        if names.RESPONDENT_ID in context:
            _keys(frame, context)


class REDCapLabels(_REDCap):
    """The label export: field labels as headers, choice labels as answers."""

    name = "redcap_labels"
    metadata = frozenset(
        {
            "Record ID",
            "Repeat Instrument",
            "Repeat Instance",
            "Event Name",
            "Survey Identifier",
            "Data Access Group",
        }
    )
    conventions: ClassVar[Conventions] = {
        names.RESPONDENT_ID: "Record ID",
        names.SESSION: "Repeat Instance",
        names.DATE: "Date of visit",
        names.CLINICIAN_ID: "Clinician ID",
        names.SITE_ID: "Site",
    }

    def detect(self, head: Head) -> Layout | None:
        header = head[0] if head else ()
        if header and header[0] == "Record ID" and any(h.endswith("Complete?") for h in header):
            return Layout(self.name)
        return None

    def labels_are_headers(self) -> bool:
        return True

    def item_columns(self, columns: list[str], instrument: Instrument) -> dict[str, str]:
        return {}

    def keys(self, frame: pd.DataFrame, context: pd.DataFrame) -> None:
        if names.RESPONSE_ID not in context:
            session = context.get(names.SESSION, pd.Series(1, index=frame.index)).fillna(1)
            context[names.RESPONSE_ID] = (
                context[names.RESPONDENT_ID].astype(str) + "_" + session.astype(int).astype(str)
            )


def _keys(frame: pd.DataFrame, out: pd.DataFrame) -> None:
    """REDCap's keys: a response per record, event and repeat instance. The record's base row
    (no repeat instrument) is its own response, apart from repeat instance 1; a longitudinal
    export's events become sessions in the order the export lists them."""
    record = out[names.RESPONDENT_ID].astype(str)
    parts: list[pd.Series] = [record]
    session: pd.Series | None = None
    if "redcap_event_name" in frame:
        event = frame["redcap_event_name"].astype(object).where(frame["redcap_event_name"].notna())
        order = {e: k + 1 for k, e in enumerate(pd.unique(event.dropna()))}
        parts.append(event.fillna("").astype(str))
        session = event.map(order).astype(float)
    if "redcap_repeat_instance" in frame:
        instance = pd.to_numeric(frame["redcap_repeat_instance"], errors="coerce")
        repeat = frame.get("redcap_repeat_instrument")
        label = (
            repeat.astype(object).where(repeat.notna(), "").astype(str)
            if repeat is not None
            else pd.Series("", index=frame.index)
        )
        tagged = instance.notna()
        parts.append(
            pd.Series(
                np.where(tagged, label + "#" + instance.fillna(0).astype(int).astype(str), ""),
                index=frame.index,
            )
        )
        if session is None:
            # Base rows hold the record's non-repeating forms: their session is unknown
            # unless the export has no repeat instances at all.
            session = instance if tagged.any() else pd.Series(1.0, index=frame.index)
    key = parts[0]
    for part in parts[1:]:
        key = key + np.where(part != "", "_" + part, "")
    if names.RESPONSE_ID not in out:
        out[names.RESPONSE_ID] = key
    if names.SESSION not in out and session is not None:
        out[names.SESSION] = session
    elif names.SESSION not in out:
        out[names.SESSION] = 1.0
