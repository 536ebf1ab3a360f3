"""Rupture alerts: each pillar checked against its own minimum and its own measurement error.

Per patient and pillar, over the patient's sessions in order (session number, then date), a
session is *in rupture* when the pillar is

- below its minimum (the rule's minimum for that pillar), or
- lower than the patient's previous session by more than the pillar's reliable-change margin,
  or lower than the patient's best session so far by more than that margin.

The margin is Jacobson and Truax's (1991) reliable change: ``1.96 * sqrt(2) * SEM`` with
``SEM = SD * sqrt(1 - reliability)`` of that pillar, so a change beyond it is unlikely (p <
.05) from measurement error alone. An **alert** (``rupture``) is the first session of a run in
rupture that follows a session that was not; a **repair** is the first session after such a
run that is no longer in rupture. A run that starts at the patient's first session is not an
alert: that alliance was never established, and a patient whose alliance has not been
adequate (every pillar at or above its minimum) in any of their first ``establish_within``
sessions is flagged ``never_established`` at that session.

A session whose pillar could not be scored is passed over for that pillar. Alerts depend on a
patient's own history only, so an alert at a session is the same whatever date window the
output shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import names

RCI_Z = 1.959964  # two-sided 5%
DEFAULT_ESTABLISH_WITHIN = 3
RUPTURE, REPAIR, NEVER = "rupture", "repair", "never_established"
EVENTS = (RUPTURE, REPAIR, NEVER)
ALERT_COLUMNS = (
    names.RESPONDENT_ID,
    names.CLINICIAN_ID,
    names.SITE_ID,
    names.SESSION,
    names.DATE,
    "pillar",
    "event",
    "score",
    "minimum",
    "previous",
    "best",
    "margin",
    "reason",
)
RULE_TEXT = (
    "A pillar is in rupture at a session when it is below its minimum, or more than its "
    "reliable-change margin below the patient's previous or best session; the margin is "
    "1.96 x sqrt(2) x SEM of that pillar (Jacobson & Truax, 1991), SEM = SD x sqrt(1 - "
    "reliability). An alert is the first session in rupture after one that was not; a repair "
    "is the first session after it that is not. A patient whose alliance is not adequate in any "
    "of the first {n} sessions is flagged as never established."
)


@dataclass(frozen=True)
class Margin:
    """One pillar's reliable-change margin and where it came from."""

    pillar: str
    reliability: float
    sd: float
    rows: int  # scored sessions the reliability and SD rest on

    @property
    def sem(self) -> float:
        return float(self.sd * np.sqrt(max(1.0 - self.reliability, 0.0)))

    @property
    def margin(self) -> float:
        return float(RCI_Z * np.sqrt(2.0) * self.sem)

    def to_dict(self) -> dict[str, float | int | str]:
        return {
            "pillar": self.pillar,
            "reliability": self.reliability,
            "sd": self.sd,
            "sem": self.sem,
            "margin": self.margin,
            "rows": self.rows,
        }


def _ordered(sessions: pd.DataFrame) -> pd.DataFrame:
    keys = [names.RESPONDENT_ID, names.SESSION, names.DATE]
    return sessions.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)


def _pillar_events(s: pd.DataFrame, pillar: str, margin: float) -> pd.DataFrame:
    """Ruptures and repairs of one pillar; ``s`` is sorted, one row per session."""
    rows = s[s[pillar].notna()]
    score = rows[pillar].to_numpy(float)
    minimum = rows[f"{pillar}_minimum"].to_numpy(float)
    patient = rows[names.RESPONDENT_ID].to_numpy()
    grouped = rows.groupby(names.RESPONDENT_ID, sort=False)[pillar]
    previous = grouped.shift(1).to_numpy(float)
    running_best = grouped.cummax()
    best = running_best.groupby(patient, sort=False).shift(1).to_numpy(float)
    below = ~rows[f"{pillar}_pass"].fillna(True).to_numpy(bool)
    with np.errstate(invalid="ignore"):
        from_previous = previous - score > margin
        from_best = best - score > margin
    state = below | from_previous | from_best
    first = np.r_[True, patient[1:] != patient[:-1]]
    # Runs of consecutive sessions in the same state, within a patient.
    change = first | np.r_[True, state[1:] != state[:-1]]
    run = np.cumsum(change)
    run_start_first = pd.Series(first).groupby(run).transform("first").to_numpy(bool)
    rupture = state & change & ~first
    # A repair ends a run that began with an alert: the previous run's first session was not
    # the patient's first.
    prev_run_alerted = np.r_[False, (state & ~run_start_first)[:-1]]
    repair = ~state & change & ~first & prev_run_alerted
    out = []
    for kind, mask in ((RUPTURE, rupture), (REPAIR, repair)):
        if not mask.any():
            continue
        part = rows.loc[mask, [c for c in ALERT_COLUMNS if c in rows.columns]].copy()
        part["pillar"] = pillar
        part["event"] = kind
        part["score"] = score[mask]
        part["minimum"] = minimum[mask]
        part["previous"] = previous[mask]
        part["best"] = best[mask]
        part["margin"] = margin
        part["reason"] = _reasons(
            kind,
            score[mask],
            minimum[mask],
            previous[mask],
            best[mask],
            margin,
            below[mask],
            from_previous[mask],
            from_best[mask],
        )
        out.append(part)
    return pd.concat(out) if out else pd.DataFrame(columns=list(ALERT_COLUMNS))


def _reasons(
    kind: str,
    score: np.ndarray,
    minimum: np.ndarray,
    previous: np.ndarray,
    best: np.ndarray,
    margin: float,
    below: np.ndarray,
    from_previous: np.ndarray,
    from_best: np.ndarray,
) -> list[str]:
    texts = []
    for k in range(len(score)):
        if kind == REPAIR:
            texts.append(
                f"back at or above the minimum {minimum[k]:.2f} and within {margin:.2f} of the "
                f"previous and best sessions"
            )
            continue
        parts = []
        if below[k]:
            parts.append(f"{score[k]:.2f} is below the minimum {minimum[k]:.2f}")
        if from_previous[k]:
            parts.append(f"{previous[k] - score[k]:.2f} below the previous session")
        if from_best[k]:
            parts.append(f"{best[k] - score[k]:.2f} below the best session")
        drop = from_previous[k] or from_best[k]
        texts.append("; ".join(parts) + (f" (margin {margin:.2f})" if drop else ""))
    return texts


def _never_established(s: pd.DataFrame, within: int) -> pd.DataFrame:
    decided = s[s["alliance_status"].isin(("adequate", "inadequate"))]
    rank = decided.groupby(names.RESPONDENT_ID, sort=False).cumcount() + 1
    adequate = (
        (decided["alliance_status"] == "adequate")
        .groupby(decided[names.RESPONDENT_ID], sort=False)
        .cummax()
    )
    mask = (rank == within) & ~adequate
    part = decided.loc[mask, [c for c in ALERT_COLUMNS if c in decided.columns]].copy()
    part["pillar"] = None
    part["event"] = NEVER
    part["reason"] = f"not adequate in any of the first {within} scored sessions"
    return part


def find_alerts(
    sessions: pd.DataFrame,
    margins: dict[str, Margin],
    *,
    establish_within: int = DEFAULT_ESTABLISH_WITHIN,
) -> pd.DataFrame:
    """The alert events of every patient in ``sessions``.

    ``sessions``: one row per scored session with respondent_id, session, date (and
    clinician_id, site_id when known), ``alliance_status`` and per pillar ``<p>``,
    ``<p>_pass`` and ``<p>_minimum``. Returns one row per event (:data:`ALERT_COLUMNS`), in
    patient and session order.
    """
    if establish_within < 1:
        raise ValueError(f"'establish_within' must be at least 1; got {establish_within}.")
    s = _ordered(sessions)
    parts = [_pillar_events(s, p, m.margin) for p, m in margins.items()]
    parts.append(_never_established(s, establish_within))
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=list(ALERT_COLUMNS))
    out = pd.concat(parts)
    order = {p: k for k, p in enumerate(margins)}
    out["_pillar_order"] = out["pillar"].map(order).fillna(len(order))
    out = out.sort_values(
        [names.RESPONDENT_ID, names.SESSION, names.DATE, "_pillar_order"], kind="stable"
    )
    return out.drop(columns="_pillar_order").reset_index(drop=True)[
        [c for c in ALERT_COLUMNS if c in out.columns]
    ]
