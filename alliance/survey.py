"""An export from Python: read it once, then check, score, validate, test invariance and
calibrate it, with the options and defaults of the command line (:mod:`alliance.options`).

Every step returns a result with ``summary()`` (the text the command prints), ``to_dict()``
(its ``--json``), ``to_frame()`` (its main table) and a notebook view."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from analysis import pipeline
from analysis.check import CheckResult
from analysis.reading import Options, ReadResult

from .options import later_options, make_options

if TYPE_CHECKING:
    from analysis.irt import Calibration
    from analysis.pipeline import InvarianceRun, ScoreRun
    from analysis.validate import ValidationResult


@dataclass(frozen=True)
class Survey:
    """An export read and checked: every row usable or set aside with its reasons.

    Made by :func:`read`. Its steps take the options of the command line as keyword
    arguments; those given to :func:`read` hold for every step.

    Attributes
    ----------
    checked : CheckResult
        The checks: ``checked.summary()`` prints what ``alliance check`` prints.
    options : Options
        The options it was read with.

    Examples
    --------
    >>> survey = alliance.read("export.csv", estimator="mlr")
    >>> survey.checked.rows_usable
    732
    >>> survey.validate().estimator
    'mlr'
    """

    read_result: ReadResult
    options: Options

    @property
    def checked(self) -> CheckResult:
        return self.read_result.checked

    @property
    def data(self) -> pd.DataFrame:
        """The usable rows, with the item columns named by item id."""
        return self.checked.usable_data()

    def score(
        self,
        *,
        carry: tuple[str, ...] = (),
        calibration: str | Path | None = None,
        factor_scores: str | None = None,
        **options: Any,
    ) -> ScoreRun:
        """Subscale scores and the non-compensatory rule, one row per usable row.

        Parameters
        ----------
        carry : tuple of str, default ()
            Export columns written beside the scores (a column left out as an identifier
            only when it was kept on purpose with ``keep_columns``).
        calibration : path, optional
            An item calibration (:meth:`calibrate`): theta, its SE and the rule on theta too.
        factor_scores : {'auto', 'regression', 'bartlett', 'eap'}, optional
            Add factor scores by this method.
        **options
            ``thresholds``, ``max_missing`` and the other options of ``alliance score``.

        Returns
        -------
        ScoreRun
            ``to_frame()`` is the table ``alliance score`` writes.

        Examples
        --------
        >>> scores = alliance.read("export.csv").score()
        >>> scores.to_frame()["alliance_status"].value_counts().index.tolist()
        ['adequate', 'inadequate', 'insufficient_data']
        """
        chosen = later_options("score", self.options, options)
        path = Path(calibration) if calibration is not None else None
        return pipeline.score_run(self.read_result, chosen, carry, path, factor_scores)

    def validate(self, **options: Any) -> ValidationResult:
        """Reliability, EFA and the CFA models, as ``alliance validate``.

        Parameters
        ----------
        **options
            ``estimator`` ('ml', 'mlr', 'mlm', 'wlsmv', 'ulsmv' or 'auto'; default 'ml'),
            ``missing``, ``rows``, ``group``, ``cluster``, ``levels``, ``bootstrap``,
            ``efa_method`` and the other options of ``alliance validate``.

        Returns
        -------
        ValidationResult
            Its ``summary()`` begins with the rows used and why any were left out.

        Examples
        --------
        >>> result = alliance.read("export.csv").validate(estimator="mlr")
        >>> result.summary().splitlines()[0]  # doctest: +ELLIPSIS
        '... rows ...; estimator MLR'
        >>> float(result.to_frame().loc["hypothesized", "cfi"]) > 0.9
        True
        """
        chosen = later_options("validate", self.options, options)
        return pipeline.validate(self.read_result, chosen)

    def invariance(self, **options: Any) -> InvarianceRun:
        """Configural, metric, scalar and strict invariance across ``group``, or over a
        patient's sessions with ``over='session'``, as ``alliance invariance``.

        Examples
        --------
        >>> run = alliance.read("export.csv").invariance(group="site_id")
        >>> list(run.to_frame().index)[:2]
        ['configural', 'metric']
        """
        chosen = later_options("invariance", self.options, options)
        return pipeline.invariance(self.read_result, chosen)

    def calibrate(self, *, form: str | None = None, short_items: int | None = None) -> Calibration:
        """A graded response model per subscale, as ``alliance calibrate``; save it with
        ``alliance.save_calibration(calibration, path)`` for :meth:`score`."""
        from analysis.choices import DEFAULT_SHORT_ITEMS

        return pipeline.calibrate(
            self.read_result,
            self.options,
            form=form,
            short_items=DEFAULT_SHORT_ITEMS if short_items is None else short_items,
        )

    def summary(self) -> str:
        return self.checked.summary()

    def _repr_html_(self) -> str:
        return self.checked._repr_html_()

    def __str__(self) -> str:
        return self.summary()


def read(path: str | Path, **options: Any) -> Survey:
    """Read and check an export of any supported platform.

    Parameters
    ----------
    path : str or Path
        A CSV or TSV (Qualtrics, REDCap, SurveyMonkey, LimeSurvey or plain), Excel, SPSS,
        Stata, Parquet, or FHIR QuestionnaireResponses (Bundle or NDJSON).
    **options
        How to read it: ``instrument`` (default 'alliance', the built-in bank; a YAML file or
        a model string), ``map_file``, ``scale``, ``pillars``, ``id_column``,
        ``keep_columns``, ``pseudonym_key``, and any option of the later steps, which then
        holds for all of them.

    Returns
    -------
    Survey

    Raises
    ------
    TypeError
        An option that does not exist, with the nearest that does.
    ValueError
        An option with a value it does not take, or an export that cannot be read at all.
        Problems in the rows are not errors: they are findings in ``survey.checked``.

    Examples
    --------
    >>> survey = alliance.read("export.csv")
    >>> survey.checked.rows_in == survey.checked.rows_usable + survey.checked.rows_quarantined
    True
    >>> alliance.read("export.csv", estimater="mlr")
    Traceback (most recent call last):
    ...
    TypeError: 'estimater' is not an option; did you mean 'estimator'?
    """
    chosen = make_options(**options)
    return Survey(pipeline.read_checked(path, chosen), chosen)


def _survey(source: str | Path | Survey, step: str, options: dict[str, Any]) -> Survey:
    if isinstance(source, Survey):
        if options:
            return Survey(source.read_result, later_options(step, source.options, options))
        return source
    return read(source, **options)


def check(source: str | Path | Survey, **options: Any) -> CheckResult:
    """The checks of an export, as ``alliance check``: :func:`read`, then ``.checked``.

    Examples
    --------
    >>> print(alliance.check("export.csv").summary().splitlines()[0])  # doctest: +ELLIPSIS
    export.csv (csv, utf-8): 758 rows in, 732 usable, 26 quarantined
    """
    return _survey(source, "check", options).checked


def score(source: str | Path | Survey, **options: Any) -> ScoreRun:
    """:meth:`Survey.score` of an export given by its path (or a :class:`Survey`).

    Examples
    --------
    >>> scores = alliance.score("export.csv", carry=("duration_seconds",))
    >>> list(scores.to_frame().columns[:3])
    ['row_in_export', 'duration_seconds', 'response_id']
    """
    steps = {k: options.pop(k) for k in ("carry", "calibration", "factor_scores") if k in options}
    return _survey(source, "score", options).score(**steps)


def validate(source: str | Path | Survey, **options: Any) -> ValidationResult:
    """:meth:`Survey.validate` of an export given by its path (or a :class:`Survey`).

    Examples
    --------
    >>> result = alliance.validate("export.csv", cluster="none")
    >>> result.estimator, result.to_dict()["sample"]["rows_used"]
    ('ml', 732)
    """
    return _survey(source, "validate", options).validate()


def invariance(source: str | Path | Survey, **options: Any) -> InvarianceRun:
    """:meth:`Survey.invariance` of an export given by its path (or a :class:`Survey`).

    Examples
    --------
    >>> run = alliance.invariance("export.csv", group="site_id")
    >>> run.to_dict()["conclusion"]  # doctest: +ELLIPSIS
    '... invariance holds...'
    """
    return _survey(source, "invariance", options).invariance()


def calibrate(
    source: str | Path | Survey, *, form: str | None = None, **options: Any
) -> Calibration:
    """:meth:`Survey.calibrate` of an export given by its path (or a :class:`Survey`).

    Examples
    --------
    >>> calibration = alliance.calibrate("export.csv", form="patient")
    >>> sorted(calibration.scales)
    ['bond', 'goals', 'tasks']
    >>> alliance.save_calibration(calibration, "calibration.yaml").name
    'calibration.yaml'
    """
    return _survey(source, "calibrate", options).calibrate(form=form)
