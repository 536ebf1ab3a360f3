"""Benchmarking clinicians and sites from the clinic store."""

from __future__ import annotations

from .compare import DEFAULT_MIN_N, GROUPINGS, BenchmarkResult, load_norms, run_benchmark
from .funnel import Funnel, funnel
from .mixed import NestedFit, PatientSummaries, fit_nested

__all__ = [
    "DEFAULT_MIN_N",
    "GROUPINGS",
    "BenchmarkResult",
    "Funnel",
    "NestedFit",
    "PatientSummaries",
    "fit_nested",
    "funnel",
    "load_norms",
    "run_benchmark",
]
