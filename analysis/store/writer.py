"""The clinic store's writer: an export, checked and scored, appended to the store.

An ingest is one transaction: either every row of the export is accounted for in the store,
or (crash, Ctrl-C, kill) nothing of it is. Rows go in blocks of ``BATCH_ROWS``, so a million
rows never sit in memory at once; each block's responses are classified against what the
store holds (new, already stored, or in conflict) before they are written. The tables and
their migrations are :mod:`analysis.store.schema`'s.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from instrument import Instrument

from .. import names
from ..check import CheckResult, quarantine_reasons, quarantined_rows
from ..ingest import Export
from ..results import Reported
from ..scoring import MeasurementError, ScoreResult, Threshold
from ..scoring.blocks import BlockScoring
from ..wording import worded
from .schema import (
    EXTRA_PREFIX,
    INTERRUPTS,
    KEY,
    StoreError,
    quote,
    scalar,
    table_columns,
)

BATCH_ROWS = 100_000
# DuckDB's buffer pool while an ingest writes (it defaults to 80% of the machine's memory and
# keeps what it wrote cached): with row groups written as they fill, 256 MB is enough, and an
# ingest of 1M rows stays near the size of the export as read (benchmarks/bench_store.py).
INGEST_MEMORY = "256MB"


# ---------------------------------------------------------------- ingest
@dataclass(frozen=True)
class IngestSummary(Reported):
    """What one ingest stored: rows in, new, already stored, conflicting, quarantined."""

    ingest_id: int
    source: str
    rows_in: int
    rows_usable: int
    rows_quarantined: int
    rows_new: int
    rows_already_stored: int
    rows_conflicting: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def summary_lines(self) -> list[str]:
        return [
            f"{self.source}: {self.rows_in:,} rows; {self.rows_new:,} new, "
            f"{self.rows_already_stored:,} already stored, {self.rows_conflicting:,} "
            f"conflicting, {self.rows_quarantined:,} quarantined"
        ]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([self.to_dict()]).set_index("ingest_id")


def instrument_version(instrument: Instrument) -> str:
    return f"{instrument.name} {instrument.version}"


_SQL_TYPES = {"b": "BOOLEAN", "i": "BIGINT", "u": "BIGINT", "f": "DOUBLE"}


def _ensure_columns(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """Add the frame's columns the table does not have yet (new items, new subscales)."""
    have = table_columns(con, table)
    for column in frame.columns:
        if column not in have:
            kind = _SQL_TYPES.get(frame[column].dtype.kind, "VARCHAR")
            con.execute(f"ALTER TABLE {table} ADD COLUMN {quote(column)} {kind}")


def _context(data: pd.DataFrame) -> pd.DataFrame:
    """Context columns in the store's types: text ids, integer sessions, dates."""
    out = pd.DataFrame(index=data.index)
    for column in (names.RESPONDENT_ID, names.CLINICIAN_ID, names.SITE_ID, names.PERSPECTIVE):
        if column in data:
            out[column] = data[column].astype("string")
    if names.SESSION in data:
        out[names.SESSION] = pd.to_numeric(data[names.SESSION], errors="coerce").astype("Int32")
    if names.DATE in data:
        out[names.DATE] = pd.to_datetime(
            data[names.DATE], errors="coerce", format="mixed"
        ).dt.floor("D")
    return out


def _keyed_by_respondent(export: Export) -> bool:
    """Whether the patient alone can key the rows: no response id, session or date column."""
    parts = [c for c in (names.RESPONDENT_ID, names.SESSION, names.DATE) if c in export.data]
    return parts == [names.RESPONDENT_ID] and names.RESPONSE_ID not in export.data


def _respondents_unique(data: pd.DataFrame | pd.Series) -> bool:
    ids = data[names.RESPONDENT_ID] if isinstance(data, pd.DataFrame) else data
    return bool(ids.notna().all() and ids.is_unique)


def _keys(data: pd.DataFrame, respondents_unique: bool | None) -> pd.Series:
    """The response id; without one, patient + session (+ date) stand in for it, or the
    patient alone in an export with one response per patient (``respondents_unique``: over
    the export's usable rows, not only these)."""
    if names.RESPONSE_ID in data and data[names.RESPONSE_ID].notna().all():
        return data[names.RESPONSE_ID].astype(str)
    parts = [c for c in (names.RESPONDENT_ID, names.SESSION, names.DATE) if c in data]
    if parts == [names.RESPONDENT_ID] and names.RESPONSE_ID not in data and respondents_unique:
        return data[names.RESPONDENT_ID].astype(str)
    if names.RESPONDENT_ID not in parts or len(parts) < 2:
        raise StoreError(
            worded(
                "the store needs a response id for every row, a respondent id with a session "
                "or date, or a respondent id that appears once; map one in a mapping file "
                "(`map_file`: response_id: COLUMN)."
            )
        )
    text = data[parts].astype(object)
    derived = text.where(text.notna(), "").astype(str).agg("#".join, axis=1)
    if names.RESPONSE_ID in data:
        derived = data[names.RESPONSE_ID].astype("string").fillna(derived).astype(str)
    return derived


def _arrow(frame: pd.DataFrame, ingest_id: int) -> pa.Table:
    return pa.Table.from_pandas(frame.assign(ingest_id=ingest_id), preserve_index=False)


def _json_lines(frame: pd.DataFrame) -> list[str]:
    """Each row as a JSON object of text values (missing: null), as it was read."""
    if not len(frame):
        return []
    text = frame.astype("string").rename(columns=str)
    return text.to_json(orient="records", lines=True, force_ascii=False).splitlines()


def _row_hash(frame: pd.DataFrame) -> np.ndarray:
    return pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)


def _classify_rows(
    con: duckdb.DuckDBPyConnection, table: str, keys: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Per incoming row: stored already with the same answers, or with different ones. Within
    the export the first row of a key counts; later ones compare against it."""
    first = ~keys.duplicated(subset=list(KEY), keep="first").to_numpy()
    con.register("incoming_keys", keys.assign(position=np.arange(len(keys))))
    stored = con.execute(
        f"""SELECT i.position, s.answers_hash = i.answers_hash AS equal
            FROM incoming_keys i JOIN {table} s USING (response_id, instrument_version)"""
    ).fetchnumpy()
    con.unregister("incoming_keys")
    same = np.zeros(len(keys), dtype=bool)
    differs = np.zeros(len(keys), dtype=bool)
    position = np.asarray(stored["position"], dtype=np.int64)
    equal = np.asarray(stored["equal"], dtype=bool)
    same[position[equal]] = True
    differs[position[~equal]] = True
    # Later rows of a key within this export: compare with the key's first row.
    later = np.flatnonzero(~first)
    if len(later):
        first_hash = keys.loc[first].set_index(list(KEY))["answers_hash"]
        ref = first_hash.reindex(pd.MultiIndex.from_frame(keys.iloc[later][list(KEY)]))
        equal_later = ref.to_numpy() == keys["answers_hash"].to_numpy()[later]
        stored_already = same[later] | differs[later]
        same[later[~stored_already & equal_later]] = True
        differs[later[~stored_already & ~equal_later]] = True
    return same, differs


@dataclass(frozen=True)
class _Block:
    """Rows ``start`` onwards of an export: as read, why each is quarantined ('' when usable),
    and the scores of its usable rows, in order."""

    export: Export
    quarantine: np.ndarray
    scores: pd.DataFrame
    start: int


@dataclass(frozen=True)
class _Facts:
    """What the ingest's row in ``ingests`` records besides the counts of the write."""

    source: str
    sha256: str
    platform: str
    rows_in: int
    rows_usable: int
    thresholds: str
    perspective: str
    measurement_error: str | None
    identifiers_dropped: str


def _rows_of(export: Export, start: int, stop: int) -> Export:
    """Rows ``start:stop`` of an export (views of its frames, not copies)."""
    n = len(export.data)
    raw = export.raw
    return replace(
        export,
        data=export.data.iloc[start:stop],
        raw=raw.iloc[start:stop] if raw is not None and len(raw) == n else None,
        flags=export.flags.iloc[start:stop] if len(export.flags) == n else export.flags,
    )


def ingest_checked(
    con: duckdb.DuckDBPyConnection,
    checked: CheckResult,
    scored: ScoreResult,
    instrument: Instrument,
    *,
    source: str,
    sha256: str,
    progress: Callable[[int, int], None] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> IngestSummary:
    """Append a checked, scored export to the store in one transaction.

    ``scored`` must be the scores of ``checked.usable_data()``, row for row; the thresholds
    it used are recorded with the ingest. ``progress(rows, rows_in)`` follows the rows
    accounted for (stored or set aside).
    """
    if len(scored.table) != checked.rows_usable:
        raise ValueError("'scored' must hold one row per usable row of 'checked'.")
    export = checked.export
    quarantine = checked.quarantine.to_numpy()
    usable = quarantine == ""
    before = np.concatenate([[0], np.cumsum(usable)])  # usable rows above each row
    table = scored.table.reset_index(drop=True)

    def blocks() -> Iterator[_Block]:
        for start in range(0, len(quarantine), batch_rows):
            stop = min(start + batch_rows, len(quarantine))
            yield _Block(
                _rows_of(export, start, stop),
                quarantine[start:stop],
                table.iloc[before[start] : before[stop]],
                start,
            )

    c = scored.classification
    facts = _Facts(
        source=source,
        sha256=sha256,
        platform=export.platform,
        rows_in=checked.rows_in,
        rows_usable=checked.rows_usable,
        thresholds=_thresholds_json(c.thresholds if c is not None else ()),
        perspective=scored.scores.perspective,
        measurement_error=(
            _error_json(
                c.error,
                {p: int(scored.scores.scores[p].notna().sum()) for p in c.error.reliability.index},
            )
            if c is not None
            else None
        ),
        identifiers_dropped=_identifiers_json(export),
    )
    unique = _respondents_unique(export.data[usable]) if _keyed_by_respondent(export) else None
    return _write(con, instrument, blocks(), facts, unique, progress)


def ingest_export(
    con: duckdb.DuckDBPyConnection,
    export: Export,
    instrument: Instrument,
    scoring: BlockScoring,
    *,
    source: str,
    sha256: str,
    progress: Callable[[str, int, int], None] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> IngestSummary:
    """Check, score and append a read export a block of ``batch_rows`` rows at a time.

    The store gets what `ingest_checked` would store from the whole export checked and scored
    at once, while no more than one block's checks, scores and Arrow tables are held. Every
    check that sets a row aside looks at that row alone; what scoring takes from the whole
    sample (alpha, SDs, the error correlation, a criterion minimum) is gathered in a first
    pass (``progress('checked', rows, rows_in)``), and the rows are scored and written in a
    second (``progress('stored', ...)``), in one transaction.
    """
    n = export.rows_in
    bounds = [(start, min(start + batch_rows, n)) for start in range(0, n, batch_rows)]
    quarantine = np.empty(n, dtype=object)
    by_respondent = _keyed_by_respondent(export)
    respondents: list[pd.Series] = []
    for start, stop in bounds:
        part = _rows_of(export, start, stop)
        reasons = quarantine_reasons(part, instrument).to_numpy()
        quarantine[start:stop] = reasons
        usable = part.data[reasons == ""].reset_index(drop=True)
        scoring.observe(usable)
        if by_respondent:
            respondents.append(usable[names.RESPONDENT_ID])
        if progress is not None:
            progress("checked", stop, n)
        INTERRUPTS.raise_if_received()
    scoring.finish()
    unique = (
        _respondents_unique(pd.concat(respondents, ignore_index=True)) if by_respondent else None
    )
    del respondents

    def blocks() -> Iterator[_Block]:
        for start, stop in bounds:
            part = _rows_of(export, start, stop)
            reasons = quarantine[start:stop]
            usable = part.data[reasons == ""].reset_index(drop=True)
            yield _Block(part, reasons, scoring.score(usable), start)

    rows_usable = int((quarantine == "").sum())
    facts = _Facts(
        source=source,
        sha256=sha256,
        platform=export.platform,
        rows_in=n,
        rows_usable=rows_usable,
        thresholds=_thresholds_json(scoring.thresholds),
        perspective=scoring.perspective,
        measurement_error=(
            _error_json(scoring.error, scoring.rows) if scoring.error is not None else None
        ),
        identifiers_dropped=_identifiers_json(export),
    )
    stored = None if progress is None else (lambda done, total: progress("stored", done, total))
    return _write(con, instrument, blocks(), facts, unique, stored)


def _write(
    con: duckdb.DuckDBPyConnection,
    instrument: Instrument,
    blocks: Iterator[_Block],
    facts: _Facts,
    respondents_unique: bool | None,
    progress: Callable[[int, int], None] | None,
) -> IngestSummary:
    """Write the blocks and the ingest's row in one transaction: all of it, or nothing."""
    version = instrument_version(instrument)
    counts = {"new": 0, "same": 0, "differs": 0}
    limit = scalar(con, "SELECT current_setting('memory_limit')")
    con.execute(f"SET memory_limit = '{INGEST_MEMORY}'")
    stage = tempfile.TemporaryDirectory(prefix="alliance-ingest-")
    con.begin()
    try:
        ingest_id = int(scalar(con, "SELECT coalesce(max(ingest_id), 0) + 1 FROM ingests"))
        for block in blocks:
            # A block's keys are compared with the store as it stands, earlier blocks of this
            # export included: a later row of a key meets its first row there, as it would in
            # one block.
            _write_block(
                con, block, version, ingest_id, respondents_unique, counts, Path(stage.name)
            )
            if progress is not None:
                progress(block.start + len(block.quarantine), facts.rows_in)
            INTERRUPTS.raise_if_received()
        summary = IngestSummary(
            ingest_id=ingest_id,
            source=facts.source,
            rows_in=facts.rows_in,
            rows_usable=facts.rows_usable,
            rows_quarantined=facts.rows_in - facts.rows_usable,
            rows_new=counts["new"],
            rows_already_stored=counts["same"],
            rows_conflicting=counts["differs"],
        )
        con.execute(
            "INSERT INTO ingests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                ingest_id,
                facts.source,
                facts.sha256,
                datetime.now(UTC).replace(tzinfo=None),
                instrument.name,
                version,
                facts.platform,
                summary.rows_in,
                summary.rows_usable,
                summary.rows_quarantined,
                summary.rows_new,
                summary.rows_already_stored,
                summary.rows_conflicting,
                facts.thresholds,
                facts.perspective,
                facts.measurement_error,
                facts.identifiers_dropped,
            ],
        )
        INTERRUPTS.raise_if_received()
        try:
            con.commit()
        except duckdb.Error as exc:
            # A failed commit (disk full, file too large) has ended the transaction: DuckDB
            # wrote nothing of it, so the store is as it was and there is nothing to roll back.
            raise StoreError(
                f"the store could not be written ({_first_line(exc)}); nothing of this export "
                f"was stored. Free some space and ingest it again."
            ) from None
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.rollback()  # also when the commit above failed and no transaction is left
        raise
    finally:
        for view in ("new_quarantine", "new_findings"):
            con.unregister(view)
        stage.cleanup()
        con.execute(f"SET memory_limit = '{limit}'")
    return summary


def _write_block(
    con: duckdb.DuckDBPyConnection,
    block: _Block,
    version: str,
    ingest_id: int,
    respondents_unique: bool | None,
    counts: dict[str, int],
    stage: Path,
) -> None:
    export = block.export
    data = export.data
    items = list(export.items)
    usable = block.quarantine == ""
    rows = np.arange(block.start + 1, block.start + len(data) + 1)
    # Only usable rows are stored as responses (the rest go to quarantine as read), so only
    # they need a key: a blank line's empty ids must not stop the ingest.
    key_all = pd.Series("", index=data.index, dtype=object)
    key_all[usable] = _keys(data[usable], respondents_unique).to_numpy()
    context = _context(data)
    extras = [c for c in data.columns if c not in names.CONTEXT_COLUMNS and c not in items]
    raw = export.raw
    extras_frame = (
        pd.concat([data[extras], raw[list(export.unmatched_columns)]], axis=1)
        if raw is not None
        else data[extras]
    ).astype("string")
    extras_frame.columns = _case_unique([EXTRA_PREFIX + str(c) for c in extras_frame.columns])
    answers_hash = _row_hash(pd.concat([context, data[items]], axis=1))
    responses = pd.concat(
        [
            pd.DataFrame(
                {
                    names.RESPONSE_ID: key_all.to_numpy(),
                    "instrument_version": version,
                    "row_in_export": rows,
                    "answers_hash": answers_hash,
                },
                index=data.index,
            ),
            context,
            data[items].astype(float),
            extras_frame,
        ],
        axis=1,
    )[usable].reset_index(drop=True)
    score_cols = [c for c in block.scores.columns if c not in names.CONTEXT_COLUMNS]
    scores = pd.concat(
        [
            responses[[*KEY, *context.columns]],
            block.scores[score_cols].reset_index(drop=True),
        ],
        axis=1,
    )
    set_aside = quarantined_rows(export, block.quarantine)
    quarantine = pd.DataFrame(
        {
            "row_in_export": rows[~usable],
            names.RESPONSE_ID: key_all[~usable].to_numpy(),
            "instrument_version": version,
            "answers_hash": answers_hash[~usable],
            "reasons": set_aside["quarantine_reasons"].to_numpy(),
            "raw": _json_lines(set_aside.drop(columns=["row", "quarantine_reasons"])),
        }
    )
    same, differs = _classify_rows(con, "responses", responses[[*KEY, "answers_hash"]].copy())
    q_same, q_differs = _classify_rows(con, "quarantine", quarantine[[*KEY, "answers_hash"]].copy())
    new = ~same & ~differs
    _ensure_columns(con, "responses", responses)
    _ensure_columns(con, "scores", scores)
    if new.any():
        for table, frame in (("responses", responses[new]), ("scores", scores[new])):
            # Through a Parquet file, not a registered Arrow table: DuckDB keeps rows
            # inserted from Arrow in memory until the commit (1.9 GB at 861k rows), while
            # from Parquet it writes full row groups to the store file as it goes.
            staged = stage / f"{table}.parquet"
            pq.write_table(_arrow(frame, ingest_id), staged, compression="none")
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet(?)", [str(staged)])
    con.register("new_quarantine", quarantine[~q_same & ~q_differs])
    con.execute(
        "INSERT INTO quarantine BY NAME SELECT ? AS ingest_id, * FROM new_quarantine",
        [ingest_id],
    )
    con.register("new_findings", responses.loc[differs, ["row_in_export", names.RESPONSE_ID]])
    con.execute(
        """INSERT INTO findings BY NAME SELECT ? AS ingest_id,
           'conflicting_duplicate' AS kind, *,
           'stored before with different answers or context; the stored row is kept'
           AS reason FROM new_findings""",
        [ingest_id],
    )
    counts["new"] += int(new.sum())
    counts["same"] += int(same.sum())
    counts["differs"] += int(differs.sum())


def _identifiers_json(export: Export) -> str:
    return json.dumps([d.to_dict() for d in export.identifiers])


def _thresholds_json(thresholds: tuple[Threshold, ...]) -> str:
    return json.dumps([t.to_dict() for t in thresholds])


def _error_json(error: MeasurementError, rows: dict[str, int]) -> str:
    """Per pillar: reliability (alpha), SD and the scored rows, as the alerts pool them."""
    return json.dumps(
        {
            p: {
                "reliability": _finite(error.reliability[p]),
                "sd": _finite(error.sd[p]),
                "rows": rows[p],
            }
            for p in error.reliability.index
        }
    )


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _case_unique(columns: list[str]) -> list[str]:
    """Column names that differ by more than case, as the store's SQL needs: the second of
    'extra:Note' and 'extra:note' is stored as 'extra:note (2)'."""
    seen: set[str] = set()
    out = []
    for name in columns:
        unique, k = name, 1
        while unique.casefold() in seen:
            k += 1
            unique = f"{name} ({k})"
        seen.add(unique.casefold())
        out.append(unique)
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text.split("Error: ", 1)[-1]
