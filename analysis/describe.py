"""A first look at an export: how many rows, patients and clinicians, missing answers and
ceiling (share of answers at the favourable end of the scale) per subscale."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from instrument import Instrument

from . import names
from .keying import ceiling_share
from .privacy import MIN_N_FLOOR


@dataclass(frozen=True)
class Overview:
    rows: int
    respondents: int
    clinicians: int
    per_subscale: pd.DataFrame  # index subscale; n_items, missing_share, ceiling_share

    def to_dict(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "respondents": self.respondents,
            "clinicians": self.clinicians,
            "subscales": self.per_subscale.reset_index().to_dict(orient="records"),
        }


def overview(data: pd.DataFrame, instrument: Instrument) -> Overview:
    """Counts and per-subscale shares for the item columns of ``data`` that the instrument knows.

    Ceiling share is the share of answers at the favourable end of their item's scale (the
    minimum for a reverse-keyed item), as `alliance check` counts it per item.
    """
    records = []
    groups: dict[str, list[str]] = {}
    for item_id in instrument.item_ids:
        if item_id in data.columns:
            groups.setdefault(instrument.item(item_id).subscale, []).append(item_id)
    for subscale, ids in groups.items():
        block = data[ids]
        answered = int(block.notna().to_numpy().sum())
        ends = {i: instrument.favourable_end(i) for i in ids}
        scaled = [i for i in ids if ends[i] is not None]
        at_top = sum(int((block[i] == ends[i]).sum()) for i in scaled)
        on_scale = sum(int(block[i].notna().sum()) for i in scaled)
        records.append(
            {
                "subscale": subscale,
                "n_items": len(ids),
                "missing_share": 1 - answered / block.size if block.size else 0.0,
                "ceiling_share": at_top / on_scale if on_scale else float("nan"),
            }
        )
    table = pd.DataFrame.from_records(records, index="subscale") if records else pd.DataFrame()

    def count(col: str) -> int:
        return int(data[col].nunique()) if col in data else 0

    return Overview(len(data), count(names.RESPONDENT_ID), count(names.CLINICIAN_ID), table)


def item_descriptives(
    data: pd.DataFrame, instrument: Instrument | None, items: list[str]
) -> pd.DataFrame:
    """Per item, what a methods section reports: answered n, mean, SD, skew and excess
    kurtosis (psych's describe, type 3), the share missing and the share at the favourable end
    of the scale (its ceiling; the top of the answers seen for an item with no scale).

    Validated against psych::describe on bfi (tests/reference/make_efa_reference.R)."""
    rows = {}
    for item in items:
        column = pd.to_numeric(data[item], errors="coerce")
        values = column.dropna().to_numpy(float)
        n = len(values)
        centred = values - values.mean() if n else values
        m2 = float((centred**2).mean()) if n else np.nan
        skew = kurtosis = np.nan
        if n > 2 and m2 > 0:
            shrink = 1 - 1 / n  # type 3: b1 and b2, with the sample SD's n - 1
            skew = float((centred**3).mean() / m2**1.5 * shrink**1.5)
            kurtosis = float((centred**4).mean() / m2**2 * shrink**2 - 3)
        end = instrument.favourable_end(item) if instrument is not None else None
        rows[item] = {
            "n": n,
            "mean": float(values.mean()) if n else np.nan,
            "SD": float(values.std(ddof=1)) if n > 1 else np.nan,
            "skew": skew,
            "kurtosis": kurtosis,
            "missing": float(1 - n / len(column)) if len(column) else np.nan,
            "ceiling": ceiling_share(column, end),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "item"
    return table


def item_distribution(data: pd.DataFrame, instrument: Instrument, items: list[str]) -> pd.DataFrame:
    """Share of answers in each category per item (rows: items in order; columns: codes)."""
    rows = {}
    for item_id in items:
        scale = instrument.scale_of(item_id)
        column = data[item_id].dropna()
        codes = list(scale.codes) if scale else sorted(column.unique())
        counts = column.value_counts().reindex(codes, fill_value=0)
        rows[item_id] = counts / max(len(column), 1)
    return pd.DataFrame.from_dict(rows, orient="index")


# More distinct answers than an 11-point scale has: not a discrete scale, drawn as a box plot.
DISCRETE_MAX_POINTS = 11


def on_discrete_scale(data: pd.DataFrame, instrument: Instrument, items: list[str]) -> bool:
    """Whether the items' answers sit on a scale of at most DISCRETE_MAX_POINTS points: the
    declared one, else the distinct whole-number answers seen."""
    scale = instrument.scale_of(items[0]) if items else None
    if scale is not None:
        return len(scale.codes) <= DISCRETE_MAX_POINTS
    values = pd.unique(data[items].to_numpy(dtype=float).ravel())
    values = values[~np.isnan(values)]
    whole = bool(np.all(values == np.round(values)))
    return whole and len(values) <= DISCRETE_MAX_POINTS


def item_quantiles(data: pd.DataFrame, items: list[str]) -> pd.DataFrame:
    """Per item: the 5th, 25th, 50th, 75th and 95th percentiles, the mean and the answers."""
    rows = {}
    for item_id in items:
        column = data[item_id].dropna().astype(float)
        q = (
            column.quantile([0.05, 0.25, 0.5, 0.75, 0.95]).to_numpy()
            if len(column)
            else [np.nan] * 5
        )
        rows[item_id] = {
            "q05": q[0],
            "q25": q[1],
            "q50": q[2],
            "q75": q[3],
            "q95": q[4],
            "mean": float(column.mean()) if len(column) else np.nan,
            "n": len(column),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def histogram(values: pd.Series, low: float, high: float, bins: int = 32) -> pd.DataFrame:
    """Counts in equal bins between ``low`` and ``high`` (for plotting: size stays bounded)."""
    counts, edges = np.histogram(values.dropna(), bins=bins, range=(low, high))
    return pd.DataFrame({"left": edges[:-1], "right": edges[1:], "count": counts})


def provable_patients(scores: pd.DataFrame, by: str) -> tuple[pd.Series, str]:
    """Per group, the number of patients the data prove, and how it was counted.

    With a respondent id: distinct ids. Without one, rows are sessions, not patients: a
    patient has at most one row per session number, so the largest count of rows sharing a
    session number is a lower bound; with no session column either, nothing proves more than
    one patient per group."""
    if names.RESPONDENT_ID in scores and scores[names.RESPONDENT_ID].notna().any():
        return scores.groupby(by)[names.RESPONDENT_ID].nunique(), "distinct respondent ids"
    if names.SESSION in scores and scores[names.SESSION].notna().any():
        per_session = scores.groupby([by, names.SESSION]).size()
        return (
            per_session.groupby(level=0).max(),
            "no respondent id: at least the most rows that share one session number",
        )
    counts = scores.groupby(by).size()
    return counts.clip(upper=1), "no respondent id or session: one patient at least"


def group_profiles(
    scores: pd.DataFrame, by: str, pillars: list[str], min_n: int = MIN_N_FLOOR
) -> tuple[pd.DataFrame, int, str]:
    """Mean pillar scores and share adequate per group, with the number of patients; groups
    with fewer than ``min_n`` patients (as far as the data prove, :func:`provable_patients`)
    are left out and only counted (never named). Also returns how patients were counted."""
    patients, how = provable_patients(scores, by)
    keep = patients[patients >= min_n].index
    frame = scores[scores[by].isin(keep)]
    table = frame.groupby(by)[pillars].mean()
    table["share_adequate"] = frame.groupby(by)["alliance_status"].apply(
        lambda s: float((s == "adequate").sum() / max((s != "insufficient_data").sum(), 1))
    )
    table["n_patients"] = patients.reindex(table.index)
    table["n_sessions"] = frame.groupby(by).size()
    return table.sort_index(), int((patients < min_n).sum()), how


@dataclass(frozen=True)
class GroupProfiles:
    """Pillar means and share adequate per group of ``by`` (the report's ``--by``): the groups
    with at least ``min_n`` provable patients, and how many were left out."""

    by: str
    table: pd.DataFrame  # one row per shown group, indexed by the group
    suppressed: int
    counted_as: str  # how patients were counted (provable_patients)
    min_n: int
    pillars: tuple[str, ...]
    minimums: dict[str, float]


def profiles_by(
    scores: pd.DataFrame, by: str, minimums: dict[str, float], min_n: int
) -> GroupProfiles:
    """:func:`group_profiles` of a scored table with its rule's minimums."""
    pillars = list(minimums)
    table, suppressed, how = group_profiles(scores, by, pillars, min_n)
    table.index.name = by
    return GroupProfiles(by, table, suppressed, how, min_n, tuple(pillars), dict(minimums))
