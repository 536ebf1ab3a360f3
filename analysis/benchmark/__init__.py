"""Benchmarking clinicians and sites from the frames the clinic store returns
(analysis.store.queries.groups); analysis.clinic adds the alerts and the agreement."""

from __future__ import annotations

from ..mixed import NestedFit, PatientSummaries, fit_nested
from .compare import (
    DEFAULT_MIN_N,
    BenchmarkResult,
    ExtrasFor,
    GroupExtras,
    load_norms,
    run_benchmark,
)
from .funnel import Funnel, funnel

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
