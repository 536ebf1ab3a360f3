"""FIML against lavaan's missing = "ml" on the same files: fit alone and whole process.

    .venv/bin/python benchmarks/bench_fiml.py [--sizes 10000 100000] [--share 0.10]

The patient short form (12 items, three pillars) drawn by the simulator, complete rows only,
then about ``share`` of the answers blanked: half of them completely at random, half more
often in the goals items when the bond items are low (missing at random). Each fit runs in a
fresh process (interpreter start, imports, reading the CSV), best of 2:

- ours: ``fit_cfa(..., missing="fiml")``, which computes every fit measure, the robust ones
  under MLR included;
- lavaan: ``cfa(..., missing = "ml")`` and ``fitMeasures(fit)``, which is where lavaan
  computes its robust CFI and RMSEA under missing data (its issue #276).

Target (docs/design.md, "Performance targets"): at most half of lavaan's time, whole process.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from measure import timed

from analysis.simulate import simulate
from analysis.validate import hypothesized_input
from instrument import builtin_instrument

R_FIT = r"""
suppressPackageStartupMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
data <- read.csv(args[1])
model <- gsub(";", "\n", args[2])
seconds <- system.time({
  fit <- cfa(model, data = data, missing = "ml", estimator = args[3])
  measures <- fitMeasures(fit)
})[["elapsed"]]
cat(seconds, measures[["chisq"]], measures[["cfi"]], "\n")
"""

OURS_FIT = """
import sys, time, pandas as pd
from analysis.cfa import fit_cfa
data = pd.read_csv(sys.argv[1])
start = time.perf_counter()
fit = fit_cfa(data, sys.argv[2], estimator=sys.argv[3], missing="fiml", modindices=False)
print(time.perf_counter() - start, fit.fit["chisq_ml" if sys.argv[3] == "mlr" else "chisq"],
      fit.fit["cfi_ml" if sys.argv[3] == "mlr" else "cfi"])
"""


def short_form(n: int, seed: int) -> tuple[str, Any, dict[str, list[str]]]:
    """The patient short form's model, ``n`` complete simulated rows (keyed) and its pillars'
    items; the FIML and WLSMV benchmarks share it."""
    bank = builtin_instrument()
    groups = bank.subscale_items("patient-short")
    model = "; ".join(f"{f} =~ {' + '.join(ids)}" for f, ids in groups.items())
    items = [i for ids in groups.values() for i in ids]
    sim = simulate(bank, n * 5 // 4, form="patient-short", clinicians=24, seed=seed, sessions=1)
    _, source = hypothesized_input(sim.data, bank, None)
    return model, source[items].dropna().head(n).reset_index(drop=True), groups


def incomplete(n: int, share: float, seed: int) -> tuple[str, object, list[str]]:
    model, data, groups = short_form(n, seed)
    items = [i for ids in groups.values() for i in ids]
    rng = np.random.default_rng(seed)
    values = data.to_numpy(float).copy()
    mcar = rng.random(values.shape) < share / 2
    bond = values[:, [items.index(i) for i in groups["bond"]]].mean(axis=1)
    low = (bond < np.quantile(bond, 0.3))[:, None]
    goals = np.isin(items, groups["goals"])[None, :]
    mar = goals & low & (rng.random(values.shape) < share / 2 / 0.3 / goals.mean())
    values[mcar | mar] = np.nan
    empty = np.isnan(values).all(axis=1)
    values[empty, 0] = data.to_numpy(float)[empty, 0]  # every row keeps an answer
    return model, data.assign(**{i: values[:, k] for k, i in enumerate(items)}), items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--share", type=float, default=0.10)
    opts = parser.parse_args()
    print(
        f"{'n':>8} {'missing':>8} {'est':<4} {'ours':>7} {'lavaan':>7} {'ratio':>6}"
        f"   {'fit alone':>9} {'lavaan':>7} {'ratio':>6}   chisq ours / lavaan"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "fit.R").write_text(R_FIT)
        (folder / "fit.py").write_text(OURS_FIT)
        for n in opts.sizes:
            model, data, items = incomplete(n, opts.share, seed=5)
            path = folder / f"fiml_{n}.csv"
            data.to_csv(path, index=False)  # type: ignore[attr-defined]
            blank = float(data[items].isna().to_numpy().mean())  # type: ignore[index]
            for estimator in ("ml", "mlr"):
                ours, o = timed(
                    [sys.executable, str(folder / "fit.py"), str(path), model, estimator]
                )
                lav, r = timed(
                    ["Rscript", str(folder / "fit.R"), str(path), model, estimator.upper()]
                )
                alone, lav_alone = float(o[0]), float(r[0])
                print(
                    f"{n:>8,} {blank:>8.1%} {estimator:<4} {ours:>7.2f} {lav:>7.2f} "
                    f"{ours / lav:>6.2f}   {alone:>9.2f} {lav_alone:>7.2f} "
                    f"{alone / lav_alone:>6.2f}   {float(o[1]):.3f} / {float(r[1]):.3f}"
                )


if __name__ == "__main__":
    main()
