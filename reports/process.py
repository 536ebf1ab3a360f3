"""The environment the `alliance` command line runs in, unless the user sets it otherwise.

Kept apart from the command line, which applies it on import, so that the benchmarks can give
the same settings to the peers they time (benchmarks/bench_commands.py) without taking them
on themselves.
"""

from __future__ import annotations

import os

PROCESS_SETTINGS: dict[str, str] = {
    # One BLAS thread unless the user asks for more. The toolkit's matrices are small (tens of
    # items) or taken a block of rows at a time, and OpenBLAS's threads cost more than they
    # give there: MLR on 12 items took 0.18 s wall at 10k rows with two threads and 0.05 s
    # with one, and at 1,000,000 rows 7.6 s (9.2 s CPU) against 5.7 s (4.5 s CPU). Read when
    # numpy is first imported.
    "OPENBLAS_NUM_THREADS": "1",
    # No huge pages for numpy's large arrays unless the user asks (NUMPY_MADVISE_HUGEPAGE=1).
    # numpy asks the kernel for them on every large array; where the kernel then compacts
    # memory to find them (transparent_hugepage/defrag "madvise", Debian's default), a fresh
    # 400 MB array took 1.1 s to fill instead of 0.2 s once the memory was full of cached
    # files, and `check` on a million rows took 5.8 s instead of 4.1 s.
    "NUMPY_MADVISE_HUGEPAGE": "0",
    # Arrow's memory from the C library's malloc rather than mimalloc (its default here). Text
    # columns are Arrow arrays in pandas 3: taking the usable rows of them at a million rows
    # took 0.39 s with mimalloc and 0.06 s with malloc, and `score` on a million rows spent
    # 1.7 s in the kernel against 0.9 s, and took 4.16-4.26 s against 3.85-3.97 s (medians of
    # 3, alternated). Read by pyarrow when it is first imported.
    "ARROW_DEFAULT_MEMORY_POOL": "system",
}


def apply_settings() -> None:
    """Set each of PROCESS_SETTINGS that the user has not set: before numpy and pyarrow are
    imported, which read them then."""
    for name, value in PROCESS_SETTINGS.items():
        os.environ.setdefault(name, value)
