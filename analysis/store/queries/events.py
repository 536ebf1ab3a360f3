"""The alert rule of :mod:`analysis.ruptures.rule`, run where the sessions are.

The counts of alerts per group and month need every patient's course, but not in Python: each
comparison the rule makes looks at the patient's earlier sessions only, so it is a window
function over the patient's sessions in order (session number, then date, then response id).
Per pillar, over the sessions where it is scored:

- ``previous``: ``lag``; ``best``: the ``max`` over the earlier sessions; ``earlier``: their
  ``count``, which picks the best-session factor ``c_k`` (computed in Python, passed in);
- the repair band's latch: the position of the latest session below the minimum against the
  latest one clear of it (two running ``max``);
- an alert where the state turns on after the patient's first session, a repair where it turns
  off after a run that began with an alert (the running ``min`` of the earlier states says
  whether the run began at the first session).

``never_established`` ranks each patient's decided sessions and keeps a running ``max`` of
adequate. The comparisons are the same double-precision arithmetic as the pandas rule's
(``previous - score > margin``, ``best - score > c_k * SEM``, ``score >= minimum + band``), so
the events are the same events: tests/test_monitor.py holds the two together on a store with
planted ruptures, and tests/test_spark.py holds DuckDB and Spark together.

What comes back is O(groups x months) rows of counts; nothing per patient.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from ...ruptures.rule import NEVER, REPAIR, RUPTURE, Margin, best_factors
from ..backends import Backend

ORDER = "session NULLS LAST, date NULLS LAST, response_id"


def _running(expression: str, frame: str = "UNBOUNDED PRECEDING AND CURRENT ROW") -> str:
    return f"{expression} OVER (PARTITION BY respondent_id ORDER BY pos ROWS BETWEEN {frame})"


def _case(column: str, mapping: dict[Any, float]) -> tuple[str, list[Any]]:
    """``CASE column WHEN ? THEN ? ... END`` (NULL when no key matches)."""
    if not mapping:
        return "CAST(NULL AS DOUBLE)", []
    params: list[Any] = []
    for key, value in mapping.items():
        params += [key, float(value)]
    return f"CASE {column} " + "WHEN ? THEN ? " * len(mapping) + "END", params


@dataclass(frozen=True)
class StoreRule:
    """The alert rule as the engine applies it: the perspective, each pillar's margins, the
    minimums each ingest's sessions were judged by, the sessions a patient must have had for
    ``never_established``, and the most sessions any patient has (the ``c_k`` to pass in)."""

    perspective: str
    margins: dict[str, Margin]
    minimums: dict[int, dict[str, float]]
    establish_within: int
    most_sessions: int


def events_sql(
    backend: Backend,
    rule: StoreRule,
) -> tuple[str, list[Any]]:
    """Common table expressions ``s`` (the perspective's sessions, with ``pos``) and ``ev``
    (one row per alert, repair and never-established event, with the session's keys and
    ``pillar`` and ``event``), to be followed by a SELECT; and their parameters in order."""
    q = backend.quote
    margins, minimums = rule.margins, rule.minimums
    pillars = list(margins)
    where = "coalesce(perspective, 'patient') = ? AND respondent_id IS NOT NULL"
    params: list[Any] = [rule.perspective]
    scored = ", ".join(f"{q(p)}, {q(p + '_pass')}" for p in pillars)
    ctes = [
        f"""s AS (SELECT respondent_id, clinician_id, site_id, session, date, alliance_status,
            ingest_id, {scored},
            row_number() OVER (PARTITION BY respondent_id ORDER BY {ORDER}) AS pos
            FROM scores WHERE {where})"""
    ]
    keys = "respondent_id, clinician_id, site_id, session, date"
    factors = dict(enumerate(best_factors(np.arange(1, rule.most_sessions + 1)).tolist(), start=1))
    parts = []
    for j, (p, error) in enumerate(margins.items()):
        minimum, minimum_params = _case(
            "ingest_id", {i: m[p] for i, m in minimums.items() if p in m}
        )
        factor, factor_params = _case("n_earlier", factors)
        earlier = "UNBOUNDED PRECEDING AND 1 PRECEDING"
        ctes.append(
            f"""a{j} AS (SELECT {keys}, pos, {q(p)} AS pillar_score, {minimum} AS min_score,
                NOT coalesce({q(p + "_pass")}, TRUE) AS is_below,
                lag({q(p)}) OVER (PARTITION BY respondent_id ORDER BY pos) AS prev_score,
                {_running(f"max({q(p)})", earlier)} AS best_score,
                {_running("count(*)", earlier)} AS n_earlier
                FROM s WHERE {q(p)} IS NOT NULL)"""
        )
        params += minimum_params
        ctes.append(
            f"""b{j} AS (SELECT *,
                coalesce(prev_score - pillar_score > ?, FALSE) AS from_previous,
                coalesce(best_score - pillar_score > {factor} * ?, FALSE) AS from_best,
                coalesce(pillar_score >= min_score + ?, FALSE) AS is_clear FROM a{j})"""
        )
        params += [error.margin, *factor_params, error.sem, error.repair_band]
        ctes.append(
            f"""c{j} AS (SELECT *,
                coalesce({_running("max(CASE WHEN is_below THEN pos END)")}, -1)
                > coalesce({_running("max(CASE WHEN is_clear THEN pos END)")}, -1)
                OR from_previous OR from_best AS in_rupture FROM b{j})"""
        )
        ctes.append(
            f"""d{j} AS (SELECT {keys}, in_rupture,
                lag(in_rupture) OVER (PARTITION BY respondent_id ORDER BY pos) AS was_in_rupture,
                {_running("min(CASE WHEN in_rupture THEN 1 ELSE 0 END)", earlier)} AS all_in_rupture
                FROM c{j})"""
        )
        parts.append(
            f"""SELECT {keys}, ? AS pillar, CASE
                WHEN in_rupture AND NOT was_in_rupture THEN ?
                WHEN was_in_rupture AND NOT in_rupture AND all_in_rupture = 0 THEN ? END AS event
                FROM d{j}
                WHERE was_in_rupture IS NOT NULL"""
        )
    ctes.append(
        f"""n AS (SELECT {keys},
            row_number() OVER (PARTITION BY respondent_id ORDER BY pos) AS nth,
            {_running("max(CASE WHEN alliance_status = 'adequate' THEN 1 ELSE 0 END)")} AS ever
            FROM s WHERE alliance_status IN ('adequate', 'inadequate'))"""
    )
    union = " UNION ALL ".join(parts)
    ctes.append(
        f"""e AS ({union} UNION ALL SELECT {keys}, CAST(NULL AS STRING) AS pillar,
            ? AS event FROM n WHERE nth = ? AND ever = 0)"""
    )
    for p in pillars:
        params += [p, RUPTURE, REPAIR]
    params += [NEVER, rule.establish_within]
    ctes.append("ev AS (SELECT * FROM e WHERE event IS NOT NULL)")
    return "WITH " + ",\n".join(ctes), params


def _window(since: date | None) -> tuple[str, list[Any]]:
    return ("date >= ?", [since]) if since is not None else ("TRUE", [])


def event_counts(
    backend: Backend,
    rule: StoreRule,
    keys: dict[str, str],
    since: date | None = None,
) -> dict[str, pd.DataFrame]:
    """Per named key (an expression over the session's columns) and per value of it:
    patients and sessions of the window, and its events: ``ruptures``, ``repairs``,
    ``never_established``, ``patients_with_rupture`` and ``<pillar>_ruptures``; and the same
    for the whole window under the name ``""``. NULL values of a key are left out.

    One query: the keys are grouping sets, so the events are found once for all of them."""
    ctes, params = events_sql(backend, rule)
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
    pillars = list(rule.margins)
    per_pillar = "".join(f", {rupture_of} AS {backend.quote(p + '_ruptures')}" for p in pillars)
    pillar_params: list[Any] = []
    for p in pillars:
        pillar_params += [RUPTURE, p]
    sql = f"""{ctes},
        sk AS (SELECT respondent_id, {keyed} FROM s WHERE {window}),
        ek AS (SELECT respondent_id, pillar, event, {keyed} FROM ev WHERE {window}),
        g AS (SELECT {marks}, count(DISTINCT respondent_id) AS n_patients,
              count(*) AS n_sessions FROM sk GROUP BY GROUPING SETS ({sets})),
        h AS (SELECT {marks},
              sum(CASE WHEN event = ? THEN 1 ELSE 0 END) AS ruptures,
              sum(CASE WHEN event = ? THEN 1 ELSE 0 END) AS repairs,
              sum(CASE WHEN event = ? THEN 1 ELSE 0 END) AS never_established,
              count(DISTINCT CASE WHEN event = ? THEN respondent_id END)
                  AS patients_with_rupture{per_pillar}
              FROM ek GROUP BY GROUPING SETS ({sets}))
        SELECT {", ".join(f"g.{kj}, g.{kj}_set" for kj in k)}, g.n_patients, g.n_sessions,
            h.ruptures, h.repairs, h.never_established, h.patients_with_rupture
            {"".join(f", h.{backend.quote(p + '_ruptures')}" for p in pillars)}
        FROM g LEFT JOIN h ON {same}"""
    frame = backend.query(
        sql,
        params + window_params + window_params + [RUPTURE, REPAIR, NEVER, RUPTURE] + pillar_params,
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
