"""Measurement invariance on simulated alliance data: a planted item is found, and no other;
the command line's table, JSON and errors; patients against clinicians on parallel items."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from analysis.cfa import FitSpec
from analysis.cfa.invariance import InvarianceResult, run_invariance
from analysis.simulate import Dif, simulate
from analysis.validate import hypothesized_input
from instrument import builtin_instrument

from .conftest import run_cli

DATA = Path(__file__).parent / "reference" / "data"
HS_MODEL = "visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6; speed =~ x7 + x8 + x9"


@cache
def by_site(seed: int, *dif: Dif) -> InvarianceResult:
    bank = builtin_instrument()
    sim = simulate(bank, 1500, form="patient", clinicians=24, sessions=1, seed=seed, dif=dif)
    model, source = hypothesized_input(sim.data, bank, None, keep=("site_id",))
    return run_invariance(source, model, FitSpec(group="site_id"))


def test_a_planted_intercept_is_freed_and_no_other_parameter() -> None:
    result = by_site(3, Dif("pg03", "site_id", "S01", intercept=-0.8))
    assert result.first_failure == "scalar"
    assert [(f.level, f.item, f.op, f.group) for f in result.freed] == [
        ("scalar", "pg03", "~1", "S01")
    ]
    scalar = next(lv for lv in result.levels if lv.name == "scalar")
    assert scalar.holds and scalar.full is not None and not holds_fully(scalar.full_comparison)
    freed = result.freed[0]
    others = [v for g, v in freed.estimates.items() if g != "S01"]
    assert freed.estimates["S01"] < min(others) - 0.5  # the planted shift is downwards
    assert "differs most in 'S01'" in result.findings[0]


def holds_fully(comparison: dict[str, float] | None) -> bool:
    assert comparison is not None
    return comparison["delta_cfi"] >= -0.01 and comparison["delta_rmsea"] <= 0.015


def test_without_a_planted_item_every_level_holds_and_nothing_is_freed() -> None:
    result = by_site(3)
    assert result.first_failure is None
    assert result.freed == ()
    assert [lv.name for lv in result.levels] == ["configural", "metric", "scalar", "strict"]
    assert result.conclusion() == "strict invariance holds (every level tested)"


def test_dif_specifications_are_checked() -> None:
    assert Dif.parse("pg03:intercept=-0.8:site_id=S01") == Dif(
        "pg03", "site_id", "S01", intercept=-0.8
    )
    with pytest.raises(ValueError, match="write ITEM:intercept=SIZE:COLUMN=VALUE"):
        Dif.parse("pg03:-0.8")
    with pytest.raises(ValueError, match="the column is one of site_id, clinician_id"):
        Dif.parse("pg03:intercept=1:gender=f")
    with pytest.raises(ValueError, match="no row has site_id = 'S99'"):
        simulate(builtin_instrument(), 50, form="patient", dif=(Dif("pg03", "site_id", "S99", 1),))


def test_the_command_prints_the_sequence_and_the_freed_intercepts() -> None:
    result = run_cli(
        "invariance",
        str(DATA / "hs.csv"),
        "--group",
        "school",
        "--rows",
        "all",
        "--model",
        HS_MODEL,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "n = 301 of 301 rows (rows: all); none left out; no answer missing (complete rows); "
        "estimator ML"
    )
    assert lines[1] == "groups of 'school': Pasteur 156, Grant-White 145"
    table = {line.split("  ")[0].strip(): line for line in lines[3:9]}
    assert "115.851   48" in table["configural"] and "124.044   54" in table["metric"]
    assert "164.103   60" in table["scalar"] and table["scalar"].endswith("fails")
    assert table["scalar (partial, 2 freed)"].endswith("holds")
    assert "fitting the scalar model" in result.stderr
    assert sum(line.startswith("finding: scalar invariance: the intercept") for line in lines) == 2


def test_the_json_contract_of_invariance() -> None:
    result = run_cli(
        "invariance",
        str(DATA / "hs.csv"),
        "--group",
        "school",
        "--rows",
        "all",
        "--model",
        HS_MODEL,
        "--estimator",
        "mlr",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["estimator"] == "mlr" and doc["first_failure"] == "scalar"
    assert [lv["level"] for lv in doc["levels"]] == ["configural", "metric", "scalar", "strict"]
    configural = doc["levels"][0]
    assert round(configural["fit"]["chisq"], 3) == 121.741  # lavaan's MLR
    assert round(configural["fit"]["scaling_factor"], 3) == 0.952
    assert doc["sample"]["groups"] == [
        {"label": "Pasteur", "n": 156},
        {"label": "Grant-White", "n": 145},
    ]
    assert doc["sample"]["rows"]["rows_used"] == 301
    scalar = doc["levels"][2]
    assert [f["item"] for f in scalar["freed"]] == ["x3", "x7"]
    assert set(scalar["freed"][0]) == {
        "level",
        "item",
        "parameter",
        "group",
        "estimates",
        "score_x2",
        "score_df",
        "p",
    }
    assert round(scalar["full"]["fit"]["chisq"], 3) == 166.748
    assert scalar["comparison"]["delta_df"] == 4


@pytest.mark.slow
def test_a_group_column_that_is_not_a_context_column_is_carried(tmp_path: Path) -> None:
    """A gender column beside the items (not one of the toolkit's context columns)."""
    bank = builtin_instrument()
    sim = simulate(bank, 600, form="patient", clinicians=12, sessions=1, seed=5)
    every_fiftieth = pd.Series(range(len(sim.data))) % 50 == 0
    gender = pd.Series(["woman", "man"] * (len(sim.data) // 2)).where(~every_fiftieth)
    data = sim.data.assign(Gender=gender)
    path = tmp_path / "export.csv"
    data.to_csv(path, index=False)
    result = run_cli("invariance", str(path), "--group", "Gender", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert sorted(g["label"] for g in doc["sample"]["groups"]) == ["man", "woman"]
    rows = doc["sample"]["rows"]
    assert rows["left_out_by_analysis"]["without_a_group_value"] > 0
    assert rows["rows_used"] == sum(g["n"] for g in doc["sample"]["groups"])
    text = run_cli("invariance", str(path), "--group", "Gender").stdout.splitlines()[0]
    assert "without a group value" in text


def test_patients_and_clinicians_are_compared_on_the_parallel_items(tmp_path: Path) -> None:
    bank = builtin_instrument()
    patients = simulate(bank, 500, form="patient", clinicians=12, sessions=1, seed=8).data
    clinicians = simulate(bank, 500, form="clinician", clinicians=12, sessions=1, seed=9).data
    path = tmp_path / "both.csv"
    pd.concat([patients, clinicians], ignore_index=True).to_csv(path, index=False)
    result = run_cli("invariance", str(path), "--group", "perspective", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["sample"]["stacked_forms"] is True
    assert [g["label"] for g in doc["sample"]["groups"]] == ["patient", "clinician"]
    assert "pb01" in doc["model"] and "cb01" not in doc["model"]
    # Both forms come from one measurement model in the simulator: invariance holds.
    assert doc["first_failure"] is None


def test_invariance_errors_are_one_line() -> None:
    result = run_cli("invariance", str(DATA / "hs.csv"), "--rows", "all", "--model", HS_MODEL)
    assert (
        result.returncode == 2
        and "invariance needs a group column (--group) or --over session" in result.stderr
    )
    result = run_cli(
        "invariance",
        str(DATA / "hs.csv"),
        "--group",
        "gender",
        "--rows",
        "all",
        "--model",
        HS_MODEL,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("alliance: error: the export has no column 'gender'")
    assert len(result.stderr.strip().splitlines()) == 1


def test_validate_fits_one_multigroup_model(tmp_path: Path) -> None:
    result = run_cli(
        "validate",
        str(DATA / "hs.csv"),
        "--rows",
        "all",
        "--model",
        HS_MODEL,
        "--group",
        "school",
        "--group-equal",
        "loadings",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    m = doc["models"]["hypothesized"]
    assert (round(m["chisq"], 3), m["df"]) == (124.044, 54)
    assert list(doc["models"]) == ["hypothesized"]
    assert doc["groups"] == {
        "column": "school",
        "groups": [{"label": "Pasteur", "n": 156}, {"label": "Grant-White", "n": 145}],
    }
    text = run_cli(
        "validate",
        str(DATA / "hs.csv"),
        "--rows",
        "all",
        "--model",
        HS_MODEL,
        "--group",
        "school",
    ).stdout.splitlines()
    assert text[1] == "groups of 'school': Pasteur 156, Grant-White 145"
    bad = run_cli("validate", str(DATA / "hs.csv"), "--group", "school", "--group-equal", "slopes")
    assert bad.returncode == 2 and "'slopes': choose from loadings" in bad.stderr


def test_an_spss_export_names_its_groups_by_value_label(tmp_path: Path) -> None:
    """psych's bfi as an SPSS file whose gender column is labelled (1 male, 2 female): the
    groups take the labels, and the configural fit is lavaan's on the same rows."""
    import pyreadstat

    data = pd.read_csv(DATA / "bfi_gender.csv")
    path = tmp_path / "bfi.sav"
    pyreadstat.write_sav(
        data, str(path), variable_value_labels={"gender": {1: "male", 2: "female"}}
    )
    reference = json.loads((DATA.parent / "invariance.json").read_text())["bfi"]
    result = run_cli(
        "invariance",
        str(path),
        "--model",
        reference["model"],
        "--group",
        "gender",
        "--rows",
        "all",
        "--missing",
        "listwise",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["sample"]["groups"] == [{"label": "male", "n": 805}, {"label": "female", "n": 1631}]
    configural = reference["ml"]["levels"]["configural"]["fit"]
    assert doc["levels"][0]["fit"]["chisq"] == pytest.approx(configural["chisq"], rel=1e-6)
    assert doc["sample"]["rows"]["left_out_incomplete"] == 364


def test_the_report_tests_invariance_across_a_column_that_is_not_context() -> None:
    """report --invariance school: a column that is neither an item nor a context column is
    carried, as it is for --group."""
    from analysis.pipeline import analyse
    from analysis.reading import Options

    options = Options(model=HS_MODEL, rows="all", invariance="school", instrument=HS_MODEL)
    analysis = analyse(DATA / "hs.csv", options)
    assert analysis.invariance_error == ""
    assert analysis.invariance is not None
    assert analysis.invariance.result.groups == ("Pasteur", "Grant-White")
