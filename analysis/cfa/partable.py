"""Stage 2 of the CFA engine: statements -> parameter table (one row per parameter).

The defaults follow lavaan's ``cfa()``: the first loading of each factor is fixed to 1 (marker
variable) unless ``std_lv``, which fixes factor variances to 1 instead; factor covariances are
free unless ``orthogonal``; every observed variable has a free residual variance. A modifier in
the model overrides a default (``NA*x1`` frees a marker, ``0.5*x2`` fixes a loading, ``a*x3``
labels it; parameters that share a label are constrained equal).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

from instrument.syntax import Statement, parse_model

Matrix = Literal["lambda", "psi", "theta"]


@dataclass(frozen=True)
class Parameter:
    lhs: str
    op: str
    rhs: str
    matrix: Matrix
    free: bool
    value: float  # the fixed value, or the user's start value for a free parameter (nan: none)
    label: str | None = None
    user: bool = False  # written in the model, as opposed to added by a default


@dataclass(frozen=True)
class ParTable:
    parameters: tuple[Parameter, ...]
    latent: tuple[str, ...]
    observed: tuple[str, ...]

    def free_index(self) -> list[int]:
        """For every parameter, its position in the free-parameter vector (-1 when fixed).
        Parameters sharing a label share a position (an equality constraint)."""
        index: list[int] = []
        by_label: dict[str, int] = {}
        count = 0
        for p in self.parameters:
            if not p.free:
                index.append(-1)
            elif p.label is not None and p.label in by_label:
                index.append(by_label[p.label])
            else:
                if p.label is not None:
                    by_label[p.label] = count
                index.append(count)
                count += 1
        return index

    @property
    def n_free(self) -> int:
        return max(self.free_index(), default=-1) + 1

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "lhs": p.lhs,
                    "op": p.op,
                    "rhs": p.rhs,
                    "free": p.free,
                    "value": p.value,
                    "label": p.label,
                }
                for p in self.parameters
            ]
        )


class ModelError(ValueError):
    """A model that the CFA engine cannot set up, with the reason."""


def build_partable(
    model: str | list[Statement], *, std_lv: bool = False, orthogonal: bool = False
) -> ParTable:
    statements = parse_model(model) if isinstance(model, str) else model
    factors = [s for s in statements if s.op == "=~"]
    if not factors:
        raise ModelError("the model has no measurement line ('factor =~ item1 + item2 + ...').")
    for s in statements:
        if s.op in ("~", "~1"):
            raise ModelError(
                f"line {s.line}: regressions and intercepts ('{s.op}') are not supported by the "
                f"CFA engine; use measurement ('=~') and covariance ('~~') lines."
            )
    latent = tuple(dict.fromkeys(s.lhs for s in factors))
    if len(latent) != len(factors):
        raise ModelError("each factor must be defined on one '=~' line.")
    observed: list[str] = []
    for s in factors:
        for term in s.rhs:
            if term.name in latent:
                raise ModelError(
                    f"line {s.line}: {term.name!r} is a factor; higher-order factors are not "
                    f"supported."
                )
            if term.name not in observed:
                observed.append(term.name)
    params: list[Parameter] = []
    nan = float("nan")
    for s in factors:
        for k, term in enumerate(s.rhs):
            marker = k == 0 and not std_lv
            if term.fixed is not None:
                free, value = False, term.fixed
            elif term.free:
                free, value = True, nan
            else:
                free, value = not marker, (1.0 if marker else nan)
            if term.start is not None and free:
                value = term.start
            params.append(
                Parameter(s.lhs, "=~", term.name, "lambda", free, value, term.label, True)
            )

    user_cov: dict[tuple[str, str], Parameter] = {}
    for s in statements:
        if s.op != "~~":
            continue
        for term in s.rhs:
            a, b = s.lhs, term.name
            for name in (a, b):
                if name not in latent and name not in observed:
                    raise ModelError(
                        f"line {s.line}: {name!r} is neither a factor nor an indicator of one."
                    )
            if (a in latent) != (b in latent):
                raise ModelError(
                    f"line {s.line}: a covariance between factor and indicator ({a} ~~ {b}) is "
                    f"not supported."
                )
            matrix: Matrix = "psi" if a in latent else "theta"
            free = term.fixed is None
            value = term.fixed if term.fixed is not None else (term.start or nan)
            key = tuple(sorted((a, b)))
            user_cov[key] = Parameter(a, "~~", b, matrix, free, value, term.label, True)  # type: ignore[index]

    def covariance(a: str, b: str, matrix: Matrix, free: bool, value: float) -> Parameter:
        given = user_cov.pop(tuple(sorted((a, b))), None)  # type: ignore[arg-type]
        return given if given is not None else Parameter(a, "~~", b, matrix, free, value)

    for name in observed:
        params.append(covariance(name, name, "theta", True, nan))
    for i, f in enumerate(latent):
        params.append(covariance(f, f, "psi", not std_lv, 1.0 if std_lv else nan))
        for g in latent[i + 1 :]:
            params.append(covariance(f, g, "psi", not orthogonal, 0.0 if orthogonal else nan))
    params.extend(user_cov.values())  # residual covariances between indicators
    table = ParTable(tuple(params), latent, tuple(observed))
    _check_markers(table)
    return table


def _check_markers(table: ParTable) -> None:
    """Each factor needs its scale set: a fixed loading or a fixed variance."""
    for f in table.latent:
        loadings = [p for p in table.parameters if p.op == "=~" and p.lhs == f]
        variance = next(p for p in table.parameters if p.op == "~~" and p.lhs == p.rhs == f)
        if variance.free and all(p.free for p in loadings):
            raise ModelError(
                f"factor {f!r} has no scale: fix one loading (e.g. 1*{loadings[0].rhs}) or its "
                f"variance ({f} ~~ 1*{f}), or use std_lv."
            )
