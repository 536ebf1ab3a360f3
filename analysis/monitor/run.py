"""Alerts and agreement from the clinic store, as the command line and the pages ask for them.

Two kinds of output, and only two:

- **a clinician's own list** (``clinician=ID``): that clinician's patients, their sessions and
  alerts, identifiable, for the treating clinician;
- **counts** for everyone else: per clinician (or site) and per month, never a patient. A
  group or month with fewer than ``min_n`` patients is suppressed, and a cell that set against
  any output this store released before would single out fewer than ``min_n`` patients is
  withheld (:mod:`analysis.benchmark.disclosure`).

Alerts are found on each patient's whole history and then kept to the date window, so an
alert at a session is the same in every window and the counts of two windows differ only by
the sessions in one and not the other: the sessions the differencing guard compares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from .. import names
from ..backends import Backend, store_pillars
from ..benchmark.compare import GROUPINGS, session_filter
from ..benchmark.disclosure import Cells, guard_all
from ..store import StoreError
from .agreement import agreement, pair_sessions, unseen_ruptures
from .alerts import (
    DEFAULT_ESTABLISH_WITHIN,
    NEVER,
    REPAIR,
    RULE_TEXT,
    RUPTURE,
    Margin,
    find_alerts,
)
from .source import load_margins, load_sessions

PAIRED = (
    " AND EXISTS (SELECT 1 FROM scores c WHERE c.perspective = 'clinician'"
    " AND c.respondent_id = scores.respondent_id AND c.session = scores.session"
    " AND c.clinician_id = scores.clinician_id)"
)


@dataclass(frozen=True)
class Monitor:
    """What the store says about ruptures and agreement, for one window."""

    pillars: tuple[str, ...]
    perspective: str
    window: date | None  # sessions on or after this date
    min_n: int
    establish_within: int
    margins: dict[str, Margin]
    minimums: dict[str, float]
    sessions: pd.DataFrame  # the window's sessions (identifiable: never leaves a clinician page)
    alerts: pd.DataFrame  # the window's events (identifiable likewise)
    pairs: pd.DataFrame  # paired sessions of the window (identifiable likewise)
    notes: list[str] = field(default_factory=list)

    @property
    def since(self) -> str | None:
        return self.window.isoformat() if self.window else None

    def rule(self) -> dict[str, Any]:
        return {
            "text": RULE_TEXT.format(n=self.establish_within),
            "establish_within": self.establish_within,
            "perspective": self.perspective,
            "minimums": self.minimums,
            "margins": [m.to_dict() for m in self.margins.values()],
            "margin_source": (
                "reliability (coefficient alpha) and SD of each pillar from every ingest of "
                f"{self.perspective} ratings, weighted by their scored sessions"
            ),
        }


def _latest_minimums(
    sessions: pd.DataFrame, pillars: list[str]
) -> tuple[dict[str, float], list[str]]:
    notes = []
    out = {}
    for p in pillars:
        values = sessions[f"{p}_minimum"].dropna().unique()
        out[p] = float(values[-1]) if len(values) else float("nan")
        if len(values) > 1:
            notes.append(
                f"{p}: the store's exports were judged by {len(values)} different minimums; "
                "each session keeps the one its export was scored with."
            )
    return out, notes


def monitor(
    backend: Backend,
    *,
    since: date | None = None,
    clinician: str | None = None,
    perspective: str = "patient",
    min_n: int = 5,
    establish_within: int = DEFAULT_ESTABLISH_WITHIN,
) -> Monitor:
    """Alerts of the perspective's sessions on or after ``since`` (of one clinician's patients
    when ``clinician`` is given), and the paired clinician ratings of those sessions."""
    pillars = store_pillars(backend)
    margins = load_margins(backend, perspective, pillars)
    history = load_sessions(backend, perspective, pillars, clinician)
    if clinician is not None and not len(history):
        raise StoreError(f"no stored {perspective} sessions of clinician {clinician!r}.")
    if not len(history):
        raise StoreError(f"the store holds no {perspective} sessions.")
    events = find_alerts(history, margins, establish_within=establish_within)
    events[names.DATE] = pd.to_datetime(events[names.DATE])
    if since is not None:
        cut = pd.Timestamp(since)
        history = history[history[names.DATE] >= cut].reset_index(drop=True)
        events = events[events[names.DATE] >= cut].reset_index(drop=True)
    minimums, notes = _latest_minimums(history, pillars)
    pairs = pd.DataFrame()
    if perspective == "patient":
        other = load_sessions(backend, "clinician", pillars, clinician)
        pairs = pair_sessions(history, other) if len(other) else pd.DataFrame()
    return Monitor(
        pillars=tuple(pillars),
        perspective=perspective,
        window=since,
        min_n=min_n,
        establish_within=establish_within,
        margins=margins,
        minimums=minimums,
        sessions=history,
        alerts=events,
        pairs=pairs,
        notes=notes,
    )


def _counts(m: Monitor, key: pd.Series, events_key: pd.Series) -> pd.DataFrame:
    """Per value of the key: patients, sessions and event counts."""
    s = m.sessions
    base = pd.DataFrame(
        {
            "n_patients": s.groupby(key)[names.RESPONDENT_ID].nunique(),
            "n_sessions": s.groupby(key).size(),
        }
    )
    e = m.alerts
    for kind, column in ((RUPTURE, "ruptures"), (REPAIR, "repairs"), (NEVER, "never_established")):
        mask = e["event"] == kind
        base[column] = e[mask].groupby(events_key[mask]).size()
    ruptured = e[e["event"] == RUPTURE]
    base["patients_with_rupture"] = ruptured.groupby(events_key[e["event"] == RUPTURE])[
        names.RESPONDENT_ID
    ].nunique()
    base = base.fillna(0)
    for column in base.columns:
        base[column] = base[column].astype("int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        base["ruptures_per_100_sessions"] = 100 * base["ruptures"] / base["n_sessions"]
    for p in m.pillars:
        part = e[(e["event"] == RUPTURE) & (e["pillar"] == p)]
        base[f"{p}_ruptures"] = part.groupby(events_key.loc[part.index]).size()
        base[f"{p}_ruptures"] = base[f"{p}_ruptures"].fillna(0).astype("int64")
    return base


@dataclass(frozen=True)
class AlertCounts:
    """Counts without a patient in them: per group and per month."""

    by: str
    groups: pd.DataFrame
    months: pd.DataFrame
    totals: dict[str, int] | None  # None when withheld
    suppressed_groups: int
    withheld_groups: int
    suppressed_months: int
    withheld_months: int
    notes: list[str]


def alert_counts(
    backend: Backend,
    m: Monitor,
    by: str = "clinician_id",
    *,
    identifiable: bool = False,
) -> AlertCounts:
    """Counts per group and month with small cells suppressed and differencing withheld; the
    connection must be writable to record what is released."""
    if by not in GROUPINGS:
        raise StoreError(f"--by must be one of {', '.join(GROUPINGS)}; got {by!r}.")
    group = GROUPINGS[by]
    s, e = m.sessions, m.alerts
    groups = _counts(m, s[group].astype(str), e[group].astype(str)).rename_axis("group")
    groups = groups.reset_index()
    month_of = s[names.DATE].dt.strftime("%Y-%m")
    months = _counts(m, month_of, e[names.DATE].dt.strftime("%Y-%m")).rename_axis("month")
    months = months.reset_index()
    small_g = groups["n_patients"] < m.min_n
    small_m = months["n_patients"] < m.min_n
    groups, months = groups[~small_g], months[~small_m]
    where, params = session_filter(m.window, m.perspective)
    request = f"alerts by={group} since={m.since} perspective={m.perspective} min_n={m.min_n}"
    withheld_g: set[str] = set()
    withheld_m: set[str] = set()
    withheld_t: set[str] = set()
    if not identifiable:
        withheld_g, withheld_m, withheld_t = guard_all(
            backend,
            [
                Cells(f"group:{group}", group, tuple(groups["group"])),
                Cells("month", backend.month("date"), tuple(months["month"])),
                Cells("total", "'all'", ("all",)),
            ],
            where,
            params,
            m.min_n,
            request,
        )
    totals_withheld = bool(withheld_t)
    notes = list(m.notes)
    if withheld_g or withheld_m or totals_withheld:
        notes.append(
            f"{len(withheld_g)} groups, {len(withheld_m)} months"
            + (" and the totals" if totals_withheld else "")
            + f" withheld: each would differ from an output released before by fewer than "
            f"{m.min_n} patients."
        )
    patients = int(s[names.RESPONDENT_ID].nunique())
    totals = None
    if not totals_withheld and patients >= m.min_n:
        totals = {
            "patients": patients,
            "sessions": len(s),
            "ruptures": int((e["event"] == RUPTURE).sum()),
            "repairs": int((e["event"] == REPAIR).sum()),
            "never_established": int((e["event"] == NEVER).sum()),
        }
    return AlertCounts(
        by=group,
        groups=groups[~groups["group"].isin(withheld_g)].reset_index(drop=True),
        months=months[~months["month"].isin(withheld_m)].reset_index(drop=True),
        totals=totals,
        suppressed_groups=int(small_g.sum()),
        withheld_groups=len(withheld_g),
        suppressed_months=int(small_m.sum()),
        withheld_months=len(withheld_m),
        notes=notes,
    )


def agreement_by_group(
    backend: Backend,
    m: Monitor,
    group: str,
    shown: list[str],
    *,
    identifiable: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame | None, list[str]]:
    """Per shown group with at least ``min_n`` paired patients: paired sessions, unseen
    ruptures and the mean difference per pillar; and the agreement of all paired sessions
    (None when too few or withheld). Paired cells are guarded as cells of their own: a
    clinician rating added later changes them while the patient's sessions stay the same."""
    notes: list[str] = []
    empty = pd.DataFrame(columns=["group"])
    if not len(m.pairs):
        return empty, None, notes
    pairs = m.pairs
    key = pairs[group].astype(str) if group in pairs else pairs[f"{group}_patient"].astype(str)
    rows = []
    for label, part in pairs.groupby(key):
        if label not in shown:
            continue
        if part[names.RESPONDENT_ID].nunique() < m.min_n:
            continue
        any_unseen = np.zeros(len(part), dtype=bool)
        row: dict[str, Any] = {"group": label, "paired_sessions": len(part)}
        for p in m.pillars:
            unseen = unseen_ruptures(part, p).to_numpy()
            any_unseen |= unseen
            row[f"{p}_mean_difference"] = float(
                (part[f"{p}_clinician"] - part[f"{p}_patient"]).mean()
            )
        row["unseen_ruptures"] = int(any_unseen.sum())
        row["unseen_share"] = float(any_unseen.mean())
        rows.append(row)
    table = pd.DataFrame(rows) if rows else empty
    where, params = session_filter(m.window, m.perspective)
    where += PAIRED
    request = f"agreement by={group} since={m.since} min_n={m.min_n}"
    withheld: set[str] = set()
    withheld_total: set[str] = set()
    if not identifiable:
        withheld, withheld_total = guard_all(
            backend,
            [
                Cells(f"paired:{group}", group, tuple(table["group"])),
                Cells("paired:total", "'all'", ("all",)),
            ],
            where,
            params,
            m.min_n,
            request,
        )
    total_withheld = bool(withheld_total)
    if withheld or total_withheld:
        notes.append(
            f"agreement of {len(withheld)} groups"
            + (" and of the whole store" if total_withheld else "")
            + " withheld against differencing."
        )
    if len(table):
        table = table[~table["group"].isin(withheld)].reset_index(drop=True)
    overall = None
    if not total_withheld and pairs[names.RESPONDENT_ID].nunique() >= m.min_n:
        overall = agreement(pairs, list(m.pillars))
    return table, overall, notes
