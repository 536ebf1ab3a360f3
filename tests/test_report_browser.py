"""The report as a person sees it, in Debian's chromium: every figure drawn, no page errors,
working contents links, nothing fetched from the network, and user text shown, never run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from analysis.simulate import simulate, write_export
from instrument import Instrument

from .conftest import open_report, run_cli

if TYPE_CHECKING:  # Playwright is imported by the browser fixture, when a test uses it
    from playwright.sync_api import Browser, Page

EVIL = "<script>window.__pwned = 1</script>"


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory, bank: Instrument) -> Path:
    folder = tmp_path_factory.mktemp("report")
    sim = simulate(bank, 400, clinicians=6, sessions=2, seed=17)
    data = sim.data.copy()
    data.loc[data["clinician_id"] == data["clinician_id"].iloc[0], "clinician_id"] = EVIL
    evil = type(sim)(data, sim.latent, sim.careless, sim.population, sim.form, sim.items)
    export = write_export(evil, bank, folder / "export.csv", "csv")
    out = folder / "report.html"
    result = run_cli("report", str(export), "--by", "clinician_id", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    assert "reading and checking" in result.stderr and "wrote" in result.stderr
    return out


@pytest.fixture(scope="module")
def page(browser: Browser, report_file: Path) -> Page:
    page = open_report(browser, report_file)
    return page


def test_no_page_errors_and_every_figure_drawn(page: Page) -> None:
    assert page.errors == []  # type: ignore[attr-defined]
    figures = page.locator(".plotly-graph-div")
    assert figures.count() >= 10
    drawn = page.evaluate(
        """Array.from(document.querySelectorAll('.plotly-graph-div')).map(d =>
            d.querySelectorAll('svg.main-svg').length > 0
            && d.querySelectorAll('path.point, g.points path, image').length > 0)"""
    )
    assert all(drawn), f"figures not drawn: {[k for k, ok in enumerate(drawn) if not ok]}"


def test_contents_links_reach_their_sections(page: Page) -> None:
    links = page.locator("nav a")
    assert links.count() == 7
    for k in range(links.count()):
        target = links.nth(k).get_attribute("href")
        assert target is not None and target.startswith("#")
        assert page.locator(target).count() == 1
    page.click("nav a[href='#rule']")
    assert page.evaluate("location.hash") == "#rule"


def test_works_offline_with_nothing_fetched(page: Page, report_file: Path) -> None:
    html = report_file.read_text(encoding="utf-8")
    assert html.count("plotly.js v") == 1  # the library is inlined once
    assert all(url.startswith("file:") for url in page.requests)  # type: ignore[attr-defined]
    assert report_file.stat().st_size < 6 * 2**20


def test_a_clinic_name_with_script_shows_as_text_and_runs_nothing(page: Page) -> None:
    assert page.evaluate("window.__pwned") is None
    table_text = page.locator("#groups table").inner_text()
    assert EVIL in table_text
    assert page.locator("script:text('__pwned')").count() == 0


def test_report_sections_and_readings(page: Page) -> None:
    for key in ("data", "items", "reliability", "structure", "rule", "groups", "ruptures"):
        section = page.locator(f"section#{key}")
        assert section.count() == 1
        assert len(section.locator(".reading").inner_text()) > 80
    rule = page.locator("section#rule").inner_text()
    assert "PDRQ-9 cut-off" in rule and "masked ruptures" in rule
    # Two sessions per patient: the alerts over sessions, drawn (two session numbers, three
    # pillars and any pillar) and counted in the text as in the table.
    ruptures = page.locator("section#ruptures")
    assert ruptures.locator(".plotly-graph-div g.scatterlayer .trace").count() == 4
    total = int(re.search(r"([\d,]+) rupture alerts were raised", ruptures.inner_text())[1])
    cells = ruptures.locator("table").first.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert total == sum(int(c.replace(",", "")) for c in cells) > 0


def test_an_unknown_by_column_is_a_clear_error(report_file: Path, tmp_path: Path) -> None:
    export = report_file.parent / "export.csv"
    result = run_cli("report", str(export), "--by", "ward", "-o", str(tmp_path / "r.html"))
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith(
        "alliance: error: 'by' must be a column of the export"
    )
    assert not (tmp_path / "r.html").exists()


def test_the_invariance_section_shows_the_planted_item(
    browser: Browser, bank: Instrument, tmp_path: Path
) -> None:
    """A site whose patients answer pg03 lower than their alliance predicts: the section's
    table shows the scalar level failing and holding once pg03's intercept is freed, and its
    picture (drawn in chromium) shades pg03, whose marker for that site parts from the rest."""
    from analysis.simulate import Dif

    sim = simulate(
        bank,
        1500,
        form="patient",
        clinicians=24,
        sessions=1,
        seed=3,
        dif=(Dif("pg03", "site_id", "S01", intercept=-0.8),),
    )
    export = write_export(sim, bank, tmp_path / "export.csv", "csv")
    out = tmp_path / "report.html"
    result = run_cli("report", str(export), "--invariance", "site_id", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "testing measurement invariance across site_id" in result.stderr
    page = open_report(browser, out)
    assert page.errors == []  # type: ignore[attr-defined]
    section = page.locator("#invariance")
    assert "Measurement invariance across site_id" in section.inner_text()
    levels = section.locator("table tbody tr td:first-child").all_inner_texts()
    assert levels == ["configural", "metric", "scalar", "scalar (partial, 1 freed)", "strict"]
    figure = section.locator(".plotly-graph-div")
    assert figure.count() == 1
    assert figure.locator("g.points path").count() == 24 * 3  # 24 items in 3 sites
    assert figure.locator("rect, path").count() > 0
    assert "the intercept of item 'pg03'" in section.inner_text()
    assert "differs most in 'S01'" in section.inner_text()


def _scale_export(path: Path, points: int | None, seed: int = 2) -> None:
    """Two subscales of four items on a scale of ``points`` points (None: continuous)."""
    rng = np.random.default_rng(seed)
    n = 240
    trait = rng.normal(size=n)
    columns = {}
    for name in ("a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4"):
        if points is None:
            columns[name] = np.round(50 + 15 * trait + rng.normal(scale=10, size=n), 1)
        else:
            raw = (points + 1) / 2 + trait * points / 5 + rng.normal(scale=points / 6, size=n)
            columns[name] = np.clip(np.rint(raw), 1, points).astype(int)
    frame = pd.DataFrame(columns)
    frame.insert(0, "id", range(n))
    frame.to_csv(path, index=False)


@pytest.mark.parametrize("points", [4, 5, 7, 11, None])
def test_item_distributions_on_any_scale(browser: Browser, tmp_path: Path, points: int | None):  # type: ignore[no-untyped-def]
    """Odd scales have their neutral (grey) answer in the middle, even scales none; answers
    that take many values are box plots; the legend never covers the title."""
    export = tmp_path / "export.csv"
    _scale_export(export, points)
    model = "f =~ a1 + a2 + a3 + a4; g =~ b1 + b2 + b3 + b4"
    extra = ["--scale", f"1-{points}"] if points else []
    out = tmp_path / "report.html"
    done = run_cli("report", str(export), "--instrument", model, *extra, "-o", str(out))
    assert done.returncode == 0, done.stderr
    page = open_report(browser, out)
    assert page.errors == []  # type: ignore[attr-defined]
    figure = page.locator("section#items .plotly-graph-div").first
    traces = page.evaluate(
        "(d) => d.data.map(t => [t.type, t.name, t.marker.color])", figure.element_handle()
    )
    if points is None:
        assert [t[0] for t in traces] == ["box"]
        return
    bars = [(name, colour) for kind, name, colour in traces if kind == "bar"]
    assert [name for name, _ in bars] == [str(c) for c in _trace_order(points)]
    grey = {name for name, colour in bars if colour == "#d9d9d9"}
    assert grey == ({str((points + 1) // 2)} if points % 2 else set())
    overlap = page.evaluate(
        """(d) => { const t = d.querySelector('.gtitle').getBoundingClientRect();
                    const l = d.querySelector('.legend').getBoundingClientRect();
                    return t.left < l.right && l.left < t.right
                        && t.top < l.bottom && l.top < t.bottom; }""",
        figure.element_handle(),
    )
    assert not overlap


def _trace_order(points: int) -> list[int]:
    """The order the diverging bars are drawn in: the middle first (odd scales), then the
    lower codes moving out, the middle's other half, then the upper codes."""
    codes = list(range(1, points + 1))
    half = points // 2
    middle = [codes[half]] if points % 2 else []
    return middle + codes[:half][::-1] + middle + codes[(points + 1) // 2 :]
