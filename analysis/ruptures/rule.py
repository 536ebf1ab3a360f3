"""The reliable-change rupture rule the commands ran before the within-patient model
(:mod:`.alerts`), kept as ``benchmarks/bench_alerts.py``'s comparison ("today's rule"), and
for the names both share (the events, the item error of each pillar as :class:`Margin`).

Each pillar is checked against its own minimum and its own measurement error.

Per patient and pillar, over the patient's sessions in order (session number, then date), a
session is *in rupture* when the pillar is

- below its minimum (the rule's minimum for that pillar), or
- lower than the patient's previous session by more than the pillar's reliable-change margin,
  or lower than the patient's best session so far by more than the best-session margin.

The margin is Jacobson and Truax's (1991) reliable change: ``1.96 * sqrt(2) * SEM`` with
``SEM = SD * sqrt(1 - reliability)`` of that pillar, so a fall beyond it from the previous
session happens by measurement error alone in 2.5% of comparisons (the lower half of the
two-sided 5%). The best of ``k`` earlier sessions is the largest of ``k`` noisy scores, so the
same margin against it would be crossed far more often by error alone (about 6% at ``k = 3``,
11% at ``k = 7``); the best-session margin is ``c_k * SEM`` with ``c_k`` chosen so that this
comparison, too, is crossed in 2.5% of sessions when only measurement error moves the scores
(:func:`best_factor`; ``c_1 = 1.96 * sqrt(2)``, ``c_3 = 3.32``, ``c_7 = 3.70``).

An **alert** (``rupture``) is the first session of a run in rupture that follows a session that
was not; a **repair** is the first session after such a run that is no longer in rupture. A run
that starts at the patient's first session is not an alert: that alliance was never
established, and a patient whose alliance has not been adequate (every pillar at or above its
minimum) in any of their first ``establish_within`` sessions is flagged ``never_established``
at that session.

A fall below the minimum is repaired only when the pillar comes back clear of it: at or above
the minimum plus one SEM (:data:`REPAIR_BAND`), so that its true score is more likely above the
minimum than not by about 84 to 16. Without the band, a patient whose alliance sits at the
minimum crosses it back and forth by measurement error alone and each crossing is a new alert;
with it, the sessions between the fall and a clear return stay in the same rupture.

A session whose pillar could not be scored is passed over for that pillar. Alerts depend on a
patient's own history only, so an alert at a session is the same whatever date window the
output shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
from scipy import integrate, optimize, stats

from .. import names
from ..choices import DEFAULT_ESTABLISH_WITHIN

RCI_Z = 1.959964  # two-sided 5%
FALSE_RATE = 0.025  # one-sided: a fall beyond the margin by measurement error alone
REPAIR_BAND = 1.0  # SEMs above the minimum a pillar must reach to repair a fall below it
RUPTURE, REPAIR, NEVER = "rupture", "repair", "never_established"
EVENTS = (RUPTURE, REPAIR, NEVER)
# The keys of the session an event happened at.
SESSION_KEYS = (names.RESPONDENT_ID, names.CLINICIAN_ID, names.SITE_ID, names.SESSION, names.DATE)
ALERT_COLUMNS = (
    *SESSION_KEYS,
    "pillar",
    "event",
    "score",
    "minimum",
    "previous",
    "best",
    "margin",
    "best_margin",
    "reason",
)


def _best_tail(c: float, k: int) -> float:
    """P(max of k standard normals - another standard normal > c)."""

    def integrand(z: float) -> float:
        return float((1.0 - stats.norm.cdf(z + c) ** k) * stats.norm.pdf(z))

    return float(integrate.quad(integrand, -12.0, 12.0)[0])


@cache
def best_factor(k: int) -> float:
    """``c_k``: the best-session margin in SEMs after ``k`` earlier sessions.

    With every score its true value plus independent error of SD ``SEM``, and the true value
    unchanged, the best of ``k`` earlier sessions exceeds the current one by more than ``c_k *
    SEM`` with probability :data:`FALSE_RATE`. ``c_1`` is the reliable-change factor ``1.96 *
    sqrt(2)`` itself.
    """
    if k < 1:
        raise ValueError(f"a best session needs at least one earlier session; got k = {k}.")
    if k == 1:
        return RCI_Z * float(np.sqrt(2.0))
    return float(optimize.brentq(lambda c: _best_tail(c, k) - FALSE_RATE, 0.0, 12.0, xtol=1e-10))


def best_factors(k: np.ndarray) -> np.ndarray:
    """:func:`best_factor` of each count in ``k`` (NaN where there is no earlier session)."""
    k = np.asarray(k)
    out = np.full(k.shape, np.nan)
    for value in np.unique(k[k >= 1]):
        out[k == value] = best_factor(int(value))
    return out


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
        """Against the previous session: Jacobson and Truax's reliable change."""
        return float(RCI_Z * np.sqrt(2.0) * self.sem)

    def best_margin(self, k: int) -> float:
        """Against the best of ``k`` earlier sessions (:func:`best_factor`)."""
        return best_factor(k) * self.sem

    @property
    def repair_band(self) -> float:
        """How far above its minimum a pillar must come back to repair a fall below it."""
        return REPAIR_BAND * self.sem

    def to_dict(self) -> dict[str, float | int | str]:
        return {
            "pillar": self.pillar,
            "reliability": self.reliability,
            "sd": self.sd,
            "sem": self.sem,
            "margin": self.margin,
            "best_margin_3": self.best_margin(3),
            "best_margin_7": self.best_margin(7),
            "repair_band": self.repair_band,
            "rows": self.rows,
        }


def _ordered(sessions: pd.DataFrame) -> pd.DataFrame:
    keys = [names.RESPONDENT_ID, names.SESSION, names.DATE]
    return sessions.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)


def _rupture_state(s: pd.DataFrame, pillar: str, error: Margin) -> pd.DataFrame:
    """Each scored session of one pillar and whether it is in rupture, and why.

    ``s`` is sorted (:func:`_ordered`), one row per session; sessions whose pillar is not
    scored are left out. Columns: ``score``, ``minimum``, ``previous``, ``best``, ``earlier``
    (scored sessions before this one), ``best_margin``, ``below``, ``unrepaired`` (at or above
    the minimum but not yet clear of it by the repair band since the last fall below it),
    ``from_previous``, ``from_best`` and ``state`` (any of them), indexed like ``s``.
    """
    rows = s[s[pillar].notna()]
    patient = rows[names.RESPONDENT_ID].to_numpy()
    grouped = rows.groupby(names.RESPONDENT_ID, sort=False)[pillar]
    score = rows[pillar].to_numpy(float)
    previous = grouped.shift(1).to_numpy(float)
    best = grouped.cummax().groupby(patient, sort=False).shift(1).to_numpy(float)
    earlier = grouped.cumcount().to_numpy()
    best_margin = best_factors(earlier) * error.sem
    below = ~rows[f"{pillar}_pass"].fillna(True).to_numpy(bool)
    minimum = rows[f"{pillar}_minimum"].to_numpy(float)
    with np.errstate(invalid="ignore"):
        from_previous = previous - score > error.margin
        from_best = best - score > best_margin
        clear = score >= minimum + error.repair_band
    # A fall below the minimum holds until the pillar is clear of it: the latest session below
    # the minimum is later than the latest clear one, within the patient.
    position = pd.Series(np.arange(len(rows)), index=rows.index)
    last_below = position.where(below, -1).groupby(patient, sort=False).cummax().to_numpy()
    last_clear = position.where(clear, -1).groupby(patient, sort=False).cummax().to_numpy()
    held = last_below > last_clear
    return pd.DataFrame(
        {
            "score": score,
            "minimum": minimum,
            "previous": previous,
            "best": best,
            "earlier": earlier,
            "best_margin": best_margin,
            "below": below,
            "unrepaired": held & ~below,
            "from_previous": from_previous,
            "from_best": from_best,
            "state": held | from_previous | from_best,
        },
        index=rows.index,
    )


def _pillar_events(s: pd.DataFrame, pillar: str, error: Margin) -> pd.DataFrame:
    """Ruptures and repairs of one pillar; ``s`` is sorted, one row per session."""
    st = _rupture_state(s, pillar, error)
    rows = s.loc[st.index]
    patient = rows[names.RESPONDENT_ID].to_numpy()
    state = st["state"].to_numpy(bool)
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
    held = (st["below"] | st["unrepaired"]).to_numpy(bool)
    held_before = np.r_[False, held[:-1]] & ~first
    out = []
    for kind, mask in ((RUPTURE, rupture), (REPAIR, repair)):
        if not mask.any():
            continue
        part = rows.loc[mask, [c for c in ALERT_COLUMNS if c in rows.columns]].copy()
        at = st[mask]
        part["pillar"] = pillar
        part["event"] = kind
        for column in ("score", "minimum", "previous", "best", "best_margin"):
            part[column] = at[column].to_numpy()
        part["margin"] = error.margin
        part["reason"] = _reasons(kind, at, error, after_below=held_before[mask])
        out.append(part)
    return pd.concat(out) if out else pd.DataFrame(columns=list(ALERT_COLUMNS))


def _reasons(kind: str, at: pd.DataFrame, error: Margin, after_below: np.ndarray) -> list[str]:
    margin = error.margin
    score, minimum, previous, best, best_margin = (
        at[c].to_numpy(float) for c in ("score", "minimum", "previous", "best", "best_margin")
    )
    earlier = at["earlier"].to_numpy(int)
    below, from_previous, from_best = (
        at[c].to_numpy(bool) for c in ("below", "from_previous", "from_best")
    )
    texts = []
    for k in range(len(at)):
        if kind == REPAIR:
            back = (
                f"clear of the minimum {minimum[k]:.2f} by its repair band {error.repair_band:.2f}"
                if after_below[k]
                else f"at or above the minimum {minimum[k]:.2f}"
            )
            texts.append(
                f"back {back}, within {margin:.2f} of the previous session and within "
                f"{best_margin[k]:.2f} of the best"
            )
            continue
        parts = []
        if below[k]:
            parts.append(f"{score[k]:.2f} is below the minimum {minimum[k]:.2f}")
        if from_previous[k]:
            parts.append(
                f"{previous[k] - score[k]:.2f} below the previous session (margin {margin:.2f})"
            )
        if from_best[k]:
            of = "the first session" if earlier[k] == 1 else f"the best of {earlier[k]} sessions"
            parts.append(f"{best[k] - score[k]:.2f} below {of} (margin {best_margin[k]:.2f})")
        texts.append("; ".join(parts))
    return texts


def never_established(s: pd.DataFrame, within: int, keys: list[str] | None = None) -> pd.DataFrame:
    """One event per patient whose alliance was not adequate in any of their first ``within``
    decided sessions (``s`` sorted by patient and session), at the ``within``-th; with the
    session's ``keys`` (by default the alert columns ``s`` has)."""
    if "alliance_status" not in s:
        return pd.DataFrame()
    decided = s[s["alliance_status"].isin(("adequate", "inadequate"))]
    rank = decided.groupby(names.RESPONDENT_ID, sort=False).cumcount() + 1
    adequate = (
        (decided["alliance_status"] == "adequate")
        .groupby(decided[names.RESPONDENT_ID], sort=False)
        .cummax()
    )
    mask = (rank == within) & ~adequate
    if keys is None:
        keys = [c for c in ALERT_COLUMNS if c in decided.columns]
    part = decided.loc[mask, keys].copy()
    part["pillar"] = None
    part["event"] = NEVER
    part["reason"] = f"not adequate in any of the first {within} scored sessions"
    return part


def rupture_states(
    sessions: pd.DataFrame, margins: dict[str, Margin], *, detail: bool = False
) -> pd.DataFrame:
    """Whether each session is in rupture, per pillar: one row per session (respondent_id,
    session, date and a boolean column per pillar, False where the pillar is not scored), in
    patient and session order. The alerts are the onsets of these runs (:func:`find_alerts`).

    With ``detail``, one row per scored session and pillar instead, with the comparison behind
    the state: ``score``, ``minimum``, ``previous``, ``best``, ``earlier`` (scored sessions
    before this one), ``best_margin``, ``below``, ``unrepaired``, ``from_previous``,
    ``from_best``, ``state``.
    """
    s = _ordered(sessions)
    keys = [names.RESPONDENT_ID, names.SESSION, names.DATE]
    if detail:
        parts = [
            s.loc[st.index, keys].assign(pillar=p).join(st)
            for p, error in margins.items()
            for st in [_rupture_state(s, p, error)]
        ]
        return pd.concat(parts).sort_index(kind="stable").reset_index(drop=True)
    out = s[keys].copy()
    for p, error in margins.items():
        out[p] = _rupture_state(s, p, error)["state"].reindex(s.index, fill_value=False)
    return out


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
    parts = [_pillar_events(s, p, m) for p, m in margins.items()]
    parts.append(never_established(s, establish_within))
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
