"""Which rows a number was computed on, and why any were left out.

Two selections of an export's rows (``--rows``):

- ``usable`` (the default): the rows the checks kept; quarantined rows are left out, each
  counted under its reasons;
- ``all``: every row with at least one answer, as R reads the file (only rows with no answer
  at all are left out).

An analysis then applies its own missing-data method (the CFA's listwise deletion or FIML),
and the rows it used are recorded beside the selection, so that every number can say how many rows
stand behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import pandas as pd

from .check import CheckResult
from .choices import ROW_SELECTIONS, RowSelection
from .summaries import reasons_overlap, reasons_text


class FittedRows(Protocol):
    """What a fitted model says about its rows (:class:`analysis.cfa.CFAResult` has it)."""

    @property
    def n(self) -> int: ...

    @property
    def left_out(self) -> dict[str, int]: ...

    def missing_data(self) -> dict[str, Any]: ...

    def nesting(self) -> str: ...


@dataclass(frozen=True)
class Sample:
    rows_in: int
    rows: RowSelection
    rows_selected: int
    # reason -> rows left out by the selection (a quarantined row may have several reasons)
    left_out: dict[str, int] = field(default_factory=dict)
    rows_used: int | None = None
    method: str = ""  # how the analysis handled missing answers, e.g. 'listwise'
    # reason -> selected rows the analysis left out for another reason than a missing answer
    # (e.g. no value in the group column)
    excluded: dict[str, int] = field(default_factory=dict)
    # FIML: the missing-data patterns fitted and the lowest share of rows answering both
    # items of a pair (lavaan warns below 10%)
    patterns: int | None = None
    lowest_coverage: float | None = None
    nesting: str = ""  # how rows that are not independent were treated, in words

    def used(
        self,
        rows_used: int,
        method: str,
        excluded: dict[str, int] | None = None,
        patterns: int | None = None,
        lowest_coverage: float | None = None,
    ) -> Sample:
        return replace(
            self,
            rows_used=rows_used,
            method=method,
            excluded=dict(excluded or self.excluded),
            patterns=patterns,
            lowest_coverage=lowest_coverage,
        )

    def used_by(self, fit: FittedRows, grouped: bool) -> Sample:
        """The record of the rows a CFA used: its n, its way with missing answers, and the
        rows it left out for another reason (no group value; under FIML, no answer at all)."""
        excluded = {}
        if grouped:
            excluded["without_a_group_value"] = fit.left_out.get("no_group", 0)
        if "no_answer" in fit.left_out:
            excluded["without_an_answer_to_the_model"] = fit.left_out["no_answer"]
        if fit.left_out.get("no_cluster"):
            excluded["without_a_cluster_value"] = fit.left_out["no_cluster"]
        missing = fit.missing_data()
        used = self.used(
            fit.n,
            str(missing["method"]),
            excluded,
            missing.get("patterns"),
            missing.get("lowest_coverage"),
        )
        return replace(used, nesting=fit.nesting())

    @property
    def incomplete(self) -> int:
        """Selected rows the analysis left out for missing answers."""
        if self.rows_used is None:
            return 0
        return self.rows_selected - self.rows_used - sum(self.excluded.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_in": self.rows_in,
            "rows": self.rows,
            "rows_selected": self.rows_selected,
            "left_out": dict(self.left_out),
            "rows_used": self.rows_used,
            "left_out_incomplete": self.incomplete,
            "left_out_by_analysis": dict(self.excluded),
            "missing_method": self.method,
            "missing_patterns": self.patterns,
            "lowest_coverage": self.lowest_coverage,
            "nesting": self.nesting or None,
        }

    def sentence(self) -> str:
        """One line: n, of how many rows, and each reason a row was left out."""
        n = self.rows_selected if self.rows_used is None else self.rows_used
        set_aside = self.rows_in - self.rows_selected
        checks = reasons_text(self.left_out, set_aside)
        reasons = []
        if checks:
            if reasons_overlap(self.left_out, set_aside):
                checks = f"{set_aside:,} set aside by the checks ({checks})"
            reasons.append(checks)
        reasons += [f"{k:,} {r.replace('_', ' ')}" for r, k in self.excluded.items() if k]
        if self.incomplete:
            reasons.append(f"{self.incomplete:,} with a missing answer ({self.method})")
        why = f"; left out: {', '.join(reasons)}" if reasons else "; none left out"
        fiml = ""
        if self.method == "fiml" and self.lowest_coverage == 1.0:
            fiml = "; no answer missing (FIML is ML)"
        elif self.method == "fiml" and self.patterns is not None:
            fiml = f"; FIML over {self.patterns:,} missing-data patterns"
            if self.lowest_coverage is not None:
                fiml += f", lowest coverage of an item pair {self.lowest_coverage:.1%}"
        if self.method == "listwise" and self.rows_used is not None and not self.incomplete:
            fiml = "; no answer missing (complete rows)"
        if self.method == "pairwise" and self.lowest_coverage is not None:
            fiml = (
                "; pairwise: each polychoric correlation from the rows that answered both "
                f"items, lowest coverage {self.lowest_coverage:.1%}"
            )
        nested = f"; {self.nesting}" if self.nesting else ""
        return f"n = {n:,} of {self.rows_in:,} rows (rows: {self.rows}){why}{fiml}{nested}"


def select_rows(checked: CheckResult, rows: RowSelection = "usable") -> tuple[pd.DataFrame, Sample]:
    """The rows an analysis works on, and the record of that choice."""
    if rows not in ROW_SELECTIONS:
        raise ValueError(f"'rows' must be one of 'usable', 'all'; got {rows!r}.")
    if rows == "usable":
        reasons = checked.quarantine_reasons()
        data = checked.usable_data()
        return data, Sample(checked.rows_in, rows, len(data), reasons)
    data = checked.export.data
    answered = data[list(checked.export.items)].notna().any(axis=1).to_numpy()
    empty = int((~answered).sum())
    kept = data[answered].reset_index(drop=True) if empty else data
    return kept, Sample(
        checked.rows_in, rows, int(np.count_nonzero(answered)), {"no_answers": empty}
    )
