"""One pipeline for every command: read + check, score, validate, each done once.

Each step takes the frozen result of the one before it and the same :class:`Options`, so
``score``, ``validate``, ``report``, ``ingest`` and ``demo`` cannot drift apart: they all call
these functions, and the report only draws what :func:`analyse` hands it.

    options = Options(instrument="my_scale.yaml", thresholds=Path("minimums.yaml"))
    read = read_checked("export.sav", options)       # instrument with its scales, checks
    scored = score(read, options)                      # scores and the rule
    validated = validate(read, options)                # reliability, EFA, CFA, with its sample
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from instrument import Instrument, load_instrument

from .cfa.model import Estimator, MissingMethod
from .cfa.partable import parse_partial
from .check import CheckResult, check_export
from .efa import ParallelKind
from .forms import stack_parallel
from .ingest import DEFAULT_MAX_BYTES, Export, load_map, read_export, value_labels
from .invariance import InvarianceResult, run_invariance
from .names import PERSPECTIVE
from .sample import RowSelection, Sample, select_rows
from .scales import parse_scale, with_label_scales, with_observed_scales, with_option_scale
from .scoring import (
    DEFAULT_MAX_MISSING_SHARE,
    ScoreResult,
    ThresholdError,
    ThresholdPlan,
    load_thresholds,
    score_export,
)
from .validate import ValidationResult, hypothesized_input
from .validate import validate as validate_structure

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Options:
    """Everything a user can choose about reading, scoring and validating an export.

    ``instrument``: 'alliance' (built-in), a YAML file or a model string; ``model``: a model
    string to fit (it is also the instrument when ``instrument`` is left at 'alliance');
    ``pillars``: the subscales the rule applies to, instead of the instrument's own;
    ``scale``: the response scale ('1-5') of items whose instrument declares none;
    ``rows``: 'usable' (what the checks kept) or 'all' (every row with an answer);
    ``missing``: how the CFA treats missing answers, 'fiml' (the default: every answer
    counts) or 'listwise' (complete rows only, lavaan's default);
    ``group``: a column whose values are compared (multi-group CFA, invariance), or
    'perspective' for patients against clinicians on the parallel items; ``group_equal`` and
    ``group_partial``: lavaan's ``group.equal`` and ``group.partial``; ``parallel``: which
    version of parallel analysis ('components' or 'factors') sets the EFA's factors;
    ``invariance``: the column the report tests measurement invariance across.
    """

    instrument: str = "alliance"
    model: str | None = None
    map_file: Path | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    header_row: int | None = None
    scale: str | None = None
    pillars: tuple[str, ...] | None = None
    thresholds: Path | None = None
    max_missing: float = DEFAULT_MAX_MISSING_SHARE
    estimator: Estimator = "ml"
    missing: MissingMethod = "fiml"
    rows: RowSelection = "usable"
    group: str | None = None
    group_equal: tuple[str, ...] = ()
    group_partial: str | None = None
    parallel: ParallelKind = "components"
    invariance: str | None = None


@dataclass(frozen=True)
class ReadResult:
    """A read and checked export, with the instrument as it applies to it (its pillars, and
    response scales resolved for items that had none)."""

    instrument: Instrument
    checked: CheckResult
    path: Path

    def selected(self, rows: RowSelection) -> tuple[pd.DataFrame, Sample]:
        return select_rows(self.checked, rows)


@dataclass(frozen=True)
class Analysis:
    """Everything the report draws, computed once."""

    read: ReadResult
    options: Options
    scored: ScoreResult | None
    validation: ValidationResult | None
    rule_error: str = ""  # why the rule could not be applied, when it could not
    validation_error: str = ""
    invariance: InvarianceRun | None = None  # with options.invariance: the sequence
    invariance_error: str = ""

    @property
    def instrument(self) -> Instrument:
        return self.read.instrument


def resolve_instrument(options: Options) -> Instrument:
    """The instrument the options name, with ``--pillars`` and ``--scale`` applied."""
    spec = options.instrument
    if options.model is not None and spec == "alliance":
        spec = options.model
    instrument = load_instrument(spec)
    if options.pillars is not None:
        instrument = instrument.with_pillars(tuple(options.pillars))
    if options.scale is not None:
        if not instrument.unscaled_items:
            raise ValueError(
                f"'scale' is for items without a declared scale; every item of "
                f"'{instrument.name}' has one."
            )
        instrument = with_option_scale(instrument, parse_scale(options.scale))
    return instrument


def read_checked(
    path: str | Path, options: Options, instrument: Instrument | None = None
) -> ReadResult:
    """Read and check an export. Items without a scale take one from the export's value
    labels, else from the answers seen (with a finding that says so)."""
    path = Path(path)
    instrument = instrument or resolve_instrument(options)
    if instrument.unscaled_items:
        instrument = with_label_scales(instrument, value_labels(path, max_bytes=options.max_bytes))
    export = read_export(
        path,
        instrument,
        column_map=load_map(options.map_file),
        max_bytes=options.max_bytes,
        header_row=options.header_row,
    )
    export = _with_group(export, options.group, path, options.max_bytes)
    if instrument.unscaled_items:
        instrument, inferred = with_observed_scales(instrument, export)
        if len(inferred):
            found = pd.concat([export.findings, inferred], ignore_index=True)
            export = replace(export, findings=found)
    return ReadResult(instrument, check_export(export, instrument), path)


def _with_group(export: Export, group: str | None, path: Path, max_bytes: int) -> Export:
    """Carry a grouping column that is neither an item nor a context column (gender, an age
    band, a school) from the export into the data, so that every selection keeps it. An
    SPSS or Stata file's value labels name the groups ('female', not 2)."""
    if group is None or group in export.data.columns or export.raw is None:
        return export
    match = [c for c in export.raw.columns if str(c) == group]
    match = match or [c for c in export.raw.columns if str(c).casefold() == group.casefold()]
    if not match or len(export.raw) != len(export.data):
        return export
    column = export.raw[match[0]]
    labels = value_labels(path, max_bytes=max_bytes).get(str(match[0]))
    if labels:
        named = {float(k): str(v) for k, v in labels.items() if isinstance(k, int | float)}
        labelled = pd.to_numeric(column, errors="coerce").map(named)
        column = labelled.where(labelled.notna(), column)
    return replace(export, data=export.data.assign(**{group: column.to_numpy()}))


def thresholds_plan(instrument: Instrument, options: Options) -> ThresholdPlan | None:
    if options.thresholds is None:
        return None
    if not instrument.rule_pillars:
        raise ThresholdError(
            f"{options.thresholds.name}: minimums were given, but instrument "
            f"'{instrument.name}' declares no rule; name its pillars with --pillars a,b,c."
        )
    return load_thresholds(options.thresholds, instrument.rule_pillars)


def score(read: ReadResult, options: Options, plan: ThresholdPlan | None = None) -> ScoreResult:
    """Scores and the rule for the usable rows. A normative minimum's reference export is
    read, checked and scored by this same pipeline."""
    instrument = read.instrument

    def reference(path: Path) -> pd.DataFrame:
        ref = read_checked(path, options, instrument)
        return score_export(ref.checked.usable_data(), ref.instrument, None).scores.scores

    return score_export(
        read.checked.usable_data(),
        instrument,
        plan if plan is not None else thresholds_plan(instrument, options),
        max_missing_share=options.max_missing,
        load_reference=reference,
    )


def validate(read: ReadResult, options: Options) -> ValidationResult:
    """Reliability, EFA and the CFA models on the rows ``options.rows`` selects; the result
    says how many rows it used and why any were left out."""
    data, sample = read.selected(options.rows)
    if sample.rows_selected == 0:
        raise ValueError(
            f"no rows to validate on: none of the {sample.rows_in:,} rows is "
            + ("usable (see alliance check)." if options.rows == "usable" else "answered.")
        )
    data = _grouped(data, read.instrument, options.group)
    return validate_structure(
        data,
        read.instrument,
        model=options.model,
        estimator=options.estimator,
        sample=sample,
        group=options.group,
        group_equal=options.group_equal,
        group_partial=parse_partial(options.group_partial or ()),
        parallel_kind=options.parallel,
        missing=options.missing,
    )


def _grouped(data: pd.DataFrame, instrument: Instrument, group: str | None) -> pd.DataFrame:
    """Patients against clinicians: both forms on common item names (when the data hold both
    sides of the parallel items and the group is the perspective)."""
    stacked = stack_parallel(data, instrument) if group == PERSPECTIVE else None
    if stacked is not None:
        return stacked
    if group is not None and group not in data.columns:
        raise ValueError(
            f"the export has no column {group!r} to group by; its columns include "
            f"{', '.join(map(repr, list(data.columns)[:8]))}."
        )
    return data


@dataclass(frozen=True)
class InvarianceRun:
    result: InvarianceResult
    sample: Sample
    stacked: bool  # patient and clinician forms fitted on common item names


def invariance(
    read: ReadResult, options: Options, progress: Progress | None = None
) -> InvarianceRun:
    """Configural to strict invariance of the hypothesized model across ``options.group``."""
    if options.group is None:
        raise ValueError("invariance needs a group column (--group).")
    data, sample = read.selected(options.rows)
    grouped = _grouped(data, read.instrument, options.group)
    model, source = hypothesized_input(
        grouped, read.instrument, options.model, keep=(options.group,)
    )
    result = run_invariance(
        source,
        model,
        options.group,
        estimator=options.estimator,
        group_partial=parse_partial(options.group_partial or ()),
        progress=progress,
        missing=options.missing,
    )
    stacked = grouped is not data
    selected = len(grouped)
    base = replace(sample, rows_selected=selected) if stacked else sample
    return InvarianceRun(result, base.used_by(result.levels[0].result, grouped=True), stacked)


def analyse(path: str | Path, options: Options, progress: Progress | None = None) -> Analysis:
    """Read, check, score and validate once: what the report draws. A rule that cannot be
    applied, or a structure that cannot be fitted, is said in the analysis, not raised."""
    say = progress or (lambda _message: None)
    say("reading and checking")
    return analyse_read(read_checked(path, options), options, progress)


def analyse_read(read: ReadResult, options: Options, progress: Progress | None = None) -> Analysis:
    """:func:`analyse` for an export already read and checked."""
    say = progress or (lambda _message: None)
    plan = thresholds_plan(read.instrument, options)
    say("scoring")
    scored, rule_error = None, ""
    if read.checked.rows_usable:
        try:
            scored = score(read, options, plan)
        except ThresholdError as exc:
            rule_error = str(exc)
    else:
        rule_error = f"none of the {read.checked.rows_in:,} rows is usable, so nothing was scored"
    say("validating the structure")
    validation, validation_error = None, ""
    try:
        validation = validate(read, options)
    except ValueError as exc:
        validation_error = str(exc)
    tested, invariance_error = None, ""
    if options.invariance is not None:
        say(f"testing measurement invariance across {options.invariance}")
        try:
            tested = invariance(read, replace(options, group=options.invariance))
        except ValueError as exc:
            invariance_error = str(exc)
    return Analysis(
        read, options, scored, validation, rule_error, validation_error, tested, invariance_error
    )
