"""Stage 1b: incomplete rows as missing-data patterns, their coverage, and the unrestricted (H1)
moments by EM.

Each pattern is the set of indicators a group of rows answered, with those rows' own means and
covariances (denominator n_k): the sufficient statistics of the casewise normal likelihood. The
H1 model (free means and covariances) is fitted to the same likelihood by EM; its moments play
the part the sample moments play for complete data (starting values, SRMR, the baseline), and
its log-likelihood is what the chi-square is measured against, as lavaan's ``missing = "ml"``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .linalg import by_size, positive_inverses

EM_TOLERANCE = 1e-10  # largest change of a mean or covariance between two EM steps
EM_MAX_ITERATIONS = 10_000
LOW_COVERAGE = 0.10  # lavaan warns below this share of rows answering both items of a pair


@dataclass(frozen=True)
class Pattern:
    """The rows that answered exactly the indicators ``index`` (positions among the model's)."""

    index: np.ndarray
    rows: np.ndarray  # their answers, n_k x p_k
    positions: np.ndarray  # the rows' positions in the group's data
    mean: np.ndarray
    cov: np.ndarray  # denominator n_k

    @property
    def n(self) -> int:
        return len(self.rows)

    @cached_property
    def block(self) -> tuple[np.ndarray, np.ndarray]:
        """Index of the pattern's rows and columns in a p x p matrix (``np.ix_``)."""
        rows, cols = np.ix_(self.index, self.index)
        return rows, cols

    def unanswered(self, p: int) -> np.ndarray:
        return np.setdiff1d(np.arange(p), self.index)


def patterns(x: np.ndarray) -> tuple[Pattern, ...]:
    """The missing-data patterns of ``x`` (NaN for a missing answer), most frequent first;
    rows without any answer belong to none."""
    seen = ~np.isnan(x)
    keys, inverse, counts = np.unique(seen, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    out = []
    for k in np.argsort(-counts, kind="stable"):
        index = np.flatnonzero(keys[k])
        if len(index) == 0:
            continue
        positions = np.flatnonzero(inverse == k)
        rows = x[np.ix_(positions, index)]
        mean = rows.mean(axis=0)
        centered = rows - mean
        out.append(Pattern(index, rows, positions, mean, centered.T @ centered / len(rows)))
    return tuple(out)


def coverage(x: np.ndarray) -> np.ndarray:
    """The share of rows that answered both items, for every pair (the diagonal: each item)."""
    seen = (~np.isnan(x)).astype(float)
    return seen.T @ seen / len(x)


def never_together(cov: np.ndarray, names: Sequence[str]) -> list[tuple[str, str]]:
    rows, cols = np.nonzero(np.tril(cov == 0, k=-1))
    return [(names[int(c)], names[int(r)]) for r, c in zip(rows, cols, strict=True)]


def stacked_blocks(
    found: Sequence[Pattern], sigma: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Each pattern's ``Sigma_oo``, those of the patterns that answer as many items stacked
    together (which patterns, and the stack): a stack is inverted in one call, where a
    pattern at a time was most of a FIML fit's time."""
    for which, items in by_size([pat.index for pat in found]):
        yield which, sigma[items[:, :, None], items[:, None, :]]


def pattern_inverses(found: Sequence[Pattern], sigma: np.ndarray) -> list[np.ndarray]:
    """Each pattern's ``Sigma_oo^-1`` (no test of definiteness: the likelihood's is
    :func:`pattern_loglik`), in the patterns' order."""
    out: list[np.ndarray] = [np.empty(0)] * len(found)
    for which, stack in stacked_blocks(found, sigma):
        for k, inv in zip(which, np.linalg.inv(stack), strict=True):
            out[k] = inv
    return out


def pattern_loglik(found: Sequence[Pattern], mu: np.ndarray, sigma: np.ndarray) -> float:
    """The normal log-likelihood of every row, summed pattern by pattern (in their order)."""
    terms = np.zeros(len(found))
    for which, stack in stacked_blocks(found, sigma):
        inverted = positive_inverses(stack)
        if inverted is None:
            return -np.inf
        for k, inv, logdet in zip(which, *inverted, strict=True):
            pat = found[k]
            d = pat.mean - mu[pat.index]
            quad = float(np.sum(inv * pat.cov) + d @ inv @ d)
            terms[k] = -pat.n / 2 * (len(pat.index) * np.log(2 * np.pi) + logdet + quad)
    total = 0.0
    for term in terms:
        total += float(term)
    return total


@dataclass(frozen=True)
class H1:
    mean: np.ndarray
    cov: np.ndarray
    loglik: float
    iterations: int
    converged: bool


def em(found: Sequence[Pattern], p: int) -> H1:
    """The unrestricted means and covariances by EM, started from each item's own mean and
    variance (available cases) and no covariances."""
    n = sum(pat.n for pat in found)
    total = np.zeros(p)
    squares = np.zeros(p)
    answered = np.zeros(p)
    for pat in found:
        total[pat.index] += pat.rows.sum(axis=0)
        squares[pat.index] += (pat.rows**2).sum(axis=0)
        answered[pat.index] += pat.n
    mu = total / answered
    sigma = np.diag(squares / answered - mu**2)
    converged = False
    steps = 0
    # Per pattern: its answered (o) and unanswered (m) items, and its rows' moment sums.
    parts = []
    for pat in found:
        o, m = pat.index, pat.unanswered(p)
        blocks = (np.ix_(o, o), np.ix_(o, m), np.ix_(m, o), np.ix_(m, m))
        parts.append((o, m, pat.n, pat.mean, pat.cov, blocks))
    while not converged and steps < EM_MAX_ITERATIONS:
        steps += 1
        # E step from each pattern's sufficient statistics: the unanswered items' expectation
        # is affine in the answered ones (x_m = mu_m + B'(x_o - mu_o)), so its sums follow
        # from the pattern's mean and covariance, at a cost that does not grow with n.
        t1 = np.zeros(p)
        t2 = np.zeros((p, p))
        for o, m, k, mean, cov, (oo, om, mo, mm) in parts:
            t1[o] += k * mean
            t2[oo] += k * (cov + np.outer(mean, mean))
            if not len(m):
                continue
            beta = np.linalg.solve(sigma[oo], sigma[om])
            h = mu[m] + (mean - mu[o]) @ beta
            t1[m] += k * h
            cross = k * (beta.T @ cov + np.outer(h, mean))
            t2[mo] += cross
            t2[om] += cross.T
            conditional = sigma[mm] - sigma[mo] @ beta
            t2[mm] += k * (beta.T @ cov @ beta + np.outer(h, h) + conditional)
        new_mu = t1 / n
        new_sigma = t2 / n - np.outer(new_mu, new_mu)
        change = max(np.max(np.abs(new_mu - mu)), np.max(np.abs(new_sigma - sigma)))
        mu, sigma = new_mu, (new_sigma + new_sigma.T) / 2
        converged = change < EM_TOLERANCE
    return H1(mu, sigma, pattern_loglik(found, mu, sigma), steps, converged)
