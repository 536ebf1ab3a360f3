"""Where a command's time goes: run one `alliance` command under cProfile, imports included.

    .venv/bin/python benchmarks/profile_command.py check export.csv
    .venv/bin/python benchmarks/profile_command.py validate export.csv --json --top 40

Prints the functions with the largest cumulative time (``--sort tottime`` for their own
time), then the time spent importing modules, which is often the largest part of a short
command. How `alliance check` went from 2.0-2.5 s to 1.5-1.9 s at 100k rows (scipy no longer
imported for one quantile) was found this way.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import pstats
import sys


def main() -> None:
    args = sys.argv[1:]
    top, sort = 30, "cumulative"
    if "--top" in args:
        k = args.index("--top")
        top = int(args[k + 1])
        del args[k : k + 2]
    if "--sort" in args:
        k = args.index("--sort")
        sort = args[k + 1]
        del args[k : k + 2]
    if not args:
        raise SystemExit(__doc__)
    sys.argv = ["alliance", *args]
    profile = cProfile.Profile()
    stdout = sys.stdout
    sys.stdout = io.StringIO()  # the command's own output is not the point here
    try:
        profile.enable()
        from reports.cli import cli  # not `main`: it would end the process before the report

        with contextlib.suppress(SystemExit):
            cli(prog_name="alliance")
    finally:
        profile.disable()
        sys.stdout = stdout
    stats = pstats.Stats(profile)
    total = stats.total_tt  # type: ignore[attr-defined]
    imports = max(
        (row[3] for key, row in stats.stats.items() if key[2] == "_find_and_load"),  # type: ignore[attr-defined]
        default=0.0,
    )
    stats.sort_stats(sort).print_stats(top)
    print(f"importing modules: {imports:.2f} s of the profiled {total:.2f} s")


if __name__ == "__main__":
    main()
