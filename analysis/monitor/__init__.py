"""Rupture alerts and patient-clinician agreement from the clinic store: a clinician's own
list, and counts per group and month for everyone else. The rule itself is analysis.ruptures'
and the queries are analysis.store's; this package computes on the frames they return."""

from .run import AlertCounts, Monitor, agreement_by_group, alert_counts, monitor

__all__ = ["AlertCounts", "Monitor", "agreement_by_group", "alert_counts", "monitor"]
