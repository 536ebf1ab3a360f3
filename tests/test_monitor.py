"""Rupture alerts, patient-clinician agreement and the clinician's own page.

The alert rule on hand-made trajectories (a fall below the minimum, a drop beyond the
reliable-change margin, a drop within it, a repair); ICC(A,1) against pingouin; the
two-perspective simulator; and the commands end to end on a simulated year of monthly exports,
including that no output but the clinician's own page names a patient."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pingouin
import pytest

from analysis import pipeline
from analysis.ruptures import Margin, best_factor, find_alerts, icc_a1, rupture_states
from analysis.ruptures.alerts import find_model_alerts
from analysis.ruptures.course import Course, export_course
from analysis.scoring import ScoreResult
from analysis.simulate import simulate, simulate_perspectives, write_export
from instrument import Instrument

from .conftest import open_report, run_cli

if TYPE_CHECKING:  # Playwright is imported by the browser fixture, when a test uses it
    from playwright.sync_api import Browser

MARGINS = {"bond": Margin("bond", 0.85, 0.6, 100), "goals": Margin("goals", 0.85, 0.6, 100)}
MARGIN = MARGINS["bond"].margin  # 1.96 * sqrt(2) * 0.6 * sqrt(0.15) = 0.644


def trajectory(
    bond: list[float], goals: list[float] | None = None, pid: str = "P1"
) -> pd.DataFrame:
    n = len(bond)
    frame = pd.DataFrame(
        {
            "respondent_id": pid,
            "clinician_id": "C1",
            "site_id": "S1",
            "session": range(1, n + 1),
            "date": pd.date_range("2026-01-05", periods=n, freq="7D"),
            "bond": bond,
            "goals": goals or [4.5] * n,
        }
    )
    for p in ("bond", "goals"):
        frame[f"{p}_minimum"] = 3.5
        frame[f"{p}_pass"] = frame[p] >= 3.5
    both = frame["bond_pass"] & frame["goals_pass"]
    frame["alliance_status"] = np.where(both, "adequate", "inadequate")
    return frame


def events(frame: pd.DataFrame) -> list[tuple[int, str | None, str]]:
    found = find_alerts(frame, MARGINS)
    return list(zip(found["session"], found["pillar"], found["event"], strict=True))


def test_the_margin_is_jacobson_truax() -> None:
    assert pytest.approx(1.959964 * np.sqrt(2) * 0.6 * np.sqrt(0.15)) == MARGIN
    assert pytest.approx(0.6441, abs=1e-4) == MARGIN
    # Against the first session alone the best-session margin is the same margin.
    assert MARGINS["bond"].best_margin(1) == pytest.approx(MARGIN, rel=1e-12)


def test_the_best_session_margin_keeps_the_false_rate_of_the_previous_one() -> None:
    factors = [best_factor(k) for k in range(1, 9)]
    assert factors[0] == pytest.approx(1.959964 * np.sqrt(2), rel=1e-12)
    assert all(b > a for a, b in itertools.pairwise(factors))
    assert best_factor(3) == pytest.approx(3.3220, abs=1e-4)
    # Scores that are error alone (SEM 1): the best of k earlier sessions exceeds the next by
    # more than c_k in 2.5% of sessions, and by more than the plain margin far more often.
    rng = np.random.default_rng(11)
    for k in (2, 3, 7):
        scores = rng.normal(size=(400_000, k + 1))
        fall = scores[:, :k].max(axis=1) - scores[:, k]
        assert np.mean(fall > best_factor(k)) == pytest.approx(0.025, abs=0.001)
    assert np.mean(fall > best_factor(1)) > 0.11  # k = 7 with the previous session's margin
    with pytest.raises(ValueError, match="at least one earlier session"):
        best_factor(0)


def test_a_fall_below_the_minimum_is_an_alert_and_the_return_a_repair() -> None:
    # 4.0 -> 3.4 is a drop of 0.6, within the margin, but below the minimum.
    got = find_alerts(trajectory([4.0, 4.0, 3.4, 3.4, 3.9]), MARGINS)
    assert list(zip(got["session"], got["event"], strict=True)) == [(3, "rupture"), (5, "repair")]
    assert got["reason"].iat[0] == "3.40 is below the minimum 3.50"


def test_a_pillar_hovering_at_the_minimum_is_one_rupture_until_it_is_clear_of_it() -> None:
    # SEM 0.23: 3.6 is above the minimum but within its repair band (3.73), so the fall at
    # session 2 holds and the next dip to 3.4 is not a new alert; 3.9 clears the band.
    band = MARGINS["bond"].repair_band
    assert band == pytest.approx(0.6 * np.sqrt(0.15))
    got = find_alerts(trajectory([4.0, 3.4, 3.6, 3.4, 3.9]), MARGINS)
    assert list(zip(got["session"], got["event"], strict=True)) == [(2, "rupture"), (5, "repair")]
    assert got["reason"].iat[1] == (
        "back clear of the minimum 3.50 by its repair band 0.23, within 0.64 of the previous "
        "session and within 0.80 of the best"
    )
    detail = rupture_states(trajectory([4.0, 3.4, 3.6, 3.4, 3.9]), MARGINS, detail=True)
    bond = detail[detail["pillar"] == "bond"]
    assert list(bond["below"]) == [False, True, False, True, False]
    assert list(bond["unrepaired"]) == [False, False, True, False, False]
    # Just below the band holds; at the band's edge repairs.
    held = find_alerts(trajectory([4.0, 3.4, 3.5 + band - 0.01]), MARGINS)
    assert list(held["event"]) == ["rupture"]
    cleared = find_alerts(trajectory([4.0, 3.4, 3.5 + band + 0.01]), MARGINS)
    assert list(cleared["event"]) == ["rupture", "repair"]


def test_a_drop_beyond_the_margin_above_the_minimum_is_an_alert() -> None:
    # 4.9 -> 4.0: 0.9 beyond both margins (0.64 from the previous session, 0.73 from the best
    # of two), well above the minimum. It stays open while 4.0 is more than the best-of-three
    # margin (0.77) below the best, and is repaired at 4.7.
    got = find_alerts(trajectory([4.9, 4.9, 4.0, 4.0, 4.7]), MARGINS)
    assert list(zip(got["session"], got["event"], strict=True)) == [(3, "rupture"), (5, "repair")]
    assert got["reason"].iat[0] == (
        "0.90 below the previous session (margin 0.64); "
        "0.90 below the best of 2 sessions (margin 0.73)"
    )
    assert got["best_margin"].iat[0] == pytest.approx(best_factor(2) * MARGINS["bond"].sem)
    assert got["margin"].iat[0] == pytest.approx(MARGIN)


def test_the_best_session_margin_widens_with_the_sessions_it_is_the_best_of() -> None:
    # 4.9 -> 4.2 is 0.70: beyond the previous session's margin (0.64), so an alert, though
    # within the best of two's (0.73). At session 4 it is 0.70 below the best of three, within
    # 0.77: repaired.
    got = find_alerts(trajectory([4.9, 4.9, 4.2, 4.2]), MARGINS)
    assert list(zip(got["session"], got["event"], strict=True)) == [(3, "rupture"), (4, "repair")]
    assert got["reason"].iat[0] == "0.70 below the previous session (margin 0.64)"
    assert got["reason"].iat[1] == (
        "back at or above the minimum 3.50, within 0.64 of the previous session and within "
        "0.77 of the best"
    )


def test_a_drop_within_the_margin_is_not_an_alert() -> None:
    assert events(trajectory([4.9, 4.9, 4.3, 4.3, 4.6])) == []


def test_a_slow_slide_is_caught_against_the_best_session() -> None:
    # Each step 0.3 (within the margin); 0.6 below the best of two at session 3 (within 0.73),
    # 0.9 below the best of three at session 4 (beyond 0.77).
    got = find_alerts(trajectory([5.0, 4.7, 4.4, 4.1, 4.1]), MARGINS)
    assert list(zip(got["session"], got["pillar"], got["event"], strict=True)) == [
        (4, "bond", "rupture")
    ]
    assert got["reason"].iat[0] == "0.90 below the best of 3 sessions (margin 0.77)"


def test_the_states_behind_the_alerts() -> None:
    frame = trajectory([5.0, 4.7, 4.4, 4.1, 4.1], goals=[4.5, 3.0, 4.5, 4.5, 4.5])
    states = rupture_states(frame.iloc[::-1], MARGINS)
    assert list(states["session"]) == [1, 2, 3, 4, 5]
    assert list(states["bond"]) == [False, False, False, True, True]
    assert list(states["goals"]) == [False, True, False, False, False]
    detail = rupture_states(frame, MARGINS, detail=True)
    bond = detail[detail["pillar"] == "bond"]
    assert list(bond["earlier"]) == [0, 1, 2, 3, 4]
    assert list(bond["from_best"]) == [False, False, False, True, True]
    assert bond["best_margin"].iat[3] == pytest.approx(best_factor(3) * MARGINS["bond"].sem)
    assert list(detail["pillar"][:2]) == ["bond", "goals"]  # session by session


def test_only_the_pillar_that_fell_alerts() -> None:
    got = events(trajectory([4.5, 4.5, 4.5, 4.5], goals=[4.6, 4.6, 3.0, 4.6]))
    assert got == [(3, "goals", "rupture"), (4, "goals", "repair")]


def test_never_established_and_no_alert_for_a_start_below_the_minimum() -> None:
    got = events(trajectory([3.0, 3.2, 3.1, 4.0]))
    assert got == [(3, None, "never_established")]


def test_unscored_sessions_are_passed_over_and_patients_kept_apart() -> None:
    a = trajectory([4.5, np.nan, 3.0], pid="PA")
    b = trajectory([3.0, 4.5, 4.5], pid="PB")  # PB's first session follows PA's last
    got = find_alerts(pd.concat([b, a]), MARGINS)
    assert list(zip(got["respondent_id"], got["session"], got["event"], strict=True)) == [
        ("PA", 3, "rupture")
    ]


def test_icc_a1_agrees_with_pingouin() -> None:
    rng = np.random.default_rng(4)
    truth = rng.normal(size=60)
    x = truth + rng.normal(scale=0.7, size=60)
    y = 0.3 + 0.8 * truth + rng.normal(scale=0.9, size=60)
    long = pd.DataFrame(
        {
            "target": np.tile(np.arange(60), 2),
            "rater": np.repeat(["p", "c"], 60),
            "score": np.r_[x, y],
        }
    )
    ref = pingouin.intraclass_corr(long, targets="target", raters="rater", ratings="score")
    expected = float(ref.set_index("Type").loc["ICC(A,1)", "ICC"])
    assert icc_a1(x, y) == pytest.approx(expected, abs=1e-12)


def test_the_patient_side_is_the_single_perspective_simulation(bank: Instrument) -> None:
    both = simulate_perspectives(bank, 300, form="patient", sessions=4, seed=3, ruptures=0.2)
    alone = simulate(bank, 300, form="patient", sessions=4, seed=3, ruptures=0.2)
    pd.testing.assert_frame_equal(both["patient"].data, alone.data)
    clinician = both["clinician"].data
    assert set(clinician["perspective"]) == {"clinician"}
    assert clinician.columns[-1] == "ct08"
    keys = ["respondent_id", "session", "date", "clinician_id"]
    pd.testing.assert_frame_equal(clinician[keys], alone.data[keys])
    truth = alone.ruptures
    assert len(truth) > 0 and set(truth["pillar"]) <= {"bond", "goals", "tasks"}
    assert (truth["first_session"] >= 2).all()


def test_ruptures_leave_the_rest_of_the_data_as_it_was(bank: Instrument) -> None:
    plain = simulate(bank, 200, form="patient", sessions=4, seed=8)
    ruptured = simulate(bank, 200, form="patient", sessions=4, seed=8, ruptures=0.3)
    assert plain.ruptures.empty
    changed = (plain.latent != ruptured.latent).any(axis=1)
    planted = ruptured.ruptures
    rows = plain.data[changed][["respondent_id", "session"]]
    assert set(rows["respondent_id"]) == set(planted["respondent_id"])
    assert (plain.data[~changed]["respondent_id"].isin(planted["respondent_id"]) | True).all()


def test_patient_and_clinician_agree_modestly(bank: Instrument) -> None:
    from analysis.scoring import score_export

    sims = simulate_perspectives(bank, 1500, form="patient", sessions=3, seed=2)
    p = score_export(sims["patient"].data, bank).table
    c = score_export(sims["clinician"].data, bank).table
    paired = p.merge(c, on=["respondent_id", "session"], suffixes=("_p", "_c"))
    for pillar in ("bond", "goals", "tasks"):
        r = paired[f"{pillar}_p"].corr(paired[f"{pillar}_c"])
        assert 0.25 < r < 0.45, (pillar, r)
        unseen = (paired[f"{pillar}_pass_c"] & ~paired[f"{pillar}_pass_p"]).mean()
        assert 0.02 < unseen < 0.2


# ---------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("monitor")
    (folder / "exports").mkdir()
    done = run_cli(
        "simulate", "-n", "240", "--clinicians", "8", "--sessions", "6",
        "--perspectives", "patient,clinician", "--months", "12", "--per-month",
        "--ruptures", "0.2", "-o", str(folder / "exports" / "clinic.csv"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    exports = sorted((folder / "exports").glob("*.csv"))
    assert len(exports) == 24
    db = folder / "clinic.duckdb"
    done = run_cli("ingest", *map(str, exports), "--db", str(db))
    assert done.returncode == 0, done.stderr
    return db


def _patients(db: Path) -> set[str]:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return {r[0] for r in con.execute("SELECT DISTINCT respondent_id FROM scores").fetchall()}


def named(text: str, patients: set[str]) -> set[str]:
    """The patient ids that appear in ``text`` as whole words (plotly.js, inlined in every
    page, holds short letter-digit runs of its own)."""
    return set(re.findall(r"(?<![A-Za-z0-9_])P\d+(?![A-Za-z0-9_])", text)) & patients


def test_alert_counts_name_no_patient(store: Path, tmp_path: Path) -> None:
    done = run_cli("alerts", "--db", str(store), "--json", "-o", str(tmp_path / "alerts.html"))
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["totals"]["ruptures"] > 0 and doc["totals"]["repairs"] > 0
    assert {m["pillar"] for m in doc["rule"]["item_error"]} == {"bond", "goals", "tasks"}
    # the operating point is the first thing said, and it is the default rate's
    point = doc["rule"]["operating_point"]
    assert doc["operating_point"].startswith("alerts at a probability of a fall of 0.5 SD")
    assert point["target_false_alerts_per_100_patients"] == 25
    assert 0 < point["expected_false_alerts_per_100_patients"] <= 25
    assert 0.5 <= point["threshold"] < 1 and 0 < point["caught_at_onset_1sd"] < 1
    assert set(doc["rule"]["model"]["true_score_sd"]) == {"bond", "goals", "tasks"}
    assert all(g["n_patients"] >= 5 for g in doc["groups"])
    assert all(m["n_patients"] >= 5 for m in doc["months"])
    assert sum(g["ruptures"] for g in doc["groups"]) <= doc["totals"]["ruptures"]
    page = (tmp_path / "alerts.html").read_text()
    for text in (done.stdout, page):
        assert not named(text, _patients(store))


def _reference_counts(
    sessions: pd.DataFrame, alerts: pd.DataFrame, key: str, pillars: list[str]
) -> pd.DataFrame:
    """The counts per key from sessions and events in pandas, as the engine should give them."""
    s, e = sessions[sessions[key].notna()], alerts[alerts[key].notna()]
    out = pd.DataFrame(
        {
            "n_patients": s.groupby(key)["respondent_id"].nunique(),
            "n_sessions": s.groupby(key).size(),
        }
    )
    for kind, column in (
        ("rupture", "ruptures"),
        ("repair", "repairs"),
        ("below_minimum", "below_minimum"),
    ):
        out[column] = e[e["event"] == kind].groupby(key).size()
    out["never_established"] = e[e["event"] == "never_established"].groupby(key).size()
    ruptured = e[e["event"] == "rupture"]
    out["patients_with_rupture"] = ruptured.groupby(key)["respondent_id"].nunique()
    for p in pillars:
        out[f"{p}_ruptures"] = ruptured[ruptured["pillar"] == p].groupby(key).size()
    return out.fillna(0).astype("int64")


@pytest.mark.parametrize("since", [None, "2026-07-01"])
def test_the_engine_finds_the_alerts_the_python_filter_finds(
    store: Path, since: str | None
) -> None:
    """The counts leave the sessions where they are: the model's moments are aggregates of the
    engine's SQL, and the filter runs on batches of whole patients the engine streams. On a
    year of sessions with planted ruptures, the model is the one fitted in pandas, its events
    are the pandas filter's, one for one, and so are the counts per clinician of a window."""
    import duckdb

    from analysis.monitor import alert_counts, monitor
    from analysis.ruptures.model import fit_within
    from analysis.store.backends import DuckDBBackend, store_pillars
    from analysis.store.queries.sessions import load_sessions

    window = None if since is None else pd.Timestamp(since).date()
    with duckdb.connect(str(store), read_only=True) as con:
        backend = DuckDBBackend(con, store.name)
        pillars = store_pillars(backend)
        sessions = load_sessions(backend, "patient", pillars)
        m = monitor(backend, since=window)
        assert m.sessions.empty  # nothing per session came back for the counts
        counts = alert_counts(backend, m, "clinician_id", identifiable=True)
        found = backend.query(
            "SELECT e.pillar, e.event, s.respondent_id, s.session FROM alert_events e "
            "JOIN scores s USING (response_id, instrument_version)"
        )
    rule = m.alert_rule
    error = {p: m.margins[p].sem ** 2 for p in pillars}
    fitted = fit_within(sessions, pillars, error)
    for name in ("mean", "trend", "levels", "sessions", "error"):
        np.testing.assert_allclose(getattr(rule.model, name), getattr(fitted, name), atol=1e-10)
    assert rule.model.phi == pytest.approx(fitted.phi, abs=1e-12)
    expected = find_model_alerts(sessions, rule)
    keys = ["respondent_id", "session", "pillar", "event"]

    def ordered(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame[keys].fillna({"pillar": ""}).astype({"session": float})
        return out.sort_values(keys).reset_index(drop=True)

    pd.testing.assert_frame_equal(ordered(found), ordered(expected), check_dtype=False)
    if window is not None:
        cut = pd.Timestamp(window)
        expected = expected[pd.to_datetime(expected["date"]) >= cut]
        sessions = sessions[sessions["date"] >= cut]
    assert (expected["event"] == "rupture").sum() > 15
    assert (expected["event"] == "repair").sum() > 3
    assert (expected["event"] == "never_established").sum() > 5
    want = _reference_counts(sessions, expected, "clinician_id", pillars)
    got = counts.groups.set_index("group")[want.columns]
    pd.testing.assert_frame_equal(got, want, check_names=False)
    assert counts.totals is not None
    assert counts.totals["sessions"] == len(sessions)
    assert counts.totals["ruptures"] == int((expected["event"] == "rupture").sum())
    assert counts.totals["below_minimum"] == int((expected["event"] == "below_minimum").sum())


def test_a_clinicians_list_names_their_patients_only(store: Path) -> None:
    done = run_cli("alerts", "--db", str(store), "--clinician", "C01", "--json")
    assert done.returncode == 0, done.stderr
    assert "identifiable patient data" in done.stderr
    doc = json.loads(done.stdout)
    assert doc["identifiable"] is True and doc["alerts"]
    import duckdb

    with duckdb.connect(str(store), read_only=True) as con:
        own = {
            r[0]
            for r in con.execute(
                "SELECT DISTINCT respondent_id FROM scores WHERE clinician_id = 'C01'"
            ).fetchall()
        }
    assert {a["respondent_id"] for a in doc["alerts"]} <= own
    masked = run_cli(
        "alerts", "--db", str(store), "--clinician", "C01", "--json", "--pseudonymize", "k"
    )
    ids = {a["respondent_id"] for a in json.loads(masked.stdout)["alerts"]}
    assert ids and all(i.startswith("anon_") for i in ids)


def test_benchmark_counts_agreement_per_clinician(store: Path) -> None:
    done = run_cli("benchmark", "--db", str(store), "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    agreement = {a["pillar"]: a for a in doc["agreement"]}
    for a in agreement.values():
        assert 0.1 < a["icc_a1"] < 0.6
        assert a["loa_low"] < a["mean_difference"] < a["loa_high"]
        assert a["unseen_ruptures"] > 0
    assert any(g.get("unseen_ruptures") for g in doc["groups"])
    assert not named(done.stdout, _patients(store))


def test_the_clinicians_page_in_chromium(store: Path, tmp_path: Path, browser: Browser) -> None:
    out = tmp_path / "c01.html"
    done = run_cli(
        "benchmark", "--db", str(store), "--clinician", "C01", "-o", str(out),
        "--pseudonymize", "key",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    html = out.read_text()
    assert "identifiable patient data" in html
    assert not named(html, _patients(store))  # pseudonymized
    assert "anon_" in html
    colleagues = {f"C0{k}" for k in range(2, 9)}
    assert not set(re.findall(r"(?<![A-Za-z0-9_])C\d+(?![A-Za-z0-9_])", html)) & colleagues
    page = open_report(browser, out)
    assert page.errors == []  # type: ignore[attr-defined]
    drawn = page.evaluate(
        """Array.from(document.querySelectorAll('.plotly-graph-div')).map(d =>
            d.querySelectorAll('svg.main-svg').length > 0
            && d.querySelectorAll('path.point, g.points path').length > 0)"""
    )
    assert len(drawn) == 3 and all(drawn)  # sparklines, Bland-Altman, funnel
    # open ruptures come first, ranked by the probability of the fall
    rows = page.locator("#alerts table").first.locator("tbody tr")
    assert rows.count() > 0
    status = rows.locator("td:nth-child(5)").all_inner_texts()
    probability = [float(t) for t in rows.locator("td:nth-child(7)").all_inner_texts()]
    still = [t == "still open" for t in status]
    assert still == sorted(still, reverse=True) and any(still)
    assert all(t == "still open" or t.startswith("repaired at session ") for t in status)
    opened = [p for p, s in zip(probability, still, strict=True) if s]
    assert opened == sorted(opened, reverse=True)
    about = page.locator("#about").inner_text()
    assert "false alerts per 100 patients over 8 sessions" in about
    assert "still open" in about and "at each one's next visit" in about
    refused = run_cli("benchmark", "--db", str(store), "--clinician", "C01", "--json")
    assert refused.returncode != 0 and "-o FILE.html" in refused.stderr


def test_the_benchmark_page_draws_alerts_and_agreement(
    store: Path, tmp_path: Path, browser: Browser
) -> None:
    out = tmp_path / "bench.html"
    done = run_cli("benchmark", "--db", str(store), "-o", str(out))
    assert done.returncode == 0, done.stderr
    page = open_report(browser, out)
    assert page.errors == []  # type: ignore[attr-defined]
    section = page.locator("#alerts .plotly-graph-div")
    assert section.count() == 2
    assert page.locator("#alerts .plotly-graph-div .heatmaplayer").count() == 3
    assert not named(out.read_text(), _patients(store))
    # Its tables are wider than a narrow window: each scrolls in its own box, the page does not.
    page.set_viewport_size({"width": 600, "height": 900})
    page.wait_for_timeout(800)  # the figures follow the window (responsive)
    widths = page.evaluate(
        "[document.body.scrollWidth, window.innerWidth,"
        " Math.max(...[...document.querySelectorAll('table')].map(t => t.scrollWidth))]"
    )
    assert widths[2] > widths[1] >= widths[0]


def test_differencing_through_since_is_withheld(tmp_path: Path) -> None:
    from .test_disclosure import clinic, sessions

    export = tmp_path / "clinic.csv"
    # each patient three times in the same few days, so the within-patient model can be fitted
    frame = sessions([row for row in clinic() for _ in range(3)], seed=1)
    frame["session"] = frame.groupby("respondent_id").cumcount() + 1
    frame["date"] = pd.to_datetime(frame["date"]) + pd.to_timedelta(frame["session"] - 1, "D")
    frame.to_csv(export, index=False)
    db = tmp_path / "clinic.duckdb"
    assert run_cli("ingest", str(export), "--db", str(db)).returncode == 0
    first = json.loads(run_cli("alerts", "--db", str(db), "--json").stdout)
    assert "C01" in {g["group"] for g in first["groups"]}  # 6 patients
    later = run_cli("alerts", "--db", str(db), "--json", "--since", "2026-02-01")
    doc = json.loads(later.stdout)
    # C01 since February has 5 patients: shown beside the first output it would give away
    # the one January patient.
    assert "C01" not in {g["group"] for g in doc["groups"]}
    assert doc["withheld_groups"] >= 1
    assert any("withheld" in n for n in doc["notes"])


def test_a_store_of_first_sessions_raises_no_alert_and_says_why(tmp_path: Path) -> None:
    from .test_disclosure import clinic, sessions

    export = tmp_path / "clinic.csv"
    sessions(clinic(), seed=1).to_csv(export, index=False)  # one session per patient
    db = tmp_path / "clinic.duckdb"
    assert run_cli("ingest", str(export), "--db", str(db)).returncode == 0
    done = run_cli("alerts", "--db", str(db))
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot raise alerts yet" in lines[0]
    assert "at least 20 with two or more; there are 0" in lines[0]
    # the benchmark still runs, without its alerts section
    bench = run_cli("benchmark", "--db", str(db), "--json", "--min-n", "5")
    assert bench.returncode == 0, bench.stderr
    assert json.loads(bench.stdout)["alerts"] is None


def _export_course(
    bank: Instrument, folder: Path, *, sessions: int, ruptures: float = 0.0
) -> tuple[pd.DataFrame, ScoreResult, Course | None]:
    """Planted ruptures, the scored export and its course."""
    sim = simulate(
        bank, 400, clinicians=8, sessions=sessions, seed=5, ruptures=ruptures, rupture_size=2.0
    )
    path = write_export(sim, bank, folder / f"export-{sessions}-{ruptures}.csv", "csv")
    options = pipeline.Options()
    scored = pipeline.score(pipeline.read_checked(path, options, bank), options)
    return sim.ruptures, scored, export_course(scored)


def test_an_exports_course_finds_planted_ruptures(bank: Instrument, tmp_path: Path) -> None:
    truth, scored, planted = _export_course(bank, tmp_path, sessions=6, ruptures=0.3)
    _, _, calm = _export_course(bank, tmp_path, sessions=6)
    assert planted is not None and calm is not None
    assert planted.rule is not None and calm.rule is not None
    decided = scored.table[scored.table["alliance_status"].isin(("adequate", "inadequate"))]
    followed = (decided.groupby("respondent_id").size() >= 2).sum()
    assert planted.patients == followed
    assert list(planted.per_pillar.index) == ["bond", "goals", "tasks"]
    # Ruptures of 2 latent SDs, one pillar for a session or two: most are found at onset, on
    # the pillar planted.
    table = scored.table.assign(**{f"{p}_minimum": 3.5 for p in ("bond", "goals", "tasks")})
    events = find_model_alerts(table, planted.rule)
    onsets = events[events["event"] == "rupture"]
    found = truth.merge(
        onsets,
        left_on=["respondent_id", "pillar", "first_session"],
        right_on=["respondent_id", "pillar", "session"],
        how="left",
    )
    assert len(truth) > 80
    assert found["event"].notna().mean() > 0.6
    assert planted.per_pillar["alerts"].sum() == len(onsets)
    # The model's item error is the export's own alpha and SD; the drop is half a true SD.
    c = scored.classification
    assert c is not None and c.error is not None
    sem = c.error.sd * np.sqrt(1 - c.error.reliability)
    per_pillar = planted.per_pillar
    np.testing.assert_allclose(per_pillar["item error SD"], sem[per_pillar.index], rtol=1e-9)
    np.testing.assert_allclose(per_pillar["drop"], 0.5 * per_pillar["true-score SD"], rtol=1e-9)
    # In the calm clinic every alert is false: the rate its sessions raise, stated beside the
    # model's, is the count of its alerts per session after a patient's first, times 7.
    point = calm.rule.point
    assert point.false_per_100 <= 25 and point.observed_per_100 is not None
    later = calm.sessions - calm.patients
    assert point.observed_per_100 == pytest.approx(
        100 * calm.per_pillar["alerts"].sum() / later * 7, rel=1e-9
    )
    assert "true and false together" in calm.first_line()


def test_an_exports_course_shows_no_small_session_number(bank: Instrument, tmp_path: Path) -> None:
    _, scored, _ = _export_course(bank, tmp_path, sessions=8)
    course = export_course(scored, min_n=300)
    assert course is not None
    assert (course.by_session["patients"] >= 300).all()
    hidden = scored.table.groupby("session")["respondent_id"].nunique()
    assert (hidden < 300).any()
    assert any("fewer than 300 patients are not shown" in note for note in course.notes)


def test_an_export_of_single_sessions_has_no_course(bank: Instrument, tmp_path: Path) -> None:
    _, _, course = _export_course(bank, tmp_path, sessions=1)
    assert course is None


def test_the_library_holds_the_privacy_floor(store: Path) -> None:
    """A Python caller gets the command line's guarantee: counts and agreement with cells of
    fewer than 5 patients are refused unless the output is declared identifiable."""
    import duckdb

    from analysis.monitor import agreement_by_group, alert_counts, monitor
    from analysis.store.backends import DuckDBBackend

    with duckdb.connect(str(store), read_only=True) as con:
        backend = DuckDBBackend(con, store.name)
        m = monitor(backend, min_n=2)
        for call in (
            lambda: alert_counts(backend, m, "clinician_id"),
            lambda: agreement_by_group(backend, m, "clinician_id", []),
        ):
            with pytest.raises(ValueError, match="at least 5 patients; got 2"):
                call()
        assert len(alert_counts(backend, m, "clinician_id", identifiable=True).groups)
