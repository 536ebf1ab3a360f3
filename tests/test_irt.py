"""The graded response model and its calibration.

References: the independent implementation in the `mirt` package on PyPI (1.2.0) on psych's
bfi neuroticism items (public ordinal data); recovery of known parameters from simulated data;
the normal-ogive link to the ordinal CFA's loadings (lavaan-grade WLSMV, tests/
test_ordinal_reference.py); and identities of the model itself (information as the variance of
the score, Lord and Wingersky against enumeration, the EAP of an adaptive test that gives every
item equals the full bank's)."""

from __future__ import annotations

import itertools
from pathlib import Path

import mirt
import numpy as np
import pandas as pd
import pytest

from analysis.cfa import fit_cfa
from analysis.choices import DEFAULT_STOP
from analysis.irt.adaptive import StopRule, run_adaptive
from analysis.irt.calibration import (
    Calibration,
    ScaleCalibration,
    calibrate_scale,
    load_calibration,
    save_calibration,
    theta_at_item_mean,
)
from analysis.irt.eap import eap
from analysis.irt.estimate import collapse, fit_grm
from analysis.irt.grm import NODES, information, probabilities, summed_score_likelihood
from analysis.irt.itemfit import q3, q3_adjusted, s_x2
from analysis.scales import parse_scale, with_option_scale
from instrument import Instrument, load_instrument

DATA = Path(__file__).parent / "reference" / "data"


def draw(a: np.ndarray, d: np.ndarray, theta: np.ndarray, seed: int) -> np.ndarray:
    """Answers (category indices) from the model: ``d`` is items x (K - 1), decreasing."""
    rng = np.random.default_rng(seed)
    star = 1.0 / (1.0 + np.exp(-(a[None, :, None] * theta[:, None, None] + d[None, :, :])))
    return (rng.uniform(size=(len(theta), len(a), 1)) < star).sum(axis=2)


TRUE_A = np.array([0.9, 1.3, 1.7, 2.1, 2.6, 1.1, 1.9, 2.3])
TRUE_B = np.array([[-2.2, -1.4, -0.6, 0.4] for _ in range(8)]) + np.linspace(-0.5, 0.5, 8)[:, None]
TRUE_D = -TRUE_A[:, None] * TRUE_B


def test_agrees_with_the_mirt_package_on_public_ordinal_data() -> None:
    """bfi N1-N5 (psych, 6 points, 2,694 complete rows): slopes, thresholds and the SE of
    the slope as mirt 1.2.0 estimates them (EM, 61 nodes, cross-product SEs)."""
    bfi = pd.read_csv(DATA / "bfi.csv")
    x = bfi[["N1", "N2", "N3", "N4", "N5"]].dropna().to_numpy(int) - 1
    ours = fit_grm(collapse(x, (6,) * 5), tol=1e-8)
    theirs = mirt.fit_mirt(
        x, model="GRM", n_quadpts=61, tol=1e-8, max_iter=20000, se_method="crossprod"
    )
    coef = theirs.coef().to_numpy()
    b = np.array([-ours.intercepts[i] / ours.slopes[i] for i in range(5)])
    np.testing.assert_allclose(ours.slopes, coef[:, 0], atol=5e-4)
    np.testing.assert_allclose(b, coef[:, 1:], atol=5e-4)
    se_theirs = theirs.coef_with_se()["discrimination_se"].to_numpy()
    se_ours = np.array([np.sqrt(c[0, 0]) for c in ours.covariance])
    np.testing.assert_allclose(se_ours, se_theirs, rtol=2e-3)
    assert ours.converged and len(x) == 2694


def test_recovers_known_parameters() -> None:
    """20,000 respondents, 8 items of 5 categories (seed 4): every slope and threshold within
    four of its standard errors, and the RMSEs small. benchmarks/bench_irt.py gives bias and
    RMSE over many seeds at 2,000 and 20,000."""
    theta = np.random.default_rng(3).normal(size=20_000)
    x = draw(TRUE_A, TRUE_D, theta, seed=4)
    est = fit_grm(collapse(x, (5,) * 8))
    assert est.converged
    se_a = np.array([np.sqrt(c[0, 0]) for c in est.covariance])
    assert np.all(np.abs(est.slopes - TRUE_A) < 4 * se_a)
    d = np.vstack(est.intercepts)
    se_d = np.vstack([np.sqrt(np.diag(c)[1:]) for c in est.covariance])
    assert np.all(np.abs(d - TRUE_D) < 4 * se_d)
    assert np.sqrt(np.mean((est.slopes - TRUE_A) ** 2)) < 0.04
    assert np.sqrt(np.mean((-d / est.slopes[:, None] - TRUE_B) ** 2)) < 0.03


def test_information_is_the_variance_of_the_score() -> None:
    a, d = 1.8, np.array([2.0, 0.5, -0.7, -2.1])
    theta = np.linspace(-3, 3, 13)
    p = probabilities(a, d, theta)
    h = 1e-5
    dlogp = (np.log(probabilities(a, d, theta + h)) - np.log(probabilities(a, d, theta - h))) / (
        2 * h
    )
    np.testing.assert_allclose(information(a, d, theta), (p * dlogp**2).sum(axis=0), rtol=1e-6)


def test_lord_wingersky_equals_enumeration() -> None:
    probs = [
        probabilities(a, np.array(d), NODES)
        for a, d in ((1.0, [1.0, -1.0]), (2.0, [0.5]), (1.5, [2.0, 0.0, -1.5]))
    ]
    dist = summed_score_likelihood(probs)
    brute = np.zeros_like(dist)
    for combo in itertools.product(*(range(p.shape[0]) for p in probs)):
        brute[sum(combo)] += np.prod([p[c] for p, c in zip(probs, combo, strict=True)], axis=0)
    np.testing.assert_allclose(dist, brute, rtol=1e-12)
    np.testing.assert_allclose(dist.sum(axis=0), 1.0, rtol=1e-12)


def test_the_normal_ogive_link_to_the_ordinal_cfa() -> None:
    """a = 1.702 x lambda / sqrt(1 - lambda^2) from the one-factor WLSMV loadings (the
    normal-ogive and logistic models differ slightly, so within 8%)."""
    theta = np.random.default_rng(5).normal(size=5_000)
    x = draw(TRUE_A, TRUE_D, theta, seed=6)
    est = fit_grm(collapse(x, (5,) * 8))
    items = [f"i{k}" for k in range(8)]
    frame = pd.DataFrame(x + 1, columns=items)
    cfa = fit_cfa(frame, "f =~ " + " + ".join(items), estimator="wlsmv", ordered=items)
    lam = cfa.loadings.set_index("rhs").loc[items, "std_all"].to_numpy()
    np.testing.assert_allclose(est.slopes, 1.702 * lam / np.sqrt(1 - lam**2), rtol=0.08)


def test_s_x2_stays_quiet_when_the_model_holds_and_q3_finds_a_planted_pair() -> None:
    theta = np.random.default_rng(7).normal(size=6_000)
    x = draw(TRUE_A, TRUE_D, theta, seed=8)
    est = fit_grm(collapse(x, (5,) * 8))
    fits = s_x2(x, est.slopes, est.intercepts)
    assert sum(f.p < 0.01 for f in fits) <= 1
    assert all(f.df > 0 and f.groups > 3 for f in fits)
    theta_hat, _ = eap(x, est.slopes, est.intercepts)
    calm = q3_adjusted(q3(x, est.slopes, est.intercepts, theta_hat))
    assert np.nanmax(calm[~np.eye(8, dtype=bool)]) < 0.2
    # Items 0 and 5 share a second factor beside theta (a testlet): a locally dependent pair,
    # the only pair flagged.
    rng = np.random.default_rng(9)
    linear = TRUE_A[None, :] * theta[:, None]
    linear[:, [0, 5]] += rng.normal(size=(len(theta), 1))
    star = 1.0 / (1.0 + np.exp(-(linear[:, :, None] + TRUE_D[None])))
    dependent = (rng.uniform(size=(len(theta), 8, 1)) < star).sum(axis=2)
    est2 = fit_grm(collapse(dependent, (5,) * 8))
    theta2, _ = eap(dependent, est2.slopes, est2.intercepts)
    adjusted = q3_adjusted(q3(dependent, est2.slopes, est2.intercepts, theta2))
    flagged = np.argwhere(np.triu(adjusted, 1) > 0.2)
    assert flagged.tolist() == [[0, 5]]


def test_an_adaptive_test_of_every_item_is_the_full_bank() -> None:
    theta = np.random.default_rng(10).normal(size=500)
    x = draw(TRUE_A, TRUE_D, theta, seed=11)
    x[:50, 2] = -1  # unanswered: cannot be given
    scale = _scale(x)
    full, full_se = eap(x, scale.slopes, scale.intercepts)
    run = run_adaptive(scale, x, StopRule(se=1e-9, min_items=8, max_items=8))
    np.testing.assert_allclose(run.theta, full, atol=1e-12)
    np.testing.assert_allclose(run.se, full_se, atol=1e-12)
    assert list(np.unique(run.items_used[:50])) == [7] and set(run.items_used[50:]) == {8}
    # The first item is the most informative one at theta 0, the same for everyone.
    info0 = [information(p.a, np.array(p.d), np.array([0.0]))[0] for p in scale.items]
    assert set(run.order[50:, 0]) == {int(np.argmax(info0))}
    short = run_adaptive(scale, x, StopRule(se=0.3, min_items=4, max_items=6))
    assert short.items_used.min() >= 4 and short.items_used.max() <= 6
    assert np.all((short.se < 0.3) | (short.items_used == 6))


def _scale(x: np.ndarray) -> ScaleCalibration:
    bank = _bank(x.shape[1])
    frame = pd.DataFrame(
        np.where(x >= 0, x + 1, np.nan), columns=[f"i{k}" for k in range(x.shape[1])]
    )
    scale, *_ = calibrate_scale(frame, bank, "f", list(frame.columns), minimum=3.5)
    return scale


def _bank(n_items: int) -> Instrument:
    items = " + ".join(f"i{k}" for k in range(n_items))
    return with_option_scale(load_instrument(f"f =~ {items}"), parse_scale("1-5"))


def test_the_minimum_on_theta_is_where_the_expected_item_mean_meets_it() -> None:
    theta = np.random.default_rng(12).normal(size=3_000)
    scale = _scale(draw(TRUE_A, TRUE_D, theta, seed=13))
    assert scale.theta_minimum is not None and scale.minimum == 3.5
    assert scale.expected_item_mean(np.array([scale.theta_minimum]))[0] == pytest.approx(
        3.5, abs=1e-4
    )
    assert theta_at_item_mean(scale, 0.5) is None  # below anything the model reaches
    # The short form holds the items with the most information there.
    info = {
        p.item: information(p.a, np.array(p.d), np.array([scale.theta_minimum]))[0]
        for p in scale.items
    }
    assert set(scale.short_form) == set(sorted(info, key=info.get)[-4:])


def test_a_calibration_file_round_trips(tmp_path: Path) -> None:
    theta = np.random.default_rng(14).normal(size=1_000)
    scale = _scale(draw(TRUE_A, TRUE_D, theta, seed=15))
    cal = Calibration(
        "bank", "1", None, "x.csv", "0" * 64, "2026-12-03", 1000, 1000, {"f": scale}, ("f",)
    )
    path = save_calibration(cal, tmp_path / "cal.yaml")
    again = load_calibration(path)
    assert again.scales["f"].items == scale.items
    assert again.scales["f"].theta_minimum == scale.theta_minimum
    assert again.to_dict() == cal.to_dict()
    (tmp_path / "bad.yaml").write_text("scales: {}\n")
    with pytest.raises(ValueError, match="not a calibration file"):
        load_calibration(tmp_path / "bad.yaml")


def test_the_command_lines_stop_rule_is_the_engines_default() -> None:
    assert StopRule.parse(DEFAULT_STOP) == StopRule()
    assert StopRule.parse("max=8,se=0.2") == StopRule(se=0.2, min_items=4, max_items=8)
    with pytest.raises(ValueError, match="'max' must be at least 'min' \\(4\\); got 3"):
        StopRule.parse("max=3")
    with pytest.raises(ValueError, match="takes se=NUMBER, min=N and max=N"):
        StopRule.parse("stop=1")
