"""Assemble one self-contained HTML file: plotly.js inlined once, figures as fragments, tables
as HTML, a table of contents; no CDN and no MathJax, so it works offline."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; color: #1a1a1a; margin: 0; }
header, main { max-width: 72rem; margin: 0 auto; padding: 0 1.2rem; }
header { border-bottom: 1px solid #ddd; padding-bottom: .5rem; }
nav ul { columns: 2; list-style: none; padding-left: 0; }
h2 { margin-top: 2.5rem; border-top: 2px solid #eee; padding-top: 1rem; }
.reading { background: #f5f7fa; border-left: 4px solid #2166ac; padding: .6rem 1rem; }
.table { overflow-x: auto; }
table { border-collapse: collapse; margin: .8rem 0; font-variant-numeric: tabular-nums; }
th, td { padding: .25rem .7rem; text-align: left; border-bottom: 1px solid #ddd;
         vertical-align: top; }
td.num, th.num { text-align: right; }
tbody td:first-child { white-space: nowrap; }
thead th { border-bottom: 2px solid #333; }
caption { caption-side: top; text-align: left; font-style: italic; padding-bottom: .3rem; }
.note { color: #555; font-size: .9rem; }
@media print {
  nav { display: none; }
  .plotly-graph-div, .table, figure { break-inside: avoid; page-break-inside: avoid; }
  h2 { break-after: avoid; page-break-after: avoid; }
  .table { overflow: visible; }
}
""".strip()


@dataclass
class Section:
    key: str
    title: str
    reading: str  # one plain-language paragraph for a clinician
    parts: list[str] = field(default_factory=list)

    def figure(self, fig: go.Figure) -> None:
        self.parts.append(
            fig.to_html(
                full_html=False,
                include_plotlyjs=False,
                include_mathjax=False,
                config={"displaylogo": False, "responsive": True},
            )
        )

    def table(self, frame: pd.DataFrame, caption: str, digits: int = 3) -> None:
        self.parts.append(html_table(frame, caption, digits))

    def note(self, text: str) -> None:
        self.parts.append(f'<p class="note">{escape(text)}</p>')


def header_words(name: object) -> str:
    """A column name as a table heads it: 'n_patients' as 'patients',
    'ruptures_per_100_sessions' as 'ruptures per 100 sessions'."""
    text = str(name)
    if text.startswith("n_") and len(text) > 2:
        text = text[2:]
    return text.replace("_", " ")


def _is_count(name: object) -> bool:
    """Columns of counts (of patients, sessions, rows): shown as whole numbers."""
    text = str(name)
    return text.startswith("n_") or text in ("patients", "sessions", "rows", "n")


def html_table(frame: pd.DataFrame, caption: str, digits: int = 3) -> str:
    """An APA-style table: a caption, a ruled header in words, numbers right-aligned with
    thousands separators (counts as whole numbers), yes/no for true/false; all text
    escaped."""

    def cell(value: object, count: bool = False) -> str:
        if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
            return "<td></td>"
        if isinstance(value, bool | np.bool_):
            return f"<td>{'yes' if value else 'no'}</td>"
        if isinstance(value, int | np.integer):
            return f'<td class="num">{int(value):,}</td>'
        if isinstance(value, float | np.floating) and count:
            return f'<td class="num">{round(float(value)):,}</td>'
        if isinstance(value, float | np.floating):
            return f'<td class="num">{float(value):,.{digits}f}</td>'
        return f"<td>{escape(str(value))}</td>"

    numeric = [
        pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        for c in frame.columns
    ]
    head = f"<th>{escape(header_words(frame.index.name or ''))}</th>" + "".join(
        f'<th class="num">{escape(header_words(c))}</th>'
        if num
        else f"<th>{escape(header_words(c))}</th>"
        for c, num in zip(frame.columns, numeric, strict=True)
    )
    counts = [_is_count(c) for c in frame.columns]
    rows = "".join(
        f"<tr><td>{escape(str(index))}</td>"
        + "".join(cell(v, c) for v, c in zip(row, counts, strict=True))
        + "</tr>"
        for index, row in zip(frame.index, frame.itertuples(index=False), strict=True)
    )
    # In a box of its own: a table wider than the page scrolls there, not the whole page.
    return (
        f'<div class="table"><table><caption>{escape(caption)}</caption><thead><tr>{head}'
        f"</tr></thead><tbody>{rows}</tbody></table></div>"
    )


_TABLE_CAPTION = re.compile(r"<caption>Table (\d+)([a-z]?)\. ")


def _numbered_tables(sections: list[Section]) -> list[str]:
    """Each section's HTML with its tables numbered 1, 2, 3 in the order the page shows them,
    whichever sections are present: a table keeps its letter (4a, 4b), and the tables of one
    number in one section keep one number."""
    numbers: dict[tuple[int, str], int] = {}

    def renumber(k: int) -> Callable[[re.Match[str]], str]:
        def one(found: re.Match[str]) -> str:
            key = (k, found.group(1))
            if key not in numbers:
                numbers[key] = len(numbers) + 1
            return f"<caption>Table {numbers[key]}{found.group(2)}. "

        return one

    return [
        _TABLE_CAPTION.sub(renumber(k), "".join(section.parts))
        for k, section in enumerate(sections)
    ]


def assemble(title: str, subtitle: str, sections: list[Section]) -> str:
    toc = "".join(f'<li><a href="#{s.key}">{escape(s.title)}</a></li>' for s in sections)
    body = "".join(
        f'<section id="{s.key}"><h2>{escape(s.title)}</h2>'
        f'<p class="reading">{escape(s.reading)}</p>{parts}</section>'
        for s, parts in zip(sections, _numbered_tables(sections), strict=True)
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f"<header><h1>{escape(title)}</h1><p>{escape(subtitle)}</p>"
        f'<nav aria-label="Contents"><ul>{toc}</ul></nav></header>'
        f"<main>{body}</main></body></html>\n"
    )
