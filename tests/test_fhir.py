"""HL7 FHIR: the bank as a Questionnaire, QuestionnaireResponses read as one more platform (a
Bundle, an NDJSON bulk export, a folder), and the simulator writing them. Every resource written
and every fixture read parses with fhir.resources; the numbers equal the CSV path's."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from analysis.ingest import read_export
from instrument import Instrument

from .conftest import run_cli

FIXTURES = Path(__file__).parent / "data" / "fhir"
MODELS = {
    "Questionnaire": Questionnaire,
    "CodeSystem": CodeSystem,
    "QuestionnaireResponse": QuestionnaireResponse,
}


def _valid(resource: dict) -> None:
    kind = resource["resourceType"]
    if kind in MODELS:
        MODELS[kind].model_validate(resource)


def test_the_questionnaire_and_its_code_systems_parse_and_carry_the_bank(
    tmp_path: Path, bank: Instrument
) -> None:
    out = tmp_path / "q.json"
    done = run_cli("items", "--form", "patient", "--format", "fhir", "-o", str(out))
    assert done.returncode == 0, done.stderr
    bundle = json.loads(out.read_text())
    Bundle.model_validate(bundle)
    resources = [e["resource"] for e in bundle["entry"]]
    for resource in resources:
        _valid(resource)
    q = resources[0]
    assert q["url"].endswith("/Questionnaire/alliance-patient") and q["version"] == bank.version
    assert [e["valueCode"] for e in q["extension"]] == list(bank.rule_pillars)
    items = [i for g in q["item"] for i in g["item"]]
    assert [i["linkId"] for i in items] == [i.id for i in bank.select("patient")]
    links = [g["linkId"] for g in q["item"]] + [i["linkId"] for i in items]
    assert len(links) == len(set(links))
    for entry in items:
        item = bank.item(entry["linkId"])
        scale = bank.scale_of(item)
        assert scale is not None
        codes = [int(o["valueCoding"]["code"]) for o in entry["answerOption"]]
        assert codes == list(scale.codes)
        assert entry["extension"][0]["valueCode"] == ("-" if item.reverse else "+")
    systems = {r["url"]: r for r in resources if r["resourceType"] == "CodeSystem"}
    for entry in items:
        assert entry["answerOption"][0]["valueCoding"]["system"] in systems
    # what a respondent sees names no construct
    assert all(g["text"].startswith("Part ") for g in q["item"])


@pytest.mark.parametrize("name", ["sim.ndjson", "sim.json"])
def test_simulated_responses_parse_and_score_as_the_csv_does(tmp_path: Path, name: str) -> None:
    fhir, csv = tmp_path / name, tmp_path / "sim.csv"
    for path in (fhir, csv):
        done = run_cli("simulate", "-n", "120", "--sessions", "3", "--seed", "8", "-o", str(path))
        assert done.returncode == 0, done.stderr
    text = fhir.read_text()
    resources = (
        [json.loads(line) for line in text.splitlines()]
        if name.endswith(".ndjson")
        else [e["resource"] for e in json.loads(text)["entry"]]
    )
    for resource in resources[:200]:
        _valid(resource)
    scores = {}
    for path in (fhir, csv):
        out = tmp_path / f"{path.name}.scores.csv"
        done = run_cli("score", str(path), "-o", str(out))
        assert done.returncode == 0, done.stderr
        scores[path.suffix] = pd.read_csv(out)
    a, b = scores[fhir.suffix], scores[".csv"]
    merged = a.merge(b, on="response_id", suffixes=("", "_csv"))
    assert len(a) == len(b) == len(merged)
    for column in ("respondent_id", "clinician_id", "site_id", "session", "alliance_status"):
        assert (merged[column] == merged[f"{column}_csv"]).all(), column
    for column in ("bond", "goals", "tasks", "p_adequate"):
        pd.testing.assert_series_equal(
            merged[column], merged[f"{column}_csv"], check_names=False, atol=1e-12
        )


def test_a_bundle_shaped_as_public_examples_is_read_with_every_problem_a_finding(
    bank: Instrument,
) -> None:
    bundle = json.loads((FIXTURES / "responses_bundle.json").read_text())
    for entry in bundle["entry"]:
        _valid(entry["resource"])
    export = read_export(FIXTURES / "responses_bundle.json", bank)
    data = export.data.set_index("response_id")
    assert export.platform == "fhir" and len(data) == 5  # the Patient resource is no row
    assert data.loc["qr-1", "respondent_id"] == "p-1"  # the reference's id
    assert data.loc["qr-1", "clinician_id"] == "dr-7"
    assert pd.isna(data.loc["qr-2", "clinician_id"])  # the patient wrote it: no clinician
    assert (data.loc["qr-1", ["pb01", "pb03", "pg01"]] == [4, 5, 3]).all()  # code, integer
    # sessions follow authored: qr-1 (March 2), qr-5 (March 9), qr-2 (March 16)
    assert data.loc[["qr-1", "qr-5", "qr-2"], "session"].tolist() == [1, 2, 3]
    flags = dict(zip(export.data["response_id"], export.flags, strict=True))
    assert flags["qr-3"] == "entered_in_error" and flags["qr-4"] == "other_questionnaire"
    assert flags["qr-1"] == flags["qr-2"] == flags["qr-5"] == ""
    kinds = export.findings.groupby("kind")["value"].apply(list).to_dict()
    assert kinds["unknown_link"] == ["1 answers"]
    assert kinds["other_questionnaire"] == ["http://loinc.org/q/44249-1"]
    assert kinds["other_resource"] == ["Patient"]
    assert sorted(kinds["fhir_status"]) == ["amended", "entered-in-error", "in-progress"]
    text = export.data.to_csv() + export.findings.to_csv()
    for word in ("Quayle", "Robin", "555-", "Moreno", "Robbie"):
        assert word not in text


def test_a_bulk_export_with_one_bad_line_loses_nothing(tmp_path: Path) -> None:
    source = tmp_path / "sim.ndjson"
    done = run_cli("simulate", "-n", "4000", "--sessions", "3", "--seed", "2", "-o", str(source))
    assert done.returncode == 0, done.stderr
    lines = source.read_text().splitlines()[:10_000]
    assert len(lines) == 10_000
    lines[4_999] = lines[4_999][:-40]  # cut short mid-resource
    broken = tmp_path / "bulk.ndjson"
    broken.write_text("\n".join(lines) + "\n")
    done = run_cli("check", str(broken), "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["rows_in"] == 10_000
    assert doc["rows_usable"] + doc["rows_quarantined"] == 10_000
    bad = [f for f in doc["findings"] if f["kind"] == "unreadable_line"]
    assert len(bad) == 1 and bad[0]["value"] == "line 5000"
    assert "not JSON" in bad[0]["reason"]


def test_a_folder_of_files_is_one_export_and_other_input_one_line_errors(tmp_path: Path) -> None:
    folder = tmp_path / "bulk"
    folder.mkdir()
    for seed in (1, 2):
        path = folder / f"part{seed}.ndjson"
        done = run_cli(
            "simulate", "-n", "30", "--sessions", "2", "--seed", str(seed), "-o", str(path)
        )
        assert done.returncode == 0, done.stderr
    done = run_cli("check", str(folder), "--json")
    assert done.returncode == 0, done.stderr
    total = sum(len(p.read_text().splitlines()) for p in folder.iterdir())
    assert json.loads(done.stdout)["rows_in"] == total
    patients = tmp_path / "patients.ndjson"
    patients.write_text('{"resourceType": "Patient", "id": "1"}\n')
    done = run_cli("check", str(patients))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "alliance: error: patients.ndjson: no QuestionnaireResponse in it (found Patient 1)."
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run_cli("check", str(empty))
    assert done.returncode == 2 and "a folder is read only when it holds FHIR" in done.stderr


def test_the_store_gives_the_same_numbers_from_fhir_as_from_csv(tmp_path: Path) -> None:
    docs = []
    for name in ("sim.ndjson", "sim.csv"):
        path, db = tmp_path / name, tmp_path / f"{name}.duckdb"
        assert (
            run_cli(
                "simulate", "-n", "150", "--sessions", "3", "--seed", "5", "-o", str(path)
            ).returncode
            == 0
        )
        done = run_cli("ingest", str(path), "--db", str(db))
        assert done.returncode == 0, done.stderr
        done = run_cli("benchmark", "--db", str(db), "--json")
        assert done.returncode == 0, done.stderr
        docs.append(json.loads(done.stdout))
    fhir, csv = docs
    for doc in docs:
        doc.pop("store", None)
        doc.pop("generated", None)
    assert fhir["groups"] == csv["groups"]


def test_scores_go_back_as_observations_that_parse_and_hold_the_scores(tmp_path: Path) -> None:
    from fhir.resources.R4B.observation import Observation

    export, table, observed = (tmp_path / n for n in ("sim.ndjson", "s.csv", "obs.ndjson"))
    assert run_cli("simulate", "-n", "60", "--sessions", "2", "-o", str(export)).returncode == 0
    assert run_cli("score", str(export), "-o", str(table)).returncode == 0
    done = run_cli("score", str(export), "--format", "fhir", "-o", str(observed))
    assert done.returncode == 0, done.stderr
    scores = pd.read_csv(table).set_index("response_id")
    resources = [json.loads(line) for line in observed.read_text().splitlines()]
    assert len(resources) == len(scores)
    for resource in resources:
        Observation.model_validate(resource)
        response = resource["derivedFrom"][0]["identifier"]["value"]
        row = scores.loc[response]
        assert resource["subject"]["reference"] == f"Patient/{row['respondent_id']}"
        assert resource["effectiveDateTime"] == row["date"]
        assert resource["valueCodeableConcept"]["coding"][0]["code"] == (
            f"status-{row['alliance_status']}"
        )
        parts = {c["code"]["coding"][0]["code"]: c for c in resource["component"]}
        assert parts["subscale-goals"]["valueQuantity"]["value"] == pytest.approx(
            row["goals"], abs=1e-4
        )
        assert parts["bond-pass"]["valueBoolean"] == bool(row["bond_pass"])
    hidden = tmp_path / "hidden.ndjson"
    done = run_cli(
        "score", str(export), "--format", "fhir", "--pseudonymize", "k", "-o", str(hidden)
    )
    assert done.returncode == 0, done.stderr
    first = json.loads(hidden.read_text().splitlines()[0])
    assert "reference" not in first["subject"]
    assert first["subject"]["identifier"]["value"].startswith("anon_")


def test_a_broken_bundle_is_one_line_naming_where(tmp_path: Path) -> None:
    text = (FIXTURES / "responses_bundle.json").read_text()
    broken = tmp_path / "broken.json"
    broken.write_text(text.replace('"status": "amended",', '"status": "amended"', 1))
    done = run_cli("check", str(broken))
    assert done.returncode == 2
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith("alliance: error: broken.json: not valid JSON (Expecting ',' ")
    assert "at line 77, column 9" in message  # where the comma is missing


def test_answers_coded_by_label_are_read_and_others_named(tmp_path: Path, bank: Instrument) -> None:
    scale = bank.scale_of("pb01")
    assert scale is not None
    response = {
        "resourceType": "QuestionnaireResponse",
        "id": "qr-9",
        "status": "completed",
        "subject": {"reference": "https://hospital.example/fhir/Patient/p-9/_history/2"},
        "authored": "2026-04-01",
        "item": [
            {
                "linkId": "pb01",
                "answer": [{"valueCoding": {"code": "LA-x", "display": scale.labels[3]}}],
            },
            {"linkId": "pb02", "answer": [{"valueCoding": {"code": "LA-y", "display": "Perhaps"}}]},
        ],
    }
    QuestionnaireResponse.model_validate(response)
    path = tmp_path / "one.json"
    path.write_text(json.dumps(response, indent=2))
    export = read_export(path, bank)
    row = export.data.iloc[0]
    assert row["respondent_id"] == "p-9"  # a full URL with its version, read as the id
    assert row["pb01"] == scale.codes[3] and pd.isna(row["pb02"])
    found = export.findings.set_index("kind")
    assert found.loc["uncoded_answer", "column"] == "pb02"


def test_a_response_shaped_as_sdc_test_data_is_read(tmp_path: Path, bank: Instrument) -> None:
    """As Structured Data Capture forms send them: the SDC profile, the form contained and
    named by a local reference, answers coded with system and display and carrying an ordinal
    extension, an answer's own nested item, and a subject known by its identifier only."""
    ours = "http://alliance.example/fhir/Questionnaire/alliance-patient-short"
    coding = "http://alliance.example/fhir/CodeSystem/agreement-5"
    response = {
        "resourceType": "QuestionnaireResponse",
        "id": "sdc-1",
        "meta": {
            "profile": ["http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaireresponse"]
        },
        "contained": [
            {"resourceType": "Questionnaire", "id": "q", "url": ours, "version": "1.0",
             "status": "active"}
        ],
        "questionnaire": "#q",
        "status": "completed",
        "subject": {"identifier": {"system": "urn:clinic:mrn", "value": "MRN-0042"},
                    "display": "Zelda Quixote"},
        "authored": "2026-05-04T10:15:00+02:00",
        "item": [
            {"linkId": "bond", "text": "Bond", "item": [
                {"linkId": "pb01", "answer": [{
                    "valueCoding": {"system": coding, "code": "4", "display": "agree"},
                    "extension": [{
                        "url": "http://hl7.org/fhir/StructureDefinition/ordinalValue",
                        "valueDecimal": 4,
                    }],
                    "item": [{"linkId": "pb03", "answer": [{"valueInteger": 5}]}],
                }]},
            ]},
        ],
    }  # fmt: skip
    QuestionnaireResponse.model_validate(response)
    path = tmp_path / "sdc.json"
    path.write_text(json.dumps(response), encoding="utf-8")
    export = read_export(path, bank)
    row = export.data.iloc[0]
    assert row["respondent_id"] == "MRN-0042" and row["response_id"] == "sdc-1"
    assert (row[["pb01", "pb03"]] == [4, 5]).all()
    assert export.flags.tolist() == [""]  # the contained form is ours: no other_questionnaire
    assert "Zelda" not in export.data.to_csv() + export.findings.to_csv()


def _response(number: int, **fields: object) -> dict:
    """A completed response to our short form, answering pb01 with code 3, and ``fields``."""
    return {
        "resourceType": "QuestionnaireResponse",
        "id": f"qr-{number}",
        "questionnaire": "http://alliance.example/fhir/Questionnaire/alliance-patient-short",
        "status": "completed",
        "subject": {"reference": f"Patient/p-{number % 3}"},
        "authored": f"2026-03-{number:02d}",
        "item": [{"linkId": "pb01", "answer": [{"valueCoding": {"code": "3"}}]}],
        **fields,
    }


SITE_URL = "http://alliance.example/fhir/StructureDefinition/site"
SECONDS_URL = "http://alliance.example/fhir/StructureDefinition/completion-seconds"
# Lines the columnar reader reads: each a shape it must read as the line reader does.
COLUMNAR = [
    _response(1, identifier={"value": "B-1"}),
    _response(2, identifier=[{"value": "R5-list"}]),  # R5: a list, so the id is used
    _response(3, subject={"identifier": {"value": "MRN-3"}, "type": "Patient"}),
    _response(4, author={"reference": "https://ehr.example/fhir/PractitionerRole/r-4/_history/9",
                         "display": "Dr Alex Moreno"}),
    _response(5, author={"reference": "RelatedPerson/x"}, encounter={"reference": "Encounter/e5"}),
    _response(11, subject={"reference": "Patient/_history"}),  # no id before the version
    _response(6, extension=[{"url": SECONDS_URL, "valueDecimal": 61.5},
                            {"url": SITE_URL, "valueString": "north"},
                            {"url": SITE_URL, "valueString": "south"}]),
    _response(7, item=[{"linkId": "pb01", "answer": [{"valueInteger": 4}]},
                       {"linkId": "pb03", "answer": [{"valueDecimal": 2.0}]},
                       {"linkId": "pb04", "answer": [{"valueString": "often"}]},
                       {"linkId": "pb05", "answer": []}, {"answer": [{"valueInteger": 2}]},
                       {"linkId": "nickname", "answer": [{"valueString": "Bo"}]},
                       {"linkId": "nickname", "answer": [{"valueString": "Bo"}]}]),
    _response(8, item=[{"linkId": "group-goals", "item": [
        {"linkId": "pg01", "answer": [{"valueCoding": {"code": "5", "system": "urn:x"}}]},
        {"linkId": "pg02", "answer": [{"valueCoding": {"code": "1"}}]}]}]),
    _response(9, questionnaire="http://loinc.org/q/44249-1", status="entered-in-error"),
    _response(10, status="in-progress", subject=None),
    {"resourceType": "Patient", "id": "p-1", "name": [{"family": "Quayle"}]},
    {"resourceType": "Observation", "id": "o-1", "status": "final"},
]  # fmt: skip
# Lines only the line reader reads, each with a response of the columnar shape beside it.
BY_LINE = {
    "a bundle on a line": {"resourceType": "Bundle", "type": "collection",
                           "entry": [{"resource": _response(11)}]},
    "a contained form": _response(12, questionnaire="#q", contained=[
        {"resourceType": "Questionnaire", "id": "q", "status": "active",
         "url": "http://alliance.example/fhir/Questionnaire/alliance-patient-short"}]),
    "an answer's own item": _response(13, item=[{"linkId": "pb01", "answer": [
        {"valueInteger": 2, "item": [{"linkId": "pb03", "answer": [{"valueInteger": 4}]}]}]}]),
    "groups two deep": _response(14, item=[{"linkId": "g", "item": [{"linkId": "h", "item": [
        {"linkId": "pb01", "answer": [{"valueInteger": 1}]}]}]}]),
    "an item answered twice": _response(15, item=[
        {"linkId": "pb01", "answer": [{"valueInteger": 1}, {"valueInteger": 5}]}]),
    "a code that is a label": _response(16, item=[
        {"linkId": "pb01", "answer": [{"valueCoding": {"code": "x", "display": "Perhaps"}}]}]),
    "a coding without code": _response(17, item=[
        {"linkId": "pb01", "answer": [{"valueCoding": {"display": "Perhaps"}}]}]),
}  # fmt: skip


def _ndjson(path: Path, resources: list[dict]) -> Path:
    lines = [json.dumps({k: v for k, v in r.items() if v is not None}) for r in resources]
    path.write_text("\n".join([*lines[:3], "", *lines[3:]]) + "\n")  # and a blank line
    return path


@pytest.mark.parametrize("case", ["columnar", "simulated", *BY_LINE])
def test_the_columnar_reader_gives_the_line_readers_table(
    tmp_path: Path, bank: Instrument, case: str
) -> None:
    """An NDJSON file is read in columns where it can be (fast), else line by line; the table
    and the findings are the same either way, and a shape the columns do not cover is left to
    the line reader whole."""
    from analysis.ingest import fhir, fhir_bulk

    if case == "simulated":
        path = tmp_path / "sim.ndjson"
        done = run_cli("simulate", "-n", "60", "--sessions", "3", "--seed", "4", "-o", str(path))
        assert done.returncode == 0, done.stderr
    else:
        path = _ndjson(
            tmp_path / "x.ndjson", COLUMNAR + ([BY_LINE[case]] if case in BY_LINE else [])
        )
    rows = fhir._Collector(bank)
    columnar = fhir_bulk.read_ndjson(path, rows.index, rows.ours, fhir.split_reference)
    assert (columnar is None) == (case in BY_LINE)
    fast, found_fast = fhir.read_fhir(path, bank)
    slow, found_slow = fhir.read_fhir(path, bank, bulk=False)
    pd.testing.assert_frame_equal(fast, slow)
    assert found_fast == found_slow
    if case == "columnar":
        data = fast.set_index("response_id")
        assert len(data) == 11
        assert "Quayle" not in fast.to_csv() and "Moreno" not in fast.to_csv()
        assert data.loc["B-1", "respondent_id"] == "p-1" and "qr-2" in data.index
        assert data.loc["qr-3", "respondent_id"] == "MRN-3"
        assert data.loc["qr-4", "clinician_id"] == "r-4"
        assert pd.isna(data.loc["qr-5", "clinician_id"])  # a RelatedPerson wrote it
        assert data.loc["qr-6", "site_id"] == "south"  # the last, as read
        assert data.loc["qr-6", "duration_seconds"] == 61.5
        assert data.loc["qr-7", ["pb01", "pb03"]].tolist() == [4, 2]
        assert pd.isna(data.loc["qr-7", "pb04"])  # a string is no answer of the scale
        assert data.loc["qr-8", ["pg01", "pg02"]].tolist() == [5, 1]
        kinds = {f[0]: f[3] for f in found_fast}
        assert kinds["unknown_link"] == "2 answers" and kinds["uncoded_answer"] == "1 answers"
        assert {f[3] for f in found_fast if f[0] == "other_resource"} == {"Patient", "Observation"}
