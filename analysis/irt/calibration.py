"""Calibrate an item bank on an export: one graded response model per subscale.

Each subscale of the form with at least :data:`MIN_ITEMS` items is calibrated on its own
(unidimensional, theta standard normal in the sample), on the rows the checks kept that
answered at least one of its items. Reverse-keyed items are turned around first, so that a
higher category is always the favourable one. An item's categories are the answers seen in
the sample: a code nobody chose has no threshold, and an answer in it later counts as the
nearest seen code below it (or the lowest).

Where the instrument declares its non-compensatory rule, each pillar's minimum (on the
item-mean metric, as scoring uses it) is carried to theta: the theta at which the expected
item mean over the pillar's items equals the minimum. The short form of a pillar is its
``short_items`` items with the most information at that theta, the rule's decision point.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from instrument import Form, Instrument

from ..choices import DEFAULT_SHORT_ITEMS
from ..fileio import atomic_write_text, read_yaml
from ..keying import keyed
from ..results import Reported
from .eap import eap
from .estimate import collapse, fit_grm
from .grm import NODES, WEIGHTS, information, probabilities
from .itemfit import Q3_FLAG, q3, q3_adjusted, s_x2

MIN_ITEMS = 3
MODEL_TEXT = (
    "graded response model (Samejima), logistic, one per subscale; marginal maximum "
    "likelihood by EM (Bock and Aitkin) over 61 quadrature nodes from -6 to 6, theta N(0, 1) "
    "in the calibration sample; standard errors from the cross-product of the patterns' "
    "scores; EAP scores"
)


@dataclass(frozen=True)
class ItemParameters:
    item: str
    codes: tuple[int, ...]  # the keyed answer codes of categories 0..K-1
    a: float
    d: tuple[float, ...]  # intercepts, decreasing
    se_a: float
    se_d: tuple[float, ...]
    se_b: tuple[float, ...]
    s_x2: float = float("nan")
    s_x2_df: int = 0
    s_x2_p: float = float("nan")
    s_x2_rmsea: float = float("nan")
    reverse: bool = False  # reverse-keyed in the bank: answers are turned before use
    scale_min: int = 1
    scale_max: int = 5

    @property
    def b(self) -> tuple[float, ...]:
        return tuple(-d / self.a for d in self.d)

    def category(self, keyed_codes: np.ndarray) -> np.ndarray:
        """Category indices of keyed answer codes (NaN -> -1)."""
        codes = np.asarray(self.codes, float)
        out = np.full(keyed_codes.shape, -1, dtype=np.int64)
        answered = ~np.isnan(keyed_codes)
        index = np.searchsorted(codes, keyed_codes[answered], side="right") - 1
        out[answered] = np.clip(index, 0, len(codes) - 1)
        return out

    def keyed(self, raw: np.ndarray) -> np.ndarray:
        """Raw answers as the model reads them (reverse-keyed items turned around)."""
        raw = np.asarray(raw, float)
        return self.scale_min + self.scale_max - raw if self.reverse else raw

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "codes": list(self.codes),
            "reverse": self.reverse,
            "scale": [self.scale_min, self.scale_max],
            "a": self.a,
            "d": list(self.d),
            "b": list(self.b),
            "se_a": self.se_a,
            "se_d": list(self.se_d),
            "se_b": list(self.se_b),
            "s_x2": _num(self.s_x2),
            "s_x2_df": self.s_x2_df,
            "s_x2_p": _num(self.s_x2_p),
            "s_x2_rmsea": _num(self.s_x2_rmsea),
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ItemParameters:
        low, high = doc.get("scale", [1, 5])
        return cls(
            item=str(doc["item"]),
            codes=tuple(int(c) for c in doc["codes"]),
            a=float(doc["a"]),
            d=tuple(float(v) for v in doc["d"]),
            se_a=_float(doc.get("se_a")),
            se_d=tuple(_float(v) for v in doc.get("se_d", [])),
            se_b=tuple(_float(v) for v in doc.get("se_b", [])),
            s_x2=_float(doc.get("s_x2")),
            s_x2_df=int(doc.get("s_x2_df") or 0),
            s_x2_p=_float(doc.get("s_x2_p")),
            s_x2_rmsea=_float(doc.get("s_x2_rmsea")),
            reverse=bool(doc.get("reverse", False)),
            scale_min=int(low),
            scale_max=int(high),
        )


def _num(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _float(x: Any) -> float:
    return float("nan") if x is None else float(x)


@dataclass(frozen=True)
class ScaleCalibration:
    """One subscale's calibration."""

    scale: str
    items: tuple[ItemParameters, ...]
    rows: int  # rows that answered at least one item
    rows_complete: int  # rows that answered every item (the S-X2 sample)
    loglik: float
    cycles: int
    converged: bool
    q3_pairs: tuple[tuple[str, str, float], ...]  # adjusted Q3 above the flag
    q3_max: float
    minimum: float | None = None  # the rule's minimum, item-mean metric
    theta_minimum: float | None = None
    short_form: tuple[str, ...] = ()

    @property
    def item_ids(self) -> tuple[str, ...]:
        return tuple(p.item for p in self.items)

    @property
    def slopes(self) -> np.ndarray:
        return np.array([p.a for p in self.items])

    @property
    def intercepts(self) -> tuple[np.ndarray, ...]:
        return tuple(np.array(p.d) for p in self.items)

    def categories(self, data: pd.DataFrame) -> np.ndarray:
        """Category indices (n x items, -1 unanswered) of the raw answers in ``data``; items
        the frame lacks are unanswered."""
        out = np.full((len(data), len(self.items)), -1, dtype=np.int64)
        for j, p in enumerate(self.items):
            if p.item in data:
                raw = pd.to_numeric(data[p.item], errors="coerce").to_numpy(float)
                out[:, j] = p.category(p.keyed(raw))
        return out

    def information(self, theta: np.ndarray, items: tuple[str, ...] | None = None) -> np.ndarray:
        """The information of the given items (all by default) at each theta."""
        chosen = self.items if items is None else [p for p in self.items if p.item in items]
        return np.asarray(sum(information(p.a, np.array(p.d), theta) for p in chosen))

    def expected_item_mean(self, theta: np.ndarray) -> np.ndarray:
        """The expected keyed answer averaged over the scale's items, at each theta."""
        total = np.zeros(len(theta))
        for p in self.items:
            probs = probabilities(p.a, np.array(p.d), theta)
            total += np.asarray(p.codes, float) @ probs
        return total / len(self.items)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "rows": self.rows,
            "rows_complete": self.rows_complete,
            "loglik": self.loglik,
            "cycles": self.cycles,
            "converged": self.converged,
            "q3_max": _num(self.q3_max),
            "q3_flagged": [{"items": [a, b], "q3_adjusted": v} for a, b, v in self.q3_pairs],
            "minimum": self.minimum,
            "theta_minimum": self.theta_minimum,
            "short_form": list(self.short_form),
            "items": [p.to_dict() for p in self.items],
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ScaleCalibration:
        return cls(
            scale=str(doc["scale"]),
            items=tuple(ItemParameters.from_dict(i) for i in doc["items"]),
            rows=int(doc.get("rows", 0)),
            rows_complete=int(doc.get("rows_complete", 0)),
            loglik=_float(doc.get("loglik")),
            cycles=int(doc.get("cycles", 0)),
            converged=bool(doc.get("converged", True)),
            q3_pairs=tuple(
                (str(q["items"][0]), str(q["items"][1]), float(q["q3_adjusted"]))
                for q in doc.get("q3_flagged", [])
            ),
            q3_max=_float(doc.get("q3_max")),
            minimum=None if doc.get("minimum") is None else float(doc["minimum"]),
            theta_minimum=None if doc.get("theta_minimum") is None else float(doc["theta_minimum"]),
            short_form=tuple(str(i) for i in doc.get("short_form", [])),
        )


@dataclass(frozen=True)
class Calibration(Reported):
    """A calibrated bank: what was calibrated, on what, when, and each subscale's result."""

    instrument: str
    version: str
    form: str | None
    source: str  # the export's file name
    sha256: str
    calibrated_on: str  # ISO date
    rows_in: int
    rows_usable: int
    scales: dict[str, ScaleCalibration]
    pillars: tuple[str, ...]  # the rule's pillars among the scales
    notes: tuple[str, ...] = ()
    model: str = MODEL_TEXT
    theta_correlations: dict[str, dict[str, float]] = field(default_factory=dict)

    def summary_lines(self) -> list[str]:
        from .text import calibration_lines

        return calibration_lines(self)

    def to_frame(self) -> pd.DataFrame:
        """One row per item: its subscale, slope a, thresholds b and their SEs, and S-X2 fit."""
        rows = []
        for name, s in self.scales.items():
            for p in s.items:
                doc = p.to_dict()
                row = {"scale": name, "item": p.item, "a": p.a, "se_a": p.se_a}
                row.update({f"b{k + 1}": v for k, v in enumerate(doc["b"])})
                row.update({k: doc[k] for k in ("s_x2", "s_x2_df", "s_x2_p", "s_x2_rmsea")})
                rows.append(row)
        return pd.DataFrame(rows).set_index("item")

    def to_dict(self) -> dict[str, Any]:
        return {
            "calibration": {
                "instrument": self.instrument,
                "version": self.version,
                "form": self.form,
                "source": self.source,
                "sha256": self.sha256,
                "date": self.calibrated_on,
                "rows_in": self.rows_in,
                "rows_usable": self.rows_usable,
                "model": self.model,
                "pillars": list(self.pillars),
                "notes": list(self.notes),
                "theta_correlations": self.theta_correlations,
            },
            "scales": {name: s.to_dict() for name, s in self.scales.items()},
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Calibration:
        head = doc["calibration"]
        return cls(
            instrument=str(head["instrument"]),
            version=str(head["version"]),
            form=head.get("form"),
            source=str(head.get("source", "")),
            sha256=str(head.get("sha256", "")),
            calibrated_on=str(head.get("date", "")),
            rows_in=int(head.get("rows_in", 0)),
            rows_usable=int(head.get("rows_usable", 0)),
            scales={
                str(k): ScaleCalibration.from_dict(v) for k, v in (doc.get("scales") or {}).items()
            },
            pillars=tuple(str(p) for p in head.get("pillars", [])),
            notes=tuple(str(n) for n in head.get("notes", [])),
            model=str(head.get("model", MODEL_TEXT)),
            theta_correlations={
                str(a): {str(b): float(v) for b, v in row.items()}
                for a, row in (head.get("theta_correlations") or {}).items()
            },
        )


def theta_at_item_mean(scale: ScaleCalibration, target: float) -> float | None:
    """The theta at which the scale's expected item mean is ``target`` (None when the target
    lies outside what the model can reach between theta -6 and 6)."""
    grid = np.linspace(-6.0, 6.0, 2401)
    means = scale.expected_item_mean(grid)
    if not means[0] <= target <= means[-1]:
        return None
    return float(np.interp(target, means, grid))


def short_form(scale: ScaleCalibration, at: float | None, k: int) -> tuple[str, ...]:
    """The ``k`` items with the most information at ``at`` (the rule's decision point), in
    bank order; with no decision point, the most information averaged over the population
    (theta standard normal)."""
    if at is None:
        values = [float(information(p.a, np.array(p.d), NODES) @ WEIGHTS) for p in scale.items]
    else:
        values = [float(information(p.a, np.array(p.d), np.array([at]))[0]) for p in scale.items]
    chosen = set(np.argsort(values)[::-1][: min(k, len(values))])
    return tuple(p.item for j, p in enumerate(scale.items) if j in chosen)


def answer_categories(values: np.ndarray) -> tuple[tuple[int, ...], np.ndarray]:
    """The codes seen in ``values`` (NaN missing), and each value's index among them (-1
    where missing): the categories a calibration uses."""
    seen = np.unique(values[~np.isnan(values)]).astype(int)
    cats = np.full(values.shape, -1, dtype=np.int64)
    answered = ~np.isnan(values)
    cats[answered] = np.searchsorted(seen, values[answered].astype(int))
    return tuple(int(c) for c in seen), cats


def calibrate_scale(
    data: pd.DataFrame,
    instrument: Instrument,
    scale: str,
    items: list[str],
    *,
    minimum: float | None = None,
    short_items: int = DEFAULT_SHORT_ITEMS,
) -> tuple[ScaleCalibration, np.ndarray, np.ndarray, list[str]]:
    """One subscale's calibration, the EAP theta of each row that answered it (NaN elsewhere)
    and the notes it raised (items left out)."""
    notes: list[str] = []
    block = keyed(data, instrument, items).to_numpy(float)
    columns: list[int] = []
    codes: list[tuple[int, ...]] = []
    cats: list[np.ndarray] = []
    for j, item in enumerate(items):
        seen, c = answer_categories(block[:, j])
        if len(seen) < 2:
            notes.append(
                f"{scale}: item {item!r} left out of the calibration: "
                f"{'no answers' if not seen else 'every answer is ' + str(seen[0])}."
            )
            continue
        columns.append(j)
        codes.append(seen)
        cats.append(c)
    kept = [items[j] for j in columns]
    if len(kept) < MIN_ITEMS:
        raise ValueError(
            f"{scale}: a graded response model needs at least {MIN_ITEMS} items with two or "
            f"more answers seen; got {len(kept)}."
        )
    answers = np.column_stack(cats)
    answered_any: np.ndarray = np.asarray((answers >= 0).any(axis=1))
    used = answers[answered_any]
    patterns = collapse(used, tuple(len(c) for c in codes))
    est = fit_grm(patterns)
    fits = s_x2(used, est.slopes, est.intercepts)
    theta_used, _ = eap(used, est.slopes, est.intercepts)
    q3_adj = q3_adjusted(q3(used, est.slopes, est.intercepts, theta_used))
    pairs = tuple(
        (kept[i], kept[j], float(q3_adj[i, j]))
        for i in range(len(kept))
        for j in range(i + 1, len(kept))
        if q3_adj[i, j] > Q3_FLAG
    )
    off = q3_adj[~np.eye(len(kept), dtype=bool)]
    params = []
    for j, item in enumerate(kept):
        cov = est.covariance[j]
        a = float(est.slopes[j])
        d = est.intercepts[j]
        se = np.sqrt(np.maximum(np.diag(cov), 0.0))
        # b = -d / a: gradient (d / a^2, -1 / a) over (a, d_k)
        se_b = []
        for k in range(len(d)):
            grad = np.zeros(len(cov))
            grad[0] = d[k] / a**2
            grad[1 + k] = -1.0 / a
            se_b.append(float(np.sqrt(max(grad @ cov @ grad, 0.0))))
        scale_def = instrument.scale_of(item)
        params.append(
            ItemParameters(
                item=item,
                codes=codes[j],
                a=a,
                d=tuple(float(v) for v in d),
                se_a=float(se[0]),
                se_d=tuple(float(v) for v in se[1:]),
                se_b=tuple(se_b),
                s_x2=fits[j].statistic,
                s_x2_df=fits[j].df,
                s_x2_p=fits[j].p,
                s_x2_rmsea=fits[j].rmsea,
                reverse=instrument.item(item).reverse,
                scale_min=scale_def.minimum if scale_def else min(codes[j]),
                scale_max=scale_def.maximum if scale_def else max(codes[j]),
            )
        )
    result = ScaleCalibration(
        scale=scale,
        items=tuple(params),
        rows=int(answered_any.sum()),
        rows_complete=int((used >= 0).all(axis=1).sum()),
        loglik=est.loglik,
        cycles=est.cycles,
        converged=est.converged,
        q3_pairs=pairs,
        q3_max=float(np.nanmax(off)) if len(off) else float("nan"),
        minimum=minimum,
    )
    theta_min = None if minimum is None else theta_at_item_mean(result, minimum)
    if minimum is not None and theta_min is None:
        notes.append(
            f"{scale}: the minimum {minimum:g} lies outside what the model reaches; the rule "
            "is not carried to theta for it."
        )
    result = replace(
        result, theta_minimum=theta_min, short_form=short_form(result, theta_min, short_items)
    )
    theta = np.full(len(data), np.nan)
    theta[answered_any] = theta_used
    return result, theta, answered_any, notes


def calibrate(
    data: pd.DataFrame,
    instrument: Instrument,
    form: str | None,
    *,
    minimums: dict[str, float],
    source: str,
    sha256: str,
    rows_in: int,
    short_items: int = DEFAULT_SHORT_ITEMS,
    progress: Callable[[str], None] | None = None,
    today: date | None = None,
) -> Calibration:
    """Calibrate every subscale of ``form`` (its items that are in ``data``, the usable rows)
    with at least :data:`MIN_ITEMS` items; ``minimums``: the rule's minimum per pillar."""
    if short_items < 1:
        raise ValueError(f"'short_items' must be at least 1; got {short_items}.")
    groups = instrument.subscale_items(form)
    scales: dict[str, ScaleCalibration] = {}
    thetas: dict[str, np.ndarray] = {}
    notes: list[str] = []
    for name, items in groups.items():
        present = [i for i in items if i in data.columns]
        if len(present) < MIN_ITEMS:
            notes.append(
                f"{name}: not calibrated, {len(present)} of its items are in the export "
                f"(at least {MIN_ITEMS} are needed)."
            )
            continue
        if progress is not None:
            progress(f"calibrating {name} ({len(present)} items) ...")
        result, theta, _, more = calibrate_scale(
            data, instrument, name, present, minimum=minimums.get(name), short_items=short_items
        )
        scales[name] = result
        thetas[name] = theta
        notes.extend(more)
    if not scales:
        raise ValueError(
            "nothing to calibrate: no subscale of the form has "
            f"{MIN_ITEMS} or more items in the export."
        )
    frame = pd.DataFrame(thetas)
    corr = frame.corr(min_periods=3)
    correlations = {
        a: {b: float(corr.loc[a, b]) for b in corr.columns if b != a} for a in corr.index
    }
    return Calibration(
        instrument=instrument.name,
        version=instrument.version,
        form=form,
        source=source,
        sha256=sha256,
        calibrated_on=(today or date.today()).isoformat(),
        rows_in=rows_in,
        rows_usable=len(data),
        scales=scales,
        pillars=tuple(p for p in instrument.rule_pillars if p in scales),
        notes=tuple(notes),
        theta_correlations=correlations,
    )


def node_grid() -> np.ndarray:
    """The theta grid figures and tables use: the quadrature nodes' span, finer."""
    return np.linspace(-4.0, 4.0, 161)


__all__ = [
    "DEFAULT_SHORT_ITEMS",
    "MIN_ITEMS",
    "Calibration",
    "ItemParameters",
    "ScaleCalibration",
    "answer_categories",
    "calibrate",
    "calibrate_scale",
    "information_curves",
    "load_calibration",
    "node_grid",
    "parameter_table",
    "save_calibration",
    "short_form",
    "short_form_of",
    "summary_table",
    "theta_at_item_mean",
]


def save_calibration(calibration: Calibration, path: str | Path) -> Path:
    """Write the calibration as YAML (atomically); returns its path."""
    header = (
        f"# Item calibration of {calibration.instrument} {calibration.version}, written by "
        "alliance calibrate. Item parameters in the slope-intercept form (a, d); b = -d / a.\n"
    )
    text = header + yaml.safe_dump(calibration.to_dict(), sort_keys=False, allow_unicode=True)
    return atomic_write_text(Path(path), text)


def load_calibration(path: Path) -> Calibration:
    """Read a calibration file; a file that is not one raises ValueError naming it."""
    doc = read_yaml(Path(path), ValueError, "no such calibration file")
    if not isinstance(doc, dict) or "calibration" not in doc or "scales" not in doc:
        raise ValueError(
            f"{path}: not a calibration file (alliance calibrate writes one): it needs "
            "'calibration' and 'scales'."
        )
    try:
        return Calibration.from_dict(doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: a calibration entry is missing or malformed: {exc}.") from None


def short_form_of(calibration: Calibration, instrument: Instrument) -> Form:
    """The calibration's short forms of every subscale, as one form of the bank (bank order),
    named ``<form>-irt-short``."""
    chosen = {i for s in calibration.scales.values() for i in s.short_form}
    base = calibration.form
    perspective = instrument.form(base).perspective if base else "patient"
    items = tuple(i.id for i in instrument.select(base) if i.id in chosen)
    per_scale = ", ".join(f"{n} {len(s.short_form)}" for n, s in calibration.scales.items())
    return Form(
        name=f"{base or calibration.instrument}-irt-short",
        items=items,
        perspective=perspective,
        label=f"Short form chosen by information ({per_scale} items)",
        description=(
            f"Each subscale's items with the most information at the rule's minimum (on "
            f"theta), or over the population outside the rule; calibrated on "
            f"{calibration.source} ({calibration.calibrated_on})."
        ),
    )


def information_curves(scale: ScaleCalibration, grid: np.ndarray | None = None) -> pd.DataFrame:
    """Information over theta: one column per item, ``bank`` (all items), ``short form``,
    and ``SE bank`` (the standard error the bank's information allows, 1 / sqrt(I) with the
    prior's 1 added); indexed by theta."""
    theta = node_grid() if grid is None else grid
    frame = pd.DataFrame(
        {p.item: information(p.a, np.array(p.d), theta) for p in scale.items},
        index=pd.Index(theta, name="theta"),
    )
    frame["bank"] = frame[list(scale.item_ids)].sum(axis=1)
    frame["short form"] = frame[list(scale.short_form)].sum(axis=1)
    frame["SE bank"] = 1.0 / np.sqrt(frame["bank"] + 1.0)
    return frame


def parameter_table(scale: ScaleCalibration) -> pd.DataFrame:
    """Item parameters with their SEs and fit, one row per item, for tables."""
    rows = []
    for p in scale.items:
        row: dict[str, Any] = {"item": p.item, "a": p.a, "SE a": p.se_a}
        for k, (b, se) in enumerate(zip(p.b, p.se_b, strict=True), start=1):
            row[f"b{k}"] = b
            row[f"SE b{k}"] = se
        row["S-X2"] = p.s_x2
        row["df"] = p.s_x2_df
        row["p"] = p.s_x2_p
        row["RMSEA"] = p.s_x2_rmsea
        row["short form"] = "yes" if p.item in scale.short_form else ""
        rows.append(row)
    return pd.DataFrame(rows).set_index("item")


def summary_table(calibration: Calibration) -> pd.DataFrame:
    """One row per subscale: its size, the minimum on theta, the information of the bank and
    of the short form there, and how many items misfit or pairs depend locally."""
    rows = []
    for name, scale in calibration.scales.items():
        at = scale.theta_minimum
        point = information_curves(scale, np.array([0.0 if at is None else at]))
        rows.append(
            {
                "scale": name,
                "items": len(scale.items),
                "rows": scale.rows,
                "EM cycles": scale.cycles,
                "minimum (theta)": at,
                "information there": None if at is None else float(point["bank"].iloc[0]),
                "short form": ", ".join(scale.short_form),
                "its information": None if at is None else float(point["short form"].iloc[0]),
                "S-X2 p < .01": sum(p.s_x2_p < 0.01 for p in scale.items),
                "Q3 flags": len(scale.q3_pairs),
            }
        )
    return pd.DataFrame(rows).set_index("scale")
