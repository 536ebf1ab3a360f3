"""Stage 7: test statistics. The standard chi-square is ``N F_min``; the Yuan-Bentler scaled
chi-square (MLR, as Mplus and lavaan compute it) divides it by
``c = (tr(A1^-1 B1) - tr(A0^-1 B0)) / df``, with A the information and B the mean outer product
of the casewise scores of the saturated (1) and fitted (0) models. Over groups the saturated
traces add up (its information is block diagonal); the fitted model's is one trace over every
case. The same factor for the independence (baseline) model scales the baseline chi-square for
the robust CFI and TLI. A scaled-and-shifted statistic (for WLSMV) is another function here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .fiml import h1_observed_information, pattern_score_products
from .matrices import Representation
from .ml import ML, moment_information, moment_score_products
from .samplestats import SampleStats

H1_INFORMATION = h1_observed_information  # as lavaan: the observed, unstructured h1 information


@dataclass(frozen=True)
class Scaling:
    c: float
    baseline_c: float


def robust_trace(info: np.ndarray, products: np.ndarray, n: int) -> float:
    """``tr(A^-1 B)`` with A the per-case information and B the mean outer product of the
    cases' scores (``products``: their sum over n cases)."""
    return float(np.trace(np.linalg.solve(info, products / n)))


def saturated_trace(stats: SampleStats, means: bool) -> float:
    vech = np.tril_indices(len(stats.observed))
    total = 0.0
    for g in stats.groups:
        if g.h1 is not None:  # FIML: the unrestricted model's information over the patterns
            info = H1_INFORMATION(g.patterns, g.mean, g.cov, vech, g.n)
            products = pattern_score_products(g.patterns, g.mean, g.cov, vech)
            total += robust_trace(info, products, g.n)
            continue
        inv = np.linalg.inv(g.cov)
        info = moment_information(inv, vech, means)
        total += robust_trace(info, moment_score_products(inv, g.centered, vech, means), g.n)
    return total


def independence(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The independence model's estimates: each item's mean and variance over the rows that
    answered it (all rows, when they are complete), and how many did."""
    answered = (~np.isnan(rows)).sum(axis=0).astype(float)
    mean = np.nanmean(rows, axis=0)
    return mean, np.nanmean((rows - mean) ** 2, axis=0), answered


def baseline_trace(stats: SampleStats, means: bool) -> float:
    """The independence model (free variances; free means with a mean structure, which add p
    to the trace of each group exactly as they do to the saturated model's). Under FIML each
    item counts the rows that answered it."""
    total = 0.0
    for g in stats.groups:
        mean, var, answered = independence(g.rows)
        info = np.diag(answered / len(g.rows) * 0.5 / var**2)
        scores = np.nan_to_num(0.5 * ((g.rows - mean) ** 2 / var**2 - 1 / var))
        total += robust_trace(info, scores.T @ scores, len(scores)) + (len(var) if means else 0)
    return total


def yuan_bentler(
    stats: SampleStats,
    means: bool,
    observed_hessian: np.ndarray,
    products: list[np.ndarray],
    df: int,
    baseline_df: int,
) -> Scaling:
    """``observed_hessian`` is that of the objective F (per-case information ``H / 2``);
    ``products`` the groups' sums of the casewise scores' outer products."""
    sat = saturated_trace(stats, means)
    fitted = robust_trace(observed_hessian / 2, np.sum(products, axis=0), stats.n)
    return Scaling((sat - fitted) / df, (sat - baseline_trace(stats, means)) / baseline_df)


@dataclass(frozen=True)
class Corrected:
    """The FIML-corrected statistics of Zhang & Savalei (lavaan's ``FIML-C``, version 3) from
    which the robust CFI, TLI and RMSEA under missing data are computed: the complete-data ML
    statistic of the FIML estimates against the EM moments, and its scaling factor, for the
    fitted and the independence model."""

    chisq: float
    c: float
    baseline_chisq: float
    baseline_c: float


def fiml_corrected(
    rep: Representation, stats: SampleStats, theta: np.ndarray, df: int, baseline_df: int
) -> Corrected:
    n = stats.n
    p = len(stats.observed)
    vech = rep.vech
    fitted = ML(rep, replace(stats, missing="listwise"))
    chisq = n * fitted.value(theta)
    w_m, w_mi, w_c, gamma, deltas, deltas_b = [], [], [], [], [], []
    base_chisq = 0.0
    diagonal = np.flatnonzero(vech[0] == vech[1])
    for g, sample in enumerate(stats.groups):
        share = sample.n / n
        wm = H1_INFORMATION(sample.patterns, sample.mean, sample.cov, vech, sample.n)
        products = pattern_score_products(sample.patterns, sample.mean, sample.cov, vech)
        wmi = np.linalg.inv(wm)
        w_m.append(share * wm)
        w_mi.append(wmi / share)
        w_c.append(share * moment_information(np.linalg.inv(sample.cov), vech, True))
        gamma.append(wmi @ (products / sample.n) @ wmi / share)
        deltas.append(rep.delta(theta, g))
        # The independence model: free means and variances, one block of parameters per group.
        block = np.zeros((p + len(vech[0]), 2 * p))
        block[np.arange(p), np.arange(p)] = 1.0
        block[p + diagonal, p + np.arange(p)] = 1.0
        deltas_b.append(block)
        mean, var, _ = independence(sample.rows)
        d = sample.mean - mean
        base_chisq += sample.n * float(
            np.sum(np.log(var))
            + np.sum(np.diag(sample.cov) / var)
            - np.linalg.slogdet(sample.cov)[1]
            - p
            + np.sum(d * d / var)
        )
    wm_all, wmi_all, wc_all, gamma_all = (_bdiag(m) for m in (w_m, w_mi, w_c, gamma))
    middle = wmi_all @ wc_all @ wmi_all

    def trace(delta: np.ndarray) -> float:
        e = delta.T @ wm_all @ delta
        u = wm_all - wm_all @ delta @ np.linalg.solve(e, delta.T @ wm_all)
        return float(np.trace(u @ middle @ u @ gamma_all))

    c = trace(np.vstack(deltas)) / df
    base_c = trace(_bdiag(deltas_b)) / baseline_df
    return Corrected(chisq, c, base_chisq, base_c)


def _bdiag(blocks: list[np.ndarray]) -> np.ndarray:
    rows = sum(b.shape[0] for b in blocks)
    cols = sum(b.shape[1] for b in blocks)
    out = np.zeros((rows, cols))
    r = c = 0
    for b in blocks:
        out[r : r + b.shape[0], c : c + b.shape[1]] = b
        r, c = r + b.shape[0], c + b.shape[1]
    return out
