"""Multi-group CFA and measurement invariance against lavaan 0.6.14 and semTools.

Reference values: tests/reference/make_invariance_reference.R on the committed data
(HolzingerSwineford1939 by school, psych's bfi by gender).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analysis.cfa import FitSpec, ModelError, fit_cfa, parse_partial
from analysis.cfa.compare import chisq_difference
from analysis.cfa.invariance import LEVELS, run_invariance
from analysis.cfa.scoretest import score_tests
from analysis.efa import parallel_analyses, random_correlations, reduced_eigenvalues
from analysis.validate import verdict
from analysis.validity import factor_reliability

from .test_cfa_reference import FIT_KEYS, ROBUST_KEYS

HERE = Path(__file__).parent / "reference"
EQUAL = dict(LEVELS)
FIT = FIT_KEYS
ROBUST = {
    **ROBUST_KEYS,
    "unrestricted.logl": "unrestricted_loglik",
    "baseline.chisq": "baseline_chisq",
    "baseline.df": "baseline_df",
    "ntotal": "ntotal",
    "rmsea.ci.lower": "rmsea_ci_lower_ml",
    "rmsea.ci.upper": "rmsea_ci_upper_ml",
    "rmsea.pvalue": "rmsea_pvalue_ml",
    "rmsea.pvalue.robust": "rmsea_pvalue",
}


@cache
def reference() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((HERE / "invariance.json").read_text())
    return doc


@cache
def dataset(name: str) -> pd.DataFrame:
    return pd.read_csv(HERE / "data" / f"{name}.csv")


def check_fit(ours: dict[str, float], theirs: dict[str, Any], robust: bool) -> None:
    for lavaan_key, key in (ROBUST if robust else FIT).items():
        expected = theirs.get(lavaan_key)
        if expected is None:
            continue
        if "chisq" in lavaan_key or "logl" in lavaan_key or lavaan_key in ("aic", "bic"):
            assert ours[key] == pytest.approx(expected, rel=1e-6, abs=1e-5), lavaan_key
        else:
            assert ours[key] == pytest.approx(expected, abs=1e-4), lavaan_key


def check_estimates(ours: pd.DataFrame, theirs: dict[str, Any]) -> None:
    ref = pd.DataFrame(theirs)
    ref = ref[ref["op"] != "=="]  # lavaan lists its equality constraints as rows
    merged = ours.merge(ref, on=["lhs", "op", "rhs", "group"], suffixes=("", "_r"), validate="1:1")
    assert len(merged) == len(ours) == len(ref)
    free = merged[merged["free"]]
    assert_allclose(merged["est"], merged["est_r"], atol=1e-4)
    assert_allclose(free["se"], free["se_r"], atol=1e-4)
    assert_allclose(merged["std_all"], merged["std_all_r"], atol=1e-4)


@pytest.mark.parametrize("estimator", ["ml", "mlr"])
@pytest.mark.parametrize("level", [name for name, _ in LEVELS])
def test_holzinger_swineford_by_school_matches_lavaan(estimator: str, level: str) -> None:
    ref = reference()["hs"]
    expected = ref[estimator]["levels"][level]
    result = fit_cfa(
        dataset("hs"), ref["model"], group="school", group_equal=EQUAL[level], estimator=estimator
    )  # type: ignore[arg-type]
    assert list(result.groups) == expected["groups"]
    assert list(result.group_n) == expected["nobs"]
    check_fit(result.fit, expected["fit"], robust=estimator == "mlr")
    check_estimates(result.estimates, expected["estimates"])


def test_the_tutorial_chi_squares() -> None:
    """lavaan's tutorial: configural 115.851 (48 df), metric 124.044 (54), scalar 164.103 (60)."""
    data, model = dataset("hs"), reference()["hs"]["model"]
    for level, (chisq, df) in {
        "configural": (115.851, 48),
        "metric": (124.044, 54),
        "scalar": (164.103, 60),
    }.items():
        fit = fit_cfa(data, model, group="school", group_equal=EQUAL[level]).fit
        assert fit["chisq"] == pytest.approx(chisq, rel=1e-5) and fit["df"] == df


@pytest.mark.parametrize("estimator", ["ml", "mlr"])
@pytest.mark.parametrize("name", ["hs", "bfi"])
def test_chisq_differences_between_levels_match_lavtestlrt(name: str, estimator: str) -> None:
    ref = reference()[name]
    data = dataset("hs" if name == "hs" else "bfi_gender")
    group = "school" if name == "hs" else "gender"
    fits = {
        level: fit_cfa(data, ref["model"], group=group, group_equal=equal, estimator=estimator)  # type: ignore[arg-type]
        for level, equal in LEVELS
    }
    for row in ref[estimator]["lrt"]:
        got = chisq_difference(fits[row["to"]], fits[row["from"]])
        assert got["delta_chisq"] == pytest.approx(row["delta_chisq"], rel=1e-5)
        assert got["delta_df"] == row["delta_df"]
        assert got["p"] == pytest.approx(row["p"], rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("estimator", ["ml", "mlr"])
@pytest.mark.parametrize("level", ["configural", "scalar"])
def test_bfi_by_gender_matches_lavaan(estimator: str, level: str) -> None:
    """Five factors, 25 items, listwise over the items and gender (2,436 of 2,800 rows)."""
    ref = reference()["bfi"]
    expected = ref[estimator]["levels"][level]
    result = fit_cfa(
        dataset("bfi_gender"),
        ref["model"],
        group="gender",
        group_equal=EQUAL[level],
        estimator=estimator,  # type: ignore[arg-type]
    )
    assert list(result.groups) == expected["groups"]
    assert list(result.group_n) == expected["nobs"]
    assert result.left_out["incomplete"] == 2800 - sum(expected["nobs"])
    check_fit(result.fit, expected["fit"], robust=estimator == "mlr")
    check_estimates(result.estimates, expected["estimates"])


@pytest.mark.parametrize("name", ["hs", "bfi"])
def test_score_tests_of_the_scalar_constraints_match_lavtestscore(name: str) -> None:
    ref = reference()[name]
    data = dataset("hs" if name == "hs" else "bfi_gender")
    group = "school" if name == "hs" else "gender"
    result = fit_cfa(data, ref["model"], group=group, group_equal=EQUAL["scalar"])
    ours, total = score_tests(result)
    theirs = pd.DataFrame(ref["ml"]["score_scalar"])
    merged = ours.merge(theirs, on=["lhs", "op", "rhs", "group_a", "group_b"], validate="1:1")
    assert len(merged) == len(ours) == len(theirs)
    assert_allclose(merged["X2_x"], merged["X2_y"], rtol=1e-4, atol=1e-4)
    assert total["df"] == len(theirs)


def test_group_partial_matches_lavaan() -> None:
    ref = reference()["hs"]
    expected = ref["partial"]
    result = fit_cfa(
        dataset("hs"),
        ref["model"],
        group="school",
        group_equal=EQUAL["scalar"],
        group_partial=parse_partial(expected["group_partial"]),
    )
    check_fit(result.fit, expected["fit"], robust=False)
    check_estimates(result.estimates, expected["estimates"])


def test_group_specific_labels_match_lavaan() -> None:
    """``c(a1, a2)*x2`` labels each group's loading; ``c(l3, l3)*x3`` holds x3's equal."""
    expected = reference()["hs"]["labels"]
    result = fit_cfa(dataset("hs"), expected["model"], group="school")
    check_fit(result.fit, expected["fit"], robust=False)
    check_estimates(result.estimates, expected["estimates"])
    assert result.fit["df"] == 49


def test_partial_invariance_frees_the_intercepts_the_score_tests_point_at() -> None:
    """On HS the scalar level fails in full (ΔCFI -.038); the score tests free x3's and then
    x7's intercept, and the partial model is lavaan's with group.partial."""
    ref = reference()["hs"]
    result = run_invariance(dataset("hs"), ref["model"], FitSpec(group="school"))
    scalar = next(lv for lv in result.levels if lv.name == "scalar")
    assert result.first_failure == "scalar"
    assert [(f.item, f.op, f.group) for f in scalar.freed] == [
        ("x3", "~1", "Grant-White"),
        ("x7", "~1", "Grant-White"),
    ]
    assert scalar.holds and scalar.full is not None
    assert scalar.full.fit["chisq"] == pytest.approx(164.103, rel=1e-5)
    assert scalar.result.fit["chisq"] == pytest.approx(ref["partial"]["fit"]["chisq"], rel=1e-6)
    lavaan = pd.DataFrame(ref["partial"]["estimates"])
    x3 = lavaan[(lavaan["lhs"] == "x3") & (lavaan["op"] == "~1")]["est"].round(2).tolist()
    assert result.findings[0] == (
        "scalar invariance: the intercept of item 'x3' (x3 ~ 1) is not equal across the groups "
        "of 'school' (score test X2 = 19.19 on 1 df, p < .001); "
        f"it is {x3[0]:.2f} in 'Pasteur' and {x3[1]:.2f} in 'Grant-White'; freed in every group"
    )


def test_group_errors_name_the_problem() -> None:
    data, model = dataset("hs"), reference()["hs"]["model"]
    with pytest.raises(ModelError, match="no group column 'site'"):
        fit_cfa(data, model, group="site")
    one = data.assign(school="Pasteur")
    with pytest.raises(ModelError, match="group column 'school' has one value"):
        fit_cfa(one, model, group="school")
    with pytest.raises(ModelError, match=r"c\(\.\.\.\) before 'x2' gives 3 values for 2 groups"):
        fit_cfa(data, "f =~ x1 + c(a, b, c)*x2 + x3", group="school")
    with pytest.raises(ModelError, match="group equal 'slopes'"):
        fit_cfa(data, model, group="school", group_equal=("slopes",))
    with pytest.raises(ModelError, match="group partial 'x3 ~ x4'"):
        parse_partial("x3 ~ x4")


def test_reliability_counts_correlated_residuals_as_semtools() -> None:
    """lavaan's PoliticalDemocracy measurement model has six residual covariances: omega over
    the model-implied variance of the sum counts them (compRelSEM, obs.var = FALSE), the
    composite reliability and AVE use the observed variances (obs.var = TRUE)."""
    ref = reference()["politicaldemocracy"]
    result = fit_cfa(dataset("politicaldemocracy"), ref["model"])
    ours = factor_reliability(result)
    for factor in ("ind60", "dem60", "dem65"):
        assert ours[factor]["omega_total"] == pytest.approx(ref["omega_model"][factor], abs=1e-6)
        assert ours[factor]["composite_reliability"] == pytest.approx(
            ref["composite_reliability"][factor], abs=1e-6
        )
        assert ours[factor]["ave"] == pytest.approx(ref["ave"][factor], abs=1e-6)
    # dem60's items y2 and y4 share residuals: omega is below the observed-variance value.
    assert ours["dem60"]["omega_total"] < ours["dem60"]["composite_reliability"]


@pytest.mark.parametrize("estimator", ["ml", "mlr"])
def test_a_saturated_model_reports_tli_1_and_rmsea_0_and_no_verdict(estimator: str) -> None:
    ref = reference()["hs"]["saturated"]
    fit = fit_cfa(dataset("hs"), ref["model"], estimator=estimator).fit  # type: ignore[arg-type]
    theirs = ref[estimator]
    assert fit["df"] == theirs["df"] == 0
    assert fit["chisq"] == pytest.approx(0.0, abs=1e-8)
    if estimator == "ml":
        assert (fit["tli"], fit["rmsea"]) == (theirs["tli"], theirs["rmsea"]) == (1, 0)
    else:
        assert fit["rmsea"] == theirs["rmsea.robust"] == 0
    assert (fit["rmsea_ci_lower"], fit["rmsea_ci_upper"]) == (0.0, 0.0)
    assert verdict(fit).startswith("no verdict: the model is saturated (df = 0)")


def test_mlr_with_a_singular_information_gives_no_robust_chi_square() -> None:
    """g's loadings are not identified (two indicators, orthogonal to f). The unscaled ML
    statistic is lavaan's; the scaled one needs the information's inverse, so it is not
    given (lavaan prints one from a generalised inverse)."""
    ref = reference()["hs"]["unidentified"]
    result = fit_cfa(dataset("hs"), ref["model"], estimator="mlr")
    assert result.fit["chisq_ml"] == pytest.approx(ref["mlr"]["chisq"], rel=1e-6)
    assert np.isnan(result.fit["chisq"]) and np.isnan(result.fit["cfi"])
    assert any("robust (scaled) chi-square" in f for f in result.findings)
    assert verdict(result.fit, result.findings).startswith("no verdict")


def test_a_cross_loading_is_fitted_as_lavaan_fits_it() -> None:
    expected = reference()["hs"]["cross_loading"]
    result = fit_cfa(dataset("hs"), expected["model"])
    check_fit(result.fit, expected["fit"], robust=False)
    check_estimates(result.estimates, expected["estimates"])


def test_parallel_analysis_of_factors_is_psychs() -> None:
    """psych's fa.parallel(fa = "fa") on bfi: the reduced correlation matrix's eigenvalues
    (communalities of a one-factor minres fit) and 6 factors retained; the components version
    retains 5 on the same draws."""
    ref = reference()["parallel"]
    items = dataset("bfi_gender").drop(columns=["id", "gender"])
    values = reduced_eigenvalues(items.corr().to_numpy())  # psych: pairwise correlations
    assert_allclose(values, ref["fa_values"], atol=1e-6)
    assert_allclose(np.linalg.eigvalsh(items.corr().to_numpy())[::-1], ref["pc_values"], atol=1e-9)
    found = parallel_analyses(items.dropna())
    assert found["factors"].n_factors == ref["nfact"] == 6
    assert found["components"].n_factors == 5


def test_without_the_partial_step_the_sequence_stops_at_the_first_failure() -> None:
    result = run_invariance(
        dataset("hs"), reference()["hs"]["model"], FitSpec(group="school"), partial=False
    )
    assert [(lv.name, lv.holds) for lv in result.levels] == [
        ("configural", True),
        ("metric", True),
        ("scalar", False),
    ]
    assert result.conclusion() == (
        "scalar invariance fails; metric invariance is the highest level reached"
    )
    full = run_invariance(dataset("hs"), reference()["hs"]["model"], FitSpec(group="school"))
    assert full.conclusion() == (
        "scalar invariance fails in full and holds in part once 2 parameters are freed; "
        "partial strict invariance holds (every level tested)"
    )


def test_random_correlations_have_the_distribution_of_simulated_rows() -> None:
    """Parallel analysis draws its random correlation matrices from the Wishart distribution
    instead of simulating n rows: the eigenvalues' 95th percentiles agree with those of
    matrices computed from simulated rows (4,000 of each, 300 rows of 9 variables)."""
    rng = np.random.default_rng(11)
    drawn = np.linalg.eigvalsh(random_correlations(300, 9, 4000, rng))[:, ::-1]
    rows = np.stack([np.corrcoef(rng.standard_normal((300, 9)), rowvar=False) for _ in range(4000)])
    simulated = np.linalg.eigvalsh(rows)[:, ::-1]
    assert_allclose(
        np.percentile(drawn, 95, axis=0), np.percentile(simulated, 95, axis=0), atol=0.01
    )
    off = np.triu_indices(9, 1)
    assert np.std(random_correlations(300, 9, 4000, rng)[:, off[0], off[1]]) == pytest.approx(
        1 / np.sqrt(300), rel=0.03
    )
