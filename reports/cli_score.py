"""`alliance score`: scores and the non-compensatory rule for every response of an export."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from analysis.pipeline import calibration_for, read_checked, scores_table
from analysis.pipeline import score as score_read

from .cli_common import (
    InputError,
    builds_options,
    calibration_option,
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
from .score_text import score_lines

if TYPE_CHECKING:
    from analysis.reading import Options


def theta_summary(table: Any, calibration: Any, calibration_file: Path) -> dict[str, Any]:
    """The calibration's minimums on theta and the counts of the rule there."""
    from analysis.irt.theta import minimum_lines

    counts = table["theta_status"].value_counts().to_dict() if "theta_status" in table else {}
    return {
        "calibration": str(calibration_file),
        "scales": list(calibration.scales),
        "minimums": {
            p: {"item_mean": s.minimum, "theta": s.theta_minimum}
            for p, s in calibration.scales.items()
            if p in calibration.pillars
        },
        "minimums_text": minimum_lines(calibration),
        "status_counts": {str(k): int(v) for k, v in counts.items()},
    }


def theta_lines(table: Any, calibration: Any, calibration_file: Path) -> list[str]:
    doc = theta_summary(table, calibration, calibration_file)
    counts = doc["status_counts"]
    lines = [
        f"on theta ({calibration_file.name}): "
        + ", ".join(
            f"{counts.get(k, 0):,} {k.replace('_', ' ')}"
            for k in ("adequate", "inadequate", "insufficient_data")
        )
        if counts
        else f"on theta ({calibration_file.name}): scores only, no rule"
    ]
    lines.extend(f"  {line}" for line in doc["minimums_text"])
    return lines


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
@key_options
@user_errors
@builds_options
def score(
    export_path: Path,
    calibration_file: Path | None,
    output: Path | None,
    as_json: bool,
    carry: str | None,
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

    \b
    Examples:
      alliance score export.csv -o scores.csv
      alliance score export.csv --thresholds thresholds.yaml -o scores.csv --json
      alliance score export.csv --calibration calibration.yaml -o scores.csv
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
    checked = read.checked
    calibration = calibration_for(read, calibration_file) if calibration_file is not None else None
    result = score_read(read, options, calibration=calibration)
    table = scores_table(read, result, names_list(carry))  # ids pseudonymised as read
    if output is None:
        click.echo(csv_text(table), nl=False)
    else:
        write_table(table, output)
    if as_json:
        doc = {
            "export": str(export_path),
            "platform": checked.export.platform,
            "output": str(output),
            "rows_in": checked.rows_in,
            "rows_quarantined": checked.rows_quarantined,
            "rows_scored": len(table),
        }
        summary = result.summary()
        if calibration_file is not None:
            summary["theta"] = theta_summary(table, calibration, calibration_file)
        click.echo(dumps_json({**doc, **summary}), nl=False)
        return
    say(
        f"{checked.rows_quarantined:,} of {checked.rows_in:,} rows set aside by the checks "
        f"(alliance check --quarantine FILE lists them)"
    )
    for line in score_lines(result):
        say(line)
    if calibration_file is not None:
        for line in theta_lines(table, calibration, calibration_file):
            say(line)
    if output is not None:
        say(f"wrote {len(table):,} rows to {output}")
