"""The seam: what an engine must answer, and what follows from it alone."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from ...wording import worded
from ..schema import StoreError

# The candidate cells of the differencing guard, as the release log's SQL reads them.
CANDIDATE_COLUMNS = ("label", "member", "patient")
# A patient's sessions in their order (within a patient, and patients one after another), as
# every per-patient computation reads them.
SESSION_ORDER = "session NULLS LAST, date NULLS LAST, response_id"
PATIENT_ORDER = f"respondent_id, {SESSION_ORDER}"
BATCH_ROWS = 100_000  # sessions read at a time by a per-patient computation

PerPatient = Callable[[pd.DataFrame], pd.DataFrame]


def whole_patients(batches: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Batches of rows sorted by patient, regrouped so that no patient is split between two:
    each batch's last patient is held back and joined to the next."""
    carry: pd.DataFrame | None = None
    for batch in batches:
        if carry is not None and len(carry):
            batch = pd.concat([carry, batch], ignore_index=True)
        if not len(batch):
            continue
        ids = batch["respondent_id"].to_numpy()
        others = np.flatnonzero(ids != ids[-1])
        cut = int(others[-1]) + 1 if len(others) else 0
        if cut:
            yield batch.iloc[:cut].reset_index(drop=True)
        carry = batch.iloc[cut:].reset_index(drop=True)
    if carry is not None and len(carry):
        yield carry


class Backend(ABC):
    """An engine that answers queries over ``scores``, ``responses`` and ``ingests``.

    ``releases`` is the DuckDB connection that holds the log of released cells; ``name`` is
    how pages and messages name the source (the store's file, the Parquet folder)."""

    engine: str
    name: str
    releases: duckdb.DuckDBPyConnection

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """The result of a query with ``?`` parameters, as a frame."""

    @abstractmethod
    def columns(self, table: str) -> list[str]:
        """The table's columns, in order."""

    @abstractmethod
    def quote(self, name: str) -> str:
        """A column name as an identifier (names such as ``extra:age`` need quoting)."""

    @abstractmethod
    def month(self, column: str) -> str:
        """An expression for a date column's month as text, ``YYYY-MM``."""

    @abstractmethod
    def hashed(self, *columns: str) -> str:
        """An expression for a 64-bit hash of the columns."""

    @abstractmethod
    def per_patient(
        self, sql: str, params: Sequence[Any], apply: PerPatient, columns: Sequence[str], view: str
    ) -> None:
        """Run ``apply`` over the rows of ``sql`` (a SELECT of scores with respondent_id,
        session, date and response_id), whole patients at a time in :data:`PATIENT_ORDER`,
        where the rows are, and keep what it returns (text ``columns``) as the temporary table
        ``view`` for the queries that follow."""

    def candidates(self, key: str, labels: Sequence[str], where: str, params: list[Any]) -> None:
        """Put the sessions of the candidate cells (``key``'s value among ``labels``) in the
        release log's temporary table ``candidate`` (label, member, patient hashes)."""
        frame = self.query(
            f"SELECT CAST({key} AS STRING) AS label, "
            f"{self.hashed('response_id', 'instrument_version')} AS member, "
            f"{self.hashed('respondent_id')} AS patient "
            f"FROM scores WHERE {where} AND {key} IS NOT NULL",
            params,
        )
        frame = frame.loc[frame["label"].isin(list(labels)), list(CANDIDATE_COLUMNS)]
        for column in ("member", "patient"):
            # An engine's hashes may be signed (Spark's xxhash64); the log keeps the same 64
            # bits as unsigned, as DuckDB's hash gives them.
            frame[column] = frame[column].to_numpy(np.int64).view(np.uint64)
        self.releases.execute("DROP TABLE IF EXISTS temp.candidate")
        self.releases.register("candidate_frame", frame)
        try:
            self.releases.execute(
                "CREATE TEMP TABLE candidate AS SELECT CAST(label AS VARCHAR) AS label, "
                "member, patient FROM candidate_frame"
            )
        finally:
            self.releases.unregister("candidate_frame")


def store_pillars(backend: Backend) -> list[str]:
    """The rule's pillars as the store's scores hold them (a score and a pass column each)."""
    columns = backend.columns("scores")
    pillars = [c[: -len("_pass")] for c in columns if c.endswith("_pass")]
    pillars = [p for p in pillars if p in columns]
    if not pillars:
        raise StoreError(
            worded(
                "the store holds no responses scored under a non-compensatory rule yet: ingest an "
                "export whose instrument declares its rule's pillars (rule: pillars: [...] in its "
                "YAML), or give the ingest `pillars` A,B,... for a model-string instrument."
            )
        )
    return pillars


def json_differences(a: object, b: object, tol: float = 1e-9, path: str = "") -> list[str]:
    """Where two engines' JSON results differ: keys, lengths, text, or numbers by more than
    ``tol``. Empty when they agree."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{path}: keys {sorted(set(a) ^ set(b))}"]
        return [d for k in a for d in json_differences(a[k], b[k], tol, f"{path}/{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} against {len(b)} items"]
        return [
            d
            for k, (x, y) in enumerate(zip(a, b, strict=True))
            for d in json_differences(x, y, tol, f"{path}[{k}]")
        ]
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= tol:
        return []
    return [] if a == b else [f"{path}: {a!r} against {b!r}"]
