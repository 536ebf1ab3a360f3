"""Scoring and the non-compensatory rule: hand-computed cases, invariants, Monte Carlo checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from scipy.stats import f as f_dist
from scipy.stats import multivariate_normal, norm

from analysis.reliability import cronbach_alpha
from analysis.scoring import (
    MeasurementError,
    Threshold,
    classify,
    items_needed,
    score_export,
    score_items,
)
from analysis.scoring.mvn import bivariate_cdf, orthant
from analysis.scoring.rule import _profile_keys, p_adequate
from analysis.simulate import simulate
from analysis.validity import item_reliability
from instrument import Instrument, load_instrument


def respond(bank: Instrument, **keyed: float | None) -> dict[str, float]:
    """One patient-form response whose items all sit at a keyed level per pillar (None: blank)."""
    row: dict[str, float] = {}
    for item_id in bank.form("patient").items:
        item = bank.item(item_id)
        level = keyed.get(item.subscale, 4)
        row[item_id] = np.nan if level is None else (6 - level if item.reverse else level)
    return row


def frame(*rows: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


# A sample around the hand cases so that reliabilities exist.
@pytest.fixture(scope="module")
def sample(bank: Instrument) -> pd.DataFrame:
    sim = simulate(bank, 400, form="patient", clinicians=10, seed=8)
    return sim.data[list(bank.form("patient").items)].reset_index(drop=True)


def scored(bank: Instrument, sample: pd.DataFrame, *rows: dict[str, float]) -> pd.DataFrame:
    data = pd.concat([frame(*rows), sample], ignore_index=True)
    return score_export(data, bank).table.iloc[: len(rows)]


def test_high_bond_does_not_make_up_for_goal_disagreement(
    bank: Instrument, sample: pd.DataFrame
) -> None:
    row = scored(bank, sample, respond(bank, bond=5, goals=2, tasks=5)).iloc[0]
    assert (row["bond"], row["goals"], row["tasks"]) == (5.0, 2.0, 5.0)
    assert row["alliance_status"] == "inadequate"
    assert row["weakest_pillar"] == "goals"
    assert row["margin"] == pytest.approx(-1.5)
    assert bool(row["bond_pass"]) and not bool(row["goals_pass"]) and bool(row["tasks_pass"])
    assert row["compensatory_total"] == pytest.approx(4.0)  # a compensatory rule says adequate
    assert bool(row["compensatory_adequate"]) and bool(row["masked_rupture"])
    assert row["p_adequate"] < 0.01


def test_a_score_exactly_at_the_minimum_passes(bank: Instrument, sample: pd.DataFrame) -> None:
    # Four items at 3 and four at 4 give exactly 3.5 on every pillar.
    row = {}
    for k, item_id in enumerate(bank.form("patient").items):
        level = 3 if k % 2 == 0 else 4
        row[item_id] = 6 - level if bank.item(item_id).reverse else level
    out = scored(bank, sample, row).iloc[0]
    assert (out["bond"], out["goals"], out["tasks"]) == (3.5, 3.5, 3.5)
    assert out["alliance_status"] == "adequate"
    assert out["margin"] == 0.0
    # Exactly at the minimum with measurement error: about half the true-score mass clears
    # each pillar, so well under one half clears all three.
    assert 0.1 < out["p_adequate"] < 0.5


def test_prorating_allows_two_of_eight_missing_but_not_three(bank: Instrument) -> None:
    base = respond(bank, bond=5, goals=4, tasks=3)
    bond_items = bank.subscale_items("patient")["bond"]
    two_missing = {**base, **dict.fromkeys(bond_items[:2], np.nan)}
    three_missing = {**base, **dict.fromkeys(bond_items[:3], np.nan)}
    scores = score_items(frame(two_missing, three_missing), bank)
    assert scores.scores.loc[0, "bond"] == 5.0
    assert np.isnan(scores.scores.loc[1, "bond"])
    assert scores.notes[1] == "bond: 5 of 8 items answered (6 needed)"
    assert scores.answered.loc[1, "bond"] == 5
    assert items_needed(4, 0.25) == 3 and items_needed(8, 0.25) == 6 and items_needed(5, 0.25) == 4


def test_a_pillar_that_cannot_be_scored_gives_insufficient_data(
    bank: Instrument, sample: pd.DataFrame
) -> None:
    row = scored(bank, sample, respond(bank, bond=5, goals=None, tasks=5)).iloc[0]
    assert row["alliance_status"] == "insufficient_data"
    assert pd.isna(row["goals_pass"]) and bool(row["bond_pass"])
    assert pd.isna(row["weakest_pillar"]) and np.isnan(row["margin"])
    assert np.isnan(row["p_adequate"]) and pd.isna(row["masked_rupture"])
    assert row["scoring_notes"] == "goals: 0 of 8 items answered (6 needed)"


def test_reverse_keyed_items_are_reversed(bank: Instrument) -> None:
    row = {item_id: 5.0 for item_id in bank.form("patient").items}  # raw 5 everywhere
    scores = score_items(frame(row), bank)
    # bond has 7 forward items at 5 and pb06 ("I hold back ...") at 5, which scores as 1.
    assert scores.scores.loc[0, "bond"] == pytest.approx((7 * 5 + 1) / 8)
    assert scores.pomp.loc[0, "bond"] == pytest.approx(((7 * 5 + 1) / 8 - 1) / 4 * 100)


def test_answers_off_the_scale_are_not_scored_and_are_named(bank: Instrument) -> None:
    row = {**respond(bank), "pb01": 9.0, "pg02": 3.5}
    scores = score_items(frame(row), bank)
    assert scores.scores.loc[0, "bond"] == 4.0 and scores.answered.loc[0, "bond"] == 7
    assert scores.notes[0] == "not on the scale, not scored: pb01=9, pg02=3.5"


def test_column_order_does_not_change_scores(bank: Instrument, sample: pd.DataFrame) -> None:
    a = score_export(sample, bank).table
    shuffled = sample[list(np.random.default_rng(1).permutation(sample.columns))]
    b = score_export(shuffled, bank).table
    pd.testing.assert_frame_equal(a, b)


def test_scoring_chosen_rows_is_scoring_their_copy(bank: Instrument) -> None:
    # `alliance score` scores the usable rows in place (no copy of the export); what it gives
    # must be what scoring a copy of those rows gives, to the last bit, context included.
    sim = simulate(bank, 300, form="patient", clinicians=6, seed=12)
    data = sim.data.reset_index(drop=True)
    data.loc[3, "pb01"] = 9.0  # off the scale: a note on the row
    data.loc[5, list(bank.form("patient").items)[:6]] = np.nan  # too few answers
    rows = np.random.default_rng(4).random(len(data)) < 0.7
    rows[[3, 5]] = True
    copied = score_export(data[rows].reset_index(drop=True), bank)
    in_place = score_export(data, bank, rows=rows)
    pd.testing.assert_frame_equal(in_place.table, copied.table)
    assert in_place.classification.to_dict() == copied.classification.to_dict()
    assert in_place.scores.alpha == copied.scores.alpha
    assert "respondent_id" in in_place.table and len(in_place.table) == rows.sum()


def test_scoring_more_rows_than_a_block_is_scoring_each_row(bank: Instrument) -> None:
    # score_items works a block of 32,768 rows at a time, two blocks at once. Off-scale and
    # short rows sit at the blocks' edges, and a mask moves them off their places.
    data = simulate(bank, 30_000, form="patient", clinicians=40, seed=2).data
    data = data.reset_index(drop=True)
    assert len(data) > 2 * 32_768
    items = list(bank.form("patient").items)
    rows = np.random.default_rng(5).random(len(data)) < 0.9
    at = [32_767, 32_768, 65_535, int(rows.sum()) - 1]  # blocks count the rows scored
    edges = np.flatnonzero(rows)[at]  # the same rows in the export
    data.loc[edges[0], "pb01"] = 9.0
    data.loc[edges[1], "pg03"] = 0.0
    data.loc[edges[2], items[:6]] = np.nan  # 2 of 8 bond items left
    scores = score_items(data, bank, rows=rows)
    kept = data[rows].reset_index(drop=True)
    for subscale, ids in bank.subscale_items("patient").items():
        keyed = kept[ids].where((kept[ids] >= 1) & (kept[ids] <= 5))
        for item_id in ids:
            if bank.item(item_id).reverse:
                keyed[item_id] = 6 - keyed[item_id]
        count = keyed.notna().sum(axis=1)
        expected = keyed.mean(axis=1).where(count >= items_needed(len(ids), 0.25))
        np.testing.assert_allclose(scores.scores[subscale], expected, rtol=1e-13)
        assert (scores.answered[subscale] == count).all()
        assert scores.alpha[subscale] == pytest.approx(cronbach_alpha(keyed.to_numpy()), abs=1e-12)
    assert scores.notes[at[0]].startswith("not on the scale, not scored: pb01=9")
    assert scores.notes[at[1]].startswith("not on the scale, not scored: pg03=0")
    assert scores.notes[at[2]] == "bond: 2 of 8 items answered (6 needed)"
    assert np.isnan(scores.scores.loc[at[2], "bond"]) and scores.notes[at[3]] == ""


def test_scores_say_which_form_and_rater(bank: Instrument, sample: pd.DataFrame) -> None:
    scores = score_items(sample, bank)
    assert (scores.form, scores.perspective) == ("patient", "patient")
    short = score_items(sample[list(bank.form("patient-short").items)], bank)
    assert short.form == "patient-short"
    assert short.items["bond"] == ("pb01", "pb03", "pb04", "pb07")
    clin = {**{i: 4.0 for i in bank.form("clinician").items}}
    assert score_items(frame(clin), bank).perspective == "clinician"
    with pytest.raises(ValueError, match="both patient- and clinician-rated items"):
        score_items(frame({**clin, "pb01": 4.0}), bank)


def test_seven_point_scales_carry_the_default_minimum_as_a_share_of_the_range(
    tmp_path: Path,
) -> None:
    lines = ["rule: {pillars: [bond, goals, tasks]}", "subscales:"]
    lines += [f"  {p}: {{construct: alliance}}" for p in ("bond", "goals", "tasks")]
    lines.append("items:")
    for p in ("bond", "goals", "tasks"):
        lines += [
            f'  - {{id: {p}{k}, subscale: {p}, keying: "+", scale: agreement7}}' for k in range(4)
        ]
    path = tmp_path / "seven.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    inst = load_instrument(path)
    rng = np.random.default_rng(3)
    data = pd.DataFrame(rng.integers(3, 8, size=(60, 12)).astype(float), columns=inst.item_ids)
    result = score_export(data, inst)
    minimums = {t.pillar: t for t in result.classification.thresholds}
    assert minimums["goals"].value == pytest.approx(1 + 0.625 * 6)  # 4.75
    assert minimums["goals"].pomp == pytest.approx(62.5)
    assert "PDRQ-9" in minimums["goals"].provenance


def test_alpha_matches_pingouin(sample: pd.DataFrame, bank: Instrument) -> None:
    scores = score_items(sample, bank)
    for subscale, ids in bank.subscale_items("patient").items():
        keyed = sample[ids].copy()
        for item_id in ids:
            if bank.item(item_id).reverse:
                keyed[item_id] = 6 - keyed[item_id]
        listwise, _ = pg.cronbach_alpha(keyed.dropna())
        got = cronbach_alpha(keyed.to_numpy(), missing="listwise")
        assert got == pytest.approx(listwise, abs=1e-12), subscale
        pairwise, interval = pg.cronbach_alpha(keyed)  # pingouin's default, as psych::alpha's
        assert cronbach_alpha(keyed.to_numpy()) == pytest.approx(pairwise, abs=1e-12), subscale
        # The rule's measurement error uses the alpha the reliability table shows.
        assert scores.alpha[subscale] == pytest.approx(pairwise, abs=1e-12)
        table = item_reliability(keyed)
        assert table.alpha == pytest.approx(pairwise, abs=1e-12)
        assert table.alpha_missing == "pairwise"
        # Feldt's interval, computed without pingouin (which rounds it to three decimals)
        assert table.alpha_ci == pytest.approx(tuple(interval), abs=5e-4)
        n, k = len(keyed), keyed.shape[1]
        low = 1 - (1 - table.alpha) * f_dist.ppf(0.975, n - 1, (n - 1) * (k - 1))
        assert table.alpha_ci[0] == pytest.approx(low, abs=1e-12)


def test_alpha_of_duplicated_items_is_one() -> None:
    x = np.random.default_rng(2).normal(size=(50, 1))
    assert cronbach_alpha(np.hstack([x, x, x])) == pytest.approx(1.0)


# ---------------------------------------------------------------- p_adequate
def error_model(sem: list[float], corr: float) -> MeasurementError:
    pillars = ["bond", "goals", "tasks"]
    r = np.full((3, 3), corr)
    np.fill_diagonal(r, 1.0)
    return MeasurementError(
        reliability=pd.Series(0.85, index=pillars),
        sd=pd.Series(1.0, index=pillars),
        sem=pd.Series(sem, index=pillars),
        error_correlation=pd.DataFrame(r, index=pillars, columns=pillars),
    )


@pytest.mark.parametrize("levels", [17, None])  # few distinct scores, and all different
def test_score_profiles_are_found_whole(levels: int | None) -> None:
    # p_adequate integrates once per distinct profile of pillar scores: counted when the
    # profiles are few, sorted when they are not. Either way each row gets its own profile.
    rng = np.random.default_rng(6)
    values = rng.normal(size=(5_000, 3))
    if levels is not None:
        values = np.round(values * levels / 6) / levels
    distinct, inverse = _profile_keys(values)
    np.testing.assert_array_equal(distinct[inverse], values)
    assert len(np.unique(distinct, axis=0)) == len(distinct)
    assert len(distinct) < 3_000 if levels is not None else len(distinct) == 5_000


@pytest.mark.parametrize("corr", [0.0, 0.4, 0.8])
def test_p_adequate_agrees_with_brute_force_monte_carlo(corr: float) -> None:
    rng = np.random.default_rng(0)
    error = error_model([0.3, 0.25, 0.35], corr)
    observed = np.array([[3.8, 3.6, 3.9], [3.5, 4.5, 3.2], [4.8, 4.9, 4.7], [3.3, 3.1, 3.6]])
    minimums = np.array([3.5, 3.5, 3.5])
    got = p_adequate(observed, minimums, error)
    cov = np.outer(error.sem, error.sem) * error.error_correlation.to_numpy()
    for row, p in zip(observed, got, strict=True):
        draws = rng.multivariate_normal(row, cov, size=400_000)
        brute = (draws >= minimums).all(axis=1).mean()
        assert p == pytest.approx(brute, abs=0.01)


def test_correlated_errors_are_not_an_independence_product() -> None:
    observed = np.array([[3.7, 3.7, 3.7]])
    minimums = np.array([3.5, 3.5, 3.5])
    independent = p_adequate(observed, minimums, error_model([0.3] * 3, 0.0))[0]
    correlated = p_adequate(observed, minimums, error_model([0.3] * 3, 0.6))[0]
    single = multivariate_normal.cdf(0.2 / 0.3)
    assert independent == pytest.approx(single**3, abs=2e-4)
    assert correlated > independent + 0.05  # errors that move together fail together


def test_orthant_probabilities_match_scipy_genz() -> None:
    rng = np.random.default_rng(4)
    corr = np.array([[1, 0.3, 0.5], [0.3, 1, 0.6], [0.5, 0.6, 1]])
    d = rng.normal(size=(60, 3)) * 1.5
    d[0] = [0, 0, 0]
    expected = np.array([multivariate_normal(cov=corr).cdf(x) for x in d])
    np.testing.assert_allclose(orthant(d, corr), expected, atol=2e-5)  # Genz's own tolerance
    two = np.array([multivariate_normal(cov=corr[:2, :2]).cdf(x) for x in d[:, :2]])
    np.testing.assert_allclose(orthant(d[:, :2], corr[:2, :2]), two, atol=1e-10)
    assert orthant(np.array([[np.nan, 0, 0]]), corr)[0] != orthant(np.zeros((1, 3)), corr)[0]


@pytest.mark.parametrize("k", [2, 3])
def test_many_orthant_points_split_over_two_threads_give_each_points_own_value(k: int) -> None:
    corr = np.array([[1, 0.3, 0.5], [0.3, 1, 0.6], [0.5, 0.6, 1]])[:k, :k]
    d = np.random.default_rng(8).normal(size=(20_001, k))
    many = orthant(d, corr)
    sample = np.arange(0, len(d), 997)
    alone = np.array([orthant(d[[i]], corr)[0] for i in sample])
    # Equal but for the last bits of the quadrature's sum, whose order BLAS picks by size.
    np.testing.assert_allclose(many[sample], alone, rtol=0, atol=1e-15)
    np.testing.assert_allclose(many[-3:], orthant(d[-3:], corr), rtol=0, atol=1e-15)


def test_orthant_in_five_dimensions() -> None:
    """Five pillars: independent errors give the product of the normal CDFs; correlated ones
    agree with the trivariate formula when two of the five are far past their minimum."""
    d = np.random.default_rng(6).normal(size=(30, 5))
    np.testing.assert_allclose(orthant(d, np.eye(5)), np.prod(norm.cdf(d), axis=1), atol=2e-5)
    corr = np.full((5, 5), 0.4)
    np.fill_diagonal(corr, 1.0)
    far = np.hstack([d[:, :3], np.full((30, 2), 9.0)])
    np.testing.assert_allclose(orthant(far, corr), orthant(d[:, :3], corr[:3, :3]), atol=2e-5)


@pytest.mark.parametrize("r", [-0.45, 0.9, 0.95])
def test_orthant_stays_accurate_at_strong_correlations(r: float) -> None:
    corr = np.full((3, 3), r)
    np.fill_diagonal(corr, 1.0)
    d = np.random.default_rng(5).normal(size=(25, 3))
    expected = np.array(
        [
            multivariate_normal.cdf(x, cov=corr, abseps=1e-8, releps=1e-8, maxpts=2_000_000)
            for x in d
        ]
    )
    np.testing.assert_allclose(orthant(d, corr), expected, atol=2e-5)


def test_bivariate_limits_and_symmetry() -> None:
    assert bivariate_cdf(np.array([0.0]), np.array([0.0]), 0.5)[0] == pytest.approx(
        0.25 + np.arcsin(0.5) / (2 * np.pi), abs=1e-9
    )
    assert bivariate_cdf(np.array([np.inf]), np.array([0.3]), 0.4)[0] == pytest.approx(
        multivariate_normal.cdf(0.3)
    )
    assert bivariate_cdf(np.array([-np.inf]), np.array([0.3]), 0.4)[0] == 0.0
    h, k = np.array([0.7, -1.2]), np.array([-0.4, 2.0])
    np.testing.assert_allclose(bivariate_cdf(h, k, -0.3), bivariate_cdf(k, h, -0.3))


# ---------------------------------------------------------------- the sample summary
def test_summary_counts_and_sensitivity(bank: Instrument, sample: pd.DataFrame) -> None:
    result = score_export(sample, bank)
    c = result.classification
    table = result.table
    assert (
        c.counts
        == table["alliance_status"]
        .value_counts()
        .reindex(["adequate", "inadequate", "insufficient_data"], fill_value=0)
        .to_dict()
    )
    assert c.masked_ruptures == int(table["masked_rupture"].fillna(False).sum())
    for pillar in ("bond", "goals", "tasks"):
        assert c.fails_by_pillar[pillar] == int((~table[f"{pillar}_pass"].fillna(True)).sum())
    sens = c.sensitivity
    assert list(sens["shift_pomp"]) == [-12.5, -6.25, 0.0, 6.25, 12.5]
    assert sens["adequate"].is_monotonic_decreasing
    assert sens.loc[2, "adequate"] == c.counts["adequate"]
    assert sens.loc[0, "minimums"] == [3.0, 3.0, 3.0]
    assert 0.5 <= c.accuracy <= 1.0 and 0.5 <= c.consistency <= 1.0


def test_classify_uses_each_pillars_own_minimum(bank: Instrument, sample: pd.DataFrame) -> None:
    scores = score_items(frame(respond(bank, bond=3, goals=4, tasks=4)), bank)
    custom = (
        Threshold("bond", 2.5, 37.5, "fixed", "test"),
        Threshold("goals", 4.5, 87.5, "fixed", "test"),
        Threshold("tasks", 3.5, 62.5, "fixed", "test"),
    )
    out = classify(scores, custom, error_model([0.3] * 3, 0.0)).table.iloc[0]
    assert out["alliance_status"] == "inadequate" and out["weakest_pillar"] == "goals"
    assert out["margin"] == pytest.approx(-0.5)
