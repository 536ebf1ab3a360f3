"""The calibrated bank as a user meets it: alliance calibrate, score --calibration,
cat-simulate, the short form's exports, the adaptive page in chromium and the report's
section; on the simulator's export, an SPSS file and another instrument (psych's bfi)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from analysis.irt import load_calibration
from analysis.irt.adaptive import StopRule, run_adaptive
from analysis.irt.eap import eap
from instrument import builtin_instrument

from .conftest import open_report, run_cli

if TYPE_CHECKING:  # Playwright is imported by the browser fixture, when a test uses it
    from playwright.sync_api import Browser

DATA = Path(__file__).parent / "reference" / "data"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("irt")
    done = run_cli(
        "simulate",
        "-n",
        "1500",
        "--sessions",
        "1",
        "--form",
        "patient",
        "--seed",
        "31",
        "-o",
        str(folder / "export.csv"),
    )
    assert done.returncode == 0, done.stderr
    done = run_cli("calibrate", str(folder / "export.csv"), "-o", str(folder / "cal.yaml"))
    assert done.returncode == 0, done.stderr
    return folder


def test_calibrate_writes_the_bank_with_its_provenance(folder: Path) -> None:
    cal = load_calibration(folder / "cal.yaml")
    assert (cal.instrument, cal.form, cal.source) == ("alliance", "patient", "export.csv")
    assert len(cal.sha256) == 64 and cal.rows_in == 1500 and 0 < cal.rows_usable <= 1500
    assert list(cal.scales) == ["bond", "goals", "tasks"] and cal.pillars == (
        "bond",
        "goals",
        "tasks",
    )
    for scale in cal.scales.values():
        assert len(scale.items) == 8 and scale.converged
        assert scale.rows <= cal.rows_usable and len(scale.short_form) == 4
        assert scale.theta_minimum is not None and -2 < scale.theta_minimum < 1
        assert all(p.a > 0 and list(p.b) == sorted(p.b) for p in scale.items)
    text = (folder / "cal.yaml").read_text()
    assert text.startswith("# Item calibration of alliance 1.0")


def test_score_on_theta_with_any_subset_of_items(folder: Path, tmp_path: Path) -> None:
    export = pd.read_csv(folder / "export.csv")
    # Half the bond items unanswered for the first 100 rows: theta still comes, less precise.
    export.loc[:99, ["pb02", "pb04", "pb06", "pb08"]] = np.nan
    partial = tmp_path / "partial.csv"
    export.to_csv(partial, index=False)
    out = tmp_path / "scores.csv"
    done = run_cli(
        "score", str(partial), "--calibration", str(folder / "cal.yaml"), "-o", str(out), "--json"
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    scores = pd.read_csv(out)
    for column in ("bond_theta", "bond_theta_se", "bond_t", "bond_theta_pass", "theta_status"):
        assert column in scores
    np.testing.assert_allclose(scores["bond_t"], 50 + 10 * scores["bond_theta"], rtol=1e-12)
    cal = load_calibration(folder / "cal.yaml")
    minimum = cal.scales["bond"].theta_minimum
    scored = scores["bond_theta"].notna()
    assert scored.sum() > 1400
    passes = scores.loc[scored, "bond_theta_pass"].astype(str) == "True"
    assert ((scores.loc[scored, "bond_theta"] >= minimum) == passes).all()
    assert scores.loc[~scored, "bond_theta_pass"].isna().all()
    counts = doc["theta"]["status_counts"]
    assert sum(counts.values()) == len(scores) == doc["rows_scored"]
    assert doc["theta"]["minimums"]["bond"]["theta"] == pytest.approx(minimum)
    ids = scores["respondent_id"].astype(str)
    fewer = ids.isin(export.loc[:99, "respondent_id"].astype(str))
    assert scores.loc[fewer, "bond_theta_se"].mean() > scores.loc[~fewer, "bond_theta_se"].mean()


def test_calibration_errors_are_one_line(folder: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("just: text\n")
    done = run_cli("score", str(folder / "export.csv"), "--calibration", str(bad))
    assert done.returncode == 2
    assert done.stderr.strip().endswith(
        "not a calibration file (alliance calibrate writes one): it needs 'calibration' and "
        "'scales'."
    )
    done = run_cli("cat-simulate", "--calibration", str(folder / "cal.yaml"), "--stop", "se=0")
    assert done.returncode == 2 and "'se' must be above 0; got 0.0." in done.stderr
    done = run_cli("items", "--format", "adaptive")
    assert done.returncode == 2 and "--format adaptive needs --calibration FILE" in done.stderr
    done = run_cli("calibrate", str(folder / "export.csv"), "--form", "nope", "-o", str(bad))
    assert done.returncode == 2 and "nope" in done.stderr and "Traceback" not in done.stderr


def test_cat_simulate_uses_fewer_items_for_the_same_decision(folder: Path) -> None:
    cal = str(folder / "cal.yaml")
    done = run_cli("cat-simulate", "--calibration", cal, "-n", "3000", "--seed", "2", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["source"] == "simulated" and doc["respondents"] == 3000
    assert doc["stop_rule"] == {
        "se": 0.3,
        "min_items": 4,
        "max_items": 6,
        "text": StopRule().text(),
    }
    for row in doc["scales"]:
        assert 4 <= row["mean_items_used"] < 6.01 and row["correlation_with_full"] > 0.97
    adaptive = doc["classification"]["adaptive"]
    assert adaptive["agreement"] > 0.92 and adaptive["kappa"] > 0.85
    on_export = run_cli("cat-simulate", "--calibration", cal, str(folder / "export.csv"))
    assert on_export.returncode == 0, on_export.stderr
    assert "respondents of the export, answering as they did" in on_export.stdout
    assert re.search(r"agrees with the full bank for 9\d\.\d%", on_export.stdout)


def test_the_short_form_exports_like_any_form(folder: Path, tmp_path: Path) -> None:
    cal = load_calibration(folder / "cal.yaml")
    short = [i for s in cal.scales.values() for i in s.short_form]
    out = tmp_path / "dictionary.csv"
    done = run_cli(
        "items", "--calibration", str(folder / "cal.yaml"), "--format", "redcap", "-o", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert "patient-irt-short" in done.stderr
    dictionary = pd.read_csv(out)
    fields = [f for f in dictionary.iloc[:, 0] if f in set(short) | {"respondent_id"}]
    assert sorted(f for f in fields if f != "respondent_id") == sorted(short)
    qualtrics = run_cli("items", "--calibration", str(folder / "cal.yaml"), "--format", "qualtrics")
    assert qualtrics.returncode == 0, qualtrics.stderr
    bank = builtin_instrument()
    for scale in cal.scales.values():
        for item in scale.item_ids:
            assert (bank.item(item).text in qualtrics.stdout) == (item in short), item


def test_the_adaptive_page_asks_as_the_engine_does_and_its_csv_scores(
    folder: Path, tmp_path: Path, browser: Browser
) -> None:
    page_file = tmp_path / "adaptive.html"
    done = run_cli(
        "items",
        "--calibration",
        str(folder / "cal.yaml"),
        "--format",
        "adaptive",
        "-o",
        str(page_file),
    )
    assert done.returncode == 0, done.stderr
    cal = load_calibration(folder / "cal.yaml")
    export = pd.read_csv(folder / "export.csv")
    row = export[export[[i for s in cal.scales.values() for i in s.item_ids]].notna().all(axis=1)]
    row = row.iloc[7]
    bank = builtin_instrument()
    by_text = {bank.item(i).text: i for s in cal.scales.values() for i in s.item_ids}
    page = browser.new_context(accept_downloads=True).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "request",
        lambda req: None if req.url.startswith(("file:", "blob:")) else errors.append(req.url),
    )
    page.goto(page_file.as_uri())
    page.click("#begin")
    assert page.locator("#who-error").is_visible()  # an id comes first
    page.fill("#respondent", "R-7")
    page.fill("#session", "1")
    page.click("#begin")
    while page.locator("#ask").is_visible():
        item = by_text[page.locator("#legend").inner_text()]
        page.check(f"input[name=answer][value='{int(row[item])}']")
        page.click("#next")
    assert errors == []
    order = page.evaluate("document.body.dataset.order").split(",")
    # The same items, in the same order, as the Python engine gives this respondent.
    expected = []
    for scale in cal.scales.values():
        answers = scale.categories(row.to_frame().T)
        run = run_adaptive(scale, answers, StopRule())
        expected += [scale.items[k].item for k in run.order[0] if k >= 0]
    assert order == expected and len(order) < 24
    with page.expect_download() as download:
        page.click("#download")
    saved = tmp_path / "answers.csv"
    download.value.save_as(saved)
    answers = pd.read_csv(saved)
    assert list(answers.columns[:3]) == ["respondent_id", "session", "date"]
    assert answers.loc[0, "respondent_id"] == "R-7" and answers.notna().sum(axis=1)[0] == 3 + len(
        order
    )
    checked = run_cli("check", str(saved), "--json")
    assert json.loads(checked.stdout)["rows_usable"] == 1, checked.stdout
    scored = tmp_path / "scored.csv"
    done = run_cli(
        "score", str(saved), "--calibration", str(folder / "cal.yaml"), "-o", str(scored)
    )
    assert done.returncode == 0, done.stderr
    theta = pd.read_csv(scored).loc[0, "bond_theta"]
    bond = cal.scales["bond"]
    only = row.to_frame().T.copy()
    only[[i for i in bond.item_ids if i not in order]] = np.nan
    expected_theta, _ = eap(bond.categories(only), bond.slopes, bond.intercepts)
    assert theta == pytest.approx(expected_theta[0], abs=1e-9)


def test_the_report_shows_the_calibration(folder: Path, tmp_path: Path, browser: Browser) -> None:
    out = tmp_path / "report.html"
    done = run_cli(
        "report",
        str(folder / "export.csv"),
        "--calibration",
        str(folder / "cal.yaml"),
        "-o",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    page = open_report(browser, out)
    assert page.errors == []  # type: ignore[attr-defined]
    section = page.locator("section#calibration")
    assert "The item bank on the theta metric" in section.inner_text()
    figures = section.locator(".plotly-graph-div")
    assert figures.count() == 2
    # Three panels of information curves: 8 items, the bank and the short form in each.
    assert figures.nth(0).locator("g.scatterlayer .trace").count() == 3 * (8 + 2)
    assert "agrees with the full bank for" in section.locator(".reading").inner_text()


def test_another_instrument_and_an_spss_export(tmp_path: Path) -> None:
    """psych's bfi as a model string (five subscales, no rule): every subscale calibrated,
    short forms by information over the population; and the simulator's SPSS export."""
    model = "; ".join(f"{f} =~ " + " + ".join(f"{f}{k}" for k in range(1, 6)) for f in "ACENO")
    out = tmp_path / "bfi.yaml"
    done = run_cli(
        "calibrate",
        str(DATA / "bfi.csv"),
        "--instrument",
        model,
        "--scale",
        "1-6",
        "--short-items",
        "3",
        "-o",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    cal = load_calibration(out)
    assert list(cal.scales) == list("ACENO") and cal.pillars == ()
    assert all(len(s.short_form) == 3 and s.theta_minimum is None for s in cal.scales.values())
    assert cal.rows_usable == cal.rows_in == 2800
    assert "calibrated on 2,800 usable of 2,800 rows of bfi.csv" in done.stderr
    # bfi has missing answers: every row with an answer is used, and the complete ones counted.
    for scale in cal.scales.values():
        assert scale.rows_complete < scale.rows <= 2800
        assert f"{scale.rows:,} rows ({scale.rows_complete:,} complete)" in done.stderr
    sav = tmp_path / "export.sav"
    done = run_cli(
        "simulate",
        "-n",
        "800",
        "--sessions",
        "1",
        "--form",
        "patient",
        "--seed",
        "3",
        "-o",
        str(sav),
    )
    assert done.returncode == 0, done.stderr
    done = run_cli("calibrate", str(sav), "-o", str(tmp_path / "sav.yaml"), "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert set(doc["scales"]) == {"bond", "goals", "tasks"}


def test_a_redcap_export_of_the_short_form(tmp_path: Path) -> None:
    """A REDCap export (record_id, repeat instances) of the 12-item form calibrates; with 4
    items a pillar, the adaptive test can only ask them all, and says so."""
    export = tmp_path / "redcap.csv"
    done = run_cli(
        "simulate",
        "-n",
        "600",
        "--sessions",
        "2",
        "--form",
        "patient-short",
        "--format",
        "redcap",
        "--seed",
        "9",
        "-o",
        str(export),
    )
    assert done.returncode == 0, done.stderr
    done = run_cli("calibrate", str(export), "-o", str(tmp_path / "cal.yaml"))
    assert done.returncode == 0, done.stderr
    assert "form patient-short" in done.stderr
    done = run_cli("cat-simulate", "--calibration", str(tmp_path / "cal.yaml"), str(export))
    assert done.returncode == 0, done.stderr
    assert (
        "bond, goals, tasks: no more items than the rule's minimum of 4, so an adaptive test "
        "asks them all" in done.stdout
    )
