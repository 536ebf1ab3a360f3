"""The alliance over sessions and between the two sides, as pure computation: the
within-patient model (:mod:`.model`) and the alerts it raises (:mod:`.alerts`), the
reliable-change rule it replaced (:mod:`.rule`, the benchmark's comparison), a course of alerts
in one export (:mod:`.course`) and patient-clinician agreement (:mod:`.agreement`). Nothing
here reads a file or a store: the export pipeline uses it on the frames it has, and the
clinic's monitor (analysis.monitor) on the frames the store returns, so neither loads the
other's machinery."""

from .agreement import (
    LOA_Z,
    agreement,
    agreement_density,
    icc_a1,
    pair_sessions,
    unseen_ruptures,
)
from .rule import (
    DEFAULT_ESTABLISH_WITHIN,
    EVENTS,
    NEVER,
    RCI_Z,
    REPAIR,
    RUPTURE,
    Margin,
    best_factor,
    best_factors,
    find_alerts,
    rupture_states,
)

__all__ = [
    "DEFAULT_ESTABLISH_WITHIN",
    "EVENTS",
    "LOA_Z",
    "NEVER",
    "RCI_Z",
    "REPAIR",
    "RUPTURE",
    "Margin",
    "agreement",
    "agreement_density",
    "best_factor",
    "best_factors",
    "find_alerts",
    "icc_a1",
    "pair_sessions",
    "rupture_states",
    "unseen_ruptures",
]
