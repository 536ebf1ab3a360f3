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

Continuous items beside ordinal ones (lavaan's mixed case): step 1 gives each its mean and
variance, step 2 a Pearson correlation with another continuous item and a polyserial one with
an ordinal item, each with its casewise scores; the asymptotic covariance of (means,
variances, correlations) is carried to the statistics (minus the means, the variances, the
covariances) by lavaan's H matrix. Every row is then its own pattern.
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
    """One group's statistics for ordinal items, and any continuous items beside them: per
    item its thresholds (a continuous item: minus its mean, lavaan's convention), then the
    continuous items' variances, then the covariances (lower triangle, row by row:
    ``np.tril_indices(p, -1)``; between ordinal items the polychoric correlation, between an
    ordinal and a continuous item the polyserial correlation times the latter's standard
    deviation), and their asymptotic covariance."""

    levels: tuple[tuple[float, ...], ...]  # each ordinal item's categories (continuous: ())
    thresholds: tuple[np.ndarray, ...]
    correlations: np.ndarray  # p x p, unit diagonal
    gamma: np.ndarray  # of sqrt(N) (statistics), in the order of ``statistics``
    n: int
    answered: np.ndarray  # p x p, rows answering both items (diagonal: each item)
    numeric: tuple[bool, ...] = ()  # continuous items
    variances: np.ndarray | None = None  # continuous items' variances (1 for ordinal ones)

    @property
    def continuous(self) -> np.ndarray:
        p = len(self.thresholds)
        return np.array(self.numeric, dtype=bool) if self.numeric else np.zeros(p, dtype=bool)

    @property
    def covariances(self) -> np.ndarray:
        if self.variances is None:
            return self.correlations
        sd = np.sqrt(self.variances)
        return self.correlations * np.outer(sd, sd)

    @property
    def statistics(self) -> np.ndarray:
        r, c = np.tril_indices(len(self.thresholds), -1)
        parts = [*self.thresholds]
        if self.variances is not None:
            parts.append(self.variances[self.continuous])
        return np.concatenate([*parts, self.covariances[r, c]])

    @property
    def n_thresholds(self) -> int:
        """Threshold slots: the ordinal items' thresholds and one per continuous item."""
        return sum(len(t) for t in self.thresholds)

    @property
    def n_univariate(self) -> int:
        """Statistics before the covariances: thresholds, and continuous items' variances."""
        return self.n_thresholds + int(self.continuous.sum())

    @property
    def weights(self) -> np.ndarray:
        """The DWLS weights: the inverse of gamma's diagonal."""
        return 1.0 / np.diag(self.gamma)


def categories(column: np.ndarray) -> tuple[float, ...]:
    values = column[~np.isnan(column)]
    return tuple(float(v) for v in np.unique(values))


def _polyserial(z: np.ndarray, tau: np.ndarray, cat: np.ndarray, start: float) -> float:
    """The two-step polyserial correlation: ML on rho with the continuous item's mean and
    variance and the ordinal item's thresholds fixed."""
    from scipy.optimize import minimize_scalar

    t = np.clip(_extended(tau), -BIG, BIG)
    upper, lower = t[cat + 1], t[cat]

    def minus_loglik(rho: float) -> float:
        s = np.sqrt(1 - rho * rho)
        prob = special.ndtr((upper - rho * z) / s) - special.ndtr((lower - rho * z) / s)
        return -float(np.sum(np.log(np.maximum(prob, 1e-300))))

    found = minimize_scalar(
        minus_loglik, bounds=(-BOUND, BOUND), method="bounded", options={"xatol": 1e-12}
    )
    return float(found.x)


def ordinal_sample(
    rows: np.ndarray,
    levels: tuple[tuple[float, ...], ...] | None = None,
    asymptotic: bool = True,
    numeric: tuple[bool, ...] | None = None,
) -> OrdinalSample:
    """Thresholds, polychoric correlations and their asymptotic covariance from an n x p array
    of answers (NaN: missing, handled pairwise). ``levels`` fixes each item's categories
    (the same in every group); by default the categories seen. Without ``asymptotic`` the
    casewise scores and gamma are skipped (gamma is then empty). ``numeric`` marks continuous
    items (means, variances, Pearson and polyserial correlations; lavaan's mixed case)."""
    n, p = rows.shape
    mixed = tuple(numeric) if numeric is not None else (False,) * p
    cont = np.array(mixed, dtype=bool)
    if levels is None:
        levels = tuple(() if mixed[j] else categories(rows[:, j]) for j in range(p))
    present = ~np.isnan(rows)
    codes = np.full((n, p), -1, dtype=np.int64)
    for j, lev in enumerate(levels):
        ok = present[:, j]
        codes[ok, j] = 0 if mixed[j] else np.searchsorted(np.array(lev), rows[ok, j])
    if cont.any():  # continuous answers: every row is its own pattern
        patterns, w, values = codes, np.ones(n), rows
    else:
        patterns, counts = np.unique(codes, axis=0, return_counts=True)
        w, values = counts.astype(float), None
    here = patterns >= 0

    thresholds, th_scores = [], []
    means, variances = np.zeros(p), np.ones(p)
    var_scores: dict[int, np.ndarray] = {}
    z = np.zeros_like(patterns, dtype=float)
    for j, lev in enumerate(levels):
        ok = here[:, j]
        if mixed[j]:
            assert values is not None
            y = values[:, j]
            mu = float(np.mean(y[ok]))
            var = float(np.mean((y[ok] - mu) ** 2))
            means[j], variances[j] = mu, var
            d = np.where(ok, y - mu, 0.0)
            z[:, j] = d / np.sqrt(var)
            thresholds.append(np.array([-mu]))
            th_scores.append((np.where(ok, d / var, 0.0))[:, None])
            var_scores[j] = np.where(ok, (d * d / var - 1) / (2 * var), 0.0)
            continue
        k = len(lev)
        freq = np.bincount(patterns[ok, j], weights=w[ok], minlength=k)
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
        sc[ok] = table[patterns[ok, j]]
        th_scores.append(sc)

    pairs = [(int(a), int(b)) for a, b in zip(*np.tril_indices(p, -1), strict=True)]
    corr = np.eye(p)
    answered = np.zeros((p, p))
    rho_scores = np.zeros((len(patterns), len(pairs)))
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in thresholds])])
    n_th = int(offsets[-1])
    var_slot = {j: n_th + k for k, j in enumerate(sorted(var_scores))}
    n_uni = n_th + len(var_slot)
    a21 = np.zeros((len(pairs), n_uni))
    h21 = np.zeros((len(pairs), n_uni))
    h22 = np.ones(len(pairs))
    for q, (i, j) in enumerate(pairs):
        both = here[:, i] & here[:, j]
        answered[i, j] = answered[j, i] = float(w[both].sum())
        if mixed[i] and mixed[j]:
            rho = _pearson_fixed(z[both, i], z[both, j])
            corr[i, j] = corr[j, i] = rho
            h22[q] = np.sqrt(variances[i] * variances[j])
            h21[q, var_slot[i]] = np.sqrt(variances[j]) * rho / (2 * np.sqrt(variances[i]))
            h21[q, var_slot[j]] = np.sqrt(variances[i]) * rho / (2 * np.sqrt(variances[j]))
            if not asymptotic:
                continue
            zi, zj = z[:, i], z[:, j]
            one = 1 - rho * rho
            s_rho = (rho * one + (1 + rho * rho) * zi * zj - rho * (zi * zi + zj * zj)) / one**2
            s_rho = np.where(both, s_rho, 0.0)
            rho_scores[:, q] = s_rho
            for u, v in ((i, j), (j, i)):
                sd = np.sqrt(variances[u])
                d_mu = (z[:, u] - rho * z[:, v]) / (one * sd)
                d_var = (-1 + z[:, u] * (z[:, u] - rho * z[:, v]) / one) / (2 * variances[u])
                a21[q, offsets[u]] = float(np.sum(w * s_rho * d_mu))
                a21[q, var_slot[u]] = float(np.sum(w * s_rho * d_var))
            continue
        if mixed[i] or mixed[j]:
            u, o = (i, j) if mixed[i] else (j, i)
            cat = patterns[both, o]
            start = float(np.corrcoef(z[both, u], cat)[0, 1]) if both.sum() > 2 else 0.0
            rho = _polyserial(z[both, u], thresholds[o], cat, np.nan_to_num(start))
            corr[i, j] = corr[j, i] = rho
            h22[q] = np.sqrt(variances[u])
            h21[q, var_slot[u]] = rho / (2 * np.sqrt(variances[u]))
            if not asymptotic:
                continue
            s = np.sqrt(1 - rho * rho)
            t = np.clip(_extended(thresholds[o]), -BIG, BIG)
            cat_all = np.where(both, patterns[:, o], 0)
            zu = np.where(both, z[:, u], 0.0)
            a = (t[cat_all + 1] - rho * zu) / s
            b = (t[cat_all] - rho * zu) / s
            prob = np.maximum(special.ndtr(a) - special.ndtr(b), 1e-300)
            fa, fb = _norm_pdf(a), _norm_pdf(b)
            s_rho = (fa * (-zu / s + a * rho / s**2) - fb * (-zu / s + b * rho / s**2)) / prob
            s_rho = np.where(both, s_rho, 0.0)
            rho_scores[:, q] = s_rho
            sd = np.sqrt(variances[u])
            d_mu = zu / sd + (fa - fb) * (rho / (s * sd)) / prob
            d_var = (-1 + zu * zu) / (2 * variances[u]) + (fa - fb) * (
                rho * zu / (2 * s * variances[u])
            ) / prob
            a21[q, offsets[u]] = float(np.sum(w * s_rho * np.where(both, d_mu, 0.0)))
            a21[q, var_slot[u]] = float(np.sum(w * s_rho * np.where(both, d_var, 0.0)))
            k = len(thresholds[o])
            d_th = np.zeros((len(patterns), k))
            rows_at = np.arange(len(patterns))
            top = cat_all < k  # the upper bound tau_a exists
            d_th[rows_at[top], cat_all[top]] += (fa / (s * prob))[top]
            low = cat_all > 0
            d_th[rows_at[low], cat_all[low] - 1] -= (fb / (s * prob))[low]
            d_th[~both] = 0.0
            a21[q, offsets[o] : offsets[o + 1]] = (w * s_rho) @ d_th
            continue
        ki, kj = len(levels[i]), len(levels[j])
        cells_n = np.zeros((ki, kj))
        np.add.at(cells_n, (patterns[both, i], patterns[both, j]), w[both])
        rho = polychoric(thresholds[i], thresholds[j], cells_n, _pearson(cells_n))
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
        answered[j, j] = float(np.sum(w[here[:, j]]))
    var_out = variances if cont.any() else None
    if not asymptotic:
        return OrdinalSample(
            levels, tuple(thresholds), corr, np.empty((0, 0)), n, answered, mixed, var_out
        )

    extra = [var_scores[j][:, None] for j in sorted(var_scores)]
    scores = np.hstack([*th_scores, *extra, rho_scores])
    inner = scores.T @ (scores * w[:, None])
    a11_inv = np.zeros((n_uni, n_uni))
    for j in range(p):
        block = list(range(int(offsets[j]), int(offsets[j + 1])))
        if j in var_slot:
            block.append(var_slot[j])
        a11_inv[np.ix_(block, block)] = np.linalg.inv(inner[np.ix_(block, block)])
    a22_inv = 1.0 / np.diag(inner)[n_uni:]
    b_inv = np.zeros_like(inner)
    b_inv[:n_uni, :n_uni] = a11_inv
    b_inv[n_uni:, :n_uni] = -(a22_inv[:, None] * a21) @ a11_inv
    b_inv[n_uni:, n_uni:] = np.diag(a22_inv)
    acov = b_inv @ inner @ b_inv.T
    if cont.any():
        # From (means, variances, correlations) to (-means, variances, covariances), as the
        # statistics are (lavaan's H and its sign for the means).
        h = np.eye(len(inner))
        h[n_uni:, :n_uni] = h21
        h[n_uni:, n_uni:] = np.diag(h22)
        acov = h @ acov @ h.T
        flip = np.ones(len(inner))
        flip[[int(offsets[j]) for j in range(p) if mixed[j]]] = -1.0
        acov = acov * np.outer(flip, flip)
    return OrdinalSample(levels, tuple(thresholds), corr, n * acov, n, answered, mixed, var_out)


def _pearson_fixed(zi: np.ndarray, zj: np.ndarray) -> float:
    """The ML correlation of two standardised continuous items with their means and
    variances fixed (the root of the bivariate normal score; Pearson's r when both answered
    the same rows)."""
    m = len(zi)
    r, sii, sjj = float(zi @ zj) / m, float(zi @ zi) / m, float(zj @ zj) / m
    rho = float(np.clip(r, -0.9, 0.9))
    for _ in range(50):
        one = 1 - rho * rho
        f = rho * one + (1 + rho * rho) * r - rho * (sii + sjj)
        df = one - 2 * rho * rho + 2 * rho * r - (sii + sjj)
        step = f / df
        rho = float(np.clip(rho - step, -BOUND, BOUND))
        if abs(step) < 1e-14:
            break
    return rho


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
