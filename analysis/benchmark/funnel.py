"""Funnel plot limits for a share across groups of different size, overdispersion adjusted.

Each group's share is set against the overall share p0 with binomial limits
p0 +/- z * sqrt(phi * p0 (1 - p0) / n). Groups differ for more reasons than chance (patients
cluster, case-mix differs), so phi is estimated from the groups' own spread, as Spiegelhalter
(2005) proposes: the mean squared z-score after winsorizing the most extreme 10% at each end.
When phi <= 1 the plain binomial limits stand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

LEVELS = (0.95, 0.998)
WINSOR = 0.10


@dataclass(frozen=True)
class Funnel:
    target: float
    phi: float  # overdispersion factor actually used (>= 1)
    phi_estimated: float
    z: np.ndarray  # per group, adjusted for phi
    outside: list[str]  # per group: '', 'above 95%', 'below 99.8%', ...

    def limits(self, n: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Lower and upper limits at each n, per level ('95%', '99.8%')."""
        spread = np.sqrt(self.phi * self.target * (1 - self.target) / np.asarray(n, float))
        out = {}
        for level in LEVELS:
            z = norm.ppf(0.5 + level / 2)
            out[_label(level)] = (
                np.clip(self.target - z * spread, 0, 1),
                np.clip(self.target + z * spread, 0, 1),
            )
        return out


def _label(level: float) -> str:
    """0.95 -> '95%', 0.998 -> '99.8%'."""
    return f"{level:.1%}".replace(".0%", "%")


def _winsorized_mean_square(z: np.ndarray) -> float:
    if len(z) == 0:
        return 1.0
    low, high = np.quantile(z, [WINSOR, 1 - WINSOR])
    return float(np.mean(np.clip(z, low, high) ** 2))


def funnel(successes: np.ndarray, n: np.ndarray) -> Funnel:
    successes = np.asarray(successes, float)
    n = np.asarray(n, float)
    if len(n) == 0 or n.sum() == 0:
        raise ValueError("a funnel needs at least one group with decided sessions.")
    target = float(successes.sum() / n.sum())
    share = np.divide(successes, n, out=np.full(len(n), np.nan), where=n > 0)
    base = np.sqrt(target * (1 - target) / np.where(n > 0, n, np.nan))
    with np.errstate(invalid="ignore", divide="ignore"):
        z_raw = (share - target) / base
    finite = np.isfinite(z_raw)
    phi_hat = _winsorized_mean_square(z_raw[finite])
    phi = max(phi_hat, 1.0)
    z = z_raw / np.sqrt(phi)
    outside = []
    for value in z:
        label = ""
        for level in LEVELS:
            if np.isfinite(value) and abs(value) > norm.ppf(0.5 + level / 2):
                side = "above" if value > 0 else "below"
                label = f"{side} {_label(level)}"
        outside.append(label)
    return Funnel(target, phi, phi_hat, z, outside)
