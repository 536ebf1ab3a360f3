"""Realistic simulated exports from Python, as `alliance simulate` writes them: for trying the
toolkit, for examples and for tests."""

from __future__ import annotations

from pathlib import Path


def simulate(
    path: str | Path,
    n: int = 500,
    *,
    clinicians: int = 20,
    sessions: int = 3,
    seed: int = 0,
    form: str = "patient-full",
    format: str | None = None,
    months: int | None = None,
    ruptures: float = 0.0,
    instrument: str = "alliance",
) -> Path:
    """Write a simulated export of ``n`` patients to ``path`` and return the path.

    Parameters
    ----------
    path : str or Path
        The file to write; its folder is made when it does not exist.
    n : int, default 500
        Patients.
    clinicians : int, default 20
    sessions : int, default 3
        Sessions per patient (some drop out).
    seed : int, default 0
        The same seed writes the same file.
    form : str, default 'patient-full'
        The instrument's form; another instrument's only form is taken when it has one.
    format : {'csv', 'qualtrics', 'redcap', 'sav', 'fhir'}, optional
        Default: from the file name (.sav, .json and .ndjson), else CSV.
    months : int, optional
        Spread the sessions over this many months up to today.
    ruptures : float, default 0.0
        The share of patients with a planted rupture (one pillar falls for two sessions).
    instrument : str, default 'alliance'
        The built-in bank, a YAML file or a model string.

    Examples
    --------
    >>> alliance.simulate("trial/export.csv", n=50, seed=3)
    PosixPath('trial/export.csv')
    """
    from analysis.simulate import form_for, format_for, write_export
    from analysis.simulate import simulate as draw
    from instrument import load_instrument

    bank = load_instrument(instrument)
    target = Path(path)
    chosen = format_for(target, format)
    sim = draw(
        bank,
        n,
        form=form_for(bank, form),
        clinicians=clinicians,
        sessions=sessions,
        seed=seed,
        months=months,
        ruptures=ruptures,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    return write_export(sim, bank, target, chosen)
