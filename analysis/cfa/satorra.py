"""MLM: ML estimates with the Satorra-Bentler corrections, as lavaan's ``estimator = "MLM"``
(``se = "robust.sem"``, ``test = "satorra.bentler"``, expected information; complete rows).

With, per group g, ``A_g`` the expected per-case information of the moments at the implied
moments, ``Gamma_g`` the asymptotic covariance of the sample moments (the rows' centred
moments' covariance, denominator n_g), ``Delta_g`` the moments' Jacobian and ``f_g = n_g / N``:

- standard errors: ``E^-1 (sum_g f_g Delta_g' A_g Gamma_g A_g Delta_g) E^-1 / N``,
  ``E = sum_g f_g Delta_g' A_g Delta_g``;
- the scaled test: ``T / c``, ``c = tr(U Gamma) / df``, ``U = W - W Delta E^-1 Delta' W`` with
  ``W`` block diagonal in ``f_g A_g`` and ``Gamma`` in ``Gamma_g / f_g``; the independence
  model's factor the same way at its own implied moments (the item variances), for the robust
  CFI, TLI and RMSEA (Brosseau-Liard and Savalei).
"""

from __future__ import annotations

import numpy as np

from . import fitmeasures as fm
from . import se as standard
from .matrices import Representation
from .ml import ML, moment_information, moment_score_products
from .samplestats import GroupSample
from .teststat import bdiag


def moment_gamma(
    sample: GroupSample, vech: tuple[np.ndarray, np.ndarray], means: bool
) -> np.ndarray:
    """The asymptotic covariance of the group's sample moments ``[mean, vech S]`` (lavaan's
    ``NACOV``): the rows' scores at the sample moments are ``A (z_i - z_bar)``, so ``Gamma``
    is ``A^-1 (sum_i s_i s_i' / n) A^-1``."""
    inv = np.linalg.inv(sample.cov)
    info = moment_information(inv, vech, means)
    products = moment_score_products(inv, sample.centered, vech, means) / sample.n
    back = np.linalg.inv(info)
    return back @ products @ back


def _trace(w: np.ndarray, gamma: np.ndarray, delta: np.ndarray) -> float:
    e = delta.T @ w @ delta
    u = w - w @ delta @ np.linalg.solve(e, delta.T @ w)
    return float(np.trace(u @ gamma))


def mlm_fit(
    rep: Representation,
    ml: ML,
    theta: np.ndarray,
    fit: dict[str, float],
    df: int,
    singular: bool,
) -> tuple[dict[str, float], np.ndarray, bool]:
    """MLM's standard errors and scaled test beside the normal-theory ``fit``; the unscaled
    values kept with an ``_ml`` suffix."""
    stats = ml.stats
    fit = dict(fit)
    means = rep.meanstructure
    weights, gammas, deltas, base_weights, base_deltas = [], [], [], [], []
    p = rep.p
    at = p if means else 0
    diagonal = np.flatnonzero(rep.vech[0] == rep.vech[1])
    for g, sample in enumerate(stats.groups):
        f = sample.n / stats.n
        state = ml.state(theta, g)
        assert state is not None
        a = moment_information(state.inv, rep.vech, means)
        weights.append(f * a)
        gammas.append(moment_gamma(sample, rep.vech, means) / f)
        deltas.append(rep.delta(theta, g))
        # The independence model: free variances (and means), at the item variances.
        variances = np.diag(sample.cov)
        base_weights.append(f * moment_information(np.diag(1 / variances), rep.vech, means))
        block = np.zeros((len(a), at + p))
        if means:
            block[np.arange(p), np.arange(p)] = 1.0
        block[at + diagonal, at + np.arange(p)] = 1.0
        base_deltas.append(block)
    w, gamma, delta = bdiag(weights), bdiag(gammas), np.vstack(deltas)
    e = delta.T @ w @ delta
    meat = delta.T @ w @ gamma @ w @ delta
    bread = np.full_like(e, np.nan) if standard.is_singular(e) else np.linalg.inv(e)
    vcov = bread @ meat @ bread / stats.n
    base_df = int(fit["baseline_df"])
    for key in ("chisq", "cfi", "tli", "rmsea", "rmsea_ci_lower", "rmsea_ci_upper"):
        fit[f"{key}_ml"] = fit[key]
    fit["rmsea_pvalue_ml"] = fit["rmsea_pvalue"]
    if df == 0 or singular:
        fit["scaling_factor"] = float("nan")
        return fit, vcov, singular
    c = _trace(w, gamma, delta) / df
    base_c = _trace(bdiag(base_weights), gamma, bdiag(base_deltas)) / base_df
    fit.update(fm.scaled(fit, df, stats.n, len(stats.groups), c, base_c))
    return fit, vcov, singular
