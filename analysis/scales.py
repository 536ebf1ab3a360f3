"""Response scales for items whose instrument declares none (a model string), and where each
came from: ``--scale LOW-HIGH``, the export's value labels (SPSS, Stata), or the lowest and
highest answers seen, in that order. The last is a guess, and says so in a finding; where no
range can be known the rule is refused (see :func:`analysis.scoring.score_export`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from instrument import Instrument, ResponseScale

from .ingest import Export
from .ingest.mapping import fold

FROM_OPTION = "given with --scale"
FROM_LABELS = "taken from the export's value labels"
FROM_ANSWERS = "inferred from the lowest and highest answers seen"
_RANGE = re.compile(r"^\s*(-?\d+)\s*(?:-|\.\.|to)\s*(-?\d+)\s*$")


# An inferred scale spans at most this many points (0-100, a visual analogue scale): wider
# answers are not on a scale, and one stray large number cannot make the scale enumerate
# every integer up to it.
MAX_INFERRED_POINTS = 101


def numbered_scale(low: int, high: int, name: str | None = None) -> ResponseScale:
    points = tuple((k, str(k)) for k in range(low, high + 1))
    return ResponseScale(name or f"range_{low}_{high}".replace("-", "m"), f"{low}-{high}", points)


def parse_scale(text: str) -> ResponseScale:
    """'1-5', '0-10' or '1..7' as a scale of whole-number points."""
    found = _RANGE.match(text)
    if not found:
        raise ValueError(f"'scale' must look like 1-5 or 0-10; got {text!r}.")
    low, high = int(found.group(1)), int(found.group(2))
    if high <= low:
        raise ValueError(f"'scale' must go from a lower to a higher number; got {text!r}.")
    return numbered_scale(low, high)


def with_option_scale(instrument: Instrument, scale: ResponseScale) -> Instrument:
    return instrument.with_scales(dict.fromkeys(instrument.unscaled_items, scale), FROM_OPTION)


def with_label_scales(
    instrument: Instrument, labels: Mapping[str, Mapping[Any, str]]
) -> Instrument:
    """Scales from value labels, for the unscaled items whose column has consecutive
    whole-number codes labelled (letters, Stata's tagged missing values, are not points)."""
    by_column = {fold(c): v for c, v in labels.items()}
    found: dict[str, ResponseScale] = {}
    for item_id in instrument.unscaled_items:
        points = by_column.get(fold(item_id))
        if not points:
            continue
        codes = sorted(
            int(c) for c in points if isinstance(c, int | float) and float(c).is_integer()
        )
        codes = [c for c in codes if c >= 0]  # negative codes label missing answers (-9)
        if len(codes) < 2 or codes != list(range(codes[0], codes[-1] + 1)):
            continue
        named = {c: str(points.get(c, points.get(float(c), c))) for c in codes}
        if len({fold(t) for t in named.values()}) != len(named):
            continue
        key = "labels_" + "_".join(fold(named[c]).replace(" ", "-") for c in codes)[:60]
        found[item_id] = ResponseScale(key, f"{codes[0]}-{codes[-1]}", tuple(named.items()))
    return instrument.with_scales(found, FROM_LABELS) if found else instrument


def with_observed_scales(instrument: Instrument, export: Export) -> tuple[Instrument, pd.DataFrame]:
    """Scales from the answers, per subscale (its items are averaged, so they share one): the
    lowest to the highest whole-number answer seen. Returns the instrument and one finding per
    subscale whose scale was inferred so (none where the answers are not whole numbers)."""
    unscaled = set(instrument.unscaled_items)
    groups: dict[str, list[str]] = {}
    for item_id in export.items:
        if item_id in unscaled:
            groups.setdefault(instrument.item(item_id).subscale, []).append(item_id)
    found: dict[str, ResponseScale] = {}
    rows = []
    for subscale, ids in groups.items():
        values = export.data[ids].to_numpy(dtype=float)
        values = values[~np.isnan(values)]
        if len(values) == 0 or not np.all(values == np.round(values)):
            continue
        low, high = int(values.min()), int(values.max())
        if high <= low:
            continue
        if high - low + 1 > MAX_INFERRED_POINTS:
            rows.append(
                {
                    "kind": "scale_not_inferred",
                    "row": None,
                    "column": subscale,
                    "value": f"{low}-{high}",
                    "reason": f"the answers span more than {MAX_INFERRED_POINTS} points, so "
                    "they are not taken for a response scale (give --scale LOW-HIGH)",
                }
            )
            continue
        scale = numbered_scale(low, high)
        found.update(dict.fromkeys(ids, scale))
        rows.append(
            {
                "kind": "scale_inferred",
                "row": None,
                "column": subscale,
                "value": f"{low}-{high}",
                "reason": "no response scale declared: taken from the lowest and highest answers "
                "seen, which may be narrower than the scale asked (give --scale LOW-HIGH)",
            }
        )
    findings = pd.DataFrame(rows, columns=["kind", "row", "column", "value", "reason"])
    if not found:
        return instrument, findings
    return instrument.with_scales(found, FROM_ANSWERS), findings
