"""Qualtrics Advanced Format TXT: one block per subscale, one matrix question per block.

Statements carry recode values 1..k (``[[Choice:k]]``), so Qualtrics names the exported columns
``<question id>_<k>``; answers carry recode values equal to the scale codes (``[[Answer:code]]``),
so exported numbers are the scale's own. :func:`qualtrics_columns` gives that column -> item map.
"""

from __future__ import annotations

from ..model import Instrument
from .layout import item_label, layout

# Embedded data declared at the top of the survey flow; a panel link passes them in the URL,
# and they come back as columns of the response export.
EMBEDDED_FIELDS = ("respondent_id", "clinician_id", "site_id", "session")


def qualtrics_columns(instrument: Instrument, form: str | None = None) -> dict[str, str]:
    """Export column name (``bond_3``) -> item id, in survey order."""
    return {
        f"{block.key}_{k}": item.id
        for block in layout(instrument, form)
        for k, item in enumerate(block.items, start=1)
    }


def qualtrics_question_texts(instrument: Instrument, form: str | None = None) -> dict[str, str]:
    """Export column -> the second header row Qualtrics writes: '<question> - <statement>'."""
    return {
        f"{block.key}_{k}": f"{block.prompt} - {item_label(item)}"
        for block in layout(instrument, form)
        for k, item in enumerate(block.items, start=1)
    }


def _one_line(text: str) -> str:
    # A line break would end the statement early in the TXT format.
    return " ".join(text.split())


def to_qualtrics(instrument: Instrument, form: str | None = None) -> str:
    lines = ["[[AdvancedFormat]]", ""]
    lines += [f"[[ED:{name}]]" for name in EMBEDDED_FIELDS]
    lines.append("")
    for block in layout(instrument, form):
        lines += [
            f"[[Block:{_one_line(block.title)}]]",
            "",
            "[[Question:Matrix]]",
            f"[[ID:{block.key}]]",
            _one_line(block.prompt),
            "",
            "[[AdvancedChoices]]",
        ]
        for k, item in enumerate(block.items, start=1):
            lines += [f"[[Choice:{k}]]", _one_line(item_label(item))]
        lines += ["", "[[AdvancedAnswers]]"]
        for code, text in block.scale.points:
            lines += [f"[[Answer:{code}]]", _one_line(text)]
        lines.append("")
    return "\n".join(lines)
