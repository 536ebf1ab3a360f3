"""The one test of a covariance matrix the likelihoods share: positive definite by Cholesky,
with its inverse and log-determinant from the factor. (The sign of a determinant would let an
indefinite matrix with an even number of negative eigenvalues by.)"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def positive_inverse(sigma: np.ndarray) -> tuple[np.ndarray, float] | None:
    """``Sigma^-1`` and ``log|Sigma|``, or None when Sigma is not positive definite."""
    try:
        factor = np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:
        return None
    inv_factor = np.linalg.inv(factor)
    return inv_factor.T @ inv_factor, 2.0 * float(np.sum(np.log(np.diag(factor))))


def positive_inverses(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`positive_inverse` of every matrix of a stack (``n x k x k``) at once: their
    inverses and log-determinants, or None when any is not positive definite."""
    try:
        factor = np.linalg.cholesky(stack)
    except np.linalg.LinAlgError:
        return None
    inv_factor = np.linalg.inv(factor)
    logdets = 2.0 * np.log(np.diagonal(factor, axis1=1, axis2=2)).sum(axis=1)
    return np.swapaxes(inv_factor, 1, 2) @ inv_factor, logdets


def by_size(indices: Sequence[np.ndarray]) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Index sets (the items a missing-data pattern answered) grouped by their size: for each
    size, which sets (their positions in ``indices``) and the sets as the rows of one array,
    so that the blocks they pick from a matrix are taken, and inverted, as one stack."""
    sizes = np.array([len(index) for index in indices])
    return tuple(
        (which, np.array([indices[int(k)] for k in which]))
        for which in (np.flatnonzero(sizes == size) for size in np.unique(sizes))
    )
