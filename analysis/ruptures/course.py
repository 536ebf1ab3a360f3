"""Rupture alerts in one export: how many, on which pillar, and at which session, in counts.

The clinic store is where alerts are followed patient by patient. An export that holds several
sessions per patient (``respondent_id`` and ``session``) carries the same course, and the
report of that export shows it in aggregate: per pillar the alerts, repairs and patients
alerted, and per session number the share of patients in rupture. No patient is listed, and a
session number with fewer than ``min_n`` patients is left out. The within-patient model
(:mod:`.model`) is fitted to this export's own sessions, its item error from the export's
reliability and SD, as an ingest of it would record them; its operating point is stated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import names
from ..privacy import MIN_N_FLOOR
from ..scoring import ScoreResult
from .alerts import (
    BELOW,
    AlertRule,
    AlertSettings,
    alert_rule,
    filtered,
    find_model_alerts,
    rupture_table,
)
from .model import fit_within
from .rule import NEVER, REPAIR, RUPTURE


@dataclass(frozen=True)
class Course:
    pillars: tuple[str, ...]
    rule: AlertRule | None  # None when the export cannot carry the model (``unavailable``)
    patients: int  # patients with two or more scored sessions: the ones alerts can concern
    sessions: int  # their scored sessions
    per_pillar: pd.DataFrame  # index pillar
    by_session: pd.DataFrame  # index session number: patients and % in rupture per pillar
    never_established: int
    establish_within: int
    min_n: int
    notes: list[str] = field(default_factory=list)
    unavailable: str = ""
    metric: str = "item means"  # or "theta" (a calibration's EAP scores and their own SEs)

    def first_line(self) -> str:
        """The operating point in one sentence (or why there are no alerts)."""
        if self.rule is None:
            return self.unavailable
        return f"Rupture {self.rule.first_line()} (on {self.metric})"


def export_course(
    scored: ScoreResult,
    *,
    min_n: int = MIN_N_FLOOR,
    settings: AlertSettings | None = None,
    theta_minimums: dict[str, float] | None = None,
) -> Course | None:
    """The alerts of an export with repeated sessions; None when it has no patient with two
    scored sessions (or no rule, or no session numbers). With ``theta_minimums`` (each pillar's
    minimum on a calibration's theta) and theta columns in the scores, the model runs on theta
    with each session's own SE, so that the ceiling is in the error; otherwise on the item
    means with alpha's SEM."""
    settings = settings or AlertSettings()
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
    minimums = {threshold.pillar: threshold.value for threshold in c.thresholds}
    for p, value in minimums.items():
        t[f"{p}_minimum"] = value
    decided = t["alliance_status"].isin(("adequate", "inadequate"))
    counts = t[decided].groupby(names.RESPONDENT_ID).size()
    followed = counts[counts >= 2].index
    t = t[t[names.RESPONDENT_ID].isin(followed)]
    if not len(t):
        return None
    error = {p: float(c.error.sd[p] ** 2 * max(1.0 - c.error.reliability[p], 0.0)) for p in pillars}
    errors = None
    metric = "item means"
    theta = [f"{p}_theta" for p in pillars] + [f"{p}_theta_se" for p in pillars]
    if theta_minimums is not None and set(theta) <= set(t):
        # the pillars' columns hold theta from here on, their minimums theta's
        t = t.assign(
            **{p: t[f"{p}_theta"] for p in pillars},
            **{f"{p}_minimum": theta_minimums[p] for p in pillars},
        )
        error = {p: float(np.nanmean(t[f"{p}_theta_se"] ** 2)) for p in pillars}
        errors = {p: f"{p}_theta_se" for p in pillars}
        metric = "theta"
        minimums = dict(theta_minimums)

    def course(**parts: object) -> Course:
        base: dict[str, object] = {
            "pillars": tuple(pillars),
            "rule": None,
            "patients": len(followed),
            "sessions": len(t),
            "per_pillar": pd.DataFrame(index=pd.Index(pillars, name="pillar")),
            "by_session": pd.DataFrame(),
            "never_established": 0,
            "establish_within": settings.establish_within,
            "min_n": min_n,
            "notes": notes,
        }
        return Course(**{**base, **parts})  # type: ignore[arg-type]

    try:
        model = fit_within(t, pillars, error)
    except ValueError as exc:
        return course(unavailable=f"No rupture alerts: {exc}")
    rule = alert_rule(
        model,
        minimums,
        settings,
        source=f"this export's {model.rows:,} sessions of {model.patients:,} patients, on {metric}",
        errors=errors,
        sessions=t,
    )
    run = filtered(t, rule)  # once, for the events and the states
    events = find_model_alerts(t, rule, run=run)
    per_pillar = pd.DataFrame(index=pd.Index(pillars, name="pillar"))

    def count(kind: str, column: str = "") -> pd.Series:
        part = events[events["event"] == kind]
        if column:
            part = part[part["status"] == column]
        return part.groupby("pillar").size().reindex(pillars, fill_value=0)

    ruptures = events[events["event"] == RUPTURE]
    per_pillar["alerts"] = count(RUPTURE)
    per_pillar["patients alerted"] = (
        ruptures.groupby("pillar")[names.RESPONDENT_ID].nunique().reindex(pillars, fill_value=0)
    )
    per_pillar["repairs"] = count(REPAIR)
    per_pillar["still open"] = count(RUPTURE, "still open")
    per_pillar["alerts per 100 patients"] = 100 * per_pillar["alerts"] / len(followed)
    per_pillar["levels below minimum"] = count(BELOW)
    per_pillar["minimum"] = pd.Series(minimums)
    per_pillar["drop"] = pd.Series(rule.drops())
    per_pillar["true-score SD"] = model.true_sd
    per_pillar["session SD"] = np.sqrt(np.diag(model.sessions))
    per_pillar["item error SD"] = np.sqrt(model.error)
    if metric == "theta":
        notes.append(
            "Scores, minimums and SDs are on theta (the calibration's EAP), each session "
            "with its own SE; the item error SD is the root of the mean squared SE."
        )
    states = rupture_table(t, rule, run)
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
    notes.extend(model.notes)
    return course(
        rule=rule,
        per_pillar=per_pillar,
        by_session=by_session,
        never_established=int((events["event"] == NEVER).sum()),
        metric=metric,
    )
