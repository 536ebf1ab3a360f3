"""Does the per-pillar rule find ruptures a total-score rule misses, at what false-alert cost?

    .venv/bin/python benchmarks/bench_alerts.py [--patients 2000] [--sessions 8] [--seeds 3]

Simulated trajectories of the patient alliance form, written as a CSV export and read back
through the check and the scoring as an ingest does (careless rows quarantined, margins from
the export's own alpha and SD). Each seed is drawn twice: with planted ruptures (30% of
patients with 2+ sessions: one pillar drops 1 latent SD for one or two sessions while the
others hold) and with no rupture (the same patients). Three scenarios: the simulator's default
population (patients' alliance also varies from session to session and grows by 0.1 SD a
session); no true change (each patient's alliance fixed over sessions, but the rater's mood on
the day, shared by all items of a response, still moves every score); and item error alone
(no mood either: the only error that coefficient alpha sees). In the last two every alert in
the data without ruptures is a false one by construction. Two rules:

- ours (analysis.monitor): a pillar below its minimum, more than 1.96 x sqrt(2) x SEM below
  the previous session, or more than c_k x SEM below the best of the k earlier sessions; a fall
  below the minimum holds until the pillar is back one SEM above it;
- PCOMS-style, on the total (mean of the pillars): below the SRS cut-off of 36 on 0-40, or a
  drop of 1 point from the previous session, carried over by percent of range (90% and 2.5%
  of the 1-5 range: below 4.6, or a drop of more than 0.1).

Both rules are scored the same way. A planted rupture is *found at onset* when an alert starts
at one of its sessions, *found flagged* when one of its sessions is in an alerted state
(ours: any pillar in rupture; PCOMS: flagged); "right pillar" asks ours to name the planted
pillar. False alerts, in the data without ruptures: alert onsets and flagged sessions per 100
patients. Sessions from the second on count for both rules (the planted ruptures start there,
and neither rule alerts on a first session). For ours, the share of false onsets with a pillar
below its minimum, and how often each drop comparison is crossed per session (by error alone
it should be 2.5%).
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import pipeline
from analysis.ruptures import Margin, find_alerts, rupture_states
from analysis.simulate import population_for, simulate, write_export
from analysis.simulate.population import Population, Simulated
from instrument import builtin_instrument

PILLARS = ("bond", "goals", "tasks")
LOW, HIGH = 1.0, 5.0
CUT = LOW + 36 / 40 * (HIGH - LOW)
DROP = 1 / 40 * (HIGH - LOW)
KEY = ["respondent_id", "session"]


@dataclass
class Scored:
    sim: Simulated
    table: pd.DataFrame  # one row per scored session, as the store holds them
    margins: dict[str, Margin]


def scored(patients: int, sessions: int, seed: int, ruptures: float, pop: Population) -> Scored:
    bank = builtin_instrument()
    sim = simulate(
        bank,
        patients,
        form="patient",
        sessions=sessions,
        seed=seed,
        ruptures=ruptures,
        population=pop,
    )
    options = pipeline.Options()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_export(sim, bank, Path(tmp) / "export.csv", "csv")
        result = pipeline.score(pipeline.read_checked(path, options, bank), options)
    table = result.table.copy()
    table["date"] = pd.to_datetime(table["date"])
    classification = result.classification
    assert classification is not None and classification.error is not None
    for t in classification.thresholds:
        table[f"{t.pillar}_minimum"] = t.value
    error = classification.error
    margins = {
        p: Margin(p, float(error.reliability[p]), float(error.sd[p]), len(table)) for p in PILLARS
    }
    return Scored(sim, table, margins)


def pcoms(table: pd.DataFrame) -> pd.DataFrame:
    t = table.sort_values(KEY).reset_index(drop=True)
    total = t["compensatory_total"]
    patient = t["respondent_id"]
    previous = total.groupby(patient).shift(1)
    flagged = (total < CUT) | (previous - total > DROP)
    before = flagged.groupby(patient).shift(1, fill_value=True).astype(bool)
    return t[KEY].assign(flagged=flagged, onset=flagged & ~before)


def ours(s: Scored) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Alert onsets (one row per pillar) and flagged sessions (any pillar in rupture)."""
    events = find_alerts(s.table, s.margins)
    onsets = events.loc[events["event"] == "rupture", [*KEY, "pillar", "reason"]]
    states = rupture_states(s.table, s.margins)
    return onsets, states[KEY].assign(flagged=states[list(PILLARS)].any(axis=1))


def planted_sessions(truth: pd.DataFrame) -> pd.DataFrame:
    rows = [
        (r.respondent_id, s, r.pillar)
        for r in truth.itertuples()
        for s in range(r.first_session, r.last_session + 1)
    ]
    return pd.DataFrame(rows, columns=["respondent_id", "session", "pillar"])


def found(where: pd.DataFrame, hits: pd.DataFrame, n: int, on: list[str]) -> float:
    return where.merge(hits[on].drop_duplicates(), on=on)["respondent_id"].nunique() / n


def crossings(s: Scored) -> tuple[float, float]:
    """Share of sessions (with an earlier one) whose fall from the previous and from the best
    session crosses its margin, over the pillars."""
    st = rupture_states(s.table, s.margins, detail=True)
    st = st[st["earlier"] >= 1]
    return float(st["from_previous"].mean()), float(st["from_best"].mean())


def run(patients: int, sessions: int, seed: int, pop: Population) -> dict[str, float]:
    planted = scored(patients, sessions, seed, 0.3, pop)
    noise = scored(patients, sessions, seed, 0.0, pop)
    truth = planted.sim.ruptures
    where = planted_sessions(truth)
    n = len(truth)
    onsets, flagged = ours(planted)
    flags = pcoms(planted.table)
    false_onsets, false_flagged = ours(noise)
    false_pcoms = pcoms(noise.table)
    later = false_onsets["session"] >= 2
    below = false_onsets.loc[later, "reason"].str.contains("below the minimum")
    previous, best = crossings(noise)

    def per100(mask: pd.Series) -> float:
        return 100 * int(mask.sum()) / patients

    return {
        "ruptures planted": n,
        "ours: found at onset": found(where, onsets, n, KEY),
        "ours: found at onset, right pillar": found(where, onsets, n, [*KEY, "pillar"]),
        "ours: found flagged": found(where, flagged[flagged["flagged"]], n, KEY),
        "PCOMS-style: found at onset": found(where, flags[flags["onset"]], n, KEY),
        "PCOMS-style: found flagged": found(where, flags[flags["flagged"]], n, KEY),
        "ours: false onsets / 100 patients": per100(later),
        "ours: false flagged sessions / 100 patients": per100(
            false_flagged["flagged"] & (false_flagged["session"] >= 2)
        ),
        "PCOMS-style: false onsets / 100 patients": per100(
            false_pcoms["onset"] & (false_pcoms["session"] >= 2)
        ),
        "PCOMS-style: false flagged sessions / 100 patients": per100(
            false_pcoms["flagged"] & (false_pcoms["session"] >= 2)
        ),
        "ours: false onsets with a pillar below its minimum": float(below.mean()),
        "ours: sessions crossing the previous-session margin": previous,
        "ours: sessions crossing the best-session margin": best,
        "scored sessions (planted)": len(planted.table),
    }


def scenarios() -> dict[str, Population]:
    base = population_for(builtin_instrument(), "patient")
    return {
        "simulator default": base,
        "no true change (the day's mood still varies)": replace(
            base, session_share=0.0, growth_per_session=0.0
        ),
        "item error alone": replace(base, session_share=0.0, growth_per_session=0.0, halo_sd=0.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.patients} patients x up to {args.sessions} sessions, {args.seeds} seeds")
    print(f"PCOMS-style cut-off {CUT:.2f}, drop {DROP:.2f} (item-mean metric)")
    for name, pop in scenarios().items():
        rows = [run(args.patients, args.sessions, seed, pop) for seed in range(args.seeds)]
        frame = pd.DataFrame(rows)
        print(f"\n{name}")
        for column in frame.columns:
            values = frame[column].to_numpy(float)
            seeds = ", ".join(f"{v:.3f}" for v in values)
            print(f"  {column:54s} {np.mean(values):9.3f}  (seeds: {seeds})")


if __name__ == "__main__":
    main()
