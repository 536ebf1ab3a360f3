"""Shared by the command modules: error handling, the --instrument option, stderr messages."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from analysis.ingest import ExportError
from analysis.scoring import ThresholdError
from instrument import BankError

F = TypeVar("F", bound=Callable[..., Any])


class InputError(click.ClickException):
    """Bad configuration or unreadable input: one line on stderr, exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"alliance: error: {self.format_message()}", err=True)


def user_errors(func: F) -> F:
    """Turn the library's input errors into a one-line message and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (BankError, ExportError, ThresholdError, ValueError) as exc:
            raise InputError(str(exc)) from None
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            raise InputError(f"{where}{exc.strerror or exc}") from None

    return wrapper  # type: ignore[return-value]


def instrument_option(func: F) -> F:
    return click.option(
        "--instrument",
        "instrument_spec",
        default="alliance",
        show_default=True,
        metavar="FILE|NAME|MODEL",
        help="The built-in bank ('alliance'), your instrument YAML file, or a lavaan-style "
        "model string such as 'bond =~ b1 + b2 + b3; goals =~ g1 + g2 + g3'.",
    )(func)


def say(message: str) -> None:
    click.echo(message, err=True)
