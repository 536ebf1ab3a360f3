"""The printable form in a real browser with JavaScript off: labels select their answers,
the keyboard moves within an item, every item is a named group, and it prints."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser

from instrument import Instrument
from instrument.exports import export


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
    assert not page.locator("button[type=submit]").is_visible()
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    assert 3 <= pages <= 12
