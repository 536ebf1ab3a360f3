"""`alliance score`: scores and the non-compensatory rule for every response of an export."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from analysis.choices import FACTOR_METHOD_REQUESTS
from analysis.pipeline import read_checked, score_run

from .cli_common import (
    InputError,
    builds_options,
    calibration_option,
    fit_options,
    key_options,
    names_list,
    read_options,
    say,
    say_identifiers,
    score_options,
    stop_if_nothing_usable,
    user_errors,
)
from .output import csv_text, dumps_json, write_table

if TYPE_CHECKING:
    from analysis.reading import Options


@click.command()
@click.argument("export_path", metavar="EXPORT", type=click.Path(path_type=Path))
@read_options
@score_options
@calibration_option()
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the per-response table here: CSV, or Parquet for a .parquet name (faster "
    "for large exports); default: CSV on stdout.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet", "fhir"]),
    default=None,
    help="What -o holds: csv, parquet, or fhir (one FHIR R4 Observation per response, NDJSON, "
    "for the health record); default from the name (.parquet, .ndjson), else csv.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the summary as JSON (write the table with -o)."
)
@click.option(
    "--keep",
    "carry",
    default=None,
    metavar="A,B",
    help="Carry these export columns into the scores, after row_in_export (identifiers only "
    "when kept on purpose with --keep-columns).",
)
@click.option(
    "--factor-scores",
    "factor_method",
    type=click.Choice(FACTOR_METHOD_REQUESTS),
    is_flag=False,
    flag_value="auto",
    default=None,
    help="Add each row's factor scores and their SEs (<factor>_fs, <factor>_fs_se), as "
    "lavaan's lavPredict, from the subscales as correlated factors (or --model): regression "
    "or bartlett for continuous items, eap for ordinal ones (--estimator wlsmv); alone: eap "
    "under wlsmv and ulsmv, else regression. Under FIML, incomplete rows are scored from what "
    "they answered.",
)
@fit_options
@key_options
@user_errors
@builds_options
def score(
    export_path: Path,
    calibration_file: Path | None,
    output: Path | None,
    fmt: str | None,
    as_json: bool,
    carry: str | None,
    factor_method: str | None,
    options: Options,
) -> None:
    """Score an export and apply the non-compensatory alliance rule.

    One row per response: the subscale scores (item-mean metric), pass or fail per pillar,
    alliance_status, the weakest pillar and its margin, the compensatory total and whether it
    hides a failing pillar (masked_rupture), and p_adequate, the probability that the true
    scores clear every minimum given measurement error. A score at or above its minimum passes.
    The rule applies to the pillars the instrument declares (the built-in bank: bond, goals,
    tasks), or to --pillars; without either, the scores are written and no rule is applied.
    With --calibration, each calibrated subscale also gets <scale>_theta (EAP from whichever
    of its items were answered), <scale>_theta_se and <scale>_t (T-score), and the rule is
    applied on theta too (<pillar>_theta_pass, theta_status), the minimums carried over.
    With --factor-scores, each row's factor scores, their standard errors and the
    reliability of the scores, from the subscales as correlated factors (or --model).

    \b
    Examples:
      alliance score export.csv -o scores.csv
      alliance score export.csv --thresholds thresholds.yaml -o scores.csv --json
      alliance score export.csv --calibration calibration.yaml -o scores.csv
      alliance score export.ndjson --format fhir -o observations.ndjson
      alliance score export.csv --factor-scores -o scores.csv
      alliance score export.csv --factor-scores eap --estimator wlsmv -o scores.csv
      ALLIANCE_PSEUDONYM_KEY=... alliance score export.csv -o scores_for_sharing.csv
      alliance score export.csv --pseudonymize-key-file key.txt -o scores_for_sharing.csv
      alliance score five.sav --instrument five_factors.yaml --pillars a,b,c,d -o scores.csv
      alliance score items.csv --instrument 'f =~ q1 + q2 + q3; g =~ q4 + q5 + q6' \
          --pillars f,g --scale 1-7 -o scores.csv
    """
    if as_json and output is None:
        raise InputError("--json prints the summary on stdout; give -o FILE for the table.")
    read = read_checked(export_path, options)
    say_identifiers(read.checked.export)
    stop_if_nothing_usable(read.checked, "score")
    run = score_run(read, options, names_list(carry), calibration_file, factor_method)
    shape = fmt or _shape(output)
    if shape == "fhir":
        from analysis.fileio import atomic_write_text
        from analysis.scoring.observations import observations_ndjson

        text = observations_ndjson(run.table, read.instrument, options.pseudonym_key is not None)
        if output is None:
            click.echo(text, nl=False)
        else:
            atomic_write_text(output, text)
    elif output is None:
        click.echo(csv_text(run.table), nl=False)
    else:
        write_table(run.table, output, parquet=shape == "parquet")
    if as_json:
        click.echo(dumps_json(run.to_dict(output)), nl=False)
        return
    for line in run.summary_lines():
        say(line)
    if output is not None:
        what = "Observations" if shape == "fhir" else "rows"
        say(f"wrote {len(run.table):,} {what} to {output}")


def _shape(output: Path | None) -> str:
    suffix = output.suffix.lower() if output is not None else ""
    return {".parquet": "parquet", ".ndjson": "fhir", ".jsonl": "fhir"}.get(suffix, "csv")
