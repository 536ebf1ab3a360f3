"""The EFA's extraction held to psych's fa() on bfi (tests/reference/make_efa_reference.R):
minres (psych's default, and ours), ml and iterated principal axes, each rotated by oblimin;
and KMO on the same complete rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linear_sum_assignment

from analysis.efa import principal_axes, run_efa

HERE = Path(__file__).parent / "reference"
REFERENCE = json.loads((HERE / "efa.json").read_text())
BFI = pd.read_csv(HERE / "data" / "bfi_gender.csv").drop(columns=["id", "gender"])


def aligned(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Our factors in psych's order and sign (psych sorts them by variance explained)."""
    similarity = np.abs(ours.T @ theirs)
    rows, columns = linear_sum_assignment(-similarity)
    out = np.empty_like(ours)
    for r, c in zip(rows, columns, strict=True):
        out[:, c] = ours[:, r] * np.sign(ours[:, r] @ theirs[:, c])
    return out


@pytest.mark.parametrize("method", ["minres", "ml", "pa"])
def test_loadings_equal_psych(method: str) -> None:
    ref = REFERENCE["fa"][method]
    theirs = np.array(ref["loadings"]).T
    result = run_efa(BFI[REFERENCE["items"]], 5, method=method)
    assert result.n == REFERENCE["n"] and result.method == method
    ours = aligned(result.loadings.to_numpy(), theirs)
    np.testing.assert_allclose(ours, theirs, atol=5e-6)
    # rotated obliquely, each item's communality is diag(L Phi L'), as psych's h2
    assert result.communalities is not None
    np.testing.assert_allclose(result.communalities, ref["communalities"], atol=5e-6)
    table = result.loadings_table()
    np.testing.assert_allclose(table["h2"] + table["u2"], 1.0)


@pytest.mark.parametrize("method", ["minres", "ml", "pa"])
def test_one_factor_is_signed_as_psychs(method: str) -> None:
    """psych's fa() gives a single factor a positive sum of loadings; an eigenvector's sign
    is arbitrary, and unsigned, bfi's neuroticism and Holzinger-Swineford's nine items came out
    all negative."""
    hs = pd.read_csv(HERE / "data" / "hs.csv")
    for items in (BFI[[f"N{k}" for k in range(1, 6)]], hs[[f"x{k}" for k in range(1, 10)]]):
        loadings = run_efa(items, 1, method=method).loadings["F1"]
        assert loadings.sum() > 0 and (loadings > 0).all()


def test_kmo_is_psychs_on_the_complete_rows() -> None:
    result = run_efa(BFI[REFERENCE["items"]], 5)
    assert result.kmo == pytest.approx(REFERENCE["kmo"], abs=1e-9)


def test_principal_axes_give_psychs_communalities() -> None:
    """The communalities (unrotated, so the rotation leaves them be) where psych's iteration
    stopped: the sum of communalities moving by at most 0.001."""
    corr = BFI[REFERENCE["items"]].dropna().corr().to_numpy()
    loadings = principal_axes(corr, 5)
    np.testing.assert_allclose(
        (loadings**2).sum(axis=1), REFERENCE["fa"]["pa"]["communalities"], atol=1e-9
    )


def test_an_unknown_method_is_named() -> None:
    with pytest.raises(ValueError, match="'method' must be one of 'minres', 'ml', 'pa'"):
        run_efa(BFI[REFERENCE["items"]], 5, method="principal")  # type: ignore[arg-type]


def test_item_descriptives_are_psychs_describe() -> None:
    from analysis.describe import item_descriptives

    ref = REFERENCE["describe"]
    table = item_descriptives(BFI, None, REFERENCE["items"])
    assert table["n"].tolist() == ref["n"]
    for ours, theirs in (
        ("mean", "mean"),
        ("SD", "sd"),
        ("skew", "skew"),
        ("kurtosis", "kurtosis"),
    ):
        np.testing.assert_allclose(table[ours], ref[theirs], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(table["missing"], 1 - np.array(ref["n"]) / len(BFI))
    # bfi's items run 1-6: with no scale declared, the ceiling is the top answer seen
    top = BFI[REFERENCE["items"]].max()
    expected = (BFI[REFERENCE["items"]] == top).sum() / BFI[REFERENCE["items"]].notna().sum()
    np.testing.assert_allclose(table["ceiling"], expected.to_numpy())


@pytest.mark.parametrize("rotation", ["promax", "varimax"])
def test_the_other_rotations_equal_psych(rotation: str) -> None:
    """psych's fa(rotate = "promax") (Kaiser-normalized rows) and fa(rotate = "varimax")
    (stats::varimax) of the minres loadings."""
    ref = REFERENCE["rotations"][rotation]
    theirs = np.array(ref["loadings"]).T
    result = run_efa(BFI[REFERENCE["items"]], 5, rotation=rotation)  # type: ignore[arg-type]
    np.testing.assert_allclose(aligned(result.loadings.to_numpy(), theirs), theirs, atol=5e-6)
    assert result.communalities is not None
    np.testing.assert_allclose(result.communalities, ref["communalities"], atol=5e-6)


@pytest.mark.parametrize("rotation", ["oblimin", "promax", "varimax"])
@pytest.mark.parametrize("method", ["minres", "ml"])
def test_extraction_and_rotation_equal_factor_analyzer(method: str, rotation: str) -> None:
    """factor_analyzer 0.5.1 (what the EFA ran on before its own code, which spares it the
    import of scikit-learn): the same loadings on bfi, extracted and rotated, within 5e-6.
    Its L-BFGS-B stops with gradients up to 1e-5 (ML); that moves its loadings by 2e-6."""
    import warnings

    from factor_analyzer import FactorAnalyzer
    from factor_analyzer.rotator import Rotator

    complete = BFI[REFERENCE["items"]].dropna()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # its call into scikit-learn
        fitted = FactorAnalyzer(n_factors=5, method=method, rotation=None).fit(complete)
    theirs = Rotator(method=rotation).fit_transform(fitted.loadings_)
    ours = run_efa(complete, 5, method=method, rotation=rotation)  # type: ignore[arg-type]
    np.testing.assert_allclose(aligned(ours.loadings.to_numpy(), theirs), theirs, atol=5e-6)


HEYWOOD = np.array(
    [[1.0, 0.8, 0.8, 0.5], [0.8, 1.0, 0.5, 0.4], [0.8, 0.5, 1.0, 0.4], [0.5, 0.4, 0.4, 1.0]]
)  # one factor would give item 1 a communality > 1


@pytest.mark.parametrize("method", ["minres", "ml"])
@pytest.mark.parametrize(
    ("name", "corr", "k"),
    [("bfi", BFI[REFERENCE["items"]].dropna().corr().to_numpy(), 5), ("heywood", HEYWOOD, 1)],
)
def test_the_uniquenesses_minimize_within_psychs_bounds(
    method: str, name: str, corr: np.ndarray, k: int
) -> None:
    """The projected Newton steps reach the bounded minimum: no higher than L-BFGS-B's (psych's
    and factanal's optimizer) and with each gradient zero, or pushing out at a bound (the
    Heywood item's uniqueness stops at 0.005)."""
    from scipy.optimize import minimize

    from analysis import factoring

    objective = factoring._ml if method == "ml" else factoring._uls
    start = 1 / np.diag(np.linalg.inv(corr))  # 1 - SMC, as extract() starts
    psi = factoring._bounded(lambda p: objective(p, corr, k), start)
    lower, upper = factoring.UNIQUENESS_BOUNDS
    value, gradient = objective(psi, corr, k)
    theirs = minimize(
        objective,
        np.clip(start, lower, upper),
        args=(corr, k),
        jac=True,
        method="L-BFGS-B",
        bounds=[(lower, upper)] * len(corr),
    )
    assert value <= theirs.fun + 1e-12
    assert np.all((psi >= lower) & (psi <= upper))
    free = (psi > lower) & (psi < upper)
    assert np.max(np.abs(gradient[free])) < 1e-9
    assert np.all(gradient[psi == lower] >= 0) and np.all(gradient[psi == upper] <= 0)
    if name == "heywood":
        assert psi[0] == lower


def test_kmo_and_bartlett_equal_factor_analyzer() -> None:
    """Each item's KMO, and Bartlett's chi-square and p, on a sample small enough for p to
    be more than zero."""
    from factor_analyzer.factor_analyzer import calculate_bartlett_sphericity, calculate_kmo

    rng = np.random.default_rng(4)
    common = rng.standard_normal((40, 1))
    small = pd.DataFrame(0.3 * common + rng.standard_normal((40, 4)), columns=list("abcd"))
    result = run_efa(small, 1, parallel_iterations=20)
    items, overall = calculate_kmo(small)
    assert result.kmo == pytest.approx(overall, abs=1e-12)
    np.testing.assert_allclose(list(result.kmo_items.values()), items, atol=1e-12)
    chisq, p_value = calculate_bartlett_sphericity(small)
    assert result.bartlett_chisq == pytest.approx(chisq, rel=1e-12)
    assert 0.001 < p_value < 0.999
    assert result.bartlett_p == pytest.approx(p_value, rel=1e-9)


def test_an_item_constant_over_the_complete_rows_or_too_few_rows_are_named() -> None:
    answers = BFI[REFERENCE["items"]].dropna().copy()
    answers["A1"] = 4
    with pytest.raises(ValueError, match="item 'A1' has the same answer in every complete row"):
        run_efa(answers, 5)
    few = pd.DataFrame({"a": [np.nan, 1.0, 2.0], "b": [1.0, np.nan, 3.0], "c": [1.0, 2.0, 2.0]})
    with pytest.raises(ValueError, match="needs more complete rows than items; got 1 for 3"):
        run_efa(few, 1)
