"""Item banks, response scales, forms and their exports: what the survey is."""

from .loader import (
    BankError,
    builtin_instrument,
    instrument_from_model,
    load_instrument,
    load_instrument_file,
)
from .model import Form, Instrument, Item, ResponseScale, Subscale
from .syntax import ModelSyntaxError, Statement, Term, parse_model

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
