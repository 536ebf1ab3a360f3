"""Shared by the command modules: error handling, the --instrument option, stderr messages."""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from analysis.check import CheckResult, check_export
from analysis.ingest import ExportError, load_map, read_export
from analysis.scoring import ThresholdError
from instrument import BankError, Instrument

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
        except BrokenPipeError:
            # The reader went away (e.g. `| head`): stop quietly, as Unix tools do.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise SystemExit(0) from None
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


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """'500MB', '2GB', '1.5G' or a number of bytes."""
    found = _SIZE.match(text)
    if not found:
        raise click.BadParameter(f"'max-size' must look like 500MB or 2GB; got {text!r}.")
    number, unit = float(found.group(1)), found.group(2).lower()
    return int(number * 1000 ** " kmgt".index(unit or " "))


def read_options(func: F) -> F:
    """--map and --max-size, shared by every command that reads an export."""
    func = click.option(
        "--map",
        "map_file",
        type=click.Path(path_type=Path),
        default=None,
        help="YAML file naming which export column is which item or context column.",
    )(func)
    return click.option(
        "--max-size",
        default="1GB",
        show_default=True,
        metavar="SIZE",
        help="Refuse exports larger than this (e.g. 500MB, 4GB).",
    )(func)


def read_checked(
    path: Path, instrument: Instrument, map_file: Path | None, max_size: str
) -> CheckResult:
    """Read and check an export: the rows every command works on are the usable ones."""
    export = read_export(
        path, instrument, column_map=load_map(map_file), max_bytes=parse_size(max_size)
    )
    return check_export(export, instrument)
