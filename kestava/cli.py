"""The `kestava` command line: ingest, inspect sources, compute indicators, export and report.

Only typer and rich are imported here: each command imports what it needs (polars, SQLAlchemy, the
indicator engine, the report) when it runs, so `kestava --help` and `kestava status` start fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer._click.core import Context
from typer.core import TyperGroup

from common.errors import (
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_USAGE,
    KestavaError,
    NothingToReportError,
    error_reason,
    first_line,
    is_database_error,
)
from common.logs import LOG_FILE_ENV

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy import Engine

    from indicators.catalogue import AbsoluteTarget, ReductionTarget
    from indicators.engine import ComputeSummary
    from ingest.run import DatasetOutcome
    from report.render import Renderer
    from storage.locks import HeldLock

EPILOG = (
    "Exit codes: 0 done, all well; 1 ran, but something failed or is stale (a dataset, an indicator, "
    "drift, status problems); 2 could not run: a bad argument, an unknown code, no or an unreachable "
    "database, an unwritable output; 3 an unexpected error (a bug: rerun with --verbose for the "
    "traceback).  Times are shown in Europe/Helsinki time and stored in UTC.  `ingest` and `run` "
    "replay the bundled snapshot unless --live; `probe` is always live."
)
INDICATOR_IDS_HINT = "`kestava indicators` lists the indicator ids"  # an unknown indicator with none near
VERBOSE = {"on": False}  # set by the --verbose option: the error handler then prints tracebacks


def explain(error: Exception) -> tuple[int, str]:
    """The exit code and the one-line message for an error that ended a command."""
    if isinstance(error, KestavaError):
        return error.exit_code, str(error)
    module = type(error).__module__
    if module == "storage.locks" and type(error).__name__ in ("BusyError", "LockLostError"):
        return EXIT_FAILED, str(error)  # another run has the job's lock (or took it): not a bug
    if is_database_error(error):
        from common.config import get_settings
        from storage.engine import safe_url

        return EXIT_USAGE, (
            f"cannot use the database at {safe_url(get_settings().resolved_database_url())}: "
            f"{first_line(error)} "
            "(check KESTAVA_DATABASE_URL; `kestava migrate` creates or upgrades a database)"
        )
    if module.startswith("pydantic"):  # each field by its environment variable where it is a setting
        settings = getattr(error, "title", "") == "Settings"
        what = "invalid settings" if settings else "invalid settings or catalogue"
        return EXIT_USAGE, f"{what}: {error_reason(error, env_prefix='KESTAVA_' if settings else '')}"
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return EXIT_USAGE, f"cannot read or write {where}{error.strerror or error}"
    return EXIT_INTERNAL, (
        f"unexpected error: {type(error).__name__}: {' '.join(str(error).split())[:300]} "
        "(a bug: rerun with --verbose for the traceback and report it)"
    )


class KestavaGroup(TyperGroup):
    """The command group with one error handler: an expected error is one line and an exit code."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):  # usage errors and exits: typer's own
            raise
        except Exception as error:
            code, message = explain(error)
            if VERBOSE["on"]:
                import traceback

                traceback.print_exception(error, file=sys.stderr)
            err().print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(code) from None


app = typer.Typer(
    cls=KestavaGroup,
    help="Kestävä Espoo sustainability and carbon-neutrality tracker.",
    epilog=EPILOG,
    no_args_is_help=True,
)


def _width() -> int | None:
    # Piped or logged output (cron, CI) gets wide lines instead of the 80 columns rich assumes.
    return None if sys.stdout.isatty() else 160


@cache
def err() -> Console:
    """The console for progress, messages and errors (standard error)."""
    from rich.console import Console

    return Console(stderr=True, width=_width())


@cache
def out() -> Console:
    """The console for results (standard output)."""
    from rich.console import Console

    return Console(width=_width())


OUTCOME_STYLE = {
    "success": "green",
    "unchanged": "cyan",
    "busy": "yellow",
    "failed": "red",
    "rejected": "red",
}


def unknown(
    what: str, given: str, choices: Iterable[str], param_hint: str, otherwise: str = ""
) -> typer.BadParameter:
    """A usage error for an unknown code that names the nearest valid ones (or, none near, `otherwise`)."""
    from indicators.lookup import unknown_code  # here, not at the top: `kestava --help` imports no layer

    return typer.BadParameter(str(unknown_code(what, given, choices, otherwise)), param_hint=param_hint)


def check_lang(lang: str, param_hint: str = "--lang") -> None:
    """A usage error unless lang is one of the report languages (fi, sv, en)."""
    from report.i18n import LANGS

    if lang not in LANGS:
        raise typer.BadParameter(f"expected one of {', '.join(LANGS)}, got {lang!r}", param_hint=param_hint)


def check_datasets(datasets: Iterable[str], known: Iterable[str], command: str = "the command") -> None:
    """A usage error for the first unknown dataset id: an indicator id names the datasets feeding it,
    another id the nearest dataset ids (or where to find them)."""
    from indicators.catalogue import load_indicator_catalogue

    known = sorted(known)
    for dataset_id in datasets:
        if dataset_id in known:
            continue
        indicators = load_indicator_catalogue()
        if dataset_id.split(".", 1)[0] in indicators.indicators:
            feeding = sorted(indicators.datasets_of(dataset_id) & set(known))
            example = (
                f" (e.g. {', '.join(feeding)}, which {'feeds' if len(feeding) == 1 else 'feed'} it)"
                if feeding
                else ""
            )
            message = f"{dataset_id} is an indicator; {command} takes dataset ids{example}"
            raise typer.BadParameter(message, param_hint="DATASET")
        raise unknown("dataset", dataset_id, known, "DATASET", "`kestava sources` lists the dataset ids")


@contextmanager
def recorded(engine: Engine, job: str) -> Iterator[dict[str, str | None]]:
    """Record a command's run in job_run (as the scheduler records its jobs) so `kestava status` shows it.

    The body sets result["outcome"] ("success" by default, or "failed") and result["error"]; an
    exception records a failed run with its type and message, then goes on.
    """
    from storage.jobs import finish_run, start_run

    run_id = start_run(engine, job, trigger="cli")
    result: dict[str, str | None] = {"outcome": "success", "error": None}
    try:
        yield result
    except BaseException as error:
        finish_run(engine, run_id, "failed", error=f"{type(error).__name__}: {error}"[:2000])
        raise
    finish_run(engine, run_id, result["outcome"] or "success", error=result["error"])


def writing_database() -> Engine:
    """The database (created or migrated when needed) for a command that records runs and writes; first the
    runs left 'running' by processes of this host that no longer exist (killed) are closed as interrupted,
    and their lock leases dropped (storage.orphans, as the scheduler does when it starts)."""
    from storage.engine import open_database
    from storage.orphans import reap_orphans

    engine = open_database()
    try:
        reap_orphans(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


@contextmanager
def job_locked(engine: Engine, lock: str, job: str) -> Iterator[HeldLock]:
    """Hold the job lock the scheduler's job takes (compute, report:weekly, report:half, site) for the block.

    When another run holds it: the run is recorded as busy (as the scheduler records it), one line names
    who holds it, and the command exits 1; nothing is written."""
    from contextlib import ExitStack

    from storage.jobs import finish_run, start_run
    from storage.locks import BusyError, job_lock

    stack = ExitStack()
    try:
        held = stack.enter_context(job_lock(engine, lock))
    except BusyError as busy:
        run_id = start_run(engine, job, trigger="cli")
        finish_run(engine, run_id, "busy", error=str(busy))
        err().print(f"{job}: not run: {busy}; try again when it has finished", markup=False, highlight=False)
        raise typer.Exit(code=EXIT_FAILED) from None
    with stack:
        yield held


@app.callback()
def main(
    log_json: Annotated[bool, typer.Option("--log-json", help="Write logs as JSON lines to stderr.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log debug detail; print the traceback of an error.")
    ] = False,
    log_file: Annotated[
        Path | None,
        typer.Option(
            "--log-file",
            envvar=LOG_FILE_ENV,
            help="Also append the log to this file (reopened when logrotate moves it).",
            readable=False,  # appended to, never read: opening it says why it cannot be written
        ),
    ] = None,
) -> None:
    """Kestävä Espoo tracker: data from HSY, Syke, Statistics Finland, Eurostat and Fingrid."""
    from common.logs import configure_logging

    VERBOSE["on"] = verbose
    # secrets masked as the scheduler masks them, found at the first line logged (--help logs nothing)
    configure_logging(
        json_lines=log_json, verbose=verbose, log_file=log_file, secrets=_secret_values
    )  # LogFileError: exit 2


def _secret_values() -> list[str]:
    """The values the commands' log masks: those of secret-looking settings and the database password."""
    from kestava.alerts import secret_values

    return secret_values()


def run_ingest(datasets: list[str], offline: bool) -> list[DatasetOutcome]:
    """Ingest with a progress bar per dataset and a summary table; shared by `ingest` and `run`."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table
    from rich.text import Text

    from common.config import get_settings
    from ingest.catalogue import load_catalogue
    from ingest.replay import snapshot_manifest
    from ingest.run import ingest
    from storage.data_kind import check_data_kind
    from storage.engine import safe_url
    from storage.rawstore import RawStore

    settings = get_settings()
    catalogue = load_catalogue()
    check_datasets(datasets, catalogue.datasets, "ingest")
    engine = writing_database()
    try:  # demo data into a database with live data (or live into demo): refused before any fetch
        check_data_kind(engine, demo=offline and snapshot_manifest(settings.snapshot_dir).is_demo)
    except BaseException:
        engine.dispose()
        raise
    wanted = datasets or list(catalogue.datasets)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[outcome]}"),
        TimeElapsedColumn(),
        console=err(),
        transient=False,
    ) as progress:
        tasks = {d: progress.add_task(d, total=1, outcome="waiting", start=False) for d in wanted}

        def started(dataset_id: str) -> None:
            progress.start_task(tasks[dataset_id])
            progress.update(tasks[dataset_id], outcome="fetching")

        def done(outcome: DatasetOutcome) -> None:
            style = OUTCOME_STYLE.get(outcome.outcome, "white")
            progress.update(tasks[outcome.dataset_id], completed=1, outcome=f"[{style}]{outcome.outcome}")

        outcomes = ingest(
            engine,
            RawStore(settings.raw_dir),
            wanted,
            offline=offline,
            snapshot_dir=settings.snapshot_dir,
            catalogue=catalogue,
            on_dataset=started,
            on_done=done,
            raise_storage_failure=True,
        )
    engine.dispose()
    mode = "offline snapshot" if offline else "live"
    table = Table(title=f"Ingest ({mode}) into {safe_url(settings.resolved_database_url())}")
    # revised: the value changed; confirmed: provisional made final, same value; reflagged: another flag
    # change, same value
    counts = ("new", "revised", "confirmed", "reflagged", "unchanged", "withdrawn")
    # payloads fetched; in brackets, those the server answered 304 Not Modified (the cached body reused)
    for column in ("dataset", "outcome", *counts, "payloads (HTTP 304 not modified)", "s", "error"):
        table.add_column(column, overflow="fold")
    for o in outcomes:
        result = o.result
        # no load result (payloads identical to the last snapshot, or a failure): nothing was compared
        compared = result is not None and not result.unchanged_payload
        shown = [str(getattr(result, "added" if c == "new" else c)) if compared else "–" for c in counts]
        table.add_row(
            o.dataset_id,
            f"[{OUTCOME_STYLE.get(o.outcome, 'white')}]{o.outcome}",
            *shown,
            payloads_cell(o),
            f"{o.seconds:.1f}",
            Text(o.error or ""),  # a source's words, not markup: "[/x]" had crashed the run
        )
    out().print(table)
    out().print(ingest_summary(outcomes), highlight=False)
    return outcomes


def payloads_cell(o: DatasetOutcome) -> str:
    """The ingest table's payloads: how many were fetched (HTTP 304 in brackets) and, for a rejected
    dataset, the rejected snapshot they were kept as; – where none arrived (a failed fetch, busy)."""
    if o.payloads == 0 and not o.ok:
        return "–"
    fetched = f"{o.payloads} ({o.not_modified})"
    if o.kept_as is not None:
        return f"{fetched}, kept as rejected snapshot {o.kept_as[:12]}"
    return f"{fetched}, not kept" if o.outcome == "rejected" else fetched


def ingest_summary(outcomes: list[DatasetOutcome]) -> str:
    """One line counting the datasets loaded, unchanged (payloads identical, not loaded), rejected (their
    payloads kept as rejected snapshots) and failed (busy ones too)."""
    unchanged = [o for o in outcomes if o.outcome == "unchanged"]
    rejected = [o for o in outcomes if o.outcome == "rejected"]
    payloads = sum(o.payloads for o in unchanged)
    snapshots = [o for o in rejected if o.kept_as is not None]
    kept = sum(o.payloads for o in snapshots)
    failed = sum(1 for o in outcomes if not o.ok) - len(rejected)
    loaded = sum(o.outcome == "success" for o in outcomes)
    why = (  # said only when some were skipped: a first run reads "0 unchanged", not "(their 0 payloads …)"
        f" (their {payloads} payload{'' if payloads == 1 else 's'} identical to the last snapshot, "
        "not loaded again)"
        if unchanged
        else ""
    )
    # rejections said only when there are some, as `kestava accept DATASET` lists their kept payloads
    refused = f", {len(rejected)} rejected" if rejected else ""
    if snapshots:
        one = len(snapshots) == 1
        refused += (
            f" ({kept} payload{'' if kept == 1 else 's'} kept as "
            f"{'a rejected snapshot' if one else f'{len(snapshots)} rejected snapshots'}: "
            f"`kestava accept DATASET` lists {'it' if one else 'them'})"
        )
    return (
        f"{len(outcomes)} dataset{'' if len(outcomes) == 1 else 's'}: {loaded} loaded, "
        f"{len(unchanged)} unchanged{why}{refused}, {failed} failed"
    )


@app.command("ingest", epilog=EPILOG)
def ingest_command(
    datasets: Annotated[
        list[str] | None, typer.Argument(help="Dataset ids (default: every dataset).")
    ] = None,
    live: Annotated[
        bool,
        typer.Option(
            "--live/--offline", help="Fetch live, or replay the bundled snapshot (the default, as `run`)."
        ),
    ] = False,
) -> None:
    """Replay the bundled snapshot (or with --live fetch) and load new and revised observations."""
    outcomes = run_ingest(list(datasets or []), offline=not live)
    if any(not o.ok for o in outcomes):
        raise typer.Exit(code=EXIT_FAILED)


@app.command("sources", epilog=EPILOG)
def sources_command(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of a table (times ISO 8601 UTC).")
    ] = False,
    lang: Annotated[
        str, typer.Option("--lang", help="Language of the table: fi (default), sv or en.")
    ] = "fi",
) -> None:
    """List the catalogue with each dataset's last fetch, last change and staleness; exit 1 when any dataset
    is late, failing or never fetched (as `kestava status`), the table or JSON printed all the same. Reads
    only: a missing database is an error (exit 2), never created."""
    from rich.table import Table

    from ingest.catalogue import load_catalogue
    from ingest.freshness import freshness
    from kestava.status import (
        _jsonable,
        dataset_problem,
        dataset_state_ok,
        period_text,
        state_label,
        used_areas,
        when,
    )
    from report.i18n import label, t
    from storage.engine import open_existing_database

    check_lang(lang)
    engine = open_existing_database()
    try:
        frame = freshness(engine, load_catalogue(), date.today(), used_areas())
    finally:
        engine.dispose()
    problems = [row for row in frame.iter_rows(named=True) if not dataset_state_ok(row["state"])]
    if as_json:
        import json

        out().print_json(json.dumps(_jsonable(frame.to_dicts()), ensure_ascii=False))
        if problems:
            raise typer.Exit(code=EXIT_FAILED)
        return
    table = Table(title=t("cli_status.sources_title", lang))
    for key in (
        "dataset",
        "source",
        "frequency",
        "latest_period",
        "expected",
        "last_fetch",
        "last_change",
        "state",
    ):
        table.add_column(t(f"cli_status.{key}", lang))
    never, demo = t("cli_status.never", lang), t("cli_status.demo", lang)
    for row in frame.iter_rows(named=True):
        state = state_label(row["state"], lang) + (f" ({demo})" if row["is_demo"] else "")
        table.add_row(
            row["dataset"],
            row["source"],
            label("frequency", row["frequency"], lang),
            period_text(row["latest_period"], row["tracks"], lang),
            str(row["expected_period_end"]),
            when(row["last_fetch"]) if row["last_fetch"] else never,
            when(row["last_change"]),
            state,
        )
    out().print(table)
    if problems:  # the verdict as `kestava status` words it, the datasets' lines only
        out().print(f"[red]{t('cli_status.problems', lang, n=len(problems))}")
        for row in problems:
            line = dataset_problem(row["dataset"], row["state"], row["last_error"], lang)
            out().print(f"  {line}", markup=False, highlight=False)
        raise typer.Exit(code=EXIT_FAILED)


@app.command("compute", epilog=EPILOG)
def compute_command(
    datasets: Annotated[
        list[str] | None, typer.Argument(help="Recompute what these datasets affect (default: all changed).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Recompute even when inputs are unchanged.")] = False,
) -> None:
    """Recompute indicators, targets, trajectories and assessments whose inputs changed. An indicator that
    fails is reported with its datasets and reason (and in `kestava status`); the others are computed,
    and the command exits 1."""
    if datasets:
        from ingest.catalogue import load_catalogue

        check_datasets(datasets, load_catalogue().datasets, "compute")
    summary = run_compute(list(datasets or []), force=force)
    if summary.errors:
        raise typer.Exit(code=EXIT_FAILED)


def run_compute(datasets: list[str], *, force: bool = False) -> ComputeSummary:
    """Compute under the `compute` job lock (the scheduler's: busy, exit 1), record the run (job `compute`,
    or `compute:selected` for named datasets) and print a summary with one line per failed indicator;
    shared by `compute` and `run`."""
    from indicators.engine import compute

    engine = writing_database()
    job = "compute:selected" if datasets else "compute"
    try:
        with job_locked(engine, "compute", job) as lock, recorded(engine, job) as run:
            summary = compute(engine, datasets=datasets or None, force=force, lock=lock)
            if summary.errors:
                listed = "; ".join(f"{name}: {text}" for name, text in sorted(summary.errors.items()))
                run["outcome"] = "failed"
                run["error"] = f"{len(summary.errors)} indicator(s) failed: {listed}"[:2000]
    finally:
        engine.dispose()
    from rich.markup import escape

    out().print(f"compute: {summary.summary()}", markup=False)
    for indicator_id, error in summary.errors.items():
        out().print(f"[red]{indicator_id}[/red]: {escape(error)}", highlight=False)
    return summary


def indicator_rows(lang: str) -> tuple[str, list[str], list[list[str]]]:
    """The indicator catalogue as `kestava indicators` shows it in lang: title, headers and rows.

    Every word comes from report/translations.toml; the id column keeps the ids `kestava export` takes.
    """
    from indicators.catalogue import ReductionTarget, load_indicator_catalogue
    from report.charts import AREA_ALIASES, METHOD_ALIASES
    from report.data import format_value
    from report.i18n import format_percent, label, t

    catalogue = load_indicator_catalogue()
    headers = [t(f"cli_indicators.{c}", lang) for c in ("id", "name", "unit", "sdg", "targets", "methods")]

    def target_text(target: ReductionTarget | AbsoluteTarget, unit: str) -> str:
        if isinstance(target, ReductionTarget):
            text = t(
                "cli_indicators.target_reduction",
                lang,
                reduction=format_percent(target.reduction * 100, lang),
                base_year=target.base_year,
                year=target.year,
            )
        else:
            text = t(
                "cli_indicators.target_absolute",
                lang,
                value=format_value(target.value, unit, lang),
                year=target.year,
            )
        if target.areas:
            areas = ", ".join(label("area", AREA_ALIASES.get(a, a.lower()), lang) for a in target.areas)
            text = t("cli_indicators.target_areas", lang, target=text, areas=areas)
        return text

    rows = [
        [
            indicator.id,
            indicator.name.get(lang),
            label("unit_name", indicator.unit, lang),
            indicator.sdg_code,
            "; ".join(target_text(target, indicator.unit) for target in indicator.targets),
            ", ".join(label("method", METHOD_ALIASES.get(m, m), lang) for m in indicator.assess),
        ]
        for indicator in catalogue.indicators.values()
    ]
    return t("cli_indicators.title", lang), headers, rows


@app.command("indicators", epilog=EPILOG)
def indicators_command(
    lang: Annotated[str, typer.Option("--lang", help="Language of the names: fi, sv or en.")] = "fi",
) -> None:
    """List the indicator catalogue: id, name, unit, SDG code, targets and methods."""
    from rich.table import Table

    check_lang(lang)
    title, headers, rows = indicator_rows(lang)
    table = Table(title=title)
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*row)
    out().print(table)


def area_code(given: str, stored: Iterable[str]) -> str:
    """The area code for a code or a name in any language (Espoo, Esbo → 049), checked against stored codes.

    A usage error names the nearest codes and names when nothing matches.
    """
    from indicators import lookup

    try:
        return lookup.area_code(given, stored)
    except lookup.UnknownCodeError as error:
        raise typer.BadParameter(str(error), param_hint="--area") from None


def names_of(code: str) -> str:
    """The Finnish name of an area code (the code itself when it has none)."""
    from kestava.api import area_names

    return area_names("fi").get(code, code)


@app.command("export", epilog=EPILOG)
def export_command(
    indicators: Annotated[
        list[str] | None, typer.Argument(help="Indicator ids (default: every indicator).")
    ] = None,
    area: Annotated[
        str | None, typer.Option("--area", help="Area code or name, e.g. 049, Espoo or Esbo.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv, parquet or json.")] = "csv",
    out_file: Annotated[
        Path | None, typer.Option("--out", help="File to write (default: standard output).")
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="Language of indicator names.")] = "fi",
) -> None:
    """Write values, targets, paths, projections and assessments as a tidy long table with provenance.
    Reads only: a missing database is an error (exit 2), never created."""
    from sqlalchemy import select

    from indicators.catalogue import load_indicator_catalogue
    from indicators.lookup import UnknownCodeError
    from indicators.query import check_indicators
    from report.export import FORMATS, export_table, why_empty, write_export
    from storage import schema
    from storage.engine import open_existing_database

    if fmt not in FORMATS:
        raise typer.BadParameter(f"expected one of {', '.join(FORMATS)}", param_hint="--format")
    if fmt == "parquet" and out_file is None:
        raise typer.BadParameter("export format parquet: needs --out FILE", param_hint="--format")
    check_lang(lang)
    if out_file is not None:
        folder = out_file.parent if str(out_file.parent) else Path()
        if out_file.is_dir():
            raise typer.BadParameter(f"{out_file} is a folder, expected a file", param_hint="--out")
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise typer.BadParameter(f"cannot write into the folder {folder}", param_hint="--out")
    try:  # the whole id: a breakdown part too (ghg_by_sector.foo), as the API checks it
        check_indicators(list(indicators or []), otherwise=INDICATOR_IDS_HINT)
    except UnknownCodeError as error:
        raise typer.BadParameter(str(error), param_hint="INDICATOR") from None
    catalogue = load_indicator_catalogue()
    engine = open_existing_database()
    try:
        if area is not None:
            with engine.connect() as conn:
                stored = conn.execute(select(schema.indicator_value.c.area).distinct()).scalars().all()
            area = area_code(area, stored)
        table = export_table(engine, catalogue, list(indicators or []), area=area, lang=lang)
        # nothing selected: say why and exit 1, writing nothing (a previous file at --out is kept)
        empty = why_empty(engine, catalogue, list(indicators or []), area=area) if table.height == 0 else None
    finally:
        engine.dispose()
    if empty is not None:
        err().print(f"nothing exported: {empty}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(code=EXIT_FAILED)
    text = write_export(table, fmt, out_file)
    if text is not None:
        sys.stdout.write(text)
    else:
        err().print(f"wrote {table.height} rows to {out_file}", markup=False)


@app.command("migrate", epilog=EPILOG)
def migrate_command() -> None:
    """Create or upgrade the database schema to the newest migration."""
    from common.config import get_settings
    from storage.engine import open_database, safe_url

    url = get_settings().resolved_database_url()
    open_database(url).dispose()
    out().print(f"database at {safe_url(url)} is at the newest schema")


def prune_old_reports(spare: tuple[str, ...] = ()) -> None:
    """Remove the heavy files of the weekly reports older than KESTAVA_REPORT_KEEP_WEEKS in the report folder
    (report.retention) and say what was removed, in one line (nothing when there was nothing to remove)."""
    from report.retention import prune_configured_reports

    result = prune_configured_reports(spare=spare)  # a failure said, never raised: the reports stand
    line = result.summary()
    if line is not None:
        (err() if result.failed else out()).print(line, markup=False)


def write_reports(langs: list[str], renderer: Renderer | None = None) -> None:
    """The weekly report in each language under the `report:weekly` job lock, recorded as one run; then
    the weekly reports past KESTAVA_REPORT_KEEP_WEEKS lose their heavy files (prune_old_reports)."""
    from report.weekly import write_weekly_reports

    engine = writing_database()
    try:
        with job_locked(engine, "report:weekly", "report:weekly") as lock, recorded(engine, "report:weekly"):
            for lang, path in write_weekly_reports(engine, langs, renderer=renderer, lock=lock).items():
                out().print(f"report ({lang}): {path}", markup=False)
            prune_old_reports()
    finally:
        engine.dispose()


@app.command("run", epilog=EPILOG)
def run_command(
    live: Annotated[
        bool,
        typer.Option("--live/--offline", help="Fetch live, or replay the bundled snapshot (the default)."),
    ] = False,
    langs: Annotated[
        list[str] | None, typer.Option("--lang", help="Report language(s) (default: fi, sv and en).")
    ] = None,
) -> None:
    """The main job: ingest every dataset (bundled snapshot unless --live), compute, write weekly reports."""
    from report.i18n import LANGS

    wanted = langs or list(LANGS)
    for lang in wanted:
        check_lang(lang)
    from report.render import Renderer

    with Renderer() as renderer:
        renderer.warm()  # the drawing workers start while the data are ingested and computed
        outcomes = run_ingest([], offline=not live)
        summary = run_compute([])
        write_reports(wanted, renderer)
    if any(not o.ok for o in outcomes) or summary.errors:
        raise typer.Exit(code=EXIT_FAILED)


@app.command("report", epilog=EPILOG)
def report_command(
    langs: Annotated[
        list[str] | None,
        typer.Option(
            "--lang", help="Language(s) of the report (default: fi, sv and en, linked to each other)."
        ),
    ] = None,
    week: Annotated[
        str | None,
        typer.Option("--week", help="ISO week as YYYY-Www, e.g. 2026-W48 (default: the current week)."),
    ] = None,
    half: Annotated[
        str | None,
        typer.Option("--half", help="Half-year as YYYY-H1 or YYYY-H2: write the council report instead."),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (default: KESTAVA_REPORT_DIR, data/reports)."),
    ] = None,
) -> None:
    """Write the weekly report (or with --half the half-yearly council report): HTML, PNG, SVG and CSV.

    Every language asked (default fi, sv and en) in one run, each linking to the others. Then, in the
    report folder, the weekly reports older than KESTAVA_REPORT_KEEP_WEEKS weeks (26) keep their page and
    CSVs only: their PNG, SVG and XLSX files are removed (one line says so; 0 keeps all)."""
    from report import weekly
    from report.i18n import LANGS

    wanted = list(dict.fromkeys(langs or LANGS))  # a language given twice is written once
    for lang in wanted:
        check_lang(lang)
    if week is not None and half is not None:
        raise typer.BadParameter("give either --week or --half, not both", param_hint="--half")
    try:
        if half is not None:
            period = weekly.parse_half(half)
        else:
            period = weekly.parse_week(week) if week else weekly.current_week()
        period = weekly.check_begun(period)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--half" if half is not None else "--week") from None
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise typer.BadParameter(f"{out_dir} is a file, expected a folder", param_hint="--out")
    job = "report:half" if half is not None else "report:weekly"
    engine = writing_database()
    try:
        with job_locked(engine, job, job) as lock:
            nothing = weekly.nothing_to_report(engine, period)
            if nothing is not None:  # as a bad argument: nothing written, no run recorded (exit 2)
                raise NothingToReportError(nothing)
            with recorded(engine, job):
                for line in weekly.write_reports_for(engine, period, wanted, out_dir, lock=lock):
                    out().print(line, markup=False)
                if out_dir is None:  # the report folder (not one given with --out): its old weeks pruned
                    prune_old_reports(spare=(period.key,))
    finally:
        engine.dispose()


@app.command("site", epilog=EPILOG)
def site_command(
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (default: KESTAVA_SITE_DIR, data/site)."),
    ] = None,
    langs: Annotated[
        list[str] | None, typer.Option("--lang", help="Language(s) of the site (default: fi, sv and en).")
    ] = None,
    serve: Annotated[
        bool, typer.Option("--serve", help="After building, preview the site on http://127.0.0.1:PORT/.")
    ] = False,
    port: Annotated[int, typer.Option("--port", help="The preview's port (with --serve).")] = 8000,
) -> None:
    """Build the public site: a page per indicator, the goals, the peers and the reports archive."""
    from common.config import get_settings
    from report.i18n import LANGS
    from report.site.build import build_site
    from report.site.serve import serve as serve_site

    wanted = langs or list(LANGS)
    for lang in wanted:
        check_lang(lang)
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise typer.BadParameter(f"{out_dir} is a file, expected a folder", param_hint="--out")
    settings = get_settings()
    out = out_dir or settings.site
    engine = writing_database()
    try:
        with job_locked(engine, "site", "site") as lock, recorded(engine, "site"):
            result = build_site(engine, out, langs=wanted, report_root=settings.reports, lock=lock)
    finally:
        engine.dispose()
    typer.echo(
        f"site: {result.pages} pages in {out}; {len(result.written)} files written, {result.kept} unchanged; "
        f"{result.charts_drawn} charts drawn, {result.charts_kept} kept; reports archive: "
        f"{result.archive_linked} folders new or changed, {result.archive_kept} unchanged; "
        f"{result.seconds:.1f} s"
    )
    if serve:
        serve_site(out, port)


@app.command("status", epilog=EPILOG)
def status_command(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of tables (times ISO 8601 UTC).")
    ] = False,
    lang: Annotated[
        str, typer.Option("--lang", help="Language of the tables: fi (default), sv or en.")
    ] = "fi",
) -> None:
    """Health check for monitoring: datasets, the last ingest, compute and report runs, failed indicators,
    whether the database holds demo or live data, and its schema's version against this tracker's.

    Exit 0 when all is well, 1 when anything is failing or stale, 2 when the status cannot be read (no
    database, unreachable, or its schema behind or newer than this tracker's: shown, with what to do).
    Reads only: never creates or migrates a database. Times Europe/Helsinki.
    """
    from kestava.status import status_command as show_status

    check_lang(lang)
    show_status(as_json=as_json, lang=lang)


# --- kestava accept: a person accepts a payload the plausibility checks rejected as a jump ---------------
@app.command("accept", epilog=EPILOG)
def accept_command(
    dataset: Annotated[str, typer.Argument(help="Dataset id.")],
    snapshot: Annotated[
        str | None,
        typer.Argument(
            help="The rejected payload's sha256 (at least 8 hex digits, as the rejection message prints it); "
            "omit to list the dataset's rejected payloads."
        ),
    ] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who accepts (default: the login name).")] = None,
    why: Annotated[
        str | None, typer.Option("--why", help="Why the change is real (required to accept).")
    ] = None,
) -> None:
    """Accept a payload rejected for a jump on the previous vintage, recorded with who, why and when, and
    load it now; without SNAPSHOT, list the dataset's rejected payloads."""
    import getpass

    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    from common.config import get_settings
    from common.errors import DataError
    from ingest.acceptance import AcceptError, accept
    from ingest.catalogue import load_catalogue
    from kestava.status import when
    from storage.engine import open_existing_database
    from storage.locks import BusyError
    from storage.rawstore import RawStore
    from storage.rejections import RejectionLookupError, rejections

    catalogue = load_catalogue()
    check_datasets([dataset], catalogue.datasets, "accept")
    if snapshot is not None and (not why or not why.strip()):
        raise typer.BadParameter(
            "say why the change is real (recorded with the acceptance)", param_hint="--why"
        )
    # the list only reads: a database that is not there is an error (a mistyped URL), never made
    engine = open_existing_database() if snapshot is None else writing_database()
    try:
        if snapshot is None:
            table = Table(title=f"Rejected payloads of {dataset} (times Europe/Helsinki)")
            for column in ("snapshot", "last rejected", "times", "can accept", "accepted", "first failure"):
                table.add_column(column, overflow="fold")
            for r in rejections(engine, dataset):
                accepted = f"{r.accepted_by} {when(r.accepted_at)}: {r.accepted_why}" if r.accepted_at else ""
                first = str(r.violations[0]["message"]) if r.violations else ""
                can = "yes" if r.acceptable else "no"
                table.add_row(
                    r.short, when(r.last_rejected_at), str(r.times), can, Text(accepted), Text(first)
                )
            out().print(table)
            return
        assert why is not None
        who = by or getpass.getuser()
        try:
            done = accept(
                engine,
                catalogue,
                dataset,
                snapshot,
                by=who,
                why=why,
                raw_store=RawStore(get_settings().raw_dir),
            )
        except RejectionLookupError as error:  # SNAPSHOT names no rejected payload: a bad argument
            err().print(f"[red]not accepted: {escape(str(error))}")
            raise typer.Exit(code=EXIT_USAGE) from None
        except (AcceptError, BusyError, DataError) as error:
            err().print(f"[red]{dataset}: not accepted: {escape(str(error))}")
            raise typer.Exit(code=EXIT_FAILED) from None
        r = done.rejection
        out().print(
            f"{dataset}: snapshot {r.short} accepted by {r.accepted_by} at {when(r.accepted_at)} "
            f"Europe/Helsinki ({r.accepted_why}); {done.result.summary()}",
            markup=False,
        )
    finally:
        engine.dispose()


# --- kestava probe: one smallest live request per dataset, expected against found; writes nothing -------
@app.command("probe", epilog=EPILOG)
def probe_command(
    datasets: Annotated[
        list[str] | None, typer.Argument(help="Dataset ids (default: every dataset).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    catalogue_file: Annotated[
        Path | None,
        typer.Option(
            "--catalogue", help="Probe the datasets of this catalogue file instead (e.g. a mirror)."
        ),
    ] = None,
) -> None:
    """Make one smallest live request per dataset and compare what it finds (URL and status, columns,
    codes, units, periods, a sample value, plausibility) with what the tracker expects; exit 1 on any
    drift. Writes nothing to the database or the raw store."""
    import json

    from rich.table import Table
    from rich.text import Text

    from common.config import get_settings
    from ingest.catalogue import CATALOGUE_PATH, load_catalogue
    from ingest.probe import probe, reference_frame

    if catalogue_file is not None and not catalogue_file.is_file():
        raise typer.BadParameter(f"no catalogue file at {catalogue_file}", param_hint="--catalogue")
    catalogue = load_catalogue(catalogue_file or CATALOGUE_PATH)
    check_datasets(datasets or [], catalogue.datasets, "probe")
    snapshot_dir = get_settings().snapshot_dir
    show: Callable[[str], None] = lambda name: None if as_json else err().print(f"probing {name}…")  # noqa: E731
    results = probe(
        list(datasets or []),
        catalogue=catalogue,
        reference=lambda spec: reference_frame(spec, snapshot_dir),
        on_dataset=show,
    )
    if as_json:
        out().print_json(json.dumps([r.as_dict() for r in results], ensure_ascii=False))
    else:
        for result in results:
            verdict = "[red]DRIFT" if result.drift else "[green]as expected"
            table = Table(title=f"{result.dataset_id}: {verdict}", title_justify="left", show_lines=True)
            for column in ("check", "expected", "found", ""):
                table.add_column(column, overflow="fold")
            for check in result.checks:
                table.add_row(
                    Text(check.what),
                    Text(check.expected),
                    Text(check.found),  # what the source answered: text, never markup
                    "ok" if check.ok else "[red]DRIFT",
                )
            out().print(table)
        drifted = [r.dataset_id for r in results if r.drift]
        out().print(
            f"{len(results)} datasets probed: "
            + (f"drift in {len(drifted)}: {', '.join(drifted)}" if drifted else "no drift")
        )
    if any(r.drift for r in results):
        raise typer.Exit(code=EXIT_FAILED)


# --- kestava note: staff notes on an indicator for a period (Markdown, kept with author and time) --------
note_app = typer.Typer(
    cls=KestavaGroup,
    help="Staff notes: attach a note (Markdown, fi/sv/en) to an indicator for a period; list, edit or "
    "withdraw notes. Notes are never deleted: an edit is a new version, a withdrawal is recorded.",
    epilog=EPILOG,
    no_args_is_help=True,
)
app.add_typer(note_app, name="note")
NOTE_OPTIONS = {
    "indicator": "INDICATOR",
    "id": "ID",
    "period": "--period",
    "lang": "--lang",
    "area": "--area",
    "text": "--text / --file",
    "author": "--author",
    "why": "--why",
}


@contextmanager
def note_errors() -> Iterator[None]:
    """A storage.notes.NoteError as a usage error on the option it names."""
    from storage.notes import NoteError

    try:
        yield
    except NoteError as error:
        message = str(error).removeprefix(f"{error.field}: ")
        raise typer.BadParameter(message, param_hint=NOTE_OPTIONS.get(error.field, error.field)) from None


def note_text(text: str | None, file: Path | None, *, required: bool) -> str | None:
    """The note's Markdown from --text or --file (exactly one when required, at most one otherwise)."""
    if text is not None and file is not None:
        raise typer.BadParameter("give either --text or --file, not both", param_hint="--text / --file")
    if file is not None:
        if not file.is_file():
            raise typer.BadParameter(f"no file at {file}", param_hint="--file")
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise typer.BadParameter(f"{file} is not UTF-8 text", param_hint="--file") from None
    if text is None and required:
        raise typer.BadParameter("expected the note's text (Markdown)", param_hint="--text / --file")
    if text is not None and not text.strip():
        raise typer.BadParameter(
            "expected the note's text (Markdown), got an empty text", param_hint="--text / --file"
        )
    return text


def note_area_code(area: str) -> str:
    """An area code or name (Espoo, Esbo → 049) as a code, or a usage error naming the nearest."""
    from indicators.lookup import UnknownCodeError
    from indicators.query import note_area

    try:
        return note_area(area)
    except UnknownCodeError as error:
        raise typer.BadParameter(str(error), param_hint="--area") from None


def note_line(note: Any) -> str:
    """One line describing a stored note: id, indicator, area, period, language, author, time."""
    from kestava.status import when

    return (
        f"note {note.id}: {note.indicator_id} · {note.area} · {note.period} · {note.lang} · "
        f"{note.author} · {when(note.created_at)} Europe/Helsinki"
    )


TextOption = Annotated[str | None, typer.Option("--text", help="The note in Markdown.")]
FileOption = Annotated[
    Path | None, typer.Option("--file", help="A UTF-8 file holding the note in Markdown.", dir_okay=False)
]
AuthorOption = Annotated[str, typer.Option("--author", help="Who writes the note (shown with it).")]


@note_app.command("add", epilog=EPILOG)
def note_add_command(
    indicator: Annotated[str, typer.Argument(help="Indicator id (see `kestava indicators`).")],
    period: Annotated[
        str,
        typer.Option("--period", help="The period it explains: 2024, 2026-H1, 2026-Q3, 2026-05, 2026-W45."),
    ],
    lang: Annotated[str, typer.Option("--lang", help="Language of the note: fi, sv or en.")],
    author: AuthorOption,
    text: TextOption = None,
    file: FileOption = None,
    area: Annotated[str, typer.Option("--area", help="Area code or name (default: 049, Espoo).")] = "049",
) -> None:
    """Attach a note (Markdown) to an indicator for a period, in one language; it shows on the indicator's
    page and in the council report of the period beside the numbers it explains."""
    from indicators.query import known_note_indicators
    from storage.engine import open_database
    from storage.notes import add_note, check_lang, check_period, check_person

    known = known_note_indicators()
    if indicator not in known:
        raise unknown("indicator", indicator, sorted(known), "INDICATOR", INDICATOR_IDS_HINT)
    body = note_text(text, file, required=True)
    assert body is not None
    code = note_area_code(area)
    with note_errors():
        check_period(period)
        check_lang(lang)
        check_person(author)
        engine = open_database()
        try:
            note = add_note(
                engine,
                indicator,
                period=period,
                lang=lang,
                body=body,
                author=author,
                area=code,
                known_indicators=known,
            )
        finally:
            engine.dispose()
    out().print(f"added {note_line(note)}", highlight=False, markup=False)


@note_app.command("edit", epilog=EPILOG)
def note_edit_command(
    note_id: Annotated[int, typer.Argument(metavar="ID", help="The note's id (see `kestava note list`).")],
    author: AuthorOption,
    text: TextOption = None,
    file: FileOption = None,
    period: Annotated[str | None, typer.Option("--period", help="A new period (default: kept).")] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="A new language (default: kept).")] = None,
    area: Annotated[str | None, typer.Option("--area", help="A new area (default: kept).")] = None,
) -> None:
    """Edit a note: a new version replaces it (the old one is kept in the database); what is not given is
    carried over."""
    from storage.engine import open_database
    from storage.notes import check_lang, check_period, check_person, edit_note

    body = note_text(text, file, required=False)
    code = note_area_code(area) if area is not None else None
    with note_errors():  # every field checked before the database is opened (and perhaps created)
        check_person(author)
        _ = check_period(period) if period is not None else None
        _ = check_lang(lang) if lang is not None else None
        engine = open_database()
        try:
            note = edit_note(engine, note_id, author=author, body=body, period=period, lang=lang, area=code)
        finally:
            engine.dispose()
    out().print(f"edited note {note_id}: now {note_line(note)}", highlight=False, markup=False)


@note_app.command("withdraw", epilog=EPILOG)
def note_withdraw_command(
    note_id: Annotated[int, typer.Argument(metavar="ID", help="The note's id (see `kestava note list`).")],
    author: Annotated[str, typer.Option("--author", help="Who withdraws the note.")],
    why: Annotated[str, typer.Option("--why", help="Why the note is withdrawn (recorded with it).")],
) -> None:
    """Withdraw a note: it no longer shows anywhere, and stays in the database with who, why and when."""
    from kestava.status import when
    from storage.engine import open_database
    from storage.notes import check_person, withdraw_note

    with note_errors():
        check_person(author)
        if not why.strip():
            raise typer.BadParameter("expected the reason for withdrawing the note", param_hint="--why")
        engine = open_database()
        try:
            note = withdraw_note(engine, note_id, author=author, why=why)
        finally:
            engine.dispose()
    out().print(
        f"withdrew note {note.id} by {note.withdrawn_by} at {when(note.withdrawn_at)} Europe/Helsinki: "
        f"{note.withdrawn_why}",
        highlight=False,
        markup=False,
    )


@note_app.command("list", epilog=EPILOG)
def note_list_command(
    indicators: Annotated[
        list[str] | None, typer.Option("--indicator", help="Only this indicator (may be repeated).")
    ] = None,
    area: Annotated[str | None, typer.Option("--area", help="Only this area (code or name).")] = None,
    period: Annotated[str | None, typer.Option("--period", help="Only this period, e.g. 2024.")] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="Only notes in this language.")] = None,
    history: Annotated[
        bool, typer.Option("--all", help="Every version, edited and withdrawn ones too.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of a table (times ISO 8601 UTC).")
    ] = False,
) -> None:
    """List the current notes (or with --all every version) with their text, author and time. Reads only:
    a missing database is an error (exit 2), never created."""
    from rich.table import Table
    from rich.text import Text

    from indicators.query import known_note_indicators
    from kestava.status import _jsonable, when
    from storage.engine import open_existing_database
    from storage.notes import check_lang, check_period, list_notes

    known = known_note_indicators()
    for indicator in indicators or []:
        if indicator not in known:
            raise unknown("indicator", indicator, sorted(known), "--indicator", INDICATOR_IDS_HINT)
    code = note_area_code(area) if area is not None else None
    with note_errors():
        if period is not None:
            period = check_period(period)
        if lang is not None:
            check_lang(lang)
    engine = open_existing_database()
    try:
        found = list_notes(
            engine, indicator=indicators or None, area=code, period=period, lang=lang, history=history
        )
    finally:
        engine.dispose()
    if as_json:
        import dataclasses
        import json

        rows = [dataclasses.asdict(n) for n in found]
        out().print_json(json.dumps(_jsonable(rows), ensure_ascii=False))
        return
    table = Table(title="Staff notes (times Europe/Helsinki)", show_lines=True)
    for column in ("id", "indicator", "area", "period", "lang", "author", "written", "text"):
        table.add_column(column, overflow="fold")
    if history:
        table.add_column("state", overflow="fold")
    replaced = {n.replaces for n in found if n.replaces is not None}
    for n in found:
        row = [str(n.id), n.indicator_id, n.area, n.period, n.lang, n.author, when(n.created_at), n.body]
        if history:
            state = (
                f"withdrawn by {n.withdrawn_by} {when(n.withdrawn_at)}: {n.withdrawn_why}"
                if n.withdrawn_at
                else "edited"
                if n.id in replaced
                else "current"
            )
            row.append(state + (f" (edits note {n.replaces})" if n.replaces else ""))
        table.add_row(*(Text(cell) for cell in row))  # a note's [brackets] are text, not markup
    out().print(table)
    out().print(f"{len(found)} note{'' if len(found) == 1 else 's'}", highlight=False)


if __name__ == "__main__":
    app()
