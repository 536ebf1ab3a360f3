"""The `alliance` command line: parse arguments, call one library function, print.

Data goes to stdout (or ``-o FILE``), progress and messages to stderr. Exit codes: 0 ok;
1 problems the user asked to fail on; 2 usage, configuration or unreadable input, with a
one-line message and no traceback.

Each command lives in its own module, imported only when that command runs (or shows its
own help): ``alliance --help`` lists them from the table below without importing pandas,
scipy or the database, so no command pays for another's dependencies.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from importlib import import_module
from typing import Any

import click

from .process import apply_settings

apply_settings()  # before any command imports numpy or pyarrow

# name -> (module, function, its summary: the first sentence of the command's help, which
# `alliance --help` lists; a test checks each against the command's own docstring)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "calibrate": (
        "reports.cli_irt",
        "calibrate_command",
        "Calibrate the item bank on an export: a graded response model per subscale.",
    ),
    "cat-simulate": (
        "reports.cli_irt",
        "cat_simulate_command",
        "Simulate adaptive testing on a calibrated bank against the full bank.",
    ),
    "alerts": (
        "reports.cli_monitor",
        "alerts_command",
        "Find alliance ruptures: one pillar falling while the others hold.",
    ),
    "benchmark": (
        "reports.cli_store",
        "benchmark_command",
        "Compare clinicians or sites fairly: shrunken estimates, a funnel plot, trends.",
    ),
    "check": (
        "reports.cli_check",
        "check_command",
        "Read an export and name every problem in it: nothing is dropped silently.",
    ),
    "demo": (
        "reports.cli_demo",
        "demo_command",
        "Simulate a realistic clinic export and show what the toolkit makes of it.",
    ),
    "export-store": (
        "reports.cli_store",
        "export_store_command",
        "Copy the clinic store to Parquet files, partitioned by month, for a data lake.",
    ),
    "ingest": (
        "reports.cli_store",
        "ingest_command",
        "Append survey exports to the clinic store: checked, scored, each response once.",
    ),
    "invariance": (
        "reports.cli_invariance",
        "invariance_command",
        "Test whether the items measure the same in every group, or at every session.",
    ),
    "items": (
        "reports.cli_bank",
        "items_command",
        "List the item bank or one form, or export it to a survey platform.",
    ),
    "report": (
        "reports.cli_report",
        "report_command",
        "Write the report of an export: data quality, items, reliability, structure, the "
        "non-compensatory rule, (with --by) group profiles and (with --invariance) measurement "
        "invariance across groups, in one HTML file that works offline.",
    ),
    "score": (
        "reports.cli_score",
        "score",
        "Score an export and apply the non-compensatory alliance rule.",
    ),
    "simulate": (
        "reports.cli_bank",
        "simulate_command",
        "Write a realistic simulated survey export.",
    ),
    "validate": (
        "reports.cli_validate",
        "validate_command",
        "Check the structure of an instrument on an export: reliability, EFA, CFA.",
    ),
}


def summary(help_text: str) -> str:
    """The first sentence of a command's help (its first paragraph up to '. ')."""
    paragraph = " ".join(help_text.strip().split("\n\n")[0].split())
    head, dot, _ = paragraph.partition(". ")
    return head + "." if dot else paragraph


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 3].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "..."


class LazyGroup(click.Group):
    """A group whose commands are imported when one is run, not when the group is."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, name, _ = COMMANDS[cmd_name]
        command: click.Command = getattr(import_module(module), name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = [(name, _shorten(COMMANDS[name][2], limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="alliance", prog_name="alliance")
def cli() -> None:
    """Therapeutic alliance surveys: item banks, exports, simulation and analysis.

    \b
    Examples:
      alliance items --form patient-short
      alliance items --form patient --format redcap -o dictionary.csv
      alliance simulate -n 500 --clinicians 12 --sessions 3 --format qualtrics -o export.csv
      alliance demo -o demo-output
    """


def main(*args: Any) -> None:
    """The `alliance` console script: run the command, then end the process at once."""
    try:
        cli(prog_name="alliance")
    except SystemExit as done:
        if done.code is not None and not isinstance(done.code, int):
            raise  # a message for Python to print
        end_process(done.code or 0)


def end_process(code: int) -> None:
    """End the process once the command's work is written, without tearing the interpreter
    down: freeing every module and object took 0.09 s of a 0.6 s `check` (pandas alone,
    0.06 s), for nothing a user keeps. What an ending must still do is done first: the
    exit handlers run (temporary folders, Spark, logging) and stdout and stderr are flushed.
    Should a thread other than this one still be running, Python ends as usual, waiting
    for it."""
    if threading.active_count() > 1:
        raise SystemExit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # The reader may have gone away, or the stream be closed: nothing more to write then.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
