"""The report of an export from Python, as `alliance report` writes it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .survey import Survey


def report(
    source: str | Path | Survey,
    output: str | Path = "report.html",
    *,
    figures: str | Path | None = None,
    figure_format: str = "png",
    docx: str | Path | None = None,
    latex: str | Path | None = None,
    **options: Any,
) -> Path:
    """Write the whole analysis of an export as one self-contained HTML page.

    Parameters
    ----------
    source : str, Path or Survey
        The export, or a survey already read.
    output : str or Path, default 'report.html'
    figures : str or Path, optional
        A folder for every figure as a static file (drawn in Chromium by kaleido).
    figure_format : {'png', 'svg', 'pdf'}, default 'png'
    docx : str or Path, optional
        A Word document of the report's APA-style tables and its figures.
    latex : str or Path, optional
        A folder for every table as booktabs LaTeX.
    **options
        The options of ``alliance report``: ``thresholds``, ``by``, ``invariance``,
        ``calibration``, ``estimator``, ``bootstrap``, ...

    Returns
    -------
    Path
        The page written.

    Examples
    --------
    >>> alliance.report("export.csv", "report.html", latex="tables")
    PosixPath('report.html')
    >>> import os
    >>> sorted(os.listdir("tables"))[:2]
    ['table001.tex', 'table002.tex']
    """
    from analysis.fileio import atomic_write_text
    from analysis.pipeline import analyse_read
    from reports.html import render
    from reports.paper import FIGURE_FORMATS, write_paper
    from reports.report import report_page

    from .survey import _survey

    if figure_format not in FIGURE_FORMATS:
        raise ValueError(
            f"'figure_format' must be one of 'png', 'svg', 'pdf'; got {figure_format!r}."
        )
    survey = _survey(source, "report", options)
    target = Path(output)
    page = report_page(analyse_read(survey.read_result, survey.options))
    atomic_write_text(target, render(page))
    write_paper(
        page,
        Path(figures) if figures is not None else None,
        figure_format,
        Path(docx) if docx is not None else None,
        Path(latex) if latex is not None else None,
    )
    return target
