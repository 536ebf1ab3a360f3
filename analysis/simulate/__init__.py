"""Realistic simulated survey exports: the demo's, the tests' and the benchmarks' data."""

from .population import (
    Dif,
    Population,
    Simulated,
    parallel_form,
    population_for,
    simulate,
    simulate_perspectives,
)
from .writers import SIMULATE_FORMATS, form_for, format_for, write_export

__all__ = [
    "SIMULATE_FORMATS",
    "Dif",
    "Population",
    "Simulated",
    "form_for",
    "format_for",
    "parallel_form",
    "population_for",
    "simulate",
    "simulate_perspectives",
    "write_export",
]
