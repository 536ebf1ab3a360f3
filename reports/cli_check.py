"""`alliance check`: read an export and report every problem in it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from analysis.reading import read_checked

from .cli_common import (
    builds_options,
    key_options,
    read_options,
    say,
    say_identifiers,
    show,
    user_errors,
)
from .output import dumps_json, write_table

if TYPE_CHECKING:
    from analysis.reading import Options


@click.command(name="check")
@click.argument("export_path", metavar="EXPORT", type=click.Path(path_type=Path))
@read_options
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print rows_in, rows_usable, rows_quarantined and the findings as JSON.",
)
@click.option(
    "--quarantine",
    "quarantine_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the quarantined rows, with their reasons, to this CSV (Parquet for a "
    ".parquet name).",
)
@click.option("--strict", is_flag=True, help="Exit with code 1 when any row is quarantined.")
@key_options
@user_errors
@builds_options
def check_command(
    export_path: Path,
    as_json: bool,
    quarantine_file: Path | None,
    strict: bool,
    options: Options,
) -> None:
    """Read an export and name every problem in it: nothing is dropped silently.

    Recognises Qualtrics, REDCap (raw and labels), SurveyMonkey and LimeSurvey exports, plain
    CSV/TSV in UTF-8, UTF-16 or Windows encodings, Excel, SPSS, Stata and Parquet. Every row
    ends up usable or quarantined with its reasons (previews, tests, spam, unfinished, no
    answers, straight-lining, too fast); cell problems, duplicates, outliers and ceiling effects
    are findings with row, column and value.

    \b
    Examples:
      alliance check export.csv
      alliance check qualtrics_export.csv --json --quarantine set_aside.csv
      alliance check legacy.csv --map columns.yaml --strict
      alliance check survey.xlsx --header-row 3 --instrument 'f =~ q1 + q2 + q3' --scale 1-7
    """
    result = read_checked(export_path, options).checked
    say_identifiers(result.export)
    if quarantine_file is not None:
        write_table(result.quarantined_rows(), quarantine_file)
    if as_json:
        click.echo(dumps_json(result.to_dict()), nl=False)
    else:
        for line in result.summary_lines():
            show(line)
    if quarantine_file is not None:
        say(f"wrote {result.rows_quarantined:,} quarantined rows to {quarantine_file}")
    if strict and result.rows_quarantined:
        raise SystemExit(1)
