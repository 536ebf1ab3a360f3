"""Sessions within patients within groups: a nested random-intercept model, fitted from
per-patient summaries so that ten million stored sessions reduce to one row per patient.

The model for a pillar score of session k of patient i of group (clinician or site) j is

    y_ijk = x_ij'beta + u_j + v_ij + e_ijk,   u ~ N(0, tau2_group), v ~ N(0, tau2_patient),
                                               e ~ N(0, sigma2)

with patient-level covariates x (an intercept, plus any case-mix adjustment). A patient's
mean m_ij = x'beta + u_j + v_ij + mean(e) and the spread of their sessions around it,
W_ij = sum_k (y_ijk - m_ij)^2, are independent and together carry everything the likelihood
needs: m_ij has variance tau2_patient + sigma2 / n_ij, and W_ij / sigma2 is chi-square with
n_ij - 1 degrees of freedom. Within a group the patient means share u_j, so their covariance
is diag(d) + tau2_group * 11' and Sherman-Morrison gives its inverse and determinant in closed
form. The fit is REML, the criterion statsmodels' MixedLM maximises by default for the same
model (``vc_formula`` for patients within ``groups``), and the estimates agree with it and with
lme4. With one group it is the model with a random patient effect alone, ``y ~ 1 + (1 |
patient)``, as the patient-clinician agreement fits it (:func:`patient_model`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize

_LOG_FLOOR = -30.0  # log-variance bound: a component this small is zero for every purpose


@dataclass(frozen=True)
class PatientSummaries:
    """One row per patient: group index, number of sessions, mean score, within-patient sum
    of squares, and patient-level covariates (the first column the intercept)."""

    group: np.ndarray  # int, 0..n_groups-1
    n: np.ndarray  # float, sessions with a score
    mean: np.ndarray
    within_ss: np.ndarray
    covariates: np.ndarray  # (patients, p)
    n_groups: int


@dataclass(frozen=True)
class NestedFit:
    beta: np.ndarray
    beta_se: np.ndarray  # sqrt diag (X' V^-1 X)^-1 at the REML variances
    tau2_group: float
    tau2_patient: float
    sigma2: float
    group_effect: np.ndarray  # BLUP of u_j, per group
    group_effect_se: np.ndarray  # conditional (posterior) SD of u_j
    converged: bool

    @property
    def icc_group(self) -> float:
        """Share of a single session's variance that lies between groups."""
        total = self.tau2_group + self.tau2_patient + self.sigma2
        return self.tau2_group / total if total > 0 else float("nan")

    def reliability(self, patients: float, sessions_per_patient: float) -> float:
        """Reliability of a group's mean over ``patients`` patients with that many sessions."""
        if self.tau2_group <= 0:
            return 0.0
        noise = (self.tau2_patient + self.sigma2 / sessions_per_patient) / patients
        return self.tau2_group / (self.tau2_group + noise)

    def patients_for(self, reliability: float, sessions_per_patient: float) -> float:
        """Patients a group needs for its mean to reach ``reliability`` (Spearman-Brown)."""
        if self.tau2_group <= 0:
            return float("inf")
        per_patient = self.tau2_patient + self.sigma2 / sessions_per_patient
        return reliability / (1 - reliability) * per_patient / self.tau2_group


@dataclass(frozen=True)
class _Cells:
    """Patients of the same group with the same number of sessions share their variance, so
    the criterion needs only sums over each (group, sessions) cell: exact, and a few hundred
    cells stand in for millions of patients."""

    group: np.ndarray
    n: np.ndarray
    count: np.ndarray
    sx: np.ndarray  # (cells, p): sum of x
    sxx: np.ndarray  # (cells, p, p): sum of x x'
    sxm: np.ndarray  # (cells, p): sum of x * mean
    sm: np.ndarray  # sum of means
    smm: np.ndarray  # sum of squared means
    n_groups: int
    within_df: float
    within_ss: float


def _cells(s: PatientSummaries) -> _Cells:
    sessions = s.n.astype(np.int64)
    width = int(sessions.max()) + 1
    unique, cell = np.unique(s.group.astype(np.int64) * width + sessions, return_inverse=True)
    k, p = len(unique), s.covariates.shape[1]

    def total(values: np.ndarray) -> np.ndarray:
        flat = values.reshape(len(values), -1)
        out = np.stack(
            [np.bincount(cell, weights=flat[:, j], minlength=k) for j in range(flat.shape[1])],
            axis=1,
        )
        return out.reshape((k, *values.shape[1:]))

    x, m = s.covariates, s.mean
    return _Cells(
        group=unique // width,
        n=(unique % width).astype(float),
        count=np.bincount(cell, minlength=k).astype(float),
        sx=total(x),
        sxx=total(x[:, :, None] * x[:, None, :]).reshape(k, p, p),
        sxm=total(x * m[:, None]),
        sm=np.bincount(cell, weights=m, minlength=k),
        smm=np.bincount(cell, weights=m * m, minlength=k),
        n_groups=s.n_groups,
        within_df=float(np.sum(s.n - 1.0)),
        within_ss=float(np.sum(s.within_ss)),
    )


def _parts(
    c: _Cells, log_var: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """REML criterion (to minimise), and the pieces the BLUPs and the fixed effects' standard
    errors reuse."""
    tau_g, tau_p, sigma2 = np.exp(log_var)
    d = tau_p + sigma2 / c.n
    w = 1.0 / d
    sum_w = np.bincount(c.group, weights=c.count * w, minlength=c.n_groups)
    shrink = tau_g / (1.0 + tau_g * sum_w)  # per group
    # X'V^-1 X and X'V^-1 m, summed over groups with Sherman-Morrison.
    wsx = c.sx * w[:, None]
    gx = np.stack(
        [
            np.bincount(c.group, weights=wsx[:, j], minlength=c.n_groups)
            for j in range(wsx.shape[1])
        ],
        axis=1,
    )
    gm = np.bincount(c.group, weights=w * c.sm, minlength=c.n_groups)
    xtvx = np.einsum("c,cij->ij", w, c.sxx) - (gx * shrink[:, None]).T @ gx
    xtvm = w @ c.sxm - (gx * shrink[:, None]).T @ gm
    beta = np.linalg.solve(xtvx, xtvm)
    # Sums of w * r and w * r^2 with r = mean - x'beta, cell by cell.
    wr = w * (c.sm - c.sx @ beta)
    wrr = w * (c.smm - 2 * c.sxm @ beta + np.einsum("i,cij,j->c", beta, c.sxx, beta))
    gr = np.bincount(c.group, weights=wr, minlength=c.n_groups)
    quad = float(np.sum(wrr) - np.sum(shrink * gr * gr))
    logdet = float(np.sum(c.count * np.log(d)) + np.sum(np.log1p(tau_g * sum_w)))
    within = c.within_df * np.log(sigma2) + c.within_ss / sigma2
    _, logdet_x = np.linalg.slogdet(xtvx)
    criterion = 0.5 * (logdet + quad + within + logdet_x)
    return criterion, beta, gr, shrink, xtvx


def fit_nested(s: PatientSummaries) -> NestedFit:
    """REML fit of the nested random-intercept model from per-patient summaries; with one
    group, of the model with a random patient effect alone."""
    if len(s.n) < 3 or s.n_groups < 1:
        raise ValueError("the mixed model needs at least 3 patients.")
    pooled = float(np.var(s.mean)) or 1.0
    within_df = float(np.sum(s.n - 1.0))
    sigma0 = float(np.sum(s.within_ss)) / within_df if within_df > 0 else pooled / 2
    start = np.log([0.1 * pooled, 0.5 * pooled, max(sigma0, 1e-6 * pooled)])
    upper = np.log(100 * pooled + 100 * max(sigma0, 0))
    bounds = [(_LOG_FLOOR, upper)] * 3
    if s.n_groups == 1:  # no group level: its variance held at zero
        start[0] = _LOG_FLOOR
        bounds[0] = (_LOG_FLOOR, _LOG_FLOOR)
    if within_df <= 0:  # one session per patient: sigma2 and tau2_patient are not separable
        bounds[2] = (float(start[2]), float(start[2]))
    cells = _cells(s)
    result = minimize(
        lambda v: _parts(cells, v)[0],
        start,
        method="L-BFGS-B",
        bounds=bounds,
        options={"ftol": 1e-13},
    )
    _, beta, gr, shrink, xtvx = _parts(cells, result.x)
    tau_g, tau_p, sigma2 = np.exp(result.x)
    return NestedFit(
        beta=beta,
        beta_se=np.sqrt(np.diag(np.linalg.inv(xtvx))),
        tau2_group=float(tau_g) if result.x[0] > _LOG_FLOOR + 1 else 0.0,
        tau2_patient=float(tau_p) if result.x[1] > _LOG_FLOOR + 1 else 0.0,
        sigma2=float(sigma2),
        group_effect=shrink * gr,
        group_effect_se=np.sqrt(shrink),
        converged=bool(result.success),
    )


def patient_model(values: np.ndarray, patients: np.ndarray) -> NestedFit:
    """``y ~ 1 + (1 | patient)`` by REML, from one value per session and its patient."""
    codes, uniques = pd.factorize(patients)
    n = np.bincount(codes).astype(float)
    mean = np.bincount(codes, weights=values) / n
    within = np.bincount(codes, weights=(values - mean[codes]) ** 2)
    return fit_nested(
        PatientSummaries(
            group=np.zeros(len(uniques), np.int64),
            n=n,
            mean=mean,
            within_ss=within,
            covariates=np.ones((len(uniques), 1)),
            n_groups=1,
        )
    )
