"""Researchers' own instruments: a YAML file without wording, or a model string."""

from __future__ import annotations

from pathlib import Path

import pytest

from instrument import BankError, instrument_from_model, load_instrument

LICENSED = """
# A licensed questionnaire: ids, subscales, keying and scale; the wording stays with the licence.
instrument: {name: licensed, version: "2"}
scales:
  seven: {label: 1-7, points: {1: "1", 2: "2", 3: "3", 4: "4", 5: "5", 6: "6", 7: "7"}}
subscales:
  task: {construct: alliance}
  bond: {construct: alliance}
items:
  - {id: Q1, subscale: task, keying: "+", scale: seven}
  - {id: Q2, subscale: bond, keying: "+", scale: frequency7}
  - {id: Q3, subscale: task, keying: "-", scale: seven}
  - {id: Q4, subscale: bond, keying: "+", scale: frequency7}
"""


def test_licensed_questionnaire_loads_without_wording(tmp_path: Path) -> None:
    path = tmp_path / "licensed.yaml"
    path.write_text(LICENSED, encoding="utf-8")
    inst = load_instrument(path)
    assert (inst.name, inst.version) == ("licensed", "2")
    assert inst.subscale_items() == {"task": ["Q1", "Q3"], "bond": ["Q2", "Q4"]}
    assert inst.item("Q3").reverse and not inst.item("Q1").reverse
    assert inst.scale_of("Q1").maximum == 7  # type: ignore[union-attr]
    assert inst.scale_of("Q2").name == "frequency7"  # type: ignore[union-attr]  # built-in
    # Without declared forms every item of one rater makes the default form.
    assert list(inst.forms) == ["patient"] and inst.form("patient").items == inst.item_ids


def test_model_string_is_a_quick_instrument() -> None:
    inst = load_instrument("bond =~ b1 + b2 + b3\n goals =~ g1 + 0.8*g2 + g3; b1 ~~ g1")
    assert inst.subscale_items() == {"bond": ["b1", "b2", "b3"], "goals": ["g1", "g2", "g3"]}
    assert all(i.keying == "+" and i.scale is None for i in inst.items)
    assert inst.form("model").items == ("b1", "b2", "b3", "g1", "g2", "g3")


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("bond =~ b1 + b2\ngoals =- g1", "model: line 2, position 7: unknown operator '=-'"),
        ("b1 ~~ b2", "model: no measurement line"),
        ("f =~ a + b\nf =~ c", "model: line 2: factor 'f' is defined twice"),
        ("f =~ a + g\ng =~ c + d", "model: 'g' is used both as a factor and as an item"),
    ],
)
def test_model_string_errors(model: str, message: str) -> None:
    with pytest.raises(BankError) as info:
        instrument_from_model(model)
    assert str(info.value).startswith(message)


def test_an_item_on_several_factors_belongs_to_the_smallest() -> None:
    """A cross-loading or a general factor beside specific ones: each item gets one subscale,
    the factor with the fewest items it loads on; a general factor is not a subscale."""
    cross = instrument_from_model("f =~ a + b + c\ng =~ c + d")
    assert {i.id: i.subscale for i in cross.items} == {"a": "f", "b": "f", "c": "g", "d": "g"}
    general = instrument_from_model("g =~ a + b + c + d\ns1 =~ a + b\ns2 =~ c + d")
    assert list(general.subscales) == ["s1", "s2"]
    assert [i.subscale for i in general.items] == ["s1", "s1", "s2", "s2"]
