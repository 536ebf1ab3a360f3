"""Direct identifiers never reach the store, a page or a file.

Exports are made as a clinic's would be: a REDCap export of the alliance form with a
demographics form beside it (names, e-mail, phone, date of birth, a free-text note with an
e-mail address in it, and a field that only the data dictionary marks as identifying), an SPSS
file whose variable labels name its identifiers, and a Qualtrics export with its recipient and
location columns. Every planted value is then searched for in every table of the store, every
Parquet file of its copy and every file and page the commands write."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyreadstat
import pytest

from analysis.ingest.identifiers import IdentifierPolicy, find_identifiers, name_reason
from analysis.privacy import pseudonymize
from analysis.store.schema import open_store
from instrument.exports.redcap import REDCAP_COLUMNS

from .conftest import run_cli


def _planted(k: int) -> dict[str, str]:
    """One patient's identifiers, each a string no output has any other reason to hold."""
    return {
        "first_name": f"Ysolde{k:03d}",
        "last_name": f"Quennell{k:03d}",
        "email": f"ysolde{k:03d}.q@example.org",
        "telephone_1": f"(415) 555-{1000 + k:04d}",
        "dob": f"{1950 + k % 40}-0{1 + k % 9}-1{k % 10}",
        # Only the data dictionary says this one identifies (a note of where to reach them).
        "contact_note": f"Marchetti{k:03d} ward",
        "comments": f"call back at ysolde{k:03d}@home.example.net" if k % 3 == 0 else "fine",
    }


@pytest.fixture(scope="module")
def redcap(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A REDCap export with identifiers beside the alliance form, and its data dictionary in
    the same folder (found there, as REDCap users keep them)."""
    folder = tmp_path_factory.mktemp("redcap")
    simulated = folder / "simulated.csv"
    done = run_cli(
        "simulate", "-n", "90", "--clinicians", "6", "--sessions", "3", "--format", "redcap",
        "--seed", "5", "-o", str(simulated),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    frame = pd.read_csv(simulated, dtype=str, keep_default_na=False)
    simulated.unlink()
    records = pd.unique(frame["record_id"])
    planted = {r: _planted(k) for k, r in enumerate(records)}
    for column in next(iter(planted.values())):
        frame.insert(1, column, frame["record_id"].map(lambda r, c=column: planted[r][c]))
    frame.insert(1, "age", frame["record_id"].map(lambda r: str(30 + hash(r) % 40)))
    export = folder / "clinic_export.csv"
    frame.to_csv(export, index=False)
    rows = [
        ["record_id", "demographics", "", "text", "Record ID", "", "", "", "", "", ""],
        ["contact_note", "demographics", "", "notes", "How to reach", "", "", "", "", "", "y"],
        ["age", "demographics", "", "text", "Age", "", "", "integer", "", "", ""],
    ]
    width = len(REDCAP_COLUMNS)
    rows = [row + [""] * (width - len(row)) for row in rows]
    pd.DataFrame(rows, columns=list(REDCAP_COLUMNS)).to_csv(
        folder / "Clinic_DataDictionary_2026-11-30.csv", index=False
    )
    secrets = [v for p in planted.values() for v in p.values() if v != "fine"]
    return export, secrets


def _text_of_store(db: Path) -> str:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [r[0] for r in con.execute("SHOW TABLES").fetchall()]
        parts = [con.execute(f'SELECT * FROM "{t}"').fetchdf().astype(str) for t in tables]
    return "\n".join(p.to_csv() for p in parts) + "\n".join(
        " ".join(map(str, p.columns)) for p in parts
    )


def _text_of_parquet(folder: Path) -> str:
    files = sorted(folder.rglob("*.parquet"))
    assert files, f"no Parquet files under {folder}"
    return "\n".join(pq.read_table(f).to_pandas().astype(str).to_csv() for f in files)


def _assert_none_in(text: str, secrets: list[str], where: str) -> None:
    found = [s for s in secrets if s in text]
    assert not found, f"{where} holds {len(found)} planted identifiers, e.g. {found[:3]}"


@pytest.mark.slow
def test_a_redcap_export_with_identifiers_leaves_none_in_the_store_pages_or_files(
    redcap: tuple[Path, list[str]], tmp_path: Path
) -> None:
    export, secrets = redcap
    assert len(secrets) > 400
    db = tmp_path / "clinic.duckdb"
    done = run_cli("ingest", str(export), "--db", str(db))
    assert done.returncode == 0, done.stderr
    # One line says which columns were left out, and why.
    note = [line for line in done.stderr.splitlines() if "identifying column" in line]
    assert len(note) == 1, done.stderr
    for column in ("first_name", "last_name", "email", "telephone_1", "dob", "contact_note"):
        assert column in note[0]
    assert "Clinic_DataDictionary_2026-11-30.csv" in note[0]
    assert "contact_note (marked Identifier? in the data dictionary)" in note[0]
    with open_store(db, read_only=True) as con:
        recorded = json.loads(con.execute("SELECT identifiers_dropped FROM ingests").fetchone()[0])
        stored = [r[0] for r in con.execute("DESCRIBE responses").fetchall()]
    assert {d["column"] for d in recorded} == {
        "first_name", "last_name", "email", "telephone_1", "dob", "contact_note", "comments",
    }  # fmt: skip
    assert "extra:age" in stored  # what identifies no one is still kept, for case-mix
    _assert_none_in(_text_of_store(db), secrets, "the store")

    lake = tmp_path / "lake"
    assert run_cli("export-store", "--db", str(db), "--parquet", str(lake)).returncode == 0
    _assert_none_in(_text_of_parquet(lake), secrets, "the Parquet copy")

    outputs = {
        "quarantine file": ["check", str(export), "--quarantine", str(tmp_path / "q.csv")],
        "scores": ["score", str(export), "-o", str(tmp_path / "scores.csv")],
        "report": ["report", str(export), "--by", "clinician_id", "-o", str(tmp_path / "r.html")],
        "benchmark page": ["benchmark", "--db", str(db), "--by", "clinician_id", "-o",
                           str(tmp_path / "b.html")],
        "clinician page": ["alerts", "--db", str(db), "--clinician", "C01", "-o",
                           str(tmp_path / "c01.html")],
        "check JSON": ["check", str(export), "--json"],
    }  # fmt: skip
    for where, args in outputs.items():
        done = run_cli(*args)
        assert done.returncode == 0, f"{where}: {done.stderr}"
        _assert_none_in(done.stdout + done.stderr, secrets, where)
    for path in ("q.csv", "scores.csv", "r.html", "b.html", "c01.html"):
        _assert_none_in((tmp_path / path).read_text(encoding="utf-8"), secrets, path)


def test_a_column_kept_on_purpose_is_kept_and_one_named_is_dropped(
    redcap: tuple[Path, list[str]], tmp_path: Path
) -> None:
    export, _ = redcap
    db = tmp_path / "clinic.duckdb"
    args = ["--keep-columns", "dob", "--drop-columns", "age", "--db", str(db)]
    done = run_cli("ingest", str(export), *args)
    assert done.returncode == 0, done.stderr
    with open_store(db, read_only=True) as con:
        stored = [r[0] for r in con.execute("DESCRIBE responses").fetchall()]
    assert "extra:dob" in stored and "extra:age" not in stored and "extra:email" not in stored
    done = run_cli("ingest", str(export), "--keep-columns", "d0b", "--db", str(db))
    assert done.returncode == 2
    assert "'keep_columns' names 'd0b', which the export does not have" in done.stderr


def test_spss_variable_labels_and_qualtrics_recipient_columns_name_identifiers(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(1)
    items = [f"pb0{k}" for k in range(1, 9)]
    frame = pd.DataFrame(rng.integers(1, 6, size=(40, 8)).astype(float), columns=items)
    frame.insert(0, "v2", [f"Ottoline{k:02d}" for k in range(40)])  # label: Patient's surname
    frame.insert(0, "v1", [f"P{k:02d}" for k in range(40)])
    frame.insert(0, "patient_id", [f"P{k:02d}" for k in range(40)])
    path = tmp_path / "labelled.sav"
    pyreadstat.write_sav(frame, str(path), column_labels={"v2": "Patient's surname"})
    done = run_cli("check", str(path), "--json", "--quarantine", str(tmp_path / "q.csv"))
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["identifiers_dropped"] == [
        {"column": "v2", "reason": "its variable label 'Patient's surname' suggests a name"}
    ]
    assert "v1" in doc["unmatched_columns"]

    qualtrics = pd.DataFrame(
        {
            "ResponseId": ["R_1", "R_2"],
            "RecipientLastName": ["Vashti", "Oduya"],
            "RecipientEmail": ["v@example.org", "o@example.org"],
            "LocationLatitude": ["51.5", "48.9"],
            "IPAddress": ["192.0.2.1", "192.0.2.2"],
        }
    )
    found = find_identifiers(qualtrics, list(qualtrics.columns[1:]), IdentifierPolicy())
    assert [d.column for d in found] == list(qualtrics.columns[1:])


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("first_name", "name"),
        ("LastName", "name"),
        ("E-mail", "e-mail address"),
        ("telephone_1", "phone number"),
        ("Date of birth", "date of birth"),
        ("mrn", "medical record number"),
        ("redcap_survey_identifier", "identifier"),
        ("site_name", None),
        ("redcap_event_name", None),
        ("given_birth", None),
        ("patient_id", None),
        ("age", None),
    ],
)
def test_identifier_names(column: str, expected: str | None) -> None:
    assert name_reason(column) == expected


def test_identifier_values_and_what_is_not_one() -> None:
    frame = pd.DataFrame(
        {
            "a": ["x@example.org", "y@example.org", None, None],
            "b": ["+44 20 7946 0958", "(415) 555-1212", "020 7946 0000", None],
            "c": ["1961-04-02", "1987-11-30", "1944-01-15", "2001-06-06"],
            "visit": ["2004-04-02", "2005-11-30", "2007-01-15", "2009-06-06"],
            "note": ["ok", "write to me at z@example.org", "ok", None],
            "code": ["12345678", "23456789", "34567890", None],
            "score": [3.5, 4.0, 2.5, None],
        }
    )
    found = {d.column: d.reason for d in find_identifiers(frame, list(frame), IdentifierPolicy())}
    assert found == {
        "a": "it holds e-mail addresses",
        "b": "it holds phone numbers",
        "c": "it holds dates of birth",
        "note": "it holds e-mail addresses",
    }


def test_a_store_written_before_is_purged_of_identifiers_when_opened(
    redcap: tuple[Path, list[str]], tmp_path: Path
) -> None:
    """A store of schema version 3 kept identifiers as ``extra:`` columns and in the
    quarantine's rows as read; opening it for writing removes them and keeps the rest."""
    export, secrets = redcap
    db = tmp_path / "old.duckdb"
    assert run_cli("ingest", str(export), "--db", str(db)).returncode == 0
    with duckdb.connect(str(db)) as con:  # made as the old toolkit wrote it
        con.execute('ALTER TABLE responses ADD COLUMN "extra:Surname" VARCHAR')
        con.execute('ALTER TABLE responses ADD COLUMN "extra:contact" VARCHAR')
        con.execute("UPDATE responses SET \"extra:Surname\" = 'Quennell001'")
        con.execute("UPDATE responses SET \"extra:contact\" = 'ysolde001.q@example.org'")
        con.execute(
            "UPDATE quarantine SET raw = json_object('pb01', '3', 'email', "
            "'ysolde002.q@example.org', 'age', '41')"
        )
        con.execute("ALTER TABLE ingests DROP COLUMN identifiers_dropped")
        con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    assert "Quennell001" in _text_of_store(db)
    with open_store(db):
        pass
    _assert_none_in(_text_of_store(db), secrets, "the purged store")
    with open_store(db, read_only=True) as con:
        stored = [r[0] for r in con.execute("DESCRIBE responses").fetchall()]
        raw = json.loads(con.execute("SELECT raw FROM quarantine LIMIT 1").fetchone()[0])
    assert "extra:age" in stored and "extra:Surname" not in stored
    assert raw == {"pb01": "3", "age": "41"}


def test_ingest_with_a_key_stores_pseudonyms_in_every_table(
    redcap: tuple[Path, list[str]], tmp_path: Path
) -> None:
    """--pseudonymize at ingest: the record ids (and the REDCap response ids made of them)
    are keyed pseudonyms in responses, scores and the quarantine's rows as read; the same
    key gives the same pseudonyms, so a second ingest stores nothing again."""
    export, _ = redcap
    key = tmp_path / "key.txt"
    key.write_text("clinic secret\n", encoding="utf-8")
    db = tmp_path / "clinic.duckdb"
    args = ["--pseudonymize-key-file", str(key), "--db", str(db), "--json"]
    first = run_cli("ingest", str(export), *args)
    assert first.returncode == 0, first.stderr
    again = json.loads(run_cli("ingest", str(export), *args).stdout)["ingests"][0]
    assert again["rows_new"] == 0 and again["rows_already_stored"] > 0
    records = set(pd.read_csv(export, dtype=str)["record_id"])
    text = _text_of_store(db)
    found = {r for r in records if re.search(rf"\b{re.escape(r)}\b", text)}
    assert not found, f"record ids in the store: {sorted(found)[:3]}"
    with open_store(db, read_only=True) as con:
        ids = {r[0] for r in con.execute("SELECT DISTINCT respondent_id FROM scores").fetchall()}
    expected = set(pseudonymize(pd.Series(sorted(records)), "clinic secret"))
    assert ids and ids <= expected
    scores = tmp_path / "scores.csv"
    done = run_cli("score", str(export), "--pseudonymize-key-file", str(key), "-o", str(scores))
    assert done.returncode == 0, done.stderr
    assert set(pd.read_csv(scores, dtype=str)["respondent_id"]) <= expected


@pytest.mark.slow
@pytest.mark.browser  # the Word document's figures are drawn by kaleido in chromium
def test_the_python_api_and_a_papers_outputs_hold_no_identifier(
    redcap: tuple[Path, list[str]], tmp_path: Path
) -> None:
    import zipfile

    import alliance

    export, secrets = redcap
    survey = alliance.read(export)
    checked, scored = survey.checked, survey.score()
    validated = survey.validate()
    shown = {
        "check": checked.summary() + checked._repr_html_() + checked.to_frame().to_csv(),
        "scores": scored.summary() + scored._repr_html_() + scored.to_frame().to_csv(),
        "validate": validated.summary() + validated._repr_html_() + validated.methods(),
    }
    for where, text in shown.items():
        _assert_none_in(text, secrets, where)
    alliance.report(
        survey,
        tmp_path / "r.html",
        figures=tmp_path / "figures",
        figure_format="svg",
        docx=tmp_path / "paper.docx",
        latex=tmp_path / "tables",
    )
    with zipfile.ZipFile(tmp_path / "paper.docx") as word:
        inside = "".join(word.read(name).decode("utf-8", "replace") for name in word.namelist())
    _assert_none_in(inside, secrets, "the Word document")
    for folder in ("figures", "tables"):
        files = sorted((tmp_path / folder).iterdir())
        assert files
        _assert_none_in("".join(f.read_text() for f in files), secrets, folder)
