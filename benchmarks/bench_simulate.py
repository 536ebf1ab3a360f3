"""How long the simulator takes to draw and write an export, and its peak memory.

    .venv/bin/python benchmarks/bench_simulate.py [--sizes 10000 100000 500000]

Each size runs in a fresh process; the patient-full form (47 items), 40 clinicians, 3 sessions.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from measure import child_main, in_child


def work(args: list[str]) -> dict[str, Any]:
    from analysis.simulate import simulate, write_export
    from instrument import builtin_instrument

    n, fmt = int(args[0]), args[1]
    bank = builtin_instrument()
    start = time.perf_counter()
    sim = simulate(bank, n, clinicians=40, sessions=3, seed=1)
    drawn = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        path = write_export(sim, bank, Path(tmp) / f"export.{fmt}", fmt)
        size_mb = path.stat().st_size / 2**20
    return {"rows": len(sim.data), "draw_seconds": drawn, "file_mb": size_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 500_000])
    parser.add_argument("--format", default="csv", choices=["csv", "qualtrics", "redcap", "sav"])
    opts = parser.parse_args()
    print(f"{'patients':>9} {'rows':>9} {'draw s':>7} {'total s':>8} {'peak MB':>8} {'file MB':>8}")
    for n in opts.sizes:
        r = in_child(__file__, str(n), opts.format)
        print(
            f"{n:>9,} {r['rows']:>9,} {r['draw_seconds']:>7.2f} {r['seconds']:>8.2f} "
            f"{r['peak_mb']:>8.0f} {r['file_mb']:>8.1f}"
        )


if __name__ == "__main__":
    if "--child" in sys.argv:
        child_main(work)
    else:
        main()
