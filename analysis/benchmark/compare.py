"""Benchmark groups (clinicians or sites) from the clinic store, fairly and without exposing
anyone: aggregates are queries a backend answers (analysis/store/backends: DuckDB or Spark); the
mixed model is fitted from one row per patient.

Per group: patients, sessions, pillar means with 95% CIs (patients as clusters), the share of
decided sessions that are adequate under the non-compensatory rule (CI from the ratio
estimator with patients as clusters), and the pillar that fails most often. Fairness:
empirical-Bayes estimates of each pillar from the nested mixed model, the group ICC, the
reliability of each group's mean and the patients needed for .70 and .80. A funnel of the
share adequate against the number of decided sessions. Percentile ranks against a norms file
or the store's own history (every group-month with enough patients). Monthly trends.

Privacy: a group with fewer than ``min_n`` patients is left out of every output (only their
number is given); so is a month with fewer than ``min_n`` patients. No respondent id leaves
this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from ..choices import GROUPINGS
from ..mixed import NestedFit, PatientSummaries, fit_nested
from ..privacy import MIN_N_FLOOR, check_min_n, pseudonymize
from ..results import Reported
from ..store.backends import Backend, store_pillars
from ..store.disclosure import Cells, guard_all
from ..store.queries.groups import group_months, group_sums, patient_rows, session_totals
from ..store.queries.sessions import ALL, session_filter
from ..store.schema import StoreError
from ..wording import worded
from .funnel import Funnel, funnel

DEFAULT_MIN_N = MIN_N_FLOOR
RELIABILITY_TARGETS = (0.70, 0.80)
SHARE = "share_adequate"


@dataclass(frozen=True)
class GroupExtras:
    """What the clinic's monitor adds to a benchmark (analysis.clinic.benchmark): the alert
    rule and totals, per shown group its alert counts and agreement, and the overall
    agreement, each already guarded as the benchmark's own cells are."""

    rule: dict[str, Any]
    totals: dict[str, int] | None
    counts: pd.DataFrame  # per shown group: alert counts
    pairs: pd.DataFrame  # per shown group with enough paired patients: agreement
    overall: pd.DataFrame | None
    density: dict[str, Any]
    notes: list[str]


# Given the group column and the groups a benchmark shows, what to add to them (or None).
ExtrasFor = Callable[[str, list[str]], GroupExtras | None]


@dataclass(frozen=True)
class BenchmarkResult(Reported):
    pillars: tuple[str, ...]  # the rule's pillars, as the store's scores hold them
    by: str
    since: str | None
    min_n: int
    perspective: str
    patients: int | None  # None when the totals are withheld (see disclosure)
    sessions: int | None
    suppressed_groups: int
    groups: pd.DataFrame  # one row per shown group
    models: dict[str, dict[str, Any]]  # per pillar: variance components, ICC, patients needed
    funnel: Funnel | None
    trends: pd.DataFrame  # one row per shown month
    norms_source: str
    withheld_groups: int = 0  # shown by size, withheld against differencing
    adjusted_for: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    # Rupture alerts and patient-clinician agreement (analysis.monitor); None when the store
    # cannot give them (no measurement error recorded, another perspective).
    alert_rule: dict[str, Any] | None = None
    alert_totals: dict[str, int] | None = None
    agreement: pd.DataFrame | None = None  # per pillar, all paired sessions of the window
    agreement_density: dict[str, Any] = field(default_factory=dict)

    def pseudonymized(self, key: str) -> BenchmarkResult:
        """The same result with every group (clinician, site) named by its keyed pseudonym."""
        return replace(
            self, groups=self.groups.assign(group=pseudonymize(self.groups["group"], key))
        )

    def position(self, group: str) -> pd.DataFrame:
        """Per pillar: the group's shrunken (empirical-Bayes) estimate beside the other shown
        groups' lowest, median and highest, and how many they are."""
        own = self.groups["group"].astype(str) == group
        rows = {}
        for p in self.pillars:
            column = f"{p}_shrunken"
            if column not in self.groups:
                continue
            others = self.groups.loc[~own, column].dropna()
            mine = self.groups.loc[own, column].to_numpy(float)
            rows[p] = {
                "you": float(mine[0]) if own.any() else np.nan,
                "colleagues: lowest": float(others.min()) if len(others) else np.nan,
                "median": float(others.median()) if len(others) else np.nan,
                "highest": float(others.max()) if len(others) else np.nan,
                "colleagues": len(others),
            }
        table = pd.DataFrame.from_dict(rows, orient="index")  # a column keeps its type
        table.index.name = "pillar"
        return table

    def to_frame(self) -> pd.DataFrame:
        """One row per group shown: sizes, pillar means, shrunken estimates and flags."""
        return self.groups

    def summary(self) -> str:
        """The benchmark in plain text: totals, what was shown, suppressed and withheld, one
        row per group, and the notes."""
        g = self.groups
        pillars = [p for p in self.pillars if f"{p}_mean" in g]
        columns = {"group": g["group"], "patients": g["n_patients"], "sessions": g["n_sessions"]}
        for p in pillars:
            columns[p] = g[f"{p}_mean"].round(2)
            if f"{p}_shrunken" in g:
                columns[f"{p}_eb"] = g[f"{p}_shrunken"].round(2)
        columns["adequate"] = (100 * g["share_adequate"]).round(0)
        columns["fails_most"] = g["most_failed_pillar"].fillna("")
        if "funnel_flag" in g:
            columns["funnel"] = g["funnel_flag"]
        text = pd.DataFrame(columns).to_string(index=False) if len(g) else "(no group to show)"
        return (
            (
                f"{self.sessions:,} sessions, {self.patients:,} patients"
                if self.sessions is not None and self.patients is not None
                else "totals withheld"
            )
            + f"; {len(g)} groups shown, {self.suppressed_groups} suppressed (fewer than "
            f"{self.min_n} patients), {self.withheld_groups} withheld against differencing\n"
            f"{text}\n"
            + "".join(f"note: {n}\n" for n in self.notes)
            + (f"rupture {self.alert_rule['first_line']}\n" if self.alert_rule else "")
            + "eb: empirical-Bayes (shrunken) estimate; adequate: % of decided sessions.\n"
        )

    def to_dict(self) -> dict[str, Any]:
        groups = self.groups.replace({np.nan: None}).to_dict(orient="records")
        return {
            "by": self.by,
            "since": self.since,
            "perspective": self.perspective,
            "min_n": self.min_n,
            "patients": self.patients,
            "sessions": self.sessions,
            "groups": groups,
            "suppressed_groups": self.suppressed_groups,
            "withheld_groups": self.withheld_groups,
            "mixed_models": self.models,
            "adjusted_for": list(self.adjusted_for),
            "funnel": None
            if self.funnel is None
            else {
                "metric": "share_adequate",
                "target": self.funnel.target,
                "overdispersion": self.funnel.phi,
                "overdispersion_estimated": self.funnel.phi_estimated,
            },
            "percentile_reference": self.norms_source,
            "trends": self.trends.replace({np.nan: None}).to_dict(orient="records"),
            "alerts": None
            if self.alert_rule is None
            else {"rule": self.alert_rule, "totals": self.alert_totals},
            "agreement": None
            if self.agreement is None
            else self.agreement.replace({np.nan: None}).to_dict(orient="records"),
            "notes": self.notes,
        }


def _t_ci(mean: pd.Series, sd: pd.Series, k: pd.Series) -> tuple[pd.Series, pd.Series]:
    k_arr = k.to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = student_t.ppf(0.975, np.maximum(k_arr - 1, 1)) * sd.to_numpy(float) / np.sqrt(k_arr)
    half = np.where(k_arr > 1, half, np.nan)
    return mean - half, mean + half


def _ratio_ci(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Share a/n over patients (clusters) and its 95% CI from the ratio estimator's variance."""
    a, n = frame["sum_a"].to_numpy(float), frame["sum_n"].to_numpy(float)
    k = frame["k"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = a / n
        resid = frame["sum_aa"] - 2 * p * frame["sum_an"] + p**2 * frame["sum_nn"]
        var = np.where(k > 1, k / (k - 1) * resid.to_numpy(float) / n**2, np.nan)
    half = 1.959964 * np.sqrt(np.maximum(var, 0))
    return p, np.clip(p - half, 0, 1), np.clip(p + half, 0, 1)


def _clustered(
    backend: Backend,
    key: str,
    where: str,
    params: list[Any],
    pillars: list[str],
    min_patients: int = 0,
) -> pd.DataFrame:
    """Per value of ``key`` (a group column, a month): patients, sessions, pillar means with
    CIs and the share adequate with its CI, patients as clusters; and per pillar how many
    sessions fail it. Keys with fewer than ``min_patients`` patients are not returned."""
    table = group_sums(backend, key, where, params, pillars, min_patients)
    out = table[["key", "n_patients"]].copy()
    out["n_sessions"] = table["n_sessions"].astype("int64")
    for p in pillars:
        out[f"{p}_mean"] = table[f"{p}_mean"]
        out[f"{p}_ci_low"], out[f"{p}_ci_high"] = _t_ci(
            table[f"{p}_mean"], table[f"{p}_sd"], table[f"{p}_k"]
        )
    share, low, high = _ratio_ci(table)
    out["decided_sessions"] = table["sum_n"].astype("int64")
    out["adequate_sessions"] = table["sum_a"].astype("int64")
    out["share_adequate"] = share
    out["share_adequate_ci_low"], out["share_adequate_ci_high"] = low, high
    fail_counts = table[[f"{p}_fail" for p in pillars]].to_numpy(float)
    worst = np.argmax(fail_counts, axis=1) if len(table) else np.array([], dtype=int)
    out["most_failed_pillar"] = [
        pillars[w] if fail_counts[i, w] > 0 else None for i, w in enumerate(worst)
    ]
    return out


def _patient_summaries(
    backend: Backend,
    group: str,
    since: date | None,
    perspective: str,
    pillar: str,
    adjust: tuple[str, ...],
) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per patient of a pillar: group, sessions, mean, within sum of squares, and the
    patient's mean of each case-mix covariate (centred, so the intercept is an average
    patient)."""
    frame = patient_rows(backend, group, since, perspective, pillar, adjust)
    x = np.ones((len(frame), 1 + len(adjust)))
    for i, name in enumerate(adjust):
        values = frame[f"cov{i}"].to_numpy(float)
        if np.isnan(values).all():
            raise StoreError(
                f"case-mix column '{name}' has no numeric values in the store; only numeric "
                "covariates can adjust the comparison."
            )
        values = np.where(np.isnan(values), np.nanmean(values), values)
        x[:, 1 + i] = values - values.mean()
    return frame, x


def _fit_pillar(frame: pd.DataFrame, x: np.ndarray) -> tuple[NestedFit, pd.Index, np.ndarray]:
    codes, uniques = pd.factorize(frame["grp"].astype(str))
    if len(uniques) < 2:
        raise ValueError("the mixed model needs at least 3 patients in at least 2 groups.")
    summaries = PatientSummaries(
        group=codes.astype(np.int64),
        n=frame["n"].to_numpy(float),
        mean=frame["mean"].to_numpy(float),
        within_ss=frame["within_ss"].to_numpy(float),
        covariates=x,
        n_groups=len(uniques),
    )
    fit = fit_nested(summaries)
    sessions_per_patient = np.bincount(codes, weights=summaries.n) / np.bincount(codes)
    return fit, pd.Index(uniques), sessions_per_patient


def _history(
    backend: Backend,
    group: str,
    where: str,
    params: list[Any],
    pillars: list[str],
    min_n: int,
) -> pd.DataFrame:
    """Every group-month with at least ``min_n`` patients: the store's own reference."""
    return group_months(backend, group, where, params, pillars, min_n)


def _percentile(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    reference = np.sort(reference[np.isfinite(reference)])
    if len(reference) == 0:
        return np.full(len(values), np.nan)
    below = np.searchsorted(reference, values, side="left")
    at_or_below = np.searchsorted(reference, values, side="right")
    return 100.0 * (below + at_or_below) / 2 / len(reference)


def _trends(
    backend: Backend, where: str, params: list[Any], pillars: list[str], min_n: int
) -> pd.DataFrame:
    out = _clustered(backend, "date_trunc('month', date)", where, params, pillars, min_n)
    month = pd.to_datetime(out.pop("key")).dt.strftime("%Y-%m")
    out.insert(0, "month", month)
    return out.drop(columns=["most_failed_pillar"])


def load_norms(path: str | Path) -> pd.DataFrame:
    """A norms file: CSV, one row per reference group, a column per pillar (named as the
    instrument's pillars, e.g. bond, goals, tasks) and share_adequate; the columns that match
    the store's pillars are used (checked by :func:`run_benchmark`)."""
    try:
        frame = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise StoreError(f"{path}: cannot read the norms file: {exc}") from None
    out = frame.apply(pd.to_numeric, errors="coerce")
    out.attrs["source"] = str(path)
    if out.notna().sum().sum() == 0:
        raise StoreError(f"{path}: the norms file has no numeric values.")
    return out


def run_benchmark(
    backend: Backend,
    by: str,
    *,
    since: date | None = None,
    norms: pd.DataFrame | None = None,
    norms_source: str = "",
    min_n: int = DEFAULT_MIN_N,
    adjust: tuple[str, ...] = (),
    perspective: str = "patient",
    identifiable: bool = False,
    extras: ExtrasFor | None = None,
) -> BenchmarkResult:
    """Benchmark the store's groups (``by``: clinician_id or site_id); ``extras`` adds what
    the clinic's monitor knows of the shown groups (:func:`analysis.clinic.benchmark` passes
    the alerts and the agreement).

    Groups and months with fewer than ``min_n`` patients are suppressed, and every cell that
    would differ from a cell released before by fewer than ``min_n`` patients is withheld
    (:mod:`analysis.store.disclosure`); the connection must be writable to record what
    is released. ``identifiable`` allows ``min_n`` below :data:`DEFAULT_MIN_N` and skips the
    differencing guard, for output that stays with the clinic's own staff.
    """
    if by not in GROUPINGS:
        raise StoreError(worded(f"`by` must be one of {', '.join(GROUPINGS)}; got {by!r}."))
    check_min_n(min_n, identifiable)
    group = GROUPINGS[by]
    pillars = store_pillars(backend)
    metrics = (*pillars, SHARE)
    if norms is not None and not any(m in norms.columns for m in metrics):
        raise StoreError(
            f"{norms.attrs.get('source', 'the norms file')}: a norms file needs at least one "
            f"column named {', '.join(metrics)}; found {', '.join(map(str, norms.columns))}."
        )
    where, params = session_filter(since, perspective)
    totals = session_totals(backend, where, params)
    if not totals[1]:
        raise StoreError(
            "no stored sessions match"
            + (f" since {since}" if since else "")
            + f" for the {perspective} perspective."
        )
    groups = _clustered(backend, group, where, params, pillars).rename(columns={"key": "group"})
    groups["group"] = groups["group"].astype(str)
    shown = groups["n_patients"] >= min_n
    suppressed = int((~shown).sum())
    notes: list[str] = []
    request = f"by={group} since={since} perspective={perspective} min_n={min_n}"
    month = backend.month("date")
    trends = _trends(backend, where, params, pillars, min_n)
    withheld_groups: set[str] = set()
    withheld_months: set[str] = set()
    totals_withheld = False
    if not identifiable:
        withheld_groups, withheld_months, withheld_totals = guard_all(
            backend,
            [
                Cells(f"group:{group}", group, tuple(groups.loc[shown, "group"])),
                Cells("month", month, tuple(trends["month"])),
                Cells("total", ALL, ("all",)),
            ],
            where,
            params,
            min_n,
            request,
        )
        totals_withheld = bool(withheld_totals)
    if withheld_groups or withheld_months or totals_withheld:
        notes.append(
            f"{len(withheld_groups)} groups, {len(withheld_months)} months"
            + (" and the totals" if totals_withheld else "")
            + f" withheld: each would differ from an output released before by fewer than "
            f"{min_n} patients, so the two together could show those patients."
        )
    shown &= ~groups["group"].isin(withheld_groups)
    trends = trends[~trends["month"].isin(withheld_months)].reset_index(drop=True)
    models: dict[str, dict[str, Any]] = {}
    for p in [] if totals_withheld else pillars:
        frame, x = _patient_summaries(backend, group, since, perspective, p, adjust)
        try:
            fit, index, sessions_per_patient = _fit_pillar(frame, x)
        except ValueError as exc:
            notes.append(f"{p}: no mixed model ({exc})")
            continue
        mean_sessions = float(frame["n"].mean())
        effects = pd.Series(fit.beta[0] + fit.group_effect, index=index)
        ses = pd.Series(fit.group_effect_se, index=index)
        k = frame.groupby(frame["grp"].astype(str)).size()
        m = pd.Series(sessions_per_patient, index=index)
        rel = pd.Series([fit.reliability(k[g], m[g]) for g in index], index=index, dtype=float)
        groups[f"{p}_shrunken"] = groups["group"].map(effects)
        groups[f"{p}_shrunken_se"] = groups["group"].map(ses)
        groups[f"{p}_reliability"] = groups["group"].map(rel)
        models[p] = {
            "intercept": float(fit.beta[0]),
            "covariate_effects": dict(zip(adjust, map(float, fit.beta[1:]), strict=True)),
            "var_group": fit.tau2_group,
            "var_patient": fit.tau2_patient,
            "var_session": fit.sigma2,
            "icc_group": fit.icc_group,
            "mean_sessions_per_patient": mean_sessions,
            **{
                f"patients_for_{target:.2f}": fit.patients_for(target, mean_sessions)
                for target in RELIABILITY_TARGETS
            },
            "converged": fit.converged,
        }
        if not fit.converged:
            notes.append(f"{p}: the mixed model did not converge; treat its estimates with care.")

    groups = groups[shown].reset_index(drop=True)
    fun: Funnel | None = None
    decided = groups["decided_sessions"].to_numpy(float)
    if len(groups) and decided.sum() > 0:
        fun = funnel(groups["adequate_sessions"].to_numpy(float), decided)
        groups["funnel_z"] = fun.z
        groups["funnel_flag"] = fun.outside
    alerts = None if extras is None else extras(group, list(groups["group"]))
    if alerts is not None:
        for table in (alerts.counts, alerts.pairs):
            if len(table):
                groups = groups.merge(table, on="group", how="left")
        notes.extend(alerts.notes)
    if norms is not None:
        reference = norms
        source = norms_source or "norms file"
    else:
        reference = _history(backend, group, where, params, pillars, min_n)
        source = f"the store's own history ({len(reference)} {by} months)"
    for metric in metrics:
        value_col = metric if metric == SHARE else f"{metric}_mean"
        if metric in reference.columns and value_col in groups.columns:
            groups[f"{metric}_percentile"] = _percentile(
                groups[value_col].to_numpy(float), reference[metric].to_numpy(float)
            )
    return BenchmarkResult(
        pillars=tuple(pillars),
        by=group,
        since=since.isoformat() if since else None,
        min_n=min_n,
        perspective=perspective,
        patients=None if totals_withheld else int(totals[0]),
        sessions=None if totals_withheld else int(totals[1]),
        suppressed_groups=suppressed,
        withheld_groups=len(withheld_groups),
        groups=groups,
        models=models,
        funnel=fun,
        trends=trends,
        norms_source=source,
        adjusted_for=adjust,
        notes=notes,
        alert_rule=None if alerts is None else alerts.rule,
        alert_totals=None if alerts is None else alerts.totals,
        agreement=None if alerts is None else alerts.overall,
        agreement_density={} if alerts is None else alerts.density,
    )
