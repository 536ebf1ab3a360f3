"""`alliance invariance`: configural -> metric -> scalar -> strict across the groups of a column."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from analysis.cfa.invariance import CHEN_CFI, CHEN_RMSEA
from analysis.cfa.longitudinal import LongitudinalResult
from analysis.pipeline import InvarianceRun, invariance, read_checked

from .cli_common import (
    builds_options,
    group_options,
    progress_printer,
    read_options,
    say_identifiers,
    sessions_option,
    show,
    user_errors,
    validate_options,
)
from .output import dumps_json, p_text

if TYPE_CHECKING:
    from analysis.reading import Options


def _difference(estimator: str) -> str:
    if estimator in ("mlr", "mlm"):
        return "scaled (Satorra-Bentler 2001)"
    if estimator in ("wlsmv", "ulsmv"):
        return "scaled and shifted (Satorra 2000)"
    return "ML"


def _n(value: Any, digits: int = 3) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "-"
    return "-" if number != number else f"{number:.{digits}f}"


def _row(name: str, fit: dict[str, Any], comparison: dict[str, Any] | None, verdict: str) -> str:
    ci = f"[{_n(fit['rmsea_ci_lower'])}, {_n(fit['rmsea_ci_upper'])}]"
    c = comparison or {}
    return (
        f"{name:<27}{_n(fit['chisq']):>10}{int(fit['df']):>5}{_n(fit['cfi']):>7}"
        f"{_n(fit['tli']):>7}{_n(fit['rmsea']):>7}{ci:>16}{_n(fit['srmr']):>7}"
        f"{_n(c.get('delta_chisq')):>10}{c.get('delta_df', '-'):>5}{p_text(c.get('p')):>7}"
        f"{_n(c.get('delta_cfi')):>8}{_n(c.get('delta_rmsea')):>8}  {verdict}"
    )


def summary_lines(run: InvarianceRun) -> list[str]:
    result = run.result
    doc = result.to_dict()
    lines = [f"{run.sample.sentence()}; estimator {result.estimator.upper()}"]
    if isinstance(result, LongitudinalResult):
        lines[0] = (
            f"{run.sample.sentence()}; over sessions: {result.sentence()}; estimator "
            f"{result.estimator.upper()}"
        )
    else:
        groups = ", ".join(f"{g} {n:,}" for g, n in zip(result.groups, result.group_n, strict=True))
        side = " (patient and clinician forms on common item names)" if run.stacked else ""
        lines.append(f"groups of {result.group!r}{side}: {groups}")
    lines.append("")
    lines.append(
        f"{'level':<27}{'chisq':>10}{'df':>5}{'CFI':>7}{'TLI':>7}{'RMSEA':>7}{'90% CI':>16}"
        f"{'SRMR':>7}{'Δchisq':>10}{'Δdf':>5}{'p':>7}{'ΔCFI':>8}{'ΔRMSEA':>8}"
    )
    for name, fit, comparison, ok in result.rows():
        verdict = "" if comparison is None else ("holds" if ok else "fails")
        lines.append(_row(name, fit, comparison, verdict))
    lines.append("")
    lines.append(
        f"criteria: ΔCFI >= -{CHEN_CFI:.3f} and ΔRMSEA <= {CHEN_RMSEA:.3f} (Chen, 2007); "
        f"Δchisq {_difference(result.estimator)}"
    )
    lines.append(f"conclusion: {doc['conclusion']}")
    lines.extend(f"finding: {f}" for f in result.findings)
    for level in result.levels:
        lines.extend(f"finding: {level.name}: {f}" for f in level.result.findings)
    return lines


@click.command(name="invariance")
@click.argument("export_path", metavar="EXPORT", type=click.Path(path_type=Path))
@read_options
@validate_options
@group_options(equal=False)
@click.option(
    "--over",
    type=click.Choice(["session"]),
    default=None,
    help="Instead of across a group: over the same patients' sessions, as one longitudinal "
    "model (a factor per pillar per session, each item's residuals correlated across "
    "sessions, missed sessions by FIML).",
)
@sessions_option("With --over session")
@click.option("--json", "as_json", is_flag=True, help="Print every number as JSON on stdout.")
@user_errors
@builds_options
def invariance_command(
    export_path: Path,
    model: str | None,
    rows: str,
    as_json: bool,
    options: Options,
) -> None:
    """Test whether the items measure the same in every group, or at every session.

    Across the groups of a column (--group), or over the same patients' sessions (--over
    session).

    Fits the hypothesized model (the instrument's subscales, or --model) configural, then with
    equal loadings (metric), item intercepts (scalar) and residual variances (strict). Each
    level is compared with the one before: chi-square difference (scaled under MLR) and the
    changes in CFI and RMSEA against Chen's (2007) criteria. At a level that fails, score
    tests of its equality constraints free one parameter at a time (partial invariance);
    each freed parameter is a finding naming the item and the group. Every level is fitted
    on the same rows, said on the first line; missing answers by FIML unless --missing
    listwise. With --estimator wlsmv (or auto choosing it) the items are ordinal: metric
    holds thresholds and loadings equal, scalar adds intercepts (fixed at 0 for ordinal
    items, so nothing changes), strict and partial freeing are left out, as the output says.
    --over session fits the same patients' sessions side by side (semTools' measEq.syntax with
    longFacNames, lavaan's missing = "ml"): one row per patient, each item once per session.

    \b
    Examples:
      alliance invariance export.csv --group site_id --estimator wlsmv
      alliance invariance export.csv --group site_id
      alliance invariance export.csv --group gender --estimator mlr --json
      alliance invariance both_forms.csv --group perspective
      alliance invariance clinic.csv --over session --sessions 1,2,3
      alliance invariance hs.csv --group school --rows all --model \\
          'visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6; speed =~ x7 + x8 + x9'
    """
    _, step = progress_printer()
    read = read_checked(export_path, options)
    say_identifiers(read.checked.export)
    run = invariance(read, options, progress=lambda level: step(f"fitting the {level} model"))  # type: ignore[operator]
    if as_json:
        click.echo(dumps_json(run.to_dict()), nl=False)
        return
    for line in summary_lines(run):
        show(line)
