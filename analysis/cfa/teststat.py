"""Stage 7: test statistics. The standard chi-square is ``N F_min``; the Yuan-Bentler scaled
chi-square (MLR, as Mplus and lavaan compute it) divides it by
``c = (tr(A1^-1 B1) - tr(A0^-1 B0)) / df``, with A the information and B the mean outer product
of the casewise scores of the saturated (1) and fitted (0) models. Over groups the saturated
traces add up (its information is block diagonal); the fitted model's is one trace over every
case. The same factor for the independence (baseline) model scales the baseline chi-square for
the robust CFI and TLI. For ordinal items (WLSMV) the scaled-and-shifted statistic, its
independence model, and the catML statistics of the robust fit indices are here too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .cluster import cluster_products, moment_cluster_products, pattern_cluster_products
from .dwls import DWLS
from .fiml import h1_observed_information, pattern_score_products
from .linalg import positive_inverse
from .matrices import Representation
from .ml import ML, moment_information, moment_score_products, vech_information
from .samplestats import GroupSample, SampleStats

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
            products = _pattern_products(g, g.mean, g.cov, vech)
            total += robust_trace(info, products, g.n)
            continue
        inv = np.linalg.inv(g.cov)
        info = moment_information(inv, vech, means)
        centered = g.centered
        if g.clusters is not None:  # summed within clusters (analysis/cfa/cluster.py)
            products = moment_cluster_products(inv, centered, vech, means, g.clusters)
        else:
            products = moment_score_products(inv, centered, vech, means)
        total += robust_trace(info, products, g.n)
    return total


def _pattern_products(
    g: GroupSample, mu: np.ndarray, sigma: np.ndarray, vech: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """Under FIML, the unrestricted model's casewise score products (summed within clusters
    when the rows are clustered)."""
    if g.clusters is not None:
        return pattern_cluster_products(g.patterns, mu, sigma, vech, g.clusters)
    return pattern_score_products(g.patterns, mu, sigma, vech)


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
        if g.clusters is None:
            total += robust_trace(info, scores.T @ scores, len(scores))
            total += len(var) if means else 0
            continue
        # Clustered: the independence model's scores summed within clusters; its means no
        # longer add exactly p.
        if means:
            info = np.diag(np.concatenate([answered / len(g.rows) / var, np.diag(info)]))
            scores = np.hstack([np.nan_to_num((g.rows - mean) / var), scores])
        products = cluster_products(scores, g.clusters)
        total += robust_trace(info, products, len(scores))
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
        products = _pattern_products(sample, sample.mean, sample.cov, vech)
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
    wm_all, wmi_all, wc_all, gamma_all = (bdiag(m) for m in (w_m, w_mi, w_c, gamma))
    middle = wmi_all @ wc_all @ wmi_all

    def trace(delta: np.ndarray) -> float:
        e = delta.T @ wm_all @ delta
        u = wm_all - wm_all @ delta @ np.linalg.solve(e, delta.T @ wm_all)
        return float(np.trace(u @ middle @ u @ gamma_all))

    c = trace(np.vstack(deltas)) / df
    base_c = trace(bdiag(deltas_b)) / baseline_df
    return Corrected(chisq, c, base_chisq, base_c)


def bdiag(blocks: list[np.ndarray]) -> np.ndarray:
    rows = sum(b.shape[0] for b in blocks)
    cols = sum(b.shape[1] for b in blocks)
    out = np.zeros((rows, cols))
    r = c = 0
    for b in blocks:
        out[r : r + b.shape[0], c : c + b.shape[1]] = b
        r, c = r + b.shape[0], c + b.shape[1]
    return out


@dataclass(frozen=True)
class ScaledShifted:
    """The mean-and-variance adjusted statistic of WLSMV: ``a T + shift`` with
    ``a = sqrt(df / tr((U Gamma)^2))`` and ``shift = df - a tr(U Gamma)`` (Asparouhov & Muthen,
    lavaan's ``scaled.shifted``); lavaan reports ``1 / a`` as the scaling factor."""

    chisq: float
    scaling_factor: float
    shift: float


def scaled_shifted(chisq: float, df: int, trace: float, trace2: float) -> ScaledShifted:
    a = float(np.sqrt(df / trace2))
    shift = df - a * trace
    return ScaledShifted(a * chisq + shift, 1 / a, shift)


def _stacked(
    dwls: DWLS, theta: np.ndarray, correlations: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Over groups, block-diagonal ``(n_g/N) W_g`` and ``Gamma_g / (n_g/N)``, and the stacked
    Jacobian, on every statistic or on the correlations alone."""
    weights, gammas, jacobians = [], [], []
    for g, s in enumerate(dwls.samples):
        f = dwls.weights[g]
        keep = slice(s.n_univariate, None) if correlations else slice(None)
        weights.append(f * np.diag(s.weights[keep]))
        gammas.append(s.gamma[keep, keep] / f)
        jacobians.append(dwls.jacobian(theta, g)[keep])
    return bdiag(weights), bdiag(gammas), np.vstack(jacobians)


def dwls_traces(dwls: DWLS, theta: np.ndarray) -> tuple[float, float]:
    """``tr(U Gamma)`` and ``tr((U Gamma)^2)``, ``U = W - W D (D'WD)^-1 D'W``."""
    w, gamma, jac = _stacked(dwls, theta)
    e = jac.T @ w @ jac
    u = w - w @ jac @ np.linalg.pinv(e) @ jac.T @ w
    ug = u @ gamma
    return float(np.trace(ug)), float(np.sum(ug * ug.T))


@dataclass(frozen=True)
class Baseline:
    chisq: float
    trace: float
    trace2: float


def dwls_baseline(dwls: DWLS) -> Baseline:
    """The independence model of ordinal items (free thresholds, and continuous items' means
    and variances; zero covariances): it fits the univariate statistics exactly, so its
    statistic and traces rest on the covariances alone."""
    chisq = trace = trace2 = 0.0
    for s in dwls.samples:
        k = s.n_univariate  # thresholds, means and variances: fitted exactly by it
        r = s.statistics[k:]
        w = s.weights[k:]
        chisq += (s.n - 1) * float(np.sum(w * r * r))
        wg = w[:, None] * s.gamma[k:, k:]
        trace += float(np.trace(wg))
        trace2 += float(np.sum(wg * wg.T))
    return Baseline(chisq, trace, trace2)


@dataclass(frozen=True)
class CatML:
    """Savalei's (2021) statistics behind the robust CFI, TLI and RMSEA for ordinal items
    (lavaan's ``catML``): the ML discrepancy of the DWLS estimates from the polychoric
    correlations, treated as continuous, and its scaling factor under the DWLS estimates'
    sampling distribution; the same for the independence model."""

    chisq: float
    c: float
    baseline_chisq: float
    baseline_c: float


def catml(dwls: DWLS, theta: np.ndarray, df: int, baseline_df: int) -> CatML | None:
    """None when a polychoric matrix is not positive definite (lavaan gives no robust
    values then)."""
    rep = dwls.rep
    chisq = base = 0.0
    v_blocks = []
    rows, cols = rep.vech
    off = rows != cols
    for g, sample in enumerate(dwls.stats.groups):
        r = sample.cov
        eig = np.linalg.eigvalsh(r)
        if eig.min() < np.sqrt(np.finfo(float).eps):
            return None
        sigma = dwls.correlations(theta, g)
        found = positive_inverse(sigma)
        if found is None:
            return None
        inv, logdet = found
        logdet_r = float(np.linalg.slogdet(r)[1])
        p = len(r)
        chisq += sample.n * (logdet + float(np.sum(r * inv)) - logdet_r - p)
        base += sample.n * -logdet_r
        v = vech_information(inv, rows, cols)[np.ix_(off, off)]
        v_blocks.append(dwls.weights[g] * v)
    w, gamma, jac = _stacked(dwls, theta, correlations=True)
    full_w, _, full_jac = _stacked(dwls, theta)
    e_inv = np.linalg.pinv(full_jac.T @ full_w @ full_jac)
    wiu = np.eye(len(w)) - jac @ e_inv @ jac.T @ w
    ks = float(np.trace(wiu.T @ bdiag(v_blocks) @ wiu @ gamma))
    return CatML(chisq, ks / df, base, float(np.trace(gamma)) / baseline_df)
