"""Adaptive testing simulated on a calibrated bank, pillar by pillar.

Each respondent starts at the prior (theta 0, SE 1). At each step the item with the most
Fisher information at the current EAP is given, the answer is taken (from the respondent's
real answers in an export, or drawn from the model for simulated respondents), and the EAP and
its SE are updated. A pillar stops once at least ``min_items`` items were given and the SE is
below ``se``, or at ``max_items``, or when no item is left.

The defaults follow PROMIS's published rules where they fit: at least 4 items, stop at
SE < 0.3 (3 points on the T metric). PROMIS caps at 12 items; its banks hold 30 or more items,
and a bank of 8 items per pillar stops at 6, so that an adaptive form always saves at least two
items over the full bank.

The outcome is compared with the full bank: the correlation of the two EAPs, and how often the
non-compensatory classification on theta (every pillar at or above its minimum) agrees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..results import Reported
from .calibration import Calibration, ScaleCalibration
from .eap import eap, posterior_moments
from .grm import NODES, information, probabilities

DEFAULT_SE, DEFAULT_MIN, DEFAULT_MAX = 0.3, 4, 6


@dataclass(frozen=True)
class StopRule:
    se: float = DEFAULT_SE
    min_items: int = DEFAULT_MIN
    max_items: int = DEFAULT_MAX

    def __post_init__(self) -> None:
        if not self.se > 0:
            raise ValueError(f"'se' must be above 0; got {self.se}.")
        if self.min_items < 1:
            raise ValueError(f"'min' must be at least 1; got {self.min_items}.")
        if self.max_items < self.min_items:
            raise ValueError(
                f"'max' must be at least 'min' ({self.min_items}); got {self.max_items}."
            )

    def text(self) -> str:
        return (
            f"stop at SE < {self.se:g} after at least {self.min_items} items, or at "
            f"{self.max_items} items"
        )

    @classmethod
    def parse(cls, text: str) -> StopRule:
        """``se=0.3,min=4,max=6`` (any of the three, in any order)."""
        values: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            match = re.fullmatch(r"(se|min|max)\s*=\s*([0-9.]+)", part)
            if match is None:
                raise ValueError(
                    f"'stop' takes se=NUMBER, min=N and max=N separated by commas, e.g. "
                    f"se=0.3,max=6; got {part!r}."
                )
            key, value = match.groups()
            try:
                values[key] = float(value) if key == "se" else int(value)
            except ValueError:
                raise ValueError(f"'stop': {key} must be a number; got {value!r}.") from None
        return cls(
            se=values.get("se", DEFAULT_SE),
            min_items=values.get("min", DEFAULT_MIN),
            max_items=values.get("max", DEFAULT_MAX),
        )


@dataclass(frozen=True)
class AdaptiveRun:
    theta: np.ndarray
    se: np.ndarray
    items_used: np.ndarray  # per respondent
    order: np.ndarray  # (n, max_items) item indices given, -1 after the stop


def _log_probs(scale: ScaleCalibration) -> np.ndarray:
    """(items, max categories, nodes), padded with 0."""
    k_max = max(len(p.codes) for p in scale.items)
    out = np.zeros((len(scale.items), k_max, len(NODES)))
    for i, p in enumerate(scale.items):
        out[i, : len(p.codes)] = np.log(probabilities(p.a, np.array(p.d), NODES))
    return out


def run_adaptive(scale: ScaleCalibration, answers: np.ndarray, rule: StopRule) -> AdaptiveRun:
    """Adaptive administration of one scale to every row of ``answers`` (category indices,
    -1 where the respondent gave no answer: that item cannot be given to them)."""
    n, n_items = answers.shape
    steps = min(rule.max_items, n_items)
    info = np.vstack([information(p.a, np.array(p.d), NODES) for p in scale.items])
    log_p = _log_probs(scale)
    loglik = np.zeros((n, len(NODES)))
    used = np.zeros((n, n_items), dtype=bool)
    done = np.zeros(n, dtype=bool)
    theta, se = np.zeros(n), np.ones(n)
    order = np.full((n, steps), -1, dtype=np.int64)
    rows = np.arange(n)
    for step in range(steps):
        at = np.column_stack([np.interp(theta, NODES, info[i]) for i in range(n_items)])
        at[used | (answers < 0)] = -np.inf
        choice = np.argmax(at, axis=1)
        give = ~done & np.isfinite(at[rows, choice])
        idx = rows[give]
        item = choice[give]
        loglik[idx] += log_p[item, answers[idx, item]]
        used[idx, item] = True
        order[idx, step] = item
        theta[idx], se[idx] = posterior_moments(loglik[idx])
        count = used.sum(axis=1)
        done |= ~give | ((count >= rule.min_items) & (se < rule.se)) | (count >= rule.max_items)
        if done.all():
            break
    return AdaptiveRun(theta, se, used.sum(axis=1), order)


def simulate_answers(
    calibration: Calibration, n: int, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Simulated respondents: thetas per scale drawn jointly normal with the correlations of
    the calibration sample's EAPs, and their answers (category indices) drawn from the model."""
    rng = np.random.default_rng(seed)
    names = list(calibration.scales)
    corr = np.eye(len(names))
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if i != j:
                corr[i, j] = calibration.theta_correlations.get(a, {}).get(b, 0.0)
    values, vectors = np.linalg.eigh(corr)
    corr = vectors @ np.diag(np.maximum(values, 1e-6)) @ vectors.T
    thetas = rng.multivariate_normal(np.zeros(len(names)), corr, size=n)
    answers = {}
    for j, name in enumerate(names):
        scale = calibration.scales[name]
        block = np.zeros((n, len(scale.items)), dtype=np.int64)
        for i, p in enumerate(scale.items):
            star = 1.0 / (1.0 + np.exp(-(p.a * thetas[:, [j]] + np.array(p.d)[None, :])))
            block[:, i] = (rng.uniform(size=(n, 1)) < star).sum(axis=1)
        answers[name] = block
    return {name: thetas[:, j] for j, name in enumerate(names)}, answers


@dataclass(frozen=True)
class AdaptiveResult(Reported):
    """An adaptive simulation's outcome against the full bank and the fixed short forms."""

    rule: StopRule
    source: str  # 'export' or 'simulated'
    respondents: int
    per_scale: pd.DataFrame  # index scale
    items_used: pd.DataFrame  # index scale, columns 1..max: share of respondents
    classification: dict[str, Any]  # adaptive and short form against the full bank

    def summary_lines(self) -> list[str]:
        from .text import adaptive_lines

        return adaptive_lines(self)

    def to_frame(self) -> pd.DataFrame:
        """One row per subscale: items used, correlation with the full bank and its SE."""
        return self.per_scale

    def to_dict(self) -> dict[str, Any]:
        return {
            "stop_rule": {
                "se": self.rule.se,
                "min_items": self.rule.min_items,
                "max_items": self.rule.max_items,
                "text": self.rule.text(),
            },
            "source": self.source,
            "respondents": self.respondents,
            "scales": self.per_scale.reset_index().replace({np.nan: None}).to_dict("records"),
            "items_used_share": {
                str(k): {str(c): float(v) for c, v in row.items()}
                for k, row in self.items_used.iterrows()
            },
            "classification": self.classification,
        }


def _kappa(a: np.ndarray, b: np.ndarray) -> float:
    agree = float(np.mean(a == b))
    pa, pb = float(np.mean(a)), float(np.mean(b))
    chance = pa * pb + (1 - pa) * (1 - pb)
    return float("nan") if chance >= 1 else (agree - chance) / (1 - chance)


def compare_adaptive(
    calibration: Calibration,
    answers: dict[str, np.ndarray],
    rule: StopRule,
    source: str,
) -> AdaptiveResult:
    """Adaptive testing, the fixed short form and the full bank, on the same answers."""
    rows = []
    used_share = {}
    passes: dict[str, dict[str, np.ndarray]] = {"full": {}, "adaptive": {}, "short": {}}
    scored = None
    for name, scale in calibration.scales.items():
        block = answers[name]
        answered = (block >= 0).any(axis=1)
        full_theta, full_se = eap(block, scale.slopes, scale.intercepts)
        run = run_adaptive(scale, block, rule)
        short_idx = [i for i, p in enumerate(scale.items) if p.item in scale.short_form]
        short_block = np.full_like(block, -1)
        short_block[:, short_idx] = block[:, short_idx]
        short_theta, _ = eap(short_block, scale.slopes, scale.intercepts)
        ok = answered
        scored = ok if scored is None else scored & ok
        rmse = float(np.sqrt(np.mean((run.theta[ok] - full_theta[ok]) ** 2)))
        rows.append(
            {
                "scale": name,
                "bank_items": len(scale.items),
                "mean_items_used": float(run.items_used[ok].mean()),
                "median_items_used": float(np.median(run.items_used[ok])),
                "mean_se_adaptive": float(run.se[ok].mean()),
                "mean_se_full": float(full_se[ok].mean()),
                "correlation_with_full": float(np.corrcoef(run.theta[ok], full_theta[ok])[0, 1]),
                "rmse_vs_full": rmse,
                "short_form_items": len(short_idx),
                "short_form_correlation_with_full": float(
                    np.corrcoef(short_theta[ok], full_theta[ok])[0, 1]
                )
                if short_idx
                else float("nan"),
            }
        )
        counts = np.bincount(run.items_used[ok], minlength=rule.max_items + 1)
        used_share[name] = {
            k: float(counts[k] / ok.sum()) for k in range(1, len(counts)) if counts[k]
        }
        if scale.theta_minimum is not None and name in calibration.pillars:
            m = scale.theta_minimum
            passes["full"][name] = full_theta >= m
            passes["adaptive"][name] = run.theta >= m
            passes["short"][name] = short_theta >= m
    classification: dict[str, Any] = {}
    pillars = list(passes["full"])
    mask = scored if scored is not None else np.zeros(0, dtype=bool)
    if pillars and mask.any():
        full = np.all([passes["full"][p][mask] for p in pillars], axis=0)
        for kind in ("adaptive", "short"):
            if any(not calibration.scales[p].short_form for p in pillars) and kind == "short":
                continue
            other = np.all([passes[kind][p][mask] for p in pillars], axis=0)
            classification[kind] = {
                "agreement": float(np.mean(full == other)),
                "kappa": _kappa(full, other),
                "adequate_full": float(np.mean(full)),
                "adequate": float(np.mean(other)),
                "per_pillar_agreement": {
                    p: float(np.mean(passes["full"][p][mask] == passes[kind][p][mask]))
                    for p in pillars
                },
            }
        classification["pillars"] = pillars
        classification["respondents"] = int(mask.sum())
    table = pd.DataFrame(rows).set_index("scale")
    shares = pd.DataFrame(used_share).T.fillna(0.0).sort_index(axis=1)
    return AdaptiveResult(
        rule, source, len(next(iter(answers.values()))), table, shares, classification
    )
