"""The simulator's nesting, recovered by the two-level model: with the rater's mood and growth
turned off, a pillar's latent variance is .08 clinician, .77 patient and .15 session, so a
two-level fit with equal loadings at both levels finds .85 of each pillar between patients and
.08 between clinicians."""

from __future__ import annotations

from dataclasses import replace

import pytest

from analysis.cfa.twolevel import fit_twolevel
from analysis.simulate import simulate
from analysis.simulate.population import Population, population_for
from instrument import builtin_instrument

FORM = "patient-short"


def _population() -> Population:
    bank = builtin_instrument()
    return replace(
        population_for(bank, FORM),
        halo_sd=0.0,
        growth_per_session=0.0,
        missing_rate=0.0,
        skipped_block_rate=0.0,
        careless_rate=0.0,
    )


def _shares(cluster: str, **draw: int) -> dict[str, float]:
    """Each pillar's between-cluster share of its factor variance, loadings equal at both
    levels so that the two factor variances are on one scale."""
    bank = builtin_instrument()
    sim = simulate(bank, form=FORM, population=_population(), **draw)  # type: ignore[arg-type]
    groups = bank.subscale_items(FORM)

    def block(suffix: str) -> str:
        return "\n".join(
            f"{f}{suffix} =~ " + " + ".join([ids[0], *(f"L{i}*{i}" for i in ids[1:])])
            for f, ids in groups.items()
        )

    fit = fit_twolevel(sim.data, f"level: 1\n{block('')}\nlevel: 2\n{block('_b')}", cluster)
    e = fit.estimates
    out = {}
    for f in groups:
        within = e[(e["lhs"] == f) & (e["rhs"] == f) & (e["level"] == 1)]["est"].iloc[0]
        between = e[(e["lhs"] == f"{f}_b") & (e["rhs"] == f"{f}_b") & (e["level"] == 2)]
        out[f] = float(between["est"].iloc[0] / (between["est"].iloc[0] + within))
    return out


def test_sessions_within_patients_recover_the_patients_share() -> None:
    pop = _population()
    truth = 1 - pop.session_share
    assert truth == pytest.approx(0.85)
    for pillar, share in _shares("respondent_id", n=3000, sessions=4, seed=5).items():
        assert share == pytest.approx(truth, abs=0.02), pillar


def test_patients_within_clinicians_recover_the_clinicians_share() -> None:
    truth = _population().clinician_share
    shares = _shares("clinician_id", n=6000, sessions=1, clinicians=80, seed=6)
    for pillar, share in shares.items():
        assert share == pytest.approx(truth, abs=0.03), pillar
