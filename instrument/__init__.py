"""Item banks, response scales, forms and their exports: what the survey is.

Names are loaded on first use (PEP 562), so that importing one light module, such as the
model syntax the CFA engine parses, does not load the bank loader and its schema."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .loader import (
        BankError,
        builtin_instrument,
        instrument_from_model,
        load_instrument,
        load_instrument_file,
    )
    from .model import Form, Instrument, Item, ResponseScale, Subscale
    from .syntax import ModelSyntaxError, Statement, Term, parse_model

_WHERE = {
    "BankError": "loader",
    "builtin_instrument": "loader",
    "instrument_from_model": "loader",
    "load_instrument": "loader",
    "load_instrument_file": "loader",
    "Form": "model",
    "Instrument": "model",
    "Item": "model",
    "ResponseScale": "model",
    "Subscale": "model",
    "ModelSyntaxError": "syntax",
    "Statement": "syntax",
    "Term": "syntax",
    "parse_model": "syntax",
}

__all__ = [
    "BankError",
    "Form",
    "Instrument",
    "Item",
    "ModelSyntaxError",
    "ResponseScale",
    "Statement",
    "Subscale",
    "Term",
    "builtin_instrument",
    "instrument_from_model",
    "load_instrument",
    "load_instrument_file",
    "parse_model",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'instrument' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
