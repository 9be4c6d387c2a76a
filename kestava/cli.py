"""The `kestava` command line: ingest, inspect sources, compute indicators, export and report."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ingest.catalogue import load_catalogue
from ingest.freshness import freshness
from ingest.run import DatasetOutcome, ingest
from kestava.config import get_settings
from kestava.logs import configure_logging
from storage.engine import open_database, safe_url
from storage.rawstore import RawStore

app = typer.Typer(help="Kestävä Espoo sustainability and carbon-neutrality tracker.", no_args_is_help=True)
console = Console(stderr=True)
out = Console()

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
) -> None:
    """The main job: ingest every dataset (bundled snapshot unless --live), then compute and report."""
    outcomes = run_ingest([], offline=not live)
    if any(not o.ok for o in outcomes):
        raise typer.Exit(code=1)


if __name__ == "__main__":
    app()
