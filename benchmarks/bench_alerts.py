"""Does the per-pillar rule find ruptures a total-score rule misses, at what false-alert cost?

    .venv/bin/python benchmarks/bench_alerts.py [--patients 2000] [--sessions 8] [--seeds 3]

Simulated trajectories of the patient alliance form, twice per seed: with planted ruptures
(30% of patients with 2+ sessions: one pillar drops 1 latent SD for one or two sessions while
the others hold) and with measurement noise alone (the same patients, no rupture). Two rules:

- ours (analysis.monitor): a pillar below its minimum, or more than 1.96 x sqrt(2) x SEM below
  the patient's previous or best session; the margins from the simulated export's own alpha
  and SD, as an ingest records them;
- PCOMS-style, on the total (mean of the pillars): below the SRS cut-off of 36 on 0-40, or a
  drop of 1 point from the previous session, carried over by percent of range (90% and 2.5%
  of the 1-5 range: below 4.6, or a drop of more than 0.1).

Found: a rupture alert (for PCOMS a flagged session) in one of the planted sessions; "right
pillar" asks ours to name the planted pillar too. False alerts: alert onsets (and, for PCOMS,
flagged sessions) per 100 patients in the noise-only data. Sessions from the second on count
for both rules (the planted ruptures start there, and neither rule alerts on a first
session's fall).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from analysis.monitor import Margin, find_alerts
from analysis.scoring import score_export
from analysis.simulate import simulate
from instrument import builtin_instrument

PILLARS = ("bond", "goals", "tasks")
LOW, HIGH = 1.0, 5.0
CUT = LOW + 36 / 40 * (HIGH - LOW)
DROP = 1 / 40 * (HIGH - LOW)


def scored(patients: int, sessions: int, seed: int, ruptures: float):  # type: ignore[no-untyped-def]
    bank = builtin_instrument()
    sim = simulate(bank, patients, form="patient", sessions=sessions, seed=seed, ruptures=ruptures)
    result = score_export(sim.data, bank)
    table = result.table.copy()
    table["date"] = pd.to_datetime(table["date"])
    for p in PILLARS:
        table[f"{p}_minimum"] = next(
            t.value for t in result.classification.thresholds if t.pillar == p
        )  # type: ignore[union-attr]
    error = result.classification.error  # type: ignore[union-attr]
    margins = {
        p: Margin(p, float(error.reliability[p]), float(error.sd[p]), len(table)) for p in PILLARS
    }
    return sim, table, margins


def pcoms(table: pd.DataFrame) -> pd.DataFrame:
    t = table.sort_values(["respondent_id", "session"])
    total = t["compensatory_total"]
    previous = total.groupby(t["respondent_id"]).shift(1)
    flagged = (total < CUT) | (previous - total > DROP)
    onset = flagged & ~flagged.groupby(t["respondent_id"]).shift(1, fill_value=False).astype(bool)
    return t.assign(flagged=flagged, onset=onset)


def planted_sessions(truth: pd.DataFrame) -> pd.DataFrame:
    rows = [
        (r.respondent_id, s, r.pillar)
        for r in truth.itertuples()
        for s in range(r.first_session, r.last_session + 1)
    ]
    return pd.DataFrame(rows, columns=["respondent_id", "session", "pillar"])


def run(patients: int, sessions: int, seed: int) -> dict[str, float]:
    sim, table, margins = scored(patients, sessions, seed, 0.3)
    ours = find_alerts(table, margins)
    ours = ours[(ours["event"] == "rupture") & (ours["session"] >= 2)]
    flags = pcoms(table)
    truth = sim.ruptures
    where = planted_sessions(truth)
    key = ["respondent_id", "session"]
    hit_any = where.merge(ours[key].drop_duplicates(), on=key)
    hit_right = where.merge(ours[[*key, "pillar"]], on=[*key, "pillar"])
    hit_pcoms = where.merge(flags.loc[flags["flagged"], key], on=key)
    n_ruptures = len(truth)

    def found(hits: pd.DataFrame) -> float:
        return hits.drop_duplicates("respondent_id").shape[0] / n_ruptures

    _, noise, noise_margins = scored(patients, sessions, seed, 0.0)
    false_ours = find_alerts(noise, noise_margins)
    false_ours = false_ours[(false_ours["event"] == "rupture") & (false_ours["session"] >= 2)]
    noise_flags = pcoms(noise)
    later = noise_flags["session"] >= 2
    return {
        "ruptures planted": n_ruptures,
        "ours: found": found(hit_any),
        "ours: found, right pillar": found(hit_right),
        "PCOMS-style: found": found(hit_pcoms),
        "ours: false alerts / 100 patients": 100 * len(false_ours) / patients,
        "PCOMS-style: false onsets / 100 patients": 100
        * int((noise_flags["onset"] & later).sum())
        / patients,
        "PCOMS-style: false flagged sessions / 100 patients": 100
        * int((noise_flags["flagged"] & later).sum())
        / patients,
        "ours: margins (bond, goals, tasks)": ", ".join(
            f"{margins[p].margin:.2f}" for p in PILLARS
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    rows = [run(args.patients, args.sessions, seed) for seed in range(args.seeds)]
    frame = pd.DataFrame(rows)
    numeric = frame.select_dtypes("number")
    print(f"{args.patients} patients x up to {args.sessions} sessions, {args.seeds} seeds")
    print(f"PCOMS-style cut-off {CUT:.2f}, drop {DROP:.2f} (item-mean metric)")
    for column in numeric.columns:
        values = numeric[column].to_numpy(float)
        seeds = ", ".join(f"{v:.3f}" for v in values)
        print(f"  {column:52s} {np.mean(values):8.3f}  (seeds: {seeds})")
    print(f"  {'ours: margins (bond, goals, tasks)':52s} {frame.iloc[0, -1]}")


if __name__ == "__main__":
    main()
