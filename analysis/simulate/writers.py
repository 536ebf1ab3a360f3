"""Write a simulated export the way the real platforms write theirs.

- ``csv``: one header row, context columns then items, blanks for missing answers.
- ``qualtrics``: Qualtrics' CSV export, UTF-8 with BOM: three header rows (export tags, question
  texts, ImportId JSON), the platform's metadata columns, matrix columns named ``<question>_<k>``
  as our Advanced Format survey produces them, embedded data last. An unanswered item on a page
  the respondent saw is -99; a block the respondent never answered is blank.
- ``redcap``: REDCap's raw record export of a repeating instrument: ``record_id``,
  ``redcap_repeat_instrument``, ``redcap_repeat_instance``, the fields of our data dictionary,
  and ``<form>_complete``.
- ``fhir``: HL7 FHIR R4 QuestionnaireResponses answering the form's Questionnaire, as an
  NDJSON bulk export (a name ending .ndjson) or a Bundle.
- ``sav``: SPSS with variable labels (item wording), value labels (scale labels) and -9 declared
  as a user-missing "No answer" code.

Files are written to a temporary name and moved into place, so a failed write leaves nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat

from instrument import Instrument
from instrument.exports.fhir import COMPLETION_SECONDS, SITE, questionnaire_url, scale_system
from instrument.exports.layout import layout as fhir_layout
from instrument.exports.qualtrics import (
    EMBEDDED_FIELDS,
    qualtrics_columns,
    qualtrics_question_texts,
)
from instrument.exports.redcap import redcap_field_name, redcap_form_name

from .. import names
from ..choices import SIMULATE_FORMATS
from ..fileio import atomic_path
from .population import Simulated

SEEN_UNANSWERED = -99  # Qualtrics' code for a question shown but not answered
SPSS_NO_ANSWER = -9

QUALTRICS_META = (
    ("StartDate", "Start Date", {"ImportId": "startDate", "timeZone": "UTC"}),
    ("EndDate", "End Date", {"ImportId": "endDate", "timeZone": "UTC"}),
    ("Status", "Response Type", {"ImportId": "status"}),
    ("IPAddress", "IP Address", {"ImportId": "ipAddress"}),
    ("Progress", "Progress", {"ImportId": "progress"}),
    ("Duration (in seconds)", "Duration (in seconds)", {"ImportId": "duration"}),
    ("Finished", "Finished", {"ImportId": "finished"}),
    ("RecordedDate", "Recorded Date", {"ImportId": "recordedDate", "timeZone": "UTC"}),
    ("ResponseId", "Response ID", {"ImportId": "_recordId"}),
    ("RecipientLastName", "Recipient Last Name", {"ImportId": "recipientLastName"}),
    ("RecipientFirstName", "Recipient First Name", {"ImportId": "recipientFirstName"}),
    ("RecipientEmail", "Recipient Email", {"ImportId": "recipientEmail"}),
    ("ExternalReference", "External Data Reference", {"ImportId": "externalDataReference"}),
    ("LocationLatitude", "Location Latitude", {"ImportId": "locationLatitude"}),
    ("LocationLongitude", "Location Longitude", {"ImportId": "locationLongitude"}),
    ("DistributionChannel", "Distribution Channel", {"ImportId": "distributionChannel"}),
    ("UserLanguage", "User Language", {"ImportId": "userLanguage"}),
)


def _items(sim: Simulated) -> pd.DataFrame:
    return sim.data.loc[:, list(sim.items)]


def _write_csv(sim: Simulated, instrument: Instrument, path: Path) -> None:
    out = sim.data.copy()
    out[list(sim.items)] = _items(sim).astype("Int64")
    out.to_csv(path, index=False)


def _qualtrics_times(data: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    # A deterministic time of day between 08:00 and 18:00 for each response.
    order = np.arange(len(data))
    start_of_day = pd.to_datetime(data[names.DATE]) + pd.to_timedelta(
        8 * 3600 + (order * 7919) % (10 * 3600), unit="s"
    )
    end = start_of_day + pd.to_timedelta(data[names.DURATION], unit="s")
    fmt = "%Y-%m-%d %H:%M:%S"
    return start_of_day.dt.strftime(fmt), end.dt.strftime(fmt)


def _write_qualtrics(sim: Simulated, instrument: Instrument, path: Path) -> None:
    data = sim.data
    columns = qualtrics_columns(instrument, sim.form or None)
    texts = qualtrics_question_texts(instrument, sim.form or None)
    start, end = _qualtrics_times(data)
    n = len(data)
    meta: dict[str, pd.Series | str | int] = {
        "StartDate": start,
        "EndDate": end,
        "Status": 0,
        "IPAddress": "",  # anonymised responses carry no IP address or location
        "Progress": 100,
        "Duration (in seconds)": data[names.DURATION].astype(np.int64),
        "Finished": 1,
        "RecordedDate": end,
        "ResponseId": data[names.RESPONSE_ID],
        "RecipientLastName": "",
        "RecipientFirstName": "",
        "RecipientEmail": "",
        "ExternalReference": "",
        "LocationLatitude": "",
        "LocationLongitude": "",
        "DistributionChannel": "anonymous",
        "UserLanguage": "EN",
    }
    body = pd.DataFrame(
        {key: value if isinstance(value, pd.Series) else [value] * n for key, value in meta.items()}
    )
    answers = _items(sim)
    block_of = {col: col.rsplit("_", 1)[0] for col in columns}
    for block in dict.fromkeys(block_of.values()):
        block_columns = [c for c in columns if block_of[c] == block]
        shown = answers[[columns[c] for c in block_columns]].notna().any(axis=1)
        for col in block_columns:
            answer = answers[columns[col]]
            values = answer.astype("Int64").astype(object)
            values[answer.isna() & shown] = SEEN_UNANSWERED
            values[~shown] = ""
            body[col] = values.to_numpy()
    for name in EMBEDDED_FIELDS:
        body[name] = data[name].to_numpy()
    header = [k for k, _, _ in QUALTRICS_META] + list(columns) + list(EMBEDDED_FIELDS)
    labels = (
        [label for _, label, _ in QUALTRICS_META] + list(texts.values()) + list(EMBEDDED_FIELDS)
    )
    question_number = {block: q for q, block in enumerate(dict.fromkeys(block_of.values()), 1)}
    import_ids = [json.dumps(i, separators=(",", ":")) for _, _, i in QUALTRICS_META]
    import_ids += [
        json.dumps(
            {"ImportId": f"QID{question_number[block_of[c]]}_{c.rsplit('_', 1)[1]}"},
            separators=(",", ":"),
        )
        for c in columns
    ]
    import_ids += [
        json.dumps({"ImportId": name}, separators=(",", ":")) for name in EMBEDDED_FIELDS
    ]
    head = pd.DataFrame([labels, import_ids], columns=header)
    pd.concat([head, body[header]], ignore_index=True).to_csv(
        path, index=False, encoding="utf-8-sig"
    )


def _write_redcap(sim: Simulated, instrument: Instrument, path: Path) -> None:
    data = sim.data
    perspective = str(data[names.PERSPECTIVE].iloc[0]) if len(data) else "patient"
    form = redcap_form_name(instrument, sim.form or None, perspective)
    out = pd.DataFrame(
        {
            "record_id": data[names.RESPONDENT_ID],
            "redcap_repeat_instrument": form,
            "redcap_repeat_instance": data[names.SESSION],
            "clinician_id": data[names.CLINICIAN_ID],
            "site_id": data[names.SITE_ID],
            "visit_date": data[names.DATE],
        }
    )
    answers = _items(sim).astype("Int64")
    for item in sim.items:
        out[redcap_field_name(item)] = answers[item]
    out[f"{form}_complete"] = 2
    out.to_csv(path, index=False)


def _write_sav(sim: Simulated, instrument: Instrument, path: Path) -> None:
    out = sim.data.copy()
    out[names.DATE] = [date.fromisoformat(d) for d in out[names.DATE]]
    value_labels: dict[str, dict[float, str]] = {}
    labels: dict[str, str] = {
        names.RESPONSE_ID: "Response ID",
        names.RESPONDENT_ID: "Patient ID",
        names.CLINICIAN_ID: "Clinician ID",
        names.SITE_ID: "Site",
        names.SESSION: "Session number",
        names.DATE: "Date of visit",
        names.PERSPECTIVE: "Who rated",
        names.DURATION: "Completion time (seconds)",
        names.DROPOUT: "Dropped out of treatment",
    }
    for item_id in sim.items:
        item = instrument.item(item_id)
        scale = instrument.scale_of(item)
        assert scale is not None  # the simulator only answers items with scales
        out[item_id] = out[item_id].fillna(SPSS_NO_ANSWER)
        value_labels[item_id] = {float(c): text for c, text in scale.points}
        value_labels[item_id][float(SPSS_NO_ANSWER)] = "No answer"
        labels[item_id] = item.text or item_id
    value_labels[names.DROPOUT] = {0.0: "Stayed", 1.0: "Dropped out"}
    pyreadstat.write_sav(
        out,
        str(path),
        column_labels=[labels.get(c, c) for c in out.columns],
        variable_value_labels=value_labels,
        missing_ranges={item_id: [SPSS_NO_ANSWER] for item_id in sim.items},
        variable_measure={item_id: "ordinal" for item_id in sim.items},
    )


def _write_fhir(sim: Simulated, instrument: Instrument, path: Path) -> None:
    """One QuestionnaireResponse per response, answering the form's Questionnaire
    (instrument/exports/fhir.py): an NDJSON bulk-export file when the name ends .ndjson,
    else a Bundle (type collection). The patient is the subject, the clinician the author."""
    resources = _fhir_responses(sim, instrument)
    with path.open("w", encoding="utf-8") as out:  # one resource at a time: 1M fit in memory
        if ".ndjson" in path.name.lower() or ".jsonl" in path.name.lower():  # its temp name too
            for resource in resources:
                out.write(json.dumps(resource, ensure_ascii=False) + "\n")
            return
        out.write('{"resourceType": "Bundle", "type": "collection", "entry": [')
        for k, resource in enumerate(resources):
            out.write((", " if k else "") + json.dumps({"resource": resource}, ensure_ascii=False))
        out.write("]}\n")


def _fhir_responses(sim: Simulated, instrument: Instrument) -> Iterator[dict[str, object]]:
    """The QuestionnaireResponses of ``sim``, one at a time."""
    blocks = fhir_layout(instrument, sim.form)
    url = questionnaire_url(instrument, sim.form)
    data = sim.data
    columns = {c: data[c].to_numpy() for c in data.columns}
    for r in range(len(data)):
        groups = []
        for block in blocks:
            system = scale_system(instrument, block.scale)
            answered = []
            for item in block.items:
                if item.id not in columns:
                    continue
                value = columns[item.id][r]
                if value != value:  # NaN: not answered
                    continue
                code = int(value)
                answered.append(
                    {
                        "linkId": item.id,
                        "answer": [
                            {
                                "valueCoding": {
                                    "system": system,
                                    "code": str(code),
                                    "display": block.scale.label_of(code),
                                }
                            }
                        ],
                    }
                )
            if answered:
                groups.append({"linkId": f"group-{block.key}", "item": answered})
        response = str(columns[names.RESPONSE_ID][r])
        resource: dict[str, object] = {
            "resourceType": "QuestionnaireResponse",
            # a FHIR id allows letters, digits, '-' and '.': the response id itself is kept as
            # the business identifier, which the reader takes first
            "id": re.sub(r"[^A-Za-z0-9.-]", "-", response)[:64],
            "identifier": {"value": response},
            "questionnaire": url,
            "status": "completed",
            "subject": {"reference": f"Patient/{columns[names.RESPONDENT_ID][r]}"},
            "authored": str(columns[names.DATE][r])[:10],
            "item": groups,
        }
        if names.CLINICIAN_ID in columns:
            resource["author"] = {"reference": f"Practitioner/{columns[names.CLINICIAN_ID][r]}"}
        extensions = []
        if names.DURATION in columns and columns[names.DURATION][r] == columns[names.DURATION][r]:
            seconds = float(columns[names.DURATION][r])
            extensions.append({"url": COMPLETION_SECONDS, "valueDecimal": seconds})
        if names.SITE_ID in columns:
            extensions.append({"url": SITE, "valueString": str(columns[names.SITE_ID][r])})
        if extensions:
            resource["extension"] = extensions
        yield resource


_WRITERS: dict[str, Callable[[Simulated, Instrument, Path], None]] = {
    "csv": _write_csv,
    "qualtrics": _write_qualtrics,
    "redcap": _write_redcap,
    "sav": _write_sav,
    "fhir": _write_fhir,
}


def write_export(sim: Simulated, instrument: Instrument, path: str | Path, fmt: str) -> Path:
    """Write ``sim`` to ``path`` in ``fmt`` (one of :data:`SIMULATE_FORMATS`)."""
    if fmt not in _WRITERS:
        allowed = ", ".join(f"'{f}'" for f in SIMULATE_FORMATS)
        raise ValueError(f"'format' must be one of {allowed}; got {fmt!r}.")
    path = Path(path)
    with atomic_path(path) as tmp:
        _WRITERS[fmt](sim, instrument, tmp)
    return path


def format_for(output: Path, fmt: str | None) -> str:
    """The format asked for, else the one the file name says (FHIR for .json and .ndjson,
    SPSS for .sav), else CSV."""
    if fmt is not None:
        return fmt
    suffix = output.suffix.lower()
    if suffix in (".json", ".ndjson", ".jsonl"):
        return "fhir"
    return "sav" if suffix == ".sav" else "csv"


def form_for(instrument: Instrument, form: str) -> str | None:
    """The default form belongs to the built-in bank; other instruments use their own."""
    if form in instrument.forms:
        return form
    if form == "patient-full" and len(instrument.forms) == 1:
        return next(iter(instrument.forms))
    instrument.form(form)  # raises the clear error
    return form
