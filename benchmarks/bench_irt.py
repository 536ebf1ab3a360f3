"""The graded response model's calibration: parameter recovery and speed.

    .venv/bin/python benchmarks/bench_irt.py [--reps 20] [--speed-rows 100000] [--skip-mirt]

**Recovery.** 8 items of 5 categories with known slopes (0.9 to 2.6) and thresholds (-2.7 to
0.9), theta standard normal, answers drawn from the model; calibrated by analysis.irt at
n = 2,000 and 20,000. Printed per parameter kind: bias, RMSE, the mean standard error beside
the empirical SD of the estimates over the replications, and the coverage of the 95%
intervals. tests/test_irt.py holds one seed of this with a tolerance.

**Speed.** ``alliance calibrate`` on a simulated export of the patient form (24 items, three
pillars of 8) at ``--speed-rows`` rows, whole process in a fresh interpreter (start, imports,
reading and checking the CSV, scoring for the minimums, three calibrations with S-X2, Q3 and
EAPs, writing the YAML), and the EM alone per pillar; beside it the mirt package (1.2.0, its
Rust EM) fitting the same three pillars' answers with its defaults.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from analysis.irt.estimate import collapse, fit_grm

TRUE_A = np.array([0.9, 1.3, 1.7, 2.1, 2.6, 1.1, 1.9, 2.3])
TRUE_B = np.array([[-2.2, -1.4, -0.6, 0.4]] * 8) + np.linspace(-0.5, 0.5, 8)[:, None]
TRUE_D = -TRUE_A[:, None] * TRUE_B


def draw(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=n)
    star = 1.0 / (1.0 + np.exp(-(TRUE_A[None, :, None] * theta[:, None, None] + TRUE_D[None])))
    return (rng.uniform(size=(n, 8, 1)) < star).sum(axis=2)


def recovery(n: int, reps: int) -> None:
    a_hat, b_hat, se_a, se_b = [], [], [], []
    start = time.perf_counter()
    for seed in range(reps):
        est = fit_grm(collapse(draw(n, 1000 + seed), (5,) * 8))
        a_hat.append(est.slopes)
        b = np.vstack([-d / a for a, d in zip(est.slopes, est.intercepts, strict=True)])
        b_hat.append(b)
        se_a.append([np.sqrt(c[0, 0]) for c in est.covariance])
        rows = []
        for a, d, c in zip(est.slopes, est.intercepts, est.covariance, strict=True):
            grads = np.zeros((len(d), len(c)))
            grads[:, 0] = d / a**2
            grads[np.arange(len(d)), 1 + np.arange(len(d))] = -1.0 / a
            rows.append(np.sqrt(np.einsum("km,mn,kn->k", grads, c, grads)))
        se_b.append(np.vstack(rows))
    seconds = (time.perf_counter() - start) / reps
    for kind, est, se, true in (
        ("a", np.array(a_hat), np.array(se_a), TRUE_A),
        ("b", np.array(b_hat), np.array(se_b), TRUE_B),
    ):
        error = est - true
        largest = np.abs(error.mean(axis=0)).max()
        # The bias's own standard error over the replications (the errors of one replication
        # share its sample), to tell a bias from chance.
        per_rep = error.reshape(len(error), -1).mean(axis=1)
        noise = per_rep.std(ddof=1) / np.sqrt(len(per_rep))
        cover = np.mean(np.abs(error) < 1.959964 * se)
        print(
            f"  n = {n:>6,}  {kind}: bias {error.mean():+.4f} +- {noise:.4f} (largest "
            f"{largest:.4f}),"
            f" RMSE {np.sqrt((error**2).mean()):.4f}, mean SE {se.mean():.4f} vs SD of "
            f"estimates {est.std(axis=0, ddof=1).mean():.4f}, 95% coverage {cover:.3f}"
        )
    print(f"  n = {n:>6,}  {seconds:.2f} s per calibration of 8 items ({reps} replications)")


def speed(rows: int, with_mirt: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "export.csv"
        alliance = str(Path(sys.executable).parent / "alliance")
        subprocess.run(
            [
                alliance,
                "simulate",
                "-n",
                str(rows),
                "--sessions",
                "1",
                "--form",
                "patient",
                "--seed",
                "5",
                "-o",
                str(export),
            ],
            check=True,
            capture_output=True,
        )
        start = time.perf_counter()
        done = subprocess.run(
            [
                "/usr/bin/time",
                "-f",
                "%M",
                alliance,
                "calibrate",
                str(export),
                "-o",
                str(Path(tmp) / "cal.yaml"),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - start
        peak = int(done.stderr.strip().splitlines()[-1]) / 1024
        print(
            f"  alliance calibrate, {rows:,} rows x 24 items, whole process: {wall:.1f} s, "
            f"peak {peak:.0f} MB"
        )
        from analysis import pipeline

        options = pipeline.Options()
        read = pipeline.read_checked(export, options)
        data = read.checked.usable_data()
        from analysis.irt.calibration import answer_categories
        from analysis.keying import keyed

        bank = read.instrument
        blocks = {}
        for scale, items in bank.subscale_items("patient").items():
            values = keyed(data, bank, items).to_numpy(float)
            cats = np.column_stack([answer_categories(values[:, j])[1] for j in range(len(items))])
            blocks[scale] = cats
        start = time.perf_counter()
        for scale, cats in blocks.items():
            t0 = time.perf_counter()
            est = fit_grm(collapse(cats, (5,) * cats.shape[1]))
            print(
                f"  EM alone, {scale}: {time.perf_counter() - t0:.2f} s, {est.cycles} cycles, "
                f"{est.n_patterns:,} distinct answer patterns"
            )
        print(f"  EM alone, three pillars: {time.perf_counter() - start:.2f} s")
        if with_mirt:
            import mirt

            start = time.perf_counter()
            for cats in blocks.values():
                complete = cats[(cats >= 0).all(axis=1)]
                mirt.fit_mirt(complete, model="GRM", n_quadpts=61, se_method="crossprod")
            print(
                f"  mirt 1.2.0 (complete rows only; defaults, 61 nodes), three pillars: "
                f"{time.perf_counter() - start:.2f} s"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--speed-rows", type=int, default=100_000)
    parser.add_argument("--skip-mirt", action="store_true")
    args = parser.parse_args()
    print("Recovery (8 items, 5 categories):")
    recovery(2_000, args.reps)
    recovery(20_000, max(args.reps // 2, 3))
    print("Speed:")
    speed(args.speed_rows, not args.skip_mirt)


if __name__ == "__main__":
    main()
