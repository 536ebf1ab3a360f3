"""The two-level sample statistics: within-patient and between-patient moments.

For rows ``y_ij`` (session i of patient j, ``n_j`` sessions, N rows in J patients) the
likelihood depends on the data only through
- the pooled within-patient covariance ``S_PW = sum_j sum_i (y_ij - ybar_j)(y_ij - ybar_j)' /
  (N - J)``,
- for each cluster size s: how many patients have it (``m_s``), the mean of their means and
  the covariance of their means about it (denominator ``m_s``),
as lavaan's ``lav_mvnorm_cluster`` groups them. A fit costs the number of distinct cluster
sizes, not the number of patients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SizeGroup:
    size: int  # sessions per patient
    count: int  # patients with that many sessions
    mean: np.ndarray  # mean of their patient means
    cov: np.ndarray  # covariance of their patient means (denominator count)


@dataclass(frozen=True)
class ClusterMoments:
    n: int  # rows
    clusters: int  # patients
    within: np.ndarray  # S_PW, denominator N - J
    sizes: tuple[SizeGroup, ...]
    cluster_sizes: np.ndarray  # each cluster's number of rows

    @property
    def p(self) -> int:
        return len(self.within)

    @property
    def grand_mean(self) -> np.ndarray:
        """The mean of the patient means (each patient once)."""
        return np.sum([g.count * g.mean for g in self.sizes], axis=0) / self.clusters

    @property
    def between(self) -> np.ndarray:
        """The covariance of the patient means, each patient once (denominator J)."""
        centre = self.grand_mean
        total = np.zeros_like(self.within)
        for g in self.sizes:
            d = g.mean - centre
            total += g.count * (g.cov + np.outer(d, d))
        return total / self.clusters


def cluster_moments(rows: np.ndarray, clusters: np.ndarray) -> ClusterMoments:
    """``rows``: N x p complete answers; ``clusters``: each row's cluster code (0, 1, ...)."""
    n, p = rows.shape
    counts = np.bincount(clusters)
    present = counts > 0
    sums = np.zeros((len(counts), p))
    np.add.at(sums, clusters, rows)
    means = sums[present] / counts[present][:, None]
    sizes = counts[present]
    dev = rows - (sums / np.maximum(counts, 1)[:, None])[clusters]
    j = len(sizes)
    within = dev.T @ dev / (n - j)
    groups = []
    for size in np.unique(sizes):
        these = means[sizes == size]
        centre = these.mean(axis=0)
        d = these - centre
        groups.append(SizeGroup(int(size), len(these), centre, d.T @ d / len(these)))
    return ClusterMoments(n, j, within, tuple(groups), sizes)
