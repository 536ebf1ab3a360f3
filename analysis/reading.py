"""Reading and checking an export, and the options every command shares: the first step
of the pipeline (:mod:`analysis.pipeline`), light enough for `alliance check` to import
without the statistics behind the later steps (scipy, the CFA engine, scoring)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd

from instrument import Instrument, load_instrument

from .check import CheckResult, check_export
from .choices import (
    DEFAULT_MAX_MISSING_SHARE,
    PARALLEL_ITERATIONS,
    EfaMethod,
    EstimatorRequest,
    LevelStructure,
    MissingMethod,
    ParallelKind,
    RowSelection,
)
from .ingest import DEFAULT_MAX_BYTES, Export, load_map, read_export, value_labels
from .ingest.identifiers import IdentifierPolicy
from .names import RESPONDENT_ID, RESPONSE_ID
from .sample import Sample, select_rows
from .scales import parse_scale, with_label_scales, with_observed_scales, with_option_scale

if TYPE_CHECKING:
    from .cfa.spec import FitRequest
    from .ruptures.alerts import AlertSettings

__all__ = ["Options", "ReadResult", "read_checked", "read_unchecked", "resolve_instrument"]


@dataclass(frozen=True)
class Options:
    """Everything a user can choose about reading, scoring and validating an export.

    ``instrument``: 'alliance' (built-in), a YAML file or a model string; ``model``: a model
    string to fit (it is also the instrument when ``instrument`` is left at 'alliance');
    ``pillars``: the subscales the rule applies to, instead of the instrument's own;
    ``scale``: the response scale ('1-5') of items whose instrument declares none;
    ``rows``: 'usable' (what the checks kept) or 'all' (every row with an answer);
    ``estimator``: 'ml', 'mlr', 'wlsmv' (ordinal items) or 'auto'; ``ordered``: 'all' or the
    items to treat as ordinal (WLSMV);
    ``missing``: how the CFA treats missing answers, 'fiml' (the default for ML and MLR: every
    answer counts), 'pairwise' (the default for WLSMV) or 'listwise' (complete rows only);
    ``group``: a column whose values are compared (multi-group CFA, invariance), or
    'perspective' for patients against clinicians on the parallel items; ``group_equal`` and
    ``group_partial``: lavaan's ``group.equal`` and ``group.partial``; ``parallel``: which
    version of parallel analysis ('components' or 'factors') sets the EFA's factors;
    ``invariance``: the column the report tests measurement invariance across;
    ``calibration``: an item calibration (``alliance calibrate``) whose theta scores, rule on
    theta and adaptive simulation are added to the scores and the report;
    ``cluster``: the column whose rows are not independent (a patient's sessions; 'none': every
    row independent); ``levels``: the two-level model of clustered rows, 'pillars' (the
    default when clustered), 'one' or 'none'; ``over``: 'session' tests invariance over the
    same patients' ``sessions`` (default the first three) instead of across a group;
    ``id_column``: the export column that holds the respondent id;
    ``keep_columns``: columns kept although they look like identifiers (names, e-mail, phone,
    date of birth: left out by default); ``drop_columns``: more columns to leave out;
    ``dictionary``: a REDCap data dictionary whose ``Identifier?`` marks are followed
    (default: one found beside the export); ``require_complete``: set aside REDCap rows
    whose form is not marked Complete; ``pseudonym_key``: replace the respondent and response
    ids by their keyed pseudonyms as the export is read, in the rows as read too.
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
    estimator: EstimatorRequest = "ml"
    missing: MissingMethod | None = None  # FIML for ML and MLR, pairwise for WLSMV
    ordered: str | None = None
    efa_correlation: Literal["pearson", "polychoric"] | None = None  # None: by the estimator
    rows: RowSelection = "usable"
    group: str | None = None
    group_equal: tuple[str, ...] = ()
    group_partial: str | None = None
    parallel: ParallelKind = "components"
    parallel_iterations: int = PARALLEL_ITERATIONS  # random draws of parallel analysis
    efa_method: EfaMethod = "minres"  # the EFA's extraction, psych's fm
    invariance: str | None = None
    by: str | None = None  # the report's group profiles: a column of the export
    cluster: str | None = None  # clusters of rows; None: by respondent when sessions repeat
    levels: LevelStructure | None = None  # the two-level model; None: 'pillars' when clustered
    over: Literal["session"] | None = None  # invariance over a patient's sessions
    sessions: tuple[int, ...] | None = None  # which sessions (None: the first three)
    calibration: Path | None = None  # an item calibration: scores on theta too
    bootstrap: int = 0  # draws for percentile intervals of omega, CR, AVE and HTMT (0: none)
    seed: int | None = None  # the bootstrap's seed (None: one is chosen and reported)
    alerts: AlertSettings | None = None  # the report's rupture alerts (None: the defaults)
    id_column: str | None = None
    keep_columns: tuple[str, ...] = ()
    drop_columns: tuple[str, ...] = ()
    dictionary: Path | None = None
    require_complete: bool = False
    pseudonym_key: str | None = None

    def fit_request(self, data: pd.DataFrame | None = None) -> FitRequest:
        """How the CFA models are to be fitted, as these options ask: decided here once, for
        validate, invariance and the report alike. With the ``data`` to fit, the clusters: the
        column ``cluster`` names ('none': no clusters), or by default the respondent, when
        respondents have more than one row (their sessions)."""
        from .cfa.partable import parse_partial
        from .cfa.spec import FitRequest  # here: the engine is not needed to read an export

        repeated = _repeated_respondents(data)
        cluster = None if self.cluster == "none" else self.cluster
        by_default = self.cluster is None and repeated > 0
        if by_default:
            cluster = RESPONDENT_ID
        return FitRequest(
            estimator=self.estimator,
            missing=self.missing,
            ordered=self.ordered,
            group=self.group,
            group_equal=self.group_equal,
            group_partial=tuple(parse_partial(self.group_partial or ())),
            cluster=cluster,
            cluster_by_default=by_default,
            repeated=repeated if self.cluster in (None, "none") else 0,
        )

    @property
    def identifier_policy(self) -> IdentifierPolicy:
        return IdentifierPolicy(
            keep=self.keep_columns, drop=self.drop_columns, dictionary=self.dictionary
        )


@dataclass(frozen=True)
class ReadResult:
    """A read and checked export, with the instrument as it applies to it (its pillars, and
    response scales resolved for items that had none)."""

    instrument: Instrument
    checked: CheckResult
    path: Path

    def selected(self, rows: RowSelection) -> tuple[pd.DataFrame, Sample]:
        return select_rows(self.checked, rows)


def _repeated_respondents(data: pd.DataFrame | None) -> int:
    """How many respondents have more than one row."""
    if data is None or RESPONDENT_ID not in data:
        return 0
    counts = data[RESPONDENT_ID].dropna().value_counts()
    return int((counts > 1).sum())


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
    instrument, export = read_unchecked(path, options, instrument)
    return ReadResult(instrument, check_export(export, instrument), Path(path))


def read_unchecked(
    path: str | Path, options: Options, instrument: Instrument | None = None
) -> tuple[Instrument, Export]:
    """Read an export as `read_checked` does, without its checks: the instrument (with the
    scales it takes from the export) and the export."""
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
        identifiers=options.identifier_policy,
        id_column=options.id_column,
        require_complete=options.require_complete,
    )
    if options.pseudonym_key is not None:
        export = pseudonymized(export, options.pseudonym_key)
    cluster = None if options.cluster == "none" else options.cluster
    for column in dict.fromkeys((options.group, options.invariance, options.by, cluster)):
        export = _with_group(export, column, path, options.max_bytes)
    if instrument.unscaled_items:
        instrument, inferred = with_observed_scales(instrument, export)
        if len(inferred):
            found = pd.concat([export.findings, inferred], ignore_index=True)
            export = replace(export, findings=found)
    return instrument, export


def pseudonymized(export: Export, key: str) -> Export:
    """The export with its respondent and response ids replaced by keyed pseudonyms
    (:func:`analysis.privacy.pseudonymize`), in ``data`` and in the columns of ``raw`` they
    were read from, so that neither the scores, the store nor the quarantine holds an id. A
    REDCap response id made of the record id is replaced whole."""
    from .privacy import pseudonymize

    data = export.data.copy()
    raw = export.raw.copy() if export.raw is not None else None
    for column in (RESPONDENT_ID, RESPONSE_ID):
        if column not in data:
            continue
        data[column] = pseudonymize(data[column].astype("string").astype(object), key)
        source = export.context_sources.get(column)
        if raw is not None and source in raw and len(raw) == len(data):
            raw[source] = data[column].to_numpy()
    return replace(export, data=data, raw=raw)


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
