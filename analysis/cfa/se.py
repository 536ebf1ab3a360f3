"""Stage 6: the covariance matrix of the estimates, hence standard errors.

- expected information (lavaan's default for ML): ``(N/2 H)^-1``, H the expected Hessian of F;
- Huber-White sandwich (MLR): bread ``(N/2 H_obs)^-1`` with the observed Hessian, meat the sum
  of the casewise scores' outer products.

A singular information (a parameter the data do not identify) gives NaN, never a number.
"""

from __future__ import annotations

import numpy as np


def is_singular(information: np.ndarray) -> bool:
    if information.size == 0:
        return False
    scale = float(np.abs(information).max()) or 1.0
    return bool(np.linalg.matrix_rank(information, tol=1e-8 * scale) < len(information))


def _inverse(matrix: np.ndarray) -> np.ndarray:
    if is_singular(matrix):
        return np.full_like(matrix, np.nan)
    return np.linalg.inv(matrix)


def expected(hessian: np.ndarray, n: int) -> np.ndarray:
    return _inverse(n / 2 * hessian)


def sandwich(observed_hessian: np.ndarray, products: list[np.ndarray], n: int) -> np.ndarray:
    """``products``: per group, the sum of the casewise scores' outer products."""
    bread = _inverse(n / 2 * observed_hessian)
    return bread @ np.sum(products, axis=0) @ bread


def standard_errors(vcov: np.ndarray, free_index: tuple[int, ...]) -> np.ndarray:
    """One standard error per parameter row (NaN for fixed rows)."""
    out = np.full(len(free_index), np.nan)
    free = np.array(free_index)
    diag = np.sqrt(np.clip(np.diag(vcov), 0, None)) if len(vcov) else np.array([])
    out[free >= 0] = diag[free[free >= 0]]
    return out
