"""Each export's structure, field by field, as the receiving platform reads it."""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from instrument import Instrument, load_instrument
from instrument.exports import REDCAP_COLUMNS, export, qualtrics_columns

from .conftest import run_cli


# ---------------------------------------------------------------- json, csv, table
def test_json_lists_every_bank_with_its_counts(bank: Instrument) -> None:
    doc = json.loads(export(bank, "json"))
    counts = doc["counts"]["by_subscale"]
    assert counts == {
        "bond": 16,
        "goals": 16,
        "tasks": 16,
        "affective": 5,
        "rational": 5,
        "fidelity": 5,
        "competence": 4,
        "reliability": 4,
    }
    assert doc["n_items"] == len(doc["items"]) == 71
    assert doc["counts"]["by_perspective"] == {"patient": 47, "clinician": 24}
    assert doc["counts"]["by_construct"] == {
        "alliance": 48,
        "trust": 15,
        "competence": 4,
        "reliability": 4,
    }
    assert doc["counts"]["reverse_keyed"] == sum(i.reverse for i in bank.items)
    assert doc["forms"]["patient-short"]["n_items"] == 12
    assert doc["scales"]["frequency5"]["points"][0] == {"code": 1, "label": "Never"}
    first = doc["items"][0]
    assert set(first) == {
        "id",
        "form_position",
        "construct",
        "subscale",
        "keying",
        "reverse",
        "scale",
        "scale_min",
        "scale_max",
        "perspective",
        "parallel",
        "text",
        "rationale",
    }


def test_json_of_one_form_keeps_only_that_form(bank: Instrument) -> None:
    doc = json.loads(export(bank, "json", "patient-short"))
    assert doc["form"] == "patient-short" and list(doc["forms"]) == ["patient-short"]
    assert [i["id"] for i in doc["items"]] == list(bank.form("patient-short").items)
    assert doc["counts"]["by_subscale"] == {"bond": 4, "goals": 4, "tasks": 4}


def test_csv_has_one_row_per_item_in_form_order(bank: Instrument) -> None:
    rows = list(csv.DictReader(io.StringIO(export(bank, "csv", "trust"))))
    assert [r["id"] for r in rows] == list(bank.form("trust").items)
    ta05 = next(r for r in rows if r["id"] == "ta05")
    assert (ta05["keying"], ta05["reverse"], ta05["scale_min"], ta05["scale_max"]) == (
        "-",
        "True",
        "1",
        "5",
    )
    assert ta05["text"] == bank.item("ta05").text


def test_table_shows_every_item_of_a_form(bank: Instrument) -> None:
    text = export(bank, "table", "clinician-short")
    assert text.splitlines()[0].startswith("alliance 1.0 - form 'clinician-short'")
    for item_id in bank.form("clinician-short").items:
        assert re.search(rf"^{item_id}\s+\w+\s+[+-]\s+frequency5\s+clinician\s+\S", text, re.M)


def test_unknown_format_is_named(bank: Instrument) -> None:
    with pytest.raises(
        ValueError,
        match="'format' must be one of 'table', 'json', 'csv', "
        "'redcap', 'qualtrics', 'html', 'fhir'; got 'pdf'",
    ):
        export(bank, "pdf")


# ---------------------------------------------------------------- REDCap
def redcap(bank: Instrument, form: str | None) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(export(bank, "redcap", form)))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def test_redcap_dictionary_has_the_18_columns_in_order(bank: Instrument) -> None:
    header, _ = redcap(bank, "patient")
    assert header == list(REDCAP_COLUMNS)
    assert len(header) == 18


def test_redcap_first_row_is_the_record_id(bank: Instrument) -> None:
    _, rows = redcap(bank, "patient")
    first = rows[0]
    assert (first["Variable / Field Name"], first["Field Type"], first["Field Label"]) == (
        "record_id",
        "text",
        "Record ID",
    )
    assert rows[3]["Variable / Field Name"] == "visit_date"
    assert rows[3]["Text Validation Type OR Show Slider Number"] == "date_ymd"


def test_redcap_items_are_radio_fields_in_matrix_groups(bank: Instrument) -> None:
    _, rows = redcap(bank, "patient-full")
    items = rows[4:]
    assert [r["Variable / Field Name"] for r in items] == list(bank.form("patient-full").items)
    for row in rows:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", row["Variable / Field Name"])
        assert row["Form Name"] == "alliance_patient_full"
    groups: dict[str, list[dict[str, str]]] = {}
    for row in items:
        item = bank.item(row["Variable / Field Name"])
        assert row["Field Type"] == "radio"
        assert row["Field Label"] == item.text
        scale = bank.scale_of(item)
        assert scale is not None
        assert row["Choices, Calculations, OR Slider Labels"] == " | ".join(
            f"{c}, {label}" for c, label in scale.points
        )
        assert row["Matrix Group Name"] == item.subscale
        groups.setdefault(row["Matrix Group Name"], []).append(row)
    assert set(groups) == {
        "bond",
        "goals",
        "tasks",
        "affective",
        "rational",
        "fidelity",
        "competence",
        "reliability",
    }
    for members in groups.values():
        # REDCap requires one choice list per matrix; the header sits on the first field only.
        assert len({m["Choices, Calculations, OR Slider Labels"] for m in members}) == 1
        assert members[0]["Section Header"]
        assert all(m["Section Header"] == "" for m in members[1:])
    assert rows[4]["Choices, Calculations, OR Slider Labels"] == (
        "1, Never | 2, Rarely | 3, Sometimes | 4, Often | 5, Always"
    )


def test_redcap_whole_bank_splits_into_one_instrument_per_rater(bank: Instrument) -> None:
    _, rows = redcap(bank, None)
    forms = {r["Form Name"] for r in rows}
    assert forms == {"alliance_patient_rated", "alliance_clinician_rated"}
    names = [r["Variable / Field Name"] for r in rows]
    assert len(names) == len(set(names)) == 71 + 4
    groups = {r["Matrix Group Name"] for r in rows if r["Field Type"] == "radio"}
    assert {"bond", "bond_clinician"} <= groups


# ---------------------------------------------------------------- Qualtrics
def parse_advanced_format(text: str) -> list[dict[str, object]]:
    """Read back the parts of Advanced Format TXT we write: blocks, matrix questions, recodes."""
    questions: list[dict[str, object]] = []
    block = None
    mode = None
    pending: str | None = None
    for line in text.splitlines():
        if m := re.fullmatch(r"\[\[Block:(.+)\]\]", line):
            block = m.group(1)
        elif line == "[[Question:Matrix]]":
            questions.append(
                {"block": block, "id": None, "prompt": [], "choices": [], "answers": []}
            )
            mode = "prompt"
        elif m := re.fullmatch(r"\[\[ID:(.+)\]\]", line):
            questions[-1]["id"] = m.group(1)
        elif line == "[[AdvancedChoices]]":
            mode = "choices"
        elif line == "[[AdvancedAnswers]]":
            mode = "answers"
        elif m := re.fullmatch(r"\[\[(Choice|Answer):(\d+)\]\]", line):
            pending = m.group(2)
        elif line and questions and not line.startswith("[["):
            target = questions[-1][mode or "prompt"]
            assert isinstance(target, list)
            target.append((int(pending), line) if pending is not None else line)
            pending = None
    return questions


def test_qualtrics_advanced_format_structure(bank: Instrument) -> None:
    text = export(bank, "qualtrics", "patient-full")
    lines = text.splitlines()
    assert lines[0] == "[[AdvancedFormat]]"
    assert [ln for ln in lines if ln.startswith("[[ED:")] == [
        "[[ED:respondent_id]]",
        "[[ED:clinician_id]]",
        "[[ED:site_id]]",
        "[[ED:session]]",
    ]
    questions = parse_advanced_format(text)
    assert [q["id"] for q in questions] == [
        "bond",
        "goals",
        "tasks",
        "affective",
        "rational",
        "fidelity",
        "competence",
        "reliability",
    ]
    assert [q["block"] for q in questions][:3] == ["Bond", "Goals", "Tasks"]
    by_subscale = bank.subscale_items("patient-full")
    for q in questions:
        ids = by_subscale[str(q["id"])]
        assert q["choices"] == [(k, bank.item(i).text) for k, i in enumerate(ids, start=1)]
        scale = bank.scale_of(ids[0])
        assert scale is not None
        # Recode values equal the scale codes, so the export holds the scale's own numbers.
        assert q["answers"] == list(scale.points)
        assert q["prompt"] and isinstance(q["prompt"], list)


def test_qualtrics_column_names_follow_question_id_and_statement_recode(bank: Instrument) -> None:
    columns = qualtrics_columns(bank, "patient-short")
    assert list(columns)[:5] == ["bond_1", "bond_2", "bond_3", "bond_4", "goals_1"]
    assert list(columns.values()) == list(bank.form("patient-short").items)


def test_qualtrics_statement_text_stays_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "multi.yaml"
    path.write_text(
        'subscales: {s: {construct: c}}\nitems:\n  - id: a1\n    subscale: s\n    keying: "+"\n'
        '    scale: agreement5\n    text: "first line\\nsecond line"\n',
        encoding="utf-8",
    )
    questions = parse_advanced_format(export(load_instrument(path), "qualtrics"))
    assert questions[0]["choices"] == [(1, "first line second line")]


# ---------------------------------------------------------------- HTML form
class FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str]] = []
        self.labels_for: list[str] = []
        self.legends = 0
        self.fieldsets = 0
        self.scripts = 0
        self.html_lang = ""
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "input":
            self.inputs.append(a)
        elif tag == "label":
            self.labels_for.append(a.get("for", ""))
        elif tag == "legend":
            self.legends += 1
        elif tag == "fieldset":
            self.fieldsets += 1
        elif tag == "script":
            self.scripts += 1
        elif tag == "html":
            self.html_lang = a.get("lang", "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_form_binds_every_input_to_a_label(bank: Instrument) -> None:
    page = FormParser()
    page.feed(export(bank, "html", "patient-full"))
    # One script of ours (saving the answers as CSV); the form works without it.
    assert page.html_lang == "en" and page.scripts == 1
    ids = [i["id"] for i in page.inputs]
    assert len(ids) == len(set(ids))
    assert sorted(page.labels_for) == sorted(ids)  # one label per control, bound by for/id
    radios = [i for i in page.inputs if i["type"] == "radio"]
    form = bank.form("patient-full")
    assert sorted({r["name"] for r in radios}) == sorted(form.items)
    for item_id in form.items:
        scale = bank.scale_of(item_id)
        assert scale is not None
        values = [r["value"] for r in radios if r["name"] == item_id]
        assert values == [str(c) for c in scale.codes]
    assert page.fieldsets == page.legends == len(form.items) + 1  # + the visit fieldset
    text = " ".join(page.text)
    assert bank.item("pb01").text in text and "Sometimes" in text


def test_html_form_escapes_wording(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text(
        "subscales: {s: {construct: c}}\nitems:\n"
        '  - {id: a1, subscale: s, keying: "+", scale: agreement5, '
        'text: "<script>alert(1)</script> & more"}\n'
        'forms: {f: {label: "<b>F</b>", items: [a1]}}\n',
        encoding="utf-8",
    )
    html = export(load_instrument(path), "html", "f")
    assert html.count("<script>") == 1 and "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    assert "&lt;b&gt;F&lt;/b&gt;" in html


def test_respondents_see_neutral_headings_not_construct_names(bank: Instrument) -> None:
    html = export(bank, "html", "patient-full")
    headings = re.findall(r"<h[12][^>]*>(.*?)</h[12]>", html)
    assert headings == ["Your care with your clinician"] + [f"Part {k} of 8" for k in range(1, 9)]
    _, rows = redcap(bank, "patient-full")
    headers = [r["Section Header"] for r in rows if r["Section Header"]]
    assert headers[0].startswith("Part 1 of 8: Thinking of your care")
    for word in ("Bond", "Goals", "Tasks", "trust", "Competence"):
        assert not any(word in h for h in headings + headers)


def test_model_string_instrument_cannot_become_a_survey() -> None:
    inst = load_instrument("f =~ a + b + c")
    for fmt in ("redcap", "qualtrics", "html"):
        with pytest.raises(ValueError, match="item 'a' has no response scale"):
            export(inst, fmt)
    assert "a,1,model,f,+,False,,,,patient" in export(inst, "csv")


# ---------------------------------------------------------------- through the CLI
@pytest.mark.parametrize("fmt", ["table", "json", "csv", "redcap", "qualtrics", "html"])
def test_cli_items_writes_each_format(tmp_path: Path, bank: Instrument, fmt: str) -> None:
    out = tmp_path / f"items.{fmt}"
    result = run_cli("items", "--form", "patient-short", "--format", fmt, "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.strip() == f"wrote 12 items ({fmt}, patient-short) to {out}"
    assert out.read_text(encoding="utf-8") == export(bank, fmt, "patient-short")


def test_cli_items_json_on_stdout(bank: Instrument) -> None:
    result = run_cli("items", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["n_items"] == len(bank.items)
