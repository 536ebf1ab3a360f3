"""The store's comparisons on each engine: DuckDB on the store, DuckDB on its Parquet copy, and
Spark (local[2]) on the copy, whole process, as the store grows.

    .venv/bin/python benchmarks/bench_engines.py [--base 100000] [--sizes 1000000 10000000]

A year of a clinic (200 clinicians, four sessions per patient) is simulated as one export of
``--base`` sessions and ingested; the store is then grown to each size by copying its scored
sessions under new patient and response ids (as bench_store.py does), exported with
``alliance export-store`` and benchmarked by clinician with ``--json`` on each engine, each on
a fresh log of released cells. Printed per size and engine: wall seconds, the peak resident
memory of the alliance process (Spark's JVM, a child of it, is not counted: local mode's driver
is given 1 GB), and whether the JSON equals the DuckDB store's.

What runs where: the group, month and patient sums, the history of group-months and the
candidate cells' session hashes are computed by the engine; the mixed model, the funnel and the
percentiles run in Python on what comes back (O(groups x months) rows, and one row per patient
for the mixed model). The alerts still load every session of the window (O(sessions)) to follow
each patient's course; the differencing guard brings the hashes of the candidate cells'
sessions to the release log.
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

from bench_store import grow

from analysis.backends import json_differences

ALLIANCE = str(Path(sys.executable).parent / "alliance")


def run(*args: str) -> tuple[float, float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", ALLIANCE, *args], capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - start
    peak = int(done.stderr.strip().splitlines()[-1]) / 1024
    return seconds, peak, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=100_000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        export = folder / "clinic.csv"
        subprocess.run(
            [
                ALLIANCE,
                "simulate",
                "-n",
                str(args.base // 4),
                "--clinicians",
                "200",
                "--sessions",
                "4",
                "--months",
                "12",
                "--seed",
                "4",
                "-o",
                str(export),
            ],
            check=True,
            capture_output=True,
        )
        base_db = folder / "base.duckdb"
        seconds, peak, _ = run("ingest", str(export), "--db", str(base_db), "--max-size", "8GB")
        print(f"ingest of {args.base:,} sessions: {seconds:.1f} s, peak {peak:.0f} MB")
        for size in args.sizes:
            db = folder / f"clinic-{size}.duckdb"
            shutil.copy(base_db, db)
            stored = grow(db, max(size // args.base, 1))
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
