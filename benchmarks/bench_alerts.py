"""Rupture alerts: detection at onset against false alerts, for the within-patient model, the
previous rule, a PCOMS-style rule and an oracle, on simulated clinics where the truth is known.

    .venv/bin/python benchmarks/bench_alerts.py [--patients 2000] [--seeds 3]
        [--sizes 0.5 1 1.5] [--sessions 4 8] [--plot roc.html]

Each seed and scenario draws one export twice from the simulator, through the check, the
scoring and (for theta) a calibration on the export itself, as a clinic's data would go: with
planted ruptures (30% of patients with 2+ sessions: one pillar drops ``size`` latent SDs for
one or two sessions while the others hold) and without (the same clinic). Scenarios: rupture
sizes, the number of sessions, and the rater's mood on or off (a shared shift of every item of
a response, SD .25 on the latent response). The ceiling is the simulator's own.

Rules, each traced over its own knob:

- **model (theta)**: analysis.ruptures.model on each pillar's EAP theta and its own SE (the
  ceiling in the error), over the alert threshold;
- **model (means)**: the same on item means with alpha's SEM, and the spread of the
  departures fitted along the scale, as the commands fit it;
- **previous rule**: below the minimum, or beyond c x SEM from the previous or best session
  (analysis.ruptures.rule), its margins scaled by a factor;
- **PCOMS-style**: the total below the SRS cut-off carried over (90% of the range) or a drop
  from the previous session, over the drop;
- **oracle**: knows the session-to-session SD of each pillar within a patient (the same for
  every patient in the simulator; from the export drawn without ruptures, pooled) and alerts
  when a session falls below the mean of the earlier ones by more than c of those SDs (the
  mean's own error counted), over c.

A planted rupture is *found at onset* when an alert starts at one of its sessions; "right
pillar" asks the rule to name it. False alerts: alert onsets per 100 patients in the export
without ruptures, after the first session. Printed per scenario: each rule's detection at 10,
25, 50 and 100 false alerts per 100 patients (interpolated), the area under its curve between
10 and 200 (as a share of that span), and the model's default operating point: its threshold,
the false-alert rate it states (from the fitted model) beside the rate observed, and what it
finds. The observed rate is per 100 patients over 8 sessions, as the stated one: alert onsets
per session after a patient's first, times 7. Nothing here is asserted in the tests.
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import pipeline
from analysis.ruptures import Margin, find_alerts
from analysis.ruptures import model as within
from analysis.simulate import population_for, simulate, write_export
from analysis.simulate.population import Population
from instrument import builtin_instrument

PILLARS = ("bond", "goals", "tasks")
LOW, HIGH = 1.0, 5.0
CUT = LOW + 36 / 40 * (HIGH - LOW)
KEY = ["respondent_id", "session"]
RATES = (10, 25, 50, 100)
SPAN = (10.0, 200.0)


@dataclass
class Clinic:
    table: pd.DataFrame  # scored sessions, theta columns too
    truth: pd.DataFrame  # planted ruptures (empty without)
    margins: dict[str, Margin]
    minimums: dict[str, float]
    theta_minimums: dict[str, float]


def clinics(
    patients: int, sessions: int, seed: int, size: float, pop: Population
) -> tuple[Clinic, Clinic]:
    """The same clinic with planted ruptures and without, scored and calibrated on itself."""
    bank = builtin_instrument()
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        reads = []
        for share in (0.3, 0.0):
            sim = simulate(
                bank, patients, form="patient", sessions=sessions, seed=seed, ruptures=share,
                rupture_size=size, population=pop,
            )  # fmt: skip
            path = write_export(sim, bank, Path(tmp) / f"export_{share}.csv", "csv")
            reads.append((pipeline.read_checked(path, pipeline.Options(), bank), sim))
        calibration = pipeline.calibrate(reads[0][0], pipeline.Options())
        options = pipeline.Options(calibration=Path("in-memory"))
        for read, sim in reads:
            result = pipeline.score(read, options, calibration=calibration)
            table = result.table.copy()
            table["date"] = pd.to_datetime(table["date"])
            c = result.classification
            assert c is not None and c.error is not None
            for t in c.thresholds:
                table[f"{t.pillar}_minimum"] = t.value
            margins = {
                p: Margin(p, float(c.error.reliability[p]), float(c.error.sd[p]), len(table))
                for p in PILLARS
            }
            out.append(
                Clinic(
                    table,
                    sim.ruptures,
                    margins,
                    {t.pillar: t.value for t in c.thresholds},
                    {p: float(calibration.scales[p].theta_minimum) for p in PILLARS},  # type: ignore[arg-type]
                )
            )
    return out[0], out[1]


def _hits(rows: pd.DataFrame, truth: pd.DataFrame) -> tuple[float, float]:
    """Shares of planted ruptures with an alert onset at one of their sessions (any pillar,
    and the planted one)."""
    where = pd.DataFrame(
        [
            (r.respondent_id, s, r.pillar)
            for r in truth.itertuples()
            for s in range(r.first_session, r.last_session + 1)
        ],
        columns=["respondent_id", "session", "pillar"],
    )
    n = len(truth)
    anyone = where.merge(rows[KEY].drop_duplicates(), on=KEY)["respondent_id"].nunique() / n
    right = where.merge(rows[[*KEY, "pillar"]].drop_duplicates(), on=[*KEY, "pillar"])
    return anyone, right["respondent_id"].nunique() / n


def _onset_rows(sessions: pd.DataFrame, onset: np.ndarray) -> pd.DataFrame:
    r, c = np.nonzero(onset)
    return pd.DataFrame(
        {
            "respondent_id": sessions["respondent_id"].to_numpy()[r],
            "session": sessions["session"].to_numpy()[r],
            "pillar": np.array(PILLARS)[c],
        }
    )


Curve = list[tuple[float, float, float]]  # (false alerts per 100 patients, found, right pillar)


def model_curve(
    planted: Clinic, quiet: Clinic, theta: bool, patients: int
) -> tuple[Curve, dict[str, float]]:
    columns = {p: f"{p}_theta" if theta else p for p in PILLARS}
    errors = {p: f"{p}_theta_se" for p in PILLARS} if theta else None
    minimums = planted.theta_minimums if theta else planted.minimums

    def frame(c: Clinic) -> pd.DataFrame:
        return c.table.assign(**{p: c.table[col] for p, col in columns.items()})

    error = (
        {p: float(np.nanmean(planted.table[f"{p}_theta_se"] ** 2)) for p in PILLARS}
        if theta
        else {p: planted.margins[p].sem ** 2 for p in PILLARS}
    )
    # as the commands fit it: the model, then on item means the spread of its departures
    # along the scale (theta's own SEs already carry the ceiling)
    fitted = within.fit_within(frame(planted), list(PILLARS), error)
    if not theta:
        fitted = within.fit_scale(fitted, frame(planted))
    hit = within.filter_sessions(fitted, frame(planted), minimums, errors=errors)
    calm = within.filter_sessions(fitted, frame(quiet), minimums, errors=errors)
    curve = []
    for q in within.THRESHOLDS[::2]:
        false = 100 * within.rupture_onsets(calm, q).sum() / patients
        curve.append(
            (false, *_hits(_onset_rows(hit.sessions, within.rupture_onsets(hit, q)), planted.truth))
        )
    point = within.operating_point(fitted, minimums)
    onsets = within.rupture_onsets(calm, point.threshold)
    later = int((~calm.first).sum())  # sessions after a patient's first, where alerts can start
    per_eight = 100 * onsets.sum() / later * (within.SESSIONS - 1) if later else float("nan")
    found, right = _hits(
        _onset_rows(hit.sessions, within.rupture_onsets(hit, point.threshold)), planted.truth
    )
    return curve, {
        "threshold": point.threshold,
        "stated false / 100 patients over 8 sessions": point.false_per_100,
        "observed false / 100 patients over 8 sessions": per_eight,
        "observed false / 100 patients as they came": 100 * onsets.sum() / patients,
        "found at onset": found,
        "right pillar": right,
        "stated catch of 1-SD ruptures": point.caught,
    }


def previous_curve(planted: Clinic, quiet: Clinic, patients: int) -> Curve:
    curve = []
    for factor in np.geomspace(0.3, 4.0, 30):
        scaled = {p: replace(m, sd=m.sd * factor) for p, m in planted.margins.items()}

        def onsets(c: Clinic, scaled: dict[str, Margin] = scaled) -> pd.DataFrame:
            events = find_alerts(c.table, scaled)
            return events.loc[events["event"] == "rupture", [*KEY, "pillar"]]

        false = onsets(quiet)
        false = false[false["session"] >= 2]
        curve.append((100 * len(false) / patients, *_hits(onsets(planted), planted.truth)))
    return curve


def pcoms_curve(planted: Clinic, quiet: Clinic, patients: int) -> Curve:
    curve = []
    for drop in np.geomspace(0.02, 1.5, 30):

        def onsets(c: Clinic, drop: float = drop) -> pd.DataFrame:
            t = c.table.sort_values(KEY).reset_index(drop=True)
            total, patient = t["compensatory_total"], t["respondent_id"]
            flagged = (total < CUT) | (total.groupby(patient).shift(1) - total > drop)
            before = flagged.groupby(patient).shift(1, fill_value=True).astype(bool)
            rows = t.loc[flagged & ~before, KEY]
            return rows.assign(pillar="total")

        false = onsets(quiet)
        curve.append((100 * len(false) / patients, _hits(onsets(planted), planted.truth)[0], 0.0))
    return curve


def oracle_curve(planted: Clinic, quiet: Clinic, patients: int) -> Curve:
    """Knows the session-to-session SD of each pillar within a patient, as the simulator draws
    it for every patient alike (pooled over the clinic drawn without ruptures), and compares a
    session with the mean of the earlier ones. The SD is not each patient's own estimate from
    the very sessions it judges, which would bound its z-scores and flatter its false rate."""
    quiet_table = quiet.table.sort_values(KEY)
    deviations = quiet_table[list(PILLARS)] - quiet_table.groupby("respondent_id")[
        list(PILLARS)
    ].transform("mean")
    counts = quiet_table.groupby("respondent_id")[list(PILLARS)].transform("count")
    sd = np.sqrt((deviations**2).sum() / (counts > 1).sum().clip(lower=1)).to_numpy()
    sd = sd * np.sqrt(counts.mean().mean() / max(counts.mean().mean() - 1, 1))

    def z(c: Clinic) -> tuple[pd.DataFrame, np.ndarray]:
        t = c.table.sort_values(KEY).reset_index(drop=True)
        g = t.groupby("respondent_id")[list(PILLARS)]
        k = g.cumcount().to_numpy()[:, None]
        earlier = (g.cumsum() - t[list(PILLARS)]).to_numpy() / np.where(k > 0, k, np.nan)
        spread = sd * np.sqrt(1 + 1 / np.where(k > 0, k, np.nan))
        return t, (t[list(PILLARS)].to_numpy() - earlier) / spread

    calm, zc = z(quiet)
    hit, zh = z(planted)
    curve = []
    for cut in np.linspace(0.5, 4.0, 36):

        def onset(t: pd.DataFrame, values: np.ndarray, cut: float = cut) -> np.ndarray:
            state = np.nan_to_num(values, nan=0.0) < -cut
            before = (
                pd.DataFrame(state)
                .groupby(t["respondent_id"].to_numpy())
                .shift(1, fill_value=True)
                .to_numpy()
            )
            return state & ~before.astype(bool)

        false = 100 * onset(calm, zc).sum() / patients
        curve.append((false, *_hits(_onset_rows(hit, onset(hit, zh)), planted.truth)))
    return curve


def at(curve: Curve, rate: float, column: int = 1) -> float:
    points = sorted(curve)
    x = np.array([p[0] for p in points])
    y = np.maximum.accumulate(np.array([p[column] for p in points]))
    if rate < x[0]:
        return float("nan")
    return float(np.interp(rate, x, y))


def area(curve: Curve) -> float:
    grid = np.linspace(*SPAN, 200)
    values = np.array([at(curve, r) for r in grid])
    values = np.nan_to_num(values, nan=0.0)
    return float(np.trapezoid(values, grid) / (SPAN[1] - SPAN[0]))


def scenarios(sizes: list[float], sessions: list[int]) -> list[tuple[str, float, int, Population]]:
    base = population_for(builtin_instrument(), "patient")
    out = []
    for n in sessions:
        for size in sizes:
            out.append((f"{size:g} SD ruptures, {n} sessions, with mood", size, n, base))
        out.append((f"1 SD ruptures, {n} sessions, no mood", 1.0, n, replace(base, halo_sd=0.0)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sizes", type=float, nargs="+", default=[0.5, 1.0, 1.5])
    parser.add_argument("--sessions", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--plot", type=Path, default=None, help="write the curves here (HTML)")
    args = parser.parse_args()
    print(f"{args.patients} patients, {args.seeds} seeds; detection at onset (right pillar)")
    figures = {}
    for name, size, n, pop in scenarios(args.sizes, args.sessions):
        curves: dict[str, list[Curve]] = {}
        points: dict[str, list[dict[str, float]]] = {}
        for seed in range(args.seeds):
            planted, quiet = clinics(args.patients, n, seed, size, pop)
            for theta in (True, False):
                curve, point = model_curve(planted, quiet, theta, args.patients)
                label = "model (theta)" if theta else "model (means)"
                curves.setdefault(label, []).append(curve)
                points.setdefault(label, []).append(point)
            curves.setdefault("previous rule", []).append(
                previous_curve(planted, quiet, args.patients)
            )
            curves.setdefault("PCOMS-style", []).append(pcoms_curve(planted, quiet, args.patients))
            curves.setdefault("oracle", []).append(oracle_curve(planted, quiet, args.patients))
        print(f"\n{name}")
        header = "".join(f"{f'at {r}':>14}" for r in RATES)
        print(f"  {'rule':<16}{header}{'area 10-200':>13}")
        for label, runs in curves.items():
            cells = ""
            for r in RATES:
                with warnings.catch_warnings():  # a rule that never gets as few: nan
                    warnings.simplefilter("ignore", RuntimeWarning)
                    found = np.nanmean([at(c, r) for c in runs])
                    right = np.nanmean([at(c, r, 2) for c in runs])
                cells += (
                    f"{found:>7.3f} ({right:.3f})" if label != "PCOMS-style" else f"{found:>14.3f}"
                )
            print(f"  {label:<16}{cells}{np.mean([area(c) for c in runs]):>13.3f}")
        frame = pd.DataFrame({label: pd.DataFrame(p).mean() for label, p in points.items()})
        print("  the model at its default operating point (mean of seeds):")
        print(
            "\n".join(
                "    " + line
                for line in frame.to_string(float_format="{:8.3f}".format).splitlines()
            )
        )
        figures[name] = curves
    if args.plot is not None:
        _plot(figures, args.plot)
        print(f"\nwrote {args.plot}")


def _plot(figures: dict[str, dict[str, list[Curve]]], path: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = list(figures)
    cols = 2
    rows = (len(names) + cols - 1) // cols
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names)
    colours = {
        "model (theta)": "#1b7837",
        "model (means)": "#5aae61",
        "previous rule": "#d6604d",
        "PCOMS-style": "#878787",
        "oracle": "#2166ac",
    }
    for k, name in enumerate(names):
        for label, runs in figures[name].items():
            grid = np.linspace(*SPAN, 60)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                values = np.nanmean([[at(c, r) for r in grid] for c in runs], axis=0)
            fig.add_trace(
                go.Scatter(
                    x=grid,
                    y=values,
                    name=label,
                    legendgroup=label,
                    showlegend=k == 0,
                    line={"color": colours[label]},
                ),
                row=k // cols + 1,
                col=k % cols + 1,
            )
    fig.update_xaxes(title_text="false alerts per 100 patients")
    fig.update_yaxes(title_text="ruptures found at onset", range=[0, 1])
    fig.update_layout(
        height=320 * rows, width=1100, title="Rupture alerts: detection against false alerts"
    )
    path.write_text(fig.to_html(include_plotlyjs=True, full_html=True))


if __name__ == "__main__":
    main()
