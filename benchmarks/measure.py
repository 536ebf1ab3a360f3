"""Shared by the benchmark scripts: run a measurement in a fresh process and report its wall
time and peak resident memory, so one size's allocations do not inflate the next."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any


def child_main(work: Callable[[list[str]], dict[str, Any]]) -> None:
    """In the child: run ``work`` on the arguments after ``--child`` and print JSON."""
    args = sys.argv[sys.argv.index("--child") + 1 :]
    start = time.perf_counter()
    extra = work(args)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, **extra}))


def in_child(script: str, *args: str) -> dict[str, Any]:
    """Run ``script --child args`` in a new interpreter and return what it measured."""
    out = subprocess.run(
        [sys.executable, script, "--child", *args], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result
