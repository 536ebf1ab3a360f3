"""Cronbach's alpha, one function for every caller, with its missing-data policy named.

``alpha = k / (k - 1) * (1 - trace(C) / sum(C))`` for the item covariance matrix ``C``.

- ``missing="pairwise"`` (the default, as ``psych::alpha`` and pingouin's ``cronbach_alpha``):
  each covariance from the rows that answered both items;
- ``missing="listwise"``: only the rows that answered every item.

Scoring (the measurement error of the rule) and the reliability tables both call this with
the default, so the alpha behind ``p_adequate`` is the alpha the report shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

MissingPolicy = Literal["pairwise", "listwise"]
MISSING_POLICIES: tuple[MissingPolicy, ...] = ("pairwise", "listwise")


def item_covariance(values: np.ndarray, missing: MissingPolicy = "pairwise") -> np.ndarray:
    """The items' covariance matrix (ddof 1) under the named missing-data policy."""
    if missing not in MISSING_POLICIES:
        raise ValueError(f"'missing' must be one of 'pairwise', 'listwise'; got {missing!r}.")
    values = np.asarray(values, dtype=float)
    holes = np.isnan(values)
    if not holes.any():
        return np.atleast_2d(np.cov(values, rowvar=False))
    if missing == "listwise":
        complete = values[~holes.any(axis=1)]
        if len(complete) < 2:
            return np.full((values.shape[1],) * 2, np.nan)
        return np.atleast_2d(np.cov(complete, rowvar=False))
    return PairwiseMoments.of(values).covariance()


@dataclass(frozen=True)
class PairwiseMoments:
    """For items i, j over the rows answering both: ``n[i, j]``, ``sums[i, j]`` (the sum of
    x_i) and ``cross[i, j]`` (the sum of x_i x_j). They add over blocks of rows, so the
    pairwise covariance of a file too large to hold is the sum of its blocks' moments."""

    n: np.ndarray
    sums: np.ndarray
    cross: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray) -> PairwiseMoments:
        holes = np.isnan(values)
        return cls.of_filled(np.where(holes, 0.0, values), holes)

    @classmethod
    def of_filled(cls, filled: np.ndarray, holes: np.ndarray) -> PairwiseMoments:
        """From the answers with 0 in the holes, and where the holes are."""
        # Three matrix products (pandas' loop over pairs is far slower on many rows).
        given = (~holes).astype(float)
        return cls(given.T @ given, filled.T @ given, filled.T @ filled)

    def __add__(self, other: PairwiseMoments) -> PairwiseMoments:
        return PairwiseMoments(self.n + other.n, self.sums + other.sums, self.cross + other.cross)

    def covariance(self) -> np.ndarray:
        n = self.n
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = (self.cross - self.sums * self.sums.T / n) / (n - 1)
        return np.where(n > 1, cov, np.nan)


def alpha_of_covariance(cov: np.ndarray) -> float:
    k = len(cov)
    total = float(np.sum(cov))
    if k < 2 or not total > 0:
        return float("nan")
    return float(k / (k - 1) * (1 - np.trace(cov) / total))


def cronbach_alpha(values: np.ndarray, missing: MissingPolicy = "pairwise") -> float:
    """Cronbach's alpha of the columns of ``values``.

    Parameters
    ----------
    values : array (rows: respondents, columns: items; reverse-keyed items already reversed)
    missing : {'pairwise', 'listwise'}, default 'pairwise'

    Validated against R psych::alpha (pairwise) and pingouin.cronbach_alpha.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape[1] < 2 or values.shape[0] < 2:
        return float("nan")
    return alpha_of_covariance(item_covariance(values, missing))


def feldt_interval(alpha: float, n: int, k: int, level: float = 0.95) -> tuple[float, float]:
    """Feldt's confidence interval of alpha for ``n`` respondents and ``k`` items, from the
    F distribution with ``n - 1`` and ``(n - 1)(k - 1)`` degrees of freedom, at full
    precision (pingouin's ``cronbach_alpha`` rounds it to three decimals; tests/test_scoring.py
    holds the two together; pingouin itself costs 2 s to import, for these three lines)."""
    from scipy import special

    tail = (1 - level) / 2
    df1, df2 = n - 1, (n - 1) * (k - 1)
    lower = 1 - (1 - alpha) * special.fdtri(df1, df2, 1 - tail)
    upper = 1 - (1 - alpha) * special.fdtri(df1, df2, tail)
    return float(lower), float(upper)
