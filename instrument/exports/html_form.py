"""A printable, accessible HTML form: every radio button bound to its label, one fieldset and
legend per item, print styles that keep an item on one page.

It works without JavaScript, for printing and filling in on screen. With JavaScript, a button
saves the answers as a CSV in the layout `alliance check` and `alliance score` read
(respondent_id, session, date, clinician_id, then one column per item, its code), in the
browser: nothing is sent anywhere, and nothing on the page posts or erases the answers."""

from __future__ import annotations

import json
from html import escape

from ..model import Instrument
from .layout import form_heading, item_label, layout, part_heading

_STYLE = """
body { font: 16px/1.45 system-ui, sans-serif; color: #111; max-width: 50rem; margin: 2rem auto;
       padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
.prompt { font-style: italic; }
.colophon { color: #555; font-size: .85rem; margin-top: 2rem; }
fieldset { border: 1px solid #999; border-radius: 4px; margin: 0 0 .8rem; padding: .5rem .8rem; }
legend { font-weight: 600; padding: 0 .3rem; }
.options { display: flex; flex-wrap: wrap; gap: .3rem 1.2rem; }
.options label { display: inline-flex; align-items: center; gap: .3rem; cursor: pointer; }
input[type=radio] { width: 1.1rem; height: 1.1rem; }
input:focus-visible { outline: 3px solid #1a5fb4; outline-offset: 2px; }
.visit label { display: block; margin: .4rem 0; }
.save { margin-top: 1.5rem; }
.save button { font: inherit; padding: .4rem 1rem; }
@media print {
  body { margin: 0; max-width: none; font-size: 12pt; }
  fieldset { break-inside: avoid; page-break-inside: avoid; }
  h2 { break-after: avoid; page-break-after: avoid; }
  button, .save { display: none; }
}
""".strip()


# A CSV cell as the pages that save answers write it (this form and the adaptive page): a
# value a spreadsheet would run as a formula is kept as text behind an apostrophe.
CSV_CELL_SCRIPT = r"""
function csvCell(text) {
  const s = String(text);
  const safe = /^[=+\-@\t\r]/.test(s) ? "'" + s : s;
  return /[",\n\r]/.test(safe) ? '"' + safe.replace(/"/g, '""') + '"' : safe;
}
""".strip()

_SCRIPT = """
function value(id) { return document.getElementById(id).value.trim(); }
function answers() {
  const header = ["respondent_id", "session", "date", "clinician_id", ...ITEMS];
  const row = [value("respondent_id"), value("session"), value("visit_date"),
               value("clinician_id")];
  for (const id of ITEMS) {
    const chosen = document.querySelector('input[name="' + CSS.escape(id) + '"]:checked');
    row.push(chosen ? chosen.value : "");
  }
  const text = header.map(csvCell).join(",") + "\\r\\n" + row.map(csvCell).join(",") + "\\r\\n";
  return { text: text, answered: row.slice(4).filter(v => v !== "").length };
}
document.getElementById("save").hidden = false;
document.getElementById("save-button").addEventListener("click", () => {
  const { text, answered } = answers();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  link.download = "answers-" + (value("respondent_id") || "patient") + ".csv";
  document.body.appendChild(link);
  link.click();
  link.remove();
  document.getElementById("saved").textContent =
    "Saved " + answered + " of " + ITEMS.length + " answers; the page keeps them.";
});
""".strip()


def _json_list(values: list[str]) -> str:
    """A JSON array safe inside a <script> element (no '</' can close it)."""
    return json.dumps(values).replace("</", "<\\/")


def page_start(title: str, style: str) -> list[str]:
    """The lines that open a standalone page: doctype, head with its style, and the heading."""
    return [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>\n{style}\n</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{escape(title)}</h1>",
    ]


def to_html(instrument: Instrument, form: str | None = None) -> str:
    if form is not None:
        f = instrument.form(form)
        title = form_heading(f.perspective)
        colophon = f"Form '{f.name}'" + (f": {f.label}" if f.label else "")
    else:
        title = f"{instrument.name} item bank"
        colophon = "Every item of the bank"
    colophon += f" - {instrument.name} {instrument.version}"
    e = escape
    blocks = layout(instrument, form)
    out = [
        *page_start(title, _STYLE),
    ]
    out += [
        # Not a <form>: nothing here posts anywhere, so nothing can send the answers away or
        # clear them; radios are grouped by their names.
        '<div id="answers">',
        '<fieldset class="visit">',
        "<legend>About this visit</legend>",
        '<label for="respondent_id">Patient (study id) <input type="text" id="respondent_id" '
        'name="respondent_id" autocomplete="off"></label>',
        '<label for="session">Session number <input type="number" id="session" '
        'name="session" min="1" step="1"></label>',
        '<label for="visit_date">Date of visit <input type="date" id="visit_date" '
        'name="visit_date"></label>',
        '<label for="clinician_id">Clinician <input type="text" id="clinician_id" '
        'name="clinician_id" autocomplete="off"></label>',
        "</fieldset>",
    ]
    number = 0
    for index, block in enumerate(blocks, start=1):
        heading = f"h-{block.key}"
        out += [
            f'<section aria-labelledby="{heading}" data-subscale="{e(block.subscale)}">',
            f'<h2 id="{heading}">{e(part_heading(index, len(blocks)))}</h2>',
            f'<p class="prompt">{e(block.prompt)}</p>',
        ]
        for item in block.items:
            number += 1
            legend = f"q-{item.id}"
            out += [
                f'<fieldset id="item-{e(item.id)}" aria-labelledby="{legend}">',
                f'<legend id="{legend}">{number}. {e(item_label(item))}</legend>',
                '<div class="options">',
            ]
            for code, text in block.scale.points:
                control = f"{item.id}-{code}"
                out.append(
                    f'<label for="{e(control)}"><input type="radio" id="{e(control)}" '
                    f'name="{e(item.id)}" value="{code}"> {e(text)}</label>'
                )
            out += ["</div>", "</fieldset>"]
        out.append("</section>")
    items = [item.id for block in blocks for item in block.items]
    out += [
        "</div>",
        '<div class="save" id="save" hidden>',
        '<p><button type="button" id="save-button">Save the answers (CSV)</button></p>',
        '<p id="saved" role="status"></p>',
        "</div>",
        f"<script>\nconst ITEMS = {_json_list(items)};\n{CSV_CELL_SCRIPT}\n{_SCRIPT}\n</script>",
        "</main>",
        f'<footer><p class="colophon">{e(colophon)}</p></footer>',
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(out)
