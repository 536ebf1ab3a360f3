"""Exploratory factor analysis with factor_analyzer: sampling adequacy, how many factors the data
support, and rotated loadings labelled by item id.

- KMO and Bartlett's test of sphericity (factor_analyzer; validated against psych::KMO and
  psych::cortest.bartlett).
- Parallel analysis: eigenvalues of the correlation matrix against the 95th percentile of
  eigenvalues from random normal data of the same size (Horn, 1965; seeded, so repeatable);
  the number of factors is the count of leading eigenvalues above that line.
- EFA by ML or minres with oblimin or promax rotation.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from factor_analyzer import FactorAnalyzer
from factor_analyzer.factor_analyzer import calculate_bartlett_sphericity, calculate_kmo

ROTATIONS = ("oblimin", "promax", "varimax")
METHODS = ("ml", "minres")


@dataclass(frozen=True)
class ParallelAnalysis:
    observed: np.ndarray
    random_95: np.ndarray
    n_factors: int


@dataclass(frozen=True)
class EFAResult:
    kmo: float
    kmo_items: dict[str, float]
    bartlett_chisq: float
    bartlett_df: int
    bartlett_p: float
    parallel: ParallelAnalysis
    loadings: pd.DataFrame
    method: str
    rotation: str
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "kmo": self.kmo,
            "kmo_items": self.kmo_items,
            "bartlett": {
                "chisq": self.bartlett_chisq,
                "df": self.bartlett_df,
                "p": self.bartlett_p,
            },
            "parallel_analysis_factors": self.parallel.n_factors,
            "eigenvalues": self.parallel.observed.tolist(),
            "random_eigenvalues_95": self.parallel.random_95.tolist(),
            "method": self.method,
            "rotation": self.rotation,
            "loadings": self.loadings.to_dict(orient="index"),
            "n": self.n,
        }


def parallel_analysis(
    data: pd.DataFrame, *, iterations: int = 200, seed: int = 0
) -> ParallelAnalysis:
    x = data.to_numpy(dtype=float)
    n, p = x.shape
    observed = np.sort(np.linalg.eigvalsh(np.corrcoef(x, rowvar=False)))[::-1]
    rng = np.random.default_rng(seed)
    random = np.empty((iterations, p))
    for k in range(iterations):
        sim = rng.standard_normal((n, p))
        random[k] = np.sort(np.linalg.eigvalsh(np.corrcoef(sim, rowvar=False)))[::-1]
    line = np.percentile(random, 95, axis=0)
    above = observed > line
    n_factors = int(np.argmin(above)) if not above.all() else p
    return ParallelAnalysis(observed, line, n_factors)


def run_efa(
    data: pd.DataFrame,
    n_factors: int | None = None,
    *,
    method: Literal["ml", "minres"] = "ml",
    rotation: Literal["oblimin", "promax", "varimax"] = "oblimin",
    seed: int = 0,
) -> EFAResult:
    """KMO, Bartlett, parallel analysis and an EFA with ``n_factors`` (default: as many as
    parallel analysis supports, at least 1) on the complete rows of ``data``."""
    if method not in METHODS:
        raise ValueError(f"'method' must be one of 'ml', 'minres'; got {method!r}.")
    if rotation not in ROTATIONS:
        raise ValueError(
            f"'rotation' must be one of 'oblimin', 'promax', 'varimax'; got {rotation!r}."
        )
    complete = data.dropna()
    with warnings.catch_warnings():
        # factor_analyzer passes force_all_finite to scikit-learn, which warns of the rename.
        warnings.simplefilter("ignore", FutureWarning)
        kmo_items, kmo = calculate_kmo(complete)
        chisq, p_value = calculate_bartlett_sphericity(complete)
        parallel = parallel_analysis(complete, seed=seed)
        k = n_factors or max(parallel.n_factors, 1)
        fa = FactorAnalyzer(n_factors=k, method=method, rotation=rotation if k > 1 else None)
        fa.fit(complete)
    p = complete.shape[1]
    loadings = pd.DataFrame(
        fa.loadings_, index=list(complete.columns), columns=[f"F{j + 1}" for j in range(k)]
    )
    return EFAResult(
        kmo=float(kmo),
        kmo_items=dict(zip(complete.columns, map(float, kmo_items), strict=True)),
        bartlett_chisq=float(chisq),
        bartlett_df=p * (p - 1) // 2,
        bartlett_p=float(p_value),
        parallel=parallel,
        loadings=loadings,
        method=method,
        rotation=rotation,
        n=len(complete),
    )
