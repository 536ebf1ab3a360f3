"""The store's item moments: per group, the complete rows' sums and cross-products of a model's
items, computed where the data live, so that a CFA of millions of sessions loads a few
numbers (analysis.clinic.structure fits them)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backends import Backend


def item_moments(
    backend: Backend, items: list[str], where: str, params: list[Any], group: str | None
) -> tuple[list[tuple[str, int, np.ndarray, np.ndarray]], int, int]:
    """Per group: label, complete rows, means and covariance (denominator n) of ``items``;
    and the rows of the window left out for a missing answer and for no group value."""
    q = [backend.quote(i) for i in items]
    complete = " AND ".join(f"{c} IS NOT NULL" for c in q)
    sums = ", ".join(f"sum({c}) AS s{k}" for k, c in enumerate(q))
    products = ", ".join(
        f"sum({q[a]} * {q[b]}) AS p{a}_{b}" for a in range(len(q)) for b in range(a, len(q))
    )
    key = group if group is not None else "''"  # one group, unlabelled as in the engine
    frame = backend.query(
        f"SELECT CAST({key} AS STRING) AS grp, count(*) AS n, {sums}, {products} "
        f"FROM responses WHERE {where} AND {complete} GROUP BY {key} ORDER BY grp",
        params,
    )
    counted = backend.query(
        f"SELECT count(*) AS total, sum(CASE WHEN {complete} THEN 1 ELSE 0 END) AS complete "
        f"FROM responses WHERE {where}",
        params,
    )
    total = int(counted["total"].to_numpy()[0])
    n_complete = int(np.nan_to_num(counted["complete"].to_numpy(float))[0])
    p = len(items)
    out = []
    ungrouped = 0
    for row in frame.to_dict("records"):
        n = int(row["n"])
        if row["grp"] is None or (isinstance(row["grp"], float) and np.isnan(row["grp"])):
            ungrouped += n
            continue
        total_sums = np.array([float(row[f"s{k}"]) for k in range(p)])
        cross = np.zeros((p, p))
        for a in range(p):
            for b in range(a, p):
                cross[a, b] = cross[b, a] = float(row[f"p{a}_{b}"])
        mean = total_sums / n
        cov = cross / n - np.outer(mean, mean)
        out.append((str(row["grp"]), n, mean, cov))
    return out, total - n_complete, ungrouped


def answered_counts(
    backend: Backend, items: list[str], where: str, params: list[Any]
) -> np.ndarray:
    """How many stored responses of the window answer each of ``items``."""
    if not items:
        return np.zeros(0)
    return backend.query(
        "SELECT "
        + ", ".join(f"count({backend.quote(i)}) AS c{k}" for k, i in enumerate(items))
        + f" FROM responses WHERE {where}",
        params,
    ).to_numpy(float)[0]


def stored_instruments(backend: Backend) -> list[str]:
    """The instrument versions the store's ingests were scored with."""
    held = backend.query("SELECT DISTINCT instrument_version FROM ingests ORDER BY 1")
    return [str(v) for v in held["instrument_version"]]
