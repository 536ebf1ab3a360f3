"""Stage 1 of the CFA engine: data -> sample statistics, per group.

Each group has its n, means and covariance matrix (denominator n, as lavaan's ML) and its
rows, from which the casewise scores of the robust corrections are computed. Two ways with
missing answers:

- ``listwise``: rows with a missing indicator are left out; the moments are the complete rows';
- ``fiml``: every row with at least one answer is kept, grouped by missing-data pattern
  (:mod:`.missing`); the moments are the unrestricted model's, by EM.

How many rows were left out, and why (a missing indicator, no answer at all, no group), is
recorded so that every number can say which rows it rests on.

Ordinal items (``ordered=True``) have thresholds and polychoric correlations instead
(:mod:`.ordinal`); missing answers are then handled ``listwise`` or ``pairwise``, and the
group's ``cov`` is the polychoric correlation matrix. Every group uses the categories seen in
the whole sample, so that thresholds line up across groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..choices import MissingMethod
from .missing import H1, Pattern, coverage, em, never_together, patterns
from .ordinal import OrdinalSample, categories, ordinal_sample
from .partable import ModelError


@dataclass(frozen=True)
class GroupSample:
    label: str
    n: int
    mean: np.ndarray
    cov: np.ndarray
    rows: np.ndarray  # the rows used, n x p (NaN for a missing answer under FIML)
    patterns: tuple[Pattern, ...] = ()  # FIML only
    h1: H1 | None = None  # FIML only: the unrestricted model fitted by EM
    coverage: np.ndarray | None = None  # FIML, pairwise: share of rows answering both of a pair
    ordinal: OrdinalSample | None = None  # ordinal items: thresholds, polychorics, their gamma
    clusters: np.ndarray | None = None  # per row used, its cluster (0, 1, ...), when clustered

    @property
    def centered(self) -> np.ndarray:
        return self.rows - self.mean

    def lowest_pair(self) -> tuple[float, int, int]:
        """FIML, pairwise: the smallest share of rows answering both items of a pair, and the pair
        (positions among the indicators, the earlier first); 1.0 without coverage."""
        if self.coverage is None:
            return 1.0, 0, 0
        r, c = np.unravel_index(int(np.argmin(self.coverage)), self.coverage.shape)
        return float(self.coverage[r, c]), int(min(r, c)), int(max(r, c))


@dataclass(frozen=True)
class SampleStats:
    observed: tuple[str, ...]
    groups: tuple[GroupSample, ...]
    incomplete: int = 0  # rows left out for a missing indicator (listwise)
    ungrouped: int = 0  # rows left out for a missing group value
    missing: MissingMethod = "listwise"
    empty: int = 0  # rows left out for not answering any indicator (FIML)
    cluster: str | None = None  # the column whose values are the clusters
    unclustered: int = 0  # rows left out for a missing cluster value

    @property
    def n_clusters(self) -> int:
        return sum(int(g.clusters.max()) + 1 for g in self.groups if g.clusters is not None)

    @property
    def ordinal(self) -> bool:
        return any(g.ordinal is not None for g in self.groups)

    @property
    def n_patterns(self) -> int:
        return sum(len(g.patterns) for g in self.groups)

    @property
    def lowest_coverage(self) -> float:
        """The smallest share of a group's rows that answered both items of a pair."""
        return min(g.lowest_pair()[0] for g in self.groups)

    @property
    def n(self) -> int:
        return sum(g.n for g in self.groups)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(g.label for g in self.groups)

    @property
    def weights(self) -> np.ndarray:
        return np.array([g.n for g in self.groups], dtype=float) / self.n


def group_values(column: pd.Series) -> pd.Series:
    """Group labels as text, in their order of appearance; missing stays missing."""
    labels = [None if pd.isna(v) else _label(v) for v in column.astype(object)]
    return pd.Series(labels, index=column.index, dtype=object)


def _label(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def sample_stats(
    data: pd.DataFrame,
    observed: tuple[str, ...],
    group: str | None = None,
    order: tuple[str, ...] | None = None,
    missing: MissingMethod = "listwise",
    ordered: bool | Sequence[str] = False,
    cluster: str | None = None,
) -> SampleStats:
    """Per-group moments of the model's indicators.

    ``order`` fixes the group order (default: order of first appearance, as lavaan).
    ``missing``: ``listwise`` keeps complete rows; ``fiml`` and ``pairwise`` every row with an
    answer. ``ordered``: the indicators are ordinal (thresholds and polychoric correlations):
    all of them (True), or those named, the others continuous (lavaan's mixed case).
    ``cluster``: a column whose values are clusters of rows (the sessions of one patient):
    each group's rows carry their cluster, for cluster-robust inference; a row without a
    cluster value is left out and counted."""
    if ordered and missing == "fiml":
        raise ModelError("ordinal items are fitted listwise or pairwise, not by FIML.")
    if missing == "pairwise" and not ordered:
        raise ModelError("pairwise missing answers are for ordinal items (WLSMV).")
    absent_columns = [v for v in observed if v not in data.columns]
    if absent_columns:
        raise ModelError(f"the data have no column for {', '.join(map(repr, absent_columns))}.")
    if group is not None and group not in data.columns:
        raise ModelError(f"the data have no group column {group!r}.")
    if cluster is not None and cluster not in data.columns:
        raise ModelError(f"the data have no cluster column {cluster!r}.")
    columns = data[list(observed)]
    if not all(pd.api.types.is_numeric_dtype(t) for t in columns.dtypes):
        columns = columns.apply(pd.to_numeric, errors="coerce")  # text that is no number: NaN
    x = columns.to_numpy(dtype=float)
    answered = ~np.isnan(x)
    if missing in ("fiml", "pairwise"):
        complete = answered.any(axis=1)  # "complete" here: usable, with at least one answer
        incomplete, empty = 0, int((~complete).sum())
    else:
        complete = answered.all(axis=1)
        incomplete, empty = int((~complete).sum()), 0
    if group is None:
        labels = np.full(len(x), "", dtype=object)
        ungrouped = 0
    else:
        labels = group_values(data[group]).to_numpy(dtype=object)
        has = np.array([v is not None for v in labels], dtype=bool)
        ungrouped = int((~has & complete).sum())
        complete &= has
    unclustered = 0
    cluster_of = None
    if cluster is not None:
        cluster_of = group_values(data[cluster]).to_numpy(dtype=object)
        named_cluster = np.array([v is not None for v in cluster_of], dtype=bool)
        unclustered = int((~named_cluster & complete).sum())
        complete &= named_cluster
    found = tuple(dict.fromkeys(labels[complete]))
    if order is not None:
        absent = [g for g in order if g not in found]
        if absent:
            raise ModelError(f"group {absent[0]!r} has no {_usable(missing)} rows.")
        found = tuple(order)
    p = len(observed)
    named = set(observed) if ordered is True else set(ordered or ())
    numeric = tuple(name not in named for name in observed)
    levels = (
        tuple(() if numeric[j] else categories(x[complete, j]) for j in range(p)) if named else None
    )
    groups = []
    for label in found:
        chosen = complete & (labels == label)
        rows = x[chosen]
        what = f" in group {label!r}" if group is not None else ""
        if len(rows) <= p:
            raise ModelError(
                f"only {len(rows)} {_usable(missing)} rows{what} for {p} indicators; a "
                f"covariance matrix needs more rows than variables."
            )
        if levels is not None:
            sample = _ordinal(label, rows, observed, levels, what, missing, numeric)
        elif missing == "fiml":
            sample = _fiml(label, rows, observed, what)
        else:
            sample = _complete(label, rows)
        constant = [name for name, v in zip(observed, np.diag(sample.cov), strict=True) if v <= 0]
        if constant:
            raise ModelError(
                f"item {constant[0]!r} has the same answer in every {_usable(missing)} row"
                f"{what}; a constant item cannot be modelled: leave it out of the model."
            )
        if cluster_of is not None:
            codes, _ = pd.factorize(cluster_of[chosen])
            if codes.max() < 1:
                raise ModelError(
                    f"the rows used{what} are one cluster of {cluster!r}; cluster-robust "
                    "inference needs two clusters or more."
                )
            sample = replace(sample, clusters=codes.astype(np.int64))
        groups.append(sample)
    if not groups:
        raise ModelError(f"no {_usable(missing)} rows for the model's indicators.")
    return SampleStats(
        tuple(observed),
        tuple(groups),
        incomplete,
        ungrouped,
        missing,
        empty,
        cluster,
        unclustered,
    )


def _ordinal(
    label: str,
    rows: np.ndarray,
    observed: tuple[str, ...],
    levels: tuple[tuple[float, ...], ...],
    what: str,
    missing: MissingMethod,
    numeric: tuple[bool, ...],
) -> GroupSample:
    few = [
        name
        for name, lev, cont in zip(observed, levels, numeric, strict=True)
        if len(lev) < 2 and not cont
    ]
    if few:
        raise ModelError(
            f"item {few[0]!r} has one category among the rows used; an ordinal item needs two "
            f"or more: leave it out of the model."
        )
    share = coverage(rows) if missing == "pairwise" else None
    if share is not None:
        apart = never_together(share, observed)
        if apart:
            a, b = apart[0]
            raise ModelError(
                f"no row{what} answered both {a} and {b}; their polychoric correlation cannot "
                f"be estimated. Leave one of them out of the model."
            )
    for j, name in enumerate(observed):
        if numeric[j]:
            continue
        seen = np.unique(rows[~np.isnan(rows[:, j]), j])
        if len(seen) < len(levels[j]):
            lacking = sorted(set(levels[j]) - {float(v) for v in seen})
            raise ModelError(
                f"item {name!r} has no answer {_code(lacking[0])}{what}, which other rows "
                f"use; thresholds cannot line up across groups. Merge that category with its "
                f"neighbour (or leave the item out)."
            )
    stats = ordinal_sample(rows, levels, numeric=numeric)
    # Continuous items' means (ordinal ones 0) and the covariances, for the start values.
    means = np.where(numeric, -np.array([t[0] for t in stats.thresholds]), 0.0)
    return GroupSample(label, len(rows), means, stats.covariances, rows, (), None, share, stats)


def _code(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _usable(missing: MissingMethod) -> str:
    return "complete" if missing == "listwise" else "answered"


def _complete(label: str, rows: np.ndarray) -> GroupSample:
    mean = rows.mean(axis=0)
    centered = rows - mean
    return GroupSample(label, len(rows), mean, centered.T @ centered / len(rows), rows)


def _fiml(label: str, rows: np.ndarray, observed: tuple[str, ...], what: str) -> GroupSample:
    share = coverage(rows)
    apart = never_together(share, observed)
    if apart:
        listed = ", ".join(f"{a} and {b}" for a, b in apart[:5])
        more = f" (and {len(apart) - 5} more pairs)" if len(apart) > 5 else ""
        raise ModelError(
            f"no row{what} answered both {listed}{more}; their covariance cannot be estimated. "
            f"Leave one item of each pair out of the model."
        )
    found = patterns(rows)
    h1 = em(found, len(observed))
    return GroupSample(label, len(rows), h1.mean, h1.cov, rows, found, h1, share)


def from_moments(
    observed: tuple[str, ...], groups: Sequence[tuple[str, int, np.ndarray, np.ndarray]]
) -> SampleStats:
    """Sample statistics from each group's complete-row moments alone: label, n, means and
    covariance (denominator n), as a store's aggregates give them. They suffice for ML; the
    robust corrections and FIML need the rows, which this sample does not carry."""
    p = len(observed)
    out = []
    for label, n, mean, cov in groups:
        if n <= p:
            raise ModelError(
                f"group {label!r} has {n} complete rows for {p} items; the covariance matrix "
                "needs more rows than items."
            )
        out.append(
            GroupSample(
                str(label),
                int(n),
                np.asarray(mean, float),
                np.asarray(cov, float),
                rows=np.empty((0, p)),
            )
        )
    return SampleStats(observed, tuple(out))
