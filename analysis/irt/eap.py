"""Expected a posteriori (EAP) scores on the theta metric, from any subset of a scale's items.

A respondent's posterior over the quadrature nodes is the standard normal prior times the
probability of each answer given; items not answered are left out. The EAP is the posterior
mean and its standard error the posterior SD. T-scores put theta on the metric PROMIS uses:
``T = 50 + 10 * theta``, mean 50 and SD 10 in the calibration sample's population.
"""

from __future__ import annotations

import numpy as np

from .grm import LOG_WEIGHTS, NODES, probabilities


def log_likelihood(
    answers: np.ndarray, slopes: np.ndarray, intercepts: tuple[np.ndarray, ...]
) -> np.ndarray:
    """Each row's log-likelihood at each node (``n x Q``); ``answers`` are category indices,
    -1 where not answered."""
    out = np.zeros((answers.shape[0], len(NODES)))
    for i in range(answers.shape[1]):
        logp = np.log(probabilities(float(slopes[i]), intercepts[i], NODES))
        col = answers[:, i]
        answered = col >= 0
        out[answered] += logp[col[answered]]
    return out


def posterior_moments(log_like: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and SD of theta from log-likelihoods at the nodes (prior N(0, 1))."""
    log_post = log_like + LOG_WEIGHTS[None, :]
    log_post -= log_post.max(axis=1, keepdims=True)
    post = np.exp(log_post)
    post /= post.sum(axis=1, keepdims=True)
    mean = post @ NODES
    var = post @ NODES**2 - mean**2
    return mean, np.sqrt(np.maximum(var, 0.0))


def eap(
    answers: np.ndarray, slopes: np.ndarray, intercepts: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """EAP theta and its standard error per row; a row with no answer gets the prior (0, 1)."""
    return posterior_moments(log_likelihood(answers, slopes, intercepts))


def t_score(theta: np.ndarray) -> np.ndarray:
    return 50.0 + 10.0 * np.asarray(theta)
