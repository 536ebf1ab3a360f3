"""An NDJSON bulk export read by DuckDB's JSON reader, in columns: the fast path behind
:func:`analysis.ingest.fhir.read_fhir`.

Python's ``json`` decodes about 200 MB a second and the answers are then walked one dict at a
time, so a million responses (4 GB) took a minute. DuckDB parses the file on every core into
Arrow arrays of just the fields the line reader looks at, and the answers are placed with array
operations, a block of rows at a time.

The fast path covers the shape every bulk export we know of has: one QuestionnaireResponse (or
another resource, passed over) a line, items in groups at most one deep, each item answered
once with a numeric code, an integer or a decimal. Anything else makes :func:`read_ndjson`
return None and the file is read line by line, where every case has its rule and every line its
number: a line that is no JSON, a Bundle on a line, a Questionnaire contained in the response,
an answer with items of its own, groups deeper than one, a code that is no number (an answer
given by its label), or one item answered twice. The two paths give the same table (tested on
every fixture).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from instrument.exports.fhir import COMPLETION_SECONDS, SITE

from .. import names

if TYPE_CHECKING:
    import pyarrow as pa

BATCH = 65_536  # responses a block: a few MB of arrays beside the answers' float block

_ANSWER = (
    "STRUCT(valueCoding STRUCT(code VARCHAR), valueInteger DOUBLE, valueDecimal DOUBLE, "
    "item JSON)[]"
)
_INNER = f"STRUCT(linkId VARCHAR, answer {_ANSWER}, item JSON)[]"
_REFERENCE = "STRUCT(reference VARCHAR, type VARCHAR, identifier STRUCT(value VARCHAR))"
COLUMNS = {
    "resourceType": "VARCHAR",
    "id": "VARCHAR",
    "identifier": "JSON",  # one Identifier in R4, a list in R5 (then the id is used, as ever)
    "questionnaire": "VARCHAR",
    "status": "VARCHAR",
    "subject": _REFERENCE,
    "authored": "VARCHAR",
    "encounter": _REFERENCE,
    "author": _REFERENCE,
    "extension": "STRUCT(url VARCHAR, valueDecimal DOUBLE, valueString VARCHAR)[]",
    "item": f"STRUCT(linkId VARCHAR, answer {_ANSWER}, item {_INNER})[]",
}


class _Unsupported(Exception):
    """The file holds a shape only the line reader reads."""


@dataclass
class Block:
    """One block of responses as the collector takes them."""

    context: dict[str, np.ndarray]
    answers: np.ndarray  # responses x the items ``seen`` marks, NaN where unanswered
    other: np.ndarray  # a response to another instrument's Questionnaire
    seen: np.ndarray  # items some response in the block answers


@dataclass
class Bulk:
    """What :func:`read_ndjson` read: the blocks, and the counts the findings name."""

    blocks: list[Block] = field(default_factory=list)
    others: dict[str, int] = field(default_factory=dict)
    unknown: dict[str, int] = field(default_factory=dict)
    uncoded: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)


def read_ndjson(path: Path, index: dict[str, int], ours: str, reference: Any) -> Bulk | None:
    """The responses of the NDJSON file at ``path`` in blocks, or None where a line needs the
    line reader. ``index`` places an item id in the answers' columns, ``ours`` starts every
    canonical URL of the instrument's Questionnaires, and ``reference`` splits a reference
    string into its resource type and id (the line reader's own rule)."""
    import duckdb
    import pyarrow as pa

    spec = ", ".join(f"'{name}': '{kind}'" for name, kind in COLUMNS.items())
    query = (
        "SELECT * EXCLUDE (identifier), json_extract_string(identifier, '$.value') AS business "
        f"FROM read_json(?, format = 'newline_delimited', columns = {{{spec}}})"
    )
    bulk = Bulk()
    try:
        with duckdb.connect() as con:
            con.execute("SET enable_progress_bar = false")
            relation = con.sql(query, params=[str(path)])
            reader = (
                relation.to_arrow_reader(BATCH)
                if hasattr(relation, "to_arrow_reader")
                else relation.fetch_record_batch(BATCH)
            )
            for batch in reader:
                block = _block(batch, index, ours, reference, bulk)
                if block is not None:
                    bulk.blocks.append(block)
    except (duckdb.Error, OSError, pa.ArrowException, _Unsupported):
        return None  # a broken line surfaces mid-stream, as an OSError of the Arrow stream
    return bulk


def _count(into: dict[str, int], values: list[Any]) -> None:
    for value in values:
        into[str(value)] = into.get(str(value), 0) + 1


def _block(
    batch: pa.RecordBatch, index: dict[str, int], ours: str, reference: Any, bulk: Bulk
) -> Block | None:
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = batch.column("resourceType")
    if pc.any(pc.equal(kind, "Bundle")).as_py():
        raise _Unsupported
    response = pc.fill_null(pc.equal(kind, "QuestionnaireResponse"), False)
    if not pc.all(response).as_py():
        others = pc.filter(kind, pc.invert(response)).to_pylist()
        _count(bulk.skipped, others)
        batch = batch.filter(response)
    n = batch.num_rows
    if n == 0:
        return None
    url = batch.column("questionnaire")
    if pc.any(pc.starts_with(url, "#")).as_py():
        raise _Unsupported  # a contained Questionnaire: the line reader finds its url
    other = pc.fill_null(pc.invert(pc.starts_with(url, ours)), False).to_numpy(zero_copy_only=False)
    if other.any():
        _count(bulk.others, pc.filter(url, pa.array(other)).to_pylist())

    response_id = pc.coalesce(batch.column("business"), batch.column("id"))
    context: dict[str, np.ndarray] = {
        names.RESPONSE_ID: _objects(response_id),
        names.RESPONDENT_ID: _references(batch.column("subject"), reference)[1],
        names.DATE: _objects(batch.column("authored")),
        "encounter": _references(batch.column("encounter"), reference)[1],
        "status": _objects(batch.column("status")),
        "questionnaire": _objects(url),
    }
    author_kind, author = _references(batch.column("author"), reference)
    practitioner = np.isin(author_kind, ["Practitioner", "PractitionerRole"])
    author[~practitioner] = None
    context[names.CLINICIAN_ID] = author
    duration, site = _extensions(batch.column("extension"), n)
    context[names.DURATION] = duration
    context[names.SITE_ID] = site

    answers = np.full((n, len(index)), np.nan)
    seen = np.zeros(len(index), dtype=bool)
    _place(batch.column("item"), index, answers, seen, bulk)
    return Block(context, answers[:, seen], other, seen)


def _field(array: Any, name: str) -> Any:
    """A struct's field, null where the struct is (a plain ``.field`` ignores that)."""
    import pyarrow.compute as pc

    return pc.struct_field(array, [name])


def _objects(array: Any) -> np.ndarray:
    """The values as Python objects, one object per distinct value (a million responses to one
    Questionnaire hold its URL once)."""
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(array)
    distinct = np.array([*encoded.dictionary.to_pylist(), None], dtype=object)
    return distinct[pc.fill_null(encoded.indices, len(distinct) - 1).to_numpy()]


def _references(column: Any, reference: Any) -> tuple[np.ndarray, np.ndarray]:
    """Each row's referenced resource type and id, by the line reader's rule (applied once
    per distinct reference: a patient's many responses share one)."""
    n = len(column)
    import pyarrow.compute as pc

    text = _field(column, "reference")
    kinds = np.full(n, None, dtype=object)
    ids = np.full(n, None, dtype=object)
    usable = pc.fill_null(pc.not_equal(text, ""), False).to_numpy(zero_copy_only=False)
    if usable.any():
        encoded = pc.dictionary_encode(text)
        distinct = encoded.dictionary.to_pylist()
        inverse = encoded.indices.to_numpy(zero_copy_only=False)[usable].astype(np.int64)
        parts = [reference(r) for r in distinct]
        kinds[usable] = np.array([p[0] for p in parts], dtype=object)[inverse]
        ids[usable] = np.array([p[1] for p in parts], dtype=object)[inverse]
    rest = ~usable
    if rest.any():  # known by identifier alone
        value = _objects(_field(_field(column, "identifier"), "value"))
        kinds[rest] = _objects(_field(column, "type"))[rest]
        ids[rest] = value[rest]
        kinds[rest & (ids == None)] = None  # noqa: E711  (elementwise)
    return kinds, ids


def _extensions(column: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The project's completion-time and site extensions (the last of each, as read)."""
    import pyarrow.compute as pc

    duration = np.full(n, None, dtype=object)
    site = np.full(n, None, dtype=object)
    if column.null_count == n:
        return duration, site
    rows = pc.list_parent_indices(column).to_numpy()
    flat = pc.list_flatten(column)
    url = _objects(_field(flat, "url"))
    for into, name, value in (
        (duration, COMPLETION_SECONDS, "valueDecimal"),
        (site, SITE, "valueString"),
    ):
        mine = np.flatnonzero(url == name)
        if len(mine):
            values = _objects(_field(flat, value))
            last = len(mine) - 1 - np.unique(rows[mine][::-1], return_index=True)[1]
            into[rows[mine[last]]] = values[mine[last]]  # the last of a response's, as read
    return duration, site


def _place(
    items: Any, index: dict[str, int], answers: np.ndarray, seen: np.ndarray, bulk: Bulk
) -> None:
    """The answers of the items (and of items in groups one deep) into ``answers``. Only
    plain arrays are filtered: the answers' structs are read field by field, as they come."""
    import pyarrow.compute as pc

    outer = pc.list_flatten(items)
    outer_rows = pc.list_parent_indices(items).to_numpy()
    inner = _field(outer, "item")
    inner_flat = pc.list_flatten(inner)
    if pc.any(pc.is_valid(_field(inner_flat, "item"))).as_py():
        raise _Unsupported  # groups deeper than one
    inner_rows = outer_rows[pc.list_parent_indices(inner).to_numpy()]
    width = answers.shape[1]
    cells: list[np.ndarray] = []
    for level, level_rows in ((outer, outer_rows), (inner_flat, inner_rows)):
        answer = _field(level, "answer")
        flat = pc.list_flatten(answer)
        if len(flat) == 0:
            continue
        if pc.any(pc.is_valid(_field(flat, "item"))).as_py():
            raise _Unsupported  # an answer with items of its own
        parents = pc.list_parent_indices(answer).to_numpy()
        where = _positions(_field(level, "linkId"), index, bulk, parents)[parents]
        # an answer that is no object, or to no item of ours, is not placed
        ours = (where >= 0) & flat.is_valid().to_numpy(zero_copy_only=False)
        row = level_rows[parents][ours]
        position = where[ours]
        value, uncoded = _values(flat, ours)
        cells.append(row * width + position)
        if uncoded.any():
            ids = list(index)
            for k, count in zip(*np.unique(position[uncoded], return_counts=True), strict=True):
                bulk.uncoded[ids[k]] = bulk.uncoded.get(ids[k], 0) + int(count)
        answers.reshape(-1)[row * width + position] = value
        seen[np.unique(position)] = True
    if cells and np.bincount(np.concatenate(cells)).max() > 1:
        raise _Unsupported  # an item answered twice: the line reader keeps the last


def _positions(link: Any, index: dict[str, int], bulk: Bulk, parents: np.ndarray) -> np.ndarray:
    """Each item's column among the answers: -1 for a linkId of no item of ours (its answers,
    one per ``parents`` entry, counted), -2 for an item without a linkId."""
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(link)
    words = encoded.dictionary.to_pylist()
    known = np.array([index.get(w, -1) for w in words] + [-2], dtype=np.int64)
    codes = pc.fill_null(encoded.indices, len(words)).to_numpy()
    where = known[codes]
    if (known[:-1] == -1).any():
        answered = np.bincount(codes[parents], minlength=len(known))
        for k, word in enumerate(words):
            if known[k] == -1 and answered[k]:
                bulk.unknown[word] = bulk.unknown.get(word, 0) + int(answered[k])
    return where


def _values(answer: Any, ours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The number of each answer ``ours`` marks, and which have none. A coding gives its code
    (a code that is no number, or none, leaves the fast path: the line reader tries the scale's
    labels); without one, the integer or else the decimal."""
    import pyarrow as pa
    import pyarrow.compute as pc

    coding = _field(answer, "valueCoding")
    coded = coding.is_valid().to_numpy(zero_copy_only=False)[ours]
    value = np.full(int(ours.sum()), np.nan)
    if coded.any():
        code = _field(coding, "code")
        try:
            number = pc.cast(code, pa.float64()).to_numpy(zero_copy_only=False)[ours]
        except pa.ArrowInvalid:
            raise _Unsupported from None
        if pc.any(pc.and_(coding.is_valid(), pc.is_null(code))).as_py():
            raise _Unsupported  # a coding without a code: the line reader tries its display
        value[coded] = number[coded]
    uncoded = ~coded
    for name in ("valueInteger", "valueDecimal"):
        if not uncoded.any():
            break
        given = _field(answer, name).to_numpy(zero_copy_only=False).astype(float)[ours]
        take = uncoded & ~np.isnan(given)
        value[take] = given[take]
        uncoded &= ~take
    return value, uncoded
