"""WLSMV (or ULSMV) against lavaan's cfa(..., ordered = TRUE) on the same files: fit alone and
whole process.

    .venv/bin/python benchmarks/bench_wlsmv.py [--sizes 10000 100000] [--estimator ulsmv]

The patient short form (12 five-point items, three pillars, answers crowded at the favourable
end) drawn by the simulator, complete rows. Each fit runs in a fresh process (interpreter
start, imports, reading the CSV), best of 2:

- ours: ``fit_cfa(..., estimator="wlsmv")`` (or ``"ulsmv"``): thresholds, polychoric
  correlations and their asymptotic covariance, DWLS (or ULS), robust standard errors, the
  scaled and shifted chi-square and every fit measure (the robust CFI, TLI and RMSEA
  included);
- lavaan: ``cfa(..., ordered = TRUE)`` and ``fitMeasures(fit)``, where lavaan computes the
  robust ones.

Target (issue: ordinal items): at most half of lavaan's time, whole process.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench_fiml import short_form
from measure import timed

R_FIT = r"""
suppressPackageStartupMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
data <- read.csv(args[1])
model <- gsub(";", "\n", args[2])
seconds <- system.time({
  fit <- cfa(model, data = data, ordered = TRUE, estimator = args[3])
  measures <- fitMeasures(fit)
})[["elapsed"]]
cat(seconds, measures[["chisq.scaled"]], measures[["cfi.scaled"]], "\n")
"""

OURS_FIT = """
import sys, time, pandas as pd
from analysis.cfa import fit_cfa
data = pd.read_csv(sys.argv[1])
start = time.perf_counter()
fit = fit_cfa(data, sys.argv[2], estimator=sys.argv[3], modindices=False)
print(time.perf_counter() - start, fit.fit["chisq"], fit.fit["cfi"])
"""


def complete(n: int, seed: int) -> tuple[str, object]:
    model, data, _ = short_form(n, seed)
    return model, data.astype(int)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--estimator", choices=["wlsmv", "ulsmv"], default="wlsmv")
    opts = parser.parse_args()
    print(
        f"{'n':>8} {'ours':>7} {'lavaan':>7} {'ratio':>6}   {'fit alone':>9} {'lavaan':>7} "
        f"{'ratio':>6}   chisq.scaled ours / lavaan   cfi.scaled ours / lavaan"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "fit.R").write_text(R_FIT)
        (folder / "fit.py").write_text(OURS_FIT)
        for n in opts.sizes:
            model, data = complete(n, seed=5)
            path = folder / f"ordinal_{n}.csv"
            data.to_csv(path, index=False)  # type: ignore[attr-defined]
            est = opts.estimator
            ours, o = timed([sys.executable, str(folder / "fit.py"), str(path), model, est])
            lav, r = timed(["Rscript", str(folder / "fit.R"), str(path), model, est.upper()])
            alone, lav_alone = float(o[0]), float(r[0])
            print(
                f"{n:>8,} {ours:>7.2f} {lav:>7.2f} {ours / lav:>6.2f}   {alone:>9.2f} "
                f"{lav_alone:>7.2f} {alone / lav_alone:>6.2f}   "
                f"{float(o[1]):.3f} / {float(r[1]):.3f}   {float(o[2]):.5f} / {float(r[2]):.5f}"
            )


if __name__ == "__main__":
    main()
