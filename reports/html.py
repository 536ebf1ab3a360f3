"""Assemble one self-contained HTML file: plotly.js inlined once, figures as fragments, tables
as HTML, a table of contents; no CDN and no MathJax, so it works offline."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
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


@dataclass(frozen=True)
class Figure:
    """A figure of a page: drawn by plotly.js in the HTML, a static file for a paper."""

    fig: go.Figure

    def html(self) -> str:
        return str(
            self.fig.to_html(
                full_html=False,
                include_plotlyjs=False,
                include_mathjax=False,
                config={"displaylogo": False, "responsive": True},
            )
        )


@dataclass(frozen=True)
class Table:
    """A table of a page with its caption ('Table 3. ...') and the digits of its numbers."""

    frame: pd.DataFrame
    caption: str
    digits: int = 3

    def html(self) -> str:
        return html_table(self.frame, self.caption, self.digits)


@dataclass(frozen=True)
class Note:
    text: str

    def html(self) -> str:
        return f'<p class="note">{escape(self.text)}</p>'


Part = Figure | Table | Note


@dataclass
class Section:
    key: str
    title: str
    reading: str  # one plain-language paragraph for a clinician
    parts: list[Part] = field(default_factory=list)

    def figure(self, fig: go.Figure) -> None:
        self.parts.append(Figure(fig))

    def table(self, frame: pd.DataFrame, caption: str, digits: int = 3) -> None:
        self.parts.append(Table(frame, caption, digits))

    def note(self, text: str) -> None:
        self.parts.append(Note(text))


@dataclass(frozen=True)
class Page:
    """A whole page: what the HTML shows, and what a paper's figures and tables come from."""

    title: str
    subtitle: str
    sections: list[Section]


def header_words(name: object) -> str:
    """A column name as a table heads it: 'n_patients' as 'patients',
    'ruptures_per_100_sessions' as 'ruptures per 100 sessions'."""
    text = str(name)
    if text.startswith("n_") and len(text) > 2:
        text = text[2:]
    return text.replace("_", " ")


def is_count(name: object) -> bool:
    """Columns of counts (of patients, sessions, rows): shown as whole numbers."""
    text = str(name)
    return text.startswith("n_") or text in ("patients", "sessions", "rows", "n")


def cell_text(value: object, count: bool = False, digits: int = 3) -> tuple[str, bool]:
    """A table cell as every output writes it, and whether it is a number (right-aligned):
    empty for none, yes/no for true/false, counts whole with thousands separators."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return "", False
    if isinstance(value, bool | np.bool_):
        return ("yes" if value else "no"), False
    if isinstance(value, int | np.integer):
        return f"{int(value):,}", True
    if isinstance(value, float | np.floating) and count:
        return f"{round(float(value)):,}", True
    if isinstance(value, float | np.floating):
        text = f"{float(value):,.{digits}f}"
        # a tiny negative shows as -0.00: a sign that says nothing
        return (text[1:] if text.startswith("-") and not text.strip("-0.,") else text), True
    return str(value), False


def numeric_columns(frame: pd.DataFrame) -> list[bool]:
    return [
        pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        for c in frame.columns
    ]


def html_table(frame: pd.DataFrame, caption: str, digits: int = 3) -> str:
    """An APA-style table: a caption, a ruled header in words, numbers right-aligned with
    thousands separators (counts as whole numbers), yes/no for true/false; all text
    escaped."""

    def cell(value: object, count: bool = False) -> str:
        text, number = cell_text(value, count, digits)
        return f'<td class="num">{text}</td>' if number else f"<td>{escape(text)}</td>"

    numeric = numeric_columns(frame)
    head = f"<th>{escape(header_words(frame.index.name or ''))}</th>" + "".join(
        f'<th class="num">{escape(header_words(c))}</th>'
        if num
        else f"<th>{escape(header_words(c))}</th>"
        for c, num in zip(frame.columns, numeric, strict=True)
    )
    counts = [is_count(c) for c in frame.columns]
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


_TABLE_CAPTION = re.compile(r"^Table (\d+)([a-z]?)\. ")


def numbered(sections: list[Section]) -> list[Section]:
    """The sections with their tables numbered 1, 2, 3 in the order the page shows them,
    whichever sections are present: a table keeps its letter (4a, 4b), and the tables of one
    number in one section keep one number."""
    numbers: dict[tuple[int, str], int] = {}
    out = []
    for k, section in enumerate(sections):
        parts: list[Part] = []
        for part in section.parts:
            found = _TABLE_CAPTION.match(part.caption) if isinstance(part, Table) else None
            if isinstance(part, Table) and found is not None:
                key = (k, found.group(1))
                numbers.setdefault(key, len(numbers) + 1)
                caption = f"Table {numbers[key]}{found.group(2)}. " + part.caption[found.end() :]
                part = replace(part, caption=caption)
            parts.append(part)
        out.append(replace(section, parts=parts))
    return out


def assemble(title: str, subtitle: str, sections: list[Section]) -> str:
    return render(Page(title, subtitle, sections))


def render(page: Page) -> str:
    """The page as one self-contained HTML file."""
    sections = numbered(page.sections)
    toc = "".join(f'<li><a href="#{s.key}">{escape(s.title)}</a></li>' for s in sections)
    body = "".join(
        f'<section id="{s.key}"><h2>{escape(s.title)}</h2>'
        f'<p class="reading">{escape(s.reading)}</p>{"".join(p.html() for p in s.parts)}'
        "</section>"
        for s in sections
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(page.title)}</title><style>{_STYLE}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f"<header><h1>{escape(page.title)}</h1><p>{escape(page.subtitle)}</p>"
        f'<nav aria-label="Contents"><ul>{toc}</ul></nav></header>'
        f"<main>{body}</main></body></html>\n"
    )
