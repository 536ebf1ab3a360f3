"""`alliance validate`: reliability, EFA and competing CFA models for an export."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import pandas as pd

from analysis.choices import EFA_METHODS, PARALLEL_ITERATIONS
from analysis.efa import PARALLEL_KINDS
from analysis.pipeline import read_checked, validate
from analysis.validate import ValidationResult

from .cli_common import (
    InputError,
    bootstrap_options,
    builds_options,
    draw_bar,
    group_options,
    open_source,
    parse_since,
    read_options,
    say_identifiers,
    source_options,
    user_errors,
    validate_options,
)
from .output import dumps_json, p_text

if TYPE_CHECKING:
    from analysis.reading import Options


# Which omega is which: semTools' compRelSEM gives both, by its obs.var argument.
RELIABILITY_NOTE = (
    "omega: the factor's share of the model-implied variance of the sum (compRelSEM, "
    "obs.var = FALSE); CR: of its observed variance (compRelSEM's default); AVE: semTools' AVE"
)
RELIABILITY_NOTE_ORDINAL = (
    "omega: Green & Yang's categorical omega on the sum of the answers (compRelSEM's default "
    "for ordinal items); CR and AVE: on the latent responses' observed variance"
)


def _number(value: Any, digits: int = 3) -> str:
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return "-"


def parameter_text(table: pd.DataFrame) -> str:
    """A parameter table as lavaan prints one: three decimals, p below .001 as '< .001', a
    fixed parameter's SE, z and p blank."""
    shown = table.copy()
    for column in ("est", "se", "z", "ci_lower", "ci_upper", "std_all", "std_all_se"):
        shown[column] = [
            "" if v != v else f"{v:.3f}"  # NaN: a fixed parameter's SE, z and interval
            for v in shown[column].to_numpy(float)
        ]
    shown["pvalue"] = ["" if v != v else p_text(v) for v in table["pvalue"].to_numpy(float)]
    return str(shown.to_string(index=False))


def summary_lines(result: ValidationResult) -> list[str]:
    doc = result.to_dict()
    lines = [f"{result.sample.sentence()}; estimator {result.estimator.upper()}"]
    hyp = result.hypothesized
    if hyp is not None and hyp.group_column is not None:
        sizes = ", ".join(f"{g} {n:,}" for g, n in zip(hyp.groups, hyp.group_n, strict=True))
        lines.append(f"groups of {hyp.group_column!r}: {sizes}")
    lines.extend(f"finding: {f}" for f in result.findings)
    lines.append("")
    lines.append(
        f"{'model':<14}{'chisq':>10}{'df':>5}{'CFI':>7}{'TLI':>7}{'RMSEA':>7}"
        f"{'90% CI':>15}{'SRMR':>7}{'AIC':>11}{'BIC':>11}"
    )
    for name, m in doc["models"].items():
        if "error" in m:
            lines.append(f"{name:<14}{m['error']}")
            continue
        ci = f"[{_number(m['rmsea_ci'][0])}, {_number(m['rmsea_ci'][1])}]"
        lines.append(
            f"{name:<14}{_number(m['chisq']):>10}{m['df']:>5}{_number(m['cfi']):>7}"
            f"{_number(m['tli']):>7}{_number(m['rmsea']):>7}{ci:>15}"
            f"{_number(m['srmr']):>7}{_number(m['aic'], 1):>11}{_number(m['bic'], 1):>11}"
        )
    lines.append("")
    for name, m in doc["models"].items():
        if "error" not in m:
            lines.append(f"{name}: {m['verdict']}")
            lines.extend(f"  finding: {f}" for f in m["findings"])
    if doc["model_comparison"]:
        lines.append("")
        for row in doc["model_comparison"]:
            delta = row["delta_chisq"]
            if delta is None or delta != delta:  # lavaan's NA: a negative scaling factor
                lines.append(
                    f"{row['model_a']} vs {row['model_b']}: no scaled difference test (its "
                    "scaling factor is negative, as lavaan's lavTestLRT warns); compare AIC and "
                    "BIC"
                )
                continue
            lines.append(
                f"{row['model_a']} vs {row['model_b']}: delta chisq "
                f"{_number(delta)} on {row['delta_df']} df, "
                f"p {'' if p_text(row['p']).startswith('<') else '= '}{p_text(row['p'])}"
            )
    lines.append("")
    # Widths leave room for a sign: a subscale with reverse-keyed items left unreversed has a
    # negative alpha, and its columns must still line up.
    ordinal = any("omega_ordinal" in r for r in doc["reliability"].values())
    extra = f"{'ord. alpha':>11}" if ordinal else ""
    lines.append(
        f"{'subscale':<14}{'alpha':>7}{'95% CI':>18}{extra}{'omega':>8}{'CR':>8}{'AVE':>8}"
    )
    for name, r in doc["reliability"].items():
        ci = f"[{_number(r['alpha_ci'][0])}, {_number(r['alpha_ci'][1])}]"
        omega = r.get("omega_ordinal", r.get("omega_total"))
        alpha_ord = f"{_number(r.get('alpha_ordinal')):>11}" if ordinal else ""
        lines.append(
            f"{name:<14}{_number(r['alpha']):>7}{ci:>18}{alpha_ord}"
            f"{_number(omega):>8}{_number(r.get('composite_reliability')):>8}"
            f"{_number(r.get('ave')):>8}"
        )
    lines.append(RELIABILITY_NOTE_ORDINAL if ordinal else RELIABILITY_NOTE)
    if result.bootstrap is not None:
        lines.extend(result.bootstrap.lines())
    if result.trust_htmt is not None:
        t = result.trust_htmt
        lines.append("")
        lines.append(
            f"HTMT between {', '.join(map(str, t.columns))} (above .85: hard to tell apart)"
        )
        lines.append(" " * 12 + "".join(f"{c[:10]:>11}" for c in t.columns))
        for name, row in t.iterrows():
            lines.append(f"{str(name)[:12]:<12}" + "".join(f"{v:>11.3f}" for v in row))
    if result.efa is not None:
        e = result.efa
        lines.append("")
        lines.append(
            f"EFA ({e.method}, {e.rotation}) on the {e.n:,} complete rows: KMO {e.kmo:.3f}; "
            f"Bartlett chisq {e.bartlett_chisq:.2f} on {e.bartlett_df} df; "
            f"{e.parallel_sentence()}"
        )
    if result.two_level is not None:
        lines.append("")
        lines.extend(result.two_level.summary_lines())
    return lines


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
    if db is not None or parquet is not None:
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
    read = read_checked(export_path, options)
    say_identifiers(read.checked.export)
    with draw_bar(options.bootstrap, "bootstrap draws") as progress:
        result = validate(read, options, progress=progress)
    if as_json:
        click.echo(dumps_json(result.to_dict()), nl=False)
        return
    for line in summary_lines(result):
        click.echo(line)
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
