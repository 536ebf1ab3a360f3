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
from analysis.ruptures import DEFAULT_ESTABLISH_WITHIN
from analysis.store.backends import Backend

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
    if key is not None:
        counts = counts.pseudonymized(key)
    if output is not None:
        if output.suffix.lower() in (".csv", ".parquet"):
            write_table(counts.groups, output)
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
        click.echo(dumps_json(m.to_dict(clinician)))
    elif output is None:
        click.echo(m.summary())
