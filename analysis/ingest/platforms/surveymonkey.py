"""SurveyMonkey: ``Respondent ID`` and ``Collector ID`` headers and a second header row with
each matrix statement's text."""

from __future__ import annotations

from typing import ClassVar

from ... import names
from .base import Conventions, Head, Layout, Platform


class SurveyMonkey(Platform):
    name = "surveymonkey"
    metadata = frozenset(
        {
            "Respondent ID",
            "Collector ID",
            "Start Date",
            "End Date",
            "IP Address",
            "Email Address",
            "First Name",
            "Last Name",
            "Custom Data 1",
        }
    )
    conventions: ClassVar[Conventions] = {
        names.RESPONSE_ID: "Respondent ID",
        names.DATE: "End Date",
    }

    def detect(self, head: Head) -> Layout | None:
        header = head[0] if head else ()
        second = head[1] if len(head) > 1 else ()
        if {"Respondent ID", "Collector ID"} <= set(header):
            return Layout(self.name, (1,), second)
        return None
