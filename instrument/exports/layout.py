"""How a form is laid out for a respondent: consecutive items of one subscale and one response
scale form a block (a REDCap matrix group, a Qualtrics matrix question, an HTML section)."""

from __future__ import annotations

from dataclasses import dataclass

from ..loader import BankError
from ..model import Instrument, Item, Perspective, ResponseScale


@dataclass(frozen=True)
class Block:
    key: str  # unique within the form; a valid REDCap/Qualtrics identifier
    subscale: str
    title: str  # names the construct: for researchers (Qualtrics block names), not respondents
    prompt: str
    scale: ResponseScale
    items: tuple[Item, ...]


def prompt_for(scale: ResponseScale, perspective: Perspective) -> str:
    """The instruction above a block, worded for the rater and the kind of scale."""
    frequency = scale.name.startswith("frequency")
    agreement = scale.name.startswith("agreement")
    if perspective == "clinician":
        if frequency:
            return "Thinking of your work with this patient, how often is each statement true?"
        if agreement:
            return "How much do you agree with each statement about your work with this patient?"
        return "Choose one answer for each statement about your work with this patient."
    if frequency:
        return "Thinking of your care with this clinician, how often is each statement true?"
    if agreement:
        return "How much do you agree with each statement about this clinician?"
    return "Choose one answer for each statement about this clinician."


def layout(instrument: Instrument, form: str | None = None) -> list[Block]:
    """Blocks in form order. Without a form, the whole bank, patient items before clinician."""
    items = list(instrument.select(form))
    if form is None:
        items.sort(key=lambda item: item.perspective != "patient")
    blocks: list[Block] = []
    used: set[str] = set()
    for item in items:
        scale = instrument.scale_of(item)
        if scale is None:
            raise BankError(
                f"item {item.id!r} has no response scale; define the instrument in a YAML file "
                f"with scales to export it as a survey."
            )
        last = blocks[-1] if blocks else None
        if (
            last is not None
            and last.subscale == item.subscale
            and last.scale.name == scale.name
            and last.items[0].perspective == item.perspective
        ):
            blocks[-1] = Block(
                last.key, last.subscale, last.title, last.prompt, scale, (*last.items, item)
            )
            continue
        key = item.subscale.lower().replace("-", "_")
        if form is None and item.perspective == "clinician":
            key = f"{key}_clinician"
        base, n = key, 2
        while key in used:
            key, n = f"{base}_{n}", n + 1
        used.add(key)
        sub = instrument.subscales[item.subscale]
        title = sub.label or sub.name
        if form is None:
            title = f"{title} ({item.perspective}-rated)"
        blocks.append(
            Block(key, item.subscale, title, prompt_for(scale, item.perspective), scale, (item,))
        )
    return blocks


def part_heading(index: int, total: int) -> str:
    """What respondents see above a block: neutral, so construct names do not prime answers."""
    return f"Part {index} of {total}"


def form_heading(perspective: Perspective) -> str:
    if perspective == "clinician":
        return "Your work with this patient"
    return "Your care with your clinician"


def item_label(item: Item) -> str:
    """The wording shown to a respondent; an item without wording shows its id."""
    return item.text or f"[{item.id}]"
