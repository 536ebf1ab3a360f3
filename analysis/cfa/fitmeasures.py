"""Stage 5: fit measures, one family per function, each as lavaan reports it.

Validated against lavaan 0.6 ``fitMeasures()`` (tests/reference/make_reference.R).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
from scipy.stats import chi2, ncx2

RMSEA_CLOSE = 0.05


def chisq_pvalue(chisq: float, df: int) -> float:
    return float(chi2.sf(chisq, df)) if df > 0 else float("nan")


def baseline_chisq(s: np.ndarray, n: int) -> float:
    """Independence model (variances only): ``N (sum log s_ii - log|S|)``."""
    return float(n * (np.sum(np.log(np.diag(s))) - np.linalg.slogdet(s)[1]))


def cfi(chisq: float, df: float, base: float, base_df: float) -> float:
    num = max(chisq - df, 0.0)
    den = max(base - base_df, chisq - df, 0.0)
    return 1.0 - num / den if den > 0 else 1.0


def tli(chisq: float, df: float, base: float, base_df: float) -> float:
    if df <= 0 or base_df <= 0:
        return float("nan")
    ratio_b = base / base_df
    return float((ratio_b - chisq / df) / (ratio_b - 1.0))


def rmsea(chisq: float, df: float, n: int) -> float:
    return math.sqrt(max(chisq - df, 0.0) / (df * n)) if df > 0 else float("nan")


def rmsea_ci(chisq: float, df: int, n: int, level: float = 0.90) -> tuple[float, float]:
    """Confidence interval by inverting the noncentral chi-square in its noncentrality."""
    if df <= 0:
        return float("nan"), float("nan")
    upper_p, lower_p = (1 + level) / 2, (1 - level) / 2

    def bound(p: float) -> float:
        def f(lam: float) -> float:
            return (
                float(ncx2.cdf(chisq, df, lam) - p) if lam > 0 else float(chi2.cdf(chisq, df) - p)
            )

        if f(0.0) < 0:  # even a central chi-square puts the statistic below this quantile
            return 0.0
        hi = max(chisq, 1.0)
        while f(hi) > 0:
            hi *= 2
        return brentq(f, 0.0, hi, xtol=1e-10)

    lam_low, lam_high = bound(upper_p), bound(lower_p)
    return math.sqrt(lam_low / (df * n)), math.sqrt(lam_high / (df * n))


def rmsea_pclose(chisq: float, df: int, n: int) -> float:
    if df <= 0:
        return float("nan")
    return float(1.0 - ncx2.cdf(chisq, df, n * df * RMSEA_CLOSE**2))


def srmr(s: np.ndarray, sigma: np.ndarray) -> float:
    """Residuals scaled by the observed standard deviations, root mean square over the lower
    triangle with the diagonal (lavaan's ``srmr``, Bentler's definition)."""
    sd = np.sqrt(np.diag(s))
    resid = (s - sigma) / np.outer(sd, sd)
    rows, cols = np.tril_indices(len(s))
    return float(np.sqrt(np.mean(resid[rows, cols] ** 2)))


def loglik(sigma: np.ndarray, s: np.ndarray, n: int) -> float:
    """Normal log-likelihood with the means at the sample means."""
    p = len(s)
    logdet = np.linalg.slogdet(sigma)[1]
    trace = np.trace(np.linalg.solve(sigma, s))
    return float(-n / 2 * (p * math.log(2 * math.pi) + logdet + trace))


def robust_cfi(
    chisq: float, df: float, c: float, base: float, base_df: float, base_c: float
) -> float:
    """Brosseau-Liard & Savalei (2014): noncentralities corrected by the scaling factors."""
    num = max(chisq - c * df, 0.0)
    den = max(base - base_c * base_df, chisq - c * df, 0.0)
    return 1.0 - num / den if den > 0 else 1.0


def robust_tli(
    chisq: float, df: float, c: float, base: float, base_df: float, base_c: float
) -> float:
    if df <= 0 or base_df <= 0:
        return float("nan")
    return 1.0 - ((chisq - c * df) / df) / ((base - base_c * base_df) / base_df)


def robust_rmsea(chisq: float, df: float, c: float, n: int) -> float:
    """Brosseau-Liard, Savalei & Li (2012): ``sqrt(max(0, (T - c df) / (N df)))``."""
    return math.sqrt(max(chisq - c * df, 0.0) / (n * df)) if df > 0 else float("nan")
