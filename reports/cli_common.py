"""Shared by the command modules: error handling, the --instrument option, stderr messages."""

from __future__ import annotations

import functools
import inspect
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from analysis.choices import (
    ALERT_SESSIONS,
    DEFAULT_ALERT_RATE,
    DEFAULT_DROP,
    DEFAULT_ESTABLISH_WITHIN,
    DEFAULT_MAX_MISSING_SHARE,
    ESTIMATOR_REQUESTS,
    GROUP_EQUAL,
    LEVEL_STRUCTURES,
    MISSING_METHODS,
    ROW_SELECTIONS,
)
from analysis.wording import Worded

if TYPE_CHECKING:
    from analysis.reading import Options
    from analysis.store.backends import Backend

F = TypeVar("F", bound=Callable[..., Any])


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text for the terminal: control characters (escape sequences a hostile column name
    could carry) shown as escapes, never sent raw."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


class InputError(click.ClickException):
    """Bad configuration or unreadable input: one line on stderr, exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        one_line = " ".join(printable(self.format_message()).split())
        click.echo(f"alliance: error: {one_line}", err=True)


# The flags whose names are not the library's parameter names with dashes.
_FLAGS = {"map_file": "--map", "max_bytes": "--max-size", "pseudonym_key": "--pseudonymize"}


def flag(parameter: str) -> str:
    """The command-line flag of a library parameter: ``header_row`` is ``--header-row``."""
    return _FLAGS.get(parameter, "--" + parameter.replace("_", "-"))


def flag_words(exc: BaseException) -> str:
    """A library error as the command line says it: options named by their flags."""
    message = exc.args[0] if exc.args else ""
    return message.with_flags(flag) if isinstance(message, Worded) else str(exc)


def user_errors(func: F) -> F:
    """Turn the library's input errors into a one-line message and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BrokenPipeError:
            # The reader went away (e.g. `| head`): stop quietly, as Unix tools do.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise SystemExit(0) from None
        # The library's input errors (BankError, ExportError, ThresholdError, ModelError)
        # are all ValueErrors.
        except ValueError as exc:
            raise InputError(flag_words(exc)) from None
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            raise InputError(f"{where}{exc.strerror or exc}") from None

    return wrapper  # type: ignore[return-value]


def instrument_option(func: F) -> F:
    return click.option(
        "--instrument",
        "instrument_spec",
        default="alliance",
        show_default=True,
        metavar="FILE|NAME|MODEL",
        help="The built-in bank ('alliance'), your instrument YAML file, or a lavaan-style "
        "model string such as 'bond =~ b1 + b2 + b3; goals =~ g1 + g2 + g3'.",
    )(func)


def say(message: str) -> None:
    click.echo(printable(message), err=True)


def show(message: str) -> None:
    """A line of a command's human-readable output on stdout, control characters escaped."""
    click.echo(printable(message))


KEY_ENV = "ALLIANCE_PSEUDONYM_KEY"


def key_options(func: F) -> F:
    """--pseudonymize KEY, --pseudonymize-key-file FILE or $ALLIANCE_PSEUDONYM_KEY: a key in
    the command line is visible to every user of the machine (the process list), so a file
    or the environment is the safer way to give it."""
    func = click.option(
        "--pseudonymize-key-file",
        "key_file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Read the pseudonymisation key from this file (its first line).",
    )(func)
    return click.option(
        "--pseudonymize",
        "key",
        default=None,
        metavar="KEY",
        envvar=KEY_ENV,
        help=f"Replace ids by a keyed hash (HMAC-SHA256); also from ${KEY_ENV}.",
    )(func)


def pseudonym_key(key: str | None, key_file: Path | None) -> str | None:
    """The key from the option, the environment or the file (one of them)."""
    if key_file is None:
        return key
    if key is not None:
        raise InputError(f"give the key once: --pseudonymize (or ${KEY_ENV}) or a key file.")
    try:
        found = key_file.read_text(encoding="utf-8").strip().splitlines()
    except OSError as exc:
        raise InputError(f"{key_file}: {exc.strerror or exc}") from None
    if not found or not found[0].strip():
        raise InputError(f"{key_file}: the key file is empty.")
    return found[0].strip()


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """'500MB', '2GB', '1.5G' or a number of bytes."""
    found = _SIZE.match(text)
    if not found:
        raise click.BadParameter(f"'max-size' must look like 500MB or 2GB; got {text!r}.")
    number, unit = float(found.group(1)), found.group(2).lower()
    return int(number * 1000 ** " kmgt".index(unit or " "))


def _pillars(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(p.strip() for p in value.split(",") if p.strip())


def names_list(value: str | None) -> tuple[str, ...]:
    """Comma-separated names as a tuple ('' and None: none)."""
    return tuple(c.strip() for c in (value or "").split(",") if c.strip())


_PRIVACY_PARAMS = ("id_column", "keep_columns", "drop_columns", "dictionary", "require_complete")


def _privacy_options(func: F) -> F:
    """--id, --keep-columns, --drop-columns, --dictionary and --require-complete. They reach
    `pipeline_options` through the click context, so a command's signature does not list
    them."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        meta = click.get_current_context().meta
        for name in _PRIVACY_PARAMS:
            meta["alliance." + name] = kwargs.pop(name)
        return func(*args, **kwargs)

    decorated: Any = wrapper
    for option in reversed(
        [
            click.option(
                "--id",
                "id_column",
                default=None,
                metavar="COLUMN",
                help="The column holding the respondent id, when its name is not one the "
                "tool knows (id, patient_id, record_id, ...).",
            ),
            click.option(
                "--keep-columns",
                "keep_columns",
                default=None,
                metavar="A,B",
                help="Keep these columns although they look like identifiers (names, e-mail, "
                "phone, date of birth, address), which are otherwise left out as the export "
                "is read and never stored or written.",
            ),
            click.option(
                "--drop-columns",
                "drop_columns",
                default=None,
                metavar="A,B",
                help="Leave these columns out too, as identifiers.",
            ),
            click.option(
                "--dictionary",
                type=click.Path(dir_okay=False, path_type=Path),
                default=None,
                help="A REDCap data dictionary: fields it marks 'Identifier? = y' are left out "
                "(default: a *dictionary*.csv found beside the export).",
            ),
            click.option(
                "--require-complete",
                is_flag=True,
                help="Set aside REDCap rows whose form status is not Complete (by default "
                "only rows without answers are set aside; the status is a finding).",
            ),
        ]
    ):
        decorated = option(decorated)
    return decorated


def identifier_note(export: Any) -> str | None:
    """One line naming the columns left out as identifiers, or None."""
    dropped = export.identifiers
    if not dropped:
        return None
    shown = "; ".join(f"{d.column} ({d.reason})" for d in dropped)
    source = f" and the data dictionary {export.dictionary}" if export.dictionary else ""
    return (
        f"left out {len(dropped)} identifying column{'s' if len(dropped) != 1 else ''} "
        f"by their names, labels, values{source}; nothing of them is kept or written: "
        f"{shown}. Keep one on purpose with --keep-columns."
    )


def say_identifiers(export: Any) -> None:
    note = identifier_note(export)
    if note is not None:
        say(note)


def stop_if_nothing_usable(checked: Any, what: str) -> None:
    """Exit 1 with one line when the checks kept no row: there is nothing to ``what``."""
    if checked.rows_usable:
        return
    reasons = ", ".join(f"{n:,} {r}" for r, n in checked.quarantine_reasons().items())
    say(
        f"alliance: nothing to {what}: none of the {checked.rows_in:,} rows is usable "
        f"({reasons}); alliance check lists why."
    )
    raise SystemExit(1)


def read_options(func: F) -> F:
    """--instrument, --map, --max-size, --header-row, --scale and --pillars: how to read an
    export and what its instrument is; with the options on identifiers and REDCap's form
    status. Shared by every command that reads one."""
    func = _privacy_options(func)
    for option in reversed(
        [
            click.option(
                "--map",
                "map_file",
                type=click.Path(path_type=Path),
                default=None,
                help="YAML file naming which export column is which item or context column.",
            ),
            click.option(
                "--max-size",
                default="1GB",
                show_default=True,
                metavar="SIZE",
                help="Refuse exports larger than this (e.g. 500MB, 4GB).",
            ),
            click.option(
                "--header-row",
                type=click.IntRange(min=1),
                default=None,
                metavar="N",
                help="The row holding the column names, when rows above it are titles or "
                "notes (CSV and Excel).",
            ),
            click.option(
                "--scale",
                default=None,
                metavar="LOW-HIGH",
                help="Response scale of items whose instrument declares none (a model "
                "string), e.g. 1-5; default: the export's value labels, else the answers seen.",
            ),
            click.option(
                "--pillars",
                default=None,
                metavar="A,B,...",
                help="Subscales the non-compensatory rule applies to, instead of the "
                "instrument's declared rule.",
            ),
        ]
    ):
        func = option(func)
    return instrument_option(func)


def score_options(func: F) -> F:
    """--thresholds and --max-missing: how the rule is applied."""
    func = click.option(
        "--max-missing",
        type=click.FloatRange(0, 1, max_open=True),
        default=DEFAULT_MAX_MISSING_SHARE,
        show_default=True,
        help="Largest share of a subscale's items that may be unanswered for it to be scored "
        "(0.25: 1 of 4, 2 of 8).",
    )(func)
    return click.option(
        "--thresholds",
        "thresholds_file",
        type=click.Path(path_type=Path),
        default=None,
        help="YAML file of minimums per pillar (fixed, normative or criterion); default: 3.5 "
        "on a 1-5 scale (62.5% of the range) for each pillar.",
    )(func)


def calibration_option(
    help: str = "An item calibration (alliance calibrate): adds EAP theta, its SE and the "
    "T-score per subscale, and the rule on theta.",
    required: bool = False,
) -> Callable[[F], F]:
    """--calibration FILE: an item calibration, with what it does in this command."""
    return click.option(
        "--calibration",
        "calibration_file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        required=required,
        help=help,
    )


def stop_option(help: str) -> Callable[[F], F]:
    """--stop: an adaptive test's stopping rule (analysis.irt.adaptive.StopRule.parse)."""
    from analysis.choices import DEFAULT_STOP

    return click.option(
        "--stop", default=DEFAULT_STOP, show_default=True, metavar="se=X,min=N,max=N", help=help
    )


def validate_options(func: F) -> F:
    """--model, --estimator, --missing, --ordered (:func:`fit_options`), and --cluster,
    --levels, --rows and --efa-correlation: what is fitted, how, and on which rows."""
    func = click.option(
        "--cluster",
        default=None,
        metavar="COLUMN|none",
        help="Rows that are not independent (a patient's sessions): cluster-robust standard "
        "errors and scaled test by MLR, as lavaan's cluster=. Default: the respondent, when "
        "respondents have several rows; none: every row independent.",
    )(func)
    func = click.option(
        "--levels",
        type=click.Choice(LEVEL_STRUCTURES),
        default=None,
        help="The two-level model of clustered rows, fitted by ML beside the others (lavaan's "
        "level: 1 / level: 2): the pillars within clusters and, between clusters, each pillar "
        "(pillars, the default when the rows are clustered) or one factor (one); none: no "
        "two-level model. A --model with level blocks is fitted as written.",
    )(func)
    func = click.option(
        "--rows",
        type=click.Choice(ROW_SELECTIONS),
        default="usable",
        show_default=True,
        help="usable: the rows the checks kept; all: every row with an answer, as R reads "
        "the file.",
    )(func)
    func = click.option(
        "--efa-correlation",
        type=click.Choice(["pearson", "polychoric"]),
        default=None,
        help="The correlations of the EFA and parallel analysis (as psych's cor = 'poly'); "
        "default: polychoric under wlsmv, else pearson.",
    )(func)
    return fit_options(func)


def fit_options(func: F) -> F:
    """--model, --estimator, --missing and --ordered: the model and how it is fitted."""
    func = click.option(
        "--missing",
        type=click.Choice(MISSING_METHODS),
        default=None,
        help='fiml: every answer counts (full-information ML, lavaan\'s missing = "ml"; the '
        "default for ml and mlr when an answer is missing); pairwise: each polychoric "
        "correlation from the rows that answered both items (the default for wlsmv); "
        "listwise: only rows that answered every item of the model (the default for ml and "
        "mlr when none is missing, as lavaan's).",
    )(func)
    func = click.option(
        "--ordered",
        default=None,
        metavar="all|ITEMS",
        help="Fit by WLSMV with these items ordinal: 'all', or the items named, "
        "comma-separated (the model's other items are then continuous).",
    )(func)
    func = click.option(
        "--estimator",
        type=click.Choice(ESTIMATOR_REQUESTS),
        default="ml",
        show_default=True,
        help="ml; mlr for robust standard errors and the scaled chi-square; mlm for "
        "Satorra-Bentler's (expected information, complete rows); wlsmv for ordinal items "
        "(thresholds and polychoric correlations, lavaan's ordered = TRUE), ulsmv the same "
        "unweighted; auto: wlsmv or mlr from the number of categories and the asymmetry of "
        "the thresholds, saying why.",
    )(func)
    return click.option(
        "--model",
        default=None,
        metavar="SYNTAX",
        help="lavaan-style model to fit instead of the instrument's (its competing models; "
        "for factor scores, its subscales), e.g. 'visual =~ x1 + x2 + x3; textual =~ x4 + "
        "x5 + x6'.",
    )(func)


def bootstrap_options(func: F) -> F:
    """--bootstrap N and --seed S: percentile intervals for omega, CR, AVE and HTMT."""
    func = click.option(
        "--seed",
        type=int,
        default=None,
        help="The bootstrap's seed, to repeat a run (default: one is chosen and printed).",
    )(func)
    return click.option(
        "--bootstrap",
        type=click.IntRange(min=0),
        default=0,
        metavar="N",
        help="Percentile 95%% intervals for omega, CR, AVE and HTMT from N bootstrap draws "
        "(1000 is usual), resampling whole patients when sessions repeat; on both cores, with "
        "a progress bar; draws that do not converge are counted and left out.",
    )(func)


def _group_equal(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    words = tuple(w.strip() for w in value.split(",") if w.strip())
    unknown = [w for w in words if w not in GROUP_EQUAL]
    if unknown:
        raise click.BadParameter(
            f"{', '.join(map(repr, unknown))}: choose from {', '.join(GROUP_EQUAL)}."
        )
    return words


def _sessions(value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        found = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: session numbers separated by commas, e.g. 1,2,3."
        ) from None
    if len(found) < 2 or len(set(found)) != len(found):
        raise click.BadParameter(f"{value!r}: at least two different sessions, e.g. 1,2,3.")
    return found


def sessions_option(when: str) -> Callable[[F], F]:
    """--sessions LIST: which of a patient's sessions invariance over sessions compares."""
    return click.option(
        "--sessions",
        default=None,
        callback=lambda _ctx, _param, value: _sessions(value),
        metavar="LIST",
        help=f"{when}: which sessions, e.g. 1,2,3 (default: the first three).",
    )


def group_options(equal: bool = True, required: bool = False) -> Callable[[F], F]:
    """--group, --group-equal and --group-partial: a multi-group model."""

    def decorate(func: F) -> F:
        func = click.option(
            "--group-partial",
            default=None,
            metavar="PARAMS",
            help="Parameters exempt from the equality constraints, e.g. 'goals =~ pg03, pg03 ~ 1'.",
        )(func)
        if equal:
            func = click.option(
                "--group-equal",
                default=None,
                callback=_group_equal,
                metavar="KINDS",
                help="Held equal across groups, comma-separated: " + ", ".join(GROUP_EQUAL) + ".",
            )(func)
        # Click counts an explicit default=None as a value, so a required option has none.
        default: dict[str, Any] = {"required": True} if required else {"default": None}
        return click.option(
            "--group",
            **default,
            metavar="COLUMN",
            help="Fit the model in each group of this column (site_id, clinician_id, a "
            "context column such as gender), or 'perspective' for patients against "
            "clinicians on the parallel items.",
        )(func)

    return decorate


_OPTION_NAMES = {
    "alerts": "alerts",
    "instrument_spec": "instrument",
    "model": "model",
    "map_file": "map_file",
    "header_row": "header_row",
    "scale": "scale",
    "thresholds_file": "thresholds",
    "max_missing": "max_missing",
    "estimator": "estimator",
    "missing": "missing",
    "ordered": "ordered",
    "efa_correlation": "efa_correlation",
    "rows": "rows",
    "group": "group",
    "group_equal": "group_equal",
    "group_partial": "group_partial",
    "parallel": "parallel",
    "parallel_iterations": "parallel_iterations",
    "efa_method": "efa_method",
    "invariance": "invariance",
    "by": "by",
    "cluster": "cluster",
    "levels": "levels",
    "over": "over",
    "sessions": "sessions",
    "calibration_file": "calibration",
    "bootstrap": "bootstrap",
    "seed": "seed",
    "key": "pseudonym_key",  # resolved by pseudonym_key() before Options are built
}


def pipeline_options(params: dict[str, Any]) -> Options:
    """The library's :class:`Options` from a command's parameters (those it has)."""
    from analysis.reading import Options  # here: reading imports pandas

    chosen = {field: params[name] for name, field in _OPTION_NAMES.items() if name in params}
    ctx = click.get_current_context(silent=True)
    meta = ctx.meta if ctx is not None else {}
    if "alliance.id_column" in meta:
        chosen["id_column"] = meta["alliance.id_column"]
        chosen["keep_columns"] = names_list(meta["alliance.keep_columns"])
        chosen["drop_columns"] = names_list(meta["alliance.drop_columns"])
        chosen["dictionary"] = meta["alliance.dictionary"]
        chosen["require_complete"] = meta["alliance.require_complete"]
    if "max_size" in params:
        chosen["max_bytes"] = parse_size(params["max_size"])
    if "pillars" in params:
        chosen["pillars"] = _pillars(params["pillars"])
    return Options(**chosen)


def builds_options(func: F) -> F:
    """Give the command ``options``: the library's :class:`Options`, built once from the shared
    flags (read, score, validate, group, privacy) and the pseudonymisation key. A flag the
    command's own signature does not name is consumed here; one it names (a store path, the
    key) is passed on as well, the key resolved from its file or the environment."""
    accepted = inspect.signature(func).parameters

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if "key_file" in kwargs:
            kwargs["key"] = pseudonym_key(kwargs.get("key"), kwargs["key_file"])
        options = pipeline_options(kwargs)
        passed = {name: value for name, value in kwargs.items() if name in accepted}
        return func(*args, options=options, **passed)

    return wrapper  # type: ignore[return-value]


def source_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--db FILE or --parquet DIR (the store, or its Parquet copy), and the engine that runs
    the queries (--engine, --spark-master)."""
    for option in reversed(
        [
            click.option(
                "--db",
                "db",
                type=click.Path(dir_okay=False, path_type=Path),
                default=None,
                metavar="FILE",
                help="The clinic store (a DuckDB file).",
            ),
            click.option(
                "--parquet",
                "parquet",
                type=click.Path(file_okay=False, path_type=Path),
                default=None,
                metavar="DIR",
                help="Read a Parquet copy of a store (alliance export-store) instead of --db; "
                "the log of released cells is kept in DIR/releases.duckdb.",
            ),
            click.option(
                "--engine",
                type=click.Choice(["duckdb", "spark"]),
                default="duckdb",
                show_default=True,
                help="What runs the queries: DuckDB (embedded), or Apache Spark on --parquet "
                "(needs Java and PySpark).",
            ),
            click.option(
                "--spark-master",
                default=None,
                metavar="URL",
                help="With --engine spark: the cluster (spark://host:7077, yarn); default: "
                "the Spark configuration, else local[2].",
            ),
        ]
    ):
        func = option(func)
    return func


@contextmanager
def open_source(
    db: Path | None, parquet: Path | None, engine: str = "duckdb", master: str | None = None
) -> Iterator[Backend]:
    """The backend of --db or --parquet (exactly one) on the engine asked for
    (:func:`analysis.store.backends.open_source`), its errors in the options' words."""
    from analysis.store.backends import open_source as open_backend

    if (db is None) == (parquet is None):
        raise InputError("give the store with --db FILE or its Parquet copy with --parquet DIR.")
    if engine == "spark":
        if parquet is None:
            raise InputError(
                "--engine spark reads a Parquet copy: write one with alliance export-store "
                "--db FILE --parquet DIR, then give --parquet DIR."
            )
        say(f"starting Spark ({master or 'local[2] unless configured'}) ...")
    with open_backend(db, parquet, engine=engine, master=master) as backend:
        yield backend


def parse_since(value: str | None) -> date | None:
    """--since: a date like 2026-03-01."""
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter(f"must be a date like 2026-03-01; got {value!r}.") from None


@contextmanager
def draw_bar(total: int, label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr for ``total`` steps of long work, fed (done, total); None
    when there is nothing to count."""
    if not total:
        yield None
        return
    with click.progressbar(
        length=total, label=label, file=sys.stderr, show_pos=True, show_eta=True
    ) as bar:
        shown = 0

        def step(done: int, _total: int) -> None:
            nonlocal shown
            bar.update(done - shown)
            shown = done

        yield step


def progress_printer() -> tuple[float, Callable[[str], None]]:
    """The start time, and a function that says a step with the seconds since it."""
    start = time.perf_counter()

    def step(message: str) -> None:
        say(f"[{time.perf_counter() - start:5.1f} s] {message} ...")

    return start, step


def alert_options(func: F) -> F:
    """--alert-rate, --drop and --establish-within, given to the command as one
    ``alerts: AlertSettings``."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from analysis.ruptures.alerts import AlertSettings

        kwargs["alerts"] = AlertSettings(
            rate=kwargs.pop("alert_rate"),
            drop=kwargs.pop("drop"),
            establish_within=kwargs.pop("establish_within"),
        )
        return func(*args, **kwargs)

    options = [
        click.option(
            "--alert-rate",
            type=click.FloatRange(min=0, min_open=True),
            default=DEFAULT_ALERT_RATE,
            show_default=True,
            metavar="R",
            help=f"Expected false rupture alerts per 100 patients over {ALERT_SESSIONS} "
            "sessions; the threshold on the probability of a fall is set from the clinic's own "
            "fitted model to give at most this many. Lower finds fewer ruptures.",
        ),
        click.option(
            "--drop",
            type=click.FloatRange(min=0, min_open=True),
            default=DEFAULT_DROP,
            show_default=True,
            metavar="SD",
            help="The fall that counts as a rupture, in the pillar's true-score SDs.",
        ),
        click.option(
            "--establish-within",
            type=click.IntRange(min=1),
            default=DEFAULT_ESTABLISH_WITHIN,
            show_default=True,
            metavar="N",
            help="Flag a patient whose alliance is not adequate in any of the first N sessions.",
        ),
    ]
    decorated: Any = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return decorated
