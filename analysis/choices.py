"""The choices a user makes on the command line, defined once and importable for free: the
command line builds its options from these without importing pandas or scipy."""

from __future__ import annotations

from typing import Literal

from . import names

Estimator = Literal["ml", "mlr", "mlm", "wlsmv", "ulsmv"]
ESTIMATORS: tuple[Estimator, ...] = ("ml", "mlr", "mlm", "wlsmv", "ulsmv")
# The estimators of ordinal items (thresholds and polychoric correlations): DWLS and ULS.
ORDINAL_ESTIMATORS: tuple[Estimator, ...] = ("wlsmv", "ulsmv")
# What a user may ask for: an estimator, or 'auto' (chosen from the answers).
EstimatorRequest = Literal["ml", "mlr", "mlm", "wlsmv", "ulsmv", "auto"]
ESTIMATOR_REQUESTS: tuple[EstimatorRequest, ...] = ("ml", "mlr", "mlm", "wlsmv", "ulsmv", "auto")

# How ordinal items' latent responses are identified (lavaan's parameterization): their total
# variance 1 ('delta', the default; the residual variance follows) or their residual variance
# 1 ('theta', in which residual variances can be held equal across groups: strict invariance).
Parameterization = Literal["delta", "theta"]
PARAMETERIZATIONS: tuple[Parameterization, ...] = ("delta", "theta")

# Missing answers in the CFA: complete rows only; every answer by full-information ML; or, for
# ordinal items, each statistic from the rows that answered its items (pairwise).
MissingMethod = Literal["listwise", "fiml", "pairwise"]
MISSING_METHODS: tuple[MissingMethod, ...] = ("listwise", "fiml", "pairwise")


# A two-level model of a nested export (sessions within patients): the pillars within clusters
# and, between clusters, each pillar as a factor of its own ('pillars') or one factor ('one');
# 'none': no two-level model.
LevelStructure = Literal["pillars", "one", "none"]
LEVEL_STRUCTURES: tuple[LevelStructure, ...] = ("pillars", "one", "none")

# Factor scores (lavaan's lavPredict): the regression (empirical Bayes) or Bartlett scores of a
# continuous model, the posterior mean (EAP) of an ordinal one; 'auto' takes EAP under WLSMV
# and ULSMV, else regression.
FactorMethod = Literal["regression", "bartlett", "eap"]
FACTOR_METHODS: tuple[FactorMethod, ...] = ("regression", "bartlett", "eap")
FACTOR_METHOD_REQUESTS = (*FACTOR_METHODS, "auto")

RowSelection = Literal["usable", "all"]
ROW_SELECTIONS: tuple[RowSelection, ...] = ("usable", "all")

# Kinds of parameter a multi-group model can hold equal across groups (lavaan's group.equal).
GROUP_EQUAL = (
    "loadings",
    "intercepts",
    "means",
    "residuals",
    "residual.covariances",
    "lv.variances",
    "lv.covariances",
    "thresholds",  # ordinal items (WLSMV)
)

# Which parallel analysis sets the EFA's number of factors.
ParallelKind = Literal["components", "factors"]
PARALLEL_KINDS: tuple[ParallelKind, ...] = ("components", "factors")

# Shapes `alliance simulate` writes.
SIMULATE_FORMATS = ("csv", "qualtrics", "redcap", "sav", "fhir")

# Largest share of a subscale's items that may be unanswered for it to be scored.
DEFAULT_MAX_MISSING_SHARE = 0.25

# Item calibration: items per subscale in the short form chosen by information; the adaptive
# test's stopping rule (PROMIS's SE < 0.3 and at least 4 items; at most 6 of a bank of 8).
DEFAULT_SHORT_ITEMS = 4
DEFAULT_STOP = "se=0.3,min=4,max=6"

# What a clinic store's comparisons group by (--by, --group on a store) and the column of each.
GROUPINGS = {"clinician_id": names.CLINICIAN_ID, "site_id": names.SITE_ID, "site": names.SITE_ID}

# EFA extraction, as psych's fa(fm = ...): minres (psych's default), ml, pa (iterated principal
# axes).
EfaMethod = Literal["minres", "ml", "pa"]
EFA_METHODS: tuple[EfaMethod, ...] = ("minres", "ml", "pa")

# Parallel analysis: random draws of the correlation matrix, psych's fa.parallel default (n.iter).
PARALLEL_ITERATIONS = 20

# Rupture alerts (analysis.ruptures): the false alerts per 100 patients over ALERT_SESSIONS
# sessions a clinic accepts by default, the fall that counts (in a pillar's true-score SDs),
# and the sessions within which an alliance must first be adequate.
DEFAULT_ALERT_RATE = 25.0
DEFAULT_DROP = 0.5
ALERT_SESSIONS = 8
DEFAULT_ESTABLISH_WITHIN = 3
