"""Exploratory factor analysis: sampling adequacy, how many factors the data support, and
rotated loadings labelled by item id. The extraction, the rotations and the adequacy tests are
:mod:`.factoring`'s.

- KMO and Bartlett's test of sphericity on the complete rows' Pearson correlations (validated
  against psych::KMO and psych::cortest.bartlett).
- Parallel analysis, in two versions, each against the 95th percentile of the same values
  from random normal data of the same size (Horn, 1965; seeded, so repeatable); the number
  retained is the count of leading values above that line:
  - components: eigenvalues of the correlation matrix (the classic version);
  - factors: eigenvalues of the reduced correlation matrix, communalities from a one-factor
    least-squares (minres) fit on the diagonal, as psych's ``fa.parallel(fa = "fa")``. It
    retains more on large samples (6 on psych's bfi where the components version finds 5).
  The random correlation matrices are drawn from their Wishart distribution, not computed
  from simulated rows, so the cost does not grow with n.
- ``correlation="polychoric"`` (ordinal items, as psych's ``fa.parallel(cor = "poly")`` and
  ``fa(cor = "poly")``): parallel analysis and the EFA on the polychoric correlations
  (lavaan's two-step ones, :mod:`.cfa.ordinal`). The random line stays the normal-theory
  one: psych resamples the answers and takes their polychorics, at a cost that grows with n;
  the factor count agrees with psych's on the tests' data.
  The EFA's number of factors comes from the components version unless asked otherwise.
- EFA by minres (psych's default), ML or iterated principal axes, with oblimin, promax or
  varimax rotation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from .choices import EFA_METHODS, PARALLEL_ITERATIONS, PARALLEL_KINDS, EfaMethod, ParallelKind
from .factoring import ROTATE, bartlett_sphericity, extract, sampling_adequacy

Correlation = Literal["pearson", "polychoric"]
CORRELATIONS: tuple[Correlation, ...] = ("pearson", "polychoric")
ROTATIONS = ("oblimin", "promax", "varimax")
METHODS = EFA_METHODS
PA_TOLERANCE = 0.001  # psych's min.err: the change in the sum of communalities
PA_ITERATIONS = 50  # psych's max.iter


@dataclass(frozen=True)
class ParallelAnalysis:
    observed: np.ndarray
    random_95: np.ndarray
    n_factors: int
    kind: ParallelKind = "components"
    iterations: int = PARALLEL_ITERATIONS  # random correlation matrices drawn

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "retained": self.n_factors,
            "iterations": self.iterations,
            "observed": self.observed.tolist(),
            "random_95": self.random_95.tolist(),
        }


@dataclass(frozen=True)
class EFAResult:
    kmo: float
    kmo_items: dict[str, float]
    bartlett_chisq: float
    bartlett_df: int
    bartlett_p: float
    parallel: ParallelAnalysis  # the version that chose the EFA's number of factors
    loadings: pd.DataFrame
    method: str
    rotation: str
    n: int
    parallel_other: ParallelAnalysis | None = None  # the other version, for comparison
    correlation: Correlation = "pearson"
    # per item, the variance the factors explain: diag(L Phi L'), which rotation leaves as
    # it was (psych's h2)
    communalities: pd.Series | None = None

    def loadings_table(self) -> pd.DataFrame:
        """The rotated loadings with each item's communality (h2) and uniqueness (u2), as
        psych's fa() prints them."""
        table = self.loadings.copy()
        if self.communalities is not None:
            table["h2"] = self.communalities
            table["u2"] = 1 - self.communalities
        table.index.name = "item"
        return table

    def parallel_sentence(self) -> str:
        """Which version chose the number of factors, and what the other one says."""
        words = {
            "components": "components (eigenvalues of the correlations)",
            "factors": "factors (eigenvalues of the reduced correlations, psych's fa = 'fa')",
        }
        on = " of the polychoric correlations" if self.correlation == "polychoric" else ""
        out = f"parallel analysis{on} retains {self.parallel.n_factors} {words[self.parallel.kind]}"
        if self.parallel_other is not None:
            other = self.parallel_other
            out += f" and {other.n_factors} {words[other.kind]}"
        return out + f", against the 95th percentile of {self.parallel.iterations} random draws"

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
            "parallel_analysis_kind": self.parallel.kind,
            "parallel_analysis_iterations": self.parallel.iterations,
            "eigenvalues": self.parallel.observed.tolist(),
            "random_eigenvalues_95": self.parallel.random_95.tolist(),
            "parallel_analysis": {
                p.kind: p.to_dict() for p in (self.parallel, self.parallel_other) if p is not None
            },
            "method": self.method,
            "rotation": self.rotation,
            "loadings": self.loadings.to_dict(orient="index"),
            "communalities": (
                self.communalities.to_dict() if self.communalities is not None else None
            ),
            "n": self.n,
            "correlation": self.correlation,
        }


def principal_axes(corr: np.ndarray, k: int) -> np.ndarray:
    """Iterated principal axes, as psych's ``fa(fm = "pa")``: squared multiple correlations on
    the diagonal, then the first ``k`` eigenvectors' loadings and their communalities in turn,
    until the sum of communalities moves by at most :data:`PA_TOLERANCE` (at most
    :data:`PA_ITERATIONS` times). Unrotated loadings, items x factors."""
    reduced = corr.copy()
    diagonal = np.diag_indices_from(reduced)
    reduced[diagonal] = 1 - 1 / np.diag(np.linalg.inv(corr))
    total = float(np.trace(reduced))
    loadings = np.zeros((len(corr), k))
    for _ in range(PA_ITERATIONS):
        values, vectors = np.linalg.eigh(reduced)
        top = np.argsort(values)[::-1][:k]
        loadings = vectors[:, top] * np.sqrt(np.clip(values[top], 0.0, None))
        communalities = (loadings**2).sum(axis=1)
        reduced[diagonal] = communalities
        moved, total = abs(total - float(communalities.sum())), float(communalities.sum())
        if moved <= PA_TOLERANCE:
            break
    return loadings


def reduced_eigenvalues(corr: np.ndarray, iterations: int = 500, tol: float = 1e-9) -> np.ndarray:
    """Eigenvalues (descending) of a correlation matrix, or of a stack of them, with a
    one-factor least-squares fit's communalities on the diagonal. Iterated principal axes
    from squared multiple correlations: for one factor their fixed point is the minres (ULS)
    solution psych's ``fa`` finds."""
    stack = corr[None] if corr.ndim == 2 else corr
    p = stack.shape[-1]
    diagonal = np.arange(p)
    try:
        h = 1 - 1 / np.diagonal(np.linalg.inv(stack), axis1=1, axis2=2)
    except np.linalg.LinAlgError:
        h = np.full(stack.shape[:2], 0.5)
    reduced = stack.copy()
    active = np.arange(len(stack))  # the matrices whose communalities still move
    for _ in range(iterations):
        block = reduced[active]
        block[:, diagonal, diagonal] = h[active]
        values, vectors = np.linalg.eigh(block)
        loading = np.sqrt(np.clip(values[:, -1], 0.0, None))[:, None] * vectors[:, :, -1]
        updated = np.clip(loading**2, 0.0, 1.0)
        moving = np.max(np.abs(updated - h[active]), axis=1) >= tol
        h[active] = updated
        active = active[moving]
        if not len(active):
            break
    reduced[:, diagonal, diagonal] = h
    out = np.linalg.eigvalsh(reduced)[:, ::-1]
    return out[0] if corr.ndim == 2 else out


def _values(corr: np.ndarray, kind: ParallelKind) -> np.ndarray:
    if kind == "factors":
        return reduced_eigenvalues(corr)
    return np.sort(np.linalg.eigvalsh(corr))[::-1]


def random_correlations(n: int, p: int, iterations: int, rng: np.random.Generator) -> np.ndarray:
    """Correlation matrices of ``n`` rows of independent normal data, without the data.

    The centred cross-products of n normal rows are Wishart(n - 1, I); Bartlett's
    decomposition draws one from p(p + 1)/2 numbers (chi-square on the diagonal, normal below
    it), so a draw costs O(p^3) whatever n is: parallel analysis on a million rows costs what
    it costs on a thousand, with the very distribution that simulating the rows would give."""
    df = n - 1 - np.arange(p)  # Bartlett: the i-th diagonal is sqrt(chi2(n - 1 - i))
    lower = np.tril_indices(p, -1)
    out = np.empty((iterations, p, p))
    for i in range(iterations):
        a = np.zeros((p, p))
        a[np.diag_indices(p)] = np.sqrt(rng.chisquare(df))
        a[lower] = rng.standard_normal(len(lower[0]))
        w = a @ a.T
        d = 1 / np.sqrt(np.diag(w))
        out[i] = w * np.outer(d, d)
    return out


def parallel_analyses(
    data: pd.DataFrame,
    kinds: tuple[ParallelKind, ...] = PARALLEL_KINDS,
    *,
    iterations: int = PARALLEL_ITERATIONS,
    seed: int = 0,
    correlation: Correlation = "pearson",
) -> dict[ParallelKind, ParallelAnalysis]:
    """Both versions from one set of random draws: ``iterations`` correlation matrices of
    independent normal data of the same size (psych's ``n.iter``, 20 by default), each pair of
    versions from the same matrix, compared at their 95th percentile (psych's ``quant``)."""
    unknown = [k for k in kinds if k not in PARALLEL_KINDS]
    if unknown:
        raise ValueError(f"'kind' must be one of 'components', 'factors'; got {unknown[0]!r}.")
    if iterations < 2:
        raise ValueError(f"'iterations' must be at least 2; got {iterations}.")
    x = data.to_numpy(dtype=float)
    n, p = x.shape
    if n <= p:
        raise ValueError(f"parallel analysis needs more rows than items; got {n} for {p}.")
    corr = correlations(x, correlation)
    observed = {k: _values(corr, k) for k in kinds}
    sims = random_correlations(n, p, iterations, np.random.default_rng(seed))
    random = {
        k: reduced_eigenvalues(sims, tol=1e-6)
        if k == "factors"
        else np.linalg.eigvalsh(sims)[:, ::-1]
        for k in kinds
    }
    out = {}
    for k in kinds:
        line = np.percentile(random[k], 95, axis=0)
        above = observed[k] > line
        retained = int(np.argmin(above)) if not above.all() else p
        out[k] = ParallelAnalysis(observed[k], line, retained, k, iterations)
    return out


def correlations(x: np.ndarray, correlation: Correlation) -> np.ndarray:
    """Pearson or polychoric correlations of complete rows."""
    if correlation not in CORRELATIONS:
        raise ValueError(f"'correlation' must be 'pearson' or 'polychoric'; got {correlation!r}.")
    if correlation == "pearson":
        return np.corrcoef(x, rowvar=False)
    from .cfa.ordinal import ordinal_sample

    return ordinal_sample(x, asymptotic=False).correlations


def parallel_analysis(
    data: pd.DataFrame,
    *,
    kind: ParallelKind = "components",
    iterations: int = PARALLEL_ITERATIONS,
    seed: int = 0,
    correlation: Correlation = "pearson",
) -> ParallelAnalysis:
    return parallel_analyses(
        data, (kind,), iterations=iterations, seed=seed, correlation=correlation
    )[kind]


def run_efa(
    data: pd.DataFrame,
    n_factors: int | None = None,
    *,
    method: EfaMethod = "minres",
    rotation: Literal["oblimin", "promax", "varimax"] = "oblimin",
    seed: int = 0,
    parallel_kind: ParallelKind = "components",
    correlation: Correlation = "pearson",
    parallel_iterations: int = PARALLEL_ITERATIONS,
) -> EFAResult:
    """KMO, Bartlett, parallel analysis (both versions) and an EFA with ``n_factors``
    (default: as many as the ``parallel_kind`` version retains, at least 1) on the complete
    rows of ``data``; parallel analysis and the EFA on the ``correlation`` given (KMO and
    Bartlett on the Pearson correlations)."""
    if method not in METHODS:
        raise ValueError(f"'method' must be one of 'minres', 'ml', 'pa'; got {method!r}.")
    if rotation not in ROTATIONS:
        raise ValueError(
            f"'rotation' must be one of 'oblimin', 'promax', 'varimax'; got {rotation!r}."
        )
    complete = data.dropna()
    if parallel_kind not in PARALLEL_KINDS:
        raise ValueError(
            f"'parallel_kind' must be one of 'components', 'factors'; got {parallel_kind!r}."
        )
    answers = complete.to_numpy(dtype=float)
    if len(answers) <= answers.shape[1]:
        raise ValueError(
            f"the EFA needs more complete rows than items; got {len(answers)} for "
            f"{answers.shape[1]}."
        )
    constant = complete.columns[np.ptp(answers, axis=0) == 0]
    if len(constant):
        raise ValueError(
            f"item {constant[0]!r} has the same answer in every complete row; the EFA cannot "
            f"use it: leave it out."
        )
    pearson = np.corrcoef(answers, rowvar=False)
    kmo_items, kmo = sampling_adequacy(pearson)
    chisq, df, p_value = bartlett_sphericity(pearson, len(complete))
    other_kind: ParallelKind = "factors" if parallel_kind == "components" else "components"
    both = parallel_analyses(
        complete,
        (parallel_kind, other_kind),
        iterations=parallel_iterations,
        seed=seed,
        correlation=correlation,
    )
    parallel, other = both[parallel_kind], both[other_kind]
    k = n_factors or max(parallel.n_factors, 1)
    corr = pearson if correlation == "pearson" else correlations(answers, correlation)
    matrix = principal_axes(corr, k) if method == "pa" else extract(corr, k, method)
    # Rotation leaves each item's communality as it was: taken before it, as psych's h2.
    communalities = (matrix**2).sum(axis=1)
    if k > 1:
        matrix = ROTATE[rotation](matrix)
    # Each factor signed to a positive sum of loadings, as psych's fa(), one factor too (an
    # eigenvector's sign is arbitrary).
    matrix = matrix * np.where(matrix.sum(axis=0) < 0, -1.0, 1.0)
    loadings = pd.DataFrame(
        matrix, index=list(complete.columns), columns=[f"F{j + 1}" for j in range(k)]
    )
    return EFAResult(
        kmo=float(kmo),
        kmo_items=dict(zip(complete.columns, map(float, kmo_items), strict=True)),
        bartlett_chisq=float(chisq),
        bartlett_df=df,
        bartlett_p=float(p_value),
        parallel=parallel,
        loadings=loadings,
        method=method,
        rotation=rotation,
        n=len(complete),
        parallel_other=other,
        correlation=correlation,
        communalities=pd.Series(communalities, index=list(complete.columns), name="h2"),
    )
