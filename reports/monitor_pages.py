"""Pages of ruptures and agreement: a clinician's own page (identifiable, for the treating
clinician), and the clinic's alert counts (no patient in them)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from analysis import names
from analysis.benchmark import BenchmarkResult
from analysis.clinic import ClinicianView
from analysis.monitor import AlertCounts, Monitor
from analysis.ruptures import LOA_Z, NEVER, REPAIR, RUPTURE
from analysis.ruptures.alerts import BELOW, next_visit, ranked_ruptures

from . import figures, monitor_figures
from .html import Section, assemble

IDENTIFIABLE = (
    "This page holds identifiable patient data. It is for the treating clinician only: do not "
    "forward, print for others or store it outside the clinical record."
)


SPARKLINE_PATIENTS = 30  # patients drawn as sparklines, the most urgent first


def _rule_section(m: Monitor, key: str, title: str) -> Section:
    rule = m.alert_rule
    s = Section(key, title, rule.text())
    s.note("Rupture " + rule.first_line() + ".")
    model = rule.model
    table = pd.DataFrame(
        {
            "minimum": pd.Series(m.minimums),
            "drop": pd.Series(rule.drops()),
            "true-score SD": model.true_sd,
            "patient level SD": np.sqrt(np.diag(model.levels)),
            "session SD": np.sqrt(np.diag(model.sessions)),
            "item error SD": np.sqrt(model.error),
            "trend per session": model.trend,
        },
        index=pd.Index(list(model.pillars), name="pillar"),
    )
    s.table(
        table,
        "The within-patient model, per pillar: the drop that counts as a rupture, and the "
        "variances it is told from",
        2,
    )
    point = rule.point
    s.table(
        pd.DataFrame(
            {
                "threshold": [f"{point.threshold:.3f}"],
                "expected false alerts per 100 patients": [point.false_per_100],
                "alerts per 100 patients in the store, true and false": [point.observed_per_100],
                "one-SD ruptures caught at onset (%)": [100 * point.caught],
                "with the right pillar (%)": [100 * point.right_pillar],
            },
            index=pd.Index(["over 8 sessions"], name="operating point"),
        ),
        "The operating point: expected from patients drawn from the fitted model, and counted "
        "in the store's own sessions",
        1,
    )
    s.note("Item error: the " + m.rule()["item_error_source"] + ".")
    for note in [*m.notes, *model.notes]:
        s.note(note[:1].upper() + note[1:] + ("" if note.endswith(".") else "."))
    return s


def _ruptures_table(events: pd.DataFrame) -> pd.DataFrame:
    table = ranked_ruptures(events)[
        [
            names.RESPONDENT_ID,
            "pillar",
            names.SESSION,
            names.DATE,
            "status",
            "fall",
            "probability",
            "score",
            "minimum",
        ]
    ].copy()
    table[names.DATE] = pd.to_datetime(table[names.DATE]).dt.strftime("%Y-%m-%d")
    return table.set_index(names.RESPONDENT_ID)


def _standing_table(events: pd.DataFrame) -> pd.DataFrame:
    table = events[events["event"].isin((BELOW, NEVER))][
        [names.RESPONDENT_ID, names.SESSION, names.DATE, "pillar", "event", "reason"]
    ].copy()
    table[names.DATE] = pd.to_datetime(table[names.DATE]).dt.strftime("%Y-%m-%d")
    table["pillar"] = table["pillar"].fillna("(all)")
    return table.set_index(names.RESPONDENT_ID)


def _urgency(m: Monitor) -> tuple[list[str], dict[str, str]]:
    """The patients in the order the page draws them: open ruptures first (by probability
    and size), then repaired ones, then levels below a minimum, then the rest; with a label
    each."""
    events = m.alerts
    ranked = ranked_ruptures(events)
    order: list[str] = []
    labels: dict[str, str] = {}
    for pid, status, pillar in zip(
        ranked[names.RESPONDENT_ID], ranked["status"], ranked["pillar"], strict=True
    ):
        if pid not in labels:
            order.append(pid)
            labels[pid] = f"{pid}: {pillar} {'open' if status == 'still open' else 'repaired'}"
    for pid in events.loc[events["event"] == BELOW, names.RESPONDENT_ID]:
        if pid not in labels:
            order.append(pid)
            labels[pid] = f"{pid}: below a minimum"
    for pid in m.sessions[names.RESPONDENT_ID].drop_duplicates():
        if pid not in labels:
            order.append(pid)
            labels[pid] = str(pid)
    return order, labels


def _own_position(result: BenchmarkResult | None, clinician: str) -> Section:
    s = Section(
        "position",
        "4. Where you sit among colleagues",
        (
            "Your share of adequate alliances against how many sessions it rests on, among "
            "colleagues whose names are not shown, inside the funnel's limits; and your "
            "shrunken (empirical-Bayes) pillar estimates beside the colleagues' range. Inside "
            "the dashed limits, differences are what chance alone produces."
        ),
    )
    if result is None or not len(result.groups):
        s.note("No colleague comparison can be shown (too few groups in the window).")
        return s
    g = result.groups.copy()
    own = g["group"].astype(str) == clinician
    if not own.any():
        s.note(
            f"{clinician} is not in the comparison: fewer than {result.min_n} patients in the "
            "window, or withheld against differencing."
        )
    g["group"] = np.where(own, f"you ({clinician})", "colleague")
    if result.funnel is not None:
        n = np.geomspace(
            max(1.0, float(g["decided_sessions"].min()) * 0.8),
            float(g["decided_sessions"].max()) * 1.1,
            80,
        )
        limits = {k: (list(lo), list(hi)) for k, (lo, hi) in result.funnel.limits(n).items()}
        fig = figures.funnel_plot(g, list(n), limits, result.funnel.target, "clinician")
        mine = g[own]
        fig.add_scatter(
            x=mine["decided_sessions"],
            y=100 * mine["share_adequate"],
            mode="markers",
            marker={"symbol": "star", "size": 18, "color": "#e69f00"},
            name="you",
        )
        s.figure(fig)
    table = result.position(clinician)
    if len(table):
        s.table(table, "Shrunken pillar estimates: yours and your colleagues' range", 2)
    return s


def clinician_page(view: ClinicianView) -> str:
    """One clinician's patients: trajectories, alerts, unseen ruptures, agreement and their
    position among colleagues."""
    m, clinician, result, store = view.patients, view.clinician, view.colleagues, view.source
    clinic_agreement = result.agreement
    pillars = list(m.pillars)
    window = f" since {m.since}" if m.since else ""
    head = Section(
        "about",
        "Identifiable patient data",
        IDENTIFIABLE,
    )
    patients = m.sessions[names.RESPONDENT_ID].nunique()
    head.note(
        f"{clinician}: {patients:,} patients, {len(m.sessions):,} {m.perspective} sessions"
        f"{window}; {int((m.alerts['event'] == RUPTURE).sum())} rupture alerts, "
        f"{int((m.alerts['event'] == REPAIR).sum())} repairs, "
        f"{int((m.alerts['event'] == BELOW).sum())} levels below a minimum, "
        f"{int((m.alerts['event'] == NEVER).sum())} never established."
    )
    head.note("Rupture " + m.alert_rule.first_line() + ".")
    head.note(next_visit(m.alerts))
    listing = Section(
        "alerts",
        "1. Ruptures, open first",
        (
            "Every rupture alert, the ones still open first, ranked by the probability that the "
            "pillar fell by more than the stated drop and then by the size of the fall (in "
            "score points, against what the patient's history and other pillars predicted). "
            "A rupture is repaired at the first session where that probability falls back."
        ),
    )
    if (m.alerts["event"] == RUPTURE).any():
        listing.table(_ruptures_table(m.alerts), "Ruptures: open first, then repaired", 2)
    else:
        listing.note("No rupture alert in this window.")
    if m.alerts["event"].isin((BELOW, NEVER)).any():
        listing.table(
            _standing_table(m.alerts),
            "Where patients stand: levels below a minimum, alliances never established",
            2,
        )
    order, labels = _urgency(m)
    shown = order[:SPARKLINE_PATIENTS]
    trajectory = Section(
        "trajectories",
        "2. Your patients, the most urgent first",
        (
            "One row per patient, one small chart per pillar: the scores over sessions, the "
            "pillar's minimum (dashed) inside the band where a score cannot be told from it by "
            "measurement error (shaded), a red cross at a rupture alert and a green ring at its "
            "repair. Open ruptures come first."
        ),
    )
    model = m.alert_rule.model
    bands = {p: 1.96 * float(np.sqrt(e)) for p, e in zip(model.pillars, model.error, strict=True)}
    trajectory.figure(
        monitor_figures.sparklines(m.sessions, m.alerts, shown, pillars, m.minimums, bands, labels)
    )
    if len(order) > len(shown):
        trajectory.note(
            f"{len(order) - len(shown)} more patients, with no alert, are not drawn; the "
            "tables above list every alert."
        )
    sections = [head, listing, trajectory, _agreement_section(m, clinic_agreement)]
    sections.append(_own_position(result, clinician))
    sections.append(_rule_section(m, "rule", "5. The rule and the model behind it"))
    subtitle = f"{store}: clinician {clinician}{window}; written {date.today().isoformat()}"
    return assemble(f"Alliance: clinician {clinician}", subtitle, sections)


def _agreement_section(m: Monitor, clinic: pd.DataFrame | None) -> Section:
    s = Section(
        "agreement",
        "3. Your ratings beside your patients'",
        (
            "Where you and your patient rated the same session: each point is a session, "
            "your rating minus theirs against the mean of the two. The solid lines are your "
            "average difference and its 95% limits of agreement; dotted, the whole clinic's. "
            "Red points are unseen ruptures: you rated the pillar at or above its minimum, "
            "your patient below it."
        ),
    )
    if not len(m.pairs):
        s.note("No session was rated by both you and your patient in this window.")
        return s
    pillars = list(m.pillars)
    own = m.own_agreement()
    s.figure(monitor_figures.bland_altman(m.pairs, pillars, own, clinic))
    table = own.set_index("pillar")[
        ["paired_sessions", "patients", "mean_difference", "loa_low", "loa_high", "icc_a1"]
    ].copy()
    low = own["mean_difference"] - LOA_Z * own["mean_difference_se"]
    high = own["mean_difference"] + LOA_Z * own["mean_difference_se"]
    table.insert(
        3,
        "mean difference 95% CI",
        [
            "" if np.isnan(a) else f"[{a:.2f}, {b:.2f}]"
            for a, b in zip(low.to_numpy(float), high.to_numpy(float), strict=True)
        ],
    )
    table["unseen_ruptures"] = own.set_index("pillar")["unseen_ruptures"]
    table = table.rename(
        columns={"loa_low": "lower limit", "loa_high": "upper limit", "icc_a1": "ICC(A,1)"}
    )
    s.table(
        table,
        "Agreement with your patients, per pillar (your rating minus theirs; the sessions of one "
        "patient as a cluster: a model with a random patient effect; ICC(A,1): absolute "
        "agreement)",
        2,
    )
    listed = m.unseen()
    if len(listed):
        s.table(listed.set_index(names.RESPONDENT_ID), "Unseen ruptures", 2)
    return s


def alerts_page(m: Monitor, counts: AlertCounts, store: str) -> str:
    """The clinic's alert counts by group and month; no patient is named or shown."""
    pillars = list(m.pillars)
    window = f" since {m.since}" if m.since else ""
    over = Section(
        "overview",
        "1. Rupture alerts by group",
        (
            f"Rupture {m.alert_rule.first_line()}. "
            f"Rupture alerts per 100 {m.perspective} sessions{window}, by {counts.by} and by the "
            f"pillar that ruptured. {len(counts.groups)} groups are shown; "
            f"{counts.suppressed_groups} with fewer than {m.min_n} patients are left out, and "
            f"{counts.withheld_groups} more are withheld because, set against an earlier "
            "output, they would single out fewer patients than that."
        ),
    )
    if len(counts.groups):
        over.figure(monitor_figures.alert_rates(counts.groups, pillars, counts.by))
        table = counts.groups.set_index("group")
        table.index.name = counts.by
        over.table(table, f"Alerts by {counts.by}", 1)
    else:
        over.note("No group is large enough to show.")
    for note in counts.notes:
        over.note(note)
    months = Section(
        "months",
        "2. Month by month",
        f"Alerts per month; months with fewer than {m.min_n} patients are left out.",
    )
    if len(counts.months):
        table = counts.months.set_index("month")
        months.table(table, "Alerts by month", 1)
    else:
        months.note("No month is large enough to show.")
    subtitle = f"{store}: alerts{window}; written {date.today().isoformat()}"
    return assemble(
        "Clinic rupture alerts", subtitle, [over, months, _rule_section(m, "rule", "3. The rule")]
    )
