"""The completely standardized solution (lavaan's ``std.all``) with delta-method standard errors,
in each group.

Loadings ``lambda sqrt(psi_ff) / sqrt(sigma_ii)``; factor covariances as correlations; residual
variances ``theta_ii / sigma_ii``; residual covariances ``theta_ij / sqrt(theta_ii theta_jj)``;
intercepts ``nu_i / sqrt(sigma_ii)``; latent means ``alpha_f / sqrt(psi_ff)``; thresholds
``tau_ik / sqrt(sigma_ii)``.
Standard errors: ``J V J'`` with J the Jacobian of the standardization by central differences.
"""

from __future__ import annotations

import numpy as np

from .matrices import Representation


def standardize(rep: Representation, theta: np.ndarray) -> np.ndarray:
    out = np.empty(len(rep.cells))
    for g, block in enumerate(rep.blocks):
        mats = rep.matrices(theta, g)
        lam, psi, th = mats.lam, mats.psi, mats.theta
        sigma = mats.sigma
        sd_obs = np.sqrt(np.clip(np.diag(sigma), 1e-300, None))
        sd_lat = np.sqrt(np.clip(np.diag(psi), 1e-300, None))
        sd_res = np.sqrt(np.abs(np.diag(th)))
        for k in block:
            name, r, c = rep.cells[k]
            if name == "lambda":
                out[k] = lam[r, c] * sd_lat[c] / sd_obs[r]
            elif name == "psi":
                out[k] = psi[r, c] / (sd_lat[r] * sd_lat[c])
            elif name == "nu":
                out[k] = mats.nu[r] / sd_obs[r]
            elif name == "alpha":
                out[k] = mats.alpha[r] / sd_lat[r]
            elif name == "tau":
                out[k] = mats.tau[r] / sd_obs[c]
            elif name == "delta":  # the standardized latent response has scale factor 1
                out[k] = 1.0
            elif r == c:
                out[k] = th[r, r] / sigma[r, r]
            else:
                den = sd_res[r] * sd_res[c]
                out[k] = th[r, c] / den if den > 0 else np.nan
    return out


def standardized_se(rep: Representation, theta: np.ndarray, vcov: np.ndarray) -> np.ndarray:
    q = len(theta)
    jac = np.empty((len(rep.cells), q))
    for k in range(q):
        h = 1e-6 * max(1.0, abs(theta[k]))
        up, down = theta.copy(), theta.copy()
        up[k] += h
        down[k] -= h
        jac[:, k] = (standardize(rep, up) - standardize(rep, down)) / (2 * h)
    var = np.einsum("ik,kl,il->i", jac, vcov, jac)
    se = np.sqrt(np.clip(var, 0, None))
    se[var < 1e-20] = np.nan  # fixed by construction (e.g. a standardized factor variance)
    return se
