"""Measurement invariance over sessions against semTools' measEq.syntax(longFacNames = ...)
fitted by lavaan with missing = "ml" (tests/reference/make_longitudinal_reference.R): a
simulated export, sessions 1-3 of 600 patients, some sessions missed and answers skipped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cfa.longitudinal import longitudinal_syntax, run_over_sessions, widen
from analysis.cfa.spec import FitSpec

from .conftest import run_cli

HERE = Path(__file__).parent / "reference"
REF = json.loads((HERE / "longitudinal.json").read_text())
EXPORT = HERE / "data" / "longitudinal.csv"
PILLARS = {"b": "bond", "g": "goals", "t": "tasks"}


def _groups(items: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items:
        out.setdefault(PILLARS[item[1]], []).append(item)
    return out


@pytest.fixture(scope="module")
def result():  # type: ignore[no-untyped-def]
    data = pd.read_csv(EXPORT)
    items = [c for c in data.columns if c[:2] in ("pb", "pg", "pt")]
    wide = widen(data, items, REF["sessions"], "respondent_id", "session")
    return run_over_sessions(wide, _groups(items), FitSpec(estimator="ml", missing="fiml"))


@pytest.mark.parametrize("level", ["configural", "metric", "scalar", "strict"])
def test_every_level_equals_lavaan(result, level: str) -> None:  # type: ignore[no-untyped-def]
    ours = result.level(level).result.fit
    theirs = REF["levels"][level]["fit"]
    for key in ("npar", "df", "baseline.df"):
        assert ours[key.replace(".", "_")] == theirs[key]
    for key in ("chisq", "baseline.chisq", "logl", "aic", "bic"):
        mine = key.replace(".", "_").replace("logl", "loglik")
        assert ours[mine] == pytest.approx(theirs[key], rel=1e-6), key
    for key in ("cfi", "tli", "rmsea", "srmr"):
        assert ours[key] == pytest.approx(theirs[key], abs=1e-3), key
    assert result.patients == theirs["ntotal"]


def test_loadings_and_their_errors_equal_lavaan(result) -> None:  # type: ignore[no-untyped-def]
    for level in ("configural", "metric"):
        e = result.level(level).result.estimates
        ours = e[e["op"] == "=~"][["lhs", "rhs", "est", "se"]]
        both = ours.merge(pd.DataFrame(REF["levels"][level]["loadings"]), on=["lhs", "rhs"])
        assert len(both) == len(ours) == 36
        assert np.allclose(both["est_x"], both["est_y"], atol=1e-3)
        assert np.allclose(np.nan_to_num(both["se_x"]), both["se_y"], atol=1e-3)


def test_the_syntax_holds_each_kind_equal_but_what_is_released() -> None:
    groups = {"bond": ["a", "b"], "goals": ["c", "d"]}
    syntax = longitudinal_syntax(groups, (1, 2), ("loadings", "intercepts"), (("loadings", "b"),))
    assert "bond_s2 =~ a_s2 + b_s2" in syntax  # b's loading released: no label
    assert "goals_s2 =~ c_s2 + L_d*d_s2" in syntax
    assert "a_s1 ~~ a_s1 + a_s2" in syntax  # residuals correlated across sessions
    assert "a_s2 ~ I_a*1" in syntax and "bond_s2 ~ 1" in syntax and "bond_s1 ~ 1" not in syntax


def test_the_command_line_gives_the_same_sequence_and_says_how_rows_nest() -> None:
    done = run_cli("invariance", str(EXPORT), "--over", "session", "--rows", "all", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    chisq = [level["fit"]["chisq"] for level in doc["levels"]]
    expected = [REF["levels"][k]["fit"]["chisq"] for k in ("configural", "metric", "scalar")]
    # reverse-keyed items are reversed first: a linear change that leaves the fit as it is
    assert chisq[:3] == pytest.approx(expected, rel=1e-6)
    assert doc["over"] == "session" and doc["sample"]["patients"] == 600
    assert "patients treated as independent of their clinicians" in doc["nesting"]
    text = run_cli("invariance", str(EXPORT), "--over", "session", "--rows", "all").stdout
    assert "over sessions: 600 patients with their sessions side by side" in text.splitlines()[0]


def test_the_report_draws_the_sessions_asked_for(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    done = run_cli(
        "report", str(EXPORT), "--rows", "all", "--invariance", "session", "--sessions", "1,3",
        "-o", str(page),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    html = page.read_text()
    assert "Measurement invariance over sessions" in html
    assert "patients with their sessions side by side (session 1 600, session 3 453)" in html
    bad = run_cli("report", str(EXPORT), "--invariance", "session", "--sessions", "2", "-o", "x")
    assert bad.returncode == 2 and "at least two different sessions" in bad.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sessions", "1"], "at least two different sessions"),
        (["--sessions", "1,x"], "session numbers separated by commas"),
        (["--sessions", "1,9"], "no patient has session 9"),
        (["--group", "site_id"], "give no group"),
        (["--estimator", "wlsmv"], "fitted by ML or MLR with FIML"),
    ],
)
def test_bad_requests_are_refused_in_one_line(args: list[str], message: str) -> None:
    done = run_cli("invariance", str(EXPORT), "--over", "session", *args)
    assert done.returncode != 0
    assert message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_an_item_that_drifts_at_one_session_is_found_and_freed_alone() -> None:
    """Plant a drop of one point in one item's answers at session 3: scalar invariance fails
    in full, the score tests free that item's intercept and nothing else, and it holds in part."""
    data = pd.read_csv(EXPORT)
    third = data["session"] == 3
    data.loc[third, "pg03"] = (data.loc[third, "pg03"] - 1).clip(lower=1)
    items = [c for c in data.columns if c[:2] in ("pb", "pg", "pt")]
    wide = widen(data, items, REF["sessions"], "respondent_id", "session")
    result = run_over_sessions(wide, _groups(items), FitSpec(estimator="ml", missing="fiml"))
    scalar = result.level("scalar")
    assert scalar is not None and scalar.holds and scalar.full is not None
    assert [(f.item, f.kind) for f in result.freed] == [("pg03", "intercept")]
    assert result.freed[0].group == "session 3"
    assert "partial strict invariance holds" in result.conclusion()
    kind, values = result.item_parameters()
    assert kind == "intercept, factor mean taken out"
    gaps = values["session 3"] - values["session 1"]
    assert gaps.idxmin() == "pg03" and gaps["pg03"] < -0.5
