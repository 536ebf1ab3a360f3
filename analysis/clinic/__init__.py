"""The clinic's questions of its store, answered whole: the benchmark with the alerts and the
agreement beside it (:mod:`.compare`), a clinician's own view (:mod:`.view`), and the
structure check on the whole store (:mod:`.structure`, imported on its own: it needs the CFA
engine). analysis.benchmark and analysis.monitor each answer half and know nothing of each
other; this package is where they meet."""

from .compare import benchmark
from .view import ClinicianView, clinician_view

__all__ = ["ClinicianView", "benchmark", "clinician_view"]
