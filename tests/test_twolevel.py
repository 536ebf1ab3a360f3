"""Two-level CFA against lavaan 0.6 and semTools (tests/reference/make_twolevel_reference.R):
lavaan's Demo.twolevel (a shared and a configural between structure) and a simulated clinic
export (sessions within patients, the pillars at both levels)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cfa import ModelError
from analysis.cfa.matrices import Representation
from analysis.cfa.twolevel import fit_twolevel, split_levels
from analysis.cfa.twolevel.likelihood import TwoLevelML
from analysis.cfa.twolevel.missing import TwoLevelFIML, cluster_rows
from analysis.cfa.twolevel.moments import cluster_moments
from analysis.cfa.twolevel.tables import model_table

from .conftest import run_cli

HERE = Path(__file__).parent / "reference"
REF = json.loads((HERE / "twolevel.json").read_text())
DEMO = pd.read_csv(HERE / "data" / "demo_twolevel.csv")
CLINIC = pd.read_csv(HERE / "data" / "clinic.csv")

MCAR = pd.read_csv(HERE / "data" / "demo_twolevel_mcar.csv")

# name: (data, cluster, reference, missing); the clinic's complete-row references are lavaan's
# on the complete rows, its FIML one on every row
CASES = {
    "demo-shared": (DEMO, "cluster", REF["demo"]["shared"], "fiml"),
    "demo-config": (DEMO, "cluster", REF["demo"]["config"], "fiml"),
    "demo-shared-fiml": (MCAR, "cluster", REF["demo"]["shared_fiml"], "fiml"),
    "clinic-config": (CLINIC, "respondent_id", REF["clinic"]["config"], "listwise"),
    "clinic-shared": (CLINIC, "respondent_id", REF["clinic"]["shared"], "listwise"),
}
FIT_KEYS = ("cfi", "tli", "rmsea", "srmr", "srmr_within", "srmr_between")


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> tuple:
    data, cluster, ref, missing = CASES[request.param]
    return fit_twolevel(data, ref["model"], cluster, missing), ref


def test_fit_measures_equal_lavaan(case: tuple) -> None:
    result, ref = case
    fit = ref["fit"]
    for key in ("npar", "ntotal", "df", "baseline.df"):
        assert result.fit[key.replace(".", "_")] == fit[key]
    # Under FIML lavaan fits the unrestricted model by nlminb to rel.tol 1e-7 (on complete rows
    # by EM, which this repeats exactly): the statistics against it agree within 1e-4.
    tolerance = 1e-4 if result.incomplete else 1e-6
    for key in ("chisq", "baseline.chisq", "logl", "unrestricted.logl", "aic", "bic"):
        ours = key.replace(".", "_").replace("logl", "loglik")
        assert result.fit[ours] == pytest.approx(fit[key], rel=tolerance), key
    for key in FIT_KEYS:
        assert result.fit[key] == pytest.approx(fit[key], abs=1e-3), key
    assert result.clusters == ref["clusters"]


def test_estimates_and_standardized_per_level_equal_lavaan(case: tuple) -> None:
    result, ref = case
    theirs = pd.DataFrame(ref["estimates"])
    both = result.estimates.merge(theirs, on=["lhs", "op", "rhs", "level"], suffixes=("", "_r"))
    # lavaan lists the within intercepts and latent means, fixed at 0, which this table omits
    assert len(both) == len(result.estimates)
    assert set(both["level"]) == {1, 2}
    for column in ("est", "se", "std_all"):
        ours, ref_values = both[column].to_numpy(), both[f"{column}_r"].to_numpy()
        if column == "se":  # a fixed parameter: no SE here, 0 in lavaan's table
            ours = np.nan_to_num(ours)
        assert np.allclose(ours, ref_values, atol=1e-3, equal_nan=True), column


def test_icc_of_every_item_equals_lavaan(case: tuple) -> None:
    result, ref = case
    # the unrestricted model under FIML is an optimiser's, lavaan's stopping at rel.tol 1e-7
    assert result.icc.to_dict() == pytest.approx(
        ref["icc"], abs=1e-3 if result.incomplete else 1e-6
    )


def test_reliability_per_level_equals_compRelSEM(case: tuple) -> None:
    result, ref = case
    table = result.reliability.set_index("factor")
    for factor, values in ref["reliability"].items():
        for key, value in values.items():
            assert table.loc[factor, key] == pytest.approx(value, abs=1e-3), (factor, key)


def test_gradient_is_the_derivative_of_the_likelihood() -> None:
    table = model_table(REF["demo"]["shared"]["model"])
    codes = pd.factorize(DEMO["cluster"])[0]
    stats = cluster_moments(DEMO[list(table.observed)].to_numpy(float), codes)
    objective = TwoLevelML(Representation.of(table), stats)
    rng = np.random.default_rng(3)
    theta = np.abs(rng.normal(0.6, 0.1, objective.rep.n_free))
    numeric = np.empty_like(theta)
    for k in range(len(theta)):
        step = np.zeros_like(theta)
        step[k] = 1e-6
        numeric[k] = (objective.value(theta + step) - objective.value(theta - step)) / 2e-6
    assert np.allclose(objective.gradient(theta), numeric, atol=1e-6)


def test_fiml_on_a_clinic_export_equals_lavaan_and_its_unrestricted_model_nears_the_top() -> None:
    """Every row of the clinic export, missing answers by two-level FIML: the model's
    likelihood, estimates, SEs and standardized solution are lavaan's. lavaan's optimiser stops
    its unrestricted model 2.5 log-likelihood units short of the maximum here (its chi-square
    518.7); ours climbs past it, so its chi-square is the nearer one."""
    ref = REF["clinic"]["shared_fiml"]
    result = fit_twolevel(CLINIC, ref["model"], "respondent_id")
    assert result.incomplete > 0 and result.n == ref["fit"]["ntotal"]
    assert result.fit["loglik"] == pytest.approx(ref["fit"]["logl"], rel=1e-8)
    both = result.estimates.merge(
        pd.DataFrame(ref["estimates"]), on=["lhs", "op", "rhs", "level"], suffixes=("", "_r")
    )
    for column in ("est", "se", "std_all"):
        assert np.allclose(np.nan_to_num(both[column]), both[f"{column}_r"], atol=1e-3), column
    assert result.fit["unrestricted_loglik"] > ref["fit"]["unrestricted.logl"] + 2
    assert result.fit["chisq"] == pytest.approx(ref["fit"]["chisq"], rel=0.02)


def test_missing_answers_by_fiml_or_complete_rows_as_asked() -> None:
    model = REF["clinic"]["shared"]["model"]
    fiml = fit_twolevel(CLINIC, model, "respondent_id")
    complete = CLINIC.dropna(subset=list(fiml.observed))
    assert fiml.n == len(CLINIC) and fiml.left_out == 0
    assert fiml.incomplete == len(CLINIC) - len(complete) > 0
    assert f"missing answers of {fiml.incomplete:,} rows by two-level FIML" in fiml.nesting()
    listwise = fit_twolevel(CLINIC, model, "respondent_id", "listwise")
    assert listwise.n == len(complete) and listwise.left_out == fiml.incomplete
    assert f"{listwise.left_out:,} rows with a missing answer left out" in listwise.nesting()


def test_the_fiml_likelihood_is_the_complete_one_on_complete_rows() -> None:
    """Two-level FIML on rows that answered everything is the moments' likelihood, value and
    gradient; with answers missing its gradient is the derivative of its value."""
    table = model_table(REF["demo"]["shared"]["model"])
    codes = pd.factorize(DEMO["cluster"])[0]
    rows = DEMO[list(table.observed)].to_numpy(float)
    rep = Representation.of(table)
    complete = TwoLevelML(rep, cluster_moments(rows, codes))
    fiml = TwoLevelFIML(rep, cluster_rows(rows, codes))
    theta = np.abs(np.random.default_rng(1).normal(0.6, 0.1, rep.n_free))
    assert fiml.loglik(theta) == pytest.approx(complete.loglik(theta), rel=1e-12)
    assert np.allclose(fiml.gradient(theta), complete.gradient(theta), atol=1e-12)
    gappy = TwoLevelFIML(rep, cluster_rows(MCAR[list(table.observed)].to_numpy(float), codes))
    step = 1e-6 * np.eye(len(theta))
    numeric = [(gappy.value(theta + e) - gappy.value(theta - e)) / 2e-6 for e in step]
    assert np.allclose(gappy.gradient(theta), numeric, atol=1e-7)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("level: 3\nf =~ y1 + y2 + y3", "line 1, position 1: level '3'"),
        (
            "f =~ y1 + y2 + y3\nlevel: 1\nf =~ y1 + y2 + y3",
            "line 1, position 1: a two-level model starts",
        ),
        ("level: 1\nf =~ y1 + y2 + y3\nlevel: 2\ny1 ~~ y2", "level 2 has no measurement line"),
        (
            "level: 1\nf =~ y1 + y2 + y3\nlevel: 1\nf =~ y1 + y2",
            "line 3, position 1: level 1 is given twice",
        ),
        ("level: 1\nf =~ y1 + y2 + y3\nlevel: 2\ng =~ y1 + y2 + y4", "y3, y4: every item"),
    ],
)
def test_a_malformed_level_model_is_refused_by_line(model: str, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        fit_twolevel(DEMO, model, "cluster")


def test_a_syntax_error_names_the_line_of_the_whole_model() -> None:
    model = "level: 1\nf =~ y1 + y2 + y3\nlevel: 2\ng =~ y1 + y2 + y3\ny1 =- y2"
    assert split_levels(model).between.splitlines()[4] == "y1 =- y2"
    with pytest.raises(ValueError, match="line 5"):
        fit_twolevel(DEMO, model, "cluster")


def test_one_cluster_or_no_cluster_column_is_refused() -> None:
    model = REF["demo"]["shared"]["model"]
    with pytest.raises(ModelError, match="no column 'clinic'"):
        fit_twolevel(DEMO, model, "clinic")
    with pytest.raises(ModelError, match="at least two clusters"):
        fit_twolevel(DEMO.assign(cluster=1), model, "cluster")


def test_clusters_whose_rows_repeat_one_another_are_refused_in_one_line() -> None:
    # An export written out twice per patient, say: nothing varies within a cluster, so the
    # within level has no covariance to fit.
    model = REF["demo"]["shared"]["model"]
    items = [c for c in DEMO.columns if c.startswith("y")]
    copies = DEMO.assign(**DEMO.groupby("cluster")[items].transform("first"))
    with pytest.raises(ModelError, match="do not vary enough within clusters of cluster"):
        fit_twolevel(copies, model, "cluster")


# ---------------------------------------------------------------- as a user runs it


def test_validate_fits_a_level_model_as_lavaan_does() -> None:
    ref = REF["demo"]["shared"]
    done = run_cli(
        "validate", str(HERE / "data" / "demo_twolevel.csv"), "--rows", "all",
        "--model", ref["model"], "--cluster", "cluster", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    two = doc["two_level"]
    assert two["nesting"].startswith("two-level model by ML: 2,500 rows within 200 clusters")
    assert two["fit"]["chisq"] == pytest.approx(ref["fit"]["chisq"], rel=1e-6)
    assert two["fit"]["srmr_between"] == pytest.approx(ref["fit"]["srmr_between"], abs=1e-3)
    assert two["icc"] == pytest.approx(ref["icc"], abs=1e-6)
    # the level-1 block is the single-level hypothesized model, cluster-robust
    assert (
        doc["models"]["hypothesized"]["model"].split() == split_levels(ref["model"]).within.split()
    )
    assert "clustered by cluster" in doc["sample"]["nesting"]


def test_validate_gives_a_clinic_export_its_pillars_at_both_levels() -> None:
    path = str(HERE / "data" / "clinic.csv")
    done = run_cli("validate", path, "--json")
    doc = json.loads(done.stdout)
    two = doc["two_level"]
    assert two["cluster"] == "respondent_id"
    rows = {r["factor"]: r for r in two["reliability"]}
    assert set(rows) == {"bond", "goals", "tasks", "bond_between", "goals_between", "tasks_between"}
    assert 0 < rows["bond"]["omega_W"] < 1 and 0 < rows["bond_between"]["omega_B"] < 1
    assert f"missing answers of {two['incomplete']:,} rows by two-level FIML" in two["nesting"]
    text = run_cli("validate", path).stdout
    assert "Two-level CFA (two-level model by ML:" in text
    assert "bond: omega within" in text
    assert run_cli("validate", path, "--levels", "none", "--json").stdout.count('"two_level": null')


def test_a_two_level_model_without_clusters_is_refused_in_one_line() -> None:
    path = str(HERE / "data" / "clinic.csv")
    done = run_cli("validate", path, "--cluster", "none", "--levels", "pillars")
    assert done.returncode != 0
    assert "a two-level model needs the rows' clusters" in done.stderr
    assert "Traceback" not in done.stderr


def test_validate_says_why_a_clinic_export_of_repeated_rows_has_no_two_level_model(
    tmp_path: Path,
) -> None:
    items = [c for c in CLINIC.columns if c[:2] in ("pb", "pg", "pt") and c[2:].isdigit()]
    copies = CLINIC.assign(**CLINIC.groupby("respondent_id")[items].transform("first"))
    path = tmp_path / "copies.csv"
    copies.to_csv(path, index=False)
    doc = json.loads(run_cli("validate", str(path), "--json").stdout)
    reason = "the two-level model could not be fitted: the answers do not vary enough within"
    assert doc["two_level"]["error"].startswith(reason)
    assert doc["models"]["hypothesized"]["cfi"] is not None  # the rest is still there
    asked = run_cli("validate", str(path), "--levels", "pillars")
    assert asked.returncode != 0 and "Traceback" not in asked.stderr
    assert "within-cluster covariance is singular" in asked.stderr


@pytest.mark.slow
def test_an_omega_above_one_is_a_finding_that_says_the_model_misfits() -> None:
    """One factor between patients cannot carry the pillars' own between covariance; the
    within factors take it up, and omega within passes 1 on the clinic export."""
    path = str(HERE / "data" / "clinic.csv")
    doc = json.loads(run_cli("validate", path, "--levels", "one", "--json").stdout)
    within = [r["omega_W"] for r in doc["two_level"]["reliability"] if r["construct"] == "within"]
    assert max(within) > 1
    assert any("omega within above 1" in f for f in doc["two_level"]["findings"])
    pillars = json.loads(run_cli("validate", path, "--json").stdout)["two_level"]
    assert not any("above 1" in f for f in pillars["findings"])


def test_many_small_clusters_as_groups_are_refused_at_once(tmp_path: Path) -> None:
    """200 clusters of 5 to 20 rows as groups of a multi-group model: refused in one line
    before any statistic is computed, pointing to the cluster, not fitted for minutes."""
    path = tmp_path / "demo.csv"
    DEMO.to_csv(path, index=False)
    done = run_cli(
        "validate", str(path), "--model", "f =~ y1 + y2 + y3", "--group", "cluster", "--json"
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "200 groups, 50 of them with fewer rows than the 9 free parameters" in lines[0]
    assert "give it as --cluster instead" in lines[0]
    from analysis.cfa import fit_cfa

    with pytest.raises(ModelError, match="give it as 'cluster' instead"):
        fit_cfa(DEMO, "f =~ y1 + y2 + y3", group="cluster")
