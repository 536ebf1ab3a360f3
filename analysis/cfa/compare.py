"""Comparing nested models: the chi-square difference test, scaled under MLR and MLM."""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from ..choices import ORDINAL_ESTIMATORS
from .dwls import DWLS
from .result import CFAResult
from .teststat import bdiag


def chisq_difference(a: CFAResult, b: CFAResult) -> dict[str, float]:
    """Nested models, ``a`` the more restricted. Under MLR and MLM the Satorra-Bentler (2001)
    scaled difference: ``cd = (df_a c_a - df_b c_b) / (df_a - df_b)``, ``T = (T_a - T_b) / cd`` with
    T the unscaled statistics (lavaan's lavTestLRT default for MLR; no test, NaN, when ``cd`` is
    negative, as lavaan). Under WLSMV and ULSMV
    Satorra's (2000) scaled-and-shifted difference (:func:`satorra_2000`)."""
    df_a, df_b = a.fit["df"], b.fit["df"]
    delta_df = int(df_a - df_b)
    if a.estimator in ORDINAL_ESTIMATORS:
        delta = satorra_2000(a, b) if delta_df > 0 else a.fit["chisq_dwls"] - b.fit["chisq_dwls"]
    elif a.estimator in ("mlr", "mlm"):
        t_a, t_b = a.fit["chisq_ml"], b.fit["chisq_ml"]

        def weighted(fit: dict[str, float]) -> float:
            return 0.0 if fit["df"] == 0 else fit["df"] * fit["scaling_factor"]

        cd = (weighted(a.fit) - weighted(b.fit)) / delta_df if delta_df else math.nan
        # A negative scaling factor gives no test: lavaan warns and returns NA, and so does this.
        delta = (t_a - t_b) / cd if cd > 0 else math.nan
    else:
        delta = a.fit["chisq"] - b.fit["chisq"]
    return {
        "delta_chisq": float(delta),
        "delta_df": delta_df,
        "p": float(special.chdtrc(delta_df, delta)) if delta_df > 0 else float("nan"),
    }


def _complement(h: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the orthogonal complement of ``h``'s column space, as columns."""
    q, r = np.linalg.qr(h, mode="complete")
    tol = max(h.shape) * np.finfo(float).eps * (abs(r).max() if r.size else 0.0)
    rank = int(np.sum(np.abs(np.diag(r)) > tol)) if r.size else 0
    return q[:, rank:]


def satorra_2000(a: CFAResult, b: CFAResult) -> float:
    """The scaled-and-shifted difference of two nested models of ordinal items, ``a`` the more
    restricted, as lavaan's ``lavTestLRT`` (``method = "satorra.2000"``): the constraints that
    ``a`` puts on ``b``'s parameters found from the two models' Jacobians (lavaan's
    ``A.method = "delta"``), ``U`` their projection under ``b``'s information, and the
    unscaled difference ``(T_a - T_b) alpha + beta`` with ``alpha = sqrt(m / tr((U Gamma)^2))``
    and ``beta = m - alpha tr(U Gamma)``."""
    from .families import family_for
    from .matrices import Representation

    objectives = []
    for result in (a, b):
        assert result.table is not None and result.stats is not None and result.theta is not None
        rep = Representation.of(result.table)
        objectives.append((family_for(result.spec).objective(rep, result.stats), result.theta))
    (restricted, theta_a), (free, theta_b) = objectives
    assert isinstance(free, DWLS) and isinstance(restricted, DWLS)
    groups = range(len(free.samples))
    pi = [free.jacobian(theta_b, g) for g in groups]
    delta_b = np.vstack(pi)
    delta_a = np.vstack([restricted.jacobian(theta_a, g) for g in groups])
    constraints = _complement(np.linalg.pinv(delta_b) @ delta_a).T
    p_inv = np.linalg.inv(free.bread(theta_b))
    middle = p_inv @ constraints.T @ np.linalg.pinv(constraints @ p_inv @ constraints.T)
    projection = middle @ constraints @ p_inv
    weights = [np.diag(s.weights) for s in free.samples]
    f = free.weights
    trace = sum(
        f[g] * float(np.trace(weights[g] @ s.gamma @ weights[g] @ pi[g] @ projection @ pi[g].T))
        for g, s in zip(groups, free.samples, strict=True)
    )
    v = bdiag(weights)
    gamma = bdiag([f[g] * s.gamma for g, s in zip(groups, free.samples, strict=True)])
    ug = v @ delta_b @ projection @ delta_b.T @ v @ gamma
    trace2 = float(np.sum(ug * ug.T))
    m = int(a.fit["df"] - b.fit["df"])
    alpha = math.sqrt(m / trace2)
    beta = m - alpha * trace
    return float((a.fit["chisq_dwls"] - b.fit["chisq_dwls"]) * alpha + beta)
