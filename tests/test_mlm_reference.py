"""MLM (Satorra-Bentler) against lavaan 0.6.14's ``estimator = "MLM"``.

Reference values: tests/reference/make_mlm_reference.R on HolzingerSwineford1939, one group
and by school (configural, scalar), and lavTestLRT's scaled difference of configural and
metric.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analysis.cfa import FitSpec, ModelError, fit_cfa
from analysis.cfa.compare import chisq_difference

from .conftest import run_cli
from .test_invariance_reference import check_estimates, check_fit

HERE = Path(__file__).parent / "reference"


@cache
def reference() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((HERE / "mlm.json").read_text())
    return dict(doc["hs"])


@cache
def hs() -> pd.DataFrame:
    return pd.read_csv(HERE / "data" / "hs.csv")


CASES = {
    "one_group": {},
    "configural": {"group": "school"},
    "scalar": {"group": "school", "group_equal": ("loadings", "intercepts")},
}


@pytest.mark.parametrize("case", list(CASES))
def test_mlm_matches_lavaan(case: str) -> None:
    expected = reference()[case]
    result = fit_cfa(hs(), reference()["model"], estimator="mlm", **CASES[case])  # type: ignore[arg-type]
    check_fit(result.fit, expected["fit"], robust=True)
    check_estimates(result.estimates, expected["estimates"])


def test_the_scaled_difference_is_lavtestlrts() -> None:
    model = reference()["model"]
    configural = fit_cfa(hs(), model, estimator="mlm", group="school")
    metric = fit_cfa(hs(), model, estimator="mlm", group="school", group_equal=("loadings",))
    found = chisq_difference(metric, configural)
    expected = reference()["configural_vs_metric"]
    assert found["delta_df"] == expected["delta_df"]
    assert found["delta_chisq"] == pytest.approx(expected["delta_chisq"], rel=1e-5)
    assert found["p"] == pytest.approx(expected["p"], abs=1e-5)


def test_mlm_needs_complete_rows() -> None:
    with pytest.raises(ModelError, match="MLM needs complete rows"):
        FitSpec(estimator="mlm", missing="fiml")


def test_mlm_from_the_command_line() -> None:
    model = reference()["model"].replace("\n", "; ")
    done = run_cli("validate", str(HERE / "data" / "hs.csv"), "--model", model, "--estimator",
                   "mlm", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    fit = doc["models"]["hypothesized"]
    assert doc["estimator"] == "mlm"
    assert fit["chisq"] == pytest.approx(reference()["one_group"]["fit"]["chisq.scaled"], rel=1e-6)
    assert fit["chisq_ml"] == pytest.approx(reference()["one_group"]["fit"]["chisq"], rel=1e-6)
