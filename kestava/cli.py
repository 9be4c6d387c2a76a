"""The `kestava` command line: ingest, inspect sources, compute indicators, export and report."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from indicators.catalogue import AbsoluteTarget, ReductionTarget, load_indicator_catalogue
from indicators.engine import ComputeSummary, compute
from indicators.export import FORMATS, export_table, write_export
from ingest.catalogue import load_catalogue
from ingest.freshness import freshness
from ingest.run import DatasetOutcome, ingest
from kestava.config import get_settings
from kestava.logs import configure_logging
from kestava.status import status_command
from report.charts import AREA_ALIASES, METHOD_ALIASES
from report.data import format_value
from report.i18n import LANGS, format_percent, label, t
from report.weekly import report_command, write_weekly_reports
from storage.engine import open_database, safe_url
from storage.rawstore import RawStore

app = typer.Typer(help="Kestävä Espoo sustainability and carbon-neutrality tracker.", no_args_is_help=True)
# Piped or logged output (cron, CI) gets wide lines instead of the 80 columns rich assumes.
PIPE_WIDTH = None if sys.stdout.isatty() else 160
console = Console(stderr=True, width=PIPE_WIDTH)
out = Console(width=PIPE_WIDTH)

OUTCOME_STYLE = {
    "success": "green",
    "unchanged": "cyan",
    "busy": "yellow",
    "failed": "red",
    "rejected": "red",
}


@app.callback()
def main(
    log_json: Annotated[bool, typer.Option("--log-json", help="Write logs as JSON lines to stderr.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail.")] = False,
) -> None:
    """Kestävä Espoo tracker: data from HSY, Syke, Statistics Finland, Eurostat and Fingrid."""
    configure_logging(json_lines=log_json, verbose=verbose)


def run_ingest(datasets: list[str], offline: bool) -> list[DatasetOutcome]:
    """Ingest with a progress bar per dataset and a summary table; shared by `ingest` and `run`."""
    settings = get_settings()
    catalogue = load_catalogue()
    for dataset_id in datasets:
        if dataset_id not in catalogue.datasets:
            raise typer.BadParameter(
                f"unknown dataset {dataset_id!r}; known: {', '.join(sorted(catalogue.datasets))}",
                param_hint="DATASET",
            )
    engine = open_database()
    wanted = datasets or list(catalogue.datasets)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[outcome]}"),
        TimeElapsedColumn(),
        console=console,
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
        )
    engine.dispose()
    mode = "offline snapshot" if offline else "live"
    table = Table(title=f"Ingest ({mode}) into {safe_url(settings.resolved_database_url())}")
    for column in ("dataset", "outcome", "new", "revised", "unchanged", "payloads (304)", "s", "error"):
        table.add_column(column, overflow="fold")
    for o in outcomes:
        result = o.result
        table.add_row(
            o.dataset_id,
            f"[{OUTCOME_STYLE.get(o.outcome, 'white')}]{o.outcome}",
            str(result.added if result else 0),
            str(result.revised if result else 0),
            str(result.unchanged if result else 0),
            f"{o.payloads} ({o.not_modified})",
            f"{o.seconds:.1f}",
            o.error or "",
        )
    out.print(table)
    skipped = sum(1 for o in outcomes if o.outcome == "unchanged")
    failures = [o for o in outcomes if not o.ok]
    out.print(
        f"{len(outcomes)} datasets: {sum(o.outcome == 'success' for o in outcomes)} loaded, "
        f"{skipped} unchanged payloads skipped, {len(failures)} failed"
    )
    return outcomes


@app.command("ingest")
def ingest_command(
    datasets: Annotated[
        list[str] | None, typer.Argument(help="Dataset ids (default: every dataset).")
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Replay the bundled snapshot instead of fetching live.")
    ] = False,
) -> None:
    """Fetch datasets (or replay the bundled snapshot) and load new and revised observations."""
    outcomes = run_ingest(list(datasets or []), offline)
    if any(not o.ok for o in outcomes):
        raise typer.Exit(code=1)


@app.command("sources")
def sources_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the catalogue with each dataset's last fetch, last change and staleness."""
    engine = open_database()
    frame = freshness(engine, load_catalogue(), date.today())
    engine.dispose()
    if as_json:
        out.print_json(frame.write_json())
        return
    table = Table(title="Datasets")
    for column in (
        "dataset",
        "source",
        "frequency",
        "latest period",
        "expected by now",
        "last fetch",
        "last change",
        "state",
    ):
        table.add_column(column)
    for row in frame.iter_rows(named=True):
        state = row["state"] + (" (demo)" if row["is_demo"] else "")
        table.add_row(
            row["dataset"],
            row["source"],
            row["frequency"],
            row["latest_period"] or "–",
            str(row["expected_period_end"]),
            f"{row['last_fetch']:%Y-%m-%d %H:%M}" if row["last_fetch"] else "never",
            f"{row['last_change']:%Y-%m-%d %H:%M}" if row["last_change"] else "–",
            state,
        )
    out.print(table)


@app.command("compute")
def compute_command(
    datasets: Annotated[
        list[str] | None, typer.Argument(help="Recompute what these datasets affect (default: all changed).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Recompute even when inputs are unchanged.")] = False,
) -> None:
    """Recompute indicators, targets, trajectories and assessments whose inputs changed."""
    summary = run_compute(list(datasets or []), force=force)
    if summary.errors:
        raise typer.Exit(code=1)


def run_compute(datasets: list[str], *, force: bool = False) -> ComputeSummary:
    """Compute and print a summary; shared by `compute` and `run`."""
    engine = open_database()
    summary = compute(engine, datasets=datasets or None, force=force)
    engine.dispose()
    out.print(f"compute: {summary.summary()}")
    for indicator_id, error in summary.errors.items():
        out.print(f"[red]{indicator_id}[/red]: {error}")
    return summary


def indicator_rows(lang: str) -> tuple[str, list[str], list[list[str]]]:
    """The indicator catalogue as `kestava indicators` shows it in lang: title, headers and rows.

    Every word comes from report/translations.toml; the id column keeps the ids `kestava export` takes.
    """
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


@app.command("indicators")
def indicators_command(
    lang: Annotated[str, typer.Option("--lang", help="Language of the names: fi, sv or en.")] = "fi",
) -> None:
    """List the indicator catalogue: id, name, unit, SDG code, targets and methods."""
    if lang not in LANGS:
        raise typer.BadParameter(f"expected one of {', '.join(LANGS)}", param_hint="--lang")
    title, headers, rows = indicator_rows(lang)
    table = Table(title=title)
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*row)
    out.print(table)


@app.command("export")
def export_command(
    indicators: Annotated[
        list[str] | None, typer.Argument(help="Indicator ids (default: every indicator).")
    ] = None,
    area: Annotated[str | None, typer.Option("--area", help="Area code, e.g. 049 for Espoo.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv, parquet or json.")] = "csv",
    out_file: Annotated[
        Path | None, typer.Option("--out", help="File to write (default: standard output).")
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="Language of indicator names.")] = "fi",
) -> None:
    """Write values, targets, paths, projections and assessments as a tidy long table with provenance."""
    if fmt not in FORMATS:
        raise typer.BadParameter(f"expected one of {', '.join(FORMATS)}", param_hint="--format")
    catalogue = load_indicator_catalogue()
    for indicator_id in indicators or []:
        try:
            catalogue.get(indicator_id)
        except KeyError as error:
            raise typer.BadParameter(str(error.args[0]), param_hint="INDICATOR") from None
    engine = open_database()
    table = export_table(engine, catalogue, list(indicators or []), area=area, lang=lang)
    engine.dispose()
    try:
        text = write_export(table, fmt, out_file)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--format") from None
    if text is not None:
        sys.stdout.write(text)
    else:
        console.print(f"wrote {table.height} rows to {out_file}")


@app.command("migrate")
def migrate_command() -> None:
    """Create or upgrade the database schema to the newest migration."""
    url = get_settings().resolved_database_url()
    open_database(url).dispose()
    out.print(f"database at {safe_url(url)} is at the newest schema")


@app.command("run")
def run_command(
    live: Annotated[
        bool, typer.Option("--live", help="Fetch live instead of replaying the bundled snapshot.")
    ] = False,
    langs: Annotated[
        list[str] | None, typer.Option("--lang", help="Report language(s) (default: fi, sv and en).")
    ] = None,
) -> None:
    """The main job: ingest every dataset (bundled snapshot unless --live), compute, write weekly reports."""
    wanted = langs or list(LANGS)
    for lang in wanted:
        if lang not in LANGS:
            raise typer.BadParameter(f"expected one of {', '.join(LANGS)}, got {lang!r}", param_hint="--lang")
    outcomes = run_ingest([], offline=not live)
    summary = run_compute([])
    engine = open_database()
    try:
        for lang, path in write_weekly_reports(engine, wanted).items():
            out.print(f"report ({lang}): {path}")
    finally:
        engine.dispose()
    if any(not o.ok for o in outcomes) or summary.errors:
        raise typer.Exit(code=1)


app.command("report")(report_command)
app.command("status")(status_command)


# --- kestava accept: a person accepts a payload the plausibility checks rejected as a jump ---------------
@app.command("accept")
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

    from ingest.acceptance import AcceptError, accept
    from kestava.errors import DataError
    from storage.locks import BusyError
    from storage.rejections import RejectionLookupError, rejections

    catalogue = load_catalogue()
    if dataset not in catalogue.datasets:
        raise typer.BadParameter(
            f"unknown dataset {dataset!r}; known: {', '.join(sorted(catalogue.datasets))}",
            param_hint="DATASET",
        )
    engine = open_database()
    try:
        if snapshot is None:
            table = Table(title=f"Rejected payloads of {dataset}")
            for column in (
                "snapshot",
                "last rejected (UTC)",
                "times",
                "can accept",
                "accepted",
                "first failure",
            ):
                table.add_column(column, overflow="fold")
            for r in rejections(engine, dataset):
                accepted = (
                    f"{r.accepted_by} {r.accepted_at:%Y-%m-%d %H:%M}: {r.accepted_why}"
                    if r.accepted_at
                    else ""
                )
                first = str(r.violations[0]["message"]) if r.violations else ""
                when = f"{r.last_rejected_at:%Y-%m-%d %H:%M}"
                can = "yes" if r.acceptable else "no"
                table.add_row(r.short, when, str(r.times), can, accepted, first)
            out.print(table)
            return
        if not why or not why.strip():
            raise typer.BadParameter(
                "say why the change is real (recorded with the acceptance)", param_hint="--why"
            )
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
        except (AcceptError, RejectionLookupError, BusyError, DataError) as error:
            console.print(f"[red]{dataset}: not accepted: {error}")
            raise typer.Exit(code=1) from None
        r = done.rejection
        out.print(
            f"{dataset}: snapshot {r.short} accepted by {r.accepted_by} at {r.accepted_at:%Y-%m-%d %H:%M} "
            f"UTC ({r.accepted_why}); {done.result.summary()}"
        )
    finally:
        engine.dispose()


# --- kestava probe: one smallest live request per dataset, expected against found; writes nothing -------
@app.command("probe")
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

    from ingest.catalogue import CATALOGUE_PATH
    from ingest.probe import probe, reference_frame

    catalogue = load_catalogue(catalogue_file or CATALOGUE_PATH)
    for dataset_id in datasets or []:
        if dataset_id not in catalogue.datasets:
            raise typer.BadParameter(
                f"unknown dataset {dataset_id!r}; known: {', '.join(sorted(catalogue.datasets))}",
                param_hint="DATASET",
            )
    snapshot_dir = get_settings().snapshot_dir
    results = probe(
        list(datasets or []),
        catalogue=catalogue,
        reference=lambda spec: reference_frame(spec, snapshot_dir),
        on_dataset=lambda name: console.print(f"probing {name}…") if not as_json else None,
    )
    if as_json:
        out.print_json(json.dumps([r.as_dict() for r in results], ensure_ascii=False))
    else:
        for result in results:
            verdict = "[red]DRIFT" if result.drift else "[green]as expected"
            table = Table(title=f"{result.dataset_id}: {verdict}", title_justify="left", show_lines=True)
            for column in ("check", "expected", "found", ""):
                table.add_column(column, overflow="fold")
            for check in result.checks:
                table.add_row(check.what, check.expected, check.found, "ok" if check.ok else "[red]DRIFT")
            out.print(table)
        drifted = [r.dataset_id for r in results if r.drift]
        out.print(
            f"{len(results)} datasets probed: "
            + (f"drift in {len(drifted)}: {', '.join(drifted)}" if drifted else "no drift")
        )
    if any(r.drift for r in results):
        raise typer.Exit(code=1)


if __name__ == "__main__":
    app()
