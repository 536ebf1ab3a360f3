"""Bootstrap intervals for omega, CR, AVE and HTMT: held to semTools on the same draws, the same
whatever the number of processes, whole clusters resampled, failed draws counted, and
`alliance validate --bootstrap` as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.bootstrap import Bootstrap, resample, run_bootstrap
from analysis.cfa import fit_cfa

from .conftest import run_cli

HERE = Path(__file__).parent / "reference"
REF = json.loads((HERE / "bootstrap.json").read_text())
HS = pd.read_csv(HERE / "data" / "hs.csv")
DRAWS = np.loadtxt(HERE / "data" / "hs_bootstrap_draws.csv", delimiter=",", dtype=int)


def test_the_shared_draws_are_the_ones_resample_makes() -> None:
    assert np.array_equal(resample(len(HS), REF["draws"], REF["seed"]), DRAWS)


def test_intervals_equal_semtools_on_the_same_draws() -> None:
    fit = fit_cfa(HS, REF["model"])
    boot = run_bootstrap(fit, HS, Bootstrap(REF["draws"], REF["seed"]), samples=DRAWS)
    assert boot.failed == 0 and boot.unit == "row" and boot.units == len(HS)
    assert set(boot.estimates) == set(REF["estimates"])
    for name, value in REF["estimates"].items():
        assert boot.estimates[name] == pytest.approx(value, abs=1e-5), name
        np.testing.assert_allclose(boot.values[name], REF["values"][name], atol=1e-5)
        np.testing.assert_allclose(boot.interval(name), REF["intervals"][name], atol=1e-5)


def test_one_process_or_two_give_the_same_intervals_and_the_bar_reaches_the_end() -> None:
    fit = fit_cfa(HS, REF["model"])
    seen: list[tuple[int, int]] = []
    one = run_bootstrap(fit, HS, Bootstrap(24, 5), workers=1)
    two = run_bootstrap(fit, HS, Bootstrap(24, 5), workers=2, progress=lambda *d: seen.append(d))
    pd.testing.assert_frame_equal(one.values, two.values)
    assert seen[-1] == (24, 24) and len(seen) == 3  # a step per chunk of draws


def test_clusters_are_resampled_whole() -> None:
    fit = fit_cfa(HS, REF["model"])
    clusters = np.repeat(np.arange(len(HS) // 3 + 1), 3)[: len(HS)]
    boot = run_bootstrap(
        fit, HS, Bootstrap(8, 1), clusters=clusters, cluster_name="patient", workers=1
    )
    assert boot.unit == "patient" and boot.units == len(np.unique(clusters))
    assert "clusters of patient (each one's rows resampled together)" in boot.lines()[0]


def test_draws_that_cannot_be_fitted_are_counted_and_left_out() -> None:
    rare = HS.copy()
    rare["x1"] = 1.0
    rare.loc[:3, "x1"] = [2.0, 3.0, 2.5, 4.0]  # most draws miss every one of these rows
    fit = fit_cfa(rare, REF["model"])
    assert not fit.converged  # said, not raised, when the fit ends outside the space
    boot = run_bootstrap(fit, rare, Bootstrap(40, 11), workers=1)
    assert 0 < boot.failed < 40
    assert len(boot.values) == 40 - boot.failed
    assert f"({boot.failed} did not and are left out)" in boot.lines()[0]


def test_validate_bootstrap_from_the_command_line() -> None:
    args = ["validate", str(HERE / "data" / "hs.csv"), "--rows", "all", "--model", REF["model"]]
    first = run_cli(*args, "--bootstrap", "16", "--seed", "3", "--json")
    again = run_cli(*args, "--bootstrap", "16", "--seed", "3", "--json")
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)["bootstrap"]
    assert doc == json.loads(again.stdout)["bootstrap"]  # a seed repeats the run
    assert doc["draws"] == 16 and doc["seed"] == 3 and doc["resampled"] == "row"
    low, high = doc["reliability"]["textual"]["omega_total"]["ci"]
    assert low < doc["reliability"]["textual"]["omega_total"]["estimate"] < high
    assert set(doc["htmt"]) == {"visual~textual", "visual~speed", "textual~speed"}
    text = run_cli(*args, "--bootstrap", "16")
    assert text.returncode == 0
    line = next(ln for ln in text.stdout.splitlines() if ln.startswith("bootstrap: 16 draws"))
    assert "seed " in line  # a seed chosen for the user is printed, to repeat the run
    grouped = run_cli(*args, "--group", "school", "--bootstrap", "16")
    assert grouped.returncode == 2
    assert grouped.stderr.strip().endswith(
        "bootstrap intervals are for a model of one group with each item on one factor; leave "
        "out the group 'school'."
    )


def test_the_report_puts_each_interval_beside_its_number(tmp_path: Path) -> None:
    page = tmp_path / "hs.html"
    done = run_cli(
        "report", str(HERE / "data" / "hs.csv"), "--rows", "all", "--model", REF["model"],
        "--bootstrap", "12", "--seed", "1", "-o", str(page),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    html = page.read_text()
    header = html[html.index("omega 95% CI") - 300 : html.index("AVE 95% CI")]
    assert header.index(">omega<") < header.index("omega 95% CI") < header.index(">CR<")
    assert "the bootstrap&#x27;s: 12 draws of the 301 rows, seed 1" in html
    assert "HTMT visual-textual" in html
