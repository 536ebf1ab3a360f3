"""Cluster-robust inference: rows that are not independent (the sessions of one patient) enter
the robust statistics as clusters, as lavaan's ``cluster =`` does on a single-level model
(lavaan 0.6, ``se = "robust.cluster"``, ``test = "yuan.bentler.mplus"``).

The estimates are ML's (FIML's under missing answers). What changes is the meat of every
sandwich: the casewise scores are summed within each cluster before their outer products are
taken, so that the sessions of one patient count as one draw, and the products are multiplied
by ``C / (C - 1)``, C the clusters of a group, as lavaan does for the fitted model (the
standard errors, the fitted model's trace in the scaling factor), the unrestricted model (the
saturated trace) and the independence model (the baseline's scaling) alike.

Everything else (the observed-information bread, the Yuan-Bentler scaled statistic, the robust
CFI, TLI and RMSEA) is MLR's, and a mean structure is always fitted, as lavaan does.
"""

from __future__ import annotations

import numpy as np

from .fiml import FIML, embed
from .missing import Pattern, pattern_inverses
from .ml import BLOCK_ROWS, ML, GroupState, moment_scores


def cluster_products(scores: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """``C / (C - 1) sum_c z_c z_c'`` with ``z_c`` the sum of the scores of cluster c's
    rows."""
    count = int(clusters.max()) + 1
    sums = np.zeros((count, scores.shape[1]))
    _add_sums(sums, scores, clusters)
    return sums.T @ sums * (count / (count - 1))


def moment_cluster_products(
    inv: np.ndarray,
    deviations: np.ndarray,
    vech: tuple[np.ndarray, np.ndarray],
    means: bool,
    clusters: np.ndarray,
) -> np.ndarray:
    """:func:`cluster_products` of the rows' moment scores (:func:`~.ml.moment_scores`),
    summed a block of rows at a time: memory holds the clusters' sums, not every row's
    scores."""
    count = int(clusters.max()) + 1
    sums: np.ndarray | None = None
    for start in range(0, len(deviations), BLOCK_ROWS):
        block = moment_scores(inv, deviations[start : start + BLOCK_ROWS], vech, means)
        if sums is None:
            sums = np.zeros((count, block.shape[1]))
        _add_sums(sums, block, clusters[start : start + BLOCK_ROWS])
    assert sums is not None
    return sums.T @ sums * (count / (count - 1))


def pattern_cluster_products(
    found: tuple[Pattern, ...],
    mu: np.ndarray,
    sigma: np.ndarray,
    vech: tuple[np.ndarray, np.ndarray],
    clusters: np.ndarray,
) -> np.ndarray:
    """Under FIML: :func:`cluster_products` of the rows' scores by ``[mu, vech Sigma]`` (zero
    for the moments of items a row did not answer), pattern by pattern."""
    p = len(mu)
    count = int(clusters.max()) + 1
    sums = np.zeros((count, p + len(vech[0])))
    for pat, observed_inv in zip(found, pattern_inverses(found, sigma), strict=True):
        o = pat.index
        inv = embed(observed_inv, o, p)
        within = clusters[pat.positions]
        for start in range(0, pat.n, BLOCK_ROWS):
            dev = np.zeros((min(BLOCK_ROWS, pat.n - start), p))
            dev[:, o] = pat.rows[start : start + BLOCK_ROWS] - mu[o]
            scores = moment_scores(inv, dev, vech, True)
            _add_sums(sums, scores, within[start : start + BLOCK_ROWS])
    return sums.T @ sums * (count / (count - 1))


def _add_sums(sums: np.ndarray, scores: np.ndarray, clusters: np.ndarray) -> None:
    """Add to each cluster's row of ``sums`` the sum of its rows' scores: the rows ordered by
    cluster, each cluster's run summed at once. (A bincount per column, each as long as the
    clusters, took 2.3 s of a 20 s `validate` of 3,800 sessions by 166 answer patterns.)"""
    if not len(clusters):
        return
    order = np.argsort(clusters, kind="stable")
    ordered = clusters[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    sums[ordered[starts]] += np.add.reduceat(scores[order], starts, axis=0)


class ClusteredML(ML):
    """ML whose casewise score products are summed within clusters: the same objective,
    gradient and information as :class:`~.ml.ML`, a cluster-robust meat."""

    name = "ml-cluster"

    def moment_products(self, state: GroupState, g: int) -> np.ndarray:
        sample = self.stats.groups[g]
        assert sample.clusters is not None
        dev = sample.rows - (state.mu if state.mu is not None else sample.mean)
        return moment_cluster_products(
            state.inv, dev, self.rep.vech, self.rep.meanstructure, sample.clusters
        )


class ClusteredFIML(FIML):
    """FIML whose casewise score products are summed within clusters."""

    name = "fiml-cluster"

    def moment_products(self, state: GroupState, g: int) -> np.ndarray:
        assert state.mu is not None
        sample = self.stats.groups[g]
        assert sample.clusters is not None
        return pattern_cluster_products(
            sample.patterns, state.mu, state.sigma, self.rep.vech, sample.clusters
        )
