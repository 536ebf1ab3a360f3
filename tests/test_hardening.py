"""Hostile and broken input, through the real `alliance` entry point: formula cells split by
a carriage return, YAML and Excel bombs, blank lines, case-colliding names, a full disk, bad
bytes, escape sequences, keys in the process list, and a million columns."""

from __future__ import annotations

import csv
import io
import json
import os
import resource
import signal
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from .conftest import ALLIANCE, run_cli

ITEMS = ["pb01", "pb03", "pb04", "pb07", "pg01", "pg03", "pg04", "pg07"]
ITEMS += ["pt01", "pt03", "pt05", "pt08"]
CR_FORMULA = "\r=cmd|' /C calc'!A0"


def export(path: Path, n: int = 40, seed: int = 0, **columns: list[object]) -> Path:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.integers(2, 6, size=(n, len(ITEMS))), columns=ITEMS)
    frame.insert(0, "clinician_id", [f"C{k % 4}" for k in range(n)])
    frame.insert(0, "respondent_id", [f"P{k:03d}" for k in range(n)])
    for name, values in columns.items():
        frame[name] = values
    # Text quoted, as survey platforms write it (a CR inside a cell stays in the cell).
    frame.to_csv(path, index=False, quoting=csv.QUOTE_NONNUMERIC)
    return path


def records(path: Path) -> list[list[str]]:
    """The records a spreadsheet sees: CR, LF and CRLF all end a line outside quotes."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


# ---------------------------------------------------------------- 1. formula injection
def test_a_carriage_return_cannot_start_a_formula_record(tmp_path: Path) -> None:
    path = tmp_path / "cr.csv"
    frame = pd.DataFrame(
        np.random.default_rng(1).integers(2, 6, size=(128, len(ITEMS))), columns=ITEMS
    )
    frame.insert(0, "respondent_id", [CR_FORMULA] + [f"P{k}" for k in range(1, 128)])
    frame.insert(1, '=HYPERLINK("http://x")', "note")
    frame.loc[5, ITEMS] = np.nan  # one quarantined row, to write a quarantine file
    frame.to_csv(path, index=False, quoting=csv.QUOTE_NONNUMERIC)
    out, held = tmp_path / "scores.csv", tmp_path / "quarantine.csv"
    assert run_cli("score", str(path), "-o", str(out)).returncode == 0
    assert run_cli("check", str(path), "--quarantine", str(held)).returncode == 0
    scores = records(out)
    assert len(scores) == 1 + 127  # 129 records for 128 rows before
    assert scores[1][scores[0].index("respondent_id")] == "'" + CR_FORMULA

    def number(cell: str) -> bool:
        try:
            float(cell)
        except ValueError:
            return False
        return True

    assert not any(
        cell.startswith(("=", "+", "-", "@", "\r", "\n")) and not number(cell)
        for row in scores
        for cell in row
    )
    # The CR inside the cell is quoted, so a reader cannot start a record there.
    assert f'"\'{CR_FORMULA}"' in out.open(encoding="utf-8", newline="").read()
    quarantine = records(held)
    assert '\'=HYPERLINK("http://x")' in quarantine[0]
    assert not any(name.startswith("=") for name in quarantine[0])


def test_the_benchmark_group_table_is_neutralised(tmp_path: Path) -> None:
    path = export(tmp_path / "e.csv", n=60)
    frame = pd.read_csv(path)
    frame["clinician_id"] = [CR_FORMULA if k % 2 else "@SUM(A1)" for k in range(60)]
    frame.to_csv(path, index=False, quoting=csv.QUOTE_NONNUMERIC)
    db = tmp_path / "c.duckdb"
    assert run_cli("ingest", str(path), "--db", str(db)).returncode == 0
    out = tmp_path / "groups.csv"
    done = run_cli("benchmark", "--db", str(db), "-o", str(out))
    assert done.returncode == 0, done.stderr
    table = records(out)
    assert sorted(row[0] for row in table[1:]) == ["'" + CR_FORMULA, "'@SUM(A1)"]


# ---------------------------------------------------------------- 2. YAML bombs
LAUGHS = (
    "a: &a ["
    + ",".join(['"lol"'] * 9)
    + "]\n"
    + "".join(
        f"{b}: &{b} [" + ",".join([f"*{a}"] * 9) + "]\n"
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    )
)


@pytest.mark.parametrize("kind", ["instrument", "map", "thresholds"])
@pytest.mark.parametrize(
    ("text", "message"),
    [
        (LAUGHS, "expands to more than 200,000 values"),
        ("[" * 20_000 + "]" * 20_000, "nested more than 64 levels deep"),
    ],
)
def test_yaml_bombs_are_refused_in_one_line(
    tmp_path: Path, kind: str, text: str, message: str
) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(text, encoding="utf-8")
    data = export(tmp_path / "e.csv")
    args = {
        "instrument": ["items", "--instrument", str(bomb)],
        "map": ["check", str(data), "--map", str(bomb)],
        "thresholds": ["score", str(data), "--thresholds", str(bomb)],
    }[kind]
    done = run_cli(*args)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr


def test_a_repeated_key_in_a_thresholds_file_is_refused(tmp_path: Path) -> None:
    minimums = tmp_path / "t.yaml"
    minimums.write_text(
        "thresholds:\n  bond: {method: fixed, value: 3}\n  bond: {method: fixed, value: 4}\n",
        encoding="utf-8",
    )
    done = run_cli("score", str(export(tmp_path / "e.csv")), "--thresholds", str(minimums))
    assert done.returncode == 2 and "line 3, column 3: repeated key 'bond'" in done.stderr


# ---------------------------------------------------------------- 3. Excel bombs
def workbook(path: Path, rows: int = 5) -> Path:
    frame = pd.read_csv(export(path.with_suffix(".csv"), n=rows))
    frame.to_excel(path, index=False)
    return path


def rewrite_sheet(path: Path, change: object) -> None:
    with zipfile.ZipFile(path) as book:
        parts = {name: book.read(name) for name in book.namelist()}
    parts = change(parts)  # type: ignore[operator]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        for name, data in parts.items():
            book.writestr(name, data)


def test_an_excel_file_that_expands_past_the_limit_is_refused(tmp_path: Path) -> None:
    path = workbook(tmp_path / "bomb.xlsx")

    def pad(parts: dict[str, bytes]) -> dict[str, bytes]:
        parts["xl/media/padding.bin"] = b"\0" * 30_000_000  # 30 MB of nothing, 30 kB zipped
        return parts

    rewrite_sheet(path, pad)
    assert path.stat().st_size < 200_000
    done = run_cli("check", str(path), "--max-size", "10MB")
    assert done.returncode == 2
    assert "the workbook expands to 30.0 MB, more than the 10.0 MB limit" in done.stderr


def test_an_excel_sheet_declaring_millions_of_rows_is_refused(tmp_path: Path) -> None:
    path = workbook(tmp_path / "rows.xlsx")

    def declare(parts: dict[str, bytes]) -> dict[str, bytes]:
        sheet = parts["xl/worksheets/sheet1.xml"]
        start = sheet.index(b"<dimension")
        end = sheet.index(b"/>", start) + 2
        parts["xl/worksheets/sheet1.xml"] = (
            sheet[:start] + b'<dimension ref="A1:N5000000"/>' + sheet[end:]
        )
        return parts

    rewrite_sheet(path, declare)
    done = run_cli("check", str(path))
    assert done.returncode == 2 and "declares 5,000,000 rows" in done.stderr


# ---------------------------------------------------------------- 5. sessions are not patients
def test_report_by_group_counts_only_the_patients_it_can_prove(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    rows = []
    for clinician, patients in (("C1", 2), ("C2", 3), ("C3", 4), ("C4", 8)):
        for _ in range(patients):
            for session in (1, 2, 3):
                rows.append([clinician, session, *rng.integers(2, 6, size=len(ITEMS))])
    path = tmp_path / "no_ids.csv"
    pd.DataFrame(rows, columns=["clinician_id", "session", *ITEMS]).to_csv(path, index=False)
    out = tmp_path / "r.html"
    done = run_cli("report", str(path), "--by", "clinician_id", "-o", str(out))
    assert done.returncode == 0, done.stderr
    html = out.read_text(encoding="utf-8")
    # 6, 9 and 12 sessions used to count as patients; only C4's 8 patients are proven.
    assert "(3 suppressed)" in html
    assert "no respondent id: at least the most rows that share one session number" in html


# ---------------------------------------------------------------- 6. tracebacks
def test_a_blank_trailing_line_is_ingested_like_check_reads_it(tmp_path: Path) -> None:
    path = export(tmp_path / "e.csv")
    path.write_text(path.read_text(encoding="utf-8") + "\n\n", encoding="utf-8")
    check = json.loads(run_cli("check", str(path), "--json").stdout)
    db = tmp_path / "b.duckdb"
    done = run_cli("ingest", str(path), "--db", str(db), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)["ingests"][0]
    assert summary["rows_in"] == check["rows_in"] and summary["rows_quarantined"] >= 1


def test_a_full_disk_during_the_commit_is_one_line(tmp_path: Path) -> None:
    path = export(tmp_path / "big.csv", n=20_000)
    db = tmp_path / "full.duckdb"

    def small_files() -> None:  # the filesystem refuses growth past 2 MB, as a full disk does
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2_000_000, 2_000_000))

    done = subprocess.run(
        [ALLIANCE, "ingest", str(path), "--db", str(db)],
        capture_output=True,
        text=True,
        preexec_fn=small_files,
        timeout=300,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "the store could not be written" in done.stderr
    assert "nothing of this export was stored" in done.stderr
    assert not db.exists()  # the refused first ingest leaves no empty store
    assert run_cli("ingest", str(path), "--db", str(db)).returncode == 0


def test_names_that_differ_only_in_case(tmp_path: Path) -> None:
    path = export(tmp_path / "e.csv", Note=["a"] * 40, note=["b"] * 40)
    db = tmp_path / "c.duckdb"
    done = run_cli("ingest", str(path), "--db", str(db))
    assert done.returncode == 0, done.stderr
    data = tmp_path / "hs.csv"
    data.write_text("x1,X1,x2\n1,2,3\n", encoding="utf-8")
    done = run_cli("validate", str(data), "--model", "f =~ x1 + X1 + x2")
    assert done.returncode == 2
    assert "item 'X1' differs only in case from 'x1'" in done.stderr


def test_a_refused_first_ingest_leaves_no_store(tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n", encoding="utf-8")
    db = tmp_path / "new.duckdb"
    assert run_cli("ingest", str(other), "--db", str(db)).returncode == 2
    assert not db.exists()


# ---------------------------------------------------------------- 7. smaller things
def test_one_bad_byte_early_in_a_qualtrics_export(tmp_path: Path) -> None:
    header = ["StartDate", "ResponseId", "Finished", "Q1_note", *ITEMS]
    texts = ["Start Date", "Response ID", "Finished", "Note", *ITEMS]
    ids = ['{"ImportId":"startDate"}', '{"ImportId":"_recordId"}', '{"ImportId":"finished"}']
    ids += ['{"ImportId":"QID1_TEXT"}'] + [f'{{"ImportId":"QID2_{k}"}}' for k in range(12)]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerows([header, texts, ids])
    for k in range(6):
        writer.writerow([f"2026-01-0{k + 1} 10:00:00", f"R_{k}", 1, "ok", *["4"] * 12])
    body = text.getvalue().encode("utf-8").replace(b"ok", b"caf\xe9", 1)
    path = tmp_path / "bad_byte.csv"
    path.write_bytes(b"\xef\xbb\xbf" + body)
    doc = json.loads(run_cli("check", str(path), "--json").stdout)
    assert (doc["platform"], doc["rows_in"]) == ("qualtrics", 6)


def test_error_lines_are_one_line_and_escape_control_characters(tmp_path: Path) -> None:
    path = tmp_path / "evil.csv"
    path.write_text("\x1b[31mred\x1b[0m,x\n1,2\n", encoding="utf-8")
    done = run_cli("check", str(path))
    assert done.returncode == 2
    assert "\x1b" not in done.stderr and "\\x1b[31mred" in done.stderr
    assert done.stderr.count("\n") == 1
    data = export(tmp_path / "e.csv", **{"\x1b]0;title\x07note": ["x"] * 40})
    shown = run_cli("check", str(data))
    assert "\x1b" not in shown.stdout and "\\x1b]0;title\\x07note" in shown.stdout


def test_the_pseudonym_key_need_not_be_in_the_process_list(tmp_path: Path) -> None:
    path = export(tmp_path / "e.csv")
    by_option = tmp_path / "a.csv"
    assert (
        run_cli("score", str(path), "--pseudonymize", "k3y", "-o", str(by_option)).returncode == 0
    )
    key_file = tmp_path / "key.txt"
    key_file.write_text("k3y\n", encoding="utf-8")
    by_file = tmp_path / "b.csv"
    done = run_cli("score", str(path), "--pseudonymize-key-file", str(key_file), "-o", str(by_file))
    assert done.returncode == 0, done.stderr
    by_env = tmp_path / "c.csv"
    env = subprocess.run(
        [ALLIANCE, "score", str(path), "-o", str(by_env)],
        capture_output=True,
        text=True,
        env={**os.environ, "ALLIANCE_PSEUDONYM_KEY": "k3y"},
        timeout=300,
    )
    assert env.returncode == 0, env.stderr
    ids = [pd.read_csv(p)["respondent_id"].tolist() for p in (by_option, by_file, by_env)]
    assert ids[0] == ids[1] == ids[2] and ids[0][0].startswith("anon_")


def test_a_million_columns_are_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{k}" for k in range(1_000_000)) + "\n" + "1," * 10 + "\n")
    done = run_cli("check", str(path))
    assert done.returncode == 2 and "more than 20,000 columns" in done.stderr


def test_the_csv_writer_round_trips_every_kind_of_cell(tmp_path: Path) -> None:
    from reports.output import write_csv

    frame = pd.DataFrame(
        {
            "text": ["plain", "a, b", 'say "hi"', "line\r\nbreak", None, "=1+1"],
            "score": [1.5, np.nan, 3.0, 4.25, 5.0, -2.0],
            "adequate": [True, False, True, False, True, False],
        }
    )
    path = tmp_path / "out.csv"
    write_csv(frame, path)
    raw = path.read_bytes()
    assert raw.startswith(b'"text","score","adequate"\r\n')
    back = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={"text": object})
    assert len(back) == len(frame)
    assert back["text"].tolist()[:4] == ["plain", "a, b", 'say "hi"', "line\r\nbreak"]
    assert pd.isna(back["text"][4])
    assert back["text"][5] == "'=1+1"  # a formula is neutralised, not run
    np.testing.assert_array_equal(back["score"].to_numpy(), frame["score"].to_numpy())
    assert back["adequate"].tolist() == frame["adequate"].tolist()


def test_a_repeated_response_id_is_a_finding_on_both_rows(tmp_path: Path) -> None:
    source = Path(__file__).parent / "reference" / "data" / "alliance.csv"
    rows = list(csv.reader(source.open(newline="")))
    rows[3][0] = rows[2][0]  # the second and third responses share an id
    rows[5][0] = ""  # a row with no id is no duplicate
    rows[6][0] = ""
    path = tmp_path / "dup.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows[:40])
    out = run_cli("check", str(path), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    dups = [f for f in doc["findings"] if f["kind"] == "duplicate_id"]
    assert [f["row"] for f in dups] == [2, 3]
    assert {f["value"] for f in dups} == {rows[2][0]}
    assert doc["rows_in"] == 39


def test_the_fast_formula_screen_misses_nothing_neutralize_text_would_change() -> None:
    """neutralize_formulas passes only the cells its pattern flags to neutralize_text: every
    short string of the characters that matter gives the same result both ways."""
    import itertools

    from analysis.privacy import neutralize_formulas, neutralize_text

    chars = ["a", "=", "+", "-", "@", "\t", "\r", "\n", " ", "1"]
    values = ["".join(p) for size in range(1, 5) for p in itertools.product(chars, repeat=size)]
    frame = pd.DataFrame(
        {"text": values, "mixed": [v if k % 3 else 5 for k, v in enumerate(values)]}
    )
    safe = neutralize_formulas(frame)
    assert safe["text"].tolist() == [neutralize_text(v) for v in values]
    assert safe["mixed"].tolist() == [
        neutralize_text(v) if isinstance(v, str) else v for v in frame["mixed"]
    ]


DAMAGED_SAV = Path(__file__).parent / "data" / "damaged_readstat_crash.sav"


def test_an_spss_file_that_crashes_its_reader_is_one_line_and_exit_2() -> None:
    """tests/data/damaged_readstat_crash.sav is a simulated SPSS export with a few bytes
    changed (a fuzz find): pyreadstat 1.3.8 dies on it with a segmentation fault. Read in a
    child process, it is refused like any unreadable file, by every command that reads."""
    for args in (["check"], ["score", "-o", "/dev/null"], ["report", "-o", "/dev/null"]):
        command = args[0]
        done = run_cli(command, str(DAMAGED_SAV), *args[1:])
        assert done.returncode == 2, (command, done.returncode, done.stderr)
        assert done.stderr.strip().splitlines()[-1] == (
            "alliance: error: damaged_readstat_crash.sav: not a readable SPSS file: it is "
            "damaged, or in another format than its name says."
        )


def test_a_reader_that_dies_is_reported_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever ReadStat does in its own process, the caller gets an exception to handle."""
    from analysis.ingest import readstat

    monkeypatch.setattr(readstat, "_read", lambda *args: os.abort())
    with pytest.raises(readstat.ReaderCrashed, match="the reader crashed on this file"):
        readstat.read_readstat(DAMAGED_SAV, "spss")
    monkeypatch.setattr(readstat, "_read", lambda *args: int("not a number"))
    with pytest.raises(ValueError, match="invalid literal"):  # the reader's own error, raised
        readstat.read_readstat(DAMAGED_SAV, "spss")
