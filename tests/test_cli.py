"""The command line as a user meets it: help with examples, version, the demo, exit codes."""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path

import click
import pandas as pd
import pytest

from reports.cli import COMMANDS as TABLE
from reports.cli import cli, end_process, summary

from .conftest import ALLIANCE, run_cli

COMMANDS = sorted(TABLE)


def test_the_commands_so_far() -> None:
    assert {"items", "simulate", "demo", "invariance"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_the_command_list_says_what_each_command_says_of_itself(command: str) -> None:
    found = cli.get_command(click.Context(cli), command)
    assert found is not None and found.name == command
    assert summary(found.help or "") == TABLE[command][2]


def loaded_by(args: list[str], modules: tuple[str, ...]) -> tuple[str, list[str]]:
    """Run `alliance ARGS` in a fresh interpreter: what it printed, and which of ``modules``
    it had imported by the end (the command group itself: the console script would end the
    process before anything could look)."""
    probe = (
        "import sys\n"
        f"sys.argv = ['alliance', *{args!r}]\n"
        "from reports.cli import cli\n"
        "try:\n    cli(prog_name='alliance')\nexcept SystemExit:\n    pass\n"
        f"print('loaded:' + ','.join(m for m in {modules!r} if m in sys.modules))\n"
    )
    python = str(Path(ALLIANCE).parent / "python")
    done = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    output, _, loaded = done.stdout.rpartition("loaded:")
    return output, [m for m in loaded.strip().split(",") if m]


def test_top_level_help_imports_no_command_dependencies() -> None:
    """`alliance --help` lists the commands from a table: none of them is imported."""
    heavy = ("pandas", "scipy", "statsmodels", "duckdb", "plotly", "pingouin", "numpy")
    output, loaded = loaded_by(["--help"], heavy)
    assert loaded == []
    assert re.search(r"\n  invariance +Test whether the items measure the same", output)
    assert re.search(r"\n  cat-simulate +Simulate adaptive testing on a calibrated bank", output)


def test_checking_a_csv_imports_neither_scipy_nor_the_binary_readers(tmp_path: Path) -> None:
    """`alliance check` on a CSV: the parse and the checks, not scipy (its one quantile is
    computed in analysis/chisquare.py) and not the SPSS/Stata reader. Once the built-in
    instrument is kept (instrument/kept.py), not the YAML parser or pydantic either."""
    export = tmp_path / "export.csv"
    assert run_cli("simulate", "-n", "60", "--seed", "2", "-o", str(export)).returncode == 0
    heavy = ("scipy", "pyreadstat", "statsmodels", "duckdb", "plotly", "pingouin")
    loaded_by(["check", str(export)], heavy)  # keeps the instrument, if no test has yet
    output, loaded = loaded_by(["check", str(export)], (*heavy, "yaml", "pydantic"))
    assert loaded == []
    assert "rows" in output


def test_scoring_a_csv_loads_no_model(tmp_path: Path) -> None:
    """`alliance score` on a CSV reads, checks and scores: the CFA engine, validation, the
    bootstrap, the rupture model, statsmodels and factor_analyzer stay unloaded (importing
    them had doubled its time at 10,000 rows)."""
    export = tmp_path / "export.csv"
    assert run_cli("simulate", "-n", "60", "--seed", "2", "-o", str(export)).returncode == 0
    heavy = ("analysis.cfa", "analysis.validate", "analysis.bootstrap", "analysis.ruptures",
             "statsmodels", "factor_analyzer")  # fmt: skip
    _, loaded = loaded_by(["score", str(export), "-o", str(tmp_path / "s.csv")], heavy)
    assert loaded == []
    assert (tmp_path / "s.csv").read_text().startswith('"row_in_export",')


@pytest.mark.parametrize(
    ("environment", "expected"), [({}, "False"), ({"NUMPY_MADVISE_HUGEPAGE": "1"}, "True")]
)
def test_the_command_line_asks_numpy_for_no_huge_pages_unless_told(
    environment: dict[str, str], expected: str
) -> None:
    """numpy's huge pages made every large fresh array slow to fill on a kernel that compacts
    memory for them: the command line turns them off before numpy is imported, and a user's
    NUMPY_MADVISE_HUGEPAGE wins."""
    import os

    probe = (
        "import reports.cli\n"
        "from numpy._core.multiarray import _set_madvise_hugepage\n"
        "print(_set_madvise_hugepage(True))"
    )
    python = str(Path(ALLIANCE).parent / "python")
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    done = subprocess.run(
        [python, "-c", probe], capture_output=True, text=True, env={**env, **environment}
    )
    assert done.stdout.strip() == expected, done.stderr


@pytest.mark.parametrize(
    ("environment", "expected"),
    [({}, "system"), ({"ARROW_DEFAULT_MEMORY_POOL": "jemalloc"}, "jemalloc")],
)
def test_the_command_line_gives_arrow_the_c_librarys_malloc_unless_told(
    environment: dict[str, str], expected: str
) -> None:
    """Arrow's mimalloc pool made taking rows of text columns six times slower: the command
    line asks for the system pool before pyarrow is imported, and a user's own choice wins."""
    import os

    probe = "import reports.cli, pyarrow\nprint(pyarrow.default_memory_pool().backend_name)"
    python = str(Path(ALLIANCE).parent / "python")
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    done = subprocess.run(
        [python, "-c", probe], capture_output=True, text=True, env={**env, **environment}
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected


def test_validating_a_csv_loads_neither_scikit_learn_nor_scipy_stats(tmp_path: Path) -> None:
    """`alliance validate` runs its EFA (extraction, rotation, KMO and Bartlett) on the
    project's own code: factor_analyzer, scikit-learn and scipy.stats stay unloaded (their
    import was 0.6 s of 2.1 at 10,000 rows), and so does scipy.optimize (0.17 s of 1.55)."""
    export = tmp_path / "export.csv"
    assert run_cli("simulate", "-n", "300", "--seed", "2", "-o", str(export)).returncode == 0
    heavy = ("factor_analyzer", "sklearn", "scipy.stats", "scipy.optimize")
    output, loaded = loaded_by(["validate", str(export)], heavy)
    assert loaded == []
    assert "KMO" in output


@pytest.mark.parametrize(
    "args",
    [["check"], ["score", "-o", "{out}.csv"], ["validate"], ["report", "-o", "{out}.html"]],
    ids=lambda a: a[0],
)
def test_the_export_commands_load_no_store(tmp_path: Path, args: list[str]) -> None:
    """An export's commands touch no store: neither DuckDB nor pyarrow's dataset layer nor
    PySpark, nor the store's or the monitor's packages, is imported."""
    export = tmp_path / "export.csv"
    done = run_cli("simulate", "-n", "200", "--sessions", "2", "--seed", "3", "-o", str(export))
    assert done.returncode == 0
    store = ("duckdb", "pyarrow.dataset", "pyspark", "analysis.store", "analysis.monitor")
    command = [args[0], str(export), *(a.format(out=tmp_path / "out") for a in args[1:])]
    _, loaded = loaded_by(command, store)
    assert loaded == []


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


def test_the_console_script_ends_after_the_exit_handlers_and_flushes_its_output(
    tmp_path: Path,
) -> None:
    """The process ends without tearing the interpreter down, but what an ending must do is
    done: an exit handler runs, output still buffered is written, and the code is kept."""
    mark = tmp_path / "handler-ran"
    probe = (
        "import atexit, sys\n"
        f"atexit.register(lambda: open({str(mark)!r}, 'w').write('ran'))\n"
        "sys.stdout.write('x' * 100_000)\n"  # more than a pipe's buffer, not flushed
        "from reports.cli import end_process\n"
        "end_process(3)\n"
        "print('never')\n"
    )
    python = str(Path(ALLIANCE).parent / "python")
    done = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert done.stdout == "x" * 100_000
    assert mark.read_text() == "ran"


def test_the_console_script_waits_for_a_thread_still_running() -> None:
    """A thread the command left running ends first: Python is let end the usual way."""
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        with pytest.raises(SystemExit) as ended:
            end_process(4)
        assert ended.value.code == 4
    finally:
        release.set()
        other.join()


@pytest.mark.slow
def test_demo_writes_the_survey_and_an_export_and_summarises_it(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = run_cli("demo", "-o", str(out))
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in out.iterdir())
    own_page = [n for n in names if n.startswith("clinician_")]
    assert len(own_page) == 1 and re.fullmatch(r"clinician_C\d\d\.html", own_page[0])
    assert names == [
        "adaptive.html",
        "benchmark.html",
        "calibration.yaml",
        "clinic.duckdb",
        own_page[0],
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
    # Rupture alerts over the sessions, in counts: no patient id in the report.
    assert 'id="ruptures"' in page and "rupture alerts were raised" in page
    ids = pd.read_csv(out / "scores.csv", usecols=["respondent_id"])["respondent_id"]
    assert not any(f">{pid}<" in page or f'"{pid}"' in page for pid in ids.unique())
    # The bank calibrated on the export: the report's section, and the adaptive test's
    # agreement with the full bank stated in numbers.
    assert 'id="calibration"' in page and "The item bank on the theta metric" in page
    agreement = re.search(
        r"the adaptive test agrees with the full bank for (\d+\.\d)% \(kappa (0\.\d\d)\) with "
        r"(\d+\.\d) of 24 items",
        result.stdout,
    )
    assert agreement is not None
    assert float(agreement[1]) > 90 and float(agreement[3]) < 20
    clinician = (out / own_page[0]).read_text(encoding="utf-8")
    assert "identifiable patient data" in clinician
    assert "the own page of" in result.stderr
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
