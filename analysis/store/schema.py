"""The clinic store's schema: a local DuckDB file that exports are appended to, month after month.

Tables:
- ``ingests``: one row per ingest (file, its SHA-256, time, instrument and version, rows in,
  usable, quarantined, and how many were new, already stored, or in conflict);
- ``responses``: one row per stored response, keyed by ``response_id`` + ``instrument_version``:
  context columns, the answers (one column per item) and any further export columns as text
  (``extra:<name>``), for case-mix adjustment;
- ``scores``: the same keys with the pillar and trust scores and the rule's decisions;
- ``quarantine``: rows the checks set aside, with reasons and the row as read (JSON);
- ``findings``: what an ingest noticed about the store itself (a response id stored before
  with different answers: ``conflicting_duplicate``; the stored row is kept).

An ingest is one transaction: either every row of the export is accounted for in the store,
or (crash, Ctrl-C, kill) nothing of it is. The file is owner-only (0600). The schema carries
its version in ``meta``; ``MIGRATIONS`` lists the steps from an empty file to the current
layout, and opening a store applies the steps it has not seen, in one transaction.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import duckdb
import pandas as pd

from .. import names

KEY = (names.RESPONSE_ID, "instrument_version")
EXTRA_PREFIX = "extra:"


# Each step takes the store from version i to i + 1. Append new steps; never edit old ones.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE ingests (
            ingest_id INTEGER PRIMARY KEY, source VARCHAR, file_sha256 VARCHAR,
            ingested_at TIMESTAMP, instrument VARCHAR, instrument_version VARCHAR,
            platform VARCHAR, rows_in BIGINT, rows_usable BIGINT, rows_quarantined BIGINT,
            rows_new BIGINT, rows_already_stored BIGINT, rows_conflicting BIGINT,
            thresholds VARCHAR)""",
        """CREATE TABLE responses (
            response_id VARCHAR NOT NULL, instrument_version VARCHAR NOT NULL,
            ingest_id INTEGER NOT NULL, row_in_export BIGINT, answers_hash UBIGINT,
            respondent_id VARCHAR, clinician_id VARCHAR, site_id VARCHAR, session INTEGER,
            date DATE, perspective VARCHAR)""",
        """CREATE TABLE scores (
            response_id VARCHAR NOT NULL, instrument_version VARCHAR NOT NULL,
            ingest_id INTEGER NOT NULL, respondent_id VARCHAR, clinician_id VARCHAR,
            site_id VARCHAR, session INTEGER, date DATE)""",
        """CREATE TABLE quarantine (
            ingest_id INTEGER NOT NULL, row_in_export BIGINT, response_id VARCHAR,
            instrument_version VARCHAR, answers_hash UBIGINT, reasons VARCHAR, raw VARCHAR)""",
        """CREATE TABLE findings (
            ingest_id INTEGER NOT NULL, kind VARCHAR, row_in_export BIGINT,
            response_id VARCHAR, reason VARCHAR)""",
    ),
    # 2: what the benchmark has released (analysis/store/disclosure.py), to withhold the
    # cells that subtracting two outputs would open up.
    (
        """CREATE TABLE releases (
            cell_id BIGINT PRIMARY KEY, released_at TIMESTAMP, kind VARCHAR, label VARCHAR,
            request VARCHAR, n_patients BIGINT, n_sessions BIGINT, fingerprint UBIGINT)""",
        """CREATE TABLE release_members (
            cell_id BIGINT NOT NULL, member UBIGINT NOT NULL, patient UBIGINT NOT NULL)""",
    ),
    # 3: each ingest's perspective and measurement error (per pillar: reliability, SD and the
    # rows they rest on), from which the alerts take each pillar's reliable-change margin.
    (
        "ALTER TABLE ingests ADD COLUMN perspective VARCHAR",
        "ALTER TABLE ingests ADD COLUMN measurement_error VARCHAR",
    ),
    # 4: the columns an ingest left out as identifiers (JSON: column and why). A store made
    # before this step may hold such columns: opening it for writing purges them
    # (purge_identifiers).
    ("ALTER TABLE ingests ADD COLUMN identifiers_dropped VARCHAR",),
)
IDENTIFIERS_PURGED_AT = 4
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(ValueError):
    """The store cannot be used as asked (missing, newer than this toolkit, not a store)."""


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    """The first value of a query, or None; the whole result is fetched, as DuckDB asks."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version of the store on ``con`` (0: a new, empty database)."""
    if not scalar(con, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"):
        if scalar(con, "SELECT count(*) FROM information_schema.tables"):
            raise StoreError("this DuckDB file is not an alliance store (it has no 'meta').")
        return 0
    found = scalar(con, "SELECT value FROM meta WHERE key = 'schema_version'")
    return int(found) if found is not None else 0


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the store to ``SCHEMA_VERSION``; returns the version it had."""
    found = schema_version(con)
    if found > SCHEMA_VERSION:
        raise StoreError(
            f"the store has schema version {found}; this toolkit knows up to "
            f"{SCHEMA_VERSION}. Upgrade alliance to read it."
        )
    if found == SCHEMA_VERSION:
        return found
    con.begin()
    try:
        if found == 0:
            con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        for step in MIGRATIONS[found:]:
            for statement in step:
                con.execute(statement)
        con.execute(
            "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
        )
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return found


class _Interrupts:
    """Whether Ctrl-C came while a store was open. DuckDB does not always pass the
    KeyboardInterrupt on: it may report it as an error of its own ('Query interrupted',
    'reading the schema ... failed: KeyboardInterrupt'), or clear it and finish the query. So
    the handler notes the signal, and an ingest asks ``raise_if_received`` between batches
    and before it commits."""

    def __init__(self) -> None:
        self.received = False

    def raise_if_received(self) -> None:
        if self.received:
            raise KeyboardInterrupt


INTERRUPTS = _Interrupts()


@contextmanager
def _interrupts_as_keyboard() -> Iterator[None]:
    """Note Ctrl-C while a store is open, and raise whatever error follows it as the
    KeyboardInterrupt it is."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield  # signals go to the main thread only; an ignored SIGINT stays ignored
        return
    INTERRUPTS.received = False

    def note(signum: int, frame: FrameType | None) -> None:
        INTERRUPTS.received = True
        previous(signum, frame)

    signal.signal(signal.SIGINT, note)
    try:
        yield
    except Exception:
        if INTERRUPTS.received:
            raise KeyboardInterrupt from None
        raise
    finally:
        signal.signal(signal.SIGINT, previous)
        INTERRUPTS.received = False


@contextmanager
def open_store(
    path: str | Path, *, create: bool = False, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open (and with ``create``, make) a store; files it writes are owner-only. An interrupt
    that DuckDB reports as an error of its own is raised as KeyboardInterrupt."""
    path = Path(path)
    if not path.exists() and not create:
        raise StoreError(f"{path}: no such store; ingest an export into it first.")
    if path.is_dir():
        raise StoreError(f"{path}: is a directory, not a store file.")
    old_mask = os.umask(0o077)
    try:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            raise StoreError(f"{path}: cannot open the store: {str(exc).splitlines()[0]}") from None
        try:
            if not read_only:
                path.chmod(0o600)
                if 0 < migrate(con) < IDENTIFIERS_PURGED_AT:
                    purge_identifiers(con)
            elif schema_version(con) != SCHEMA_VERSION:
                raise StoreError(
                    f"{path}: schema version {schema_version(con)}, expected {SCHEMA_VERSION}; "
                    "run `alliance ingest` once to migrate it."
                )
            with _interrupts_as_keyboard():
                yield con
        finally:
            con.close()
    finally:
        os.umask(old_mask)


def store_is_empty(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether nothing was ever ingested into the store."""
    return not scalar(con, "SELECT count(*) FROM ingests")


def quote(name: str) -> str:
    """A column name as a quoted SQL identifier (item ids and export columns are user text)."""
    return '"' + name.replace('"', '""') + '"'


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The table's columns in their order."""
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
        "ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [row[0] for row in rows]


def purge_identifiers(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Remove what a store written before identifiers were left out may hold of them: the
    ``extra:`` columns of ``responses`` that are identifiers by their names or values, and
    those keys of the quarantine's rows as read. Returns the columns removed."""
    from ..ingest.identifiers import name_reason, value_reason

    removed: list[str] = []
    for column in table_columns(con, "responses"):
        if not column.startswith(EXTRA_PREFIX):
            continue
        name = column[len(EXTRA_PREFIX) :]
        values = con.execute(
            f"SELECT DISTINCT {quote(column)} FROM responses WHERE {quote(column)} IS NOT NULL "
            "LIMIT 2000"
        ).fetchdf()[column]
        if name_reason(name) or value_reason(values.astype("string")):
            con.execute(f"ALTER TABLE responses DROP COLUMN {quote(column)}")
            removed.append(name)
    rows = con.execute("SELECT rowid, raw FROM quarantine WHERE raw IS NOT NULL").fetchall()
    if not rows:
        return removed
    parsed = [(rowid, json.loads(raw)) for rowid, raw in rows]
    keys = {k for _, record in parsed for k in record}
    identifying = set(removed) | {k for k in keys if name_reason(k)}
    for key in keys - identifying:
        values = pd.Series([record.get(key) for _, record in parsed], dtype="string")
        if value_reason(values):
            identifying.add(key)
    if identifying:
        for rowid, record in parsed:
            kept = {k: v for k, v in record.items() if k not in identifying}
            if len(kept) != len(record):
                con.execute(
                    "UPDATE quarantine SET raw = ? WHERE rowid = ?",
                    [json.dumps(kept, ensure_ascii=False), rowid],
                )
    removed.extend(sorted(identifying - set(removed)))
    return removed
