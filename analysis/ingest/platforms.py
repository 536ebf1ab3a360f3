"""Recognise the platform an export came from by its first rows, and what each one means.

- Qualtrics CSV: ``StartDate`` and ``ResponseId`` headers, a second row of question texts and a
  third of ``{"ImportId": ...}`` JSON. ``Status`` marks previews, tests and spam; ``Finished``
  unfinished responses; -99 is "seen but unanswered", a blank "not shown".
- SurveyMonkey: ``Respondent ID`` and ``Collector ID`` headers and a second header row with
  each matrix statement's text.
- REDCap raw record export: ``record_id`` first, ``redcap_repeat_instance``, ``<form>_complete``.
- REDCap label export: ``Record ID`` first and ``Complete?`` columns; field labels as headers and
  choice labels as answers.
- LimeSurvey: ``submitdate`` and ``lastpage`` headers, array questions as ``group[SQ]`` with
  answer codes such as ``A5``.
- Anything else: a plain table with item ids as column names (or a mapping file).
"""

from __future__ import annotations

from dataclasses import dataclass

QUALTRICS_STATUS = {
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
QUALTRICS_MISSING = ("-99",)  # seen but unanswered

# Columns each platform writes about a response (not answers): expected, so not findings.
METADATA = {
    "qualtrics": {
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
    },
    "surveymonkey": {
        "Respondent ID",
        "Collector ID",
        "Start Date",
        "End Date",
        "IP Address",
        "Email Address",
        "First Name",
        "Last Name",
        "Custom Data 1",
    },
    "redcap": {
        "record_id",
        "redcap_repeat_instrument",
        "redcap_repeat_instance",
        "redcap_event_name",
        "redcap_survey_identifier",
        "redcap_data_access_group",
    },
    "redcap_labels": {
        "Record ID",
        "Repeat Instrument",
        "Repeat Instance",
        "Event Name",
        "Survey Identifier",
        "Data Access Group",
    },
    "limesurvey": {
        "id",
        "submitdate",
        "lastpage",
        "startlanguage",
        "seed",
        "startdate",
        "datestamp",
        "ipaddr",
        "refurl",
    },
}


def is_metadata(platform: str, column: str) -> bool:
    if column in METADATA.get(platform, set()):
        return True
    return platform.startswith("redcap") and column.endswith(("_complete", "Complete?"))


@dataclass(frozen=True)
class Layout:
    platform: str
    skip: tuple[int, ...] = ()  # file rows (0 = header) that are more header, not data
    labels: tuple[str, ...] | None = None  # a second header row of texts, one per column


def detect(head: tuple[tuple[str, ...], ...]) -> Layout:
    header = head[0] if head else ()
    second = head[1] if len(head) > 1 else ()
    third = head[2] if len(head) > 2 else ()
    names = set(header)
    if {"StartDate", "ResponseId"} <= names or {"StartDate", "ResponseID"} <= names:
        if third and third[0].startswith('{"ImportId"'):
            return Layout("qualtrics", (1, 2), second)
        return Layout("qualtrics", (1,), second)  # legacy export: two header rows
    if {"Respondent ID", "Collector ID"} <= names:
        return Layout("surveymonkey", (1,), second)
    if (
        header
        and header[0] == "record_id"
        and ("redcap_repeat_instance" in names or any(h.endswith("_complete") for h in header))
    ):
        return Layout("redcap")
    if header and header[0] == "Record ID" and any(h.endswith("Complete?") for h in header):
        return Layout("redcap_labels")
    if {"submitdate", "lastpage"} <= names:
        return Layout("limesurvey")
    return Layout("csv")
