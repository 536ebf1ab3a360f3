"""Where the clinic store's comparisons run: the engines that answer the benchmark's, the
alerts' and the differencing guard's queries, behind one seam.

The statistics (analysis/benchmark, analysis/monitor) ask a :class:`Backend`, through the
named aggregates of analysis/store/queries, for the result of a query written in the SQL both
engines speak, and compute on the small frames that come back.
What differs between engines (quoting a name, a month's label, a session's hash, how a
candidate cell's sessions reach the release log) is a method of the backend. Two engines:

- :class:`~.duckdb.DuckDBBackend`: the store itself, or a Parquet copy read through DuckDB
  views (the default; needs nothing beyond the package);
- :class:`~.spark.SparkBackend`: Apache Spark over a Parquet copy (local mode, or a
  cluster by its master URL or the standard Spark configuration).

The log of released cells (analysis/store/disclosure.py) is always a DuckDB database: the
store's own tables, or ``releases.duckdb`` beside a Parquet copy.
"""

from .base import Backend, json_differences, store_pillars
from .duckdb import DuckDBBackend
from .source import open_source

__all__ = ["Backend", "DuckDBBackend", "json_differences", "open_source", "store_pillars"]
