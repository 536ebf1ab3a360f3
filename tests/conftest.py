from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from instrument import Instrument, builtin_instrument

ALLIANCE = shutil.which("alliance", path=str(Path(sys.executable).parent)) or "alliance"


@pytest.fixture(scope="session")
def bank() -> Instrument:
    return builtin_instrument()


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed `alliance` console script, as a user would."""
    env = {**os.environ, "COLUMNS": "100"}
    return subprocess.run(
        [ALLIANCE, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )
