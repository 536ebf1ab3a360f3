"""Ordinal items against lavaan 0.6.14's ``cfa(..., ordered = TRUE)`` (WLSMV), semTools 0.5.6
and psych.

Reference values: tests/reference/make_ordinal_reference.R on committed data: psych's bfi
(6-point items; complete rows, and every row pairwise), HolzingerSwineford1939 cut into three
categories (data/hs_ordinal.csv), and a simulated 12-item 5-point export from
`alliance simulate` (data/alliance_short.csv), whose answers crowd at the favourable end.
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
from analysis.cfa.auto import choose_estimator
from analysis.cfa.ordinal import bvn_cdf, ordinal_sample
from analysis.validity import ordinal_reliability

from .conftest import run_cli

HERE = Path(__file__).parent / "reference"

# lavaan's name -> ours. Under WLSMV the headline chi-square, CFI, TLI and RMSEA are the
# scaled ones; the unscaled DWLS values carry a _dwls suffix, Savalei's robust ones _robust.
FIT = {
    "npar": "npar",
    "df": "df",
    "ntotal": "ntotal",
    "chisq": "chisq_dwls",
    "chisq.scaled": "chisq",
    "chisq.scaling.factor": "scaling_factor",
    "chisq.shift.parameters": "shift",
    "baseline.chisq": "baseline_chisq_dwls",
    "baseline.chisq.scaled": "baseline_chisq_scaled",
    "baseline.chisq.scaling.factor": "baseline_scaling_factor",
    "cfi": "cfi_dwls",
    "tli": "tli_dwls",
    "cfi.scaled": "cfi",
    "tli.scaled": "tli",
    "cfi.robust": "cfi_robust",
    "tli.robust": "tli_robust",
    "rmsea": "rmsea_dwls",
    "rmsea.scaled": "rmsea",
    "rmsea.ci.lower.scaled": "rmsea_ci_lower",
    "rmsea.ci.upper.scaled": "rmsea_ci_upper",
    "rmsea.robust": "rmsea_robust",
    "rmsea.ci.lower.robust": "rmsea_ci_lower_robust",
    "rmsea.ci.upper.robust": "rmsea_ci_upper_robust",
    "srmr": "srmr",
}
RELATIVE = {"chisq", "chisq.scaled", "baseline.chisq", "baseline.chisq.scaled"}


@cache
def reference() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((HERE / "ordinal.json").read_text())
    return doc


@cache
def dataset(name: str) -> pd.DataFrame:
    return pd.read_csv(HERE / "data" / f"{name}.csv")


METRIC = ("thresholds", "loadings")
SCHOOLS = ("Pasteur", "Grant-White")
CASES: dict[str, tuple[str, tuple[str, ...], str, dict[str, Any]]] = {
    # name -> (data file, where in the reference, missing, fit_cfa options)
    "bfi": ("bfi", ("bfi", "wlsmv"), "listwise", {}),
    "bfi_pairwise": ("bfi", ("bfi", "pairwise"), "pairwise", {}),
    "hs": ("hs_ordinal", ("hs", "wlsmv"), "listwise", {}),
    "hs_std_lv": ("hs_ordinal", ("hs", "std_lv"), "listwise", {"std_lv": True}),
    "hs_saturated": (
        "hs_ordinal",
        ("hs", "saturated"),
        "listwise",
        {"model": "visual =~ x1 + x2 + x3"},
    ),
    "alliance_short": ("alliance_short", ("alliance_short", "wlsmv"), "listwise", {}),
    "hs_mixed": ("hs_mixed", ("hs", "mixed"), "listwise", {"ordered": ("x1", "x2", "x3")}),
    "hs_configural": (
        "hs_ordinal",
        ("hs", "school", "configural"),
        "listwise",
        {"group": "school", "group_order": SCHOOLS},
    ),
    "hs_metric": (
        "hs_ordinal",
        ("hs", "school", "metric"),
        "listwise",
        {"group": "school", "group_order": SCHOOLS, "group_equal": METRIC},
    ),
    "hs_scalar": (
        "hs_ordinal",
        ("hs", "school", "scalar"),
        "listwise",
        {"group": "school", "group_order": SCHOOLS, "group_equal": (*METRIC, "intercepts")},
    ),
}


@cache
def fitted(case: str) -> Any:
    data, path, missing, options = CASES[case]
    options = dict(options)
    model = options.pop("model", reference()[path[0]]["model"])
    return fit_cfa(dataset(data), model, estimator="wlsmv", missing=missing, **options)


def expected(case: str) -> dict[str, Any]:
    node: Any = reference()
    for key in CASES[case][1]:
        node = node[key]
    return dict(node)


def lavaan_order(p: int, k: int) -> list[int]:
    """Our statistics in lavaan's order: the ``k`` univariate ones as they are, then the
    covariances, which lavaan orders column by column and we row by row."""
    ours = {pair: q for q, pair in enumerate(zip(*np.tril_indices(p, -1), strict=True))}
    return list(range(k)) + [k + ours[(i, j)] for j in range(p) for i in range(j + 1, p)]


def test_bivariate_normal_matches_an_independent_integration() -> None:
    from scipy.stats import multivariate_normal

    h = np.array([-2.1, -0.4, 0.0, 0.9, 2.5])
    k = np.array([0.3, -1.2, 0.0, 1.7, -0.5])
    for r in (-0.97, -0.8, -0.2, 0.0, 0.35, 0.9, 0.99):
        dist = multivariate_normal(mean=[0, 0], cov=[[1, r], [r, 1]])
        want = np.array([dist.cdf([a, b]) for a, b in zip(h, k, strict=True)])
        np.testing.assert_allclose(bvn_cdf(h, k, r), want, atol=1e-7)


def test_thresholds_polychorics_and_their_asymptotic_covariance() -> None:
    ref = reference()["bfi"]["wlsmv"]
    items = [f"{a}{i}" for a in "ACENO" for i in range(1, 6)]
    sample = ordinal_sample(dataset("bfi")[items].dropna().to_numpy(float))
    lav = ref["sample"][0]
    np.testing.assert_allclose(np.concatenate(sample.thresholds), lav["thresholds"], atol=1e-10)
    np.testing.assert_allclose(sample.correlations, lav["correlations"], atol=1e-6)
    order = lavaan_order(len(items), sample.n_thresholds)
    gamma = sample.gamma[np.ix_(order, order)]
    np.testing.assert_allclose(np.diag(gamma), ref["gamma_diag"][0], rtol=1e-5)
    np.testing.assert_allclose(gamma[0], ref["gamma_first_row"][0], atol=1e-6)
    np.testing.assert_allclose(sample.weights[order], ref["wls_v_diag"][0], rtol=1e-5)


@pytest.mark.parametrize("case", list(CASES))
def test_wlsmv_fit_measures_match_lavaan(case: str) -> None:
    result = fitted(case)
    ref = expected(case)["fit"]
    assert result.converged
    for theirs, ours in FIT.items():
        if theirs not in ref:
            continue
        if not isinstance(ref[theirs], (int, float)):  # NA in lavaan: none here either
            assert not np.isfinite(result.fit.get(ours, np.nan)), theirs
            continue
        got, want = result.fit[ours], ref[theirs]
        if theirs in RELATIVE:
            assert got == pytest.approx(want, rel=1e-5), theirs
        else:
            assert got == pytest.approx(want, abs=1e-5), theirs


@pytest.mark.parametrize("case", list(CASES))
def test_wlsmv_estimates_match_lavaan(case: str) -> None:
    result = fitted(case)
    ref = pd.DataFrame(expected(case)["estimates"])
    merged = ref.merge(result.estimates, on=["lhs", "op", "rhs", "group"], suffixes=("_r", ""))
    ours = result.estimates
    # Everything we estimate is in lavaan's table (it also lists the fixed intercepts,
    # latent means and scale factors of the delta parameterization).
    assert len(merged) == len(ours)
    assert set(ours["op"]) >= {"=~", "|", "~~"}
    free = merged[merged["free"]]
    np.testing.assert_allclose(merged["est"], merged["est_r"], atol=5e-5)
    np.testing.assert_allclose(free["se"], free["se_r"], atol=5e-5)
    np.testing.assert_allclose(merged["std_all"], merged["std_all_r"], atol=5e-5)


def test_residual_variances_follow_from_the_loadings() -> None:
    result = fitted("hs")
    e = result.estimates
    residual = e[(e["op"] == "~~") & (e["lhs"] == e["rhs"]) & e["lhs"].str.startswith("x")]
    assert not residual["free"].any()
    loadings = e[e["op"] == "=~"].set_index("rhs")["std_all"]
    np.testing.assert_allclose(
        residual.set_index("lhs")["est"], 1 - loadings[residual["lhs"]] ** 2, atol=1e-10
    )


@pytest.mark.parametrize("case", ["bfi", "alliance_short"])
def test_ordinal_reliability_matches_semtools_and_psych(case: str) -> None:
    rel = reference()[case]["reliability"]
    ours = ordinal_reliability(fitted(case))
    for factor, omega in rel["omega"].items():
        assert ours[factor]["omega_ordinal"] == pytest.approx(omega, abs=1e-4), factor
    for factor, alpha in rel["alpha_polychoric"].items():
        # psych's polychoric estimates each pair's thresholds from that pair's table; lavaan's
        # and ours from each item's answers: the two differ in the fourth decimal.
        assert ours[factor]["alpha_ordinal"] == pytest.approx(alpha, abs=2e-3), factor


def model_of(top: str) -> str:
    return str(reference()[top]["model"])


@pytest.mark.parametrize(
    ("data", "top", "missing"),
    [("alliance_short", "alliance_short", "listwise"), ("bfi", "bfi", "pairwise")],
)
def test_validate_wlsmv_json_matches_lavaan(data: str, top: str, missing: str) -> None:
    path = HERE / "data" / f"{data}.csv"
    args = ["validate", str(path), "--rows", "all", "--estimator", "wlsmv", "--json"]
    args += ["--model", model_of(top)]
    if missing == "listwise":
        args += ["--missing", "listwise"]
    out = run_cli(*args)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    ref = reference()[top]["wlsmv" if missing == "listwise" else "pairwise"]
    model = doc["models"]["hypothesized"]
    assert doc["estimator"] == "wlsmv"
    assert doc["missing"]["method"] == missing
    assert model["chisq"] == pytest.approx(ref["fit"]["chisq.scaled"], rel=1e-3)
    for ours, theirs in (("cfi", "cfi.scaled"), ("tli", "tli.scaled"), ("rmsea", "rmsea.scaled")):
        assert model[ours] == pytest.approx(ref["fit"][theirs], abs=1e-3), ours
    assert model["cfi_robust"] == pytest.approx(ref["fit"]["cfi.robust"], abs=1e-3)
    want = {(r["lhs"], r["rhs"]): r["std_all"] for r in ref["estimates"] if r["op"] == "=~"}
    for row in doc["loadings"]:
        assert row["std"] == pytest.approx(want[(row["factor"], row["item"])], abs=1e-3)
    assert doc["sample"]["rows_used"] == ref["nobs"]


def test_wlsmv_says_what_ml_would_have_lost_on_bfi() -> None:
    """The issue's contrast: ML's standardized loadings sit below WLSMV's on 6-point items."""
    ref = reference()["bfi"]
    wlsmv = [r["std_all"] for r in ref["wlsmv"]["estimates"] if r["op"] == "=~"]
    ours = fitted("bfi").loadings["std_all"].to_numpy()
    ml = np.array(ref["ml_std_loadings"])
    assert np.max(np.abs(ours) - np.abs(ml)) > 0.1
    np.testing.assert_allclose(ours, wlsmv, atol=1e-4)
    assert fitted("bfi").fit["cfi"] > ref["ml_cfi"]


def test_pairwise_sentence_states_the_coverage() -> None:
    out = run_cli(
        "validate",
        str(HERE / "data" / "bfi.csv"),
        "--rows",
        "all",
        "--estimator",
        "wlsmv",
        "--model",
        model_of("bfi"),
    )
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[0]
    assert first.startswith("n = 2,800 of 2,800 rows (rows: all); none left out; pairwise:")
    assert "lowest coverage 97.8%" in first
    assert first.endswith("estimator WLSMV")


def test_auto_chooses_wlsmv_for_crowded_five_point_items_and_says_why() -> None:
    data = dataset("alliance_short")
    items = [c for c in data.columns if c[:2] in ("pb", "pg", "pt")]
    choice = choose_estimator(data, items)
    assert choice.estimator == "wlsmv"
    assert choice.categories == 5
    assert "asymmetric thresholds" in choice.reason
    assert "Rhemtulla" in choice.reason


def test_auto_chooses_mlr_for_continuous_scores_and_wlsmv_for_three_categories() -> None:
    hs = dataset("hs")
    items = [f"x{i}" for i in range(1, 10)]
    assert choose_estimator(hs, items).estimator == "mlr"
    cut = choose_estimator(dataset("hs_ordinal"), items)
    assert cut.estimator == "wlsmv"
    assert "3 categories" in cut.reason


def test_auto_on_the_command_line_reports_its_choice() -> None:
    out = run_cli(
        "validate",
        str(HERE / "data" / "alliance_short.csv"),
        "--estimator",
        "auto",
        "--model",
        model_of("alliance_short"),
        "--json",
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["estimator"] == "wlsmv"
    assert doc["estimator_choice"]["estimator"] == "wlsmv"
    assert any(f.startswith("estimator auto chose WLSMV") for f in doc["findings"])


def test_ordered_names_the_ordinal_items_and_the_rest_stay_continuous() -> None:
    path = str(HERE / "data" / "hs_mixed.csv")
    model = "; ".join(model_of("hs").splitlines())
    base = ["validate", path, "--rows", "all", "--model", model]
    out = run_cli(*base, "--ordered", "x1,x2,x3", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    ref = reference()["hs"]["mixed"]["fit"]
    fit = doc["models"]["hypothesized"]
    assert doc["estimator"] == "wlsmv"
    assert fit["chisq"] == pytest.approx(ref["chisq.scaled"], rel=1e-5)
    assert fit["cfi"] == pytest.approx(ref["cfi.scaled"], abs=1e-5)
    assert fit["cfi_robust"] is None  # lavaan gives none with continuous items either
    assert "omega_ordinal" not in doc["reliability"]["visual"]
    assert any(f.startswith("ordinal and continuous items: omega") for f in doc["findings"])
    bad = run_cli(*base, "--ordered", "x1,x99")
    assert bad.returncode != 0
    assert "--ordered names 'x99', not an item of the model" in bad.stderr
    ok = run_cli(*base, "--ordered", "all")
    assert ok.returncode == 0, ok.stderr
    assert "estimator WLSMV" in ok.stdout.splitlines()[0]


def test_mixed_items_match_lavaans_sample_statistics() -> None:
    """Means (as minus thresholds), variances, Pearson and polyserial correlations, and
    their asymptotic covariance, beside the ordinal items' thresholds and polychorics."""
    sample = fitted("hs_mixed").stats.groups[0].ordinal
    ref = reference()["hs"]["mixed"]
    lav = ref["sample"][0]
    np.testing.assert_allclose(np.concatenate(sample.thresholds[:3]), lav["thresholds"], atol=1e-10)
    np.testing.assert_allclose(sample.covariances, lav["correlations"], atol=1e-6)
    order = lavaan_order(9, sample.n_univariate)
    gamma = sample.gamma[np.ix_(order, order)]
    np.testing.assert_allclose(np.diag(gamma), ref["gamma_diag"][0], rtol=1e-5)
    np.testing.assert_allclose(gamma[0], ref["gamma_first_row"][0], atol=1e-6)


def test_wlsmv_refuses_fiml() -> None:
    with pytest.raises(ModelError, match="pairwise or listwise"):
        fit_cfa(dataset("hs_ordinal"), model_of("hs"), estimator="wlsmv", missing="fiml")


def test_equal_thresholds_free_the_scale_factors_and_means_of_the_second_group() -> None:
    e = fitted("hs_metric").estimates
    scale = e[e["op"] == "~*~"]
    assert not scale[scale["group"] == 1]["free"].any()
    assert scale[scale["group"] == 2]["free"].all()
    means = e[(e["op"] == "~1") & e["lhs"].isin(["visual", "textual", "speed"])]
    assert list(means.groupby("group")["free"].all()) == [False, True]
    # Thresholds and loadings are one parameter across the schools.
    t = e[(e["op"] == "|") & (e["lhs"] == "x4")]
    assert t[t["group"] == 1]["est"].tolist() == t[t["group"] == 2]["est"].tolist()


def test_a_category_one_group_lacks_is_named() -> None:
    from analysis.cfa.samplestats import sample_stats

    hs = dataset("hs_ordinal").copy()
    hs.loc[hs["school"] == "Pasteur", "x1"] = hs.loc[hs["school"] == "Pasteur", "x1"].clip(2)
    with pytest.raises(ModelError, match="item 'x1' has no answer 1 in group 'Pasteur'"):
        sample_stats(hs, ("x1", "x2", "x3"), "school", None, "listwise", ordered=True)


def test_competing_models_under_wlsmv_are_compared_by_satorra_2000() -> None:
    """The competing models under WLSMV carry Satorra's (2000) scaled-and-shifted difference
    and its p-value (held to lavTestLRT in tests/test_ordinal_lrt_reference.py), not the raw
    DWLS difference."""
    out = run_cli(
        "validate", str(HERE / "data" / "alliance_short.csv"), "--estimator", "wlsmv", "--json"
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    models = doc["models"]
    assert set(models) == {"one_factor", "two_factor", "hypothesized", "bifactor"}
    assert all(m["aic"] is None for m in models.values())
    row = next(r for r in doc["model_comparison"] if r["model_b"] == "hypothesized")
    raw = models[row["model_a"]]["chisq_dwls"] - models["hypothesized"]["chisq_dwls"]
    assert row["delta_df"] > 0 and row["delta_chisq"] != pytest.approx(raw)
    assert 0 <= row["p"] <= 1


@pytest.mark.parametrize("case", ["bfi", "alliance_short"])
def test_polychoric_parallel_analysis_matches_psych(case: str) -> None:
    from analysis.efa import parallel_analyses

    data = dataset(case)
    items = list(fitted(case).observed)
    ref = reference()[case]["parallel"]
    found = parallel_analyses(data[items].dropna(), ("factors",), correlation="polychoric")
    # psych's fa.parallel(cor = "poly", fa = "fa"): its polychorics differ from lavaan's in the
    # fifth decimal, and so do the reduced eigenvalues.
    np.testing.assert_allclose(found["factors"].observed, ref["observed"], atol=2e-4)
    assert found["factors"].n_factors == ref["nfactors"]


def test_wlsmv_runs_the_efa_on_polychorics_unless_told_otherwise() -> None:
    path = str(HERE / "data" / "alliance_short.csv")
    model = model_of("alliance_short")
    base = ["validate", path, "--model", model, "--json"]
    wlsmv = json.loads(run_cli(*base, "--estimator", "wlsmv").stdout)
    assert wlsmv["efa"]["correlation"] == "polychoric"
    pearson = json.loads(
        run_cli(*base, "--estimator", "wlsmv", "--efa-correlation", "pearson").stdout
    )
    assert pearson["efa"]["correlation"] == "pearson"
    ml = json.loads(run_cli(*base).stdout)
    assert ml["efa"]["correlation"] == "pearson"
    # Polychorics sit above the Pearson correlations of crowded answers, and so do the
    # eigenvalues they give.
    assert wlsmv["efa"]["eigenvalues"][0] > pearson["efa"]["eigenvalues"][0]


def test_ordinal_invariance_on_the_command_line_matches_lavaan() -> None:
    out = run_cli(
        "invariance",
        str(HERE / "data" / "hs_ordinal.csv"),
        "--rows",
        "all",
        "--group",
        "school",
        "--estimator",
        "wlsmv",
        "--model",
        "; ".join(model_of("hs").splitlines()),
        "--json",
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    school = reference()["hs"]["school"]
    levels = {level["level"]: level for level in doc["levels"]}
    # full metric invariance fails Chen's CFI limit here (as lavaan's numbers say); freeing
    # x3's thresholds, which the score tests point to, it holds in part
    assert list(levels) == ["configural", "metric", "scalar", "strict"]
    metric = levels["metric"]
    fits = {"configural": levels["configural"]["fit"], "metric": metric["full"]["fit"]}
    for name, ours in fits.items():
        ref = school[name]["fit"]
        assert ours["chisq"] == pytest.approx(ref["chisq.scaled"], rel=1e-5)
        assert ours["df"] == ref["df"]
        assert ours["cfi"] == pytest.approx(ref["cfi.scaled"], abs=1e-5)
        assert ours["rmsea"] == pytest.approx(ref["rmsea.scaled"], abs=1e-5)
    d_cfi = school["metric"]["fit"]["cfi.scaled"] - school["configural"]["fit"]["cfi.scaled"]
    assert metric["full"]["comparison"]["delta_cfi"] == pytest.approx(d_cfi, abs=1e-6)
    assert metric["holds"] and [f["parameter"] for f in metric["freed"]] == ["x3 | t*"]
    # x3's two thresholds free in the second group, and its residual variance back at 1 there
    assert metric["fit"]["df"] == school["metric"]["fit"]["df"] - 2 + 1
    assert any("theta parameterization" in f for f in doc["findings"])


def test_scalar_adds_no_constraint_for_ordinal_items() -> None:
    metric, scalar = fitted("hs_metric"), fitted("hs_scalar")
    assert scalar.fit["df"] == metric.fit["df"]
    assert scalar.fit["chisq"] == pytest.approx(metric.fit["chisq"], rel=1e-12)
