"""A clinician's own view of the store: their patients' alerts (identifiable) beside where
they sit among colleagues (unnamed); the command line and the demo take it from here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..benchmark import DEFAULT_MIN_N, BenchmarkResult
from ..monitor import Monitor, monitor
from ..ruptures.alerts import AlertSettings
from ..store.backends import Backend
from .compare import benchmark

__all__ = ["ClinicianView", "clinician_view"]


@dataclass(frozen=True)
class ClinicianView:
    """One clinician's patients (``patients``: identifiable) and the clinicians' benchmark of
    the same window (``colleagues``)."""

    clinician: str
    patients: Monitor
    colleagues: BenchmarkResult
    source: str


def clinician_view(
    backend: Backend,
    clinician: str,
    *,
    since: date | None = None,
    min_n: int = DEFAULT_MIN_N,
    key: str | None = None,
    settings: AlertSettings | None = None,
    benchmarked: BenchmarkResult | None = None,
) -> ClinicianView:
    """The clinician's patients since ``since``, with patient ids replaced by their keyed
    pseudonyms when ``key`` is given, and the benchmark by clinician of the same window
    (``benchmarked``: when the caller has already run it)."""
    patients = monitor(
        backend,
        since=since,
        clinician=clinician,
        min_n=min_n,
        settings=settings,
    )
    colleagues = benchmarked or benchmark(
        backend,
        "clinician_id",
        since=since,
        min_n=min_n,
        settings=settings,
        rule=patients.alert_rule,  # the store's, fitted once for both
    )
    if key is not None:
        patients = patients.pseudonymized(key)
    return ClinicianView(clinician, patients, colleagues, backend.name)
