"""The CFA engine's stages, run in order for one model: ``fit_cfa(data, model, ...)``.

data -> sample statistics per group (:mod:`.samplestats`) -> parameter table with groups,
labels and equality constraints (:mod:`.partable`) -> model matrices and their Jacobian
(:mod:`.matrices`) -> estimator (:mod:`.ml`, minimised by :mod:`.optimize`) -> standard errors
(:mod:`.se`) -> test statistics (:mod:`.teststat`) -> fit measures (:mod:`.fitmeasures`) -> a
frozen :class:`CFAResult`, each stage a module of its own, as in lavaan.

- ML: expected-information standard errors (lavaan's default for ML).
- MLR: the same estimates; Huber-White sandwich standard errors with the observed information as
  bread; the Yuan-Bentler scaled chi-square (:mod:`.teststat`); robust CFI, TLI and RMSEA
  (Brosseau-Liard & Savalei) with the robust RMSEA's interval and p-value. The unscaled values
  sit beside them with a ``_ml`` suffix.

Groups: ``group='school'`` fits one model per value of the column, with lavaan's conventions
(a mean structure; markers in every group; latent means fixed at 0 in the first group and free
in the others once intercepts are held equal), ``group_equal`` and ``group_partial``.

Missing answers (``missing``): ``listwise`` keeps the complete rows and counts the rest in
``CFAResult.left_out``; ``fiml`` keeps every row that answered an indicator and fits the casewise
likelihood (:mod:`.fiml`), as lavaan's ``missing = "ml"``: a mean structure, the chi-square
against the EM-fitted unrestricted model, the baseline on each item's answered rows, standard
errors from the observed information (sandwich with it as bread under MLR). Validated against
lavaan 0.6.14 (tests/reference).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from instrument.syntax import parse_model

from ..choices import ESTIMATORS, MISSING_METHODS, Estimator, MissingMethod
from . import fitmeasures as fm
from . import se as standard
from .dwls import DWLS
from .fiml import FIML
from .matrices import Representation
from .missing import LOW_COVERAGE
from .ml import ML
from .modindices import COLUMNS as MI_COLUMNS
from .modindices import modification_indices
from .optimize import Estimate, minimize
from .partable import Key, ModelError, ParTable, build_partable, variables
from .samplestats import SampleStats, sample_stats
from .standardized import standardize, standardized_se
from .teststat import (
    catml,
    dwls_baseline,
    dwls_traces,
    fiml_corrected,
    independence,
    scaled_shifted,
    yuan_bentler,
)


@dataclass(frozen=True)
class CFAResult:
    """Everything about one fitted model. ``estimates`` has one row per parameter and group."""

    model: str
    estimator: Estimator
    n: int
    observed: tuple[str, ...]
    latent: tuple[str, ...]
    estimates: pd.DataFrame
    fit: dict[str, float]
    converged: bool
    iterations: int
    implied: pd.DataFrame  # the first group's; every group's in ``implied_by_group``
    sample: pd.DataFrame
    modindices: pd.DataFrame
    residual_correlations: pd.DataFrame
    findings: tuple[str, ...] = field(default=())
    groups: tuple[str, ...] = ("",)
    group_n: tuple[int, ...] = ()
    group_column: str | None = None
    left_out: dict[str, int] = field(default_factory=dict)
    table: ParTable | None = None
    stats: SampleStats | None = None
    theta: np.ndarray | None = None
    implied_by_group: tuple[pd.DataFrame, ...] = ()
    sample_by_group: tuple[pd.DataFrame, ...] = ()

    @property
    def loadings(self) -> pd.DataFrame:
        e = self.estimates
        return e[(e["op"] == "=~") & (e["group"] == 1)].reset_index(drop=True)

    def factor_correlations(self, group: int = 1) -> pd.DataFrame:
        e = self.estimates
        psi = e[(e["op"] == "~~") & e["lhs"].isin(self.latent) & (e["group"] == group)]
        names = list(self.latent)
        values = np.eye(len(names))
        for lhs, rhs, std in zip(psi["lhs"], psi["rhs"], psi["std_all"], strict=True):
            a, b = names.index(str(lhs)), names.index(str(rhs))
            values[a, b] = values[b, a] = float(std)
        return pd.DataFrame(values, index=names, columns=names)

    def missing_data(self) -> dict[str, Any]:
        """How missing answers were handled: the method and, under FIML, the missing-data
        patterns and the item pair answered together by the smallest share of rows."""
        stats = self.stats
        if stats is None or stats.missing == "listwise":
            return {"method": "listwise"}
        lowest, r, c = min(g.lowest_pair() for g in stats.groups)
        if stats.missing == "pairwise":
            return {
                "method": "pairwise",
                "lowest_coverage": lowest,
                "lowest_coverage_items": [stats.observed[r], stats.observed[c]],
            }
        return {
            "method": "fiml",
            "patterns": stats.n_patterns,
            "lowest_coverage": lowest,
            "lowest_coverage_items": [stats.observed[r], stats.observed[c]],
        }

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "estimator": self.estimator,
            "n": self.n,
            "converged": self.converged,
            "fit": dict(self.fit),
            "findings": list(self.findings),
            "missing": self.missing_data(),
        }
        if self.group_column is not None:
            out["group"] = {
                "column": self.group_column,
                "groups": [
                    {"label": g, "n": n} for g, n in zip(self.groups, self.group_n, strict=True)
                ],
            }
        return out


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


def prepare(
    data: pd.DataFrame,
    model: str,
    *,
    std_lv: bool = False,
    orthogonal: bool = False,
    group: str | None = None,
    group_equal: Sequence[str] = (),
    group_partial: Sequence[Key] = (),
    group_order: tuple[str, ...] | None = None,
    missing: MissingMethod = "listwise",
    ordered: bool | Sequence[str] = False,
) -> tuple[ParTable, SampleStats]:
    """The first two stages: the parameter table and the sample statistics it is fitted to.
    ``ordered``: every indicator is ordinal (thresholds, polychoric correlations), or those
    named (the others continuous)."""
    if missing not in MISSING_METHODS:
        raise ValueError(
            f"'missing' must be one of {', '.join(map(repr, MISSING_METHODS))}; got {missing!r}."
        )
    # The observed variables are known from the syntax before the groups are.
    observed = variables(parse_model(model))[1]
    stats = sample_stats(data, observed, group, group_order, missing, ordered)
    return partable_for(
        model,
        stats,
        group=group,
        std_lv=std_lv,
        orthogonal=orthogonal,
        group_equal=group_equal,
        group_partial=group_partial,
    ), stats


def partable_for(
    model: str,
    stats: SampleStats,
    *,
    group: str | None = None,
    std_lv: bool = False,
    orthogonal: bool = False,
    group_equal: Sequence[str] = (),
    group_partial: Sequence[Key] = (),
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
            True if missing == "fiml" or mixed else (False if ordered and not group else None)
        ),
        thresholds=thresholds,
    )


def objective(rep: Representation, stats: SampleStats) -> ML | DWLS:
    """The estimator's objective for these sample statistics: ML, FIML by pattern, or DWLS on
    the thresholds and polychoric correlations of ordinal items."""
    if stats.ordinal:
        return DWLS(rep, stats)
    return FIML(rep, stats) if stats.missing == "fiml" else ML(rep, stats)


def fit_cfa(
    data: pd.DataFrame,
    model: str,
    *,
    estimator: Estimator = "ml",
    std_lv: bool = False,
    orthogonal: bool = False,
    group: str | None = None,
    group_equal: Sequence[str] = (),
    group_partial: Sequence[Key] = (),
    group_order: tuple[str, ...] | None = None,
    table: ParTable | None = None,
    stats: SampleStats | None = None,
    modindices: bool = True,
    missing: MissingMethod = "listwise",
    ordered: Sequence[str] | None = None,
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
    table, stats : optional
        A parameter table and sample statistics already built (by :func:`prepare`, or changed
        from another fit's), to skip the first stages.

    Validated against lavaan 0.6 ``cfa()`` (ML and MLR, one group and several): fit measures,
    estimates, standard errors, standardized solution, modification indices.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(
            f"'estimator' must be one of {', '.join(map(repr, ESTIMATORS))}; got {estimator!r}."
        )
    if ordered is not None and estimator != "wlsmv":
        raise ModelError("ordinal indicators ('ordered') are fitted by WLSMV.")
    ordinal: bool | Sequence[str] = (
        (tuple(ordered) if ordered is not None else True) if estimator == "wlsmv" else False
    )
    if ordinal and missing == "fiml":
        raise ModelError(
            "WLSMV handles missing answers pairwise or listwise; FIML is for ML and MLR."
        )
    if table is None or stats is None:
        table, stats = prepare(
            data,
            model,
            std_lv=std_lv,
            orthogonal=orthogonal,
            group=group,
            group_equal=group_equal,
            group_partial=group_partial,
            group_order=group_order,
            missing=missing,
            ordered=ordinal,
        )
    rep = Representation.of(table)
    df = _degrees_of_freedom(rep, stats)
    ml = objective(rep, stats)
    est = _estimate(rep, ml, stats)
    findings: list[str] = []
    if not est.converged:
        findings.append(
            f"the estimation did not converge ({est.message}); numbers are not trustworthy"
        )
    if isinstance(ml, DWLS):
        fit, vcov, singular = _wlsmv_fit(rep, ml, est.theta, df)
    else:
        fit, vcov, singular = _fit_measures(rep, ml, est.theta, est.fmin, df, estimator)
    if singular:
        findings.append(
            "the information matrix is singular: some parameters are not "
            "identified by these data; standard errors are not available"
        )
        if estimator != "ml" and df > 0:
            findings.append(
                "the robust (scaled) chi-square and fit indices cannot be computed with a "
                "singular information matrix; only the unscaled ML values (_ml) are given"
            )
    estimates = _estimates(rep, est.theta, vcov)
    findings += _heywood(rep, estimates["est"].to_numpy(), estimates["std_all"].to_numpy())
    findings += _missing_findings(stats)
    implied, samples, resid = _moment_frames(rep, stats, est.theta)
    mi = (
        modification_indices(rep, ml, est.theta)
        if modindices and not singular and isinstance(ml, ML)
        else pd.DataFrame(columns=MI_COLUMNS)
    )
    grouped = len(stats.groups) > 1 or group is not None
    return CFAResult(
        model=model,
        estimator=estimator,
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
        group_column=group if grouped else None,
        left_out=_left_out(stats),
        table=table,
        stats=stats,
        theta=est.theta,
        implied_by_group=tuple(implied),
        sample_by_group=tuple(samples),
    )


def _left_out(stats: SampleStats) -> dict[str, int]:
    out = {"incomplete": stats.incomplete, "no_group": stats.ungrouped}
    if stats.missing in ("fiml", "pairwise"):
        out = {"no_answer": stats.empty, "no_group": stats.ungrouped}
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


def _estimates(rep: Representation, theta: np.ndarray, vcov: np.ndarray) -> pd.DataFrame:
    """One row per parameter and group: estimate, standard error, z, p, standardized."""
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
            "std_se": standardized_se(rep, theta, vcov),
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


def _baseline_chisq(stats: SampleStats) -> float:
    """The independence model's chi-square. Under FIML it is ``2 (logL1 - logL_b)``, the
    independence model fitted to each item's answered rows."""
    if stats.missing == "listwise":
        return float(sum(fm.baseline_chisq(g.cov, g.n) for g in stats.groups))
    total = 0.0
    for g in stats.groups:
        assert g.h1 is not None
        _, var, answered = independence(g.rows)
        loglik = float(np.sum(-answered / 2 * (np.log(2 * np.pi) + np.log(var) + 1)))
        total += 2 * (g.h1.loglik - loglik)
    return total


def _fit_measures(
    rep: Representation, ml: ML, theta: np.ndarray, fmin: float, df: int, estimator: Estimator
) -> tuple[dict[str, float], np.ndarray, bool]:
    """The test statistics and fit measures, and the estimates' covariance matrix."""
    stats = ml.stats
    n, p, n_groups = stats.n, rep.p, len(stats.groups)
    chisq = n * fmin
    base = _baseline_chisq(stats)
    base_df = n_groups * p * (p - 1) // 2
    h_exp = ml.hessian(theta)
    singular = standard.is_singular(h_exp)
    fit: dict[str, float] = {
        "npar": rep.n_free,
        "ntotal": n,
        "ngroups": n_groups,
        "chisq": chisq,
        "df": df,
        "pvalue": fm.chisq_pvalue(chisq, df),
        "baseline_chisq": base,
        "baseline_df": base_df,
        "cfi": fm.cfi(chisq, df, base, base_df),
        "tli": fm.tli(chisq, df, base, base_df),
        "rmsea": fm.rmsea(chisq, df, n, n_groups),
    }
    fit["rmsea_ci_lower"], fit["rmsea_ci_upper"] = fm.rmsea_ci(chisq, df, n, groups=n_groups)
    fit["rmsea_pvalue"] = fm.rmsea_pclose(chisq, df, n, n_groups)
    srmr = []
    for g, sample in enumerate(stats.groups):
        mats = rep.matrices(theta, g)
        if rep.meanstructure:
            srmr.append(fm.srmr(sample.cov, mats.sigma, sample.mean, mats.mu))
        else:
            srmr.append(fm.srmr(sample.cov, mats.sigma))
    fit["srmr"] = float(stats.weights @ np.array(srmr))
    fit["loglik"] = ml.loglik(theta)
    fit["unrestricted_loglik"] = ml.unrestricted_loglik()
    fit["aic"] = -2 * fit["loglik"] + 2 * rep.n_free
    fit["bic"] = -2 * fit["loglik"] + rep.n_free * float(np.log(n))

    if estimator == "ml" and stats.missing == "listwise":
        return fit, standard.expected(h_exp, n), singular
    h_obs = ml.observed_hessian(theta)
    if estimator == "ml":  # FIML: the observed information, as lavaan's default there
        return fit, standard.expected(h_obs, n), singular or standard.is_singular(h_obs)
    products = ml.score_products(theta)
    vcov = standard.sandwich(h_obs, products, n)
    unscaled = {
        "chisq_ml": chisq,
        "cfi_ml": fit["cfi"],
        "tli_ml": fit["tli"],
        "rmsea_ml": fit["rmsea"],
        "rmsea_ci_lower_ml": fit["rmsea_ci_lower"],
        "rmsea_ci_upper_ml": fit["rmsea_ci_upper"],
        "rmsea_pvalue_ml": fit["rmsea_pvalue"],
    }
    fit.update(unscaled)
    if df == 0:  # saturated: nothing to scale; the statistic is 0 either way
        fit["scaling_factor"] = float("nan")
        return fit, vcov, singular
    if singular or standard.is_singular(h_obs):
        nan = float("nan")
        for key in ("chisq", "pvalue", "scaling_factor", "cfi", "tli", "rmsea"):
            fit[key] = nan
        for key in ("rmsea_ci_lower", "rmsea_ci_upper", "rmsea_pvalue"):
            fit[key] = nan
        for key in ("baseline_chisq_scaled", "baseline_scaling_factor"):
            fit[key] = nan
        return fit, vcov, True
    scaling = yuan_bentler(stats, rep.meanstructure, h_obs, products, df, base_df)
    c, base_c = scaling.c, scaling.baseline_c
    scaled = chisq / c
    fit.update(
        {
            "scaling_factor": c,
            "chisq": scaled,
            "pvalue": fm.chisq_pvalue(scaled, df),
            "baseline_chisq_scaled": base / base_c,
            "baseline_scaling_factor": base_c,
            "cfi": fm.robust_cfi(chisq, df, c, base, base_df, base_c),
            "tli": fm.robust_tli(chisq, df, c, base, base_df, base_c),
            "rmsea": fm.rmsea(chisq, df, n, n_groups, c),
            "rmsea_pvalue": fm.rmsea_pclose(scaled, df, n, n_groups, c),
        }
    )
    fit["rmsea_ci_lower"], fit["rmsea_ci_upper"] = fm.rmsea_ci(scaled, df, n, groups=n_groups, c=c)
    if stats.missing == "fiml":
        fit.update(_fiml_robust(rep, stats, theta, df, base_df))
    return fit, vcov, singular


def _fiml_robust(
    rep: Representation, stats: SampleStats, theta: np.ndarray, df: int, base_df: int
) -> dict[str, float]:
    """Under FIML the robust CFI, TLI and RMSEA come from the FIML-corrected statistics
    (:func:`.teststat.fiml_corrected`), as lavaan 0.6.13 and later compute them."""
    n, n_groups = stats.n, len(stats.groups)
    k = fiml_corrected(rep, stats, theta, df, base_df)
    args = (k.chisq, df, k.c, k.baseline_chisq, base_df, k.baseline_c)
    out = {
        "cfi": fm.robust_cfi(*args),
        "tli": fm.robust_tli(*args),
        "rmsea": fm.rmsea(k.chisq, df, n, n_groups, k.c),
        "rmsea_pvalue": fm.rmsea_pclose(k.chisq / k.c, df, n, n_groups, k.c),
    }
    out["rmsea_ci_lower"], out["rmsea_ci_upper"] = fm.rmsea_ci(
        k.chisq / k.c, df, n, groups=n_groups, c=k.c
    )
    return out


def _wlsmv_fit(
    rep: Representation, dwls: DWLS, theta: np.ndarray, df: int
) -> tuple[dict[str, float], np.ndarray, bool]:
    """WLSMV's fit measures, as lavaan 0.6.14 reports them for ordinal items: the DWLS
    chi-square and the scaled-and-shifted one (which ``chisq``, ``cfi``, ``tli`` and ``rmsea``
    are; the unscaled values have a ``_dwls`` suffix), the robust CFI, TLI and RMSEA of
    Savalei (2021) (``_robust``), and the SRMR of the correlations."""
    stats = dwls.stats
    n, n_groups, p = stats.n, len(stats.groups), rep.p
    base_df = n_groups * p * (p - 1) // 2
    n_rmsea = n - n_groups  # lavaan's RMSEA for DWLS counts N - G, as its chi-square does
    bread = dwls.bread(theta)
    singular = standard.is_singular(bread)
    vcov = dwls.vcov(theta)
    chisq = dwls.chisq(theta)
    base = dwls_baseline(dwls)
    fit: dict[str, float] = {
        "npar": rep.n_free,
        "ntotal": n,
        "ngroups": n_groups,
        "chisq_dwls": chisq,
        "df": df,
        "pvalue_dwls": fm.chisq_pvalue(chisq, df),
        "baseline_chisq_dwls": base.chisq,
        "baseline_df": base_df,
        "cfi_dwls": fm.cfi(chisq, df, base.chisq, base_df),
        "tli_dwls": fm.tli(chisq, df, base.chisq, base_df),
        "rmsea_dwls": fm.rmsea(chisq, df, n_rmsea, n_groups),
    }
    srmr = []
    r, c = np.tril_indices(p, -1)
    for g, sample in enumerate(stats.groups):
        implied = dwls.correlations(theta, g)
        sd = np.sqrt(np.diag(implied))
        assert sample.ordinal is not None
        resid = sample.ordinal.correlations - implied / np.outer(sd, sd)
        srmr.append(float(np.sqrt(np.sum(resid[r, c] ** 2) / (p * (p + 1) / 2))))
    fit["srmr"] = float(stats.weights @ np.array(srmr))
    nan = float("nan")
    base_scaled = scaled_shifted(base.chisq, base_df, base.trace, base.trace2)
    fit.update(
        {
            "baseline_chisq": base_scaled.chisq,
            "baseline_scaling_factor": base_scaled.scaling_factor,
            "baseline_shift": base_scaled.shift,
        }
    )
    if df == 0 or singular:
        # Saturated: nothing to scale, the statistic is 0 either way. Singular: no scaling.
        keys = ("chisq", "pvalue", "scaling_factor", "shift", "cfi", "tli", "rmsea")
        fit.update(dict.fromkeys(keys, nan))
        fit.update(dict.fromkeys(("rmsea_ci_lower", "rmsea_ci_upper", "rmsea_pvalue"), nan))
        if df == 0 and not singular:  # as lavaan reports a saturated model
            for suffix in ("", "_dwls", "_robust"):
                fit.update({f"cfi{suffix}": 1.0, f"tli{suffix}": 1.0, f"rmsea{suffix}": 0.0})
            fit["chisq"] = 0.0
            for key in ("rmsea_ci_lower", "rmsea_ci_upper"):
                fit[key] = fit[f"{key}_robust"] = 0.0
        return fit, vcov, singular
    trace, trace2 = dwls_traces(dwls, theta)
    scaled = scaled_shifted(chisq, df, trace, trace2)
    fit.update(
        {
            "chisq": scaled.chisq,
            "pvalue": fm.chisq_pvalue(scaled.chisq, df),
            "scaling_factor": scaled.scaling_factor,
            "shift": scaled.shift,
            "cfi": fm.cfi(scaled.chisq, df, base_scaled.chisq, base_df),
            "tli": fm.tli(scaled.chisq, df, base_scaled.chisq, base_df),
            "rmsea": fm.rmsea(scaled.chisq, df, n_rmsea, n_groups),
            "rmsea_pvalue": fm.rmsea_pclose(scaled.chisq, df, n_rmsea, n_groups),
        }
    )
    fit["rmsea_ci_lower"], fit["rmsea_ci_upper"] = fm.rmsea_ci(
        scaled.chisq, df, n_rmsea, groups=n_groups
    )
    # catML fits the correlations alone: thresholds and means leave its parameters.
    dropped = {
        i
        for q, i in zip(rep.table.parameters, rep.free_index, strict=True)
        if i >= 0 and q.matrix in ("tau", "nu", "alpha")
    }
    df3 = base_df - (rep.n_free - len(dropped))
    # With free scale factors (thresholds held equal across groups) lavaan 0.6.14 gives no
    # robust values, and neither do we: that case is not checked.
    # Nor with continuous items beside the ordinal ones.
    free_scales = any(q.matrix == "delta" and q.free for q in rep.table.parameters)
    mixed = any(s.continuous.any() for s in dwls.samples)
    robust = catml(dwls, theta, df3, base_df) if df3 > 0 and not (free_scales or mixed) else None
    if robust is not None:
        args = (robust.chisq, df3, robust.c, robust.baseline_chisq, base_df, robust.baseline_c)
        fit["cfi_robust"] = fm.robust_cfi(*args)
        fit["tli_robust"] = fm.robust_tli(*args)
        fit["rmsea_robust"] = fm.rmsea(robust.chisq, df3, n_rmsea, n_groups, robust.c)
        fit["rmsea_ci_lower_robust"], fit["rmsea_ci_upper_robust"] = fm.rmsea_ci(
            robust.chisq / robust.c, df3, n_rmsea, groups=n_groups, c=robust.c
        )
    return fit, vcov, singular
