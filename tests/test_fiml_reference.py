"""Full-information ML against lavaan 0.6.14's ``missing = "ml"``.

Reference values: tests/reference/make_fiml_reference.R on the committed data: psych's bfi as it
comes (364 of 2,800 rows incomplete), HolzingerSwineford1939 with MCAR and MAR missingness
made by that script (data/hs_mcar.csv, data/hs_mar.csv), and the MAR data by school.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.cfa import ModelError, fit_cfa
from analysis.validity import factor_reliability

from .conftest import run_cli
from .test_invariance_reference import ROBUST, check_estimates, check_fit

HERE = Path(__file__).parent / "reference"
SCALAR = ("loadings", "intercepts")


@cache
def reference() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((HERE / "fiml.json").read_text())
    return doc


@cache
def dataset(name: str) -> pd.DataFrame:
    return pd.read_csv(HERE / "data" / f"{name}.csv")


CASES = {  # name -> (data, where in the reference, group, group_equal)
    "bfi": ("bfi", ("bfi",), None, ()),
    "hs_mcar": ("hs_mcar", ("hs", "mcar"), None, ()),
    "hs_mar": ("hs_mar", ("hs", "mar"), None, ()),
    "hs_mar_configural": ("hs_mar", ("hs", "mar_school", "configural"), "school", ()),
    "hs_mar_scalar": ("hs_mar", ("hs", "mar_school", "scalar"), "school", SCALAR),
}


def expected_for(path: tuple[str, ...], estimator: str) -> dict[str, Any]:
    node: Any = reference()
    for key in path:
        node = node[key]
    return dict(node[estimator])


def model_for(path: tuple[str, ...]) -> str:
    return str(reference()[path[0]]["model"])


@pytest.mark.parametrize("estimator", ["ml", "mlr"])
@pytest.mark.parametrize("case", list(CASES))
def test_fiml_matches_lavaan_missing_ml(case: str, estimator: str) -> None:
    data, path, group, equal = CASES[case]
    expected = expected_for(path, estimator)
    result = fit_cfa(
        dataset(data),
        model_for(path),
        estimator=estimator,  # type: ignore[arg-type]
        missing="fiml",
        group=group,
        group_equal=equal,
    )
    assert result.n == sum(np.atleast_1d(expected["nobs"]))
    assert result.stats is not None
    assert [len(g.patterns) for g in result.stats.groups] == list(
        np.atleast_1d(expected["patterns"])
    )
    assert result.stats.lowest_coverage == pytest.approx(expected["lowest_coverage"], abs=1e-12)
    check_fit(result.fit, expected["fit"], robust=estimator == "mlr")
    check_estimates(result.estimates, expected["estimates"])


def test_the_robust_keys_cover_what_lavaan_reports_under_fiml() -> None:
    """Every robust measure the R script asks lavaan for is checked above."""
    fit = expected_for(("bfi",), "mlr")["fit"]
    assert {"cfi.robust", "tli.robust", "rmsea.robust", "chisq.scaling.factor"} <= set(fit)
    assert {k for k in fit if k.endswith(".robust")} <= set(ROBUST)


def test_complete_rows_give_ml_estimates_and_chi_square() -> None:
    """With no answer missing FIML is ML: one pattern, the same estimates and chi-square; only
    the standard errors differ (observed information, as lavaan's missing = "ml")."""
    data = dataset("hs")
    model = model_for(("hs",))
    ml = fit_cfa(data, model, estimator="ml")
    fiml = fit_cfa(data, model, estimator="ml", missing="fiml")
    assert fiml.stats is not None and len(fiml.stats.groups[0].patterns) == 1
    assert fiml.fit["chisq"] == pytest.approx(ml.fit["chisq"], rel=1e-8)
    assert fiml.fit["cfi"] == pytest.approx(ml.fit["cfi"], abs=1e-9)
    loadings = fiml.estimates[fiml.estimates["op"] == "=~"]["est"].to_numpy()
    assert loadings == pytest.approx(ml.loadings["est"].to_numpy(), abs=1e-6)


def test_listwise_drops_what_fiml_keeps() -> None:
    data = dataset("bfi")
    model = model_for(("bfi",))
    listwise = fit_cfa(data, model, modindices=False)
    assert listwise.n == 2436 and listwise.left_out["incomplete"] == 364
    fiml = fit_cfa(data, model, missing="fiml", modindices=False)
    assert fiml.n == 2800 and fiml.left_out == {"no_answer": 0, "no_group": 0}


def test_rows_without_any_answer_are_left_out_and_counted() -> None:
    data = dataset("hs_mar").copy()
    data.loc[[0, 5, 9], [f"x{k}" for k in range(1, 10)]] = np.nan
    result = fit_cfa(data, model_for(("hs",)), missing="fiml", modindices=False)
    assert result.n == 298 and result.left_out["no_answer"] == 3


def test_a_pair_never_answered_together_is_an_error_naming_the_items() -> None:
    data = dataset("hs").copy()
    data.loc[data.index < 150, "x2"] = np.nan
    data.loc[data.index >= 150, "x3"] = np.nan
    with pytest.raises(ModelError, match="no row answered both x2 and x3"):
        fit_cfa(data, model_for(("hs",)), missing="fiml")


def test_low_coverage_is_a_finding() -> None:
    data = dataset("hs").copy()
    data.loc[data.index < 140, "x2"] = np.nan
    data.loc[data.index >= 160, "x3"] = np.nan  # 20 rows answered both: 6.6%
    result = fit_cfa(data, model_for(("hs",)), missing="fiml", modindices=False)
    assert any(
        "low coverage: only 6.6% of rows answered both x2 and x3" in f for f in result.findings
    )


@pytest.mark.parametrize("estimator", ["ml", "mlr"])
def test_alliance_validate_on_bfi_with_fiml_matches_lavaan(estimator: str) -> None:
    """The issue's own check: the command a user runs, against lavaan's missing = "ml"."""
    expected = expected_for(("bfi",), estimator)
    model = "; ".join(model_for(("bfi",)).splitlines())
    done = run_cli(
        "validate", str(HERE / "data" / "bfi.csv"), "--model", model, "--missing", "fiml",
        "--rows", "all", "--estimator", estimator, "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["sample"]["rows_used"] == 2800 and doc["sample"]["missing_method"] == "fiml"
    assert doc["sample"]["missing_patterns"] == expected["patterns"]
    got = doc["models"]["hypothesized"]
    fit = expected["fit"]
    robust = estimator == "mlr"
    chisq = fit["chisq.scaled"] if robust else fit["chisq"]
    assert got["chisq"] == pytest.approx(chisq, rel=1e-3)
    for ours, theirs in [("cfi", "cfi"), ("tli", "tli"), ("rmsea", "rmsea")]:
        key = f"{theirs}.robust" if robust else theirs
        assert got[ours] == pytest.approx(fit[key], abs=1e-3), ours
    assert got["srmr"] == pytest.approx(fit["srmr"], abs=1e-3)
    ref = pd.DataFrame(expected["estimates"])
    ref = ref[ref["op"] == "=~"].set_index(["lhs", "rhs"])["std_all"]
    std = {(row["factor"], row["item"]): row["std"] for row in doc["loadings"]}
    assert std.keys() == set(ref.index)
    for key, value in std.items():
        assert value == pytest.approx(ref[key], abs=1e-3), key


def test_reliability_from_the_fiml_solution_matches_semtools() -> None:
    """compRelSEM and AVE on lavaan's missing = "ml" fit: omega over the implied variance of
    the sum, composite reliability and AVE over the EM (unrestricted) variances."""
    expected = reference()["hs"]["mar_reliability"]
    result = fit_cfa(dataset("hs_mar"), model_for(("hs",)), missing="fiml")
    ours = factor_reliability(result)
    for factor in ("visual", "textual", "speed"):
        assert ours[factor]["omega_total"] == pytest.approx(
            expected["omega_model"][factor], abs=1e-5
        )
        assert ours[factor]["composite_reliability"] == pytest.approx(
            expected["composite_reliability"][factor], abs=1e-5
        )
        assert ours[factor]["ave"] == pytest.approx(expected["ave"][factor], abs=1e-5)


def test_alliance_invariance_with_fiml_fits_lavaans_configural_and_scalar_models() -> None:
    model = "; ".join(model_for(("hs",)).splitlines())
    done = run_cli(
        "invariance", str(HERE / "data" / "hs_mar.csv"), "--group", "school", "--rows", "all",
        "--model", model, "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["sample"]["missing"]["method"] == "fiml"
    assert doc["sample"]["rows"]["missing_patterns"] == 26 + 25
    levels = {level["level"]: level for level in doc["levels"]}
    mar = reference()["hs"]["mar_school"]
    for name in ("configural", "scalar"):
        fit = levels[name].get("full") or levels[name]
        chisq = fit["fit"]["chisq"]
        assert chisq == pytest.approx(mar[name]["ml"]["fit"]["chisq"], rel=1e-6), name


def test_the_report_says_how_missing_answers_were_handled(tmp_path: Path) -> None:
    model = "; ".join(model_for(("bfi",)).splitlines())
    bfi = str(HERE / "data" / "bfi.csv")
    for missing, said in [
        ("fiml", "FIML over 87 missing-data patterns, lowest coverage of an item pair 97.8%"),
        ("listwise", "364 with a missing answer (listwise)"),
    ]:
        out = tmp_path / f"{missing}.html"
        done = run_cli("report", bfi, "--model", model, "--rows", "all", "--missing", missing,
                       "-o", str(out))  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "The models were fitted by ML on n = " in out.read_text(encoding="utf-8")
        assert said in out.read_text(encoding="utf-8")
