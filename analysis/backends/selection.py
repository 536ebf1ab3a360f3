"""What a store query selects, shared by the benchmark, the alerts and the store's CFA: the
groups a comparison runs over, and the sessions of a perspective since a date."""

from __future__ import annotations

from datetime import date
from typing import Any

from .. import names

# --by's choices and the store column each one groups by.
GROUPINGS = {"clinician_id": names.CLINICIAN_ID, "site_id": names.SITE_ID, "site": names.SITE_ID}


def session_filter(since: date | None, perspective: str, alias: str = "") -> tuple[str, list[Any]]:
    """The SQL condition (and its parameters) for the perspective's sessions since a date."""
    clauses = [f"coalesce({alias}perspective, 'patient') = ?"]
    params: list[Any] = [perspective]
    if since is not None:
        clauses.append(f"{alias}date >= ?")
        params.append(since)
    return " AND ".join(clauses), params
