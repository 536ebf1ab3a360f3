"""`alliance calibrate` and `alliance cat-simulate`: the item bank on the theta metric."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from analysis.choices import DEFAULT_SHORT_ITEMS
from analysis.irt.text import adaptive_lines, calibration_lines

from .cli_common import (
    InputError,
    builds_options,
    calibration_option,
    read_options,
    say,
    say_identifiers,
    score_options,
    show,
    stop_option,
    user_errors,
)
from .output import dumps_json

if TYPE_CHECKING:
    from analysis.reading import Options


@click.command(name="calibrate")
@click.argument("export_path", metavar="EXPORT", type=click.Path(path_type=Path))
@read_options
@score_options
@click.option(
    "--form",
    default=None,
    metavar="NAME",
    help="Calibrate this form's subscales; default: the form the export answers.",
)
@click.option(
    "--short-items",
    type=click.IntRange(min=1),
    default=DEFAULT_SHORT_ITEMS,
    show_default=True,
    help="Items per subscale in the short form chosen by information.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The calibration file to write (YAML).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the calibration as JSON too.")
@user_errors
@builds_options
def calibrate_command(
    export_path: Path,
    form: str | None,
    short_items: int,
    output: Path,
    as_json: bool,
    options: Options,
) -> None:
    """Calibrate the item bank on an export: a graded response model per subscale.

    Each subscale of the form (3 or more items) gets Samejima's graded response model,
    estimated by marginal maximum likelihood (EM over 61 quadrature nodes, theta N(0, 1) in
    this sample), with standard errors, item fit (S-X2), local dependence (Yen's Q3) and
    EAP scores. The rule's minimums are carried to theta (where the expected item mean meets
    them), and the short form of each subscale is its items with the most information there.
    The file records the bank version, the export (name and SHA-256), the rows used and the
    date; alliance score --calibration and alliance cat-simulate read it.

    \b
    Examples:
      alliance calibrate export.csv -o calibration.yaml
      alliance calibrate export.sav --form patient --short-items 3 -o calibration.yaml --json
      alliance score export.csv --calibration calibration.yaml -o scores.csv
    """
    from analysis.irt import save_calibration
    from analysis.pipeline import calibrate, read_checked

    say("reading and checking ...")
    read = read_checked(export_path, options)
    say_identifiers(read.checked.export)
    if read.checked.rows_usable == 0:
        raise InputError(
            f"nothing to calibrate on: none of the {read.checked.rows_in:,} rows is usable "
            "(alliance check lists why)."
        )
    calibration = calibrate(read, options, form=form, short_items=short_items, progress=say)
    save_calibration(calibration, output)
    for line in calibration_lines(calibration):
        say(line)
    say(f"wrote {output}")
    if as_json:
        click.echo(dumps_json(calibration.to_dict()), nl=False)


@click.command(name="cat-simulate")
@click.argument("export_path", metavar="[EXPORT]", required=False, type=click.Path(path_type=Path))
@calibration_option("The calibration file (alliance calibrate).", required=True)
@stop_option(
    "When a subscale's adaptive test stops: SE below X after at least min items, or at max items."
)
@click.option(
    "-n",
    "n",
    type=click.IntRange(min=10),
    default=5000,
    show_default=True,
    help="Simulated respondents (without EXPORT).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@read_options
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@user_errors
@builds_options
def cat_simulate_command(
    export_path: Path | None,
    calibration_file: Path,
    stop: str,
    n: int,
    seed: int,
    as_json: bool,
    options: Options,
) -> None:
    """Simulate adaptive testing on a calibrated bank against the full bank.

    Each subscale is given adaptively: the item with the most information at the current
    EAP, until the SE is below the stop rule's X after at least its min items, or at its max.
    With EXPORT, each respondent answers as they did in the export (post-hoc simulation);
    without, respondents are drawn from the calibration (thetas correlated as the calibration
    sample's EAPs). Reports the items used, the correlation with the full bank's EAP, and how
    often the non-compensatory classification on theta (every pillar at or above its minimum)
    agrees with the full bank's, beside the fixed short form's.

    \b
    Examples:
      alliance cat-simulate --calibration calibration.yaml
      alliance cat-simulate --calibration calibration.yaml export.csv --stop se=0.3,max=6
      alliance cat-simulate --calibration calibration.yaml -n 20000 --seed 1 --json
    """
    from analysis.irt import load_calibration
    from analysis.irt.adaptive import StopRule, compare_adaptive, simulate_answers
    from analysis.pipeline import adaptive_on_export, calibration_for, read_checked

    rule = StopRule.parse(stop)
    if export_path is None:
        calibration = load_calibration(calibration_file)
        _, answers = simulate_answers(calibration, n, seed)
        result = compare_adaptive(calibration, answers, rule, "simulated")
    else:
        read = read_checked(export_path, options)
        say_identifiers(read.checked.export)
        calibration = calibration_for(read, calibration_file)
        result = adaptive_on_export(read, calibration, rule)
    if as_json:
        click.echo(dumps_json(result.to_dict()), nl=False)
        return
    for line in adaptive_lines(result):
        show(line)
