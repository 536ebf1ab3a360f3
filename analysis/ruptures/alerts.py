"""Rupture alerts from the within-patient model (:mod:`.model`), as every output raises them:
the rule in use with its operating point, and the events and states of a frame of sessions.

The events, per patient and pillar:

- ``rupture``: the probability that the pillar fell by more than the stated drop (from what the
  patient's history and the other pillars predict) rises above the threshold at a session
  after the first;
- ``repair``: the first session after it where that probability is below one minus the
  threshold (the mirror image); a rupture without one is still open;
- ``below_minimum``: the probability that the patient's level on the pillar is below its
  minimum rises above the threshold after the first session; it says where the patient
  stands, not that a pillar fell, and is counted apart from the ruptures;
- ``never_established``: the alliance is not adequate in any of the patient's first sessions.

The operating point (threshold, expected false alerts, share of one-SD ruptures caught) comes
from the fitted model, so it is this clinic's, and it is stated wherever alerts are raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .. import names
from .model import (
    DEFAULT_DROP,
    DEFAULT_RATE,
    SESSIONS,
    Filtered,
    OperatingPoint,
    WithinModel,
    alert_states,
    filter_sessions,
    fit_scale,
    operating_point,
    transitions,
)
from .rule import (
    DEFAULT_ESTABLISH_WITHIN,
    REPAIR,
    RUPTURE,
    SESSION_KEYS,
    never_established,
)

BELOW = "below_minimum"
EVENT_COLUMNS = (
    *SESSION_KEYS,
    "pillar",
    "event",
    "score",
    "minimum",
    "fall",
    "probability",
    "status",
    "reason",
)
RULE_TEXT = (
    "A pillar ruptures at a session when the probability that it fell by more than {drop:g} "
    "of its true-score SD ({units}) rises above {threshold:.3f}. The fall is the pillar's "
    "departure from what the patient's own history and the other pillars of the same session "
    "predict, in a within-patient model fitted to {source} (each pillar's level, trend, "
    "session-to-session variance with its autocorrelation, and item error); a fall of every "
    "pillar at once is the day's mood, not a rupture. The rupture is repaired at the first "
    "session where that probability is below {hold:.3f}. A level below a pillar's minimum "
    "(probability above {threshold:.3f}) is reported apart, as where the patient stands. A "
    "patient whose alliance is not adequate in any of the first {establish} sessions is "
    "flagged as never established."
)


@dataclass(frozen=True)
class AlertSettings:
    """What a user chooses of the alerts: a target false-alert rate per 100 patients over
    :data:`~analysis.ruptures.model.SESSIONS` sessions (or a threshold instead), the fall that
    matters in true-score SDs, and the sessions within which an alliance must be established."""

    rate: float | None = DEFAULT_RATE
    threshold: float | None = None
    drop: float = DEFAULT_DROP
    establish_within: int = DEFAULT_ESTABLISH_WITHIN


@dataclass(frozen=True)
class AlertRule:
    """The model the alerts come from and the operating point they run at."""

    model: WithinModel
    point: OperatingPoint
    establish_within: int = DEFAULT_ESTABLISH_WITHIN
    source: str = "this clinic's sessions"
    # per pillar, the column of each session's own standard error (theta's), or None: the
    # model's one item error for every session (item means)
    errors: dict[str, str] | None = None

    @property
    def threshold(self) -> float:
        return self.point.threshold

    def drops(self) -> dict[str, float]:
        """The stated drop of each pillar in its score units."""
        units = self.point.drop * self.model.true_sd
        return dict(zip(self.model.pillars, map(float, units), strict=True))

    def text(self) -> str:
        units = ", ".join(f"{p} {d:.2f}" for p, d in self.drops().items())
        return RULE_TEXT.format(
            drop=self.point.drop,
            units=units,
            threshold=self.threshold,
            hold=1 - self.threshold,
            source=self.source,
            establish=self.establish_within,
        )

    def first_line(self) -> str:
        """The operating point in one sentence, for the first line of an output."""
        return self.point.sentence()

    def to_dict(self) -> dict[str, Any]:
        return {
            "first_line": self.first_line(),
            "text": self.text(),
            "operating_point": self.point.to_dict(),
            "drop_in_score_units": self.drops(),
            "establish_within": self.establish_within,
            "model": self.model.to_dict(),
        }


def alert_rule(
    model: WithinModel,
    minimums: dict[str, float],
    settings: AlertSettings | None = None,
    source: str = "this clinic's sessions",
    errors: dict[str, str] | None = None,
    sessions: pd.DataFrame | None = None,
) -> AlertRule:
    """The rule at the settings' threshold, or at the one whose expected false alerts per 100
    patients over :data:`~analysis.ruptures.model.SESSIONS` sessions come nearest the settings'
    rate without exceeding it. With ``sessions`` (the clinic's own, or a sample of whole
    patients): on item means (no ``errors``), the spread of the departures is fitted along the
    scale first (:func:`~analysis.ruptures.model.fit_scale`); and the alerts those sessions
    raise at the threshold, true and false together, are counted beside the model's figure."""
    s = settings or AlertSettings()
    if s.establish_within < 1:
        raise ValueError(f"'establish_within' must be at least 1; got {s.establish_within}.")
    if not s.drop > 0:
        raise ValueError(f"'drop' must be a positive number of true-score SDs; got {s.drop}.")
    data = None
    if sessions is not None:
        if errors is None:  # theta's own SEs already carry the ceiling; item means do not
            model = fit_scale(model, sessions)
        data = filter_sessions(model, sessions, minimums, s.drop, errors)
    point = operating_point(
        model,
        minimums,
        rate=None if s.threshold is not None else s.rate,
        threshold=s.threshold,
        drop=s.drop,
        data=data,
    )
    return AlertRule(model, point, s.establish_within, source, errors)


def filtered(sessions: pd.DataFrame, rule: AlertRule) -> Filtered:
    """The rule's filter over ``sessions`` (each with its ``<p>_minimum``): what
    :func:`rupture_table` and :func:`find_model_alerts` read, run once for both."""
    return filter_sessions(rule.model, sessions, None, rule.point.drop, rule.errors)


def rupture_table(
    sessions: pd.DataFrame, rule: AlertRule, run: Filtered | None = None
) -> pd.DataFrame:
    """Per session (patient and session order) and pillar: the probability of a fall
    (``<p>_p_fall``), of a level below the minimum (``<p>_p_below``) and whether the pillar is
    in rupture (``<p>``), with the session's keys. ``sessions`` carry a ``<p>_minimum`` column
    per pillar; ``run``: :func:`filtered` of them, where the caller has it."""
    f = run if run is not None else filtered(sessions, rule)
    fall, _, _, _ = alert_states(f, rule.threshold)
    keys = [c for c in (names.RESPONDENT_ID, names.SESSION, names.DATE) if c in f.sessions]
    out = f.sessions[keys].copy()
    for j, p in enumerate(rule.model.pillars):
        out[p] = fall[:, j]
        out[f"{p}_p_fall"] = f.p_fall[:, j]
        out[f"{p}_p_below"] = f.p_below[:, j]
    return out


def find_model_alerts(
    sessions: pd.DataFrame,
    rule: AlertRule,
    carry: tuple[str, ...] = (),
    run: Filtered | None = None,
) -> pd.DataFrame:
    """The events of every patient in ``sessions`` (:data:`EVENT_COLUMNS`), in patient and
    session order. ``sessions``: one row per session with respondent_id, session, date (and
    clinician_id, site_id when known), ``alliance_status`` and per pillar ``<p>`` and
    ``<p>_minimum``. A rupture's ``status`` says whether it is still open or when it was
    repaired. ``carry``: more columns of ``sessions`` each event keeps (a store's row keys);
    ``run``: :func:`filtered` of them, where the caller has it."""
    f = run if run is not None else filtered(sessions, rule)
    s = f.sessions
    _, fall_on, repaired = transitions(f, f.p_fall, rule.threshold)
    _, below_on, _ = transitions(f, f.p_below, rule.threshold)
    pillars = list(rule.model.pillars)
    keys = [c for c in SESSION_KEYS if c in s] + [c for c in carry if c in s]
    parts = []
    patient = f.patient
    session = s[names.SESSION].to_numpy()
    units = rule.drops()
    for j, p in enumerate(pillars):
        score = s[p].to_numpy(float)
        minimum = s[f"{p}_minimum"].to_numpy(float)
        status = _status(patient, session, fall_on[:, j], repaired[:, j])
        for kind, mask, prob in (
            (RUPTURE, fall_on[:, j], f.p_fall[:, j]),
            (REPAIR, repaired[:, j], f.p_fall[:, j]),
            (BELOW, below_on[:, j], f.p_below[:, j]),
        ):
            if not mask.any():
                continue
            part = s.loc[mask, keys].copy()
            part["pillar"] = p
            part["event"] = kind
            part["score"] = score[mask]
            part["minimum"] = minimum[mask]
            part["fall"] = -f.own[mask, j] if kind != BELOW else np.nan
            part["probability"] = prob[mask]
            part["status"] = status[mask] if kind == RUPTURE else None
            part["reason"] = [
                _reason(kind, fell, pr, m, units[p], rule.threshold)
                for fell, pr, m in zip(-f.own[mask, j], prob[mask], minimum[mask], strict=True)
            ]
            parts.append(part)
    parts.append(never_established(s, rule.establish_within, keys))
    parts = [part for part in parts if len(part)]
    if not parts:
        return pd.DataFrame(
            columns=[c for c in EVENT_COLUMNS if c in keys or c not in s]
            + [c for c in carry if c in s]
        )
    out = pd.concat(parts)
    order = {p: k for k, p in enumerate(pillars)}
    out["_order"] = out["pillar"].map(order).fillna(len(order))
    out["_row"] = out.index
    out = out.sort_values(["_row", "_order"], kind="stable")
    columns = [c for c in EVENT_COLUMNS if c in out] + [c for c in carry if c in out]
    return out[columns].reset_index(drop=True)


def _status(
    patient: np.ndarray, session: np.ndarray, onset: np.ndarray, repaired: np.ndarray
) -> np.ndarray:
    """For each onset, "still open" or "repaired at session k" (the patient's next repair)."""
    status = np.full(len(onset), None, dtype=object)
    pending: dict[int, int] = {}
    for row in range(len(onset)):  # rows in patient and session order
        who = int(patient[row])
        if repaired[row] and who in pending:
            status[pending.pop(who)] = f"repaired at session {_number(session[row])}"
        if onset[row]:
            pending[who] = row
            status[row] = "still open"
    return status


def _number(value: Any) -> str:
    return "?" if pd.isna(value) else f"{float(value):g}"


def _reason(kind: str, fell: float, p: float, minimum: float, unit: float, q: float) -> str:
    if kind == RUPTURE:
        return (
            f"{fell:.2f} below what the patient's history and other pillars predict; "
            f"probability {p:.2f} that it fell by more than {unit:.2f} (alert above {q:.3f})"
        )
    if kind == REPAIR:
        return f"probability of a fall now {p:.2f} (below {1 - q:.3f})"
    return f"probability {p:.2f} that the patient's level is below the minimum {minimum:.2f}"


# What a fall of each of the alliance's pillars asks the clinician to raise at the next visit.
PROMPTS = {
    "bond": "how it feels to work together",
    "goals": "whether you still agree on what the work is for",
    "tasks": "whether the way sessions are spent still makes sense",
}


def ranked_ruptures(events: pd.DataFrame) -> pd.DataFrame:
    """The rupture alerts, open ones first, each group ranked by the probability of the fall
    and then its size (largest first)."""
    ruptures = events[events["event"] == RUPTURE].copy()
    ruptures["_open"] = ruptures["status"] == "still open"
    ruptures = ruptures.sort_values(
        ["_open", "probability", "fall"], ascending=[False, False, False], kind="stable"
    )
    return ruptures.drop(columns="_open").reset_index(drop=True)


def next_visit(events: pd.DataFrame) -> str:
    """One sentence: what the open ruptures suggest raising at the next visit."""
    ruptures = ranked_ruptures(events)
    open_ = ruptures[ruptures["status"] == "still open"]
    if not len(open_):
        return (
            "No rupture is open: nothing the alerts ask you to raise at the next visit beyond "
            "your usual check on the alliance."
        )
    pillars = list(dict.fromkeys(open_["pillar"]))
    asks = "; ".join(f"{p}: {PROMPTS.get(p, f'how {p} has changed')}" for p in pillars)
    patients = open_[names.RESPONDENT_ID].nunique()
    return (
        f"{len(open_)} rupture{'s are' if len(open_) != 1 else ' is'} still open in "
        f"{patients} patient{'s' if patients != 1 else ''}: at each one's next visit, name the "
        f"pillar that fell and ask what changed since the session before ({asks})."
    )


__all__ = [
    "BELOW",
    "DEFAULT_DROP",
    "DEFAULT_RATE",
    "EVENT_COLUMNS",
    "SESSIONS",
    "AlertRule",
    "AlertSettings",
    "alert_rule",
    "find_model_alerts",
    "next_visit",
    "ranked_ruptures",
    "rupture_table",
]
