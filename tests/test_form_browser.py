"""The printable form in a real browser with JavaScript off: labels select their answers,
the keyboard moves within an item, every item is a named group, and it prints."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from instrument import Instrument
from instrument.exports import export

from .conftest import run_cli

if TYPE_CHECKING:  # Playwright is imported by the browser fixture, when a test uses it
    from playwright.sync_api import Browser


def open_form(browser: Browser, tmp_path: Path, html: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "form.html"
    path.write_text(html, encoding="utf-8")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(path.as_uri())
    return page, errors


def test_clicking_a_label_answers_that_item_only(
    browser: Browser, tmp_path: Path, bank: Instrument
) -> None:
    form = bank.form("patient-short")
    page, errors = open_form(browser, tmp_path, export(bank, "html", form.name))
    for k, item_id in enumerate(form.items):
        code = 1 + k % 5
        page.click(f"label[for='{item_id}-{code}']")
    for k, item_id in enumerate(form.items):
        checked = page.locator(f"input[name='{item_id}']:checked")
        assert checked.count() == 1
        assert checked.get_attribute("value") == str(1 + k % 5)
    assert errors == []


def test_arrow_keys_move_within_one_item(
    browser: Browser, tmp_path: Path, bank: Instrument
) -> None:
    page, _ = open_form(browser, tmp_path, export(bank, "html", "patient-short"))
    page.focus("#pb01-1")
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert page.locator("input[name='pb01']:checked").get_attribute("value") == "3"
    assert page.locator("input[name='pb03']:checked").count() == 0


def test_every_item_is_a_group_named_by_its_wording(
    browser: Browser, tmp_path: Path, bank: Instrument
) -> None:
    form = bank.form("trust")
    page, _ = open_form(browser, tmp_path, export(bank, "html", form.name))
    for number, item_id in enumerate(form.items, start=1):
        group = page.get_by_role("group", name=f"{number}. {bank.item(item_id).text}", exact=True)
        assert group.count() == 1
        assert group.get_by_role("radio").count() == 5
        assert group.get_by_role("radio", name="Strongly agree").count() == 1


def test_the_form_prints_to_a_few_pages(browser: Browser, tmp_path: Path, bank: Instrument) -> None:
    page, _ = open_form(browser, tmp_path, export(bank, "html", "patient-full"))
    page.emulate_media(media="print")
    assert page.locator("button").count() == 0 or not page.locator("button").first.is_visible()
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    assert 3 <= pages <= 12


def test_the_form_has_nothing_that_posts_or_erases_the_answers(
    browser: Browser, tmp_path: Path, bank: Instrument
) -> None:
    page, errors = open_form(browser, tmp_path, export(bank, "html", "patient-short"))
    assert page.locator("form").count() == 0
    assert page.locator("button, input[type=submit], input[type=reset]").count() == 0 or all(
        b.get_attribute("type") == "button" for b in page.locator("button").all()
    )
    page.click("label[for='pb01-4']")
    page.keyboard.press("Enter")
    assert page.locator("input[name='pb01']:checked").get_attribute("value") == "4"
    assert errors == []


def test_the_answers_saved_as_csv_are_read_and_scored(
    browser: Browser, tmp_path: Path, bank: Instrument
) -> None:
    """With JavaScript, the form saves its answers as a CSV that `alliance score` reads."""
    form = bank.form("patient-short")
    path = tmp_path / "form.html"
    path.write_text(export(bank, "html", form.name), encoding="utf-8")
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(path.as_uri())
    page.fill("#respondent_id", "=P-017")
    page.fill("#session", "2")
    page.fill("#visit_date", "2026-11-30")
    page.fill("#clinician_id", "C04")
    codes = {item_id: 2 + k % 4 for k, item_id in enumerate(form.items)}
    for item_id, code in list(codes.items())[:-1]:  # the last item left unanswered
        page.click(f"label[for='{item_id}-{code}']")
    with page.expect_download() as download:
        page.click("#save-button")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "answers-=P-017.csv"
    assert page.locator("#saved").inner_text() == (
        f"Saved {len(codes) - 1} of {len(codes)} answers; the page keeps them."
    )
    assert page.locator(f"input[name='{form.items[0]}']:checked").count() == 1
    assert errors == []
    out = tmp_path / "scores.csv"
    done = run_cli("score", str(saved), "-o", str(out))
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out, dtype=str)
    assert table.loc[0, "respondent_id"] == "'=P-017"  # kept as text, never a formula
    assert table.loc[0, "session"] == "2" and table.loc[0, "clinician_id"] == "C04"
    answered = pd.read_csv(saved, dtype=str).iloc[0]
    assert {i: int(answered[i]) for i in list(codes)[:-1]} == dict(list(codes.items())[:-1])
    assert pd.isna(answered[form.items[-1]])
