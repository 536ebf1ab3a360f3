"""The command line as a user meets it: help with examples, version, the demo, exit codes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reports.cli import cli

from .conftest import run_cli

COMMANDS = sorted(cli.commands)  # type: ignore[attr-defined]


def test_the_commands_so_far() -> None:
    assert {"items", "simulate", "demo"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = run_cli(command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith(f"Usage: alliance {command}")
    assert "Example" in result.stdout
    assert f"alliance {command}" in result.stdout.split("Example", 1)[1]


def test_top_level_help_and_version() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("alliance, version ")


def test_unknown_command_is_a_usage_error() -> None:
    result = run_cli("frobnicate")
    assert result.returncode == 2
    assert "No such command 'frobnicate'" in result.stderr


def test_demo_writes_the_survey_and_an_export_and_summarises_it(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = run_cli("demo", "-o", str(out))
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "benchmark.html",
        "clinic.duckdb",
        "patient_form.html",
        "qualtrics_export.csv",
        "qualtrics_survey.txt",
        "quarantine.csv",
        "redcap_dictionary.csv",
        "report.html",
        "scores.csv",
    ]
    lines = result.stdout.splitlines()
    assert lines[-1] == f"Report: {out / 'report.html'}"
    assert lines[0].startswith(f"Read {out / 'qualtrics_export.csv'} (qualtrics): ")
    assert "set aside by the checks" in lines[0]
    # The Qualtrics export's -99s (seen, unanswered) are told apart in the missing-answers table.
    page = (out / "report.html").read_text(encoding="utf-8")
    assert ">seen, unanswered</th>" in page
    assert 'id="invariance"' in page and "Measurement invariance across site_id" in page
    assert re.search(r"1,9\d\d patients, 40 clinicians\.$", lines[0])  # some only quarantined
    assert [ln.split()[0] for ln in lines[2:10]] == [
        "bond",
        "goals",
        "tasks",
        "affective",
        "rational",
        "fidelity",
        "competence",
        "reliability",
    ]
    assert re.search(
        r"^Clinic store: 5,\d{3} new responses, 0 already stored; 40 clinicians",
        result.stdout,
        re.M,
    )
    again = run_cli("demo", "-o", str(out))  # the store keeps each response once
    assert re.search(r"^Clinic store: 0 new responses, 5,\d{3} already stored", again.stdout, re.M)
    assert "simulating 2,000 patients" in result.stderr
    assert "  scored 5," in result.stdout and "masked ruptures" in result.stdout


def test_input_errors_never_show_a_traceback(tmp_path: Path) -> None:
    result = run_cli("items", "--instrument", "f =~ a +")
    assert result.returncode == 2
    assert result.stderr == (
        "alliance: error: model: line 1, position 9: expected a variable name after '+'\n"
    )
