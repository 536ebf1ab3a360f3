"""Two-level CFA against lavaan's level: 1 / level: 2 on the same files: fit alone and whole
process, and where lavaan's time goes.

    .venv/bin/python benchmarks/bench_twolevel.py [--sessions 10000 100000] [--per-patient 4]
        [--missing]

The patient short form (12 items, three pillars) drawn by the simulator for patients seen up to
``per-patient`` sessions each (100,000 sessions in about 25,000 patients at the default), complete
rows, the pillars within patients and each pillar between them. With ``--missing``, the rows
as drawn, missing answers and all (every row answers at least one item), fitted by two-level
FIML on both sides. Each fit runs in a fresh process (interpreter start, imports, reading the
CSV), best of 2:

- ours: ``fit_twolevel(data, model, "respondent_id")``, its fit measures, ICCs and omegas (FIML
  where answers are missing);
- lavaan: ``sem(model, data, cluster = "respondent_id")`` (with ``missing = "ml"`` under
  ``--missing``) and ``fitMeasures(fit)``, with the three largest stages of lavaan's own timing
  (``fit@timing``).

Target (issue of nested data): at most half of lavaan's time, whole process.
"""

from __future__ import annotations

import argparse

from bench_cluster import nested
from measure import RATIO_HEADER, beside_lavaan, fit_scripts

R_FIT = r"""
seconds <- system.time({
  fit <- sem(model, data = data, cluster = "respondent_id", missing = args[3])
  measures <- fitMeasures(fit)
})[["elapsed"]]
timing <- unlist(fit@timing[setdiff(names(fit@timing), c("start", "total"))])
top <- head(sort(timing, decreasing = TRUE), 3)
cat(seconds, measures[["chisq"]], paste0(names(top), "=", round(top, 2), collapse = ","), "\n")
"""

OURS_FIT = """
import sys, time, pandas as pd
from analysis.cfa.twolevel import fit_twolevel
data = pd.read_csv(sys.argv[1])
start = time.perf_counter()
fit = fit_twolevel(data, sys.argv[2].replace(";", "\\n"), "respondent_id")
print(time.perf_counter() - start, fit.fit["chisq"])
"""


def level_model(model: str) -> str:
    """The one-level short-form model as two levels: each pillar within patients, and each
    pillar between them as a factor of its own."""
    lines = [line.strip() for line in model.split(";")]
    between = [line.replace(" =~", "_between =~", 1) for line in lines]
    return ";".join(["level: 1", *lines, "level: 2", *between])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--per-patient", type=int, default=4)
    parser.add_argument(
        "--missing", action="store_true", help="Keep the missing answers: two-level FIML."
    )
    opts = parser.parse_args()
    print(f"{'sessions':>9} {'patients':>9} {RATIO_HEADER}   chisq ours / lavaan; lavaan's time")
    missing = "ml" if opts.missing else "listwise"
    with fit_scripts(R_FIT, OURS_FIT) as folder:
        for n in opts.sessions:
            model, data, patients = nested(n, opts.per_patient, seed=9, complete=not opts.missing)
            cells, o, r = beside_lavaan(
                folder, data, f"twolevel_{n}.csv", level_model(model), missing
            )
            print(
                f"{n:>9,} {patients:>9,} {cells}   {float(o[0]):.3f} / {float(r[0]):.3f}; "
                f"{r[1] if len(r) > 1 else ''}"
            )


if __name__ == "__main__":
    main()
