"""HL7 FHIR R4: the bank as a ``Questionnaire``, with the ``CodeSystem``s its answers and
subscales are coded in, written together as one ``Bundle`` (type ``collection``).

- The Questionnaire's canonical ``url`` and ``version`` come from the instrument and the form:
  ``{base}/Questionnaire/{instrument}-{form}``, so that a QuestionnaireResponse names what it
  answers.
- One group per block of the form (consecutive items of one subscale on one scale), as the
  other exports lay it out: the group's text is what a respondent sees (a neutral part heading
  and the block's instruction), and the subscale it measures is its ``code`` and an extension,
  which no respondent sees.
- One item per question: ``linkId`` the item id, ``type: choice``, ``answerOption`` codings
  from its response scale, whose codes are the scale's own (1-5 ...), in the scale's CodeSystem
  ``{base}/CodeSystem/{instrument}-scale-{scale}``.
- What the analysis needs travels with the form, as extensions: each item's keying (reverse
  keyed items score from the other end), and, on the Questionnaire, the pillars of the
  non-compensatory rule. The instrument's own CodeSystem (``{base}/CodeSystem/{instrument}``)
  codes its subscales, the rule's status and the scores (for Observations): there is no LOINC
  code for any of them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..model import Instrument, ResponseScale
from .layout import item_label, layout, part_heading

BASE = "http://alliance.example/fhir"  # ".example" is reserved (RFC 2606): set your own base
KEYING = f"{BASE}/StructureDefinition/item-keying"
SUBSCALE = f"{BASE}/StructureDefinition/subscale"
RULE_PILLAR = f"{BASE}/StructureDefinition/rule-pillar"
# On a QuestionnaireResponse: how long it took (the check sets aside implausibly fast ones) and
# the site, where the record keeps them; neither is part of the FHIR resource itself.
COMPLETION_SECONDS = f"{BASE}/StructureDefinition/completion-seconds"
SITE = f"{BASE}/StructureDefinition/site"
STATUS_CODES = (
    ("adequate", "Adequate alliance: every pillar at or above its minimum"),
    ("inadequate", "Inadequate alliance: a pillar below its minimum"),
    ("insufficient_data", "Too few answers to apply the rule"),
)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-").lower()


def questionnaire_url(instrument: Instrument, form: str | None) -> str:
    return f"{BASE}/Questionnaire/{_slug(instrument.name)}-{_slug(form or 'bank')}"


def instrument_system(instrument: Instrument) -> str:
    return f"{BASE}/CodeSystem/{_slug(instrument.name)}"


def scale_system(instrument: Instrument, scale: ResponseScale) -> str:
    return f"{BASE}/CodeSystem/{_slug(instrument.name)}-scale-{_slug(scale.name)}"


def questionnaire(instrument: Instrument, form: str | None = None) -> dict[str, Any]:
    """The form (or the whole bank) as a FHIR R4 Questionnaire resource."""
    blocks = layout(instrument, form)
    system = instrument_system(instrument)
    groups = []
    for k, block in enumerate(blocks, start=1):
        items = []
        for item in block.items:
            items.append(
                {
                    "extension": [{"url": KEYING, "valueCode": "-" if item.reverse else "+"}],
                    "linkId": item.id,
                    "text": item_label(item),
                    "type": "choice",
                    "required": False,
                    "answerOption": [
                        {
                            "valueCoding": {
                                "system": scale_system(instrument, block.scale),
                                "code": str(code),
                                "display": label,
                            }
                        }
                        for code, label in block.scale.points
                    ],
                }
            )
        groups.append(
            {
                "extension": [{"url": SUBSCALE, "valueCode": block.subscale}],
                "linkId": f"group-{block.key}",
                "code": [
                    {"system": system, "code": f"subscale-{block.subscale}", "display": block.title}
                ],
                "text": f"{part_heading(k, len(blocks))}. {block.prompt}",
                "type": "group",
                "item": items,
            }
        )
    chosen = instrument.forms[form] if form is not None else None
    title = (chosen.label or chosen.name) if chosen is not None else f"{instrument.name} item bank"
    resource: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": f"{_slug(instrument.name)}-{_slug(form or 'bank')}",
        "url": questionnaire_url(instrument, form),
        "version": instrument.version,
        "name": re.sub(r"[^A-Za-z0-9_]", "_", f"{instrument.name}_{form or 'bank'}"),
        "title": title,
        "status": "active",
        "subjectType": ["Patient"],
        "description": instrument.description or title,
        "item": groups,
    }
    pillars = [p for p in instrument.rule_pillars if any(b.subscale == p for b in blocks)]
    if pillars:
        resource["extension"] = [{"url": RULE_PILLAR, "valueCode": p} for p in pillars]
    return resource


def code_systems(instrument: Instrument, form: str | None = None) -> list[dict[str, Any]]:
    """The CodeSystems the Questionnaire's codings use: one per response scale, and the
    instrument's own (its subscales, the rule's status, and its scores)."""
    out = []
    scales = {b.scale.name: b.scale for b in layout(instrument, form)}
    for scale in scales.values():
        out.append(
            {
                "resourceType": "CodeSystem",
                "id": f"{_slug(instrument.name)}-scale-{_slug(scale.name)}",
                "url": scale_system(instrument, scale),
                "version": instrument.version,
                "name": re.sub(r"[^A-Za-z0-9_]", "_", f"{instrument.name}_{scale.name}"),
                "title": scale.label or scale.name,
                "status": "active",
                "content": "complete",
                "concept": [{"code": str(c), "display": text} for c, text in scale.points],
            }
        )
    concepts = [
        {"code": "alliance-scores", "display": f"{instrument.name}: scores of one response"}
    ]
    for name, subscale in instrument.subscales.items():
        concepts.append({"code": f"subscale-{name}", "display": subscale.label or name})
    concepts += [{"code": f"status-{code}", "display": text} for code, text in STATUS_CODES]
    concepts += [
        {"code": f"{p}-pass", "display": f"{p} at or above its minimum"}
        for p in instrument.rule_pillars
    ]
    out.append(
        {
            "resourceType": "CodeSystem",
            "id": _slug(instrument.name),
            "url": instrument_system(instrument),
            "version": instrument.version,
            "name": re.sub(r"[^A-Za-z0-9_]", "_", instrument.name),
            "title": f"{instrument.name}: subscales, scores and the rule's status",
            "status": "active",
            "content": "complete",
            "concept": concepts,
        }
    )
    return out


def to_fhir(instrument: Instrument, form: str | None = None) -> str:
    """The Questionnaire and its CodeSystems as a FHIR R4 Bundle (JSON)."""
    resources = [questionnaire(instrument, form), *code_systems(instrument, form)]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": r["url"], "resource": r} for r in resources],
    }
    return json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
