"""`alliance report` end to end: wall time, peak memory and HTML size as n grows.

    .venv/bin/python benchmarks/bench_report.py [--sizes 1000 10000 100000]

n patients with up to 3 sessions on the full patient form (47 items), 40 clinicians, written
as a Qualtrics export; the command runs as a user runs it (`alliance report ... --by
clinician_id`), in a fresh process. Target (docs/design.md, "Performance targets"): under
5 s at 10,000; HTML under 6 MB at any n.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from measure import child_main, in_child


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    opts = parser.parse_args()
    from analysis.simulate import simulate, write_export
    from instrument import builtin_instrument

    bank = builtin_instrument()
    print(f"{'patients':>9} {'responses':>10} {'wall s':>7} {'peak MB':>8} {'HTML MB':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in opts.sizes:
            sim = simulate(bank, n, clinicians=40, sessions=3, seed=8)
            export = write_export(sim, bank, Path(tmp) / f"export_{n}.csv", "qualtrics")
            out = Path(tmp) / f"report_{n}.html"
            args = ["report", str(export), "--by", "clinician_id", "-o", str(out)]
            run = in_child(__file__, *args, "--max-size", "10GB")
            print(
                f"{n:>9,} {len(sim.data):>10,} {run['seconds']:>7.1f} {run['peak_mb']:>8.0f} "
                f"{out.stat().st_size / 1e6:>8.1f}"
            )


def work(args: list[str]) -> dict[str, Any]:
    # The command as a user runs it, in this fresh process (whose memory is measured),
    # imports included.
    from reports.cli import cli

    cli(args, prog_name="alliance", standalone_mode=False)
    return {}


if __name__ == "__main__":
    if "--child" in sys.argv:
        child_main(work)
    else:
        main()
