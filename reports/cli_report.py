"""`alliance report`: the whole analysis of an export as one self-contained HTML page."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from analysis.fileio import atomic_write_text
from analysis.pipeline import analyse_read, read_checked

from .cli_common import (
    alert_options,
    bootstrap_options,
    builds_options,
    calibration_option,
    draw_bar,
    progress_printer,
    read_options,
    say,
    say_identifiers,
    score_options,
    sessions_option,
    stop_if_nothing_usable,
    user_errors,
    validate_options,
)
from .html import render
from .paper import FIGURE_FORMATS, write_paper
from .report import report_page

if TYPE_CHECKING:
    from analysis.reading import Options


@click.command(name="report")
@click.argument("export_path", metavar="EXPORT", type=click.Path(path_type=Path))
@read_options
@score_options
@validate_options
@bootstrap_options
@click.option(
    "--by",
    default=None,
    metavar="COLUMN",
    help="Add pillar profiles per group, e.g. clinician_id or site_id (groups of "
    "fewer than 5 patients are suppressed).",
)
@click.option(
    "--invariance",
    default=None,
    metavar="COLUMN",
    help="Add a section testing measurement invariance across the groups of this column "
    "(site_id, a context column such as gender, or 'perspective'), or 'session' over the "
    "same patients' sessions.",
)
@sessions_option("With --invariance session")
@calibration_option()
@alert_options
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The HTML file to write.",
)
@click.option(
    "--figures",
    "figures_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="Also write every figure as a static file in DIR (fig01-data-1.png, ...), drawn in "
    "Chromium by kaleido.",
)
@click.option(
    "--figure-format",
    type=click.Choice(FIGURE_FORMATS),
    default="png",
    show_default=True,
    help="The figures' format with --figures.",
)
@click.option(
    "--docx",
    "docx_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Also write the report's tables (APA style) and figures to a Word document.",
)
@click.option(
    "--latex",
    "latex_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="Also write every table as booktabs LaTeX in DIR (tableN.tex, and tables.tex that "
    "inputs them all).",
)
@user_errors
@builds_options
def report_command(
    export_path: Path,
    output: Path,
    figures_dir: Path | None,
    figure_format: str,
    docx_file: Path | None,
    latex_dir: Path | None,
    options: Options,
) -> None:
    """Write the report of an export: data quality, items, reliability, structure, the
    non-compensatory rule, (with --by) group profiles and (with --invariance) measurement
    invariance across groups, in one HTML file that works offline.

    With --calibration, a section on the item bank's calibration: information curves with
    the rule's minimum on theta, the short form, item parameters and fit, and an adaptive
    test simulated on this export's answers against the full bank.

    It takes every option of the steps it summarises (check, score, validate), so the page
    shows the same numbers those commands print. Its wording comes from the instrument.

    \b
    Examples:
      alliance report export.csv -o report.html
      alliance report export.csv -o report.html --figures figures --docx tables.docx
      alliance report export.csv -o report.html --figures figures --figure-format pdf \\
          --latex tables
      alliance report export.csv --by clinician_id --thresholds minimums.yaml -o report.html
      alliance report export.csv --invariance site_id -o report.html
      alliance report export.csv --calibration calibration.yaml -o report.html
      alliance report export.csv --bootstrap 1000 --seed 7 -o report.html
      alliance report sessions.csv --alert-rate 10 -o report.html
      alliance report five.sav --instrument five_factors.yaml --estimator mlr -o five.html
      alliance report hs.csv --model 'visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6' \
          --rows all -o hs.html
    """
    start, step = progress_printer()
    step("reading and checking")
    read = read_checked(export_path, options)
    say_identifiers(read.checked.export)
    stop_if_nothing_usable(read.checked, "report")
    with draw_bar(options.bootstrap, "bootstrap draws") as draws:
        analysis = analyse_read(read, options, progress=step, draws=draws)
    step("drawing")
    page = report_page(analysis)
    html = render(page)
    atomic_write_text(output, html)
    write_paper(page, figures_dir, figure_format, docx_file, latex_dir, step)
    say(
        f"wrote {output} ({len(html.encode('utf-8')) / 1e6:.1f} MB) in "
        f"{time.perf_counter() - start:.1f} s"
    )
    click.echo(str(output))
