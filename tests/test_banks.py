"""The built-in banks: the counts and fields the instrument promises."""

from __future__ import annotations

from collections import Counter

import pytest

from instrument import Instrument

PILLARS = ("bond", "goals", "tasks")
TRUST = ("affective", "rational", "fidelity")


def test_every_item_has_every_field(bank: Instrument) -> None:
    for item in bank.items:
        assert item.text.strip(), item.id
        assert item.rationale.strip(), item.id
        assert item.keying in ("+", "-")
        assert item.scale in bank.scales
        assert item.perspective in ("patient", "clinician")
        assert item.construct == bank.subscales[item.subscale].construct


@pytest.mark.parametrize("perspective", ["patient", "clinician"])
def test_each_pillar_has_at_least_eight_items_per_rater(bank: Instrument, perspective: str) -> None:
    counts = Counter(i.subscale for i in bank.items if i.perspective == perspective)
    for pillar in PILLARS:
        assert counts[pillar] >= 8


def test_trust_competence_and_reliability_counts(bank: Instrument) -> None:
    counts = Counter(i.subscale for i in bank.items)
    for sub in TRUST:
        assert counts[sub] >= 4
        assert bank.subscales[sub].construct == "trust"
    assert counts["competence"] >= 3 and bank.subscales["competence"].construct == "competence"
    assert counts["reliability"] >= 3 and bank.subscales["reliability"].construct == "reliability"


def test_clinician_form_mirrors_patient_form_one_to_one(bank: Instrument) -> None:
    clinician = [i for i in bank.items if i.perspective == "clinician"]
    patient_alliance = {
        i.id for i in bank.items if i.perspective == "patient" and i.construct == "alliance"
    }
    twins = [i.parallel for i in clinician]
    assert sorted(twins) == sorted(patient_alliance)  # every patient item mirrored exactly once
    for item in clinician:
        twin = bank.item(item.parallel or "")
        assert (twin.subscale, twin.keying) == (item.subscale, item.keying)


def test_some_items_are_reverse_keyed_in_every_pillar(bank: Instrument) -> None:
    for pillar in PILLARS:
        reverse = [i for i in bank.items if i.subscale == pillar and i.reverse]
        forward = [i for i in bank.items if i.subscale == pillar and not i.reverse]
        assert 1 <= len(reverse) < len(forward)


def test_short_form_has_four_items_per_pillar_from_the_bank(bank: Instrument) -> None:
    for name, perspective in (("patient-short", "patient"), ("clinician-short", "clinician")):
        form = bank.form(name)
        assert len(form.items) == 12 and form.perspective == perspective
        assert Counter(bank.item(i).subscale for i in form.items) == dict.fromkeys(PILLARS, 4)
        full = set(bank.form(perspective).items)
        assert set(form.items) <= full


def test_clinician_short_form_is_the_parallel_of_the_patient_short_form(bank: Instrument) -> None:
    mirrored = [bank.item(i).parallel for i in bank.form("clinician-short").items]
    assert mirrored == list(bank.form("patient-short").items)


def test_response_scales_label_every_point(bank: Instrument) -> None:
    freq = bank.scales["frequency5"]
    assert freq.points == (
        (1, "Never"),
        (2, "Rarely"),
        (3, "Sometimes"),
        (4, "Often"),
        (5, "Always"),
    )
    for scale in bank.scales.values():
        assert scale.codes == tuple(range(scale.minimum, scale.maximum + 1))
        assert all(label.strip() for label in scale.labels)
    assert {s.n_points for s in bank.scales.values()} == {5, 7}


def test_scale_labels_are_matched_without_regard_to_case_or_spacing(bank: Instrument) -> None:
    agree = bank.scales["agreement5"]
    assert agree.code_of("  strongly   AGREE ") == 5
    assert agree.code_of("Agree") == 4
    assert agree.code_of("maybe") is None
    with pytest.raises(ValueError, match="'code' must be one of 1, 2, 3, 4, 5"):
        agree.label_of(9)


def test_item_wording_is_unique(bank: Instrument) -> None:
    texts = [i.text.casefold() for i in bank.items]
    assert len(set(texts)) == len(texts)


def test_unknown_form_names_the_known_ones(bank: Instrument) -> None:
    with pytest.raises(ValueError, match=r"'form' must be one of 'patient', .*; got 'patients'"):
        bank.form("patients")


def test_libyaml_reads_each_bank_as_the_bounded_loader_does() -> None:
    """The banks are read by libyaml (fast, for the toolkit's own files only): each gives what
    the bounded loader every user's file goes through gives, and a repeated key is refused by
    both."""
    from importlib import resources

    from instrument.loader import BUILTIN_FILES
    from instrument.yamlsafe import YamlLimitError, load_yaml

    for name in BUILTIN_FILES:
        text = (resources.files("instrument") / "banks" / name).read_text(encoding="utf-8")
        assert load_yaml(text, own=True) == load_yaml(text)
    for own in (True, False):
        with pytest.raises(YamlLimitError, match="repeated key 'a'"):
            load_yaml("a: 1\nb: 2\na: 3\n", own=own)
