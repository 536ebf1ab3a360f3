"""A malformed instrument file fails with one sentence naming file, item and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from instrument import BankError, load_instrument, load_instrument_file

from .conftest import run_cli

GOOD = """
instrument: {name: mine}
subscales:
  warmth: {construct: alliance}
items:
  - {id: w1, subscale: warmth, keying: "+", scale: frequency5}
  - {id: w2, subscale: warmth, keying: "-", scale: frequency5}
"""


def write(tmp_path: Path, text: str, name: str = "bank.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_good_file_loads(tmp_path: Path) -> None:
    inst = load_instrument_file(write(tmp_path, GOOD))
    assert inst.item_ids == ("w1", "w2")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            GOOD.replace("scale: frequency5}\n  - {id: w2", "scale: freq5}\n  - {id: w2"),
            "bank.yaml: item 'w1', field 'scale': unknown scale 'freq5'; known scales: "
            "'agreement5', 'agreement7', 'frequency5', 'frequency7'.",
        ),
        (
            GOOD.replace("id: w2", "id: w1"),
            "bank.yaml: item 'w1', field 'id': duplicate id (already defined in bank.yaml).",
        ),
        (
            GOOD.replace('keying: "-", ', ""),
            "bank.yaml: item 'w2', field 'keying': required field is missing.",
        ),
        (
            GOOD.replace('subscale: warmth, keying: "-"', 'keying: "-"'),
            "bank.yaml: item 'w2', field 'subscale': required field is missing.",
        ),
        (
            GOOD.replace('subscale: warmth, keying: "-"', 'subscale: coldness, keying: "-"'),
            "bank.yaml: item 'w2', field 'subscale': 'coldness' is not a declared subscale; "
            "declared: 'warmth'.",
        ),
        (
            GOOD.replace('keying: "-"', 'keying: "x"'),
            "bank.yaml: item 'w2', field 'keying': Input should be '+' or '-'; got 'x'.",
        ),
        (
            GOOD.replace("id: w2", "id: 2w"),
            "bank.yaml: item '2w', field 'id': String should match pattern",
        ),
        (
            GOOD.replace(
                "scale: frequency5}\n  - {id: w2", "scale: frequency5, colour: red}\n  - {id: w2"
            ),
            "bank.yaml: item 'w1', field 'colour': unknown field.",
        ),
        (
            GOOD + "forms:\n  f: {items: [w1, w9]}\n",
            "bank.yaml: form 'f', field 'items': unknown item 'w9'.",
        ),
        (
            GOOD + "scales:\n  odd: {points: {1: a, 3: b}}\n",
            "bank.yaml: scale 'odd', field 'points': Value error, codes must be consecutive",
        ),
        (
            GOOD.replace(
                "  warmth: {construct: alliance}",
                "  warmth: {construct: alliance}\n  empty: {construct: alliance}",
            ),
            "bank.yaml: subscale 'empty' has no items.",
        ),
        (
            GOOD.replace(
                "  warmth: {construct: alliance}",
                "  warmth: {construct: alliance}\n  warmth: {construct: trust}",
            ),
            "bank.yaml: not valid YAML: line 5, column 3: repeated key 'warmth'.",
        ),
        ("items: [", "bank.yaml: not valid YAML: line 1, column 9: expected the node content"),
        ("", "bank.yaml: the file is empty."),
        ("- just\n- a list\n", "bank.yaml: an instrument file must be a mapping"),
        ("subscales: {}\nitems: []\n", "bank.yaml: the instrument has no items."),
    ],
)
def test_malformed_bank_names_file_item_and_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(BankError) as info:
        load_instrument_file(write(tmp_path, text))
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_parallel_item_must_be_the_other_rater(tmp_path: Path) -> None:
    text = GOOD + '  - {id: w3, parallel: w1, subscale: warmth, keying: "+", scale: frequency5}\n'
    with pytest.raises(
        BankError,
        match=r"item 'w3', field 'parallel': 'w1' must be the same "
        r"subscale from the other perspective",
    ):
        load_instrument_file(write(tmp_path, text))


def test_a_form_cannot_mix_raters(tmp_path: Path) -> None:
    text = (
        GOOD + '  - {id: w3, subscale: warmth, keying: "+", scale: frequency5, '
        "perspective: clinician}\nforms:\n  f: {items: [w1, w3]}\n"
    )
    with pytest.raises(BankError, match="form 'f', field 'items': mixes patient and clinician"):
        load_instrument_file(write(tmp_path, text))


def test_missing_file_and_unknown_spec_are_clear(tmp_path: Path) -> None:
    with pytest.raises(BankError, match=r"nope\.yaml: no such file\."):
        load_instrument(tmp_path / "nope.yaml")
    with pytest.raises(
        BankError, match="'instrument' must be 'alliance', a YAML instrument file or a model string"
    ):
        load_instrument("wai-sr")


def test_cli_reports_a_malformed_bank_in_one_line_with_exit_code_2(tmp_path: Path) -> None:
    path = write(
        tmp_path, GOOD.replace("scale: frequency5}\n  - {id: w2", "scale: freq5}\n  - {id: w2")
    )
    result = run_cli("items", "--instrument", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "alliance: error: bank.yaml: item 'w1', field 'scale': unknown scale 'freq5'; known "
        "scales: 'agreement5', 'agreement7', 'frequency5', 'frequency7'."
    ]
