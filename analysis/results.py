"""What every result of the library offers, so that a notebook, a script and the command line
see the same thing: ``summary()`` (the text the command prints), ``to_dict()`` (the JSON it
prints with ``--json``), ``to_frame()`` (its main table) and ``_repr_html_()`` (both, in a
notebook)."""

from __future__ import annotations

from html import escape
from typing import Any

import pandas as pd

HTML_ROWS = 20  # rows of the main table a notebook shows; to_frame() has them all


class Reported:
    """A result that prints. Subclasses give ``summary_lines()`` (or override ``summary()``),
    ``to_dict()`` and ``to_frame()``."""

    def summary_lines(self) -> list[str]:
        raise NotImplementedError

    def summary(self) -> str:
        """The text the command line prints for this result."""
        return "\n".join(self.summary_lines())

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_frame(self) -> pd.DataFrame:
        raise NotImplementedError

    def _repr_html_(self) -> str:
        frame = self.to_frame()
        shown = frame.head(HTML_ROWS).to_html(na_rep="", float_format=lambda v: f"{v:.3f}")
        more = (
            f"<p>{len(frame) - HTML_ROWS:,} more rows: <code>to_frame()</code> has them all.</p>"
            if len(frame) > HTML_ROWS
            else ""
        )
        return f"<pre>{escape(self.summary())}</pre>{shown}{more}"

    def __str__(self) -> str:
        return self.summary()
