"""alliance: the therapeutic alliance measured, checked and reported, from Python.

The command line's steps, with its options and defaults as keyword arguments::

    import alliance
    survey = alliance.read("export.csv")        # read and check any supported export
    print(survey.validate().summary())          # reliability, EFA and CFA, as lavaan

Every result has ``summary()`` (the text the command prints), ``to_dict()`` (its ``--json``),
``to_frame()`` (its main table) and shows itself in a notebook. The packages behind it stay
importable (``instrument``, ``analysis``, ``reports``), but this is the documented API.

Names load on first use, so that ``import alliance`` costs nothing until a step runs.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analysis.irt import load_calibration, save_calibration
    from analysis.reading import Options
    from analysis.ruptures.alerts import AlertSettings

    from .options import make_options
    from .reporting import report
    from .simulated import simulate
    from .store import Store
    from .survey import Survey, calibrate, check, invariance, read, score, validate

__version__ = "0.1.0"

_WHERE = {
    "read": ".survey",
    "Survey": ".survey",
    "check": ".survey",
    "score": ".survey",
    "validate": ".survey",
    "invariance": ".survey",
    "calibrate": ".survey",
    "report": ".reporting",
    "simulate": ".simulated",
    "Store": ".store",
    "make_options": ".options",
    "Options": "analysis.reading",
    "AlertSettings": "analysis.ruptures.alerts",
    "load_calibration": "analysis.irt",
    "save_calibration": "analysis.irt",
}

__all__ = [
    "AlertSettings",
    "Options",
    "Store",
    "Survey",
    "calibrate",
    "check",
    "invariance",
    "load_calibration",
    "make_options",
    "read",
    "report",
    "save_calibration",
    "score",
    "simulate",
    "validate",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'alliance' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
