"""A copy of the database as it stood at a past moment (in a temporary SQLite file), for closed periods."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Select, Table, select

from storage import schema
from storage.engine import create_db_engine, migrate

_BATCH = 50_000


@contextmanager
def database_as_of(engine: Engine, moment: datetime) -> Iterator[Engine]:
    """An engine on a copy of `engine` holding only what the tracker had been given before `moment`
    (naive UTC): the snapshots fetched before it with their payload records, every observation that had
    been loaded by then (a row revised later is current again in the copy), the jobs started and the
    payloads rejected before it. Staff notes are copied whole, with their history: they are commentary
    on the period, mostly written after it closes, for the report made then. Nothing computed is copied
    (compute the copy as of that day). The copy keeps the ids of the original, so provenance read from it
    names the same snapshots; it is deleted when the block ends.
    """
    with tempfile.TemporaryDirectory(prefix="kestava-as-of-") as folder:
        copy = create_db_engine(f"sqlite:///{Path(folder) / 'as_of.sqlite3'}")
        try:
            migrate(copy)
            with engine.connect() as source, copy.begin() as target:
                _copy_rows(source, target, moment)
            yield copy
        finally:
            copy.dispose()


def _copy_rows(source: Connection, target: Connection, moment: datetime) -> None:
    snap, obs = schema.snapshot, schema.observation
    kept = select(snap.c.id).where(snap.c.fetched_at < moment).scalar_subquery()
    _copy(source, target, schema.source, select(schema.source))
    _copy(source, target, schema.dataset, select(schema.dataset))
    _copy(source, target, snap, select(snap).where(snap.c.fetched_at < moment).order_by(snap.c.id))
    pay = schema.payload
    _copy(source, target, pay, select(pay).where(pay.c.snapshot_id.in_(kept)).order_by(pay.c.id))
    _copy(source, target, schema.series, select(schema.series).order_by(schema.series.c.id))
    loaded = select(obs).where(obs.c.snapshot_id.in_(kept), obs.c.valid_from < moment)
    _copy(
        source,
        target,
        obs,
        loaded,
        reopen=lambda row: (
            {**row, "valid_to": None} if row["valid_to"] is not None and row["valid_to"] >= moment else row
        ),
    )
    job = schema.job_run
    _copy(
        source,
        target,
        job,
        select(job).where(job.c.started_at < moment).order_by(job.c.id),
        reopen=lambda row: (
            {**row, "finished_at": None, "outcome": "running"}
            if row["finished_at"] is not None and row["finished_at"] >= moment
            else row
        ),
    )
    _copy(source, target, schema.note, select(schema.note).order_by(schema.note.c.id))
    rejected = schema.rejected_payload
    _copy(
        source,
        target,
        rejected,
        select(rejected).where(rejected.c.first_rejected_at < moment).order_by(rejected.c.id),
        reopen=lambda row: (
            {
                **row,
                "accepted_by": None,
                "accepted_why": None,
                "accepted_at": None,
                "snapshot_id": None,
            }
            if row["accepted_at"] is not None and row["accepted_at"] >= moment
            else row
        ),
    )


def _copy(
    source: Connection,
    target: Connection,
    table: Table,
    query: Select[Any],
    reopen: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> None:
    """Insert the rows of `query` (read from source) into `table` of target, in batches; `reopen`
    undoes, row by row, what happened only after the moment."""
    result = source.execute(query.execution_options(yield_per=_BATCH))
    for rows in result.mappings().partitions(_BATCH):
        batch = [dict(row) for row in rows]
        if reopen is not None:
            batch = [reopen(row) for row in batch]
        target.execute(table.insert(), batch)
