"""The clinic store as Parquet files, partitioned by month, and read back as a store.

``export_parquet`` writes what benchmarking and alerts read, in the layout a data lake keeps:

    DIR/scores/month=2026-01/data_0.parquet ...   one row per scored response (as the store)
    DIR/responses/month=2026-01/...              context and case-mix columns per response
    DIR/ingests.parquet                          each ingest: source, thresholds, perspective,
                                                 measurement error (the alerts' margins)
    DIR/meta.parquet                             the store's schema version

(``month=none`` holds responses without a date.) Raw answers, the quarantine and the findings
stay in the store: they hold patient text the comparisons never need.

``open_parquet`` reads such a folder (or any folder laid out the same way) as a store: DuckDB
views over the files, and the log of released cells (analysis/store/disclosure.py) in a
DuckDB file of its own (``DIR/releases.duckdb`` unless told otherwise), so that the defence
against differencing holds across runs on the Parquet copy as it does on the store.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from .schema import MIGRATIONS, SCHEMA_VERSION, StoreError, schema_version

PARTITIONED = ("scores", "responses")
RELEASE_TABLES = ("releases", "release_members")
MONTH = "coalesce(strftime(date, '%Y-%m'), 'none')"


def _literal(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def export_parquet(con: duckdb.DuckDBPyConnection, directory: Path) -> dict[str, int]:
    """Write the store's comparison tables under ``directory`` (new or empty); returns the
    rows written per table."""
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise StoreError(
            f"{directory}: not empty; export into a new folder, so that no file of an "
            "earlier export is read with this one."
        )
    directory.mkdir(parents=True, exist_ok=True)
    rows: dict[str, int] = {}
    for table in PARTITIONED:
        target = directory / table
        con.execute(
            f"COPY (SELECT *, {MONTH} AS month FROM {table}) TO {_literal(target)} "
            "(FORMAT parquet, PARTITION_BY (month))"
        )
        rows[table] = int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
    for table in ("ingests", "meta"):
        con.execute(f"COPY {table} TO {_literal(directory / f'{table}.parquet')} (FORMAT parquet)")
        rows[table] = int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
    return rows


def _release_log(con: duckdb.DuckDBPyConnection) -> None:
    """The release log's tables, as the store's migration 2 makes them, where missing."""
    have = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    }
    for statement in MIGRATIONS[1]:
        name = statement.split("TABLE", 1)[1].split("(", 1)[0].strip()
        if name not in have:
            con.execute(statement)


TABLES = ("scores", "responses", "ingests", "meta")


def table_path(directory: Path, table: str) -> Path | None:
    """Where a table of a Parquet copy lies: a folder ``TABLE/`` or ``TABLE.parquet/`` of
    Parquet files (partitioned by month as `export-store` writes it, by anything else, or not
    at all: Spark's own layout), or one file ``TABLE.parquet``; None when there is none."""
    for candidate in (Path(directory) / table, Path(directory) / f"{table}.parquet"):
        if candidate.exists():
            return candidate
    return None


def parquet_files(path: Path) -> str:
    """What DuckDB's read_parquet is given for a table's path (a glob for a folder)."""
    return str(path / "**" / "*.parquet") if path.is_dir() else str(path)


def check_parquet_copy(directory: Path) -> None:
    """Refuse a folder that does not hold a Parquet copy of a store, naming what is missing."""
    missing = [name for name in TABLES if table_path(directory, name) is None]
    if missing:
        raise StoreError(
            f"{directory}: not a Parquet copy of a store (missing {', '.join(missing)}: a "
            "folder or a .parquet file each); the command alliance export-store writes one."
        )


def open_release_log(path: Path) -> duckdb.DuckDBPyConnection:
    """The DuckDB file that logs the cells released from a Parquet copy (owner-only)."""
    old_mask = os.umask(0o077)
    try:
        con = duckdb.connect(str(path))
    finally:
        os.umask(old_mask)
    _release_log(con)
    return con


@contextmanager
def open_parquet(
    directory: Path, *, releases: Path | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection on which ``scores``, ``responses`` and ``ingests`` are the Parquet files'
    and the release log is ``releases`` (default ``DIR/releases.duckdb``)."""
    directory = Path(directory)
    check_parquet_copy(directory)
    con = open_release_log(
        Path(releases) if releases is not None else directory / "releases.duckdb"
    )
    try:
        for table in TABLES:
            path = table_path(directory, table)
            assert path is not None  # check_parquet_copy above
            source = (
                f"read_parquet({_literal(parquet_files(path))}, hive_partitioning = true, "
                "union_by_name = true)"
            )
            # The month partition export-store writes is a label, not a column of the table.
            month = table in PARTITIONED and "month" in {
                row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
            }
            columns = "* EXCLUDE (month)" if month else "*"
            con.execute(f"CREATE TEMP VIEW {table} AS SELECT {columns} FROM {source}")
        found = schema_version(con)
        if found != SCHEMA_VERSION:
            raise StoreError(
                f"{directory}: written by a store of schema version {found}; this toolkit "
                f"reads {SCHEMA_VERSION}. Export the store again."
            )
        yield con
    finally:
        con.close()
