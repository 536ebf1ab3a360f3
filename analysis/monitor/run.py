"""Alerts and agreement from the clinic store, as the command line and the pages ask for them.

Two kinds of output, and only two:

- **a clinician's own list** (``clinician=ID``): that clinician's patients, their sessions and
  alerts, identifiable, for the treating clinician;
- **counts** for everyone else: per clinician (or site) and per month, never a patient. A
  group or month with fewer than ``min_n`` patients is suppressed, and a cell that set against
  any output this store released before would single out fewer than ``min_n`` patients is
  withheld (:mod:`analysis.store.disclosure`).

Alerts are found on each patient's whole history and then kept to the date window, so an
alert at a session is the same in every window and the counts of two windows differ only by
the sessions in one and not the other: the sessions the differencing guard compares.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from .. import names
from ..choices import GROUPINGS
from ..privacy import MIN_N_FLOOR, check_min_n, pseudonymize
from ..results import Reported
from ..ruptures import (
    Margin,
    agreement,
    pair_sessions,
    unseen_ruptures,
)
from ..ruptures.alerts import (
    AlertRule,
    AlertSettings,
    alert_rule,
    find_model_alerts,
)
from ..ruptures.model import fit_moments
from ..store.backends import Backend, store_pillars
from ..store.disclosure import Cells, guard_all
from ..store.queries.events import event_counts, store_events
from ..store.queries.sessions import (
    ALL,
    SAMPLE_PATIENTS,
    history,
    ingest_minimums,
    load_margins,
    load_sessions,
    paired_filter,
    sample_patients,
    session_filter,
)
from ..store.queries.within import within_moments_sql
from ..store.schema import StoreError
from ..wording import worded


def records(frame: pd.DataFrame) -> list[dict[Hashable, Any]]:
    """A frame as JSON records: dates as YYYY-MM-DD, missing values as None."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    return out.replace({np.nan: None}).to_dict(orient="records")


@dataclass(frozen=True)
class Monitor(Reported):
    """What the store says about ruptures and agreement, for one window."""

    pillars: tuple[str, ...]
    perspective: str
    window: date | None  # sessions on or after this date
    min_n: int
    alert_rule: AlertRule  # the within-patient model and the operating point the alerts run at
    margins: dict[str, Margin]  # each pillar's measurement error (its SEM is the model's)
    minimums: dict[str, float]
    sessions: pd.DataFrame  # the window's sessions (identifiable: never leaves a clinician page)
    alerts: pd.DataFrame  # the window's events (identifiable likewise)
    pairs: pd.DataFrame  # paired sessions of the window (identifiable likewise)
    notes: list[str] = field(default_factory=list)
    # per ingest, the minimums its sessions were judged by
    ingest_minimums: dict[int, dict[str, float]] = field(default_factory=dict)
    clinician: str | None = None  # whose patients, when the list is one clinician's

    @property
    def establish_within(self) -> int:
        return self.alert_rule.establish_within

    @property
    def since(self) -> str | None:
        return self.window.isoformat() if self.window else None

    def pseudonymized(self, key: str) -> Monitor:
        """The same monitor with every patient id replaced by its keyed pseudonym."""

        def swap(frame: pd.DataFrame) -> pd.DataFrame:
            if names.RESPONDENT_ID not in frame:
                return frame
            ids = frame[names.RESPONDENT_ID]
            return frame.assign(**{names.RESPONDENT_ID: pseudonymize(ids, key)})

        return replace(
            self,
            sessions=swap(self.sessions),
            alerts=swap(self.alerts),
            pairs=swap(self.pairs),
        )

    def to_dict(self) -> dict[str, Any]:
        """A clinician's own list as JSON (identifiable: for the treating clinician)."""
        return {
            "clinician": self.clinician,
            "identifiable": True,
            "rule": self.rule(),
            "operating_point": self.alert_rule.first_line(),
            "since": self.since,
            "patients": int(self.sessions[names.RESPONDENT_ID].nunique()),
            "sessions": len(self.sessions),
            "alerts": records(self.alerts),
        }

    def own_agreement(self) -> pd.DataFrame:
        """Agreement per pillar on the paired sessions of this list (ICC(A,1), bias, limits)."""
        return agreement(self.pairs, list(self.pillars))

    def unseen(self) -> pd.DataFrame:
        """The paired sessions where the clinician's rating of a pillar clears its minimum and
        the patient's does not: patient, session, pillar and both ratings."""
        parts = []
        for p in self.pillars:
            part = self.pairs[unseen_ruptures(self.pairs, p)]
            parts.append(
                pd.DataFrame(
                    {
                        names.RESPONDENT_ID: part[names.RESPONDENT_ID],
                        names.SESSION: part[names.SESSION],
                        "pillar": p,
                        "patient's rating": part[f"{p}_patient"],
                        "your rating": part[f"{p}_clinician"],
                    }
                )
            )
        return pd.concat(parts).sort_values([names.RESPONDENT_ID, names.SESSION])

    def to_frame(self) -> pd.DataFrame:
        """The window's events, one row each (identifiable: for the treating clinician)."""
        return self.alerts

    def summary(self) -> str:
        """The operating point, then the alerts of a clinician's own list, one line each."""
        head = self.alert_rule.first_line() + "\n"
        if not len(self.alerts):
            return head + "(no alerts)"
        columns = [
            names.RESPONDENT_ID,
            names.SESSION,
            names.DATE,
            "pillar",
            "event",
            "status",
            "reason",
        ]
        out = self.alerts[columns].copy()
        out[names.DATE] = pd.to_datetime(out[names.DATE]).dt.strftime("%Y-%m-%d")
        out[["pillar", "status"]] = out[["pillar", "status"]].fillna("")
        return head + str(out.to_string(index=False))

    def rule(self) -> dict[str, Any]:
        return {
            **self.alert_rule.to_dict(),
            "perspective": self.perspective,
            "minimums": self.minimums,
            "item_error": [m.to_dict() for m in self.margins.values()],
            "item_error_source": (
                "reliability (coefficient alpha) and SD of each pillar from every ingest of "
                f"{self.perspective} ratings, weighted by their scored sessions"
            ),
        }


def _window_minimums(
    by_ingest: dict[int, dict[str, float]], ingests: tuple[int, ...], pillars: list[str]
) -> tuple[dict[str, float], list[str]]:
    """Each pillar's minimum as the latest ingest of the window's sessions set it, and a note
    where the window's sessions were judged by more than one."""
    notes = []
    out = {}
    for p in pillars:
        values = [by_ingest[i][p] for i in ingests if p in by_ingest.get(i, {})]
        out[p] = float(values[-1]) if values else float("nan")
        if len(set(values)) > 1:
            notes.append(
                f"{p}: the store's exports were judged by {len(set(values))} different minimums; "
                "each session keeps the one its export was scored with."
            )
    return out, notes


def store_alert_rule(
    backend: Backend,
    perspective: str,
    pillars: list[str],
    margins: dict[str, Margin],
    minimums: dict[str, float],
    settings: AlertSettings | None = None,
) -> AlertRule:
    """The within-patient model of every stored session of the perspective, fitted from
    moments the engine computes, at the operating point asked for."""
    moments = within_moments_sql(backend, perspective, pillars)
    try:
        model = fit_moments(moments, pillars, {p: m.sem**2 for p, m in margins.items()})
    except ValueError as exc:
        raise StoreError(f"the store cannot raise alerts yet: {exc}") from None
    sample = sample_patients(backend, perspective, pillars, SAMPLE_PATIENTS)
    return alert_rule(
        model,
        minimums,
        settings,
        sessions=sample,
        source=f"the store's {moments.rows:,} {perspective} sessions of {moments.patients:,} "
        "patients",
    )


def monitor(
    backend: Backend,
    *,
    since: date | None = None,
    clinician: str | None = None,
    perspective: str = "patient",
    min_n: int = MIN_N_FLOOR,
    settings: AlertSettings | None = None,
    rule: AlertRule | None = None,
) -> Monitor:
    """Alerts of the perspective's sessions on or after ``since``, under the within-patient
    model of the whole store at the operating point the ``settings`` ask for. With
    ``clinician``, that clinician's patients, their sessions and events, and the paired
    clinician ratings of those sessions (identifiable). Without, the rule and what the counts
    need: the sessions stay where they are, and only the paired sessions of the window come
    back, for the agreement. ``rule``: the store's rule where the caller has it already (it
    depends on the settings and the store, not on the window or the clinician)."""
    pillars = store_pillars(backend)
    margins = load_margins(backend, perspective, pillars)
    by_ingest = ingest_minimums(backend)
    sessions, events, pairs = pd.DataFrame(), pd.DataFrame(), pd.DataFrame()
    if clinician is None:
        stored = history(backend, perspective, since)
        if not stored.sessions:
            raise StoreError(f"the store holds no {perspective} sessions.")
        ingests = stored.ingests
        if perspective == "patient":
            mine = load_sessions(
                backend, perspective, pillars, since=since, rated_by="clinician", minimums=by_ingest
            )
            other = load_sessions(
                backend, "clinician", pillars, rated_by="patient", minimums=by_ingest
            )
            if len(mine) and len(other):
                pairs = pair_sessions(mine, other)
    else:
        sessions = load_sessions(backend, perspective, pillars, clinician, minimums=by_ingest)
        if not len(sessions):
            raise StoreError(f"no stored {perspective} sessions of clinician {clinician!r}.")
        ingests = tuple(sorted(int(i) for i in sessions["ingest_id"].unique()))
    minimums, notes = _window_minimums(by_ingest, ingests, pillars)
    if rule is None:
        rule = store_alert_rule(backend, perspective, pillars, margins, minimums, settings)
    if clinician is not None:
        events = find_model_alerts(sessions, rule)
        events[names.DATE] = pd.to_datetime(events[names.DATE])
        if since is not None:
            cut = pd.Timestamp(since)
            sessions = sessions[sessions[names.DATE] >= cut].reset_index(drop=True)
            events = events[events[names.DATE] >= cut].reset_index(drop=True)
            ingests = tuple(sorted(int(i) for i in sessions["ingest_id"].unique()))
            minimums, notes = _window_minimums(by_ingest, ingests, pillars)
        if perspective == "patient":
            other = load_sessions(backend, "clinician", pillars, clinician, minimums=by_ingest)
            if len(other):
                pairs = pair_sessions(sessions, other)
    return Monitor(
        pillars=tuple(pillars),
        perspective=perspective,
        window=since,
        min_n=min_n,
        alert_rule=rule,
        margins=margins,
        minimums=minimums,
        sessions=sessions,
        alerts=events,
        pairs=pairs,
        notes=notes,
        ingest_minimums=by_ingest,
        clinician=clinician,
    )


COUNT_COLUMNS = (
    "n_patients",
    "n_sessions",
    "ruptures",
    "repairs",
    "below_minimum",
    "never_established",
    "patients_with_rupture",
    "ruptures_per_100_sessions",
)


def _counts(backend: Backend, m: Monitor, keys: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Per named key (an SQL expression over the sessions) and per value of it: patients,
    sessions and event counts of the window, computed by the engine in one query; the whole
    window under ``""``."""
    store_events(backend, m.perspective, m.alert_rule, m.ingest_minimums)
    found = event_counts(backend, m.perspective, list(m.pillars), keys, m.window)
    columns = [*COUNT_COLUMNS, *(f"{p}_ruptures" for p in m.pillars)]
    out = {}
    for name, frame in found.items():
        with np.errstate(invalid="ignore", divide="ignore"):
            frame["ruptures_per_100_sessions"] = 100 * frame["ruptures"] / frame["n_sessions"]
        label = name or "all"
        frame = frame.rename(columns={"key": label}).astype({label: str})
        out[name] = frame[[label, *columns]]
    return out


@dataclass(frozen=True)
class AlertCounts(Reported):
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
    rule: dict[str, Any] = field(default_factory=dict)  # Monitor.rule() of the window
    operating_point: str = ""  # the rate the alerts run at, in one sentence
    since: str | None = None
    min_n: int = MIN_N_FLOOR

    def pseudonymized(self, key: str) -> AlertCounts:
        """The same counts with every group (clinician, site) named by its keyed pseudonym."""
        return replace(
            self, groups=self.groups.assign(group=pseudonymize(self.groups["group"], key))
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "operating_point": self.operating_point,
            "rule": self.rule,
            "since": self.since,
            "by": self.by,
            "min_n": self.min_n,
            "totals": self.totals,
            "groups": records(self.groups),
            "months": records(self.months),
            "suppressed_groups": self.suppressed_groups,
            "withheld_groups": self.withheld_groups,
            "suppressed_months": self.suppressed_months,
            "withheld_months": self.withheld_months,
            "notes": self.notes,
        }

    def to_frame(self) -> pd.DataFrame:
        """Alerts and events per group shown (small groups suppressed)."""
        return self.groups

    def summary(self) -> str:
        """The totals, what was shown, suppressed and withheld, the groups' table and notes."""
        text = self.groups.to_string(index=False) if len(self.groups) else "(no group to show)"
        totals = self.totals
        return (
            (self.operating_point + "\n" if self.operating_point else "")
            + (
                f"{totals['ruptures']:,} rupture alerts, {totals['repairs']:,} repairs, "
                f"{totals['below_minimum']:,} levels below a minimum and "
                f"{totals['never_established']:,} never established in {totals['sessions']:,} "
                f"sessions of {totals['patients']:,} patients\n"
                if totals
                else "totals withheld\n"
            )
            + f"{len(self.groups)} groups shown, {self.suppressed_groups} suppressed (fewer "
            f"than {self.min_n} patients), {self.withheld_groups} withheld against "
            "differencing\n" + text + "\n" + "".join(f"note: {n}\n" for n in self.notes)
        )


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
        raise StoreError(worded(f"`by` must be one of {', '.join(GROUPINGS)}; got {by!r}."))
    check_min_n(m.min_n, identifiable)
    group = GROUPINGS[by]
    counted = _counts(backend, m, {"group": group, "month": backend.month("date")})
    groups, months = counted["group"], counted["month"]
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
                Cells("total", ALL, ("all",)),
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
    totals = None
    if not totals_withheld:
        whole = counted[""]
        row = whole.iloc[0] if len(whole) else None
        if row is not None and row["n_patients"] >= m.min_n:
            totals = {
                "patients": int(row["n_patients"]),
                "sessions": int(row["n_sessions"]),
                "ruptures": int(row["ruptures"]),
                "repairs": int(row["repairs"]),
                "below_minimum": int(row["below_minimum"]),
                "never_established": int(row["never_established"]),
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
        rule=m.rule(),
        operating_point=m.alert_rule.first_line(),
        since=m.since,
        min_n=m.min_n,
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
    check_min_n(m.min_n, identifiable)
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
    where, params = paired_filter(m.window, m.perspective)
    request = f"agreement by={group} since={m.since} min_n={m.min_n}"
    withheld: set[str] = set()
    withheld_total: set[str] = set()
    if not identifiable:
        withheld, withheld_total = guard_all(
            backend,
            [
                Cells(f"paired:{group}", group, tuple(table["group"])),
                Cells("paired:total", ALL, ("all",)),
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
