from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from instrument import Instrument, builtin_instrument

if TYPE_CHECKING:  # imported by the browser fixture: a test without a browser never loads it
    from playwright.sync_api import Browser, Page

ALLIANCE = shutil.which("alliance", path=str(Path(sys.executable).parent)) or "alliance"

# The built-in instrument is kept in a cache folder once built (instrument/kept.py): the tests
# and the commands they start keep theirs in a folder of their own, not the user's.
_CACHE = tempfile.TemporaryDirectory(prefix="alliance-test-cache-")
os.environ["XDG_CACHE_HOME"] = _CACHE.name


@pytest.fixture(scope="session")
def bank() -> Instrument:
    return builtin_instrument()


def run_cli(
    *args: str, cwd: Path | None = None, process: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run `alliance` with these arguments, as a user would: through the click entry point in
    this process (stdout and stderr apart, the exit code as the shell sees it), or with
    ``process`` as the installed console script in a fresh process, where a test needs one
    (signals, import costs, the environment at start-up). An exception the command line lets
    escape is raised here, so a test fails where a user would see a traceback."""
    if process:
        env = {**os.environ, "COLUMNS": "100"}
        return subprocess.run(
            [ALLIANCE, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
        )
    from click.testing import CliRunner

    from reports.cli import cli

    with contextlib.chdir(cwd) if cwd is not None else contextlib.nullcontext():
        result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "100"}, prog_name="alliance")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(
        [ALLIANCE, *args], result.exit_code, result.stdout, result.stderr
    )


CHROMIUM = os.environ.get("ALLIANCE_CHROMIUM", "/usr/bin/chromium")
# The flags a closed network needs: no background connections, no component updates.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless, driven by Playwright; `make test` installs it."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: run `make test`, which installs Debian's chromium")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clinic's year made by `alliance simulate`: 1,500 patients of 40 clinicians, twelve
    monthly exports (clinic-2026-MM.csv) and the whole year as one overlapping export."""
    folder = tmp_path_factory.mktemp("clinic")
    common = ["-n", "1500", "--clinicians", "40", "--sessions", "4", "--months", "12"]
    common += ["--seed", "11"]
    done = run_cli("simulate", *common, "--per-month", "-o", str(folder / "clinic.csv"))
    assert done.returncode == 0, done.stderr
    assert "12 monthly files" in done.stderr
    done = run_cli("simulate", *common, "-o", str(folder / "year.csv"))
    assert done.returncode == 0, done.stderr
    return folder


def monthly(year: Path) -> list[Path]:
    files = sorted(year.glob("clinic-2026-*.csv"))
    assert [f.stem[-2:] for f in files] == [f"{m:02d}" for m in range(1, 13)]
    return files


def open_report(browser: Browser, path: Path) -> Page:
    """Open a report page and wait for its figures; ``page.errors`` collects page errors and
    ``page.requests`` every URL the page asked for."""
    page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda req: requests.append(req.url))
    page.goto(path.as_uri())
    page.wait_for_function("document.querySelectorAll('.plotly-graph-div .main-svg').length > 0")
    page.wait_for_timeout(500)
    page.errors = errors  # type: ignore[attr-defined]
    page.requests = requests  # type: ignore[attr-defined]
    return page


# Markers (registered in pyproject.toml), given by what a test uses rather than by hand:
# `pytest -m "not browser and not spark"` runs the core without Chromium or Java.
_MODULE_MARKERS = {"test_spark": "spark"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
        if module in _MODULE_MARKERS:
            item.add_marker(getattr(pytest.mark, _MODULE_MARKERS[module]))
        if module.endswith("_reference"):
            item.add_marker(pytest.mark.reference)
