"""Measurement invariance: does the partial step find a planted item, and how fast is the
multi-group engine against lavaan on the same file?

    .venv/bin/python benchmarks/bench_invariance.py [--seeds 20] [--sizes 10000 100000]

1. Hits and false hits: for each seed, 1,500 patients of 24 clinicians in three sites; one
   site answers pg03 0.8 SD lower than its alliance predicts (an intercept planted by the
   simulator, ``Dif``). A hit: pg03's intercept is freed and the group named is that site;
   a false hit: any other parameter freed. The same seeds without a planted item count the
   parameters freed when nothing differs, and how often the largest score test at a level
   that holds would pass Bonferroni (which is why it is only reported, not a finding).
2. Whole process, ours against lavaan in Rscript: read the CSV and fit the scalar model
   (loadings and intercepts equal across the three sites) under ML and MLR, each in a fresh
   process (interpreter start and imports included), best of 2, and the fit alone inside
   it; then the whole invariance sequence (`alliance invariance`, reading and checking the
   export, against four cfa() fits and lavTestScore). Patient short form, 12 items. Target
   (docs/design.md, "Performance targets"): at most half of lavaan's time at n = 100,000.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from analysis.cfa import FitSpec
from analysis.cfa.invariance import run_invariance
from analysis.simulate import Dif, simulate
from analysis.validate import hypothesized_input
from instrument import builtin_instrument

PLANTED = Dif("pg03", "site_id", "S01", intercept=-0.8)

R_FIT = r"""
suppressPackageStartupMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
data <- read.csv(args[1])
model <- gsub(";", "\n", args[2])
seconds <- system.time(
  fit <- cfa(model, data = data, group = "site_id", group.equal = c("loadings", "intercepts"),
             estimator = args[3]))[["elapsed"]]
cat(seconds, fitMeasures(fit, "chisq"), "\n")
"""

R_SEQUENCE = r"""
suppressPackageStartupMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
data <- read.csv(args[1])
model <- gsub(";", "\n", args[2])
levels <- list("", "loadings", c("loadings", "intercepts"),
               c("loadings", "intercepts", "residuals"))
fits <- lapply(levels, function(eq) cfa(model, data = data, group = "site_id",
                                         group.equal = eq))
score <- lavTestScore(fits[[3]])
cat(fitMeasures(fits[[3]], "chisq"), "\n")
"""

OURS_FIT = """
import sys, time, pandas as pd
from analysis.cfa import fit_cfa, FitSpec
data = pd.read_csv(sys.argv[1])
start = time.perf_counter()
fit = fit_cfa(data, sys.argv[2], group="site_id", group_equal=("loadings", "intercepts"),
              estimator=sys.argv[3], modindices=False)
print(time.perf_counter() - start, fit.fit["chisq"])
"""


def accuracy(seeds: int) -> None:
    bank = builtin_instrument()
    hits = false_hits = quiet_frees = loud_flags = levels_held = 0
    seconds = 0.0
    for seed in range(seeds):
        for planted in (True, False):
            sim = simulate(
                bank,
                1500,
                form="patient",
                clinicians=24,
                sessions=1,
                seed=seed,
                dif=(PLANTED,) if planted else (),
            )
            model, source = hypothesized_input(sim.data, bank, None, keep=("site_id",))
            start = time.perf_counter()
            result = run_invariance(source, model, FitSpec(group="site_id"))
            seconds += time.perf_counter() - start
            freed = [(f.item, f.op, f.group) for f in result.freed]
            if planted:
                hits += ("pg03", "~1", "S01") in freed
                false_hits += sum(f != ("pg03", "~1", "S01") for f in freed)
            else:
                quiet_frees += len(freed)
                for level in result.levels[1:]:
                    if level.largest is not None and level.holds:
                        levels_held += 1
                        loud_flags += level.largest["bonferroni_p"] < 0.05
    print(f"planted intercept (pg03, site S01, -0.8 SD), {seeds} seeds of 1,500 patients:")
    print(f"  hits {hits}/{seeds}; false hits {false_hits}")
    print(f"no planted item, same seeds: parameters freed {quiet_frees}")
    print(
        f"  levels that held whose largest score test passes Bonferroni: {loud_flags}/{levels_held}"
    )
    print(f"  mean time per sequence {seconds / (2 * seeds):.2f} s")


def timed(command: list[str], runs: int = 2) -> tuple[float, float]:
    """Best whole-process wall time, and the fit time the process printed first (NaN when
    it prints none)."""
    best, fit = float("inf"), float("nan")
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        seconds = time.perf_counter() - start
        if seconds < best:
            best = seconds
            first = out.split()[0] if out.split() else ""
            fit = float(first) if first.replace(".", "", 1).isdigit() else float("nan")
    return best, fit


def speed(sizes: list[int]) -> None:
    bank = builtin_instrument()
    groups = bank.subscale_items("patient-short")
    model = "; ".join(f"{f} =~ {' + '.join(ids)}" for f, ids in groups.items())
    items = [i for ids in groups.values() for i in ids]
    alliance = str(Path(sys.executable).parent / "alliance")
    print(f"\nwhole process, model: {model}; groups: site_id")
    print(f"{'n':>8} {'step':<14} {'ours':>7} {'lavaan':>7} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "fit.R").write_text(R_FIT)
        (folder / "sequence.R").write_text(R_SEQUENCE)
        (folder / "fit.py").write_text(OURS_FIT)
        for n in sizes:
            # About a fifth of simulated rows miss an answer: draw more, keep n complete ones.
            sim = simulate(
                bank, n * 5 // 4, form="patient-short", clinicians=24, seed=5, sessions=1
            )
            _, source = hypothesized_input(sim.data, bank, None, keep=("site_id",))
            data = source[[*items, "site_id"]].dropna().head(n)
            path = folder / f"inv_{n}.csv"
            data.to_csv(path, index=False)
            rows = []
            for estimator in ("ml", "mlr"):
                ours = timed([sys.executable, str(folder / "fit.py"), str(path), model, estimator])
                lav = timed(["Rscript", str(folder / "fit.R"), str(path), model, estimator.upper()])
                rows.append((f"scalar {estimator.upper()}", ours, lav))
            ours = timed(
                [
                    alliance,
                    "invariance",
                    str(path),
                    "--group",
                    "site_id",
                    "--rows",
                    "all",
                    "--missing",
                    "listwise",
                    "--model",
                    model,
                    "--json",
                ],
                runs=1,
            )
            lav = timed(["Rscript", str(folder / "sequence.R"), str(path), model], runs=1)
            rows.append(("sequence ML", ours, lav))
            for step, (a, fa), (b, fb) in rows:
                alone = f"   fit alone: {fa:>6.2f} {fb:>7.2f} {fa / fb:>6.2f}" if fa == fa else ""
                print(f"{len(data):>8,} {step:<14} {a:>7.2f} {b:>7.2f} {a / b:>6.2f}{alone}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    opts = parser.parse_args()
    if opts.seeds:
        accuracy(opts.seeds)
    if opts.sizes:
        speed(opts.sizes)


if __name__ == "__main__":
    main()
