"""Score and classify in memory: the non-compensatory rule over many respondents.

    .venv/bin/python benchmarks/bench_score.py [--sizes 100000 1000000]

Target (docs/design.md, "Performance targets"): 1,000,000 respondents x 36 items under
1.5 s and 2 GB peak.
Two item sets: 36 items (the 24 alliance items and 4 items of each trust subscale) and the
full patient form's 47 items; one session per respondent. The data are simulated first; only
`score_export` is timed, and its own peak allocation is traced (tracemalloc sees numpy's and
pandas' buffers).
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from typing import Any

from measure import child_main, in_child


def work(args: list[str]) -> dict[str, Any]:
    from analysis.scoring import score_export
    from analysis.simulate import simulate
    from instrument import builtin_instrument

    n, n_items = int(args[0]), int(args[1])
    bank = builtin_instrument()
    data = simulate(bank, n, clinicians=200, sessions=1, seed=3).data
    if n_items == 36:
        dropped = [
            *bank.subscale_items("patient-full")["competence"],
            *bank.subscale_items("patient-full")["reliability"],
            "ta05",
            "tr05",
            "tf05",
        ]
        data = data.drop(columns=dropped)
    score_export(data.head(1000), bank)  # warm imports and caches outside the timing
    tracemalloc.start()
    start = time.perf_counter()
    result = score_export(data, bank)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    items = sum(c in bank.item_ids for c in data.columns)
    return {
        "score_seconds": seconds,
        "score_peak_mb": peak / 2**20,
        "items": items,
        "rows": len(result.table),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    opts = parser.parse_args()
    print(
        f"{'respondents':>11} {'items':>5} {'score s':>8} {'score peak MB':>13} "
        f"{'process peak MB':>15}"
    )
    for n in opts.sizes:
        for n_items in (36, 47):
            r = in_child(__file__, str(n), str(n_items))
            print(
                f"{r['rows']:>11,} {r['items']:>5} {r['score_seconds']:>8.2f} "
                f"{r['score_peak_mb']:>13.0f} {r['peak_mb']:>15.0f}"
            )


if __name__ == "__main__":
    if "--child" in sys.argv:
        child_main(work)
    else:
        main()
