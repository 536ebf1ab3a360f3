"""Instruments other than the built-in one, through the real `alliance` entry point: five
subscales and no rule, four pillars and a rule, model strings with and without a known scale,
and the honest sample (`--rows`, straight-lining only where keying proves it)."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd
import pyreadstat
import pytest

from .conftest import open_report, run_cli

if TYPE_CHECKING:  # Playwright is imported by the browser fixture, when a test uses it
    from playwright.sync_api import Browser

DATA = Path(__file__).parent / "reference" / "data"
REFERENCE = Path(__file__).parent / "reference"
BFI_MODEL = "; ".join(
    f"{name} =~ " + " + ".join(f"{letter}{k}" for k in range(1, 6))
    for name, letter in (
        ("agree", "A"),
        ("consc", "C"),
        ("extra", "E"),
        ("neuro", "N"),
        ("open", "O"),
    )
)
# psych's bfi keys: these items are reverse-keyed in their scales.
BFI_REVERSED = {"A1", "C4", "C5", "E1", "E2", "O2", "O5"}
BFI_SUBSCALES = {"agree": "A", "consc": "C", "extra": "E", "neuro": "N", "open": "O"}


def bfi_yaml(rule: str = "") -> str:
    """A five-subscale instrument on a 6-point scale, described without wording."""
    lines = [
        "instrument: {name: big_five, version: '1'}",
        "scales:",
        "  six: {label: 1-6, points: {1: '1', 2: '2', 3: '3', 4: '4', 5: '5', 6: '6'}}",
        "scale: six",
        "subscales:",
        *(f"  {s}: {{construct: personality, label: {s.title()}}}" for s in BFI_SUBSCALES),
        "items:",
    ]
    for name, letter in BFI_SUBSCALES.items():
        for k in range(1, 6):
            item = f"{letter}{k}"
            keying = "-" if item in BFI_REVERSED else "+"
            lines.append(f'  - {{id: {item}, subscale: {name}, keying: "{keying}"}}')
    return "\n".join(lines) + "\n" + rule


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("any")


@pytest.fixture(scope="module")
def five(folder: Path) -> Path:
    path = folder / "big_five.yaml"
    path.write_text(bfi_yaml(), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def four(folder: Path) -> Path:
    """Four of the five as the pillars of a non-compensatory rule."""
    path = folder / "four.yaml"
    path.write_text(bfi_yaml("rule: {pillars: [agree, consc, extra, open]}\n"), encoding="utf-8")
    return path


def as_json(*args: str) -> dict[str, Any]:
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# ---------------------------------------------------------------- five subscales, no rule
@pytest.mark.slow
def test_five_subscales_without_a_rule_go_through_every_command(five: Path, folder: Path) -> None:
    export = str(DATA / "bfi.csv")
    check = as_json("check", export, "--instrument", str(five), "--json")
    assert check["rows_in"] == 2800 and len(check["items_matched"]) == 25

    out = folder / "five_scores.csv"
    done = run_cli("score", export, "--instrument", str(five), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "no rule declared" in done.stderr
    scores = pd.read_csv(out, dtype={"respondent_id": str})
    assert list(scores.columns[:6]) == [
        "row_in_export", "respondent_id", "perspective", *BFI_SUBSCALES
    ][:6]  # fmt: skip
    # The id column is carried, so that every scored row joins back to its respondent.
    assert scores["respondent_id"].tolist()[:3] == ["1", "2", "3"]
    assert "alliance_status" not in scores and "p_adequate" not in scores

    doc = as_json("validate", export, "--instrument", str(five), "--json")
    assert set(doc["reliability"]) == set(BFI_SUBSCALES)
    assert doc["models"]["hypothesized"]["df"] == 265
    assert set(doc["models"]) == {"one_factor", "hypothesized", "bifactor"}

    db = folder / "five.duckdb"
    done = run_cli("ingest", export, "--instrument", str(five), "--db", str(db))
    assert done.returncode == 0, done.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM scores").fetchall()[0][0] > 2000
    # Without a rule there is nothing to benchmark or alert on, and the error says what to do.
    for command in (["benchmark", "--by", "clinician_id"], ["alerts"]):
        done = run_cli(*command, "--db", str(db))
        assert done.returncode == 2, done.stderr
        assert "no responses scored under a non-compensatory rule" in done.stderr
        assert "--pillars A,B,..." in done.stderr


def test_the_report_of_another_instrument_reads_in_its_own_words(
    five: Path, folder: Path, browser: Browser
) -> None:
    out = folder / "five.html"
    done = run_cli("report", str(DATA / "bfi.csv"), "--instrument", str(five), "-o", str(out))
    assert done.returncode == 0, done.stderr
    html = out.read_text(encoding="utf-8")
    text = re.sub(r"<script.*?</script>", " ", html, flags=re.S).replace("`alliance check`", "")
    for alien in ("alliance", "bond", "three-pillar", "goals and tasks"):
        assert alien not in text.lower(), alien
    assert "Report on big_five" in text
    assert "The rule was not applied: no rule declared" in text
    assert "5-factor model (Agree, Consc, Extra, Neuro and Open)" in text
    page = open_report(browser, out)
    assert page.errors == []  # type: ignore[attr-defined]
    drawn = page.eval_on_selector_all(".plotly-graph-div", "els => els.length")
    assert drawn >= 3
    page.screenshot(path=str(folder / "five.png"), full_page=True)


# ---------------------------------------------------------------- four pillars with a rule
@pytest.mark.slow
def test_four_pillars_apply_the_rule_and_p_adequate(four: Path, folder: Path) -> None:
    out = folder / "four.csv"
    doc = as_json(
        "score", str(DATA / "bfi.csv"), "--instrument", str(four), "-o", str(out), "--json"
    )
    assert doc["pillars"] == ["agree", "consc", "extra", "open"]
    minimum = 1 + 0.625 * 5  # 62.5% of the 1-6 range
    assert [round(t["value"], 4) for t in doc["thresholds"]] == [minimum] * 4
    assert "carried over from the PDRQ-9 cut-off" in doc["thresholds"][0]["provenance"]
    table = pd.read_csv(out)
    decided = table[table["alliance_status"] != "insufficient_data"]
    p = decided["p_adequate"]
    assert p.between(0, 1).all() and p.notna().all()
    # The probability is highest where every pillar clears its minimum by far.
    adequate = decided["alliance_status"] == "adequate"
    assert p[adequate].mean() > p[~adequate].mean()
    # The alpha behind p_adequate is the one validate reports, for every pillar.
    checked = as_json("validate", str(DATA / "bfi.csv"), "--instrument", str(four), "--json")
    assert set(checked["reliability"]) == set(doc["pillars"])
    for pillar, alpha in doc["measurement_error"]["reliability"].items():
        assert alpha == pytest.approx(checked["reliability"][pillar]["alpha"], abs=1e-12)
    check = as_json("check", str(DATA / "bfi.csv"), "--instrument", str(four), "--json")
    assert check["rows_usable"] == len(table)
    db = folder / "four.duckdb"
    done = run_cli("ingest", str(DATA / "bfi.csv"), "--instrument", str(four), "--db", str(db))
    assert done.returncode == 0, done.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        stored = json.loads(con.execute("SELECT thresholds FROM ingests").fetchall()[0][0])
    assert [t["pillar"] for t in stored] == doc["pillars"]
    # The store's structure check needs the instrument it holds, and says so.
    done = run_cli("validate", "--db", str(db))
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0
    assert "store, which holds 'big_five 1'; give --instrument" in done.stderr
    fit = as_json("validate", "--db", str(db), "--instrument", str(four), "--json")
    assert fit["n"] == fit["rows_in_window"] - fit["left_out"]["incomplete"] > 2000
    html = folder / "four.html"
    done = run_cli("report", str(DATA / "bfi.csv"), "--instrument", str(four), "-o", str(html))
    assert done.returncode == 0, done.stderr
    text = html.read_text(encoding="utf-8")
    assert "Agree, Consc, Extra and Open each reach their own minimum" in text


def test_pillars_on_the_command_line(five: Path, folder: Path) -> None:
    doc = as_json(
        "score", str(DATA / "bfi.csv"), "--instrument", str(five), "--pillars", "agree,neuro",
        "-o", str(folder / "two.csv"), "--json",
    )  # fmt: skip
    assert doc["pillars"] == ["agree", "neuro"]
    done = run_cli("score", str(DATA / "bfi.csv"), "--instrument", str(five), "--pillars", "x,y")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "'pillars' must be subscales of 'big_five'" in done.stderr


# ---------------------------------------------------------------- model strings and scales
def write_sav(path: Path, labels: bool) -> Path:
    rng = np.random.default_rng(5)
    latent = rng.normal(size=(300, 1))
    answers = np.clip(np.rint(3 + latent + rng.normal(scale=0.8, size=(300, 6))), 1, 5)
    frame = pd.DataFrame(answers, columns=[f"q{k}" for k in range(1, 7)])
    frame.insert(0, "participant_id", [f"P{k:03d}" for k in range(300)])
    frame["date"] = rng.integers(0, 2, size=300).astype(float)  # a labelled yes/no, not a date
    points = {1.0: "never", 2.0: "rarely", 3.0: "sometimes", 4.0: "often", 5.0: "always"}
    value_labels = {c: points for c in frame.columns if c.startswith("q")} if labels else {}
    value_labels["date"] = {0.0: "no", 1.0: "yes"}
    pyreadstat.write_sav(frame, str(path), variable_value_labels=value_labels)
    return path


MODEL = "f =~ q1 + q2 + q3; g =~ q4 + q5 + q6"


def test_a_model_string_takes_its_scale_from_spss_value_labels(folder: Path) -> None:
    sav = write_sav(folder / "labelled.sav", labels=True)
    out = folder / "labelled.csv"
    doc = as_json(
        "score", str(sav), "--instrument", MODEL, "--pillars", "f,g", "-o", str(out), "--json"
    )
    t = doc["thresholds"][0]
    assert t["value"] == pytest.approx(3.5)
    assert "PDRQ-9 cut-off" in t["provenance"]
    assert "the 1-5 scale taken from the export's value labels" in t["provenance"]
    assert 0 < doc["share_adequate"] < 1  # not everyone passes a minimum of 0
    scores = pd.read_csv(out)
    assert scores["respondent_id"].iloc[0] == "P000"
    assert "date" not in scores  # 0/1 labelled no/yes is not a visit date
    check = as_json("check", str(sav), "--instrument", MODEL, "--json")
    assert "date" in check["unmatched_columns"]


def test_a_model_string_without_labels_infers_the_range_and_says_so(folder: Path) -> None:
    sav = write_sav(folder / "plain.sav", labels=False)
    check = as_json("check", str(sav), "--instrument", MODEL, "--json")
    inferred = [f for f in check["findings"] if f["kind"] == "scale_inferred"]
    assert [(f["column"], f["value"]) for f in inferred] == [("f", "1-5"), ("g", "1-5")]
    doc = as_json(
        "score", str(sav), "--instrument", MODEL, "--pillars", "f,g",
        "-o", str(folder / "plain.csv"), "--json",
    )  # fmt: skip
    assert "inferred from the lowest and highest answers seen" in doc["thresholds"][0]["provenance"]
    given = as_json(
        "score", str(sav), "--instrument", MODEL, "--pillars", "f,g", "--scale", "1-7",
        "-o", str(folder / "given.csv"), "--json",
    )  # fmt: skip
    assert given["thresholds"][0]["value"] == pytest.approx(1 + 0.625 * 6)
    assert "given with --scale" in given["thresholds"][0]["provenance"]


def test_no_knowable_scale_refuses_the_rule_in_one_line(folder: Path) -> None:
    path = folder / "decimals.csv"
    rng = np.random.default_rng(1)
    pd.DataFrame(rng.normal(size=(50, 6)), columns=[f"q{k}" for k in range(1, 7)]).to_csv(
        path, index=False
    )
    done = run_cli("score", str(path), "--instrument", MODEL, "--pillars", "f,g")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "the rule needs a response scale for 'f'" in done.stderr
    assert "--scale LOW-HIGH" in done.stderr


def test_bad_scale_option_says_what_it_wants(folder: Path) -> None:
    done = run_cli(
        "score", str(DATA / "hs.csv"), "--instrument", "v =~ x1 + x2 + x3", "--scale", "5"
    )
    assert done.returncode == 2 and "'scale' must look like 1-5 or 0-10; got '5'" in done.stderr


# ---------------------------------------------------------------- the honest sample
def test_rows_all_gives_lavaans_numbers_on_a_plain_csv() -> None:
    ref = json.loads((REFERENCE / "bfi.json").read_text())
    for rows in ("all", "usable"):
        doc = as_json("validate", str(DATA / "bfi.csv"), "--model", BFI_MODEL, "--rows", rows,
                      "--missing", "listwise", "--json")  # fmt: skip
        m = doc["models"]["hypothesized"]
        assert doc["n"] == ref["n_used"] == 2436
        assert m["chisq"] == pytest.approx(ref["ml"]["fit"]["chisq"], rel=1e-3)
        for key in ("cfi", "tli", "rmsea", "srmr"):
            assert m[key] == pytest.approx(ref["ml"]["fit"][key], abs=1e-3), key
        sample = doc["sample"]
        assert sample["rows_in"] == 2800 and sample["rows_used"] == 2436
        assert sample["left_out_incomplete"] == 364 and sample["missing_method"] == "listwise"
        # A model string's items carry no keying, so identical answers set no row aside.
        assert sample["left_out"].get("straight_lining", 0) == 0


def test_validate_states_n_and_each_reason(folder: Path) -> None:
    done = run_cli("validate", str(DATA / "bfi.csv"), "--model", BFI_MODEL)
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first == (
        "n = 2,800 of 2,800 rows (rows: usable); none left out; FIML over 87 missing-data "
        "patterns, lowest coverage of an item pair 97.8%; estimator ML"
    )
    done = run_cli("validate", str(DATA / "bfi.csv"), "--model", BFI_MODEL, "--missing", "listwise")
    first = done.stdout.splitlines()[0]
    assert first.startswith("n = 2,436 of 2,800 rows (rows: usable)")
    assert "364 with a missing answer (listwise)" in first


def test_a_negative_item_total_is_named_as_a_finding() -> None:
    doc = as_json("validate", str(DATA / "bfi.csv"), "--model", BFI_MODEL, "--json")
    named = [f for f in doc["findings"] if "'A1'" in f]
    assert named and "may need reverse keying" in named[0]
    assert doc["reliability"]["agree"]["item_total"]["A1"] < 0
    # Unreversed, three subscales have a negative alpha; the table's columns still line up.
    assert doc["reliability"]["extra"]["alpha"] < 0
    done = run_cli("validate", str(DATA / "bfi.csv"), "--model", BFI_MODEL)
    lines = done.stdout.splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith("subscale"))
    table = lines[start : start + 6]
    assert len({len(line) for line in table}) == 1, table
    assert all(" [" in line for line in table[1:])


def test_identical_answers_to_items_keyed_one_way_stay_in_the_sample(
    folder: Path, bank: Any
) -> None:
    from analysis.simulate import simulate, write_export

    sim = simulate(bank, 3000, form="patient-short", clinicians=20, sessions=1, seed=4)
    data = sim.data.copy()
    items = [c for c in data.columns if c in bank.item_ids]
    data.loc[:29, items] = 5.0  # a patient happy with everything answers 5 throughout
    path = write_export(
        type(sim)(data, sim.latent, sim.careless, sim.population, sim.form, sim.items),
        bank,
        folder / "short.csv",
        "csv",
    )
    check = as_json("check", str(path), "--json")
    assert check["quarantine_reasons"].get("straight_lining", 0) == 0
    assert check["finding_counts"]["identical_answers"] >= 30
    doc = as_json("validate", str(path), "--json")
    assert "straight_lining" not in doc["sample"]["left_out"]
    # On the full form, with reverse-keyed items, the same pattern is careless and set aside.
    full = simulate(bank, 400, form="patient", clinicians=10, sessions=1, seed=4).data.copy()
    full.loc[:9, [c for c in full.columns if c in bank.item_ids]] = 5.0
    full_path = folder / "full.csv"
    full.to_csv(full_path, index=False)
    check = as_json("check", str(full_path), "--json")
    assert check["quarantine_reasons"]["straight_lining"] >= 10


def test_zero_usable_rows_score_says_so_and_exits_1(folder: Path) -> None:
    path = folder / "empty_answers.csv"
    path.write_text("respondent_id,pb01,pb02,pb03\nA,,,\nB,,,\n", encoding="utf-8")
    done = run_cli("score", str(path), "-o", str(folder / "none.csv"))
    assert done.returncode == 1
    assert "nothing to score: none of the 2 rows is usable (2 no_answers)" in done.stderr
    assert "nan" not in done.stderr.lower() and "warning" not in done.stderr.lower()
    assert not (folder / "none.csv").exists()


@pytest.mark.slow
def test_report_and_ingest_take_the_same_thresholds_as_score(folder: Path, bank: Any) -> None:
    """A normative minimum whose reference is an export: read, checked and scored by the same
    pipeline in score, report and ingest (ingest crashed on it before)."""
    from analysis.simulate import simulate, write_export

    reference = write_export(
        simulate(bank, 300, form="patient", seed=8), bank, folder / "reference.csv", "csv"
    )
    export = write_export(
        simulate(bank, 300, form="patient", seed=9), bank, folder / "export.csv", "csv"
    )
    minimums = folder / "minimums.yaml"
    minimums.write_text(
        textwrap.dedent(
            f"""
            thresholds:
              goals: {{method: normative, percentile: 25, reference: {reference.name}}}
            """
        ),
        encoding="utf-8",
    )
    doc = as_json(
        "score", str(export), "--thresholds", str(minimums), "-o", str(folder / "s.csv"), "--json"
    )
    goals = next(t for t in doc["thresholds"] if t["pillar"] == "goals")
    assert goals["method"] == "normative" and goals["reference_n"] > 250
    db = folder / "norm.duckdb"
    done = run_cli("ingest", str(export), "--thresholds", str(minimums), "--db", str(db))
    assert done.returncode == 0, done.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        stored = json.loads(con.execute("SELECT thresholds FROM ingests").fetchall()[0][0])
    assert next(t for t in stored if t["pillar"] == "goals")["value"] == goals["value"]
    html = folder / "norm.html"
    done = run_cli("report", str(export), "--thresholds", str(minimums), "-o", str(html))
    assert done.returncode == 0, done.stderr
    assert f"25th percentile of {goals['reference_n']:,} reference scores" in html.read_text()


def test_the_trust_form_is_scored_without_the_alliance_rule(folder: Path, bank: Any) -> None:
    from analysis.simulate import simulate, write_export

    path = write_export(simulate(bank, 120, form="trust", seed=3), bank, folder / "t.csv", "csv")
    out = folder / "trust_scores.csv"
    done = run_cli("score", str(path), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "the rule's pillars (bond, goals, tasks) have no items in this export" in done.stderr
    table = pd.read_csv(out)
    assert {"affective", "rational", "fidelity", "competence", "reliability"} <= set(table)
