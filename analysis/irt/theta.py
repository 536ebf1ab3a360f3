"""Scores on the theta metric from a calibration, and the non-compensatory rule there.

Each calibrated subscale gets ``<scale>_theta`` (EAP), ``<scale>_theta_se`` and ``<scale>_t``
(T-score, 50 + 10 theta) from whichever of its items a row answered; a row that answered none
of them gets no score there. For the rule's pillars, ``<pillar>_theta_pass`` says whether the
EAP is at or above the pillar's minimum carried to theta, and ``theta_status`` is
``adequate`` when every pillar passes, ``inadequate`` when one fails, ``insufficient_data``
when a pillar has no answer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .calibration import Calibration
from .eap import eap, t_score

ADEQUATE, INADEQUATE, INSUFFICIENT = "adequate", "inadequate", "insufficient_data"


def theta_columns(calibration: Calibration) -> list[str]:
    """The columns :func:`theta_scores` adds (whichever of them it can fill)."""
    out = [f"{n}_{suffix}" for n in calibration.scales for suffix in ("theta", "theta_se", "t")]
    out += [f"{p}_theta_pass" for p in calibration.pillars]
    return [*out, "theta_status"]


def theta_scores(calibration: Calibration, data: pd.DataFrame) -> pd.DataFrame:
    """The theta columns for every row of ``data`` (raw answers, bank item ids as columns)."""
    out = pd.DataFrame(index=data.index)
    for name, scale in calibration.scales.items():
        answers = scale.categories(data)
        answered = (answers >= 0).any(axis=1)
        estimate, se = eap(answers, scale.slopes, scale.intercepts)
        out[f"{name}_theta"] = np.where(answered, estimate, np.nan)
        out[f"{name}_theta_se"] = np.where(answered, se, np.nan)
        out[f"{name}_t"] = np.where(answered, t_score(estimate), np.nan)
    pillars = [p for p in calibration.pillars if calibration.scales[p].theta_minimum is not None]
    if not pillars:
        return out
    passes = []
    for p in pillars:
        minimum = calibration.scales[p].theta_minimum
        value = out[f"{p}_theta"]
        column = (value >= minimum).where(value.notna())
        out[f"{p}_theta_pass"] = column.astype("boolean")
        passes.append(column)
    frame = pd.concat(passes, axis=1)
    status = np.where(
        frame.isna().any(axis=1),
        INSUFFICIENT,
        np.where(frame.fillna(False).astype(bool).all(axis=1), ADEQUATE, INADEQUATE),
    )
    out["theta_status"] = status
    return out


def minimum_lines(calibration: Calibration) -> list[str]:
    """How each pillar's minimum was carried to theta, in words."""
    lines = []
    for p in calibration.pillars:
        s = calibration.scales[p]
        if s.theta_minimum is None or s.minimum is None:
            lines.append(f"{p}: no minimum on theta (the rule's minimum was not carried over)")
            continue
        lines.append(
            f"{p}: minimum {s.minimum:.3g} on the item-mean metric = theta "
            f"{s.theta_minimum:+.3f} (T {50 + 10 * s.theta_minimum:.1f}), where the expected "
            f"item mean of its {len(s.items)} calibrated items equals it"
        )
    return lines


def theta_summary(table: pd.DataFrame, calibration: Calibration, source: str) -> dict[str, object]:
    """The calibration's minimums on theta and the counts of the rule there, for a scores
    table with theta columns (``source``: where the calibration was read from)."""
    counts = table["theta_status"].value_counts().to_dict() if "theta_status" in table else {}
    return {
        "calibration": source,
        "scales": list(calibration.scales),
        "minimums": {
            p: {"item_mean": s.minimum, "theta": s.theta_minimum}
            for p, s in calibration.scales.items()
            if p in calibration.pillars
        },
        "minimums_text": minimum_lines(calibration),
        "status_counts": {str(k): int(v) for k, v in counts.items()},
    }


def theta_lines(table: pd.DataFrame, calibration: Calibration, name: str) -> list[str]:
    """The rule on theta in words: its counts, then how each minimum was carried."""
    counts = theta_summary(table, calibration, name)["status_counts"]
    assert isinstance(counts, dict)
    lines = [
        f"on theta ({name}): "
        + ", ".join(
            f"{counts.get(k, 0):,} {k.replace('_', ' ')}"
            for k in ("adequate", "inadequate", "insufficient_data")
        )
        if counts
        else f"on theta ({name}): scores only, no rule"
    ]
    lines.extend(f"  {line}" for line in minimum_lines(calibration))
    return lines
