"""Vectorised multivariate normal orthant probabilities, exact-formula fast for up to three
dimensions and by Genz's algorithm beyond.

``orthant(d, corr)`` is ``P(Z_1 <= d_1, ..., Z_k <= d_k)`` for standard normal ``Z`` with
correlation matrix ``corr``, for many points ``d`` at once (one row each):

- k = 1: the normal CDF;
- k = 2: Owen's (1956) formula with scipy's vectorised Owen's T function;
- k = 3: conditioning on ``Z_1``, ``P = int_{-7}^{d_1} phi(z) Phi_2(a(z), b(z); rho_23.1) dz``,
  by Gauss-Legendre quadrature in z. The integrand gets steeper as correlations grow, so the
  number of nodes grows with the largest |correlation| (20 up to .5, 48 up to .93): absolute
  error below 2e-5 throughout, below 1e-6 for the moderate correlations of real data.
- k >= 4 (an instrument whose rule has four or more pillars): scipy's
  ``multivariate_normal.cdf`` (Genz's quasi-Monte Carlo integration, absolute error about
  1e-5), point by point.
- Points whose Bonferroni bounds already agree to 1e-7 skip the integration.

Validated against ``scipy.stats.multivariate_normal.cdf`` (Genz's algorithm) in the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.special import ndtr, owens_t

_TINY = 1e-12
_ROWS_TO_SPLIT = 8192
_LOWER = -7.0  # Phi(-7) = 1.3e-12: the integral below it is nothing
# (largest |correlation|, Gauss-Legendre nodes) for the trivariate integral
_NODE_TABLE = ((0.5, 20), (0.7, 24), (0.85, 32), (0.93, 48), (1.0, 96))


def bivariate_cdf(h: np.ndarray, k: np.ndarray, rho: float | np.ndarray) -> np.ndarray:
    """``P(X <= h, Y <= k)`` for standard bivariate normal with correlation ``rho``.

    Owen's formula: ``(Phi(h) + Phi(k))/2 - T(h, a_h) - T(k, a_k) - beta``, with
    ``a_h = (k - rho h) / (h sqrt(1 - rho^2))`` and ``beta = 1/2`` when ``h k < 0``.
    """
    h = np.asarray(h, dtype=float)
    k = np.asarray(k, dtype=float)
    rho = np.clip(np.asarray(rho, dtype=float), -1 + 1e-12, 1 - 1e-12)
    # Owen's formula divides by h and k; an exact zero is moved off by a negligible amount.
    h = np.where(h == 0, _TINY, h)
    k = np.where(k == 0, _TINY, k)
    den = np.sqrt(1 - rho**2)
    with np.errstate(invalid="ignore", over="ignore"):
        a_h = (k - rho * h) / (h * den)
        a_k = (h - rho * k) / (k * den)
        out = 0.5 * (ndtr(h) + ndtr(k)) - owens_t(h, a_h) - owens_t(k, a_k)
    out = out - np.where(h * k < 0, 0.5, 0.0)
    # Infinite limits: the formula's pieces are NaN there, the answer is a marginal.
    out = np.where(np.isposinf(h), ndtr(k), out)
    out = np.where(np.isposinf(k), ndtr(h), out)
    out = np.where(np.isneginf(h) | np.isneginf(k), 0.0, out)
    return np.clip(out, 0.0, 1.0)


def _trivariate(d: np.ndarray, corr: np.ndarray) -> np.ndarray:
    r12, r13, r23 = corr[0, 1], corr[0, 2], corr[1, 2]
    s2, s3 = np.sqrt(1 - r12**2), np.sqrt(1 - r13**2)
    rho = (r23 - r12 * r13) / (s2 * s3)
    largest = np.abs(corr[np.triu_indices(3, 1)]).max()
    n_nodes = next(n for limit, n in _NODE_TABLE if largest <= limit)
    nodes, weights = np.polynomial.legendre.leggauss(n_nodes)
    half = (np.maximum(d[:, 0], _LOWER) - _LOWER) / 2
    z = _LOWER + (nodes[None, :] + 1) * half[:, None]
    density = np.exp(-(z**2) / 2) / np.sqrt(2 * np.pi)
    inner = bivariate_cdf((d[:, [1]] - r12 * z) / s2, (d[:, [2]] - r13 * z) / s3, rho)
    return half * ((density * inner) @ weights)


def _in_two(function: Callable[[np.ndarray], np.ndarray], rows: np.ndarray) -> np.ndarray:
    """``function`` of each half of ``rows`` on a thread of its own, when there are many: each
    row's value is worked out alone, and scipy's special functions let go of the interpreter.
    52,000 score profiles took 0.33 s on one thread and 0.22 s on two."""
    if len(rows) < _ROWS_TO_SPLIT:
        return function(rows)
    with ThreadPoolExecutor(max_workers=2) as pool:
        return np.concatenate(list(pool.map(function, np.array_split(rows, 2))))


def orthant(d: np.ndarray, corr: np.ndarray) -> np.ndarray:
    """``P(Z <= d)`` row by row for ``d`` of shape (n, k), k >= 1; NaN rows give NaN."""
    d = np.atleast_2d(np.asarray(d, dtype=float))
    corr = np.asarray(corr, dtype=float)
    k = d.shape[1]
    if corr.shape != (k, k):
        raise ValueError(f"'corr' must be {k} x {k} for {k} dimensions; got {corr.shape}.")
    if k < 1:
        raise ValueError(f"'d' must have at least 1 column; got {k}.")
    out = np.full(len(d), np.nan)
    ok = ~np.isnan(d).any(axis=1)
    rows = d[ok]
    if k == 1:
        out[ok] = ndtr(rows[:, 0])
        return out
    # Bonferroni bounds, min Phi(d_j) >= P >= 1 - sum Phi(-d_j), settle points deep in a
    # corner to within 5e-8 without quadrature (many score profiles sit far above the minimums).
    upper = ndtr(rows).min(axis=1)
    lower = np.clip(1 - ndtr(-rows).sum(axis=1), 0.0, 1.0)
    settled = upper - lower < 1e-7
    result = (upper + lower) / 2
    open_rows = rows[~settled]
    if k == 2:
        result[~settled] = _in_two(lambda d: bivariate_cdf(d[:, 0], d[:, 1], corr[0, 1]), open_rows)
    elif k == 3:
        result[~settled] = np.clip(_in_two(lambda d: _trivariate(d, corr), open_rows), 0.0, 1.0)
    elif len(open_rows):
        from scipy.stats import multivariate_normal  # only beyond three pillars

        dist = multivariate_normal(mean=np.zeros(k), cov=corr, seed=0)
        found = np.atleast_1d(dist.cdf(open_rows))
        result[~settled] = np.clip(found, 0.0, 1.0)
    out[ok] = result
    return out
