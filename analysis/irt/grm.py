"""Samejima's graded response model: category probabilities, their derivatives, information.

The slope-intercept form, as mirt writes it: an item with ``K`` ordered categories ``0..K-1``
has a slope ``a`` and intercepts ``d_1 > d_2 > ... > d_{K-1}``, and

    P(X >= k | theta) = logistic(a * theta + d_k),   k = 1 .. K-1,

with ``P(X >= 0) = 1`` and ``P(X >= K) = 0``; a category's probability is the difference of two
neighbours. The difficulties (thresholds on the theta metric) are ``b_k = -d_k / a``: the theta
at which an answer in category ``k`` or above becomes more likely than not.

Theta has a standard normal distribution in the calibration sample (the model's
identification), integrated over fixed quadrature nodes (:data:`NODES`).
"""

from __future__ import annotations

import numpy as np

# 61 equally spaced nodes from -6 to 6, as mirt's default for one dimension; the weights are
# the standard normal density at the nodes, normalised to sum to 1.
NODES = np.linspace(-6.0, 6.0, 61)
_DENSITY = np.exp(-0.5 * NODES**2)
WEIGHTS = _DENSITY / _DENSITY.sum()
LOG_WEIGHTS = np.log(WEIGHTS)
# Probabilities are kept off 0 so that logs stay finite where an answer is all but impossible.
TINY = 1e-300


def _logistic(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def cumulative(a: float, d: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """``P(X >= k | theta)`` for ``k = 0..K``: shape ``(K + 1, len(theta))``."""
    inner = _logistic(a * theta[None, :] + np.asarray(d, float)[:, None])
    ones = np.ones((1, len(theta)))
    return np.vstack([ones, inner, np.zeros((1, len(theta)))])


def probabilities(a: float, d: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """``P(X = k | theta)`` for ``k = 0..K-1``: shape ``(K, len(theta))``."""
    star = cumulative(a, d, theta)
    return np.maximum(star[:-1] - star[1:], TINY)


def jacobian(a: float, d: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Derivatives of each category's probability with respect to ``(a, d_1, .., d_{K-1})``:
    shape ``(K, len(theta), K)``."""
    star = cumulative(a, d, theta)
    w = star * (1.0 - star)  # rows 0 and K are 0: those bounds do not move
    k = len(d) + 1
    out = np.zeros((k, len(theta), k))
    out[:, :, 0] = theta[None, :] * (w[:-1] - w[1:])
    for m in range(1, k):
        out[m, :, m] += w[m]  # P_m = P*_m - P*_{m+1}
        out[m - 1, :, m] -= w[m]  # P_{m-1} = P*_{m-1} - P*_m
    return out


def information(a: float, d: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Fisher information of one item at each theta: ``sum_k P_k'(theta)^2 / P_k(theta)``."""
    star = cumulative(a, d, theta)
    w = star * (1.0 - star)
    slope = a * (w[:-1] - w[1:])
    return np.asarray((slope**2 / np.maximum(star[:-1] - star[1:], TINY)).sum(axis=0))


def expected_score(a: float, d: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """The expected category (0..K-1) at each theta: the sum of ``P(X >= k)``, k >= 1."""
    return np.asarray(cumulative(a, d, theta)[1:-1].sum(axis=0))


def summed_score_likelihood(probs: list[np.ndarray]) -> np.ndarray:
    """Lord and Wingersky's recursion: the distribution of the summed score (categories added
    up) at each node, given each item's ``P(X = k | theta)`` (``(K_i, Q)``); shape
    ``(sum(K_i - 1) + 1, Q)``."""
    q = probs[0].shape[1] if probs else len(NODES)
    dist = np.ones((1, q))
    for p in probs:
        k = p.shape[0]
        new = np.zeros((dist.shape[0] + k - 1, q))
        for c in range(k):
            new[c : c + dist.shape[0]] += dist * p[c]
        dist = new
    return dist
