"""`alliance demo`: simulate a clinic's export and run every step on it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from analysis.choices import DEFAULT_STOP
from analysis.clinic import benchmark, clinician_view
from analysis.describe import overview
from analysis.fileio import atomic_write_text, file_sha256
from analysis.irt import save_calibration
from analysis.irt.adaptive import StopRule
from analysis.irt.text import adaptive_lines
from analysis.irt.theta import theta_columns
from analysis.pipeline import Options, analyse_read, calibrate, read_checked
from analysis.simulate import simulate, write_export
from analysis.store.backends import DuckDBBackend
from analysis.store.schema import open_store
from analysis.store.writer import ingest_checked
from analysis.summaries import reasons_text
from instrument import load_instrument
from instrument.exports import export

from .adaptive_page import adaptive_page
from .benchmark_report import build_benchmark_report
from .cli_common import say, user_errors
from .monitor_pages import IDENTIFIABLE, clinician_page
from .output import write_csv
from .report import build_report

DEMO_PATIENTS, DEMO_CLINICIANS, DEMO_SESSIONS, DEMO_SEED = 2000, 40, 3, 2026


@click.command(name="demo")
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-output"),
    show_default=True,
)
@user_errors
def demo_command(output_dir: Path) -> None:
    """Simulate a realistic clinic export and show what the toolkit makes of it.

    Writes a Qualtrics-style export of 2,000 patients seen by 40 clinicians over up to
    3 sessions and the survey itself (REDCap dictionary, Qualtrics TXT, printable form); reads
    the export back, prints an overview and scores it under the non-compensatory rule;
    calibrates the item bank on it (calibration.yaml, and adaptive.html, the adaptive
    questionnaire that asks each patient only the most informative items); writes the report
    (measurement invariance across the sites, the patients' rupture alerts over sessions, the
    calibration and an adaptive test simulated on the export); and stores the export in a
    clinic store (clinic.duckdb) to benchmark the clinicians (benchmark.html) and write the
    own page of the clinician with the most patients (clinician_<ID>.html: identifiable, for
    that clinician only).

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
    options = Options(invariance="site_id", estimator="auto")
    read = read_checked(export_path, options)
    checked = read.checked
    usable = checked.usable_data()
    summary = overview(usable, instrument)
    click.echo(
        f"Read {export_path} ({checked.export.platform}): {checked.rows_in:,} responses, "
        f"{checked.rows_quarantined:,} set aside by the checks "
        f"({reasons_text(checked.quarantine_reasons(), checked.rows_quarantined)}); "
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
    say("calibrating the item bank on the export (graded response model per subscale) ...")
    calibration = calibrate(read, options, progress=say)
    calibration_path = save_calibration(calibration, output_dir / "calibration.yaml")
    adaptive_path = atomic_write_text(
        output_dir / "adaptive.html",
        adaptive_page(calibration, read.instrument, StopRule.parse(DEFAULT_STOP)),
    )
    written += [calibration_path, adaptive_path]
    options = replace(options, calibration=calibration_path, by="clinician_id")
    analysis = analyse_read(read, options)
    scored = analysis.scored
    if scored is None:  # the built-in bank declares its rule: this is not expected
        raise ValueError(analysis.rule_error)
    scores_path = output_dir / "scores.csv"
    write_csv(scored.table, scores_path)
    written.append(scores_path)
    click.echo("")
    click.echo("Non-compensatory alliance rule (each pillar at or above its own minimum):")
    for line in scored.lines():
        click.echo(f"  {line}")
    if analysis.irt is not None:
        click.echo("")
        for line in adaptive_lines(analysis.irt.adaptive):
            click.echo(line)
    say("writing the report ...")
    report_path = output_dir / "report.html"
    atomic_write_text(report_path, build_report(analysis))
    written.append(report_path)
    say("storing the export in a clinic store and benchmarking the clinicians ...")
    store_path = output_dir / "clinic.duckdb"
    with open_store(store_path, create=True) as con:
        # The store keeps the item-mean scores and the rule; the theta columns stay in the
        # report and scores.csv.
        item_mean = replace(
            scored, table=scored.table.drop(columns=theta_columns(calibration), errors="ignore")
        )
        stored = ingest_checked(
            con,
            checked,
            item_mean,
            read.instrument,
            source=str(export_path),
            sha256=file_sha256(export_path),
        )
        backend = DuckDBBackend(con, store_path.name)
        compared = benchmark(backend, "clinician_id")
        benchmark_path = output_dir / "benchmark.html"
        atomic_write_text(benchmark_path, build_benchmark_report(compared, store_path.name))
        busiest = str(compared.groups.sort_values("n_patients", kind="stable")["group"].iat[-1])
        say(f"writing the own page of {busiest}, the clinician with the most patients ...")
        page_path = output_dir / f"clinician_{busiest}.html"
        view = clinician_view(backend, busiest, benchmarked=compared)
        atomic_write_text(page_path, clinician_page(view))
        say(f"wrote {page_path}: {IDENTIFIABLE}")
    written += [store_path, benchmark_path, page_path]
    click.echo(
        f"Clinic store: {stored.rows_new:,} new responses, {stored.rows_already_stored:,} "
        f"already stored; {len(compared.groups)} clinicians benchmarked."
    )
    click.echo("Files:")
    for path in written:
        click.echo(f"  {path}")
    click.echo(f"Report: {report_path}")
