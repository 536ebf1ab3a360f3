"""FHIR bulk export against CSV: `alliance ingest` of the same simulated answers, whole process.

    .venv/bin/python benchmarks/bench_fhir.py [--sizes 100000 1000000] [--runs 3]

The simulator writes each size twice from one seed, as a CSV export and as an NDJSON bulk
export of QuestionnaireResponses (about 4.5 kB a line). A size of n draws n/3 patients with 3
sessions each, some of them missed, so the table counts fewer responses than n. Each file is
ingested into a new DuckDB store in a fresh process, the two in turn ``--runs`` times: median
wall time and peak resident memory. Target (issue: FHIR):
NDJSON at most 2x the CSV's time, within the ingest's memory bound (1.5 GB at 1M).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from measure import child_main, in_child

SCRIPT = str(Path(__file__).resolve())


def work(args: list[str]) -> dict[str, Any]:
    from reports.cli import cli

    export, db = args
    # a million responses as NDJSON are about 4 GB: past the 1 GiB a command reads unasked
    with contextlib.suppress(SystemExit):
        cli.main(args=["ingest", export, "--db", db, "--max-size", "16G"], prog_name="alliance")
    import duckdb

    with duckdb.connect(db, read_only=True) as con:  # what was stored, so a failure shows
        stored = con.execute("SELECT count(*) FROM scores").fetchone()
    return {"stored": int(stored[0]) if stored else 0}


def simulate(n: int, folder: Path) -> tuple[Path, Path]:
    from analysis.simulate import simulate as draw
    from analysis.simulate import write_export
    from instrument import builtin_instrument

    bank = builtin_instrument()
    sim = draw(bank, max(n // 3, 1), form="patient", sessions=3, seed=11)
    sim = sim.subset(np.arange(len(sim.data)) < n)
    csv = write_export(sim, bank, folder / "export.csv", "csv")
    fhir = write_export(sim, bank, folder / "export.ndjson", "fhir")
    os.sync()  # 4 GB written back to disk while it is read would be timed against the NDJSON
    return csv, fhir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--runs", type=int, default=1, help="Pairs of runs; medians shown.")
    opts = parser.parse_args()
    print(
        f"{'responses':>10} {'CSV s':>8} {'MB':>7} {'NDJSON s':>9} {'MB':>7} {'ratio':>6}  "
        "file MB  stored (CSV, NDJSON)"
    )
    for n in opts.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            csv, fhir = simulate(n, folder)
            with fhir.open("rb") as handle:
                responses = sum(1 for _ in handle)
            pairs = []
            for k in range(opts.runs):  # CSV then NDJSON, in turn, each into a new store
                pairs.append(
                    [
                        in_child(SCRIPT, str(p), str(folder / f"{k}{p.suffix}.duckdb"))
                        for p in (csv, fhir)
                    ]
                )
            a, b = (
                {
                    key: float(np.median([pair[side][key] for pair in pairs]))
                    for key in pairs[0][side]
                }
                for side in (0, 1)
            )
            size = fhir.stat().st_size / 1e6
            print(
                f"{responses:>10,} {a['seconds']:>8.1f} {a['peak_mb']:>7.0f} {b['seconds']:>9.1f} "
                f"{b['peak_mb']:>7.0f} {b['seconds'] / a['seconds']:>6.2f}  {size:>7.0f}"
                f"  {a['stored']:,.0f}, {b['stored']:,.0f}"
            )


if __name__ == "__main__":
    if "--child" in sys.argv:
        child_main(work)
    else:
        main()
