"""Two-level FIML: every answer counts, a row contributing what it answered (lavaan's
``lav_mvnorm_cluster_missing``, for items at both levels).

A cluster's observed answers stacked have covariance ``V = D + E Sigma_B E'``: ``D`` the
within covariance of each row's answered items (block diagonal), ``E`` the rows' selection of
the items. With ``A = E' D^-1 E`` and ``p = E' D^-1 r`` (``r`` the answers less ``mu``), the
determinant and the quadratic form follow from the within blocks and one p x p system per
cluster:

``log|V| = sum_i log|W_i| + log|I + Sigma_B A|``,
``r' V^-1 r = sum_i r_i' W_i^-1 r_i - p' (I + Sigma_B A)^-1 Sigma_B p``.

The gradient is analytic: with ``N = (I + Sigma_B A)^-1 Sigma_B``, ``t = N p`` and
``q = p - A t``, the derivative of ``-2 log L`` by ``Sigma_B`` is ``sum_j (A - A N A - q q')``,
by ``mu`` ``-2 sum_j q``, and by ``Sigma_W`` ``sum_i (A_i - A_i N A_i - z_i z_i')`` with
``A_i`` the row's inverse within block and ``z_i = A_i (r_i - t)``. Rows sharing a pattern of
answered items share their within block, so the work is one inverse per pattern; clusters
whose rows have the same patterns (three complete sessions, say) share ``A``, and so the
``p x p`` system and its determinant: one per such composition, not one per cluster.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..linalg import by_size, positive_inverses
from ..matrices import Representation
from .likelihood import LevelMoments, TwoLevelML, expected_information
from .moments import ClusterMoments, SizeGroup


@dataclass(frozen=True)
class ClusterRows:
    """The rows as answered (NaN: not answered), their clusters and missing-data patterns."""

    rows: np.ndarray  # N x p
    clusters: np.ndarray  # per row, its cluster (0 .. J-1)
    n_clusters: int
    patterns: np.ndarray  # K x p, True where answered
    pattern_of: np.ndarray  # per row, its pattern
    compositions: np.ndarray  # C x K: the distinct counts of rows of each pattern in a cluster
    composition_of: np.ndarray  # per cluster, its composition
    multiplicity: np.ndarray  # per composition, how many clusters have it
    # The rows pattern by pattern, their clusters, and where each pattern's rows are: a
    # pattern's rows are then a slice, which numpy takes without a copy (taking them by their
    # numbers, pattern by pattern, was most of the likelihood's time).
    ordered: np.ndarray
    ordered_clusters: np.ndarray
    spans: tuple[tuple[int, int], ...]
    pattern_rows: np.ndarray  # per pattern, how many rows have it
    # The patterns by how many items they answer: those patterns, and each one's items (a
    # row per pattern), so that the within blocks of one size are inverted together.
    by_count: tuple[tuple[np.ndarray, np.ndarray], ...]

    @property
    def n(self) -> int:
        return len(self.rows)

    @property
    def answered(self) -> int:
        return int(self.pattern_rows @ self.patterns.sum(axis=1))

    def sizes(self) -> ClusterMoments:
        """The cluster sizes, as the expected information of complete data of the same sizes
        needs them (the optimiser's approximate Hessian); no moments."""
        sizes = np.bincount(self.clusters, minlength=self.n_clusters)
        p = self.rows.shape[1]
        zero, zeros = np.zeros(p), np.zeros((p, p))
        groups = tuple(
            SizeGroup(int(s), int(np.sum(sizes == s)), zero, zeros) for s in np.unique(sizes)
        )
        return ClusterMoments(self.n, self.n_clusters, zeros, groups, sizes)


def cluster_rows(rows: np.ndarray, clusters: np.ndarray) -> ClusterRows:
    """``rows`` with NaN for a missing answer (a row answers at least one item) and each row's
    cluster code."""
    answered = ~np.isnan(rows)
    patterns, pattern_of = np.unique(answered, axis=0, return_inverse=True)
    pattern_of = pattern_of.reshape(-1)
    n_clusters = int(clusters.max()) + 1
    counts = np.zeros((n_clusters, len(patterns)))
    np.add.at(counts, (clusters, pattern_of), 1.0)
    compositions, composition_of = np.unique(counts, axis=0, return_inverse=True)
    composition_of = composition_of.reshape(-1)
    multiplicity = np.bincount(composition_of, minlength=len(compositions)).astype(float)
    order = np.argsort(pattern_of, kind="stable")
    bounds = np.searchsorted(pattern_of[order], np.arange(len(patterns) + 1))
    spans = tuple((int(a), int(b)) for a, b in itertools.pairwise(bounds))
    by_count = by_size([np.flatnonzero(answered) for answered in patterns])
    return ClusterRows(
        rows,
        clusters,
        n_clusters,
        patterns,
        pattern_of,
        compositions,
        composition_of,
        multiplicity,
        rows[order],
        clusters[order],
        spans,
        np.diff(bounds),
        by_count,
    )


@dataclass(frozen=True)
class _Terms:
    loglik: float
    blocks: np.ndarray  # K x p x p: each pattern's inverse within block, zero-padded
    u: np.ndarray  # N x p: A_i r_i, the rows pattern by pattern
    a: np.ndarray  # C x p x p: per composition of clusters
    t: np.ndarray  # J x p
    q: np.ndarray  # J x p
    n_matrix: np.ndarray  # C x p x p: (I + B A)^-1 B, per composition


def _terms(m: LevelMoments, data: ClusterRows) -> _Terms | None:
    p = len(m.mu)
    k = len(data.patterns)
    blocks = np.zeros((k, p, p))
    logdet_w = np.zeros(k)
    for which, items in data.by_count:
        found = positive_inverses(m.within[items[:, :, None], items[:, None, :]])
        if found is None:
            return None
        blocks[which[:, None, None], items[:, :, None], items[:, None, :]], logdet_w[which] = found
    r = np.where(np.isnan(data.ordered), 0.0, data.ordered - m.mu)
    u = np.empty_like(r)
    for j, (start, stop) in enumerate(data.spans):
        np.matmul(r[start:stop], blocks[j], out=u[start:stop])
    a = np.tensordot(data.compositions, blocks, axes=1)
    cluster_p = np.zeros((data.n_clusters, p))
    np.add.at(cluster_p, data.ordered_clusters, u)
    system = np.eye(p)[None] + m.between[None] @ a
    sign, logdet_m = np.linalg.slogdet(system)
    if np.any(sign <= 0):
        return None
    try:
        n_matrix = np.linalg.solve(system, np.broadcast_to(m.between, system.shape))
    except np.linalg.LinAlgError:
        return None
    of = data.composition_of
    t = (n_matrix[of] @ cluster_p[:, :, None])[:, :, 0]
    q = cluster_p - (a[of] @ t[:, :, None])[:, :, 0]
    quad = float(np.sum(u * r)) - float(np.sum(cluster_p * t))
    logdet = float(data.pattern_rows @ logdet_w) + float(data.multiplicity @ logdet_m)
    loglik = -0.5 * (data.answered * np.log(2 * np.pi) + logdet + quad)
    return _Terms(loglik, blocks, u, a, t, q, n_matrix)


def fiml_loglik(m: LevelMoments, data: ClusterRows) -> float:
    terms = _terms(m, data)
    return -np.inf if terms is None else terms.loglik


class TwoLevelFIML(TwoLevelML):
    """``-log L / N`` of a two-level model over the answers as given: the same interface as
    :class:`.likelihood.TwoLevelML` (and its expected information of complete data of the same
    cluster sizes as the optimiser's Hessian)."""

    def __init__(self, rep: Representation, data: ClusterRows) -> None:
        super().__init__(rep, data.sizes())
        self.data = data

    def loglik(self, theta: np.ndarray) -> float:
        return fiml_loglik(self.moments(theta), self.data)

    def moment_gradient(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        m = self.moments(theta)
        terms = _terms(m, self.data)
        if terms is None:
            return None
        return fiml_moment_gradient(terms, self.data, self.rep.vech, self.double)


def fiml_moment_gradient(
    terms: _Terms,
    data: ClusterRows,
    vech: tuple[np.ndarray, np.ndarray],
    double: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``d(-log L)/d[mu, vech Sigma]`` of the within block (no means) and the between block."""
    a, n_matrix, t, q, blocks = terms.a, terms.n_matrix, terms.t, terms.q, terms.blocks
    times = data.multiplicity
    g_b = np.tensordot(times, a - a @ n_matrix @ a, axes=1) - q.T @ q
    g_mu = -2.0 * q.sum(axis=0)
    weighted = np.tensordot((data.compositions * times[:, None]).T, n_matrix, axes=1)
    g_w = np.tensordot(data.pattern_rows, blocks, axes=1)
    g_w -= np.sum(blocks @ weighted @ blocks, axis=0)
    z = terms.u.copy()
    shared = t[data.ordered_clusters]
    for k, (start, stop) in enumerate(data.spans):
        z[start:stop] -= shared[start:stop] @ blocks[k]
    g_w -= z.T @ z
    rows, cols = vech
    p = len(g_mu)
    return (
        np.concatenate([np.zeros(p), 0.5 * g_w[rows, cols] * double]),
        np.concatenate([0.5 * g_mu, 0.5 * g_b[rows, cols] * double]),
    )


class CholeskyUnrestricted:
    """The unrestricted two-level model over the answers as given, each level's covariance as
    ``L L'`` (lavaan's ``lav_partable_unrestricted_chol``): the between covariance stays
    positive semi-definite, as lavaan holds it. Parameters ``[mu, vech L_W, vech L_B]``; the
    optimiser's Hessian is the expected information of complete data of these cluster sizes,
    taken through ``d vech(L L') / d vech L``."""

    def __init__(self, data: ClusterRows) -> None:
        self.data = data
        self.sizes = data.sizes()
        p = data.rows.shape[1]
        self.p = p
        self.vech = np.tril_indices(p)
        rows, cols = self.vech
        self.double = np.where(rows == cols, 1.0, 2.0)

    def moments(self, theta: np.ndarray) -> LevelMoments:
        p, k = self.p, len(self.vech[0])
        return LevelMoments(theta[:p], self._square(theta[p : p + k]), self._square(theta[p + k :]))

    def _factor(self, values: np.ndarray) -> np.ndarray:
        out = np.zeros((self.p, self.p))
        out[self.vech] = values
        return out

    def _square(self, values: np.ndarray) -> np.ndarray:
        factor = self._factor(values)
        return factor @ factor.T

    def start(self, m: LevelMoments) -> np.ndarray:
        """From moments (EM's on the filled rows), each covariance nudged positive definite."""

        def factor(cov: np.ndarray) -> np.ndarray:
            ridge = 1e-6 * float(np.mean(np.diag(cov)))
            return np.linalg.cholesky(cov + ridge * np.eye(self.p))[self.vech]

        return np.concatenate([m.mu, factor(m.within), factor(m.between)])

    def loglik(self, theta: np.ndarray) -> float:
        return fiml_loglik(self.moments(theta), self.data)

    def value(self, theta: np.ndarray) -> float:
        return -self.loglik(theta) / self.data.n

    def _jacobian(self, values: np.ndarray) -> np.ndarray:
        """``d vech(L L') / d vech L``: ``dSigma_ij = delta_ia L_jb + L_ib delta_ja``."""
        factor = self._factor(values)
        rows, cols = self.vech
        out = np.zeros((len(rows), len(rows)))
        for m, (a, b) in enumerate(zip(rows, cols, strict=True)):
            out[:, m] = np.where(rows == a, factor[cols, b], 0.0) + np.where(
                cols == a, factor[rows, b], 0.0
            )
        return out

    def _delta(self, theta: np.ndarray) -> np.ndarray:
        """The Jacobian of ``[mu_W, vech Sigma_W, mu_B, vech Sigma_B]`` by the parameters."""
        p, k = self.p, len(self.vech[0])
        out = np.zeros((2 * (p + k), p + 2 * k))
        out[p : p + k, p : p + k] = self._jacobian(theta[p : p + k])
        out[p + k : 2 * p + k, :p] = np.eye(p)
        out[2 * p + k :, p + k :] = self._jacobian(theta[p + k :])
        return out

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        terms = _terms(self.moments(theta), self.data)
        if terms is None:
            return np.full(len(theta), np.nan)
        within, between = fiml_moment_gradient(terms, self.data, self.vech, self.double)
        return self._delta(theta).T @ np.concatenate([within, between]) / self.data.n

    def hessian(self, theta: np.ndarray) -> np.ndarray:
        delta = self._delta(theta)
        info = expected_information(self.moments(theta), self.sizes, self.vech)
        return delta.T @ info @ delta / self.data.n
