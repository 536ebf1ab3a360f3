"""A within-patient model of the pillars over sessions, estimated from the clinic's own data,
and the filter that turns a patient's sessions into the probabilities an alert rests on.

The model, per patient, with the pillars as a vector ``y_s`` at their ``s``-th session:

    y_s = m + b (s - 1) + mu + u_s + e_s

- ``m`` and ``b``: each pillar's mean at the first session and its trend per session;
- ``mu``: the patient's own level, between patients ``N(0, Sigma_mu)``;
- ``u_s``: the session's departure from it, ``N(0, Sigma_u)``, carried to the next session
  with autocorrelation ``phi`` (AR(1)); it holds the rater's mood on the day, which moves
  every pillar at once, and true session-to-session change alike;
- ``e_s``: item error, each pillar's own, ``SD^2 (1 - alpha)``: what coefficient alpha sees.

Everything is estimated by moments (:func:`fit_within`): the trend from within-patient slopes;
``phi`` and ``Sigma_u`` from the covariances of one- and two-session differences within
patients, which the patient's level leaves out (half of them are ``(1 - phi) Sigma_u + diag(e)``
and ``(1 - phi^2) Sigma_u + diag(e)``); ``Sigma_mu`` from the patient means, less what the
sessions add to them.

The filter (:func:`filter_sessions`) is a Kalman filter over each patient's sessions on the
state ``(mu, u)``, run for every patient at once session by session. We argue for it over an
ordinal filter: the pillar scores are means of 4-8 items, near normal away from the
ceiling; the Gaussian filter gives closed-form probabilities and its false-alert rate can be
worked out from the model itself; the ceiling, where it bites, is the cost (see the README).

At each session after the first, for each pillar:

- **fall**: the pillar's departure from what the patient's history and *the other pillars at
  the same session* predict. A rupture is one pillar falling while the others hold; the
  rater's mood moves them all. The innovation ``e = y - E[y | history]`` has covariance ``S``;
  the pillar's own part is ``c_p = (S^-1 e)_p / (S^-1)_pp`` with variance ``1 / (S^-1)_pp``:
  the matched filter for a drop in one pillar. ``p_fall`` is the probability that the drop
  exceeds :data:`DEFAULT_DROP` true-score SDs (``--drop``), ``Phi((-D - c_p) / sd)``.
- **fall since the last session**: the same for ``c_p(s) - c_p(s - 1)``.
- **below**: the probability that the patient's alliance level on the pillar (their own
  level and the trend, without the session's departure, which a fall covers) is below its
  minimum, after the session.

A **rupture alert** is ``p_fall`` above the threshold at a session after the first; the
pillar stays in rupture while ``p_fall`` stays above ``1 - threshold``, and the **repair** is
the first session where it does not (the mirror image), so that a probability hovering at the
threshold does not alert at every session. A level below the minimum is an event of its own
(``below_minimum``, when ``p_below`` first exceeds the threshold after the first session), not
a rupture: it says where the patient stands, not that a pillar fell.

**The operating point** (:func:`operating_point`): the threshold is chosen so that patients
drawn from the fitted model itself, with no rupture, raise a stated number of rupture alerts
per 100 patients over :data:`SESSIONS` sessions (``--alert-rate``); the same draws, with one
pillar lowered by one true-score SD for one session, give the share of such ruptures caught at
onset. Both are stated wherever alerts are raised.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from .. import names

# The defaults (analysis.choices): the fall that counts, in the pillar's true-score SDs; the
# false alert onsets per 100 patients over SESSIONS sessions a clinic accepts; that horizon.
from ..choices import ALERT_SESSIONS as SESSIONS
from ..choices import DEFAULT_ALERT_RATE as DEFAULT_RATE
from ..choices import DEFAULT_DROP

SIMULATED = 4_000  # patients drawn from the fitted model to state its rates


@dataclass(frozen=True)
class WithinModel:
    """The fitted model: per pillar (in ``pillars`` order) its first-session mean and trend,
    the covariance of patient levels, of session departures, and the item error variances."""

    pillars: tuple[str, ...]
    mean: np.ndarray
    trend: np.ndarray
    levels: np.ndarray  # Sigma_mu
    sessions: np.ndarray  # Sigma_u
    error: np.ndarray  # item error variances (diagonal)
    phi: float
    patients: int
    rows: int
    notes: tuple[str, ...] = field(default=())
    # The spread of a pillar's departures as a function of its expected score (per pillar,
    # at the points ``scale_at``): near a scale's ceiling scores move less, far from it more,
    # than one variance for everyone says (:func:`fit_scale`). None: the same everywhere.
    scale_at: np.ndarray | None = None  # pillars x points, expected scores, increasing
    scale: np.ndarray | None = None  # pillars x points, the SD of standardized departures

    @property
    def true_sd(self) -> np.ndarray:
        """Each pillar's SD of true scores (level and session), the unit of a drop."""
        return np.sqrt(np.diag(self.levels) + np.diag(self.sessions))

    def to_dict(self) -> dict[str, Any]:
        def cov(matrix: np.ndarray) -> dict[str, dict[str, float]]:
            return {
                a: {b: float(matrix[i, j]) for j, b in enumerate(self.pillars)}
                for i, a in enumerate(self.pillars)
            }

        return {
            "pillars": list(self.pillars),
            "mean_at_first_session": dict(zip(self.pillars, map(float, self.mean), strict=True)),
            "trend_per_session": dict(zip(self.pillars, map(float, self.trend), strict=True)),
            "patient_level_covariance": cov(self.levels),
            "session_covariance": cov(self.sessions),
            "item_error_variance": dict(zip(self.pillars, map(float, self.error), strict=True)),
            "session_autocorrelation": self.phi,
            "true_score_sd": dict(zip(self.pillars, map(float, self.true_sd), strict=True)),
            "patients": self.patients,
            "sessions": self.rows,
            "departure_scale": None
            if self.scale is None or self.scale_at is None
            else {
                p: {"expected_score": self.scale_at[j].tolist(), "sd": self.scale[j].tolist()}
                for j, p in enumerate(self.pillars)
            },
            "notes": list(self.notes),
        }

    def spread(self, expected: np.ndarray) -> np.ndarray:
        """The SD of standardized departures at each expected score (rows x pillars): one
        where no scale was fitted."""
        if self.scale is None or self.scale_at is None:
            return np.ones_like(expected)
        out = np.ones_like(expected)
        for j in range(expected.shape[1]):
            out[:, j] = np.interp(expected[:, j], self.scale_at[j], self.scale[j])
        return out


def _order(sessions: pd.DataFrame) -> pd.DataFrame:
    keys = [names.RESPONDENT_ID, names.SESSION]
    if names.DATE in sessions:
        keys.append(names.DATE)
    return sessions.sort_values(keys, kind="stable").reset_index(drop=True)


def _psd(matrix: np.ndarray, floor: float = 1e-6) -> np.ndarray:
    """The nearest positive-definite matrix (eigenvalues floored)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.maximum(values, floor)) @ vectors.T


@dataclass(frozen=True)
class WithinMoments:
    """What the model is estimated from: sums over the complete sessions of the pillars (in
    patient and session order, ``t`` = the session's place among the patient's complete
    ones, from 0), so that an engine can compute them where the sessions are
    (analysis.store.queries.within) and a frame in Python (:func:`within_moments`) alike."""

    patients: int
    rows: int
    most: int  # the most sessions of one patient
    followed: int  # patients with two or more sessions
    inverse_counts: float  # sum over patients of 1 / sessions
    sxx: float  # sum of (t - patient's mean t)^2
    sxy: np.ndarray  # sum of (t - patient's mean t)(y - patient's mean y), per pillar
    lag_n: tuple[int, int]  # one- and two-session differences within patients
    lag_sum: tuple[np.ndarray, np.ndarray]
    lag_products: tuple[np.ndarray, np.ndarray]
    mean_t: float  # sums over patients of their mean t, mean y and products
    mean_t2: float
    mean_y: np.ndarray
    mean_ty: np.ndarray
    mean_yy: np.ndarray


def within_moments(sessions: pd.DataFrame, pillars: list[str]) -> WithinMoments:
    """The moments of scored sessions (one row per session: respondent_id, session, date and a
    column per pillar); sessions missing a pillar are left out."""
    s = _order(sessions)
    y = s[pillars].to_numpy(float)
    keep = ~np.isnan(y).any(axis=1)
    s, y = s[keep].reset_index(drop=True), y[keep]
    patient, visit = _positions(s)
    counts = np.bincount(patient) if len(patient) else np.zeros(0, int)
    t = visit.astype(float)
    sum_t = np.bincount(patient, t, minlength=len(counts))
    sum_y = np.vstack(
        [np.bincount(patient, y[:, k], minlength=len(counts)) for k in range(len(pillars))]
    ).T.reshape(len(counts), len(pillars))
    t_bar = sum_t / np.maximum(counts, 1)
    y_bar = sum_y / np.maximum(counts, 1)[:, None]
    lags = []
    for lag in (1, 2):
        later = np.flatnonzero(visit >= lag)
        d = y[later] - y[later - lag]
        lags.append((len(d), d.sum(axis=0), d.T @ d))
    return WithinMoments(
        patients=len(counts),
        rows=len(y),
        most=int(counts.max()) if len(counts) else 0,
        followed=int((counts >= 2).sum()),
        inverse_counts=float((1.0 / counts).sum()) if len(counts) else 0.0,
        sxx=float((t**2).sum() - (counts * t_bar**2).sum()),
        sxy=t @ y - (counts * t_bar) @ y_bar,
        lag_n=(lags[0][0], lags[1][0]),
        lag_sum=(lags[0][1], lags[1][1]),
        lag_products=(lags[0][2], lags[1][2]),
        mean_t=float(t_bar.sum()),
        mean_t2=float((t_bar**2).sum()),
        mean_y=y_bar.sum(axis=0),
        mean_ty=t_bar @ y_bar,
        mean_yy=y_bar.T @ y_bar,
    )


def fit_within(sessions: pd.DataFrame, pillars: list[str], error: dict[str, float]) -> WithinModel:
    """Estimate the model from scored sessions (one row per session: respondent_id, session
    and a column per pillar) and each pillar's item error variance (``SEM^2``)."""
    return fit_moments(within_moments(sessions, pillars), pillars, error)


def fit_moments(m: WithinMoments, pillars: list[str], error: dict[str, float]) -> WithinModel:
    """Estimate the model from its moments (:class:`WithinMoments`) and each pillar's item
    error variance (``SEM^2``)."""
    if m.followed < 20:
        raise ValueError(
            "a within-patient model needs patients with several sessions: at least 20 with two "
            f"or more; there are {m.followed}."
        )
    # trend: the pooled within-patient slope
    trend = m.sxy / max(m.sxx, 1e-12)
    # Session departures from differences within patients, which the patient's level leaves:
    # half the covariance of one-session differences is (1 - phi) Sigma_u + diag(e), of
    # two-session differences (1 - phi^2) Sigma_u + diag(e).
    error_diag = np.array([error[p] for p in pillars], float)

    def half_covariance(lag: int) -> np.ndarray:
        n, total, products = m.lag_n[lag - 1], m.lag_sum[lag - 1], m.lag_products[lag - 1]
        shift = lag * trend  # the trend's part of each difference, taken out
        centred = products - np.outer(total, shift) - np.outer(shift, total)
        centred = centred + n * np.outer(shift, shift)
        return centred / (2 * max(n, 1)) - np.diag(error_diag)

    a, b = half_covariance(1), half_covariance(2)
    ratio = np.diag(b).sum() / max(np.diag(a).sum(), 1e-12) if m.lag_n[1] >= 20 else 1.0
    phi = float(np.clip(ratio - 1.0, 0.0, 0.9))
    sessions_cov = _psd(a / (1.0 - phi))
    # patient levels: the covariance of patient means (the trend taken out) less what the
    # sessions add to them
    n = m.patients
    mean = (m.mean_y - trend * m.mean_t) / n
    products = (
        m.mean_yy
        - np.outer(m.mean_ty, trend)
        - np.outer(trend, m.mean_ty)
        + m.mean_t2 * np.outer(trend, trend)
    )
    covariance = (products - n * np.outer(mean, mean)) / (n - 1)
    transient = sessions_cov + np.diag(error_diag)
    levels = _psd(covariance - transient * (m.inverse_counts / n))
    notes = []
    if m.lag_n[1] < 20:
        notes.append(
            "too few patients with three sessions to estimate how much of a session's "
            "departure carries to the next: taken as none"
        )
    elif phi > 0.1:
        notes.append(f"sessions carry {phi:.2f} of their departure to the next (AR(1))")
    return WithinModel(
        tuple(pillars),
        mean,
        trend,
        levels,
        sessions_cov,
        error_diag,
        phi,
        n,
        m.rows,
        tuple(notes),
    )


@dataclass(frozen=True)
class Filtered:
    """Per session (rows of ``sessions`` in patient and session order) and pillar: the
    pillar's own departure ``c`` (score units) and its SD, the probabilities of a fall (from
    the expected level, and since the last session) and of the true pillar below its minimum."""

    sessions: pd.DataFrame
    own: np.ndarray  # rows x pillars
    own_sd: np.ndarray
    p_fall: np.ndarray
    p_fall_last: np.ndarray
    p_below: np.ndarray
    expected: np.ndarray  # the score the history predicted, before the session was seen
    patient: np.ndarray  # each row's patient (0, 1, ...)
    visit: np.ndarray  # and its place among the patient's sessions (0: the first)

    @property
    def first(self) -> np.ndarray:
        """The patient's first session."""
        return self.visit == 0


def filter_sessions(
    model: WithinModel,
    sessions: pd.DataFrame,
    minimums: dict[str, float] | None = None,
    drop: float = DEFAULT_DROP,
    errors: dict[str, str] | None = None,
) -> Filtered:
    """Run the Kalman filter over every patient's sessions, all patients at once.
    ``minimums``: each pillar's minimum, or None to read each session's own from its
    ``<pillar>_minimum`` column (the store's sessions keep the minimum their export was scored
    with). ``errors``: per pillar, a column holding each session's own standard error (theta's,
    from a calibration, which grows at the ceiling), instead of the model's one item error."""
    s = _order(sessions)
    pillars = list(model.pillars)
    y = s[pillars].to_numpy(float)
    own_error = None
    if errors is not None:
        own_error = s[[errors[p] for p in pillars]].to_numpy(float) ** 2
    if minimums is None:
        floor = s[[f"{p}_minimum" for p in pillars]].to_numpy(float)
    else:
        floor = np.tile(np.array([minimums[p] for p in pillars], float), (len(s), 1))
    patient, visit = _positions(s)
    out = _kalman(model, y, patient, visit, floor, drop, own_error)
    return Filtered(s, *out, patient, visit)


def _kalman(
    model: WithinModel,
    y: np.ndarray,
    patient: np.ndarray,
    visit: np.ndarray,
    minimums: np.ndarray,
    drop: float,
    own_error: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n_rows, k = y.shape
    n_patients = int(patient.max()) + 1 if n_rows else 0
    phi = model.phi
    big = 1e6
    x = np.zeros((n_patients, 2 * k))
    p0 = np.zeros((2 * k, 2 * k))
    p0[:k, :k] = model.levels
    p0[k:, k:] = model.sessions
    cov = np.tile(p0, (n_patients, 1, 1))
    h = np.hstack([np.eye(k), np.eye(k)])
    transition = np.eye(2 * k)
    transition[k:, k:] *= phi
    noise = np.zeros((2 * k, 2 * k))
    noise[k:, k:] = (1 - phi**2) * model.sessions
    own = np.full((n_rows, k), np.nan)
    own_sd = np.full((n_rows, k), np.nan)
    last_own = np.full((n_patients, k), np.nan)
    last_var = np.full((n_patients, k), np.nan)
    p_fall = np.full((n_rows, k), np.nan)
    p_last = np.full((n_rows, k), np.nan)
    p_below = np.full((n_rows, k), np.nan)
    expected = np.full((n_rows, k), np.nan)
    unit = drop * model.true_sd
    for t in range(int(visit.max()) + 1 if n_rows else 0):
        rows = np.flatnonzero(visit == t)
        who = patient[rows]
        m, c = x[who], cov[who]
        if t > 0:
            m = m @ transition.T
            c = transition @ c @ transition.T + noise
        centred = y[rows] - model.mean - model.trend * t
        seen = ~np.isnan(centred)
        r = np.zeros((len(rows), k, k))
        error = model.error if own_error is None else np.nan_to_num(own_error[rows], nan=big)
        r[:, np.arange(k), np.arange(k)] = np.where(seen, error, big)
        innovation = np.where(seen, centred - m @ h.T, 0.0)
        s_cov = h @ c @ h.T + r
        s_inv = np.linalg.inv(s_cov)
        precision = np.einsum("rii->ri", s_inv)
        mine = np.einsum("rij,rj->ri", s_inv, innovation) / precision
        predicted = model.mean + model.trend * t + m @ h.T
        expected[rows] = predicted
        variance = model.spread(predicted) ** 2 / precision
        mine[~seen] = np.nan
        if t > 0:
            own[rows], own_sd[rows] = mine, np.sqrt(variance)
            p_fall[rows] = special.ndtr((-unit - mine) / np.sqrt(variance))
            change = mine - last_own[who]
            p_last[rows] = special.ndtr((-unit - change) / np.sqrt(variance + last_var[who]))
        last_own[who] = np.where(seen, mine, last_own[who])
        last_var[who] = np.where(seen, variance, last_var[who])
        gain = c @ h.T @ s_inv
        m = m + np.einsum("rij,rj->ri", gain, innovation)
        c = c - gain @ h @ c
        x[who], cov[who] = m, c
        level = model.mean + model.trend * t + m[:, :k]  # the patient's level, no session
        level_var = np.einsum("rii->ri", c[:, :k, :k])
        p_below[rows] = special.ndtr((minimums[rows] - level) / np.sqrt(level_var))
    return own, own_sd, p_fall, p_last, p_below, expected


SCALE_ROWS = 400  # sessions per point of the departures' scale
SCALE_POINTS = 8  # at most


def fit_scale(
    model: WithinModel, sessions: pd.DataFrame, errors: dict[str, str] | None = None
) -> WithinModel:
    """The model with the spread of its standardized departures fitted as a function of the
    expected score: per pillar, the sessions after a patient's first are cut at quantiles of
    the score their history predicted, and in each part the SD of the departures is taken
    robustly (median absolute value / 0.6745), so that the few true ruptures among them do not
    widen it. A pillar whose scores pile up at a ceiling moves less there and more far from it
    than one variance says; this evens out the false alerts along the scale."""
    base = replace(model, scale=None, scale_at=None)
    f = filter_sessions(base, sessions, dict.fromkeys(model.pillars, 0.0), errors=errors)
    z = f.own / f.own_sd
    k = len(model.pillars)
    known = ~np.isnan(z) & ~f.first[:, None]
    points = int(np.clip(known.sum(axis=0).min() // SCALE_ROWS, 1, SCALE_POINTS))
    at = np.zeros((k, points))
    scale = np.ones((k, points))
    for j in range(k):
        rows = np.flatnonzero(known[:, j])
        if len(rows) < SCALE_ROWS:
            return model
        order = rows[np.argsort(f.expected[rows, j], kind="stable")]
        for b, part in enumerate(np.array_split(order, points)):
            at[j, b] = float(np.median(f.expected[part, j]))
            scale[j, b] = float(np.median(np.abs(z[part, j])) / 0.6744897501960817)
    low, high = float(scale.min()), float(scale.max())
    note = (
        f"the departures' spread runs from {low:.2f} to {high:.2f} of the model's along the "
        "expected score (fitted by level, robustly)"
    )
    return replace(model, scale_at=at, scale=scale, notes=(*model.notes, note))


def alert_states(
    filtered: Filtered, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per session and pillar: in rupture (a fall), its onsets (rupture alerts), the level
    below the minimum, and its onsets (``below_minimum`` events)."""
    fall, fall_on, _ = transitions(filtered, filtered.p_fall, threshold)
    below, below_on, _ = transitions(filtered, filtered.p_below, threshold)
    return fall, fall_on, below, below_on


def transitions(
    filtered: Filtered, p: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per session and pillar, for the probability ``p``: in a run (:func:`_runs`), the run's
    first session (never a patient's first), and the first session out of it (the repair).
    A session where ``p`` is unknown neither starts nor ends a run: the next known one is
    compared with the last known one."""
    state = _runs_of(filtered, p, threshold)
    known = ~np.isnan(p)
    patient, visit = filtered.patient, filtered.visit
    onset = np.zeros_like(state)
    offset = np.zeros_like(state)
    before = np.zeros((int(patient.max()) + 1 if len(patient) else 0, state.shape[1]), bool)
    for t in range(int(visit.max()) + 1 if len(visit) else 0):
        rows = np.flatnonzero(visit == t)
        who = patient[rows]
        seen = known[rows]
        if t > 0:
            onset[rows] = seen & state[rows] & ~before[who]
            offset[rows] = seen & ~state[rows] & before[who]
        before[who] = np.where(seen, state[rows], before[who])
    return state, onset, offset


def _runs(p: np.ndarray, patient: np.ndarray, visit: np.ndarray, threshold: float) -> np.ndarray:
    """Hysteresis, every patient at once: in from ``p > threshold``, out at ``p < 1 -
    threshold``; a session without the pillar keeps the state it finds."""
    hold = min(threshold, 1 - threshold)
    out = np.zeros(p.shape, bool)
    current = np.zeros((int(patient.max()) + 1 if len(p) else 0, p.shape[1]), bool)
    for t in range(int(visit.max()) + 1 if len(p) else 0):
        rows = np.flatnonzero(visit == t)
        who = patient[rows]
        value = p[rows]
        known = ~np.isnan(value)
        was = current[who]
        now = np.where(known, np.where(was, value >= hold, value > threshold), was)
        current[who] = now
        out[rows] = now & known
    return out


@dataclass(frozen=True)
class OperatingPoint:
    """The threshold in use and what it costs and buys, in the fitted model's own patients:
    rupture alerts per 100 patients without ruptures over :data:`SESSIONS` sessions, and the
    share of one-SD single-pillar ruptures caught at onset (and with the right pillar)."""

    threshold: float
    drop: float
    false_per_100: float
    caught: float
    right_pillar: float
    target: float | None = None  # the false-alert rate asked for, when the threshold came from it
    # All the alerts the clinic's own sessions raise at the threshold (true and false: an upper
    # bound on the false ones), per 100 patients over SESSIONS sessions; None without data.
    observed_per_100: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "drop_in_true_sd": self.drop,
            "expected_false_alerts_per_100_patients": self.false_per_100,
            "alerts_per_100_patients_in_these_sessions": self.observed_per_100,
            "sessions": SESSIONS,
            "caught_at_onset_1sd": self.caught,
            "caught_right_pillar_1sd": self.right_pillar,
            "target_false_alerts_per_100_patients": self.target,
        }

    def sentence(self) -> str:
        asked = f" (asked for at most {self.target:g})" if self.target is not None else ""
        seen = (
            f"; the sessions it was fitted to raise {self.observed_per_100:.0f} per 100 "
            "patients over as many sessions, true and false together"
            if self.observed_per_100 is not None
            else ""
        )
        return (
            f"alerts at a probability of a fall of {self.drop:g} SD above {self.threshold:.3f}: "
            f"the fitted model expects {self.false_per_100:.0f} false alerts per 100 patients "
            f"over {SESSIONS} sessions{asked} and catches {100 * self.caught:.0f}% of one-SD "
            f"ruptures at their first session{seen}"
        )


def simulate_model(
    model: WithinModel,
    patients: int,
    rng: np.random.Generator,
    rupture: float = 0.0,
    sessions: int = SESSIONS,
    bounds: tuple[float, float] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Patients drawn from the fitted model, every one at ``sessions`` sessions; with
    ``rupture`` (true-score SDs), one pillar of every patient lowered that much at one session
    after the first. The sessions and the truth (patient, session, pillar)."""
    k = len(model.pillars)
    level = rng.standard_normal((patients, k)) @ np.linalg.cholesky(_psd(model.levels)).T
    root = np.linalg.cholesky(_psd(model.sessions))
    u = rng.standard_normal((patients, k)) @ root.T
    rows = []
    for t in range(sessions):
        if t:
            shock = rng.standard_normal((patients, k)) @ root.T
            u = model.phi * u + np.sqrt(1 - model.phi**2) * shock
        noise = rng.standard_normal((patients, k)) * np.sqrt(model.error)
        rows.append(model.mean + model.trend * t + level + u + noise)
    y = np.stack(rows, axis=1)  # patients x sessions x pillars
    truth = pd.DataFrame(columns=[names.RESPONDENT_ID, names.SESSION, "pillar"])
    if rupture:
        when = rng.integers(1, sessions, size=patients)
        which = rng.integers(0, k, size=patients)
        y[np.arange(patients), when, which] -= rupture * model.true_sd[which]
        truth = pd.DataFrame(
            {
                names.RESPONDENT_ID: np.arange(patients),
                names.SESSION: when + 1,
                "pillar": np.array(model.pillars)[which],
            }
        )
    if bounds is not None:  # the scale's floor and ceiling, where the scores pile up
        y = np.clip(y, *bounds)
    frame = pd.DataFrame(y.reshape(-1, k), columns=list(model.pillars))
    frame.insert(0, names.SESSION, np.tile(np.arange(1, sessions + 1), patients))
    frame.insert(0, names.RESPONDENT_ID, np.repeat(np.arange(patients), sessions))
    return frame, truth


def rupture_onsets(filtered: Filtered, threshold: float) -> np.ndarray:
    """Per session and pillar, whether a rupture alert starts there."""
    return transitions(filtered, filtered.p_fall, threshold)[1]


def _runs_of(filtered: Filtered, p: np.ndarray, threshold: float) -> np.ndarray:
    return _runs(p, filtered.patient, filtered.visit, threshold)


def _positions(s: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each row's patient (0, 1, ...) and its place among the patient's sessions, in the
    order of ``s`` (sorted by :func:`_order`)."""
    patient = pd.factorize(s[names.RESPONDENT_ID])[0]
    return patient, s.groupby(names.RESPONDENT_ID, sort=False).cumcount().to_numpy()


THRESHOLDS = np.concatenate([np.linspace(0.5, 0.99, 99), np.linspace(0.991, 0.9999, 90)])


def operating_point(
    model: WithinModel,
    minimums: dict[str, float],
    *,
    rate: float | None = DEFAULT_RATE,
    threshold: float | None = None,
    drop: float = DEFAULT_DROP,
    patients: int = SIMULATED,
    seed: int = 0,
    bounds: tuple[float, float] | None = None,
    data: Filtered | None = None,
) -> OperatingPoint:
    """The threshold (given, or the one whose false alerts per 100 patients over
    :data:`SESSIONS` sessions in the fitted model come nearest ``rate`` without exceeding it),
    and its false-alert rate and catch of one-SD ruptures, from patients drawn from the model.

    With ``data`` (the clinic's own sessions, filtered at the same drop), also the alerts those
    sessions raise at the threshold per 100 patients over :data:`SESSIONS` sessions, true and
    false together: an upper bound on the false ones that holds whatever the scores' shape.
    Scores that pile up at a ceiling move unevenly, and the model, which is Gaussian, then
    expects fewer false alerts than come; the two side by side show it. (The bound does not
    set the threshold: in a clinic where ruptures are common it would silence the alerts.)"""
    if threshold is None and (rate is None or rate <= 0):
        raise ValueError(
            f"'rate' must be a positive number of alerts per 100 patients; got {rate}."
        )
    if threshold is not None and not 0.5 <= threshold < 1:
        raise ValueError(f"'threshold' must be at least 0.5 and below 1; got {threshold}.")
    derived = threshold is None
    rng = np.random.default_rng(seed)
    # Patients drawn from the model itself move as the model says at every level: no scale.
    model = replace(model, scale=None, scale_at=None)
    quiet, _ = simulate_model(model, patients, rng, bounds=bounds)
    broken, truth = simulate_model(model, patients, rng, rupture=1.0, bounds=bounds)
    calm = filter_sessions(model, quiet, minimums, drop)
    hit = filter_sessions(model, broken, minimums, drop)

    def false_rate(q: float) -> float:
        return 100 * float(rupture_onsets(calm, q).sum()) / patients

    if threshold is None:
        assert rate is not None
        rates = np.array([false_rate(q) for q in THRESHOLDS])
        fits = np.flatnonzero(rates <= rate)
        threshold = float(THRESHOLDS[fits[0]] if len(fits) else THRESHOLDS[-1])
    seen = None
    if data is not None:  # alert onsets per session after a patient's first, times 7
        later = int((~data.first).sum())
        onsets_seen = float(rupture_onsets(data, threshold).sum())
        seen = 100 * onsets_seen / later * (SESSIONS - 1) if later else float("nan")
    onsets = rupture_onsets(hit, threshold)
    s = hit.sessions
    at = (s[names.SESSION].to_numpy() - 1) + s[names.RESPONDENT_ID].to_numpy() * SESSIONS
    planted = truth[names.SESSION].to_numpy() - 1 + truth[names.RESPONDENT_ID].to_numpy() * SESSIONS
    where = pd.Series(np.arange(len(s)), index=at).loc[planted].to_numpy()
    pillar = np.array([model.pillars.index(p) for p in truth["pillar"]])
    caught = onsets[where].any(axis=1)
    right = onsets[where, pillar]
    return OperatingPoint(
        threshold,
        drop,
        false_rate(threshold),
        float(caught.mean()),
        float(right.mean()),
        rate if derived else None,
        seen,
    )
