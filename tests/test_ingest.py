"""Reading real platforms' exports: hand-built files in each platform's documented layout come
back as the answers they hold; every problem is a finding; nothing is lost."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from scipy.stats import chi2

from analysis.check import MAHALANOBIS_P, check_export
from analysis.describe import overview
from analysis.ingest import ExportError, load_map, read_export
from analysis.simulate import simulate, write_export
from instrument import Instrument

from .conftest import run_cli

SHORT = [
    "pb01",
    "pb03",
    "pb04",
    "pb07",
    "pg01",
    "pg03",
    "pg04",
    "pg07",
    "pt01",
    "pt03",
    "pt05",
    "pt08",
]
# The truth every hand-built file below encodes: three patients, the short form.
TRUTH = pd.DataFrame(
    [
        [5, 4, 5, 5, 4, 4, 3, 4, 5, 4, 4, 5],
        [2, 3, 2, 1, 3, 3, 4, 2, 3, 2, 3, 3],
        [4, 4, np.nan, 5, 5, 5, 5, 4, 4, 5, 4, 4],
    ],
    columns=SHORT,
)
LABELS = {1: "Never", 2: "Rarely", 3: "Sometimes", 4: "Often", 5: "Always"}
VARIED = ["4", "5", "3", "4", "4", "5", "4", "3", "5", "4", "4", "5"]  # not straight-lined


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def answers(export_data: pd.DataFrame) -> pd.DataFrame:
    return export_data[SHORT].reset_index(drop=True)


def cell(v: float, labels: bool = False, blank: str = "") -> str:
    if np.isnan(v):
        return blank
    return LABELS[int(v)] if labels else str(int(v))


# ---------------------------------------------------------------- platform layouts
def qualtrics_text(bank: Instrument, *, qcodes: bool) -> str:
    """Qualtrics CSV export: export tags, question texts, ImportId JSON; then a preview, a test,
    a spam and an unfinished response after the three real ones."""
    prompt = "Thinking of your care with this clinician, how often is each statement true?"
    cols = [
        f"Q{1 + k // 4}_{k % 4 + 1}"
        if qcodes
        else f"{['bond', 'goals', 'tasks'][k // 4]}_{k % 4 + 1}"
        for k in range(12)
    ]
    meta = [
        "StartDate",
        "EndDate",
        "Status",
        "Progress",
        "Duration (in seconds)",
        "Finished",
        "RecordedDate",
        "ResponseId",
    ]
    header = meta + cols + ["clinician_id"]
    texts = [
        "Start Date",
        "End Date",
        "Response Type",
        "Progress",
        "Duration (in seconds)",
        "Finished",
        "Recorded Date",
        "Response ID",
    ]
    texts += [f'"{prompt} - {bank.item(i).text}"' for i in SHORT] + ["clinician_id"]
    imports = ['"{""ImportId"":""startDate"",""timeZone"":""UTC""}"'] * 2 + [
        f'"{{""ImportId"":""{k}""}}"' for k in ("status", "progress", "duration", "finished")
    ]
    imports += [
        '"{""ImportId"":""recordedDate"",""timeZone"":""UTC""}"',
        '"{""ImportId"":""_recordId""}"',
    ]
    imports += [f'"{{""ImportId"":""QID{1 + k // 4}_{k % 4 + 1}""}}"' for k in range(12)]
    imports += ['"{""ImportId"":""clinician_id""}"']
    rows = [",".join(header), ",".join(texts), ",".join(imports)]
    for r, (_, truth) in enumerate(TRUTH.iterrows()):
        # The third patient saw pb04 but did not answer it: -99.
        values = [cell(v, blank="-99") for v in truth]
        rows.append(
            ",".join(
                [
                    "2026-03-02 10:00:00",
                    "2026-03-02 10:06:00",
                    "0",
                    "100",
                    "360",
                    "1",
                    "2026-03-02 10:06:00",
                    f"R_real{r}",
                    *values,
                    "C01",
                ]
            )
        )
    extra = [
        ("1", "1", "R_preview"),
        ("2", "1", "R_test"),
        ("8", "1", "R_spam"),
        ("0", "0", "R_unfinished"),
    ]
    for status, finished, rid in extra:
        rows.append(
            ",".join(
                [
                    "2026-03-02 11:00:00",
                    "2026-03-02 11:05:00",
                    status,
                    "100",
                    "300",
                    finished,
                    "2026-03-02 11:05:00",
                    rid,
                    *VARIED,
                    "C01",
                ]
            )
        )
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("qcodes", [False, True])
def test_qualtrics_export(tmp_path: Path, bank: Instrument, qcodes: bool) -> None:
    path = write(tmp_path, "qualtrics.csv", "\ufeff" + qualtrics_text(bank, qcodes=qcodes))
    export = read_export(path, bank)
    assert export.platform == "qualtrics" and export.encoding == "utf-8-sig"
    checked = check_export(export, bank)
    usable = checked.usable_data()
    pd.testing.assert_frame_equal(answers(usable), TRUTH.astype(float))
    assert list(usable["response_id"]) == ["R_real0", "R_real1", "R_real2"]
    assert usable["date"].tolist() == ["2026-03-02"] * 3
    assert list(checked.quarantine[3:]) == ["preview", "test", "spam", "unfinished"]
    assert export.declared_missing == 1  # the -99, "seen but unanswered"
    assert export.unmatched_columns == ()
    assert checked.rows_in == checked.rows_usable + checked.rows_quarantined == 7


def test_redcap_label_export(tmp_path: Path, bank: Instrument) -> None:
    """REDCap 'labels' export: field labels as headers, choice labels as answers."""
    header = (
        [
            "Record ID",
            "Repeat Instrument",
            "Repeat Instance",
            "Clinician ID",
            "Site",
            "Date of visit",
        ]
        + [bank.item(i).text for i in SHORT]
        + ["Complete?"]
    )
    rows = [",".join(f'"{h}"' for h in header)]
    for r, (_, truth) in enumerate(TRUTH.iterrows()):
        rows.append(
            ",".join(
                [
                    f"P{r}",
                    "Alliance Patient Short",
                    "1",
                    "C02",
                    "S01",
                    "2026-04-01",
                    *[cell(v, labels=True) for v in truth],
                    "Complete",
                ]
            )
        )
    rows.append(
        ",".join(
            [
                "P9",
                "Alliance Patient Short",
                "1",
                "C02",
                "S01",
                "2026-04-01",
                *[LABELS[int(v)] for v in VARIED],
                "Incomplete",
            ]
        )
    )
    export = read_export(write(tmp_path, "redcap_labels.csv", "\n".join(rows) + "\n"), bank)
    assert export.platform == "redcap_labels"
    checked = check_export(export, bank)
    # REDCap's form status is set by hand: an Incomplete form with its answers is kept, and
    # the status is a finding that names its column and counts its values.
    assert checked.usable_data()["respondent_id"].tolist() == ["P0", "P1", "P2", "P9"]
    status = checked.findings[checked.findings["kind"] == "form_status"]
    assert status[["column", "value"]].values.tolist() == [
        ["Complete?", "Complete 3, Incomplete 1"]
    ]
    path = tmp_path / "redcap_labels.csv"
    export = read_export(path, bank, require_complete=True)
    checked = check_export(export, bank)
    pd.testing.assert_frame_equal(answers(checked.usable_data()), TRUTH.astype(float))
    assert checked.usable_data()["respondent_id"].tolist() == ["P0", "P1", "P2"]
    assert checked.quarantine.iloc[3] == "unfinished"
    unfinished = checked.findings[checked.findings["kind"] == "unfinished"]
    assert unfinished["reason"].tolist() == ["quarantined: unfinished (column 'Complete?')"]


def test_surveymonkey_export(tmp_path: Path, bank: Instrument) -> None:
    """SurveyMonkey: question text over each matrix, statement text in a second header row."""
    question = "Thinking of your care with this clinician, how often is each statement true?"
    header = ["Respondent ID", "Collector ID", "Start Date", "End Date", "IP Address", question] + [
        ""
    ] * 11
    second = ["", "", "", "", ""] + [bank.item(i).text for i in SHORT]
    rows = [",".join(f'"{h}"' for h in header), ",".join(f'"{h}"' for h in second)]
    for r, (_, truth) in enumerate(TRUTH.iterrows()):
        rows.append(
            ",".join(
                [
                    f"1140{r}",
                    "4021",
                    "04/02/2026 09:10:11 AM",
                    "04/02/2026 09:15:40 AM",
                    "",
                    *[cell(v, labels=True) for v in truth],
                ]
            )
        )
    export = read_export(write(tmp_path, "monkey.csv", "\n".join(rows) + "\n"), bank)
    assert export.platform == "surveymonkey"
    pd.testing.assert_frame_equal(answers(export.data), TRUTH.astype(float))
    assert export.data["response_id"].tolist() == ["11400", "11401", "11402"]
    assert export.data["date"].tolist() == ["2026-04-02"] * 3


def test_limesurvey_export(tmp_path: Path, bank: Instrument) -> None:
    """LimeSurvey: array questions as group[subquestion], answer codes A1..A5."""
    header = ["id", "submitdate", "lastpage", "startlanguage", "seed"] + [
        f"alliance[{i.upper()}]" for i in SHORT
    ]
    rows = [",".join(header)]
    for r, (_, truth) in enumerate(TRUTH.iterrows()):
        codes = ["" if np.isnan(v) else f"A{int(v)}" for v in truth]
        rows.append(",".join([str(r + 1), "2026-05-01 12:00:00", "3", "en", "123", *codes]))
    rows.append(",".join(["4", "", "1", "en", "9", *[f"A{v}" for v in VARIED]]))
    export = read_export(write(tmp_path, "lime.csv", "\n".join(rows) + "\n"), bank)
    assert export.platform == "limesurvey"
    checked = check_export(export, bank)
    pd.testing.assert_frame_equal(answers(checked.usable_data()), TRUTH.astype(float))
    assert checked.quarantine.iloc[3] == "unfinished"


def test_a_mapping_file_names_the_columns(tmp_path: Path, bank: Instrument) -> None:
    cols = [f"V{k}" for k in range(12)]
    frame = TRUTH.copy()
    frame.columns = cols
    frame.insert(0, "PatientNo", ["a", "b", "c"])
    frame.insert(1, "Doc", ["x", "x", "y"])
    frame.insert(2, "Visit", [1, 2, 1])
    frame.to_csv(tmp_path / "legacy.csv", index=False)
    mapfile = tmp_path / "map.yaml"
    mapfile.write_text(
        "columns:\n"
        + "".join(f"  V{k}: {i}\n" for k, i in enumerate(SHORT))
        + "context: {respondent_id: PatientNo, clinician_id: Doc, session: Visit}\n"
        "missing: [-9]\n",
        encoding="utf-8",
    )
    export = read_export(tmp_path / "legacy.csv", bank, column_map=load_map(mapfile))
    pd.testing.assert_frame_equal(answers(export.data), TRUTH.astype(float))
    assert export.data["clinician_id"].tolist() == ["x", "x", "y"]
    assert export.data["session"].tolist() == [1, 2, 1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("columns: {V1: pb01}\ncolums: {V2: pb02}\n", "map.yaml: field 'colums': unknown field."),
        (
            'recode: {"Totally agree": five}\n',
            "map.yaml: field 'recode.Totally agree': Input should be a valid number",
        ),
        ("context: {respondent_id: [a, b]}\n", "map.yaml: field 'context.respondent_id': "),
        ("context: {patient: PatientNo}\n", "field 'context': unknown name 'patient'"),
    ],
)
def test_a_mapping_file_that_cannot_be_used_is_named_with_its_field(
    tmp_path: Path, text: str, message: str
) -> None:
    mapfile = tmp_path / "map.yaml"
    mapfile.write_text(text, encoding="utf-8")
    with pytest.raises(ExportError, match=re.escape(message)):
        load_map(mapfile)


def test_ambiguous_columns_are_refused_with_the_candidates(
    tmp_path: Path, bank: Instrument
) -> None:
    path = write(tmp_path, "twice.csv", "PB01,Pb01,pg01\n1,2,3\n")
    with pytest.raises(ExportError, match=r"columns 'PB01', 'Pb01' could all be item 'pb01'"):
        read_export(path, bank)


# ---------------------------------------------------------------- encodings and formats
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252"])
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_encodings_and_delimiters(
    tmp_path: Path, bank: Instrument, encoding: str, delimiter: str
) -> None:
    frame = TRUTH.copy()
    frame.insert(0, "site_id", ["Clinique Saint-Éloi", "Zürich Süd", "Malmö"])
    path = tmp_path / "export.csv"
    frame.to_csv(path, index=False, sep=delimiter, encoding=encoding)
    export = read_export(path, bank)
    assert export.delimiter == delimiter
    assert export.data["site_id"].tolist() == ["Clinique Saint-Éloi", "Zürich Süd", "Malmö"]
    pd.testing.assert_frame_equal(answers(export.data), TRUTH.astype(float))


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet", ".dta", ".sav"])
def test_binary_formats(tmp_path: Path, bank: Instrument, suffix: str) -> None:
    frame = TRUTH.copy()
    frame.insert(0, "respondent_id", ["a", "b", "c"])
    path = tmp_path / f"export{suffix}"
    if suffix == ".xlsx":
        frame.to_excel(path, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(path)
    elif suffix == ".dta":
        pyreadstat.write_dta(frame, str(path))
    else:
        pyreadstat.write_sav(
            frame.fillna(-9),
            str(path),
            missing_ranges={"pb04": [-9]},
            variable_value_labels={i: LABELS for i in SHORT},
        )
    export = read_export(path, bank)
    expected = TRUTH.astype(float)
    if suffix == ".sav":
        assert export.declared_missing == 1  # the user-missing -9, read as no answer
    pd.testing.assert_frame_equal(answers(export.data), expected)
    assert export.data["respondent_id"].tolist() == ["a", "b", "c"]


def test_answer_labels_recode_and_unknown_labels_are_findings(
    tmp_path: Path, bank: Instrument
) -> None:
    path = write(
        tmp_path,
        "labels.csv",
        "pb01,pb03,pb04,pb07\nAlways,  always ,ALWAYS,sometimez\n2,x9,7,3.5\n",
    )
    export = read_export(path, bank)
    assert export.data.loc[0, ["pb01", "pb03", "pb04"]].tolist() == [5.0, 5.0, 5.0]
    assert export.data[["pb07"]].isna().iloc[0, 0]
    findings = export.findings.sort_values(["row", "column"]).to_dict(orient="records")
    assert findings == [
        {
            "kind": "unknown_label",
            "row": 1,
            "column": "pb07",
            "value": "sometimez",
            "reason": "not a label of the item's scale",
        },
        {
            "kind": "unknown_label",
            "row": 2,
            "column": "pb03",
            "value": "x9",
            "reason": "not a label of the item's scale",
        },
        {
            "kind": "out_of_range",
            "row": 2,
            "column": "pb04",
            "value": "7",
            "reason": "outside the item's scale",
        },
        {
            "kind": "out_of_range",
            "row": 2,
            "column": "pb07",
            "value": "3.5",
            "reason": "outside the item's scale",
        },
    ]


def test_item_columns_read_two_at_a_time_give_what_one_at_a_time_gives(
    tmp_path: Path, bank: Instrument, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Numbers, labels, junk and answers off the scale, in columns read on two threads (as a
    # large export is) and on one.
    sim = simulate(bank, 400, form="patient-full", clinicians=5, sessions=1, seed=12)
    frame = pd.read_csv(write_export(sim, bank, tmp_path / "plain.csv", "csv"), dtype=str)
    frame.loc[::7, "pb01"] = "Always"
    frame.loc[::11, "pb03"] = "x9"
    frame.loc[::13, "pg02"] = "7"
    frame.loc[::17, "pt04"] = "3.5"
    frame.loc[::19, "tr01"] = "-99"
    path = tmp_path / "mixed.csv"
    frame.to_csv(path, index=False)
    monkeypatch.setattr("analysis.ingest.read._ROWS_FOR_TWO_THREADS", 10**9)
    alone = read_export(path, bank)
    monkeypatch.setattr("analysis.ingest.read._ROWS_FOR_TWO_THREADS", 1)
    paired = read_export(path, bank)
    kinds = set(alone.findings["kind"])
    assert {"unknown_label", "out_of_range"} <= kinds
    pd.testing.assert_frame_equal(paired.data, alone.data)
    pd.testing.assert_frame_equal(paired.findings, alone.findings)
    assert paired.declared_by_item == alone.declared_by_item


def test_simulated_careless_responders_are_quarantined(tmp_path: Path, bank: Instrument) -> None:
    sim = simulate(bank, 1500, clinicians=20, sessions=2, seed=31)
    path = write_export(sim, bank, tmp_path / "q.csv", "qualtrics")
    checked = check_export(read_export(path, bank), bank)
    careless = sim.careless.to_numpy()
    caught = ~checked.usable
    answers = sim.data[list(sim.items)]
    straight = careless & (answers.nunique(axis=1) == 1).to_numpy()
    assert caught[straight].all()  # every straight-liner
    # Random answering is caught when it is also fast; the rest is left to the outlier flag.
    assert caught[careless].mean() > 0.85
    assert caught[~careless].mean() < 0.01  # almost no honest responder
    assert checked.rows_in == checked.rows_usable + checked.rows_quarantined == len(sim.data)


# ---------------------------------------------------------------- bad input, from the CLI
def _binary(p: Path) -> None:
    p.write_bytes(bytes(range(256)) * 40)


def _sparse_2gb(p: Path) -> None:
    with p.open("wb") as handle:
        handle.truncate(2 * 10**9)


BAD = [
    ("empty.csv", lambda p: p.write_text(""), "empty.csv: the file is empty."),
    ("binary.csv", _binary, "binary.csv: not a text file (binary content)"),
    (
        "header.csv",
        lambda p: p.write_text("pb01,pb03\n"),
        "header.csv: the file has a header but no data rows.",
    ),
    (
        "colon.csv",
        lambda p: p.write_text("pb01:pb03:pb04\n1:2:3\n4:5:1\n"),
        "colon.csv: no column matches an item of instrument 'alliance' (one column only: is the "
        "delimiter right?)",
    ),
    (
        "ragged.csv",
        lambda p: p.write_text("pb01,pb03\n1,2\n3,4,5,6\n"),
        "ragged.csv: line 3 has 4 fields where the header has 2",
    ),
    (
        # pandas would take the extra field of a first row for an index and shift the row.
        "ragged_first.csv",
        lambda p: p.write_text("pb01,pb03\n1,2,3\n3,4\n"),
        "ragged_first.csv: line 2 has 3 fields where the header has 2",
    ),
    (
        "huge.csv",
        _sparse_2gb,
        "huge.csv: 2.0 GB is larger than the 1.0 GB limit for one "
        "export; split it, or raise the limit with --max-size.",
    ),
    (
        "other.csv",
        lambda p: p.write_text("q1,q2,q3\n1,2,3\n"),
        "other.csv: no column matches an item of instrument 'alliance'",
    ),
]


@pytest.mark.parametrize(("name", "make", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_clear_line_and_exit_2(
    tmp_path: Path, name: str, make: object, message: str
) -> None:
    path = tmp_path / name
    make(path)  # type: ignore[operator]
    out = tmp_path / "set_aside.csv"
    result = run_cli("check", str(path), "--quarantine", str(out))
    assert result.returncode == 2
    assert result.stderr.startswith(f"alliance: error: {message}")
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert not out.exists()  # never a partial output file


def test_a_missing_file_and_a_directory(tmp_path: Path) -> None:
    for target, message in (
        (tmp_path / "nope.csv", "no such file."),
        (
            tmp_path,
            "is a directory, not an export file (a folder is read only when it holds "
            "FHIR .json or .ndjson files).",
        ),
    ):
        result = run_cli("check", str(target))
        assert result.returncode == 2 and result.stderr.strip().endswith(message)


def test_check_json_schema_and_strict(tmp_path: Path, bank: Instrument) -> None:
    path = write(tmp_path, "q.csv", qualtrics_text(bank, qcodes=False))
    out = tmp_path / "set_aside.csv"
    result = run_cli("check", str(path), "--json", "--quarantine", str(out), "--strict")
    assert result.returncode == 1  # --strict: something was quarantined
    doc = json.loads(result.stdout)
    assert set(doc) >= {
        "export",
        "platform",
        "rows_in",
        "rows_usable",
        "rows_quarantined",
        "quarantine_reasons",
        "finding_counts",
        "findings",
        "items_matched",
        "unmatched_columns",
        "missing_items",
        "items",
    }
    assert (doc["rows_in"], doc["rows_usable"], doc["rows_quarantined"]) == (7, 3, 4)
    assert doc["quarantine_reasons"] == {"preview": 1, "test": 1, "spam": 1, "unfinished": 1}
    # pb04's -99 (seen, unanswered) is told apart from the blanks of items not shown.
    assert doc["declared_missing_answers"] == 1
    declared = {i: s["declared_missing"] for i, s in doc["items"].items()}
    assert declared == {i: int(i == "pb04") for i in SHORT}
    assert set(doc["findings"][0]) == {"kind", "row", "column", "value", "reason"}
    set_aside = pd.read_csv(out)
    assert set_aside["row"].tolist() == [4, 5, 6, 7]
    assert set_aside["quarantine_reasons"].tolist() == ["preview", "test", "spam", "unfinished"]
    assert set_aside["ResponseId"].tolist() == ["R_preview", "R_test", "R_spam", "R_unfinished"]
    ok = run_cli("check", str(path), "--json")
    assert ok.returncode == 0


def test_utf8_at_first_and_windows_bytes_later_reads_as_cp1252(
    tmp_path: Path, bank: Instrument
) -> None:
    rows = ["site_id,pb01,pb03"] + [f"S{k},4,5" for k in range(8000)] + ["Malmö,3,2"]
    path = tmp_path / "late.csv"
    path.write_bytes("\n".join(rows).encode("cp1252") + b"\n")
    assert len(b"\n".join(r.encode() for r in rows[:-1])) > 65536  # past the sniffed start
    export = read_export(path, bank)
    assert export.encoding == "cp1252"
    assert export.data["site_id"].iloc[-1] == "Malmö"
    assert len(export.data) == 8001


def test_a_blank_line_is_a_row_set_aside_not_lost(tmp_path: Path, bank: Instrument) -> None:
    path = write(tmp_path, "gap.csv", "pb01,pb03,pb04\n1,2,3\n\n3,4,5\n")
    checked = check_export(read_export(path, bank), bank)
    assert checked.rows_in == 3 and checked.rows_usable == 2
    assert list(checked.quarantine) == ["", "no_answers", ""]


def test_a_large_file_keeps_ids_as_written(tmp_path: Path, bank: Instrument) -> None:
    # Past pandas' 5 MB mark, where it reads in parallel chunks and infers each column's type
    # itself: ids must still come back as written, zeros and all, even when they look like
    # numbers only further down the file, and a blank line and a bad code must still show.
    data = simulate(bank, 40_000, clinicians=50, sessions=1, seed=5).data
    data["respondent_id"] = [f"{k:07d}" for k in range(len(data))]
    data.loc[data.index[-15_000:], "clinician_id"] = "0042"
    late = data.index[-10]
    data.loc[late, "pb01"] = 9
    lines = data.to_csv(index=False).splitlines()
    lines.insert(20_000, "")
    path = tmp_path / "large.csv"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size > 8 * 2**20
    export = read_export(path, bank)
    assert len(export.data) == len(data) + 1
    read = export.data.drop(index=19_999).reset_index(drop=True)
    assert list(read["respondent_id"]) == list(data["respondent_id"])
    assert list(read["clinician_id"]) == list(data["clinician_id"])
    assert list(read["response_id"]) == list(data["response_id"])
    items = list(export.items)
    expected = data[items].astype(float)
    expected.loc[late, "pb01"] = np.nan
    pd.testing.assert_frame_equal(read[items], expected, check_names=False)
    finding = export.findings.loc[export.findings["kind"] == "out_of_range"]
    assert list(finding[["row", "column", "value"]].itertuples(index=False, name=None)) == [
        (len(data) + 1 - 10 + 1, "pb01", "9")
    ]
    assert export.data.drop(columns=["perspective"]).iloc[19_999].isna().all()


def test_dates_in_another_layout_become_iso_and_the_rest_stays(
    tmp_path: Path, bank: Instrument
) -> None:
    text = "date,pb01,pb03\n04/02/2026 10:00,4,5\n,3,3\nsoon,2,2\n04/03/2026 11:30,1,1\n"
    export = read_export(write(tmp_path, "dates.csv", text), bank)
    dates = export.data["date"]
    assert dates.tolist()[::2] == ["2026-04-02", "soon"] and dates.iloc[3] == "2026-04-03"
    assert dates.isna().tolist() == [False, True, False, False]


def test_outliers_are_the_rows_past_the_chi_square_cut(tmp_path: Path, bank: Instrument) -> None:
    # More complete rows than one block of the blocked computation, checked against the
    # textbook formula on the whole table at once.
    sim = simulate(bank, 100_000, form="patient-short", clinicians=50, sessions=1, seed=9)
    export = read_export(write_export(sim, bank, tmp_path / "many.csv", "csv"), bank)
    checked = check_export(export, bank)
    answers = export.data[list(export.items)].to_numpy()
    usable = (checked.quarantine == "").to_numpy() & ~np.isnan(answers).any(axis=1)
    x = answers[usable]
    assert len(x) > 1 << 16
    centered = x - x.mean(axis=0)
    d2 = np.einsum("ij,ij->i", centered @ np.linalg.inv(np.cov(x, rowvar=False)), centered)
    cut = chi2.ppf(1 - MAHALANOBIS_P, answers.shape[1])
    found = checked.findings[checked.findings["kind"] == "outlier"]
    assert list(found["row"]) == list(np.flatnonzero(usable)[d2 > cut] + 1)
    assert list(found["value"]) == [f"D2={v:.1f}" for v in d2[d2 > cut]]


def test_rows_checked_in_blocks_on_two_threads_are_judged_as_in_one_block(
    tmp_path: Path, bank: Instrument, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Careless responders (straight lines, too fast), missing answers and a row repeated whole,
    # checked in blocks of 7 rows that two threads share, and in one block.
    sim = simulate(bank, 1500, form="patient-full", clinicians=10, sessions=2, seed=4)
    path = write_export(sim, bank, tmp_path / "blocks.csv", "csv")
    with path.open("a") as f:
        f.write(path.read_text().splitlines()[5] + "\n")
    export = read_export(path, bank)
    whole = check_export(export, bank)
    monkeypatch.setattr("analysis.check._ROWS_PER_BLOCK", 7)
    blocked = check_export(export, bank)
    assert {"straight_lining", "too_fast"} <= set(whole.quarantine_reasons())
    assert "duplicate_row" in set(whole.findings["kind"])
    pd.testing.assert_series_equal(blocked.quarantine, whole.quarantine)
    pd.testing.assert_frame_equal(blocked.findings, whole.findings)


def test_item_statistics_from_one_pass_are_each_item_counted_alone(
    tmp_path: Path, bank: Instrument, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Answered and at-the-end counts gathered a block of 7 rows at a time, against each
    # column counted whole; reverse-keyed items' favourable end is their lowest code.
    from analysis.keying import ceiling_share

    sim = simulate(bank, 800, form="patient-full", clinicians=8, sessions=1, seed=6)
    path = write_export(sim, bank, tmp_path / "stats.csv", "csv")
    data = pd.read_csv(path)
    data.loc[::9, "pb06"] = np.nan  # a reverse-keyed item with many gaps
    data.loc[:400, "pg02"] = 5
    data.to_csv(path, index=False)
    export = read_export(path, bank)
    monkeypatch.setattr("analysis.check._ROWS_PER_BLOCK", 7)
    stats = check_export(export, bank).item_stats
    for item_id in export.items:
        column = export.data[item_id]
        end = bank.favourable_end(item_id)
        assert stats.loc[item_id, "answered"] == column.notna().sum()
        assert stats.loc[item_id, "ceiling_share"] == ceiling_share(column, end)
        assert stats.loc[item_id, "missing_share"] == pytest.approx(column.isna().mean())
    assert stats.loc["pb06", "missing_share"] >= 89 / 800
    assert stats.loc["pg02", "ceiling_share"] > 0.5


def test_an_item_without_a_scale_has_its_ceiling_at_the_largest_answer(tmp_path: Path) -> None:
    from instrument.loader import instrument_from_model

    model = instrument_from_model("f =~ q1 + q2 + q3")
    assert model.favourable_end("q1") is None
    path = write(tmp_path, "free.csv", "q1,q2,q3\n7,2,\n7,3,\n1,3,\n6.5,1,\n")
    stats = check_export(read_export(path, model), model).item_stats
    assert stats["ceiling_share"].to_dict() == {"q1": 2 / 4, "q2": 2 / 4, "q3": 0.0}
    assert stats["answered"].to_dict() == {"q1": 4, "q2": 4, "q3": 0}


def test_response_ids_are_known_distinct_without_coding_them() -> None:
    from analysis.check import _all_distinct

    text = pd.StringDtype("pyarrow", na_value=np.nan)
    assert _all_distinct(pd.Series(["R_1", None, "R_2", None], dtype=text))
    assert not _all_distinct(pd.Series(["R_1", "R_2", None, "R_1"], dtype=text))
    # Not Arrow text: said not known, and the ids are coded as before.
    assert not _all_distinct(pd.Series([101, 102]))


def test_a_row_with_two_reasons_lists_them_in_the_order_of_the_kinds(
    tmp_path: Path, bank: Instrument
) -> None:
    lines = qualtrics_text(bank, qcodes=False).splitlines()
    unfinished = lines[-1].split(",")
    unfinished[8:20] = [""] * 12  # and not one item answered
    lines[-1] = ",".join(unfinished)
    export = read_export(write(tmp_path, "two.csv", "\n".join(lines) + "\n"), bank)
    quarantine = check_export(export, bank).quarantine
    assert quarantine.tolist()[3:] == ["preview", "test", "spam", "unfinished; no_answers"]
    assert quarantine.dtype == pd.Series(["a"]).dtype and quarantine.name == "quarantine_reasons"


def test_findings_are_worked_out_when_first_asked_for_and_not_by_score(
    tmp_path: Path, bank: Instrument
) -> None:
    from analysis.pipeline import ReadResult, score_run
    from analysis.reading import Options

    sim = simulate(bank, 300, form="patient-full", clinicians=5, sessions=1, seed=2)
    path = write_export(sim, bank, tmp_path / "lazy.csv", "csv")
    checked = check_export(read_export(path, bank), bank)
    run = score_run(ReadResult(bank, checked, path), Options())
    assert run.read.checked.rows_in == 300 and len(run.table) == checked.rows_usable
    assert "_found" not in vars(checked)  # scoring needs the usable rows only
    first = checked.findings
    assert checked.findings is first and checked.item_stats is checked.item_stats
    assert set(checked.item_stats.index) == set(checked.export.items)


def test_ceiling_is_the_favourable_end_in_check_and_in_the_overview(
    tmp_path: Path, bank: Instrument
) -> None:
    # pb06 is reverse-keyed: its favourable end is 1 ('never' to a negative statement).
    assert bank.item("pb06").reverse and not bank.item("pb01").reverse
    export = read_export(
        write(tmp_path, "c.csv", "pb01,pb03,pb06\n5,5,1\n5,4,1\n4,5,5\n3,,2\n"), bank
    )
    ceiling = check_export(export, bank).item_stats["ceiling_share"]
    assert ceiling.to_dict() == pytest.approx({"pb01": 2 / 4, "pb03": 2 / 3, "pb06": 2 / 4})
    bond = overview(export.data, bank).per_subscale.loc["bond", "ceiling_share"]
    assert bond == pytest.approx(6 / 11)  # two answers at the end of each item, of 11


def test_timestamps_become_their_day_unless_the_day_is_not_a_date(
    tmp_path: Path, bank: Instrument
) -> None:
    text = "date,pb01\n2026-04-02 10:00:00,4\n2026-04-03T23:59,3\n,2\n"
    dates = read_export(write(tmp_path, "stamps.csv", text), bank).data["date"]
    assert dates.tolist()[:2] == ["2026-04-02", "2026-04-03"] and dates.isna().tolist()[2]
    text = "date,pb01\n2026-04-02 10:00:00,4\n2026-02-30 10:00:00,3\n"
    dates = read_export(write(tmp_path, "bad.csv", text), bank).data["date"]
    assert dates.tolist() == ["2026-04-02", "2026-02-30 10:00:00"]


def test_an_unfinished_response_is_flagged_when_finished_has_blanks(
    tmp_path: Path, bank: Instrument
) -> None:
    # A blank makes pandas read the column as 1.0 / 0.0 / NaN; 0.0 is still 'not finished'.
    text = (
        "StartDate,ResponseId,Finished,pb01,pb03\nStart Date,Response ID,Finished,Q1,Q2\n"
        "2026-03-01,R_1,1,4,5\n2026-03-01,R_2,0,3,3\n2026-03-01,R_3,,5,4\n"
    )
    export = read_export(write(tmp_path, "legacy.csv", text), bank)
    assert export.platform == "qualtrics"
    assert export.flags.tolist() == ["", "unfinished", ""]


def test_blanking_an_answer_leaves_the_rows_as_read(tmp_path: Path, bank: Instrument) -> None:
    # The items start as views of the columns read; an answer blanked as out of range must
    # not reach `raw`, which the quarantine file writes.
    export = read_export(write(tmp_path, "nine.csv", "pb01,pb03\n9.0,4.0\n2.0,3.0\n"), bank)
    assert np.isnan(export.data.loc[0, "pb01"]) and export.data.loc[1, "pb01"] == 2
    assert export.raw is not None and export.raw["pb01"].tolist() == [9, 2]


def test_dates_in_time_zones_that_differ_between_rows(tmp_path: Path, bank: Instrument) -> None:
    """A visit timestamp with its own UTC offset per row (an export merged from two servers):
    each row keeps the day it was written in, and nothing stops the read (pandas refuses to
    parse such a column in one go)."""
    path = tmp_path / "zones.csv"
    path.write_text(
        "respondent_id,date,pb01,pb03,pb04,pb07\n"
        "P1,2026-03-01T23:30:00+01:00,4,4,5,4\n"
        "P2,2026-03-02T00:30:00-05:00,3,4,4,4\n"
        "P3,2026-03-02,5,5,4,4\n",
        encoding="utf-8",
    )
    export = read_export(path, bank)
    assert export.data["date"].tolist() == ["2026-03-01", "2026-03-02", "2026-03-02"]


def test_a_repeated_row_is_one_whose_answers_and_blanks_repeat_in_place(
    tmp_path: Path, bank: Instrument
) -> None:
    """Rows 2 and 5 repeat rows 1 and 3 whole; row 6 gives row 1's answers to other items,
    row 4 leaves another item blank, and rows without answers are not flagged."""
    path = write(
        tmp_path,
        "twice.csv",
        "pb01,pb02,pb03,pg01\n1,2,3,4\n1,2,3,4\n1,2,,4\n1,2,4,\n1,2,,4\n2,1,3,4\n,,,\n,,,\n",
    )
    found = check_export(read_export(path, bank), bank).findings
    assert list(found.loc[found["kind"] == "duplicate_row", "row"]) == [2, 5]


def test_a_row_set_aside_for_two_reasons_is_counted_once(tmp_path: Path) -> None:
    """A row that is both straight lining and too fast counts once among the rows set aside
    and once under each reason: every place that lists the reasons says that they overlap."""
    export = tmp_path / "export.csv"
    assert run_cli("simulate", "-n", "200", "--seed", "5", "-o", str(export)).returncode == 0
    data = pd.read_csv(export)
    items = [c for c in data.columns if c[:2] in ("pb", "pg", "pt") and c[2:].isdigit()]
    data.loc[0, items] = 3
    data.loc[0, "duration_seconds"] = 5
    data.to_csv(export, index=False)
    doc = json.loads(run_cli("check", str(export), "--json").stdout)
    reasons, set_aside = doc["quarantine_reasons"], doc["rows_quarantined"]
    assert reasons["straight_lining"] >= 1 and reasons["too_fast"] >= 1
    assert sum(reasons.values()) > set_aside
    lines = run_cli("check", str(export)).stdout.splitlines()
    assert "  (a row can be quarantined for more than one reason)" in lines
    first = run_cli("validate", str(export)).stdout.splitlines()[0]
    assert f"left out: {set_aside:,} set aside by the checks (" in first
    assert "too fast; a row can have more than one reason)" in first


def test_reasons_that_do_not_overlap_are_listed_as_they_are() -> None:
    from analysis.sample import Sample
    from analysis.summaries import reasons_text

    assert reasons_text({"too_fast": 2, "no_answers": 1}, 3) == "2 too fast, 1 no answers"
    sentence = Sample(10, "usable", 7, {"too_fast": 2, "no_answers": 1}).sentence()
    assert sentence.startswith("n = 7 of 10 rows (rows: usable); left out: 2 too fast, 1 no")
