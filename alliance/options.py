"""The options every step takes, as keyword arguments: the names of the fields of
:class:`analysis.reading.Options`, with the same defaults as the command line. Values are
checked here, so that a typo is an error that names the parameter, its allowed values and what
was given, before any file is read."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from analysis import choices
from analysis.reading import Options

# Fields whose value is a file: a str is taken as a path.
_PATHS = ("map_file", "thresholds", "dictionary", "calibration")
# Fields that hold several names: a list, a tuple, or one comma-separated string.
_NAMES = ("pillars", "group_equal", "keep_columns", "drop_columns")
# Fields with a fixed set of values.
_CHOICES: dict[str, tuple[object, ...]] = {
    "estimator": choices.ESTIMATOR_REQUESTS,
    "missing": (None, *choices.MISSING_METHODS),
    "rows": choices.ROW_SELECTIONS,
    "parallel": choices.PARALLEL_KINDS,
    "efa_method": choices.EFA_METHODS,
    "levels": (None, *choices.LEVEL_STRUCTURES),
    "over": (None, "session"),
    "efa_correlation": (None, "pearson", "polychoric"),
}
# Options that decide how the export is read: given to read(), not to a later step.
READ_OPTIONS = frozenset(
    {
        "instrument",
        "model",
        "map_file",
        "max_bytes",
        "header_row",
        "scale",
        "pillars",
        "id_column",
        "keep_columns",
        "drop_columns",
        "dictionary",
        "require_complete",
        "pseudonym_key",
    }
)
OPTION_NAMES = tuple(f.name for f in fields(Options))


def _names(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    raise TypeError(f"'{name}' takes a list of names or one comma-separated string; got {value!r}.")


def _allowed(values: tuple[object, ...]) -> str:
    return ", ".join(repr(v) for v in values)


def _checked(name: str, value: Any) -> Any:
    if name in _PATHS and isinstance(value, str):
        return Path(value)
    if name in _NAMES:
        return None if value is None else _names(name, value)
    if name == "sessions" and value is not None:
        return tuple(int(v) for v in _names(name, value))
    if name in _CHOICES and value not in _CHOICES[name]:
        raise ValueError(f"'{name}' must be one of {_allowed(_CHOICES[name])}; got {value!r}.")
    if name == "alerts" and value is not None:
        from analysis.ruptures.alerts import AlertSettings

        if isinstance(value, AlertSettings):
            return value
        raise TypeError(f"'alerts' takes an alliance.AlertSettings; got {value!r}.")
    return value


def make_options(base: Options | None = None, /, **given: Any) -> Options:
    """``base`` (default: the command line's defaults) with the options ``given`` changed.

    >>> alliance.make_options(estimator="mlr").estimator
    'mlr'
    >>> alliance.make_options(estimater="mlr")
    Traceback (most recent call last):
    ...
    TypeError: 'estimater' is not an option; did you mean 'estimator'?
    """
    unknown = [name for name in given if name not in OPTION_NAMES]
    if unknown:
        from difflib import get_close_matches

        near = get_close_matches(unknown[0], OPTION_NAMES, n=1)
        hint = (
            f"did you mean {near[0]!r}?" if near else f"the options are {', '.join(OPTION_NAMES)}."
        )
        raise TypeError(f"{unknown[0]!r} is not an option; {hint}")
    checked = {name: _checked(name, value) for name, value in given.items()}
    return replace(base, **checked) if base is not None else Options(**checked)


def later_options(step: str, base: Options, given: dict[str, Any]) -> Options:
    """The survey's options with a later step's ``given`` ones changed: how the export is read
    cannot change once it is read."""
    read_time = sorted(name for name in given if name in READ_OPTIONS)
    if read_time:
        raise TypeError(
            f"{read_time[0]!r} decides how the export is read: give it to alliance.read(), "
            f"not to {step}()."
        )
    return make_options(base, **given)
