"""Column and key names, defined once so that no two modules spell them differently."""

from __future__ import annotations

RESPONSE_ID = "response_id"
RESPONDENT_ID = "respondent_id"
CLINICIAN_ID = "clinician_id"
SITE_ID = "site_id"
SESSION = "session"
DATE = "date"
PERSPECTIVE = "perspective"
DURATION = "duration_seconds"
DROPOUT = "dropout"

# Standard context columns (README, "Reading and checking an export"), in export order.
CONTEXT_COLUMNS = (RESPONSE_ID, RESPONDENT_ID, CLINICIAN_ID, SITE_ID, SESSION, DATE, PERSPECTIVE)
# Further columns the simulator writes: completion time (for too-fast checks) and an outcome
# (for criterion thresholds).
EXTRA_COLUMNS = (DURATION, DROPOUT)

# The position of a row in the export it was read from (1 = the first data row).
ROW_IN_EXPORT = "row_in_export"
