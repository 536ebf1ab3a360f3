"""`alliance items` and `alliance simulate`: the item bank, its survey exports, and
realistic simulated exports."""

from __future__ import annotations

from pathlib import Path

import click

from analysis.choices import SIMULATE_FORMATS
from analysis.fileio import atomic_write_text
from instrument import load_instrument
from instrument.exports import FORMATS, export

from .cli_common import (
    InputError,
    calibration_option,
    instrument_option,
    say,
    stop_option,
    user_errors,
)

ITEM_FORMATS = (*FORMATS, "adaptive")


@click.command(name="items")
@instrument_option
@click.option(
    "--form",
    default=None,
    metavar="NAME",
    help="A named form (e.g. patient, patient-short, clinician, trust); default: the whole "
    "bank, or with --calibration its short form.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(ITEM_FORMATS),
    default="table",
    show_default=True,
    help="table and csv list the items; json adds scales, subscales, forms and counts; "
    "redcap is a data dictionary; qualtrics is Advanced Format TXT; html is a "
    "printable form; fhir is a FHIR R4 Bundle of the Questionnaire and the CodeSystems of its "
    "answers (for an electronic health record); adaptive (with --calibration) is an offline "
    "page that asks each respondent only the items that tell the most and saves the answers "
    "as a CSV.",
)
@calibration_option(
    "An item calibration (alliance calibrate): adds its short form, <form>-irt-short, "
    "chosen by information, and makes --format adaptive possible."
)
@stop_option("The adaptive page's stopping rule, per subscale.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of stdout.",
)
@user_errors
def items_command(
    instrument_spec: str,
    form: str | None,
    fmt: str,
    calibration_file: Path | None,
    stop: str,
    output: Path | None,
) -> None:
    """List the item bank or one form, or export it to a survey platform.

    \b
    Examples:
      alliance items                                   # every item, as a table
      alliance items --form patient-short --format json
      alliance items --form patient --format redcap -o alliance_dictionary.csv
      alliance items --form patient-full --format qualtrics -o survey.txt
      alliance items --form clinician --format html -o clinician_form.html
      alliance items --form patient --format fhir -o questionnaire.json
      alliance items --instrument my_scale.yaml --format csv
      alliance items --calibration calibration.yaml --format redcap -o short_dictionary.csv
      alliance items --calibration calibration.yaml --format adaptive -o adaptive.html
    """
    instrument = load_instrument(instrument_spec)
    calibration = None
    if calibration_file is not None:
        from analysis.irt import load_calibration
        from analysis.irt.calibration import short_form_of

        calibration = load_calibration(calibration_file)
        if calibration.instrument != instrument.name:
            raise InputError(
                f"{calibration_file.name}: a calibration of instrument "
                f"'{calibration.instrument}', not '{instrument.name}'; give --instrument."
            )
        short = short_form_of(calibration, instrument)
        instrument = instrument.with_form(short)
        if form is None and fmt != "adaptive":
            form = short.name
    if fmt == "adaptive":
        if calibration is None:
            raise InputError("--format adaptive needs --calibration FILE (alliance calibrate).")
        from analysis.irt.adaptive import StopRule

        from .adaptive_page import adaptive_page

        text = adaptive_page(calibration, instrument, StopRule.parse(stop))
        count = sum(len(s.items) for s in calibration.scales.values())
    else:
        if form is not None:
            instrument.form(form)  # a clear error for an unknown form name
        text = export(instrument, fmt, form)
        count = len(instrument.select(form))
    if output is None:
        click.echo(text, nl=False)
    else:
        atomic_write_text(output, text)
        say(f"wrote {count} items ({fmt}{', ' + form if form else ''}) to {output}")


@click.command(name="simulate")
@instrument_option
@click.option("-n", "n", type=click.IntRange(min=1), required=True, help="Number of patients.")
@click.option("--clinicians", type=click.IntRange(min=1), default=20, show_default=True)
@click.option(
    "--sessions",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Sessions per patient (fewer for those who drop out).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same file.")
@click.option(
    "--form",
    default="patient-full",
    show_default=True,
    metavar="NAME",
    help="Which form the patients answer.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(SIMULATE_FORMATS),
    default=None,
    help="Export shape; default from the file name (.sav is SPSS, .json a FHIR Bundle and .ndjson "
    "a FHIR bulk export of QuestionnaireResponses, else csv).",
)
@click.option(
    "--months",
    type=click.IntRange(min=1),
    default=None,
    help="Observe the clinic for this many months from January 2026; later sessions have "
    "not happened yet.",
)
@click.option(
    "--per-month",
    is_flag=True,
    help="Write one export per calendar month: NAME-2026-01.csv, NAME-2026-02.csv, ...",
)
@click.option(
    "--dif",
    "dif",
    multiple=True,
    metavar="ITEM:KIND=SIZE:COLUMN=VALUE",
    help="Plant an item that works differently in one site or clinician's rows, e.g. "
    "'pg03:intercept=-0.8:site_id=S01' (or loading=0.3); repeatable.",
)
@click.option(
    "--perspectives",
    default="patient",
    show_default=True,
    metavar="LIST",
    help="'patient,clinician': both sides rate the same sessions (the clinician on the form "
    "parallel to --form, agreeing modestly), one export each: NAME-patient, NAME-clinician.",
)
@click.option(
    "--ruptures",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    metavar="SHARE",
    help="Share of patients (with 2+ sessions) in whom one pillar drops by 1 SD for one or "
    "two sessions while the others hold.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@user_errors
def simulate_command(
    instrument_spec: str,
    n: int,
    clinicians: int,
    sessions: int,
    seed: int,
    form: str,
    fmt: str | None,
    months: int | None,
    per_month: bool,
    dif: tuple[str, ...],
    perspectives: str,
    ruptures: float,
    output: Path,
) -> None:
    """Write a realistic simulated survey export.

    Three correlated alliance pillars and trust factors, clinician effects, several sessions
    per patient, dropout, ceiling effects, a few missing answers and careless responders.

    \b
    Examples:
      alliance simulate -n 2000 --clinicians 40 --sessions 3 -o export.csv
      alliance simulate -n 500 --format qualtrics -o qualtrics_export.csv
      alliance simulate -n 500 --format redcap -o redcap_export.csv
      alliance simulate -n 500 -o export.sav
      alliance simulate -n 3000 --clinicians 40 --months 12 --per-month -o exports/clinic.csv
      alliance simulate -n 1500 --sessions 1 --dif 'pg03:intercept=-0.8:site_id=S01' -o dif.csv
      alliance simulate -n 600 --sessions 8 --perspectives patient,clinician --months 12 \\
          --per-month --ruptures 0.2 -o exports/clinic.csv
    """
    # Here, not at the top: the simulator imports pandas and scipy, which items does not need.
    from analysis.simulate import (
        Dif,
        form_for,
        format_for,
        simulate,
        simulate_perspectives,
        write_export,
    )

    instrument = load_instrument(instrument_spec)
    chosen = format_for(output, fmt)
    sides = _perspectives(perspectives)

    if sides == ("patient",):
        sims = {
            "": simulate(
                instrument,
                n,
                form=form_for(instrument, form),
                clinicians=clinicians,
                sessions=sessions,
                seed=seed,
                months=months,
                dif=tuple(Dif.parse(d) for d in dif),
                ruptures=ruptures,
            )
        }
    else:
        if dif:
            raise InputError("--dif plants an item in one export; use it without --perspectives.")
        both = simulate_perspectives(
            instrument,
            n,
            form=form_for(instrument, form) or form,
            clinicians=clinicians,
            sessions=sessions,
            seed=seed,
            months=months,
            ruptures=ruptures,
        )
        sims = {f"-{side}": both[side] for side in sides}
    if per_month:  # a folder of monthly files: made when it is not there yet
        output.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, sim in sims.items():
        side = suffix.lstrip("-") or sim.data["perspective"].iloc[0] if len(sim.data) else ""
        base = output.with_stem(output.stem + suffix)
        if per_month:
            parts = sim.by_month()
            for month, part in parts.items():
                write_export(part, instrument, base.with_stem(f"{base.stem}-{month}"), chosen)
            written.append(f"{len(parts)} monthly files {base.with_stem(base.stem + '-YYYY-MM')}")
        else:
            write_export(sim, instrument, base, chosen)
            written.append(str(base))
        say(
            f"wrote {len(sim.data):,} {side} "
            f"responses from {n:,} patients and {clinicians} clinicians ({chosen}) to "
            f"{written[-1]}"
        )


_SIDES = ("patient", "clinician")


def _perspectives(text: str) -> tuple[str, ...]:
    """'patient' or 'patient,clinician' (in either order, the patient side always there)."""
    sides = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    unknown = [p for p in sides if p not in _SIDES]
    if unknown or not sides:
        raise InputError(f"--perspectives takes patient or patient,clinician; got {text!r}.")
    if "patient" not in sides:
        raise InputError(
            "--perspectives needs the patient side: the clinician's ratings are drawn beside "
            "the patient's (for a clinician form alone, use --form clinician)."
        )
    return tuple(p for p in _SIDES if p in sides)
