"""Measurement invariance over sessions: the same patients' sessions as one longitudinal model.

An export in long form (a row per session) becomes one row per patient with every item once per
session (``item_s1``, ``item_s2``, ...). The model has a factor per pillar per session, each
item's residuals correlated across sessions, and every answer by FIML (a session a patient did
not attend is a block of missing answers). Configural, metric (loadings equal across sessions),
scalar (+ intercepts; the factor means free after the first session) and strict (+ residual
variances) are compared as across groups (:mod:`.invariance`: Chen's criteria, the chi-square
difference), and a level that fails is freed in part by the score tests of its constraints, one
item at a time. It is semTools' ``measEq.syntax(longFacNames = ...)`` fitted by lavaan with
``missing = "ml"`` (tests/reference/make_longitudinal_reference.R).

Identification by marker items: the first item of each factor loads 1 at every session, so the
marker's loading is equal by construction; the fit equals any other identification's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from .driver import fit_model, prepare
from .invariance import LEVELS, Freed, InvarianceResult, run_sequence
from .partable import ModelError, build_partable
from .result import CFAResult
from .spec import FitSpec

SUFFIX = "_s"
KINDS = {"loadings": "=~", "intercepts": "~1", "residuals": "~~"}


def wide_name(name: str, session: int) -> str:
    return f"{name}{SUFFIX}{session}"


def base_name(name: str) -> str:
    return name.rsplit(SUFFIX, 1)[0]


@dataclass(frozen=True)
class SessionsWide:
    """One row per patient, every item once per session; how many patients attended each
    session, and how many repeated rows of one patient's session were left out."""

    wide: pd.DataFrame
    sessions: tuple[int, ...]
    attended: tuple[int, ...]
    repeated: int

    @property
    def patients(self) -> int:
        return len(self.wide)


def widen(
    data: pd.DataFrame,
    items: Sequence[str],
    sessions: Sequence[int],
    respondent: str,
    session: str,
    keep: Sequence[str] = (),
) -> SessionsWide:
    """The patients' ``sessions`` side by side. A patient with two rows for one session keeps
    the first (counted); ``keep`` columns are taken from the patient's first row."""
    for column in (respondent, session):
        if column not in data.columns:
            raise ModelError(f"invariance over sessions needs the column {column!r}.")
    numbers = pd.to_numeric(data[session], errors="coerce")
    rows = data[numbers.isin(list(sessions)) & data[respondent].notna()].assign(
        _session=numbers.astype("Int64")
    )
    unique = rows.drop_duplicates([respondent, "_session"])
    repeated = len(rows) - len(unique)
    attended = tuple(int((unique["_session"] == s).sum()) for s in sessions)
    missing = [s for s, n in zip(sessions, attended, strict=True) if n == 0]
    if missing:
        raise ModelError(f"no patient has session {', '.join(map(str, missing))}.")
    parts = []
    for s in sessions:
        at = unique[unique["_session"] == s].set_index(respondent)[list(items)]
        parts.append(at.rename(columns={i: wide_name(i, s) for i in items}))
    wide = pd.concat(parts, axis=1)
    if keep:
        first = rows.drop_duplicates(respondent).set_index(respondent)[list(keep)]
        wide = wide.join(first)
    return SessionsWide(wide.reset_index(drop=True), tuple(sessions), attended, repeated)


def longitudinal_syntax(
    groups: Mapping[str, Sequence[str]],
    sessions: Sequence[int],
    equal: Sequence[str] = (),
    released: Sequence[tuple[str, str]] = (),
) -> str:
    """The model at a level: ``equal`` the kinds held equal across sessions (loadings,
    intercepts, residuals), except the (kind, item) pairs ``released``."""
    free = set(released)

    def label(kind: str, item: str, prefix: str) -> str:
        return f"{prefix}_{item}*" if kind in equal and (kind, item) not in free else ""

    lines = []
    for s in sessions:
        for factor, items in groups.items():
            terms = [wide_name(items[0], s)] + [
                label("loadings", i, "L") + wide_name(i, s) for i in items[1:]
            ]
            lines.append(f"{wide_name(factor, s)} =~ " + " + ".join(terms))
    every = [i for items in groups.values() for i in items]
    for item in every:
        for k, s in enumerate(sessions):
            later = [wide_name(item, t) for t in sessions[k + 1 :]]
            own = label("residuals", item, "R") + wide_name(item, s)
            lines.append(f"{wide_name(item, s)} ~~ " + " + ".join([own, *later]))
    for s in sessions:
        lines += [f"{wide_name(i, s)} ~ {label('intercepts', i, 'I')}1" for i in every]
        if "intercepts" in equal and s != sessions[0]:
            lines += [f"{wide_name(f, s)} ~ 1" for f in groups]
    return "\n".join(lines)


@dataclass(frozen=True)
class LongitudinalResult(InvarianceResult):
    """The sequence over sessions: ``groups`` are the sessions and ``group_n`` the patients
    who attended each; ``patients`` the rows of the wide model."""

    patients: int = 0
    pillars: tuple[tuple[str, tuple[str, ...]], ...] = ()
    nesting: str = ""  # how the patients' own nesting (in clinicians) was treated

    @property
    def n(self) -> int:
        return self.patients

    def sentence(self) -> str:
        per = ", ".join(f"{g} {n}" for g, n in zip(self.groups, self.group_n, strict=True))
        return (
            f"{self.patients} patients with their sessions side by side ({per}); a session a "
            "patient did not attend, and an answer skipped, by FIML"
            + (f"; {self.nesting}" if self.nesting else "")
        )

    def item_parameters(self) -> tuple[str, pd.DataFrame]:
        """Per item and session, the parameter of the level that failed first (else the
        intercepts), from the level before it, as across groups."""
        name, source = self.shown_level()
        e = source.result.estimates
        kind, op = {
            "metric": ("loading", "=~"),
            "scalar": ("intercept", "~1"),
            "strict": ("residual variance", "~~"),
        }[name]
        rows = e[e["op"] == op]
        if op == "~~":
            rows = rows[rows["lhs"] == rows["rhs"]]
        item_column = "rhs" if op == "=~" else "lhs"
        table = pd.DataFrame(
            {
                "item": [base_name(str(v)) for v in rows[item_column]],
                "session": [str(v).rsplit(SUFFIX, 1)[1] for v in rows[item_column]],
                "est": rows["est"].to_numpy(float),
            }
        )
        table = table[table["item"].isin([i for _, items in self.pillars for i in items])]
        scalar = self.level("scalar")
        if op == "~1" and scalar is not None:
            # each session's factor mean taken out (nu - lambda alpha), so that items that
            # only follow the patients' change line up and an item that parts stands out
            s = scalar.result.estimates
            alpha = dict(zip(s[s["op"] == "~1"]["lhs"], s[s["op"] == "~1"]["est"], strict=True))
            loads = e[e["op"] == "=~"]
            shift = {
                str(item): float(lam) * float(alpha.get(factor, 0.0))
                for factor, item, lam in zip(loads["lhs"], loads["rhs"], loads["est"], strict=True)
            }
            wide = [
                wide_name(i, int(x)) for i, x in zip(table["item"], table["session"], strict=True)
            ]
            table = table.assign(est=table["est"] - [shift.get(w, 0.0) for w in wide])
            kind = "intercept, factor mean taken out"
        values = table.pivot_table(index="item", columns="session", values="est", sort=False)
        values.columns = [f"session {c}" for c in values.columns]
        return kind, values

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["over"] = "session"
        out["nesting"] = self.sentence()
        out["sample"]["patients"] = self.patients
        out["sample"]["sessions"] = [
            {"session": g, "patients": n} for g, n in zip(self.groups, self.group_n, strict=True)
        ]
        del out["sample"]["groups"]
        return out


def run_over_sessions(
    widened: SessionsWide,
    groups: Mapping[str, Sequence[str]],
    spec: FitSpec,
    *,
    partial: bool = True,
    progress: Any = None,
) -> LongitudinalResult:
    """Configural to strict over the sessions of ``widened``, as :func:`.invariance.run_invariance`
    across groups; ``spec`` is ML or MLR with FIML."""
    if spec.estimator not in ("ml", "mlr"):
        raise ModelError(
            "invariance over sessions is fitted by ML or MLR with FIML (a session a patient "
            f"missed is a block of missing answers); {spec.estimator.upper()} is not available."
        )
    if spec.group is not None:
        raise ModelError("invariance over sessions takes no group.")
    spec = replace(spec, missing="fiml")
    sessions = widened.sessions
    data = widened.wide
    configural = longitudinal_syntax(groups, sessions)
    _, stats = prepare(data, configural, spec)

    def fit(equal: tuple[str, ...], released: tuple[tuple[str, str], ...]) -> CFAResult:
        syntax = longitudinal_syntax(groups, sessions, equal, released)
        table = build_partable(syntax, meanstructure=True)
        return fit_model(data, syntax, spec, table=table, stats=stats, modindices=False)

    def release(level: str, best: pd.Series) -> tuple[Any, Callable[[CFAResult], Freed]]:
        op = str(best["op"])
        item = base_name(str(best["rhs"] if op == "=~" else best["lhs"]))
        factor = base_name(str(best["lhs"]))
        key = (str(best["kind"]), item)

        def freed(result: CFAResult) -> Freed:
            e = result.estimates
            estimates = {}
            for s in sessions:
                lhs = wide_name(factor if op == "=~" else item, s)
                rhs = "" if op == "~1" else wide_name(item, s)
                row = e[(e["lhs"] == lhs) & (e["op"] == op) & (e["rhs"] == rhs)]
                estimates[f"session {s}"] = float(row["est"].iloc[0])
            x2, df, p = float(best["X2"]), int(best["df"]), float(best["pvalue"])
            rhs = "" if op == "~1" else item
            return Freed(level, factor if op == "=~" else item, op, rhs, x2, df, p, estimates)

        return key, freed

    out, findings, first_failure = run_sequence(
        LEVELS, fit, release, _sentence, partial=partial, progress=progress
    )
    first = out[0].result
    return LongitudinalResult(
        model=configural,
        group="session",
        groups=tuple(f"session {s}" for s in sessions),
        group_n=widened.attended,
        estimator=spec.estimator,
        levels=tuple(out),
        first_failure=first_failure,
        left_out=dict(first.left_out),
        findings=tuple(findings),
        missing=first.missing_data(),
        patients=first.n,
        pillars=tuple((f, tuple(items)) for f, items in groups.items()),
    )


def _sentence(freed: Freed) -> str:
    """A freed parameter as a finding: the item and the sessions it differs in."""
    values = ", ".join(f"{g} {v:.2f}" for g, v in freed.estimates.items())
    return (
        f"{freed.level} invariance over sessions: the {freed.kind} of item {freed.item!r} "
        f"({freed.parameter}) changes across sessions (score test X2 = {freed.x2:.2f} on "
        f"{freed.df} df, {'p < .001' if freed.p < 0.001 else f'p = {freed.p:.3f}'}): {values}; "
        "freed at every session"
    )
