"""The benchmark's aggregates: per group (a clinician, a site, a month) and per patient, the
sums the comparison's statistics need, and nothing per session. analysis.benchmark turns them
into means, intervals and the mixed model."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from ..backends import Backend
from ..schema import EXTRA_PREFIX, StoreError
from .sessions import session_filter, steady


def session_totals(backend: Backend, where: str, params: list[Any]) -> tuple[int, int]:
    """Patients and sessions of the window."""
    counted = backend.query(
        f"SELECT count(DISTINCT respondent_id) AS patients, count(*) AS sessions FROM scores "
        f"WHERE {where}",
        params,
    )
    patients, sessions = (int(v) for v in counted[["patients", "sessions"]].to_numpy()[0])
    return patients, sessions


def group_sums(
    backend: Backend,
    key: str,
    where: str,
    params: list[Any],
    pillars: list[str],
    min_patients: int = 0,
) -> pd.DataFrame:
    """Per value of ``key`` (a group column, a month) with at least ``min_patients`` patients:
    patients, sessions; per pillar the mean, SD and count of the patients' means and the
    sessions that fail it; and the sums of the ratio estimator of the share adequate, patients
    as clusters (``sum_a``, ``sum_n``, ``sum_aa``, ``sum_an``, ``sum_nn``, ``k``)."""
    pillar_stats = ", ".join(
        f"avg({p}) AS {p}_mean, stddev_samp({p}) AS {p}_sd, count({p}) AS {p}_k" for p in pillars
    )
    fails = ", ".join(f"sum(CASE WHEN NOT {p}_pass THEN 1 ELSE 0 END) AS {p}_fail" for p in pillars)
    sql = f"""
        WITH patients AS (
            SELECT {key} AS key, respondent_id, count(*) AS sessions,
                   {", ".join(f"avg({p}) AS {p}" for p in pillars)},
                   sum(CASE WHEN alliance_status = 'adequate' THEN 1 ELSE 0 END) AS a,
                   sum(CASE WHEN alliance_status IN ('adequate', 'inadequate') THEN 1 ELSE 0
                       END) AS d,
                   {fails}
            FROM scores WHERE {where} AND {key} IS NOT NULL
            GROUP BY {key}, respondent_id
        )
        SELECT key, count(*) AS n_patients, sum(sessions) AS n_sessions,
               {pillar_stats},
               sum(a) AS sum_a, sum(d) AS sum_n, sum(a * a) AS sum_aa, sum(a * d) AS sum_an,
               sum(d * d) AS sum_nn, sum(CASE WHEN d > 0 THEN 1 ELSE 0 END) AS k,
               {", ".join(f"sum({p}_fail) AS {p}_fail" for p in pillars)}
        FROM patients GROUP BY key HAVING count(*) >= {int(min_patients)} ORDER BY key
    """
    return steady(backend, sql, params)


def patient_rows(
    backend: Backend,
    group: str,
    since: date | None,
    perspective: str,
    pillar: str,
    adjust: tuple[str, ...],
) -> pd.DataFrame:
    """One row per patient of a pillar: group (``grp``), sessions (``n``), ``mean``, within
    sum of squares (``within_ss``), and the patient's mean of each case-mix covariate
    (``cov0``, ``cov1``, ...: the ``extra:`` columns an export carried)."""
    stored = backend.columns("responses")
    for name in adjust:
        if EXTRA_PREFIX + name not in stored:
            raise StoreError(
                f"case-mix column '{name}' is not in the store; the ingested exports did not "
                "carry it."
            )
    covariates = "".join(
        f", avg(TRY_CAST(r.{backend.quote(EXTRA_PREFIX + c)} AS DOUBLE)) AS cov{i}"
        for i, c in enumerate(adjust)
    )
    join = (
        "JOIN responses r USING (response_id, instrument_version)"
        if adjust
        else ""  # no covariates: the scores table alone
    )
    where, params = session_filter(since, perspective, "s.")
    sql = f"""
        SELECT s.{group} AS grp, count(s.{pillar}) AS n, avg(s.{pillar}) AS mean,
               coalesce(var_pop(s.{pillar}) * count(s.{pillar}), 0) AS within_ss {covariates}
        FROM scores s {join}
        WHERE {where} AND s.{group} IS NOT NULL AND s.{pillar} IS NOT NULL
        GROUP BY s.{group}, s.respondent_id
        ORDER BY grp, s.respondent_id  -- engines group in parallel, in no fixed order; the
                                       -- fit's sums (and a flat optimum) must not depend on it
    """
    return steady(backend, sql, params)


def group_months(
    backend: Backend,
    group: str,
    where: str,
    params: list[Any],
    pillars: list[str],
    min_n: int,
) -> pd.DataFrame:
    """Every group-month with at least ``min_n`` patients, its pillar means and share
    adequate: the store's own reference for percentile ranks."""
    sql = f"""
        SELECT {group} AS grp, date_trunc('month', date) AS month,
               {", ".join(f"avg({p}) AS {p}" for p in pillars)},
               avg(CASE WHEN alliance_status = 'adequate' THEN CAST(1 AS DOUBLE)
                        WHEN alliance_status = 'inadequate' THEN CAST(0 AS DOUBLE)
                        END) AS share_adequate
        FROM scores WHERE {where} AND {group} IS NOT NULL AND date IS NOT NULL
        GROUP BY {group}, date_trunc('month', date)
        HAVING count(DISTINCT respondent_id) >= {int(min_n)}
        ORDER BY grp, month
    """
    return steady(backend, sql, params)
