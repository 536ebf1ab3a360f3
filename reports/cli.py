"""The `alliance` command line: parse arguments, call one library function, print.

Data goes to stdout (or ``-o FILE``), progress and messages to stderr. Exit codes: 0 ok;
1 problems the user asked to fail on; 2 usage, configuration or unreadable input, with a
one-line message and no traceback.
"""

from __future__ import annotations

from pathlib import Path

import click

from analysis.benchmark import run_benchmark
from analysis.describe import overview
from analysis.fileio import atomic_write_text
from analysis.pipeline import Options, analyse_read, read_checked
from analysis.simulate import SIMULATE_FORMATS, Dif, simulate, write_export
from analysis.store import file_sha256, ingest_checked, open_store
from instrument import Instrument, load_instrument
from instrument.exports import FORMATS, export

from .benchmark_report import build_benchmark_report
from .cli_check import check_command
from .cli_common import instrument_option, say, user_errors
from .cli_invariance import invariance_command
from .cli_report import report_command
from .cli_score import score, summary_lines
from .cli_store import benchmark_command, ingest_command
from .cli_validate import validate_command
from .output import write_csv
from .report import build_report

DEMO_PATIENTS, DEMO_CLINICIANS, DEMO_SESSIONS, DEMO_SEED = 2000, 40, 3, 2026


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="alliance", prog_name="alliance")
def cli() -> None:
    """Therapeutic alliance surveys: item banks, exports, simulation and analysis.

    \b
    Examples:
      alliance items --form patient-short
      alliance items --form patient --format redcap -o dictionary.csv
      alliance simulate -n 500 --clinicians 12 --sessions 3 --format qualtrics -o export.csv
      alliance demo -o demo-output
    """


@cli.command()
@instrument_option
@click.option(
    "--form",
    default=None,
    metavar="NAME",
    help="A named form (e.g. patient, patient-short, clinician, trust); default: the whole bank.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="table and csv list the items; json adds scales, subscales, forms and counts; "
    "redcap is a data dictionary; qualtrics is Advanced Format TXT; html is a "
    "printable form.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of stdout.",
)
@user_errors
def items(instrument_spec: str, form: str | None, fmt: str, output: Path | None) -> None:
    """List the item bank or one form, or export it to a survey platform.

    \b
    Examples:
      alliance items                                   # every item, as a table
      alliance items --form patient-short --format json
      alliance items --form patient --format redcap -o alliance_dictionary.csv
      alliance items --form patient-full --format qualtrics -o survey.txt
      alliance items --form clinician --format html -o clinician_form.html
      alliance items --instrument my_scale.yaml --format csv
    """
    instrument = load_instrument(instrument_spec)
    if form is not None:
        instrument.form(form)  # a clear error for an unknown form name
    text = export(instrument, fmt, form)
    if output is None:
        click.echo(text, nl=False)
    else:
        atomic_write_text(output, text)
        say(f"wrote {len(instrument.select(form))} items ({fmt}) to {output}")


def _format_for(output: Path, fmt: str | None) -> str:
    if fmt is not None:
        return fmt
    return "sav" if output.suffix.lower() == ".sav" else "csv"


@cli.command(name="simulate")
@instrument_option
@click.option("-n", "n", type=click.IntRange(min=1), required=True, help="Number of patients.")
@click.option("--clinicians", type=click.IntRange(min=1), default=20, show_default=True)
@click.option(
    "--sessions",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Sessions per patient (fewer for those who drop out).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same file.")
@click.option(
    "--form",
    default="patient-full",
    show_default=True,
    metavar="NAME",
    help="Which form the patients answer.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(SIMULATE_FORMATS),
    default=None,
    help="Export shape; default from the file name (.sav is SPSS, else csv).",
)
@click.option(
    "--months",
    type=click.IntRange(min=1),
    default=None,
    help="Observe the clinic for this many months from January 2026; later sessions have "
    "not happened yet.",
)
@click.option(
    "--per-month",
    is_flag=True,
    help="Write one export per calendar month: NAME-2026-01.csv, NAME-2026-02.csv, ...",
)
@click.option(
    "--dif",
    "dif",
    multiple=True,
    metavar="ITEM:KIND=SIZE:COLUMN=VALUE",
    help="Plant an item that works differently in one site or clinician's rows, e.g. "
    "'pg03:intercept=-0.8:site_id=S01' (or loading=0.3); repeatable.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@user_errors
def simulate_command(
    instrument_spec: str,
    n: int,
    clinicians: int,
    sessions: int,
    seed: int,
    form: str,
    fmt: str | None,
    months: int | None,
    per_month: bool,
    dif: tuple[str, ...],
    output: Path,
) -> None:
    """Write a realistic simulated survey export.

    Three correlated alliance pillars and trust factors, clinician effects, several sessions
    per patient, dropout, ceiling effects, a few missing answers and careless responders.

    \b
    Examples:
      alliance simulate -n 2000 --clinicians 40 --sessions 3 -o export.csv
      alliance simulate -n 500 --format qualtrics -o qualtrics_export.csv
      alliance simulate -n 500 --format redcap -o redcap_export.csv
      alliance simulate -n 500 -o export.sav
      alliance simulate -n 3000 --clinicians 40 --months 12 --per-month -o exports/clinic.csv
      alliance simulate -n 1500 --sessions 1 --dif 'pg03:intercept=-0.8:site_id=S01' -o dif.csv
    """
    instrument = load_instrument(instrument_spec)
    chosen = _format_for(output, fmt)
    sim = simulate(
        instrument,
        n,
        form=_form_for(instrument, form),
        clinicians=clinicians,
        sessions=sessions,
        seed=seed,
        months=months,
        dif=tuple(Dif.parse(d) for d in dif),
    )
    where = str(output)
    if per_month:
        parts = sim.by_month()
        for month, part in parts.items():
            write_export(part, instrument, output.with_stem(f"{output.stem}-{month}"), chosen)
        where = f"{len(parts)} monthly files {output.with_stem(output.stem + '-YYYY-MM')}"
    else:
        write_export(sim, instrument, output, chosen)
    say(
        f"wrote {len(sim.data):,} responses from {n:,} patients and {clinicians} clinicians "
        f"({chosen}) to {where}"
    )


def _form_for(instrument: Instrument, form: str) -> str | None:
    """The default form belongs to the built-in bank; other instruments use their own."""
    if form in instrument.forms:
        return form
    if form == "patient-full" and len(instrument.forms) == 1:
        return next(iter(instrument.forms))
    instrument.form(form)  # raises the clear error
    return form


@cli.command()
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-output"),
    show_default=True,
)
@user_errors
def demo(output_dir: Path) -> None:
    """Simulate a realistic clinic export and show what the toolkit makes of it.

    Writes a Qualtrics-style export of 2,000 patients seen by 40 clinicians over up to
    3 sessions, the survey itself (REDCap dictionary, Qualtrics TXT, printable form), reads the
    export back, prints an overview, scores it under the non-compensatory rule, writes the
    report (with measurement invariance across the sites), and stores the export in a clinic
    store (clinic.duckdb) to benchmark the clinicians (benchmark.html).

    \b
    Example:
      alliance demo -o demo-output
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    instrument = load_instrument(None)
    form = "patient-full"
    written = []
    for fmt, name in (
        ("redcap", "redcap_dictionary.csv"),
        ("qualtrics", "qualtrics_survey.txt"),
        ("html", "patient_form.html"),
    ):
        written.append(atomic_write_text(output_dir / name, export(instrument, fmt, form)))
    say(
        f"simulating {DEMO_PATIENTS:,} patients, {DEMO_CLINICIANS} clinicians, "
        f"{DEMO_SESSIONS} sessions ..."
    )
    sim = simulate(
        instrument,
        DEMO_PATIENTS,
        form=form,
        clinicians=DEMO_CLINICIANS,
        sessions=DEMO_SESSIONS,
        seed=DEMO_SEED,
    )
    export_path = write_export(sim, instrument, output_dir / "qualtrics_export.csv", "qualtrics")
    written.append(export_path)
    options = Options(invariance="site_id")
    read = read_checked(export_path, options)
    checked = read.checked
    usable = checked.usable_data()
    summary = overview(usable, instrument)
    click.echo(
        f"Read {export_path} ({checked.export.platform}): {checked.rows_in:,} responses, "
        f"{checked.rows_quarantined:,} set aside by the checks "
        f"({', '.join(f'{k} {v}' for k, v in checked.to_dict()['quarantine_reasons'].items())}); "
        f"{summary.respondents:,} patients, {summary.clinicians} clinicians."
    )
    quarantine_path = output_dir / "quarantine.csv"
    write_csv(checked.quarantined_rows(), quarantine_path)
    written.append(quarantine_path)
    click.echo(f"{'subscale':<12} {'items':>5} {'missing':>8} {'at ceiling':>10}")
    for subscale, row in summary.per_subscale.iterrows():
        click.echo(
            f"{subscale!s:<12} {int(row['n_items']):>5} {row['missing_share']:>8.1%} "
            f"{row['ceiling_share']:>10.1%}"
        )
    analysis = analyse_read(read, options)
    scored = analysis.scored
    if scored is None:  # the built-in bank declares its rule: this is not expected
        raise ValueError(analysis.rule_error)
    scores_path = output_dir / "scores.csv"
    write_csv(scored.table, scores_path)
    written.append(scores_path)
    click.echo("")
    click.echo("Non-compensatory alliance rule (each pillar at or above its own minimum):")
    for line in summary_lines(scored):
        click.echo(f"  {line}")
    say("writing the report ...")
    report_path = output_dir / "report.html"
    atomic_write_text(report_path, build_report(analysis, by="clinician_id"))
    written.append(report_path)
    say("storing the export in a clinic store and benchmarking the clinicians ...")
    store_path = output_dir / "clinic.duckdb"
    with open_store(store_path, create=True) as con:
        stored = ingest_checked(
            con,
            checked,
            scored,
            read.instrument,
            source=str(export_path),
            sha256=file_sha256(export_path),
        )
        compared = run_benchmark(con, "clinician_id")
    benchmark_path = output_dir / "benchmark.html"
    atomic_write_text(benchmark_path, build_benchmark_report(compared, store_path.name))
    written += [store_path, benchmark_path]
    click.echo(
        f"Clinic store: {stored.rows_new:,} new responses, {stored.rows_already_stored:,} "
        f"already stored; {len(compared.groups)} clinicians benchmarked."
    )
    click.echo("Files:")
    for path in written:
        click.echo(f"  {path}")
    click.echo(f"Report: {report_path}")


cli.add_command(check_command)
cli.add_command(ingest_command)
cli.add_command(benchmark_command)
cli.add_command(report_command)
cli.add_command(score)
cli.add_command(validate_command)
cli.add_command(invariance_command)


def main() -> None:
    cli(prog_name="alliance")


if __name__ == "__main__":
    main()
