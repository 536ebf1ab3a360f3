"""`alliance ingest` and `alliance benchmark`: the clinic store and fair comparisons from it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from analysis.benchmark import DEFAULT_MIN_N, load_norms
from analysis.choices import GROUPINGS
from analysis.clinic import benchmark, clinician_view
from analysis.fileio import atomic_write_text
from analysis.pipeline import (
    Options,
)
from analysis.ruptures.alerts import AlertSettings
from analysis.store.schema import open_store
from analysis.store.writer import BATCH_ROWS

from .benchmark_report import build_benchmark_report
from .cli_common import (
    InputError,
    alert_options,
    builds_options,
    key_options,
    open_source,
    parse_since,
    pseudonym_key,
    read_options,
    say,
    say_identifiers,
    score_options,
    source_options,
    user_errors,
)
from .monitor_pages import IDENTIFIABLE, clinician_page
from .output import dumps_json, write_table

if TYPE_CHECKING:
    from analysis.reading import Options

DB_OPTION = click.option(
    "--db",
    "db",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    metavar="FILE",
    help="The clinic store (a DuckDB file).",
)


@click.command(name="export-store")
@DB_OPTION
@click.option(
    "--parquet",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    metavar="DIR",
    help="A new (or empty) folder for the Parquet files.",
)
@user_errors
def export_store_command(db: Path, parquet: Path) -> None:
    """Copy the clinic store to Parquet files, partitioned by month, for a data lake.

    Writes DIR/scores and DIR/responses (one folder per month, month=2026-01, ...),
    DIR/ingests.parquet and DIR/meta.parquet: what benchmarking and alerts read. Raw answers,
    the quarantine and the findings stay in the store. alliance benchmark --parquet DIR and
    alliance alerts --parquet DIR read the copy as they read the store.

    \b
    Examples:
      alliance export-store --db clinic.duckdb --parquet lake/clinic
      alliance benchmark --parquet lake/clinic --by site_id --json
      alliance benchmark --engine spark --parquet lake/clinic --json
    """
    from analysis.store.lake import export_parquet

    with open_store(db, read_only=True) as con:
        rows = export_parquet(con, parquet)
    say(
        f"wrote {parquet}: {rows['scores']:,} scored responses, {rows['responses']:,} "
        f"responses, {rows['ingests']:,} ingests"
    )


@click.command(name="ingest")
@click.argument(
    "exports", metavar="EXPORT...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@read_options
@score_options
@DB_OPTION
@click.option(
    "--batch-rows",
    type=click.IntRange(min=1),
    default=BATCH_ROWS,
    show_default=True,
    help="Rows checked, scored and written per block; progress is reported per block.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one summary per export as JSON.")
@key_options
@user_errors
@builds_options
def ingest_command(
    exports: tuple[Path, ...],
    db: Path,
    batch_rows: int,
    as_json: bool,
    options: Options,
) -> None:
    """Append survey exports to the clinic store: checked, scored, each response once.

    Every export is one transaction: interrupted, it leaves the store as it was. It is
    checked, scored and written a block of --batch-rows rows at a time, in two passes (the
    first gathers what scoring takes from the whole export), so memory stays near the size
    of the export as read. A response already stored (same response id and instrument
    version) is not stored again; if its answers differ, that is recorded as a conflicting
    duplicate and the stored row kept.

    \b
    Examples:
      alliance ingest export_2026-03.csv --db clinic.duckdb
      alliance ingest exports/*.csv --db clinic.duckdb --json
      alliance ingest redcap.csv --map redcap_map.yaml --db clinic.duckdb
      alliance ingest redcap.csv --pseudonymize-key-file key.txt --db clinic.duckdb
    """
    from analysis.store.ingest import ingest_files

    summaries = ingest_files(
        db,
        exports,
        options,
        batch_rows=batch_rows,
        say=say,
        on_read=say_identifiers,
        on_stored=None if as_json else lambda summary: click.echo(summary.summary()),
    )
    if as_json:
        click.echo(dumps_json({"store": str(db), "ingests": [s.to_dict() for s in summaries]}))


@click.command(name="benchmark")
@source_options
@click.option(
    "--by",
    type=click.Choice(sorted(GROUPINGS)),
    default="clinician_id",
    show_default=True,
    help="Compare clinicians or sites.",
)
@click.option("--since", default=None, metavar="DATE", help="Only sessions on or after this date.")
@click.option(
    "--norms",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV of reference groups (columns bond, goals, tasks, share_adequate) for percentile "
    "ranks; default: the store's own history of group-months.",
)
@click.option(
    "--min-n",
    type=click.IntRange(min=1),
    default=DEFAULT_MIN_N,
    show_default=True,
    help="Groups (and months) with fewer patients are suppressed everywhere; at least 5 "
    "unless --identifiable.",
)
@click.option(
    "--identifiable",
    is_flag=True,
    help="Allow --min-n below 5 and skip the differencing guard: the output may identify "
    "patients, and is for the clinic's own staff only.",
)
@click.option(
    "--adjust",
    multiple=True,
    metavar="COLUMN",
    help="Case-mix adjustment for a numeric export column (repeatable).",
)
@click.option(
    "--perspective",
    default="patient",
    show_default=True,
    help="Whose ratings to compare.",
)
@click.option(
    "--clinician",
    default=None,
    metavar="ID",
    help="Write this clinician's own page (-o FILE.html): their patients' trajectories, "
    "alerts and unseen ruptures (identifiable, for the treating clinician), and where they "
    "sit among colleagues whose names are not shown.",
)
@key_options
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the report (.html) or the group table (.csv or .parquet).",
)
@alert_options
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
@user_errors
def benchmark_command(
    db: Path | None,
    parquet: Path | None,
    engine: str,
    spark_master: str | None,
    by: str,
    since: str | None,
    norms: Path | None,
    min_n: int,
    identifiable: bool,
    adjust: tuple[str, ...],
    perspective: str,
    clinician: str | None,
    key: str | None,
    key_file: Path | None,
    output: Path | None,
    as_json: bool,
    alerts: AlertSettings,
) -> None:
    """Compare clinicians or sites fairly: shrunken estimates, a funnel plot, trends.

    Groups with fewer than --min-n patients are left out of every output; respondent ids
    never appear. A group, month or total that would differ from any output this store has
    released before by fewer than --min-n patients is withheld too, so that no two outputs
    can be subtracted to show a patient (the store keeps a log of what it released).

    \b
    Examples:
      alliance benchmark --db clinic.duckdb --by clinician_id
      alliance benchmark --db clinic.duckdb --by site_id --since 2026-06-01 -o benchmark.html
      alliance benchmark --db clinic.duckdb --adjust age --json
      alliance benchmark --db clinic.duckdb --norms national_norms.csv -o groups.csv
      alliance benchmark --db clinic.duckdb --clinician C07 -o c07.html
      alliance benchmark --parquet lake/clinic --by site_id --json
      alliance benchmark --engine spark --parquet lake/clinic --json
    """
    key = pseudonym_key(key, key_file)
    if clinician is not None:
        if output is None or output.suffix.lower() not in (".html", ".htm") or as_json:
            raise InputError(
                "--clinician writes the clinician's own page: give -o FILE.html (and no --json)."
            )
        with open_source(db, parquet, engine, spark_master) as backend:
            view = clinician_view(
                backend, clinician, since=parse_since(since), min_n=min_n, key=key, settings=alerts
            )
        atomic_write_text(output, clinician_page(view))
        say(f"wrote {output}: {IDENTIFIABLE}")
        return
    if output is not None and output.suffix.lower() not in (".html", ".htm", ".csv"):
        raise InputError(f"-o must end in .html or .csv; got {output.name!r}.")
    since_date = parse_since(since)
    reference = load_norms(norms) if norms is not None else None
    # Writable: the store records what it releases, to refuse outputs that subtracted from
    # an earlier one would show fewer than --min-n patients.
    with open_source(db, parquet, engine, spark_master) as backend:
        say(f"benchmarking {backend.name} by {by} ...")
        result = benchmark(
            backend,
            by,
            since=since_date,
            norms=reference,
            norms_source=str(norms) if norms else "",
            min_n=min_n,
            adjust=adjust,
            perspective=perspective,
            identifiable=identifiable,
            settings=alerts,
        )
    if key is not None:
        result = result.pseudonymized(key)
    if output is not None:
        if output.suffix.lower() in (".csv", ".parquet"):
            write_table(result.groups, output)
            if result.alert_rule is not None:  # a table has no place for it
                say(f"rupture {result.alert_rule['first_line']}")
        else:
            atomic_write_text(output, build_benchmark_report(result, backend.name))
        say(f"wrote {output}")
    if as_json:
        click.echo(dumps_json(result.to_dict()))
    elif output is None:
        click.echo(result.summary(), nl=False)
