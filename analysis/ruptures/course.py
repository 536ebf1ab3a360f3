"""Rupture alerts in one export: how many, on which pillar, and at which session, in counts.

The clinic store is where alerts are followed patient by patient. An export that holds several
sessions per patient (``respondent_id`` and ``session``) carries the same course, and the
report of that export shows it in aggregate: per pillar the alerts, repairs and patients
alerted, and per session number the share of patients in rupture. No patient is listed, and a
session number with fewer than ``min_n`` patients is left out. The margins come from the
export's own reliability and SD, as an ingest of it would record them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .. import names
from ..privacy import MIN_N_FLOOR
from ..scoring import ScoreResult
from .rule import (
    DEFAULT_ESTABLISH_WITHIN,
    NEVER,
    REPAIR,
    RULE_TEXT,
    RUPTURE,
    Margin,
    find_alerts,
    margin_table,
    rupture_states,
)


@dataclass(frozen=True)
class Course:
    pillars: tuple[str, ...]
    margins: dict[str, Margin]
    patients: int  # patients with two or more scored sessions: the ones alerts can concern
    sessions: int  # their scored sessions
    per_pillar: pd.DataFrame  # index pillar
    by_session: pd.DataFrame  # index session number: patients and % in rupture per pillar
    never_established: int
    establish_within: int
    min_n: int
    notes: list[str] = field(default_factory=list)

    def rule(self) -> str:
        return RULE_TEXT.format(n=self.establish_within)


def export_course(
    scored: ScoreResult,
    *,
    min_n: int = MIN_N_FLOOR,
    establish_within: int = DEFAULT_ESTABLISH_WITHIN,
) -> Course | None:
    """The alerts of an export with repeated sessions; None when it has no patient with two
    scored sessions (or no rule, or no session numbers)."""
    c = scored.classification
    table = scored.table
    if c is None or c.error is None or not {names.RESPONDENT_ID, names.SESSION} <= set(table):
        return None
    pillars = [t.pillar for t in c.thresholds]
    notes = []
    unnumbered = table[names.SESSION].isna() | table[names.RESPONDENT_ID].isna()
    if unnumbered.any():
        notes.append(
            f"{int(unnumbered.sum()):,} responses without a patient id or session number are "
            "left out of the alerts."
        )
    t = table[~unnumbered].copy()
    if names.DATE in t:
        t[names.DATE] = pd.to_datetime(t[names.DATE], errors="coerce")
    else:
        t[names.DATE] = pd.NaT
    for threshold in c.thresholds:
        t[f"{threshold.pillar}_minimum"] = threshold.value
    decided = t["alliance_status"].isin(("adequate", "inadequate"))
    counts = t[decided].groupby(names.RESPONDENT_ID).size()
    followed = counts[counts >= 2].index
    t = t[t[names.RESPONDENT_ID].isin(followed)]
    if not len(t):
        return None
    margins = {
        p: Margin(
            p, float(c.error.reliability[p]), float(c.error.sd[p]), int(table[p].notna().sum())
        )
        for p in pillars
    }
    events = find_alerts(t, margins, establish_within=establish_within)
    per_pillar = pd.DataFrame(index=pd.Index(pillars, name="pillar"))
    ruptures = events[events["event"] == RUPTURE]
    per_pillar["alerts"] = ruptures.groupby("pillar").size().reindex(pillars, fill_value=0)
    per_pillar["patients alerted"] = (
        ruptures.groupby("pillar")[names.RESPONDENT_ID].nunique().reindex(pillars, fill_value=0)
    )
    per_pillar["repairs"] = (
        events[events["event"] == REPAIR].groupby("pillar").size().reindex(pillars, fill_value=0)
    )
    per_pillar["alerts per 100 patients"] = 100 * per_pillar["alerts"] / len(followed)
    per_pillar = per_pillar.join(margin_table(margins))
    states = rupture_states(t, margins)
    states["any pillar"] = states[pillars].any(axis=1)
    grouped = states.groupby(names.SESSION)
    by_session = pd.DataFrame({"patients": grouped[names.RESPONDENT_ID].nunique()})
    for column in [*pillars, "any pillar"]:
        by_session[f"% {column}"] = 100 * grouped[column].mean()
    small = by_session["patients"] < min_n
    if small.any():
        notes.append(
            f"{int(small.sum())} session numbers with fewer than {min_n} patients are not shown."
        )
    by_session = by_session[~small]
    by_session.index = by_session.index.astype(int)
    by_session.index.name = "session"
    return Course(
        pillars=tuple(pillars),
        margins=margins,
        patients=len(followed),
        sessions=len(t),
        per_pillar=per_pillar,
        by_session=by_session,
        never_established=int((events["event"] == NEVER).sum()),
        establish_within=establish_within,
        min_n=min_n,
        notes=notes,
    )
