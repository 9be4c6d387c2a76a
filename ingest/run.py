"""Runs ingestion: for each dataset, lock, fetch, skip if unchanged, parse, validate and load atomically."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from ingest.catalogue import Catalogue, DatasetSpec, load_catalogue
from ingest.errors import FetchError
from ingest.http import LiveFetcher
from ingest.manifest import DEFAULT_SNAPSHOT_DIR, read_manifest
from ingest.payload import Fetcher
from ingest.registry import connector_for
from ingest.replay import ReplayFetcher
from kestava.errors import DataError
from storage.jobs import finish_run, start_run
from storage.load import DatasetInfo, LoadResult, SourceInfo, combined_sha256, latest_digest, load_snapshot
from storage.locks import BusyError, job_lock
from storage.rawstore import RawStore
from storage.validators import DbValidatorCache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetOutcome:
    """How one dataset's ingestion ended."""

    dataset_id: str
    outcome: str  # success, unchanged, rejected, failed, busy
    seconds: float
    result: LoadResult | None = None
    error: str | None = None
    payloads: int = 0
    not_modified: int = 0

    @property
    def ok(self) -> bool:
        return self.outcome in ("success", "unchanged")


def dataset_info(catalogue: Catalogue, spec: DatasetSpec) -> DatasetInfo:
    """The storage record of a catalogue dataset and its source."""
    source = catalogue.sources[spec.source]
    return DatasetInfo(
        spec.id,
        spec.title,
        spec.protocol,
        SourceInfo(source.id, source.publisher, source.licence, source.attribution, source.homepage),
    )


def make_fetcher(engine: Engine, raw_store: RawStore, *, offline: bool, snapshot_dir: Path | None) -> Fetcher:
    """The replaying fetcher for --offline, else the live one with conditional requests."""
    if offline:
        return ReplayFetcher(snapshot_dir or DEFAULT_SNAPSHOT_DIR)
    return LiveFetcher(DbValidatorCache(engine, raw_store))


def offline_spec(spec: DatasetSpec, snapshot_dir: Path) -> DatasetSpec:
    """The dataset as the bundled snapshot recorded it: its option overrides, and no API key needed."""
    overrides = read_manifest(snapshot_dir).dataset_options.get(spec.id, {})
    return spec.model_copy(update={"options": {**spec.options, **overrides}, "secret_env": None})


def ingest_dataset(
    engine: Engine,
    catalogue: Catalogue,
    spec: DatasetSpec,
    fetcher: Fetcher,
    raw_store: RawStore,
    *,
    trigger: str = "cli",
) -> DatasetOutcome:
    """Ingest one dataset under its job lock; never raises for data or network problems."""
    started = time.monotonic()
    job = f"ingest:{spec.id}"
    try:
        lock: AbstractContextManager[None] = job_lock(engine, job)
        lock.__enter__()
    except BusyError as busy:
        run_id = start_run(engine, job, dataset_id=spec.id, trigger=trigger)
        finish_run(engine, run_id, "busy", error=str(busy))
        return DatasetOutcome(spec.id, "busy", time.monotonic() - started, error=str(busy))
    try:
        return _ingest_locked(engine, catalogue, spec, fetcher, raw_store, trigger, started)
    finally:
        lock.__exit__(None, None, None)


def _ingest_locked(
    engine: Engine,
    catalogue: Catalogue,
    spec: DatasetSpec,
    fetcher: Fetcher,
    raw_store: RawStore,
    trigger: str,
    started: float,
) -> DatasetOutcome:
    job = f"ingest:{spec.id}"
    run_id = start_run(engine, job, dataset_id=spec.id, trigger=trigger)
    connector = connector_for(spec.protocol)
    payloads = []
    try:
        payloads = connector.fetch(spec, fetcher)
        not_modified = sum(p.not_modified for p in payloads)
        digest = combined_sha256(payloads)
        if payloads and latest_digest(engine, spec.id) == digest:
            finish_run(engine, run_id, "unchanged")
            log.info("%s: payload unchanged; skipped", spec.id)
            return DatasetOutcome(
                spec.id,
                "unchanged",
                time.monotonic() - started,
                payloads=len(payloads),
                not_modified=not_modified,
            )
        frame = connector.parse(spec, payloads)
        result = load_snapshot(
            engine,
            dataset_info(catalogue, spec),
            payloads,
            frame,
            reader_version=connector.reader_version,
            raw_store=raw_store,
        )
    except FetchError as error:
        finish_run(engine, run_id, "failed", error=str(error))
        log.error("%s: fetch failed: %s", spec.id, error)
        return DatasetOutcome(spec.id, "failed", time.monotonic() - started, error=str(error))
    except DataError as error:
        finish_run(engine, run_id, "rejected", error=str(error))
        log.error("%s: rejected: %s", spec.id, error)
        return DatasetOutcome(spec.id, "rejected", time.monotonic() - started, error=str(error))
    except Exception as error:
        message = f"{spec.id}: unexpected {type(error).__name__}: {error}"
        finish_run(engine, run_id, "failed", error=message)
        log.exception("%s: failed", spec.id)
        return DatasetOutcome(spec.id, "failed", time.monotonic() - started, error=message)
    outcome = "unchanged" if result.unchanged_payload else "success"
    finish_run(
        engine,
        run_id,
        outcome,
        rows_added=result.added,
        rows_revised=result.revised,
        rows_unchanged=result.unchanged,
        snapshot_id=result.snapshot_id,
    )
    log.info("%s", result.summary())
    return DatasetOutcome(
        spec.id,
        outcome,
        time.monotonic() - started,
        result=result,
        payloads=len(payloads),
        not_modified=sum(p.not_modified for p in payloads),
    )


def ingest(
    engine: Engine,
    raw_store: RawStore,
    dataset_ids: Sequence[str] = (),
    *,
    offline: bool = False,
    snapshot_dir: Path | None = None,
    catalogue: Catalogue | None = None,
    trigger: str = "cli",
    on_dataset: Callable[[str], None] | None = None,
    on_done: Callable[[DatasetOutcome], None] | None = None,
    fetcher: Fetcher | None = None,
) -> list[DatasetOutcome]:
    """Ingest the named datasets (all when none are named); one failure does not stop the others.

    The fetcher is the bundled snapshot's replay when offline, else a live one with conditional
    requests; pass one to override (e.g. different retry timing). It is closed at the end.
    """
    catalogue = catalogue or load_catalogue()
    specs = [catalogue.dataset(d) for d in dataset_ids] if dataset_ids else list(catalogue.datasets.values())
    if offline:
        specs = [offline_spec(spec, snapshot_dir or DEFAULT_SNAPSHOT_DIR) for spec in specs]
    fetcher = fetcher or make_fetcher(engine, raw_store, offline=offline, snapshot_dir=snapshot_dir)
    outcomes = []
    try:
        for spec in specs:
            if on_dataset:
                on_dataset(spec.id)
            outcome = ingest_dataset(engine, catalogue, spec, fetcher, raw_store, trigger=trigger)
            outcomes.append(outcome)
            if on_done:
                on_done(outcome)
    finally:
        close = getattr(fetcher, "close", None)
        if close is not None:
            close()
    return outcomes
