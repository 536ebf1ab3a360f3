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

Cells of paired sessions (patient and clinician rated the same session: the agreement) form
a family of their own: they are compared with the paired cells released before, and the
other cells with the others. What a paired cell says (the clinician's rating against the
patient's) cannot be had from a cell of patient ratings alone, so subtracting one from the
other tells nothing; two paired cells, or two cells of patient ratings, are what could be
subtracted.

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

from .backends import Backend


@dataclass(frozen=True)
class Cells:
    """Candidate cells of one kind: ``key`` an SQL expression over the scores table (a group
    column, a month (``Backend.month``), a constant for the totals) and the labels primary
    suppression kept."""

    kind: str
    key: str
    labels: tuple[str, ...]


PAIRED = "paired:"  # the kinds of cells that describe paired patient-clinician sessions


def _too_close(con: duckdb.DuckDBPyConnection, min_n: int, paired: bool = False) -> set[str]:
    """Labels of candidates that differ from a released cell by 1 to min_n - 1 patients.

    Only pairs that share a session are compared (two cells with no session in common differ
    by all their patients, at least min_n). For a pair, with A and B the two cells' patients,
    a patient is *apart* unless every one of their sessions in either cell is in both:
    apart = |A| + |B| - |A and B| - (patients whose sessions are all shared). Every join
    below is on a patient, so its size follows the patients' own sessions, not pairs x rows.
    """
    rows = con.execute(
        """
        WITH family AS (
            SELECT m.* FROM release_members m JOIN releases r USING (cell_id)
            WHERE starts_with(r.kind, ?) = ?
        ),
        shared AS (
            SELECT c.label, m.cell_id, c.patient, count(*) AS n_both
            FROM candidate c JOIN family m USING (member)
            GROUP BY ALL
        ),
        pairs AS (SELECT DISTINCT label, cell_id FROM shared),
        cp AS (SELECT label, patient, count(*) AS n_c FROM candidate GROUP BY ALL),
        rp AS (
            SELECT cell_id, patient, count(*) AS n_r FROM family
            WHERE cell_id IN (SELECT cell_id FROM pairs) GROUP BY ALL
        ),
        sizes_a AS (SELECT label, count(*) AS a FROM cp GROUP BY label),
        sizes_b AS (SELECT cell_id, count(*) AS b FROM rp GROUP BY cell_id),
        common AS (
            SELECT cp.label, rp.cell_id, count(*) AS ab
            FROM cp JOIN rp USING (patient)
            SEMI JOIN pairs ON pairs.label = cp.label AND pairs.cell_id = rp.cell_id
            GROUP BY ALL
        ),
        whole AS (
            SELECT s.label, s.cell_id, count(*) AS k
            FROM shared s
            JOIN cp ON cp.label = s.label AND cp.patient = s.patient
            JOIN rp ON rp.cell_id = s.cell_id AND rp.patient = s.patient
            WHERE cp.n_c = s.n_both AND rp.n_r = s.n_both
            GROUP BY ALL
        )
        SELECT DISTINCT p.label
        FROM pairs p
        JOIN sizes_a USING (label)
        JOIN sizes_b USING (cell_id)
        JOIN common USING (label, cell_id)
        LEFT JOIN whole USING (label, cell_id)
        WHERE a + b - ab - coalesce(k, 0) BETWEEN 1 AND ?
        """,
        [PAIRED, paired, min_n - 1],
    ).fetchall()
    return {str(r[0]) for r in rows}


def _record(con: duckdb.DuckDBPyConnection, kind: str, labels: list[str], request: str) -> None:
    """Add the released cells (those of ``labels`` not released with the same sessions
    before) to the log, in one statement each for the cells and their members."""
    if not labels:
        return
    start = int(con.execute("SELECT coalesce(max(cell_id), 0) FROM releases").fetchall()[0][0])
    con.execute("DROP TABLE IF EXISTS temp.new_cells")
    con.execute(
        """CREATE TEMP TABLE new_cells AS
           WITH stats AS (
               SELECT label, count(DISTINCT patient) AS patients, count(*) AS sessions,
                      bit_xor(member) AS fingerprint
               FROM candidate WHERE label IN (SELECT unnest(?::VARCHAR[])) GROUP BY label
           )
           SELECT ? + row_number() OVER (ORDER BY label) AS cell_id, stats.*
           FROM stats
           ANTI JOIN releases r
             ON r.fingerprint = stats.fingerprint AND r.n_sessions = stats.sessions
            AND starts_with(r.kind, ?) = ?""",
        [labels, start, PAIRED, kind.startswith(PAIRED)],
    )
    con.execute(
        "INSERT INTO releases SELECT cell_id, ?, ?, label, ?, patients, sessions, fingerprint "
        "FROM new_cells",
        [datetime.now(), kind, request],
    )
    con.execute(
        "INSERT INTO release_members SELECT n.cell_id, c.member, c.patient "
        "FROM candidate c JOIN new_cells n USING (label)"
    )
    con.execute("DROP TABLE IF EXISTS temp.new_cells")


def guard(
    backend: Backend,
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
    backend.candidates(cells.key, cells.labels, where, params)
    log = backend.releases
    withheld = _too_close(log, min_n, cells.kind.startswith(PAIRED))
    _record(log, cells.kind, [label for label in cells.labels if label not in withheld], request)
    log.execute("DROP TABLE IF EXISTS temp.candidate")
    return withheld


def guard_all(
    backend: Backend,
    cells: list[Cells],
    where: str,
    params: list[Any],
    min_n: int,
    request: str,
) -> list[set[str]]:
    """:func:`guard` for each kind of cells in turn, in one transaction of the release log:
    an output's cells are recorded as released together or, if anything fails, not at all."""
    log = backend.releases
    log.begin()
    try:
        withheld = [guard(backend, c, where, params, min_n, request) for c in cells]
        log.commit()
    except BaseException:
        log.rollback()
        raise
    return withheld


def release_log(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The cells released so far (without their members)."""
    return con.execute(
        "SELECT cell_id, released_at, kind, label, request, n_patients, n_sessions "
        "FROM releases ORDER BY cell_id"
    ).fetchdf()
