"""The alliance over sessions and between the two sides: rupture alerts and patient-clinician
agreement, from the clinic store."""

from ..backends import store_pillars
from .agreement import agreement, agreement_density, icc_a1, pair_sessions, unseen_ruptures
from .alerts import (
    DEFAULT_ESTABLISH_WITHIN,
    EVENTS,
    NEVER,
    RCI_Z,
    REPAIR,
    RULE_TEXT,
    RUPTURE,
    Margin,
    best_factor,
    find_alerts,
    margin_table,
    rupture_states,
)
from .run import AlertCounts, Monitor, agreement_by_group, alert_counts, monitor
from .source import load_margins, load_sessions

__all__ = [
    "DEFAULT_ESTABLISH_WITHIN",
    "EVENTS",
    "NEVER",
    "RCI_Z",
    "REPAIR",
    "RULE_TEXT",
    "RUPTURE",
    "AlertCounts",
    "Margin",
    "Monitor",
    "agreement",
    "agreement_by_group",
    "agreement_density",
    "alert_counts",
    "best_factor",
    "find_alerts",
    "icc_a1",
    "load_margins",
    "load_sessions",
    "margin_table",
    "monitor",
    "pair_sessions",
    "rupture_states",
    "store_pillars",
    "unseen_ruptures",
]
