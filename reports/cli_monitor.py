"""`alliance alerts` and the clinician's own page: ruptures and agreement from the store."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from analysis.benchmark import DEFAULT_MIN_N
from analysis.choices import GROUPINGS
from analysis.clinic import clinician_view
from analysis.fileio import atomic_write_text
from analysis.monitor import alert_counts, monitor
from analysis.ruptures.alerts import AlertSettings
from analysis.store.backends import Backend

from .cli_common import (
    InputError,
    alert_options,
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
@alert_options
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
    alerts: AlertSettings,
    key: str | None,
    key_file: Path | None,
    output: Path | None,
    as_json: bool,
) -> None:
    """Find alliance ruptures: one pillar falling while the others hold.

    A within-patient model is fitted to the store's sessions (each pillar's level, trend,
    session-to-session variance and item error) and run over each patient's sessions as a
    Kalman filter. A rupture alert is the session where the probability that one pillar fell
    by more than --drop true-score SDs, against what the patient's history and the other
    pillars predict, rises above a threshold; the repair is the session it falls back below
    one minus the threshold. The threshold is set so that the fitted model expects at most
    --alert-rate false alerts per 100 patients over 8 sessions, and every output states it,
    that rate and the share of one-SD ruptures it catches. A level below a pillar's minimum is
    reported apart; a patient whose alliance is not adequate in any of the first N sessions is
    flagged as never established.

    With --clinician the output lists that clinician's patients (identifiable, for the
    treating clinician; --pseudonymize replaces their ids). Without it, the output counts
    alerts by group and month only, under the benchmark's small-cell and differencing rules.

    \b
    Examples:
      alliance alerts --db clinic.duckdb
      alliance alerts --db clinic.duckdb --alert-rate 10 --drop 0.75
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
            _clinician_alerts(backend, clinician, since_date, min_n, alerts, key, output, as_json)
            return
        m = monitor(backend, since=since_date, min_n=min_n, settings=alerts)
        counts = alert_counts(backend, m, by)
        name = backend.name
    if key is not None:
        counts = counts.pseudonymized(key)
    if output is not None:
        if output.suffix.lower() in (".csv", ".parquet"):
            write_table(counts.groups, output)
            say(f"rupture {counts.operating_point}")  # a table has no place for it
        else:
            atomic_write_text(output, alerts_page(m, counts, name))
        say(f"wrote {output}")
    if as_json:
        click.echo(dumps_json(counts.to_dict()))
    elif output is None:
        click.echo(counts.summary())


def _clinician_alerts(
    backend: Backend,
    clinician: str,
    since: date | None,
    min_n: int,
    alerts: AlertSettings,
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
            settings=alerts,
        )
        atomic_write_text(output, clinician_page(view))
        say(f"wrote {output}: {IDENTIFIABLE}")
        return
    m = monitor(
        backend,
        since=since,
        clinician=clinician,
        min_n=min_n,
        settings=alerts,
    )
    if key is not None:
        m = m.pseudonymized(key)
    say(IDENTIFIABLE)
    if output is not None:
        write_table(m.alerts, output)
        say(f"rupture {m.alert_rule.first_line()}")
        say(f"wrote {len(m.alerts):,} alerts of clinician {clinician} to {output}")
    if as_json:
        click.echo(dumps_json(m.to_dict()))
    elif output is None:
        click.echo(m.summary())
