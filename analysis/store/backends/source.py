"""The one way to open the clinic store's data for its comparisons: the store file, or its
Parquet copy on DuckDB or on Spark, as a :class:`~analysis.store.backends.base.Backend`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .base import Backend
from .duckdb import DuckDBBackend


@contextmanager
def open_source(
    db: Path | None = None,
    parquet: Path | None = None,
    *,
    engine: str = "duckdb",
    master: str | None = None,
) -> Iterator[Backend]:
    """The backend of the store file ``db`` or the Parquet copy ``parquet`` (exactly one),
    on ``engine`` ('duckdb', or 'spark' for a Parquet copy; ``master``: Spark's cluster)."""
    if (db is None) == (parquet is None):
        raise ValueError("give exactly one of 'db' (a store file) and 'parquet' (its copy).")
    if engine not in ("duckdb", "spark"):
        raise ValueError(f"'engine' must be one of 'duckdb', 'spark'; got {engine!r}.")
    if engine == "spark":
        if parquet is None:
            raise ValueError("engine 'spark' reads a Parquet copy: give 'parquet', not 'db'.")
        from .spark import SparkBackend

        backend = SparkBackend(parquet, master=master)
        try:
            yield backend
        finally:
            backend.close()
    elif db is not None:
        from ..schema import open_store

        with open_store(db) as con:
            yield DuckDBBackend(con, db.name)
    elif parquet is not None:
        from ..lake import open_parquet

        with open_parquet(parquet) as con:
            yield DuckDBBackend(con, parquet.name)
