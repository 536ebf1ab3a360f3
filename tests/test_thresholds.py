"""Thresholds as data: fixed, normative and criterion minimums, each with its provenance."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.scoring import ThresholdError, ThresholdPlan, score_export, youden_cut
from analysis.scoring import load_thresholds as load_for
from analysis.simulate import simulate
from instrument import Instrument, builtin_instrument


def load_thresholds(path: Path) -> ThresholdPlan:
    """A thresholds file for the built-in bank's rule (bond, goals, tasks)."""
    return load_for(path, builtin_instrument().rule_pillars)


@pytest.fixture(scope="module")
def data(bank: Instrument) -> pd.DataFrame:
    return simulate(bank, 1200, form="patient", clinicians=20, seed=21).data


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "thresholds.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_youden_cut_on_a_hand_example() -> None:
    scores = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    bad = np.array([1, 1, 1, 0, 0, 0])
    roc = youden_cut(scores, bad)
    assert (roc["cut"], roc["sensitivity"], roc["specificity"], roc["auc"]) == (4.0, 1.0, 1.0, 1.0)
    mixed = youden_cut(np.array([1.0, 2.0, 2.0, 3.0]), np.array([1, 0, 1, 0]))
    # Good scores 2 and 3 vs bad 1 and 2: good wins 3 of 4 pairs, one tie counts half.
    assert mixed["auc"] == pytest.approx(3.5 / 4)
    with pytest.raises(ValueError, match="needs both good and bad cases"):
        youden_cut(scores, np.zeros(6))


def test_fixed_value_and_pomp(tmp_path: Path, bank: Instrument, data: pd.DataFrame) -> None:
    plan = load_thresholds(
        write(
            tmp_path,
            """
        thresholds:
          bond: {method: fixed, value: 3.0, source: "clinic policy 2026"}
          goals: {method: fixed, pomp: 75}
        """,
        )
    )
    t = {x.pillar: x for x in score_export(data, bank, plan).classification.thresholds}
    assert (t["bond"].value, t["bond"].pomp, t["bond"].provenance) == (
        3.0,
        50.0,
        "clinic policy 2026",
    )
    assert t["goals"].value == 4.0 and t["goals"].provenance == "fixed at 75% of the range"
    assert t["tasks"].value == 3.5 and "PDRQ-9" in t["tasks"].provenance  # default kept


def test_normative_percentile_of_a_reference_scores_file(
    tmp_path: Path, bank: Instrument, data: pd.DataFrame
) -> None:
    reference = simulate(bank, 500, form="patient", seed=99).data
    ref_scores = score_export(reference, bank).table
    ref_scores.to_csv(tmp_path / "reference_scores.csv", index=False)
    plan = load_thresholds(
        write(
            tmp_path,
            """
        thresholds:
          goals: {method: normative, percentile: 20, reference: reference_scores.csv}
        """,
        )
    )
    t = {x.pillar: x for x in score_export(data, bank, plan).classification.thresholds}
    expected = np.percentile(ref_scores["goals"].dropna(), 20)
    assert t["goals"].value == pytest.approx(expected)
    assert t["goals"].details["reference_n"] == ref_scores["goals"].notna().sum()
    assert t["goals"].provenance.startswith("20th percentile of ")


def test_criterion_cut_against_dropout_reports_its_auc(
    tmp_path: Path, bank: Instrument, data: pd.DataFrame
) -> None:
    plan = load_thresholds(
        write(
            tmp_path,
            """
        thresholds:
          goals: {method: criterion, outcome: dropout, bad_value: 1}
        """,
        )
    )
    t = {x.pillar: x for x in score_export(data, bank, plan).classification.thresholds}
    goals = t["goals"]
    first = data[data["session"] == 1]
    result = score_export(data, bank)
    first_scores = result.table.loc[first.index, "goals"].to_numpy()
    direct = youden_cut(first_scores, first["dropout"].to_numpy())
    assert goals.value == direct["cut"]
    assert goals.details["auc"] == pytest.approx(direct["auc"])
    assert goals.details["n"] == first["respondent_id"].nunique() - np.isnan(first_scores).sum()
    # The simulator makes low pillars drive dropout, so the AUC is clearly above chance.
    assert goals.details["auc"] > 0.6
    assert goals.provenance.startswith("Youden-optimal cut against 'dropout' (AUC ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "thresholds:\n  bond: {method: magic}\n",
            "thresholds.yaml: pillar 'bond': Input tag "
            "'magic' found using 'method' does not match any of the expected tags: 'fixed', "
            "'normative', 'criterion'.",
        ),
        (
            "thresholds:\n  bond: {method: normative, reference: r.csv}\n",
            "thresholds.yaml: pillar 'bond', field 'percentile': required field is missing.",
        ),
        (
            "thresholds:\n  bond: {method: fixed, value: 3, pomp: 50}\n",
            "thresholds.yaml: pillar 'bond': give 'value' or 'pomp', not both.",
        ),
        (
            "thresholds:\n  bond: {method: fixed, pomp: 120}\n",
            "thresholds.yaml: pillar 'bond', field 'pomp': "
            "Input should be less than or equal to 100.",
        ),
        (
            "thresholds: {}\nerror_correlation: 1.5\n",
            "thresholds.yaml: field 'error_correlation': Input should be less than 1.",
        ),
    ],
)
def test_bad_threshold_files_say_where(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ThresholdError) as info:
        load_thresholds(write(tmp_path, text))
    assert str(info.value) == message


def test_minimums_must_lie_on_the_scale_and_outcomes_must_exist(
    tmp_path: Path, bank: Instrument, data: pd.DataFrame
) -> None:
    plan = load_thresholds(write(tmp_path, "thresholds:\n  bond: {method: fixed, value: 6}\n"))
    with pytest.raises(ThresholdError, match="pillar 'bond': minimum 6 lies outside the scale 1-5"):
        score_export(data, bank, plan)
    plan = load_thresholds(
        write(tmp_path, "thresholds:\n  bond: {method: criterion, outcome: relapse}\n")
    )
    with pytest.raises(ThresholdError, match="outcome column 'relapse' is not in the export"):
        score_export(data, bank, plan)


def test_a_given_error_correlation_replaces_the_estimate(
    tmp_path: Path, bank: Instrument, data: pd.DataFrame
) -> None:
    plan = load_thresholds(write(tmp_path, "thresholds: {}\nerror_correlation: 0.4\n"))
    result = score_export(data, bank, plan)
    corr = result.classification.error.error_correlation.to_numpy()
    np.testing.assert_allclose(corr[np.triu_indices(3, 1)], 0.4)
    default = score_export(data, bank).classification
    assert not np.allclose(default.error.error_correlation.to_numpy()[0, 1], 0.4)
    # Positively correlated errors: passing one pillar makes passing the others likelier.
    p_given = result.table["p_adequate"].mean()
    assert p_given > default.table["p_adequate"].mean()
