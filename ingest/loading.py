"""Stores a dataset's parsed payloads as its next snapshot: the one load path of a fetch and an acceptance."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
from sqlalchemy import Engine

from common.payload import Payload
from ingest.catalogue import Catalogue, DatasetSpec
from ingest.completeness import coverage
from storage.load import DatasetInfo, LoadResult, SourceInfo, load_snapshot
from storage.locks import HeldLock
from storage.rawstore import RawStore


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
    as the dataset's next snapshot, under the dataset's ingest lock."""
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
