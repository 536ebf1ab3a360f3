"""Scores back to the health record: one FHIR R4 ``Observation`` per scored response.

- ``code``: ``alliance-scores`` in the instrument's own CodeSystem (instrument/exports/fhir.py):
  no LOINC code exists for these measures;
- ``category``: ``survey`` (HL7's observation-category);
- ``subject``: the patient (``Patient/<id>``; a pseudonym as a logical identifier, which names
  no record), ``effectiveDateTime`` the response's date;
- ``derivedFrom``: the QuestionnaireResponse, by its identifier;
- ``valueCodeableConcept``: the rule's status (adequate, inadequate, insufficient data);
- one ``component`` per scored subscale (item-mean metric), ``subscale-<name>``, and per pillar
  whether it passes its minimum (``<pillar>-pass``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from instrument import Instrument
from instrument.exports.fhir import instrument_system

from .. import names

CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def _id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "-", text)[:64]


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value))


def observations(
    table: pd.DataFrame, instrument: Instrument, pseudonymized: bool = False
) -> Iterator[dict[str, Any]]:
    """The Observations of a score table (``alliance score``'s), row by row."""
    system = instrument_system(instrument)
    subscales = [s for s in instrument.subscales if s in table.columns]
    pillars = [p for p in instrument.rule_pillars if f"{p}_pass" in table.columns]
    for row in table.to_dict(orient="records"):
        response = str(row.get(names.RESPONSE_ID) or row.get("row_in_export"))
        patient = row.get(names.RESPONDENT_ID)
        resource: dict[str, Any] = {
            "resourceType": "Observation",
            "id": _id(f"alliance-{response}"),
            "status": "final",
            "category": [{"coding": [{"system": CATEGORY, "code": "survey"}]}],
            "code": {
                "coding": [
                    {
                        "system": system,
                        "code": "alliance-scores",
                        "display": f"{instrument.name}: scores of one response",
                    }
                ]
            },
        }
        if _present(patient):
            resource["subject"] = (
                {"type": "Patient", "identifier": {"value": str(patient)}}
                if pseudonymized
                else {"reference": f"Patient/{_id(str(patient))}"}
            )
        date = row.get(names.DATE)
        if _present(date):
            resource["effectiveDateTime"] = str(date)[:10]
        if _present(row.get(names.RESPONSE_ID)):
            resource["derivedFrom"] = [
                {"type": "QuestionnaireResponse", "identifier": {"value": response}}
            ]
        status = row.get("alliance_status")
        if _present(status):
            resource["valueCodeableConcept"] = {
                "coding": [{"system": system, "code": f"status-{status}"}]
            }
        components = []
        for name in subscales:
            value = row.get(name)
            if _present(value):
                components.append(
                    {
                        "code": {"coding": [{"system": system, "code": f"subscale-{name}"}]},
                        "valueQuantity": {
                            "value": round(float(value or 0.0), 4),
                            "unit": "item mean",
                        },
                    }
                )
        for pillar in pillars:
            passed = row.get(f"{pillar}_pass")
            if _present(passed):
                components.append(
                    {
                        "code": {"coding": [{"system": system, "code": f"{pillar}-pass"}]},
                        "valueBoolean": bool(passed),
                    }
                )
        if components:
            resource["component"] = components
        yield resource


def observations_ndjson(
    table: pd.DataFrame, instrument: Instrument, pseudonymized: bool = False
) -> str:
    return "".join(
        json.dumps(r, ensure_ascii=False) + "\n"
        for r in observations(table, instrument, pseudonymized)
    )
