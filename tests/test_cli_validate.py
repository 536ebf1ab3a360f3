"""`alliance validate` from the command line: the public anchor, the JSON contract, errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from .conftest import run_cli

DATA = Path(__file__).parent / "reference" / "data"
HS_MODEL = "visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6; speed =~ x7 + x8 + x9"


def test_the_holzinger_swineford_anchor_from_the_command_line() -> None:
    result = run_cli(
        "validate", str(DATA / "hs.csv"), "--model", HS_MODEL, "--missing", "listwise", "--json"
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    m = doc["models"]["hypothesized"]
    assert (doc["n"], doc["estimator"]) == (301, "ml")
    assert (round(m["chisq"], 3), m["df"]) == (85.306, 24)
    assert [round(m[k], 3) for k in ("cfi", "tli", "rmsea", "srmr", "aic", "bic")] == [
        0.931,
        0.896,
        0.092,
        0.065,
        7517.490,
        7595.339,
    ]
    assert [round(v, 3) for v in m["rmsea_ci"]] == [0.071, 0.114]
    assert [round(row["std"], 3) for row in doc["loadings"]] == [
        0.772,
        0.424,
        0.581,
        0.852,
        0.855,
        0.838,
        0.570,
        0.723,
        0.665,
    ]
    assert set(doc["loadings"][0]) == {"factor", "item", "est", "se", "std", "std_se"}
    assert round(doc["factor_correlations"]["visual"]["textual"], 3) == 0.459
    assert round(doc["htmt"]["textual"]["visual"], 3) == 0.384
    assert round(doc["efa"]["kmo"], 3) == 0.752
    assert round(doc["efa"]["bartlett"]["chisq"], 2) == 904.10
    mi = doc["modification_indices"][0]
    assert (mi["lhs"], mi["rhs"], round(mi["mi"], 3)) == ("visual", "x9", 36.411)
    assert set(doc["reliability"]["visual"]) >= {
        "alpha",
        "alpha_ci",
        "omega_total",
        "composite_reliability",
        "ave",
        "item_total",
    }


def test_mlr_reports_scaled_and_unscaled_statistics() -> None:
    result = run_cli(
        "validate", str(DATA / "hs.csv"), "--model", HS_MODEL, "--estimator", "mlr",
        "--missing", "listwise", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    m = json.loads(result.stdout)["models"]["hypothesized"]
    assert round(m["chisq"], 3) == 87.132 and round(m["chisq_ml"], 3) == 85.306
    assert round(m["scaling_factor"], 3) == 0.979 and round(m["cfi"], 3) == 0.930


def test_the_alliance_models_side_by_side_in_plain_text() -> None:
    result = run_cli("validate", str(DATA / "alliance.csv"), "--missing", "listwise")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    table = [ln.split()[0] for ln in lines[3:7]]
    assert table == ["one_factor", "two_factor", "hypothesized", "bifactor"]
    assert any(
        re.match(r"one_factor vs two_factor: delta chisq \d+\.\d{3} on 1 df, p (= |< \.001)", ln)
        for ln in lines
    )
    assert (
        "bifactor: no verdict: the solution did not converge or is improper (see the findings)"
        in lines
    )
    assert any("finding: the information matrix is singular" in ln for ln in lines)
    assert any(ln.startswith("bond ") for ln in lines)
    # which omega is which, as semTools' compRelSEM names them
    assert any("omega:" in ln and "obs.var = FALSE" in ln and "CR:" in ln for ln in lines)


def test_bad_models_exit_2_with_a_located_message() -> None:
    result = run_cli("validate", str(DATA / "hs.csv"), "--model", "visual =~ x1 + x2\nspeed =- x7")
    assert result.returncode == 2
    assert result.stderr == "alliance: error: model: line 2, position 7: unknown operator '=-'\n"
    result = run_cli("validate", str(DATA / "hs.csv"), "--model", "f =~ x1 + x2")
    assert result.returncode == 2
    # No answer is missing, so no mean structure (lavaan's default): 3 covariance moments.
    assert result.stderr == (
        "alliance: error: the model is not identified: 4 free parameters but only 3 sample "
        "moments (df = -1).\n"
    )


def test_a_general_factor_beside_specific_ones_and_cross_loadings_are_accepted() -> None:
    cross = "visual =~ x1 + x2 + x3 + x9; textual =~ x4 + x5 + x6; speed =~ x7 + x8 + x9"
    result = run_cli("validate", str(DATA / "hs.csv"), "--rows", "all", "--model", cross, "--json")
    assert result.returncode == 0, result.stderr
    m = json.loads(result.stdout)["models"]["hypothesized"]
    assert (round(m["chisq"], 3), m["df"]) == (52.382, 23)
    general = (
        "g =~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9; visual =~ x1 + x2 + x3; "
        "textual =~ x4 + x5 + x6; speed =~ x7 + x8 + x9"
    )
    result = run_cli("validate", str(DATA / "hs.csv"), "--rows", "all", "--model", general)
    assert "listed under both" not in result.stderr
    assert result.returncode == 0, result.stderr


def test_a_constant_item_is_named_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "constant.csv"
    pd.read_csv(DATA / "hs.csv").assign(x5=3).to_csv(path, index=False)
    result = run_cli("validate", str(path), "--rows", "all", "--model", HS_MODEL)
    assert result.returncode == 2
    assert result.stderr == (
        "alliance: error: item 'x5' has the same answer (3) in all 301 rows that answer it; "
        "a constant item cannot be analysed: leave it out.\n"
    )


def test_parallel_analysis_says_which_version() -> None:
    result = run_cli("validate", str(DATA / "hs.csv"), "--rows", "all", "--model", HS_MODEL)
    assert "parallel analysis retains 3 components (eigenvalues of the correlations) and" in (
        result.stdout
    )
    doc = json.loads(
        run_cli(
            "validate",
            str(DATA / "hs.csv"),
            "--rows",
            "all",
            "--model",
            HS_MODEL,
            "--parallel",
            "factors",
            "--json",
        ).stdout
    )
    assert doc["efa"]["parallel_analysis_kind"] == "factors"
    assert set(doc["efa"]["parallel_analysis"]) == {"components", "factors"}
    # psych's 20 draws unless told otherwise, and the output says how many
    assert doc["efa"]["parallel_analysis_iterations"] == 20
    assert "against the 95th percentile of 20 random draws" in result.stdout
    more = run_cli(
        "validate", str(DATA / "hs.csv"), "--rows", "all", "--model", HS_MODEL,
        "--parallel-iterations", "200", "--json",
    )  # fmt: skip
    efa = json.loads(more.stdout)["efa"]
    assert efa["parallel_analysis_iterations"] == 200
    assert efa["parallel_analysis"]["components"]["iterations"] == 200
    assert efa["parallel_analysis_factors"] == 3
    one = run_cli("validate", str(DATA / "hs.csv"), "--parallel-iterations", "1")
    assert one.returncode == 2 and "--parallel-iterations" in one.stderr


def test_the_efa_extraction_is_psychs_default_and_can_be_chosen() -> None:
    base = ["validate", str(DATA / "hs.csv"), "--rows", "all", "--model", HS_MODEL]
    text = run_cli(*base).stdout
    assert "EFA (minres, oblimin) on the 301 complete rows: KMO" in text
    for method in ("ml", "pa"):
        doc = json.loads(run_cli(*base, "--efa-method", method, "--json").stdout)
        assert doc["efa"]["method"] == method and doc["efa"]["n"] == 301
    wrong = run_cli(*base, "--efa-method", "principal")
    assert (
        wrong.returncode == 2 and "'principal' is not one of 'minres', 'ml', 'pa'" in wrong.stderr
    )


def test_the_anchor_by_default_is_lavaans_default_and_says_so() -> None:
    """No answer missing: complete rows without a mean structure, lavaan's cfa() default, so
    the SRMR and AIC are the tutorial's without --missing."""
    result = run_cli("validate", str(DATA / "hs.csv"), "--model", HS_MODEL, "--json")
    doc = json.loads(result.stdout)
    m = doc["models"]["hypothesized"]
    assert [round(m[k], 3) for k in ("srmr", "aic", "bic")] == [0.065, 7517.490, 7595.339]
    text = run_cli("validate", str(DATA / "hs.csv"), "--model", HS_MODEL).stdout
    assert text.splitlines()[0].endswith("no answer missing (complete rows); estimator ML")


def test_the_parameter_table_in_text_and_json() -> None:
    """lavaan's tutorial table: visual =~ x2 is 0.554 (SE 0.100, z 5.554, p < .001), std.all
    0.424 with standardizedSolution's SE 0.060."""
    text = run_cli("validate", str(DATA / "hs.csv"), "--model", HS_MODEL, "--parameters").stdout
    assert "parameters of the hypothesized model" in text
    row = next(line for line in text.splitlines() if re.match(r"\s*visual =~\s+x2 ", line))
    assert row.split() == ["visual", "=~", "x2", "0.554", "0.100", "5.554", "<", ".001",
                           "0.358", "0.749", "0.424", "0.060"]  # fmt: skip
    marker = next(line for line in text.splitlines() if re.match(r"\s*visual =~\s+x1 ", line))
    # fixed: no SE of its own; its standardized estimate has one (0.055, as lavaan's)
    assert marker.split() == ["visual", "=~", "x1", "1.000", "0.772", "0.055"]
    doc = json.loads(
        run_cli("validate", str(DATA / "hs.csv"), "--model", HS_MODEL, "--json").stdout
    )
    x2 = next(
        p for p in doc["parameters"] if (p["lhs"], p["op"], p["rhs"]) == ("visual", "=~", "x2")
    )
    assert round(x2["z"], 3) == 5.554 and x2["pvalue"] < 0.001
    assert x2["z"] == x2["est"] / x2["se"]


def test_p_values_read_as_a_person_reads_them() -> None:
    from analysis.summaries import p_text

    assert [p_text(v) for v in (0.0, 0.0004, 0.001, 0.0342, 1.0, float("nan"), None)] == [
        "< .001",
        "< .001",
        "0.001",
        "0.034",
        "1.000",
        "-",
        "-",
    ]


def test_the_baseline_chi_square_is_named_as_lavaan_names_it() -> None:
    """baseline_chisq is lavaan's baseline.chisq (unscaled) and baseline_chisq_scaled its
    baseline.chisq.scaled, under MLR and under WLSMV alike."""
    reference = Path(__file__).parent / "reference"
    for estimator, data, where in (
        ("mlr", "hs.csv", ("hs.json", "mlr")),
        ("wlsmv", "hs_ordinal.csv", ("ordinal.json", "wlsmv")),
    ):
        done = run_cli("validate", str(DATA / data), "--rows", "all", "--model", HS_MODEL,
                       "--estimator", estimator, "--json")  # fmt: skip
        model = json.loads(done.stdout)["models"]["hypothesized"]
        doc = json.loads((reference / where[0]).read_text())
        node = doc[where[1]] if where[0] == "hs.json" else doc["hs"][where[1]]
        assert round(model["baseline_chisq"], 3) == round(node["fit"]["baseline.chisq"], 3)
        want = node["fit"]["baseline.chisq.scaled"]
        assert round(model["baseline_chisq_scaled"], 3) == round(want, 3)


def test_standardized_ses_in_every_group_match_lavaan() -> None:
    """validate --group school: the standardized estimates' SEs of the second group too, as
    lavaan's standardizedSolution (tests/reference/make_invariance_reference.R)."""
    done = run_cli("validate", str(DATA / "hs.csv"), "--rows", "all", "--model", HS_MODEL,
                   "--group", "school", "--missing", "listwise", "--json")  # fmt: skip
    doc = json.loads(done.stdout)
    ref = json.loads((DATA.parent / "invariance.json").read_text())["hs"]["ml"]["levels"]
    configural = pd.DataFrame(ref["configural"]["estimates"])
    labels = dict(enumerate(ref["configural"]["groups"], start=1))
    configural["group"] = configural["group"].map(labels)
    ours = pd.DataFrame(doc["parameters"])
    merged = ours.merge(configural, on=["lhs", "op", "rhs", "group"], suffixes=("", "_r"))
    second = merged[(merged["group"] == "Grant-White") & (merged["op"] == "=~")]
    assert len(second) == 9
    assert second["std_all_se"].notna().sum() == 9
    assert (second["std_all_se"] - second["std_se"]).abs().max() < 1e-4
    grouped = pd.DataFrame(doc["estimates"])
    assert grouped.loc[grouped["group"] == "Grant-White", "std_se"].notna().any()


def test_validate_says_the_two_level_stages_as_they_start_on_stderr(tmp_path: Path) -> None:
    """A two-level fit of repeated sessions with missing answers can take half a minute: the
    command says what it is doing, on stderr, once the model and the data have passed every
    check (a refusal stays one line), and the JSON on stdout is unchanged by it."""
    export = tmp_path / "sessions.csv"
    made = run_cli("simulate", "-n", "150", "--sessions", "3", "--seed", "4", "-o", str(export))
    assert made.returncode == 0, made.stderr
    result = run_cli("validate", str(export), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)["two_level"]
    stages = re.findall(r"^\[ *[0-9.]+ s\] (.*) \.\.\.$", result.stderr, flags=re.M)
    assert len(stages) == 2, result.stderr
    assert stages[0].startswith(
        f"fitting the two-level model: {doc['n']:,} rows in {doc['clusters']:,} clusters of "
        "respondent_id, "
    )
    assert stages[0].endswith(" with missing answers (FIML)")
    assert re.fullmatch(r"the two-level model's standard errors \(\d+ parameters\)", stages[1])
