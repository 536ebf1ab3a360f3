"""`alliance score` as a user runs it: the table, the summary, privacy, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from analysis.simulate import simulate, write_export
from instrument import Instrument

from .conftest import run_cli

TABLE_COLUMNS = [
    "row_in_export",  # every score joins back to its row of the export
    "response_id",
    "respondent_id",
    "clinician_id",
    "site_id",
    "session",
    "date",
    "perspective",
    "bond",
    "goals",
    "tasks",
    "affective",
    "rational",
    "fidelity",
    "competence",
    "reliability",
    "bond_pass",
    "goals_pass",
    "tasks_pass",
    "alliance_status",
    "weakest_pillar",
    "margin",
    "compensatory_total",
    "compensatory_adequate",
    "masked_rupture",
    "p_adequate",
    "form",
    "scoring_notes",
]


@pytest.fixture(scope="module")
def export_file(tmp_path_factory: pytest.TempPathFactory, bank: Instrument) -> Path:
    sim = simulate(bank, 300, clinicians=8, sessions=2, seed=12)
    data = sim.data.copy()
    data.loc[0, "respondent_id"] = '=HYPERLINK("http://x")'
    data.loc[1, "clinician_id"] = "@SUM(A1)"
    path = tmp_path_factory.mktemp("score") / "export.csv"
    write_export(
        type(sim)(data, sim.latent, sim.careless, sim.population, sim.form, sim.items),
        bank,
        path,
        "csv",
    )
    return path


def test_score_writes_one_row_per_response_and_a_summary(export_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    result = run_cli("score", str(export_file), "-o", str(out))
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out)
    assert list(table.columns) == TABLE_COLUMNS
    rows_in = len(pd.read_csv(export_file))
    assert table["row_in_export"].is_monotonic_increasing
    assert table["row_in_export"].between(1, rows_in).all()
    set_aside = int(result.stderr.split(" of ")[0].replace(",", ""))
    assert set_aside > 0 and len(table) + set_aside == rows_in  # nothing lost
    assert set(table["alliance_status"]) <= {"adequate", "inadequate", "insufficient_data"}
    lines = result.stderr.splitlines()
    assert lines[0] == (
        f"{set_aside:,} of {rows_in:,} rows set aside by the checks "
        f"(alliance check --quarantine FILE lists them)"
    )
    assert lines[1].startswith(f"scored {len(table):,} responses (patient-full form): ")
    assert any(line.startswith("masked ruptures") for line in lines)
    assert any(line.startswith("minimum goals = 3.5 (fixed): PDRQ-9") for line in lines)


def test_csv_cells_that_look_like_formulas_are_neutralised(
    export_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scores.csv"
    assert run_cli("score", str(export_file), "-o", str(out)).returncode == 0
    table = pd.read_csv(out, dtype=str)
    assert table.loc[0, "respondent_id"] == '\'=HYPERLINK("http://x")'
    assert table.loc[1, "clinician_id"] == "'@SUM(A1)"
    negative = table["margin"].dropna()
    negative = negative[negative.str.startswith("-")]
    assert len(negative) > 0  # numbers stay numbers, minus sign and all
    float(negative.iloc[0])


def test_a_parquet_name_writes_parquet_with_the_same_table(
    export_file: Path, tmp_path: Path
) -> None:
    """Parquet keeps types and text as they are (no spreadsheet runs it); the same rows and
    values as the CSV."""
    csv, parquet = tmp_path / "scores.csv", tmp_path / "scores.parquet"
    assert run_cli("score", str(export_file), "-o", str(csv)).returncode == 0
    done = run_cli("score", str(export_file), "-o", str(parquet))
    assert done.returncode == 0, done.stderr
    assert parquet.read_bytes()[:4] == b"PAR1"
    table = pd.read_parquet(parquet)
    assert list(table.columns) == TABLE_COLUMNS
    assert table.loc[0, "respondent_id"] == '=HYPERLINK("http://x")'
    from_csv = pd.read_csv(csv)
    assert len(table) == len(from_csv)
    for column in ("bond", "goals", "tasks", "margin", "p_adequate"):
        pd.testing.assert_series_equal(
            table[column].astype(float), from_csv[column].astype(float), check_names=False
        )
    assert list(table["alliance_status"]) == list(from_csv["alliance_status"])
    quarantine = tmp_path / "set_aside.parquet"
    done = run_cli("check", str(export_file), "--quarantine", str(quarantine))
    assert pd.read_parquet(quarantine)["quarantine_reasons"].notna().all()


def test_json_summary(export_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    result = run_cli("score", str(export_file), "-o", str(out), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    table = pd.read_csv(out)
    assert doc["rows"] == doc["rows_scored"] == len(table)
    assert doc["rows_in"] == doc["rows_scored"] + doc["rows_quarantined"]
    assert doc["status_counts"] == {
        s: int((table["alliance_status"] == s).sum())
        for s in ("adequate", "inadequate", "insufficient_data")
    }
    assert doc["masked_ruptures"] == int(table["masked_rupture"].fillna(False).astype(bool).sum())
    assert [t["pillar"] for t in doc["thresholds"]] == ["bond", "goals", "tasks"]
    assert set(doc["measurement_error"]) == {"reliability", "sd", "sem", "error_correlation"}
    assert len(doc["sensitivity"]) == 5


def test_pseudonymize_replaces_ids_consistently(export_file: Path, tmp_path: Path) -> None:
    plain, hidden, again = (tmp_path / n for n in ("a.csv", "b.csv", "c.csv"))
    assert run_cli("score", str(export_file), "-o", str(plain)).returncode == 0
    assert (
        run_cli("score", str(export_file), "--pseudonymize", "k1", "-o", str(hidden)).returncode
        == 0
    )
    assert (
        run_cli("score", str(export_file), "--pseudonymize", "k1", "-o", str(again)).returncode == 0
    )
    a, b = pd.read_csv(plain, dtype=str), pd.read_csv(hidden, dtype=str)
    assert b["respondent_id"].str.fullmatch(r"anon_[0-9a-f]{16}").all()
    text = hidden.read_text()
    for original in a["respondent_id"].str.lstrip("'").unique()[:50]:
        assert original not in text
    # Same patient, same pseudonym: sessions still group together.
    assert (
        a.groupby("respondent_id").size().sort_values().tolist()
        == b.groupby("respondent_id").size().sort_values().tolist()
    )
    assert hidden.read_bytes() == again.read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.csv"], "alliance: error: missing.csv: no such file."),
        (["{export}", "--json"], "alliance: error: --json prints the summary on stdout; give -o"),
        (["{export}", "--thresholds", "none.yaml"], "alliance: error: none.yaml: no such file."),
    ],
)
def test_bad_input_exits_2_in_one_line(
    export_file: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    result = run_cli("score", *[a.format(export=export_file) for a in args], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
