"""The EFA's computations on a correlation matrix: sampling adequacy (Kaiser-Meyer-Olkin and
Bartlett's sphericity), minres and maximum-likelihood extraction, and the oblimin, varimax and
promax rotations.

They are psych's ``fa()`` and R's ``stats`` computations written out, so that an EFA costs no
import of scikit-learn (which factor_analyzer brings, 0.6 s of a 2 s ``validate``). The tests hold
them to psych's committed values (tests/reference/efa.json) and to factor_analyzer 0.5.1 on the
same matrices (tests/test_efa_reference.py).

- **minres** minimizes the squared residuals of the correlation matrix over the uniquenesses
  (``psi``): with ``R - diag(psi)``'s leading ``k`` eigenpairs as the loadings, the residual is
  the rest of its spectrum, so the error is the sum of the other eigenvalues squared and its
  gradient ``-2 sum_j lambda_j v_ij^2``.
- **ml** minimizes ``factanal``'s discrepancy over the uniquenesses, with its gradient.
- Both start from ``1 - SMC`` and keep each uniqueness in [0.005, 1] (psych's bounds). psych
  and ``factanal`` minimize by L-BFGS-B; here a projected Newton method does (:func:`_bounded`),
  with the Hessian from central differences of the analytic gradient. It converges to the same
  minimum, more tightly, and spares ``validate`` the import of scipy.optimize (0.17 s).
- **oblimin** (quartimin, gamma 0) by Jennrich's gradient projection, GPArotation's ``GPFoblq``
  steps; **varimax** as ``stats::varimax`` (Kaiser-normalized); **promax** as psych's
  ``fa(rotate = "promax")``: Kaiser-normalized rows, varimax, the power-4 target fitted by least
  squares, then the rows' lengths restored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from scipy import special

from .cfa.optimize import central_jacobian

Extraction = Literal["minres", "ml"]
Rotation = Literal["oblimin", "promax", "varimax"]

UNIQUENESS_BOUNDS = (0.005, 1.0)
ROTATION_TOLERANCE = 1e-5  # GPArotation's and stats::varimax's eps
ROTATION_STEPS = 1000  # GPArotation's maxit
PROMAX_POWER = 4
NEWTON_STEPS = 100
GRADIENT_TOLERANCE = 1e-10  # on the largest component of the projected gradient


def _inverse(corr: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(corr)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(corr)


def sampling_adequacy(corr: np.ndarray) -> tuple[np.ndarray, float]:
    """Kaiser-Meyer-Olkin: each item's and the overall share of the squared correlations in
    the squared correlations plus squared partial correlations (off the diagonal), as
    ``psych::KMO``."""
    inverse = _inverse(corr)
    scale = 1 / np.sqrt(np.diag(inverse))
    partial = inverse * np.outer(scale, scale)
    off = ~np.eye(len(corr), dtype=bool)
    r2 = np.where(off, corr**2, 0.0)
    q2 = np.where(off, partial**2, 0.0)
    items = r2.sum(axis=0) / (r2.sum(axis=0) + q2.sum(axis=0))
    return items, float(r2.sum() / (r2.sum() + q2.sum()))


def bartlett_sphericity(corr: np.ndarray, n: int) -> tuple[float, int, float]:
    """Bartlett's test that the correlations are all zero: chi-square, df and p."""
    p = len(corr)
    _, logdet = np.linalg.slogdet(corr)
    chisq = -logdet * (n - 1 - (2 * p + 5) / 6)
    df = p * (p - 1) // 2
    return float(chisq), df, float(special.chdtrc(df, chisq))


def _uls(psi: np.ndarray, corr: np.ndarray, k: int) -> tuple[float, np.ndarray]:
    values, vectors = np.linalg.eigh(corr - np.diag(psi))
    rest, rest_vectors = values[:-k], vectors[:, :-k]  # eigh sorts ascending
    return float(rest @ rest), -2 * (rest_vectors**2) @ rest


def _ml_loadings(psi: np.ndarray, corr: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The eigenvalues of the rescaled correlations ``Psi^-1/2 R Psi^-1/2`` and the ML
    loadings they give (``factanal``'s)."""
    scale = 1 / np.sqrt(psi)
    values, vectors = np.linalg.eigh(corr * np.outer(scale, scale))
    top = np.sqrt(np.clip(values[-k:] - 1, 0.0, None))
    return values, np.sqrt(psi)[:, None] * vectors[:, -k:] * top


def _ml(psi: np.ndarray, corr: np.ndarray, k: int) -> tuple[float, np.ndarray]:
    values, loadings = _ml_loadings(psi, corr, k)
    rest = values[:-k]
    error = -float(np.sum(np.log(rest) - rest)) + k - len(corr)
    fitted = np.einsum("ij,ij->i", loadings, loadings) + psi
    return error, (fitted - np.diag(corr)) / psi**2


def _bounded(
    objective: Callable[[np.ndarray], tuple[float, np.ndarray]], start: np.ndarray
) -> np.ndarray:
    """The uniquenesses that minimize ``objective`` (value and gradient) within
    :data:`UNIQUENESS_BOUNDS`, by projected Newton steps (Bertsekas): a uniqueness at a bound
    whose gradient pushes it out stays there; the others take a Newton step on their block of
    the Hessian (damped until it is positive definite), and the step is halved until the value
    falls by Armijo's rule."""
    lower, upper = UNIQUENESS_BOUNDS
    psi = np.clip(start, lower, upper)
    value, gradient = objective(psi)
    for _ in range(NEWTON_STEPS):
        free = ~(((psi <= lower) & (gradient > 0)) | ((psi >= upper) & (gradient < 0)))
        if np.max(np.abs(gradient[free]), initial=0.0) < GRADIENT_TOLERANCE:
            break
        hessian = central_jacobian(lambda p: objective(p)[1], psi)[np.ix_(free, free)]
        hessian = (hessian + hessian.T) / 2
        scale = float(np.mean(np.abs(np.diag(hessian)))) or 1.0
        damping = 0.0
        while True:
            try:
                factor = np.linalg.cholesky(hessian + damping * scale * np.eye(len(hessian)))
                break
            except np.linalg.LinAlgError:
                damping = max(damping * 10, 1e-8)
        step = np.zeros_like(psi)
        step[free] = -np.linalg.solve(factor.T, np.linalg.solve(factor, gradient[free]))
        size = 1.0
        while size > 1e-12:
            trial = np.clip(psi + size * step, lower, upper)
            trial_value, trial_gradient = objective(trial)
            if trial_value <= value + 1e-4 * float(gradient @ (trial - psi)):
                break
            # Near the minimum the value changes by less than its rounding; the gradient,
            # computed directly, still shows whether the step came closer.
            if trial_value <= value + 1e-14 * abs(value) and np.max(
                np.abs(trial_gradient[free])
            ) < 0.5 * np.max(np.abs(gradient[free])):
                break
            size /= 2
        else:
            break  # no step lowers the value: at the minimum as far as arithmetic can tell
        done = np.max(np.abs(trial - psi)) < 1e-14
        psi, value, gradient = trial, trial_value, trial_gradient
        if done:
            break
    return psi


def extract(corr: np.ndarray, k: int, method: Extraction) -> np.ndarray:
    """Unrotated loadings (items x ``k``) by minres or ML, each column signed to a positive sum
    and the columns in order of their sums of squares when ``k`` > 1."""
    smc = 1 - 1 / np.diag(_inverse(corr))
    objective = _ml if method == "ml" else _uls
    psi = _bounded(lambda p: objective(p, corr, k), 1 - smc)
    if method == "ml":
        loadings = _ml_loadings(psi, corr, k)[1]
    else:
        values, vectors = np.linalg.eigh(corr - np.diag(psi))
        loadings = vectors[:, -k:] * np.sqrt(np.clip(values[-k:], 0.0, None))
    loadings = loadings[:, ::-1]
    if k > 1:
        loadings = loadings * np.where(loadings.sum(axis=0) < 0, -1.0, 1.0)
        loadings = loadings[:, np.argsort(-(loadings**2).sum(axis=0), kind="stable")]
    return loadings


def _quartimin(loadings: np.ndarray) -> tuple[float, np.ndarray]:
    """Oblimin's criterion at gamma 0 and its gradient: each squared loading times the squared
    loadings of the same item on the other factors."""
    squared = loadings**2
    others = squared.sum(axis=1, keepdims=True) - squared
    return float(np.sum(squared * others)) / 4, loadings * others


def oblimin(loadings: np.ndarray) -> np.ndarray:
    """Oblimin (gamma 0) by gradient projection from the identity: each step moves the
    transformation against the criterion's gradient projected on unit-length columns, with
    the step doubled, then halved (at most 10 times) until the criterion falls enough."""
    transform = np.eye(loadings.shape[1])
    rotated = loadings
    value, gradient_l = _quartimin(rotated)
    gradient = -(rotated.T @ gradient_l).T
    step = 1.0
    for _ in range(ROTATION_STEPS + 1):
        projected = gradient - transform * np.sum(transform * gradient, axis=0)
        size = float(np.sqrt(np.sum(projected**2)))
        if size < ROTATION_TOLERANCE:
            break
        step *= 2
        for _ in range(11):
            moved = transform - step * projected
            candidate = moved / np.sqrt(np.sum(moved**2, axis=0))
            inverse = np.linalg.inv(candidate)
            rotated = loadings @ inverse.T
            new_value, gradient_l = _quartimin(rotated)
            if value - new_value > 0.5 * size**2 * step:
                break
            step /= 2
        transform, value = candidate, new_value
        gradient = -(rotated.T @ gradient_l @ inverse).T
    return rotated


def varimax(loadings: np.ndarray, *, normalize: bool = True) -> np.ndarray:
    """``stats::varimax``: rows scaled to unit length (Kaiser), the orthogonal rotation by
    successive singular value decompositions until the criterion grows by less than 1e-5 of
    itself, rows scaled back."""
    p, k = loadings.shape
    if k < 2:
        return loadings
    lengths = np.sqrt((loadings**2).sum(axis=1, keepdims=True)) if normalize else np.ones((p, 1))
    x = loadings / lengths
    transform = np.eye(k)
    criterion = 0.0
    for _ in range(ROTATION_STEPS):
        z = x @ transform
        u, s, vt = np.linalg.svd(x.T @ (z**3 - z * (z**2).sum(axis=0) / p))
        transform = u @ vt
        previous, criterion = criterion, float(s.sum())
        if criterion < previous * (1 + ROTATION_TOLERANCE):
            break
    return (x @ transform) * lengths


def promax(loadings: np.ndarray) -> np.ndarray:
    """psych's ``fa(rotate = "promax")``: on Kaiser-normalized rows, varimax, then the
    transformation that best reaches the varimax loadings raised to the fourth power (sign
    kept), its columns scaled so that the factors have unit variance; rows scaled back."""
    if loadings.shape[1] < 2:
        return loadings
    lengths = np.sqrt((loadings**2).sum(axis=1, keepdims=True))
    x = varimax(loadings / lengths)
    target = x * np.abs(x) ** (PROMAX_POWER - 1)
    weights = np.linalg.lstsq(x, target, rcond=None)[0]
    weights = weights * np.sqrt(np.diag(np.linalg.inv(weights.T @ weights)))
    return (x @ weights) * lengths


ROTATE: dict[Rotation, Callable[[np.ndarray], np.ndarray]] = {
    "oblimin": oblimin,
    "promax": promax,
    "varimax": varimax,
}
