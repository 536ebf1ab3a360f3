"""Stage 5: fit measures, one family per function, each as lavaan reports it.

Validated against lavaan 0.6 ``fitMeasures()`` (tests/reference/make_reference.R).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special  # the distributions alone: scipy.stats costs 0.6 s to import

RMSEA_CLOSE = 0.05


def chisq_pvalue(chisq: float, df: int) -> float:
    return float(special.chdtrc(df, chisq)) if df > 0 else float("nan")


def baseline_chisq(s: np.ndarray, n: int) -> float:
    """Independence model (variances only): ``N (sum log s_ii - log|S|)``."""
    return float(n * (np.sum(np.log(np.diag(s))) - np.linalg.slogdet(s)[1]))


def cfi(chisq: float, df: float, base: float, base_df: float) -> float:
    num = max(chisq - df, 0.0)
    den = max(base - base_df, chisq - df, 0.0)
    return 1.0 - num / den if den > 0 else 1.0


def tli(chisq: float, df: float, base: float, base_df: float) -> float:
    if df == 0:
        return 1.0  # a saturated model, as lavaan reports it
    if df < 0 or base_df <= 0:
        return float("nan")
    ratio_b = base / base_df
    return float((ratio_b - chisq / df) / (ratio_b - 1.0))


def rmsea(chisq: float, df: float, n: int, groups: int = 1, c: float = 1.0) -> float:
    """``sqrt(max(0, (T - c df) / (N df))) sqrt(G)``: with ``c`` a scaling factor, the robust
    RMSEA of Brosseau-Liard, Savalei & Li (2012); over G groups, Steiger's (1998) correction.
    A saturated model (df = 0) has RMSEA 0, as lavaan reports it."""
    if df == 0:
        return 0.0
    if df < 0:
        return float("nan")
    return math.sqrt(max(chisq - c * df, 0.0) / (df * n)) * math.sqrt(groups)


def rmsea_ci(
    chisq: float, df: int, n: int, level: float = 0.90, groups: int = 1, c: float = 1.0
) -> tuple[float, float]:
    """Confidence interval by inverting the noncentral chi-square in its noncentrality; for a
    scaled statistic ``chisq`` is the scaled one and the bounds are multiplied by ``sqrt(c)``
    (lavaan's robust interval)."""
    if df == 0:
        return 0.0, 0.0
    if df < 0:
        return float("nan"), float("nan")
    upper_p, lower_p = (1 + level) / 2, (1 - level) / 2

    def bound(p: float) -> float:
        if float(special.chdtr(df, chisq)) < p:
            return 0.0  # even a central chi-square puts the statistic below this quantile
        # The noncentrality at which P(X <= chisq) = p (cdfchn's inversion).
        return float(special.chndtrinc(chisq, df, p))

    lam_low, lam_high = bound(upper_p), bound(lower_p)
    scale = math.sqrt(c * groups / (df * n))
    return math.sqrt(lam_low) * scale, math.sqrt(lam_high) * scale


def rmsea_pclose(chisq: float, df: int, n: int, groups: int = 1, c: float = 1.0) -> float:
    """P(RMSEA <= .05); for a scaled statistic, ``chisq`` scaled and ``c`` its factor."""
    if df <= 0:
        return float("nan")
    return float(1.0 - special.chndtr(chisq, df, n * df * RMSEA_CLOSE**2 / (c * groups)))


def srmr(
    s: np.ndarray,
    sigma: np.ndarray,
    mean: np.ndarray | None = None,
    mu: np.ndarray | None = None,
) -> float:
    """Residuals scaled by the observed standard deviations, root mean square over the lower
    triangle with the diagonal, and over the means when there is a mean structure (lavaan's
    ``srmr``, Bentler's definition). Over groups lavaan weights each group's by n_g / N."""
    sd = np.sqrt(np.diag(s))
    resid = (s - sigma) / np.outer(sd, sd)
    rows, cols = np.tril_indices(len(s))
    squares = list(resid[rows, cols] ** 2)
    if mean is not None and mu is not None:
        squares += list(((mean - mu) / sd) ** 2)
    return float(np.sqrt(np.mean(squares)))


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


def scaled(
    fit: dict[str, float], df: int, n: int, groups: int, c: float, baseline_c: float
) -> dict[str, float]:
    """The scaled statistic and the robust CFI, TLI and RMSEA (Brosseau-Liard and Savalei)
    from a fit's unscaled ``chisq`` and ``baseline_chisq`` and the two scaling factors: the
    values MLR and MLM report under lavaan's plain names."""
    chisq, base, base_df = fit["chisq"], fit["baseline_chisq"], int(fit["baseline_df"])
    statistic = chisq / c
    low, high = rmsea_ci(statistic, df, n, groups=groups, c=c)
    return {
        "scaling_factor": c,
        "chisq": statistic,
        "pvalue": chisq_pvalue(statistic, df),
        "baseline_chisq_scaled": base / baseline_c,
        "baseline_scaling_factor": baseline_c,
        "cfi": robust_cfi(chisq, df, c, base, base_df, baseline_c),
        "tli": robust_tli(chisq, df, c, base, base_df, baseline_c),
        "rmsea": rmsea(chisq, df, n, groups, c),
        "rmsea_pvalue": rmsea_pclose(statistic, df, n, groups, c),
        "rmsea_ci_lower": low,
        "rmsea_ci_upper": high,
    }
