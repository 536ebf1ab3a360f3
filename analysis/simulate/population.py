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

from instrument import Instrument

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
_POPULATION_SEED = 20_261_124
_FIRST_VISIT = np.datetime64("2026-01-05")


@dataclass(frozen=True)
class Population:
    """Parameters of the data-generating model, labelled by subscale and item id."""

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
    """
    for name, value, low in (("n", n, 1), ("clinicians", clinicians, 1), ("sessions", sessions, 1)):
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < low:
            raise ValueError(f"'{name}' must be an integer >= {low}; got {value!r}.")
    items = instrument.select(form)
    perspectives = {item.perspective for item in items}
    if len(perspectives) != 1:
        raise ValueError(
            "'form' must name a form filled in by one rater; the whole bank mixes patient and "
            "clinician items. Pick a form such as 'patient-full'."
        )
    pop = population or population_for(instrument, form)
    rng = np.random.default_rng(seed)
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

    answers = np.empty((rows, len(items)))
    halo = pop.halo_sd * rng.standard_normal(rows)
    width_c = max(len(str(clinicians)), 2)
    row_labels = {
        "site_id": _labels("S", site_of_clinician[clinician_of[patient]], 2),
        "clinician_id": _labels("C", clinician_of[patient], width_c),
    }
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

    window = 270
    if months is not None:
        if months < 1:
            raise ValueError(f"'months' must be an integer >= 1; got {months!r}.")
        end = np.datetime64("2026-01", "M") + np.timedelta64(months, "M")
        window = int((end.astype("datetime64[D]") - _FIRST_VISIT).astype(int))
    start = rng.integers(0, window, size=n)
    gaps = rng.integers(7, 22, size=rows)
    gaps[session == 1] = 0
    elapsed = np.cumsum(gaps)
    first_row = np.repeat(np.cumsum(attended) - attended, attended)
    offsets = start[patient] + elapsed - elapsed[first_row]
    dates = (_FIRST_VISIT + offsets.astype("timedelta64[D]")).astype(str)

    width_p = len(str(n))
    clin = clinician_of[patient]
    context = pd.DataFrame(
        {
            "response_id": _response_ids(rng, rows),
            "respondent_id": _labels("P", patient, width_p),
            "clinician_id": _labels("C", clin, width_c),
            "site_id": _labels("S", site_of_clinician[clin], 2),
            "session": session.astype(np.int64),
            "date": dates,
            "perspective": perspectives.pop(),
            "duration_seconds": duration,
            "dropout": dropout[patient].astype(np.int64),
        }
    )
    assert list(context.columns) == [*CONTEXT_COLUMNS, *EXTRA_COLUMNS]
    item_ids = tuple(i.id for i in items)
    data = pd.concat([context, pd.DataFrame(answers, columns=list(item_ids))], axis=1)
    latent = pd.DataFrame(eta, columns=subscales)
    sim = Simulated(data, latent, pd.Series(careless, name="careless"), pop, form or "", item_ids)
    return sim if months is None else sim.subset(offsets < window)
