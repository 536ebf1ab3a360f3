"""ULSMV against lavaan 0.6.14's ``estimator = "ULSMV"`` on ordinal items.

Reference values: tests/reference/make_ulsmv_reference.R on HolzingerSwineford1939 cut into
three categories and on psych's bfi (complete rows)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.cfa import fit_cfa

from .conftest import run_cli
from .test_ordinal_reference import FIT, RELATIVE

HERE = Path(__file__).parent / "reference"
CASES = {"hs": "hs_ordinal", "bfi": "bfi"}


@cache
def reference() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((HERE / "ulsmv.json").read_text())
    return doc


@cache
def fitted(case: str) -> Any:
    data = pd.read_csv(HERE / "data" / f"{CASES[case]}.csv")
    return fit_cfa(data, reference()[case]["model"], estimator="ulsmv", missing="listwise")


@pytest.mark.parametrize("case", list(CASES))
def test_ulsmv_fit_measures_match_lavaan(case: str) -> None:
    result, ref = fitted(case), reference()[case]["ulsmv"]["fit"]
    assert result.converged
    checked = 0
    for theirs, ours in FIT.items():
        if theirs not in ref or not isinstance(ref[theirs], int | float):
            continue
        want = ref[theirs]
        tolerance = {"rel": 1e-5} if theirs in RELATIVE else {"abs": 1e-5}
        assert result.fit[ours] == pytest.approx(want, **tolerance), theirs
        checked += 1
    assert checked >= 18


@pytest.mark.parametrize("case", list(CASES))
def test_ulsmv_estimates_match_lavaan(case: str) -> None:
    result = fitted(case)
    ref = pd.DataFrame(reference()[case]["ulsmv"]["estimates"])
    merged = ref.merge(result.estimates, on=["lhs", "op", "rhs", "group"], suffixes=("_r", ""))
    assert len(merged) == len(result.estimates)
    free = merged[merged["free"]]
    np.testing.assert_allclose(merged["est"], merged["est_r"], atol=5e-5)
    np.testing.assert_allclose(free["se"], free["se_r"], atol=5e-5)
    np.testing.assert_allclose(merged["std_all"], merged["std_all_r"], atol=5e-5)


def test_ulsmv_from_the_command_line() -> None:
    model = reference()["hs"]["model"].replace("\n", "; ")
    done = run_cli("validate", str(HERE / "data" / "hs_ordinal.csv"), "--rows", "all",
                   "--model", model, "--estimator", "ulsmv", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["estimator"] == "ulsmv"
    want = reference()["hs"]["ulsmv"]["fit"]["chisq.scaled"]
    assert doc["models"]["hypothesized"]["chisq"] == pytest.approx(want, rel=1e-5)
