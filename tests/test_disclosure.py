"""Differencing: no two outputs of one clinic store may be subtracted to show a patient.

The attack: a group of 6 patients with and without `--since` (6 and 5 patients), and
6 x mean6 - 5 x mean5 is the sixth patient's score. Its kin: a site against its clinicians,
the totals before and after an ingest of one more patient, a smaller --min-n."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.store.disclosure import _too_close

from .conftest import run_cli

ITEMS = ["pb01", "pb03", "pb04", "pb07", "pg01", "pg03", "pg04", "pg07"]
ITEMS += ["pt01", "pt03", "pt05", "pt08"]  # the patient-short form: all keyed one way


def sessions(rows: list[tuple[str, str, str, str]], seed: int) -> pd.DataFrame:
    """(patient, clinician, site, date) -> one response each, answers drawn per patient."""
    rng = np.random.default_rng(seed)
    records = []
    for k, (patient, clinician, site, day) in enumerate(rows):
        level = 2 + (sum(map(ord, patient)) % 3)
        answers = np.clip(level + rng.integers(0, 3, size=len(ITEMS)), 1, 5)
        records.append([f"R{seed}_{k}", patient, clinician, site, 1, day, *answers])
    columns = ["response_id", "respondent_id", "clinician_id", "site_id", "session", "date"]
    return pd.DataFrame(records, columns=[*columns, *ITEMS])


def clinic() -> list[tuple[str, str, str, str]]:
    rows = [("P1", "C01", "S1", "2026-01-15")]  # the patient only January shows
    rows += [(f"P{k}", "C01", "S1", "2026-03-10") for k in range(2, 7)]
    rows += [(f"Q{k}", "C02", "S1", "2026-03-12") for k in range(1, 3)]  # a small clinician
    for c in ("C03", "C04", "C05"):  # half in March, half in April
        rows += [(f"{c}P{k}", c, "S2", f"2026-0{3 + k // 4}-20") for k in range(1, 7)]
    return rows


@pytest.fixture
def store(tmp_path: Path) -> Path:
    export = tmp_path / "clinic.csv"
    sessions(clinic(), seed=1).to_csv(export, index=False)
    db = tmp_path / "clinic.duckdb"
    done = run_cli("ingest", str(export), "--db", str(db))
    assert done.returncode == 0, done.stderr
    return db


def benchmark(db: Path, *args: str) -> dict[str, Any]:
    done = run_cli("benchmark", "--db", str(db), "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def groups(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["group"]: g for g in doc["groups"]}


def test_a_date_window_cannot_be_subtracted_to_show_a_patient(store: Path) -> None:
    whole = groups(benchmark(store))
    assert whole["C01"]["n_patients"] == 6  # shown: 6 patients
    later = benchmark(store, "--since", "2026-02-01")
    # Before the guard, C01 came back with 5 patients, and 6 x mean6 - 5 x mean5 was P1.
    assert "C01" not in groups(later)
    assert later["withheld_groups"] == 1
    assert "withheld" in " ".join(later["notes"])
    # The totals would differ by P1 alone too; the months (March, April) are the same cells.
    assert later["patients"] is None
    assert [t["month"] for t in later["trends"]] == ["2026-03", "2026-04"]
    for name, row in groups(later).items():  # every group shown twice is the same cell
        assert row["n_patients"] == whole[name]["n_patients"]
        assert row["bond_mean"] == pytest.approx(whole[name]["bond_mean"])


def test_a_site_cannot_be_set_against_its_clinicians(store: Path) -> None:
    by_clinician = groups(benchmark(store, "--by", "clinician_id"))
    assert "C01" in by_clinician and "C02" not in by_clinician  # C02 has 2 patients
    by_site = benchmark(store, "--by", "site_id")
    # S1 is C01 and C02: S1 - C01 would be C02's two patients.
    assert "S1" not in groups(by_site) and "S2" in groups(by_site)
    assert by_site["withheld_groups"] == 1


def test_totals_before_and_after_one_more_patient(store: Path, tmp_path: Path) -> None:
    first = benchmark(store)
    assert first["patients"] == 26
    late = tmp_path / "late.csv"
    sessions([("LATE1", "C03", "S2", "2026-04-25")], seed=2).to_csv(late, index=False)
    done = run_cli("ingest", str(late), "--db", str(store))
    assert done.returncode == 0, done.stderr
    second = benchmark(store)
    # One new patient: the totals and C03 would each differ by exactly that patient.
    assert second["patients"] is None and second["sessions"] is None
    assert second["mixed_models"] == {}
    assert "C03" not in groups(second)
    assert {"C04", "C05"} <= set(groups(second))
    assert [t["month"] for t in second["trends"]] == ["2026-03"]  # April: LATE1 alone apart
    text = run_cli("benchmark", "--db", str(store)).stdout
    assert text.startswith("totals withheld")


def test_the_same_output_again_is_not_withheld(store: Path) -> None:
    assert benchmark(store) == benchmark(store)
    with duckdb.connect(str(store), read_only=True) as con:
        kinds = con.execute("SELECT kind, count(*) FROM releases GROUP BY kind").fetchall()
    assert dict(kinds) == {"group:clinician_id": 4, "month": 2, "total": 1}


def test_a_smaller_minimum_needs_to_say_it_may_identify(store: Path) -> None:
    done = run_cli("benchmark", "--db", str(store), "--min-n", "2")
    assert done.returncode == 2
    assert "the minimum group size is at least 5 patients; got 2" in done.stderr
    shown = benchmark(store, "--min-n", "2", "--identifiable")
    assert "C02" in groups(shown)


@pytest.mark.slow
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 30), st.integers(0, 9)), max_size=60),
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 30), st.integers(0, 9)), max_size=60),
    st.integers(2, 6),
)
@settings(max_examples=150, deadline=None)
def test_the_distance_query_agrees_with_sets(
    candidate: list[tuple[int, int, int]], released: list[tuple[int, int, int]], min_n: int
) -> None:
    """(cell, session, patient) triples; a session belongs to one patient throughout."""

    def owner(session: int) -> int:
        return session % 7

    cand = {(f"c{c}", s, owner(s)) for c, s, _ in candidate}
    rel = {(r, s, owner(s)) for r, s, _ in released}
    with duckdb.connect() as con:
        con.execute("CREATE TEMP TABLE candidate (label VARCHAR, member UBIGINT, patient UBIGINT)")
        con.execute(
            "CREATE TABLE release_members (cell_id BIGINT, member UBIGINT, patient UBIGINT)"
        )
        if cand:
            con.executemany("INSERT INTO candidate VALUES (?, ?, ?)", sorted(cand))
        # Released cells of patient sessions; the query compares a candidate with its own
        # family of cells only (paired-session cells are another).
        con.execute("CREATE TABLE releases (cell_id BIGINT, kind VARCHAR)")
        if rel:
            con.executemany("INSERT INTO release_members VALUES (?, ?, ?)", sorted(rel))
            cells = sorted({r for r, _, _ in rel})
            con.executemany(
                "INSERT INTO releases VALUES (?, 'group:clinician_id')", [[c] for c in cells]
            )
            con.executemany(
                "INSERT INTO releases VALUES (?, 'paired:clinician_id')",
                [[c + 1000] for c in cells],
            )
            con.executemany(  # the same sessions again, as paired cells: not this family
                "INSERT INTO release_members VALUES (?, ?, ?)",
                sorted((r + 1000, s + 1, p) for r, s, p in rel),
            )
        got = _too_close(con, min_n)
    expected = set()
    for label in {c for c, _, _ in cand}:
        mine = {s for c, s, _ in cand if c == label}
        for cell in {r for r, _, _ in rel}:
            theirs = {s for r, s, _ in rel if r == cell}
            if mine & theirs and 0 < len({owner(s) for s in mine ^ theirs}) < min_n:
                expected.add(label)
    assert got == expected
