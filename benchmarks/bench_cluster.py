"""Cluster-robust MLR against lavaan's cluster= on the same files: fit alone and whole process.

    .venv/bin/python benchmarks/bench_cluster.py [--sessions 10000 100000] [--per-patient 4]

The patient short form (12 items, three pillars) drawn by the simulator for patients seen up
to ``per-patient`` sessions each, complete rows only, clustered by patient. Each fit runs in a
fresh process (interpreter start, imports, reading the CSV), best of 2:

- ours: ``fit_cfa(..., estimator="mlr", cluster="respondent_id")``, every fit measure;
- lavaan: ``cfa(..., estimator = "MLR", cluster = "respondent_id")`` and ``fitMeasures(fit)``.

Target (issue of nested data): at most half of lavaan's time, whole process.
"""

from __future__ import annotations

import argparse

from measure import RATIO_HEADER, beside_lavaan, fit_scripts

from analysis.simulate import simulate
from analysis.validate import hypothesized_input
from instrument import builtin_instrument

R_FIT = r"""
seconds <- system.time({
  fit <- cfa(model, data = data, estimator = "MLR", cluster = "respondent_id")
  measures <- fitMeasures(fit)
})[["elapsed"]]
cat(seconds, measures[["chisq.scaled"]], measures[["cfi.robust"]], "\n")
"""

OURS_FIT = """
import sys, time, pandas as pd
from analysis.cfa import fit_cfa
data = pd.read_csv(sys.argv[1])
start = time.perf_counter()
fit = fit_cfa(data, sys.argv[2], estimator="mlr", cluster="respondent_id", modindices=False)
print(time.perf_counter() - start, fit.fit["chisq"], fit.fit["cfi"])
"""


def nested(
    sessions: int, per_patient: int, seed: int, complete: bool = True
) -> tuple[str, object, int]:
    """The short form's model, about ``sessions`` complete rows of patients seen up to
    ``per_patient`` times (keyed answers and the patient id), and the patients. Not
    ``complete``: the rows as drawn, those with a missing answer too."""
    bank = builtin_instrument()
    groups = bank.subscale_items("patient-short")
    model = "; ".join(f"{f} =~ {' + '.join(ids)}" for f, ids in groups.items())
    items = [i for ids in groups.values() for i in ids]
    patients = sessions * 5 // (4 * per_patient) + 1
    sim = simulate(
        bank, patients, form="patient-short", clinicians=40, seed=seed, sessions=per_patient
    )
    _, source = hypothesized_input(sim.data, bank, None, keep=("respondent_id",))
    data = source[[*items, "respondent_id"]]
    data = data.dropna() if complete else data.dropna(subset=items, how="all")
    data = data.head(sessions).reset_index(drop=True)
    return model, data, int(data["respondent_id"].nunique())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--per-patient", type=int, default=4)
    opts = parser.parse_args()
    print(f"{'sessions':>9} {'patients':>9} {RATIO_HEADER}   scaled chisq ours / lavaan")
    with fit_scripts(R_FIT, OURS_FIT) as folder:
        for n in opts.sessions:
            model, data, patients = nested(n, opts.per_patient, seed=9)
            cells, o, r = beside_lavaan(folder, data, f"cluster_{n}.csv", model)
            print(f"{n:>9,} {patients:>9,} {cells}   {float(o[0]):.3f} / {float(r[0]):.3f}")


if __name__ == "__main__":
    main()
