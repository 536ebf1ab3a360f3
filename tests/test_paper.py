"""What leaves the report for a paper: static figures (kaleido in Debian's chromium), a Word
document whose tables are read back and held to the JSON, and booktabs LaTeX."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import alliance
from analysis.describe import item_descriptives
from reports.html import Note, Page, Section, Table
from reports.paper import latex_escape, latex_table, write_figures

from .conftest import run_cli


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return alliance.simulate(tmp_path_factory.mktemp("paper") / "export.csv", n=300, seed=4)


def _captions(html: str) -> list[str]:
    return re.findall(r"<caption>(Table [^<]*)</caption>", html)


def test_latex_has_every_table_of_the_page_in_booktabs(export: Path, tmp_path: Path) -> None:
    page = alliance.report(export, tmp_path / "r.html", latex=tmp_path / "tex")
    captions = _captions(page.read_text())
    written = sorted((tmp_path / "tex").glob("table[0-9]*.tex"))
    assert len(written) == len(captions) > 10
    index = (tmp_path / "tex" / "tables.tex").read_text()
    assert index.count("\\input{") == len(captions)
    first = written[0].read_text()
    assert first.count("\\toprule") == first.count("\\midrule") == first.count("\\bottomrule") == 1
    assert "|" not in first.split("\\begin{tabular}")[1].split("}")[0]  # no vertical rules
    # the reliability table's alpha is the JSON's, to its three decimals
    doc = json.loads(run_cli("validate", str(export), "--json").stdout)
    alpha = doc["reliability"]["bond"]["alpha"]
    reliability = next(p for p in written if "Reliability per subscale" in p.read_text())
    assert re.search(rf"bond & {alpha:.3f} &", reliability.read_text())


def test_latex_escapes_what_latex_would_read_as_commands() -> None:
    assert latex_escape("50% of a_b & {c} #1 $x ~ ^") == (
        r"50\% of a\_b \& \{c\} \#1 \$x \textasciitilde{} \textasciicircum{}"
    )
    import pandas as pd

    frame = pd.DataFrame(
        {"n_patients": [12.0], "share": [0.5]}, index=pd.Index(["S_1"], name="site")
    )
    text = latex_table(Table(frame, "Table 2. Sites & shares"), "table002")
    assert "site & patients & share \\\\" in text
    assert "S\\_1 & 12 & 0.500 \\\\" in text  # counts whole, shares to 3 decimals
    assert "\\caption{Table 2. Sites \\& shares}" in text


@pytest.mark.browser
def test_word_tables_equal_the_json_and_figures_are_drawn(export: Path, tmp_path: Path) -> None:
    from docx import Document

    page = alliance.report(
        export, tmp_path / "r.html", figures=tmp_path / "figs", docx=tmp_path / "paper.docx"
    )
    html = page.read_text()
    figures = sorted((tmp_path / "figs").glob("*.png"))
    assert len(figures) == html.count('class="plotly-graph-div"') > 5
    assert all(f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for f in figures)

    document = Document(str(tmp_path / "paper.docx"))
    assert len(document.inline_shapes) == len(figures)
    tables = document.tables
    assert len(tables) == len(_captions(html))
    captions = [p.text for p in document.paragraphs if re.match(r"Table \d+[a-z]?\n", p.text)]
    assert len(captions) == len(tables)

    def table(words: str) -> list[list[str]]:
        k = next(i for i, c in enumerate(captions) if words in c)
        return [[cell.text for cell in row.cells] for row in tables[k].rows]

    doc = json.loads(run_cli("validate", str(export), "--json").stdout)
    reliability = table("Reliability per subscale")
    assert reliability[0][:2] == ["subscale", "alpha"]
    for row in reliability[1:]:
        assert row[1] == f"{doc['reliability'][row[0]]['alpha']:.3f}"
    fit = table("Competing CFA models")
    cfi = fit[0].index("CFI")
    grid = tables[next(i for i, c in enumerate(captions) if "Competing CFA models" in c)]
    widths = [column.width for column in grid.columns]
    assert widths[-1] > 2 * widths[cfi]  # the verdicts' sentences get room; the numbers theirs
    assert sum(widths) <= 6.51 * 914_400  # on the page, to rounding (EMU per inch)
    for row in fit[1:]:
        assert row[cfi] == f"{doc['models'][row[0]]['cfi']:.3f}"
    descriptives = table("Item descriptives")
    read = alliance.read(export)
    expected = item_descriptives(
        read.data, read.read_result.instrument, list(read.checked.export.items)
    )
    assert [r[0] for r in descriptives[1:]] == list(expected.index)
    n = descriptives[0].index("n")
    assert [int(r[n].replace(",", "")) for r in descriptives[1:]] == expected["n"].tolist()
    loadings = table("EFA loadings")
    assert loadings[0][-2:] == ["h2", "u2"]
    h2 = doc["efa"]["communalities"]
    assert all(row[-2] == f"{h2[row[0]]:.2f}" for row in loadings[1:])


@pytest.mark.browser
@pytest.mark.parametrize("fmt", ["svg", "pdf"])
def test_vector_figures(fmt: str, tmp_path: Path) -> None:
    import plotly.graph_objects as go

    section = Section("one", "1. One", "reading")
    section.figure(go.Figure(go.Bar(x=["a", "b"], y=[1, 2])))
    section.parts.append(Note("a note is not a figure"))
    paths = write_figures(Page("t", "s", [section]), tmp_path / "f", fmt)
    assert [p.name for p in paths] == [f"fig01-one-1.{fmt}"]
    head = paths[0].read_bytes()[:5]
    assert head == (b"%PDF-" if fmt == "pdf" else b"<svg ")


def test_an_unknown_figure_format_is_named(export: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'figure_format' must be one of 'png', 'svg', 'pdf'"):
        alliance.report(export, tmp_path / "r.html", figure_format="gif")
    done = run_cli("report", str(export), "-o", str(tmp_path / "r.html"), "--figure-format", "gif")
    assert done.returncode == 2 and "'gif' is not one of 'png', 'svg', 'pdf'" in done.stderr


def test_cells_read_the_same_in_every_output() -> None:
    from reports.html import cell_text

    shown = [cell_text(v, digits=2)[0] for v in (-0.001, -0.006, 1234.5, True, None, "a")]
    assert shown == ["0.00", "-0.01", "1,234.50", "yes", "", "a"]
    assert cell_text(12.0, count=True) == ("12", True)
