"""MLM against lavaan's estimator = "MLM" on the same files: fit alone and whole process.

    .venv/bin/python benchmarks/bench_mlm.py [--sizes 10000 100000]

The patient short form (12 items, three pillars) drawn by the simulator, complete rows. Each
fit runs in a fresh process (interpreter start, imports, reading the CSV), best of 2:

- ours: ``fit_cfa(..., estimator="mlm")``, every fit measure;
- lavaan: ``cfa(..., estimator = "MLM")`` and ``fitMeasures(fit)``.

Target (issue: the rest of a researcher's lavaan day): at most half of lavaan's time, whole
process, at n = 100,000.
"""

from __future__ import annotations

import argparse

from bench_fiml import short_form
from measure import RATIO_HEADER, beside_lavaan, fit_scripts

R_FIT = r"""
seconds <- system.time({
  fit <- cfa(model, data = data, estimator = "MLM")
  measures <- fitMeasures(fit)
})[["elapsed"]]
cat(seconds, measures[["chisq.scaled"]], measures[["cfi.robust"]], "\n")
"""

OURS_FIT = """
import sys, time, pandas as pd
from analysis.cfa import fit_cfa
data = pd.read_csv(sys.argv[1])
start = time.perf_counter()
fit = fit_cfa(data, sys.argv[2], estimator="mlm", modindices=False)
print(time.perf_counter() - start, fit.fit["chisq"], fit.fit["cfi"])
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    opts = parser.parse_args()
    print(f"{'n':>8} {RATIO_HEADER}   scaled chisq ours / lavaan")
    with fit_scripts(R_FIT, OURS_FIT) as folder:
        for n in opts.sizes:
            model, data, _ = short_form(n, seed=5)
            cells, o, r = beside_lavaan(folder, data, f"mlm_{n}.csv", model)
            print(f"{n:>8,} {cells}   {float(o[0]):.3f} / {float(r[0]):.3f}")


if __name__ == "__main__":
    main()
