"""Stage 2 of the CFA engine: statements -> parameter table (one row per parameter and group).

The defaults follow lavaan's ``cfa()``: the first loading of each factor is fixed to 1 (marker
variable) unless ``std_lv``, which fixes factor variances to 1 instead; factor covariances are
free unless ``orthogonal``; every observed variable has a free residual variance. A modifier in
the model overrides a default (``NA*x1`` frees a marker, ``0.5*x2`` fixes a loading, ``a*x3``
labels it; ``c(a1, a2)*x3`` gives one modifier per group). Parameters that share a label are
constrained equal, within a group and across groups.

With a mean structure (more than one group, or an ``~ 1`` line) every group has its own
intercepts (``nu``) and latent means (``alpha``), with lavaan's identification: intercepts free,
latent means fixed at 0; once intercepts are held equal across groups, the latent means are free
in every group but the first. ``group_equal`` names the kinds of parameter held equal across
groups (lavaan's ``group.equal``) and ``group_partial`` the parameters exempt from it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import pandas as pd

from instrument.syntax import Statement, Term, parse_model

Matrix = Literal["lambda", "psi", "theta", "nu", "alpha", "tau", "delta"]
from ..choices import GROUP_EQUAL, Parameterization  # noqa: E402 (defined once, there)

Key = tuple[str, str, str]  # (lhs, op, rhs); an intercept is (name, "~1", "")


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
    group: int = 0  # the block (0-based group index)

    @property
    def key(self) -> Key:
        return (self.lhs, self.op, self.rhs)

    @property
    def kind(self) -> str:
        """The ``group.equal`` word for this parameter."""
        if self.matrix == "lambda":
            return "loadings"
        if self.matrix == "nu":
            return "intercepts"
        if self.matrix == "alpha":
            return "means"
        if self.matrix == "tau":
            return "thresholds"
        if self.matrix == "delta":
            return "scale.factors"
        diagonal = self.lhs == self.rhs
        if self.matrix == "theta":
            return "residuals" if diagonal else "residual.covariances"
        return "lv.variances" if diagonal else "lv.covariances"


ALL_THRESHOLDS = "*"  # an item's thresholds released together: (item, "|", ALL_THRESHOLDS)


def describe(key: Key) -> str:
    """A parameter as lavaan's syntax writes it: ``goals =~ pg03``, ``pg03 ~ 1``; a threshold
    ``pg03 | t2``, all of an item's ``pg03 | t*``."""
    lhs, op, rhs = key
    if op == "|" and rhs == ALL_THRESHOLDS:
        return f"{lhs} | t*"
    return f"{lhs} ~ 1" if op == "~1" else f"{lhs} {op} {rhs}"


def is_released(p: Parameter, partial: set[Key]) -> bool:
    """Whether ``group_partial`` exempts ``p`` from equality: by its key, or as one of an
    item's thresholds released together."""
    return p.key in partial or (p.matrix == "tau" and (p.lhs, "|", ALL_THRESHOLDS) in partial)


def item_of(key: Key) -> str:
    """The indicator a loading, intercept or residual belongs to."""
    lhs, op, rhs = key
    return rhs if op == "=~" else lhs


@dataclass(frozen=True)
class ParTable:
    parameters: tuple[Parameter, ...]
    latent: tuple[str, ...]
    observed: tuple[str, ...]
    groups: tuple[str, ...] = ("",)
    meanstructure: bool = False
    ordered: tuple[str, ...] = ()  # ordinal indicators (thresholds)
    thresholds: tuple[int, ...] = ()  # how many thresholds each indicator has (0: continuous)
    parameterization: Parameterization = "delta"  # of the ordinal items' latent responses

    @property
    def n_thresholds(self) -> int:
        return sum(self.thresholds)

    def threshold_position(self, p: Parameter) -> int:
        """Where threshold ``p`` (``item | tK``) sits among all thresholds, item by item."""
        item = self.observed.index(p.lhs)
        return sum(self.thresholds[:item]) + int(p.rhs[1:]) - 1

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

    def constraints(self) -> list[tuple[int, int]]:
        """The equality constraints as pairs of rows (first row of a label, another row)."""
        first: dict[str, int] = {}
        pairs = []
        for k, p in enumerate(self.parameters):
            if not p.free or p.label is None:
                continue
            if p.label in first:
                pairs.append((first[p.label], k))
            else:
                first[p.label] = k
        return pairs

    def unconstrained(self) -> ParTable:
        """The same table with every label dropped: each free row its own parameter."""
        return replace(self, parameters=tuple(replace(p, label=None) for p in self.parameters))

    @property
    def n_free(self) -> int:
        return max(self.free_index(), default=-1) + 1

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "lhs": p.lhs,
                    "op": p.op,
                    "rhs": p.rhs,
                    "group": p.group + 1,
                    "free": p.free,
                    "value": p.value,
                    "label": p.label,
                }
                for p in self.parameters
            ]
        )


class ModelError(ValueError):
    """A model that the CFA engine cannot set up, with the reason."""


_PARTIAL = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(=~|~~|~)\s*([A-Za-z_][\w.]*|1)\s*$")


def parse_partial(text: str | Iterable[str]) -> tuple[Key, ...]:
    """``'goals =~ pg03, pg03 ~ 1'`` -> the parameters exempt from ``group_equal``."""
    parts = [text] if isinstance(text, str) else list(text)
    keys: list[Key] = []
    for part in parts:
        for piece in re.split(r"[,;\n]", part):
            if not piece.strip():
                continue
            match = _PARTIAL.match(piece)
            if match is None:
                raise ModelError(
                    f"group partial {piece.strip()!r}: write a parameter as 'factor =~ item', "
                    f"'item ~ 1' or 'a ~~ b'."
                )
            lhs, op, rhs = match.groups()
            if op == "~":
                if rhs != "1":
                    raise ModelError(f"group partial {piece.strip()!r}: only 'item ~ 1'.")
                keys.append((lhs, "~1", ""))
            else:
                keys.append((lhs, op, rhs))
                if op == "~~":
                    keys.append((rhs, op, lhs))
    return tuple(keys)


def build_partable(
    model: str | list[Statement],
    *,
    std_lv: bool = False,
    orthogonal: bool = False,
    groups: Sequence[str] = ("",),
    group_equal: Sequence[str] = (),
    group_partial: Sequence[Key] = (),
    meanstructure: bool | None = None,
    thresholds: Mapping[str, int] | None = None,
    parameterization: Parameterization = "delta",
) -> ParTable:
    """``thresholds`` names the ordinal indicators and how many thresholds each has: they get
    free thresholds (``item | t1`` ...) and no free intercept; in the delta parameterization
    no free residual variance, in the theta one a residual variance fixed at 1 (see
    :func:`_ordinal`)."""
    statements = parse_model(model) if isinstance(model, str) else model
    factors = [s for s in statements if s.op == "=~"]
    if not factors:
        raise ModelError("the model has no measurement line ('factor =~ item1 + item2 + ...').")
    for s in statements:
        if s.op == "~":
            raise ModelError(
                f"line {s.line}: regressions ('~') are not supported by the CFA engine; use "
                f"measurement ('=~'), covariance ('~~') and intercept ('~ 1') lines."
            )
    unknown = [w for w in group_equal if w not in GROUP_EQUAL]
    if unknown:
        raise ModelError(
            f"group equal {', '.join(map(repr, unknown))}: choose from {', '.join(GROUP_EQUAL)}."
        )
    groups = tuple(groups)
    if len(groups) > 1 and std_lv:
        raise ModelError("std_lv is not supported with groups; identify factors by markers.")
    latent, observed = variables(statements)
    if meanstructure is None:
        meanstructure = len(groups) > 1 or any(s.op == "~1" for s in statements)
    params: list[Parameter] = []
    for g in range(len(groups)):
        params += _block(
            statements,
            latent,
            tuple(observed),
            g,
            len(groups),
            std_lv,
            orthogonal,
            meanstructure,
            bool({"intercepts", "thresholds"} & set(group_equal)) and "means" not in group_equal,
        )
    ordinal = dict(thresholds or {})
    if ordinal:
        params = _ordinal(
            params,
            observed,
            ordinal,
            "thresholds" in group_equal,
            parameterization,
            "residuals" in group_equal,
            set(group_partial),
        )
    params = _equal_across(params, set(group_equal), set(group_partial))
    table = ParTable(
        tuple(params),
        latent,
        observed,
        groups,
        meanstructure,
        tuple(name for name in observed if name in ordinal),
        tuple(ordinal.get(name, 0) for name in observed),
        parameterization if ordinal else "delta",
    )
    _check_markers(table)
    return table


def variables(statements: list[Statement]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The factors and their indicators, in the order the model names them."""
    factors = [s for s in statements if s.op == "=~"]
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
    return latent, tuple(observed)


def _in_group(term: Term, s: Statement, g: int, n_groups: int) -> Term:
    try:
        return term.in_group(g, n_groups)
    except ValueError as exc:
        raise ModelError(f"line {s.line}: {exc}.") from None


def _block(
    statements: list[Statement],
    latent: tuple[str, ...],
    observed: tuple[str, ...],
    g: int,
    n_groups: int,
    std_lv: bool,
    orthogonal: bool,
    meanstructure: bool,
    free_means: bool,
) -> list[Parameter]:
    """One group's parameters, in lavaan's order: loadings, variances and covariances (user's
    residual covariances last), then intercepts and latent means."""
    nan = float("nan")
    params: list[Parameter] = []
    for s in statements:
        if s.op != "=~":
            continue
        for k, generic in enumerate(s.rhs):
            term = _in_group(generic, s, g, n_groups)
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
                Parameter(s.lhs, "=~", term.name, "lambda", free, value, term.label, True, g)
            )

    user_cov: dict[tuple[str, str], Parameter] = {}
    user_mean: dict[str, Parameter] = {}
    for s in statements:
        if s.op == "~1":
            if s.lhs not in latent and s.lhs not in observed:
                raise ModelError(f"line {s.line}: {s.lhs!r} is neither a factor nor an indicator.")
            term = _in_group(s.rhs[0], s, g, n_groups)
            matrix: Matrix = "alpha" if s.lhs in latent else "nu"
            free = term.fixed is None
            value = term.fixed if term.fixed is not None else (term.start or nan)
            user_mean[s.lhs] = Parameter(s.lhs, "~1", "", matrix, free, value, term.label, True, g)
            continue
        if s.op != "~~":
            continue
        for generic in s.rhs:
            term = _in_group(generic, s, g, n_groups)
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
            matrix = "psi" if a in latent else "theta"
            free = term.fixed is None
            value = term.fixed if term.fixed is not None else (term.start or nan)
            key = (min(a, b), max(a, b))
            user_cov[key] = Parameter(a, "~~", b, matrix, free, value, term.label, True, g)

    def covariance(a: str, b: str, matrix: Matrix, free: bool, value: float) -> Parameter:
        given = user_cov.pop((min(a, b), max(a, b)), None)
        return given if given is not None else Parameter(a, "~~", b, matrix, free, value, group=g)

    for name in observed:
        params.append(covariance(name, name, "theta", True, nan))
    for i, f in enumerate(latent):
        params.append(covariance(f, f, "psi", not std_lv, 1.0 if std_lv else nan))
        for h in latent[i + 1 :]:
            params.append(covariance(f, h, "psi", not orthogonal, 0.0 if orthogonal else nan))
    params.extend(user_cov.values())  # residual covariances between indicators
    if meanstructure:
        for name in observed:
            params.append(user_mean.pop(name, Parameter(name, "~1", "", "nu", True, nan, group=g)))
        for f in latent:
            default = Parameter(f, "~1", "", "alpha", free_means and g > 0, 0.0, group=g)
            params.append(user_mean.pop(f, default))
    elif user_mean:
        raise ModelError("intercepts ('~ 1') need a mean structure.")
    return params


def _ordinal(
    params: list[Parameter],
    observed: tuple[str, ...],
    thresholds: dict[str, int],
    equal_thresholds: bool,
    parameterization: Parameterization = "delta",
    equal_residuals: bool = False,
    partial: set[Key] | None = None,
) -> list[Parameter]:
    """Thresholds after each group's loadings, and an ordinal item's intercept fixed at 0.

    Delta parameterization (lavaan's default): an ordinal item's residual variance follows from
    the model (fixed, value to be derived), and with groups each ordinal item has a scale
    factor (``x ~*~ x``, the inverse standard deviation of its latent response): 1 in the first
    group, and free in the others once thresholds are held equal.
    Theta parameterization: the residual variance is the parameter, fixed at 1 in the first
    group and free in the others once thresholds are held equal, unless residuals are held
    equal too (strict invariance: 1 in every group, as lavaan's); the scale factors follow."""
    out: list[Parameter] = []
    nan = float("nan")
    groups = 1 + max((p.group for p in params), default=0)
    theta = parameterization == "theta"
    released = partial or set()
    # An item whose thresholds differ across groups keeps its latent response's scale fixed
    # in every group (its residual variance, or scale factor, at 1): the equal thresholds of
    # the other items are what let those be free.
    own_thresholds = {name for name in thresholds if (name, "|", ALL_THRESHOLDS) in released}
    for k, p in enumerate(params):
        if p.matrix == "theta" and p.lhs == p.rhs and p.lhs in thresholds:
            if theta:
                held = equal_residuals and p.key not in released
                free = equal_thresholds and p.group > 0 and not held and p.lhs not in own_thresholds
                p = replace(p, free=free, value=1.0, label=None)
            else:
                p = replace(p, free=False, value=nan, label=None)
        elif p.matrix == "nu" and p.lhs in thresholds:
            p = replace(p, free=False, value=0.0, label=None)
        out.append(p)
        following = params[k + 1] if k + 1 < len(params) else None
        if p.matrix == "lambda" and (following is None or following.matrix != "lambda"):
            for name in observed:
                for t in range(1, thresholds.get(name, 0) + 1):
                    out.append(Parameter(name, "|", f"t{t}", "tau", True, nan, group=p.group))
        last_of_group = following is None or following.group != p.group
        if groups > 1 and last_of_group and not theta:
            for name in observed:
                if name in thresholds:
                    free = equal_thresholds and p.group > 0 and name not in own_thresholds
                    out.append(Parameter(name, "~*~", name, "delta", free, 1.0, group=p.group))
    return out


def _equal_across(params: list[Parameter], kinds: set[str], partial: set[Key]) -> list[Parameter]:
    """Give the parameters that ``group_equal`` holds equal one shared label per key (a label
    the user wrote wins, as in lavaan)."""
    if not kinds:
        return params
    out = []
    for p in params:
        if p.free and p.label is None and p.kind in kinds and not is_released(p, partial):
            if p.kind == "means" and p.group == 0:
                out.append(p)  # fixed at 0 in the first group by default
                continue
            p = replace(p, label=f".{p.lhs}{p.op}{p.rhs}")
        out.append(p)
    return out


def _check_markers(table: ParTable) -> None:
    """Each factor needs its scale set: a fixed loading or a fixed variance."""
    for g in range(table.n_groups):
        block = [p for p in table.parameters if p.group == g]
        for f in table.latent:
            loadings = [p for p in block if p.op == "=~" and p.lhs == f]
            variance = next(p for p in block if p.op == "~~" and p.lhs == p.rhs == f)
            if variance.free and all(p.free for p in loadings):
                raise ModelError(
                    f"factor {f!r} has no scale: fix one loading (e.g. 1*{loadings[0].rhs}) or "
                    f"its variance ({f} ~~ 1*{f}), or use std_lv."
                )
