"""The clinic store: ingest throughput, and `alliance benchmark` time as the store grows.

    .venv/bin/python benchmarks/bench_store.py [--sessions 100000 1000000] [--grow 10] [--no-r]

For each size, a year of a clinic with 200 clinicians is simulated (`--months 12`, four
sessions per patient) and written as one CSV export. Measured, each in a fresh process:
- ingest: read, check, score and store the export (one transaction), sessions per second, as
  `alliance ingest` does it (a block of rows at a time), and beside it with the export checked
  and scored whole before it is written (`ingest_checked`, as `make demo` does);
- benchmark: `benchmark` by clinician (SQL aggregates, three mixed models, funnel,
  percentiles against the store's history, trends, and the rupture alerts beside them);
- alerts: `alerts` by clinician alone: the within-patient model from the engine's moments,
  its operating point, and the filter over every patient, streamed in batches;
- the largest store is then grown `--grow` times by copying its scored sessions under new
  patient and response ids in SQL (10 x 1M = 10M sessions), and benchmarked again;
- side by side, R's lme4 fits the same nested model (goals ~ 1 + (1 | clinician/patient),
  REML) to the same sessions, and its variance components are printed next to ours.
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
from typing import Any

from measure import child_main, in_child

R_SCRIPT = """
suppressMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], colClasses = c("character", "character", "numeric"))
t0 <- Sys.time()
m <- lmer(goals ~ 1 + (1 | clinician_id / respondent_id), data = d, REML = TRUE)
secs <- as.numeric(difftime(Sys.time(), t0, units = "secs"))
v <- as.data.frame(VarCorr(m))
cat(sprintf('{"seconds": %.3f, "var_group": %.6f, "var_patient": %.6f, "var_session": %.6f}\\n',
    secs, v$vcov[v$grp == "clinician_id"], v$vcov[v$grp == "respondent_id:clinician_id"],
    v$vcov[v$grp == "Residual"]))
"""


def work(args: list[str]) -> dict[str, Any]:
    from analysis.clinic import benchmark
    from analysis.fileio import file_sha256
    from analysis.pipeline import Options, block_scoring, read_checked, read_unchecked, score
    from analysis.store.backends import DuckDBBackend
    from analysis.store.schema import open_store
    from analysis.store.writer import ingest_checked, ingest_export

    what, export, db = args[0], Path(args[1]), Path(args[2])
    start = time.perf_counter()
    options = Options(max_bytes=100 << 30)
    if what == "ingest":  # as `alliance ingest` does it: checked, scored and written by blocks
        instrument, read = read_unchecked(export, options)
        with open_store(db, create=True) as con:
            summary = ingest_export(
                con,
                read,
                instrument,
                block_scoring(instrument, options),
                source=export.name,
                sha256=file_sha256(export),
            )
        return {"rows": summary.rows_new, "inner_seconds": time.perf_counter() - start}
    if what == "ingest-whole":  # the export checked and scored whole, then written
        checked = read_checked(export, options)
        with open_store(db, create=True) as con:
            summary = ingest_checked(
                con,
                checked.checked,
                score(checked, options),
                checked.instrument,
                source=export.name,
                sha256=file_sha256(export),
            )
        return {"rows": summary.rows_new, "inner_seconds": time.perf_counter() - start}
    if what == "alerts":
        from analysis.monitor import alert_counts, monitor

        with open_store(db) as con:
            backend = DuckDBBackend(con, db.name)
            counts = alert_counts(backend, monitor(backend), "clinician_id")
        assert counts.totals is not None
        return {
            "rows": counts.totals["sessions"],
            "ruptures": counts.totals["ruptures"],
            "inner_seconds": time.perf_counter() - start,
        }
    # Writable: the benchmark logs the cells it releases (the differencing guard). The first
    # run on a store records them; a second run compares with them.
    with open_store(db) as con:
        result = benchmark(DuckDBBackend(con, db.name), "clinician_id")
    return {
        "rows": result.sessions,
        "inner_seconds": time.perf_counter() - start,
        "goals": result.models["goals"],
    }


def grow(db: Path, times: int) -> int:
    """Copy the stored sessions ``times - 1`` more times under new patient and response ids."""
    import duckdb

    with duckdb.connect(str(db)) as con:
        columns = [r[0] for r in con.execute("DESCRIBE scores").fetchall()]
        renamed = ", ".join(
            f"{c} || '~' || k AS {c}" if c in ("response_id", "respondent_id") else c
            for c in columns
        )
        con.execute(
            f"INSERT INTO scores SELECT {renamed} FROM scores, range(1, {times}) AS copies(k)"
        )
        return int(con.execute("SELECT count(*) FROM scores").fetchall()[0][0])


def lme4(db: Path, folder: Path) -> dict[str, Any] | None:
    if shutil.which("Rscript") is None:
        return None
    import duckdb

    sessions = folder / "goals.csv"
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute(
            "COPY (SELECT clinician_id, respondent_id, goals FROM scores WHERE goals IS NOT NULL) "
            f"TO '{sessions}' (HEADER)"
        )
    script = folder / "lmer.R"
    script.write_text(R_SCRIPT, encoding="utf-8")
    out = subprocess.run(
        ["Rscript", str(script), str(sessions)], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        print(f"  lme4 failed: {out.stderr.strip().splitlines()[-1:]}")
        return None
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--grow", type=int, default=10)
    parser.add_argument("--no-r", action="store_true", help="Skip the lme4 comparison.")
    opts = parser.parse_args()
    from analysis.simulate import simulate, write_export
    from instrument import builtin_instrument

    bank = builtin_instrument()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = folder / "none.duckdb"
        for target in opts.sessions:
            patients = max(1, round(target / 3.3))
            sim = simulate(bank, patients, clinicians=200, sessions=4, seed=4, months=12)
            export = write_export(sim, bank, folder / f"export_{target}.csv", "csv")
            db = folder / f"store_{target}.duckdb"
            whole = in_child(__file__, "ingest-whole", str(export), str(folder / "whole.duckdb"))
            (folder / "whole.duckdb").unlink()
            ing = in_child(__file__, "ingest", str(export), str(db))
            print(
                f"ingest {ing['rows']:>10,} sessions: {ing['inner_seconds']:6.1f} s "
                f"({ing['rows'] / ing['inner_seconds']:,.0f} sessions/s), "
                f"peak {ing['peak_mb']:,.0f} MB, store {db.stat().st_size / 1e6:,.0f} MB; "
                f"checked and scored whole: {whole['inner_seconds']:.1f} s, "
                f"peak {whole['peak_mb']:,.0f} MB"
            )
            report(db, folder, opts.no_r)
        if opts.grow > 1:
            t0 = time.perf_counter()
            rows = grow(db, opts.grow)
            print(f"grew the store to {rows:,} sessions in {time.perf_counter() - t0:.1f} s")
            report(db, folder, opts.no_r or rows > 2_000_000)


def report(db: Path, folder: Path, no_r: bool) -> None:
    for run in ("first", "again"):  # first: records what it releases; again: compares with it
        before = db.stat().st_size
        bench = in_child(__file__, "benchmark", "-", str(db))
        ours = bench["goals"]
        print(
            f"benchmark ({run}) {bench['rows']:>10,} sessions: {bench['inner_seconds']:6.1f} s, "
            f"peak {bench['peak_mb']:,.0f} MB, store +{(db.stat().st_size - before) / 1e6:,.0f} "
            f"MB; goals variances (group, patient, session) "
            f"{ours['var_group']:.5f} {ours['var_patient']:.5f} {ours['var_session']:.5f}"
        )
    alerts = in_child(__file__, "alerts", "-", str(db))
    print(
        f"alerts {alerts['rows']:>18,} sessions: {alerts['inner_seconds']:6.1f} s, "
        f"peak {alerts['peak_mb']:,.0f} MB, {alerts['ruptures']:,} rupture alerts"
    )
    r = None if no_r else lme4(db, folder)
    if r is not None:
        print(
            f"  lme4 {'':>15} {r['seconds']:6.1f} s (model only); goals variances "
            f"{'':>14}{r['var_group']:.5f} {r['var_patient']:.5f} {r['var_session']:.5f}"
        )


if __name__ == "__main__":
    if "--child" in sys.argv:
        child_main(work)
    else:
        main()
