"""`alliance alerts` and the clinician's own page: ruptures and agreement from the store."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

from analysis import names
from analysis.backends import Backend
from analysis.benchmark import DEFAULT_MIN_N, GROUPINGS
from analysis.clinic import clinician_view
from analysis.fileio import atomic_write_text
from analysis.monitor import (
    DEFAULT_ESTABLISH_WITHIN,
    alert_counts,
    monitor,
)
from analysis.privacy import pseudonymize

from .cli_common import (
    InputError,
    key_options,
    open_source,
    parse_since,
    pseudonym_key,
    say,
    source_options,
    user_errors,
)
from .monitor_pages import IDENTIFIABLE, alerts_page, clinician_page
from .output import dumps_json, write_table


def _records(frame: pd.DataFrame) -> list[dict[Hashable, Any]]:
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    return out.replace({np.nan: None}).to_dict(orient="records")


@click.command(name="alerts")
@source_options
@click.option("--since", default=None, metavar="DATE", help="Only sessions on or after this date.")
@click.option(
    "--clinician",
    default=None,
    metavar="ID",
    help="List this clinician's patients and their alerts (identifiable: for the treating "
    "clinician). Without it, only counts by group and month are given.",
)
@click.option(
    "--by",
    type=click.Choice(sorted(GROUPINGS)),
    default="clinician_id",
    show_default=True,
    help="Group the counts by clinician or site.",
)
@click.option(
    "--min-n",
    type=click.IntRange(min=1),
    default=DEFAULT_MIN_N,
    show_default=True,
    help="Groups and months with fewer patients are suppressed; at least 5.",
)
@click.option(
    "--establish-within",
    type=click.IntRange(min=1),
    default=DEFAULT_ESTABLISH_WITHIN,
    show_default=True,
    metavar="N",
    help="Flag a patient whose alliance is not adequate in any of the first N sessions.",
)
@key_options
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the alerts (.csv or .parquet) or a page (.html).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
@user_errors
def alerts_command(
    db: Path | None,
    parquet: Path | None,
    engine: str,
    spark_master: str | None,
    since: str | None,
    clinician: str | None,
    by: str,
    min_n: int,
    establish_within: int,
    key: str | None,
    key_file: Path | None,
    output: Path | None,
    as_json: bool,
) -> None:
    """Find alliance ruptures: a pillar below its minimum or falling beyond its error.

    Per patient and pillar, a rupture alert is the first session below the pillar's minimum,
    more than its reliable-change margin (1.96 x sqrt(2) x SEM, Jacobson and Truax) below the
    patient's previous session, or more than the best-session margin (c_k x SEM, set so that
    error alone crosses it as rarely as the first) below the best of the k earlier sessions;
    a repair is the session it ends; a patient whose alliance is not adequate in any of the
    first N sessions is flagged as never established.

    With --clinician the output lists that clinician's patients (identifiable, for the
    treating clinician; --pseudonymize replaces their ids). Without it, the output counts
    alerts by group and month only, under the benchmark's small-cell and differencing rules.

    \b
    Examples:
      alliance alerts --db clinic.duckdb
      alliance alerts --db clinic.duckdb --since 2026-06-01 --by site_id -o alerts.html
      alliance alerts --db clinic.duckdb --clinician C07 -o c07-alerts.csv
      alliance alerts --db clinic.duckdb --clinician C07 -o c07.html
      alliance alerts --parquet lake/clinic --since 2026-06-01
    """
    key = pseudonym_key(key, key_file)
    if output is not None and output.suffix.lower() not in (".html", ".htm", ".csv", ".parquet"):
        raise InputError(f"-o must end in .html, .csv or .parquet; got {output.name!r}.")
    since_date = parse_since(since)
    with open_source(db, parquet, engine, spark_master) as backend:
        if clinician is not None:
            _clinician_alerts(
                backend, clinician, since_date, min_n, establish_within, key, output, as_json
            )
            return
        m = monitor(backend, since=since_date, min_n=min_n, establish_within=establish_within)
        counts = alert_counts(backend, m, by)
        name = backend.name
    groups = counts.groups
    if key is not None:
        groups = groups.assign(group=pseudonymize(groups["group"], key))
        counts = replace(counts, groups=groups)
    if output is not None:
        if output.suffix.lower() in (".csv", ".parquet"):
            write_table(groups, output)
        else:
            atomic_write_text(output, alerts_page(m, counts, name))
        say(f"wrote {output}")
    if as_json:
        click.echo(
            dumps_json(
                {
                    "rule": m.rule(),
                    "since": m.since,
                    "by": counts.by,
                    "min_n": m.min_n,
                    "totals": counts.totals,
                    "groups": _records(groups),
                    "months": _records(counts.months),
                    "suppressed_groups": counts.suppressed_groups,
                    "withheld_groups": counts.withheld_groups,
                    "suppressed_months": counts.suppressed_months,
                    "withheld_months": counts.withheld_months,
                    "notes": counts.notes,
                }
            )
        )
    elif output is None:
        text = groups.to_string(index=False) if len(groups) else "(no group to show)"
        totals = counts.totals
        click.echo(
            (
                f"{totals['ruptures']:,} rupture alerts, {totals['repairs']:,} repairs and "
                f"{totals['never_established']:,} never established in {totals['sessions']:,} "
                f"sessions of {totals['patients']:,} patients\n"
                if totals
                else "totals withheld\n"
            )
            + f"{len(groups)} groups shown, {counts.suppressed_groups} suppressed (fewer than "
            f"{m.min_n} patients), {counts.withheld_groups} withheld against differencing\n"
            + text
            + "\n"
            + "".join(f"note: {n}\n" for n in counts.notes)
        )


def _clinician_alerts(
    backend: Backend,
    clinician: str,
    since: date | None,
    min_n: int,
    establish_within: int,
    key: str | None,
    output: Path | None,
    as_json: bool,
) -> None:
    if output is not None and output.suffix.lower() in (".html", ".htm"):
        view = clinician_view(
            backend,
            clinician,
            since=since,
            min_n=min_n,
            key=key,
            establish_within=establish_within,
        )
        atomic_write_text(output, clinician_page(view))
        say(f"wrote {output}: {IDENTIFIABLE}")
        return
    m = monitor(
        backend,
        since=since,
        clinician=clinician,
        min_n=min_n,
        establish_within=establish_within,
    )
    if key is not None:
        m = m.pseudonymized(key)
    say(IDENTIFIABLE)
    if output is not None:
        write_table(m.alerts, output)
        say(f"wrote {len(m.alerts):,} alerts of clinician {clinician} to {output}")
    if as_json:
        click.echo(
            dumps_json(
                {
                    "clinician": clinician,
                    "identifiable": True,
                    "rule": m.rule(),
                    "since": m.since,
                    "patients": int(m.sessions[names.RESPONDENT_ID].nunique()),
                    "sessions": len(m.sessions),
                    "alerts": _records(m.alerts),
                }
            )
        )
    elif output is None:
        shown = m.alerts[
            [names.RESPONDENT_ID, names.SESSION, names.DATE, "pillar", "event", "reason"]
        ]
        click.echo(_records_text(shown))


def _records_text(frame: pd.DataFrame) -> str:
    if not len(frame):
        return "(no alerts)"
    out = frame.copy()
    out[names.DATE] = pd.to_datetime(out[names.DATE]).dt.strftime("%Y-%m-%d")
    out["pillar"] = out["pillar"].fillna("")
    return out.to_string(index=False)
