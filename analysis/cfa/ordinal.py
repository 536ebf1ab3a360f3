"""Stage 1 for ordinal items: thresholds, polychoric correlations and their asymptotic
covariance matrix, by lavaan's two-step approach (its ``muthen1984``).

Each item is a cut of a standard normal response: the thresholds are the normal quantiles of
the cumulative proportions of its categories (step 1). Each pair's polychoric correlation
maximises the likelihood of the pair's contingency table with the thresholds held at their
step-1 values (step 2). The asymptotic covariance of the estimates (``gamma``, of
sqrt(N) times the statistics) is the sandwich of the two steps' estimating equations: the
casewise scores of the thresholds (univariate) and of each correlation (bivariate) give the
meat, their cross-products the bread, with the correction for the thresholds estimated in
step 1 (the bread's lower-left block). DWLS weights each statistic by the inverse of its
diagonal element.

Missing answers, ``pairwise``: thresholds from each item's answered rows, a correlation from the
rows that answered both, and a missing answer scores zero in every estimating equation it
would enter (lavaan's ``missing = "pairwise"``).

Everything casewise depends only on a row's categories, so the rows are reduced to their
distinct answer patterns and counted; the scores are looked up per cell of each table.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy import special

BOUND = 0.999  # |rho| at most this, as lavaan's polychoric
BIG = 12.0  # stands for an infinite threshold: Phi(-12) is 1.8e-33


def _norm_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)


@cache
def _nodes(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(n)


def bvn_cdf(h: np.ndarray, k: np.ndarray, r: float) -> np.ndarray:
    """P(X < h, Y < k) for a standard bivariate normal with correlation r, by Genz's method
    (Drezner-Wesolowsky with Gauss-Legendre quadrature on the Plackett identity; double
    precision). ``h`` and ``k`` are arrays of one shape, clipped to +-BIG."""
    h = np.clip(np.asarray(h, dtype=float), -BIG, BIG)
    k = np.clip(np.asarray(k, dtype=float), -BIG, BIG)
    # Genz's bvnu gives P(X > h, Y > k); P(X < h, Y < k) = bvnu(-h, -k, r).
    h, k = -h, -k
    ar = abs(r)
    x, w = _nodes(6 if ar < 0.3 else 12 if ar < 0.75 else 20)
    hk = h * k
    if ar < 0.925:
        hs = (h * h + k * k) / 2
        asr = np.arcsin(r)
        sn = np.sin(asr * (x + 1) / 2)[:, None]
        terms = np.exp((sn * hk.ravel() - hs.ravel()) / (1 - sn * sn))
        bvn = (w @ terms).reshape(h.shape) * asr / (4 * np.pi)
        return bvn + special.ndtr(-h) * special.ndtr(-k)
    if r < 0:
        k, hk = -k, -hk
    bvn = np.zeros(h.shape)
    if ar < 1:
        a2 = (1 - r) * (1 + r)
        a = np.sqrt(a2)
        bs = (h - k) ** 2
        c = (4 - hk) / 8
        d = (12 - hk) / 16
        bvn = (
            a
            * np.exp(-(bs / a2 + hk) / 2)
            * (1 - c * (bs - a2) * (1 - d * bs / 5) / 3 + c * d * a2 * a2 / 5)
        )
        b = np.sqrt(bs)
        tail = np.exp(-hk / 2) * np.sqrt(2 * np.pi) * special.ndtr(-b / a) * b
        tail *= 1 - c * bs * (1 - d * bs / 5) / 3
        bvn = bvn - np.where(hk > -160, tail, 0.0)
        half = a / 2
        xs = (half * (x + 1)) ** 2
        rs = np.sqrt(1 - xs)
        flat = [v.ravel()[None, :] for v in (bs, hk, c, d)]
        bs1, hk1, c1, d1 = flat
        xs1, rs1 = xs[:, None], rs[:, None]
        asr1 = -(bs1 / xs1 + hk1) / 2
        inner = np.exp(asr1) * (
            np.exp(-hk1 * (1 - rs1) / (2 * (1 + rs1))) / rs1 - (1 + c1 * xs1 * (1 + d1 * xs1))
        )
        inner = np.where(asr1 > -100, inner, 0.0)
        bvn = bvn + half * (w @ inner).reshape(h.shape)
        bvn = -bvn / (2 * np.pi)
    if r > 0:
        return bvn + special.ndtr(-np.maximum(h, k))
    low = np.where(h < 0, special.ndtr(k) - special.ndtr(h), special.ndtr(-h) - special.ndtr(-k))
    return np.where(h >= k, -bvn, low - bvn)


def bvn_pdf(h: np.ndarray, k: np.ndarray, r: float) -> np.ndarray:
    """The standard bivariate normal density (0 at an infinite bound)."""
    s = 1 - r * r
    with np.errstate(invalid="ignore"):
        out = np.exp(-(h * h - 2 * r * h * k + k * k) / (2 * s)) / (2 * np.pi * np.sqrt(s))
    return np.where(np.isfinite(h) & np.isfinite(k), out, 0.0)


def _extended(tau: np.ndarray) -> np.ndarray:
    return np.concatenate([[-np.inf], tau, [np.inf]])


@dataclass(frozen=True)
class PairTable:
    """One pair's cell probabilities and their derivatives by rho and by each item's
    thresholds, at a given rho (rows: the first item's categories)."""

    prob: np.ndarray
    d_rho: np.ndarray
    d_tau1: np.ndarray  # K1 x K2 x (K1 - 1)
    d_tau2: np.ndarray  # K1 x K2 x (K2 - 1)


def pair_table(
    tau1: np.ndarray, tau2: np.ndarray, rho: float, derivatives: bool = False
) -> PairTable:
    t1, t2 = _extended(tau1), _extended(tau2)
    a, b = np.meshgrid(t1, t2, indexing="ij")
    cdf = bvn_cdf(a, b, rho)
    cdf[0, :] = 0.0
    cdf[:, 0] = 0.0
    cdf[-1, :] = special.ndtr(np.clip(t2, -BIG, BIG))
    cdf[:, -1] = special.ndtr(np.clip(t1, -BIG, BIG))
    cdf[0, :] = cdf[:, 0] = 0.0
    prob = np.diff(np.diff(cdf, axis=0), axis=1)
    dens = bvn_pdf(a, b, rho)
    d_rho = np.diff(np.diff(dens, axis=0), axis=1)
    k1, k2 = len(tau1) + 1, len(tau2) + 1
    d1 = np.zeros((k1, k2, k1 - 1))
    d2 = np.zeros((k1, k2, k2 - 1))
    if derivatives:
        s = np.sqrt(1 - rho * rho)
        # dF(t1_j, t2_b) / dt1_j = phi(t1_j) Phi((t2_b - rho t1_j) / s); cell (a, b) has upper
        # corner t1_a (a = j) and lower corner t1_{a-1} (a = j + 1).
        for j in range(k1 - 1):
            g = _norm_pdf(tau1[j]) * special.ndtr((t2 - rho * tau1[j]) / s)
            col = np.diff(g)  # over the second item's categories
            d1[j, :, j] += col
            d1[j + 1, :, j] -= col
        for j in range(k2 - 1):
            g = _norm_pdf(tau2[j]) * special.ndtr((t1 - rho * tau2[j]) / s)
            row = np.diff(g)
            d2[:, j, j] += row
            d2[:, j + 1, j] -= row
    return PairTable(prob, d_rho, d1, d2)


def polychoric(tau1: np.ndarray, tau2: np.ndarray, freq: np.ndarray, start: float = 0.0) -> float:
    """The two-step polychoric correlation of a contingency table: Fisher scoring on rho with
    the thresholds fixed, within +-BOUND."""
    n = freq.sum()
    rho = float(np.clip(start, -0.9, 0.9))
    for _ in range(100):
        t = pair_table(tau1, tau2, rho)
        p = np.maximum(t.prob, 1e-300)
        score = float(np.sum(freq * t.d_rho / p))
        info = float(n * np.sum(t.d_rho**2 / p))
        if info <= 0:
            break
        step = score / info
        new = float(np.clip(rho + step, -BOUND, BOUND))
        if abs(new - rho) < 1e-12:
            rho = new
            break
        rho = new
    return rho


@dataclass(frozen=True)
class OrdinalSample:
    """One group's ordinal statistics: thresholds (item by item), the polychoric correlations
    (lower triangle, row by row: ``np.tril_indices(p, -1)``) and their asymptotic covariance."""

    levels: tuple[tuple[float, ...], ...]  # each item's categories, as coded in the data
    thresholds: tuple[np.ndarray, ...]
    correlations: np.ndarray  # p x p, unit diagonal
    gamma: np.ndarray  # of sqrt(N) (statistics), thresholds first
    n: int
    answered: np.ndarray  # p x p, rows answering both items (diagonal: each item)

    @property
    def statistics(self) -> np.ndarray:
        r, c = np.tril_indices(len(self.thresholds), -1)
        return np.concatenate([*self.thresholds, self.correlations[r, c]])

    @property
    def n_thresholds(self) -> int:
        return sum(len(t) for t in self.thresholds)

    @property
    def weights(self) -> np.ndarray:
        """The DWLS weights: the inverse of gamma's diagonal."""
        return 1.0 / np.diag(self.gamma)


def categories(column: np.ndarray) -> tuple[float, ...]:
    values = column[~np.isnan(column)]
    return tuple(float(v) for v in np.unique(values))


def ordinal_sample(
    rows: np.ndarray,
    levels: tuple[tuple[float, ...], ...] | None = None,
    asymptotic: bool = True,
) -> OrdinalSample:
    """Thresholds, polychoric correlations and their asymptotic covariance from an n x p array
    of answers (NaN: missing, handled pairwise). ``levels`` fixes each item's categories
    (the same in every group); by default the categories seen. Without ``asymptotic`` the
    casewise scores and gamma are skipped (gamma is then empty)."""
    n, p = rows.shape
    if levels is None:
        levels = tuple(categories(rows[:, j]) for j in range(p))
    codes = np.full((n, p), -1, dtype=np.int64)
    for j, lev in enumerate(levels):
        col = rows[:, j]
        ok = ~np.isnan(col)
        codes[ok, j] = np.searchsorted(np.array(lev), col[ok])
    patterns, counts = np.unique(codes, axis=0, return_counts=True)
    w = counts.astype(float)

    thresholds, th_scores = [], []
    for j, lev in enumerate(levels):
        k = len(lev)
        freq = np.bincount(codes[codes[:, j] >= 0, j], minlength=k).astype(float)
        cum = np.cumsum(freq)[:-1] / freq.sum()
        tau = special.ndtri(cum)
        thresholds.append(tau)
        # The score of tau_m for a row in category a:
        # (phi(tau_a) [m == a] - phi(tau_{a-1}) [m == a - 1]) / P_a.
        prob = np.diff(special.ndtr(_extended(tau)))
        table = np.zeros((k, k - 1))
        dens = _norm_pdf(tau)
        for m in range(k - 1):
            table[m, m] += dens[m] / prob[m]
            table[m + 1, m] -= dens[m] / prob[m + 1]
        sc = np.zeros((len(patterns), k - 1))
        ok = patterns[:, j] >= 0
        sc[ok] = table[patterns[ok, j]]
        th_scores.append(sc)

    pairs = [(int(a), int(b)) for a, b in zip(*np.tril_indices(p, -1), strict=True)]
    corr = np.eye(p)
    answered = np.zeros((p, p))
    rho_scores = np.zeros((len(patterns), len(pairs)))
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in thresholds])])
    n_th = int(offsets[-1])
    a21 = np.zeros((len(pairs), n_th))
    for q, (i, j) in enumerate(pairs):
        ki, kj = len(levels[i]), len(levels[j])
        both = (patterns[:, i] >= 0) & (patterns[:, j] >= 0)
        freq = np.zeros((ki, kj))
        np.add.at(freq, (patterns[both, i], patterns[both, j]), w[both])
        answered[i, j] = answered[j, i] = freq.sum()
        start = _pearson(freq)
        rho = polychoric(thresholds[i], thresholds[j], freq, start)
        corr[i, j] = corr[j, i] = rho
        if not asymptotic:
            continue
        table2 = pair_table(thresholds[i], thresholds[j], rho, derivatives=True)
        prob = np.maximum(table2.prob, 1e-300)
        cells = (patterns[both, i], patterns[both, j])
        s_rho = (table2.d_rho / prob)[cells]
        rho_scores[both, q] = s_rho
        dti = (table2.d_tau1 / prob[:, :, None])[cells]
        dtj = (table2.d_tau2 / prob[:, :, None])[cells]
        ws = w[both] * s_rho
        a21[q, offsets[i] : offsets[i + 1]] = ws @ dti
        a21[q, offsets[j] : offsets[j + 1]] = ws @ dtj
    for j in range(p):
        answered[j, j] = float(np.sum(w[patterns[:, j] >= 0]))
    if not asymptotic:
        return OrdinalSample(levels, tuple(thresholds), corr, np.empty((0, 0)), n, answered)

    scores = np.hstack([*th_scores, rho_scores])
    inner = scores.T @ (scores * w[:, None])
    a11_inv = np.zeros((n_th, n_th))
    for j in range(p):
        s = slice(offsets[j], offsets[j + 1])
        a11_inv[s, s] = np.linalg.inv(inner[s, s])
    a22_inv = 1.0 / np.diag(inner)[n_th:]
    b_inv = np.zeros_like(inner)
    b_inv[:n_th, :n_th] = a11_inv
    b_inv[n_th:, :n_th] = -(a22_inv[:, None] * a21) @ a11_inv
    b_inv[n_th:, n_th:] = np.diag(a22_inv)
    gamma = n * (b_inv @ inner @ b_inv.T)
    return OrdinalSample(levels, tuple(thresholds), corr, gamma, n, answered)


def _pearson(freq: np.ndarray) -> float:
    """The product-moment correlation of a table's category numbers: a start for rho."""
    total = freq.sum()
    if total <= 0:
        return 0.0
    a = np.arange(freq.shape[0], dtype=float)
    b = np.arange(freq.shape[1], dtype=float)
    pa, pb = freq.sum(axis=1) / total, freq.sum(axis=0) / total
    ma, mb = pa @ a, pb @ b
    va, vb = pa @ (a - ma) ** 2, pb @ (b - mb) ** 2
    if va <= 0 or vb <= 0:
        return 0.0
    cov = float((a - ma) @ (freq / total) @ (b - mb))
    return cov / float(np.sqrt(va * vb))
