"""A population model of alliance survey data, and draws from it.

Latent scores: correlated factors (one per subscale), split into a clinician part (random effect),
a stable patient part and a session part, with a small growth over sessions. Items: a latent
response ``y* = loading * factor + error`` cut at ordinal thresholds chosen so that many answers
sit in the top category, as real alliance data do. On top: patients who drop out (more often when
their weakest pillar is low), a small rate of missing answers, skipped blocks, and careless
responders (straight-lining or random answering, completed too fast).

The population parameters (loadings, thresholds) are fixed properties of the model, drawn from a
constant seed; the ``seed`` argument only changes who is sampled. Same seed, same data.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy.stats import norm

from instrument import Instrument, Item

from ..names import CONTEXT_COLUMNS, EXTRA_COLUMNS

# Latent correlations among the built-in subscales. The three pillars correlate highly (goals and
# tasks most, as WAI studies find); trust parts correlate with each other and with bond; perceived
# competence and reliability relate to rational trust but stay distinct from it.
_BUILTIN_SUBSCALES = (
    "bond",
    "goals",
    "tasks",
    "affective",
    "rational",
    "fidelity",
    "competence",
    "reliability",
)
BUILTIN_CORRELATIONS = pd.DataFrame(
    [
        [1.00, 0.70, 0.72, 0.65, 0.45, 0.55, 0.40, 0.35],
        [0.70, 1.00, 0.85, 0.50, 0.45, 0.45, 0.40, 0.35],
        [0.72, 0.85, 1.00, 0.50, 0.45, 0.45, 0.40, 0.35],
        [0.65, 0.50, 0.50, 1.00, 0.60, 0.65, 0.45, 0.40],
        [0.45, 0.45, 0.45, 0.60, 1.00, 0.60, 0.60, 0.45],
        [0.55, 0.45, 0.45, 0.65, 0.60, 1.00, 0.45, 0.50],
        [0.40, 0.40, 0.40, 0.45, 0.60, 0.45, 1.00, 0.50],
        [0.35, 0.35, 0.35, 0.40, 0.45, 0.50, 0.50, 1.00],
    ],
    index=list(_BUILTIN_SUBSCALES),
    columns=list(_BUILTIN_SUBSCALES),
)
OTHER_CORRELATION = 0.5  # between subscales the table above does not know
PILLARS = ("bond", "goals", "tasks")
RUPTURE_COLUMNS = ("respondent_id", "pillar", "first_session", "last_session", "size")
PERSPECTIVES = ("patient", "clinician")
_POPULATION_SEED = 20_261_124
_FIRST_VISIT = np.datetime64("2026-01-05")


@dataclass(frozen=True)
class Population:
    """Parameters of the data-generating model, labelled by subscale and item id.

    How the rows nest: a pillar's latent score of one session is a clinician effect (variance
    ``clinician_share``), the patient's own level (``1 - clinician_share - session_share``) and
    the session's deviation (``session_share``), each correlated across subscales as
    ``correlation``; plus ``growth_per_session`` a session, and in the answers a rater's mood
    (``halo_sd``, shared by every item of a response) and each item's own error.
    """

    correlation: pd.DataFrame
    loadings: pd.Series
    thresholds: dict[str, np.ndarray]
    clinician_share: float = 0.08
    session_share: float = 0.15
    growth_per_session: float = 0.10
    halo_sd: float = 0.25  # a rater's mood on the day, shared by every item of the response
    missing_rate: float = 0.015
    skipped_block_rate: float = 0.01
    careless_rate: float = 0.03
    dropout_intercept: float = -1.6
    dropout_slope: float = -1.0
    seconds_per_item: float = 5.0


@dataclass(frozen=True)
class Simulated:
    """A simulated export in canonical form (context columns then items) and its truth."""

    data: pd.DataFrame
    latent: pd.DataFrame
    careless: pd.Series
    population: Population
    form: str
    items: tuple[str, ...] = field(default=())
    # Planted ruptures (the truth an alert rule is scored against): one row per rupture with
    # respondent_id, pillar, first_session, last_session and size (latent SDs).
    ruptures: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RUPTURE_COLUMNS))

    def subset(self, rows: np.ndarray) -> Simulated:
        """Only the rows where ``rows`` (a boolean mask) is true, renumbered from 0."""
        return replace(
            self,
            data=self.data[rows].reset_index(drop=True),
            latent=self.latent[rows].reset_index(drop=True),
            careless=self.careless[rows].reset_index(drop=True),
        )

    def by_month(self) -> dict[str, Simulated]:
        """One export per calendar month of the session dates ('2026-03': ...)."""
        month = self.data["date"].str.slice(0, 7).to_numpy()
        return {m: self.subset(month == m) for m in sorted(set(month))}


DIF_COLUMNS = ("site_id", "clinician_id")


@dataclass(frozen=True)
class Dif:
    """An item that works differently in one group: in the rows whose ``column`` is
    ``value``, its latent response is shifted by ``intercept`` (in standard deviations) and
    its loading changed by ``loading``. Tests plant one to check that the invariance analysis
    finds that item and no other."""

    item: str
    column: str
    value: str
    intercept: float = 0.0
    loading: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Dif:
        """``'pg03:intercept=-0.8:site_id=S01'`` (``loading=0.3`` for a loading)."""
        parts = [p.strip() for p in text.split(":")]
        if len(parts) != 3 or "=" not in parts[1] or "=" not in parts[2]:
            raise ValueError(
                f"dif {text!r}: write ITEM:intercept=SIZE:COLUMN=VALUE, e.g. "
                f"'pg03:intercept=-0.8:site_id=S01' (or loading=SIZE)."
            )
        kind, size = parts[1].split("=", 1)
        column, value = parts[2].split("=", 1)
        if kind not in ("intercept", "loading"):
            raise ValueError(f"dif {text!r}: the kind is 'intercept' or 'loading'; got {kind!r}.")
        try:
            amount = float(size)
        except ValueError:
            raise ValueError(f"dif {text!r}: {size!r} is not a number.") from None
        if column not in DIF_COLUMNS:
            raise ValueError(
                f"dif {text!r}: the column is one of {', '.join(DIF_COLUMNS)}; got {column!r}."
            )
        return cls(parts[0], column, value, **{kind: amount})


def category_probabilities(n_points: int) -> np.ndarray:
    """Marginal answer shares with a ceiling: each category ~1.7x as likely as the one below
    on a 5-point scale (45% of answers at the top), flattened for longer scales."""
    steepness = 0.55 * 4 / (n_points - 1)
    weights = np.exp(steepness * np.arange(1, n_points + 1))
    return weights / weights.sum()


def population_for(instrument: Instrument, form: str | None) -> Population:
    items = instrument.select(form)
    subscales = list(dict.fromkeys(item.subscale for item in items))
    values = np.full((len(subscales), len(subscales)), OTHER_CORRELATION)
    known = [k for k, s in enumerate(subscales) if s in BUILTIN_CORRELATIONS.index]
    values[np.ix_(known, known)] = BUILTIN_CORRELATIONS.loc[
        [subscales[k] for k in known], [subscales[k] for k in known]
    ].to_numpy()
    np.fill_diagonal(values, 1.0)
    corr = pd.DataFrame(values, index=subscales, columns=subscales)
    rng = np.random.default_rng(_POPULATION_SEED)
    loadings = pd.Series(rng.uniform(0.62, 0.85, len(items)), index=[i.id for i in items])
    thresholds: dict[str, np.ndarray] = {}
    for item in items:
        scale = instrument.scale_of(item)
        if scale is None:
            raise ValueError(
                f"item {item.id!r} has no response scale; the simulator needs one per item."
            )
        cumulative = np.cumsum(category_probabilities(scale.n_points))[:-1]
        shift = rng.uniform(-0.25, 0.25)  # items differ a little in how easily they are endorsed
        thresholds[item.id] = norm.ppf(cumulative) + shift
    return Population(corr, loadings, thresholds)


def _response_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    alphabet = np.array(list(string.ascii_letters + string.digits))
    chars = np.ascontiguousarray(alphabet[rng.integers(0, len(alphabet), size=(n, 15))])
    ids = np.char.add("R_", chars.view("<U15").ravel())
    # Collisions are astronomically unlikely at 62^15, but uniqueness is a promise: check it.
    if len(np.unique(ids)) != n:
        raise RuntimeError("response ids collided; use another seed")
    return ids


def _labels(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill((numbers + 1).astype(str), width))


@dataclass(frozen=True)
class _Design:
    """Who sees whom and when, drawn once and shared by every rater of the same sessions."""

    clinician_of: np.ndarray  # per patient
    site_of_clinician: np.ndarray
    dropout: np.ndarray  # per patient
    attended: np.ndarray
    patient: np.ndarray  # per row
    session: np.ndarray
    row_labels: dict[str, np.ndarray]


def _check_counts(n: int, clinicians: int, sessions: int) -> None:
    for name, value, low in (("n", n, 1), ("clinicians", clinicians, 1), ("sessions", sessions, 1)):
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < low:
            raise ValueError(f"'{name}' must be an integer >= {low}; got {value!r}.")


def _one_rater(instrument: Instrument, form: str | None) -> tuple[tuple[Item, ...], str]:
    items = instrument.select(form)
    perspectives = {item.perspective for item in items}
    if len(perspectives) != 1:
        raise ValueError(
            "'form' must name a form filled in by one rater; the whole bank mixes patient and "
            "clinician items. Pick a form such as 'patient-full'."
        )
    return items, perspectives.pop()


def _design_and_latent(
    pop: Population, n: int, clinicians: int, sessions: int, rng: np.random.Generator
) -> tuple[_Design, np.ndarray]:
    """Caseloads, sites, dropout and sessions; and the patients' latent scores per session."""
    subscales = list(pop.correlation.index)
    n_f = len(subscales)
    chol = np.linalg.cholesky(pop.correlation.to_numpy())

    # Who sees whom: uneven caseloads; clinicians grouped into sites of about eight.
    caseload = rng.dirichlet(np.full(clinicians, 4.0))
    clinician_of = rng.choice(clinicians, size=n, p=caseload)
    site_of_clinician = np.arange(clinicians) // 8

    patient_share = 1.0 - pop.clinician_share - pop.session_share
    u_clin = np.sqrt(pop.clinician_share) * rng.standard_normal((clinicians, n_f)) @ chol.T
    u_pat = np.sqrt(patient_share) * rng.standard_normal((n, n_f)) @ chol.T
    stable = u_clin[clinician_of] + u_pat

    # Dropout depends on the weakest pillar, the non-compensatory idea in the data itself.
    pillar_cols = [subscales.index(p) for p in PILLARS if p in subscales]
    weakest = stable[:, pillar_cols].min(axis=1) if pillar_cols else stable.mean(axis=1)
    p_drop = 1.0 / (1.0 + np.exp(-(pop.dropout_intercept + pop.dropout_slope * weakest)))
    dropout = rng.random(n) < p_drop
    attended = np.full(n, sessions)
    if sessions > 1:
        attended[dropout] = rng.integers(1, sessions, size=int(dropout.sum()))

    patient = np.repeat(np.arange(n), attended)
    session = np.concatenate([np.arange(1, k + 1) for k in attended])
    rows = len(patient)
    eta = (
        stable[patient]
        + np.sqrt(pop.session_share) * rng.standard_normal((rows, n_f)) @ chol.T
        + pop.growth_per_session * (session - 1)[:, None]
    )
    width_c = max(len(str(clinicians)), 2)
    row_labels = {
        "site_id": _labels("S", site_of_clinician[clinician_of[patient]], 2),
        "clinician_id": _labels("C", clinician_of[patient], width_c),
    }
    design = _Design(
        clinician_of, site_of_clinician, dropout, attended, patient, session, row_labels
    )
    return design, eta


def _plant_ruptures(
    design: _Design,
    eta: np.ndarray,
    subscales: list[str],
    share: float,
    size: float,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Lower one pillar of ``share`` of the patients with two or more sessions by ``size``
    latent SDs, from a session after the first, for one or two sessions; the other pillars
    hold. Changes ``eta`` in place; returns the truth (patient numbers, not labels yet)."""
    if not 0 <= share <= 1:
        raise ValueError(f"'ruptures' must be a share between 0 and 1; got {share!r}.")
    if size <= 0:
        raise ValueError(f"'rupture_size' must be positive; got {size!r}.")
    pillars = [subscales.index(p) for p in PILLARS if p in subscales]
    if share and not pillars:
        raise ValueError("ruptures are planted in the pillars; this form has none of them.")
    eligible = np.flatnonzero(design.attended >= 2)
    chosen = eligible[rng.random(len(eligible)) < share]
    first = rng.integers(2, design.attended[chosen] + 1) if len(chosen) else np.array([], int)
    last = np.minimum(first + rng.integers(0, 2, size=len(chosen)), design.attended[chosen])
    which = rng.integers(0, max(len(pillars), 1), size=len(chosen))
    # Row of (patient p, session s) is the patient's first row + s - 1.
    first_row = np.cumsum(design.attended) - design.attended
    for p, a, b, w in zip(chosen, first, last, which, strict=True):
        eta[first_row[p] + a - 1 : first_row[p] + b, pillars[w]] -= size
    return pd.DataFrame(
        {
            "patient": chosen,
            "pillar": [subscales[pillars[w]] for w in which],
            "first_session": first.astype(np.int64),
            "last_session": last.astype(np.int64),
            "size": float(size),
        }
    )


def _answers(
    instrument: Instrument,
    items: tuple[Item, ...],
    pop: Population,
    eta: np.ndarray,
    row_labels: dict[str, np.ndarray],
    dif: tuple[Dif, ...],
    form: str | None,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Item answers from latent scores, with careless responders, missing answers and
    skipped blocks; the careless flags and completion times."""
    subscales = list(pop.correlation.index)
    n_f = len(subscales)
    rows = len(eta)
    answers = np.empty((rows, len(items)))
    halo = pop.halo_sd * rng.standard_normal(rows)
    ids = {i.id for i in items}
    for planted in dif:
        if planted.item not in ids:
            raise ValueError(f"dif: item {planted.item!r} is not on form {form!r}.")
        if planted.value not in set(row_labels[planted.column]):
            raise ValueError(f"dif: no row has {planted.column} = {planted.value!r}.")
    for j, item in enumerate(items):
        lam = pop.loadings[item.id]
        f = subscales.index(item.subscale)
        unique_sd = np.sqrt(1 - lam**2 - pop.halo_sd**2)
        ystar = lam * eta[:, f] + halo + unique_sd * rng.standard_normal(rows)
        for planted in (d for d in dif if d.item == item.id):
            where = row_labels[planted.column] == planted.value
            ystar[where] += planted.intercept + planted.loading * eta[where, f]
        category = np.searchsorted(pop.thresholds[item.id], ystar) + 1
        scale = instrument.scale_of(item)
        assert scale is not None  # population_for checked every item has one
        code = scale.minimum - 1 + category
        answers[:, j] = scale.minimum + scale.maximum - code if item.reverse else code

    careless = rng.random(rows) < pop.careless_rate
    lows = np.array([instrument.scale_of(i).minimum for i in items])  # type: ignore[union-attr]
    highs = np.array([instrument.scale_of(i).maximum for i in items])  # type: ignore[union-attr]
    straight = careless & (rng.random(rows) < 0.5)
    randomly = careless & ~straight
    if straight.any():
        # Straight-liners mostly pick the top answer, some the middle.
        top = rng.random(int(straight.sum())) < 0.7
        middle = np.round((lows + highs) / 2)
        answers[straight] = np.where(top[:, None], highs, middle)
    if randomly.any():
        k = int(randomly.sum())
        answers[randomly] = lows + np.floor(rng.random((k, len(items))) * (highs - lows + 1))

    answers[rng.random(answers.shape) < pop.missing_rate] = np.nan
    skipped = np.flatnonzero(rng.random(rows) < pop.skipped_block_rate)
    item_subscale = np.array([subscales.index(i.subscale) for i in items])
    for r, f in zip(skipped, rng.integers(0, n_f, size=len(skipped)), strict=True):
        answers[r, item_subscale == f] = np.nan

    pace = np.where(careless, 0.3, 1.0) * pop.seconds_per_item
    duration = np.round(len(items) * pace * rng.lognormal(0.0, 0.35, rows))
    return answers, careless, duration


def _visit_days(
    design: _Design, n: int, months: int | None, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """Days from the first possible visit to each session, and the observation window."""
    window = 270
    if months is not None:
        if months < 1:
            raise ValueError(f"'months' must be an integer >= 1; got {months!r}.")
        end = np.datetime64("2026-01", "M") + np.timedelta64(months, "M")
        window = int((end.astype("datetime64[D]") - _FIRST_VISIT).astype(int))
    start = rng.integers(0, window, size=n)
    gaps = rng.integers(7, 22, size=len(design.patient))
    gaps[design.session == 1] = 0
    elapsed = np.cumsum(gaps)
    first_row = np.repeat(np.cumsum(design.attended) - design.attended, design.attended)
    return start[design.patient] + elapsed - elapsed[first_row], window


def _assemble(
    design: _Design,
    n: int,
    clinicians: int,
    items: tuple[Item, ...],
    answers: np.ndarray,
    careless: np.ndarray,
    duration: np.ndarray,
    eta: np.ndarray,
    offsets: np.ndarray,
    perspective: str,
    pop: Population,
    form: str | None,
    rng: np.random.Generator,
) -> Simulated:
    rows = len(design.patient)
    dates = (_FIRST_VISIT + offsets.astype("timedelta64[D]")).astype(str)
    width_p = len(str(n))
    clin = design.clinician_of[design.patient]
    context = pd.DataFrame(
        {
            "response_id": _response_ids(rng, rows),
            "respondent_id": _labels("P", design.patient, width_p),
            "clinician_id": design.row_labels["clinician_id"],
            "site_id": _labels("S", design.site_of_clinician[clin], 2),
            "session": design.session.astype(np.int64),
            "date": dates,
            "perspective": perspective,
            "duration_seconds": duration,
            "dropout": design.dropout[design.patient].astype(np.int64),
        }
    )
    assert list(context.columns) == [*CONTEXT_COLUMNS, *EXTRA_COLUMNS]
    item_ids = tuple(i.id for i in items)
    data = pd.concat([context, pd.DataFrame(answers, columns=list(item_ids))], axis=1)
    latent = pd.DataFrame(eta, columns=list(pop.correlation.index))
    return Simulated(data, latent, pd.Series(careless, name="careless"), pop, form or "", item_ids)


def _with_truth(sim: Simulated, truth: pd.DataFrame, n: int) -> Simulated:
    patients = truth.pop("patient").to_numpy()
    ids = _labels("P", patients, len(str(n))) if len(patients) else np.array([], dtype=str)
    labelled = truth.assign(respondent_id=ids)
    return replace(sim, ruptures=labelled[list(RUPTURE_COLUMNS)].reset_index(drop=True))


def simulate(
    instrument: Instrument,
    n: int,
    *,
    form: str | None = "patient-full",
    clinicians: int = 20,
    sessions: int = 3,
    seed: int = 0,
    population: Population | None = None,
    months: int | None = None,
    dif: tuple[Dif, ...] = (),
    ruptures: float = 0.0,
    rupture_size: float = 1.0,
) -> Simulated:
    """Draw ``n`` patients, each seen by one of ``clinicians`` for up to ``sessions`` sessions.

    Parameters
    ----------
    instrument : Instrument
        Whose items (with response scales) are answered.
    n : int
        Number of patients (respondents); rows are patient-sessions.
    form : str or None, default 'patient-full'
        Which form is answered; None answers every item of the bank of one perspective.
    clinicians : int, default 20
    sessions : int, default 3
        Sessions per patient for those who do not drop out.
    seed : int, default 0
        Same seed, same data.
    months : int or None
        Observe the clinic for this many calendar months from January 2026: first visits
        spread over the whole window, and sessions that would fall after it have not
        happened yet (they are not in the export). None: first visits over about nine months,
        every session kept.
    dif : tuple of Dif
        Items planted to work differently in one site or clinician's rows.
    ruptures : float, default 0
        Share of the patients with two or more sessions in whom one pillar drops by
        ``rupture_size`` latent SDs for one or two sessions (``Simulated.ruptures`` lists
        them). Drawn from a stream of their own: the rest of the data is as without them.
    """
    _check_counts(n, clinicians, sessions)
    items, perspective = _one_rater(instrument, form)
    pop = population or population_for(instrument, form)
    sim, *_ = _simulate_rater(
        instrument,
        items,
        perspective,
        pop,
        n,
        form,
        clinicians,
        sessions,
        seed,
        months,
        dif,
        ruptures,
        rupture_size,
    )
    return sim


def _simulate_rater(
    instrument: Instrument,
    items: tuple[Item, ...],
    perspective: str,
    pop: Population,
    n: int,
    form: str | None,
    clinicians: int,
    sessions: int,
    seed: int,
    months: int | None,
    dif: tuple[Dif, ...],
    ruptures: float,
    rupture_size: float,
) -> tuple[Simulated, _Design, np.ndarray, np.ndarray, np.ndarray]:
    """One rater's export; and what another rater of the same sessions shares: the design,
    every session's latent scores, the visit days and which sessions fall in the window."""
    rng = np.random.default_rng(seed)
    design, eta = _design_and_latent(pop, n, clinicians, sessions, rng)
    truth = _plant_ruptures(
        design,
        eta,
        list(pop.correlation.index),
        ruptures,
        rupture_size,
        np.random.default_rng([seed, _RUPTURE_STREAM]),
    )
    answers, careless, duration = _answers(
        instrument, items, pop, eta, design.row_labels, dif, form, rng
    )
    offsets, window = _visit_days(design, n, months, rng)
    sim = _assemble(
        design,
        n,
        clinicians,
        items,
        answers,
        careless,
        duration,
        eta,
        offsets,
        perspective,
        pop,
        form,
        rng,
    )
    sim = _with_truth(sim, truth, n)
    kept = offsets < window if months is not None else np.ones(len(offsets), dtype=bool)
    return (sim if months is None else sim.subset(kept)), design, eta, offsets, kept


_RUPTURE_STREAM = 2
_CLINICIAN_STREAM = 7
CLINICIAN_AGREEMENT = 0.45  # latent patient-clinician correlation of each pillar
CLINICIAN_BIAS = -0.30  # clinicians rate the alliance a little lower than patients do
CLINICIAN_RATER_SHARE = 0.15  # how much of a clinician's ratings is their own way of rating


def parallel_form(instrument: Instrument, form: str) -> str:
    """The clinician form whose items mirror the most items of the patient ``form``."""
    ids = {i.id for i in instrument.select(form)}
    twins = {i.parallel for i in instrument.items if i.id in ids and i.parallel} | {
        i.id for i in instrument.items if i.parallel in ids
    }
    best, overlap = "", 0
    for name, other in instrument.forms.items():
        mine = set(other.items)
        sides = {instrument.item(i).perspective for i in mine}
        if sides == {"clinician"} and mine <= twins and len(mine) > overlap:
            best, overlap = name, len(mine)
    if not best:
        raise ValueError(
            f"no clinician form mirrors the items of form {form!r}: give each patient item a "
            "'parallel' clinician item, and a form of them."
        )
    return best


def simulate_perspectives(
    instrument: Instrument,
    n: int,
    *,
    form: str = "patient-full",
    clinician_form: str | None = None,
    clinicians: int = 20,
    sessions: int = 3,
    seed: int = 0,
    months: int | None = None,
    ruptures: float = 0.0,
    rupture_size: float = 1.0,
    agreement: float = CLINICIAN_AGREEMENT,
) -> dict[str, Simulated]:
    """The patient's and the clinician's ratings of the same sessions.

    The patient side is exactly ``simulate(...)`` with the same arguments. The clinician
    rates each pillar from a latent score that correlates ``agreement`` with the patient's
    (planted ruptures included, so a clinician sees only part of one), is shifted by
    ``CLINICIAN_BIAS`` and carries the clinician's own way of rating; the observed pillar
    scores then correlate about .3 to .4, as meta-analyses of patient and therapist alliance
    ratings report.
    """
    _check_counts(n, clinicians, sessions)
    if not -1 < agreement < 1:
        raise ValueError(f"'agreement' must lie strictly between -1 and 1; got {agreement!r}.")
    items, side = _one_rater(instrument, form)
    if side != "patient":
        raise ValueError(f"'form' must be a patient form; {form!r} is rated by the {side}.")
    pop = population_for(instrument, form)
    patients, design, eta_p, offsets, kept = _simulate_rater(
        instrument,
        items,
        "patient",
        pop,
        n,
        form,
        clinicians,
        sessions,
        seed,
        months,
        (),
        ruptures,
        rupture_size,
    )
    c_form = clinician_form or parallel_form(instrument, form)
    c_items, c_side = _one_rater(instrument, c_form)
    if c_side != "clinician":
        raise ValueError(f"'clinician_form' {c_form!r} is rated by the {c_side}.")
    c_pop = population_for(instrument, c_form)
    c_subscales = list(c_pop.correlation.index)
    rng = np.random.default_rng([seed, _CLINICIAN_STREAM])
    rows = len(design.patient)
    chol = np.linalg.cholesky(c_pop.correlation.to_numpy())
    own = (
        np.sqrt(CLINICIAN_RATER_SHARE)
        * (rng.standard_normal((clinicians, len(c_subscales))) @ chol.T)[
            design.clinician_of[design.patient]
        ]
        + np.sqrt(1 - CLINICIAN_RATER_SHARE)
        * rng.standard_normal((rows, len(c_subscales)))
        @ chol.T
    )
    p_subscales = list(pop.correlation.index)
    eta_c = np.sqrt(1 - agreement**2) * own + CLINICIAN_BIAS
    for f, name in enumerate(c_subscales):
        if name in p_subscales:
            eta_c[:, f] += agreement * eta_p[:, p_subscales.index(name)]
    answers, careless, duration = _answers(
        instrument, c_items, c_pop, eta_c, design.row_labels, (), c_form, rng
    )
    clin = _assemble(
        design,
        n,
        clinicians,
        c_items,
        answers,
        careless,
        duration,
        eta_c,
        offsets,
        "clinician",
        c_pop,
        c_form,
        rng,
    )
    clin = replace(clin, ruptures=patients.ruptures)
    return {"patient": patients, "clinician": clin if months is None else clin.subset(kept)}
