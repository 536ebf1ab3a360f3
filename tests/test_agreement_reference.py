"""Patient-clinician agreement with the patients as clusters, against lme4
(tests/reference/make_agreement_reference.R): the bias and its SE, the SD of a session's
difference, the limits of agreement and ICC(A,1) from models with a random patient effect."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.ruptures import agreement, icc_a1, pair_sessions

HERE = Path(__file__).parent / "reference"
REF = json.loads((HERE / "agreement.json").read_text())
KEYS = ("paired_sessions", "patients")
VALUES = (
    "mean_difference",
    "mean_difference_se",
    "sd_difference",
    "loa_low",
    "loa_high",
    "icc_a1",
)


def _side(name: str) -> pd.DataFrame:
    return pd.read_csv(
        HERE / "data" / f"agreement_{name}.csv",
        dtype={"respondent_id": str, "clinician_id": str},
    )


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    pairs = pair_sessions(_side("patient"), _side("clinician"))
    return agreement(pairs, list(REF["pillars"])).set_index("pillar")


@pytest.mark.parametrize("pillar", ["bond", "goals", "tasks"])
def test_agreement_equals_lme4_with_patients_as_clusters(table: pd.DataFrame, pillar: str) -> None:
    ref = REF["pillars"][pillar]
    row = table.loc[pillar]
    for key in KEYS:
        assert row[key] == ref[key]
    for key in VALUES:
        assert row[key] == pytest.approx(ref[key], abs=1e-4), key


def test_with_one_session_per_patient_it_is_mcgraw_and_wong() -> None:
    """No nesting to model: the ICC is McGraw & Wong's ICC(A,1), the bias's SE the naive
    one and the limits Bland and Altman's."""
    pairs = pair_sessions(_side("patient"), _side("clinician"))
    first = pairs.sort_values("session").drop_duplicates("respondent_id")
    row = agreement(first, ["goals"]).iloc[0]
    x, y = first["goals_patient"].to_numpy(float), first["goals_clinician"].to_numpy(float)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    d = y - x
    assert row["icc_a1"] == pytest.approx(icc_a1(x, y), abs=1e-6)
    assert row["sd_difference"] == pytest.approx(np.std(d, ddof=1), rel=1e-6)
    assert row["mean_difference_se"] == pytest.approx(np.std(d, ddof=1) / np.sqrt(len(d)), rel=1e-6)


def test_repeated_sessions_widen_the_bias_interval_past_the_naive_one(table: pd.DataFrame) -> None:
    """Sessions of one patient agree with each other more than with another patient's: the
    clustered SE of the bias is wider than the SE that counts every session as a patient."""
    for pillar, row in table.iterrows():
        naive = row["sd_difference"] / np.sqrt(row["paired_sessions"])
        assert row["mean_difference_se"] > naive, pillar


def test_fewer_than_three_patients_leave_the_model_numbers_empty() -> None:
    pairs = pair_sessions(_side("patient"), _side("clinician"))
    two = pairs[pairs["respondent_id"].isin(pairs["respondent_id"].unique()[:2])]
    row = agreement(two, ["bond"]).iloc[0]
    assert row["patients"] == 2
    assert np.isnan(row["icc_a1"]) and np.isnan(row["loa_low"])
    assert row["mean_difference"] == pytest.approx(
        float((two["bond_clinician"] - two["bond_patient"]).mean())
    )
