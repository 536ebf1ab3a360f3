"""What every survey platform declares, and the plain table that declares nothing.

A platform is recognised from an export's first rows (:meth:`Platform.detect`, giving the
:class:`Layout`: header rows to skip, a row of question texts, renamed columns), and says what
its exports mean: the columns it writes about a response (metadata, not findings), where the
context columns are (:attr:`Platform.conventions`), how its columns name our items, its codes
for a missing answer and for an answer (LimeSurvey's ``A5``), its marks on rows (previews,
tests, unfinished forms) and how a response is keyed (REDCap's events and repeat instances).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from instrument import Instrument

Head = tuple[tuple[str, ...], ...]
# Context column -> the export column(s) a platform writes it in.
Conventions = dict[str, str | tuple[str, ...]]
# A finding as read.py records it: kind, row (None: the whole column), column, value, reason.
Finding = tuple[str, int | None, str, str, str]


@dataclass(frozen=True)
class Layout:
    platform: str
    skip: tuple[int, ...] = ()  # file rows (0 = header) that are more header, not data
    labels: tuple[str, ...] | None = None  # a second header row of texts, one per column
    id_column: str | None = None  # the platform's record id column (REDCap's first column)
    rename: tuple[tuple[str, str], ...] = ()  # header name -> the name the platform means


@dataclass(frozen=True)
class Marks:
    """Per row, the platform's mark ('' when none: 'preview', 'test', 'spam', 'unfinished');
    findings about the marks; and the column each kind of mark came from."""

    flags: pd.Series
    findings: tuple[Finding, ...] = ()
    sources: tuple[tuple[str, str], ...] = ()


class Platform:
    """A plain table: item ids (or a mapping file's names) as column names, nothing else."""

    name: ClassVar[str] = "csv"
    metadata: ClassVar[frozenset[str]] = frozenset()
    conventions: ClassVar[Conventions] = {}
    missing_codes: ClassVar[tuple[str, ...]] = ()

    def detect(self, head: Head) -> Layout | None:
        """The layout of an export whose first rows are ``head``, if this platform wrote it."""
        return None

    def is_metadata(self, column: str) -> bool:
        return column in self.metadata

    def item_columns(self, columns: list[str], instrument: Instrument) -> dict[str, str]:
        """Export column -> item id, where the platform names items its own way."""
        return {}

    def labels_are_headers(self) -> bool:
        """Whether the column headers are the items' texts (a label export)."""
        return False

    def code_of(self, label: str) -> float | None:
        """An answer code the platform writes in place of a number."""
        return None

    def marks(self, frame: pd.DataFrame, item_columns: set[str], require_complete: bool) -> Marks:
        return Marks(pd.Series("", index=frame.index, dtype=object))

    def keys(self, frame: pd.DataFrame, context: pd.DataFrame) -> None:
        """Add the response key (and session) the platform's own columns give, in place."""


def folded(values: pd.Series) -> pd.Series:
    """Values as trimmed, case-folded text ('' when missing; 0.0 as '0', as a column of codes
    with a blank reads), worked out once per distinct value: a status column holds a few."""
    codes, uniques = pd.factorize(values)
    text = [str(int(u)) if isinstance(u, float) and u.is_integer() else str(u) for u in uniques]
    folded_ = np.array([t.strip().casefold() for t in text] + [""], dtype=object)
    return pd.Series(folded_[codes], index=values.index, dtype=object)  # -1 (missing): ''
