"""Load instruments: the built-in bank, a user's YAML file, or a lavaan-style model string.

Every problem in a file raises :class:`BankError` with one sentence naming the file, the item (or
scale, subscale, form) and the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .kept import kept_instrument
from .model import Form, Instrument, Item, Perspective, ResponseScale, Subscale
from .syntax import ModelSyntaxError, has_levels, parse_model, split_levels

# The YAML parser and the schema (pydantic) are imported when a file is parsed: the built-in
# instrument is usually read ready-built (instrument/kept.py), and they were 0.085 s of a start.
if TYPE_CHECKING:
    from pydantic import ValidationError

    from .schema import BankFile, ItemSpec

BUILTIN_NAME = "alliance"
BUILTIN_FILES = ("scales.yaml", "alliance.yaml", "trust.yaml", "forms.yaml")
BUILT_BY = ("loader.py", "model.py", "schema.py", "yamlsafe.py")


class BankError(ValueError):
    """An instrument file (or model string) that cannot be used, with where and why."""


@dataclass(frozen=True)
class _Parsed:
    """A validated file and its raw text structure (for naming items in later errors)."""

    source: str
    spec: BankFile


def _read_yaml(text: str, source: str, own: bool = False) -> dict[str, Any]:
    from .yamlsafe import YamlLimitError, load_yaml

    try:
        data = load_yaml(text, own=own)
    except YamlLimitError as exc:
        raise BankError(f"{source}: {exc}.") from None
    if data is None:
        raise BankError(f"{source}: the file is empty.")
    if not isinstance(data, dict):
        raise BankError(
            f"{source}: an instrument file must be a mapping with sections "
            f"'instrument', 'scales', 'subscales', 'items', 'forms'; got {type(data).__name__}."
        )
    return data


def _describe_error(source: str, raw: dict[str, Any], exc: ValidationError) -> str:
    """One sentence for the first validation error: file, the thing it concerns, field, why."""
    err = exc.errors()[0]
    loc = list(err["loc"])
    where = ""
    section = loc[0] if loc else None
    if section == "items" and len(loc) >= 2 and isinstance(loc[1], int):
        entry = raw.get("items", [])[loc[1]]
        ident = entry.get("id") if isinstance(entry, dict) else None
        where = f"item {ident!r}" if ident else f"item #{loc[1] + 1} (no id)"
        loc = loc[2:]
    elif section in ("scales", "subscales", "forms") and len(loc) >= 2:
        where = f"{section[:-1]} {loc[1]!r}"
        loc = loc[2:]
    elif section is not None:
        where = f"section {section!r}"
        loc = loc[1:]
    field = ".".join(str(part) for part in loc)
    parts = [p for p in (where, f"field {field!r}" if field else "") if p]
    if err["type"] == "missing":
        reason = "required field is missing"
    elif err["type"] == "extra_forbidden":
        reason = "unknown field"
    else:
        reason = f"{err['msg']}; got {err['input']!r}"
    return f"{source}: {', '.join(parts)}: {reason}." if parts else f"{source}: {reason}."


def _parse(text: str, source: str, own: bool = False) -> _Parsed:
    from pydantic import ValidationError

    from .schema import BankFile

    raw = _read_yaml(text, source, own)
    try:
        spec = BankFile.model_validate(raw)
    except ValidationError as exc:
        raise BankError(_describe_error(source, raw, exc)) from None
    return _Parsed(source, spec)


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f"'{n}'" for n in sorted(names)) or "none"


def _build(
    parsed: Sequence[_Parsed],
    default_name: str,
    base_scales: dict[str, ResponseScale] | None = None,
) -> Instrument:
    """Merge validated files into one instrument, checking every cross-reference."""
    scales: dict[str, ResponseScale] = dict(base_scales or {})
    subscales: dict[str, Subscale] = {}
    item_specs: list[tuple[str, ItemSpec, str | None]] = []
    forms_spec: list[tuple[str, str, Any]] = []
    origin: dict[str, str] = {}
    folded: dict[str, str] = {}  # case-folded id -> id
    info = None
    rule: tuple[str, Any] | None = None
    validity: list[tuple[str, Any]] = []

    for p in parsed:
        if p.spec.instrument is not None:
            if info is not None:
                raise BankError(f"{p.source}: section 'instrument' is given in two files.")
            info = p.spec.instrument
        if p.spec.rule is not None:
            if rule is not None:
                raise BankError(f"{p.source}: section 'rule' is given in two files.")
            rule = (p.source, p.spec.rule)
        if p.spec.validity is not None:
            validity.append((p.source, p.spec.validity))
        for name, s in p.spec.scales.items():
            scales[name] = ResponseScale(name, s.label, tuple(s.points.items()))
        for name, sub in p.spec.subscales.items():
            if name in subscales:
                raise BankError(f"{p.source}: subscale {name!r} is declared twice.")
            subscales[name] = Subscale(name, sub.construct_name, sub.label, sub.description)
        for item in p.spec.items:
            if item.id not in origin and item.id.casefold() in folded:
                raise BankError(
                    f"{p.source}: item {item.id!r}, field 'id': differs only in case from "
                    f"{folded[item.id.casefold()]!r}; exports and databases fold case, so "
                    f"ids must differ by more."
                )
            if item.id in origin:
                raise BankError(
                    f"{p.source}: item {item.id!r}, field 'id': duplicate id "
                    f"(already defined in {origin[item.id]})."
                )
            origin[item.id] = p.source
            folded[item.id.casefold()] = item.id
            item_specs.append((p.source, item, item.scale or p.spec.scale))
        forms_spec.extend((p.source, name, f) for name, f in p.spec.forms.items())

    items: list[Item] = []
    for source, spec, scale in item_specs:
        if spec.subscale not in subscales:
            raise BankError(
                f"{source}: item {spec.id!r}, field 'subscale': {spec.subscale!r} is not a "
                f"declared subscale; declared: {_quoted(subscales)}."
            )
        if scale is None:
            raise BankError(
                f"{source}: item {spec.id!r}, field 'scale': required field is missing (or "
                f"give the file a default 'scale:')."
            )
        if scale not in scales:
            raise BankError(
                f"{source}: item {spec.id!r}, field 'scale': unknown scale {scale!r}; "
                f"known scales: {_quoted(scales)}."
            )
        items.append(
            Item(
                id=spec.id,
                subscale=spec.subscale,
                construct=subscales[spec.subscale].construct,
                keying=spec.keying,
                scale=scale,
                perspective=spec.perspective,
                text=spec.text.strip(),
                rationale=spec.rationale.strip(),
                parallel=spec.parallel,
            )
        )
    if not items:
        raise BankError(f"{parsed[0].source}: the instrument has no items.")

    by_id = {item.id: item for item in items}
    for built in items:
        if built.parallel is None:
            continue
        twin = by_id.get(built.parallel)
        source = origin[built.id]
        if twin is None:
            raise BankError(
                f"{source}: item {built.id!r}, field 'parallel': unknown item {built.parallel!r}."
            )
        if twin.perspective == built.perspective or twin.subscale != built.subscale:
            raise BankError(
                f"{source}: item {built.id!r}, field 'parallel': {twin.id!r} must be the same "
                f"subscale from the other perspective; got {twin.subscale!r}, "
                f"{twin.perspective!r}."
            )

    used = {built.subscale for built in items}
    for name in subscales:
        if name not in used:
            raise BankError(f"{parsed[0].source}: subscale {name!r} has no items.")

    forms: dict[str, Form] = {}
    for source, name, f in forms_spec:
        if name in forms:
            raise BankError(f"{source}: form {name!r} is declared twice.")
        for ident in f.items:
            if ident not in by_id:
                raise BankError(f"{source}: form {name!r}, field 'items': unknown item {ident!r}.")
        if len(set(f.items)) != len(f.items):
            raise BankError(f"{source}: form {name!r}, field 'items': an item is listed twice.")
        sides = {by_id[i].perspective for i in f.items}
        if len(sides) > 1:
            raise BankError(
                f"{source}: form {name!r}, field 'items': mixes patient and clinician items; "
                f"a form is filled in by one rater."
            )
        forms[name] = Form(name, tuple(f.items), sides.pop(), f.label, f.description.strip())
    if not forms:
        forms = _default_forms(items)

    pillars: tuple[str, ...] = ()
    if rule is not None:
        source, spec_rule = rule
        for name in spec_rule.pillars:
            if name not in subscales:
                raise BankError(
                    f"{source}: section 'rule', field 'pillars': {name!r} is not a declared "
                    f"subscale; declared: {_quoted(subscales)}."
                )
        if len(set(spec_rule.pillars)) != len(spec_rule.pillars):
            raise BankError(
                f"{source}: section 'rule', field 'pillars': a subscale is listed twice."
            )
        pillars = tuple(spec_rule.pillars)
    competing: dict[str, dict[str, tuple[str, ...]]] = {}
    discriminant: list[str] = []
    for source, spec_validity in validity:
        for model_name, factors in spec_validity.models.items():
            for factor, parts in factors.items():
                for name in parts:
                    if name not in subscales:
                        raise BankError(
                            f"{source}: section 'validity', model {model_name!r}, factor "
                            f"{factor!r}: {name!r} is not a declared subscale."
                        )
            competing[model_name] = {f: tuple(parts) for f, parts in factors.items()}
        for name in spec_validity.discriminant:
            if name not in subscales:
                raise BankError(
                    f"{source}: section 'validity', field 'discriminant': {name!r} is not a "
                    f"declared subscale."
                )
            discriminant.append(name)

    return Instrument(
        name=info.name if info else default_name,
        version=info.version if info else "1.0",
        description=info.description.strip() if info else "",
        scales=scales,
        subscales=subscales,
        items=tuple(items),
        forms=forms,
        sources=tuple(p.source for p in parsed),
        rule_pillars=pillars,
        competing=competing,
        discriminant=tuple(discriminant),
    )


def _default_forms(items: Sequence[Item]) -> dict[str, Form]:
    """Without declared forms: one form per perspective, holding its items in file order."""
    forms: dict[str, Form] = {}
    sides: list[Perspective] = []
    for item in items:
        if item.perspective not in sides:
            sides.append(item.perspective)
    for side in sides:
        ids = tuple(item.id for item in items if item.perspective == side)
        forms[side] = Form(side, ids, side, f"All {side}-rated items")
    return forms


@cache
def builtin_instrument() -> Instrument:
    """The project's own item bank: alliance (patient and clinician forms) and trust scales."""
    package = resources.files("instrument")
    texts = [(package / "banks" / name).read_bytes() for name in BUILTIN_FILES]
    # What the instrument is built from: its files, and the code that reads and shapes them.
    code = [(package / module).read_bytes() for module in BUILT_BY]

    def build() -> Instrument:
        parsed = [
            _parse(text.decode("utf-8"), name, own=True)
            for text, name in zip(texts, BUILTIN_FILES, strict=True)
        ]
        return _build(parsed, BUILTIN_NAME)

    return kept_instrument([*texts, *code], build)


def builtin_scales() -> dict[str, ResponseScale]:
    return dict(builtin_instrument().scales)


def load_instrument_file(path: str | Path) -> Instrument:
    """A user's instrument file; it may use the built-in scale names or define its own scales."""
    from .yamlsafe import MAX_BYTES

    path = Path(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise BankError(f"{path.name}: larger than {MAX_BYTES >> 20} MiB; not read.")
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BankError(f"{path}: no such file.") from None
    except UnicodeDecodeError:
        raise BankError(f"{path}: not a UTF-8 text file.") from None
    except OSError as exc:
        raise BankError(f"{path}: cannot be read ({exc.strerror}).") from None
    return _build([_parse(text, path.name)], path.stem, builtin_scales())


def instrument_from_model(model: str) -> Instrument:
    """A quick instrument from lavaan-style syntax: each ``factor =~ items`` line is a subscale
    (an item on several lines belongs to the one with the fewest items).

    Only measurement lines (``=~``) define the instrument; other lines (``~~``, fixed values) are
    for the CFA and ignored here. Items have no wording or scale; keying is ``+``. Of a
    two-level model (``level: 1`` / ``level: 2``) the within level's factors are the subscales.
    """
    try:
        statements = parse_model(split_levels(model).within if has_levels(model) else model)
    except ModelSyntaxError as exc:
        raise BankError(f"model: {exc}") from None
    factors = [s for s in statements if s.op == "=~"]
    if not factors:
        raise BankError("model: no measurement line ('factor =~ item1 + item2 + ...') found.")
    seen: set[str] = set()
    for s in factors:
        if s.lhs in seen:
            raise BankError(f"model: line {s.line}: factor {s.lhs!r} is defined twice.")
        seen.add(s.lhs)
    # An item may load on several factors (a cross-loading; a general factor beside specific
    # ones). As an instrument each item needs one subscale: the factor with the fewest items
    # among those it loads on (the specific factor), the first on a tie. A factor left with no
    # item of its own (a general factor) is fitted but is not a subscale.
    size = {s.lhs: len(s.rhs) for s in factors}
    home: dict[str, str] = {}
    for s in factors:
        for term in s.rhs:
            twin = next((i for i in home if i.casefold() == term.name.casefold()), None)
            if twin is not None and twin != term.name:
                raise BankError(
                    f"model: line {s.line}: item {term.name!r} differs only in case from "
                    f"{twin!r}; exports and databases fold case, so ids must differ by more."
                )
            if term.name not in home or size[s.lhs] < size[home[term.name]]:
                home[term.name] = s.lhs
    order = list(dict.fromkeys(t.name for s in factors for t in s.rhs))
    items = {i: Item(i, home[i], "model", "+", None) for i in order}
    subscales = {
        s.lhs: Subscale(s.lhs, construct="model", label=s.lhs)
        for s in factors
        if s.lhs in home.values()
    }
    clash = {s.lhs for s in factors} & set(items)
    if clash:
        raise BankError(f"model: {_quoted(clash)} is used both as a factor and as an item.")
    ordered = tuple(items.values())
    form = Form("model", tuple(items), "patient", "Items of the model")
    return Instrument(
        name="model",
        version="1.0",
        description="Defined by a model string.",
        scales={},
        subscales=subscales,
        items=ordered,
        forms={"model": form},
        sources=("model",),
    )


def load_instrument(spec: str | Path | None = None) -> Instrument:
    """Resolve what a user named: None or 'alliance' (built-in), a YAML path, or a model string."""
    if spec is None or str(spec) == BUILTIN_NAME:
        return builtin_instrument()
    text = str(spec)
    if "=~" in text:
        return instrument_from_model(text)
    path = Path(text)
    if path.suffix.lower() in (".yaml", ".yml") or path.exists():
        return load_instrument_file(path)
    raise BankError(
        f"'instrument' must be 'alliance', a YAML instrument file or a model string "
        f"('f =~ a + b + c'); got {text!r}, which is none of these."
    )
