"""``--estimator auto``: WLSMV or MLR, chosen from the answers and said why.

Rhemtulla, Brosseau-Liard & Savalei (2012, Psychological Methods 17:354) compared robust ML
and categorical least squares (WLSMV) on ordinal items: with fewer than five categories
WLSMV was the better choice; with five to seven, robust ML did as well when the thresholds
were symmetric, and was biased (loadings too low) when they were not, most of all with large
loadings. The rule below follows that: WLSMV when an item has fewer than five categories, or
up to seven with asymmetric thresholds; MLR otherwise (eight categories or more, or
symmetric thresholds). Thresholds are asymmetric when their centre lies more than
``ASYMMETRY`` standard deviations of the latent response from 0 (on a 5-point item, about 40%
of the answers in the top category, or in the bottom one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from ..choices import Estimator

FEW_CATEGORIES = 5
MANY_CATEGORIES = 8
ASYMMETRY = 0.5
SOURCE = "Rhemtulla, Brosseau-Liard & Savalei (2012)"


@dataclass(frozen=True)
class EstimatorChoice:
    estimator: Estimator
    reason: str
    categories: int  # fewest categories among the items
    asymmetry: float  # largest |centre of the thresholds|
    item: str  # the item with that asymmetry

    def to_dict(self) -> dict[str, object]:
        return {
            "estimator": self.estimator,
            "reason": self.reason,
            "fewest_categories": self.categories,
            "largest_threshold_asymmetry": self.asymmetry,
            "most_asymmetric_item": self.item,
        }


def threshold_centre(column: pd.Series) -> tuple[int, float]:
    """An item's number of categories and the mean of its thresholds (normal quantiles of its
    cumulative proportions)."""
    counts = column.dropna().value_counts().sort_index()
    k = len(counts)
    if k < 2:
        return k, 0.0
    cum = np.cumsum(counts.to_numpy(float))[:-1] / counts.sum()
    return k, float(np.mean(special.ndtri(cum)))


def choose_estimator(data: pd.DataFrame, items: list[str]) -> EstimatorChoice:
    found = {i: threshold_centre(pd.to_numeric(data[i], errors="coerce")) for i in items}
    fewest = min(k for k, _ in found.values())
    item = max(found, key=lambda i: abs(found[i][1]))
    asym = abs(found[item][1])
    if fewest < FEW_CATEGORIES:
        estimator: Estimator = "wlsmv"
        why = f"an item has {fewest} categories (fewer than {FEW_CATEGORIES})"
    elif fewest < MANY_CATEGORIES and asym > ASYMMETRY:
        estimator = "wlsmv"
        why = (
            f"items have {fewest} or more categories and asymmetric thresholds ({item}: "
            f"centre {found[item][1]:+.2f} SD, beyond {ASYMMETRY}), where ML underestimates "
            f"loadings"
        )
    elif fewest >= MANY_CATEGORIES:
        estimator = "mlr"
        why = f"every item has {MANY_CATEGORIES} or more categories: near continuous"
    else:
        estimator = "mlr"
        why = (
            f"items have {fewest} or more categories with near-symmetric thresholds (largest "
            f"centre {asym:.2f} SD, {item}), where robust ML does as well"
        )
    reason = f"estimator auto chose {estimator.upper()}: {why} ({SOURCE})"
    return EstimatorChoice(estimator, reason, fewest, asym, item)
