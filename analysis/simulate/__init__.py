"""Realistic simulated survey exports: the demo's, the tests' and the benchmarks' data."""

from .population import Dif, Population, Simulated, population_for, simulate
from .writers import SIMULATE_FORMATS, write_export

__all__ = [
    "SIMULATE_FORMATS",
    "Dif",
    "Population",
    "Simulated",
    "population_for",
    "simulate",
    "write_export",
]
