"""Property tests for the families of hostile input the hardening covers: formula cells with
CR and LF, YAML aliases and depth, blank lines, names that differ only in case, and bad bytes
early in a platform export. Whatever hypothesis draws, nothing crashes, no row is lost, no CSV
record starts a formula. (benchmarks/bench_fuzz.py runs the same families, and more, through
the command line for longer.)"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.check import check_export
from analysis.ingest import ExportError, read_export
from analysis.reading import Options, read_unchecked
from analysis.scoring import score_export
from analysis.store.schema import migrate
from analysis.store.writer import ingest_checked
from instrument import builtin_instrument
from instrument.yamlsafe import YamlLimitError, load_yaml
from reports.output import csv_text

from .conftest import run_cli

BANK = builtin_instrument()
ITEMS = list(BANK.form("patient-short").items)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FORMULA = ("=", "+", "-", "@", "\t", "\r", "\n")

hostile = st.text(
    alphabet=st.sampled_from(["=", "+", "-", "@", "\r", "\n", "\t", "a", "1", '"', ",", "'"]),
    max_size=12,
)


def frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = pd.DataFrame(rng.integers(1, 6, size=(n, len(ITEMS))).astype(float), columns=ITEMS)
    out.insert(0, "respondent_id", [f"P{k}" for k in range(n)])
    return out


@given(st.lists(hostile, min_size=1, max_size=8), hostile)
@SETTINGS
def test_no_csv_record_starts_a_formula(ids: list[str], name: str) -> None:
    table = frame(len(ids), 0).assign(respondent_id=ids)
    table[name or "x"] = ids
    text = csv_text(table)
    records = list(csv.reader(io.StringIO(text, newline="")))
    assert len(records) == len(ids) + 1
    for row in records:
        for cell in row:
            if cell.startswith(FORMULA):
                float(cell)  # only a number may start with a sign


def nested(depth: int, fan: int) -> str:
    lines = ['a0: &a0 ["x"]']
    for k in range(1, depth):
        lines.append(f"a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * fan) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.slow
@given(st.integers(1, 14), st.integers(1, 12), st.integers(1, 3000))
@SETTINGS
def test_yaml_aliases_and_depth_are_bounded(depth: int, fan: int, brackets: int) -> None:
    for text in (nested(depth, fan), "[" * brackets + "]" * brackets):
        try:
            load_yaml(text)
        except YamlLimitError as exc:
            assert "\n" not in str(exc)


def write(table: pd.DataFrame, blank_after: list[int]) -> bytes:
    lines = table.to_csv(index=False).splitlines()
    for k in sorted(blank_after, reverse=True):
        lines.insert(min(k, len(lines)), "")
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.slow
@given(
    st.integers(3, 20),
    st.lists(st.integers(1, 25), max_size=5),
    st.lists(st.sampled_from(["Note", "note", "NOTE", "nOtE"]), max_size=4, unique=True),
)
@SETTINGS
def test_blank_lines_and_case_colliding_names_store_cleanly(
    n: int, blanks: list[int], extras: list[str]
) -> None:
    table = frame(n, n)
    for name in extras:
        table[name] = name
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "e.csv"
        path.write_bytes(write(table, blanks))
        export = read_export(path, BANK)
        checked = check_export(export, BANK)
        assert checked.rows_in == checked.rows_usable + checked.rows_quarantined
        assert checked.rows_in == n + len(blanks)  # a blank line is a row, quarantined
        scored = score_export(checked.usable_data(), BANK)
        with duckdb.connect(str(Path(tmp) / "s.duckdb")) as con:
            migrate(con)
            summary = ingest_checked(con, checked, scored, BANK, source="e.csv", sha256="0")
        assert summary.rows_new == checked.rows_usable


def qualtrics(n: int) -> bytes:
    header = ["StartDate", "ResponseId", "Finished", *ITEMS]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerow(["Start Date", "Response ID", "Finished", *(f"Q - {i}" for i in ITEMS)])
    writer.writerow(['{"ImportId":"startDate"}', '{"ImportId":"_recordId"}', "{}", *["{}"] * 12])
    for k in range(n):
        writer.writerow(["2026-01-02 10:00:00", f"R_{k}", "1", *["4"] * 12])
    return b"\xef\xbb\xbf" + text.getvalue().encode("utf-8")


@given(
    st.integers(2, 30),
    st.lists(st.tuples(st.integers(3, 400), st.binary(min_size=1, max_size=2)), max_size=3),
)
@SETTINGS
def test_bad_bytes_early_keep_a_platform_export_recognised(
    n: int, damage: list[tuple[int, bytes]]
) -> None:
    data = bytearray(qualtrics(n))
    header_end = data.index(b"\r\n")
    for at, junk in damage:
        at = max(at, header_end + 2)  # the header itself stays readable
        data[at:at] = bytes(b if b >= 0x80 else 0x80 | b for b in junk)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "q.csv"
        path.write_bytes(bytes(data))
        try:
            export = read_export(path, BANK)
        except ExportError as exc:
            assert "\n" not in str(exc)
            return
        assert export.platform == "qualtrics"
        checked = check_export(export, BANK)
        assert checked.rows_in == checked.rows_usable + checked.rows_quarantined


# Cells a damaged or hand-edited export holds: huge whole numbers, numbers too long to be
# finite, 1e300, text, a NUL byte, negatives; beside ordinary answers.
odd_cell = st.sampled_from(
    ["2147483647", "10000000", "9" * 2000, "1e300", "-1e300", "inf", "nan", "lots", "4\x00",
     "-3", "0", "", "3.5"]
)  # fmt: skip


@given(
    st.lists(st.lists(st.one_of(st.sampled_from(["1", "2", "3", "4", "5"]), odd_cell),
                      min_size=6, max_size=6), min_size=1, max_size=25),
    st.integers(0, 6),
    st.booleans(),
)  # fmt: skip
@SETTINGS
def test_odd_cells_in_a_model_string_export_are_findings_and_bounded(
    rows: list[list[str]], repeats: int, cut: bool
) -> None:
    """Whatever the cells, a model-string export reads, checks and scores: no scale wider
    than 101 points, no infinite or absurd score, every row accounted for, and a last record
    cut off (no line end, fields missing) named as such."""
    lines = ["id,q1,q2,q3,q4,q5,q6"]
    lines += [f"P{k}," + ",".join(cells) for k, cells in enumerate(rows)]
    lines += [lines[1]] * repeats  # rows exported twice
    text = "\n".join(lines) + "\n"
    if cut:
        text = text[: text.rstrip("\n").rfind(",")]  # the file ends inside the last record
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.csv"
        path.write_bytes(text.encode("utf-8"))
        try:
            instrument, export = read_unchecked(path, Options(instrument=MODEL_TEXT))
        except ExportError as exc:
            assert "\n" not in str(exc)
            return
        for scale in {instrument.scale_of(i) for i in instrument.item_ids} - {None}:
            assert len(scale.codes) <= 101
        checked = check_export(export, instrument)
        assert checked.rows_in == checked.rows_usable + checked.rows_quarantined
        kinds = set(checked.findings["kind"])
        if repeats >= (2 if cut else 1):  # a cut changes the last copy
            assert "duplicate_row" in kinds or checked.rows_usable == 0
        if cut and "," in lines[-1]:
            assert "cut_off" in kinds
        values = export.data[list(export.items)].to_numpy(dtype=float)
        assert not (np.abs(values) >= 1e12).any()
        if checked.rows_usable:
            scored = score_export(checked.usable_data(), instrument)
            numbers = scored.scores.scores.to_numpy(dtype=float)
            assert np.isfinite(numbers[~np.isnan(numbers)]).all()
            assert not (np.abs(numbers) >= 1e12).any()


MODEL_TEXT = "f =~ q1 + q2 + q3; g =~ q4 + q5 + q6"


def test_report_with_no_usable_row_is_one_line_and_exit_1(tmp_path: Path) -> None:
    """A model-string instrument and item columns that hold text: nothing is usable."""
    path = tmp_path / "text.csv"
    path.write_text("id,q1,q2,q3\n1,a lot,some,none\n2,some,,none\n", encoding="utf-8")
    done = run_cli("report", str(path), "--instrument", "f =~ q1 + q2 + q3", "-o",
                   str(tmp_path / "r.html"))  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = [x for x in done.stderr.splitlines() if x.startswith("alliance:")]
    assert lines == [
        "alliance: nothing to report: none of the 2 rows is usable (2 no_answers); "
        "alliance check lists why."
    ]
    assert not (tmp_path / "r.html").exists()
