"""The clinic store as Parquet (alliance export-store) and read back: the same benchmark and
alerts as from the store, the defence against differencing kept in the copy's own log, and
clear errors for a wrong folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from .conftest import monthly, run_cli


@pytest.fixture(scope="module")
def lake(year: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("lake")
    db = folder / "clinic.duckdb"
    done = run_cli("ingest", *map(str, monthly(year)), "--db", str(db))
    assert done.returncode == 0, done.stderr
    done = run_cli("export-store", "--db", str(db), "--parquet", str(folder / "lake"))
    assert done.returncode == 0, done.stderr
    return db, folder / "lake"


def _as_json(*args: str) -> dict[str, object]:
    done = run_cli(*args, "--json")
    assert done.returncode == 0, done.stderr
    doc: dict[str, object] = json.loads(done.stdout)
    return doc


def test_the_copy_is_partitioned_by_month_and_holds_every_row(lake: tuple[Path, Path]) -> None:
    db, copy = lake
    with duckdb.connect(str(db), read_only=True) as con:
        months = {
            r[0]
            for r in con.execute("SELECT DISTINCT strftime(date, '%Y-%m') FROM scores").fetchall()
        }
        n = con.execute("SELECT count(*) FROM scores").fetchall()[0][0]
    assert {p.name for p in (copy / "scores").iterdir()} == {f"month={m}" for m in months}
    assert len(months) == 12
    read = duckdb.sql(f"SELECT count(*) FROM read_parquet('{copy}/scores/**/*.parquet')")
    assert read.fetchall()[0][0] == n
    assert sorted(p.name for p in copy.iterdir()) == [
        "ingests.parquet",
        "meta.parquet",
        "responses",
        "scores",
    ]


def test_benchmark_and_alerts_from_the_copy_equal_the_stores(
    lake: tuple[Path, Path], tmp_path: Path
) -> None:
    """Each on a fresh log of released cells, so both release the same cells."""
    db, copy = lake
    fresh_db = tmp_path / "clinic.duckdb"
    shutil.copy(db, fresh_db)
    fresh_copy = tmp_path / "lake"
    shutil.copytree(copy, fresh_copy)
    for args in (["benchmark", "--by", "site_id"], ["alerts", "--by", "clinician_id"]):
        from_store = _as_json(*args, "--db", str(fresh_db))
        from_copy = _as_json(*args, "--parquet", str(fresh_copy))
        assert from_copy == from_store
    assert (fresh_copy / "releases.duckdb").exists()


def test_differencing_is_withheld_on_the_copy_too(lake: tuple[Path, Path], tmp_path: Path) -> None:
    _, copy = lake
    fresh = tmp_path / "lake"
    shutil.copytree(copy, fresh)
    first = _as_json("benchmark", "--parquet", str(fresh))
    assert first["withheld_groups"] == 0
    later = _as_json("benchmark", "--parquet", str(fresh), "--since", "2026-01-20")
    assert isinstance(later["withheld_groups"], int) and later["withheld_groups"] > 0
    assert any("withheld" in note for note in later["notes"])  # type: ignore[union-attr]


def test_a_wrong_source_is_one_line(lake: tuple[Path, Path], tmp_path: Path) -> None:
    db, copy = lake
    both = run_cli("benchmark", "--db", str(db), "--parquet", str(copy))
    assert both.returncode == 2
    assert "give the store with --db FILE or its Parquet copy with --parquet DIR" in both.stderr
    neither = run_cli("alerts")
    assert neither.returncode == 2 and "--parquet DIR" in neither.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    wrong = run_cli("benchmark", "--parquet", str(empty))
    assert wrong.returncode == 2
    assert "not a Parquet copy of a store (missing scores, responses" in wrong.stderr
    again = run_cli("export-store", "--db", str(db), "--parquet", str(copy))
    assert again.returncode == 2 and "not empty; export into a new folder" in again.stderr
