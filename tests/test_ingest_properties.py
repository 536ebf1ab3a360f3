"""Property tests: whatever bytes or table arrive, the reader either reads every row or refuses
with its own one-line error; it never crashes and never loses a row."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.check import check_export
from analysis.ingest import ExportError, read_export
from instrument import builtin_instrument

BANK = builtin_instrument()
ITEMS = list(BANK.form("patient-short").items)
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def read_bytes(data: bytes, suffix: str = ".csv") -> object:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"export{suffix}"
        path.write_bytes(data)
        try:
            export = read_export(path, BANK)
        except ExportError as exc:
            message = str(exc)
            assert message and "\n" not in message
            return exc
        checked = check_export(export, BANK)
        assert checked.rows_in == checked.rows_usable + checked.rows_quarantined
        return export


@given(st.binary(max_size=2000))
@SETTINGS
def test_random_bytes_never_crash_the_reader(data: bytes) -> None:
    read_bytes(data)


@given(st.binary(max_size=600), st.sampled_from([".csv", ".xlsx", ".sav", ".dta", ".parquet"]))
@SETTINGS
def test_random_bytes_under_binary_names_are_refused_clearly(data: bytes, suffix: str) -> None:
    read_bytes(data, suffix)


cells = st.one_of(
    st.sampled_from(["", "1", "2", "3", "4", "5", "-99", "Always", "never ", "n/a", "7", "3.5"]),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        max_size=8,
    ),
)


@given(
    st.lists(
        st.sampled_from([*ITEMS, "respondent_id", "note", "session"]),
        min_size=1,
        max_size=10,
        unique=True,
    ),
    st.integers(min_value=1, max_value=25),
    st.data(),
    st.sampled_from([",", ";", "\t"]),
)
@SETTINGS
def test_random_tables_keep_every_row(
    columns: list[str], n_rows: int, data: st.DataObject, delimiter: str
) -> None:
    rows = [[data.draw(cells) for _ in columns] for _ in range(n_rows)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)  # "\r\n" ends rows and quotes \r, \n
    writer.writerow(columns)
    writer.writerows(rows)
    result = read_bytes(buffer.getvalue().encode("utf-8"))
    if isinstance(result, ExportError):
        # The only acceptable refusals for a well-formed table: no item column at all, or a
        # table whose cells make every line blank.
        assert (
            "no column matches an item" in str(result)
            or "no data rows" in str(result)
            or "no text" in str(result)
            or "line" in str(result)
        ), str(result)
        return
    assert len(result.data) == n_rows  # type: ignore[attr-defined]
