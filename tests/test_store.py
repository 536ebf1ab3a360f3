"""The clinic store: a year of monthly exports from 40 clinicians, ingested twice, overlapping,
and once killed midway; the store must hold each usable response exactly once."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analysis.pipeline import Options, read_checked, score
from analysis.store.schema import SCHEMA_VERSION, StoreError, open_store
from analysis.store.writer import IngestSummary, ingest_checked
from instrument import Instrument

from .conftest import ALLIANCE, monthly, run_cli


def expected_ids(year: Path, bank: Instrument) -> set[str]:
    ids: set[str] = set()
    for path in monthly(year):
        checked = read_checked(path, Options(), bank).checked
        ids |= set(checked.usable_data()["response_id"])
    return ids


def counts(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            table: con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            for table in ("responses", "scores", "quarantine", "findings", "ingests")
        }


def ingest(db: Path, *files: Path, extra: tuple[str, ...] = ()) -> list[dict]:
    done = run_cli("ingest", *map(str, files), "--db", str(db), "--json", *extra)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["ingests"]


def _interruptible() -> None:
    """In the child, before it starts: Ctrl-C as in a terminal. A test run started in the
    background (or under nohup) has SIGINT ignored, and a child would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def interruptible() -> Iterator[None]:
    """This process answers Ctrl-C with KeyboardInterrupt for the test, however it was
    started."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def kill_midway(db: Path, export: Path, sig: int) -> subprocess.CompletedProcess[str]:
    """Start an ingest and signal it while its transaction is open. Progress goes to stderr
    once per batch; the pipe is shrunk to one page and no longer read after the first batch,
    so the process blocks inside the transaction. Batches of 5 rows make its progress several
    pages long: more than the page in the pipe plus the page this side may have read."""
    proc = subprocess.Popen(
        [ALLIANCE, "ingest", str(export), "--db", str(db), "--batch-rows", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_interruptible,
    )
    assert proc.stderr is not None
    fcntl.fcntl(proc.stderr.fileno(), fcntl.F_SETPIPE_SZ, 4096)
    for line in proc.stderr:
        if "stored 5 of" in line:
            break
    else:
        pytest.fail("the ingest never reported its first batch")
    os.kill(proc.pid, sig)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.slow
def test_a_year_ingested_twice_overlapping_and_killed_holds_each_response_once(
    year: Path, bank: Instrument, tmp_path: Path
) -> None:
    db = tmp_path / "clinic.duckdb"
    files = monthly(year)
    first = ingest(db, *files[:6])
    assert all(i["rows_already_stored"] == 0 and i["rows_conflicting"] == 0 for i in first)
    before = counts(db)

    killed = kill_midway(db, year / "year.csv", signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    assert counts(db) == before  # nothing of the killed ingest is in the store

    interrupted = kill_midway(db, year / "year.csv", signal.SIGINT)
    assert interrupted.returncode != 0
    assert "Traceback" not in interrupted.stderr
    assert counts(db) == before

    second = ingest(db, *files)  # months 1-6 again, and 7-12 for the first time
    assert [i["rows_new"] for i in second[:6]] == [0] * 6
    assert [i["rows_already_stored"] for i in second[:6]] == [i["rows_usable"] for i in first]
    again = ingest(db, *files, year / "year.csv")  # everything a third time, and overlapping
    assert sum(i["rows_new"] for i in again) == 0
    assert sum(i["rows_conflicting"] for i in first + second + again) == 0

    truth = expected_ids(year, bank)
    with duckdb.connect(str(db), read_only=True) as con:
        stored = con.execute("SELECT response_id FROM responses").fetchdf()["response_id"]
        scored = con.execute("SELECT response_id FROM scores").fetchdf()["response_id"]
        ingests = con.execute("SELECT count(*), sum(rows_new) FROM ingests").fetchall()[0]
        quarantined = con.execute("SELECT count(DISTINCT response_id), count(*) FROM quarantine")
        q_distinct, q_rows = quarantined.fetchall()[0]
    assert stored.is_unique and set(stored) == truth
    assert scored.is_unique and set(scored) == truth
    assert ingests == (6 + 12 + 13, len(truth))
    assert q_distinct == q_rows  # quarantined rows are kept once too
    assert oct(db.stat().st_mode & 0o777) == "0o600"


@pytest.mark.usefixtures("interruptible")
def test_an_interrupt_a_library_swallows_still_stops_the_ingest(
    year: Path, bank: Instrument, tmp_path: Path
) -> None:
    """DuckDB may clear a KeyboardInterrupt raised while it runs a query and finish the
    query. The progress callback here does the same: Ctrl-C arrives, is caught and dropped.
    The ingest must still stop before it commits, and store nothing."""
    db = tmp_path / "clinic.duckdb"
    march = monthly(year)[2]
    ingest(db, monthly(year)[0])
    before = counts(db)
    read = read_checked(march, Options(), bank)
    scored = score(read, Options(), None)

    def swallowing(done: int, total: int) -> None:
        with contextlib.suppress(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(KeyboardInterrupt), open_store(db) as con:
        ingest_checked(
            con,
            read.checked,
            scored,
            read.instrument,
            source=str(march),
            sha256="0",
            progress=swallowing,
            batch_rows=50,
        )
    assert counts(db) == before
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_a_changed_answer_is_a_conflicting_duplicate_and_the_stored_row_stays(
    year: Path, tmp_path: Path
) -> None:
    db = tmp_path / "clinic.duckdb"
    march = monthly(year)[2]
    ingest(db, march)
    frame = pd.read_csv(march, dtype=str, keep_default_na=False)
    changed = frame.copy()
    row = changed.index[changed["pb02"] != ""][0]
    changed.loc[row, "pb02"] = "1" if changed.loc[row, "pb02"] != "1" else "2"
    edited = tmp_path / "march_edited.csv"
    changed.to_csv(edited, index=False)
    [summary] = ingest(db, edited)
    assert summary["rows_new"] == 0 and summary["rows_conflicting"] == 1
    with duckdb.connect(str(db), read_only=True) as con:
        finding = con.execute("SELECT kind, response_id FROM findings").fetchall()
        kept = con.execute(
            "SELECT pb02 FROM responses WHERE response_id = ?", [frame.loc[row, "response_id"]]
        ).fetchall()
    assert finding == [("conflicting_duplicate", frame.loc[row, "response_id"])]
    assert kept == [(float(frame.loc[row, "pb02"]),)]


def test_schema_versions_are_checked_and_migrated(tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    with open_store(db, create=True) as con:
        version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    assert version == [(str(SCHEMA_VERSION),)]
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with (
        pytest.raises(StoreError, match="schema version 99; this toolkit knows up to"),
        open_store(db),
    ):
        pass
    other = tmp_path / "other.duckdb"
    with duckdb.connect(str(other)) as con:
        con.execute("CREATE TABLE patients (id INTEGER)")
    with pytest.raises(StoreError, match="not an alliance store"), open_store(other):
        pass


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["benchmark", "--db", "{tmp}/none.duckdb"], "no such store"),
        (["ingest", "{tmp}/missing.csv", "--db", "{tmp}/s.duckdb"], "missing.csv: no such file"),
        (["benchmark", "--db", "{tmp}/s.duckdb", "-o", "{tmp}/out.pdf"], "must end in .html"),
        (["benchmark", "--db", "{tmp}/s.duckdb", "--since", "March"], "a date like"),
    ],
)
def test_bad_store_input_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    done = run_cli(*(a.format(tmp=tmp_path) for a in args))
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out.pdf").exists()
    assert not (tmp_path / "s.duckdb").exists()


@pytest.mark.usefixtures("interruptible")
def test_an_interrupt_inside_duckdb_is_a_keyboard_interrupt(tmp_path: Path) -> None:
    # Ctrl-C while DuckDB runs Python code (reading an Arrow batch; here a function) comes
    # out of DuckDB wrapped in an error of its own; the store gives it back as the interrupt
    # it is, so that the command says 'Aborted!' rather than printing a traceback.
    def interrupted() -> int:
        signal.raise_signal(signal.SIGINT)
        return 0

    with (
        pytest.raises(KeyboardInterrupt),
        open_store(tmp_path / "store.duckdb", create=True) as con,
    ):
        con.create_function("interrupted", interrupted, [], "BIGINT")
        con.execute("SELECT interrupted()").fetchall()


def _tricky_export(year: Path, tmp_path: Path) -> Path:
    """March with what could tell a block-by-block ingest from a whole one: a repeated row
    and a changed copy of another, far apart (in different blocks), and two blank lines."""
    frame = pd.read_csv(monthly(year)[2], dtype=str, keep_default_na=False)
    repeat = frame.iloc[[3]]
    changed = frame.iloc[[10]].copy()
    changed["pb02"] = "1" if changed["pb02"].iloc[0] != "1" else "2"
    blank = pd.DataFrame([[""] * frame.shape[1]] * 2, columns=frame.columns)
    tricky = pd.concat([frame.iloc[:40], blank, frame.iloc[40:], repeat, changed])
    path = tmp_path / "march_tricky.csv"
    tricky.to_csv(path, index=False)
    return path


def _tables(db: Path) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(db), read_only=True) as con:
        out = {}
        for table in ("responses", "scores", "quarantine", "findings", "ingests"):
            frame = con.execute(f"SELECT * FROM {table}").fetchdf()
            out[table] = frame.drop(columns=["ingested_at"], errors="ignore")
        return out


def _both_ways(
    exports: list[Path], options: Options, bank: Instrument, tmp_path: Path, batch_rows: int
) -> tuple[dict[str, dict[str, pd.DataFrame]], list[IngestSummary]]:
    """The exports ingested in turn into two stores: checked and scored whole, and block by
    block as `alliance ingest` does; each store's tables, and the block path's summaries."""
    from analysis.pipeline import block_scoring, read_unchecked
    from analysis.store.writer import ingest_export

    stores = {}
    summaries = []
    for way in ("whole", "blocks"):
        db = tmp_path / f"{way}.duckdb"
        with open_store(db, create=True) as con:
            for k, path in enumerate(exports):
                if way == "whole":
                    read = read_checked(path, options, bank)
                    ingest_checked(
                        con, read.checked, score(read, options), read.instrument,
                        source=path.name, sha256=str(k),
                    )  # fmt: skip
                    continue
                seen: list[tuple[str, int, int]] = []
                instrument, export = read_unchecked(path, options, bank)
                summary = ingest_export(
                    con,
                    export,
                    instrument,
                    block_scoring(instrument, options),
                    source=path.name,
                    sha256=str(k),
                    batch_rows=batch_rows,
                    progress=lambda *step, into=seen: into.append(step),
                )
                n = summary.rows_in
                assert seen[0] == ("checked", min(batch_rows, n), n)
                assert seen[-1] == ("stored", n, n)
                summaries.append(summary)
        stores[way] = _tables(db)
    return stores, summaries


def _assert_same_stores(stores: dict[str, dict[str, pd.DataFrame]]) -> None:
    error = {}
    for way, tables in stores.items():  # JSON text: compared as numbers below
        error[way] = [json.loads(e) for e in tables["ingests"].pop("measurement_error")]
    for table, whole in stores["whole"].items():
        blocks = stores["blocks"][table]
        assert list(blocks.columns) == list(whole.columns), table
        assert len(whole) > 0 or table == "findings", table
        pd.testing.assert_frame_equal(blocks, whole, check_exact=False, rtol=1e-9, atol=1e-12)
    for whole, blocks in zip(error["whole"], error["blocks"], strict=True):
        for pillar, stats in whole.items():
            assert blocks[pillar] == pytest.approx(stats, rel=1e-12)


@pytest.mark.parametrize("thresholds", [None, "goals: {method: criterion, outcome: dropout}"])
def test_an_export_stored_block_by_block_is_stored_as_it_is_whole(
    year: Path, bank: Instrument, tmp_path: Path, thresholds: str | None
) -> None:
    """The ingest checks, scores and writes a block of rows at a time, with the sample's
    statistics (alpha, SDs, the error correlation, a criterion minimum) from a first pass. The
    store it leaves must be the store of the whole export checked and scored at once: the
    same rows, keys, quarantine, conflicts and counts, and the scores within 1e-9."""
    options = Options()
    if thresholds is not None:
        options = Options(thresholds=tmp_path / "minimums.yaml")
        options.thresholds.write_text(f"thresholds:\n  {thresholds}\n")  # type: ignore[union-attr]
    # A month stored before: its rows are 'already stored' in the tricky export.
    exports = [monthly(year)[1], _tricky_export(year, tmp_path)]
    stores, summaries = _both_ways(exports, options, bank, tmp_path, batch_rows=97)
    tricky = summaries[-1]
    assert tricky.rows_conflicting == 1 and tricky.rows_already_stored >= 1
    assert tricky.rows_quarantined >= 2
    if thresholds is not None:
        stored = json.loads(stores["blocks"]["ingests"]["thresholds"].iloc[-1])
        [goals] = [t for t in stored if t["pillar"] == "goals"]
        assert goals["method"] == "criterion" and goals["n"] > 100
    _assert_same_stores(stores)


@pytest.mark.parametrize("form", ["export.sav", "redcap.csv"])
def test_an_spss_or_redcap_export_stored_block_by_block_is_stored_as_it_is_whole(
    bank: Instrument, tmp_path: Path, form: str
) -> None:
    """The same on an SPSS file with value labels, and on a longitudinal REDCap export (its
    sessions are numbered from the order of its events over the whole file)."""
    path = tmp_path / form
    shape = ["--format", "redcap"] if form.startswith("redcap") else []
    done = run_cli(
        "simulate", "-n", "150", "--clinicians", "6", "--sessions", "3", *shape, "-o", str(path)
    )
    assert done.returncode == 0, done.stderr
    stores, _ = _both_ways([path], Options(), bank, tmp_path, batch_rows=41)
    _assert_same_stores(stores)
