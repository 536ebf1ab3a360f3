"""How a model is fitted, decided once: the estimator, the missing-data method, the ordinal
items, the groups and what is held equal across them, and the clusters.

A user asks with a :class:`FitRequest` (``estimator='auto'``, ``missing=None`` for what the
data need: FIML when an answer is missing, complete rows when none is; ``ordered='all'`` or a
list in words); :meth:`FitRequest.resolve`
turns it, against the data it will fit, into a :class:`FitSpec`, which every stage of the
engine takes as it is and which holds no choice still open. The command line, the pipeline and
Python callers build their request in one place (``Options.fit_request``), so an option means
the same wherever it is given. The defaults of :class:`FitSpec` are lavaan's ``cfa()``'s:
ML, complete rows, every indicator continuous, one group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from ..choices import (
    ESTIMATOR_REQUESTS,
    ESTIMATORS,
    MISSING_METHODS,
    ORDINAL_ESTIMATORS,
    PARAMETERIZATIONS,
    Estimator,
    EstimatorRequest,
    MissingMethod,
    Parameterization,
)
from ..wording import worded
from .auto import EstimatorChoice, choose_estimator
from .partable import Key, ModelError


@dataclass(frozen=True)
class FitSpec:
    """A fit with every choice made. ``ordered``: under WLSMV, the ordinal indicators when not
    all are (None: all of them, or none under ML and MLR)."""

    estimator: Estimator = "ml"
    missing: MissingMethod = "listwise"
    ordered: tuple[str, ...] | None = None
    group: str | None = None
    group_equal: tuple[str, ...] = ()
    group_partial: tuple[Key, ...] = ()
    cluster: str | None = None
    parameterization: Parameterization = "delta"  # of ordinal items (lavaan's)
    choice: EstimatorChoice | None = field(default=None, compare=False)  # 'auto' and its reason
    notes: tuple[str, ...] = field(default=(), compare=False)  # what the request was made into

    def __post_init__(self) -> None:
        if self.estimator not in ESTIMATORS:
            raise ValueError(
                f"'estimator' must be one of {', '.join(map(repr, ESTIMATORS))}; got "
                f"{self.estimator!r}."
            )
        if self.missing not in MISSING_METHODS:
            raise ValueError(
                f"'missing' must be one of {', '.join(map(repr, MISSING_METHODS))}; got "
                f"{self.missing!r}."
            )
        if self.parameterization not in PARAMETERIZATIONS:
            raise ValueError(
                f"'parameterization' must be one of {', '.join(map(repr, PARAMETERIZATIONS))}; "
                f"got {self.parameterization!r}."
            )
        if self.ordered is not None and self.estimator not in ORDINAL_ESTIMATORS:
            raise ModelError("ordinal indicators ('ordered') are fitted by WLSMV or ULSMV.")
        if self.estimator in ORDINAL_ESTIMATORS and self.missing == "fiml":
            raise ModelError(
                "WLSMV handles missing answers pairwise or listwise; FIML is for ML and MLR."
            )
        if self.cluster is not None and self.estimator in ORDINAL_ESTIMATORS:
            raise ModelError(
                "cluster-robust inference under WLSMV is not available yet (lavaan has none to "
                "check it against); fit by MLR with the cluster, or by WLSMV without it."
            )
        if self.estimator == "mlm" and self.missing != "listwise":
            raise ModelError(
                "MLM needs complete rows (lavaan's MLM is listwise); fit MLR for full-"
                "information ML under missing answers."
            )
        if self.estimator == "mlm" and self.cluster is not None:
            raise ModelError("MLM with clusters is not available yet; fit MLR with them.")
        if self.cluster is not None and self.estimator == "ml":
            raise ModelError(
                "a clustered fit is MLR's, as lavaan's cluster= is: robust standard errors and "
                "the scaled test (estimator 'mlr')."
            )

    @property
    def ordinal(self) -> bool | tuple[str, ...]:
        """What the sample statistics treat as ordinal: every indicator, those named, or
        none."""
        if self.estimator not in ORDINAL_ESTIMATORS:
            return False
        return self.ordered if self.ordered is not None else True


DEFAULT = FitSpec()


@dataclass(frozen=True)
class FitRequest:
    """What a user asked for, before the data are seen: ``estimator`` may be ``'auto'``,
    ``missing`` None (for ML and MLR, FIML when an answer is missing and complete rows when
    none is, lavaan's default; pairwise for WLSMV), ``ordered`` ``'all'`` or a
    comma-separated list of items (fitted by WLSMV)."""

    estimator: EstimatorRequest = "ml"
    missing: MissingMethod | None = None
    ordered: str | None = None
    group: str | None = None
    group_equal: tuple[str, ...] = ()
    group_partial: tuple[Key, ...] = ()
    cluster: str | None = None
    # How the rows nest when the request was made from an export: the cluster was chosen by
    # default (the respondent of repeated sessions), and how many respondents have more than
    # one row (0: none, or not known).
    cluster_by_default: bool = False
    repeated: int = 0

    def _missing(self, estimator: Estimator, data: pd.DataFrame, items: list[str]) -> MissingMethod:
        """The missing-data method asked for; else pairwise for WLSMV, and for ML and MLR
        FIML when an answer to the model's items is missing, complete rows (lavaan's
        default, with no mean structure) when none is."""
        if self.missing is not None:
            return self.missing
        if estimator in ORDINAL_ESTIMATORS:
            return "pairwise"
        if estimator == "mlm":
            return "listwise"  # lavaan's MLM: complete rows
        present = [i for i in items if i in data.columns]
        answers = data[present].apply(pd.to_numeric, errors="coerce")
        return "fiml" if answers.isna().to_numpy().any() else "listwise"

    def resolve(self, data: pd.DataFrame, items: Sequence[str]) -> FitSpec:
        """The fit of ``items`` in ``data``: the estimator asked for, WLSMV when ``ordered``
        names items (the others then continuous), or the automatic choice with its reason."""
        items = list(items)
        choice = None
        ordered: tuple[str, ...] | None = None
        if self.ordered:
            text = self.ordered.strip()
            named = items if text == "all" else [w.strip() for w in self.ordered.split(",")]
            unknown = [w for w in named if w not in items]
            if unknown:
                raise ValueError(
                    worded(
                        f"`ordered` names {', '.join(map(repr, unknown))}, not an item of the "
                        "model."
                    )
                )
            if self.estimator == "mlr":
                raise ValueError(worded("`ordered` items are fitted by WLSMV, not MLR."))
            estimator: Estimator = "ulsmv" if self.estimator == "ulsmv" else "wlsmv"
            if set(named) != set(items):
                ordered = tuple(i for i in items if i in named)
        elif self.estimator == "auto":
            choice = choose_estimator(data, items)
            estimator = choice.estimator
        elif self.estimator in ESTIMATORS:
            estimator = self.estimator
        else:
            raise ValueError(
                f"'estimator' must be {', '.join(ESTIMATOR_REQUESTS[:-1])} or auto; got "
                f"{self.estimator!r}."
            )
        notes: tuple[str, ...] = ()
        cluster = self.cluster
        if (
            cluster is not None
            and estimator in ("wlsmv", "ulsmv", "mlm")
            and self.cluster_by_default
        ):
            cluster = None
            name = estimator.upper()
            notes = (
                f"{self.repeated:,} respondents have several rows (sessions), not accounted "
                f"for under {name} (no cluster-robust {name} yet): standard errors are too small",
            )
        elif cluster is None and self.repeated:
            notes = (
                f"rows treated as independent (cluster: none), though {self.repeated:,} "
                "respondents have several: standard errors are too small",
            )
        elif cluster is not None and estimator == "ml":
            estimator = "mlr"
            notes = ("ML with clusters is fitted by MLR, as lavaan's cluster= does",)
        return FitSpec(
            estimator=estimator,
            missing=self._missing(estimator, data, items),
            ordered=ordered,
            group=self.group,
            group_equal=self.group_equal,
            group_partial=self.group_partial,
            cluster=cluster,
            choice=choice,
            notes=notes,
        )
