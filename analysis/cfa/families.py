"""Each estimator's own information, standard errors and test statistics, and the fit
measures it reports, as lavaan 0.6 computes them:

- ML (:class:`MaximumLikelihood`): expected-information standard errors and the normal-theory
  chi-square;
- FIML (:class:`FullInformation`): the casewise likelihood, observed-information standard
  errors, the chi-square against the EM-fitted unrestricted model;
- MLR, on either: the sandwich around the observed information, the Yuan-Bentler scaled
  chi-square, the robust CFI, TLI and RMSEA (FIML-corrected under missing data);
- WLSMV (:class:`DiagonallyWeighted`): DWLS on thresholds and polychoric correlations, the
  robust.sem sandwich, the scaled-and-shifted chi-square and Savalei's catML indices.

The engine takes the family from the :class:`~.spec.FitSpec` (:func:`family_for`), never from
the kind of its sample statistics. The keys each family reports are :mod:`.fitkeys`'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..choices import ORDINAL_ESTIMATORS
from . import fitmeasures as fm
from . import se as standard
from .cluster import ClusteredFIML, ClusteredML
from .dwls import DWLS, ULS
from .fiml import FIML
from .matrices import Representation
from .ml import ML
from .samplestats import SampleStats
from .satorra import mlm_fit
from .spec import FitSpec
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
class Assessment:
    """What a family says of an estimate: its fit measures, the estimates' covariance matrix,
    and whether the information was singular."""

    fit: dict[str, float]
    vcov: np.ndarray
    singular: bool


class Family(Protocol):
    @property
    def name(self) -> str: ...

    def objective(self, rep: Representation, stats: SampleStats) -> ML | DWLS: ...

    def assess(
        self, rep: Representation, objective: ML | DWLS, theta: np.ndarray, fmin: float, df: int
    ) -> Assessment: ...


@dataclass(frozen=True)
class MaximumLikelihood:
    """ML on complete rows; ``robust``: MLR."""

    robust: bool = False
    name: str = "ml"

    def objective(self, rep: Representation, stats: SampleStats) -> ML | DWLS:
        return ML(rep, stats)

    def assess(
        self, rep: Representation, objective: ML | DWLS, theta: np.ndarray, fmin: float, df: int
    ) -> Assessment:
        assert isinstance(objective, ML)
        fit, h_exp, singular = normal_theory_fit(rep, objective, theta, fmin, df)
        if self.robust:
            return Assessment(*robust_fit(rep, objective, theta, fit, df, singular))
        vcov, singular = self.information(objective, theta, h_exp, singular)
        return Assessment(fit, vcov, singular)

    def information(
        self, ml: ML, theta: np.ndarray, h_exp: np.ndarray, singular: bool
    ) -> tuple[np.ndarray, bool]:
        """The estimates' covariance under normal theory, and whether its information is
        singular: the expected information."""
        return standard.expected(h_exp, ml.stats.n), singular


@dataclass(frozen=True)
class FullInformation(MaximumLikelihood):
    """FIML (lavaan's ``missing = "ml"``); ``robust``: MLR."""

    name: str = "fiml"

    def objective(self, rep: Representation, stats: SampleStats) -> ML | DWLS:
        return FIML(rep, stats)

    def information(
        self, ml: ML, theta: np.ndarray, h_exp: np.ndarray, singular: bool
    ) -> tuple[np.ndarray, bool]:
        """The observed information, as lavaan's default under missing data."""
        h_obs = ml.observed_hessian(theta)
        return standard.expected(h_obs, ml.stats.n), singular or standard.is_singular(h_obs)


@dataclass(frozen=True)
class DiagonallyWeighted:
    """WLSMV: DWLS on the thresholds and polychoric correlations of ordinal items; with
    ``uls``, ULSMV: every statistic weighted equally, the same robust standard errors and
    scaled-and-shifted test."""

    uls: bool = False
    name: str = "wlsmv"

    def objective(self, rep: Representation, stats: SampleStats) -> ML | DWLS:
        return ULS(rep, stats) if self.uls else DWLS(rep, stats)

    def assess(
        self, rep: Representation, objective: ML | DWLS, theta: np.ndarray, fmin: float, df: int
    ) -> Assessment:
        assert isinstance(objective, DWLS)
        return Assessment(*wlsmv_fit(rep, objective, theta, df))


@dataclass(frozen=True)
class ClusterRobust(MaximumLikelihood):
    """MLR with clustered rows (lavaan's ``cluster =``): ML or FIML estimates, the casewise
    scores summed within clusters in every sandwich (:mod:`.cluster`)."""

    robust: bool = True
    fiml: bool = False
    name: str = "mlr-cluster"

    def objective(self, rep: Representation, stats: SampleStats) -> ML | DWLS:
        return ClusteredFIML(rep, stats) if self.fiml else ClusteredML(rep, stats)


@dataclass(frozen=True)
class SatorraBentler:
    """MLM: ML estimates on complete rows, robust.sem standard errors (expected information)
    and the Satorra-Bentler scaled test (:mod:`.satorra`)."""

    name: str = "mlm"

    def objective(self, rep: Representation, stats: SampleStats) -> ML | DWLS:
        return ML(rep, stats)

    def assess(
        self, rep: Representation, objective: ML | DWLS, theta: np.ndarray, fmin: float, df: int
    ) -> Assessment:
        assert isinstance(objective, ML)
        fit, _, singular = normal_theory_fit(rep, objective, theta, fmin, df)
        return Assessment(*mlm_fit(rep, objective, theta, fit, df, singular))


def family_for(spec: FitSpec) -> Family:
    """The estimator family a fit uses, from its specification."""
    if spec.estimator in ORDINAL_ESTIMATORS:
        return DiagonallyWeighted(uls=spec.estimator == "ulsmv")
    if spec.cluster is not None:
        return ClusterRobust(fiml=spec.missing == "fiml")
    if spec.estimator == "mlm":
        return SatorraBentler()
    robust = spec.estimator == "mlr"
    return FullInformation(robust) if spec.missing == "fiml" else MaximumLikelihood(robust)


def baseline_chisq(stats: SampleStats) -> float:
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


def normal_theory_fit(
    rep: Representation, ml: ML, theta: np.ndarray, fmin: float, df: int
) -> tuple[dict[str, float], np.ndarray, bool]:
    """The normal-theory test statistic and fit measures (ML's and FIML's alike), the
    expected information and whether it is singular."""
    stats = ml.stats
    n, p, n_groups = stats.n, rep.p, len(stats.groups)
    chisq = n * fmin
    base = baseline_chisq(stats)
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
    return fit, h_exp, singular


def robust_fit(
    rep: Representation,
    ml: ML,
    theta: np.ndarray,
    fit: dict[str, float],
    df: int,
    singular: bool,
) -> tuple[dict[str, float], np.ndarray, bool]:
    """MLR: the sandwich around the observed information, the Yuan-Bentler scaled statistic
    and the robust CFI, TLI and RMSEA (FIML-corrected under missing data); the unscaled values
    kept with an ``_ml`` suffix."""
    stats = ml.stats
    n, n_groups = stats.n, len(stats.groups)
    chisq, base_df = fit["chisq"], int(fit["baseline_df"])
    fit = dict(fit)
    h_obs = ml.observed_hessian(theta)
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
    fit.update(fm.scaled(fit, df, n, n_groups, scaling.c, scaling.baseline_c))
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


def wlsmv_fit(
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
            # as lavaan names them: baseline.chisq the unscaled, .scaled the scaled
            "baseline_chisq": base.chisq,
            "baseline_chisq_scaled": base_scaled.chisq,
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
