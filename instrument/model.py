"""What an instrument is, once loaded and validated: scales, subscales, items and forms.

These objects are frozen. They are built by :mod:`instrument.loader` from YAML files (or from a
lavaan-style model string) and never mutated afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

Keying = Literal["+", "-"]
Perspective = Literal["patient", "clinician"]
PERSPECTIVES: tuple[Perspective, ...] = ("patient", "clinician")


def _fold(label: str) -> str:
    """Case- and whitespace-insensitive form of a response label."""
    return " ".join(label.split()).casefold()


@dataclass(frozen=True)
class ResponseScale:
    """An ordered response scale with a label for every point.

    Codes are consecutive integers (e.g. 1..5); ``points`` keeps them in order.
    """

    name: str
    label: str
    points: tuple[tuple[int, str], ...]

    @property
    def codes(self) -> tuple[int, ...]:
        return tuple(code for code, _ in self.points)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(text for _, text in self.points)

    @property
    def minimum(self) -> int:
        return self.points[0][0]

    @property
    def maximum(self) -> int:
        return self.points[-1][0]

    @property
    def n_points(self) -> int:
        return len(self.points)

    def label_of(self, code: int) -> str:
        for c, text in self.points:
            if c == code:
                return text
        raise ValueError(
            f"'code' must be one of {', '.join(map(str, self.codes))} on scale "
            f"'{self.name}'; got {code!r}."
        )

    def off_scale(self, values: np.ndarray) -> np.ndarray:
        """Where ``values`` (any shape) hold an answer that is not one of the scale's codes:
        outside its range or not a whole number. Missing (NaN) is not off the scale."""
        with np.errstate(invalid="ignore"):
            off = (values < self.minimum) | (values > self.maximum) | (np.rint(values) != values)
        return off & ~np.isnan(values)

    def code_of(self, label: str) -> int | None:
        """The code of a label, ignoring case and repeated spaces; None if unknown."""
        wanted = _fold(label)
        for c, text in self.points:
            if _fold(text) == wanted:
                return c
        return None


@dataclass(frozen=True)
class Subscale:
    name: str
    construct: str
    label: str = ""
    description: str = ""


@dataclass(frozen=True)
class Item:
    """One survey item. ``scale`` is None only for items defined by a bare model string."""

    id: str
    subscale: str
    construct: str
    keying: Keying
    scale: str | None
    perspective: Perspective = "patient"
    text: str = ""
    rationale: str = ""
    parallel: str | None = None

    @property
    def reverse(self) -> bool:
        return self.keying == "-"


@dataclass(frozen=True)
class Form:
    """A named, ordered selection of items that one rater fills in."""

    name: str
    items: tuple[str, ...]
    perspective: Perspective
    label: str = ""
    description: str = ""


@dataclass(frozen=True)
class Instrument:
    """A validated item bank: scales, subscales, items (in bank order) and named forms."""

    name: str
    version: str
    description: str
    scales: Mapping[str, ResponseScale]
    subscales: Mapping[str, Subscale]
    items: tuple[Item, ...]
    forms: Mapping[str, Form]
    sources: tuple[str, ...] = ()
    # The subscales the non-compensatory rule applies to (empty: no rule declared).
    rule_pillars: tuple[str, ...] = ()
    # Further competing models: name -> factor -> the subscales whose items it joins.
    competing: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    # Subscales that must be told apart (HTMT between them is reported).
    discriminant: tuple[str, ...] = ()
    # Where the response scales came from, for items that had none declared ('' if all had).
    scale_source: str = ""
    _by_id: Mapping[str, Item] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {item.id: item for item in self.items})

    @property
    def unscaled_items(self) -> tuple[str, ...]:
        """Items without a response scale (those of a model string)."""
        return tuple(item.id for item in self.items if item.scale is None)

    def with_pillars(self, pillars: tuple[str, ...]) -> Instrument:
        """The same instrument with the rule applied to ``pillars`` (subscale names)."""
        unknown = [p for p in pillars if p not in self.subscales]
        if unknown or not pillars:
            known = ", ".join(f"'{s}'" for s in self.subscales)
            raise ValueError(
                f"'pillars' must be subscales of '{self.name}' ({known}); got "
                f"{', '.join(repr(p) for p in unknown) or 'none'}."
            )
        if len(set(pillars)) != len(pillars):
            raise ValueError(f"'pillars' names a subscale twice; got {', '.join(pillars)}.")
        return replace(self, rule_pillars=tuple(pillars))

    def with_form(self, form: Form) -> Instrument:
        """The same instrument with one more named form (its items must be in the bank, and
        its name new)."""
        unknown = [i for i in form.items if i not in self._by_id]
        if unknown:
            raise ValueError(
                f"form '{form.name}' names items not in '{self.name}': {', '.join(unknown)}."
            )
        if form.name in self.forms:
            raise ValueError(f"'{self.name}' already has a form named '{form.name}'.")
        return replace(self, forms={**self.forms, form.name: form})

    def with_scales(self, scales: Mapping[str, ResponseScale], source: str) -> Instrument:
        """The same instrument with a response scale for items that had none: ``scales`` maps
        item id -> scale; ``source`` says where the scales came from."""
        known = dict(self.scales)
        items = []
        for item in self.items:
            scale = scales.get(item.id) if item.scale is None else None
            if scale is not None:
                known[scale.name] = scale
                item = replace(item, scale=scale.name)
            items.append(item)
        return replace(self, scales=known, items=tuple(items), scale_source=source)

    @property
    def item_ids(self) -> tuple[str, ...]:
        return tuple(item.id for item in self.items)

    def item(self, item_id: str) -> Item:
        try:
            return self._by_id[item_id]
        except KeyError:
            raise ValueError(f"'item' must be an item of '{self.name}'; got {item_id!r}.") from None

    def scale_of(self, item: Item | str) -> ResponseScale | None:
        found = self.item(item) if isinstance(item, str) else item
        return None if found.scale is None else self.scales[found.scale]

    def favourable_end(self, item: Item | str) -> float | None:
        """The code at the favourable end of an item's scale: its maximum, or its minimum for a
        reverse-keyed item ('never' to a negative statement). Answers piling up there are a
        ceiling effect. None for an item without a scale."""
        found = self.item(item) if isinstance(item, str) else item
        scale = self.scale_of(found)
        if scale is None:
            return None
        return scale.minimum if found.reverse else scale.maximum

    def form(self, name: str) -> Form:
        try:
            return self.forms[name]
        except KeyError:
            known = ", ".join(f"'{f}'" for f in self.forms)
            raise ValueError(f"'form' must be one of {known}; got {name!r}.") from None

    def select(self, form: str | None = None) -> tuple[Item, ...]:
        """Items of a form in form order, or the whole bank when ``form`` is None."""
        if form is None:
            return self.items
        return tuple(self._by_id[i] for i in self.form(form).items)

    def subscale_items(self, form: str | None = None) -> dict[str, list[str]]:
        """Subscale name -> item ids (in order), for the items of a form or the whole bank."""
        groups: dict[str, list[str]] = {}
        for item in self.select(form):
            groups.setdefault(item.subscale, []).append(item.id)
        return groups
