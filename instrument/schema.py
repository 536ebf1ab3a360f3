"""The shape of an instrument YAML file, as pydantic models (field types and allowed values).

Cross-references (unknown scale, duplicate id, item in no declared subscale) are checked by the
loader, which knows about every file at once.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ITEM_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,25}$"
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScaleSpec(_Strict):
    label: str = ""
    points: dict[int, str]

    @field_validator("points")
    @classmethod
    def _consecutive(cls, points: dict[int, str]) -> dict[int, str]:
        codes = sorted(points)
        if len(codes) < 2:
            raise ValueError("a scale needs at least 2 points")
        if codes != list(range(codes[0], codes[0] + len(codes))):
            raise ValueError(f"codes must be consecutive integers; got {codes}")
        if any(not str(text).strip() for text in points.values()):
            raise ValueError("every point needs a label")
        if len({text.strip().casefold() for text in points.values()}) != len(points):
            raise ValueError("point labels must be distinct")
        return dict(sorted(points.items()))


class SubscaleSpec(_Strict):
    # `construct` is a (deprecated) BaseModel method name, hence the alias.
    construct_name: str = Field(alias="construct", min_length=1)
    label: str = ""
    description: str = ""


class ItemSpec(_Strict):
    # Item ids become column names in REDCap, Qualtrics and SPSS: letters, digits and
    # underscores, starting with a letter, at most 26 characters (REDCap's recommended limit).
    id: str = Field(pattern=ITEM_ID_PATTERN)
    subscale: str = Field(min_length=1)
    keying: Literal["+", "-"]
    # Optional when the file names a default ``scale`` for all its items.
    scale: str | None = Field(default=None, min_length=1)
    perspective: Literal["patient", "clinician"] = "patient"
    text: str = ""
    rationale: str = ""
    parallel: str | None = None


class FormSpec(_Strict):
    label: str = ""
    description: str = ""
    items: list[str] = Field(min_length=1)


class InstrumentInfo(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    version: str = "1.0"
    description: str = ""


class RuleSpec(_Strict):
    """What the non-compensatory rule applies to: the subscales that must each clear a minimum."""

    pillars: list[str] = Field(min_length=1)


class ValiditySpec(_Strict):
    """Instrument knowledge the structure checks use: further competing models (name ->
    factor -> the subscales it joins) and the subscales to be told apart (HTMT)."""

    models: dict[str, dict[str, list[str]]] = Field(default_factory=dict)
    discriminant: list[str] = Field(default_factory=list)


class BankFile(_Strict):
    """One YAML file: any of these sections; the built-in bank spreads them over four files."""

    instrument: InstrumentInfo | None = None
    # The response scale of every item that names none.
    scale: str | None = None
    rule: RuleSpec | None = None
    validity: ValiditySpec | None = None
    scales: dict[str, ScaleSpec] = Field(default_factory=dict)
    subscales: dict[str, SubscaleSpec] = Field(default_factory=dict)
    items: list[ItemSpec] = Field(default_factory=list)
    forms: dict[str, FormSpec] = Field(default_factory=dict)
