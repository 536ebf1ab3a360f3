"""The rupture alerts of every patient in the store, found where the sessions are, and counted
per group and month.

The alerts need each patient's course through the within-patient model's filter
(analysis.ruptures.alerts), which is not SQL: the engine hands it whole patients at a time
(``Backend.per_patient``: DuckDB streams the sessions in batches, Spark runs it on its
executors through ``mapInPandas``), and keeps only the events, one row each, keyed by the
session they happened at, as the temporary table ``alert_events``. The counts are then one
grouping-sets query over the sessions and those events.

What comes back to Python is O(groups x months) rows of counts; nothing per patient.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from ...ruptures.alerts import BELOW, AlertRule, find_model_alerts
from ...ruptures.rule import NEVER, REPAIR, RUPTURE
from ..backends import Backend

EVENTS_VIEW = "alert_events"
_KEYS = ("response_id", "instrument_version")
_PERSPECTIVE = "coalesce(perspective, 'patient') = ?"


def store_events(
    backend: Backend,
    perspective: str,
    rule: AlertRule,
    minimums: dict[int, dict[str, float]],
) -> None:
    """Find every patient's events under ``rule`` (each session judged by the minimums of the
    ingest it came from, ``minimums``) and keep them in the engine as ``alert_events``
    (response_id, instrument_version, pillar, event)."""
    pillars = list(rule.model.pillars)
    q = backend.quote
    scored = ", ".join(q(p) for p in pillars)
    sql = (
        "SELECT ingest_id, response_id, instrument_version, respondent_id, session, date, "
        f"alliance_status, {scored} FROM scores "
        f"WHERE {_PERSPECTIVE} AND respondent_id IS NOT NULL"
    )
    lookup = {p: {int(i): m.get(p, np.nan) for i, m in minimums.items()} for p in pillars}

    def events(part: pd.DataFrame) -> pd.DataFrame:
        part = part.assign(
            **{f"{p}_minimum": part["ingest_id"].map(lookup[p]).astype(float) for p in pillars},
            date=pd.to_datetime(part["date"]),
        )
        return find_model_alerts(part, rule, carry=_KEYS)

    backend.per_patient(sql, [perspective], events, [*_KEYS, "pillar", "event"], EVENTS_VIEW)


def _window(since: date | None) -> tuple[str, list[Any]]:
    return ("date >= ?", [since]) if since is not None else ("TRUE", [])


def event_counts(
    backend: Backend,
    perspective: str,
    pillars: list[str],
    keys: dict[str, str],
    since: date | None = None,
) -> dict[str, pd.DataFrame]:
    """Per named key (an expression over the session's columns) and per value of it:
    patients and sessions of the window, and its events (from ``alert_events``, which
    :func:`store_events` made): ``ruptures``, ``repairs``, ``below_minimum``,
    ``never_established``, ``patients_with_rupture`` and ``<pillar>_ruptures``; and the same
    for the whole window under the name ``""``. NULL values of a key are left out.

    One query: the keys are grouping sets."""
    columns = "respondent_id, clinician_id, site_id, session, date"
    ctes = f"""WITH s AS (SELECT {columns} FROM scores
            WHERE {_PERSPECTIVE} AND respondent_id IS NOT NULL),
        ev AS (SELECT {", ".join(f"sc.{c.strip()}" for c in columns.split(","))},
            e.pillar, e.event FROM {EVENTS_VIEW} e JOIN scores sc
            ON sc.response_id = e.response_id AND sc.instrument_version = e.instrument_version
            WHERE coalesce(sc.perspective, 'patient') = ?)"""
    params: list[Any] = [perspective, perspective]
    window, window_params = _window(since)
    names_ = list(keys)
    k = [f"k{j}" for j in range(len(names_))]
    keyed = ", ".join(f"{expr} AS {kj}" for expr, kj in zip(keys.values(), k, strict=True))
    sets = ", ".join(f"({kj})" for kj in k) + ", ()"
    marks = ", ".join(f"{kj}, grouping({kj}) AS {kj}_set" for kj in k)
    same = " AND ".join(
        f"g.{kj} IS NOT DISTINCT FROM h.{kj} AND g.{kj}_set = h.{kj}_set" for kj in k
    )
    rupture_of = "sum(CASE WHEN event = ? AND pillar = ? THEN 1 ELSE 0 END)"
    per_pillar = "".join(f", {rupture_of} AS {backend.quote(p + '_ruptures')}" for p in pillars)
    pillar_params: list[Any] = []
    for p in pillars:
        pillar_params += [RUPTURE, p]
    sql = f""",
        sk AS (SELECT respondent_id, {keyed} FROM s WHERE {window}),
        ek AS (SELECT respondent_id, pillar, event, {keyed} FROM ev WHERE {window}),
        g AS (SELECT {marks}, count(DISTINCT respondent_id) AS n_patients,
              count(*) AS n_sessions FROM sk GROUP BY GROUPING SETS ({sets})),
        h AS (SELECT {marks},
              sum(CASE WHEN event = ? THEN 1 ELSE 0 END) AS ruptures,
              sum(CASE WHEN event = ? THEN 1 ELSE 0 END) AS repairs,
              sum(CASE WHEN event = ? THEN 1 ELSE 0 END) AS below_minimum,
              sum(CASE WHEN event = ? THEN 1 ELSE 0 END) AS never_established,
              count(DISTINCT CASE WHEN event = ? THEN respondent_id END)
                  AS patients_with_rupture{per_pillar}
              FROM ek GROUP BY GROUPING SETS ({sets}))
        SELECT {", ".join(f"g.{kj}, g.{kj}_set" for kj in k)}, g.n_patients, g.n_sessions,
            h.ruptures, h.repairs, h.below_minimum, h.never_established,
            h.patients_with_rupture
            {"".join(f", h.{backend.quote(p + '_ruptures')}" for p in pillars)}
        FROM g LEFT JOIN h ON {same}"""
    frame = backend.query(
        ctes + sql,
        params
        + window_params
        + window_params
        + [RUPTURE, REPAIR, BELOW, NEVER, RUPTURE]
        + pillar_params,
    )
    counts = [c for c in frame.columns if c not in k and not c.endswith("_set")]
    frame[counts] = frame[counts].fillna(0).astype("int64")
    out = {}
    for j, (name, kj) in enumerate(zip(names_, k, strict=True)):
        # The rows of this key's grouping set: its own column grouped, every other one not.
        rows = frame[kj + "_set"] == 0
        for other in k[:j] + k[j + 1 :]:
            rows &= frame[other + "_set"] == 1
        part = frame[rows & frame[kj].notna()]
        part = part.rename(columns={kj: "key"})[["key", *counts]]
        out[name] = part.sort_values("key").reset_index(drop=True)
    whole = frame[(frame[[kj + "_set" for kj in k]] == 1).all(axis=1)]
    out[""] = whole.assign(key="all")[["key", *counts]].reset_index(drop=True)
    return out
