"""Difference tests between nested models of ordinal items against lavaan 0.6.14's lavTestLRT
(``method = "satorra.2000"``, scaled and shifted), under WLSMV and ULSMV.

Reference values: tests/reference/make_ordinal_lrt_reference.R on HolzingerSwineford1939 cut
into three categories: one factor against three, and configural against metric by school."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analysis.cfa import fit_cfa
from analysis.cfa.compare import chisq_difference

HERE = Path(__file__).parent / "reference"


@cache
def reference() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((HERE / "ordinal_lrt.json").read_text())
    return doc


@cache
def hs() -> pd.DataFrame:
    return pd.read_csv(HERE / "data" / "hs_ordinal.csv")


def check(found: dict[str, float], expected: dict[str, Any]) -> None:
    assert found["delta_df"] == expected["delta_df"]
    assert found["delta_chisq"] == pytest.approx(expected["delta_chisq"], rel=1e-5)
    assert found["p"] == pytest.approx(expected["p"], rel=1e-4)


@pytest.mark.parametrize("estimator", ["wlsmv", "ulsmv"])
def test_one_factor_against_three_is_lavtestlrts(estimator: str) -> None:
    ref = reference()
    three = fit_cfa(hs(), ref["three"], estimator=estimator)  # type: ignore[arg-type]
    one = fit_cfa(hs(), ref["one"], estimator=estimator)  # type: ignore[arg-type]
    check(chisq_difference(one, three), ref[estimator]["one_vs_three"])


@pytest.mark.parametrize("estimator", ["wlsmv", "ulsmv"])
def test_configural_against_metric_is_lavtestlrts(estimator: str) -> None:
    ref = reference()
    options: dict[str, Any] = {"group": "school", "group_order": tuple(ref[estimator]["groups"])}
    configural = fit_cfa(hs(), ref["three"], estimator=estimator, **options)  # type: ignore[arg-type]
    metric = fit_cfa(
        hs(),
        ref["three"],
        estimator=estimator,  # type: ignore[arg-type]
        group_equal=("thresholds", "loadings"),
        **options,
    )
    check(chisq_difference(metric, configural), ref[estimator]["configural_vs_metric"])
