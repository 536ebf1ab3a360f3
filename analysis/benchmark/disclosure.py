"""The defence against differencing: no two outputs of a store may isolate fewer than min-n
patients.

Small-cell suppression alone does not protect a patient: a group of 6 patients shown with and
without ``--since`` as 6 and 5 patients gives, by subtraction, the sixth patient's scores,
sessions and adequacy. Any two cells the tool releases from one store (a group in one date
window and in another, a site and one of its clinicians, a month of the trend and a group,
the totals before and after an ingest) are such a pair.

So every cell the benchmark would show is compared with every cell already released from the
same store, as sets of sessions. A cell is released only if, against each released cell, the
sessions that are in one and not the other belong to no patient at all (the same cell again)
or to at least ``min_n`` patients; otherwise it is withheld (secondary suppression), and only
counted. Released cells are recorded in the store (tables ``releases`` and
``release_members``, created by the store's migrations: each
cell's sessions and their patients, as 64-bit hashes), so the rule holds across runs, date
windows, ``--by`` choices, ``--min-n`` values and later ingests.

Why this suffices for the cells themselves: what a released cell says is a function of its
sessions. The difference of two released cells can only tell about the sessions in their
symmetric difference, and those belong to at least ``min_n`` patients, the same protection a
single cell has. Model-based figures that pool every session of the window (the mixed
models' variance components) are released only with the totals cell of that window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd


@dataclass(frozen=True)
class Cells:
    """Candidate cells of one kind: ``key`` an SQL expression over the scores table (a group
    column, a month, a constant for the totals) and the labels primary suppression kept."""

    kind: str
    key: str
    labels: tuple[str, ...]


def _candidates(
    con: duckdb.DuckDBPyConnection, cells: Cells, where: str, params: list[Any]
) -> None:
    con.execute("DROP TABLE IF EXISTS temp.candidate")
    con.execute(
        f"""CREATE TEMP TABLE candidate AS
            SELECT CAST({cells.key} AS VARCHAR) AS label,
                   hash(response_id, instrument_version) AS member,
                   hash(respondent_id) AS patient
            FROM scores
            WHERE {where} AND {cells.key} IS NOT NULL
              AND list_contains(?, CAST({cells.key} AS VARCHAR))""",
        [*params, list(cells.labels)],
    )


def _too_close(con: duckdb.DuckDBPyConnection, min_n: int) -> set[str]:
    """Labels of candidates that differ from a released cell by 1 to min_n - 1 patients."""
    rows = con.execute(
        """
        WITH pairs AS (
            SELECT DISTINCT c.label, m.cell_id
            FROM candidate c JOIN release_members m USING (member)
        ),
        candidate_only AS (
            SELECT p.label, p.cell_id, c.patient
            FROM pairs p JOIN candidate c ON c.label = p.label
            WHERE NOT EXISTS (
                SELECT 1 FROM release_members m
                WHERE m.cell_id = p.cell_id AND m.member = c.member)
        ),
        released_only AS (
            SELECT p.label, p.cell_id, m.patient
            FROM pairs p JOIN release_members m ON m.cell_id = p.cell_id
            WHERE NOT EXISTS (
                SELECT 1 FROM candidate c WHERE c.label = p.label AND c.member = m.member)
        ),
        apart AS (
            SELECT label, cell_id, count(DISTINCT patient) AS patients
            FROM (SELECT * FROM candidate_only UNION ALL SELECT * FROM released_only)
            GROUP BY label, cell_id
        )
        SELECT DISTINCT label FROM apart WHERE patients BETWEEN 1 AND ?
        """,
        [min_n - 1],
    ).fetchall()
    return {str(r[0]) for r in rows}


def _record(con: duckdb.DuckDBPyConnection, kind: str, labels: list[str], request: str) -> None:
    """Add the released cells (those of ``labels`` not released with the same sessions
    before) to the log."""
    if not labels:
        return
    stats = con.execute(
        """SELECT label, count(DISTINCT patient), count(*), bit_xor(member)
           FROM candidate WHERE list_contains(?, label) GROUP BY label""",
        [labels],
    ).fetchall()
    start = int(con.execute("SELECT coalesce(max(cell_id), 0) FROM releases").fetchall()[0][0])
    now = datetime.now()
    for k, (label, patients, sessions, fingerprint) in enumerate(stats, start=start + 1):
        same = con.execute(
            """SELECT count(*) FROM releases WHERE fingerprint = ? AND n_sessions = ?""",
            [fingerprint, sessions],
        ).fetchall()[0][0]
        if same:
            continue  # these very sessions were released before: nothing new to compare with
        con.execute(
            "INSERT INTO releases VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [k, now, kind, label, request, patients, sessions, fingerprint],
        )
        con.execute(
            "INSERT INTO release_members SELECT ?, member, patient FROM candidate WHERE label = ?",
            [k, label],
        )


def guard(
    con: duckdb.DuckDBPyConnection,
    cells: Cells,
    where: str,
    params: list[Any],
    min_n: int,
    request: str,
) -> set[str]:
    """Withhold the cells that would isolate fewer than ``min_n`` patients against any cell
    released from this store; record the rest as released. Returns the withheld labels."""
    if not cells.labels:
        return set()
    _candidates(con, cells, where, params)
    withheld = _too_close(con, min_n)
    _record(con, cells.kind, [label for label in cells.labels if label not in withheld], request)
    con.execute("DROP TABLE IF EXISTS temp.candidate")
    return withheld


def release_log(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The cells released so far (without their members)."""
    return con.execute(
        "SELECT cell_id, released_at, kind, label, request, n_patients, n_sessions "
        "FROM releases ORDER BY cell_id"
    ).fetchdf()
