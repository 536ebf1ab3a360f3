"""The structure check on a whole clinic store, from its aggregated moments.

Under ML the sufficient statistics of a CFA are each group's number of complete rows, item
means and covariance matrix. A backend (analysis/store/backends: DuckDB on the store or its Parquet
copy, or Spark) computes the sums and cross-products of the model's items over the complete
rows where the data live, per group, in one query; only those ``groups x (p + p(p + 1) / 2)``
numbers come back, and the engine (analysis/cfa) fits them. Millions of sessions are never
loaded into memory. Reverse-keyed items are turned around on the moments (the mean reflected,
the item's covariances negated), as validate turns the answers around.

What this leaves out, and says: rows with a missing answer to a model item (listwise: FIML
needs each row's pattern), rows without a group value, and the robust (MLR) corrections, which
need fourth-order moments the store does not aggregate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from instrument import Instrument
from instrument.syntax import parse_model

from ..cfa import CFAResult, fit_cfa
from ..cfa.driver import partable_for
from ..cfa.partable import variables
from ..cfa.samplestats import from_moments
from ..choices import GROUPINGS
from ..results import Reported
from ..store.backends import Backend
from ..store.queries.moments import answered_counts, item_moments, stored_instruments
from ..store.queries.sessions import session_filter
from ..store.schema import StoreError
from ..validate import HYPOTHESIZED, hypothesized_input, loading_record, model_entry
from ..wording import worded


@dataclass(frozen=True)
class StoreFit(Reported):
    result: CFAResult
    source: str
    engine: str
    perspective: str
    since: str | None
    rows_in_window: int  # responses of the perspective in the window
    incomplete: int  # left out: a missing answer to a model item
    ungrouped: int  # left out: no value in the group column

    @property
    def n(self) -> int:
        return self.result.n

    def sentence(self) -> str:
        left = []
        if self.incomplete:
            left.append(f"{self.incomplete:,} with a missing answer (listwise)")
        if self.ungrouped:
            left.append(f"{self.ungrouped:,} with no {self.result.group_column}")
        return (
            f"n = {self.n:,} of {self.rows_in_window:,} stored {self.perspective} responses"
            + (f" since {self.since}" if self.since else "")
            + f" ({self.source}, {self.engine}); "
            + ("left out: " + ", ".join(left) if left else "none left out")
            + "; fitted from the aggregated moments (ML); a patient's sessions treated as "
            "independent, as the moments carry no clusters: standard errors are too small"
        )

    def summary_lines(self) -> list[str]:
        """The fit in plain text: what was fitted on, the groups, the hypothesized model's fit
        and verdict, and its findings."""
        doc = self.to_dict()
        m = doc["models"][HYPOTHESIZED]
        lines = [self.sentence()]
        if doc["groups"]:
            lines.append(
                f"groups of {doc['group']!r}: "
                + ", ".join(f"{g['group']} {g['n']:,}" for g in doc["groups"])
            )
        ci = f"[{_number(m['rmsea_ci'][0])}, {_number(m['rmsea_ci'][1])}]"
        lines.append(
            f"hypothesized: chisq {_number(m['chisq'])} on {m['df']} df, CFI "
            f"{_number(m['cfi'])}, TLI {_number(m['tli'])}, RMSEA {_number(m['rmsea'])} {ci}, "
            f"SRMR {_number(m['srmr'])}"
        )
        lines.append(f"hypothesized: {m['verdict']}")
        lines.extend(f"  finding: {finding}" for finding in m["findings"])
        return lines

    def to_frame(self) -> pd.DataFrame:
        """The hypothesized model's standardized loadings (per group, when grouped)."""
        return pd.DataFrame(self.to_dict()["loadings"])

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        entry = model_entry(r)
        loadings = [
            {
                "group": r.groups[int(str(row.group)) - 1] if r.group_column else None,
                **loading_record(row),
            }
            for row in r.estimates[r.estimates["op"] == "=~"].itertuples()
        ]
        return {
            "source": self.source,
            "engine": self.engine,
            "perspective": self.perspective,
            "since": self.since,
            "n": self.n,
            "rows_in_window": self.rows_in_window,
            "left_out": {"incomplete": self.incomplete, "no_group": self.ungrouped},
            "estimator": "ml",
            "group": r.group_column,
            "groups": [{"group": g, "n": n} for g, n in zip(r.groups, r.group_n, strict=True)]
            if r.group_column
            else [],
            "models": {HYPOTHESIZED: entry},
            "loadings": loadings,
        }


def fit_store(
    backend: Backend,
    instrument: Instrument,
    *,
    model: str | None = None,
    group: str | None = None,
    perspective: str = "patient",
    since: date | None = None,
) -> StoreFit:
    """The hypothesized model (the instrument's subscales, or ``model``) fitted by ML to the
    moments of the store's complete responses of ``perspective`` (since ``since``), in every
    value of ``group`` at once when given."""
    if group is not None and group not in GROUPINGS:
        raise StoreError(
            worded(f"`group` must be one of {', '.join(GROUPINGS)} on a store; got {group!r}.")
        )
    column = GROUPINGS[group] if group is not None else None
    where, params = session_filter(since, perspective)
    stored = set(backend.columns("responses"))
    present = [i.id for i in instrument.items if i.id in stored and i.perspective == perspective]
    if model is None:
        counts = answered_counts(backend, present, where, params)
        answered = [i for k, i in enumerate(present) if counts[k] > 0]
        if not answered:
            held = stored_instruments(backend)
            raise StoreError(
                worded(
                    f"no item of instrument '{instrument.name}' has a {perspective} answer in "
                    f"the store, which holds {', '.join(map(repr, held))}; give `instrument` "
                    "as that instrument's YAML file or model string."
                )
            )
        model, _ = hypothesized_input(pd.DataFrame(columns=answered), instrument, None)
    observed = variables(parse_model(model))[1]
    missing = [v for v in observed if v not in stored]
    if missing:
        raise StoreError(f"the store has no answers to {', '.join(map(repr, missing))}.")
    moments, incomplete, ungrouped = item_moments(backend, list(observed), where, params, column)
    if not moments:
        raise StoreError(
            f"no stored {perspective} response answers every item of the model"
            + (f" since {since}" if since else "")
            + "."
        )
    # Reverse-keyed items turned around on the moments: x' = low + high - x.
    reverse = np.array([v in instrument.item_ids and instrument.item(v).reverse for v in observed])
    ends = np.array([_scale_ends(instrument, v) for v in observed])
    sign = np.where(reverse, -1.0, 1.0)
    keyed = [
        (label, n, np.where(reverse, ends - mean, mean), cov * np.outer(sign, sign))
        for label, n, mean, cov in moments
    ]
    stats = from_moments(tuple(observed), keyed)
    table = partable_for(model, stats, group=column)
    result = fit_cfa(pd.DataFrame(), model, table=table, stats=stats, group=column)
    return StoreFit(
        result=result,
        source=backend.name,
        engine=backend.engine,
        perspective=perspective,
        since=since.isoformat() if since else None,
        rows_in_window=incomplete + ungrouped + stats.n,
        incomplete=incomplete,
        ungrouped=ungrouped,
    )


def _scale_ends(instrument: Instrument, item: str) -> float:
    """low + high of the item's response scale (0 for an item without one)."""
    scale = instrument.scale_of(item) if item in instrument.item_ids else None
    return float(scale.minimum + scale.maximum) if scale is not None else 0.0


def _number(value: Any, digits: int = 3) -> str:
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return "-"
