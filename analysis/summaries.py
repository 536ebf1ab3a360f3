"""The text a result prints: the lines `alliance check`, `validate` and `invariance` show,
which the results' ``summary()`` returns too. Numbers are collected by the results; this module
only lays them out."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

# The results these functions lay out are typed Any: the result modules import this one to
# give their summary(), and an import back, even for types, would make the two one part.


def reasons_overlap(reasons: dict[str, int], rows: int) -> bool:
    """Whether counts by reason add up to more than the ``rows`` set aside: a row can fail
    several checks."""
    return sum(reasons.values()) > rows


def reasons_text(reasons: dict[str, int], rows: int) -> str:
    """Counts by reason ("54 straight lining, 79 too fast"), saying so when they overlap."""
    text = ", ".join(f"{n:,} {r.replace('_', ' ')}" for r, n in reasons.items() if n)
    if reasons_overlap(reasons, rows):
        text += "; a row can have more than one reason"
    return text


def p_text(value: Any) -> str:
    """A p-value as a person reads it: three decimals, '< .001' below that, '-' when there is
    none. JSON keeps the number itself."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "-"
    if not math.isfinite(number):
        return "-"
    return "< .001" if number < 0.001 else f"{number:.3f}"


# Which omega is which: semTools' compRelSEM gives both, by its obs.var argument.
RELIABILITY_NOTE = (
    "omega: the factor's share of the model-implied variance of the sum (compRelSEM, "
    "obs.var = FALSE); CR: of its observed variance (compRelSEM's default); AVE: semTools' AVE"
)
RELIABILITY_NOTE_ORDINAL = (
    "omega: Green & Yang's categorical omega on the sum of the answers (compRelSEM's default "
    "for ordinal items); CR and AVE: on the latent responses' observed variance"
)


def _number(value: Any, digits: int = 3) -> str:
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return "-"


def parameter_text(table: pd.DataFrame) -> str:
    """A parameter table as lavaan prints one: three decimals, p below .001 as '< .001', a
    fixed parameter's SE, z and p blank."""
    shown = table.copy()
    for column in ("est", "se", "z", "ci_lower", "ci_upper", "std_all", "std_all_se"):
        shown[column] = [
            "" if v != v else f"{v:.3f}"  # NaN: a fixed parameter's SE, z and interval
            for v in shown[column].to_numpy(float)
        ]
    shown["pvalue"] = ["" if v != v else p_text(v) for v in table["pvalue"].to_numpy(float)]
    return str(shown.to_string(index=False))


def validation_lines(result: Any) -> list[str]:
    """What `alliance validate` prints for a ValidationResult."""
    doc = result.to_dict()
    lines = [f"{result.sample.sentence()}; estimator {result.estimator.upper()}"]
    hyp = result.hypothesized
    if hyp is not None and hyp.group_column is not None:
        sizes = ", ".join(f"{g} {n:,}" for g, n in zip(hyp.groups, hyp.group_n, strict=True))
        lines.append(f"groups of {hyp.group_column!r}: {sizes}")
    lines.extend(f"finding: {f}" for f in result.findings)
    lines.append("")
    lines.append(
        f"{'model':<14}{'chisq':>10}{'df':>5}{'CFI':>7}{'TLI':>7}{'RMSEA':>7}"
        f"{'90% CI':>15}{'SRMR':>7}{'AIC':>11}{'BIC':>11}"
    )
    for name, m in doc["models"].items():
        if "error" in m:
            lines.append(f"{name:<14}{m['error']}")
            continue
        ci = f"[{_number(m['rmsea_ci'][0])}, {_number(m['rmsea_ci'][1])}]"
        lines.append(
            f"{name:<14}{_number(m['chisq']):>10}{m['df']:>5}{_number(m['cfi']):>7}"
            f"{_number(m['tli']):>7}{_number(m['rmsea']):>7}{ci:>15}"
            f"{_number(m['srmr']):>7}{_number(m['aic'], 1):>11}{_number(m['bic'], 1):>11}"
        )
    lines.append("")
    for name, m in doc["models"].items():
        if "error" not in m:
            lines.append(f"{name}: {m['verdict']}")
            lines.extend(f"  finding: {f}" for f in m["findings"])
    if doc["model_comparison"]:
        lines.append("")
        for row in doc["model_comparison"]:
            delta = row["delta_chisq"]
            if delta is None or delta != delta:  # lavaan's NA: a negative scaling factor
                lines.append(
                    f"{row['model_a']} vs {row['model_b']}: no scaled difference test (its "
                    "scaling factor is negative, as lavaan's lavTestLRT warns); compare AIC and "
                    "BIC"
                )
                continue
            lines.append(
                f"{row['model_a']} vs {row['model_b']}: delta chisq "
                f"{_number(delta)} on {row['delta_df']} df, "
                f"p {'' if p_text(row['p']).startswith('<') else '= '}{p_text(row['p'])}"
            )
    lines.append("")
    # Widths leave room for a sign: a subscale with reverse-keyed items left unreversed has a
    # negative alpha, and its columns must still line up.
    ordinal = any("omega_ordinal" in r for r in doc["reliability"].values())
    extra = f"{'ord. alpha':>11}" if ordinal else ""
    lines.append(
        f"{'subscale':<14}{'alpha':>7}{'95% CI':>18}{extra}{'omega':>8}{'CR':>8}{'AVE':>8}"
    )
    for name, r in doc["reliability"].items():
        ci = f"[{_number(r['alpha_ci'][0])}, {_number(r['alpha_ci'][1])}]"
        omega = r.get("omega_ordinal", r.get("omega_total"))
        alpha_ord = f"{_number(r.get('alpha_ordinal')):>11}" if ordinal else ""
        lines.append(
            f"{name:<14}{_number(r['alpha']):>7}{ci:>18}{alpha_ord}"
            f"{_number(omega):>8}{_number(r.get('composite_reliability')):>8}"
            f"{_number(r.get('ave')):>8}"
        )
    lines.append(RELIABILITY_NOTE_ORDINAL if ordinal else RELIABILITY_NOTE)
    if result.bootstrap is not None:
        lines.extend(result.bootstrap.lines())
    if result.trust_htmt is not None:
        t = result.trust_htmt
        lines.append("")
        lines.append(
            f"HTMT between {', '.join(map(str, t.columns))} (above .85: hard to tell apart)"
        )
        lines.append(" " * 12 + "".join(f"{c[:10]:>11}" for c in t.columns))
        for name, row in t.iterrows():
            lines.append(f"{str(name)[:12]:<12}" + "".join(f"{v:>11.3f}" for v in row))
    if result.efa is not None:
        e = result.efa
        lines.append("")
        lines.append(
            f"EFA ({e.method}, {e.rotation}) on the {e.n:,} complete rows: KMO {e.kmo:.3f}; "
            f"Bartlett chisq {e.bartlett_chisq:.2f} on {e.bartlett_df} df; "
            f"{e.parallel_sentence()}"
        )
    if result.two_level is not None:
        lines.append("")
        lines.extend(result.two_level.summary_lines())
    return lines


def check_lines(result: Any) -> list[str]:
    """What `alliance check` prints for a CheckResult."""
    doc = result.to_dict()
    where = doc["platform"] + (f", {doc['encoding']}" if doc["encoding"] else "")
    lines = [
        f"{doc['export']} ({where}): {doc['rows_in']:,} rows in, {doc['rows_usable']:,} usable, "
        f"{doc['rows_quarantined']:,} quarantined",
    ]
    for reason, count in doc["quarantine_reasons"].items():
        lines.append(f"  quarantined for {reason.replace('_', ' ')}: {count:,}")
    if reasons_overlap(doc["quarantine_reasons"], doc["rows_quarantined"]):
        lines.append("  (a row can be quarantined for more than one reason)")
    lines.append(f"{len(doc['items_matched'])} items matched")
    if doc["missing_items"]:
        lines.append(f"items with no column: {', '.join(doc['missing_items'])}")
    if doc["identifiers_dropped"]:
        left = ", ".join(d["column"] for d in doc["identifiers_dropped"])
        lines.append(f"identifying columns left out (not kept or written): {left}")
    if doc["unmatched_columns"]:
        lines.append(f"columns matching nothing: {', '.join(doc['unmatched_columns'])}")
    for kind, count in doc["finding_counts"].items():
        lines.append(f"finding {kind.replace('_', ' ')}: {count:,}")
    for f in doc["findings"][:15]:
        if f["kind"] in ("ceiling", "unmatched_column", "missing_item"):
            continue
        where = f"row {f['row']}" if f["row"] is not None else ""
        if f["column"]:
            where += f", column {f['column']}" if where else f"column {f['column']}"
        value = f" value {f['value']!r}" if f["value"] is not None else ""
        lines.append(f"  {where}{value}: {f['reason']}")
    return lines


def _n(value: Any, digits: int = 3) -> str:
    """A number of the invariance table: '-' for none, NaN included."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "-"
    return "-" if number != number else f"{number:.{digits}f}"


def _difference(estimator: str) -> str:
    if estimator in ("mlr", "mlm"):
        return "scaled (Satorra-Bentler 2001)"
    if estimator in ("wlsmv", "ulsmv"):
        return "scaled and shifted (Satorra 2000)"
    return "ML"


def _row(name: str, fit: dict[str, Any], comparison: dict[str, Any] | None, verdict: str) -> str:
    ci = f"[{_n(fit['rmsea_ci_lower'])}, {_n(fit['rmsea_ci_upper'])}]"
    c = comparison or {}
    return (
        f"{name:<27}{_n(fit['chisq']):>10}{int(fit['df']):>5}{_n(fit['cfi']):>7}"
        f"{_n(fit['tli']):>7}{_n(fit['rmsea']):>7}{ci:>16}{_n(fit['srmr']):>7}"
        f"{_n(c.get('delta_chisq')):>10}{c.get('delta_df', '-'):>5}{p_text(c.get('p')):>7}"
        f"{_n(c.get('delta_cfi')):>8}{_n(c.get('delta_rmsea')):>8}  {verdict}"
    )


def invariance_lines(run: Any) -> list[str]:
    """What `alliance invariance` prints for an InvarianceRun."""
    from .cfa.invariance import CHEN_CFI, CHEN_RMSEA  # the engine: loaded when fitted
    from .cfa.longitudinal import LongitudinalResult

    result = run.result
    doc = result.to_dict()
    lines = [f"{run.sample.sentence()}; estimator {result.estimator.upper()}"]
    if isinstance(result, LongitudinalResult):
        lines[0] = (
            f"{run.sample.sentence()}; over sessions: {result.sentence()}; estimator "
            f"{result.estimator.upper()}"
        )
    else:
        groups = ", ".join(f"{g} {n:,}" for g, n in zip(result.groups, result.group_n, strict=True))
        side = " (patient and clinician forms on common item names)" if run.stacked else ""
        lines.append(f"groups of {result.group!r}{side}: {groups}")
    lines.append("")
    lines.append(
        f"{'level':<27}{'chisq':>10}{'df':>5}{'CFI':>7}{'TLI':>7}{'RMSEA':>7}{'90% CI':>16}"
        f"{'SRMR':>7}{'Δchisq':>10}{'Δdf':>5}{'p':>7}{'ΔCFI':>8}{'ΔRMSEA':>8}"
    )
    for name, fit, comparison, ok in result.rows():
        verdict = "" if comparison is None else ("holds" if ok else "fails")
        lines.append(_row(name, fit, comparison, verdict))
    lines.append("")
    lines.append(
        f"criteria: ΔCFI >= -{CHEN_CFI:.3f} and ΔRMSEA <= {CHEN_RMSEA:.3f} (Chen, 2007); "
        f"Δchisq {_difference(result.estimator)}"
    )
    lines.append(f"conclusion: {doc['conclusion']}")
    lines.extend(f"finding: {f}" for f in result.findings)
    for level in result.levels:
        lines.extend(f"finding: {level.name}: {f}" for f in level.result.findings)
    return lines
