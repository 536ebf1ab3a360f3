"""Benchmarking clinicians and sites from the frames the clinic store returns
(analysis.store.queries.groups); analysis.clinic adds the alerts and the agreement."""

from __future__ import annotations

from .compare import (
    DEFAULT_MIN_N,
    BenchmarkResult,
    ExtrasFor,
    GroupExtras,
    load_norms,
    run_benchmark,
)
from .funnel import Funnel, funnel
from .mixed import NestedFit, PatientSummaries, fit_nested

__all__ = [
    "DEFAULT_MIN_N",
    "BenchmarkResult",
    "ExtrasFor",
    "Funnel",
    "GroupExtras",
    "NestedFit",
    "PatientSummaries",
    "fit_nested",
    "funnel",
    "load_norms",
    "run_benchmark",
]
