"""`alliance report`: the whole analysis of an export as one self-contained HTML page."""

from __future__ import annotations

import time
from pathlib import Path

import click

from analysis.fileio import atomic_write_text
from instrument import load_instrument

from .cli_common import instrument_option, read_checked, read_options, say, user_errors
from .report import build_report


def progress_printer() -> tuple[float, object]:
    start = time.perf_counter()

    def step(message: str) -> None:
        say(f"[{time.perf_counter() - start:5.1f} s] {message} ...")

    return start, step


@click.command(name="report")
@click.argument("export_path", metavar="EXPORT", type=click.Path(path_type=Path))
@instrument_option
@read_options
@click.option(
    "--by",
    default=None,
    metavar="COLUMN",
    help="Add pillar profiles per group, e.g. clinician_id or site_id (groups of "
    "fewer than 5 patients are suppressed).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The HTML file to write.",
)
@user_errors
def report_command(
    export_path: Path,
    instrument_spec: str,
    map_file: Path | None,
    max_size: str,
    by: str | None,
    output: Path,
) -> None:
    """Write the alliance report: data quality, items, reliability, structure, the
    non-compensatory rule and (with --by) group profiles, in one HTML file that works offline.

    \b
    Examples:
      alliance report export.csv -o report.html
      alliance report export.csv --by clinician_id -o report.html
    """
    start, step = progress_printer()
    step("reading and checking")  # type: ignore[operator]
    instrument = load_instrument(instrument_spec)
    checked = read_checked(export_path, instrument, map_file, max_size)
    html = build_report(checked, instrument, by=by, progress=step)  # type: ignore[arg-type]
    atomic_write_text(output, html)
    say(
        f"wrote {output} ({len(html.encode('utf-8')) / 1e6:.1f} MB) in "
        f"{time.perf_counter() - start:.1f} s"
    )
    click.echo(str(output))
