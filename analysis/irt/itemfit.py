"""Item fit and local dependence for a calibrated scale.

**S-X2** (Orlando and Thissen, 2000; Kang and Chen, 2008 for polytomous items): among the
respondents who answered every item of the scale, group them by summed score; per group and
category compare the observed share with the share the model expects, which comes from the
summed-score distribution of the other items (Lord and Wingersky's recursion) integrated over
theta. Adjacent score groups are merged until every expected count is at least 1; the
statistic is Pearson's over the cells, with ``groups x (K - 1) - parameters`` degrees of
freedom, and its RMSEA says how large a misfit is apart from the sample size.

**Q3** (Yen, 1984): the correlation of two items' residuals (answer minus the model's
expected answer at the respondent's EAP). Its average is slightly negative even when the
model holds, so each pair is judged by Q3 minus the average of all pairs (Christensen et al.,
2017); more than 0.2 flags a locally dependent pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

from .grm import NODES, WEIGHTS, expected_score, probabilities, summed_score_likelihood

Q3_FLAG = 0.2


@dataclass(frozen=True)
class SX2:
    statistic: float
    df: int
    p: float
    rmsea: float
    groups: int  # score groups after merging


def _merge_groups(observed: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge adjacent rows (score groups) until every expected count is at least 1."""
    obs, exp = [observed[0].copy()], [expected[0].copy()]
    for o, e in zip(observed[1:], expected[1:], strict=True):
        if exp[-1].min() < 1.0:
            obs[-1] += o
            exp[-1] += e
        else:
            obs.append(o.copy())
            exp.append(e.copy())
    # The last group may still be short: fold it into the one before.
    while len(exp) > 1 and exp[-1].min() < 1.0:
        last_o, last_e = obs.pop(), exp.pop()
        obs[-1] += last_o
        exp[-1] += last_e
    return np.array(obs), np.array(exp)


def s_x2(answers: np.ndarray, slopes: np.ndarray, intercepts: tuple[np.ndarray, ...]) -> list[SX2]:
    """S-X2 of every item, from the rows with every item answered (category indices)."""
    complete = answers[(answers >= 0).all(axis=1)]
    probs = [probabilities(float(a), d, NODES) for a, d in zip(slopes, intercepts, strict=True)]
    total = complete.sum(axis=1)
    max_total = sum(p.shape[0] - 1 for p in probs)
    n_by_total = np.bincount(total, minlength=max_total + 1).astype(float)
    density = summed_score_likelihood(probs) @ WEIGHTS  # P(total = s)
    # The extreme totals fix every answer; groups nobody reached carry nothing.
    totals = np.arange(max_total + 1)
    inner = (n_by_total > 0) & (totals > 0) & (totals < max_total)
    out = []
    for i, p_i in enumerate(probs):
        k = p_i.shape[0]
        rest = summed_score_likelihood(probs[:i] + probs[i + 1 :])  # (S_rest + 1, Q)
        joint = np.zeros((max_total + 1, k))
        for c in range(k):
            joint[c : c + rest.shape[0], c] = (rest * p_i[c]) @ WEIGHTS
        with np.errstate(invalid="ignore", divide="ignore"):
            share = joint / density[:, None]
        observed = np.zeros((max_total + 1, k))
        np.add.at(observed, (total, complete[:, i]), 1.0)
        obs = observed[inner]
        exp = share[inner] * n_by_total[inner, None]
        if not len(obs):
            out.append(SX2(float("nan"), 0, float("nan"), float("nan"), 0))
            continue
        obs, exp = _merge_groups(obs, exp)
        stat = float(((obs - exp) ** 2 / np.maximum(exp, 1e-12)).sum())
        df = len(obs) * (k - 1) - k  # slope and K-1 intercepts
        if df <= 0:
            out.append(SX2(stat, df, float("nan"), float("nan"), len(obs)))
            continue
        n = len(complete)
        rmsea = float(np.sqrt(max(stat - df, 0.0) / (df * max(n - 1, 1))))
        out.append(SX2(stat, df, float(chi2.sf(stat, df)), rmsea, len(obs)))
    return out


def q3(
    answers: np.ndarray, slopes: np.ndarray, intercepts: tuple[np.ndarray, ...], theta: np.ndarray
) -> np.ndarray:
    """Yen's Q3: the correlation matrix of residuals, pairwise over rows answering both."""
    n_items = answers.shape[1]
    resid = np.full(answers.shape, np.nan)
    for i in range(n_items):
        expected = np.interp(theta, NODES, expected_score(float(slopes[i]), intercepts[i], NODES))
        answered = answers[:, i] >= 0
        resid[answered, i] = answers[answered, i] - expected[answered]
    out = np.eye(n_items)
    for i in range(n_items):
        for j in range(i + 1, n_items):
            both = ~np.isnan(resid[:, i]) & ~np.isnan(resid[:, j])
            if both.sum() < 3:
                out[i, j] = out[j, i] = np.nan
                continue
            out[i, j] = out[j, i] = np.corrcoef(resid[both, i], resid[both, j])[0, 1]
    return out


def q3_adjusted(matrix: np.ndarray) -> np.ndarray:
    """Q3 minus the average of the off-diagonal pairs (Christensen et al., 2017)."""
    off = matrix[~np.eye(len(matrix), dtype=bool)]
    return matrix - np.nanmean(off)
