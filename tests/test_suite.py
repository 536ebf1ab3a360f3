"""The test suite's own promises: the core runs without a browser or Java, and a test that
uses neither never loads Playwright."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import sys, pytest
code = pytest.main(["-q", "-p", "no:cacheprovider", "-m", "not browser and not spark",
                    "tests/test_pages.py"])
print("PLAYWRIGHT", any(m.startswith("playwright") for m in sys.modules))
sys.exit(code)
"""


def test_the_core_loads_no_browser_driver() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PLAYWRIGHT False" in done.stdout


def test_browser_and_spark_tests_carry_their_markers() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q",
         "-m", "browser or spark", "tests/test_form_browser.py", "tests/test_spark.py",
         "tests/test_pages.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    ids = [line for line in listed.stdout.splitlines() if "::" in line]
    assert ids and all("test_form_browser" in i or "test_spark" in i for i in ids)
    assert any("test_form_browser" in i for i in ids) and any("test_spark" in i for i in ids)
