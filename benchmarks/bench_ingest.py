"""Reading and checking an export, against plain pandas reading the same file.

    .venv/bin/python benchmarks/bench_ingest.py [--sizes 100000 1000000]

36 items (the 24 alliance items and 4 items of each trust subscale) plus the context columns,
as CSV and as Parquet. Each measurement runs in a fresh process (peak memory is its own):
`pandas.read_csv` / `pandas.read_parquet` alone, `read_export` (sniff, platform, mapping, label
recoding, findings), and `read_export` + `check_export`. Target: read_export within 1.5x of
plain pandas.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from measure import child_main, in_child

DROPPED = ["co01", "co02", "co03", "co04", "rl01", "rl02", "rl03", "rl04", "ta05", "tr05", "tf05"]


def work(args: list[str]) -> dict[str, Any]:
    # Imports and the instrument first: only the reading is timed.
    import pandas as pd

    from analysis.check import check_export
    from analysis.ingest import read_export
    from instrument import builtin_instrument

    what, path = args[0], Path(args[1])
    bank = builtin_instrument()
    start = time.perf_counter()
    if what == "pandas":
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        return {"rows": len(frame), "read_seconds": time.perf_counter() - start}
    export = read_export(path, bank, max_bytes=1 << 40)
    if what == "check":
        check_export(export, bank)
    return {"rows": export.rows_in, "read_seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    opts = parser.parse_args()
    from analysis.simulate import simulate
    from instrument import builtin_instrument

    bank = builtin_instrument()
    print(
        f"{'rows':>9} {'format':>8} {'MB':>6} {'pandas s':>9} {'read s':>7} {'ratio':>6} "
        f"{'read+check s':>13} {'pandas MB':>10} {'read MB':>8}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for n in opts.sizes:
            data = simulate(bank, n, clinicians=200, sessions=1, seed=2).data.drop(columns=DROPPED)
            files = {"csv": Path(tmp) / f"e{n}.csv", "parquet": Path(tmp) / f"e{n}.parquet"}
            data.to_csv(files["csv"], index=False)
            data.to_parquet(files["parquet"], index=False)
            del data
            for fmt, path in files.items():
                base = in_child(__file__, "pandas", str(path))
                read = in_child(__file__, "read", str(path))
                checked = in_child(__file__, "check", str(path))
                size = path.stat().st_size / 2**20
                ratio = read["read_seconds"] / base["read_seconds"]
                print(
                    f"{read['rows']:>9,} {fmt:>8} {size:>6.0f} {base['read_seconds']:>9.2f} "
                    f"{read['read_seconds']:>7.2f} {ratio:>6.2f} "
                    f"{checked['read_seconds']:>13.2f} {base['peak_mb']:>10.0f} "
                    f"{read['peak_mb']:>8.0f}"
                )


if __name__ == "__main__":
    if "--child" in sys.argv:
        child_main(work)
    else:
        main()
