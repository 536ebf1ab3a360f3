"""`alliance check`: read an export and report every problem in it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from analysis.check import CheckResult
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


def summary_lines(result: CheckResult) -> list[str]:
    doc = result.to_dict()
    where = doc["platform"] + (f", {doc['encoding']}" if doc["encoding"] else "")
    lines = [
        f"{doc['export']} ({where}): {doc['rows_in']:,} rows in, {doc['rows_usable']:,} usable, "
        f"{doc['rows_quarantined']:,} quarantined",
    ]
    for reason, count in doc["quarantine_reasons"].items():
        lines.append(f"  quarantined for {reason.replace('_', ' ')}: {count:,}")
    lines.append(f"{len(doc['items_matched'])} items matched")
    if doc["missing_items"]:
        lines.append(f"items with no column: {', '.join(doc['missing_items'])}")
    if doc["identifiers_dropped"]:
        left = ", ".join(d["column"] for d in doc["identifiers_dropped"])
        lines.append(f"identifying columns left out (not kept or written): {left}")
    if doc["unmatched_columns"]:
        lines.append(f"columns matching nothing: {', '.join(doc['unmatched_columns'])}")
    for kind, count in doc["finding_counts"].items():
        lines.append(f"finding {kind.replace('_', ' ')}: {count:,}")
    for f in doc["findings"][:15]:
        if f["kind"] in ("ceiling", "unmatched_column", "missing_item"):
            continue
        where = f"row {f['row']}" if f["row"] is not None else ""
        if f["column"]:
            where += f", column {f['column']}" if where else f"column {f['column']}"
        value = f" value {f['value']!r}" if f["value"] is not None else ""
        lines.append(f"  {where}{value}: {f['reason']}")
    return lines


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
        for line in summary_lines(result):
            show(line)
    if quarantine_file is not None:
        say(f"wrote {result.rows_quarantined:,} quarantined rows to {quarantine_file}")
    if strict and result.rows_quarantined:
        raise SystemExit(1)
