"""REDCap data dictionary: the 18-column CSV that REDCap's Data Dictionary upload accepts.

A ``record_id`` row comes first, then the visit fields, then one radio field per item; the items of
one block (subscale and scale) share a matrix group with the block's instruction as its header.
"""

from __future__ import annotations

import csv
import io
import re

from ..loader import BankError
from ..model import Instrument
from .layout import item_label, layout, part_heading

REDCAP_COLUMNS = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)

# Visit fields after record_id; the simulator's REDCap export uses the same names.
VISIT_FIELDS = (
    ("clinician_id", "Clinician ID", ""),
    ("site_id", "Site", ""),
    ("visit_date", "Date of visit", "date_ymd"),
)
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")


def redcap_form_name(instrument: Instrument, form: str | None, perspective: str) -> str:
    return _slug(f"{instrument.name}_{form or perspective + '_rated'}")


def redcap_field_name(item_id: str) -> str:
    """REDCap field names are lower case; ids that differ only in case cannot be exported."""
    return item_id.lower()


def _row(**values: str) -> dict[str, str]:
    keys = dict(
        zip(
            (
                "field",
                "form",
                "header",
                "type",
                "label",
                "choices",
                "note",
                "validation",
                "vmin",
                "vmax",
                "identifier",
                "branching",
                "required",
                "alignment",
                "number",
                "matrix",
                "ranking",
                "annotation",
            ),
            REDCAP_COLUMNS,
            strict=True,
        )
    )
    row = dict.fromkeys(REDCAP_COLUMNS, "")
    for key, value in values.items():
        row[keys[key]] = value
    return row


def redcap_rows(instrument: Instrument, form: str | None = None) -> list[dict[str, str]]:
    blocks = layout(instrument, form)
    first_form = redcap_form_name(instrument, form, blocks[0].items[0].perspective)
    rows = [_row(field="record_id", form=first_form, type="text", label="Record ID")]
    for name, label, validation in VISIT_FIELDS:
        rows.append(
            _row(field=name, form=first_form, type="text", label=label, validation=validation)
        )
    seen: dict[str, str] = {row["Variable / Field Name"]: "" for row in rows}
    for index, block in enumerate(blocks, start=1):
        choices = " | ".join(f"{code}, {text}" for code, text in block.scale.points)
        for k, item in enumerate(block.items):
            name = redcap_field_name(item.id)
            if name in seen or not _FIELD_NAME.match(name):
                raise BankError(
                    f"item {item.id!r} cannot be a REDCap field: names are unique lower-case "
                    f"letters, digits and underscores ({name!r} is taken or invalid)."
                )
            seen[name] = item.id
            direction = "reverse-keyed" if item.reverse else "keyed +"
            rows.append(
                _row(
                    field=name,
                    form=redcap_form_name(instrument, form, item.perspective),
                    header=f"{part_heading(index, len(blocks))}: {block.prompt}" if k == 0 else "",
                    type="radio",
                    label=item_label(item),
                    choices=choices,
                    matrix=block.key,
                    annotation=f"{instrument.name} {item.construct}/{item.subscale}, {direction}",
                )
            )
    return rows


def to_redcap(instrument: Instrument, form: str | None = None) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=REDCAP_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(redcap_rows(instrument, form))
    return buffer.getvalue()
