"""What the alerts and the agreement read from the clinic store: sessions with each pillar's
minimum, and the pillars' measurement error. The queries live here, in one place, in the SQL
every backend speaks (analysis/backends)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from .. import names
from ..backends import Backend
from ..store import StoreError
from .alerts import Margin

SESSION_COLUMNS = (
    names.RESPONDENT_ID,
    names.CLINICIAN_ID,
    names.SITE_ID,
    names.SESSION,
    names.DATE,
    "alliance_status",
)


def _minimums(backend: Backend) -> dict[int, dict[str, float]]:
    out: dict[int, dict[str, float]] = {}
    frame = backend.query("SELECT ingest_id, thresholds FROM ingests")
    for ingest_id, text in zip(frame["ingest_id"], frame["thresholds"], strict=True):
        out[int(ingest_id)] = {t["pillar"]: float(t["value"]) for t in json.loads(text or "[]")}
    return out


def load_sessions(
    backend: Backend,
    perspective: str,
    pillars: list[str],
    clinician: str | None = None,
) -> pd.DataFrame:
    """Every stored session of the perspective (the whole history: an alert depends on the
    sessions before it), with each pillar's score, pass and the minimum it was judged by."""
    clauses = ["coalesce(perspective, 'patient') = ?", "respondent_id IS NOT NULL"]
    params: list[Any] = [perspective]
    if clinician is not None:
        clauses.append("clinician_id = ?")
        params.append(clinician)
    pillar_sql = ", ".join(f"{p}, {p}_pass" for p in pillars)
    frame = backend.query(
        f"SELECT ingest_id, {', '.join(SESSION_COLUMNS)}, {pillar_sql} FROM scores "
        f"WHERE {' AND '.join(clauses)} "
        "ORDER BY respondent_id, session, date, response_id",
        params,
    )
    minimums = _minimums(backend)
    for p in pillars:
        lookup = {i: m.get(p, np.nan) for i, m in minimums.items()}
        frame[f"{p}_minimum"] = frame["ingest_id"].map(lookup).astype(float)
    frame[names.DATE] = pd.to_datetime(frame[names.DATE])
    return frame.drop(columns="ingest_id")


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
