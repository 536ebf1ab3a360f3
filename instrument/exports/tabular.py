"""Plain listings of the items: a terminal table, CSV (one row per item) and JSON."""

from __future__ import annotations

import csv
import io
import json
import shutil
import textwrap
from collections import Counter
from typing import Any

from ..model import Instrument

ITEM_COLUMNS = (
    "id",
    "form_position",
    "construct",
    "subscale",
    "keying",
    "reverse",
    "scale",
    "scale_min",
    "scale_max",
    "perspective",
    "parallel",
    "text",
    "rationale",
)


def item_rows(instrument: Instrument, form: str | None = None) -> list[dict[str, Any]]:
    rows = []
    for position, item in enumerate(instrument.select(form), start=1):
        scale = instrument.scale_of(item)
        rows.append(
            {
                "id": item.id,
                "form_position": position,
                "construct": item.construct,
                "subscale": item.subscale,
                "keying": item.keying,
                "reverse": item.reverse,
                "scale": item.scale,
                "scale_min": scale.minimum if scale else None,
                "scale_max": scale.maximum if scale else None,
                "perspective": item.perspective,
                "parallel": item.parallel,
                "text": item.text,
                "rationale": item.rationale,
            }
        )
    return rows


def to_csv(instrument: Instrument, form: str | None = None) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=ITEM_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in item_rows(instrument, form):
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()


def to_json(instrument: Instrument, form: str | None = None) -> str:
    items = instrument.select(form)
    by_subscale = Counter(item.subscale for item in items)
    subscales = {
        name: {
            "construct": sub.construct,
            "label": sub.label,
            "description": sub.description,
            "n_items": by_subscale[name],
            "items": [item.id for item in items if item.subscale == name],
        }
        for name, sub in instrument.subscales.items()
        if by_subscale[name]
    }
    used_scales = {item.scale for item in items if item.scale}
    doc = {
        "instrument": {
            "name": instrument.name,
            "version": instrument.version,
            "description": instrument.description,
        },
        "form": form,
        "n_items": len(items),
        "counts": {
            "by_subscale": dict(by_subscale),
            "by_construct": dict(Counter(item.construct for item in items)),
            "by_perspective": dict(Counter(item.perspective for item in items)),
            "reverse_keyed": sum(item.reverse for item in items),
        },
        "scales": {
            name: {
                "label": scale.label,
                "points": [{"code": c, "label": text} for c, text in scale.points],
            }
            for name, scale in instrument.scales.items()
            if name in used_scales
        },
        "subscales": subscales,
        "forms": {
            name: {
                "label": f.label,
                "description": f.description,
                "perspective": f.perspective,
                "n_items": len(f.items),
                "items": list(f.items),
            }
            for name, f in instrument.forms.items()
            if form is None or name == form
        },
        "items": item_rows(instrument, form),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def to_table(instrument: Instrument, form: str | None = None) -> str:
    """A readable listing for the terminal, item wording wrapped to the terminal width."""
    rows = item_rows(instrument, form)
    width = max(shutil.get_terminal_size((100, 24)).columns, 60)
    head = ("id", "subscale", "key", "scale", "rater")
    cells = [
        (r["id"], r["subscale"], r["keying"], r["scale"] or "-", r["perspective"]) for r in rows
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(head, *cells, strict=False)]
    lead = sum(widths) + 2 * len(widths)
    text_width = max(width - lead, 30)
    lines = []
    title = f"{instrument.name} {instrument.version}"
    if form is not None:
        f = instrument.form(form)
        title += f" - form '{form}': {f.label}"
    lines.append(f"{title} ({len(rows)} items)")
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines.append(fmt.format(*head) + "  text")
    for cell, row in zip(cells, rows, strict=True):
        wrapped = textwrap.wrap(row["text"] or "", text_width) or [""]
        lines.append(fmt.format(*cell) + "  " + wrapped[0])
        lines.extend(" " * lead + more for more in wrapped[1:])
    return "\n".join(line.rstrip() for line in lines) + "\n"
