"""`alliance invariance`: configural -> metric -> scalar -> strict across the groups of a column."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from analysis.pipeline import invariance, read_checked

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
from .output import dumps_json

if TYPE_CHECKING:
    from analysis.reading import Options


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
@click.option(
    "--methods",
    "as_methods",
    is_flag=True,
    help="Print the methods paragraph of the sequence instead, with references.",
)
@click.option("--json", "as_json", is_flag=True, help="Print every number as JSON on stdout.")
@user_errors
@builds_options
def invariance_command(
    export_path: Path,
    model: str | None,
    rows: str,
    as_methods: bool,
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
    run = invariance(read, options, progress=lambda level: step(f"fitting the {level} model"))
    if as_json:
        click.echo(dumps_json(run.to_dict()), nl=False)
        return
    if as_methods:
        click.echo(run.methods())
        return
    for line in run.summary_lines():
        show(line)
