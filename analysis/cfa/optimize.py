"""Stage 5a: minimise an estimator's objective. Any estimator that gives a value, a gradient and
an (expected or approximate) Hessian plugs in: ML now, FIML and DWLS the same way.

Fisher scoring with Levenberg-Marquardt damping: the step solves
``(H + mu mean(diag H) I) step = -g``; mu shrinks after a successful step and grows after a
failed one, so a singular H (an empirically under-identified model) cannot stall it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

MAX_ITERATIONS = 300
TOLERANCE = 1e-10


class Objective(Protocol):
    def value(self, theta: np.ndarray) -> float: ...

    def gradient(self, theta: np.ndarray) -> np.ndarray: ...

    def hessian(self, theta: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Estimate:
    theta: np.ndarray
    fmin: float
    iterations: int
    converged: bool
    message: str


def minimize(
    objective: Objective,
    start: np.ndarray,
    fallback: np.ndarray | None = None,
    max_iterations: int = MAX_ITERATIONS,
) -> Estimate:
    """Minimise from ``start`` (or ``fallback`` when the objective is not finite there), in at
    most ``max_iterations`` steps."""
    theta = start.copy()
    f = objective.value(theta)
    if not np.isfinite(f) and fallback is not None:
        theta = fallback.copy()
        f = objective.value(theta)
    mu = 0.0
    g = objective.gradient(theta)
    for iteration in range(1, max_iterations + 1):
        h = objective.hessian(theta)
        scale = float(np.mean(np.diag(h))) or 1.0
        while True:
            try:
                step = -np.linalg.solve(h + mu * scale * np.eye(len(theta)), g)
            except np.linalg.LinAlgError:
                step = None
            if step is not None:
                trial = theta + step
                f_trial = objective.value(trial)
                if f_trial <= f + 1e-14:
                    break
            mu = max(mu * 10, 1e-8)
            if mu > 1e8:
                converged = bool(np.max(np.abs(g), initial=0.0) < 1e-5)
                return Estimate(theta, f, iteration, converged, "no step decreased the discrepancy")
        mu /= 10 if mu > 1e-8 else np.inf
        change = f - f_trial
        theta, f = trial, f_trial
        g = objective.gradient(theta)
        if np.max(np.abs(g), initial=0.0) < 1e-8 or (
            np.max(np.abs(step), initial=0.0) < TOLERANCE and change < 1e-14
        ):
            return Estimate(theta, f, iteration, True, "converged")
    converged = bool(np.max(np.abs(g), initial=0.0) < 1e-5)
    return Estimate(theta, f, max_iterations, converged, "iteration limit reached")


def central_jacobian(function: Callable[[np.ndarray], np.ndarray], theta: np.ndarray) -> np.ndarray:
    """``d function / d theta`` by central differences, a column per parameter (steps of 1e-5,
    relative beyond 1): an observed Hessian from an analytic gradient."""
    columns = []
    for k in range(len(theta)):
        h = 1e-5 * max(1.0, abs(theta[k]))
        up, down = theta.copy(), theta.copy()
        up[k] += h
        down[k] -= h
        columns.append((function(up) - function(down)) / (2 * h))
    return np.column_stack(columns) if columns else np.zeros((0, 0))
