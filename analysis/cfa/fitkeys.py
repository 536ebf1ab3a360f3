"""The fit measures each output reports, defined once: what a model's entry in the JSON gives
(:data:`HEADLINE`, and beside it the family's unscaled values and scaling, :data:`BESIDE`), and
what each step of an invariance sequence gives (:data:`STEP`). The families
(:mod:`.families`) compute them under these names; validate, invariance and the store's CFA
report them from here."""

from __future__ import annotations

HEADLINE = (
    "chisq",
    "df",
    "pvalue",
    "cfi",
    "tli",
    "rmsea",
    "srmr",
    "aic",
    "bic",
    "loglik",
    "npar",
    "baseline_chisq",  # unscaled, as lavaan's baseline.chisq, whatever the estimator
    "baseline_chisq_scaled",  # scaled (MLR, MLM, WLSMV, ULSMV), as baseline.chisq.scaled
    "baseline_df",
    "rmsea_pvalue",
)
ORDINAL_BESIDE = (
    "chisq_dwls",
    "scaling_factor",
    "shift",
    "cfi_dwls",
    "tli_dwls",
    "rmsea_dwls",
    "cfi_robust",
    "tli_robust",
    "rmsea_robust",
)
# Beside the headline (scaled) values: the unscaled ones, the scaling, and WLSMV's robust CFI,
# TLI and RMSEA (Savalei's catML).
BESIDE = {
    "mlr": ("chisq_ml", "scaling_factor", "cfi_ml", "tli_ml", "rmsea_ml"),
    "mlm": ("chisq_ml", "scaling_factor", "cfi_ml", "tli_ml", "rmsea_ml"),
    "wlsmv": ORDINAL_BESIDE,
    "ulsmv": ORDINAL_BESIDE,
}
STEP = (
    "chisq",
    "df",
    "pvalue",
    "cfi",
    "tli",
    "rmsea",
    "rmsea_ci_lower",
    "rmsea_ci_upper",
    "srmr",
    "scaling_factor",
    "chisq_ml",
)
