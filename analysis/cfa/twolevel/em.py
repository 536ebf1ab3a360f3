"""The unrestricted two-level model (lavaan's h1) by EM, as lavaan fits it on complete data
(``lav_mvnorm_cluster_em_sat``): from identity covariances and zero means, each patient's
between component is the missing datum; iterations stop when the log-likelihood rises by less
than 1e-4 (at most 5,000). EM keeps the between covariance positive semi-definite, so where the
free maximum would make it indefinite (few patients for many items) this is the maximum lavaan
reports, and the chi-square, SRMR and ICCs are taken against it.

Every sum runs over the cluster sizes (:mod:`.moments`): a patient's posterior mean is linear
in its mean, so the sums of posterior means and their products follow from the sums of the
patients' means and their products.
"""

from __future__ import annotations

import numpy as np

from .likelihood import LevelMoments, loglik
from .moments import ClusterMoments

TOLERANCE = 1e-4
MAX_ITERATIONS = 5000
MIN_VARIANCE = 1e-5


def em_unrestricted(stats: ClusterMoments) -> tuple[LevelMoments, float]:
    """The unrestricted moments and their log-likelihood."""
    p = stats.p
    sigma_w, sigma_b = np.eye(p), np.eye(p)
    mu_w, mu_b = np.zeros(p), np.zeros(p)
    # Sums the E-step needs: per size the patients' means summed and their products summed.
    raw = (stats.n - stats.clusters) * stats.within  # within-patient scatter
    sums, products = [], []
    for g in stats.sizes:
        sums.append(g.count * g.mean)
        products.append(g.count * (g.cov + np.outer(g.mean, g.mean)))
        raw = raw + g.size * products[-1]  # sum over rows of y y'
    current = LevelMoments(mu_w + mu_b, sigma_w, sigma_b)
    f_old = loglik(current, stats)
    for _ in range(MAX_ITERATIONS):
        mu = mu_w + mu_b
        mw = np.zeros(p)
        mb = np.zeros(p)
        cw2 = np.zeros((p, p))
        cb = np.zeros((p, p))
        for g, total, prod in zip(stats.sizes, sums, products, strict=True):
            omega_inv = np.linalg.inv((sigma_w + g.size * sigma_b) / g.size)
            a = omega_inv @ sigma_b  # E(v | ybar) = mu_b + (ybar - mu) a
            centred = total - g.count * mu  # sum of (ybar - mu)
            ev_sum = g.count * mu_b + centred @ a
            # sum of (ybar - mu)(ybar - mu)'
            dd = prod - np.outer(total, mu) - np.outer(mu, total) + g.count * np.outer(mu, mu)
            ev_ev = (
                g.count * np.outer(mu_b, mu_b)
                + np.outer(mu_b, centred @ a)
                + np.outer(centred @ a, mu_b)
                + a.T @ dd @ a
            )
            cov_v = g.count * (sigma_b - sigma_b @ omega_inv @ sigma_b)
            evv = (cov_v + cov_v.T) / 2 + ev_ev
            # sum of ybar E(v)'
            y_ev = np.outer(total, mu_b) + (prod - np.outer(total, mu)) @ a
            mw += g.size * (total - ev_sum)
            mb += ev_sum
            cw2 += g.size * (evv - y_ev - y_ev.T)
            cb += evv
        mu_w = mw / stats.n
        mu_b = mb / stats.clusters
        sigma_w = (raw + cw2) / stats.n - np.outer(mu_w, mu_w)
        sigma_b = cb / stats.clusters - np.outer(mu_b, mu_b)
        checked = sigma_w.copy()
        small = np.diag(checked) < MIN_VARIANCE
        if small.any():
            checked[small, :] = checked[:, small] = 0.0
            checked[small, small] = MIN_VARIANCE
            sigma_w = checked
        current = LevelMoments(mu_w + mu_b, sigma_w, sigma_b)
        f = loglik(current, stats)
        if f - f_old < TOLERANCE:
            break
        f_old = f
    return current, f
