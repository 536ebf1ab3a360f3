"""Validate an instrument's structure on an export: reliability, EFA, competing CFA models.

Every instrument gets one factor, its subscales as correlated factors (the hypothesized model)
and a bifactor model (a general factor plus orthogonal specific factors, identified by unit
factor variances); an instrument may declare further competing models (the built-in bank:
bond against agreement on goals and tasks). A model string given by the user is the
hypothesized model. The subscales analysed are the rule's pillars when the instrument declares
a rule, else all its subscales in the data.

Items are reverse-keyed before fitting (so loadings read in one direction), except for a model
string, which is fitted to the columns as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from instrument import Instrument
from instrument.syntax import has_levels, parse_model, split_levels

from .bootstrap import Bootstrap, BootstrapIntervals, run_bootstrap
from .bootstrap import Progress as BootstrapProgress
from .cfa import CFAResult, FitRequest, ModelError, fit_model
from .cfa.auto import EstimatorChoice
from .cfa.compare import chisq_difference
from .cfa.fitkeys import BESIDE, HEADLINE
from .cfa.partable import variables
from .cfa.twolevel import TwoLevelResult, fit_twolevel
from .choices import (
    ORDINAL_ESTIMATORS,
    PARALLEL_ITERATIONS,
    EfaMethod,
    Estimator,
    LevelStructure,
    MissingMethod,
)
from .efa import Correlation, EFAResult, ParallelKind, run_efa
from .keying import ceiling_shares, keyed
from .results import Reported
from .sample import Sample
from .validity import (
    factor_reliability,
    fornell_larcker,
    htmt,
    item_reliability,
    omega_hierarchical,
    ordinal_reliability,
)

HYPOTHESIZED = "hypothesized"
BETWEEN_SUFFIX = "_between"  # a pillar's factor between clusters, in the built-in level models
ONE_BETWEEN = "overall"  # the one factor between clusters (levels='one')
HTMT_GUIDELINE = 0.85  # Henseler, Ringle & Sarstedt (2015): above it, two constructs blur
# Hu & Bentler (1999) cut-offs, reported as guidelines rather than rules.
GUIDELINES = (("cfi", ">=", 0.95), ("tli", ">=", 0.95), ("rmsea", "<=", 0.06), ("srmr", "<=", 0.08))


@dataclass(frozen=True)
class ModelSpec:
    name: str
    syntax: str
    std_lv: bool = False
    orthogonal: bool = False


def _line(factor: str, items: list[str]) -> str:
    return f"{factor} =~ {' + '.join(items)}"


def competing_models(
    groups: dict[str, list[str]],
    declared: Mapping[str, Mapping[str, tuple[str, ...]]] | None = None,
) -> list[ModelSpec]:
    """The models to compare, the hypothesized (correlated subscales) among them, with the
    instrument's ``declared`` models (factor -> subscales it joins) that the data can hold."""
    all_items = [i for ids in groups.values() for i in ids]
    correlated = "\n".join(_line(f, ids) for f, ids in groups.items())
    specs = [ModelSpec("one_factor", _line("general", all_items))]
    for name, factors in (declared or {}).items():
        joined = {f: [i for s in parts for i in groups.get(s, [])] for f, parts in factors.items()}
        covered = {s for parts in factors.values() for s in parts}
        if covered == set(groups) and all(joined.values()):
            specs.append(ModelSpec(name, "\n".join(_line(f, ids) for f, ids in joined.items())))
    if len(groups) > 1:
        specs.append(ModelSpec(HYPOTHESIZED, correlated))
        specs.append(
            ModelSpec(
                "bifactor",
                "\n".join([_line("general", all_items), correlated]),
                std_lv=True,
                orthogonal=True,
            )
        )
    else:
        specs[0] = ModelSpec(HYPOTHESIZED, correlated)
    return specs


def verdict(fit: dict[str, float], findings: tuple[str, ...] = (), converged: bool = True) -> str:
    """One plain line against the Hu & Bentler (1999) guideline cut-offs; none for a solution
    that did not converge or is improper (fit indices of such a solution mean nothing)."""
    if not converged or any(f.startswith("Heywood") for f in findings):
        return "no verdict: the solution did not converge or is improper (see the findings)"
    if fit.get("df") == 0:
        return (
            "no verdict: the model is saturated (df = 0), it reproduces the covariances exactly "
            "and its fit cannot be tested"
        )
    if not np.isfinite(fit.get("chisq", float("nan"))):
        return "no verdict: the test statistic could not be computed (see the findings)"
    misses = []
    for key, sense, cut in GUIDELINES:
        value = fit.get(key, float("nan"))
        ok = value >= cut if sense == ">=" else value <= cut
        if not ok:
            misses.append(f"{key.upper()} {value:.3f} (guideline {sense} {cut})")
    if not misses:
        return "meets the Hu & Bentler (1999) guidelines for CFI, TLI, RMSEA and SRMR"
    return "falls short of the Hu & Bentler (1999) guidelines on " + ", ".join(misses)


def model_entry(result: CFAResult, robust_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """A fitted model as the JSON gives it: its fit indices (and ``robust_keys``), the RMSEA
    interval, convergence, findings, the verdict and the model."""
    entry: dict[str, Any] = {k: result.fit.get(k) for k in HEADLINE}
    entry["rmsea_ci"] = [result.fit["rmsea_ci_lower"], result.fit["rmsea_ci_upper"]]
    entry.update({k: result.fit.get(k) for k in robust_keys})
    entry.update(
        {
            "converged": result.converged,
            "findings": list(result.findings),
            "verdict": verdict(result.fit, result.findings, result.converged),
            "model": result.model,
        }
    )
    return entry


def loading_record(row: Any) -> dict[str, Any]:
    """One loading (a row of a result's ``=~`` estimates) as the JSON gives it."""
    return {
        "factor": row.lhs,
        "item": row.rhs,
        "est": row.est,
        "se": row.se,
        "std": row.std_all,
        "std_se": row.std_se,
    }


@dataclass(frozen=True)
class ValidationResult(Reported):
    """Reliability, EFA and the CFA models of one export, with the rows they used."""

    n: int
    sample: Sample
    findings: tuple[str, ...]
    estimator: Estimator
    reliability: dict[str, dict[str, Any]]
    models: dict[str, CFAResult]  # modification indices: the hypothesized model's alone
    model_errors: dict[str, str]
    comparison: pd.DataFrame
    htmt: pd.DataFrame
    fornell_larcker: pd.DataFrame | None
    efa: EFAResult | None
    omega_hierarchical: float | None
    trust_htmt: pd.DataFrame | None = None
    estimator_choice: EstimatorChoice | None = None  # when asked for 'auto'
    two_level: TwoLevelResult | None = None  # nested rows: the model with both levels
    two_level_error: str | None = None  # why the default two-level model could not be fitted
    bootstrap: BootstrapIntervals | None = None  # percentile intervals, when asked for

    @property
    def hypothesized(self) -> CFAResult | None:
        return self.models.get(HYPOTHESIZED)

    def summary_lines(self) -> list[str]:
        from .summaries import validation_lines

        return validation_lines(self)

    def methods(self) -> str:
        """The methods paragraph a paper needs, every number from this result, with its
        references (``alliance validate --methods``)."""
        from .methods import validation_methods

        return validation_methods(self)

    def to_frame(self) -> pd.DataFrame:
        """The models' fit side by side, one row per model (lavaan's fitMeasures)."""
        rows = {
            name: {k: v for k, v in entry.items() if not isinstance(v, list | dict | tuple)}
            for name, entry in self.to_dict()["models"].items()
        }
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame.index.name = "model"
        return frame

    def to_dict(self) -> dict[str, Any]:
        models: dict[str, Any] = {}
        for name, result in self.models.items():
            models[name] = model_entry(result, BESIDE.get(self.estimator, ()))
        for name, message in self.model_errors.items():
            models[name] = {"error": message}
        hyp = self.hypothesized
        loadings = [loading_record(row) for row in hyp.loadings.itertuples()] if hyp else []
        grouped: dict[str, Any] = {}
        if hyp is not None and hyp.group_column is not None:
            grouped["groups"] = hyp.to_dict()["group"]
            e = hyp.estimates.assign(
                group=[hyp.groups[g - 1] for g in hyp.estimates["group"].astype(int)]
            )
            columns = ["lhs", "op", "rhs", "group", "label", "est", "se", "std_all", "std_se"]
            grouped["estimates"] = (
                e[columns].rename(columns={"std_all": "std"}).to_dict(orient="records")
            )
        return {
            **grouped,
            "n": self.n,
            "sample": self.sample.to_dict(),
            "missing": hyp.missing_data() if hyp is not None else None,
            "findings": list(self.findings),
            "estimator": self.estimator,
            "estimator_choice": (
                self.estimator_choice.to_dict() if self.estimator_choice is not None else None
            ),
            "reliability": self.reliability,
            "models": models,
            "loadings": loadings,
            "factor_correlations": hyp.factor_correlations().to_dict() if hyp else {},
            "htmt": self.htmt.to_dict(),
            "fornell_larcker": (
                self.fornell_larcker.to_dict() if self.fornell_larcker is not None else None
            ),
            "omega_hierarchical": self.omega_hierarchical,
            "htmt_trust": self.trust_htmt.to_dict() if self.trust_htmt is not None else None,
            "htmt_guideline": HTMT_GUIDELINE,
            "efa": self.efa.to_dict() if self.efa is not None else None,
            "model_comparison": self.comparison.to_dict(orient="records"),
            "modification_indices": (
                hyp.modindices.head(10).to_dict(orient="records") if hyp is not None else []
            ),
            "parameters": hyp.parameters().to_dict(orient="records") if hyp is not None else [],
            "bootstrap": self.bootstrap.to_dict() if self.bootstrap is not None else None,
            "two_level": (
                self.two_level.to_dict()
                if self.two_level is not None
                else {"error": self.two_level_error}
                if self.two_level_error is not None
                else None
            ),
        }


def _refuse_constant(answers: pd.DataFrame) -> None:
    """An item with one answer in every row has no variance: nothing can be estimated from it
    (alpha, factor loadings), so it is named before any of them is tried."""
    for item in answers.columns:
        given = answers[item].dropna()
        if len(given) > 1 and given.nunique() == 1:
            raise ModelError(
                f"item {item!r} has the same answer ({given.iloc[0]:g}) in all {len(given):,} "
                f"rows that answer it; a constant item cannot be analysed: leave it out."
            )


def subscale_groups(
    data: pd.DataFrame, instrument: Instrument, subscales: list[str] | None = None
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Every subscale's items in the data, and those analysed: ``subscales``, or the rule's
    pillars when the instrument declares a rule and the data holds them all, else every
    subscale in the data."""
    groups_all = {
        k: [i for i in v if i in data.columns] for k, v in instrument.subscale_items().items()
    }
    groups_all = {k: v for k, v in groups_all.items() if v}
    chosen: list[str]
    if subscales is None:
        pillars = [s for s in instrument.rule_pillars if s in groups_all]
        chosen = (
            pillars
            if pillars and len(pillars) == len(instrument.rule_pillars)
            else list(groups_all)
        )
    else:
        chosen = list(subscales)
    groups = {s: groups_all[s] for s in chosen if s in groups_all}
    if not groups:
        raise ValueError(f"no item of instrument '{instrument.name}' is a column of the data.")
    return groups_all, groups


def hypothesized_input(
    data: pd.DataFrame, instrument: Instrument, model: str | None, keep: tuple[str, ...] = ()
) -> tuple[str, pd.DataFrame]:
    """The hypothesized model and the frame it is fitted to: the user's model on the columns
    as they are, or the correlated subscales on reverse-keyed answers. ``keep`` columns (a
    group) are carried over."""
    if model is not None:
        return model, data
    _, groups = subscale_groups(data, instrument)
    items = [i for ids in groups.values() for i in ids]
    source = keyed(data, instrument, items)
    for column in keep:
        source[column] = data[column].to_numpy()
    return "\n".join(_line(f, ids) for f, ids in groups.items()), source


def factor_score_fit(
    data: pd.DataFrame, instrument: Instrument, fit: FitRequest, model: str | None = None
) -> tuple[CFAResult, pd.DataFrame]:
    """The model whose factor scores are wanted, fitted as ``fit`` asks, and the frame it was
    fitted to (the data's rows, in order): the user's single-level ``model``, or the
    correlated subscales that :func:`validate` calls the hypothesized model. The scores do
    not depend on the clusters (only the standard errors of the estimates would), so none is
    fitted."""
    if model is not None and has_levels(model):
        raise ModelError(
            "factor scores come from a single-level model: give the model without 'level:' blocks."
        )
    syntax, source = hypothesized_input(data, instrument, model)
    observed = list(variables(parse_model(syntax))[1])
    request = replace(fit, cluster=None, cluster_by_default=False, repeated=0)
    spec = request.resolve(source, observed)
    return fit_model(source, syntax, spec, modindices=False), source


def level_model(groups: Mapping[str, list[str]], structure: LevelStructure) -> str:
    """The built-in two-level model: each subscale a factor within clusters; between clusters
    each subscale a factor of its own (``pillars``, named with :data:`BETWEEN_SUFFIX`) or one
    factor of every item (``one``)."""
    within = [_line(f, ids) for f, ids in groups.items()]
    if structure == "pillars":
        between = [_line(f + BETWEEN_SUFFIX, ids) for f, ids in groups.items()]
    else:
        between = [_line(ONE_BETWEEN, [i for ids in groups.values() for i in ids])]
    return "\n".join(["level: 1", *within, "level: 2", *between])


def two_level_fit(
    source: pd.DataFrame,
    groups: Mapping[str, list[str]],
    user_model: str | None,
    levels: LevelStructure | None,
    cluster: str | None,
    missing: MissingMethod = "fiml",
    standard_errors: bool = True,
    stage: Callable[[str], None] | None = None,
) -> tuple[TwoLevelResult | None, str | None]:
    """The two-level model, and why it is missing where it was not asked for and failed: the
    user's level blocks, or ``levels``; by default the pillars at both levels whenever the rows
    are clustered. Asked for without clusters, it is refused."""
    asked = user_model is not None or levels in ("pillars", "one")
    if levels == "none" or (not asked and cluster is None):
        return None, None
    if cluster is None:
        raise ModelError(
            "a two-level model needs the rows' clusters: name the column with 'cluster' (a "
            "patient's sessions cluster by the respondent by default, and this export has one "
            "row per respondent)."
        )
    syntax = user_model if user_model is not None else level_model(groups, levels or "pillars")
    try:
        fitted = fit_twolevel(
            source, syntax, cluster, missing, standard_errors=standard_errors, stage=stage
        )
        return fitted, None
    except (ModelError, np.linalg.LinAlgError) as exc:
        if asked:
            raise
        return None, f"the two-level model could not be fitted: {exc}"


# The request when none is given: the command line's, so that the same file gives the same
# numbers from Python (ML; FIML only when an answer is missing).
DEFAULT_REQUEST = FitRequest()


def validate(
    data: pd.DataFrame,
    instrument: Instrument,
    *,
    fit: FitRequest = DEFAULT_REQUEST,
    model: str | None = None,
    subscales: list[str] | None = None,
    sample: Sample | None = None,
    parallel_kind: ParallelKind = "components",
    parallel_iterations: int = PARALLEL_ITERATIONS,
    efa_method: EfaMethod = "minres",
    efa_correlation: Correlation | None = None,
    levels: LevelStructure | None = None,
    level_errors: bool = True,
    bootstrap: Bootstrap | None = None,
    progress: BootstrapProgress | None = None,
    stage: Callable[[str], None] | None = None,
) -> ValidationResult:
    """Reliability, EFA and competing CFA models for an export.

    ``fit``: how the models are fitted (:class:`analysis.cfa.FitRequest`): the estimator
    (``ml``, ``mlr``, ``wlsmv`` for ordinal items, or ``auto``, whose reason becomes a
    finding), the missing-data method, the ordinal items, and the group. It is resolved once,
    against the answers, and every model is fitted to the same :class:`analysis.cfa.FitSpec`.
    ``efa_correlation``: the EFA's and parallel analysis's correlations (default: polychoric
    under WLSMV, else Pearson).

    With a group, the hypothesized model is fitted in every group at once, with the request's
    ``group_equal`` and ``group_partial`` as lavaan's; the competing models, which compare
    structures in one sample, are then left out.

    ``subscales`` limits the analysis (default: the rule's pillars when the instrument
    declares a rule and the data holds them all, else every subscale in the data); ``model``
    replaces the hypothesized model with the user's syntax; ``sample`` records how ``data``
    was selected from the export (default: all of it).

    Nested rows (the request's ``cluster``, by default the respondent when sessions repeat)
    also get a two-level model by ML (:func:`two_level_fit`): ``levels`` 'pillars' (the default
    when clustered), 'one', or 'none'; a ``model`` with ``level: 1`` / ``level: 2`` blocks is
    that model, and its level-1 block the hypothesized single-level model; ``level_errors``
    False leaves its standard errors out (the report shows none).

    ``bootstrap``: percentile intervals for omega, CR, AVE and HTMT of the hypothesized model
    (:mod:`analysis.bootstrap`), resampling the clusters whole when rows nest; ``progress`` is
    told the draws done. ``stage`` is told each stage of the two-level model as it starts (the
    command line says it: with repeated sessions and missing answers it can take half a
    minute).
    """
    user_levels = None
    if model is not None and has_levels(model):
        user_levels, model = model, split_levels(model).within
    group, group_equal = fit.group, fit.group_equal
    groups_all, groups = subscale_groups(data, instrument, subscales)
    items = [i for ids in groups.values() for i in ids]
    answers = keyed(data, instrument, items)
    _refuse_constant(answers)

    reliability: dict[str, dict[str, Any]] = {}
    findings: list[str] = []
    ceiling = ceiling_shares(data, instrument, items)
    for subscale, ids in groups.items():
        stats = item_reliability(answers[ids], {i: ceiling[i] for i in ids})
        reliability[subscale] = stats.to_dict()
        findings.extend(
            f"{subscale}: item {item!r} correlates negatively with the rest of its subscale "
            f"(corrected item-total r = {r:.2f}); it may need reverse keying"
            for item, r in stats.item_total.items()
            if r < 0
        )

    specs = (
        [ModelSpec(HYPOTHESIZED, model)]
        if model is not None
        else competing_models(groups, instrument.competing)
    )
    source = data if model is not None else answers
    observed = list(variables(parse_model(model))[1]) if model is not None else items
    spec = fit.resolve(source, observed)
    chosen, choice = spec.estimator, spec.choice
    if choice is not None:
        findings.append(choice.reason)
    if group is not None:
        if group not in data.columns:
            raise ModelError(f"the data have no group column {group!r}.")
        specs = [s for s in specs if s.name == HYPOTHESIZED]
        if source is answers:
            source = answers.assign(**{group: data[group].to_numpy()})
        findings.append(
            f"the hypothesized model is fitted in each group of {group!r} at once"
            + (f", with equal {', '.join(group_equal)}" if group_equal else "")
            + "; the competing models compare structures within one sample and are left out"
        )
    if spec.cluster is not None:
        if spec.cluster not in data.columns:
            raise ModelError(f"the data have no cluster column {spec.cluster!r}.")
        if spec.cluster not in source.columns:
            source = source.assign(**{spec.cluster: data[spec.cluster].to_numpy()})
    fitted: dict[str, CFAResult] = {}
    errors: dict[str, str] = {}
    for candidate in specs:
        try:
            fitted[candidate.name] = fit_model(
                source,
                candidate.syntax,
                spec,
                std_lv=candidate.std_lv,
                orthogonal=candidate.orthogonal,
                # the hypothesized model's are reported; the competing models are compared
                # by their fit
                modindices=candidate.name == HYPOTHESIZED,
            )
        except ModelError as exc:
            if candidate.name == HYPOTHESIZED:
                raise
            errors[candidate.name] = str(exc)

    hyp = fitted[HYPOTHESIZED]
    per_factor = (
        factor_reliability(hyp) if _simple_structure(hyp) and hyp.group_column is None else {}
    )
    if per_factor and chosen in ORDINAL_ESTIMATORS and spec.ordered is not None:
        findings.append(
            "ordinal and continuous items: omega, CR and AVE are on the scale of the latent "
            "responses (a categorical omega needs every item ordinal)"
        )
    elif per_factor and chosen in ORDINAL_ESTIMATORS:
        for factor, values in ordinal_reliability(hyp).items():
            per_factor[factor].update(values)
        findings.append(
            "ordinal items: omega is Green & Yang's categorical omega, on the scale of the sum "
            "of the answers (semTools' compRelSEM with ord.scale = TRUE), and alpha is given "
            "both on the answers and on the polychoric correlations (ordinal alpha); CR and "
            "AVE are on the scale of the latent responses"
        )
    for factor, values in per_factor.items():
        reliability.setdefault(factor, {}).update(values)
    cfa_groups = {f: list(hyp.loadings[hyp.loadings["lhs"] == f]["rhs"]) for f in hyp.latent}
    omega_h = None
    if "bifactor" in fitted and fitted["bifactor"].converged:
        omega_h = omega_hierarchical(fitted["bifactor"], "general")

    # one factor within two within the correlated factors; the bifactor model is not nested in
    # the usual sense and is compared by AIC and BIC only.
    nan = float("nan")
    chain = [s.name for s in specs if s.name in fitted and s.name != "bifactor"]
    rows = []
    for k, a_name in enumerate(chain):
        for b_name in chain[k + 1 :]:
            a, b = fitted[a_name], fitted[b_name]
            if a.fit["df"] <= b.fit["df"]:
                continue
            rows.append(
                {
                    "model_a": a_name,
                    "model_b": b_name,
                    **chisq_difference(a, b),
                    "delta_aic": b.fit.get("aic", nan) - a.fit.get("aic", nan),
                    "delta_bic": b.fit.get("bic", nan) - a.fit.get("bic", nan),
                }
            )
    trust_groups = {g: groups_all[g] for g in instrument.discriminant if g in groups_all}
    trust_htmt = None
    # Only where the data holds discriminant subscales beyond the ones analysed here.
    if len(trust_groups) > 1 and set(trust_groups) - set(groups):
        trust_items = [i for ids in trust_groups.values() for i in ids]
        trust_htmt = htmt(keyed(data, instrument, trust_items), trust_groups)
    efa = None
    if len(hyp.observed) >= 3:
        efa = run_efa(
            source[list(hyp.observed)],
            len(hyp.latent),
            parallel_kind=parallel_kind,
            parallel_iterations=parallel_iterations,
            method=efa_method,
            correlation=efa_correlation
            or ("polychoric" if chosen in ORDINAL_ESTIMATORS else "pearson"),
        )
    selected = sample or Sample(len(data), "all", len(data))
    cluster = fit.cluster
    level_source = source
    if cluster is not None and cluster in data.columns and cluster not in source.columns:
        level_source = source.assign(**{cluster: data[cluster].to_numpy()})
    two_level, two_level_error = two_level_fit(
        level_source,
        groups,
        user_levels,
        levels if group is None else "none",
        cluster,
        "listwise" if fit.missing == "listwise" else "fiml",
        level_errors,
        stage,
    )
    if two_level_error is not None:
        findings.append(two_level_error)
    intervals = None
    if bootstrap is not None:
        if not per_factor:
            raise ModelError(
                "bootstrap intervals are for a model of one group with each item on one factor"
                + (f"; leave out the group {group!r}" if group is not None else "")
                + "."
            )
        nest = fit.cluster if fit.cluster is not None and fit.cluster in data.columns else None
        intervals = run_bootstrap(
            hyp,
            source,
            bootstrap,
            clusters=data[nest].to_numpy() if nest is not None else None,
            cluster_name=nest,
            progress=progress,
        )
    return ValidationResult(
        n=hyp.n,
        sample=selected.used_by(hyp, grouped=group is not None),
        findings=tuple(findings),
        estimator=chosen,
        estimator_choice=choice,
        reliability=reliability,
        models=fitted,
        model_errors=errors,
        comparison=pd.DataFrame(
            rows,
            columns=[
                "model_a",
                "model_b",
                "delta_chisq",
                "delta_df",
                "p",
                "delta_aic",
                "delta_bic",
            ],
        ),
        htmt=htmt(source, cfa_groups) if len(cfa_groups) > 1 else pd.DataFrame(),
        fornell_larcker=fornell_larcker(hyp, per_factor) if per_factor else None,
        efa=efa,
        omega_hierarchical=omega_h,
        two_level=two_level,
        two_level_error=two_level_error,
        trust_htmt=trust_htmt,
        bootstrap=intervals,
    )


def _simple_structure(result: CFAResult) -> bool:
    """Each indicator loads on one factor (reliability per factor is then defined)."""
    counts = result.loadings["rhs"].value_counts()
    return bool((counts == 1).all()) and bool(np.isfinite(result.fit["chisq"]))
