"""Stores a dataset's parsed payloads as its next snapshot: the one load path of a fetch and an acceptance."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import polars as pl
from sqlalchemy import Engine, func, select

from common.payload import Payload
from ingest.catalogue import Catalogue, DatasetSpec
from ingest.completeness import coverage
from ingest.oecd import OecdConnector, reading_of
from storage import schema
from storage.load import DatasetInfo, LoadResult, SourceInfo, load_snapshot
from storage.locks import HeldLock
from storage.rawstore import RawStore, RawStoreError

log = logging.getLogger(__name__)

# a protocol's answer body -> its reading: the body without what changes on every answer though nothing
# else did (the OECD's SDMX-ML message header: its ID and Prepared time); other protocols' bodies are read
# whole (their sha256 is their reading)
READINGS: Mapping[str, Callable[[bytes], bytes]] = {OecdConnector.protocol: reading_of}


def dataset_info(catalogue: Catalogue, spec: DatasetSpec) -> DatasetInfo:
    """The storage record of a catalogue dataset and its source."""
    source = catalogue.sources[spec.source]
    return DatasetInfo(
        spec.id,
        spec.title,
        spec.protocol,
        SourceInfo(source.id, source.publisher, source.licence, source.attribution, source.homepage),
    )


def load_parsed(
    engine: Engine,
    catalogue: Catalogue,
    spec: DatasetSpec,
    payloads: Sequence[Payload],
    frame: pl.DataFrame,
    *,
    reader_version: str,
    raw_store: RawStore,
    lock: HeldLock,
) -> LoadResult:
    """Load `frame`, parsed from `payloads` as `spec` reads them (its options: what the payloads cover),
    as the dataset's next snapshot, under the dataset's ingest lock; nothing (a LoadResult of an unchanged
    payload) when they hold the latest snapshot's reading again (same_reading)."""
    latest = same_reading(engine, spec, payloads, raw_store)
    if latest is not None:
        log.info(
            "%s: the answer differs from snapshot %d only where every answer does; nothing written",
            spec.id,
            latest,
        )
        return LoadResult(spec.id, latest, unchanged_payload=True)
    return load_snapshot(
        engine,
        dataset_info(catalogue, spec),
        payloads,
        frame,
        reader_version=reader_version,
        raw_store=raw_store,
        lock=lock,
        covers=coverage(spec, payloads, frame),
    )


def same_reading(
    engine: Engine, spec: DatasetSpec, payloads: Sequence[Payload], raw_store: RawStore
) -> int | None:
    """The id of the dataset's latest snapshot when payloads hold its reading again: the same requests in
    the same order, each body the stored one but for what changes on every answer (READINGS); None when
    anything else differs, the protocol has no such part, or a stored body cannot be read (a new snapshot
    then writes it again)."""
    reading = READINGS.get(spec.protocol)
    if reading is None or not payloads:
        return None
    snapshot, stored = schema.snapshot, schema.payload
    latest = select(func.max(snapshot.c.id)).where(snapshot.c.dataset_id == spec.id).scalar_subquery()
    with engine.connect() as conn:
        rows = conn.execute(
            select(stored.c.snapshot_id, stored.c.request_key, stored.c.sha256)
            .where(stored.c.snapshot_id == latest)
            .order_by(stored.c.seq)
        ).all()
    if len(rows) != len(payloads):
        return None
    for row, payload in zip(rows, payloads, strict=True):
        if row.request_key != payload.request.key:
            return None
        if row.sha256 == payload.sha256:
            continue
        try:
            before = raw_store.get(row.sha256)
        except (OSError, RawStoreError):
            return None
        if reading(before) != reading(payload.body):
            return None
    return int(rows[0].snapshot_id)
