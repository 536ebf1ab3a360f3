"""The clinic's benchmark whole: the groups compared (analysis.benchmark) with the alerts and
the agreement of the same window (analysis.monitor) beside them. The two packages know nothing
of each other; this module puts them together, under the benchmark's small-cell and
differencing rules."""

from __future__ import annotations

from datetime import date

import pandas as pd

from ..benchmark import DEFAULT_MIN_N, BenchmarkResult, run_benchmark
from ..benchmark.compare import ExtrasFor, GroupExtras
from ..monitor import agreement_by_group, alert_counts, monitor
from ..ruptures import agreement_density
from ..ruptures.alerts import AlertRule, AlertSettings
from ..store.backends import Backend
from ..store.schema import StoreError

ALERT_COLUMNS = (
    "ruptures",
    "patients_with_rupture",
    "repairs",
    "below_minimum",
    "never_established",
    "ruptures_per_100_sessions",
)


def alerts_and_agreement(
    backend: Backend,
    since: date | None,
    perspective: str,
    min_n: int,
    identifiable: bool,
    settings: AlertSettings | None = None,
    rule: AlertRule | None = None,
) -> ExtrasFor:
    """What adds the alert counts and the patient-clinician agreement to the groups a
    benchmark shows, each cell under the benchmark's small-cell and differencing rules."""

    def extras(group: str, shown: list[str]) -> GroupExtras | None:
        try:
            m = monitor(
                backend,
                since=since,
                perspective=perspective,
                min_n=min_n,
                settings=settings,
                rule=rule,
            )
        except StoreError:
            return None
        counts = alert_counts(backend, m, group, identifiable=identifiable)
        per_group = counts.groups[counts.groups["group"].isin(shown)]
        per_group = per_group[["group", *ALERT_COLUMNS, *(f"{p}_ruptures" for p in m.pillars)]]
        pairs, overall, notes = agreement_by_group(
            backend, m, group, shown, identifiable=identifiable
        )
        density = {}
        if overall is not None:
            density = agreement_density(m.pairs, list(m.pillars), min_n)
        return GroupExtras(
            m.rule(), counts.totals, per_group, pairs, overall, density, counts.notes + notes
        )

    return extras


def benchmark(
    backend: Backend,
    by: str,
    *,
    since: date | None = None,
    norms: pd.DataFrame | None = None,
    norms_source: str = "",
    min_n: int = DEFAULT_MIN_N,
    adjust: tuple[str, ...] = (),
    perspective: str = "patient",
    identifiable: bool = False,
    settings: AlertSettings | None = None,
    rule: AlertRule | None = None,
) -> BenchmarkResult:
    """The store's groups (``by``: clinician_id or site_id) compared, with their alerts and
    agreement: :func:`analysis.benchmark.run_benchmark` with the monitor's counts added."""
    return run_benchmark(
        backend,
        by,
        since=since,
        norms=norms,
        norms_source=norms_source,
        min_n=min_n,
        adjust=adjust,
        perspective=perspective,
        identifiable=identifiable,
        extras=alerts_and_agreement(
            backend, since, perspective, min_n, identifiable, settings, rule
        ),
    )
