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
    assert (
        "false alerts per 100 patients over 8 sessions (asked for at most 20)" in point.sentence()
    )
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


def test_the_scale_of_departures_follows_the_level_where_the_spread_does() -> None:
    """Drawn with one spread for everyone the fitted scale is one along the scores; where the
    higher-level half of the patients moves half as much, it falls by about half from the
    bottom of the scores to the top."""
    true = truth()
    even = draw(true, 4000, seed=3)
    fitted = within.fit_scale(true, even)
    assert fitted.scale is not None and fitted.scale_at is not None
    np.testing.assert_allclose(fitted.scale, 1.0, atol=0.12)
    assert (np.diff(fitted.scale_at, axis=1) > 0).all()
    # the same patients, each one's departures from their own mean halved above the middle
    own = even.groupby("respondent_id")[list(PILLARS)].transform("mean")
    high = (own.mean(axis=1) > own.mean(axis=1).median()).to_numpy()[:, None]
    calm = even.copy()
    calm[list(PILLARS)] = np.where(
        high, own + 0.5 * (even[list(PILLARS)] - own), even[list(PILLARS)]
    )
    uneven = within.fit_scale(true, calm)
    assert uneven.scale is not None
    assert (uneven.scale[:, -1] < 0.75 * uneven.scale[:, 0]).all()
    assert "spread runs from" in uneven.notes[-1]


def test_the_operating_point_counts_the_alerts_of_the_sessions_it_is_given() -> None:
    model = truth()
    sessions = draw(model, 1000, seed=4)
    data = within.filter_sessions(model, sessions, MINIMUMS)
    point = within.operating_point(model, MINIMUMS, rate=25, patients=2000, data=data)
    later = int((~data.first).sum())
    onsets = within.rupture_onsets(data, point.threshold).sum()
    assert point.observed_per_100 == pytest.approx(100 * onsets / later * 7)
    # drawn from the model itself, the two rates agree within their sampling error
    assert point.observed_per_100 == pytest.approx(point.false_per_100, abs=8)
    assert "true and false together" in point.sentence()


def test_the_moments_in_sql_are_the_moments_in_pandas() -> None:
    """The engine's aggregates (analysis.store.queries.within) on a DuckDB table of sessions
    in shuffled rows equal the frame's own, and so fit the same model."""
    import duckdb

    from analysis.store.backends import DuckDBBackend
    from analysis.store.queries.within import within_moments_sql

    sessions = draw(truth(0.3), 500, seed=5)
    sessions.loc[7, "goals"] = np.nan  # an incomplete session is left out of both
    table = sessions.assign(
        perspective="patient",
        date=pd.Timestamp("2026-01-01") + pd.to_timedelta(sessions["session"], "D"),
        response_id=[f"R{k:05d}" for k in range(len(sessions))],
        respondent_id=sessions["respondent_id"].map("P{:04d}".format),
    ).sample(frac=1.0, random_state=1)
    with duckdb.connect() as con:
        con.register("frame", table)
        con.execute("CREATE TABLE scores AS SELECT * FROM frame")
        found = within_moments_sql(DuckDBBackend(con), "patient", list(PILLARS))
    expected = within.within_moments(table, list(PILLARS))
    for name in ("patients", "rows", "most", "followed", "lag_n"):
        assert getattr(found, name) == getattr(expected, name), name
    for name in ("sxx", "sxy", "lag_sum", "lag_products", "mean_y", "mean_ty", "mean_yy"):
        np.testing.assert_allclose(
            np.asarray(getattr(found, name), float),
            np.asarray(getattr(expected, name), float),
            rtol=1e-10,
            err_msg=name,
        )


def test_a_session_without_the_pillar_neither_ends_a_rupture_nor_starts_another() -> None:
    model = replace(truth(), phi=0.0)
    sessions = patient({"goals": -1.2})
    low = sessions.iloc[4]["goals"]
    later = pd.concat(
        [
            sessions,
            sessions.iloc[[4]].assign(session=6, goals=np.nan),  # goals not answered
            sessions.iloc[[4]].assign(session=7, goals=low),  # still down
            sessions.iloc[[3]].assign(session=8),  # back where it was
        ]
    )
    filtered = within.filter_sessions(model, later, MINIMUMS)
    state, onset, repair = within.transitions(filtered, filtered.p_fall, 0.9)
    assert onset[:, 1].tolist() == [False, False, False, False, True, False, False, False]
    assert state[6, 1] and not state[5, 1]  # unknown at 6: no state shown, the run goes on
    assert repair[:, 1].tolist() == [False] * 7 + [True]
