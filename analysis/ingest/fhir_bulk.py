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
given by its label), a coding without a code, or one item answered twice. The two paths give
the same table and findings (tested on each of these shapes and on the shapes the columns do
read).
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

PRACTITIONER = ("Practitioner", "PractitionerRole")  # an author who is a clinician
# The context columns both readers name (with the shared names of analysis.names)
STATUS = "status"
QUESTIONNAIRE = "questionnaire"
ENCOUNTER = "encounter"
BATCH = 65_536  # rows asked of DuckDB a batch (it hands a few thousand at a time)

# An answer's own items and a third level of groups are read only to see that there are none
# (a list where there is one); their shape is the line reader's business.
_NESTED = "STRUCT(linkId VARCHAR)[]"
_ANSWER = (
    "STRUCT(valueCoding STRUCT(code DOUBLE), valueInteger DOUBLE, valueDecimal DOUBLE, "
    f"item {_NESTED})[]"
)
_INNER = f"STRUCT(linkId VARCHAR, answer {_ANSWER}, item {_NESTED})[]"
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

    context: dict[str, pa.Array]  # strings, and the duration a double
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

    author_kind, author = _references(batch.column("author"), reference)
    practitioner = pc.fill_null(pc.is_in(author_kind, pa.array(PRACTITIONER)), False)
    duration, site = _extensions(batch.column("extension"), n)
    context = {
        names.RESPONSE_ID: pc.coalesce(batch.column("business"), batch.column("id")),
        names.RESPONDENT_ID: _references(batch.column("subject"), reference)[1],
        names.DATE: batch.column("authored"),
        ENCOUNTER: _references(batch.column("encounter"), reference)[1],
        STATUS: batch.column("status"),
        QUESTIONNAIRE: url,
        names.CLINICIAN_ID: pc.if_else(practitioner, author, pa.scalar(None, pa.string())),
        names.DURATION: duration,
        names.SITE_ID: site,
    }
    # Copied out: an array that shares the batch's buffers keeps the whole batch, answers and
    # all, alive (a batch from DuckDB is freed as one).
    rows = pa.array(np.arange(n))
    context = {name: values.take(rows) for name, values in context.items()}

    row, position, value = _place(batch.column("item"), index, bulk)
    seen = np.zeros(len(index), dtype=bool)
    seen[position] = True
    column = np.cumsum(seen) - 1  # an item's column among those the block answers
    answers = np.full((n, int(seen.sum())), np.nan)
    answers[row, column[position]] = value
    return Block(context, answers, other, seen)


def _field(array: Any, name: str) -> Any:
    """A struct's field, null where the struct is (a plain ``.field`` ignores that)."""
    import pyarrow.compute as pc

    return pc.struct_field(array, [name])


def _references(column: Any, reference: Any) -> tuple[pa.Array, pa.Array]:
    """Each row's referenced resource type and id, by the line reader's rule (applied once
    per distinct reference: a patient's many responses share one), or else the type and value
    of the identifier it gives."""
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(_field(column, "reference"))
    distinct = encoded.dictionary
    # ``Type/id``, as nearly every reference is, split at once; the rest by the rule itself
    plain = pc.extract_regex(distinct, r"^(?P<kind>[A-Za-z]+)/(?P<id>[^/]+)$")
    kind, id_ = plain.field("kind").to_pylist(), plain.field("id").to_pylist()
    split = pc.and_(plain.is_valid(), pc.not_equal(plain.field("id"), "_history"))
    for k in np.flatnonzero(~split.to_numpy(zero_copy_only=False)):
        text = distinct[int(k)].as_py()
        kind[k], id_[k] = reference(text) if text else (None, None)
    kinds = pa.array(kind, pa.string()).take(encoded.indices)
    ids = pa.array(id_, pa.string()).take(encoded.indices)
    value = _field(_field(column, "identifier"), "value")
    by_identifier = pc.and_kleene(pc.is_null(ids), pc.is_valid(value))
    kinds = pc.if_else(by_identifier, _field(column, "type"), kinds)
    return kinds, pc.if_else(by_identifier, value, ids)


def _extensions(column: Any, n: int) -> tuple[pa.Array, pa.Array]:
    """The project's completion-time and site extensions (the last of each, as read)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = []
    rows = pc.list_parent_indices(column).to_numpy()
    flat = pc.list_flatten(column)
    url = _field(flat, "url")
    for name, value in ((COMPLETION_SECONDS, "valueDecimal"), (SITE, "valueString")):
        mine = np.flatnonzero(
            pc.fill_null(pc.equal(url, name), False).to_numpy(zero_copy_only=False)
        )
        at = np.full(n, -1)
        if len(mine):
            last = len(mine) - 1 - np.unique(rows[mine][::-1], return_index=True)[1]
            at[rows[mine[last]]] = mine[last]  # the last of a response's, as read
        out.append(_field(flat, value).take(pa.array(at, mask=at < 0)))
    return out[0], out[1]


def _place(
    items: Any, index: dict[str, int], bulk: Bulk
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The answers of the items (and of items in groups one deep): each one's row, its item's
    place in ``index``, and its value. Only plain arrays are filtered: the answers' structs are
    read field by field, as they come."""
    import pyarrow.compute as pc

    outer = pc.list_flatten(items)
    outer_rows = pc.list_parent_indices(items).to_numpy()
    inner = _field(outer, "item")
    inner_flat = pc.list_flatten(inner)
    if pc.any(pc.is_valid(_field(inner_flat, "item"))).as_py():
        raise _Unsupported  # groups deeper than one
    inner_rows = outer_rows[pc.list_parent_indices(inner).to_numpy()]
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
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
        position = where[ours]
        value, uncoded = _values(flat, ours)
        found.append((level_rows[parents][ours], position, value))
        if uncoded.any():
            ids = list(index)
            for k, count in zip(*np.unique(position[uncoded], return_counts=True), strict=True):
                bulk.uncoded[ids[k]] = bulk.uncoded.get(ids[k], 0) + int(count)
    if not found:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    row, position, value = (np.concatenate(parts) for parts in zip(*found, strict=True))
    if np.bincount(row * len(index) + position).max() > 1:
        raise _Unsupported  # an item answered twice: the line reader keeps the last
    return row, position, value


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
    (DuckDB refuses a code that is no number, and a coding without a code leaves here: either
    sends the file to the line reader, which tries the scale's labels); without one, the
    integer or else the decimal."""
    import pyarrow.compute as pc

    coding = _field(answer, "valueCoding")
    coded = coding.is_valid().to_numpy(zero_copy_only=False)[ours]
    value = np.full(int(ours.sum()), np.nan)
    if coded.any():
        code = _field(coding, "code")
        number = code.to_numpy(zero_copy_only=False)[ours]
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
