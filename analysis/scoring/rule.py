"""The non-compensatory alliance rule, with measurement error made visible.

An alliance is **adequate** only when *each* pillar (bond, goals, tasks) is at or above its own
minimum; a high bond does not make up for a low goals score. Per row:

- ``<pillar>_pass``; ``alliance_status``: adequate, inadequate or insufficient_data (a pillar
  could not be scored);
- ``weakest_pillar`` and its ``margin`` (score minus minimum, item-mean metric; negative fails);
- ``compensatory_total`` (mean of the pillar scores) and ``compensatory_adequate``: what a
  compensatory rule at the same overall level would say (mean percent-of-maximum at or above
  the mean of the minimums). ``masked_rupture``: compensatory adequate, yet a pillar fails.
- ``p_adequate``: the probability that the true scores clear all minimums. True scores are
  taken as normal around the observed ones with each pillar's standard error of measurement
  (SEM = SD * sqrt(1 - alpha)) and the pillars' error correlation; the probability is a
  multivariate normal orthant probability (:mod:`analysis.scoring.mvn`), not a product of
  independent pillar probabilities.

The error correlation is estimated from odd-even half-scores: within a pillar the difference of
its two halves cancels the true score and keeps the item-level error, so the correlation of
those differences across pillars shows item-level error the pillars share. A rater's mood that
lifts every item alike cancels in the halves and counts as true score here, as it does in
alpha; when such transient error is known (from a retest study), set ``error_correlation`` in
the thresholds file and it is used instead.

Classification accuracy and consistency (Rudner-style) summarise the same probabilities over the
sample: accuracy is the mean probability that the true status equals the observed one, and
consistency the mean probability that a parallel administration would classify the same way
(``p^2 + (1 - p)^2``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .mvn import orthant
from .score import SubscaleScores
from .thresholds import Threshold

ADEQUATE, INADEQUATE, INSUFFICIENT = "adequate", "inadequate", "insufficient_data"
STATUSES = (ADEQUATE, INADEQUATE, INSUFFICIENT)
SENSITIVITY_SHIFTS_POMP = (-12.5, -6.25, 0.0, 6.25, 12.5)  # +-0.5 and 0.25 on a 1-5 scale
_TOLERANCE = 1e-9  # so that a mean of exactly the minimum passes despite floating point


@dataclass(frozen=True)
class MeasurementError:
    """Per pillar: reliability (alpha), SD of scores, SEM; and the pillars' error correlation."""

    reliability: pd.Series
    sd: pd.Series
    sem: pd.Series
    error_correlation: pd.DataFrame

    def to_dict(self) -> dict[str, object]:
        return {
            "reliability": self.reliability.to_dict(),
            "sd": self.sd.to_dict(),
            "sem": self.sem.to_dict(),
            "error_correlation": self.error_correlation.to_dict(),
        }


def _nearest_correlation(matrix: np.ndarray) -> np.ndarray:
    """Shrink towards the identity until positive definite (sampling noise can break it)."""
    out = matrix.copy()
    eye = np.eye(len(out))
    for weight in np.linspace(0, 1, 21):
        candidate = (1 - weight) * matrix + weight * eye
        if np.linalg.eigvalsh(candidate).min() > 1e-6:
            return candidate
    return out


def measurement_error(
    scores: SubscaleScores,
    pillars: tuple[str, ...],
    error_correlation: float | None = None,
) -> MeasurementError:
    """Reliability, SEM and error correlation of the pillars; ``error_correlation`` (one value
    for every pair) replaces the half-score estimate when given."""
    diffs = scores.half_difference[list(pillars)].dropna()
    return error_model(
        pd.Series({p: scores.alpha[p] for p in pillars}),
        pd.Series({p: float(np.nanstd(scores.scores[p].to_numpy(), ddof=1)) for p in pillars}),
        diffs.corr().to_numpy() if len(pillars) > 1 else np.eye(len(pillars)),
        len(diffs),
        error_correlation,
    )


def error_model(
    reliability: pd.Series,
    sd: pd.Series,
    half_correlation: np.ndarray,
    complete_rows: int,
    error_correlation: float | None = None,
) -> MeasurementError:
    """The measurement-error model from the sample's statistics: per pillar its reliability
    and SD, and the correlation of the half-score differences over the ``complete_rows``
    rows that have all of them (``error_correlation`` replaces it when given)."""
    pillars = list(reliability.index)
    if error_correlation is not None:
        corr = np.full((len(pillars), len(pillars)), float(error_correlation))
        np.fill_diagonal(corr, 1.0)
        if np.linalg.eigvalsh(corr).min() <= 0:
            raise ValueError(
                f"'error_correlation' must leave the error correlation matrix positive "
                f"definite; got {error_correlation!r}."
            )
    elif len(pillars) > 1 and complete_rows > len(pillars) + 2:
        corr = _nearest_correlation(np.nan_to_num(half_correlation, nan=0.0))
        np.fill_diagonal(corr, 1.0)
    else:
        corr = np.eye(len(pillars))
    return MeasurementError(
        reliability=reliability,
        sd=sd,
        sem=sd * np.sqrt(np.clip(1 - reliability, 0, None)),
        error_correlation=pd.DataFrame(corr, index=pillars, columns=pillars),
    )


def _profile_keys(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a small float matrix and, per row, which distinct one it is.

    Scores take few distinct values, so probabilities are computed once per distinct profile.
    Each column is coded by its distinct values, and a row's profile is the number its codes
    spell. When there are no more such numbers than rows (or 65,536), the profiles present are
    found by counting them, which is three times faster than sorting the rows."""
    coded = [pd.factorize(values[:, j], use_na_sentinel=False) for j in range(values.shape[1])]
    sizes = [len(uniques) for _, uniques in coded]
    possible = math.prod(sizes)
    if possible > max(len(values), 1 << 16):
        return _profiles_by_sorting(values, coded)
    key = np.zeros(len(values), dtype=np.int64)
    for (codes, _), size in zip(coded, sizes, strict=True):
        key = key * size + codes
    present = np.bincount(key, minlength=possible) > 0
    distinct = np.empty((int(present.sum()), len(coded)))
    rest = np.flatnonzero(present)
    for j in reversed(range(len(coded))):
        rest, code = np.divmod(rest, sizes[j])
        distinct[:, j] = coded[j][1][code]
    return distinct, (np.cumsum(present) - 1)[key]


def _profiles_by_sorting(
    values: np.ndarray, coded: list[tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """`_profile_keys` for many distinct profiles: the key is recoded column by column, so
    that it cannot overflow, and the distinct keys are sorted."""
    key = np.zeros(len(values), dtype=np.int64)
    for codes, uniques in coded:
        key, _ = pd.factorize(key * (len(uniques) + 1) + codes)
        key = key.astype(np.int64)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return values[first], inverse


def p_adequate(
    pillar_scores: np.ndarray, minimums: np.ndarray, error: MeasurementError
) -> np.ndarray:
    """P(every true pillar score >= its minimum) per row; NaN where a pillar is missing."""
    sem = error.sem.to_numpy()
    out = np.full(len(pillar_scores), np.nan)
    ok = ~np.isnan(pillar_scores).any(axis=1)
    if not ok.any():
        return out
    if np.any(~(sem > 0)):
        # No measurement error to speak of: the observed classification is certain.
        out[ok] = (pillar_scores[ok] >= minimums - _TOLERANCE).all(axis=1).astype(float)
        return out
    distinct, inverse = _profile_keys(pillar_scores[ok])
    z = (distinct - minimums) / sem
    out[ok] = orthant(z, error.error_correlation.to_numpy())[inverse]
    return out


@dataclass(frozen=True)
class Classification:
    """Per-row decisions and the sample summary of the non-compensatory rule."""

    table: pd.DataFrame
    thresholds: tuple[Threshold, ...]
    error: MeasurementError
    counts: dict[str, int]
    fails_by_pillar: dict[str, int]
    sole_failure_by_pillar: dict[str, int]
    masked_ruptures: int
    compensatory_adequate: int
    accuracy: float
    consistency: float
    sensitivity: pd.DataFrame

    @property
    def most_failed_pillar(self) -> str | None:
        if not any(self.fails_by_pillar.values()):
            return None
        return max(self.fails_by_pillar, key=lambda p: self.fails_by_pillar[p])

    def weakest_table(self) -> pd.DataFrame:
        """Per pillar: how often it is the weakest, below its minimum, and the only one below."""
        pillars = [t.pillar for t in self.thresholds]
        weakest = self.table["weakest_pillar"].value_counts().reindex(pillars, fill_value=0)
        out = pd.DataFrame(
            {
                "weakest pillar": weakest,
                "below its minimum": pd.Series(self.fails_by_pillar),
                "the only pillar below": pd.Series(self.sole_failure_by_pillar),
            }
        )
        out.index.name = "pillar"
        return out

    def contrast_table(self) -> pd.DataFrame:
        """The compensatory total's verdict (rows) against the non-compensatory rule's."""
        contrast = pd.crosstab(
            self.table["compensatory_adequate"]
            .astype("object")
            .map({True: "yes", False: "no"})
            .fillna("no data"),
            self.table["alliance_status"].astype("object"),
        )
        contrast.index = pd.Index(
            [str(i) for i in contrast.index], name="compensatory rule says adequate"
        )
        return contrast

    def to_dict(self) -> dict[str, object]:
        usable = self.counts[ADEQUATE] + self.counts[INADEQUATE]
        return {
            "rows": int(sum(self.counts.values())),
            "status_counts": dict(self.counts),
            "share_adequate": self.counts[ADEQUATE] / usable if usable else None,
            "fails_by_pillar": dict(self.fails_by_pillar),
            "sole_failure_by_pillar": dict(self.sole_failure_by_pillar),
            "most_failed_pillar": self.most_failed_pillar,
            "masked_ruptures": self.masked_ruptures,
            "compensatory_adequate": self.compensatory_adequate,
            "classification_accuracy": self.accuracy,
            "classification_consistency": self.consistency,
            "thresholds": [t.to_dict() for t in self.thresholds],
            "measurement_error": self.error.to_dict(),
            "sensitivity": self.sensitivity.to_dict(orient="records"),
        }


def _decide(
    values: np.ndarray, pomp: np.ndarray, minimums: np.ndarray, minimum_pomp: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Status codes (0 adequate, 1 inadequate, 2 insufficient), passes, compensatory, masked."""
    complete = ~np.isnan(values).any(axis=1)
    passes = values >= minimums - _TOLERANCE
    status = np.where(~complete, 2, np.where(passes.all(axis=1), 0, 1))
    compensatory = complete & (pomp.mean(axis=1) >= minimum_pomp.mean() - _TOLERANCE)
    masked = compensatory & (status == 1)
    return status, passes, compensatory, masked


def classify(
    scores: SubscaleScores,
    thresholds: tuple[Threshold, ...],
    error: MeasurementError,
) -> Classification:
    pillars = [t.pillar for t in thresholds]
    values = scores.scores[pillars].to_numpy()
    pomp = scores.pomp[pillars].to_numpy()
    minimums = np.array([t.value for t in thresholds])
    minimum_pomp = np.array([t.pomp for t in thresholds])
    status, passes, compensatory, masked = _decide(values, pomp, minimums, minimum_pomp)
    complete = status != 2

    margins = values - minimums
    weakest = np.full(len(values), -1)
    weakest[complete] = np.argmin(margins[complete], axis=1)
    margin = np.full(len(values), np.nan)
    margin[complete] = margins[complete, weakest[complete]]
    prob = p_adequate(values, minimums, error)

    index = scores.scores.index
    table = pd.DataFrame(index=index)
    for subscale in scores.scores.columns:
        table[subscale] = scores.scores[subscale]
    for j, pillar in enumerate(pillars):
        column = pd.array(passes[:, j], dtype="boolean")
        column[np.isnan(values[:, j])] = pd.NA
        table[f"{pillar}_pass"] = column
    table["alliance_status"] = pd.Categorical.from_codes(status, categories=pd.Index(STATUSES))
    table["weakest_pillar"] = pd.Categorical.from_codes(weakest, categories=pd.Index(pillars))
    table["margin"] = margin
    table["compensatory_total"] = values.mean(axis=1)
    table["compensatory_adequate"] = pd.array(compensatory, dtype="boolean")
    table.loc[~complete, "compensatory_adequate"] = pd.NA
    table["masked_rupture"] = pd.array(masked, dtype="boolean")
    table.loc[~complete, "masked_rupture"] = pd.NA
    table["p_adequate"] = prob
    table["form"] = scores.form
    table["scoring_notes"] = scores.notes

    observed_adequate = status == 0
    p = prob[complete]
    accuracy = float(np.where(observed_adequate[complete], p, 1 - p).mean()) if len(p) else np.nan
    consistency = float((p**2 + (1 - p) ** 2).mean()) if len(p) else np.nan

    fails = (~passes) & ~np.isnan(values)
    sole = fails & (fails.sum(axis=1) == 1)[:, None]
    rows = []
    spans = np.array([(scores.scale_range[p][1] - scores.scale_range[p][0]) for p in pillars])
    for shift in SENSITIVITY_SHIFTS_POMP:
        st, ps, _, mk = _decide(values, pomp, minimums + shift / 100 * spans, minimum_pomp + shift)
        failing = ((~ps) & ~np.isnan(values)).sum(axis=0)
        usable = int((st != 2).sum())
        rows.append(
            {
                "shift_pomp": shift,
                "minimums": [round(float(m), 4) for m in minimums + shift / 100 * spans],
                "adequate": int((st == 0).sum()),
                "inadequate": int((st == 1).sum()),
                "share_adequate": float((st == 0).sum() / usable) if usable else None,
                "masked_ruptures": int(mk.sum()),
                "most_failed_pillar": pillars[int(np.argmax(failing))] if failing.any() else None,
            }
        )
    return Classification(
        table=table,
        thresholds=thresholds,
        error=error,
        counts={s: int((status == k).sum()) for k, s in enumerate(STATUSES)},
        fails_by_pillar={p: int(fails[:, j].sum()) for j, p in enumerate(pillars)},
        sole_failure_by_pillar={p: int(sole[:, j].sum()) for j, p in enumerate(pillars)},
        masked_ruptures=int(masked.sum()),
        compensatory_adequate=int(compensatory.sum()),
        accuracy=accuracy,
        consistency=consistency,
        sensitivity=pd.DataFrame(rows),
    )
