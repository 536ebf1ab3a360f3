"""`alliance validate`: reliability, EFA and competing CFA models for an export."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from analysis.choices import EFA_METHODS, PARALLEL_ITERATIONS
from analysis.efa import PARALLEL_KINDS
from analysis.pipeline import read_checked, validate
from analysis.summaries import parameter_text

from .cli_common import (
    InputError,
    bootstrap_options,
    builds_options,
    draw_bar,
    group_options,
    open_source,
    parse_since,
    progress_printer,
    read_options,
    say_identifiers,
    source_options,
    user_errors,
    validate_options,
)
from .output import dumps_json

if TYPE_CHECKING:
    from analysis.reading import Options


@click.command(name="validate")
@click.argument("export_path", metavar="[EXPORT]", required=False, type=click.Path(path_type=Path))
@read_options
@validate_options
@group_options()
@click.option(
    "--parallel",
    type=click.Choice(PARALLEL_KINDS),
    default="components",
    show_default=True,
    help="Which parallel analysis reports first: components (eigenvalues of the "
    "correlations) or factors (reduced correlations, as psych's fa.parallel fa = 'fa'); "
    "both are printed.",
)
@click.option(
    "--parallel-iterations",
    type=click.IntRange(min=2),
    default=PARALLEL_ITERATIONS,
    show_default=True,
    metavar="N",
    help="Random correlation matrices parallel analysis draws (psych's n.iter); more gives a "
    "steadier 95th percentile.",
)
@click.option(
    "--efa-method",
    type=click.Choice(EFA_METHODS),
    default="minres",
    show_default=True,
    help="The EFA's extraction, as psych's fa(fm = ...): minres (psych's default), ml, or pa "
    "(iterated principal axes).",
)
@source_options
@click.option(
    "--perspective",
    type=click.Choice(["patient", "clinician"]),
    default="patient",
    show_default=True,
    help="With --db or --parquet: whose stored ratings.",
)
@click.option(
    "--since", default=None, metavar="DATE", help="With --db or --parquet: sessions on or after."
)
@click.option(
    "--parameters",
    "show_parameters",
    is_flag=True,
    help="Also print the hypothesized model's parameter table (estimate, SE, z, p, 95% CI, "
    "std.all and its SE), as lavaan's parameterEstimates and standardizedSolution, in every "
    "group; the JSON always has it.",
)
@bootstrap_options
@click.option(
    "--methods",
    "as_methods",
    is_flag=True,
    help="Print the methods paragraph a paper needs instead (rows, missing answers, nesting, "
    "estimator, fit criteria, software), every number from this run, with references.",
)
@click.option("--json", "as_json", is_flag=True, help="Print every number as JSON on stdout.")
@user_errors
@builds_options
def validate_command(
    export_path: Path | None,
    instrument_spec: str,
    model: str | None,
    estimator: str,
    group: str | None,
    db: Path | None,
    parquet: Path | None,
    engine: str,
    spark_master: str | None,
    perspective: str,
    since: str | None,
    show_parameters: bool,
    as_methods: bool,
    as_json: bool,
    options: Options,
) -> None:
    """Check the structure of an instrument on an export: reliability, EFA, CFA.

    Per subscale: alpha with its CI, omega, composite reliability and AVE; KMO, Bartlett and
    parallel analysis; one-factor, correlated-subscales and bifactor CFA models (and those the
    instrument declares: for the alliance, bond vs goals + tasks) side by side with chi-square
    difference tests; HTMT. Numbers agree with R's lavaan, psych and semTools. The first line
    says how many rows were used and why any were left out; --rows all fits every answered
    row, as R would read the file. Missing answers: FIML when any is missing, so a patient
    who skipped an item still counts, else complete rows as lavaan (--missing listwise or
    fiml asks for one). --group fits the hypothesized model in every group of a column at once (a
    multi-group CFA), with --group-equal and --group-partial as lavaan's group.equal and
    group.partial; `alliance invariance` runs the whole sequence. --bootstrap N adds
    percentile intervals for omega, CR, AVE and HTMT.

    \b
    Examples:
      alliance validate export.csv
      alliance validate export.csv --estimator mlr --json
      alliance validate export.csv --methods
      alliance validate export.csv --bootstrap 1000 --seed 7
      alliance validate bfi.csv --rows all --missing listwise --model 'agree =~ A1 + A2 + A3'
      alliance validate hs.csv --rows all --model \
          'visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6; speed =~ x7 + x8 + x9'
      alliance validate five.sav --instrument five_factors.yaml --json
      alliance validate export.csv --group site_id --group-equal loadings,intercepts
      alliance validate --db clinic.duckdb --group site_id
      alliance validate --engine spark --parquet lake/clinic --json

    With --db (or --parquet, on DuckDB or Spark) instead of EXPORT, the hypothesized model is
    fitted by ML to the whole store's responses from their aggregated moments (per group with
    --group clinician_id or site_id): the engine sums the items' products where the data
    live, so millions of sessions are never loaded. Complete responses only (listwise), and
    no robust corrections, which need more than the moments; the first line says so.
    """
    if as_methods and as_json:
        raise InputError("give --methods or --json, not both.")
    if db is not None or parquet is not None:
        if as_methods:
            raise InputError("--methods describes a validation of an EXPORT, not of a store.")
        if export_path is not None:
            raise InputError("give EXPORT or a store (--db, --parquet), not both.")
        if options.bootstrap:
            raise InputError(
                "--bootstrap resamples an export's rows; a store is fitted from "
                "its moments: give an EXPORT."
            )
        _validate_store(
            db,
            parquet,
            engine,
            spark_master,
            instrument_spec,
            model,
            group,
            perspective,
            since,
            estimator,
            as_json,
        )
        return
    if export_path is None:
        raise InputError("give an EXPORT to validate, or a store with --db FILE or --parquet DIR.")
    _, step = progress_printer()
    read = read_checked(export_path, options)
    say_identifiers(read.checked.export)
    with draw_bar(options.bootstrap, "bootstrap draws") as progress:
        result = validate(read, options, progress=progress, stage=step)
    if as_json:
        click.echo(dumps_json(result.to_dict()), nl=False)
        return
    if as_methods:
        click.echo(result.methods())
        return
    click.echo(result.summary())
    if show_parameters and result.hypothesized is not None:
        click.echo("")
        click.echo("parameters of the hypothesized model")
        click.echo(parameter_text(result.hypothesized.parameters()))
    if show_parameters and result.two_level is not None:
        click.echo("")
        click.echo("parameters of the two-level model, per level")
        click.echo(parameter_text(result.two_level.parameters()))


def _validate_store(
    db: Path | None,
    parquet: Path | None,
    engine: str,
    master: str | None,
    instrument_spec: str,
    model: str | None,
    group: str | None,
    perspective: str,
    since: str | None,
    estimator: str,
    as_json: bool,
) -> None:
    from analysis.clinic.structure import fit_store
    from instrument import load_instrument

    if estimator != "ml":
        raise InputError(
            f"a store is fitted by ML from its moments; --estimator {estimator} needs the rows "
            "(validate an export for MLR or WLSMV)."
        )
    instrument = load_instrument(instrument_spec)
    with open_source(db, parquet, engine, master) as backend:
        fitted = fit_store(
            backend,
            instrument,
            model=model,
            group=group,
            perspective=perspective,
            since=parse_since(since),
        )
    if as_json:
        click.echo(dumps_json(fitted.to_dict()), nl=False)
        return
    for line in fitted.summary_lines():
        click.echo(line)
