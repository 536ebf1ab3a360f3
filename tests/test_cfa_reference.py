"""The CFA engine, reliability and EFA against R (lavaan 0.6.14, psych, semTools).

Reference values come from tests/reference/make_reference.R, run on the committed data in
tests/reference/data; the versions are recorded in each JSON file.
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

from analysis.cfa import FitRequest, ModelError, fit_cfa
from analysis.cfa.compare import chisq_difference
from analysis.efa import run_efa
from analysis.validate import validate
from analysis.validity import factor_reliability, htmt, item_reliability
from instrument import Instrument, load_instrument

HERE = Path(__file__).parent / "reference"
FIT_KEYS = {  # lavaan name -> ours
    "npar": "npar",
    "ntotal": "ntotal",
    "chisq": "chisq",
    "df": "df",
    "pvalue": "pvalue",
    "baseline.chisq": "baseline_chisq",
    "baseline.df": "baseline_df",
    "cfi": "cfi",
    "tli": "tli",
    "rmsea": "rmsea",
    "rmsea.ci.lower": "rmsea_ci_lower",
    "rmsea.ci.upper": "rmsea_ci_upper",
    "rmsea.pvalue": "rmsea_pvalue",
    "srmr": "srmr",
    "logl": "loglik",
    "unrestricted.logl": "unrestricted_loglik",
    "aic": "aic",
    "bic": "bic",
}
ROBUST_KEYS = {
    "chisq": "chisq_ml",
    "chisq.scaled": "chisq",
    "pvalue.scaled": "pvalue",
    "chisq.scaling.factor": "scaling_factor",
    "baseline.chisq.scaled": "baseline_chisq_scaled",
    "baseline.chisq.scaling.factor": "baseline_scaling_factor",
    "cfi.robust": "cfi",
    "tli.robust": "tli",
    "rmsea.robust": "rmsea",
    "rmsea.ci.lower.robust": "rmsea_ci_lower",
    "rmsea.ci.upper.robust": "rmsea_ci_upper",
    "cfi": "cfi_ml",
    "tli": "tli_ml",
    "rmsea": "rmsea_ml",
    "srmr": "srmr",
    "logl": "loglik",
    "aic": "aic",
    "bic": "bic",
    "npar": "npar",
    "df": "df",
}
REVERSED = ("pb06", "pg05", "pt06")


@cache
def reference(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((HERE / f"{name}.json").read_text())
    return doc


@cache
def dataset(name: str) -> pd.DataFrame:
    data = pd.read_csv(HERE / "data" / f"{name}.csv")
    if name == "alliance":
        for item in REVERSED:
            data[item] = 6 - data[item]
    return data


def check_fit(ours: dict[str, float], theirs: dict[str, Any], robust: bool) -> None:
    keys = ROBUST_KEYS if robust else FIT_KEYS
    for lavaan_key, key in keys.items():
        expected = theirs.get(lavaan_key)
        if expected is None:
            continue
        if "chisq" in lavaan_key or "logl" in lavaan_key or lavaan_key in ("aic", "bic"):
            assert ours[key] == pytest.approx(expected, rel=1e-6, abs=1e-6), lavaan_key
        else:
            assert ours[key] == pytest.approx(expected, abs=1e-4), lavaan_key


def check_estimates(ours: pd.DataFrame, theirs: list[dict[str, Any]]) -> None:
    ref = pd.DataFrame(theirs)
    merged = ours.merge(ref, on=["lhs", "op", "rhs"], suffixes=("", "_r"), validate="1:1")
    assert len(merged) == len(ours) == len(ref)
    free = merged[merged["free"]]
    assert_allclose(merged["est"], merged["est_r"], atol=1e-4)
    assert_allclose(free["se"], free["se_r"], atol=1e-4)
    assert_allclose(merged["std_all"], merged["std_all_r"], atol=1e-4)
    both = merged["std_se"].notna() & merged["std_se_r"].notna() & (merged["std_se_r"] > 0)
    assert_allclose(merged.loc[both, "std_se"], merged.loc[both, "std_se_r"], atol=1e-4)


def check_modindices(ours: pd.DataFrame, theirs: list[dict[str, Any]]) -> None:
    ref = pd.DataFrame(theirs)
    merged = ref.merge(ours, on=["lhs", "op", "rhs"], suffixes=("_r", ""), how="left")
    assert merged["mi"].notna().all(), "every index lavaan reports is computed"
    assert_allclose(merged["mi"], merged["mi_r"], rtol=1e-4, atol=1e-3)
    assert_allclose(merged["epc"], merged["epc_r"], atol=1e-4)


CASES = [
    ("hs", "ml", {}),
    ("hs", "mlr", {}),
    ("hs", "std_lv", {"std_lv": True}),
    ("hs", "orthogonal", {"orthogonal": True}),
    ("bfi", "ml", {}),
    ("bfi", "mlr", {}),
]


@pytest.mark.parametrize(("name", "variant", "options"), CASES)
def test_fit_estimates_and_indices_match_lavaan(
    name: str, variant: str, options: dict[str, bool]
) -> None:
    ref = reference(name)
    expected = ref[variant]
    estimator = "mlr" if variant == "mlr" else "ml"
    result = fit_cfa(dataset(name), ref["model"], estimator=estimator, **options)
    assert result.converged and expected["converged"]
    check_fit(result.fit, expected["fit"], robust=estimator == "mlr")
    check_estimates(result.estimates, expected["estimates"])
    check_modindices(result.modindices, expected["modindices"])
    resid = pd.DataFrame(expected["residual_cor"], index=result.observed, columns=result.observed)
    assert_allclose(result.residual_correlations.to_numpy(), resid.to_numpy(), atol=1e-4)


@pytest.mark.parametrize("estimator", ["ml", "mlr"])
@pytest.mark.parametrize("model", ["one_factor", "two_factor", "three_factor"])
def test_alliance_competing_models_match_lavaan(estimator: str, model: str) -> None:
    spec = reference("alliance")[f"models_{estimator}"]["models"][model]
    result = fit_cfa(dataset("alliance"), spec["model"], estimator=estimator)  # type: ignore[arg-type]
    check_fit(result.fit, spec["fit"], robust=estimator == "mlr")
    check_estimates(result.estimates, spec["estimates"])
    check_modindices(result.modindices, spec["modindices"])


@pytest.mark.parametrize("estimator", ["ml", "mlr"])
def test_chisq_difference_tests_match_lavtestlrt(estimator: str) -> None:
    models = reference("alliance")[f"models_{estimator}"]
    fits = {
        name: fit_cfa(dataset("alliance"), spec["model"], estimator=estimator)  # type: ignore[arg-type]
        for name, spec in models["models"].items()
        if name != "bifactor"
    }
    for row in models["model_comparison"]:
        got = chisq_difference(fits[row["model_a"]], fits[row["model_b"]])
        assert got["delta_df"] == row["delta_df"]
        # MLR's scaling factors go through a numerical Hessian: agreement to 1e-5 relative.
        assert got["delta_chisq"] == pytest.approx(row["delta_chisq"], rel=1e-5)


def test_a_negative_scaling_factor_gives_no_difference_test_as_lavaan() -> None:
    """lavaan's lavTestLRT warns and returns NA when the Satorra-Bentler (2001) factor
    ``(df_a c_a - df_b c_b) / (df_a - df_b)`` is negative; a negative chi-square is no answer."""
    from types import SimpleNamespace

    def fit(chisq: float, df: int, c: float) -> SimpleNamespace:
        return SimpleNamespace(
            estimator="mlr", fit={"chisq_ml": chisq, "df": df, "scaling_factor": c}
        )

    got = chisq_difference(fit(900.0, 10, 1.0), fit(500.0, 9, 2.0))  # type: ignore[arg-type]
    assert got["delta_df"] == 1 and np.isnan(got["delta_chisq"]) and np.isnan(got["p"])
    fine = chisq_difference(fit(900.0, 10, 2.0), fit(500.0, 9, 1.5))  # type: ignore[arg-type]
    assert fine["delta_chisq"] == pytest.approx(400.0 / 6.5)


def test_an_unidentified_bifactor_model_is_reported_not_hidden() -> None:
    spec = reference("alliance")["models_ml"]["models"]["bifactor"]
    # lavaan could not invert the information matrix either: no standard errors there.
    assert all(e.get("se") is None for e in spec["estimates"] if e["op"] == "=~")
    result = fit_cfa(dataset("alliance"), spec["model"], std_lv=True, orthogonal=True)
    findings = " | ".join(result.findings)
    assert "information matrix is singular" in findings
    assert "Heywood case" in findings
    assert result.estimates["se"].isna().all()


# ---------------------------------------------------------------- the published anchor
def test_holzinger_swineford_anchor() -> None:
    ml = fit_cfa(dataset("hs"), reference("hs")["model"])
    f = ml.fit
    assert (round(f["chisq"], 3), f["df"]) == (85.306, 24)
    assert [
        round(f[k], 3) for k in ("cfi", "tli", "rmsea", "rmsea_ci_lower", "rmsea_ci_upper", "srmr")
    ] == [0.931, 0.896, 0.092, 0.071, 0.114, 0.065]
    assert [round(f[k], 3) for k in ("loglik", "aic", "bic")] == [-3737.745, 7517.490, 7595.339]
    std = [round(v, 3) for v in ml.loadings["std_all"]]
    assert std == [0.772, 0.424, 0.581, 0.852, 0.855, 0.838, 0.570, 0.723, 0.665]
    corr = ml.factor_correlations()
    assert [
        round(corr.loc[a, b], 3)
        for a, b in (("visual", "textual"), ("visual", "speed"), ("textual", "speed"))
    ] == [0.459, 0.471, 0.283]
    top = ml.modindices.iloc[0]
    assert (top["lhs"], top["op"], top["rhs"], round(top["mi"], 3)) == (
        "visual",
        "=~",
        "x9",
        36.411,
    )
    mlr = fit_cfa(dataset("hs"), reference("hs")["model"], estimator="mlr")
    assert round(mlr.fit["chisq"], 3) == 87.132 and round(mlr.fit["cfi"], 3) == 0.930
    groups = {
        "visual": ["x1", "x2", "x3"],
        "textual": ["x4", "x5", "x6"],
        "speed": ["x7", "x8", "x9"],
    }
    h = htmt(dataset("hs"), groups)
    assert [
        round(h.loc[a, b], 3)
        for a, b in (("visual", "textual"), ("visual", "speed"), ("textual", "speed"))
    ] == [0.384, 0.387, 0.280]
    rel = factor_reliability(ml)
    assert [round(rel[g]["composite_reliability"], 3) for g in groups] == [0.612, 0.885, 0.686]
    assert [round(rel[g]["ave"], 3) for g in groups] == [0.371, 0.721, 0.424]
    efa = run_efa(dataset("hs")[[f"x{k}" for k in range(1, 10)]], 3)
    assert round(efa.kmo, 3) == 0.752
    assert (round(efa.bartlett_chisq, 2), efa.bartlett_df) == (904.10, 36)


# ---------------------------------------------------------------- psych and semTools
@pytest.mark.parametrize(
    ("name", "key", "items"),
    [
        ("hs", "visual", ["x1", "x2", "x3"]),
        ("hs", "speed", ["x7", "x8", "x9"]),
        ("alliance", "bond", [f"pb0{k}" for k in range(1, 9)]),
        ("alliance", "tasks", [f"pt0{k}" for k in range(1, 9)]),
    ],
)
def test_alpha_and_item_statistics_match_psych(name: str, key: str, items: list[str]) -> None:
    ref = reference(name)["alpha"][key]
    got = item_reliability(dataset(name)[items])
    assert got.alpha == pytest.approx(ref["raw_alpha"], abs=1e-9)
    for item in items:
        assert got.alpha_if_deleted[item] == pytest.approx(ref["alpha_if_deleted"][item], abs=1e-9)
        assert got.item_total[item] == pytest.approx(ref["corrected_item_total"][item], abs=1e-9)


def test_psych_alpha_of_bfi_neuroticism() -> None:
    got = item_reliability(dataset("bfi")[[f"N{k}" for k in range(1, 6)]])
    assert round(got.alpha, 6) == 0.813963  # psych::alpha(bfi[16:20])
    assert got.alpha == pytest.approx(reference("bfi")["alpha_neuroticism"]["raw_alpha"], abs=1e-9)


@pytest.mark.parametrize("name", ["hs", "bfi", "alliance"])
def test_htmt_and_composite_reliability_match_semtools(name: str) -> None:
    ref = reference(name)
    model = ref["model"] if "model" in ref else ref["models_ml"]["models"]["three_factor"]["model"]
    result = fit_cfa(dataset(name), model)
    groups = {f: list(result.loadings[result.loadings["lhs"] == f]["rhs"]) for f in result.latent}
    assert_allclose(htmt(dataset(name), groups).to_numpy(), np.array(ref["htmt"]), atol=1e-6)
    if "reliability" in ref:
        rel = factor_reliability(result)
        for factor in result.latent:
            assert rel[factor]["composite_reliability"] == pytest.approx(
                ref["reliability"]["composite_reliability"][factor], abs=1e-4
            )
            assert rel[factor]["ave"] == pytest.approx(ref["reliability"]["ave"][factor], abs=1e-4)


def test_classic_htmt_is_available() -> None:
    groups = {
        "visual": ["x1", "x2", "x3"],
        "textual": ["x4", "x5", "x6"],
        "speed": ["x7", "x8", "x9"],
    }
    got = htmt(dataset("hs"), groups, classic=True)
    assert_allclose(got.to_numpy(), np.array(reference("hs")["htmt_classic"]), atol=1e-9)


def test_efa_loadings_match_psych_up_to_order_and_sign() -> None:
    ref = np.array(reference("hs")["efa_ml_oblimin"]["loadings"])
    got = run_efa(
        dataset("hs")[[f"x{k}" for k in range(1, 10)]], 3, method="ml"
    ).loadings.to_numpy()
    for j in range(3):
        # Match each psych factor to our column with the largest absolute congruence.
        k = int(np.argmax([abs(ref[:, j] @ got[:, c]) for c in range(3)]))
        sign = np.sign(ref[:, j] @ got[:, k])
        assert_allclose(sign * got[:, k], ref[:, j], atol=2e-3)
    assert run_efa(dataset("hs")[[f"x{k}" for k in range(1, 10)]], 3).kmo == pytest.approx(
        reference("hs")["kmo"], abs=1e-9
    )


# ---------------------------------------------------------------- invariants and errors
def test_a_model_that_holds_exactly_is_recovered_exactly() -> None:
    lam = np.array([[1.0, 0], [0.8, 0], [0.6, 0], [0, 1.0], [0, 1.2], [0, 0.7]])
    psi = np.array([[0.9, 0.3], [0.3, 0.6]])
    theta = np.diag([0.4, 0.5, 0.3, 0.6, 0.2, 0.5])
    sigma = lam @ psi @ lam.T + theta
    rng = np.random.default_rng(1)
    z = rng.standard_normal((500, 6))
    z -= z.mean(axis=0)
    white = z @ np.linalg.inv(np.linalg.cholesky(z.T @ z / 500).T)
    x = white @ np.linalg.cholesky(sigma).T  # sample covariance (denominator N) equals sigma
    data = pd.DataFrame(x, columns=[f"v{k}" for k in range(6)])
    result = fit_cfa(data, "f =~ v0 + v1 + v2\ng =~ v3 + v4 + v5")
    assert result.fit["chisq"] == pytest.approx(0.0, abs=1e-8)
    assert_allclose(result.implied.to_numpy(), sigma, atol=1e-8)
    assert_allclose(result.loadings["est"], [1.0, 0.8, 0.6, 1.0, 1.2, 0.7], atol=1e-7)
    assert result.fit["cfi"] == 1.0 and result.fit["rmsea"] == 0.0


@pytest.mark.parametrize("means", [False, True])
def test_the_information_without_the_moments_weight_is_delta_w_delta(means: bool) -> None:
    """ML's information is taken without forming the moments' weight W (p^2 (p + 1)^2 / 4
    entries): it must equal ``Delta' W Delta`` with W formed, for any Sigma and Delta."""
    from analysis.cfa.ml import moment_information, normal_information

    rng = np.random.default_rng(4)
    p, k = 7, 11
    a = rng.standard_normal((p, p))
    inv = np.linalg.inv(a @ a.T + p * np.eye(p))
    rows, cols = np.tril_indices(p)
    delta = rng.standard_normal((p * means + len(rows), k))
    weight = moment_information(inv, (cols, rows), means)
    got = normal_information(inv, delta, (cols, rows), means)
    assert_allclose(got, delta.T @ weight @ delta, rtol=1e-12, atol=1e-12)


def test_models_that_cannot_be_fitted_say_why() -> None:
    data = dataset("hs")
    with pytest.raises(ModelError, match=r"not identified: 4 free parameters but only 3"):
        fit_cfa(data, "f =~ x1 + x2")
    with pytest.raises(ModelError, match="the data have no column for 'x99'"):
        fit_cfa(data, "f =~ x1 + x2 + x99")
    with pytest.raises(ModelError, match=r"regressions \('~'\) are not supported"):
        fit_cfa(data, "f =~ x1 + x2 + x3\nx1 ~ x4")
    with pytest.raises(ModelError, match="factor 'f' has no scale"):
        fit_cfa(data, "f =~ NA*x1 + x2 + x3")
    with pytest.raises(
        ValueError,
        match="'estimator' must be one of 'ml', 'mlr', 'mlm', 'wlsmv', 'ulsmv'; got 'wls'",
    ):
        fit_cfa(data, "f =~ x1 + x2 + x3", estimator="wls")  # type: ignore[arg-type]


def test_fixed_values_and_equality_labels() -> None:
    data = dataset("hs")
    fixed = fit_cfa(data, "visual =~ x1 + 0.5*x2 + x3")
    x2 = fixed.loadings[fixed.loadings["rhs"] == "x2"].iloc[0]
    assert x2["est"] == 0.5 and not x2["free"] and np.isnan(x2["se"])
    equal = fit_cfa(data, "visual =~ x1 + a*x2 + a*x3")
    loads = equal.loadings.set_index("rhs")["est"]
    assert loads["x2"] == pytest.approx(loads["x3"])
    assert equal.fit["df"] == fit_cfa(data, "visual =~ x1 + x2 + x3").fit["df"] + 1


def test_validate_puts_the_alliance_models_side_by_side(bank: Instrument) -> None:
    raw = pd.read_csv(HERE / "data" / "alliance.csv")
    result = validate(raw, bank, fit=FitRequest(missing="listwise"))  # as the reference
    assert list(result.models) == ["one_factor", "two_factor", "hypothesized", "bifactor"]
    ref = reference("alliance")["models_ml"]["models"]
    assert result.models["hypothesized"].fit["chisq"] == pytest.approx(
        ref["three_factor"]["fit"]["chisq"], rel=1e-6
    )
    doc = result.to_dict()
    assert set(doc) >= {
        "n",
        "estimator",
        "reliability",
        "models",
        "loadings",
        "factor_correlations",
        "htmt",
        "efa",
        "model_comparison",
    }
    assert set(doc["reliability"]["bond"]) >= {
        "alpha",
        "alpha_ci",
        "omega_total",
        "composite_reliability",
        "ave",
        "item_total",
    }
    assert doc["reliability"]["bond"]["alpha"] == pytest.approx(
        reference("alliance")["alpha"]["bond"]["raw_alpha"], abs=1e-9
    )
    assert [(r["model_a"], r["model_b"]) for r in doc["model_comparison"]] == [
        ("one_factor", "two_factor"),
        ("one_factor", "hypothesized"),
        ("two_factor", "hypothesized"),
    ]
    assert doc["models"]["hypothesized"]["verdict"].startswith(("meets", "falls short"))
    assert doc["efa"]["parallel_analysis_factors"] >= 1


def test_a_model_string_instrument_validates_its_own_model() -> None:
    model = reference("hs")["model"]
    result = validate(dataset("hs"), load_instrument(model), model=model)
    assert list(result.models) == ["hypothesized"]
    assert round(result.models["hypothesized"].fit["chisq"], 3) == 85.306


def test_trust_is_told_apart_from_competence_reliability_and_bond(bank: Instrument) -> None:
    from analysis.simulate import simulate

    data = simulate(bank, 800, clinicians=20, sessions=1, seed=4).data
    result = validate(data, bank)
    table = result.trust_htmt
    assert table is not None
    assert list(table.index) == [
        "bond",
        "affective",
        "rational",
        "fidelity",
        "competence",
        "reliability",
    ]
    groups = {g: bank.subscale_items("patient-full")[g] for g in table.index}
    from analysis.validate import keyed

    items = [i for ids in groups.values() for i in ids]
    assert_allclose(table.to_numpy(), htmt(keyed(data, bank, items), groups).to_numpy())
    # In the simulated population trust and competence correlate .45-.60: distinct by HTMT.
    for trust in ("affective", "rational", "fidelity"):
        assert table.loc[trust, "competence"] < 0.85
        assert table.loc[trust, "reliability"] < 0.85
    assert result.to_dict()["htmt_guideline"] == 0.85
