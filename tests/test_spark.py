"""The Spark engine on a Parquet copy of the store, in local mode: the same benchmark and alerts
JSON as DuckDB on the same data (every number within 1e-9), the differencing guard working in
Spark's own release log, and clear errors. Spark starts once per command (a fresh process, as a
user runs it)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from analysis.store.backends import json_differences
from analysis.store.backends.spark import java_found

from .conftest import run_cli
from .test_lake import relaid

pytestmark = pytest.mark.skipif(
    not java_found(), reason="Spark needs Java; `make test` installs openjdk-17-jre-headless"
)


def spark_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """A command in a process of its own, as a user runs it: a command on Spark starts and
    stops its own session of the JVM, which this test process keeps for its own queries."""
    return run_cli(*args, process=True)


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A year of two-perspective monthly exports in a store, and its Parquet copy."""
    folder = tmp_path_factory.mktemp("spark")
    (folder / "exports").mkdir()
    done = spark_cli(
        "simulate",
        "-n",
        "500",
        "--clinicians",
        "16",
        "--sessions",
        "5",
        "--perspectives",
        "patient,clinician",
        "--months",
        "12",
        "--per-month",
        "--ruptures",
        "0.2",
        "--seed",
        "8",
        "-o",
        str(folder / "exports" / "clinic.csv"),
    )
    assert done.returncode == 0, done.stderr
    exports = sorted(str(p) for p in (folder / "exports").glob("*.csv"))
    done = spark_cli("ingest", *exports, "--db", str(folder / "clinic.duckdb"))
    assert done.returncode == 0, done.stderr
    done = spark_cli(
        "export-store", "--db", str(folder / "clinic.duckdb"), "--parquet", str(folder / "lake")
    )
    assert done.returncode == 0, done.stderr
    return folder / "lake"


def _run(*args: str) -> dict[str, object]:
    done = spark_cli(*args, "--json")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    doc: dict[str, object] = json.loads(done.stdout)
    return doc


def test_spark_gives_the_duckdb_engines_json(copy: Path, tmp_path: Path) -> None:
    results = {}
    for args in (
        ["benchmark", "--by", "clinician_id"],
        ["benchmark", "--by", "site_id", "--since", "2026-03-01"],
        ["alerts", "--by", "site_id"],
    ):
        on_duckdb, on_spark = tmp_path / "duckdb", tmp_path / "spark"
        for target in (on_duckdb, on_spark):
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(copy, target)
        if args[0] == "alerts":  # Spark reads the tables as another tool would lay them out
            on_spark.mkdir(exist_ok=True)
            on_spark = relaid(copy, on_spark)
        expected = _run(*args, "--parquet", str(on_duckdb))
        got = _run(
            *args, "--engine", "spark", "--spark-master", "local[2]", "--parquet", str(on_spark)
        )
        assert json_differences(expected, got) == [], args
        assert (on_spark / "releases.duckdb").exists()
        results[args[0]] = got
    # The benchmark carries alert counts and agreement: the monitor's queries ran on Spark too.
    benchmark = results["benchmark"]
    assert isinstance(benchmark["alerts"], dict) and benchmark["alerts"]["totals"]["ruptures"] > 0
    assert isinstance(benchmark["agreement"], list) and len(benchmark["agreement"]) == 3
    assert results["alerts"]["groups"]


def test_spark_keeps_the_release_log_and_withholds_differencing(copy: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(copy, lake)
    spark = ["--engine", "spark", "--spark-master", "local[2]", "--parquet", str(lake)]
    first = _run("benchmark", *spark)
    assert first["withheld_groups"] == 0
    later = _run("benchmark", *spark, "--since", "2026-01-20")
    assert isinstance(later["withheld_groups"], int) and later["withheld_groups"] > 0


def test_spark_needs_a_parquet_copy(tmp_path: Path) -> None:
    done = spark_cli("benchmark", "--engine", "spark", "--db", str(tmp_path / "clinic.duckdb"))
    assert done.returncode == 2
    assert "--engine spark reads a Parquet copy" in done.stderr
    done = spark_cli("alerts", "--engine", "spark", "--parquet", str(tmp_path))
    assert done.returncode == 2 and "not a Parquet copy of a store" in done.stderr


def test_every_named_aggregate_agrees_in_process(copy: Path, tmp_path: Path) -> None:
    """The aggregates themselves, engine against engine, to 1e-12: a literal one engine reads
    as a decimal of fixed scale (Spark's 1.0) would round a share where the other does not."""
    import numpy as np
    import pandas as pd

    from analysis.benchmark.compare import _clustered, _history, _patient_summaries
    from analysis.monitor.run import store_alert_rule
    from analysis.store.backends import Backend, DuckDBBackend
    from analysis.store.backends.spark import SparkBackend
    from analysis.store.lake import open_parquet
    from analysis.store.queries.events import event_counts, store_events
    from analysis.store.queries.sessions import ingest_minimums, load_margins, session_filter
    from analysis.store.queries.within import within_moments_sql

    spark_copy = tmp_path / "spark"
    shutil.copytree(copy, spark_copy)
    where, params = session_filter(None, "patient")
    pillars = ["bond", "goals", "tasks"]
    spark = SparkBackend(spark_copy, master="local[2]")
    try:
        with open_parquet(copy, releases=tmp_path / "log.duckdb") as con:
            duck = DuckDBBackend(con, "copy")
            # The within-patient model's moments, summed by each engine.
            a, b = (within_moments_sql(x, "patient", pillars) for x in (duck, spark))
            for field in ("rows", "patients", "sxx", "sxy", "lag_products", "mean_yy"):
                np.testing.assert_allclose(
                    np.asarray(getattr(a, field), float),
                    np.asarray(getattr(b, field), float),
                    rtol=1e-12,
                    err_msg=field,
                )
            # The alerts: the filter over batches of whole patients, DuckDB's streamed and
            # Spark's on its executors (mapInPandas), then counted by the engine.
            margins = load_margins(duck, "patient", pillars)
            rule = store_alert_rule(duck, "patient", pillars, margins, dict.fromkeys(pillars, 3.5))

            def alerts(b: Backend, key: str) -> pd.DataFrame:
                store_events(b, "patient", rule, ingest_minimums(b))
                return event_counts(b, "patient", pillars, {"k": key, "month": b.month("date")})[
                    "k"
                ]

            for name, ask in (
                ("alerts by clinician", lambda b: alerts(b, "clinician_id")),
                ("alerts by site", lambda b: alerts(b, "site_id")),
                ("groups", lambda b: _clustered(b, "clinician_id", where, params, pillars)),
                (
                    "months",
                    lambda b: _clustered(b, "date_trunc('month', date)", where, params, pillars),
                ),
                ("history", lambda b: _history(b, "site_id", where, params, pillars, 5)),
                (
                    "patients",
                    lambda b: _patient_summaries(b, "clinician_id", None, "patient", "goals", ())[
                        0
                    ],
                ),
            ):
                a, b = ask(duck), ask(spark)
                assert list(a.columns) == list(b.columns) and len(a) == len(b) > 0, name
                for column in a.columns:
                    x, y = a[column], b[column]
                    if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
                        np.testing.assert_allclose(
                            x.to_numpy(float),
                            y.to_numpy(float),
                            atol=1e-12,
                            err_msg=f"{name}.{column}",
                        )
                    else:
                        assert [str(v)[:7] for v in x] == [str(v)[:7] for v in y], (
                            f"{name}.{column}"
                        )
    finally:
        spark.close()


def test_the_stores_cfa_on_spark_is_duckdbs(copy: Path) -> None:
    """The moments summed by Spark fit the same model as DuckDB's, by site."""
    expected = _run("validate", "--parquet", str(copy), "--group", "site_id")
    got = _run(
        "validate",
        "--engine",
        "spark",
        "--spark-master",
        "local[2]",
        "--parquet",
        str(copy),
        "--group",
        "site_id",
    )
    assert (expected.pop("engine"), got.pop("engine")) == ("duckdb", "spark")
    assert json_differences(expected, got) == []
    assert isinstance(got["n"], int) and got["n"] > 500
