"""Invariance of ordinal items held to lavaan: the theta parameterization at every level up to
strict, the score tests that free a level in part, and modification indices, under WLSMV
(tests/reference/make_ordinal_invariance_reference.R, psych's bfi by gender)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cfa import CFAResult, FitSpec, fit_cfa
from analysis.cfa.compare import chisq_difference
from analysis.cfa.invariance import run_invariance
from analysis.cfa.scoretest import release_tests, score_tests

from .conftest import run_cli

HERE = Path(__file__).parent / "reference"
REF = json.loads((HERE / "ordinal_invariance.json").read_text())
DATA = HERE / "data" / "bfi_gender.csv"
LEVELS = {
    "configural": (),
    "metric": ("thresholds", "loadings"),
    "scalar": ("thresholds", "loadings", "intercepts"),
    "strict": ("thresholds", "loadings", "intercepts", "residuals"),
}


@cache
def data() -> pd.DataFrame:
    return pd.read_csv(DATA)


@cache
def level(name: str) -> CFAResult:
    return fit_cfa(
        data(),
        REF["model"],
        estimator="wlsmv",
        missing="listwise",
        group="gender",
        group_equal=LEVELS[name],
        parameterization="theta",
    )


@pytest.mark.parametrize("name", list(LEVELS))
def test_each_level_in_the_theta_parameterization_matches_lavaan(name: str) -> None:
    ours, ref = level(name), REF[name]["fit"]
    assert ours.converged
    assert ours.fit["chisq"] == pytest.approx(ref["chisq.scaled"], rel=1e-5)
    assert ours.fit["df"] == ref["df"]
    assert ours.fit["cfi"] == pytest.approx(ref["cfi.scaled"], abs=1e-5)
    assert ours.fit["rmsea"] == pytest.approx(ref["rmsea.scaled"], abs=1e-5)


def test_the_strict_models_estimates_and_standard_errors_match_lavaan() -> None:
    e = level("strict").estimates
    ref = pd.DataFrame(REF["strict"]["estimates"])
    ref = ref[ref["op"].isin(["=~", "|", "~~", "~1"])]
    merged = ref.merge(e, on=["lhs", "op", "rhs", "group"], suffixes=("_r", ""))
    assert len(merged) == len(ref[ref["op"] != "~*~"])
    np.testing.assert_allclose(merged["est"], merged["est_r"], atol=1e-4)
    free = merged["se_r"] > 0
    np.testing.assert_allclose(merged["se"][free], merged["se_r"][free], atol=1e-4)


def test_strict_is_residual_variances_at_the_first_groups_one() -> None:
    e = level("strict").estimates
    residuals = e[(e["op"] == "~~") & (e["lhs"] == e["rhs"]) & e["lhs"].isin(REF["items"])]
    assert (residuals["est"] == 1.0).all() and len(residuals) == 2 * len(REF["items"])
    # the same model as lavaan's, written with explicit constraints
    assert level("strict").fit["chisq"] == pytest.approx(REF["written_strict_chisq"], rel=1e-5)


@pytest.mark.parametrize(
    ("restricted", "free", "key"),
    [("metric", "configural", "configural_metric"), ("strict", "scalar", "scalar_strict")],
)
def test_satorra_2000_differences_between_the_levels_match_lavtestlrt(
    restricted: str, free: str, key: str
) -> None:
    ours = chisq_difference(level(restricted), level(free))
    ref = REF["lrt"][key]
    assert ours["delta_chisq"] == pytest.approx(ref["delta_chisq"], rel=1e-3)
    assert ours["delta_df"] == ref["delta_df"]


def test_score_tests_of_the_metric_model_match_lavtestscore() -> None:
    tests, total = score_tests(level("metric"))
    assert total["X2"] == pytest.approx(REF["metric_scores"]["total"], rel=1e-3)
    ref = pd.DataFrame(REF["metric_scores"]["uni"])
    merged = tests.merge(ref, on=["lhs", "op", "rhs"], suffixes=("", "_r"))
    assert len(merged) == len(ref)
    np.testing.assert_allclose(merged["X2"], merged["X2_r"], rtol=1e-3)


def test_releasing_each_residual_of_the_strict_model_matches_lavtestscore() -> None:
    tests = release_tests(level("strict"))
    residuals = tests[tests["kind"] == "residuals"].set_index("lhs")
    for row in REF["strict_residual_scores"]:
        assert residuals.loc[row["item"], "X2"] == pytest.approx(row["X2"], rel=1e-3)
        assert residuals.loc[row["item"], "df"] == 1


def test_modification_indices_under_wlsmv_match_lavaan() -> None:
    fit = fit_cfa(data(), REF["model"], estimator="wlsmv", missing="listwise")
    ref = pd.DataFrame(REF["modindices"])
    merged = fit.modindices.merge(ref, on=["lhs", "op", "rhs"], suffixes=("", "_r"))
    assert len(merged) == len(ref) == len(fit.modindices)
    np.testing.assert_allclose(merged["mi"], merged["mi_r"], rtol=1e-3)
    np.testing.assert_allclose(merged["epc"], merged["epc_r"], atol=1e-4)


def _shifted() -> pd.DataFrame:
    """bfi with two items made to work differently for the second group: some of its answers
    to A3 one category lower, to C4 one higher."""
    x = data().copy()
    rng = np.random.default_rng(1)
    second = x["gender"] == 2
    lower = second & (rng.random(len(x)) < 0.5) & (x["A3"] > 1)
    x.loc[lower, "A3"] -= 1
    higher = second & (rng.random(len(x)) < 0.5) & (x["C4"] < 6)
    x.loc[higher, "C4"] += 1
    return x


def test_a_level_that_fails_is_freed_item_by_item_and_stays_identified() -> None:
    result = run_invariance(
        _shifted(), REF["model"], FitSpec(estimator="wlsmv", missing="listwise", group="gender")
    )
    metric = result.level("metric")
    assert metric is not None and metric.holds and metric.full is not None
    assert [f.parameter for f in metric.freed] == ["A3 | t*", "C4 | t*"]
    assert all(f.df == 5 for f in metric.freed)  # five thresholds each, released together
    assert not any("singular" in f for lv in result.levels for f in lv.result.findings)
    assert [lv.name for lv in result.levels] == list(LEVELS)
    sentence = next(f for f in result.findings if "'A3'" in f)
    assert "the thresholds of item 'A3' (A3 | t*) are not equal" in sentence
    assert "its latent response's scale held at the first group's" in sentence


def test_the_ordinal_sequence_from_the_command_line() -> None:
    out = run_cli(
        "invariance", str(DATA), "--rows", "all", "--group", "gender", "--estimator", "wlsmv",
        "--missing", "listwise", "--model", "; ".join(REF["model"].splitlines()), "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    levels = json.loads(out.stdout)["levels"]
    assert [lv["level"] for lv in levels] == list(LEVELS)
    for lv in levels:
        assert lv["fit"]["chisq"] == pytest.approx(REF[lv["level"]]["fit"]["chisq.scaled"], 1e-5)
    assert levels[-1]["comparison"]["delta_chisq"] == pytest.approx(
        REF["lrt"]["scalar_strict"]["delta_chisq"], rel=1e-3
    )
