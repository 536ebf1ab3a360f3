"""The Python front door: ``import alliance`` gives what the command line gives, with the same
text, JSON and errors in the parameters' words; its docstring examples run."""

from __future__ import annotations

import doctest
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import alliance
from tests.conftest import run_cli

MODULES = (
    "alliance",
    "alliance.options",
    "alliance.survey",
    "alliance.store",
    "alliance.simulated",
    "alliance.reporting",
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the export the examples read (300 patients, up to 3 sessions each)."""
    where = tmp_path_factory.mktemp("api")
    alliance.simulate(where / "export.csv", n=300, seed=1)
    return where


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workdir)
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, globs={"alliance": alliance}, optionflags=flags, verbose=False)
    assert result.failed == 0


def test_every_public_name_has_a_docstring_with_an_example() -> None:
    for name in ("read", "check", "Survey", "Store", "simulate", "report", "make_options"):
        doc = getattr(alliance, name).__doc__ or ""
        assert ">>>" in doc, name


def _cli(*args: str) -> str:
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_summary_is_what_the_command_prints(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workdir)
    survey = alliance.read("export.csv")
    assert _cli("check", "export.csv") == survey.checked.summary() + "\n"
    result = survey.validate(estimator="mlr")
    printed = _cli("validate", "export.csv", "--estimator", "mlr")
    assert printed == result.summary() + "\n"
    as_json = json.loads(_cli("validate", "export.csv", "--estimator", "mlr", "--json"))
    assert as_json["models"]["hypothesized"]["cfi"] == pytest.approx(
        result.to_dict()["models"]["hypothesized"]["cfi"], abs=1e-12
    )
    assert result.to_frame().loc["hypothesized", "cfi"] == pytest.approx(
        as_json["models"]["hypothesized"]["cfi"], abs=1e-12
    )


def test_results_show_in_a_notebook(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workdir)
    survey = alliance.read("export.csv")
    page = survey.checked._repr_html_()
    assert page.startswith("<pre>export.csv (csv, utf-8): 758 rows in")
    assert "<table" in page and "more rows: <code>to_frame()</code>" in page
    scored = survey.score()
    assert len(scored.to_frame()) == survey.checked.rows_usable
    assert str(scored) == scored.summary()


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: alliance.read("export.csv", estimater="ml"),
            TypeError,
            "did you mean 'estimator'",
        ),
        (
            lambda: alliance.read("export.csv", rows="some"),
            ValueError,
            "'rows' must be one of 'usable', 'all'; got 'some'.",
        ),
        (
            lambda: alliance.read("export.csv").validate(scale="1-7"),
            TypeError,
            "'scale' decides how the export is read",
        ),
        (
            lambda: alliance.Store("x.duckdb").benchmark(since="March"),
            ValueError,
            "'since' must be a date",
        ),
        (lambda: alliance.Store(), ValueError, "give the store as 'db'"),
        (
            lambda: alliance.read("export.csv").invariance(),
            ValueError,
            "invariance needs a group column ('group') or 'over' session.",
        ),
        (
            lambda: alliance.read("export.csv").validate(ordered="zz1", estimator="mlr"),
            ValueError,
            "'ordered' names 'zz1', not an item of the model.",
        ),
    ],
)
def test_errors_name_parameters(
    call: object,
    error: type[Exception],
    message: str,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(workdir)
    with pytest.raises(error, match=None) as raised:
        call()  # type: ignore[operator]
    assert message in str(raised.value)
    assert "--" not in str(raised.value)


def test_importing_alliance_loads_nothing_heavy() -> None:
    code = (
        "import sys, alliance; "
        "print(sorted(m for m in ('pandas', 'numpy', 'scipy', 'duckdb') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
