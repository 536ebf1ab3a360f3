"""The methods paragraph: every number in it is the result's own, and every work it cites is in
its references (and nothing more)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import alliance
from analysis.methods import REFERENCES, apa

from .conftest import run_cli


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return alliance.simulate(tmp_path_factory.mktemp("methods") / "export.csv", n=300, seed=5)


def _cited_and_listed(text: str) -> tuple[set[str], set[str]]:
    paragraph, _, references = text.partition("\n\nReferences\n")
    author = (
        r"([A-Z][A-Za-z]+)(?:'s)?(?: (?:&|and) [A-Z][A-Za-z]+(?:'s)?| et al\.)?,? \(?(?:19|20)\d\d"
    )
    cited = {m.group(1) for m in re.finditer(author, paragraph)}
    listed = {line.split(",")[0] for line in references.splitlines()}
    return cited, listed


def test_validation_methods_state_the_results_numbers(export: Path) -> None:
    result = alliance.read(export).validate()
    text = result.methods()
    doc = result.to_dict()
    sample, hyp, efa = doc["sample"], doc["models"]["hypothesized"], doc["efa"]
    paragraph = text.split("\n\n")[0]
    expected = [
        f"Of the {sample['rows_in']:,} rows of the export, {sample['rows_used']:,} were analysed",
        *(f"{k:,} {r.replace('_', ' ')}" for r, k in sample["left_out"].items() if k),
        f"over {doc['missing']['patterns']:,} missing-data patterns",
        f"{doc['missing']['lowest_coverage']:.1%}",
        f"chi-square({hyp['df']}) = {hyp['chisq']:.2f}",
        f"CFI = {apa(hyp['cfi'])}, TLI = {apa(hyp['tli'])}, RMSEA = {apa(hyp['rmsea'])}",
        f"90% CI [{apa(hyp['rmsea_ci'][0])}, {apa(hyp['rmsea_ci'][1])}]",
        f"SRMR = {apa(hyp['srmr'])}",
        f"{efa['parallel_analysis_iterations']} random draws",
        f"retained {efa['parallel_analysis_factors']} component",
        f"KMO = {apa(efa['kmo'])}",
        f"chi-square({efa['bartlett']['df']}) = {efa['bartlett']['chisq']:.2f}",
        f"{doc['estimator'].upper()}",
        "Nesting: clustered by respondent_id",  # the nesting, said
    ]
    alphas = [r["alpha"] for r in doc["reliability"].values()]
    expected.append(f"alpha of the subscales ranged from {apa(min(alphas))} to {apa(max(alphas))}")
    icc = doc["two_level"]["icc"].values()
    expected.append(f"ranged from {apa(min(icc), 2)} to {apa(max(icc), 2)}")
    for words in expected:
        assert words in paragraph, words
    assert "Hu and Bentler's (1999) guidelines (CFI and TLI at or above .95" in paragraph
    cited, listed = _cited_and_listed(text)
    assert cited == listed == {"Enders", "Horn", "Hu", "McDonald", "Rosseel", "Yuan"}


def test_ordinal_items_cite_rhemtulla_and_say_why_the_estimator(export: Path) -> None:
    result = alliance.read(export).validate(estimator="auto", cluster="none")
    text = result.methods()
    assert result.estimator == "wlsmv"
    choice = result.to_dict()["estimator_choice"]
    reason = choice["reason"].rstrip(".")
    assert f" {reason[:1].upper()}{reason[1:]}." in text
    assert "Rhemtulla et al., 2012)" in text and "Rhemtulla, M., Brosseau-Liard" in text
    assert "AIC and BIC" not in text.split("\n\n")[0]  # WLSMV has no likelihood


def test_invariance_methods_state_the_sequence_and_chens_criteria(export: Path) -> None:
    run = alliance.read(export).invariance(group="site_id")
    text = run.methods()
    doc = run.to_dict()
    assert "in the sequence configural, metric, scalar, strict" in text
    assert f"a drop of at most {apa(doc['criteria']['delta_cfi'])}" in text
    assert f"a rise of at most {apa(doc['criteria']['delta_rmsea'])}" in text
    assert f"Conclusion: {doc['conclusion']}." in text
    cited, listed = _cited_and_listed(text)
    assert cited == listed


def test_the_command_prints_the_same_paragraph(export: Path) -> None:
    done = run_cli("validate", str(export), "--methods")
    assert done.returncode == 0
    assert done.stdout == alliance.read(export).validate().methods() + "\n"
    both = run_cli("validate", str(export), "--methods", "--json")
    assert both.returncode == 2 and "give --methods or --json, not both" in both.stderr


def test_one_model_is_not_called_a_comparison(tmp_path: Path) -> None:
    hs = Path(__file__).parent / "reference" / "data" / "hs.csv"
    model = "visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6; speed =~ x7 + x8 + x9"
    text = alliance.read(hs, model=model, rows="all").validate().methods()
    assert "The confirmatory model's fit was judged against Hu and Bentler's (1999)" in text
    assert "Competing" not in text


def test_every_reference_is_one_apa_entry() -> None:
    for key, entry in REFERENCES.items():
        assert entry.split(",")[0].lower() == key
        assert re.search(r"\((19|20)\d\d\)\. ", entry), entry
