"""The methods paragraph a paper needs, written from a result's own numbers: which rows were
used and why any were left out, how missing answers and nested sessions were handled, the
estimator and why, the fit criteria, the invariance sequence where there is one, and the
software, with references. Numbers are in APA style (no leading zero where a value cannot pass
1); every one comes from the result's ``to_dict()``, so the paragraph cannot disagree with the
JSON."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

from .results import Reported  # what the paragraph reads of a result is its to_dict()

REFERENCES = {
    "chen": "Chen, F. F. (2007). Sensitivity of goodness of fit indexes to lack of measurement "
    "invariance. Structural Equation Modeling, 14(3), 464-504.",
    "enders": "Enders, C. K., & Bandalos, D. L. (2001). The relative performance of full "
    "information maximum likelihood estimation for missing data in structural equation "
    "models. Structural Equation Modeling, 8(3), 430-457.",
    "horn": "Horn, J. L. (1965). A rationale and test for the number of factors in factor "
    "analysis. Psychometrika, 30(2), 179-185.",
    "hu": "Hu, L., & Bentler, P. M. (1999). Cutoff criteria for fit indexes in covariance "
    "structure analysis: Conventional criteria versus new alternatives. Structural Equation "
    "Modeling, 6(1), 1-55.",
    "mcdonald": "McDonald, R. P. (1999). Test theory: A unified treatment. Erlbaum.",
    "rhemtulla": "Rhemtulla, M., Brosseau-Liard, P. E., & Savalei, V. (2012). When can "
    "categorical variables be treated as continuous? A comparison of robust continuous and "
    "categorical SEM estimation methods under suboptimal conditions. Psychological Methods, "
    "17(3), 354-373.",
    "rosseel": "Rosseel, Y. (2012). lavaan: An R package for structural equation modeling. "
    "Journal of Statistical Software, 48(2), 1-36.",
    "yuan": "Yuan, K.-H., & Bentler, P. M. (2000). Three likelihood-based methods for mean and "
    "covariance structure analysis with nonnormal missing data. Sociological Methodology, "
    "30(1), 165-200.",
}


def apa(value: float, digits: int = 3) -> str:
    """A value that cannot pass 1 (CFI, RMSEA, alpha), as APA writes it: '.998', '-.012'."""
    text = f"{value:.{digits}f}"
    return text.replace("0.", ".", 1) if abs(value) < 1 else text


def _n(value: int) -> str:
    return f"{value:,}"


def _p(value: float) -> str:
    return "p < .001" if value < 0.001 else f"p = {apa(value)}"


def _rows(sample: dict[str, Any]) -> str:
    used = sample.get("rows_used") or sample["rows_selected"]
    reasons = {**sample.get("left_out", {}), **sample.get("left_out_by_analysis", {})}
    left = [f"{_n(k)} {r.replace('_', ' ')}" for r, k in reasons.items() if k]
    if sample.get("left_out_incomplete"):
        left.append(f"{_n(sample['left_out_incomplete'])} with a missing answer")
    text = f"Of the {_n(sample['rows_in'])} rows of the export, {_n(used)} were analysed"
    return text + (f" (left out: {', '.join(left)})." if left else " (none left out).")


def _missing(missing: dict[str, Any] | None, cited: set[str]) -> str:
    if not missing:
        return ""
    method = missing.get("method")
    coverage = missing.get("lowest_coverage")
    if method == "fiml":
        if coverage == 1.0:
            return "No answer was missing."
        cited.add("enders")
        return (
            "Missing answers were handled by full-information maximum likelihood (FIML; "
            f"Enders & Bandalos, 2001) over {_n(missing['patterns'])} missing-data patterns, "
            f"the lowest covariance coverage of an item pair being {coverage:.1%}, so that a "
            "respondent who skipped an item still counts."
        )
    if method == "pairwise":
        return (
            "Each polychoric correlation was estimated from the rows that answered both items "
            f"(pairwise; lowest coverage {coverage:.1%})."
        )
    return "Rows with a missing answer were left out (listwise deletion)."


def _estimator(doc: dict[str, Any], cited: set[str]) -> str:
    estimator = doc["estimator"]
    choice = doc.get("estimator_choice")
    reason = choice["reason"].rstrip(".") if choice else ""
    why = f" {reason[:1].upper()}{reason[1:]}." if reason else ""
    if estimator in ("wlsmv", "ulsmv"):
        cited.add("rhemtulla")
        name = "diagonally weighted" if estimator == "wlsmv" else "unweighted"
        return (
            f"The items were treated as ordinal and the models fitted by {estimator.upper()} "
            f"({name} least squares on polychoric correlations, with robust standard errors "
            "and a mean- and variance-adjusted test; Rhemtulla et al., 2012)." + why
        )
    if estimator in ("mlr", "mlm"):
        cited.add("yuan")
        return (
            f"The models were fitted by {estimator.upper()}: maximum likelihood with robust "
            "(sandwich) standard errors and a scaled test statistic (Yuan & Bentler, 2000), "
            "which do not assume the answers to be multivariate normal." + why
        )
    return "The models were fitted by maximum likelihood (ML)." + why


def _nesting(sample: dict[str, Any], two_level: dict[str, Any] | None) -> str:
    nesting = sample.get("nesting")
    text = ""
    if nesting:
        text = f"Nesting: {nesting}."
    if two_level and "fit" in two_level:
        icc = two_level["icc"]
        low, high = min(icc.values()), max(icc.values())
        text += (
            f" A two-level model ({_n(two_level['n'])} rows in {_n(two_level['clusters'])} "
            f"clusters of {two_level['cluster']}) separated the variance within and between "
            f"clusters; the items' intraclass correlations ranged from {apa(low, 2)} to "
            f"{apa(high, 2)}."
        )
    return text.strip()


def _efa(efa: dict[str, Any] | None, cited: set[str]) -> str:
    if not efa:
        return ""
    cited.add("horn")
    kind = efa["parallel_analysis_kind"]
    retained = efa["parallel_analysis_factors"]
    what = "component" if kind == "components" else "factor"
    on = "the correlations" if kind == "components" else "the reduced correlations"
    if efa.get("correlation") == "polychoric":
        on = on.replace("correlations", "polychoric correlations")
    bartlett = efa["bartlett"]
    k = len(next(iter(efa["loadings"].values())))
    return (
        f"Parallel analysis (Horn, 1965; {efa['parallel_analysis_iterations']} random draws, "
        f"on the eigenvalues of {on}) retained {retained} {what}{'s' * (retained != 1)}. An "
        f"exploratory factor analysis with the hypothesized model's {k} factor"
        f"{'s' * (k != 1)} ({efa['method']} extraction, {efa['rotation']} rotation, n = "
        f"{_n(efa['n'])} complete rows) had KMO = {apa(efa['kmo'])} and Bartlett's "
        f"chi-square({bartlett['df']}) = {bartlett['chisq']:.2f}, {_p(bartlett['p'])}."
    )


def _fit(doc: dict[str, Any], cited: set[str]) -> str:
    cited.add("hu")
    models = [name.replace("_", "-") for name, m in doc["models"].items() if "error" not in m]
    hyp = doc["models"].get("hypothesized")
    criteria = (
        "judged against Hu and Bentler's (1999) guidelines (CFI and TLI at or above .95, "
        "RMSEA at or below .06, SRMR at or below .08)"
    )
    if len(models) == 1:
        text = f"The confirmatory model's fit was {criteria}."
    else:
        text = f"Competing confirmatory models ({', '.join(models)}) were compared by their fit, "
        text += criteria
        if doc["estimator"] not in ("wlsmv", "ulsmv"):
            text += ", AIC and BIC, and chi-square difference tests"
        text += "."
    if hyp is None or "error" in hyp:
        return text
    low, high = hyp["rmsea_ci"]
    return text + (
        f" The hypothesized model fitted with chi-square({hyp['df']}) = {hyp['chisq']:.2f}, "
        f"{_p(hyp['pvalue'])}, CFI = {apa(hyp['cfi'])}, TLI = {apa(hyp['tli'])}, RMSEA = "
        f"{apa(hyp['rmsea'])} (90% CI [{apa(low)}, {apa(high)}]), SRMR = {apa(hyp['srmr'])}."
    )


def _groups(doc: dict[str, Any]) -> str:
    groups = doc.get("groups")
    if not groups:
        return ""
    sizes = ", ".join(f"{g['group']} (n = {_n(g['n'])})" for g in groups)
    return f"The hypothesized model was fitted in every group at once: {sizes}."


def _reliability(reliability: dict[str, dict[str, Any]], cited: set[str]) -> str:
    alphas = [float(r["alpha"]) for r in reliability.values() if r.get("alpha") is not None]
    found = (r.get("omega_ordinal", r.get("omega_total")) for r in reliability.values())
    omegas = [float(omega) for omega in found if omega is not None]
    if not alphas:
        return ""
    cited.add("mcdonald")
    text = f"Cronbach's alpha of the subscales ranged from {apa(min(alphas))} to {apa(max(alphas))}"
    if omegas:
        text += f" and McDonald's (1999) omega from {apa(min(omegas))} to {apa(max(omegas))}"
    return text + "."


def _software(cited: set[str]) -> str:
    cited.add("rosseel")
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("numpy", "scipy", "pandas")
    )
    return (
        f"Analyses were run with alliance {metadata.version('alliance')} (Python "
        f"{platform.python_version()}; {versions}), whose estimates, standard errors and fit "
        "indices equal those of lavaan (Rosseel, 2012) within 1e-5 in its tests, and whose "
        "reliability and exploratory factor analysis equal semTools' and psych's."
    )


def _references(cited: set[str]) -> list[str]:
    return ["References", *(REFERENCES[key] for key in sorted(cited))]


def validation_methods(result: Reported) -> str:
    """The methods paragraph of a validation, then its references."""
    doc = result.to_dict()
    cited: set[str] = set()
    parts = [
        _rows(doc["sample"]),
        _missing(doc["missing"], cited),
        _nesting(doc["sample"], doc.get("two_level")),
        _estimator(doc, cited),
        _efa(doc["efa"], cited),
        _fit(doc, cited),
        _groups(doc),
        _reliability(doc["reliability"], cited),
        _software(cited),
    ]
    paragraph = " ".join(p for p in parts if p)
    return "\n".join([paragraph, "", *_references(cited)])


def invariance_methods(run: Reported) -> str:
    """The methods paragraph of an invariance sequence, then its references."""
    doc = run.to_dict()
    cited = {"chen"}
    sample = doc["sample"]
    levels = [level["level"] for level in doc["levels"]]
    over = "the same patients' sessions" if doc.get("over") else f"the groups of {doc['group']!r}"
    criteria = doc["criteria"]
    parts = [
        _rows(sample["rows"]),
        _missing(sample["missing"], cited),
        _nesting(sample["rows"], None) if not doc.get("over") else f"Nesting: {doc['nesting']}.",
        _estimator({"estimator": doc["estimator"]}, cited),
        f"Measurement invariance over {over} was tested in the sequence "
        f"{', '.join(levels)}, each level compared with the one before by the change in CFI "
        f"(a drop of at most {apa(criteria['delta_cfi'])}) and in RMSEA (a rise of at most "
        f"{apa(criteria['delta_rmsea'])}), following Chen (2007), beside the chi-square "
        "difference test.",
        f"Conclusion: {doc['conclusion']}.",
        _software(cited),
    ]
    paragraph = " ".join(p for p in parts if p)
    return "\n".join([paragraph, "", *_references(cited)])
