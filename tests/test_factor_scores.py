"""Factor scores (lavaan's lavPredict) held to R, and `alliance score --factor-scores` as a
user runs it: regression and Bartlett scores with their SEs, FIML scores for incomplete rows,
EAP scores of an ordinal model, the reliability of the scores, keyed by the export's ids and
without its identifiers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.cfa import ModelError, fit_cfa
from analysis.cfa.scores import factor_scores
from analysis.pipeline import Options, read_checked
from analysis.pipeline import factor_scores as export_factor_scores
from analysis.simulate import simulate
from instrument import Instrument

from .conftest import run_cli

HERE = Path(__file__).parent / "reference"
REF = json.loads((HERE / "factor_scores.json").read_text())
TOL = 1e-4  # scores and SEs are on the factors' metric (SD about 1)


def _matrix(rows: list[list[Any]]) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=float)


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(HERE / "data" / name)


CASES = {
    "hs": ("hs.csv", {}),
    "hs_school": ("hs.csv", {"group": "school"}),
    "hs_mar": ("hs_mar.csv", {"missing": "fiml"}),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("method", ["regression", "bartlett"])
def test_scores_and_their_standard_errors_equal_lavpredict(case: str, method: str) -> None:
    file, kwargs = CASES[case]
    data = _data(file)
    ref = REF[case][method]
    fit = fit_cfa(data, REF[case]["model"], **kwargs)
    scores = factor_scores(fit, data, method)
    factors = ref["factors"]
    ours = scores.table[[f + "_fs" for f in factors]].to_numpy()
    se = scores.table[[f + "_fs_se" for f in factors]].to_numpy()
    np.testing.assert_allclose(ours, _matrix(ref["scores"]), atol=TOL)
    np.testing.assert_allclose(se, _matrix(ref["se"]), atol=TOL)
    for f in factors:
        assert scores.reliability[f] == pytest.approx(ref["reliability"][f], abs=TOL)
    assert scores.scored == len(data) and scores.unscored == 0


def test_eap_scores_of_an_ordinal_model_equal_a_fine_grid_in_r() -> None:
    ref = REF["bfi_eap"]
    data = _data("bfi.csv")
    fit = fit_cfa(data, ref["model"], estimator="wlsmv", missing="pairwise")
    scores = factor_scores(fit, data)  # 'auto': EAP under WLSMV
    assert scores.method == "eap"
    ours = scores.table[[f + "_fs" for f in ref["factors"]]].to_numpy()
    se = scores.table[[f + "_fs_se" for f in ref["factors"]]].to_numpy()
    np.testing.assert_allclose(ours, _matrix(ref["scores"]), atol=TOL)
    np.testing.assert_allclose(se, _matrix(ref["se"]), atol=TOL)
    assert scores.scored == ref["rows_scored"]
    for f in ref["factors"]:
        assert scores.reliability[f] == pytest.approx(ref["reliability"][f], abs=TOL)


def test_a_listwise_fit_scores_only_the_complete_rows() -> None:
    data = _data("hs_mar.csv")
    fit = fit_cfa(data, REF["hs_mar"]["model"], missing="listwise")
    scores = factor_scores(fit, data, "regression")
    complete = data[[f"x{k}" for k in range(1, 10)]].notna().all(axis=1).to_numpy()
    assert scores.unscored == int((~complete).sum()) > 0
    assert scores.table[~complete].isna().all().all()
    assert scores.table[complete].notna().all().all()
    assert "complete rows only" in scores.lines()[0]


def test_a_factor_with_no_answer_is_predicted_by_regression_and_left_empty_by_bartlett() -> None:
    data = _data("hs.csv")
    fit = fit_cfa(data, REF["hs"]["model"], missing="fiml")
    blank = data.copy()
    blank.loc[0, ["x1", "x2", "x3"]] = np.nan  # no visual item answered
    regression = factor_scores(fit, blank, "regression").table
    bartlett = factor_scores(fit, blank, "bartlett").table.iloc[0]
    psi = fit.estimates.query("lhs == 'visual' and op == '~~' and rhs == 'visual'")["est"]
    # from the correlated factors only: less sure than from its own items, surer than nothing
    assert np.isfinite(regression.loc[0, "visual_fs"])
    assert regression.loc[1, "visual_fs_se"] < regression.loc[0, "visual_fs_se"]
    assert regression.loc[0, "visual_fs_se"] < float(np.sqrt(psi.iloc[0]))
    assert np.isnan(bartlett["visual_fs"])
    assert np.isfinite(bartlett["textual_fs"])


@pytest.mark.parametrize(
    ("estimator", "method", "message"),
    [
        ("ml", "eap", "EAP scores are for ordinal items"),
        ("wlsmv", "regression", "regression scores are for continuous items"),
        ("ml", "modal", "'method' must be one of"),
    ],
)
def test_a_method_that_does_not_fit_the_model_is_refused(
    estimator: str, method: str, message: str
) -> None:
    data = _data("bfi.csv").dropna()
    fit = fit_cfa(data, REF["bfi_eap"]["model"], estimator=estimator)
    with pytest.raises((ModelError, ValueError), match=message):
        factor_scores(fit, data, method)


@pytest.fixture(scope="module")
def identified_export(tmp_path_factory: pytest.TempPathFactory, bank: Instrument) -> Path:
    """A clinic export with repeated sessions, missing answers, and the names, e-mails and
    phone numbers a real one carries."""
    sim = simulate(bank, 160, clinicians=6, sessions=3, seed=44)
    data = sim.data.copy()
    rng = np.random.default_rng(3)
    items = [c for c in data.columns if c in bank.item_ids]
    holes = rng.random((len(data), len(items))) < 0.04
    data[items] = data[items].mask(holes)
    data.insert(1, "patient_name", [f"Robin Quayle{k}" for k in range(len(data))])
    data.insert(2, "email", [f"robin{k}@example.org" for k in range(len(data))])
    data.insert(3, "phone", [f"(415) 555-{1000 + k:04d}" for k in range(len(data))])
    path = tmp_path_factory.mktemp("fs") / "export.csv"
    data.to_csv(path, index=False)
    return path


def test_score_writes_factor_scores_keyed_by_the_export_ids_and_no_identifier(
    identified_export: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scores.csv"
    done = run_cli("score", str(identified_export), "--factor-scores", "-o", str(out), "--json")
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out)
    for column in ("row_in_export", "response_id", "respondent_id"):
        assert column in table.columns
    for pillar in ("bond", "goals", "tasks"):
        assert table[f"{pillar}_fs"].notna().all()  # FIML: every row, from what it answered
        assert (table[f"{pillar}_fs_se"] > 0).all()
    text = out.read_text() + done.stdout + done.stderr
    for word in ("Quayle", "example.org", "555-"):
        assert word not in text  # no name, e-mail or phone anywhere
    doc = json.loads(done.stdout)["factor_scores"]
    assert doc["method"] == "regression" and doc["missing"] == "fiml"
    assert doc["rows_scored"] == len(table) and doc["respondents_with_several_rows"] > 0
    assert all(0.5 < doc["reliability"][p] < 1 for p in ("bond", "goals", "tasks"))
    # the library gives the same numbers as the command line, from the same defaults
    read = read_checked(identified_export, Options())
    run = export_factor_scores(read, Options())
    np.testing.assert_allclose(
        run.scores.table["goals_fs"].to_numpy(), table["goals_fs"].to_numpy(), atol=1e-9
    )
    lines = run.lines()
    assert lines[0].startswith("factor scores, regression") and "each from the items" in lines[0]
    assert "several rows (sessions), each scored on its own" in lines[1]


def test_score_gives_eap_scores_under_wlsmv_and_refuses_a_mismatch_in_one_line(
    identified_export: Path, tmp_path: Path
) -> None:
    out = tmp_path / "eap.csv"
    done = run_cli(
        "score", str(identified_export), "--factor-scores", "--estimator", "wlsmv", "-o", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert "EAP (adaptive quadrature" in done.stderr
    assert pd.read_csv(out)["tasks_fs"].notna().all()
    bad = run_cli("score", str(identified_export), "--factor-scores", "eap", "-o", str(out))
    assert bad.returncode == 2
    assert (
        bad.stderr.strip()
        .splitlines()[-1]
        .startswith("alliance: error: EAP scores are for ordinal items")
    )
