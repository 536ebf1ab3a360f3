"""Recognise the platform an export came from by its first rows, and what each one means.

- Qualtrics CSV: ``StartDate`` and ``ResponseId`` headers, a second row of question texts and a
  third of ``{"ImportId": ...}`` JSON (double or single quotes). The legacy export has a row
  ``V1..Vn`` (then question ids) first and the metadata names (``ResponseID``, ``StartDate``)
  with the question texts in the second row; the ``Vk`` columns take their second-row names.
  ``Status`` marks previews, tests and spam; ``Finished`` unfinished responses; -99 is "seen
  but unanswered", a blank "not shown".
- SurveyMonkey: ``Respondent ID`` and ``Collector ID`` headers and a second header row with
  each matrix statement's text.
- REDCap raw record export: recognised by REDCap's own columns (``redcap_repeat_instrument``,
  ``redcap_repeat_instance``, ``redcap_event_name``, ``redcap_survey_identifier``,
  ``<form>_complete``) whatever the record id in the first column is called (``record_id``,
  ``study_id``, ``patient_id``...).
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
        # the legacy export's names
        "ResponseSet",
        "Name",
        "EmailAddress",
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
    if platform == "qualtrics" and column[:1] == "V" and column[1:].isdigit():
        return True  # a legacy export's unnamed metadata column
    return platform.startswith("redcap") and column.endswith(("_complete", "Complete?"))


REDCAP_COLUMNS = (
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
    "redcap_event_name",
    "redcap_survey_identifier",
)


@dataclass(frozen=True)
class Layout:
    platform: str
    skip: tuple[int, ...] = ()  # file rows (0 = header) that are more header, not data
    labels: tuple[str, ...] | None = None  # a second header row of texts, one per column
    id_column: str | None = None  # the platform's record id column (REDCap's first column)
    rename: tuple[tuple[str, str], ...] = ()  # header name -> the name the platform means


def _import_id(cell: str) -> bool:
    return cell.replace("'", '"').replace(" ", "").startswith('{"ImportId"')


def _legacy_qualtrics(header: tuple[str, ...], second: tuple[str, ...]) -> bool:
    return (
        len(header) >= 2
        and header[:2] == ("V1", "V2")
        and ("ResponseID" in second or "ResponseId" in second)
    )


def detect(head: tuple[tuple[str, ...], ...]) -> Layout:
    header = head[0] if head else ()
    second = head[1] if len(head) > 1 else ()
    third = head[2] if len(head) > 2 else ()
    names = set(header)
    if {"StartDate", "ResponseId"} <= names or {"StartDate", "ResponseID"} <= names:
        if third and _import_id(third[0]):
            return Layout("qualtrics", (1, 2), second)
        return Layout("qualtrics", (1,), second)  # two header rows
    if _legacy_qualtrics(header, second):
        rename = tuple(
            (h, text)
            for h, text in zip(header, second, strict=False)
            if h[:1] == "V" and h[1:].isdigit() and text
        )
        skip = (1, 2) if third and _import_id(third[0]) else (1,)
        return Layout("qualtrics", skip, second, rename=rename)
    if {"Respondent ID", "Collector ID"} <= names:
        return Layout("surveymonkey", (1,), second)
    if header and (
        names & set(REDCAP_COLUMNS)
        or (header[0] == "record_id" and any(h.endswith("_complete") for h in header))
    ):
        return Layout("redcap", id_column=header[0])
    if header and header[0] == "Record ID" and any(h.endswith("Complete?") for h in header):
        return Layout("redcap_labels")
    if {"submitdate", "lastpage"} <= names:
        return Layout("limesurvey")
    return Layout("csv")
