"""`alliance score`: scores and the non-compensatory rule for every response of an export."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from analysis import names
from analysis.ingest import read_export
from analysis.privacy import pseudonymize
from analysis.scoring import (
    DEFAULT_MAX_MISSING_SHARE,
    PILLARS,
    ScoreResult,
    load_thresholds,
    score_export,
    score_items,
)
from instrument import load_instrument

from .cli_common import (
    InputError,
    instrument_option,
    read_checked,
    read_options,
    say,
    user_errors,
)
from .output import csv_text, dumps_json, write_csv


def summary_lines(result: ScoreResult) -> list[str]:
    c = result.classification
    counts = c.counts
    lines = [
        f"scored {sum(counts.values()):,} responses ({result.scores.form} form): "
        f"{counts['adequate']:,} adequate, {counts['inadequate']:,} inadequate, "
        f"{counts['insufficient_data']:,} with too few answers",
    ]
    if c.most_failed_pillar:
        fails = ", ".join(f"{p} {n:,}" for p, n in c.fails_by_pillar.items())
        lines.append(f"failing pillars: {fails}; most often {c.most_failed_pillar}")
    lines.append(
        f"masked ruptures (adequate total, a pillar below its minimum): {c.masked_ruptures:,}"
    )
    lines.append(f"classification accuracy {c.accuracy:.3f}, consistency {c.consistency:.3f}")
    for t in c.thresholds:
        lines.append(f"minimum {t.pillar} = {t.value:.3g} ({t.method}): {t.provenance}")
    return lines


@click.command()
@click.argument("export_path", metavar="EXPORT", type=click.Path(path_type=Path))
@instrument_option
@read_options
@click.option(
    "--thresholds",
    "thresholds_file",
    type=click.Path(path_type=Path),
    default=None,
    help="YAML file of minimums per pillar (fixed, normative or criterion); default: 3.5 on a "
    "1-5 scale (62.5% of the range) for bond, goals and tasks.",
)
@click.option(
    "--max-missing",
    type=click.FloatRange(0, 1, max_open=True),
    default=DEFAULT_MAX_MISSING_SHARE,
    show_default=True,
    help="Largest share of a subscale's items that may be unanswered for it to be scored "
    "(0.25: 1 of 4, 2 of 8).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the per-response table here (CSV); default: stdout.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the summary as JSON (write the table with -o)."
)
@click.option(
    "--pseudonymize",
    "key",
    default=None,
    metavar="KEY",
    help="Replace respondent and response ids by a keyed hash (HMAC-SHA256).",
)
@user_errors
def score(
    export_path: Path,
    instrument_spec: str,
    map_file: Path | None,
    max_size: str,
    thresholds_file: Path | None,
    max_missing: float,
    output: Path | None,
    as_json: bool,
    key: str | None,
) -> None:
    """Score an export and apply the non-compensatory alliance rule.

    One row per response: the subscale scores (item-mean metric), pass or fail per pillar,
    alliance_status, the weakest pillar and its margin, the compensatory total and whether it
    hides a failing pillar (masked_rupture), and p_adequate, the probability that the true
    scores clear every minimum given measurement error. A score at or above its minimum passes.

    \b
    Examples:
      alliance score export.csv -o scores.csv
      alliance score export.csv --thresholds thresholds.yaml -o scores.csv --json
      alliance score export.csv --pseudonymize "$ALLIANCE_KEY" -o scores_for_sharing.csv
    """
    if as_json and output is None:
        raise InputError("--json prints the summary on stdout; give -o FILE for the table.")
    instrument = load_instrument(instrument_spec)
    checked = read_checked(export_path, instrument, map_file, max_size)
    pillars = tuple(p for p in PILLARS if p in instrument.subscales)
    plan = load_thresholds(thresholds_file, pillars) if thresholds_file else None

    def reference(path: Path) -> pd.DataFrame:
        return score_items(read_export(path, instrument).data, instrument).scores

    result = score_export(
        checked.usable_data(),
        instrument,
        plan,
        max_missing_share=max_missing,
        load_reference=reference,
    )
    table = result.table
    if key is not None:
        ids = [c for c in (names.RESPONDENT_ID, names.RESPONSE_ID) if c in table]
        table = table.assign(**{col: pseudonymize(table[col], key) for col in ids})
    if output is None:
        click.echo(csv_text(table), nl=False)
    else:
        write_csv(table, output)
    if as_json:
        doc = {
            "export": str(export_path),
            "platform": checked.export.platform,
            "output": str(output),
            "rows_in": checked.rows_in,
            "rows_quarantined": checked.rows_quarantined,
            "rows_scored": len(table),
        }
        click.echo(dumps_json({**doc, **result.summary()}), nl=False)
        return
    say(
        f"{checked.rows_quarantined:,} of {checked.rows_in:,} rows set aside by the checks "
        f"(alliance check --quarantine FILE lists them)"
    )
    for line in summary_lines(result):
        say(line)
    if output is not None:
        say(f"wrote {len(table):,} rows to {output}")
