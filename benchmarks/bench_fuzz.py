"""A bounded long fuzz run through the command line: corrupted and hostile exports of every
format, through check, score, ingest, validate and report, each in its own process.

    .venv/bin/python benchmarks/bench_fuzz.py [--runs 400] [--minutes 30] [--seed 0]

Prints, per command and in all: runs, exit codes other than 0, 1 and 2, tracebacks, checks
whose rows were not conserved (rows_in != rows_usable + rows_quarantined), and the peak
memory of any run (and how many went above 2 GB). The families: truncated and bit-flipped
files; CR, LF and formula cells; blank lines; names that differ only in case; bad bytes early
in a Qualtrics export; header-only and empty files; YAML alias bombs and deep nesting as map,
thresholds and instrument files; Excel zip bombs; very wide headers. A summary line at the end
says whether the run is clean.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from analysis.simulate import simulate, write_export
from instrument import builtin_instrument

ALLIANCE = str(Path(sys.executable).parent / "alliance")
FORMULAS = ["=1+1", "\r=cmd|' /C calc'!A0", "@SUM(A1)", "+1", "-2+3", "\n=HYPERLINK(1)"]
LAUGHS = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{b}: &{b} [" + ",".join([f"*{a}"] * 9) + "]\n"
    for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


def seeds(folder: Path) -> dict[str, Path]:
    """Clean exports to corrupt, one per format."""
    bank = builtin_instrument()
    sim = simulate(bank, 120, form="patient", clinicians=6, sessions=2, seed=3)
    out = {}
    for fmt, name in (
        ("csv", "plain.csv"),
        ("qualtrics", "qualtrics.csv"),
        ("redcap", "redcap.csv"),
        ("sav", "spss.sav"),
    ):
        out[fmt] = write_export(sim, bank, folder / name, fmt)
    frame = pd.read_csv(out["csv"], dtype=str)
    frame.to_excel(folder / "excel.xlsx", index=False)
    frame.to_parquet(folder / "table.parquet")
    numeric = pd.read_csv(out["csv"])
    numeric.select_dtypes("number").to_stata(folder / "stata.dta", write_index=False)
    out.update(excel=folder / "excel.xlsx", parquet=folder / "table.parquet")
    out["stata"] = folder / "stata.dta"
    return out


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    kind = rng.choice(["truncate", "flip", "insert", "delete", "empty", "header"])
    if kind == "truncate":
        return data[: rng.randrange(len(data))]
    if kind == "flip":
        out = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            out[rng.randrange(len(out))] = rng.randrange(256)
        return bytes(out)
    if kind == "insert":
        at = rng.randrange(len(data))
        return data[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))) + data[at:]
    if kind == "delete":
        at = rng.randrange(len(data))
        return data[:at] + data[at + rng.randint(1, 500) :]
    if kind == "empty":
        return b""
    return data.split(b"\n", 1)[0] + b"\n"


def hostile_csv(source: Path, rng: random.Random) -> bytes:
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    kind = rng.choice(["formulas", "blank_lines", "case", "wide_cell", "bad_bytes"])
    if kind == "formulas":
        for column in rng.sample(list(frame.columns), 3):
            frame.loc[frame.sample(5, random_state=rng.randrange(1 << 30)).index, column] = (
                rng.choice(FORMULAS)
            )
        frame.columns = [rng.choice(FORMULAS) if rng.random() < 0.05 else c for c in frame.columns]
    elif kind == "case":
        frame["Note"], frame["note"] = "a", "b"
        frame[frame.columns[-3].upper()] = "1"
    elif kind == "wide_cell":
        frame.iloc[0, 0] = "x" * 100_000
    text = io.StringIO()
    frame.to_csv(text, index=False, quoting=csv.QUOTE_NONNUMERIC)
    data = text.getvalue().encode("utf-8")
    if kind == "blank_lines":
        lines = data.split(b"\n")
        for _ in range(rng.randint(1, 5)):
            lines.insert(rng.randrange(1, len(lines) + 1), b"")
        data = b"\n".join(lines)
    if kind == "bad_bytes":
        data = b"\xef\xbb\xbf" + data
        at = rng.randrange(100, 2000)
        data = data[:at] + b"\xff\xfe" + data[at:]
    return data


def excel_bomb(source: Path, folder: Path, rng: random.Random) -> Path:
    path = folder / f"bomb{rng.randrange(1 << 30)}.xlsx"
    with zipfile.ZipFile(source) as book:
        parts = {name: book.read(name) for name in book.namelist()}
    parts["xl/media/pad.bin"] = b"\0" * rng.choice([50_000_000, 300_000_000])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        for name, data in parts.items():
            book.writestr(name, data)
    return path


def run(args: list[str], cwd: Path) -> tuple[int, str, str, float]:
    """Exit code, stdout, stderr and peak memory (MB) of one command."""
    proc = subprocess.Popen(
        [ALLIANCE, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return -999, out, err + "\n(timed out)", 0.0
    # The largest peak of any command run so far (Linux counts this process's own size at the
    # time of the fork in it, a floor of a few hundred MB, so the figure errs high).
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return proc.returncode, out, err, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()
    rng = random.Random(options.seed)
    deadline = time.monotonic() + 60 * options.minutes
    stats: dict[str, Counter[str]] = {}
    peak_seen = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clean = seeds(folder)
        bomb = folder / "bomb.yaml"
        bomb.write_text(LAUGHS, encoding="utf-8")
        deep = folder / "deep.yaml"
        deep.write_text("[" * 20_000 + "]" * 20_000, encoding="utf-8")
        wide = folder / "wide.csv"
        wide.write_text(",".join(f"c{k}" for k in range(200_000)) + "\n1\n", encoding="utf-8")

        def corrupted(k: int) -> tuple[Path, list[str]]:
            fmt = rng.choice(list(clean))
            source = clean[fmt]
            path = folder / f"fuzz{k}{source.suffix}"
            path.write_bytes(mutate_bytes(source.read_bytes(), rng))
            return path, []

        def hostile(k: int) -> tuple[Path, list[str]]:
            source = clean[rng.choice(["csv", "qualtrics", "redcap"])]
            path = folder / f"hostile{k}.csv"
            path.write_bytes(hostile_csv(source, rng))
            return path, []

        def yaml_bomb(k: int) -> tuple[Path, list[str]]:
            flag = rng.choice(["--map", "--thresholds", "--instrument"])
            return clean["csv"], [flag, str(rng.choice([bomb, deep]))]

        def zip_bomb(k: int) -> tuple[Path, list[str]]:
            return excel_bomb(clean["excel"], folder, rng), []

        def too_wide(k: int) -> tuple[Path, list[str]]:
            return wide, []

        makers: list[Callable[[int], tuple[Path, list[str]]]] = [corrupted] * 5 + [hostile] * 4
        makers += [yaml_bomb, zip_bomb, too_wide]
        for k in range(options.runs):
            if time.monotonic() > deadline:
                break
            path, extra = rng.choice(makers)(k)
            command = rng.choice(["check", "score", "ingest", "validate", "report"])
            args = {
                "check": ["check", str(path), "--json"],
                "score": ["score", str(path), "-o", str(folder / f"s{k}.csv")],
                "ingest": ["ingest", str(path), "--db", str(folder / f"db{k % 7}.duckdb")],
                "validate": ["validate", str(path)],
                "report": ["report", str(path), "-o", str(folder / f"r{k}.html")],
            }[command] + extra
            code, out, err, peak = run(args, folder)
            peak_seen = max(peak_seen, peak)
            tally = stats.setdefault(command, Counter())
            tally["runs"] += 1
            tally["exit_other"] += code not in (0, 1, 2)
            tally["tracebacks"] += "Traceback" in err
            if command == "check" and code == 0:
                doc = json.loads(out)
                tally["not_conserved"] += doc["rows_in"] != (
                    doc["rows_usable"] + doc["rows_quarantined"]
                )
            if "Traceback" in err or code not in (0, 1, 2):
                print(f"run {k}: {' '.join(args)} -> exit {code}\n{err[-600:]}", file=sys.stderr)
            for leftover in folder.glob("fuzz*"):
                leftover.unlink()
    total: Counter[str] = Counter()
    print(
        f"{'command':<10}{'runs':>6}{'exit not 0/1/2':>16}{'tracebacks':>12}{'not conserved':>15}"
    )
    for command, tally in sorted(stats.items()):
        total.update(tally)
        print(
            f"{command:<10}{tally['runs']:>6}{tally['exit_other']:>16}{tally['tracebacks']:>12}"
            f"{tally['not_conserved']:>15}"
        )
    print(
        f"{'all':<10}{total['runs']:>6}{total['exit_other']:>16}{total['tracebacks']:>12}"
        f"{total['not_conserved']:>15}"
    )
    print(f"peak memory of any run: {peak_seen:,.0f} MB (limit 2,048 MB)")
    clean_run = (
        total["exit_other"] == 0
        and total["tracebacks"] == 0
        and total["not_conserved"] == 0
        and peak_seen < 2048
    )
    print("clean" if clean_run else "NOT clean")
    os._exit(0 if clean_run else 1)


if __name__ == "__main__":
    main()
