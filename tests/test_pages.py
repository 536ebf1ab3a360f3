"""What every page's tables do, without a browser: numbered in the order shown, headed in
words, counts as whole numbers."""

from __future__ import annotations

import re

import pandas as pd

from reports.html import Section, assemble, header_words, html_table


def _section(key: str, *captions: str) -> Section:
    s = Section(key, key, "reading")
    for caption in captions:
        s.table(pd.DataFrame({"x": [1.5]}, index=["a"]), caption)
    return s


def test_tables_are_numbered_in_the_order_the_page_shows_them() -> None:
    """Sections come and go (no findings, no invariance), and a later section may be drawn
    before an earlier number: the page still counts 1, 2, 3, keeping the letters."""
    page = assemble(
        "t",
        "s",
        [
            _section("one", "Table 1. Rows"),
            _section("ruptures", "Table 14a. Alerts", "Table 14b. Sessions"),
            _section("rule", "Table 8. Minimums"),
            _section("invariance", "Table 13. Sequence"),
        ],
    )
    captions = re.findall(r"<caption>(Table [^.]+)\.", page)
    assert captions == ["Table 1", "Table 2a", "Table 2b", "Table 3", "Table 4"]


def test_headers_in_words_and_counts_whole() -> None:
    assert header_words("n_patients") == "patients"
    assert header_words("ruptures_per_100_sessions") == "ruptures per 100 sessions"
    frame = pd.DataFrame({"n_patients": [30.096], "mean": [30.096]}, index=["C01"])
    html = html_table(frame, "Table 1. Groups")
    assert '<th class="num">patients</th>' in html
    assert '<td class="num">30</td>' in html and '<td class="num">30.096</td>' in html


def test_patients_a_group_needs_are_whole_patients() -> None:
    """The benchmark's 'patients for .70' is a Spearman-Brown count: a page rounds it up."""
    from reports.benchmark_report import _whole_patients

    assert _whole_patients(78.833) == 79
    assert _whole_patients(79.0) == 79
    assert _whole_patients(float("inf")) == "never"
    assert _whole_patients(float("nan")) is None
