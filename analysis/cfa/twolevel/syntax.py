"""lavaan's level blocks: ``level: 1`` (or ``within``) and ``level: 2`` (or ``between``) split one
model into the model of the sessions' deviations from their patient's mean and the model of the
patients' means."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..partable import ModelError

_LEVEL = re.compile(r"^\s*level\s*:\s*(\S+)\s*$", re.IGNORECASE)
_NAMES = {"1": 1, "within": 1, "2": 2, "between": 2}


@dataclass(frozen=True)
class Levels:
    """The model of each level, each as the whole text with the other level's lines blanked,
    so that a syntax error names the line of the model the user wrote."""

    within: str
    between: str


def has_levels(model: str) -> bool:
    return any(_LEVEL.match(line) for line in model.splitlines())


def split_levels(model: str) -> Levels:
    """The two blocks of a two-level model; a model that names a level other than 1 and 2, has
    a line before the first block, or leaves a level empty is refused with the line."""
    lines = model.splitlines()
    level_of: list[int] = []
    current = 0
    seen: set[int] = set()
    for number, line in enumerate(lines, start=1):
        match = _LEVEL.match(line)
        if match:
            name = match.group(1).lower()
            if name not in _NAMES:
                raise ModelError(
                    f"line {number}: level {match.group(1)!r}: a two-level model has "
                    f"'level: 1' (within patients) and 'level: 2' (between patients)."
                )
            current = _NAMES[name]
            if current in seen:
                raise ModelError(f"line {number}: level {current} is given twice.")
            seen.add(current)
            level_of.append(0)
            continue
        if current == 0 and line.split("#")[0].strip():
            raise ModelError(
                f"line {number}: a two-level model starts with 'level: 1'; this line comes "
                f"before any level."
            )
        level_of.append(current)

    def block(level: int) -> str:
        return "\n".join(
            line if where == level else "" for line, where in zip(lines, level_of, strict=True)
        )

    within, between = block(1), block(2)
    for level, text in ((1, within), (2, between)):
        if not re.search(r"=~", text):
            raise ModelError(
                f"level {level} has no measurement line ('factor =~ item1 + item2 + ...')."
            )
    return Levels(within, between)
