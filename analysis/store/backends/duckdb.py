"""DuckDB: the clinic store itself, or a Parquet copy read through views (../lake.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pandas as pd

from ..schema import quote, table_columns
from .base import BATCH_ROWS, PATIENT_ORDER, Backend, PerPatient, whole_patients


class DuckDBBackend(Backend):
    """Queries and the release log on one DuckDB connection."""

    engine = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection, name: str = "") -> None:
        self.con = con
        self.releases = con
        self.name = name

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        return self.con.execute(sql, list(params)).fetchdf()

    def columns(self, table: str) -> list[str]:
        return table_columns(self.con, table)

    def quote(self, name: str) -> str:
        return quote(name)

    def month(self, column: str) -> str:
        return f"strftime({column}, '%Y-%m')"

    def hashed(self, *columns: str) -> str:
        return f"hash({', '.join(columns)})"

    def per_patient(
        self, sql: str, params: Sequence[Any], apply: PerPatient, columns: Sequence[str], view: str
    ) -> None:
        # Streamed in batches of sessions, so that memory holds one batch of patients at once.
        relation = self.con.sql(f"{sql} ORDER BY {PATIENT_ORDER}", params=list(params))
        batches = relation.to_arrow_reader(BATCH_ROWS)
        found = [apply(part) for part in whole_patients(b.to_pandas() for b in batches)]
        frame = pd.concat([f[list(columns)] for f in found if len(f)] or [pd.DataFrame()])
        frame = frame.reindex(columns=list(columns)).astype(object)
        typed = ", ".join(f"CAST({quote(c)} AS VARCHAR) AS {quote(c)}" for c in columns)
        self.con.execute(f"DROP TABLE IF EXISTS temp.{view}")
        self.con.register("per_patient_frame", frame)
        try:
            self.con.execute(f"CREATE TEMP TABLE {view} AS SELECT {typed} FROM per_patient_frame")
        finally:
            self.con.unregister("per_patient_frame")

    def candidates(self, key: str, labels: Sequence[str], where: str, params: list[Any]) -> None:
        # The sessions never leave the database: the candidates are made where the log is.
        self.con.execute("DROP TABLE IF EXISTS temp.candidate")
        self.con.execute(
            f"""CREATE TEMP TABLE candidate AS
                SELECT CAST({key} AS VARCHAR) AS label,
                       {self.hashed("response_id", "instrument_version")} AS member,
                       {self.hashed("respondent_id")} AS patient
                FROM scores
                WHERE {where} AND {key} IS NOT NULL
                  AND CAST({key} AS VARCHAR) IN (SELECT unnest(?::VARCHAR[]))""",
            [*params, list(labels)],
        )
