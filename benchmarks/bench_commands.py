"""Each command, whole process, beside its peer: the table the README's performance section
quotes.

    .venv/bin/python benchmarks/bench_commands.py [--sizes 10000 100000] [--runs 3]

Every row is a fresh process (interpreter or R start, imports, reading the file), timed with
GNU time: median wall time of ``--runs`` runs, CPU time (user + system) and peak resident
memory of the median run. The export is `alliance simulate -n N --sessions 1` (the patient
full form: 24 alliance items and 28 trust items, some answers missing, a few careless rows).

- `alliance --help` and `alliance items`: no peer; target under 0.5 s.
- `alliance check`: `pandas.read_csv` of the same file; at most 1.2x at 10k rows, 1.5x at 1M.
- `alliance score -o scores.csv` and `-o scores.parquet`: read the export and write a table
  of the scores' shape with pyarrow; at most 1.5x, peak memory under 1.5 GB at 1M.
- `alliance validate --missing listwise`, ML and MLR: the R workflow doing the same job
  (psych's alpha per pillar, fa.parallel and an oblimin fa; lavaan's four competing models
  with their fit measures and modification indices; semTools' compRelSEM, AVE and htmt);
  at most 0.5x.
- MLR fit alone, CPU time: lavaan's `cfa(estimator = "MLR")`, CPU time; at most 0.5x.

The pandas peers run with the environment the `alliance` command line sets for itself
(reports/process.py: one BLAS thread, no huge pages for numpy, Arrow's memory from malloc):
the ratio is then the work, not the kernel's huge-page compaction, which can slow any large
fresh array on this machine, nor which allocator Arrow's text columns come from.

Every Python run reads the project's compiled bytecode, as on a user's machine (pip compiles an
installed package; an editable install compiles on its first run): the script compiles the
project's packages first, whatever PYTHONDONTWRITEBYTECODE says. Without the cache each run
compiled them again: 0.13 s of a `validate` at 10,000 rows, 0.03 s of a `check`.

R needs Debian's r-cran-lavaan, r-cran-psych, r-cran-semtools and r-cran-gparotation.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from instrument import builtin_instrument
from reports.process import PROCESS_SETTINGS

REVERSED = ("pb06", "pg05", "pt06")
AS_OURS = PROCESS_SETTINGS  # the command line's own settings, for the pandas peers

R_VALIDATE = r"""
suppressPackageStartupMessages({library(lavaan); library(psych); library(semTools)})
args <- commandArgs(trailingOnly = TRUE)
data <- read.csv(args[1])
estimator <- args[2]
pillars <- list(bond = sprintf("pb%02d", 1:8), goals = sprintf("pg%02d", 1:8),
                tasks = sprintf("pt%02d", 1:8))
items <- unlist(pillars)
x <- data[, items]
for (v in c("pb06", "pg05", "pt06")) x[[v]] <- 6 - x[[v]]
for (p in names(pillars)) invisible(psych::alpha(x[, pillars[[p]]], warnings = FALSE))
invisible(fa.parallel(x, fa = "both", n.iter = 20, plot = FALSE))
invisible(fa(x, nfactors = 3, rotate = "oblimin"))
m <- function(name, ids) paste(name, "=~", paste(ids, collapse = " + "))
three <- paste(m("bond", pillars$bond), m("goals", pillars$goals), m("tasks", pillars$tasks),
               sep = "\n")
models <- list(
  one = m("alliance", items),
  two = paste(m("bond", pillars$bond), m("agreement", c(pillars$goals, pillars$tasks)),
              sep = "\n"),
  three = three)
fits <- lapply(models, function(model) cfa(model, data = x, estimator = estimator))
bifactor <- cfa(paste(m("general", items), three, sep = "\n"), data = x, std.lv = TRUE,
                orthogonal = TRUE, estimator = estimator)
for (f in c(fits, list(bifactor))) invisible(fitMeasures(f))
invisible(modindices(fits$three))
invisible(compRelSEM(fits$three)); invisible(AVE(fits$three))
invisible(htmt(three, data = x))
cat("done\n")
"""

R_MLR = r"""
suppressPackageStartupMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
data <- read.csv(args[1])
model <- gsub(";", "\n", args[2])
t <- system.time(fit <- cfa(model, data = data, estimator = "MLR"))
cat(t[["user.self"]] + t[["sys.self"]], fitMeasures(fit, "chisq.scaled"), "\n")
"""

OURS_MLR = """
import sys, time, pandas as pd
from analysis.cfa import fit_cfa
data = pd.read_csv(sys.argv[1])
start = time.process_time()
fit = fit_cfa(data, sys.argv[2], estimator="mlr", modindices=False)
print(time.process_time() - start, fit.fit["chisq"])
"""

# The floor of `score`: read the export, write a table of the scores' shape with pyarrow (the
# table is our own output read back from Parquet, which adds its small read to the floor).
FLOOR_WRITE = """
import sys, pandas as pd, pyarrow as pa, pyarrow.csv as pc
export = pd.read_csv(sys.argv[1])
scores = pd.read_parquet(sys.argv[2])
pc.write_csv(pa.Table.from_pandas(scores, preserve_index=False), sys.argv[3])
"""


def timed(
    command: list[str], runs: int, env: dict[str, str] | None = None
) -> tuple[float, float, float, str]:
    """Median wall time over ``runs``; CPU seconds and peak MB of that run; its stdout."""
    results = []
    for _ in range(runs):
        done = subprocess.run(
            ["/usr/bin/time", "-f", "%e %U %S %M", *command],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **(env or {})},
        )
        wall, user, system, kb = done.stderr.strip().splitlines()[-1].split()
        results.append((float(wall), float(user) + float(system), int(kb) / 1024, done.stdout))
    results.sort(key=lambda r: r[0])
    wall, cpu, peak, out = results[len(results) // 2]
    return wall, cpu, peak, out


def row(what: str, n: int, ours: tuple[float, ...], peer: tuple[float, ...] | None, target: str):
    if peer is None:
        print(
            f"{what:<34} {n:>9,} {ours[0]:>7.2f} {ours[2]:>7.0f} {'':>7} {'':>7} {'':>6}  {target}"
        )
        return
    ratio = ours[0] / peer[0]
    print(
        f"{what:<34} {n:>9,} {ours[0]:>7.2f} {ours[2]:>7.0f} {peer[0]:>7.2f} {peer[2]:>7.0f} "
        f"{ratio:>6.2f}  {target}"
    )


def simulate_export(alliance: str, n: int, path: Path) -> Path:
    subprocess.run(
        [alliance, "simulate", "-n", str(n), "--sessions", "1", "--seed", "1", "-o", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def mlr_row(
    python: str, folder: Path, export: Path, n: int, short: dict[str, list[str]], model: str
) -> None:
    """Our MLR fit against lavaan's, CPU time, on the short form's complete rows."""
    short_file = folder / f"short_{n}.csv"
    subprocess.run(
        [python, "-c",
         "import sys, pandas as pd; d = pd.read_csv(sys.argv[1]);"
         "items = sys.argv[3].split(',');"
         "d = d[items].copy();"
         "[d.__setitem__(c, 6 - d[c]) for c in ('pb06', 'pg05', 'pt06') if c in d];"
         "d.dropna().to_csv(sys.argv[2], index=False)",
         str(export), str(short_file),
         ",".join(i for ids in short.values() for i in ids)],
        check=True,
    )  # fmt: skip
    # One BLAS thread, as the `alliance` command line sets it (reports/cli.py).
    ours_mlr = timed(
        [python, str(folder / "mlr.py"), str(short_file), model],
        1,
        env={"OPENBLAS_NUM_THREADS": "1"},
    )
    lav_mlr = timed(["Rscript", str(folder / "mlr.R"), str(short_file), model], 1)
    ours_cpu, lav_cpu = float(ours_mlr[3].split()[0]), float(lav_mlr[3].split()[0])
    print(
        f"{'MLR fit alone, CPU s (short form)':<34} {n:>9,} {ours_cpu:>7.2f} "
        f"{ours_mlr[2]:>7.0f} {lav_cpu:>7.2f} {lav_mlr[2]:>7.0f} "
        f"{ours_cpu / lav_cpu:>6.2f}  <= 0.5x lavaan CPU"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-r", action="store_true", help="Leave out the rows R is peer of.")
    parser.add_argument(
        "--mlr-sizes",
        type=int,
        nargs="*",
        default=None,
        help="Sizes for the MLR-fit-alone rows only (default: --sizes with the other rows); "
        "the MLR target holds from 1,000 to 1,000,000 rows, where R's whole workflow would "
        "take an hour.",
    )
    opts = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    packages = [str(root / name) for name in ("alliance", "analysis", "instrument", "reports")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *packages], check=True)
    bin_dir = Path(sys.executable).parent
    alliance = str(bin_dir / "alliance")
    python = sys.executable
    bank = builtin_instrument()
    short = bank.subscale_items("patient-short")
    mlr_model = "; ".join(f"{f} =~ {' + '.join(ids)}" for f, ids in short.items())
    print(
        f"{'command':<34} {'n':>9} {'ours s':>7} {'MB':>7} {'peer s':>7} {'MB':>7} "
        f"{'ratio':>6}  target"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, text in [
            ("validate.R", R_VALIDATE),
            ("mlr.R", R_MLR),
            ("mlr.py", OURS_MLR),
            ("read.py", "import sys, pandas as pd\npd.read_csv(sys.argv[1])\n"),
            ("floor.py", FLOOR_WRITE),
        ]:
            (folder / name).write_text(text)
        help_run = timed([alliance, "--help"], opts.runs)
        row("alliance --help", 0, help_run[:3], None, "under 0.5 s")
        items_run = timed([alliance, "items"], opts.runs)
        row("alliance items", 0, items_run[:3], None, "under 0.5 s")
        for n in opts.sizes:
            export = simulate_export(alliance, n, folder / f"export_{n}.csv")
            check = timed([alliance, "check", str(export)], opts.runs)
            read = timed([python, str(folder / "read.py"), str(export)], opts.runs, env=AS_OURS)
            aim = "<= 1.2x read_csv" if n <= 10_000 else "<= 1.5x read_csv"
            row("alliance check", n, check[:3], read[:3], aim)
            scores_csv, scores_pq = folder / "scores.csv", folder / "scores.parquet"
            csv_run = timed([alliance, "score", str(export), "-o", str(scores_csv)], opts.runs)
            pq_run = timed([alliance, "score", str(export), "-o", str(scores_pq)], opts.runs)
            floor = timed(
                [python, str(folder / "floor.py"), str(export), str(scores_pq),
                 str(folder / "floor.csv")],
                opts.runs,
                env=AS_OURS,
            )  # fmt: skip
            row("alliance score -o scores.csv", n, csv_run[:3], floor[:3], "<= 1.5x, 1.5 GB")
            row("alliance score -o scores.parquet", n, pq_run[:3], floor[:3], "<= 1.5x, 1.5 GB")
            if opts.no_r:
                continue
            if opts.mlr_sizes is None:
                mlr_row(python, folder, export, n, short, mlr_model)
            for estimator in ("ml", "mlr"):
                ours = timed(
                    [alliance, "validate", str(export), "--missing", "listwise",
                     "--estimator", estimator, "--json"],
                    opts.runs,
                )  # fmt: skip
                theirs = timed(
                    ["Rscript", str(folder / "validate.R"), str(export), estimator.upper()], 1
                )
                row(f"alliance validate ({estimator.upper()})", n, ours[:3], theirs[:3],
                    "<= 0.5x R workflow")  # fmt: skip
        if not opts.no_r:
            for n in opts.mlr_sizes or []:
                export = simulate_export(alliance, n, folder / f"mlr_export_{n}.csv")
                mlr_row(python, folder, export, n, short, mlr_model)


if __name__ == "__main__":
    main()
