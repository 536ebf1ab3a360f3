"""Apache Spark over a Parquet copy of the store (alliance export-store, or any Parquet tables
laid out the same way), through PySpark.

The queries are the same SQL the DuckDB backend runs; Spark computes them where the files are
and only their results come back: per group, month or patient sums, and the sessions of the
cells the differencing guard compares (their hashes), which go to the release log, a DuckDB
file beside the copy (``DIR/releases.duckdb``). Local mode needs only Java (Debian's
openjdk-17-jre-headless); a cluster is named by ``master`` (``spark://host:7077``, ``yarn``)
or by the standard Spark configuration (``spark-defaults.conf``, ``PYSPARK_SUBMIT_ARGS``).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..schema import SCHEMA_VERSION, StoreError
from .base import Backend, PerPatient, whole_patients


def java_found() -> bool:
    """Whether a Java runtime is there for Spark to start (JAVA_HOME or java on the PATH)."""
    home = os.environ.get("JAVA_HOME")
    return bool(home and (Path(home) / "bin" / "java").exists()) or shutil.which("java") is not None


class SparkBackend(Backend):
    """Queries on a Spark session over the Parquet files; the release log in DuckDB."""

    engine = "spark"

    def __init__(self, directory: Path, *, master: str | None = None) -> None:
        from ..lake import PARTITIONED, TABLES, check_parquet_copy, open_release_log, table_path

        directory = Path(directory)
        check_parquet_copy(directory)
        if not java_found():
            raise StoreError(
                "Spark needs a Java runtime: install Debian's openjdk-17-jre-headless (or set "
                "JAVA_HOME); the DuckDB engine needs none."
            )
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas")
                from pyspark.sql import SparkSession
        except ImportError:
            raise StoreError(
                "the Spark engine needs PySpark: pip install 'alliance[spark]'."
            ) from None
        # The per-patient step runs Python on the executors: in local mode, this interpreter
        # (and so this environment's packages); on a cluster, one with alliance installed.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = SparkSession.builder.appName("alliance")
        if master is not None:
            builder = builder.master(master)
        elif "PYSPARK_SUBMIT_ARGS" not in os.environ and not os.environ.get("SPARK_HOME"):
            # Local mode, configured here: the mixed model's one row per patient, and the
            # sessions both sides rated, can pass Spark's default 1 GB result limit.
            builder = (
                builder.master("local[2]")
                .config("spark.driver.memory", os.environ.get("ALLIANCE_SPARK_MEMORY", "4g"))
                .config("spark.driver.maxResultSize", "0")
            )
        self.spark = (
            builder.config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate()
        )
        self.spark.sparkContext.setLogLevel("ERROR")
        for table in TABLES:
            path = table_path(directory, table)
            assert path is not None  # check_parquet_copy above
            reader = self.spark.read
            if path.is_dir():
                reader = reader.option("basePath", str(path))
            frame = reader.parquet(str(path))
            if table in PARTITIONED:
                frame = frame.drop("month")
            frame.createOrReplaceTempView(table)
        found = self.query("SELECT value FROM meta WHERE key = 'schema_version'")
        if not len(found) or str(found["value"].iat[0]) != str(SCHEMA_VERSION):
            raise StoreError(
                f"{directory}: written by a store of another schema version; this toolkit "
                f"reads {SCHEMA_VERSION}. Export the store again."
            )
        self.releases = open_release_log(directory / "releases.duckdb")
        self.name = directory.name

    def close(self) -> None:
        self.releases.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        try:
            return self._query(sql, params)
        except Exception as exc:  # Spark's own errors (analysis, memory, a lost executor)
            if isinstance(exc, StoreError):
                raise
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise StoreError(f"Spark could not answer a query: {first[:300]}") from None

    def _query(self, sql: str, params: Sequence[Any]) -> pd.DataFrame:
        result = self.spark.sql(sql, args=list(params)) if params else self.spark.sql(sql)
        with warnings.catch_warnings():
            # PySpark 4.3 warns that it does not fully support pandas 3; the frame comes
            # through Arrow, and the parity test holds the numbers to the DuckDB engine's.
            warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas")
            return result.toArrow().to_pandas()

    def columns(self, table: str) -> list[str]:
        return list(self.spark.table(table).columns)

    def per_patient(
        self, sql: str, params: Sequence[Any], apply: PerPatient, columns: Sequence[str], view: str
    ) -> None:
        # Each patient's sessions in one partition, in order; the executors run ``apply`` on
        # batches of whole patients (mapInPandas) and the result is computed once, here.
        from pyspark.sql import functions as F

        rows = self.spark.sql(sql, args=list(params)) if params else self.spark.sql(sql)
        ordered = rows.repartition(
            self.spark.sparkContext.defaultParallelism, "respondent_id"
        ).sortWithinPartitions(
            "respondent_id",
            F.asc_nulls_last("session"),
            F.asc_nulls_last("date"),
            "response_id",
        )
        names = list(columns)

        def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            for part in whole_patients(batches):
                found = apply(part)
                if len(found):  # text, missing values as nulls, each column one Arrow
                    # array (PySpark takes no chunked one): through objects, then strings
                    yield found.reindex(columns=names).astype(object).astype("string")

        schema = ", ".join(f"{self.quote(c)} string" for c in names)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas")
                ordered.mapInPandas(run, schema).localCheckpoint().createOrReplaceTempView(view)
        except Exception as exc:
            # The Python error the executor raised, where there is one, not Java's frames.
            found = re.findall(r"^\s*(\w+(?:Error|Exception): .*)$", str(exc), re.MULTILINE)
            first = found[0] if found else (str(exc).strip().splitlines() or [""])[0]
            raise StoreError(f"Spark could not run the per-patient step: {first[:300]}") from None

    def quote(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def month(self, column: str) -> str:
        return f"date_format({column}, 'yyyy-MM')"

    def hashed(self, *columns: str) -> str:
        return f"xxhash64({', '.join(columns)})"
