"""Patient and clinician forms side by side: parallel items on common names.

The clinician form's items mirror the patient form's one to one (an item's ``parallel`` field
names its patient twin). To compare how the two sides rate the alliance, for instance in a
measurement-invariance analysis with the rater as the group, the two forms are fitted as two
groups on common item names: each row's answers move to the patient items' ids and the row is
labelled with the side that gave them. A row holding both sides' answers (one row per dyad)
becomes two rows, one per side, so both ratings count.
"""

from __future__ import annotations

import pandas as pd

from instrument import Instrument

from .names import PERSPECTIVE


def parallel_pairs(instrument: Instrument, columns: pd.Index) -> dict[str, str]:
    """``{clinician item: patient item}`` for every pair whose two columns are in the data."""
    present = set(columns)
    return {
        item.id: item.parallel
        for item in instrument.items
        if item.parallel is not None and item.id in present and item.parallel in present
    }


def stack_parallel(data: pd.DataFrame, instrument: Instrument) -> pd.DataFrame | None:
    """The rows of both sides on the patient items' names, the side in column
    ``perspective``; None unless the data hold answers to both sides of a parallel pair."""
    pairs = parallel_pairs(instrument, data.columns)
    if not pairs:
        return None
    twins = list(pairs)
    own = [pairs[c] for c in twins]
    first = data[own].apply(pd.to_numeric, errors="coerce")
    second = data[twins].apply(pd.to_numeric, errors="coerce")
    if not (first.notna().to_numpy().any() and second.notna().to_numpy().any()):
        return None
    context = [c for c in data.columns if c not in set(own) | set(twins) | {PERSPECTIVE}]
    sides = []
    for block, side in ((first, _side(instrument, own[0])), (second, _side(instrument, twins[0]))):
        answered = block.notna().any(axis=1).to_numpy()
        part = data.loc[answered, context].copy()
        part[own] = block.to_numpy()[answered]
        part[PERSPECTIVE] = side
        sides.append(part)
    out = pd.concat(sides, ignore_index=True)
    return out[[*context, PERSPECTIVE, *own]]


def _side(instrument: Instrument, item: str) -> str:
    return str(instrument.item(item).perspective or "")
