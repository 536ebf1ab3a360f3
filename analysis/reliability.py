"""Reliability of item sets.

``cronbach_alpha`` uses complete cases (listwise), like ``psych::alpha(..., use = "complete")``
and pingouin's ``cronbach_alpha(nan_policy="listwise")``:
``alpha = k / (k - 1) * (1 - sum(item variances) / variance(total))``.
"""

from __future__ import annotations

import numpy as np


def cronbach_alpha(values: np.ndarray) -> float:
    """Cronbach's alpha of the columns of ``values`` (rows with any NaN are left out).

    Validated against pingouin.cronbach_alpha (itself checked against R psych::alpha).
    """
    values = np.asarray(values, dtype=float)
    complete = values[~np.isnan(values).any(axis=1)]
    n, k = complete.shape
    if k < 2 or n < 2:
        return float("nan")
    return alpha_from_variances(complete.var(axis=0, ddof=1), complete.sum(axis=1).var(ddof=1))


def alpha_from_variances(item_variances: np.ndarray, total_variance: float) -> float:
    """Alpha from the item variances and the variance of the total score."""
    k = len(item_variances)
    if k < 2 or not total_variance > 0:
        return float("nan")
    return float(k / (k - 1) * (1 - np.sum(item_variances) / total_variance))
