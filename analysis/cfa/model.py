"""Stage 6: fit a CFA model to data and collect every number a researcher reports.

``fit_cfa(data, model, estimator="ml" | "mlr")`` runs the stages (syntax -> parameter table ->
matrices -> estimation -> fit measures) and returns a frozen :class:`CFAResult`.

- ML: expected-information standard errors (lavaan's default for ML).
- MLR: the same estimates; Huber-White sandwich standard errors with the observed information as
  bread; the Yuan-Bentler scaled chi-square as Mplus and lavaan's MLR compute it,
  ``c = (tr(A1^-1 B1) - tr(A0^-1 B0)) / df`` from the saturated (1) and fitted (0) models'
  information A and score cross-products B; robust CFI, TLI and RMSEA (Brosseau-Liard & Savalei)
  and the robust RMSEA interval (the scaled statistic's interval times sqrt(c)). The unscaled
  values sit beside them with a ``_ml`` suffix.

Missing answers: listwise deletion. Validated against lavaan 0.6.14 (tests/reference).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import norm

from instrument.syntax import parse_model

from . import fitmeasures as fm
from .estimate import (
    casewise_scores,
    expected_hessian,
    fit_ml,
    observed_hessian,
    robust_trace,
    saturated_scores,
)
from .matrices import Representation
from .modindices import modification_indices
from .partable import ModelError, ParTable, build_partable
from .standardized import standardize, standardized_se

Estimator = Literal["ml", "mlr"]
ESTIMATORS = ("ml", "mlr")


@dataclass(frozen=True)
class CFAResult:
    """Everything about one fitted model. ``estimates`` has one row per parameter."""

    model: str
    estimator: Estimator
    n: int
    observed: tuple[str, ...]
    latent: tuple[str, ...]
    estimates: pd.DataFrame
    fit: dict[str, float]
    converged: bool
    iterations: int
    implied: pd.DataFrame
    sample: pd.DataFrame
    modindices: pd.DataFrame
    residual_correlations: pd.DataFrame
    findings: tuple[str, ...] = field(default=())

    @property
    def loadings(self) -> pd.DataFrame:
        return self.estimates[self.estimates["op"] == "=~"].reset_index(drop=True)

    def factor_correlations(self) -> pd.DataFrame:
        e = self.estimates
        psi = e[(e["op"] == "~~") & e["lhs"].isin(self.latent)]
        names = list(self.latent)
        values = np.eye(len(names))
        for lhs, rhs, std in zip(psi["lhs"], psi["rhs"], psi["std_all"], strict=True):
            a, b = names.index(str(lhs)), names.index(str(rhs))
            values[a, b] = values[b, a] = float(std)
        return pd.DataFrame(values, index=names, columns=names)

    def summary(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "estimator": self.estimator,
            "n": self.n,
            "converged": self.converged,
            "fit": dict(self.fit),
            "findings": list(self.findings),
        }


def _prepare(data: pd.DataFrame, observed: tuple[str, ...]) -> tuple[np.ndarray, int]:
    missing = [v for v in observed if v not in data.columns]
    if missing:
        raise ModelError(f"the data have no column for {', '.join(map(repr, missing))}.")
    x = data[list(observed)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    x = x[~np.isnan(x).any(axis=1)]  # listwise deletion
    if len(x) <= len(observed):
        raise ModelError(
            f"only {len(x)} complete rows for {len(observed)} indicators; a covariance matrix "
            f"needs more rows than variables."
        )
    return x, len(x)


def _heywood(rep: Representation, theta: np.ndarray, std: np.ndarray) -> list[str]:
    findings = []
    values = rep.values(theta)
    for p, (name, r, c), v, sv in zip(rep.table.parameters, rep.cells, values, std, strict=True):
        if p.op == "~~" and r == c and v < 0:
            what = "factor" if name == "psi" else "residual"
            findings.append(f"Heywood case: negative {what} variance {p.lhs} ~~ {p.rhs} = {v:.3f}")
        elif p.op == "=~" and abs(sv) > 1:
            findings.append(f"Heywood case: standardized loading {p.lhs} =~ {p.rhs} = {sv:.3f}")
        elif name == "psi" and r != c and abs(sv) > 1:
            findings.append(f"factor correlation {p.lhs} ~~ {p.rhs} = {sv:.3f} is beyond 1")
    return findings


def fit_cfa(
    data: pd.DataFrame,
    model: str,
    *,
    estimator: Estimator = "ml",
    std_lv: bool = False,
    orthogonal: bool = False,
) -> CFAResult:
    """Fit a confirmatory factor model.

    Parameters
    ----------
    data : DataFrame
        One row per response; the model's indicators as columns. Rows with a missing indicator
        are left out (listwise).
    model : str
        lavaan-style syntax, e.g. ``'visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6'``.
    estimator : {'ml', 'mlr'}, default 'ml'
    std_lv : bool, default False
        Identify factors by unit variance instead of a marker loading.
    orthogonal : bool, default False
        Fix factor covariances at zero.

    Validated against lavaan 0.6 ``cfa()`` (ML and MLR): fit measures, estimates, standard
    errors, standardized solution, modification indices.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"'estimator' must be one of 'ml', 'mlr'; got {estimator!r}.")
    table: ParTable = build_partable(parse_model(model), std_lv=std_lv, orthogonal=orthogonal)
    rep = Representation.of(table)
    x, n = _prepare(data, table.observed)
    centered = x - x.mean(axis=0)
    s = centered.T @ centered / n
    p = len(table.observed)
    df = p * (p + 1) // 2 - rep.n_free
    if df < 0:
        raise ModelError(
            f"the model is not identified: {rep.n_free} free parameters but only "
            f"{p * (p + 1) // 2} variances and covariances (df = {df})."
        )
    est = fit_ml(rep, s)
    theta = est.theta
    findings: list[str] = []
    if not est.converged:
        findings.append(
            f"the estimation did not converge ({est.message}); numbers are not trustworthy"
        )

    sigma = rep.implied(theta)
    chisq = n * est.fmin
    base = fm.baseline_chisq(s, n)
    base_df = p * (p - 1) // 2
    h_exp = expected_hessian(rep, theta)
    singular = np.linalg.matrix_rank(h_exp, tol=1e-8 * np.abs(h_exp).max()) < len(theta)
    if singular:
        findings.append(
            "the information matrix is singular: some parameters are not "
            "identified by these data; standard errors are not available"
        )

    def inverse(matrix: np.ndarray) -> np.ndarray:
        if singular:
            return np.full_like(matrix, np.nan)
        return np.linalg.inv(matrix)

    fit: dict[str, float] = {
        "npar": rep.n_free,
        "ntotal": n,
        "chisq": chisq,
        "df": df,
        "pvalue": fm.chisq_pvalue(chisq, df),
        "baseline_chisq": base,
        "baseline_df": base_df,
        "cfi": fm.cfi(chisq, df, base, base_df),
        "tli": fm.tli(chisq, df, base, base_df),
        "rmsea": fm.rmsea(chisq, df, n),
    }
    fit["rmsea_ci_lower"], fit["rmsea_ci_upper"] = fm.rmsea_ci(chisq, df, n)
    fit["rmsea_pvalue"] = fm.rmsea_pclose(chisq, df, n)
    fit["srmr"] = fm.srmr(s, sigma)
    fit["loglik"] = fm.loglik(sigma, s, n)
    fit["unrestricted_loglik"] = fm.loglik(s, s, n)
    fit["aic"] = -2 * fit["loglik"] + 2 * rep.n_free
    fit["bic"] = -2 * fit["loglik"] + rep.n_free * float(np.log(n))

    if estimator == "ml":
        vcov = inverse(n / 2 * h_exp)
    else:
        bread = inverse(n / 2 * observed_hessian(rep, theta, s))
        scores = casewise_scores(rep, theta, centered)
        vcov = bread @ (scores.T @ scores) @ bread
        if df > 0 and not singular:
            info1, scores1 = saturated_scores(s, centered)
            trace1 = robust_trace(info1, scores1)
            trace0 = robust_trace(n / 2 * observed_hessian(rep, theta, s) / n, scores)
            c = (trace1 - trace0) / df
            base_c = (trace1 - _baseline_trace(s, centered)) / base_df
            fit.update(
                {
                    "chisq_ml": chisq,
                    "scaling_factor": c,
                    "chisq": chisq / c,
                    "pvalue": fm.chisq_pvalue(chisq / c, df),
                    "baseline_chisq_scaled": base / base_c,
                    "baseline_scaling_factor": base_c,
                    "cfi_ml": fit["cfi"],
                    "tli_ml": fit["tli"],
                    "rmsea_ml": fit["rmsea"],
                    "cfi": fm.robust_cfi(chisq, df, c, base, base_df, base_c),
                    "tli": fm.robust_tli(chisq, df, c, base, base_df, base_c),
                    "rmsea": fm.robust_rmsea(chisq, df, c, n),
                    "rmsea_ci_lower_ml": fit["rmsea_ci_lower"],
                    "rmsea_ci_upper_ml": fit["rmsea_ci_upper"],
                    "rmsea_pvalue_ml": fit.pop("rmsea_pvalue"),
                }
            )
            # lavaan's robust interval: the scaled statistic's interval, times sqrt(c).
            low, high = fm.rmsea_ci(chisq / c, df, n)
            fit["rmsea_ci_lower"], fit["rmsea_ci_upper"] = low * np.sqrt(c), high * np.sqrt(c)

    values = rep.values(theta)
    se = np.full(len(values), np.nan)
    free = np.array(rep.free_index)
    se[free >= 0] = np.sqrt(np.clip(np.diag(vcov), 0, None))[free[free >= 0]]
    std = standardize(rep, theta)
    std_se = standardized_se(rep, theta, vcov)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = values / se
    estimates = pd.DataFrame(
        {
            "lhs": [q.lhs for q in table.parameters],
            "op": [q.op for q in table.parameters],
            "rhs": [q.rhs for q in table.parameters],
            "free": free >= 0,
            "est": values,
            "se": se,
            "z": z,
            "pvalue": 2 * norm.sf(np.abs(z)),
            "std_all": std,
            "std_se": std_se,
        }
    )
    findings += _heywood(rep, theta, std)
    names = list(table.observed)
    sd_s, sd_sigma = np.sqrt(np.diag(s)), np.sqrt(np.diag(sigma))
    resid = s / np.outer(sd_s, sd_s) - sigma / np.outer(sd_sigma, sd_sigma)
    mi = (
        modification_indices(rep, theta, s, n)
        if not singular
        else pd.DataFrame(columns=["lhs", "op", "rhs", "mi", "epc"])
    )
    return CFAResult(
        model=model,
        estimator=estimator,
        n=n,
        observed=table.observed,
        latent=table.latent,
        estimates=estimates,
        fit=fit,
        converged=est.converged,
        iterations=est.iterations,
        implied=pd.DataFrame(sigma, index=names, columns=names),
        sample=pd.DataFrame(s, index=names, columns=names),
        modindices=mi,
        residual_correlations=pd.DataFrame(resid, index=names, columns=names),
        findings=tuple(findings),
    )


def _baseline_trace(s: np.ndarray, centered: np.ndarray) -> float:
    """``tr(A^-1 B)`` of the independence model (free variances only), per case."""
    var = np.diag(s)
    info = np.diag(0.5 / var**2)
    scores = 0.5 * (centered**2 / var**2 - 1 / var)
    return robust_trace(info, scores)
