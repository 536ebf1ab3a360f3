"""Ingest several export files into a store: each read, checked, scored and written in its own
transaction, a block of rows at a time (:func:`analysis.store.writer.ingest_export`). What
`alliance ingest` and ``alliance.Store.ingest`` both run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..fileio import file_sha256
from ..ingest import Export
from ..reading import Options, read_unchecked, resolve_instrument
from .schema import open_store, store_is_empty
from .writer import BATCH_ROWS, IngestSummary, ingest_export

Say = Callable[[str], None]


def ingest_files(
    db: Path,
    exports: Sequence[Path],
    options: Options,
    *,
    batch_rows: int = BATCH_ROWS,
    say: Say | None = None,
    on_read: Callable[[Export], None] | None = None,
    on_stored: Callable[[IngestSummary], None] | None = None,
) -> list[IngestSummary]:
    """Append ``exports`` to the store ``db`` (made when it does not exist), each once.

    A refused first ingest leaves no empty store behind. ``say`` is told the progress,
    ``on_read`` each export as read (its identifier note), ``on_stored`` each summary."""
    from ..pipeline import block_scoring, thresholds_plan

    tell = say or (lambda _message: None)
    for path in exports:  # before the store is made: a typo must not leave an empty store
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path}: no such file.")
    instrument = resolve_instrument(options)
    plan = thresholds_plan(instrument, options)  # a bad thresholds file stops here, too
    summaries: list[IngestSummary] = []
    empty = False
    try:
        with open_store(db, create=True) as con, ThreadPoolExecutor(1) as pool:
            try:
                for path in map(Path, exports):
                    tell(f"reading {path} ...")
                    # the file's hash is taken while it is parsed (4 GB of FHIR: 2.5 s)
                    hashing = pool.submit(file_sha256, path)
                    read_instrument, export = read_unchecked(path, options, instrument)
                    if on_read is not None:
                        on_read(export)

                    def progress(stage: str, done: int, total: int, name: Path = path) -> None:
                        tell(f"  {name.name}: {stage} {done:,} of {total:,} rows")

                    summary = ingest_export(
                        con,
                        export,
                        read_instrument,
                        block_scoring(read_instrument, options, plan),
                        source=str(path),
                        sha256=hashing.result(),
                        progress=progress,
                        batch_rows=batch_rows,
                    )
                    summaries.append(summary)
                    if on_stored is not None:
                        on_stored(summary)
            except BaseException:
                # Judged while this process holds the store: nothing was ever stored in it.
                empty = not summaries and store_is_empty(con)
                raise
    except BaseException:
        if empty:
            # A refused first ingest leaves no empty store behind to be mistaken for one.
            for leftover in (db, db.with_name(db.name + ".wal")):
                leftover.unlink(missing_ok=True)
        raise
    return summaries
