"""CFA fit time, ours against lavaan on the same file, in one run.

    .venv/bin/python benchmarks/bench_cfa.py [--sizes 1000 10000 100000]

Model: 3 factors x 4 items (the patient short form: bond, goals, tasks), data from the
simulator. Both sides are timed on the fit alone (data already in memory), best of 3 runs;
lavaan runs in Rscript (needs Debian's r-cran-lavaan). Target (docs/design.md, "Performance
targets"): at most half of lavaan's time.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd

from analysis.cfa import fit_cfa
from analysis.simulate import simulate
from analysis.validate import keyed
from instrument import builtin_instrument

R_TIMING = r"""
suppressPackageStartupMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
data <- read.csv(args[1])
model <- gsub(";", "\n", args[2])
once <- function(est) system.time(cfa(model, data = data, estimator = est))[["elapsed"]]
best <- function(est) min(replicate(3, once(est)))
cat(best("ML"), best("MLR"), "\n")
"""


def ours(data: pd.DataFrame, model: str, estimator: str) -> float:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        fit_cfa(data, model, estimator=estimator)  # type: ignore[arg-type]
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    opts = parser.parse_args()
    bank = builtin_instrument()
    groups = bank.subscale_items("patient-short")
    model = "; ".join(f"{f} =~ {' + '.join(ids)}" for f, ids in groups.items())
    items = [i for ids in groups.values() for i in ids]
    print(f"model: {model}")
    print(
        f"{'n':>8} {'ours ML':>8} {'lavaan ML':>10} {'ratio':>6} {'ours MLR':>9} "
        f"{'lavaan MLR':>11} {'ratio':>6}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "timing.R"
        script.write_text(R_TIMING)
        for n in opts.sizes:
            sim = simulate(bank, n, form="patient-short", clinicians=40, sessions=1, seed=5)
            data = keyed(sim.data, bank, items).dropna()
            path = Path(tmp) / f"cfa_{n}.csv"
            data.to_csv(path, index=False)
            r = subprocess.run(
                ["Rscript", str(script), str(path), model],
                capture_output=True,
                text=True,
                check=True,
            )
            lav_ml, lav_mlr = map(float, r.stdout.split())
            ml, mlr = ours(data, model, "ml"), ours(data, model, "mlr")
            print(
                f"{len(data):>8,} {ml:>8.3f} {lav_ml:>10.3f} {ml / lav_ml:>6.2f} {mlr:>9.3f} "
                f"{lav_mlr:>11.3f} {mlr / lav_mlr:>6.2f}"
            )


if __name__ == "__main__":
    main()
