"""LimeSurvey: ``submitdate`` and ``lastpage`` headers, array questions as ``group[SQ]`` with
answer codes such as ``A5``; a response without a ``submitdate`` was not finished."""

from __future__ import annotations

import re
from typing import ClassVar

import pandas as pd

from instrument import Instrument

from ... import names
from ..mapping import fold
from .base import Conventions, Head, Layout, Marks, Platform


class LimeSurvey(Platform):
    name = "limesurvey"
    metadata = frozenset(
        {
            "id",
            "submitdate",
            "lastpage",
            "startlanguage",
            "seed",
            "startdate",
            "datestamp",
            "ipaddr",
            "refurl",
        }
    )
    conventions: ClassVar[Conventions] = {names.RESPONSE_ID: "id", names.DATE: "submitdate"}

    def detect(self, head: Head) -> Layout | None:
        header = head[0] if head else ()
        return Layout(self.name) if {"submitdate", "lastpage"} <= set(header) else None

    def item_columns(self, columns: list[str], instrument: Instrument) -> dict[str, str]:
        ids = {fold(i): i for i in instrument.item_ids}
        out = {}
        for column in columns:
            found = re.fullmatch(r".*\[(.+)\]", column)
            if found and fold(found.group(1)) in ids:
                out[column] = ids[fold(found.group(1))]
        return out

    def code_of(self, label: str) -> float | None:
        found = re.fullmatch(r"[Aa](\d+)", label)
        return float(found.group(1)) if found else None

    def marks(self, frame: pd.DataFrame, item_columns: set[str], require_complete: bool) -> Marks:
        flags = pd.Series("", index=frame.index, dtype=object)
        if "submitdate" not in frame:
            return Marks(flags)
        flags = flags.where(frame["submitdate"].notna(), "unfinished")
        return Marks(flags, (), (("unfinished", "submitdate"),))
