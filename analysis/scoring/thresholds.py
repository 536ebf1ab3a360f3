"""Minimum scores per pillar, each with its method and where it came from.

Three methods (docs/design.md, "The non-compensatory rule"):

- ``fixed``: a value on the item-mean metric, or a percent of maximum possible. The default,
  3.5 on a 1-5 scale, is the PDRQ-9 cut-off (mean item score 3.5, set by latent-class analysis
  and the Youden index in N = 6,160); on other scales it is carried over as 62.5% of the range,
  and the provenance says so (and where the scale itself came from, when it was not declared).
- ``normative``: a percentile of the pillar's scores in a reference sample.
- ``criterion``: the ROC cut that maximises Youden's J (sensitivity + specificity - 1) for an
  outcome column such as dropout, with the AUC reported.

A score **at or above** its minimum passes.

File format (``--thresholds FILE``)::

    thresholds:
      bond:  {method: fixed, value: 3.5, source: "PDRQ-9 cut-off"}
      goals: {method: normative, percentile: 25, reference: reference_scores.csv}
      tasks: {method: criterion, outcome: dropout, bad_value: 1}

    error_correlation: 0.3   # optional: the pillars' error correlation, e.g. from a retest study

Pillars not named keep the default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .. import names
from ..fileio import read_yaml

DEFAULT_POMP = 62.5  # 3.5 on a 1-5 scale
DEFAULT_SOURCE = (
    "PDRQ-9 cut-off: mean item score 3.5 on a 1-5 scale, set by latent-class analysis and the "
    "Youden index (N = 6,160); 62.5% of the scale range"
)


def default_source(low: int, high: int) -> str:
    """Where the default minimum comes from, true for the scale it is applied to."""
    if (low, high) == (1, 5):
        return DEFAULT_SOURCE
    return (
        f"62.5% of the {low}-{high} range, carried over from the PDRQ-9 cut-off (mean item "
        f"score 3.5 on a 1-5 scale, set by latent-class analysis and the Youden index, "
        f"N = 6,160); not set on this scale"
    )


@dataclass(frozen=True)
class Threshold:
    """The minimum for one pillar on the item-mean metric, and how it was set."""

    pillar: str
    value: float
    pomp: float
    method: Literal["fixed", "normative", "criterion"]
    provenance: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pillar": self.pillar,
            "value": self.value,
            "pomp": self.pomp,
            "method": self.method,
            "provenance": self.provenance,
            **self.details,
        }


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    source: str | None = None


class FixedSpec(_Spec):
    method: Literal["fixed"]
    value: float | None = None
    pomp: float | None = Field(default=None, ge=0, le=100)


class NormativeSpec(_Spec):
    method: Literal["normative"]
    percentile: float = Field(gt=0, lt=100)
    reference: str


class CriterionSpec(_Spec):
    method: Literal["criterion"]
    outcome: str
    bad_value: float | str = 1


ThresholdSpec = Annotated[FixedSpec | NormativeSpec | CriterionSpec, Field(discriminator="method")]


class ThresholdFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    thresholds: dict[str, ThresholdSpec]
    error_correlation: float | None = Field(default=None, gt=-0.5, lt=1)


class ThresholdError(ValueError):
    """A thresholds file that cannot be used, with the file, pillar and field."""


@dataclass(frozen=True)
class ThresholdPlan:
    """Thresholds as asked for; resolved against data by :func:`resolve_thresholds`."""

    specs: dict[str, FixedSpec | NormativeSpec | CriterionSpec]
    base_dir: Path
    source: str
    error_correlation: float | None = None


def default_plan(pillars: tuple[str, ...]) -> ThresholdPlan:
    return ThresholdPlan({p: FixedSpec(method="fixed") for p in pillars}, Path("."), "default")


def load_thresholds(path: str | Path, pillars: tuple[str, ...]) -> ThresholdPlan:
    path = Path(path)
    raw = read_yaml(path, ThresholdError)
    try:
        parsed = ThresholdFile.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"] if p not in ("fixed", "normative", "criterion")]
        if loc and loc[0] != "thresholds":
            where = f"field {loc[0]!r}"
        elif len(loc) > 2:
            where = f"pillar {loc[1]!r}, field {'.'.join(loc[2:])!r}"
        else:
            where = f"pillar {loc[1]!r}" if len(loc) == 2 else "section 'thresholds'"
        reason = "required field is missing" if err["type"] == "missing" else err["msg"]
        raise ThresholdError(f"{path.name}: {where}: {reason}.") from None
    specs: dict[str, FixedSpec | NormativeSpec | CriterionSpec] = {
        p: FixedSpec(method="fixed") for p in pillars
    }
    stray = [name for name in parsed.thresholds if name not in pillars]
    if stray:
        raise ThresholdError(
            f"{path.name}: pillar {stray[0]!r}: not one of the rule's pillars "
            f"({', '.join(pillars) or 'none declared'})."
        )
    specs.update(parsed.thresholds)
    for name, spec in specs.items():
        if isinstance(spec, FixedSpec) and spec.value is not None and spec.pomp is not None:
            raise ThresholdError(f"{path.name}: pillar {name!r}: give 'value' or 'pomp', not both.")
    return ThresholdPlan(specs, path.parent, path.name, parsed.error_correlation)


def youden_cut(scores: np.ndarray, bad: np.ndarray) -> dict[str, float]:
    """The cut ``c`` (pass when score >= c) maximising sensitivity + specificity - 1 for
    flagging ``bad`` outcomes, with its sensitivity, specificity and the AUC.

    The AUC is the probability that a good-outcome score exceeds a bad-outcome score (ties half),
    from Mann-Whitney ranks.
    """
    ok = ~np.isnan(scores)
    x, y = scores[ok], bad[ok].astype(bool)
    n_bad, n_good = int(y.sum()), int((~y).sum())
    if n_bad == 0 or n_good == 0:
        raise ValueError("the outcome needs both good and bad cases to set a criterion cut.")
    cuts = np.unique(x)
    # Fail when score < cut: counts of each outcome strictly below every candidate cut.
    bad_below = np.searchsorted(np.sort(x[y]), cuts, side="left")
    good_below = np.searchsorted(np.sort(x[~y]), cuts, side="left")
    sensitivity = bad_below / n_bad
    specificity = 1 - good_below / n_good
    j = sensitivity + specificity - 1
    best = int(np.argmax(j))
    from scipy.stats import rankdata  # here: scipy.stats costs 0.6 s to import

    ranks = rankdata(x)
    auc = (ranks[~y].sum() - n_good * (n_good + 1) / 2) / (n_good * n_bad)
    return {
        "cut": float(cuts[best]),
        "youden_j": float(j[best]),
        "sensitivity": float(sensitivity[best]),
        "specificity": float(specificity[best]),
        "auc": float(auc),
        "n": len(x),
        "n_bad": n_bad,
    }


def _reference_scores(path: Path, pillar: str, load: Any) -> np.ndarray:
    """A reference sample: a scores file with the pillar column, or an export scored anew."""
    if not path.is_file():
        raise ThresholdError(f"{path}: reference sample not found.")
    if path.suffix.lower() == ".csv":
        head = pd.read_csv(path, nrows=0)
        if pillar in head.columns:
            return pd.to_numeric(
                pd.read_csv(path, usecols=[pillar])[pillar], errors="coerce"
            ).to_numpy()
    scored = load(path)
    if pillar not in scored.columns:
        raise ThresholdError(f"{path.name}: the reference sample has no {pillar!r} scores.")
    return np.asarray(scored[pillar].to_numpy(dtype=float))


def _first_sessions(data: pd.DataFrame) -> np.ndarray:
    """Rows to judge an outcome by: each respondent's first session when sessions are known."""
    if names.RESPONDENT_ID in data and names.SESSION in data:
        first = data.groupby(names.RESPONDENT_ID, sort=False)[names.SESSION].transform("min")
        return (data[names.SESSION] == first).to_numpy()
    return np.ones(len(data), dtype=bool)


def resolve_thresholds(
    plan: ThresholdPlan,
    scores: pd.DataFrame,
    scale_range: dict[str, tuple[int, int]],
    data: pd.DataFrame,
    load_reference: Any = None,
    scale_source: str = "",
) -> tuple[Threshold, ...]:
    """Turn each pillar's specification into a number on its item-mean metric.

    ``scale_source`` says where the response scale came from when the instrument did not
    declare it (value labels, ``--scale``, the observed answers); it is added to every
    minimum set on that scale's range."""
    out = []
    for pillar, spec in plan.specs.items():
        if pillar not in scores.columns:
            raise ThresholdError(
                f"{plan.source}: pillar {pillar!r} has no scores in this export; scored "
                f"subscales: {', '.join(scores.columns)}."
            )
        low, high = scale_range[pillar]
        span = high - low
        details: dict[str, Any] = {}
        if isinstance(spec, FixedSpec):
            if spec.value is not None:
                value = spec.value
                provenance = spec.source or f"fixed at {value:g} on the {low}-{high} item metric"
            else:
                pct = DEFAULT_POMP if spec.pomp is None else spec.pomp
                value = low + pct / 100 * span
                provenance = spec.source or (
                    default_source(low, high)
                    if spec.pomp is None
                    else f"fixed at {pct:g}% of the range"
                )
                if scale_source and not spec.source:
                    provenance += f"; the {low}-{high} scale {scale_source}"
        elif isinstance(spec, NormativeSpec):
            ref = _reference_scores(plan.base_dir / spec.reference, pillar, load_reference)
            ref = ref[~np.isnan(ref)]
            if len(ref) == 0:
                raise ThresholdError(
                    f"{spec.reference}: no {pillar!r} scores to take a percentile of."
                )
            value = float(np.percentile(ref, spec.percentile))
            details = {
                "percentile": spec.percentile,
                "reference": spec.reference,
                "reference_n": len(ref),
            }
            provenance = spec.source or (
                f"{spec.percentile:g}th percentile of {len(ref):,} reference scores "
                f"({spec.reference})"
            )
        else:
            if spec.outcome not in data.columns:
                raise ThresholdError(
                    f"{plan.source}: pillar {pillar!r}: outcome column {spec.outcome!r} is not "
                    f"in the export."
                )
            rows = _first_sessions(data)
            outcome = data.loc[rows, spec.outcome]
            bad = (outcome.astype(str) == str(spec.bad_value)).to_numpy()
            bad = (
                bad
                | (
                    pd.to_numeric(outcome, errors="coerce")
                    == pd.to_numeric(pd.Series([spec.bad_value]), errors="coerce").iloc[0]
                ).to_numpy()
            )
            known = outcome.notna().to_numpy()
            roc = youden_cut(scores.loc[rows, pillar].to_numpy()[known], bad[known])
            value = roc["cut"]
            details = {
                "outcome": spec.outcome,
                **{
                    k: roc[k]
                    for k in ("auc", "sensitivity", "specificity", "youden_j", "n", "n_bad")
                },
            }
            provenance = spec.source or (
                f"Youden-optimal cut against '{spec.outcome}' (AUC {roc['auc']:.2f}, "
                f"sensitivity {roc['sensitivity']:.2f}, specificity {roc['specificity']:.2f}, "
                f"n = {roc['n']:,})"
            )
        if not low <= value <= high:
            raise ThresholdError(
                f"{plan.source}: pillar {pillar!r}: minimum {value:g} lies outside the scale "
                f"{low}-{high}."
            )
        pomp = (value - low) / span * 100 if span else float("nan")
        out.append(Threshold(pillar, float(value), float(pomp), spec.method, provenance, details))
    return tuple(out)
