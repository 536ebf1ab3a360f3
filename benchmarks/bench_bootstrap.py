"""Bootstrap intervals of omega, CR and AVE: speed beside semTools, and coverage in simulation.

    .venv/bin/python benchmarks/bench_bootstrap.py [--n 1000] [--draws 1000]
        [--replications 100] [--coverage-draws 300] [--coverage-n 200]

1. Speed: the patient short form (12 items, three pillars), ``n`` complete simulated rows,
   ``draws`` draws, whole process (interpreter, imports, reading, the fit and the draws):
   - ours: ``run_bootstrap`` on two processes (omega, CR, AVE and HTMT);
   - R: ``bootstrapLavaan(fit, R = draws, FUN = ...)`` with ``parallel = "multicore",
     ncpus = 2``, FUN giving semTools' ``compRelSEM(obs.var = FALSE)``, ``compRelSEM`` and
     ``AVE`` (no HTMT, which needs the data of each draw).
2. Coverage: a one-factor population of six items (loadings .5 to .8, unit variances), so
   omega, CR and AVE are known; ``replications`` samples of ``coverage-n`` rows, each with a
   95% percentile interval from ``coverage-draws`` draws. Printed: the share of intervals that
   hold the population value, with its binomial standard error.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from bench_fiml import short_form
from measure import beside_lavaan, fit_scripts

from analysis.bootstrap import Bootstrap, run_bootstrap
from analysis.cfa import fit_cfa

R_FIT = r"""
suppressPackageStartupMessages(library(semTools))
draws <- as.integer(args[3])
seconds <- system.time({
  fit <- cfa(model, data = data)
  numbers <- function(f) c(compRelSEM(f, obs.var = FALSE), compRelSEM(f), AVE(f))
  boot <- bootstrapLavaan(fit, R = draws, FUN = numbers, parallel = "multicore", ncpus = 2,
                          iseed = 1)
  ci <- apply(boot, 2, quantile, probs = c(0.025, 0.975), na.rm = TRUE)
})[["elapsed"]]
cat(seconds, ci[1, 1], ci[2, 1], "\n")
"""

OURS_FIT = """
import sys, time, pandas as pd
from analysis.bootstrap import Bootstrap, run_bootstrap
from analysis.cfa import fit_cfa
data = pd.read_csv(sys.argv[1])
start = time.perf_counter()
fit = fit_cfa(data, sys.argv[2], modindices=False)
boot = run_bootstrap(fit, data, Bootstrap(int(sys.argv[3]), 1))
low, high = boot.interval("omega_total:" + fit.latent[0])
print(time.perf_counter() - start, low, high)
"""

LOADINGS = np.array([0.5, 0.6, 0.7, 0.7, 0.8, 0.6])


def population() -> dict[str, float]:
    true = LOADINGS.sum() ** 2
    error = (1 - LOADINGS**2).sum()
    omega = true / (true + error)
    ave = float(np.mean(LOADINGS**2))
    return {"omega_total": omega, "composite_reliability": omega, "ave": ave}


def coverage(replications: int, draws: int, n: int) -> None:
    truth = population()
    items = [f"y{k}" for k in range(1, len(LOADINGS) + 1)]
    model = "f =~ " + " + ".join(items)
    rng = np.random.default_rng(2026)
    hits = {k: 0 for k in truth}
    failed = 0
    start = time.perf_counter()
    for r in range(replications):
        eta = rng.standard_normal(n)
        noise = rng.standard_normal((n, len(LOADINGS))) * np.sqrt(1 - LOADINGS**2)
        data = pd.DataFrame(eta[:, None] * LOADINGS + noise, columns=items)
        fit = fit_cfa(data, model, modindices=False)
        boot = run_bootstrap(fit, data, Bootstrap(draws, 1000 + r))
        failed += boot.failed
        for kind, value in truth.items():
            low, high = boot.interval(f"{kind}:f")
            hits[kind] += low <= value <= high
    seconds = time.perf_counter() - start
    print(
        f"coverage of 95% percentile intervals: {replications} samples of {n} rows, "
        f"{draws} draws each ({failed} failed), {seconds:.0f} s"
    )
    for kind, value in truth.items():
        share = hits[kind] / replications
        se = np.sqrt(share * (1 - share) / replications)
        print(f"  {kind:<22} population {value:.3f}   covered {share:.3f} (SE {se:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000)
    parser.add_argument("--draws", type=int, default=1_000)
    parser.add_argument("--replications", type=int, default=100)
    parser.add_argument("--coverage-draws", type=int, default=300)
    parser.add_argument("--coverage-n", type=int, default=200)
    opts = parser.parse_args()
    model, data, _ = short_form(opts.n, seed=5)
    with fit_scripts(R_FIT, OURS_FIT) as folder:
        cells, o, r = beside_lavaan(folder, data, "boot.csv", model, str(opts.draws))
    print(f"{'n':>6} {'draws':>6} {'ours':>7} {'R':>7} {'ratio':>6}   ...  first omega's interval")
    ours_s, r_s, ratio = cells.split()[:3]
    print(
        f"{opts.n:>6,} {opts.draws:>6,} {ours_s:>7} {r_s:>7} {ratio:>6}   ours "
        f"[{float(o[0]):.3f}, {float(o[1]):.3f}], semTools [{float(r[0]):.3f}, {float(r[1]):.3f}]"
    )
    coverage(opts.replications, opts.coverage_draws, opts.coverage_n)


if __name__ == "__main__":
    main()
