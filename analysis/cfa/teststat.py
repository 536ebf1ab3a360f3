"""Stage 7: test statistics. The standard chi-square is ``N F_min``; the Yuan-Bentler scaled
chi-square (MLR, as Mplus and lavaan compute it) divides it by
``c = (tr(A1^-1 B1) - tr(A0^-1 B0)) / df``, with A the information and B the mean outer product
of the casewise scores of the saturated (1) and fitted (0) models. Over groups the saturated
traces add up (its information is block diagonal); the fitted model's is one trace over every
case. The same factor for the independence (baseline) model scales the baseline chi-square for
the robust CFI and TLI. A scaled-and-shifted statistic (for WLSMV) is another function here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ml import moment_information, moment_scores
from .samplestats import SampleStats


@dataclass(frozen=True)
class Scaling:
    c: float
    baseline_c: float


def robust_trace(info: np.ndarray, scores: np.ndarray) -> float:
    """``tr(A^-1 B)`` with A the per-case information and B the mean outer product of scores."""
    b = scores.T @ scores / len(scores)
    return float(np.trace(np.linalg.solve(info, b)))


def saturated_trace(stats: SampleStats, means: bool) -> float:
    vech = np.tril_indices(len(stats.observed))
    total = 0.0
    for g in stats.groups:
        inv = np.linalg.inv(g.cov)
        info = moment_information(inv, vech, means)
        total += robust_trace(info, moment_scores(inv, g.centered, vech, means))
    return total


def baseline_trace(stats: SampleStats, means: bool) -> float:
    """The independence model (free variances; free means with a mean structure, which add p
    to the trace of each group exactly as they do to the saturated model's)."""
    total = 0.0
    for g in stats.groups:
        var = np.diag(g.cov)
        info = np.diag(0.5 / var**2)
        scores = 0.5 * (g.centered**2 / var**2 - 1 / var)
        total += robust_trace(info, scores) + (len(var) if means else 0)
    return total


def yuan_bentler(
    stats: SampleStats,
    means: bool,
    observed_hessian: np.ndarray,
    scores: list[np.ndarray],
    df: int,
    baseline_df: int,
) -> Scaling:
    """``observed_hessian`` is that of the objective F (per-case information ``H / 2``)."""
    sat = saturated_trace(stats, means)
    fitted = robust_trace(observed_hessian / 2, np.vstack(scores))
    return Scaling((sat - fitted) / df, (sat - baseline_trace(stats, means)) / baseline_df)
