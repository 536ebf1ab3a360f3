"""Qualtrics CSV: ``StartDate`` and ``ResponseId`` headers, a second row of question texts and a
third of ``{"ImportId": ...}`` JSON (double or single quotes). The legacy export has a row
``V1..Vn`` (then question ids) first and the metadata names (``ResponseID``, ``StartDate``)
with the question texts in the second row; the ``Vk`` columns take their second-row names.
``Status`` marks previews, tests and spam; ``Finished`` unfinished responses; -99 is "seen
but unanswered", a blank "not shown"."""

from __future__ import annotations

from typing import ClassVar

import pandas as pd

from instrument import Instrument
from instrument.exports.qualtrics import qualtrics_columns

from ... import names
from .base import Conventions, Head, Layout, Marks, Platform, folded

STATUS = {
    "0": None,
    "ip address": None,
    "1": "preview",
    "survey preview": "preview",
    "2": "test",
    "survey test": "test",
    "4": None,
    "imported": None,
    "8": "spam",
    "spam": "spam",
    "16": None,
    "offline": None,
}


def _import_id(cell: str) -> bool:
    return cell.replace("'", '"').replace(" ", "").startswith('{"ImportId"')


def _legacy(header: tuple[str, ...], second: tuple[str, ...]) -> bool:
    return (
        len(header) >= 2
        and header[:2] == ("V1", "V2")
        and ("ResponseID" in second or "ResponseId" in second)
    )


class Qualtrics(Platform):
    name = "qualtrics"
    metadata = frozenset(
        {
            "StartDate",
            "EndDate",
            "Status",
            "IPAddress",
            "Progress",
            "Duration (in seconds)",
            "Finished",
            "RecordedDate",
            "ResponseId",
            "ResponseID",
            "RecipientLastName",
            "RecipientFirstName",
            "RecipientEmail",
            "ExternalReference",
            "ExternalDataReference",
            "LocationLatitude",
            "LocationLongitude",
            "DistributionChannel",
            "UserLanguage",
            # the legacy export's names
            "ResponseSet",
            "Name",
            "EmailAddress",
        }
    )
    conventions: ClassVar[Conventions] = {
        names.RESPONSE_ID: ("ResponseId", "ResponseID"),
        names.DURATION: "Duration (in seconds)",
        names.DATE: "RecordedDate",
    }
    missing_codes = ("-99",)  # seen but unanswered

    def detect(self, head: Head) -> Layout | None:
        header = head[0] if head else ()
        second = head[1] if len(head) > 1 else ()
        third = head[2] if len(head) > 2 else ()
        found = set(header)
        if {"StartDate", "ResponseId"} <= found or {"StartDate", "ResponseID"} <= found:
            if third and _import_id(third[0]):
                return Layout(self.name, (1, 2), second)
            return Layout(self.name, (1,), second)  # two header rows
        if _legacy(header, second):
            rename = tuple(
                (h, text)
                for h, text in zip(header, second, strict=False)
                if h[:1] == "V" and h[1:].isdigit() and text
            )
            skip = (1, 2) if third and _import_id(third[0]) else (1,)
            return Layout(self.name, skip, second, rename=rename)
        return None

    def is_metadata(self, column: str) -> bool:
        # A legacy export's unnamed metadata column is V1, V2, ...
        return column in self.metadata or (column[:1] == "V" and column[1:].isdigit())

    def item_columns(self, columns: list[str], instrument: Instrument) -> dict[str, str]:
        """Our survey's column names (``bond_3``) for the form that fits the export best: the
        most columns present, then the fewest of its columns absent (the short form's
        ``bond_1..4`` also fit the full form, whose ``bond_2`` is another item)."""
        best: dict[str, str] = {}
        best_key = (0, 0)
        for form in (*instrument.forms, None):
            try:
                candidate = qualtrics_columns(instrument, form)
            except ValueError:
                continue
            present = {c: i for c, i in candidate.items() if c in columns}
            key = (len(present), -(len(candidate) - len(present)))
            if present and key > best_key:
                best, best_key = present, key
        return best

    def marks(self, frame: pd.DataFrame, item_columns: set[str], require_complete: bool) -> Marks:
        flags = pd.Series("", index=frame.index, dtype=object)
        sources: dict[str, str] = {}
        if "Status" in frame:
            status = folded(frame["Status"])
            flags = status.map(STATUS).fillna("").astype(object)
            sources.update(dict.fromkeys(("preview", "test", "spam"), "Status"))
        if "Finished" in frame:
            finished = folded(frame["Finished"])
            flags = flags.where(~finished.isin(["0", "false"]) | (flags != ""), "unfinished")
            sources["unfinished"] = "Finished"
        return Marks(flags, (), tuple(sources.items()))
