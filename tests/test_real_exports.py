"""Layouts of real exports, reproduced as small fixtures of our own, read through the real
`alliance` entry point: REDCap (any record id, events, repeat instances), Qualtrics legacy and
single-quoted ImportId rows, several header rows, R's NA and row names, Stata tagged missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from .conftest import run_cli

ITEMS = ["pb01", "pb03", "pb04", "pb07", "pg01", "pg03", "pg04", "pg07"]
ITEMS += ["pt01", "pt03", "pt05", "pt08"]  # the patient-short form


def check(path: Path, *extra: str) -> dict[str, Any]:
    done = run_cli("check", str(path), "--json", *extra)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def scores(path: Path, out: Path, *extra: str) -> pd.DataFrame:
    done = run_cli("score", str(path), "-o", str(out), *extra)
    assert done.returncode == 0, done.stderr
    return pd.read_csv(out, dtype=str)


def answers(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(np.rint(4 + rng.normal(scale=0.8, size=(n, len(ITEMS)))), 1, 5).astype(int)


def test_a_longitudinal_redcap_export_with_another_record_id(tmp_path: Path) -> None:
    """``study_id`` first; events in arm order; a base row beside repeat instance 1."""
    rows = []
    values = answers(8)
    events = ["baseline_arm_1", "month_3_arm_1", "month_6_arm_1"]
    k = 0
    for record in ("S-01", "S-02"):
        for event in events:
            rows.append([record, event, "", "", *values[k % 8], 2])
            k += 1
        rows.append([record, events[0], "alliance_patient", "1", *values[k % 8], 2])
        k += 1
    header = [
        "study_id",
        "redcap_event_name",
        "redcap_repeat_instrument",
        "redcap_repeat_instance",
        *ITEMS,
        "alliance_patient_complete",
    ]
    path = tmp_path / "redcap.csv"
    pd.DataFrame(rows, columns=header).to_csv(path, index=False)
    doc = check(path)
    assert doc["platform"] == "redcap" and doc["rows_in"] == 8 == doc["rows_usable"]
    assert doc["unmatched_columns"] == []
    assert "duplicate_id" not in doc["finding_counts"]
    table = scores(path, tmp_path / "scores.csv")
    assert table["respondent_id"].tolist()[:4] == ["S-01"] * 4
    # The base row of an event and repeat instance 1 of the same event are two responses.
    assert table["response_id"].nunique() == 8
    assert table["session"].astype(float).tolist()[:4] == [1, 2, 3, 1]


def test_a_redcap_repeating_instrument_named_by_its_columns(tmp_path: Path) -> None:
    values = answers(4, seed=1)
    frame = pd.DataFrame(values, columns=ITEMS)
    frame.insert(0, "redcap_repeat_instance", [1, 2, 1, 2])
    frame.insert(0, "redcap_repeat_instrument", "alliance")
    frame.insert(0, "patient_id", ["7", "7", "9", "9"])
    path = tmp_path / "repeat.csv"
    frame.to_csv(path, index=False)
    table = scores(path, tmp_path / "s.csv")
    assert table["respondent_id"].tolist() == ["7", "7", "9", "9"]
    assert table["session"].astype(float).tolist() == [1, 2, 1, 2]


def test_a_legacy_qualtrics_export(tmp_path: Path) -> None:
    """A row of V1..V10 and question ids, then the metadata names with the question texts."""
    meta = ["ResponseID", "ResponseSet", "Name", "ExternalDataReference", "EmailAddress"]
    meta += ["IPAddress", "Status", "StartDate", "EndDate", "Finished"]
    first = [f"V{k}" for k in range(1, 11)] + ITEMS
    second = meta + [f"Question text {k}" for k in range(len(ITEMS))]
    lines = [",".join(first), ",".join(second)]
    for k, row in enumerate(answers(5, seed=2)):
        finished = "0" if k == 4 else "1"
        lines.append(
            f"R_{k},Default,Anon,,,1.2.3.4,0,2026-03-0{k + 1} 10:00:00,"
            f"2026-03-0{k + 1} 10:09:00,{finished}," + ",".join(map(str, row))
        )
    path = tmp_path / "legacy.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    doc = check(path)
    assert doc["platform"] == "qualtrics"
    assert doc["rows_in"] == 5  # header rows are never counted as data
    assert doc["quarantine_reasons"] == {"unfinished": 1}
    assert doc["unmatched_columns"] == []
    table = scores(path, tmp_path / "s.csv")
    assert table["response_id"].tolist() == ["R_0", "R_1", "R_2", "R_3"]


def test_importid_rows_with_single_quotes(tmp_path: Path) -> None:
    header = ["StartDate", "ResponseId", "Finished", *ITEMS]
    texts = ["Start Date", "Response ID", "Finished", *(f"Q - {i}" for i in ITEMS)]
    ids = ["{'ImportId': 'startDate'}", "{'ImportId': '_recordId'}", "{'ImportId': 'finished'}"]
    ids += [f"{{'ImportId': 'QID8-{k}'}}" for k in range(len(ITEMS))]
    frame = pd.DataFrame([texts, ids], columns=header)
    data = pd.DataFrame(answers(3, seed=3), columns=ITEMS)
    data.insert(0, "Finished", 1)
    data.insert(0, "ResponseId", ["R_a", "R_b", "R_c"])
    data.insert(0, "StartDate", "2026-01-05 09:00:00")
    path = tmp_path / "single_quotes.csv"
    pd.concat([frame, data.astype(str)]).to_csv(path, index=False)
    doc = check(path)
    assert (doc["platform"], doc["rows_in"], doc["rows_usable"]) == ("qualtrics", 3, 3)
    assert "unknown_label" not in doc["finding_counts"]


def test_header_row_skips_title_rows_in_csv_and_excel(tmp_path: Path) -> None:
    data = pd.DataFrame(answers(6, seed=4), columns=ITEMS)
    data.insert(0, "respondent_id", [f"p{k}" for k in range(6)])
    path = tmp_path / "titled.csv"
    path.write_text(
        "Clinic survey, spring\nexported by the front desk\n" + data.to_csv(index=False),
        encoding="utf-8",
    )
    doc = check(path, "--header-row", "3")
    assert (doc["rows_in"], len(doc["items_matched"])) == (6, 12)
    xlsx = tmp_path / "titled.xlsx"
    with pd.ExcelWriter(xlsx) as writer:
        pd.DataFrame([["Clinic survey"], [""]]).to_excel(
            writer, index=False, header=False, startrow=0
        )
        data.to_excel(writer, index=False, startrow=2)
    doc = check(xlsx, "--header-row", "3")
    assert (doc["rows_in"], len(doc["items_matched"])) == (6, 12)
    done = run_cli("check", str(path), "--header-row", "40")
    assert done.returncode == 2 and "there is no row 40 to take the header from" in done.stderr


def test_r_write_csv_na_and_row_names(tmp_path: Path) -> None:
    """write.csv(x) writes NA for a missing answer and an unnamed first column of row names."""
    values = answers(4, seed=5).astype(object)
    values[1, 2] = "NA"
    values[3, 0] = "NA"
    frame = pd.DataFrame(values, columns=ITEMS)
    frame.insert(0, "", ["1", "2", "3", "4"])
    path = tmp_path / "from_r.csv"
    frame.to_csv(path, index=False)
    doc = check(path)
    assert doc["finding_counts"].get("unknown_label", 0) == 0
    assert doc["declared_missing_answers"] == 0
    assert doc["items"]["pb04"]["missing_share"] == pytest.approx(0.25)
    table = scores(path, tmp_path / "s.csv")
    assert table["respondent_id"].tolist() == ["1", "2", "3", "4"]


def test_stata_tagged_missing_values_are_declared_missing(tmp_path: Path) -> None:
    values = answers(5, seed=6).astype(object)
    values[0, 1] = "a"  # .a: refused
    values[2, 2] = "b"  # .b: not asked
    frame = pd.DataFrame(values, columns=ITEMS)
    frame.insert(0, "id", [1, 2, 3, 4, 5])
    path = tmp_path / "tagged.dta"
    pyreadstat.write_dta(frame, str(path), missing_user_values={"pb03": ["a"], "pb04": ["b"]})
    doc = check(path)
    assert doc["rows_in"] == 5 and doc["declared_missing_answers"] == 2
    assert doc["items"]["pb03"]["declared_missing"] == 1
    assert doc["finding_counts"].get("not_a_number", 0) == 0


def test_a_redcap_repeating_form_left_incomplete_is_scored(tmp_path: Path) -> None:
    """REDCap's form status is set by hand and often left at 0 (Incomplete) on forms whose
    answers are all there (the layout of REDCapR's multilevel test project: a patient form,
    then a repeating appointment form). Only rows without answers are set aside; the status
    of the form holding the items is a finding naming its column."""
    values = answers(6, seed=4)
    rows = []
    for p, patient in enumerate(("1001", "1002")):
        rows.append([patient, "", "", "51", "0", *[""] * len(ITEMS), ""])
        for k in range(3):
            rows.append([patient, "appointment", str(k + 1), "", "", *values[3 * p + k], "0"])
    header = ["patient_id", "redcap_repeat_instrument", "redcap_repeat_instance", "county_id"]
    header += ["patient_complete", *ITEMS, "appointment_complete"]
    path = tmp_path / "multilevel.csv"
    pd.DataFrame(rows, columns=header).to_csv(path, index=False)
    doc = check(path)
    assert (doc["rows_in"], doc["rows_usable"]) == (8, 6)
    assert doc["quarantine_reasons"] == {"no_answers": 2}
    status = [f for f in doc["findings"] if f["kind"] == "form_status"]
    assert [(f["column"], f["value"]) for f in status] == [
        ("appointment_complete", "Incomplete 6, blank 2")
    ]
    strict = check(path, "--require-complete")
    assert strict["rows_usable"] == 0
    assert strict["quarantine_reasons"] == {"unfinished": 8, "no_answers": 2}
