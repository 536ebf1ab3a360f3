"""The store's comparisons on each engine: DuckDB on the store, DuckDB on its Parquet copy, and
Spark (local[2]) on the copy, whole process, as the store grows.

    .venv/bin/python benchmarks/bench_engines.py [--base 1000000] [--exports 10] [--sizes ...]

A year of a clinic (200 clinicians, four sessions per patient) is simulated as ``--exports``
exports of ``--base`` sessions each (each its own seed, with its patient and response ids
prefixed so that no two exports share a patient) and each is ingested with `alliance ingest`,
its time and peak memory printed. The store is then grown to each of ``--sizes`` (default: what
was ingested) by copying its scored sessions under new patient and response ids (as
bench_store.py does), exported with ``alliance export-store`` and benchmarked by clinician with
``--json`` on each engine, each on a fresh log of released cells. Printed per size and engine:
wall seconds, the peak resident memory /usr/bin/time reports (that of the largest process of
the command, its children included once reaped: on Spark, the JVM that local mode starts, with
``ALLIANCE_SPARK_MEMORY`` of heap), and whether the JSON equals the DuckDB store's.

What runs where: the group, month and patient sums, the history of group-months, the alert
rule (window functions over each patient's sessions, counted per group and month) and the
candidate cells' session hashes are computed by the engine; the mixed model, the funnel and the
percentiles run in Python on what comes back (O(groups x months) rows, and one row per patient
for the mixed model); the agreement brings back the sessions both sides rated.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from bench_store import grow

from analysis.store.backends import json_differences

ALLIANCE = str(Path(sys.executable).parent / "alliance")


def run(*args: str) -> tuple[float, float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", ALLIANCE, *args], capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - start
    peak = int(done.stderr.strip().splitlines()[-1]) / 1024
    return seconds, peak, done.stdout


def simulate_export(folder: Path, sessions: int, seed: int) -> Path:
    """One export of about ``sessions`` sessions, its ids prefixed by the seed."""
    raw = folder / f"raw-{seed}.csv"
    subprocess.run(
        [
            ALLIANCE,
            "simulate",
            "-n",
            str(round(sessions / 3.3)),
            "--clinicians",
            "200",
            "--sessions",
            "4",
            "--months",
            "12",
            "--seed",
            str(seed),
            "-o",
            str(raw),
        ],
        check=True,
        capture_output=True,
    )
    export = folder / f"clinic-{seed}.csv"
    with duckdb.connect() as con:
        con.execute(
            f"COPY (SELECT * REPLACE ('E{seed}-' || response_id AS response_id, "
            f"'E{seed}-' || respondent_id AS respondent_id) "
            f"FROM read_csv('{raw}', all_varchar = true)) TO '{export}' (HEADER)"
        )
    raw.unlink()
    return export


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=1_000_000)
    parser.add_argument("--exports", type=int, default=1)
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base_db = folder / "base.duckdb"
        started = time.perf_counter()
        for k in range(args.exports):
            export = simulate_export(folder, args.base, seed=4 + k)
            seconds, peak, _ = run(
                "ingest", str(export), "--db", str(base_db), "--max-size", "8GB", "--json"
            )
            print(
                f"ingest {k + 1} of {args.exports} ({export.stat().st_size / 1e6:,.0f} MB): "
                f"{seconds:.1f} s, peak {peak:.0f} MB"
            )
            export.unlink()
        with duckdb.connect(str(base_db), read_only=True) as con:
            ingested = int(con.execute("SELECT count(*) FROM scores").fetchall()[0][0])
        print(
            f"{ingested:,} sessions ingested from {args.exports} exports in "
            f"{time.perf_counter() - started:.0f} s (simulation included)"
        )
        for size in args.sizes or [ingested]:
            db = folder / f"clinic-{size}.duckdb"
            shutil.copy(base_db, db)
            stored = grow(db, max(round(size / ingested), 1))
            lake = folder / f"lake-{size}"
            seconds, peak, _ = run("export-store", "--db", str(db), "--parquet", str(lake))
            print(f"\n{stored:,} sessions; export-store: {seconds:.1f} s, peak {peak:.0f} MB")
            shutil.copy(db, folder / "fresh.duckdb")
            reference = None
            for label, source in (
                ("duckdb, store", ["--db", str(folder / "fresh.duckdb")]),
                ("duckdb, parquet", ["--parquet", str(lake)]),
                ("spark local[2], parquet", ["--engine", "spark", "--parquet", str(lake)]),
            ):
                (lake / "releases.duckdb").unlink(missing_ok=True)
                seconds, peak, out = run("benchmark", "--by", "clinician_id", *source, "--json")
                doc = json.loads(out)
                found = [] if reference is None else json_differences(reference, doc)
                same = "" if reference is None else (" JSON DIFFERS" if found else " same JSON")
                reference = reference or doc
                print(f"  benchmark, {label:<24} {seconds:7.1f} s, peak {peak:6.0f} MB{same}")
                for line in found[:5]:
                    print(f"    {line}")
            (folder / "fresh.duckdb").unlink()
            db.unlink()
            shutil.rmtree(lake)


if __name__ == "__main__":
    main()
