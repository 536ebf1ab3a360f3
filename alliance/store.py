"""The clinic store from Python: ingest exports, then benchmark, alert and validate, as
`alliance ingest`, `benchmark`, `alerts` and `validate --db` do, with their defaults."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .options import make_options

if TYPE_CHECKING:
    from analysis.benchmark.compare import BenchmarkResult
    from analysis.clinic.structure import StoreFit
    from analysis.monitor.run import AlertCounts, Monitor
    from analysis.ruptures.alerts import AlertSettings
    from analysis.store.backends import Backend
    from analysis.store.writer import IngestSummary


def _date(value: str | date | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"'since' must be a date like '2026-03-01'; got {value!r}.") from None


@dataclass(frozen=True)
class Store:
    """A clinic store: a DuckDB file (``db``) or its Parquet copy (``parquet``), queried by
    DuckDB or, on a Parquet copy, by Spark (``engine='spark'``).

    Examples
    --------
    >>> store = alliance.Store("clinic.duckdb")
    >>> [s.rows_new for s in store.ingest("export.csv")]
    [732]
    >>> print(store.benchmark().summary().splitlines()[0])  # doctest: +ELLIPSIS
    732 sessions, 299 patients; ... groups shown, ...
    """

    db: str | Path | None = None
    parquet: str | Path | None = None
    engine: str = "duckdb"
    spark_master: str | None = None

    def __post_init__(self) -> None:
        if (self.db is None) == (self.parquet is None):
            raise ValueError("give the store as 'db' (a DuckDB file) or 'parquet' (a folder).")
        if self.engine not in ("duckdb", "spark"):
            raise ValueError(f"'engine' must be one of 'duckdb', 'spark'; got {self.engine!r}.")
        if self.engine == "spark" and self.parquet is None:
            raise ValueError("'engine' 'spark' reads a Parquet copy: give 'parquet'.")

    @contextmanager
    def _backend(self) -> Iterator[Backend]:
        from analysis.store.backends import open_source

        db = Path(self.db) if self.db is not None else None
        parquet = Path(self.parquet) if self.parquet is not None else None
        with open_source(db, parquet, engine=self.engine, master=self.spark_master) as backend:
            yield backend

    def ingest(
        self, *exports: str | Path, batch_rows: int | None = None, **options: Any
    ) -> list[IngestSummary]:
        """Check, score and append ``exports``, each response once; ``options`` as for
        :func:`alliance.read` (``map_file``, ``thresholds``, ``pseudonym_key``, ...)."""
        from analysis.store.ingest import ingest_files
        from analysis.store.writer import BATCH_ROWS

        if self.db is None:
            raise ValueError("ingest writes to a DuckDB store: give 'db'.")
        return ingest_files(
            Path(self.db),
            [Path(e) for e in exports],
            make_options(**options),
            batch_rows=BATCH_ROWS if batch_rows is None else batch_rows,
        )

    def benchmark(
        self,
        by: str = "clinician_id",
        *,
        since: str | date | None = None,
        min_n: int | None = None,
        adjust: tuple[str, ...] = (),
        perspective: str = "patient",
        identifiable: bool = False,
        alerts: AlertSettings | None = None,
    ) -> BenchmarkResult:
        """Groups compared fairly, as ``alliance benchmark``: shrunken estimates, funnel and
        trends, with the alerts; groups under ``min_n`` patients (default 5) suppressed."""
        from analysis.benchmark import DEFAULT_MIN_N
        from analysis.clinic import benchmark

        window = _date(since)
        with self._backend() as backend:
            return benchmark(
                backend,
                by,
                since=window,
                min_n=DEFAULT_MIN_N if min_n is None else min_n,
                adjust=tuple(adjust),
                perspective=perspective,
                identifiable=identifiable,
                settings=alerts,
            )

    def alerts(
        self,
        *,
        clinician: str | None = None,
        by: str = "clinician_id",
        since: str | date | None = None,
        min_n: int | None = None,
        alerts: AlertSettings | None = None,
    ) -> AlertCounts | Monitor:
        """Rupture alerts from the within-patient model, as ``alliance alerts``: counted by
        group and month, or with ``clinician`` that clinician's own list (identifiable)."""
        from analysis.benchmark import DEFAULT_MIN_N
        from analysis.monitor import alert_counts, monitor

        window = _date(since)
        with self._backend() as backend:
            m = monitor(
                backend,
                since=window,
                clinician=clinician,
                min_n=DEFAULT_MIN_N if min_n is None else min_n,
                settings=alerts,
            )
            return m if clinician is not None else alert_counts(backend, m, by)

    def validate(
        self,
        *,
        instrument: str = "alliance",
        model: str | None = None,
        group: str | None = None,
        perspective: str = "patient",
        since: str | date | None = None,
    ) -> StoreFit:
        """The hypothesized model fitted by ML to the store's complete responses from their
        moments, as ``alliance validate --db``."""
        from analysis.clinic.structure import fit_store
        from instrument import load_instrument

        window = _date(since)
        with self._backend() as backend:
            return fit_store(
                backend,
                load_instrument(instrument),
                model=model,
                group=group,
                perspective=perspective,
                since=window,
            )
