"""The simulator: same seed same data, realistic properties, and files that read back exactly."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import names
from analysis.ingest import read_export
from analysis.simulate import SIMULATE_FORMATS, Simulated, simulate, write_export
from instrument import Instrument, load_instrument

from .conftest import run_cli


@pytest.fixture(scope="module")
def sim(bank: Instrument) -> Simulated:
    return simulate(bank, 1500, clinicians=30, sessions=3, seed=11)


def test_same_seed_same_data_other_seed_other_data(bank: Instrument) -> None:
    a = simulate(bank, 200, clinicians=8, seed=5)
    b = simulate(bank, 200, clinicians=8, seed=5)
    c = simulate(bank, 200, clinicians=8, seed=6)
    pd.testing.assert_frame_equal(a.data, b.data)
    assert not a.data[list(a.items)].equals(c.data[list(c.items)])


def test_rows_are_patient_sessions_with_context_columns(sim: Simulated, bank: Instrument) -> None:
    data = sim.data
    assert list(data.columns) == [
        *names.CONTEXT_COLUMNS,
        *names.EXTRA_COLUMNS,
        *bank.form("patient-full").items,
    ]
    assert data[names.RESPONDENT_ID].nunique() == 1500
    assert data[names.RESPONSE_ID].is_unique
    per_patient = data.groupby(names.RESPONDENT_ID)[names.SESSION].agg(["min", "max", "count"])
    assert (per_patient["min"] == 1).all() and (per_patient["max"] == per_patient["count"]).all()
    assert per_patient["max"].max() == 3
    # Each patient keeps one clinician; clinicians sit in one site.
    assert (data.groupby(names.RESPONDENT_ID)[names.CLINICIAN_ID].nunique() == 1).all()
    assert (data.groupby(names.CLINICIAN_ID)[names.SITE_ID].nunique() == 1).all()
    assert data[names.CLINICIAN_ID].nunique() == 30
    dates = pd.to_datetime(data[names.DATE])
    later = (
        data.assign(d=dates)
        .groupby(names.RESPONDENT_ID)["d"]
        .apply(lambda d: d.is_monotonic_increasing)
    )
    assert later.all()


def test_answers_are_codes_of_the_scale(sim: Simulated, bank: Instrument) -> None:
    for item_id in sim.items:
        scale = bank.scale_of(item_id)
        assert scale is not None
        values = sim.data[item_id].dropna().unique()
        assert set(values) <= set(map(float, scale.codes))


def test_ceiling_effect_and_missing_answers_are_realistic(sim: Simulated, bank: Instrument) -> None:
    honest = sim.data.loc[~sim.careless.to_numpy(), list(sim.items)]
    forward = [i for i in sim.items if not bank.item(i).reverse]
    top_share = (honest[forward] == 5).sum().sum() / honest[forward].notna().sum().sum()
    assert 0.35 < top_share < 0.6
    missing = sim.data[list(sim.items)].isna().to_numpy().mean()
    assert 0.01 < missing < 0.04
    assert 0.015 < sim.careless.mean() < 0.05


def test_reverse_keyed_items_run_against_their_subscale(sim: Simulated, bank: Instrument) -> None:
    honest = sim.data.loc[~sim.careless.to_numpy()]
    corr = honest[["pb01", "pb06", "pb07"]].corr(method="spearman")
    assert corr.loc["pb01", "pb07"] > 0.3
    assert corr.loc["pb01", "pb06"] < -0.3


def test_pillar_correlations_follow_the_population_model(sim: Simulated) -> None:
    latent = sim.latent.corr()
    assert (
        latent.loc["goals", "tasks"]
        > latent.loc["bond", "goals"]
        > latent.loc["bond", "competence"]
    )
    assert abs(latent.loc["goals", "tasks"] - 0.85) < 0.05


def test_straight_liners_answer_one_value(sim: Simulated) -> None:
    rows = sim.data.loc[sim.careless.to_numpy(), list(sim.items)]
    straight = rows.nunique(axis=1) == 1
    assert straight.mean() > 0.3  # half straight-line (a few answers may then go missing)


def test_dropout_follows_the_weakest_pillar(sim: Simulated) -> None:
    first = sim.data[names.SESSION] == 1
    weakest = sim.latent.loc[first.to_numpy(), ["bond", "goals", "tasks"]].min(axis=1)
    dropped = sim.data.loc[first, names.DROPOUT].to_numpy() == 1
    assert 0.1 < dropped.mean() < 0.45
    assert weakest[dropped].mean() < weakest[~dropped].mean() - 0.2


def test_clinician_effect_shows_in_pillar_means(sim: Simulated) -> None:
    by_clinician = sim.latent.groupby(sim.data[names.CLINICIAN_ID].to_numpy())["bond"].mean()
    assert by_clinician.std() > 0.15  # about sqrt(.08) after sampling noise


def test_bad_arguments_are_named(bank: Instrument) -> None:
    with pytest.raises(ValueError, match="'n' must be an integer >= 1; got 0"):
        simulate(bank, 0)
    with pytest.raises(ValueError, match="'form' must name a form filled in by one rater"):
        simulate(bank, 5, form=None)
    with pytest.raises(ValueError, match="'form' must be one of"):
        simulate(bank, 5, form="nope")


# ---------------------------------------------------------------- files, read back
CARRIED = {
    "csv": [*names.CONTEXT_COLUMNS, *names.EXTRA_COLUMNS],
    "sav": [*names.CONTEXT_COLUMNS, *names.EXTRA_COLUMNS],
    "qualtrics": [
        names.RESPONSE_ID,
        names.RESPONDENT_ID,
        names.CLINICIAN_ID,
        names.SITE_ID,
        names.SESSION,
        names.DATE,
        names.PERSPECTIVE,
        names.DURATION,
    ],
    # REDCap has no response id of its own: a row is a record and a repeat instance.
    "redcap": [
        names.RESPONDENT_ID,
        names.CLINICIAN_ID,
        names.SITE_ID,
        names.SESSION,
        names.DATE,
        names.PERSPECTIVE,
    ],
}
# A QuestionnaireResponse carries what a Qualtrics row does (site and duration in extensions).
CARRIED["fhir"] = CARRIED["qualtrics"]
PLATFORM = {
    "csv": "csv",
    "sav": "spss",
    "qualtrics": "qualtrics",
    "redcap": "redcap",
    "fhir": "fhir",
}


@pytest.mark.parametrize("fmt", SIMULATE_FORMATS)
def test_each_format_reads_back_to_the_same_numbers(
    tmp_path: Path, bank: Instrument, fmt: str
) -> None:
    truth = simulate(bank, 400, clinicians=12, sessions=3, seed=3)
    path = write_export(truth, bank, tmp_path / f"export.{fmt}", fmt)
    back = read_export(path, bank)
    assert back.platform == PLATFORM[fmt]
    assert back.items == truth.items
    expected = truth.data[[*CARRIED[fmt], *truth.items]]
    got = back.data[[*CARRIED[fmt], *truth.items]]
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert np.isnan(got[list(truth.items)].to_numpy()).sum() == (
        expected[list(truth.items)].isna().to_numpy().sum()
    )


def test_qualtrics_export_marks_seen_but_unanswered_as_minus_99(
    tmp_path: Path, bank: Instrument
) -> None:
    truth = simulate(bank, 300, clinicians=5, seed=2)
    path = write_export(truth, bank, tmp_path / "q.csv", "qualtrics")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert raw.iloc[1, 0] == '{"ImportId":"startDate","timeZone":"UTC"}'
    assert raw["bond_1"].iloc[1] == '{"ImportId":"QID1_1"}'
    assert raw.loc[0, "bond_1"].startswith("Thinking of your care")
    answers = raw.iloc[2:][[c for c in raw.columns if c.split("_")[0] in ("bond", "goals")]]
    assert (answers == "-99").to_numpy().sum() > 0
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # Qualtrics writes a BOM


def test_spss_file_keeps_value_labels_and_user_missing(tmp_path: Path, bank: Instrument) -> None:
    import pyreadstat

    truth = simulate(bank, 100, clinicians=5, seed=2)
    path = write_export(truth, bank, tmp_path / "x.sav", "sav")
    raw, meta = pyreadstat.read_sav(str(path), user_missing=True)
    assert meta.variable_value_labels["pb01"][5.0] == "Always"
    assert meta.variable_value_labels["ta01"][1.0] == "Strongly disagree"
    assert meta.column_names_to_labels["pb01"] == bank.item("pb01").text
    assert meta.missing_ranges["pb01"] == [{"lo": -9.0, "hi": -9.0}]
    assert (raw["pb01"] == -9).sum() == truth.data["pb01"].isna().sum()


def test_same_seed_writes_the_same_file(tmp_path: Path) -> None:
    digests = []
    for k in range(2):
        out = tmp_path / f"run{k}.csv"
        result = run_cli(
            "simulate",
            "-n",
            "50",
            "--clinicians",
            "4",
            "--seed",
            "9",
            "--format",
            "qualtrics",
            "-o",
            str(out),
        )
        assert result.returncode == 0, result.stderr
        digests.append(hashlib.sha256(out.read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_cli_simulate_reports_what_it_wrote_and_infers_sav(tmp_path: Path) -> None:
    out = tmp_path / "export.sav"
    result = run_cli("simulate", "-n", "30", "--clinicians", "3", "--sessions", "2", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("wrote ") and "(sav)" in result.stderr
    assert read_export(out, load_instrument()).platform == "spss"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-n", "0", "-o", "x.csv"], "Invalid value for '-n': 0 is not in the range x>=1."),
        (["-n", "5", "-o", "missing-dir/x.csv"], "alliance: error: missing-dir: no such directory"),
        (["-n", "5", "--form", "nope", "-o", "x.csv"], "alliance: error: 'form' must be one of"),
    ],
)
def test_cli_simulate_bad_input_exits_2_without_output(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = run_cli("simulate", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_simulating_a_users_instrument(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "subscales: {a: {construct: x}, b: {construct: x}}\nitems:\n"
        + "".join(
            f'  - {{id: i{k}, subscale: {"ab"[k % 2]}, keying: "+", scale: agreement7}}\n'
            for k in range(6)
        ),
        encoding="utf-8",
    )
    inst = load_instrument(path)
    out = tmp_path / "mine.csv"
    result = run_cli("simulate", "--instrument", str(path), "-n", "40", "-o", str(out))
    assert result.returncode == 0, result.stderr
    back = read_export(out, inst)
    assert back.items == inst.item_ids
    assert back.data[list(inst.item_ids)].max().max() <= 7


def test_monthly_files_go_into_a_folder_made_for_them(tmp_path: Path) -> None:
    """The README's `simulate --per-month -o exports/clinic.csv` works where exports/ is not
    there yet; a single file still needs its folder (a typo is not made into a folder)."""
    out = tmp_path / "exports" / "clinic.csv"
    done = run_cli("simulate", "-n", "60", "--months", "2", "--per-month", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert len(list(out.parent.glob("clinic-*.csv"))) == 2  # one file a month
    single = tmp_path / "missing" / "one.csv"
    done = run_cli("simulate", "-n", "20", "-o", str(single))
    assert done.returncode == 2
    assert "no such directory" in done.stderr
