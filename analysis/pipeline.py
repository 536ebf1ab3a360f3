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
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from instrument import Instrument
from instrument.syntax import parse_model

from . import names
from .choices import DEFAULT_SHORT_ITEMS
from .describe import GroupProfiles, profiles_by
from .forms import stack_parallel
from .names import PERSPECTIVE, ROW_IN_EXPORT
from .privacy import MIN_N_FLOOR
from .reading import Options, ReadResult, read_checked, read_unchecked, resolve_instrument
from .results import Reported
from .sample import Sample
from .scoring import (
    ScoreResult,
    ThresholdError,
    ThresholdPlan,
    load_thresholds,
    score_export,
)
from .scoring.blocks import BlockScoring
from .wording import worded

if TYPE_CHECKING:  # the statistics' modules load scipy: imported where they are used, so
    # `check` and `score` do not pay for the CFA, the bootstrap or the rupture model
    from .cfa import CFAResult
    from .cfa.invariance import InvarianceResult
    from .cfa.scores import FactorScores
    from .irt import Calibration
    from .irt.adaptive import AdaptiveResult, StopRule
    from .ruptures.course import Course
    from .validate import ValidationResult

__all__ = [
    "Analysis",
    "InvarianceRun",
    "IrtRun",
    "Options",
    "ReadResult",
    "adaptive_on_export",
    "analyse",
    "analyse_read",
    "block_scoring",
    "calibrate",
    "calibration_for",
    "factor_scores",
    "invariance",
    "read_checked",
    "read_unchecked",
    "resolve_instrument",
    "score",
    "scores_table",
    "thresholds_plan",
    "validate",
]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class IrtRun:
    """An item calibration applied to this export: its file, and an adaptive test simulated
    on the export's own answers against its full bank."""

    calibration: Calibration
    source: Path
    adaptive: AdaptiveResult


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
    course: Course | None = None  # rupture alerts, when patients have repeated sessions
    irt: IrtRun | None = None  # with options.calibration: theta, information, adaptive testing
    profiles: GroupProfiles | None = None  # with options.by and a rule: per group

    @property
    def instrument(self) -> Instrument:
        return self.read.instrument


def thresholds_plan(instrument: Instrument, options: Options) -> ThresholdPlan | None:
    if options.thresholds is None:
        return None
    if not instrument.rule_pillars:
        raise ThresholdError(
            worded(
                f"{options.thresholds.name}: minimums were given, but instrument "
                f"'{instrument.name}' declares no rule; name its pillars with `pillars` a,b,c."
            )
        )
    return load_thresholds(options.thresholds, instrument.rule_pillars)


def score(
    read: ReadResult,
    options: Options,
    plan: ThresholdPlan | None = None,
    calibration: Calibration | None = None,
) -> ScoreResult:
    """Scores and the rule for the usable rows. A normative minimum's reference export is
    read, checked and scored by this same pipeline. With ``options.calibration``, the theta
    columns too, from ``calibration`` when the caller has already read it."""
    instrument = read.instrument
    result = score_export(
        read.checked.export.data,
        instrument,
        plan if plan is not None else thresholds_plan(instrument, options),
        max_missing_share=options.max_missing,
        load_reference=_reference_loader(instrument, options),
        rows=read.checked.usable,
    )
    if options.calibration is None:
        return result
    from .irt.theta import theta_scores

    if calibration is None:
        calibration = calibration_for(read, options.calibration)
    thetas = theta_scores(calibration, read.checked.usable_data())
    table = pd.concat([result.table, thetas], axis=1)
    return replace(result, table=table)


def scores_table(
    read: ReadResult, scored: ScoreResult, carry: tuple[str, ...] = ()
) -> pd.DataFrame:
    """The scores as a file holds them: first ``row_in_export`` (1 = the first data row), so
    every score joins back to its row, then the columns ``carry`` names, as read, then the
    scores. A column left out as an identifier is carried only when it was kept on purpose
    (``keep_columns``)."""
    export = read.checked.export
    raw = export.raw if export.raw is not None else export.data
    usable = read.checked.usable
    picked: dict[str, pd.Series] = {}
    dropped = {d.column.casefold(): d for d in export.identifiers}
    for name in carry:
        match = [c for c in raw.columns if c == name] or [
            c for c in raw.columns if c.casefold() == name.casefold()
        ]
        if not match:
            if name.casefold() in dropped:
                raise ValueError(
                    f"'carry' names {name!r}, which was left out as an identifier "
                    f"({dropped[name.casefold()].reason}); keep it on purpose with "
                    f"keep_columns to carry it."
                )
            raise ValueError(f"'carry' names {name!r}, which the export does not have.")
        picked[match[0]] = raw[match[0]][usable].reset_index(drop=True)
    table = scored.table.reset_index(drop=True)
    front = pd.DataFrame({ROW_IN_EXPORT: np.flatnonzero(usable) + 1, **picked})
    clash = [c for c in front.columns if c in table.columns]
    if clash:
        raise ValueError(f"'carry' names {clash[0]!r}, which the scores already hold.")
    return pd.concat([front, table], axis=1)


def block_scoring(
    instrument: Instrument, options: Options, plan: ThresholdPlan | None = None
) -> BlockScoring:
    """`score`, for an export checked and scored a block of rows at a time (the ingest)."""
    return BlockScoring(
        instrument,
        plan if plan is not None else thresholds_plan(instrument, options),
        max_missing_share=options.max_missing,
        load_reference=_reference_loader(instrument, options),
    )


def _reference_loader(instrument: Instrument, options: Options) -> Callable[[Path], pd.DataFrame]:
    """A normative minimum's reference export, read, checked and scored by this pipeline."""

    def reference(path: Path) -> pd.DataFrame:
        ref = read_checked(path, options, instrument)
        return score_export(ref.checked.usable_data(), ref.instrument, None).scores.scores

    return reference


@dataclass(frozen=True)
class ScoreRun(Reported):
    """A scored export as `alliance score` gives it: the table (ids as read, pseudonymised
    when asked), the scoring, and the calibration its theta columns come from."""

    read: ReadResult
    result: ScoreResult
    table: pd.DataFrame
    calibration: Calibration | None = None
    calibration_source: Path | None = None
    factor_scores: FactorScoreRun | None = None

    def to_dict(self, output: Path | None = None) -> dict[str, object]:
        checked = self.read.checked
        doc: dict[str, object] = {
            "export": str(self.read.path),
            "platform": checked.export.platform,
            "output": str(output),
            "rows_in": checked.rows_in,
            "rows_quarantined": checked.rows_quarantined,
            "rows_scored": len(self.table),
            **self.result.to_dict(),
        }
        if self.calibration is not None and self.calibration_source is not None:
            from .irt.theta import theta_summary

            doc["theta"] = theta_summary(self.table, self.calibration, str(self.calibration_source))
        if self.factor_scores is not None:
            doc["factor_scores"] = self.factor_scores.to_dict()
        return doc

    def to_frame(self) -> pd.DataFrame:
        """The scores as `alliance score` writes them: a row per usable row of the export."""
        return self.table

    def summary_lines(self) -> list[str]:
        checked = self.read.checked
        lines = [
            f"{checked.rows_quarantined:,} of {checked.rows_in:,} rows set aside by the checks "
            f"(alliance check --quarantine FILE lists them)",
            *self.result.lines(),
        ]
        if self.calibration is not None and self.calibration_source is not None:
            from .irt.theta import theta_lines

            lines += theta_lines(self.table, self.calibration, self.calibration_source.name)
        if self.factor_scores is not None:
            lines += self.factor_scores.lines()
        return lines


@dataclass(frozen=True)
class FactorScoreRun:
    """Factor scores of an export's usable rows (the rows of its score table, in order), and
    the model they come from."""

    scores: FactorScores
    fit: CFAResult
    repeated: int  # respondents with more than one row

    def to_dict(self) -> dict[str, object]:
        return {
            **self.scores.to_dict(),
            "model": self.fit.model,
            "estimator": self.fit.estimator,
            "fit": {k: self.fit.fit[k] for k in ("chisq", "df", "cfi", "rmsea", "srmr")},
            "respondents_with_several_rows": self.repeated,
        }

    def lines(self) -> list[str]:
        first, *rest = self.scores.lines()
        fit = self.fit.fit
        model = (
            f"model: {len(self.fit.latent)} factors by {self.fit.estimator.upper()}, CFI "
            f"{fit['cfi']:.3f}, RMSEA {fit['rmsea']:.3f}, SRMR {fit['srmr']:.3f}"
        )
        if self.repeated:
            model += (
                f"; {self.repeated:,} respondents have several rows (sessions), each scored on "
                "its own from one model of all rows"
            )
        return [first, model, *rest]


def factor_scores(read: ReadResult, options: Options, method: str = "auto") -> FactorScoreRun:
    """Factor scores of the usable rows, from the instrument's subscales as correlated factors
    (or ``options.model``), fitted with ``options``' estimator and missing-data method."""
    from .cfa.scores import factor_scores as score_factors
    from .validate import factor_score_fit

    data = read.checked.usable_data()
    request = options.fit_request(data)
    fit, source = factor_score_fit(data, read.instrument, request, options.model)
    return FactorScoreRun(score_factors(fit, source, method), fit, request.repeated)


def score_run(
    read: ReadResult,
    options: Options,
    carry: tuple[str, ...] = (),
    calibration: Path | None = None,
    factor_method: str | None = None,
) -> ScoreRun:
    """Score a read export as ``options`` say, with theta columns from the calibration at
    ``calibration`` when given, the ``carry`` columns of the export beside the scores, and
    factor scores by ``factor_method`` ('auto', 'regression', 'bartlett', 'eap') when given."""
    calibrated = calibration_for(read, calibration) if calibration is not None else None
    result = score(read, options, calibration=calibrated)
    table = scores_table(read, result, carry)
    factors = None
    if factor_method is not None:
        factors = factor_scores(read, options, factor_method)
        columns = factors.scores.table.reset_index(drop=True)
        clash = [c for c in columns.columns if c in table.columns]
        if clash:
            raise ValueError(f"the factor score column {clash[0]!r} is already in the scores.")
        table = pd.concat([table, columns], axis=1)
    return ScoreRun(read, result, table, calibrated, calibration, factors)


def calibration_for(read: ReadResult, path: Path) -> Calibration:
    """The calibration file, checked against the instrument the export is read as."""
    from .irt import load_calibration

    calibration = load_calibration(path)
    if calibration.instrument != read.instrument.name:
        raise ValueError(
            f"{path.name}: a calibration of instrument '{calibration.instrument}'; this export "
            f"is read as '{read.instrument.name}'."
        )
    missing = [
        i
        for s in calibration.scales.values()
        for i in s.item_ids
        if i not in read.instrument.item_ids
    ]
    if missing:
        raise ValueError(
            f"{path.name}: calibrated items not in the instrument: {', '.join(missing[:5])}."
        )
    return calibration


def calibrate(
    read: ReadResult,
    options: Options,
    *,
    form: str | None = None,
    short_items: int = DEFAULT_SHORT_ITEMS,
    progress: Progress | None = None,
) -> Calibration:
    """Calibrate the form's subscales on the usable rows, with the rule's minimums (as
    scoring applies them) carried to theta. ``form``: default, the form scoring recognises."""
    if form is not None:
        read.instrument.form(form)  # a clear error for an unknown form
    from .fileio import file_sha256
    from .irt import calibrate as calibrate_bank

    scored = score(read, replace(options, calibration=None))
    c = scored.classification
    minimums = {t.pillar: t.value for t in c.thresholds} if c is not None else {}
    return calibrate_bank(
        read.checked.usable_data(),
        read.instrument,
        form or scored.scores.form,
        minimums=minimums,
        source=read.path.name,
        sha256=file_sha256(read.path),
        rows_in=read.checked.rows_in,
        short_items=short_items,
        progress=progress,
    )


def adaptive_on_export(
    read: ReadResult, calibration: Calibration, rule: StopRule | None = None
) -> AdaptiveResult:
    """An adaptive test simulated on the export's usable rows: each respondent's own answers,
    given in the order the adaptive test asks for them."""
    from .irt.adaptive import StopRule, compare_adaptive

    usable = read.checked.usable_data()
    answers = {name: s.categories(usable) for name, s in calibration.scales.items()}
    return compare_adaptive(calibration, answers, rule or StopRule(), "export")


def validate(
    read: ReadResult,
    options: Options,
    *,
    level_errors: bool = True,
    progress: Callable[[int, int], None] | None = None,
    stage: Progress | None = None,
) -> ValidationResult:
    """Reliability, EFA and the CFA models on the rows ``options.rows`` selects; the result
    says how many rows it used and why any were left out. With ``options.bootstrap`` draws,
    percentile intervals too, ``progress`` told the draws done; ``stage`` is told each stage
    as it starts."""
    from .bootstrap import Bootstrap
    from .validate import validate as validate_structure

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
        fit=options.fit_request(data),
        model=options.model,
        sample=sample,
        parallel_kind=options.parallel,
        parallel_iterations=options.parallel_iterations,
        efa_method=options.efa_method,
        efa_correlation=options.efa_correlation,
        levels=options.levels,
        level_errors=level_errors,
        bootstrap=Bootstrap(options.bootstrap, options.seed) if options.bootstrap else None,
        progress=progress,
        stage=stage,
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


SESSIONS_BY_DEFAULT = 3  # invariance over sessions: the first three, unless asked


def _over_sessions(
    read: ReadResult, options: Options, progress: Progress | None = None
) -> InvarianceRun:
    """The same patients' sessions as one longitudinal model (:mod:`analysis.cfa.longitudinal`),
    the instrument's subscales (or the factors of ``options.model``) at every session."""
    from .cfa.longitudinal import run_over_sessions, wide_name, widen
    from .cfa.partable import variables
    from .validate import hypothesized_input

    if options.group is not None:
        raise ValueError("invariance over sessions compares a patient's sessions; give no group.")
    data, sample = read.selected(options.rows)
    if names.SESSION not in data.columns:
        raise ValueError("invariance over sessions needs a session column; the export has none.")
    cluster = None if options.cluster in (None, "none", names.RESPONDENT_ID) else options.cluster
    keep = (names.RESPONDENT_ID, names.SESSION, *([cluster] if cluster else []))
    model, source = hypothesized_input(data, read.instrument, options.model, keep=keep)
    statements = parse_model(model)
    factors = {s.lhs: [t.name for t in s.rhs] for s in statements if s.op == "=~"}
    items = list(variables(statements)[1])
    present = sorted(pd.to_numeric(data[names.SESSION], errors="coerce").dropna().unique())
    sessions = options.sessions or tuple(int(s) for s in present[:SESSIONS_BY_DEFAULT])
    if len(sessions) < 2:
        raise ValueError("invariance over sessions needs at least two sessions.")
    widened = widen(source, items, sessions, names.RESPONDENT_ID, names.SESSION, keep=keep[2:])
    request = replace(options.fit_request(None), cluster=cluster)
    spec = request.resolve(widened.wide, [wide_name(i, s) for s in sessions for i in items])
    result = run_over_sessions(widened, factors, spec, progress=progress)
    nesting = (
        f"clustered by {cluster}"
        if cluster
        else "patients treated as independent of their clinicians"
    )
    notes = []
    if widened.repeated:
        notes.append(f"{widened.repeated} repeated rows of one patient's session left out")
    result = replace(result, nesting=nesting, findings=(*notes, *result.findings))
    return InvarianceRun(result, sample, stacked=False)


@dataclass(frozen=True)
class InvarianceRun(Reported):
    """Configural to strict invariance, with the rows every level was fitted on."""

    result: InvarianceResult
    sample: Sample
    stacked: bool  # patient and clinician forms fitted on common item names

    def to_dict(self) -> dict[str, Any]:
        """The sequence as JSON, with the rows it was fitted on."""
        doc = self.result.to_dict()
        doc["sample"]["rows"] = self.sample.to_dict()
        doc["sample"]["stacked_forms"] = self.stacked
        return doc

    def summary_lines(self) -> list[str]:
        from .summaries import invariance_lines

        return invariance_lines(self)

    def methods(self) -> str:
        """The methods paragraph of the sequence, with its references."""
        from .methods import invariance_methods

        return invariance_methods(self)

    def to_frame(self) -> pd.DataFrame:
        """One row per level: its fit, the comparison with the level before, and whether
        it holds."""
        rows = {}
        for name, fit, comparison, ok in self.result.rows():
            row = {k: fit[k] for k in ("chisq", "df", "cfi", "tli", "rmsea", "srmr")}
            c = comparison or {}
            compared = ("delta_chisq", "delta_df", "p", "delta_cfi", "delta_rmsea")
            row.update({k: c.get(k) for k in compared})
            row["holds"] = None if comparison is None else bool(ok)
            rows[name] = row
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame.index.name = "level"
        return frame


def invariance(
    read: ReadResult, options: Options, progress: Progress | None = None
) -> InvarianceRun:
    """Configural to strict invariance of the hypothesized model across ``options.group``, or
    over a patient's sessions (``options.over``)."""
    from .cfa.invariance import run_invariance
    from .cfa.partable import variables
    from .validate import hypothesized_input

    if options.over == "session":
        return _over_sessions(read, options, progress)
    if options.group is None:
        raise ValueError(worded("invariance needs a group column (`group`) or `over` session."))
    data, sample = read.selected(options.rows)
    grouped = _grouped(data, read.instrument, options.group)
    request = options.fit_request(grouped)
    keep = (options.group, *([request.cluster] if request.cluster is not None else []))
    model, source = hypothesized_input(grouped, read.instrument, options.model, keep=keep)
    items = list(variables(parse_model(model))[1])
    spec = request.resolve(source, items)
    if spec.ordered is not None:
        raise ValueError(
            worded(
                "invariance with some items ordinal and others continuous is not available; "
                "treat them all as ordinal (`ordered` all) or all as continuous."
            )
        )
    result = run_invariance(source, model, spec, progress=progress)
    choice = spec.choice
    if choice is not None:
        result = replace(result, findings=(choice.reason, *result.findings))
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


def analyse_read(
    read: ReadResult,
    options: Options,
    progress: Progress | None = None,
    draws: Callable[[int, int], None] | None = None,
) -> Analysis:
    """:func:`analyse` for an export already read and checked; ``draws`` is told the
    bootstrap's draws done (with ``options.bootstrap``)."""
    from .ruptures.course import export_course

    say = progress or (lambda _message: None)
    usable = read.checked.usable_data()
    if options.by is not None and options.by not in usable.columns:
        raise ValueError(
            f"'by' must be a column of the export such as "
            f"{names.CLINICIAN_ID!r} or {names.SITE_ID!r}; got {options.by!r}."
        )
    plan = thresholds_plan(read.instrument, options)
    calibration = (
        calibration_for(read, options.calibration) if options.calibration is not None else None
    )
    say("scoring")
    scored, rule_error = None, ""
    if read.checked.rows_usable:
        try:
            scored = score(read, options, plan, calibration)
        except ThresholdError as exc:
            rule_error = str(exc)
    else:
        rule_error = f"none of the {read.checked.rows_in:,} rows is usable, so nothing was scored"
    say("validating the structure")
    validation, validation_error = None, ""
    try:
        # the page shows no SEs of the two-level model
        validation = validate(read, options, level_errors=False, progress=draws, stage=progress)
    except ValueError as exc:
        validation_error = str(exc)
    tested, invariance_error = None, ""
    if options.invariance is not None:
        say(f"testing measurement invariance across {options.invariance}")
        try:
            over = options.invariance == names.SESSION
            tested = invariance(
                read,
                replace(options, over="session")
                if over
                else replace(options, group=options.invariance),
            )
        except ValueError as exc:
            invariance_error = str(exc)
    course = None
    if scored is not None:
        theta_minimums = None
        if calibration is not None:
            scales = calibration.scales
            found = {p: scales[p].theta_minimum if p in scales else None for p in scored.pillars}
            if all(v is not None for v in found.values()):
                theta_minimums = {p: float(v) for p, v in found.items()}  # type: ignore[arg-type]
        course = export_course(scored, settings=options.alerts, theta_minimums=theta_minimums)
    profiles = None
    if options.by is not None and scored is not None and scored.classification is not None:
        by = options.by
        table = scored.table
        if by not in table:
            table = table.assign(**{by: usable[by].to_numpy()})
        minimums = {t.pillar: t.value for t in scored.classification.thresholds}
        profiles = profiles_by(table, by, minimums, MIN_N_FLOOR)
    irt = None
    if calibration is not None and options.calibration is not None:
        say("simulating adaptive testing on the calibration")
        irt = IrtRun(calibration, options.calibration, adaptive_on_export(read, calibration))
    return Analysis(
        read,
        options,
        scored,
        validation,
        rule_error,
        validation_error,
        tested,
        invariance_error,
        course,
        irt,
        profiles,
    )
