"""Comparing nested models: the chi-square difference test, scaled under MLR and MLM."""

from __future__ import annotations

import math

from scipy import special

from ..choices import ORDINAL_ESTIMATORS
from .result import CFAResult


def chisq_difference(a: CFAResult, b: CFAResult) -> dict[str, float]:
    """Nested models, ``a`` the more restricted. Under MLR and MLM the Satorra-Bentler (2001) scaled
    difference: ``cd = (df_a c_a - df_b c_b) / (df_a - df_b)``, ``T = (T_a - T_b) / cd`` with
    T the unscaled statistics (lavaan's lavTestLRT default for MLR). Under WLSMV the unscaled
    DWLS difference, untested."""
    df_a, df_b = a.fit["df"], b.fit["df"]
    delta_df = int(df_a - df_b)
    if a.estimator in ORDINAL_ESTIMATORS:
        # The difference of scaled-and-shifted statistics is not chi-square distributed and
        # Satorra's (2000) difference test is not implemented: the DWLS difference, no p.
        delta = a.fit["chisq_dwls"] - b.fit["chisq_dwls"]
        return {"delta_chisq": float(delta), "delta_df": delta_df, "p": float("nan")}
    if a.estimator in ("mlr", "mlm"):
        t_a, t_b = a.fit["chisq_ml"], b.fit["chisq_ml"]

        def weighted(fit: dict[str, float]) -> float:
            return 0.0 if fit["df"] == 0 else fit["df"] * fit["scaling_factor"]

        cd = (weighted(a.fit) - weighted(b.fit)) / delta_df if delta_df else math.nan
        delta = (t_a - t_b) / cd
    else:
        delta = a.fit["chisq"] - b.fit["chisq"]
    return {
        "delta_chisq": float(delta),
        "delta_df": delta_df,
        "p": float(special.chdtrc(delta_df, delta)) if delta_df > 0 else float("nan"),
    }
