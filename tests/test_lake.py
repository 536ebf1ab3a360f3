"""The clinic store as Parquet (alliance export-store) and read back: the same benchmark and
alerts as from the store, the defence against differencing kept in the copy's own log, and
clear errors for a wrong folder."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from analysis.store.backends.base import json_differences

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
        # the same numbers; the model's moments are sums in another order, so to 1e-9
        assert json_differences(from_copy, from_store) == []
    assert (fresh_copy / "releases.duckdb").exists()


def relaid(copy: Path, folder: Path) -> Path:
    """The copy's tables laid out as another tool keeps them: ``scores`` as one file with no
    month column, ``responses`` partitioned by site, and ``ingests`` and ``meta`` as folders
    of part files named ``TABLE.parquet`` (as Spark's writer leaves them)."""
    out = folder / "relaid"
    out.mkdir()
    with duckdb.connect() as con:

        def rows(table: str) -> str:
            if (copy / table).is_dir():
                source = f"read_parquet('{copy}/{table}/**/*.parquet', hive_partitioning = true)"
                return f"SELECT * EXCLUDE (month) FROM {source}"
            return f"SELECT * FROM read_parquet('{copy}/{table}.parquet')"

        con.execute(f"COPY ({rows('scores')}) TO '{out}/scores.parquet' (FORMAT parquet)")
        con.execute(
            f"COPY ({rows('responses')}) TO '{out}/responses' "
            "(FORMAT parquet, PARTITION_BY (site_id))"
        )
        for table in ("ingests", "meta"):
            (out / f"{table}.parquet").mkdir()
            part = out / f"{table}.parquet" / "part-00000.parquet"
            con.execute(f"COPY ({rows(table)}) TO '{part}' (FORMAT parquet)")
    return out


def test_a_copy_laid_out_by_another_tool_gives_the_same_answers(
    lake: tuple[Path, Path], tmp_path: Path
) -> None:
    """Any Parquet tables with the store's columns will do, however they are laid out."""
    db, copy = lake
    fresh_db = tmp_path / "clinic.duckdb"
    shutil.copy(db, fresh_db)
    other = relaid(copy, tmp_path)
    assert not (other / "scores").exists() and (other / "responses" / "site_id=S01").is_dir()
    for args in (["benchmark", "--by", "clinician_id"], ["alerts", "--by", "site_id"]):
        found = _as_json(*args, "--parquet", str(other))
        assert json_differences(found, _as_json(*args, "--db", str(fresh_db))) == []


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
    assert "not a Parquet copy of a store (missing scores, responses, ingests, meta" in wrong.stderr
    again = run_cli("export-store", "--db", str(db), "--parquet", str(copy))
    assert again.returncode == 2 and "not empty; export into a new folder" in again.stderr


def test_the_stores_cfa_from_its_moments_is_the_cfa_of_its_complete_rows(
    lake: tuple[Path, Path],
) -> None:
    """Fitted from the sums and cross-products the engine aggregates, the model is the one
    fitted to the same complete responses pulled out of the store: every fit measure and
    estimate to 1e-8, in one group and by site."""
    import numpy as np

    from analysis.cfa import fit_cfa
    from analysis.clinic.structure import fit_store
    from analysis.keying import keyed
    from analysis.store.backends import DuckDBBackend
    from instrument import builtin_instrument

    db, _ = lake
    bank = builtin_instrument()
    with duckdb.connect(str(db)) as con:
        backend = DuckDBBackend(con, db.name)
        rows = con.execute("SELECT * FROM responses").fetchdf()
        for group in (None, "site_id"):
            fitted = fit_store(backend, bank, group=group)
            items = list(fitted.result.observed)
            complete = rows.dropna(subset=items)
            data = keyed(complete, bank, items)
            if group is not None:
                data[group] = complete[group].to_numpy()
            direct = fit_cfa(data, fitted.result.model, group=group)
            assert fitted.n == len(complete) and fitted.incomplete == len(rows) - len(complete)
            for key in ("chisq", "df", "cfi", "tli", "rmsea", "srmr", "loglik", "aic", "bic"):
                assert fitted.result.fit[key] == pytest.approx(direct.fit[key], rel=1e-9), key
            key = ["lhs", "op", "rhs"]
            for label in fitted.result.groups:
                ours = fitted.result.estimates[
                    fitted.result.estimates["group"] == fitted.result.groups.index(label) + 1
                ].set_index(key)
                theirs = direct.estimates[
                    direct.estimates["group"] == direct.groups.index(label) + 1
                ].set_index(key)
                np.testing.assert_allclose(
                    ours["est"], theirs.loc[ours.index, "est"], atol=1e-8, equal_nan=True
                )
                np.testing.assert_allclose(
                    ours["se"], theirs.loc[ours.index, "se"], atol=1e-8, equal_nan=True
                )


def test_validate_a_store_on_the_command_line(lake: tuple[Path, Path]) -> None:
    db, copy = lake
    from_store = _as_json("validate", "--db", str(db), "--group", "site_id")
    from_copy = _as_json("validate", "--parquet", str(copy), "--group", "site_id")
    assert from_copy.pop("source") == copy.name and from_store.pop("source") == db.name
    assert from_copy == from_store
    assert from_store["estimator"] == "ml" and from_store["group"] == "site_id"
    text = run_cli("validate", "--db", str(db))
    assert text.returncode == 0, text.stderr
    assert re.match(
        r"n = [\d,]+ of [\d,]+ stored patient responses \(clinic.duckdb, duckdb\); left out: "
        r"[\d,]+ with a missing answer \(listwise\); fitted from the aggregated moments \(ML\)",
        text.stdout,
    )
    assert text.stdout.splitlines()[0].endswith(
        "; a patient's sessions treated as independent, as the moments carry no clusters: "
        "standard errors are too small"
    )
    for args, message in (
        (["--db", str(db), "--estimator", "mlr"], "fitted by ML from its moments"),
        (["--db", str(db), "--group", "gender"], "--group must be one of"),
        ([], "give an EXPORT to validate, or a store"),
    ):
        done = run_cli("validate", *args)
        assert done.returncode == 2 and message in done.stderr, done.stderr
