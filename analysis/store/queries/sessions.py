"""What the alerts, the agreement and every comparison select from the clinic store: the
sessions of a perspective since a date, sessions with each pillar's minimum, and the pillars'
measurement error, in the SQL every backend speaks (analysis/store/backends)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from ... import names
from ...ruptures.rule import Margin
from ..backends import Backend
from ..backends.base import PATIENT_ORDER
from ..schema import StoreError


def session_filter(since: date | None, perspective: str, alias: str = "") -> tuple[str, list[Any]]:
    """The SQL condition (and its parameters) for the perspective's sessions since a date."""
    clauses = [f"coalesce({alias}perspective, 'patient') = ?"]
    params: list[Any] = [perspective]
    if since is not None:
        clauses.append(f"{alias}date >= ?")
        params.append(since)
    return " AND ".join(clauses), params


# A session the treating clinician rated too: the same patient, session number and clinician.
_PAIRED = (
    " AND EXISTS (SELECT 1 FROM scores c WHERE c.perspective = 'clinician'"
    " AND c.respondent_id = scores.respondent_id AND c.session = scores.session"
    " AND c.clinician_id = scores.clinician_id)"
)


def paired_filter(since: date | None, perspective: str) -> tuple[str, list[Any]]:
    """The condition for the perspective's sessions since a date that the clinician rated too."""
    where, params = session_filter(since, perspective)
    return where + _PAIRED, params


ALL = "'all'"  # the key of a cell that holds every session of the window (the totals)


def steady(backend: Backend, sql: str, params: list[Any]) -> pd.DataFrame:
    """A query's result with its floating-point columns rounded to 1e-9. An engine sums in
    parallel, in an order that varies with the load on the machine (and differs from one
    engine to another), so a mean can differ in its last bit from one run to the next; where
    the mixed model's optimum is flat (a variance at its bound) that moves the estimates.
    Rounded far below any score's precision, the same store gives the same numbers every
    time, on every engine, as the release log's differencing check needs."""
    frame = backend.query(sql, params)
    for column in frame.columns:
        if pd.api.types.is_float_dtype(frame[column]):
            frame[column] = frame[column].round(9)
    return frame


SESSION_COLUMNS = (
    names.RESPONDENT_ID,
    names.CLINICIAN_ID,
    names.SITE_ID,
    names.SESSION,
    names.DATE,
    "alliance_status",
)


def ingest_minimums(backend: Backend) -> dict[int, dict[str, float]]:
    """Per ingest, each pillar's minimum its export was scored with."""
    out: dict[int, dict[str, float]] = {}
    frame = backend.query("SELECT ingest_id, thresholds FROM ingests")
    for ingest_id, text in zip(frame["ingest_id"], frame["thresholds"], strict=True):
        out[int(ingest_id)] = {t["pillar"]: float(t["value"]) for t in json.loads(text or "[]")}
    return out


_PERSPECTIVE = "coalesce(perspective, 'patient') = ? AND respondent_id IS NOT NULL"
# A session the other side rated too: the same patient, session number and clinician.
_RATED_BY = (
    " AND EXISTS (SELECT 1 FROM scores o WHERE coalesce(o.perspective, 'patient') = ?"
    " AND o.respondent_id = scores.respondent_id AND o.session = scores.session"
    " AND o.clinician_id = scores.clinician_id)"
)


def load_sessions(
    backend: Backend,
    perspective: str,
    pillars: list[str],
    clinician: str | None = None,
    *,
    since: date | None = None,
    rated_by: str | None = None,
    minimums: dict[int, dict[str, float]] | None = None,
    every: int = 1,
) -> pd.DataFrame:
    """The stored sessions of the perspective (of one clinician; on or after ``since``; only
    those the ``rated_by`` side rated too; of one patient in ``every``, picked by a hash of
    their id), each with its pillars' scores, passes and the minimums it was judged by
    (``minimums``: :func:`ingest_minimums`, read here when not given), and its ingest."""
    clauses = [_PERSPECTIVE]
    params: list[Any] = [perspective]
    if clinician is not None:
        clauses.append("clinician_id = ?")
        params.append(clinician)
    if since is not None:
        clauses.append("date >= ?")
        params.append(since)
    if every > 1:
        clauses.append(f"abs({backend.hashed('respondent_id')}) % {int(every)} = 0")
    where = " AND ".join(clauses)
    if rated_by is not None:
        where += _RATED_BY
        params.append(rated_by)
    pillar_sql = ", ".join(f"{p}, {p}_pass" for p in pillars)
    frame = backend.query(
        f"SELECT ingest_id, {', '.join(SESSION_COLUMNS)}, {pillar_sql} FROM scores "
        f"WHERE {where} ORDER BY {PATIENT_ORDER}",
        params,
    )
    if minimums is None:
        minimums = ingest_minimums(backend)
    for p in pillars:
        lookup = {i: m.get(p, np.nan) for i, m in minimums.items()}
        frame[f"{p}_minimum"] = frame["ingest_id"].map(lookup).astype(float)
    frame[names.DATE] = pd.to_datetime(frame[names.DATE])
    return frame


SAMPLE_PATIENTS = 20_000  # whole patients read to fit what moments cannot give


def sample_patients(
    backend: Backend, perspective: str, pillars: list[str], patients: int = SAMPLE_PATIENTS
) -> pd.DataFrame:
    """The sessions of about ``patients`` whole patients of the perspective, picked by a hash
    of their id (all of them in a smaller store), with each session's minimums."""
    count = backend.query(
        f"SELECT count(DISTINCT respondent_id) AS n FROM scores WHERE {_PERSPECTIVE}",
        [perspective],
    )
    total = int(np.nan_to_num(count["n"].to_numpy(float))[0])
    return load_sessions(backend, perspective, pillars, every=max(1, -(-total // patients)))


@dataclass(frozen=True)
class History:
    """How much the store holds of a perspective: sessions, and the most any patient has."""

    sessions: int
    most_sessions: int
    ingests: tuple[int, ...]  # the ingests of the window's sessions, oldest first


def history(backend: Backend, perspective: str, since: date | None = None) -> History:
    frame = backend.query(
        "SELECT sum(n) AS sessions, max(n) AS most FROM (SELECT count(*) AS n FROM scores "
        f"WHERE {_PERSPECTIVE} GROUP BY respondent_id) per_patient",
        [perspective],
    )
    window = " AND date >= ?" if since is not None else ""
    ingests = backend.query(
        f"SELECT DISTINCT ingest_id FROM scores WHERE {_PERSPECTIVE}{window} ORDER BY ingest_id",
        [perspective, *([since] if since is not None else [])],
    )
    sessions, most = frame.iloc[0] if len(frame) else (None, None)
    return History(
        0 if pd.isna(sessions) else int(sessions),
        0 if pd.isna(most) else int(most),
        tuple(int(i) for i in ingests["ingest_id"]),
    )


def load_margins(backend: Backend, perspective: str, pillars: list[str]) -> dict[str, Margin]:
    """Each pillar's reliable-change margin from the measurement error of every ingest of the
    perspective: reliability averaged and variance pooled, each weighted by its scored rows."""
    rows = backend.query(
        "SELECT ingest_id, measurement_error FROM ingests "
        "WHERE coalesce(perspective, 'patient') = ? AND measurement_error IS NOT NULL "
        "ORDER BY ingest_id",
        [perspective],
    )
    parts = [json.loads(text) for text in rows["measurement_error"]]
    margins = {}
    for p in pillars:
        found = [
            m[p]
            for m in parts
            if p in m and m[p]["reliability"] is not None and m[p]["sd"] is not None
        ]
        weight = np.array([m["rows"] for m in found], dtype=float)
        if not len(found) or weight.sum() <= 0:
            raise StoreError(
                f"the store has no measurement error for {p!r} in {perspective} ratings (its "
                "exports were ingested before alliance recorded it); ingest them again into a "
                "new store to get reliable-change margins."
            )
        reliability = float(np.average([m["reliability"] for m in found], weights=weight))
        sd = float(np.sqrt(np.average([m["sd"] ** 2 for m in found], weights=weight)))
        margins[p] = Margin(p, reliability, sd, int(weight.sum()))
    return margins
