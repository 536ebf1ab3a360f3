"""Every shell and Python example in the README and docs/ runs as written, in order, on inputs
this test makes: a fresh folder per document, holding psych's bfi (bfi.csv), lavaan's
HolzingerSwineford1939 (hs.csv) and Demo.twolevel (sessions.csv), and for the README the
demo's export; everything else a document uses, its own examples make. A YAML block whose fence
names a file (```yaml my_scale.yaml) is that file. `make` lines are the two contract commands:
CI runs `make test` itself, and tests/test_cli.py runs the demo."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
REFERENCE = ROOT / "tests" / "reference" / "data"
FIXTURES = {"bfi.csv": "bfi.csv", "hs.csv": "hs.csv", "sessions.csv": "demo_twolevel.csv"}
RUN = ("sh", "python")
KNOWN = (*RUN, "yaml", "text", "")


def blocks(path: Path) -> list[tuple[str, str, str]]:
    """Each fenced block: its language, the rest of its info string, and its text."""
    found, info, body, inside = [], "", [], False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            if inside:
                language, _, rest = info.partition(" ")
                found.append((language, rest.strip(), "\n".join(body) + "\n"))
                body = []
            else:
                info = line[3:].strip()
            inside = not inside
        elif inside:
            body.append(line)
    return found


def _marks(path: Path) -> list[pytest.MarkDecorator]:
    text = path.read_text()
    marks = [pytest.mark.slow]
    if "--figures" in text or "--docx" in text or "docx=" in text:
        marks.append(pytest.mark.browser)  # kaleido draws in chromium
    if "--engine spark" in text:
        marks.append(pytest.mark.spark)
    return marks


def test_every_block_is_of_a_known_kind() -> None:
    for path in DOCUMENTS:
        if path.name == "design.md":  # its diagrams are plain fences, and nothing runs there
            continue
        for language, _, text in blocks(path):
            assert language in KNOWN, f"{path.name}: ```{language} block: {text[:60]}"
            if language == "":
                pytest.fail(f"{path.name}: a block with no language (use ```text): {text[:60]}")


def test_the_readme_is_short_and_its_first_screen_says_what_and_how() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 300
    first_screen = "\n".join(text.splitlines()[:40])
    for words in ("therapeutic alliance", "make demo", "make test", "import alliance"):
        assert words in first_screen, words


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, id=p.name, marks=_marks(p))
        for p in DOCUMENTS
        if any(b[0] in RUN for b in blocks(p))
    ],
)
def test_every_example_runs(path: Path, tmp_path: Path) -> None:
    for name, source in FIXTURES.items():
        shutil.copy(REFERENCE / source, tmp_path / name)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    if path.name == "README.md":
        demo = tmp_path / "demo-output" / "qualtrics_export.csv"
        demo.parent.mkdir()
        subprocess.run(
            ["alliance", "simulate", "-n", "300", "--format", "qualtrics", "-o", str(demo)],
            env=env,
            check=True,
            capture_output=True,
            cwd=tmp_path,
        )
    for language, rest, text in blocks(path):
        if language == "yaml" and rest:
            (tmp_path / rest).write_text(text)
            continue
        if language == "sh":
            script = "\n".join(
                line for line in text.splitlines() if not re.match(r"\s*make\s", line)
            )
            command = ["bash", "-euo", "pipefail", "-c", script]
        elif language == "python":
            command = [sys.executable, "-c", text]
        else:
            continue
        done = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200
        )
        assert done.returncode == 0, f"{path.name}:\n{text}\n{done.stderr[-2000:]}"
