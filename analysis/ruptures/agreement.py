"""Patient-clinician agreement on the same sessions, pillar by pillar.

A session is paired when the patient and the treating clinician both rated it (the same
patient, session number and clinician; the clinician form mirrors the patient form item by
item). Per pillar, on the paired sessions:

- the difference clinician minus patient, from a model with a random patient effect,
  ``d ~ 1 + (1 | patient)`` by REML (:func:`analysis.mixed.patient_model`, checked against
  lme4): its mean (the bias) with its standard error, the SD of one session's difference
  (between patients and within them, ``sqrt(tau2 + sigma2)``), and Bland and Altman's 95%
  limits of agreement for repeated measurements, bias +- 1.96 SD;
- ICC(A,1): absolute agreement of one rater (McGraw & Wong, 1996) with the sessions as
  subjects and the two sides as raters, its variance components from the same kind of model:
  the error ``s2_E`` half the difference's variance, the sessions' true variance ``s2_S`` the
  variance of the two ratings' mean (``m ~ 1 + (1 | patient)``) less ``s2_E / 2``, the raters'
  ``s2_R = bias^2 / 2 - s2_E / n``; ``ICC = s2_S / (s2_S + s2_R + s2_E)``, which is McGraw &
  Wong's when every patient has one session; and Pearson's r of the sessions;
- **unseen ruptures**: sessions where the clinician's rating clears the pillar's minimum while
  the patient's does not.

With fewer than 3 patients the model cannot be fitted, and the bias's SE, the limits and the
ICC are left empty.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import names
from ..mixed import patient_model

LOA_Z = 1.959964
PAIR_KEYS = (names.RESPONDENT_ID, names.SESSION, names.CLINICIAN_ID)


def icc_a1(x: np.ndarray, y: np.ndarray) -> float:
    """ICC(A,1) of two raters over the same subjects (McGraw & Wong's case 2A)."""
    data = np.column_stack([x, y]).astype(float)
    n, k = data.shape
    if n < 2:
        return float("nan")
    grand = data.mean()
    ss_rows = k * ((data.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((data.mean(axis=0) - grand) ** 2).sum()
    ss_error = ((data - grand) ** 2).sum() - ss_rows - ss_cols
    msr = ss_rows / (n - 1)
    msc = ss_cols / (k - 1)
    mse = ss_error / ((n - 1) * (k - 1))
    denominator = msr + (k - 1) * mse + k / n * (msc - mse)
    return float((msr - mse) / denominator) if denominator > 0 else float("nan")


def pair_sessions(patient: pd.DataFrame, clinician: pd.DataFrame) -> pd.DataFrame:
    """Sessions rated by both sides: the keys, then ``<column>_patient`` and
    ``<column>_clinician`` for every other column. A side's repeated rating of one session
    (the same keys twice) counts once, its first."""
    keys = list(PAIR_KEYS)
    p = patient.dropna(subset=keys).drop_duplicates(subset=keys)
    c = clinician.dropna(subset=keys).drop_duplicates(subset=keys)
    return p.merge(c, on=keys, suffixes=("_patient", "_clinician"))


def agreement(pairs: pd.DataFrame, pillars: list[str]) -> pd.DataFrame:
    """One row per pillar: paired sessions and patients, the bias with its SE, the SD of one
    session's difference, the limits of agreement and ICC(A,1), all with the patients as
    clusters; r; and the unseen ruptures (count and share of pairs)."""
    rows = []
    for p in pillars:
        both = pairs[[f"{p}_patient", f"{p}_clinician"]].notna().all(axis=1)
        part = pairs[both]
        x = part[f"{p}_patient"].to_numpy(float)
        y = part[f"{p}_clinician"].to_numpy(float)
        patients = part[names.RESPONDENT_ID].to_numpy()
        n = len(x)
        unseen = int(unseen_ruptures(part, p).sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            r = float(np.corrcoef(x, y)[0, 1]) if n > 2 else float("nan")
        rows.append(
            {
                "pillar": p,
                "paired_sessions": n,
                "patients": int(pd.unique(patients).size),
                **_clustered(x, y, patients),
                "r": r,
                "unseen_ruptures": unseen,
                "unseen_share": unseen / n if n else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def _clustered(x: np.ndarray, y: np.ndarray, patients: np.ndarray) -> dict[str, float]:
    """The bias, its SE, the SD of a session's difference, the limits and ICC(A,1) from the
    models with a random patient effect (empty with fewer than 3 patients)."""
    nan = float("nan")
    d = y - x
    out = dict.fromkeys(
        ("mean_difference", "mean_difference_se", "sd_difference", "loa_low", "loa_high"), nan
    )
    out["mean_difference"] = float(d.mean()) if len(d) else nan
    out["icc_a1"] = nan
    if pd.unique(patients).size < 3:
        return out
    diff = patient_model(d, patients)
    mean = patient_model((x + y) / 2, patients)
    bias = float(diff.beta[0])
    var_d = diff.tau2_patient + diff.sigma2
    sd = float(np.sqrt(var_d))
    error = var_d / 2
    subjects = mean.tau2_patient + mean.sigma2 - error / 2
    raters = bias**2 / 2 - error / len(d)
    total = subjects + raters + error
    out.update(
        mean_difference=bias,
        mean_difference_se=float(diff.beta_se[0]),
        sd_difference=sd,
        loa_low=bias - LOA_Z * sd,
        loa_high=bias + LOA_Z * sd,
        icc_a1=float(subjects / total) if total > 0 else nan,
    )
    return out


def unseen_ruptures(pairs: pd.DataFrame, pillar: str) -> pd.Series:
    """Per paired session: the clinician's rating clears the pillar's minimum, the patient's
    does not."""
    patient = pairs[f"{pillar}_pass_patient"].astype("boolean")
    clinician = pairs[f"{pillar}_pass_clinician"].astype("boolean")
    return (clinician & ~patient).fillna(False).astype(bool)


def agreement_density(
    pairs: pd.DataFrame, pillars: list[str], min_n: int, bins: tuple[int, int] = (8, 10)
) -> dict[str, dict[str, Any]]:
    """Per pillar, the Bland-Altman plane as counts of paired sessions in cells (mean of the
    two ratings by their difference); a cell with fewer than ``min_n`` sessions is None, so
    what leaves the analysis shows no single session."""
    out: dict[str, dict[str, Any]] = {}
    for p in pillars:
        both = pairs[[f"{p}_patient", f"{p}_clinician"]].dropna()
        if not len(both):
            continue
        x = both.mean(axis=1).to_numpy(float)
        y = (both[f"{p}_clinician"] - both[f"{p}_patient"]).to_numpy(float)
        x_edges = np.linspace(np.floor(x.min()), np.ceil(x.max()), bins[0] + 1)
        y_edges = np.linspace(np.floor(y.min()), np.ceil(y.max()), bins[1] + 1)
        counts, _, _ = np.histogram2d(x, y, bins=[x_edges, y_edges])
        out[p] = {
            "x": list((x_edges[:-1] + x_edges[1:]) / 2),
            "y": list((y_edges[:-1] + y_edges[1:]) / 2),
            # rows follow y, columns x, as a heatmap draws them
            "counts": [[float(v) if v >= min_n else None for v in row] for row in counts.T],
        }
    return out
