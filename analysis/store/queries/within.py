"""The within-patient model's moments (analysis.ruptures.model.WithinMoments), computed where
the sessions are: two aggregate queries over the perspective's complete sessions in each
patient's order, one per patient and one over the one- and two-session differences. What comes
back is a few dozen numbers, whatever the store holds."""

from __future__ import annotations

import numpy as np

from ...ruptures.model import WithinMoments
from ..backends import Backend
from ..backends.base import SESSION_ORDER


def within_moments_sql(backend: Backend, perspective: str, pillars: list[str]) -> WithinMoments:
    """The moments of the perspective's sessions complete in every pillar, as
    :func:`analysis.ruptures.model.within_moments` computes them from a frame."""
    q = [backend.quote(p) for p in pillars]
    k = len(pillars)
    complete = " AND ".join(f"{c} IS NOT NULL" for c in q)
    ordered = f"""s AS (SELECT respondent_id, {
        ", ".join(f"CAST({c} AS DOUBLE) AS y{j}" for j, c in enumerate(q))
    }, CAST(row_number() OVER (PARTITION BY respondent_id ORDER BY {SESSION_ORDER})
        - 1 AS DOUBLE) AS t
        FROM scores WHERE coalesce(perspective, 'patient') = ? AND respondent_id IS NOT NULL
        AND {complete})"""
    ys = [f"y{j}" for j in range(k)]
    pairs = [(a, b) for a in range(k) for b in range(a, k)]
    per_patient = ", ".join(
        ["count(*) AS n", "sum(t) AS st", "sum(t * t) AS stt"]
        + [f"sum({y}) AS s{j}" for j, y in enumerate(ys)]
        + [f"sum(t * {y}) AS ty{j}" for j, y in enumerate(ys)]
    )
    mean = [f"s{j} / n" for j in range(k)]
    totals = ", ".join(
        [
            "count(*) AS patients",
            "sum(n) AS n_rows",
            "max(n) AS most",
            "sum(CASE WHEN n >= 2 THEN 1 ELSE 0 END) AS followed",
            "sum(1.0 / n) AS inverse_counts",
            "sum(stt) - sum(st * st / n) AS sxx",
            "sum(st / n) AS mean_t",
            "sum((st / n) * (st / n)) AS mean_t2",
        ]
        + [f"sum(ty{j}) - sum(st * s{j} / n) AS sxy{j}" for j in range(k)]
        + [f"sum({mean[j]}) AS my{j}" for j in range(k)]
        + [f"sum((st / n) * {mean[j]}) AS mty{j}" for j in range(k)]
        + [f"sum(({mean[a]}) * ({mean[b]})) AS myy{a}_{b}" for a, b in pairs]
    )
    frame = backend.query(
        f"WITH {ordered}, p AS (SELECT {per_patient} FROM s GROUP BY respondent_id) "
        f"SELECT {totals} FROM p",
        [perspective],
    )
    row = frame.iloc[0]
    window = "OVER (PARTITION BY respondent_id ORDER BY t)"
    differences = ", ".join(
        f"{y} - lag({y}, {lag}) {window} AS d{lag}_{j}" for lag in (1, 2) for j, y in enumerate(ys)
    )
    sums = ", ".join(
        [f"count(d{lag}_0) AS n{lag}" for lag in (1, 2)]
        + [f"sum(d{lag}_{j}) AS ds{lag}_{j}" for lag in (1, 2) for j in range(k)]
        + [f"sum(d{lag}_{a} * d{lag}_{b}) AS dp{lag}_{a}_{b}" for lag in (1, 2) for a, b in pairs]
    )
    lagged = backend.query(
        f"WITH {ordered}, d AS (SELECT {differences} FROM s) SELECT {sums} FROM d", [perspective]
    ).iloc[0]

    def number(value: object) -> float:
        return 0.0 if value is None or np.isnan(float(value)) else float(value)  # type: ignore[arg-type]

    def vector(prefix: str, source: object = row) -> np.ndarray:
        return np.array([number(source[f"{prefix}{j}"]) for j in range(k)])  # type: ignore[index]

    def symmetric(prefix: str, source: object = row) -> np.ndarray:
        out = np.zeros((k, k))
        for a, b in pairs:
            out[a, b] = out[b, a] = number(source[f"{prefix}{a}_{b}"])  # type: ignore[index]
        return out

    return WithinMoments(
        patients=int(number(row["patients"])),
        rows=int(number(row["n_rows"])),
        most=int(number(row["most"])),
        followed=int(number(row["followed"])),
        inverse_counts=number(row["inverse_counts"]),
        sxx=number(row["sxx"]),
        sxy=vector("sxy"),
        lag_n=(int(number(lagged["n1"])), int(number(lagged["n2"]))),
        lag_sum=(vector("ds1_", lagged), vector("ds2_", lagged)),
        lag_products=(symmetric("dp1_", lagged), symmetric("dp2_", lagged)),
        mean_t=number(row["mean_t"]),
        mean_t2=number(row["mean_t2"]),
        mean_y=vector("my"),
        mean_ty=vector("mty"),
        mean_yy=symmetric("myy"),
    )
