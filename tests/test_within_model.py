"""The within-patient model of rupture alerts: its moments recover the variances it was drawn
with, its filter's residuals are standard where the model holds, a shift of every pillar (the
rater's mood) is told from one pillar falling, and the operating point keeps its stated rate."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from analysis.ruptures import model as within

PILLARS = ("bond", "goals", "tasks")
MINIMUMS = dict.fromkeys(PILLARS, 3.5)


def truth(phi: float = 0.0) -> within.WithinModel:
    levels = 0.30 * (0.6 * np.ones((3, 3)) + 0.4 * np.eye(3))
    sessions = 0.12 * (0.7 * np.ones((3, 3)) + 0.3 * np.eye(3))
    return within.WithinModel(
        PILLARS,
        mean=np.array([4.0, 3.9, 3.8]),
        trend=np.array([0.05, 0.04, 0.06]),
        levels=levels,
        sessions=sessions,
        error=np.array([0.05, 0.06, 0.07]),
        phi=phi,
        patients=0,
        rows=0,
    )


def draw(model: within.WithinModel, patients: int = 6000, seed: int = 1) -> pd.DataFrame:
    frame, _ = within.simulate_model(model, patients, np.random.default_rng(seed))
    return frame


@pytest.mark.parametrize("phi", [0.0, 0.4])
def test_the_moments_recover_the_model_it_was_drawn_from(phi: float) -> None:
    true = truth(phi)
    error = dict(zip(PILLARS, true.error, strict=True))
    fitted = within.fit_within(draw(true), list(PILLARS), error)
    np.testing.assert_allclose(fitted.trend, true.trend, atol=0.01)
    np.testing.assert_allclose(fitted.mean, true.mean, atol=0.03)
    np.testing.assert_allclose(fitted.sessions, true.sessions, atol=0.015)
    np.testing.assert_allclose(fitted.levels, true.levels, atol=0.03)
    assert fitted.phi == pytest.approx(phi, abs=0.05)


def test_where_the_model_holds_each_pillars_own_departure_is_standard_normal() -> None:
    true = truth(0.2)
    filtered = within.filter_sessions(true, draw(true, 4000, seed=2), MINIMUMS)
    z = (filtered.own / filtered.own_sd)[~filtered.first]
    assert np.abs(z.mean(axis=0)).max() < 0.03
    np.testing.assert_allclose(z.std(axis=0), 1.0, atol=0.03)


def patient(shifts: dict[str, float]) -> pd.DataFrame:
    """One patient at their expected level for four sessions, then a fifth with ``shifts``."""
    model = truth()
    rows = []
    for t in range(5):
        y = model.mean + model.trend * t
        if t == 4:
            y = y + np.array([shifts.get(p, 0.0) for p in PILLARS])
        rows.append({"respondent_id": "P1", "session": t + 1, **dict(zip(PILLARS, y, strict=True))})
    return pd.DataFrame(rows)


def test_a_shift_of_every_pillar_is_not_a_fall_and_one_pillar_alone_is() -> None:
    model = truth()
    mood = within.filter_sessions(model, patient(dict.fromkeys(PILLARS, -1.2)), MINIMUMS)
    one = within.filter_sessions(model, patient({"goals": -1.2}), MINIMUMS)
    # the same fall in every pillar is mostly the day's shared shift: no alert at 0.9
    assert mood.p_fall[4].max() < 0.9
    assert not within.rupture_onsets(mood, 0.9).any()
    assert one.p_fall[4, 1] > 0.95 and one.p_fall[4, [0, 2]].max() < 0.5
    assert within.rupture_onsets(one, 0.9)[4].tolist() == [False, True, False]


def test_an_unscored_pillar_is_passed_over() -> None:
    sessions = patient({"goals": -1.2})
    sessions.loc[2, "tasks"] = np.nan
    filtered = within.filter_sessions(truth(), sessions, MINIMUMS)
    assert np.isnan(filtered.p_fall[2, 2]) and not np.isnan(filtered.p_fall[2, :2]).any()
    assert filtered.p_fall[4, 1] > 0.95


def test_the_operating_point_keeps_the_rate_it_was_asked_for() -> None:
    model = truth()
    point = within.operating_point(model, MINIMUMS, rate=20, patients=2000)
    assert point.false_per_100 <= 20 and point.target == 20
    looser = within.operating_point(model, MINIMUMS, threshold=point.threshold - 0.1, patients=2000)
    assert looser.target is None
    assert looser.false_per_100 > point.false_per_100 and looser.caught > point.caught
    assert "false alerts per 100 patients over 8 sessions (asked for 20)" in point.sentence()
    with pytest.raises(ValueError, match="'rate' must be a positive number"):
        within.operating_point(model, MINIMUMS, rate=0)
    with pytest.raises(ValueError, match=r"'threshold' must be at least 0\.5"):
        within.operating_point(model, MINIMUMS, threshold=1.2)


def test_too_few_repeated_patients_are_refused() -> None:
    few = draw(truth(), 10)
    with pytest.raises(ValueError, match="needs patients with several sessions"):
        within.fit_within(few, list(PILLARS), dict.fromkeys(PILLARS, 0.05))


def test_a_later_onset_needs_a_repair_first() -> None:
    model = replace(truth(), phi=0.0)
    sessions = patient({"goals": -1.2})
    again = sessions.iloc[[4]].assign(session=6)
    filtered = within.filter_sessions(model, pd.concat([sessions, again]), MINIMUMS)
    onsets = within.rupture_onsets(filtered, 0.9)
    assert onsets[:, 1].tolist() == [False, False, False, False, True, False]


def test_a_level_sinking_below_its_minimum_is_an_event_of_its_own() -> None:
    model = truth()
    rows = [
        {"respondent_id": "P1", "session": t + 1, **dict.fromkeys(PILLARS, 4.3 if t < 3 else 2.5)}
        for t in range(10)
    ]
    filtered = within.filter_sessions(model, pd.DataFrame(rows), MINIMUMS)
    in_fall, falls, below, sinks = within.alert_states(filtered, 0.9)
    assert sinks.any() and not below[:3].any()  # it sank after the first sessions
    for k in np.flatnonzero(sinks.any(axis=0)):
        onset = int(np.flatnonzero(sinks[:, k])[0])
        assert below[onset:, k].all()  # and each pillar stays below once there
    assert not (falls.any() or in_fall.any())  # every pillar at once: no pillar's own fall
