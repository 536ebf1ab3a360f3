"""`alliance benchmark` against R's lme4 (committed reference) and a statsmodels fit done by
hand, its funnel, and its privacy: suppressed groups and respondent ids appear in no output."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from analysis.benchmark import funnel

from .conftest import monthly, open_report, run_cli

if TYPE_CHECKING:  # Playwright is imported by the browser fixture, when a test uses it
    from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def store(year: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("store") / "clinic.duckdb"
    done = run_cli("ingest", *map(str, monthly(year)), "--db", str(db))
    assert done.returncode == 0, done.stderr
    return db


def benchmark_json(db: Path, *args: str) -> dict:
    done = run_cli("benchmark", "--db", str(db), "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def sessions(db: Path, pillar: str) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            f"""SELECT s.clinician_id, s.respondent_id, s.{pillar},
                       CAST(r."extra:dropout" AS DOUBLE) AS dropout
                FROM scores s JOIN responses r USING (response_id, instrument_version)
                WHERE s.{pillar} IS NOT NULL"""
        ).fetchdf()


REFERENCE = Path(__file__).parent / "reference"


@pytest.mark.parametrize("adjust", [(), ("dropout",)])
def test_the_mixed_model_matches_lme4(tmp_path: Path, adjust: tuple[str, ...]) -> None:
    # tests/reference/make_mixed_reference.R: lme4's REML fit of the same sessions.
    expected = json.loads((REFERENCE / "mixed.json").read_text())["models"]
    db = tmp_path / "clinic.duckdb"
    done = run_cli("ingest", str(REFERENCE / "data" / "clinic.csv"), "--db", str(db))
    assert done.returncode == 0, done.stderr
    flags = [a for name in adjust for a in ("--adjust", name)]
    result = benchmark_json(db, "--by", "clinician_id", "--min-n", "1", "--identifiable", *flags)
    groups = {row["group"]: row for row in result["groups"]}
    pillars = ["goals"] if adjust else ["bond", "goals", "tasks"]
    for pillar in pillars:
        ours, theirs = result["mixed_models"][pillar], expected[pillar]
        if adjust:
            theirs = expected["goals_adjusted_for_dropout"]
            assert ours["covariate_effects"]["dropout"] == pytest.approx(
                theirs["covariate_effect"], abs=1e-5
            )
        for key in ("var_group", "var_patient", "var_session"):
            assert ours[key] == pytest.approx(theirs[key], rel=1e-4), (pillar, key)
        assert ours["intercept"] == pytest.approx(theirs["intercept"], abs=1e-5)
        assert set(groups) == set(theirs["shrunken"])
        for group, row in groups.items():
            assert row[f"{pillar}_shrunken"] == pytest.approx(theirs["shrunken"][group], abs=1e-5)
            assert row[f"{pillar}_shrunken_se"] == pytest.approx(
                theirs["shrunken_se"][group], abs=1e-5
            )


@pytest.mark.parametrize("adjust", [(), ("dropout",)])
def test_shrunken_estimates_match_a_statsmodels_fit(store: Path, adjust: tuple[str, ...]) -> None:
    flags = [a for name in adjust for a in ("--adjust", name)]
    result = benchmark_json(store, "--by", "clinician_id", "--min-n", "1", "--identifiable", *flags)
    data = sessions(store, "goals")
    formula = "goals ~ 1"
    if adjust:
        # Case-mix enters as the patient's mean, centred over patients.
        per_patient = data.groupby(["clinician_id", "respondent_id"])["dropout"].transform("mean")
        patients = data.drop_duplicates(["clinician_id", "respondent_id"])
        data["dropout_c"] = per_patient - per_patient.loc[patients.index].mean()
        formula = "goals ~ dropout_c"
    fit = smf.mixedlm(
        formula,
        data,
        groups="clinician_id",
        re_formula="1",
        vc_formula={"patient": "0 + C(respondent_id)"},
    ).fit(reml=True)
    model = result["mixed_models"]["goals"]
    assert model["var_group"] == pytest.approx(fit.cov_re.iloc[0, 0], rel=1e-3)
    assert model["var_patient"] == pytest.approx(fit.vcomp[0], rel=1e-3)
    assert model["var_session"] == pytest.approx(fit.scale, rel=1e-3)
    assert model["intercept"] == pytest.approx(fit.fe_params["Intercept"], abs=1e-4)
    if adjust:
        assert model["covariate_effects"]["dropout"] == pytest.approx(
            fit.fe_params["dropout_c"], abs=1e-4
        )
    by_hand = {
        group: fit.fe_params["Intercept"] + effects.iloc[0]
        for group, effects in fit.random_effects.items()
    }
    ours = {row["group"]: row["goals_shrunken"] for row in result["groups"]}
    assert set(ours) == set(by_hand)
    assert max(abs(ours[g] - by_hand[g]) for g in ours) < 1e-4
    # Shrinkage: the estimates spread less than the observed means.
    observed = np.array([row["goals_mean"] for row in result["groups"]])
    assert np.std(list(ours.values())) < np.std(observed)
    total = model["var_group"] + model["var_patient"] + model["var_session"]
    assert model["icc_group"] == pytest.approx(model["var_group"] / total)


def test_groups_below_the_minimum_appear_in_no_output(store: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(store), read_only=True) as con:
        sizes = con.execute(
            "SELECT clinician_id, count(DISTINCT respondent_id) FROM scores GROUP BY 1"
        ).fetchall()
        patients = {r[0] for r in con.execute("SELECT respondent_id FROM scores").fetchall()}
    min_n = int(np.median([n for _, n in sizes]))
    small = {g for g, n in sizes if n < min_n}
    assert 5 < len(small) < len(sizes) - 5
    html, csv = tmp_path / "benchmark.html", tmp_path / "groups.csv"
    result = benchmark_json(store, "--min-n", str(min_n), "-o", str(html))
    done = run_cli("benchmark", "--db", str(store), "--min-n", str(min_n), "-o", str(csv))
    assert done.returncode == 0, done.stderr
    text = run_cli("benchmark", "--db", str(store), "--min-n", str(min_n)).stdout

    assert result["suppressed_groups"] == len(small)
    assert {g["group"] for g in result["groups"]} == {g for g, n in sizes if n >= min_n}
    assert all(g["n_patients"] >= min_n for g in result["groups"])
    assert all(t["n_patients"] >= min_n for t in result["trends"])
    page = html.read_text(encoding="utf-8")
    page = page[page.index("</script>") :]  # past the inlined plotly.js library
    # Only patients rated these sessions: the agreement section says so rather than ending.
    assert result["agreement"] is None
    assert "No patient-clinician agreement is shown: it needs at least" in page
    for output in (json.dumps(result), page, csv.read_text(encoding="utf-8"), text):
        found = set(re.findall(r"\bC\d\d\b", output))
        assert found and not found & small
        assert not set(re.findall(r"\bP\d{4}\b", output)) & patients


def test_since_and_norms_change_what_is_compared(store: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(store), read_only=True) as con:
        later = con.execute("SELECT count(*) FROM scores WHERE date >= '2026-07-01'").fetchall()
    result = benchmark_json(store, "--since", "2026-07-01", "--by", "site_id")
    assert result["sessions"] == later[0][0]
    assert all(t["month"] >= "2026-07" for t in result["trends"])
    norms = tmp_path / "norms.csv"
    pd.DataFrame({"share_adequate": [0.1, 0.2, 0.3, 0.99], "other": 1}).to_csv(norms, index=False)
    ranked = benchmark_json(store, "--by", "site_id", "--norms", str(norms))
    for group in ranked["groups"]:
        expected = 100 * np.mean(np.array([0.1, 0.2, 0.3]) < group["share_adequate"]) * 3 / 4
        assert group["share_adequate_percentile"] == pytest.approx(expected)
        assert "bond_percentile" not in group
    assert ranked["percentile_reference"] == str(norms)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    done = run_cli("benchmark", "--db", str(store), "--norms", str(bad))
    assert done.returncode == 2 and "needs at least one column named bond" in done.stderr


def test_funnel_limits_widen_only_for_overdispersion() -> None:
    rng = np.random.default_rng(5)
    n = rng.integers(40, 400, size=60).astype(float)
    binomial = rng.binomial(n.astype(int), 0.7)
    plain = funnel(binomial, n)
    assert plain.phi == 1.0  # chance alone: the binomial limits stand
    assert plain.target == pytest.approx(binomial.sum() / n.sum())
    shares = np.clip(rng.normal(0.7, 0.12, size=60), 0.05, 0.95)
    spread = funnel(np.round(shares * n), n)
    z = (np.round(shares * n) / n - spread.target) / np.sqrt(
        spread.target * (1 - spread.target) / n
    )
    low, high = np.quantile(z, [0.1, 0.9])
    assert spread.phi == pytest.approx(np.mean(np.clip(z, low, high) ** 2))
    assert spread.phi > 2
    at = np.array([1000.0])
    wide, narrow = spread.limits(at)["95%"], plain.limits(at)["95%"]
    half = 1.959964 * np.sqrt(spread.target * (1 - spread.target) / 1000)
    assert wide[1][0] - spread.target == pytest.approx(half * np.sqrt(spread.phi), rel=1e-5)
    assert narrow[1][0] - plain.target < wide[1][0] - spread.target


EVIL = "<script>window.__pwned = 1</script>"


def test_benchmark_report_in_chromium(year: Path, tmp_path: Path, browser: Browser) -> None:
    frame = pd.read_csv(monthly(year)[4], dtype=str, keep_default_na=False)
    frame.loc[frame["clinician_id"] == frame["clinician_id"].iloc[0], "clinician_id"] = EVIL
    export = tmp_path / "may.csv"
    frame.to_csv(export, index=False)
    db, out = tmp_path / "clinic.duckdb", tmp_path / "benchmark.html"
    assert run_cli("ingest", str(export), "--db", str(db)).returncode == 0
    done = run_cli("benchmark", "--db", str(db), "--min-n", "3", "--identifiable", "-o", str(out))
    assert done.returncode == 0, done.stderr
    page = open_report(browser, out)
    assert page.errors == []  # type: ignore[attr-defined]
    assert all(url.startswith("file:") for url in page.requests)  # type: ignore[attr-defined]
    drawn = page.evaluate(
        """Array.from(document.querySelectorAll('.plotly-graph-div')).map(d =>
            d.querySelectorAll('path.point, g.points path, g.scatterlayer path').length > 0)"""
    )
    assert len(drawn) == 4 and all(drawn)  # funnel, shrinkage, trends, rupture alerts
    assert page.evaluate("window.__pwned") is None
    assert page.get_by_text(EVIL).count() >= 1  # shown as text in the table
    for link in page.locator("nav a").all():
        href = link.get_attribute("href")
        assert href is not None and page.locator(href).count() == 1
    page.close()


def test_pseudonymize_replaces_group_names_everywhere(store: Path) -> None:
    plain = benchmark_json(store, "--by", "site_id")
    hidden = benchmark_json(store, "--by", "site_id", "--pseudonymize", "clinic-secret")
    names = [g["group"] for g in hidden["groups"]]
    assert all(re.fullmatch(r"anon_[0-9a-f]{16}", n) for n in names)
    assert not re.search(r"\bS\d\d\b", json.dumps(hidden))
    assert [g["n_sessions"] for g in hidden["groups"]] == [g["n_sessions"] for g in plain["groups"]]
    again = benchmark_json(store, "--by", "site_id", "--pseudonymize", "clinic-secret")
    assert [g["group"] for g in again["groups"]] == names  # same key, same pseudonyms
