"""The survey platforms an export may come from, one module each, recognised by the export's
first rows in the order below (the first that knows the rows wins; else a plain table):

- :mod:`.qualtrics`: Qualtrics CSV, the current export and the legacy one;
- :mod:`.surveymonkey`: SurveyMonkey;
- :mod:`.redcap`: REDCap's raw record export and its label export;
- :mod:`.limesurvey`: LimeSurvey;
- :mod:`.base`: a plain table (CSV, and SPSS, Stata, Excel or Parquet files), which declares
  nothing.

Each says what its exports mean (:class:`.base.Platform`); analysis/ingest/read.py asks the
platform and knows no platform's name.
"""

from __future__ import annotations

from .base import Finding, Head, Layout, Marks, Platform
from .fhir import FHIR
from .limesurvey import LimeSurvey
from .qualtrics import Qualtrics
from .redcap import REDCap, REDCapLabels
from .surveymonkey import SurveyMonkey

PLAIN = Platform()
# In the order they are tried: REDCap's raw export before its label export, which shares
# no column with it; a plain table last.
PLATFORMS: tuple[Platform, ...] = (
    Qualtrics(),
    SurveyMonkey(),
    REDCap(),
    REDCapLabels(),
    LimeSurvey(),
)
# FHIR is read from JSON, never recognised from a table's first rows.
_BY_NAME = {p.name: p for p in (*PLATFORMS, FHIR())}


def detect(head: Head) -> Layout:
    """The layout of an export whose first rows are ``head``."""
    for platform in PLATFORMS:
        found = platform.detect(head)
        if found is not None:
            return found
    return Layout(PLAIN.name)


def platform_of(layout: Layout) -> Platform:
    """What the platform of ``layout`` declares (a plain table for csv, spss, stata)."""
    return _BY_NAME.get(layout.platform, PLAIN)


__all__ = ["PLATFORMS", "Finding", "Layout", "Marks", "Platform", "detect", "platform_of"]
