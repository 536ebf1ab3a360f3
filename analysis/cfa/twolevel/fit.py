"""Fit a two-level CFA by ML, with the fit measures lavaan gives a two-level model.

The chi-square is twice the log-likelihood distance to the unrestricted two-level model (every
within and between covariance free, and the means), the baseline the independence model at both
levels; RMSEA, AIC and BIC count the N rows; SRMR is lavaan's: the root mean square of the
differences between the unrestricted and the implied correlations, within and between, summed.
The ICC of an item is its between variance over its total in the unrestricted model.

On complete rows the sample statistics are the moments per cluster size and the unrestricted
model is lavaan's EM (:mod:`.em`); with missing answers every answer counts (:mod:`.missing`,
lavaan's ``missing = "ml"``), and the unrestricted model is fitted by the same likelihood from
the EM solution of the rows with their missing answers filled by the item means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import fitmeasures as fm
from .. import se as standard
from ..driver import estimates_frame
from ..matrices import Representation
from ..optimize import Estimate, minimize
from ..partable import ParTable
from ..samplestats import GroupSample, SampleStats
from .em import em_unrestricted
from .likelihood import LevelMoments, TwoLevelML
from .missing import CholeskyUnrestricted, ClusterRows, TwoLevelFIML
from .moments import ClusterMoments
from .tables import independence_table, model_table

# The unrestricted model under FIML converges slowly where the between covariance meets its
# boundary; so many steps leave it within a few tenths of its maximum log-likelihood on the
# committed references, nearer than lavaan's own optimiser stops (tests/test_twolevel.py).
H1_ITERATIONS = 40


@dataclass(frozen=True)
class LevelData:
    """What a two-level fit reads: the complete rows' moments per cluster size, or (FIML) the
    rows as answered, with the moments of the rows filled by the item means for starting
    values."""

    moments: ClusterMoments
    rows: ClusterRows | None = None

    @property
    def n(self) -> int:
        return self.moments.n

    @property
    def clusters(self) -> int:
        return self.moments.clusters

    @property
    def cluster_sizes(self) -> np.ndarray:
        return self.moments.cluster_sizes

    def objective(self, rep: Representation) -> TwoLevelML:
        return TwoLevelML(rep, self.moments) if self.rows is None else TwoLevelFIML(rep, self.rows)


def fit_levels(table: ParTable, data: LevelData) -> tuple[TwoLevelML, Estimate]:
    """Minimise ``-log L / N`` from starting values taken from the two levels' moments."""
    rep = Representation.of(table)
    objective = data.objective(rep)
    return objective, minimize(objective, _start(rep, data.moments))


def unrestricted(data: LevelData) -> tuple[LevelMoments, float]:
    """The unrestricted model's moments (lavaan's h1) and its log-likelihood: by lavaan's EM
    on complete rows; under FIML by the likelihood with each covariance as ``L L'`` (the between
    one semi-definite, as lavaan holds it), from EM's solution on the filled rows."""
    em, em_loglik = em_unrestricted(data.moments)
    if data.rows is None:
        return em, em_loglik
    objective = CholeskyUnrestricted(data.rows)
    est = minimize(objective, objective.start(em), max_iterations=H1_ITERATIONS)
    return objective.moments(est.theta), objective.loglik(est.theta)


def fit_measures(
    objective: TwoLevelML,
    theta: np.ndarray,
    h1: LevelMoments,
    h1_loglik: float,
    stats: LevelData,
) -> dict[str, float]:
    p = stats.moments.p
    q = objective.rep.n_free
    df = p + p * (p + 1) - q
    logl = objective.loglik(theta)
    chisq = max(2 * (h1_loglik - logl), 0.0)
    base_objective, base = fit_levels(independence_table(objective.rep.table.observed), stats)
    base_df = p + p * (p + 1) - base_objective.rep.n_free
    base_chisq = 2 * (h1_loglik - base_objective.loglik(base.theta))
    implied = objective.moments(theta)
    within = _srmr(h1.within, implied.within)
    between = _srmr(h1.between, _force_pd(implied.between))
    lower, upper = fm.rmsea_ci(chisq, df, stats.n)
    return {
        "npar": float(q),
        "ntotal": float(stats.n),
        "clusters": float(stats.clusters),
        "chisq": chisq,
        "df": float(df),
        "pvalue": fm.chisq_pvalue(chisq, df),
        "baseline_chisq": base_chisq,
        "baseline_df": float(base_df),
        "cfi": fm.cfi(chisq, df, base_chisq, base_df),
        "tli": fm.tli(chisq, df, base_chisq, base_df),
        "rmsea": fm.rmsea(chisq, df, stats.n),
        "rmsea_ci_lower": lower,
        "rmsea_ci_upper": upper,
        "srmr": within + between,
        "srmr_within": within,
        "srmr_between": between,
        "loglik": logl,
        "unrestricted_loglik": h1_loglik,
        "aic": -2 * logl + 2 * q,
        "bic": -2 * logl + q * np.log(stats.n),
    }


def estimates(
    objective: TwoLevelML, theta: np.ndarray, standard_errors: bool = True
) -> tuple[pd.DataFrame, bool]:
    """The parameter table, one row per parameter and level (``level`` 1 within, 2 between),
    with standard errors from the observed information (none unless ``standard_errors``);
    whether that was singular."""
    if not standard_errors:
        none = np.full((objective.rep.n_free, objective.rep.n_free), np.nan)
        return estimates_frame(objective.rep, theta, none).rename(columns={"group": "level"}), True
    info = objective.observed_information(theta)
    # Not finite where a step of the differences leaves a covariance not positive definite:
    # an estimate on the boundary, whose standard errors are not available.
    singular = not np.isfinite(info).all() or standard.is_singular(info)
    vcov = np.full_like(info, np.nan) if singular else np.linalg.inv(info)
    frame = estimates_frame(objective.rep, theta, vcov).rename(columns={"group": "level"})
    return frame, singular


def icc(h1: LevelMoments) -> np.ndarray:
    """Each item's share of variance between patients, in the unrestricted model."""
    b, w = np.diag(h1.between), np.diag(h1.within)
    return b / (b + w)


def _srmr(observed: np.ndarray, implied: np.ndarray) -> float:
    def cor(m: np.ndarray) -> np.ndarray:
        sd = np.sqrt(np.diag(m))
        return m / np.outer(sd, sd)

    rows, cols = np.tril_indices(len(observed))
    resid = (cor(observed) - cor(implied))[rows, cols]
    return float(np.sqrt(np.mean(resid**2)))


def _force_pd(m: np.ndarray) -> np.ndarray:
    """lavaan's ``lav_matrix_symmetric_force_pd`` on the implied between covariance: eigenvalues
    below 1e-6 of the largest raised to that."""
    values, vectors = np.linalg.eigh(m)
    floor = 1e-6 * abs(values[-1])
    if values.min() >= floor:
        return m
    return (vectors * np.maximum(values, floor)) @ vectors.T


def _start(rep: Representation, stats: ClusterMoments) -> np.ndarray:
    """Starting values as any model's (:meth:`Representation.start`), each level's from its own
    moments: the within level's from the pooled within covariance, the between level's from the
    covariance of the patient means less the share of within variance they carry (eigenvalues
    kept positive) and the mean of the patient means."""
    w = stats.within
    b = stats.between - w * float(np.mean(1.0 / stats.cluster_sizes))
    values, vectors = np.linalg.eigh(b)
    floor = 0.05 * float(np.mean(np.diag(w)))
    b = (vectors * np.maximum(values, floor)) @ vectors.T
    empty = np.empty((0, stats.p))
    levels = (
        GroupSample("within", stats.n, np.zeros(stats.p), w, empty),
        GroupSample("between", stats.clusters, stats.grand_mean, b, empty),
    )
    return rep.start(SampleStats(rep.table.observed, levels))


__all__ = ["estimates", "fit_levels", "fit_measures", "icc", "model_table", "unrestricted"]
