"""The example notebook runs, top to bottom, in a real Jupyter kernel: what a researcher opens
first must not fail."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).parents[1] / "examples" / "first-analysis.ipynb"


@pytest.mark.browser  # its last cells draw PNGs through kaleido in chromium
def test_the_example_notebook_runs(tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    shutil.copy(NOTEBOOK, tmp_path)
    notebook = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    errors = [
        out
        for cell in notebook.cells
        for out in cell.get("outputs", [])
        if out.output_type == "error"
    ]
    assert errors == []
    # what it promised: a validated model, a Word table and PNG figures
    assert (tmp_path / "tables.docx").stat().st_size > 10_000
    assert (tmp_path / "pillars.png").read_bytes()[:4] == b"\x89PNG"
    assert len(list((tmp_path / "figures").glob("*.png"))) > 5
    shown = [out for cell in notebook.cells for out in cell.get("outputs", []) if "data" in out]
    # the survey and the validation show as HTML tables in the notebook
    assert any("text/html" in out["data"] and "<table" in out["data"]["text/html"] for out in shown)
