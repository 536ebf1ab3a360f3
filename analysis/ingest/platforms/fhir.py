"""HL7 FHIR QuestionnaireResponses (analysis/ingest/fhir.py reads them into a table whose
context columns already carry our names): its bookkeeping columns are metadata, and its marks
set aside responses entered in error, to another instrument's Questionnaire, or unreadable."""

from __future__ import annotations

import pandas as pd

from .. import fhir
from .base import Marks, Platform


class FHIR(Platform):
    name = "fhir"
    metadata = fhir.METADATA

    def marks(self, frame: pd.DataFrame, item_columns: set[str], require_complete: bool) -> Marks:
        flags, findings = fhir.marks(frame)
        sources = tuple(
            (kind, column)
            for kind, column in (
                ("entered_in_error", fhir.STATUS),
                ("other_questionnaire", fhir.QUESTIONNAIRE),
                ("unreadable", fhir.UNREADABLE),
            )
            if (flags == kind).any()
        )
        return Marks(flags, tuple(findings), sources)
