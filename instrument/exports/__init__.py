"""Exports of an instrument (or one of its forms) to the places surveys are run and read."""

from __future__ import annotations

from collections.abc import Callable

from ..model import Instrument
from .fhir import to_fhir
from .html_form import to_html
from .layout import Block, layout, prompt_for
from .qualtrics import qualtrics_columns, to_qualtrics
from .redcap import REDCAP_COLUMNS, redcap_rows, to_redcap
from .tabular import ITEM_COLUMNS, item_rows, to_csv, to_json, to_table

Exporter = Callable[[Instrument, "str | None"], str]

EXPORTERS: dict[str, Exporter] = {
    "table": to_table,
    "json": to_json,
    "csv": to_csv,
    "redcap": to_redcap,
    "qualtrics": to_qualtrics,
    "html": to_html,
    "fhir": to_fhir,
}
FORMATS = tuple(EXPORTERS)


def export(instrument: Instrument, fmt: str, form: str | None = None) -> str:
    """The instrument (or one form) as text in format ``fmt``: one of :data:`FORMATS`."""
    if fmt not in EXPORTERS:
        allowed = ", ".join(f"'{f}'" for f in FORMATS)
        raise ValueError(f"'format' must be one of {allowed}; got {fmt!r}.")
    return EXPORTERS[fmt](instrument, form)


__all__ = [
    "FORMATS",
    "ITEM_COLUMNS",
    "REDCAP_COLUMNS",
    "Block",
    "export",
    "item_rows",
    "layout",
    "prompt_for",
    "qualtrics_columns",
    "redcap_rows",
    "to_csv",
    "to_fhir",
    "to_html",
    "to_json",
    "to_qualtrics",
    "to_redcap",
    "to_table",
]
