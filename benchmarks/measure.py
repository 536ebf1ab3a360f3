"""Shared by the benchmark scripts: run a measurement in a fresh process and report its wall
time and peak resident memory, so one size's allocations do not inflate the next."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def child_main(work: Callable[[list[str]], dict[str, Any]]) -> None:
    """In the child: run ``work`` on the arguments after ``--child`` and print JSON."""
    args = sys.argv[sys.argv.index("--child") + 1 :]
    start = time.perf_counter()
    extra = work(args)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(), **extra}))


def peak_mb() -> float:
    """This process's peak resident memory in MB. Linux's VmHWM, not ``ru_maxrss``: Linux
    carries ``ru_maxrss`` over from the process that started this one, so a benchmark that
    holds a large table would see it in every child's figure."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_child(script: str, *args: str) -> dict[str, Any]:
    """Run ``script --child args`` in a new interpreter and return what it measured."""
    out = subprocess.run(
        [sys.executable, script, "--child", *args], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def timed(command: list[str], runs: int = 2) -> tuple[float, list[str]]:
    """Best whole-process wall time of ``command`` over ``runs`` runs, and what that run
    printed (split on whitespace)."""
    best, printed = float("inf"), [""]
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        seconds = time.perf_counter() - start
        if seconds < best:
            best, printed = seconds, out.split()
    return best, printed


# What every side-by-side R script starts with: lavaan, and the file and the model it is given
# (statements joined by ";", as a command line passes them).
R_READ = r"""
suppressPackageStartupMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
data <- read.csv(args[1])
model <- gsub(";", "\n", args[2])
"""


@contextmanager
def fit_scripts(r_fit: str, ours_fit: str) -> Iterator[Path]:
    """A temporary folder holding ``fit.R`` (``R_READ`` then ``r_fit``) and ``fit.py``, the two
    scripts :func:`beside_lavaan` times."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "fit.R").write_text(R_READ + r_fit)
        (folder / "fit.py").write_text(ours_fit)
        yield folder


def beside_lavaan(
    folder: Path, data: Any, name: str, model: str, *extra: str
) -> tuple[str, list[str], list[str]]:
    """Write ``data`` as ``folder/name`` and time ``folder/fit.py`` (ours) and ``folder/fit.R``
    (lavaan) on it, each given the file, ``model`` and ``extra``: the ratio columns (whole
    process, then the fit alone, as each script prints its own seconds first) and what each
    printed after its seconds."""
    path = folder / name
    data.to_csv(path, index=False)
    ours, o = timed([sys.executable, str(folder / "fit.py"), str(path), model, *extra])
    lav, r = timed(["Rscript", str(folder / "fit.R"), str(path), model, *extra])
    alone, lav_alone = float(o[0]), float(r[0])
    cells = (
        f"{ours:>7.2f} {lav:>7.2f} {ours / lav:>6.2f}   "
        f"{alone:>9.2f} {lav_alone:>7.2f} {alone / lav_alone:>6.2f}"
    )
    return cells, o[1:], r[1:]


RATIO_HEADER = (
    f"{'ours':>7} {'lavaan':>7} {'ratio':>6}   {'fit alone':>9} {'lavaan':>7} {'ratio':>6}"
)
