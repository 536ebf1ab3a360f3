"""Marginal maximum likelihood for the graded response model: Bock and Aitkin's EM.

Answers are category indices (``0..K-1``, ``-1`` where an item was not answered); rows with
the same answers are taken once with their count. Each EM cycle:

- **E-step**: each pattern's likelihood at every quadrature node, the posterior over the
  nodes, and from it the expected number of answers in each category at each node (one
  matrix product of the patterns' one-hot answers with their weighted posteriors);
- **M-step**: each item's slope and intercepts by Fisher scoring on its expected counts.

An unanswered item contributes nothing to a pattern's likelihood (missing at random).
Standard errors come from the cross-product of the patterns' score vectors (the empirical
information, mirt's ``crossprod``): each pattern's score is the posterior mean of the
complete-data score, by Fisher's identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from .grm import LOG_WEIGHTS, NODES, TINY, jacobian, probabilities

DEFAULT_TOL = 1e-5
DEFAULT_MAX_CYCLES = 2000


@dataclass(frozen=True)
class Patterns:
    """Distinct answer patterns, their counts, and each row's pattern."""

    answers: np.ndarray  # (P, I) int, -1 missing
    counts: np.ndarray  # (P,)
    row_pattern: np.ndarray  # (n,) index into answers
    n_categories: tuple[int, ...]

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.n_categories)])

    def one_hot(self) -> np.ndarray:
        """(P, sum K) with a 1 at each answered item's category."""
        out = np.zeros((len(self.answers), int(sum(self.n_categories))))
        offsets = self.offsets
        rows = np.arange(len(self.answers))
        for i in range(self.answers.shape[1]):
            answered = self.answers[:, i] >= 0
            out[rows[answered], offsets[i] + self.answers[answered, i]] = 1.0
        return out


def collapse(answers: np.ndarray, n_categories: tuple[int, ...]) -> Patterns:
    """Distinct rows of ``answers`` (``n x I``, -1 missing) with their counts."""
    base = max(n_categories) + 1
    if base ** answers.shape[1] < 2**62:
        key = np.zeros(len(answers), dtype=np.int64)
        for i in range(answers.shape[1]):
            key = key * base + (answers[:, i].astype(np.int64) + 1)
        _, first, inverse, counts = np.unique(
            key, return_index=True, return_inverse=True, return_counts=True
        )
        unique = answers[first]
    else:
        unique, inverse, counts = np.unique(
            answers, axis=0, return_inverse=True, return_counts=True
        )
    return Patterns(unique.astype(np.int64), counts.astype(float), inverse.ravel(), n_categories)


@dataclass
class _Item:
    a: float
    d: np.ndarray  # decreasing


def _start(patterns: Patterns) -> list[_Item]:
    """Starting values from each item's answer shares: slope 1, intercepts at the normal
    quantiles of the shares at or above each category, widened for the slope."""
    items = []
    for i, k in enumerate(patterns.n_categories):
        col = patterns.answers[:, i]
        answered = col >= 0
        shares = np.bincount(col[answered], weights=patterns.counts[answered], minlength=k)
        shares = (shares + 0.5) / (shares.sum() + 0.5 * k)
        at_least = np.clip(1.0 - np.cumsum(shares)[:-1], 1e-4, 1 - 1e-4)
        a = 1.0
        items.append(_Item(a, ndtri(at_least) * np.sqrt(1.702**2 + a**2)))
    return items


def _log_prob_stack(items: list[_Item]) -> np.ndarray:
    return np.vstack([np.log(probabilities(it.a, it.d, NODES)) for it in items])


def e_step(one_hot: np.ndarray, counts: np.ndarray, items: list[_Item]) -> tuple[np.ndarray, float]:
    """Posterior over the nodes per pattern (``P x Q``) and the marginal log-likelihood."""
    log_like = one_hot @ _log_prob_stack(items) + LOG_WEIGHTS[None, :]
    top = log_like.max(axis=1, keepdims=True)
    like = np.exp(log_like - top)
    total = like.sum(axis=1, keepdims=True)
    loglik = float(counts @ (top[:, 0] + np.log(total[:, 0])))
    return like / total, loglik


def _m_step_item(item: _Item, r: np.ndarray, steps: int = 2) -> _Item:
    """Fisher scoring on one item's expected counts ``r`` (``K x Q``): the expected
    information of the nodes' counts, ``sum_q N_q sum_k J_kq J_kq' / P_kq``, with step halving
    that keeps the intercepts ordered and the objective from falling."""
    a, d = item.a, item.d.copy()
    n_q = r.sum(axis=0)
    k = len(d) + 1

    def objective(p: np.ndarray) -> float:
        return float((r * np.log(p)).sum())

    p = probabilities(a, d, NODES)
    current = objective(p)
    for _ in range(steps):
        jac = jacobian(a, d, NODES).reshape(-1, k)  # (K * Q, npar)
        flat_p = p.reshape(-1)
        grad = (r.reshape(-1) / flat_p) @ jac
        weight = (np.broadcast_to(n_q, p.shape).reshape(-1) / flat_p)[:, None]
        info = (jac * weight).T @ jac
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            break
        scale = 1.0
        for _half in range(30):
            a_new, d_new = a + scale * step[0], d + scale * step[1:]
            if np.all(np.diff(d_new) < 0):
                p_new = probabilities(a_new, d_new, NODES)
                value = objective(p_new)
                if value >= current - 1e-12:
                    break
            scale /= 2
        else:
            break
        a, d, p, current = a_new, d_new, p_new, value
        if np.max(np.abs(scale * step)) < 1e-10:
            break
    return _Item(a, d)


@dataclass(frozen=True)
class Estimates:
    slopes: np.ndarray  # (I,)
    intercepts: tuple[np.ndarray, ...]  # per item, decreasing
    covariance: tuple[np.ndarray, ...]  # per item, (K x K) over (a, d_1..)
    loglik: float
    cycles: int
    converged: bool
    n_patterns: int


def _flat(items: list[_Item]) -> np.ndarray:
    return np.concatenate([np.r_[it.a, it.d] for it in items])


def _unflat(vector: np.ndarray, like: list[_Item]) -> list[_Item]:
    out, start = [], 0
    for it in like:
        size = 1 + len(it.d)
        out.append(_Item(float(vector[start]), vector[start + 1 : start + size].copy()))
        start += size
    return out


def _ordered(items: list[_Item]) -> bool:
    return all(it.a > 0 and np.all(np.diff(it.d) < 0) for it in items)


class _Map:
    """One EM cycle as a map from parameters to parameters, counting the cycles run."""

    def __init__(self, patterns: Patterns) -> None:
        self.one_hot = patterns.one_hot()
        self.counts = patterns.counts
        self.offsets = patterns.offsets
        self.cycles = 0

    def __call__(self, items: list[_Item]) -> tuple[list[_Item], float]:
        """The next parameters, and the log-likelihood of ``items`` (the E-step's)."""
        self.cycles += 1
        post, loglik = e_step(self.one_hot, self.counts, items)
        expected = self.one_hot.T @ (post * self.counts[:, None])  # (sum K, Q)
        o = self.offsets
        return [_m_step_item(it, expected[o[i] : o[i + 1]]) for i, it in enumerate(items)], loglik


def fit_grm(
    patterns: Patterns, *, tol: float = DEFAULT_TOL, max_cycles: int = DEFAULT_MAX_CYCLES
) -> Estimates:
    """EM, accelerated by SQUAREM (Varadhan and Roland, 2008), until no parameter moves by
    more than ``tol`` in a cycle. An extrapolated step that breaks the intercepts' order or
    lowers the likelihood is replaced by the plain EM step."""
    em = _Map(patterns)
    items = _start(patterns)
    converged = False
    while em.cycles < max_cycles:
        first, loglik0 = em(items)
        second, _ = em(first)
        x0, x1, x2 = _flat(items), _flat(first), _flat(second)
        if np.max(np.abs(x2 - x1)) < tol:
            items, converged = second, True
            break
        r, v = x1 - x0, (x2 - x1) - (x1 - x0)
        alpha = -np.sqrt(r @ r) / max(np.sqrt(v @ v), 1e-300)
        alpha = min(alpha, -1.0)
        jumped = _unflat(x0 - 2 * alpha * r + alpha**2 * v, items)
        if _ordered(jumped):
            stabilised, loglik_jump = em(jumped)
            if _ordered(stabilised) and loglik_jump >= loglik0:
                items = stabilised
                continue
        items = second
    post, loglik = e_step(em.one_hot, em.counts, items)
    covariance = _crossprod_covariance(patterns, em.one_hot, post, items)
    return Estimates(
        slopes=np.array([it.a for it in items]),
        intercepts=tuple(it.d for it in items),
        covariance=covariance,
        loglik=loglik,
        cycles=em.cycles,
        converged=converged,
        n_patterns=len(em.counts),
    )


def _crossprod_covariance(
    patterns: Patterns, one_hot: np.ndarray, post: np.ndarray, items: list[_Item]
) -> tuple[np.ndarray, ...]:
    """The inverse of the empirical information ``sum_p n_p g_p g_p'`` over every parameter,
    split into each item's block."""
    offsets = patterns.offsets
    scores = []
    for i, it in enumerate(items):
        p = np.maximum(probabilities(it.a, it.d, NODES), TINY)
        per_category = jacobian(it.a, it.d, NODES) / p[:, :, None]  # (K, Q, npar)
        block = one_hot[:, offsets[i] : offsets[i + 1]]
        g = np.zeros((len(post), per_category.shape[2]))
        for k in range(per_category.shape[0]):
            g += block[:, [k]] * (post @ per_category[k])
        scores.append(g)
    g_all = np.hstack(scores)
    info = (g_all * patterns.counts[:, None]).T @ g_all
    cov = np.linalg.pinv(info)
    out = []
    start = 0
    for it in items:
        size = 1 + len(it.d)
        out.append(cov[start : start + size, start : start + size])
        start += size
    return tuple(out)
