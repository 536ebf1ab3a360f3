"""Stage 1 of the CFA engine: data -> sample statistics, per group.

Each group has its n, means and covariance matrix (denominator n, as lavaan's ML) and its
complete rows, from which the casewise scores of the robust corrections are computed. Rows with
a missing indicator are left out (listwise); how many, and rows without a group, is recorded so
that every number can say which rows it rests on. Missing-data patterns (FIML) and polychoric
correlations (ordinal items) are further kinds of sample statistics and belong here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .partable import ModelError


@dataclass(frozen=True)
class GroupSample:
    label: str
    n: int
    mean: np.ndarray
    cov: np.ndarray
    rows: np.ndarray  # the complete rows, n x p

    @property
    def centered(self) -> np.ndarray:
        return self.rows - self.mean


@dataclass(frozen=True)
class SampleStats:
    observed: tuple[str, ...]
    groups: tuple[GroupSample, ...]
    incomplete: int = 0  # rows left out for a missing indicator
    ungrouped: int = 0  # rows left out for a missing group value

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
) -> SampleStats:
    """Per-group moments of the model's indicators.

    ``order`` fixes the group order (default: order of first appearance, as lavaan)."""
    missing = [v for v in observed if v not in data.columns]
    if missing:
        raise ModelError(f"the data have no column for {', '.join(map(repr, missing))}.")
    if group is not None and group not in data.columns:
        raise ModelError(f"the data have no group column {group!r}.")
    x = data[list(observed)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    complete = ~np.isnan(x).any(axis=1)
    incomplete = int((~complete).sum())
    if group is None:
        labels = np.full(len(x), "", dtype=object)
        ungrouped = 0
    else:
        labels = group_values(data[group]).to_numpy(dtype=object)
        has = np.array([v is not None for v in labels], dtype=bool)
        ungrouped = int((~has & complete).sum())
        complete &= has
    found = tuple(dict.fromkeys(labels[complete]))
    if order is not None:
        absent = [g for g in order if g not in found]
        if absent:
            raise ModelError(f"group {absent[0]!r} has no complete rows.")
        found = tuple(order)
    p = len(observed)
    groups = []
    for label in found:
        rows = x[complete & (labels == label)]
        what = f" in group {label!r}" if group is not None else ""
        if len(rows) <= p:
            raise ModelError(
                f"only {len(rows)} complete rows{what} for {p} indicators; a covariance matrix "
                f"needs more rows than variables."
            )
        mean = rows.mean(axis=0)
        centered = rows - mean
        cov = centered.T @ centered / len(rows)
        constant = [name for name, v in zip(observed, np.diag(cov), strict=True) if v <= 0]
        if constant:
            raise ModelError(
                f"item {constant[0]!r} has the same answer in every complete row{what}; a "
                f"constant item cannot be modelled: leave it out of the model."
            )
        groups.append(GroupSample(label, len(rows), mean, cov, rows))
    if not groups:
        raise ModelError("no complete rows for the model's indicators.")
    return SampleStats(tuple(observed), tuple(groups), incomplete, ungrouped)
