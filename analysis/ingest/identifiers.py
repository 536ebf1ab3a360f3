"""Direct identifiers in an export: the columns that name, reach or pin down a person.

An export often carries more than the survey: REDCap's demographics form (names, phone,
e-mail, date of birth), Qualtrics' recipient and location columns. None of it is needed to
check, score or benchmark, and none of it may reach the store, a page or a file. A column is
taken for an identifier, in this order, when

1. a REDCap data dictionary marks its field ``Identifier? = y``, or validates it as an e-mail
   address or a phone number (the dictionary given, or one found beside the export);
2. its SPSS or Stata variable label names an identifier ('Date of birth', 'E-mail');
3. its name does (``first_name``, ``LastName``, ``email``, ``telephone_1``, ``dob``, ``mrn``,
   ``RecipientEmail``, ``LocationLatitude``, ...);
4. its values are e-mail addresses, phone numbers or dates of birth, or any of its values
   holds an e-mail address (free text).

Item columns and the context columns the analysis uses (respondent, response, clinician,
site, session, date) are never candidates: the respondent id is the key, and is replaced by a
keyed hash with ``pseudonymize``. ``keep`` keeps named columns on purpose; ``drop`` drops more.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["DroppedColumn", "IdentifierPolicy", "find_dictionary", "find_identifiers"]

# Words that name an identifier wherever they stand in a column name or label.
_WORDS = {
    "surname",
    "forename",
    "firstname",
    "lastname",
    "fullname",
    "givenname",
    "familyname",
    "maidenname",
    "nickname",
    "email",
    "mail",
    "phone",
    "telephone",
    "tel",
    "mobile",
    "cellphone",
    "fax",
    "address",
    "street",
    "zip",
    "zipcode",
    "postcode",
    "dob",
    "birthdate",
    "birthday",
    "ssn",
    "mrn",
    "nhs",
    "passport",
    "identifier",
    "latitude",
    "longitude",
    "initials",
}
# 'name' alone is an identifier unless it names a thing rather than a person.
_THINGS = {
    "site",
    "clinic",
    "study",
    "event",
    "instrument",
    "form",
    "arm",
    "project",
    "file",
    "group",
    "unit",
    "ward",
    "item",
    "scale",
    "variable",
    "drug",
    "med",
    "medication",
    "product",
    "survey",
    "language",
    "country",
    "state",
    "department",
    "organisation",
    "organization",
    "practice",
    "hospital",
    "sheet",
    "user",
}
_SAY = {
    "dob": "date of birth",
    "dateofbirth": "date of birth",
    "birthdate": "date of birth",
    "birthday": "date of birth",
    "email": "e-mail address",
    "mail": "e-mail address",
    "emailaddress": "e-mail address",
    "phone": "phone number",
    "telephone": "phone number",
    "tel": "phone number",
    "mobile": "phone number",
    "cellphone": "phone number",
    "phonenumber": "phone number",
    "fax": "phone number",
    "street": "address",
    "zip": "postcode",
    "zipcode": "postcode",
    "ssn": "social security number",
    "socialsecurity": "social security number",
    "mrn": "medical record number",
    "medicalrecord": "medical record number",
    "nhs": "NHS number",
    "latitude": "location",
    "longitude": "location",
}
_JOINED = {"emailaddress", "phonenumber", "dateofbirth", "socialsecurity", "medicalrecord"}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_EMAIL = re.compile(r"[^@\s,;<>()\"']+@[^@\s,;<>()\"']+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"\+?\(?\d[\d ()./-]{5,}\d")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([ T].*)?|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}")
_SAMPLE = 2000  # distinct values looked at per column
BIRTH_YEARS = 15  # dates of birth: their median at least this many years before today,
BIRTH_SPREAD = 8  # and their middle half spread over at least this many years


@dataclass(frozen=True)
class IdentifierPolicy:
    """What to do with identifying columns: ``keep`` (kept on purpose), ``drop`` (dropped
    besides those found), ``dictionary`` (a REDCap data dictionary; default: one found
    beside the export) and ``find`` (False: only ``drop`` is dropped)."""

    keep: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    dictionary: Path | None = None
    find: bool = True


@dataclass(frozen=True)
class DroppedColumn:
    """A column left out as an identifier, and why."""

    column: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"column": self.column, "reason": self.reason}


def _tokens(text: str) -> list[str]:
    spaced = _CAMEL.sub(" ", text)
    return [t for t in re.split(r"[^a-z0-9]+", spaced.casefold()) if t]


def name_reason(text: str) -> str | None:
    """What identifier a column name or label suggests ('phone number'), or None."""
    found = _name_word(text)
    if found is None:
        return None
    if found.endswith("name") or found == "forename":
        return "name"
    return _SAY.get(found, found)


def _name_word(text: str) -> str | None:
    tokens = _tokens(text)
    joined = "".join(t for t in tokens if not t.isdigit())
    for word in tokens:
        stem = word.rstrip("0123456789")
        if stem in _WORDS:
            return stem
    for run in _JOINED:
        if run in joined:
            return run
    if "birth" in tokens and {"date", "day", "place", "year", "dt", "of"} & set(tokens):
        return "date of birth"
    named = "name" in tokens or joined in ("name", "names")
    if named and not _THINGS.intersection(tokens):
        return "name"
    if "e" in tokens and "mail" in tokens:
        return "email"
    return None


def _first_distinct(values: pd.Series, count: int = _SAMPLE, block: int = 20_000) -> pd.Series:
    """The first ``count`` distinct values, in order of appearance and of the column's dtype,
    as ``unique()[:count]`` gives them, read a block of rows at a time: a column of ids or
    timestamps (a value a row) stops after its first block instead of hashing every row."""
    found = pd.Series(values.iloc[:0].unique())
    for start in range(0, len(values), block):
        part = values.iloc[start : start + block].dropna()
        found = pd.Series(pd.concat([found, part], ignore_index=True).unique())
        if len(found) >= count:
            break
    return found.head(count)


def _text_values(values: pd.Series) -> pd.Series:
    distinct = _first_distinct(values)
    if distinct.empty:
        return distinct
    if pd.api.types.is_numeric_dtype(distinct.dtype) and not pd.api.types.is_bool_dtype(
        distinct.dtype
    ):
        return pd.Series(dtype=object)  # numbers name no one (a phone number is text)
    text = distinct.head(_SAMPLE).astype(str).str.strip()
    return text[text != ""]


def _is_phone(text: str) -> bool:
    if not _PHONE.fullmatch(text) or _ISO_DATE.fullmatch(text):
        return False
    digits = sum(ch.isdigit() for ch in text)
    separated = text.startswith("+") or any(ch in text for ch in " ()-.")
    return 7 <= digits <= 15 and separated and not re.fullmatch(r"-?\d+\.\d+", text)


def value_reason(values: pd.Series, today: date | None = None) -> str | None:
    """Why a column's values identify someone, or None."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return _birth_dates(values.dropna(), today)
    text = _text_values(values)
    if text.empty:
        return None
    if text.str.fullmatch(_EMAIL.pattern).mean() >= 0.5 or text.str.contains(_EMAIL).any():
        return "e-mail addresses"
    if text.map(_is_phone).mean() >= 0.5:
        return "phone numbers"
    dated = text[text.str.fullmatch(_ISO_DATE.pattern)]
    if len(dated) >= 0.8 * len(text):
        if all(hasattr(v, "year") for v in values.dropna().head(5)):
            return _birth_dates(values.dropna(), today)
        # In UTC: only the year counts, and dates with mixed time zones parse only so.
        parsed = pd.to_datetime(dated, errors="coerce", format="mixed", utc=True)
        return _birth_dates(parsed.dropna(), today)
    return None


def _birth_dates(dates: pd.Series, today: date | None) -> str | None:
    """Dates of which the median lies BIRTH_YEARS or more in the past and which spread over
    decades: dates of birth. Visit, consent and discharge dates lie nearer, or (an old
    study's) within a few years of each other."""
    if dates.empty:
        return None
    years = pd.Series([getattr(d, "year", np.nan) for d in dates.head(_SAMPLE)], dtype=float)
    now = (today or date.today()).year
    spread = float(years.quantile(0.75) - years.quantile(0.25))
    old = float(years.median()) <= now - BIRTH_YEARS
    return "dates of birth" if old and spread >= BIRTH_SPREAD else None


def _dictionary_fields(path: Path) -> dict[str, str]:
    """Field name (and label) -> why a REDCap data dictionary marks it as identifying."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(
            f"{path.name}: cannot be read as a REDCap data dictionary ({exc})."
        ) from None
    out: dict[str, str] = {}
    for row in rows:
        fields = {k.strip().casefold(): (v or "").strip() for k, v in row.items() if k}
        name = fields.get("variable / field name")
        if not name:
            continue
        validation = fields.get("text validation type or show slider number", "").casefold()
        reason = None
        if fields.get("identifier?", "").casefold() in ("y", "yes", "1"):
            reason = "marked Identifier? in the data dictionary"
        elif validation in ("email", "phone", "phone_australia", "phone_uk"):
            reason = f"validated as {validation} in the data dictionary"
        if reason:
            out[name] = reason
            label = re.sub(r"<[^>]+>", "", fields.get("field label", "")).strip()
            if label:
                out.setdefault(label, reason)
    return out


def is_dictionary(path: Path) -> bool:
    """Whether a CSV file is a REDCap data dictionary (by its first column's name)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            first = handle.readline(4096)
    except (OSError, UnicodeDecodeError):
        return False
    return "variable / field name" in first.casefold()


def find_dictionary(export: Path, columns: list[str]) -> Path | None:
    """A REDCap data dictionary beside the export that names its columns: of the CSV files in
    its folder with 'dictionary' in their name, the one that names the most of them."""
    best: tuple[int, Path | None] = (0, None)
    try:
        siblings = sorted(export.parent.iterdir())
    except OSError:
        return None
    wanted = set(columns)
    for path in siblings:
        if (
            path == export
            or path.suffix.casefold() != ".csv"
            or "dictionary" not in path.name.casefold()
            or not path.is_file()
            or path.stat().st_size > 16 * 2**20
            or not is_dictionary(path)
        ):
            continue
        try:
            fields = _all_fields(path)
        except ValueError:
            continue
        overlap = len(wanted & fields)
        if overlap > best[0]:
            best = (overlap, path)
    return best[1]


def _all_fields(path: Path) -> set[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        return {row[0].strip() for row in reader if row}


def _field_of(column: str, flagged: dict[str, str]) -> str | None:
    """The dictionary entry for an export column: the field itself, a checkbox option
    (``field___2``) or the field's label (a REDCap labels export)."""
    if column in flagged:
        return column
    base = column.split("___", 1)[0]
    if base in flagged:
        return base
    return None


def find_identifiers(
    frame: pd.DataFrame,
    candidates: list[str],
    policy: IdentifierPolicy,
    *,
    labels: dict[str, str] | None = None,
    dictionary: Path | None = None,
    today: date | None = None,
) -> list[DroppedColumn]:
    """The candidate columns to leave out, with why. ``labels``: SPSS/Stata variable labels;
    ``dictionary``: a REDCap data dictionary."""
    keep = {c.casefold() for c in policy.keep}
    drop = {c.casefold() for c in policy.drop}
    flagged = _dictionary_fields(dictionary) if dictionary is not None else {}
    out: list[DroppedColumn] = []
    for column in candidates:
        if column.casefold() in keep:
            continue
        if column.casefold() in drop:
            out.append(DroppedColumn(column, "named in drop_columns"))
            continue
        if not policy.find:
            continue
        reason: str | None = None
        field = _field_of(column, flagged)
        if field is not None:
            reason = flagged[field]
        if reason is None and labels and labels.get(column):
            found = name_reason(labels[column])
            if found:
                reason = f"its variable label '{labels[column]}' suggests {_a(found)}"
        if reason is None:
            found = name_reason(column)
            if found:
                reason = f"its name suggests {_a(found)}"
        if reason is None:
            found = value_reason(frame[column], today)
            if found:
                reason = f"it holds {found}"
        if reason is not None:
            out.append(DroppedColumn(column, reason))
    return out


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiouAEIOU" else "a ") + noun


def refuse_unknown(policy: IdentifierPolicy, columns: list[str], source: str) -> None:
    """A column named in keep or drop that the export does not have is a typo: say so."""
    have = {c.casefold() for c in columns}
    for option, named in (("keep_columns", policy.keep), ("drop_columns", policy.drop)):
        unknown = [c for c in named if c.casefold() not in have]
        if unknown:
            raise ValueError(
                f"{source}: '{option}' names {', '.join(repr(c) for c in unknown)}, which the "
                f"export does not have."
            )
