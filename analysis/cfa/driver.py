"""The CFA engine's stages, run in order for one model.

data -> sample statistics per group (:mod:`.samplestats`) -> parameter table with groups,
labels and equality constraints (:mod:`.partable`) -> model matrices and their Jacobian
(:mod:`.matrices`) -> the estimator's objective, minimised by :mod:`.optimize` -> its
information, standard errors and test statistics (:mod:`.families`) -> fit measures
(:mod:`.fitmeasures`) -> a frozen :class:`~.result.CFAResult`, each stage a module of its own,
as in lavaan. How the model is fitted is one :class:`~.spec.FitSpec`, decided before the first
stage: :func:`fit_model` takes it as it is. :func:`fit_cfa` is the front door with lavaan's
``cfa()`` defaults, which :class:`~.spec.FitSpec` holds.

Groups: ``group='school'`` fits one model per value of the column, with lavaan's conventions
(a mean structure; markers in every group; latent means fixed at 0 in the first group and free
in the others once intercepts are held equal), ``group_equal`` and ``group_partial``.
Missing answers: ``listwise`` keeps the complete rows and counts the rest in
``CFAResult.left_out``; ``fiml`` keeps every row that answered an indicator (:mod:`.fiml`), as
lavaan's ``missing = "ml"``. Validated against lavaan 0.6.14 (tests/reference).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy import special

from instrument.syntax import parse_model

from ..choices import Estimator, MissingMethod, Parameterization
from ..wording import worded
from . import se as standard
from .dwls import DWLS
from .families import family_for
from .matrices import Representation
from .missing import LOW_COVERAGE
from .ml import ML
from .modindices import COLUMNS as MI_COLUMNS
from .modindices import modification_indices
from .optimize import Estimate, minimize
from .partable import Key, ModelError, ParTable, build_partable, variables
from .result import CFAResult
from .samplestats import SampleStats, sample_stats
from .spec import DEFAULT, FitSpec
from .standardized import standardize, standardized_se


def fit_cfa(
    data: pd.DataFrame,
    model: str,
    *,
    estimator: Estimator = DEFAULT.estimator,
    std_lv: bool = False,
    orthogonal: bool = False,
    group: str | None = DEFAULT.group,
    group_equal: Sequence[str] = DEFAULT.group_equal,
    group_partial: Sequence[Key] = DEFAULT.group_partial,
    group_order: tuple[str, ...] | None = None,
    table: ParTable | None = None,
    stats: SampleStats | None = None,
    modindices: bool = True,
    missing: MissingMethod = DEFAULT.missing,
    ordered: Sequence[str] | None = DEFAULT.ordered,
    cluster: str | None = DEFAULT.cluster,
    parameterization: Parameterization = DEFAULT.parameterization,
) -> CFAResult:
    """Fit a confirmatory factor model.

    Parameters
    ----------
    data : DataFrame
        One row per response; the model's indicators as columns.
    model : str
        lavaan-style syntax, e.g. ``'visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6'``.
    missing : {'listwise', 'fiml', 'pairwise'}, default 'listwise'
        Complete rows only (counted in ``left_out``), or every row with an answer, by
        full-information ML (lavaan's ``missing = "ml"``) or, for ordinal items, pairwise.
    estimator : {'ml', 'mlr', 'wlsmv'}, default 'ml'
        ``wlsmv`` treats every indicator as ordinal (lavaan's ``ordered = TRUE``): DWLS on the
        thresholds and polychoric correlations, robust standard errors, the scaled and shifted
        chi-square.
    ordered : sequence of str, optional
        Under WLSMV, the ordinal indicators when not all are: the others are continuous
        (means, variances, Pearson and polyserial correlations; lavaan's ``ordered = c(...)``).
    std_lv : bool, default False
        Identify factors by unit variance instead of a marker loading.
    orthogonal : bool, default False
        Fix factor covariances at zero.
    group : str, optional
        A column whose values are the groups of a multi-group model.
    group_equal : sequence of str
        Kinds of parameter held equal across groups: ``loadings``, ``intercepts``, ``means``,
        ``residuals``, ``residual.covariances``, ``lv.variances``, ``lv.covariances``.
    group_partial : sequence of (lhs, op, rhs)
        Parameters exempt from ``group_equal`` (see :func:`.partable.parse_partial`).
    cluster : str, optional
        A column whose values are clusters of rows (the sessions of one patient): under MLR,
        cluster-robust standard errors and test, as lavaan's ``cluster =`` (:mod:`.cluster`).
    parameterization : {'delta', 'theta'}, default 'delta'
        How ordinal items' latent responses are identified, as lavaan's: total variance 1, or
        residual variance 1 (which allows residual variances held equal across groups).
    table, stats : optional
        A parameter table and sample statistics already built (by :func:`prepare`, or changed
        from another fit's), to skip the first stages.

    Validated against lavaan 0.6 ``cfa()`` (ML and MLR, one group and several): fit measures,
    estimates, standard errors, standardized solution, modification indices.
    """
    spec = FitSpec(
        estimator=estimator,
        missing=missing,
        ordered=None if ordered is None else tuple(ordered),
        group=group,
        group_equal=tuple(group_equal),
        group_partial=tuple(group_partial),
        cluster=cluster,
        parameterization=parameterization,
    )
    return fit_model(
        data,
        model,
        spec,
        std_lv=std_lv,
        orthogonal=orthogonal,
        group_order=group_order,
        table=table,
        stats=stats,
        modindices=modindices,
    )


def fit_model(
    data: pd.DataFrame,
    model: str,
    spec: FitSpec,
    *,
    std_lv: bool = False,
    orthogonal: bool = False,
    group_order: tuple[str, ...] | None = None,
    table: ParTable | None = None,
    stats: SampleStats | None = None,
    modindices: bool = True,
    assess: bool = True,
) -> CFAResult:
    """Fit ``model`` to ``data`` as ``spec`` says: the stages in order, the estimator's family
    (:func:`.families.family_for`) choosing the objective, the information and the tests.
    ``table`` and ``stats``, when given, were built for this ``spec`` (by :func:`prepare`, or
    changed from another fit's) and skip the first stages. ``assess`` False stops after the
    estimates: no fit measures, standard errors or modification indices (a bootstrap draw)."""
    if table is None or stats is None:
        table, stats = prepare(
            data, model, spec, std_lv=std_lv, orthogonal=orthogonal, group_order=group_order
        )
    family = family_for(spec)
    rep = Representation.of(table)
    df = _degrees_of_freedom(rep, stats)
    ml = family.objective(rep, stats)
    est = _estimate(rep, ml, stats)
    findings: list[str] = []
    if not est.converged:
        findings.append(
            f"the estimation did not converge ({est.message}); numbers are not trustworthy"
        )
    if assess:
        assessed = family.assess(rep, ml, est.theta, est.fmin, df)
        fit, vcov, singular = assessed.fit, assessed.vcov, assessed.singular
    else:
        fit, vcov, singular = {}, np.full((rep.n_free, rep.n_free), np.nan), False
    if singular:
        findings.append(
            "the information matrix is singular: some parameters are not "
            "identified by these data; standard errors are not available"
        )
        if spec.estimator != "ml" and df > 0:
            findings.append(
                "the robust (scaled) chi-square and fit indices cannot be computed with a "
                "singular information matrix; only the unscaled ML values (_ml) are given"
            )
    if stats.cluster is not None and stats.n_clusters <= rep.n_free:
        findings.append(
            f"{stats.n_clusters} clusters for {rep.n_free} parameters: the cluster-robust "
            f"covariance has rank at most {stats.n_clusters - 1}, so its standard errors and "
            "scaled test rest on too few clusters (lavaan warns the same)"
        )
    estimates = estimates_frame(rep, est.theta, vcov, standard_errors=assess)
    findings += _heywood(rep, estimates["est"].to_numpy(), estimates["std_all"].to_numpy())
    findings += _missing_findings(stats)
    implied, samples, resid = _moment_frames(rep, stats, est.theta)
    mi = (
        modification_indices(rep, ml, est.theta)
        if modindices and assess and not singular
        else pd.DataFrame(columns=MI_COLUMNS)
    )
    grouped = len(stats.groups) > 1 or spec.group is not None
    return CFAResult(
        model=model,
        estimator=spec.estimator,
        n=stats.n,
        observed=table.observed,
        latent=table.latent,
        estimates=estimates,
        fit=fit,
        converged=est.converged,
        iterations=est.iterations,
        implied=implied[0],
        sample=samples[0],
        modindices=mi,
        residual_correlations=resid[0],
        findings=tuple(findings),
        groups=stats.labels,
        group_n=tuple(g.n for g in stats.groups),
        group_column=spec.group if grouped else None,
        left_out=_left_out(stats),
        table=table,
        stats=stats,
        theta=est.theta,
        implied_by_group=tuple(implied),
        sample_by_group=tuple(samples),
        spec=spec,
    )


def prepare(
    data: pd.DataFrame,
    model: str,
    spec: FitSpec,
    *,
    std_lv: bool = False,
    orthogonal: bool = False,
    group_order: tuple[str, ...] | None = None,
) -> tuple[ParTable, SampleStats]:
    """The first two stages: the parameter table and the sample statistics it is fitted to,
    as ``spec`` asks (its missing-data method, its ordinal items, its groups)."""
    # The observed variables are known from the syntax before the groups are.
    observed = variables(parse_model(model))[1]
    if spec.group is not None:
        _refuse_small_groups(data, model, spec.group)
    stats = sample_stats(
        data, observed, spec.group, group_order, spec.missing, spec.ordinal, spec.cluster
    )
    return partable_for(
        model,
        stats,
        group=spec.group,
        std_lv=std_lv,
        orthogonal=orthogonal,
        group_equal=spec.group_equal,
        group_partial=spec.group_partial,
        parameterization=spec.parameterization,
    ), stats


def _refuse_small_groups(data: pd.DataFrame, model: str, group: str) -> None:
    """A group with fewer rows than the model has free parameters in one group cannot be
    fitted: refuse before any statistic is computed (a column of many small clusters, such as
    a patient's sessions, is for the cluster-robust or two-level model, not for groups)."""
    if group not in data.columns:
        return
    sizes = data[group].value_counts()
    if len(sizes) < 2:
        return
    try:
        free = int(max(build_partable(model, meanstructure=True).free_index()) + 1)
    except ModelError:  # labels per group (c(...)): a model written for a few named groups
        return
    small = sizes[sizes < free]
    if len(small):
        raise ModelError(
            worded(
                f"group column {group!r} has {len(sizes):,} groups, {len(small):,} of them "
                f"with fewer rows than the {free} free parameters of the model in one group "
                f"(the smallest has {int(sizes.min())}): a model cannot be fitted in each. For "
                f"rows nested in {group!r} (sessions within patients), give it as `cluster` "
                "instead."
            )
        )


def partable_for(
    model: str,
    stats: SampleStats,
    *,
    group: str | None = None,
    std_lv: bool = False,
    orthogonal: bool = False,
    group_equal: Sequence[str] = (),
    group_partial: Sequence[Key] = (),
    parameterization: Parameterization = "delta",
) -> ParTable:
    """The parameter table of ``model`` for sample statistics already at hand (from data by
    :func:`prepare`, or from a store's moments by :func:`.samplestats.from_moments`)."""
    statements = parse_model(model)
    missing, ordered, observed = stats.missing, stats.ordinal, stats.observed
    thresholds = None
    mixed = False
    if ordered:
        first = stats.groups[0].ordinal
        assert first is not None
        thresholds = {
            v: len(t)
            for v, t, cont in zip(observed, first.thresholds, first.continuous, strict=True)
            if not cont
        }
        mixed = bool(first.continuous.any())
    if group is not None and len(stats.groups) < 2:
        raise ModelError(
            f"group column {group!r} has one value ({stats.groups[0].label!r}) among the "
            f"rows used; a comparison needs two groups or more."
        )
    return build_partable(
        statements,
        std_lv=std_lv,
        orthogonal=orthogonal,
        groups=stats.labels if group is not None else ("",),
        group_equal=group_equal,
        group_partial=group_partial,
        meanstructure=(
            True
            if missing == "fiml" or mixed or stats.cluster is not None
            else (False if ordered and not group else None)
        ),
        thresholds=thresholds,
        parameterization=parameterization,
    )


def _heywood(rep: Representation, values: np.ndarray, std: np.ndarray) -> list[str]:
    findings = []
    many = rep.n_groups > 1
    for p, (name, r, c), v, sv in zip(rep.table.parameters, rep.cells, values, std, strict=True):
        where = f" in group {rep.table.groups[p.group]!r}" if many else ""
        if p.op == "~~" and r == c and v < 0:
            what = "factor" if name == "psi" else "residual"
            findings.append(
                f"Heywood case: negative {what} variance {p.lhs} ~~ {p.rhs} = {v:.3f}{where}"
            )
        elif p.op == "=~" and abs(sv) > 1:
            findings.append(
                f"Heywood case: standardized loading {p.lhs} =~ {p.rhs} = {sv:.3f}{where}"
            )
        elif name == "psi" and r != c and abs(sv) > 1:
            findings.append(f"factor correlation {p.lhs} ~~ {p.rhs} = {sv:.3f} is beyond 1{where}")
    return findings


def _left_out(stats: SampleStats) -> dict[str, int]:
    out = {"incomplete": stats.incomplete, "no_group": stats.ungrouped}
    if stats.missing in ("fiml", "pairwise"):
        out = {"no_answer": stats.empty, "no_group": stats.ungrouped}
    if stats.cluster is not None:
        out["no_cluster"] = stats.unclustered
    return out


def _missing_findings(stats: SampleStats) -> list[str]:
    out = []
    for g in stats.groups:
        if g.h1 is not None and not g.h1.converged:
            out.append(
                f"the EM fit of the unrestricted model did not converge in {g.h1.iterations} steps"
            )
        lowest, r, c = g.lowest_pair()
        if lowest < LOW_COVERAGE:
            where = f" in group {g.label!r}" if len(stats.groups) > 1 else ""
            out.append(
                f"low coverage{where}: only {lowest:.1%} of rows answered both "
                f"{stats.observed[r]} and {stats.observed[c]} (below {LOW_COVERAGE:.0%})"
            )
    return out


def _degrees_of_freedom(rep: Representation, stats: SampleStats) -> int:
    p = rep.p
    first = stats.groups[0].ordinal
    if first is not None:
        per_group = len(first.statistics)
    else:
        per_group = p * (p + 1) // 2 + (p if rep.meanstructure else 0)
    moments = len(stats.groups) * per_group
    df = moments - rep.n_free
    if df < 0:
        raise ModelError(
            f"the model is not identified: {rep.n_free} free parameters but only "
            f"{moments} sample moments (df = {df})."
        )
    return df


def _estimate(rep: Representation, ml: ML | DWLS, stats: SampleStats) -> Estimate:
    """Minimise from the usual start, or from a diagonal one where that is not positive
    definite."""
    est = minimize(ml, rep.start(stats))
    if np.isfinite(est.fmin):
        return est
    diagonal = replace(
        stats, groups=tuple(replace(g, cov=np.diag(np.diag(g.cov))) for g in stats.groups)
    )
    return minimize(ml, rep.start(diagonal))


def estimates_frame(
    rep: Representation, theta: np.ndarray, vcov: np.ndarray, *, standard_errors: bool = True
) -> pd.DataFrame:
    """One row per parameter and group: estimate, standard error, z, p, standardized (the
    standardized estimates' SEs only with ``standard_errors``)."""
    values = rep.values(theta)
    se = standard.standard_errors(vcov, rep.free_index)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = values / se
    params = rep.table.parameters
    return pd.DataFrame(
        {
            "lhs": [q.lhs for q in params],
            "op": [q.op for q in params],
            "rhs": [q.rhs for q in params],
            "group": [q.group + 1 for q in params],
            "label": [q.label or "" for q in params],
            "free": np.array(rep.free_index) >= 0,
            "est": values,
            "se": se,
            "z": z,
            "pvalue": 2 * special.ndtr(-np.abs(z)),
            "std_all": standardize(rep, theta),
            "std_se": (
                standardized_se(rep, theta, vcov)
                if standard_errors
                else np.full(len(params), np.nan)
            ),
        }
    )


Frames = list[pd.DataFrame]


def _moment_frames(
    rep: Representation, stats: SampleStats, theta: np.ndarray
) -> tuple[Frames, Frames, Frames]:
    """Per group: implied and sample covariances, and the residual correlations."""
    names = list(rep.table.observed)
    implied, samples, resid = [], [], []
    for g, sample in enumerate(stats.groups):
        sigma = rep.implied(theta, g)
        sd_s, sd_sigma = np.sqrt(np.diag(sample.cov)), np.sqrt(np.diag(sigma))
        r = sample.cov / np.outer(sd_s, sd_s) - sigma / np.outer(sd_sigma, sd_sigma)
        implied.append(pd.DataFrame(sigma, index=names, columns=names))
        samples.append(pd.DataFrame(sample.cov, index=names, columns=names))
        resid.append(pd.DataFrame(r, index=names, columns=names))
    return implied, samples, resid
