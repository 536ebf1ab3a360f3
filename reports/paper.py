"""What leaves the report for a paper: every figure as a static file (PNG, SVG or PDF, drawn by
kaleido in the machine's Chromium), the tables as booktabs LaTeX, and both in a Word document
with APA-style tables. All come from the same :class:`~reports.html.Page` as the HTML, so a
number cannot differ between the page and the paper."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from analysis.fileio import atomic_path

from .html import Figure, Note, Page, Section, Table, cell_text, header_words, is_count, numbered

FIGURE_FORMATS = ("png", "svg", "pdf")
FIGURE_WIDTH = 900  # pixels of the page's width a figure is laid out at
PNG_SCALE = 2  # a PNG at twice that, sharp in print
DEFAULT_HEIGHT = 450  # plotly's own, for a figure that sets none


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]


def _figures(page: Page) -> Iterator[tuple[str, Section, Figure]]:
    """Each figure with a file stem that says where it is: 'fig03-structure-2'."""
    count = 0
    for section in page.sections:
        within = 0
        for part in section.parts:
            if isinstance(part, Figure):
                count, within = count + 1, within + 1
                yield f"fig{count:02d}-{_slug(section.key)}-{within}", section, part


def write_figures(page: Page, directory: Path, fmt: str = "png") -> list[Path]:
    """Every figure of ``page`` as a file in ``directory`` (made when missing), in order; one
    browser draws them all."""
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"'figure_format' must be one of 'png', 'svg', 'pdf'; got {fmt!r}.")
    import plotly.io as pio

    directory.mkdir(parents=True, exist_ok=True)
    found = list(_figures(page))
    paths = [directory / f"{stem}.{fmt}" for stem, _, _ in found]
    if found:
        figs = [part.fig for _, _, part in found]
        pio.write_images(
            figs,
            paths,
            format=fmt,
            width=FIGURE_WIDTH,
            # each figure at the height the page lays it out at (kaleido's default is 500)
            height=[fig.layout.height or DEFAULT_HEIGHT for fig in figs],
            scale=PNG_SCALE if fmt == "png" else 1,
        )
    return paths


def _cells(table: Table) -> tuple[list[str], list[list[str]], list[bool]]:
    """A table's header, rows and which columns are numbers, as the HTML writes them."""
    frame = table.frame
    numeric = [True, *[pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]]
    header = [header_words(frame.index.name or ""), *map(header_words, frame.columns)]
    counts = [is_count(c) for c in frame.columns]
    rows = []
    for index, row in zip(frame.index, frame.itertuples(index=False), strict=True):
        cells = [str(index)]
        cells += [cell_text(v, c, table.digits)[0] for v, c in zip(row, counts, strict=True)]
        rows.append(cells)
    return header, rows, numeric


# ---------------------------------------------------------------- LaTeX
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(c, c) for c in text)


def latex_table(table: Table, label: str) -> str:
    """One table as a booktabs ``table`` environment: caption above, rules top, mid, bottom."""
    header, rows, numeric = _cells(table)
    align = "".join("r" if n else "l" for n in numeric)
    caption = latex_escape(table.caption)
    lines = [
        r"\begin{table}[htbp]",
        r"  \centering",
        f"  \\caption{{{caption}}}",
        f"  \\label{{tab:{label}}}",
        f"  \\begin{{tabular}}{{{align}}}",
        r"    \toprule",
        "    " + " & ".join(latex_escape(h) for h in header) + r" \\",
        r"    \midrule",
        *("    " + " & ".join(latex_escape(c) for c in row) + r" \\" for row in rows),
        r"    \bottomrule",
        r"  \end{tabular}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def _tables(page: Page) -> Iterator[tuple[str, Table]]:
    for section in numbered(page.sections):
        for part in section.parts:
            if isinstance(part, Table):
                number = part.caption.split(".")[0].removeprefix("Table ").strip()
                digits = number.rstrip("abcdefghijklmnopqrstuvwxyz")
                yield f"table{digits.zfill(3)}{number[len(digits) :]}", part


def write_latex(page: Page, directory: Path) -> list[Path]:
    """Every table of ``page`` as ``tableN.tex`` in ``directory``, and ``tables.tex`` that
    inputs them all (``\\usepackage{booktabs}`` in the preamble)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, table in _tables(page):
        path = directory / f"{stem}.tex"
        with atomic_path(path) as tmp:
            tmp.write_text(latex_table(table, stem), encoding="utf-8")
        written.append(path)
    index = directory / "tables.tex"
    with atomic_path(index) as tmp:
        tmp.write_text(
            "% The report's tables; needs \\usepackage{booktabs}.\n"
            + "".join(f"\\input{{{p.stem}}}\n" for p in written),
            encoding="utf-8",
        )
    return [*written, index]


# ---------------------------------------------------------------- Word
def write_docx(page: Page, path: Path, figures: list[Path] | None = None) -> Path:
    """The report as a Word document: its title, each section's reading, APA-style tables
    (caption above, rules above and below the header and at the foot, no vertical lines) and
    the figures as PNGs (``figures``: the files :func:`write_figures` wrote in PNG; drawn here
    when not given)."""
    from docx import Document
    from docx.shared import Inches, Pt

    with tempfile.TemporaryDirectory() as scratch:
        if figures is None or any(p.suffix != ".png" for p in figures):
            figures = write_figures(page, Path(scratch), "png")
        pictures = iter(figures)
        document = Document()
        style = document.styles["Normal"]
        style.font.name = "Times New Roman"
        style.font.size = Pt(11)
        document.add_heading(page.title, level=0)
        document.add_paragraph(page.subtitle)
        for section in numbered(page.sections):
            document.add_heading(section.title, level=1)
            document.add_paragraph(section.reading)
            for part in section.parts:
                if isinstance(part, Table):
                    _docx_table(document, part)
                elif isinstance(part, Figure):
                    document.add_picture(str(next(pictures)), width=Inches(6.3))
                elif isinstance(part, Note):
                    note = document.add_paragraph(part.text)
                    note.runs[0].font.size = Pt(9)
        with atomic_path(path) as tmp:
            document.save(str(tmp))
    return path


def _docx_table(document: object, table: Table) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    header, rows, numeric = _cells(table)
    number, _, rest = table.caption.partition(". ")
    caption = document.add_paragraph()  # type: ignore[attr-defined]
    caption.add_run(number).bold = True
    caption.add_run("\n" + rest).italic = True
    grid = document.add_table(rows=1 + len(rows), cols=len(header))  # type: ignore[attr-defined]
    for r, values in enumerate([header, *rows]):
        for c, text in enumerate(values):
            cell = grid.cell(r, c)
            cell.text = text
            paragraph = cell.paragraphs[0]
            if numeric[c] and c > 0:
                paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            for run in paragraph.runs:
                run.font.size = Pt(9)
                run.bold = r == 0
    _apa_rules(grid, len(rows))
    _column_widths(grid, [header, *rows])
    document.add_paragraph()  # type: ignore[attr-defined]


TEXT_WIDTH_INCHES = 6.5  # a page's text width with Word's default margins
PAD_INCHES = 0.16  # a cell's two margins
SHORT_CELL = 12  # characters: columns no wider keep their width; longer text wraps


def _column_widths(grid: object, cells: list[list[str]]) -> None:
    """Columns of numbers and short words as wide as their longest cell; columns of longer
    text share the rest of the page's width in proportion, and wrap: a column of sentences is
    not squeezed to a word, nor a number broken over lines. A table too wide for the page at
    9 points is set at 8, and then fitted to the page."""
    from docx.shared import Inches, Pt

    longest = [max(len(text) for text in column) for column in zip(*cells, strict=True)]
    short = [n <= SHORT_CELL for n in longest]

    def widths(char: float) -> list[float]:
        need = [char * n + PAD_INCHES for n in longest]
        room = TEXT_WIDTH_INCHES - sum(w for w, s in zip(need, short, strict=True) if s)
        flexible = sum(n for n, s in zip(longest, short, strict=True) if not s)
        floor = char * SHORT_CELL + PAD_INCHES
        if sum(need) <= TEXT_WIDTH_INCHES:
            return need
        return [
            w if s else max(floor, room * n / flexible)
            for w, n, s in zip(need, longest, short, strict=True)
        ]

    chosen, size = widths(0.065), 9  # a digit at 9 points, in inches
    if sum(chosen) > TEXT_WIDTH_INCHES:
        chosen, size = widths(0.058), 8
    fit = min(1.0, TEXT_WIDTH_INCHES / sum(chosen))
    grid.autofit = False  # type: ignore[attr-defined]
    # the grid's columns (LibreOffice reads these) and every cell (Word reads those)
    for column, width in zip(grid.columns, chosen, strict=True):  # type: ignore[attr-defined]
        column.width = Inches(width * fit)
    for row in grid.rows:  # type: ignore[attr-defined]
        for cell, width in zip(row.cells, chosen, strict=True):
            cell.width = Inches(width * fit)
            if size != 9:
                for run in cell.paragraphs[0].runs:
                    run.font.size = Pt(size)


def _apa_rules(grid: object, body_rows: int) -> None:
    """APA's rules: above and below the header row and below the last row, nothing else."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    def border(cell: object, edge: str) -> None:
        properties = cell._tc.get_or_add_tcPr()  # type: ignore[attr-defined]
        borders = properties.find(qn("w:tcBorders"))
        if borders is None:
            borders = OxmlElement("w:tcBorders")
            properties.append(borders)
        line = OxmlElement(f"w:{edge}")
        line.set(qn("w:val"), "single")
        line.set(qn("w:sz"), "8")
        borders.append(line)

    rows = grid.rows  # type: ignore[attr-defined]
    for cell in rows[0].cells:
        border(cell, "top")
        border(cell, "bottom")
    for cell in rows[body_rows].cells:
        border(cell, "bottom")


def write_paper(
    page: Page,
    figures: Path | None = None,
    figure_format: str = "png",
    docx: Path | None = None,
    latex: Path | None = None,
    say: Callable[[str], None] | None = None,
) -> list[Path]:
    """The paper's outputs asked for: figures in ``figures``, the Word document ``docx``, the
    LaTeX tables in ``latex``; ``say`` is told each step. Returns the files written."""
    tell = say or (lambda _message: None)
    written: list[Path] = []
    drawn: list[Path] | None = None
    if figures is not None:
        tell(f"drawing the figures as {figure_format.upper()} in {figures}")
        drawn = write_figures(page, figures, figure_format)
        written += drawn
    if docx is not None:
        tell(f"writing the tables and figures to {docx}")
        written.append(write_docx(page, docx, drawn if figure_format == "png" else None))
    if latex is not None:
        tell(f"writing the tables as LaTeX in {latex}")
        written += write_latex(page, latex)
    return written
