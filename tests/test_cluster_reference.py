"""Cluster-robust inference against lavaan 0.6.14's ``cluster =`` under MLR.

Reference values: tests/reference/make_cluster_reference.R on lavaan's own Demo.twolevel (2,500
rows in 200 clusters, complete; and with answers missing at random, by FIML) and on a
simulated clinic export (240 patients, four sessions each, clustered by patient).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.cfa import FitRequest, FitSpec, ModelError, fit_cfa

from .test_invariance_reference import check_estimates, check_fit

HERE = Path(__file__).parent / "reference"


@cache
def reference() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((HERE / "cluster.json").read_text())
    return doc


@cache
def dataset(name: str) -> pd.DataFrame:
    return pd.read_csv(HERE / "data" / f"{name}.csv")


CASES = {  # name -> (data, where in the reference, cluster column, missing)
    "demo": ("demo_twolevel", ("demo", "mlr_cluster"), "cluster", "listwise"),
    "demo_fiml": ("demo_twolevel_mcar", ("demo", "fiml_cluster"), "cluster", "fiml"),
    "clinic": ("clinic", ("clinic", "mlr_cluster"), "respondent_id", "fiml"),
    "clinic_clinician": ("clinic", ("clinic", "mlr_clinician"), "clinician_id", "fiml"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_cluster_robust_mlr_matches_lavaan(case: str) -> None:
    data, (where, which), cluster, missing = CASES[case]
    expected = reference()[where][which]
    result = fit_cfa(
        dataset(data),
        reference()[where]["model"],
        estimator="mlr",
        missing=missing,  # type: ignore[arg-type]
        cluster=cluster,
    )
    assert result.n == expected["nobs"]
    check_fit(result.fit, expected["fit"], robust=True)
    check_estimates(result.estimates, expected["estimates"])


def test_fewer_clusters_than_parameters_is_said() -> None:
    result = fit_cfa(
        dataset("clinic"),
        reference()["clinic"]["model"],
        estimator="mlr",
        missing="fiml",
        cluster="clinician_id",
    )
    assert any("20 clusters for 75 parameters" in f for f in result.findings)
    few = fit_cfa(
        dataset("demo_twolevel"), reference()["demo"]["model"], estimator="mlr", cluster="cluster"
    )
    assert not any("clusters for" in f for f in few.findings)  # 200 clusters, 19 parameters


def test_without_the_clusters_the_standard_errors_are_too_small() -> None:
    """The same fit, rows as if independent (lavaan's MLR with a mean structure), and what the
    clusters change: the estimates not at all, every loading's standard error upwards."""
    ref = reference()["demo"]
    data = dataset("demo_twolevel")
    # FIML on complete rows is ML with a mean structure, as the reference's MLR has one.
    naive = fit_cfa(data, ref["model"], estimator="mlr", missing="fiml")
    check_estimates(naive.estimates, ref["mlr"]["estimates"])
    clustered = fit_cfa(data, ref["model"], estimator="mlr", cluster="cluster")
    loadings = (naive.estimates["op"] == "=~") & naive.estimates["free"]
    np.testing.assert_allclose(clustered.estimates["est"], naive.estimates["est"], atol=1e-6)
    ratio = clustered.estimates.loc[loadings, "se"] / naive.estimates.loc[loadings, "se"]
    assert (ratio > 1).all()


def test_a_clustered_fit_is_mlr_and_wlsmv_is_refused() -> None:
    with pytest.raises(ModelError, match="a clustered fit is MLR's"):
        FitSpec(estimator="ml", cluster="respondent_id")
    with pytest.raises(ModelError, match="under WLSMV is not available yet"):
        FitSpec(estimator="wlsmv", cluster="respondent_id")
    data = dataset("demo_twolevel")
    spec = FitRequest(cluster="cluster").resolve(data, ["y1", "y2", "y3"])
    # Demo.twolevel is complete: complete rows, as lavaan's default.
    assert (spec.estimator, spec.missing, spec.cluster) == ("mlr", "listwise", "cluster")
    assert spec.notes == ("ML with clusters is fitted by MLR, as lavaan's cluster= does",)


def test_rows_without_a_cluster_are_counted_as_left_out() -> None:
    data = dataset("demo_twolevel").astype({"cluster": "object"})
    data.loc[:9, "cluster"] = None
    result = fit_cfa(data, reference()["demo"]["model"], estimator="mlr", cluster="cluster")
    assert result.n == len(data) - 10
    assert result.left_out["no_cluster"] == 10


def test_one_cluster_is_refused_in_one_line() -> None:
    data = dataset("demo_twolevel").assign(cluster=1)
    with pytest.raises(ModelError, match="are one cluster of 'cluster'; cluster-robust"):
        fit_cfa(data, reference()["demo"]["model"], estimator="mlr", cluster="cluster")
