"""The report of an export from Python, as `alliance report` writes it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .survey import Survey


def report(source: str | Path | Survey, output: str | Path = "report.html", **options: Any) -> Path:
    """Write the whole analysis of an export as one self-contained HTML page.

    Parameters
    ----------
    source : str, Path or Survey
        The export, or a survey already read.
    output : str or Path, default 'report.html'
    **options
        The options of ``alliance report``: ``thresholds``, ``by``, ``invariance``,
        ``calibration``, ``estimator``, ``bootstrap``, ...

    Returns
    -------
    Path
        The page written.

    Examples
    --------
    >>> alliance.report("export.csv", "report.html")
    PosixPath('report.html')
    """
    from analysis.fileio import atomic_write_text
    from analysis.pipeline import analyse_read
    from reports.report import build_report

    from .survey import _survey

    survey = _survey(source, "report", options)
    target = Path(output)
    atomic_write_text(target, build_report(analyse_read(survey.read_result, survey.options)))
    return target
