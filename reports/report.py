"""The report: from an analysis (:func:`analysis.pipeline.analyse`) to one self-contained page.

Sections: data quality; item answers; reliability; structure (EFA and competing CFA models);
the non-compensatory rule; and, with ``by``, profiles per group (groups under the minimum size
are suppressed and only counted). Every section opens with a plain-language reading, worded
from the instrument's own names. Nothing is computed here beyond arranging the results.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from analysis.cfa.longitudinal import LongitudinalResult
from analysis.cfa.twolevel import TwoLevelResult
from analysis.check import CheckResult
from analysis.describe import (
    DISCRETE_MAX_POINTS,
    GroupProfiles,
    histogram,
    item_descriptives,
    item_distribution,
    item_quantiles,
    on_discrete_scale,
)
from analysis.pipeline import Analysis, InvarianceRun, IrtRun
from analysis.ruptures.course import Course
from analysis.scoring import ScoreResult
from analysis.summaries import p_text, reasons_overlap, reasons_text
from analysis.validate import BETWEEN_SUFFIX, ValidationResult
from instrument import Instrument

from . import figures, monitor_figures
from .html import Page, Section, render


def _and(words: list[str]) -> str:
    words = [str(w) for w in words]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _labels(instrument: Instrument, subscales: list[str]) -> list[str]:
    return [
        (instrument.subscales[s].label or s) if s in instrument.subscales else s for s in subscales
    ]


def _subscales_of(instrument: Instrument, items: list[str]) -> list[str]:
    return list(dict.fromkeys(instrument.item(i).subscale for i in items))


def _subscale_of(instrument: Instrument, item_id: str) -> str:
    """An item's subscale, or '' for a column the instrument does not know (stacked forms)."""
    known = {item.id: item for item in instrument.items}
    return known[item_id].subscale if item_id in known else ""


def _data_section(checked: CheckResult) -> Section:
    doc = checked.to_dict()
    reasons = reasons_text(doc["quarantine_reasons"], doc["rows_quarantined"])
    s = Section(
        "data",
        "1. Data quality",
        (
            f"{doc['rows_in']:,} responses came in; {doc['rows_usable']:,} are used and "
            f"{doc['rows_quarantined']:,} were set aside"
            + (f" ({reasons})" if reasons else "")
            + ". Nothing was dropped silently: every set-aside row and every unusable answer is "
            "listed by `alliance check`."
        ),
    )
    s.table(
        pd.DataFrame(
            {"rows": [doc["rows_in"], doc["rows_usable"], doc["rows_quarantined"]]},
            index=pd.Index(["in", "usable", "quarantined"], name=""),
        ),
        "Table 1. Rows of the export",
        digits=0,
    )
    if doc["finding_counts"]:
        counts = pd.DataFrame(
            {"findings": list(doc["finding_counts"].values())},
            index=pd.Index([k.replace("_", " ") for k in doc["finding_counts"]], name="kind"),
        )
        s.table(counts, "Table 2. Findings by kind", digits=0)
    if doc["quarantine_reasons"]:
        several = reasons_overlap(doc["quarantine_reasons"], doc["rows_quarantined"])
        title = "Why rows were set aside" + (" (a row can have more than one reason)" * several)
        s.figure(figures.status_bars(doc["quarantine_reasons"], title))
    stats = checked.item_stats.sort_values("missing_share", ascending=False).head(10)
    stats = stats.rename(
        columns={
            "missing_share": "missing",
            "declared_missing": "seen, unanswered",
            "ceiling_share": "at ceiling",
        }
    )
    stats.index.name = "item"
    stats["seen, unanswered"] = stats["seen, unanswered"] / max(checked.rows_in, 1)
    shown = ["answered", "missing", "seen, unanswered", "at ceiling"]
    if not checked.export.declared_missing:
        shown.remove("seen, unanswered")  # the export has no missing code to tell apart
    s.table(
        stats[shown],
        "Table 3. The ten items with the most missing answers, over all rows read "
        "(quarantined ones included; answered is a count, the rest are shares; seen, "
        "unanswered = the part of missing given as a missing code such as -99; ceiling = the "
        "favourable end of the scale)",
    )
    return s


def _items_section(usable: pd.DataFrame, instrument: Instrument, items: list[str]) -> Section:
    s = Section(
        "items",
        "2. Items",
        (
            "Each bar shows how the answers to one item were spread, from the lowest answers on "
            "the left to the highest on the right. Long bars at the favourable end (a ceiling "
            "effect) make small differences there hard to see. For the reverse-keyed items "
            "(marked) a low answer is the favourable one."
        ),
    )
    groups: dict[str, list[str]] = {}
    for item_id in items:
        groups.setdefault(instrument.item(item_id).construct, []).append(item_id)
    for construct, ids in groups.items():
        by_scale: dict[str, list[str]] = {}
        for item_id in ids:
            by_scale.setdefault(instrument.item(item_id).scale or "", []).append(item_id)
        for scale_name, scale_ids in by_scale.items():
            scale = instrument.scales.get(scale_name)
            labels = [
                f"{instrument.item(i).subscale} - {i}"
                + (" (reverse-keyed)" if instrument.item(i).reverse else "")
                + (f": {instrument.item(i).text}" if instrument.item(i).text else "")
                for i in scale_ids
            ]
            title = (
                f"Answers to the {construct} items"
                if construct != "model"
                else f"Answers to the items of {_and(_subscales_of(instrument, scale_ids))}"
            )
            answered = [i for i in scale_ids if usable[i].notna().any()]
            if not answered:
                s.note(f"{title}: no usable row answered these items, so there is nothing to draw.")
                continue
            if not on_discrete_scale(usable, instrument, scale_ids):
                s.note(
                    f"{title}: the answers take more than {DISCRETE_MAX_POINTS} values, so they "
                    "are drawn as box plots (the box holds the middle half of the answers)."
                )
                s.figure(figures.item_boxes(item_quantiles(usable, scale_ids), labels, title))
                continue
            shares = item_distribution(usable, instrument, scale_ids)
            s.figure(
                figures.diverging_items(shares, dict(scale.points) if scale else {}, labels, title)
            )
    table = item_descriptives(usable, instrument, items)
    table.insert(0, "subscale", [instrument.item(i).subscale for i in items])
    s.table(
        table,
        f"Table 4. Item descriptives over the {len(usable):,} usable rows (n answered; skew and "
        "excess kurtosis as psych's describe; missing and ceiling are shares, the ceiling "
        "being the favourable end of the scale)",
        digits=2,
    )
    return s


def _compare_by(estimator: str) -> str:
    if estimator in ("wlsmv", "ulsmv"):
        return (
            "the answers are treated as ordinal (WLSMV), which has no likelihood and so no AIC "
            "or BIC: compare the models' CFI and RMSEA"
        )
    return "lower AIC and BIC are better"


def _reliability_section(v: ValidationResult, instrument: Instrument) -> Section:
    rows = {}
    for name, r in v.reliability.items():
        rows[name] = {
            "alpha": r.get("alpha"),
            "alpha 95% CI": (
                f"[{r['alpha_ci'][0]:.2f}, {r['alpha_ci'][1]:.2f}]" if r.get("alpha_ci") else ""
            ),
            **({"ordinal alpha": r["alpha_ordinal"]} if "alpha_ordinal" in r else {}),
        }
        which = "omega_ordinal" if "omega_ordinal" in r else "omega_total"
        for label, kind in (("omega", which), ("CR", "composite_reliability"), ("AVE", "ave")):
            rows[name][label] = r.get(kind)
            if v.bootstrap is not None:  # each interval beside its number
                lower, upper = v.bootstrap.interval(f"{kind}:{name}")
                rows[name][f"{label} 95% CI"] = (
                    f"[{lower:.2f}, {upper:.2f}]" if lower == lower else ""
                )
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "subscale"
    low = [n for n, r in v.reliability.items() if (r.get("alpha") or 1) < 0.7]
    s = Section(
        "reliability",
        "3. Reliability",
        (
            "Reliability says how consistently the items of a subscale measure the same thing; "
            ".70 is a common floor for group comparisons, .90 for decisions about one patient. "
            + (f"Below .70: {', '.join(low)}." if low else "Every subscale is at or above .70.")
        ),
    )
    ordinal = "ordinal alpha" in table.columns
    omega = (
        "ordinal alpha on the polychoric correlations, Green & Yang's categorical omega on "
        "the scale of the sum score (the answers are ordinal, fitted by WLSMV)"
        if ordinal
        else "McDonald's omega over the model-implied variance of the sum (semTools' "
        "compRelSEM with obs.var = FALSE)"
    )
    s.table(
        table,
        f"Table 4. Reliability per subscale (alpha, {omega}, composite reliability over the "
        "observed variance of the sum (compRelSEM's default), average variance extracted)",
    )
    if v.bootstrap is not None:
        htmt = [line.strip() for line in v.bootstrap.lines() if line.strip().startswith("HTMT")]
        s.note(
            f"The intervals of omega, CR and AVE are the bootstrap's: {v.bootstrap.sentence()}."
            + (f" Between the subscales: {'; '.join(htmt)}." if htmt else "")
        )
    if v.two_level is not None:
        _levels_part(s, v.two_level, instrument)
    elif v.two_level_error is not None:
        s.note(f"Reliability per level is not available: {v.two_level_error}.")
    return s


def _levels_part(s: Section, fit: TwoLevelResult, instrument: Instrument) -> None:
    """Nested rows: each subscale's ICC and omega within and between clusters, and every item's
    ICC, from the two-level model."""
    s.note(
        f"The rows are nested ({fit.nesting()}). Omega within says how well a subscale tracks "
        "one patient's change from session to session; omega between, how well a patient's "
        "mean over their sessions tells patients apart; the ICC is the share of the "
        "subscale's variance that lies between patients."
    )
    rows: dict[str, dict[str, Any]] = {}
    for record in fit.reliability.to_dict(orient="records"):
        name = str(record["factor"])
        pillar = name.removesuffix(BETWEEN_SUFFIX)
        row = rows.setdefault(pillar, {})
        if record["construct"] == "shared":
            row.update({"omega between": record["omega_B"], "IRR": record["IRR"]})
            row.setdefault("ICC", record["icc"])
        else:
            row.update({"ICC": record["icc"], "omega within": record["omega_W"]})
            if record["construct"] == "configural":
                row["omega two-level"] = record["omega_2L"]
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "subscale"
    s.table(
        table,
        "Table 15. Reliability per level (two-level model by ML; semTools' compRelSEM: omega "
        "within and two-level for a factor at both levels, omega between and IRR for a factor "
        "between clusters only)",
    )
    known = {item.id: item for item in instrument.items}
    items = [known.get(str(i)) for i in fit.icc.index]
    labels = [
        item.text if item and item.text else str(i)
        for i, item in zip(fit.icc.index, items, strict=True)
    ]
    groups = [item.subscale if item else "" for item in items]
    s.figure(
        figures.icc_bars(
            fit.icc, labels, groups, "Each item's ICC: its share of variance between patients"
        )
    )
    if fit.findings:
        s.note("Two-level model: " + "; ".join(fit.findings) + ".")


def _structure_section(v: ValidationResult, instrument: Instrument) -> Section:
    doc = v.to_dict()
    hyp = v.hypothesized
    verdict = doc["models"].get("hypothesized", {}).get("verdict", "")
    factors = list(hyp.latent) if hyp is not None else []
    model_name = (
        f"The {len(factors)}-factor model ({_and(_labels(instrument, factors))})"
        if len(factors) > 1
        else "The one-factor model"
    )
    s = Section(
        "structure",
        "4. Structure",
        (
            "Do the items group into the subscales they were written for? Competing models are "
            f"fitted side by side; {_compare_by(v.estimator)}. {model_name} {verdict}. "
            f"The models were fitted by {v.estimator.upper()} on {v.sample.sentence()}."
        ),
    )
    for finding in v.findings:
        s.note(f"Finding: {finding}.")
    if v.efa is not None:
        s.figure(figures.scree(v.efa.parallel.observed.tolist(), v.efa.parallel.random_95.tolist()))
        s.note(
            f"EFA ({v.efa.method} extraction, {v.efa.rotation} rotation) on the {v.efa.n:,} "
            f"complete rows: KMO {v.efa.kmo:.3f}; Bartlett chi-square "
            f"{v.efa.bartlett_chisq:.1f} on {v.efa.bartlett_df} df; {v.efa.parallel_sentence()}."
        )
        efa = v.efa.loadings_table()
        efa.insert(0, "subscale", [_subscale_of(instrument, str(i)) for i in efa.index])
        s.table(
            efa,
            f"Table 5a. EFA loadings ({v.efa.method}, {v.efa.rotation} rotation, the "
            f"hypothesized model's {v.efa.loadings.shape[1]} factors) with each item's "
            "communality (h2) and uniqueness (u2)",
            digits=2,
        )
    fit = {}
    for name, m in doc["models"].items():
        if "error" in m:
            continue
        fit[name] = {
            "chi-square": m["chisq"],
            "df": m["df"],
            "CFI": m["cfi"],
            "TLI": m["tli"],
            "RMSEA": m["rmsea"],
            "SRMR": m["srmr"],
            "AIC": m["aic"],
            "BIC": m["bic"],
            "verdict": m["verdict"],
        }
    table = pd.DataFrame.from_dict(fit, orient="index")
    table.index.name = "model"
    s.table(
        table,
        "Table 5b. Competing CFA models (verdicts against Hu & Bentler's 1999 "
        "guidelines: CFI and TLI >= .95, RMSEA <= .06, SRMR <= .08)",
    )
    if hyp is not None:
        load = hyp.loadings.pivot(index="rhs", columns="lhs", values="std_all")
        load = load.reindex(index=list(hyp.observed), columns=list(hyp.latent))
        s.figure(
            figures.loadings_heatmap(load, f"Standardized loadings, {len(factors)}-factor model")
        )
        corr = hyp.factor_correlations()
        corr.index.name = "factor"
        s.table(corr, "Table 6. Factor correlations")
    if v.trust_htmt is not None:
        htmt = v.trust_htmt.copy()
        htmt.index.name = ""
        s.table(
            htmt,
            f"Table 7. HTMT between {_and(list(htmt.columns))} "
            "(above .85 the two are hard to tell apart)",
        )
    return s


def _no_rule_section(why: str) -> Section:
    return Section(
        "rule",
        "5. The non-compensatory rule",
        f"The rule was not applied: {why}. Scores, reliability and structure are reported above.",
    )


def _rule_section(scored: ScoreResult, instrument: Instrument) -> Section:
    c = scored.classification
    if c is None:
        return _no_rule_section(scored.rule_note)
    table = scored.table
    pillars = [t.pillar for t in c.thresholds]
    minimums = {t.pillar: t.value for t in c.thresholds}
    usable = c.counts["adequate"] + c.counts["inadequate"]
    share = c.counts["adequate"] / usable if usable else float("nan")
    names_ = _and(_labels(instrument, pillars))
    alliance = all(instrument.subscales[p].construct == "alliance" for p in pillars)
    opening = (
        f"An alliance is adequate only when {names_} each reach their own minimum: a warm "
        "bond does not make up for disagreement on goals. "
        if alliance
        else f"A response is adequate only when {names_} each reach their own minimum: a "
        "high score on one does not make up for a low score on another. "
    )
    s = Section(
        "rule",
        "5. The non-compensatory rule",
        (
            opening + f"{share:.0%} of the {usable:,} scored responses with every pillar "
            f"scored are adequate; {c.most_failed_pillar or 'no pillar'} fails most often. "
            f"{c.masked_ruptures:,} responses have a total that a compensatory rule would call "
            f"adequate while one pillar is below its minimum (masked ruptures)."
        ),
    )
    thresholds = pd.DataFrame(
        [
            {
                "pillar": t.pillar,
                "minimum": t.value,
                "% of range": t.pomp,
                "method": t.method,
                "source": t.provenance,
            }
            for t in c.thresholds
        ]
    ).set_index("pillar")
    s.table(thresholds, "Table 8. Minimums used and where they come from", digits=2)
    ranges = scored.scores.scale_range
    s.figure(
        figures.pillar_histograms({p: histogram(table[p], *ranges[p]) for p in pillars}, minimums)
    )
    s.figure(figures.status_bars(c.counts, "Alliance status"))
    s.table(c.weakest_table(), "Table 9. Which pillar is weakest, and which fails", digits=0)
    contrast = c.contrast_table()
    s.table(contrast, "Table 10. Compensatory total against the non-compensatory rule", digits=0)
    s.figure(figures.probability_histogram(histogram(table["p_adequate"], 0.0, 1.0, 20)))
    s.note(
        f"Classification accuracy {c.accuracy:.3f} and consistency {c.consistency:.3f} "
        "(the probability that the true status equals the observed one, and that a second "
        "administration would agree)."
    )
    sens = c.sensitivity[
        [
            "shift_pomp",
            "adequate",
            "inadequate",
            "share_adequate",
            "masked_ruptures",
            "most_failed_pillar",
        ]
    ].set_index("shift_pomp")
    s.table(sens, "Table 11. How the counts move when every minimum shifts (percent of range)")
    return s


def _group_section(g: GroupProfiles) -> Section:
    by = g.by
    s = Section(
        "groups",
        f"6. By {by}",
        (
            f"Mean pillar scores per {by}, with the share of adequate alliances. Groups with fewer "
            f"than {g.min_n} patients are not shown ({g.suppressed} suppressed), so no one "
            f"patient can be recognised; patients are counted as {g.counted_as}. Differences "
            "between small groups are mostly noise."
        ),
    )
    if len(g.table):
        s.figure(figures.group_profiles(g.table, list(g.pillars), by, g.minimums))
        s.table(g.table, f"Table 12. Pillar means by {by}", digits=2)
    return s


def _course_section(course: Course, number: int) -> Section:
    pillars = list(course.pillars)
    title = f"{number}. Over sessions: rupture alerts"
    if course.rule is None:
        s = Section(
            "ruptures",
            title,
            f"{course.patients:,} patients have two or more scored sessions "
            f"({course.sessions:,} sessions). {course.unavailable}",
        )
        for note in course.notes:
            s.note(note)
        return s
    alerts = course.per_pillar["alerts"].astype(int).to_dict()
    total = sum(alerts.values())
    s = Section(
        "ruptures",
        title,
        (
            f"{course.first_line()}. "
            f"{course.patients:,} patients have two or more scored sessions ({course.sessions:,} "
            f"sessions). Following each of them from session to session, {total:,} rupture "
            f"alerts were raised, "
            + ", ".join(f"{alerts[p]:,} on {p}" for p in pillars)
            + f"; {course.never_established:,} patients were not adequate in any of their first "
            f"{course.establish_within} sessions (never established). {course.rule.text()} "
            "Counts only: the clinic store's alliance alerts --clinician ID lists a clinician's "
            "own patients."
        ),
    )
    if len(course.by_session):
        s.figure(monitor_figures.rupture_course(course.by_session, pillars))
    s.table(course.per_pillar, f"Table {number}a. Alerts per pillar, and the model behind them", 2)
    if len(course.by_session):
        s.table(
            course.by_session,
            f"Table {number}b. Patients in rupture at each session",
            1,
        )
    for note in course.notes:
        s.note(note)
    return s


_ADAPTIVE_COLUMNS = {
    "bank_items": "bank items",
    "mean_items_used": "mean items",
    "median_items_used": "median items",
    "mean_se_adaptive": "SE adaptive",
    "mean_se_full": "SE bank",
    "correlation_with_full": "r with bank",
    "rmse_vs_full": "RMSE",
    "short_form_items": "short form items",
    "short_form_correlation_with_full": "r short form",
}


def _irt_section(run: IrtRun, number: int) -> Section:
    from analysis.irt.calibration import information_curves, parameter_table, summary_table
    from analysis.irt.text import adaptive_lines

    from . import irt_figures

    cal = run.calibration
    pillars = [p for p in cal.pillars if cal.scales[p].theta_minimum is not None]
    minimums = "; ".join(
        f"{p} {cal.scales[p].minimum:.3g} = theta {cal.scales[p].theta_minimum:+.2f} "
        f"(T {50 + 10 * (cal.scales[p].theta_minimum or 0.0):.1f})"
        for p in pillars
    )
    s = Section(
        "calibration",
        f"{number}. The item bank on the theta metric",
        (
            f"Calibration {run.source.name}: {cal.instrument} {cal.version}, form {cal.form}, "
            f"calibrated on {cal.source} ({cal.calibrated_on}; {cal.rows_usable:,} usable of "
            f"{cal.rows_in:,} rows). Model: {cal.model}. "
            + (
                f"The rule's minimums carried to theta, where the expected item mean meets "
                f"them: {minimums}. "
                if minimums
                else ""
            )
            + "Each subscale's short form holds its items with the most information at the "
            "minimum (the decision point), or over the population outside the rule. "
            + " ".join(adaptive_lines(run.adaptive)[:1] + adaptive_lines(run.adaptive)[-1:])
        ),
    )
    curves = {name: information_curves(scale) for name, scale in cal.scales.items()}
    s.figure(
        irt_figures.information_curves(
            curves, {n: sc.theta_minimum for n, sc in cal.scales.items()}
        )
    )
    s.table(
        summary_table(cal),
        f"Table {number}a. Calibration per subscale: the minimum on theta, the information of "
        "the bank and of its short form there, item misfit (S-X2) and locally dependent pairs "
        "(adjusted Q3 > 0.2)",
        2,
    )
    s.figure(irt_figures.items_used(run.adaptive.items_used))
    s.table(
        run.adaptive.per_scale.rename(columns=_ADAPTIVE_COLUMNS),
        f"Table {number}b. Adaptive testing on this export against the full bank and the "
        f"fixed short form ({run.adaptive.rule.text()})",
        3,
    )
    params = pd.concat(
        [parameter_table(scale).assign(scale=name) for name, scale in cal.scales.items()]
    )
    params = params[["scale", *params.columns.drop("scale")]]
    s.table(
        params,
        f"Table {number}c. Item parameters (slope a, thresholds b on theta, with SEs) and "
        "fit (S-X2)",
        3,
    )
    for note in cal.notes:
        s.note(note)
    return s


def _invariance_section(run: InvarianceRun, number: int) -> Section:
    result = run.result
    doc = result.to_dict()
    group = result.group
    side = " (patients and clinicians on the parallel items)" if run.stacked else ""
    steps = (
        "the thresholds and loadings (metric), then the intercepts (scalar; for ordinal "
        "answers, fitted by WLSMV, they are fixed at 0, so this adds nothing), then the "
        "residual variances of the answers' latent responses (strict, in lavaan's theta "
        "parameterization)"
        if result.estimator in ("wlsmv", "ulsmv")
        else "the loadings (metric), then the items' intercepts (scalar), then their residual "
        "variances (strict)"
    )
    over = isinstance(result, LongitudinalResult)
    s = Section(
        "invariance",
        f"{number}. Measurement invariance " + ("over sessions" if over else f"across {group}"),
        (
            (
                "Do the items mean the same at every session of one patient? Only then can a "
                "trajectory, or a rupture alert, compare a patient's sessions. The same "
                "patients' sessions are fitted as one model, a factor per pillar per session, "
                f"with ever more held equal across the sessions: {steps}. "
                if over
                else f"Do the items measure the same thing in every group of {group}{side}? "
                "Only then can the groups' scores be compared. The model is fitted with ever "
                f"more held equal across the groups: {steps}. "
            )
            + "A level holds when fit drops by no more than Chen's (2007) limits (CFI by .010, "
            f"RMSEA up by .015). Result: {doc['conclusion']}. Fitted by "
            f"{result.estimator.upper()} on {run.sample.sentence()}"
            + (f"; {result.sentence()}." if over else ".")
        ),
    )
    rows = []
    for name, fit, comparison, ok in result.rows():
        c = comparison or {}
        rows.append(
            {
                "level": name,
                "chi-square": fit["chisq"],
                "df": int(fit["df"]),
                "CFI": fit["cfi"],
                "RMSEA": fit["rmsea"],
                "SRMR": fit["srmr"],
                "Δ chi-square": c.get("delta_chisq"),
                "Δ df": None if comparison is None else int(c["delta_df"]),
                "p": p_text(c.get("p")) if comparison is not None else None,
                "Δ CFI": c.get("delta_cfi"),
                "Δ RMSEA": c.get("delta_rmsea"),
                "holds": "" if comparison is None else ("yes" if ok else "no"),
            }
        )
    sequence = pd.DataFrame(rows).set_index("level")
    sequence["Δ df"] = sequence["Δ df"].astype("Int64")
    s.table(sequence, "Table 13. The invariance sequence")
    kind, values = result.item_parameters()
    op = {"loading": "=~", "residual variance": "~~"}.get(kind, "~1")
    marked = [f.item for f in result.freed if f.op == op]
    where = "at each session" if over else f"in each group of {group}"
    s.figure(figures.group_parameters(values, f"Item {kind.split(',')[0]}s {where}", kind, marked))
    shaded = (
        "" if result.estimator in ("wlsmv", "ulsmv") else " Shaded: freed in the partial model."
    )
    s.note(
        f"Each marker is one {'session' if over else 'group'}'s {kind}; where an item's "
        f"markers part from each other, it works differently in those "
        f"{'sessions' if over else 'groups'}.{shaded}"
    )
    for finding in result.findings:
        s.note(f"Finding: {finding}.")
    return s


def build_report(analysis: Analysis) -> str:
    """The whole report as HTML text, drawn from an analysis computed once."""
    return render(report_page(analysis))


def report_page(analysis: Analysis) -> Page:
    """The report's sections, figures and tables, drawn from an analysis computed once."""
    checked = analysis.read.checked
    instrument = analysis.instrument
    usable = checked.usable_data()
    sections = [_data_section(checked)]
    sections.append(_items_section(usable, instrument, list(checked.export.items)))
    validation = analysis.validation
    if validation is not None:
        sections.append(_reliability_section(validation, instrument))
        sections.append(_structure_section(validation, instrument))
    else:
        sections.append(
            Section(
                "structure",
                "3. Reliability and structure",
                f"Not computed: {analysis.validation_error}.",
            )
        )
    scored = analysis.scored
    if scored is None:
        sections.append(_no_rule_section(analysis.rule_error))
    else:
        sections.append(_rule_section(scored, instrument))
    if analysis.profiles is not None:
        sections.append(_group_section(analysis.profiles))
    if analysis.course is not None:
        sections.append(_course_section(analysis.course, len(sections) + 1))
    if analysis.irt is not None:
        sections.append(_irt_section(analysis.irt, len(sections) + 1))
    if analysis.invariance is not None:
        sections.append(_invariance_section(analysis.invariance, len(sections) + 1))
    elif analysis.invariance_error:
        sections.append(
            Section(
                "invariance",
                f"{len(sections) + 1}. Measurement invariance",
                f"Not computed: {analysis.invariance_error}",
            )
        )
    subtitle = (
        f"{checked.export.source} ({checked.export.platform}), {checked.rows_usable:,} "
        f"usable responses of {checked.rows_in:,}; instrument {instrument.name} "
        f"{instrument.version}; written {date.today().isoformat()}"
    )
    title = (
        "Therapeutic alliance report"
        if instrument.rule_pillars
        and all(instrument.subscales[p].construct == "alliance" for p in instrument.rule_pillars)
        else f"Report on {instrument.name}"
    )
    return Page(title, subtitle, sections)
