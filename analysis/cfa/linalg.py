"""The one test of a covariance matrix the likelihoods share: positive definite by Cholesky,
with its inverse and log-determinant from the factor. (The sign of a determinant would let an
indefinite matrix with an even number of negative eigenvalues by.)"""

from __future__ import annotations

import numpy as np


def positive_inverse(sigma: np.ndarray) -> tuple[np.ndarray, float] | None:
    """``Sigma^-1`` and ``log|Sigma|``, or None when Sigma is not positive definite."""
    try:
        factor = np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:
        return None
    inv_factor = np.linalg.inv(factor)
    return inv_factor.T @ inv_factor, 2.0 * float(np.sum(np.log(np.diag(factor))))
