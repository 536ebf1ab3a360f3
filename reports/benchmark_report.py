"""The clinic benchmark as one self-contained HTML page, from a ``BenchmarkResult``.

Only shown groups reach this module (suppressed ones are a count), and no respondent id
exists in the result, so none can reach the page.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd

from analysis.benchmark import BenchmarkResult

from . import figures, monitor_figures
from .html import Section, assemble


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _pillars(result: BenchmarkResult) -> list[str]:
    return [p for p in result.pillars if f"{p}_mean" in result.groups.columns]


def _totals(result: BenchmarkResult) -> str:
    if result.sessions is None or result.patients is None:
        return f"{result.perspective} sessions (totals withheld)"
    return f"{result.sessions:,} {result.perspective} sessions from {result.patients:,} patients"


def _overview(result: BenchmarkResult) -> Section:
    by = result.by
    s = Section(
        "overview",
        "1. What is compared",
        (
            _totals(result)
            + (f" since {result.since}" if result.since else "")
            + f", compared by {by}. {len(result.groups)} groups are shown; "
            f"{result.suppressed_groups} with fewer than {result.min_n} patients are left out "
            f"of every table and figure, and {result.withheld_groups} more are withheld because, "
            f"set against an earlier output, they would single out fewer than {result.min_n} "
            "patients; so no patient can be recognised. An alliance is adequate only when "
            f"{_and(list(result.pillars))} each clear their own minimum."
        ),
    )
    if result.adjusted_for:
        s.note(
            "Case-mix adjusted for " + ", ".join(result.adjusted_for) + " (patient-level means, "
            "centred): shrunken estimates are for a patient of average case-mix."
        )
    for note in result.notes:
        s.note(note)
    return s


def _funnel_section(result: BenchmarkResult) -> Section:
    f = result.funnel
    s = Section(
        "funnel",
        "2. Share of adequate alliances: funnel plot",
        (
            "Each point is a group: its share of adequate alliances against how many sessions it "
            "rests on. Small groups scatter widely by chance, so the limits widen to the left. "
            "A point outside the dotted 99.8% limits is worth a conversation; inside the dashed "
            "95% limits, differences are what chance alone produces. This is not a league table."
        ),
    )
    if f is None or not len(result.groups):
        s.note("No group has enough decided sessions for a funnel plot.")
        return s
    low_n = max(1.0, float(result.groups["decided_sessions"].min()) * 0.8)
    high_n = float(result.groups["decided_sessions"].max()) * 1.1
    n = np.geomspace(low_n, high_n, 80)
    limits = {k: (list(lo), list(hi)) for k, (lo, hi) in f.limits(n).items()}
    s.figure(figures.funnel_plot(result.groups, list(n), limits, f.target, result.by))
    s.note(
        f"Overall share {f.target:.1%}. Overdispersion factor {f.phi:.2f} (estimated "
        f"{f.phi_estimated:.2f} from the winsorized z-scores; limits are widened when it "
        "exceeds 1)."
    )
    return s


def _fairness_section(result: BenchmarkResult) -> Section:
    pillars = [p for p in _pillars(result) if f"{p}_shrunken" in result.groups.columns]
    s = Section(
        "fair",
        "3. Fair comparison: shrunken estimates",
        (
            "Raw means of small groups swing with a few patients. The mixed model (sessions "
            "within patients within groups) pulls each group's mean towards the overall mean in "
            "proportion to how little data it has. The ICC says how much of the spread in "
            "single sessions lies between groups; the last columns say how many patients a "
            "group needs before its mean is reliable at .70 and .80."
        ),
    )
    if not pillars:
        s.note("The mixed model could not be fitted to these data.")
        return s
    if len(result.groups):
        s.figure(figures.shrinkage_plot(result.groups, pillars, result.by))
    rows = {
        p: {
            "intercept": m["intercept"],
            "var(group)": m["var_group"],
            "var(patient)": m["var_patient"],
            "var(session)": m["var_session"],
            "ICC": m["icc_group"],
            "patients for .70": _whole_patients(m["patients_for_0.70"]),
            "patients for .80": _whole_patients(m["patients_for_0.80"]),
        }
        for p, m in result.models.items()
    }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "pillar"
    s.table(table, "Table 1. Variance components (REML) and reliability of a group mean", 3)
    return s


def _trend_section(result: BenchmarkResult) -> Section:
    s = Section(
        "trends",
        "4. Monthly trends",
        (
            "Pillar means and the share of adequate alliances month by month, with 95% "
            f"confidence bands (patients as clusters). Months with fewer than {result.min_n} "
            "patients are left out."
        ),
    )
    if len(result.trends) == 0:
        s.note("No month has enough patients to show.")
        return s
    s.figure(figures.trend_plot(result.trends, _pillars(result)))
    return s


def _table_section(result: BenchmarkResult) -> Section:
    pillars = _pillars(result)
    s = Section(
        "groups",
        f"5. Groups ({result.by})",
        (
            "Patients and sessions per group, observed pillar means with 95% CIs, the share of "
            "adequate alliances, the pillar that fails most often, and percentile ranks against "
            f"{result.norms_source}."
        ),
    )
    g = result.groups
    if not len(g):
        s.note("Every group is below the minimum size; nothing can be shown.")
        return s
    table = pd.DataFrame(index=g["group"].astype(str))
    table.index.name = result.by
    table["patients"] = g["n_patients"].to_numpy()
    table["sessions"] = g["n_sessions"].astype("int64").to_numpy()
    for p in pillars:
        table[f"{p} [95% CI]"] = [
            f"{m:.2f} [{lo:.2f}, {hi:.2f}]"
            for m, lo, hi in zip(g[f"{p}_mean"], g[f"{p}_ci_low"], g[f"{p}_ci_high"], strict=True)
        ]
    table["% adequate [95% CI]"] = [
        f"{100 * m:.0f} [{100 * lo:.0f}, {100 * hi:.0f}]"
        for m, lo, hi in zip(
            g["share_adequate"],
            g["share_adequate_ci_low"],
            g["share_adequate_ci_high"],
            strict=True,
        )
    ]
    table["fails most"] = g["most_failed_pillar"].fillna("").to_numpy()
    if "share_adequate_percentile" in g:
        table["percentile (% adequate)"] = g["share_adequate_percentile"].round(0).to_numpy()
    if "funnel_flag" in g:
        table["funnel"] = g["funnel_flag"].to_numpy()
    s.table(table, f"Table 2. Benchmark by {result.by}", digits=0)
    return s


def _alerts_section(result: BenchmarkResult) -> Section:
    s = Section(
        "alerts",
        "6. Rupture alerts and patient-clinician agreement",
        (
            "Rupture alerts per 100 sessions by group and by the pillar that ruptured, and, "
            "where clinicians rated the same sessions as their patients, how the two sides "
            "agree: each cell of the Bland-Altman plane counts paired sessions (blank under "
            f"{result.min_n}), with the clinic's mean difference and 95% limits of agreement. "
            "Unseen ruptures are sessions the clinician rated at or above a pillar's minimum "
            "while the patient rated it below."
        ),
    )
    if result.alert_rule is None:
        s.note("No alerts: the store holds no measurement error for this perspective.")
        return s
    s.note("Rupture " + result.alert_rule["first_line"] + ".")
    s.note(result.alert_rule["text"])
    g = result.groups
    pillars = [p for p in result.pillars if f"{p}_ruptures" in g]
    if len(g) and pillars:
        s.figure(monitor_figures.alert_rates(g, pillars, result.by))
    if result.agreement is not None and result.agreement_density:
        s.figure(
            monitor_figures.bland_altman_density(
                result.agreement_density, result.agreement, result.min_n
            )
        )
        table = result.agreement.set_index("pillar")
        s.table(table, "Table 3. Patient-clinician agreement on the same sessions", 2)
    else:
        s.note(
            f"No patient-clinician agreement is shown: it needs at least {result.min_n} "
            "patients with a session rated by both them and their clinician in this window "
            "(clinicians' own ratings, the clinician form, are ingested into the same store), "
            "and is withheld where showing it would single out patients."
        )
    if "unseen_ruptures" in g and len(g):
        per_group = g[["group", "paired_sessions", "unseen_ruptures", "unseen_share"]].dropna()
        s.table(
            per_group.set_index("group"),
            f"Table 4. Unseen ruptures by {result.by} (groups of {result.min_n}+ paired patients)",
            2,
        )
    return s


def _whole_patients(needed: float | None) -> int | str | None:
    """Patients a group needs, as a page shows it: whole patients, rounded up (78.8 needs 79);
    'never' when the groups do not differ at all."""
    if needed is None or math.isnan(needed):
        return None
    return math.ceil(needed) if math.isfinite(needed) else "never"


def build_benchmark_report(result: BenchmarkResult, store: str) -> str:
    sections = [
        _overview(result),
        _funnel_section(result),
        _fairness_section(result),
        _trend_section(result),
        _table_section(result),
        _alerts_section(result),
    ]
    subtitle = f"{store}: {_totals(result)}; by {result.by}; written {date.today().isoformat()}"
    return assemble("Clinic alliance benchmark", subtitle, sections)
