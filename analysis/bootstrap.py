"""Percentile bootstrap intervals for the numbers that judge a CFA's subscales: omega, CR and
AVE per factor and HTMT between factors, which researchers ask semTools for.

Each draw resamples the units with replacement: the rows, or, when rows nest (a patient's
sessions), whole clusters, so that a patient's sessions stay together. It refits the model with
the same :class:`~analysis.cfa.FitSpec` (the estimates only: the clusters change the standard
errors, not the estimates) and recomputes the numbers as :func:`analysis.validate.validate`
does. A draw that does not converge, or cannot be fitted (an item with one answer in the draw),
is counted and left out. The interval is the 2.5th and 97.5th percentiles of the other draws
(R's default quantile, type 7). Every draw is made from the seed before any is fitted, so the
intervals do not depend on how many processes fit them; by default two do.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from .cfa import CFAResult, FitSpec, ModelError, fit_model
from .choices import ORDINAL_ESTIMATORS
from .validity import factor_reliability, htmt, ordinal_reliability

LEVEL = 0.95
WORKERS = 2  # the machine's cores
CHUNK = 8  # draws per task: the progress bar moves this often
STATISTICS = ("omega_total", "composite_reliability", "ave", "omega_ordinal")
Progress = Callable[[int, int], None]  # (draws done, draws in all)


@dataclass(frozen=True)
class Bootstrap:
    """What a user asks for: ``draws`` resamples from ``seed`` (None: a seed is chosen and
    reported, so that the run can be repeated)."""

    draws: int
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.draws < 2:
            raise ValueError(f"'bootstrap' needs at least 2 draws; got {self.draws}.")


@dataclass(frozen=True)
class BootstrapIntervals:
    """The numbers of each draw that converged (``values``: one column per statistic, named
    ``statistic:factor`` or ``htmt:a~b``), the estimates on the data themselves, and how the
    draws were made."""

    draws: int
    seed: int
    failed: int
    unit: str  # 'row', or the column whose clusters were resampled whole
    units: int
    estimates: dict[str, float]
    values: pd.DataFrame = field(repr=False)

    def interval(self, name: str) -> tuple[float, float]:
        column = self.values[name].dropna().to_numpy() if name in self.values else np.array([])
        if len(column) < 2:
            return float("nan"), float("nan")
        tail = (1 - LEVEL) / 2 * 100
        low, high = np.percentile(column, [tail, 100 - tail])
        return float(low), float(high)

    def to_dict(self) -> dict[str, Any]:
        factors: dict[str, dict[str, Any]] = {}
        pairs: dict[str, Any] = {}
        for name, estimate in self.estimates.items():
            kind, what = name.split(":", 1)
            entry = {"estimate": estimate, "ci": list(self.interval(name))}
            if kind == "htmt":
                pairs[what] = entry
            else:
                factors.setdefault(what, {})[kind] = entry
        return {
            "draws": self.draws,
            "seed": self.seed,
            "failed": self.failed,
            "resampled": self.unit,
            "units": self.units,
            "level": LEVEL,
            "method": "percentile",
            "reliability": factors,
            "htmt": pairs,
        }

    def sentence(self) -> str:
        """How the draws were made and how many count, in words."""
        unit = (
            "rows"
            if self.unit == "row"
            else f"clusters of {self.unit} (each one's rows resampled together)"
        )
        used = self.draws - self.failed
        text = (
            f"{self.draws:,} draws of the {self.units:,} {unit}, seed {self.seed}; 95% "
            f"percentile intervals from the {used:,} that converged"
        )
        if self.failed:
            text += f" ({self.failed:,} did not and are left out)"
        return text

    def lines(self) -> list[str]:
        out = [f"bootstrap: {self.sentence()}"]
        doc = self.to_dict()
        labels = {
            "omega_ordinal": "omega (ordinal)",
            "omega_total": "omega",
            "composite_reliability": "CR",
            "ave": "AVE",
        }
        for factor, stats in doc["reliability"].items():
            parts = [
                f"{labels[k]} {_three(v['estimate'])} {_ci(v['ci'])}"
                for k, v in stats.items()
                if k in labels
            ]
            out.append(f"  {factor}: " + ", ".join(parts))
        for pair, v in doc["htmt"].items():
            out.append(f"  HTMT {pair.replace('~', '-')}: {_three(v['estimate'])} {_ci(v['ci'])}")
        return out


def _three(value: float) -> str:
    return "NA" if not np.isfinite(value) else f"{value:.3f}"


def _ci(ci: Sequence[float]) -> str:
    return f"[{_three(ci[0])}, {_three(ci[1])}]"


def statistics(result: CFAResult, source: pd.DataFrame) -> dict[str, float]:
    """omega, CR and AVE per factor (and the categorical omega when every item is ordinal),
    and HTMT between each pair of factors, as :func:`analysis.validate.validate` gives them."""
    out: dict[str, float] = {}
    reliability = factor_reliability(result)
    if result.estimator in ORDINAL_ESTIMATORS and result.spec.ordered is None:
        for factor, values in ordinal_reliability(result).items():
            reliability[factor]["omega_ordinal"] = values["omega_ordinal"]
    for factor, values in reliability.items():
        for kind in STATISTICS:
            if kind in values:
                out[f"{kind}:{factor}"] = float(values[kind])
    loadings = result.loadings
    groups = {f: list(loadings[loadings["lhs"] == f]["rhs"]) for f in result.latent}
    if len(groups) > 1:
        table = htmt(source, groups)
        names = list(groups)
        for a in range(len(names)):
            for b in range(a + 1, len(names)):
                out[f"htmt:{names[a]}~{names[b]}"] = float(table.to_numpy()[a, b])
    return out


def resample(units: int, draws: int, seed: int) -> np.ndarray:
    """``draws`` x ``units`` unit indices, drawn with replacement."""
    return np.random.default_rng(seed).integers(0, units, size=(draws, units))


def run_bootstrap(
    result: CFAResult,
    source: pd.DataFrame,
    request: Bootstrap,
    *,
    clusters: np.ndarray | None = None,
    cluster_name: str | None = None,
    samples: np.ndarray | None = None,
    workers: int = WORKERS,
    progress: Progress | None = None,
) -> BootstrapIntervals:
    """Intervals for :func:`statistics` of ``result``, fitted to ``source``. ``clusters``: each
    row's cluster, resampled whole. ``samples``: the draws' units already made (draws x units;
    the seed is then only reported)."""
    if result.group_column is not None:
        raise ModelError("bootstrap intervals are for a model of one group; leave out 'group'.")
    seed = request.seed
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31))
    if clusters is not None:
        codes, _ = pd.factorize(pd.Series(clusters), use_na_sentinel=True)
        alone = codes < 0  # a row without a cluster is a unit of its own
        codes[alone] = codes.max() + 1 + np.arange(int(alone.sum()))
        order = np.argsort(codes, kind="stable")
        members = np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)
        unit = cluster_name or "cluster"
    else:
        members = None
        unit = "row"
    n_units = len(members) if members is not None else len(source)
    if samples is None:
        samples = resample(n_units, request.draws, seed)
    spec = replace(result.spec, cluster=None, choice=None, notes=())
    job = _Job(source, result.model, spec, members)
    chunks = [samples[k : k + CHUNK] for k in range(0, len(samples), CHUNK)]
    found: list[dict[str, float] | None] = [None] * len(samples)
    done = 0
    if workers <= 1 or len(chunks) == 1:
        for k, chunk in enumerate(chunks):
            found[k * CHUNK : k * CHUNK + len(chunk)] = job.run(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, len(samples))
    else:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(
            workers, mp_context=context, initializer=_start, initargs=(job,)
        ) as pool:
            futures = {pool.submit(_run, chunk): k for k, chunk in enumerate(chunks)}
            for future in as_completed(futures):
                k = futures[future]
                part = future.result()
                found[k * CHUNK : k * CHUNK + len(part)] = part
                done += len(part)
                if progress is not None:
                    progress(done, len(samples))
    good = [v for v in found if v is not None]
    estimates = statistics(result, source)
    values = pd.DataFrame(good, columns=list(estimates))
    return BootstrapIntervals(
        len(samples), seed, len(samples) - len(good), unit, n_units, estimates, values
    )


@dataclass(frozen=True)
class _Job:
    """What every draw needs: the data, the model, how it is fitted, and each cluster's rows."""

    source: pd.DataFrame
    model: str
    spec: FitSpec
    members: list[np.ndarray] | None

    def run(self, draws: np.ndarray) -> list[dict[str, float] | None]:
        return [self.one(draw) for draw in draws]

    def one(self, draw: np.ndarray) -> dict[str, float] | None:
        rows = draw if self.members is None else np.concatenate([self.members[u] for u in draw])
        data = self.source.iloc[rows].reset_index(drop=True)
        try:
            fit = fit_model(data, self.model, self.spec, modindices=False, assess=False)
        except (ModelError, np.linalg.LinAlgError, ValueError):
            return None
        if not fit.converged:
            return None
        return statistics(fit, data)


_JOB: _Job | None = None


def _start(job: _Job) -> None:
    global _JOB
    _JOB = job


def _run(draws: np.ndarray) -> list[dict[str, float] | None]:
    assert _JOB is not None
    return _JOB.run(draws)
