"""Loads one snapshot's observations atomically, recording revisions as vintages and skipping repeats."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypedDict

import polars as pl
from sqlalchemy import Connection, Engine, Table, bindparam, exists, func, insert, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from common.errors import MixedDataError
from common.flags import is_provisional
from common.payload import Payload
from storage import schema
from storage.checks import check_observations, dimension_columns
from storage.data_kind import refuse_mixing
from storage.fetch import TIMESTAMP_FORMAT as TIMESTAMP_FORMAT  # re-exported: the writers use it
from storage.fetch import expect_many_rows, fetch_frame
from storage.rawstore import RawStore

SQLITE_BATCH = 50_000  # rows per executemany on SQLite
OBSERVATION_COLUMNS = ("series_id", "period", "snapshot_id", "value", "flag", "valid_from")
KEY = ["series_id", "period"]  # an observation's identity within its vintages


class LockGuard(Protocol):
    """The job lock a load runs under (storage.locks.HeldLock): check(conn) raises when it was lost."""

    def check(self, conn: Connection | None = None) -> None: ...


@dataclass(frozen=True)
class SourceInfo:
    """A publisher as recorded in the database."""

    id: str
    publisher: str
    licence: str
    attribution: str
    homepage: str


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset as recorded in the database."""

    id: str
    title: str
    protocol: str
    source: SourceInfo


class RunCounts(TypedDict):
    """A load's row counts under the names a job run records them (storage.jobs.finish_run)."""

    rows_added: int
    rows_revised: int
    rows_unchanged: int
    rows_withdrawn: int
    rows_confirmed: int
    rows_reflagged: int


@dataclass(frozen=True)
class LoadResult:
    """What a load did: nothing (same payload as before), or rows added, revised (value changed),
    unchanged, withdrawn (closed: the payload covered them and no longer holds them), confirmed (same
    value, no longer provisional) and reflagged (same value, another flag change)."""

    dataset_id: str
    snapshot_id: int
    unchanged_payload: bool
    added: int = 0
    revised: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    confirmed: int = 0
    reflagged: int = 0

    def run_counts(self) -> RunCounts:
        """The counts as a job run records them (storage.jobs.finish_run's rows_* arguments)."""
        return {
            "rows_added": self.added,
            "rows_revised": self.revised,
            "rows_unchanged": self.unchanged,
            "rows_withdrawn": self.withdrawn,
            "rows_confirmed": self.confirmed,
            "rows_reflagged": self.reflagged,
        }

    def summary(self) -> str:
        """One line: the snapshot and its counts (withdrawn, confirmed and reflagged only when any)."""
        if self.unchanged_payload:
            return f"{self.dataset_id}: payload unchanged (snapshot {self.snapshot_id}); nothing written"
        extra = "".join(
            f", {count} {name}"
            for count, name in (
                (self.withdrawn, "withdrawn"),
                (self.confirmed, "provisional confirmed (value unchanged)"),
                (self.reflagged, "reflagged (value unchanged)"),
            )
            if count
        )
        return (
            f"{self.dataset_id}: snapshot {self.snapshot_id}: {self.added} new, {self.revised} revised, "
            f"{self.unchanged} unchanged{extra}"
        )


@dataclass(frozen=True)
class Diff:
    """Incoming rows against the current ones: added, replaced (value or flag changed: the current row is
    closed and the new one written) and the counts of replaced rows by kind, and of unchanged rows."""

    added: pl.DataFrame
    replaced: pl.DataFrame
    revised: int  # the value changed (ne_missing)
    confirmed: int  # same value; the old flag was provisional, the new one is not
    reflagged: int  # same value; any other flag change
    unchanged: int


def combined_sha256(payloads: Sequence[Payload]) -> str:
    """One digest over the payloads' digests, in request order: the identity of a snapshot's content."""
    return hashlib.sha256("\n".join(p.sha256 for p in payloads).encode()).hexdigest()


def utc_naive(moment: datetime) -> datetime:
    """The moment as naive UTC, the convention of every timestamp in the database."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def series_keys(frame: pl.DataFrame) -> pl.Expr:
    """The canonical series key: JSON of every dimension column (sorted), unit and area included."""
    return pl.struct(dimension_columns(frame)).struct.json_encode()


def load_snapshot(
    engine: Engine,
    dataset: DatasetInfo,
    payloads: Sequence[Payload],
    observations: pl.DataFrame,
    *,
    reader_version: str,
    raw_store: RawStore,
    on_stage: Callable[[str], None] | None = None,
    lock: LockGuard | None = None,
    covers: pl.Expr | None = None,
    allow_mixed: bool | None = None,
) -> LoadResult:
    """Store the payloads and their observations in one transaction.

    A payload set identical (sha256) to the dataset's last snapshot changes nothing. Otherwise a new
    snapshot is recorded; observations new to the database are added, changed ones close the previous
    row (valid_to) and add the new value (counted as revised when the value changed, confirmed or reflagged
    when only its flag did), and identical ones are counted as unchanged. A current
    observation the payload covers (`covers`, a filter on area and period: ingest.completeness.coverage;
    None: none) and no longer holds is withdrawn: its row is closed (valid_to) with no new one, its
    history kept. Any error rolls
    the whole load back, leaving the database as it was. Under a job lock (`lock`, from
    storage.locks.job_lock), the lock is checked in the transaction before it commits: a lock lost while
    the load worked (storage.locks.LockLostError) rolls the load back. Demo payloads (the bundled
    snapshot) into a database that holds live data, or live ones into one that holds demo data, are
    refused before anything is written (MixedDataError, storage.data_kind), unless allow_mixed (default:
    the setting KESTAVA_ALLOW_MIXED_DATA).
    """
    stage = on_stage or (lambda _name: None)
    if not payloads:
        raise ValueError(f"{dataset.id}: a snapshot needs at least one payload")
    digest = combined_sha256(payloads)
    with engine.connect() as conn:
        previous = _latest_snapshot(conn, dataset.id)
    if previous is not None and previous[1] == digest:
        return LoadResult(dataset.id, previous[0], unchanged_payload=True)
    frame = check_observations(observations, dataset.id)
    expect_many_rows(engine, frame.height)  # this dataset's rows will be read back: next time, and to compute
    fetched_at = utc_naive(max(p.fetched_at for p in payloads))
    is_demo = any(p.is_demo for p in payloads)
    with ThreadPoolExecutor(max_workers=1) as disk:
        # the payloads are hashed, written and synced to disk while the database work goes on; the
        # payload rows, which name their files, wait for them
        writing = disk.submit(raw_store.put_all, [p.body for p in payloads])
        keyed = frame.with_columns(series_keys(frame).alias("key"))
        stage("validated")
        with engine.begin() as conn:
            previous = _latest_snapshot(conn, dataset.id)  # again, inside the transaction
            if previous is not None and previous[1] == digest:
                return LoadResult(dataset.id, previous[0], unchanged_payload=True)
            try:
                refuse_mixing(conn, is_demo, allowed=allow_mixed, lock=True)
            except MixedDataError as error:
                raise MixedDataError(f"{dataset.id}: not loaded: {error}") from None
            # the current values are read before this transaction writes anything, so that SQLite can read
            # them in its read worker (storage.fetch); the writes below do not change them
            current = _current_observations(conn, dataset.id) if _series_count(conn, dataset.id) else None
            _upsert_dataset(conn, dataset)
            ids = _series_ids(conn, dataset.id, keyed)
            rows = keyed.join(ids, on="key", how="left").select("series_id", "period", "value", "flag")
            diff = _diff(rows, current)
            added, replaced = diff.added, diff.replaced  # replaced: every kind closes its old row
            withdrawn = _withdrawn(conn, dataset.id, rows, current, covers)
            stage("diffed")
            inserted = conn.execute(
                insert(schema.snapshot).values(
                    dataset_id=dataset.id,
                    fetched_at=fetched_at,
                    sha256=digest,
                    reader_version=reader_version,
                    is_demo=is_demo,
                    rows_added=added.height,
                    rows_revised=diff.revised,
                    rows_unchanged=diff.unchanged,
                    # each left to its server default (0) when none: a load still writes a database that
                    # predates the column (migrations 0007, 0009) the same way
                    **({"rows_withdrawn": withdrawn.height} if withdrawn.height else {}),
                    **({"rows_confirmed": diff.confirmed} if diff.confirmed else {}),
                    **({"rows_reflagged": diff.reflagged} if diff.reflagged else {}),
                )
            ).inserted_primary_key
            assert inserted is not None
            snapshot_id = int(inserted[0])
            conn.execute(
                insert(schema.payload),
                [
                    _payload_row(snapshot_id, seq, p, path)
                    for seq, (p, (_sha, path)) in enumerate(zip(payloads, writing.result(), strict=True))
                ],
            )
            stage("snapshot recorded")
            if replaced.height or withdrawn.height:
                _close_revised(conn, pl.concat([replaced.select(KEY), withdrawn.select(KEY)]), fetched_at)
            stage("revisions closed")
            new_rows = (
                pl.concat([added, replaced])
                .sort("series_id", "period")
                .with_columns(
                    pl.lit(snapshot_id, dtype=pl.Int64).alias("snapshot_id"),
                    pl.lit(fetched_at.strftime(TIMESTAMP_FORMAT)).alias("valid_from"),
                )
            )
            if new_rows.get_column("series_id").null_count():
                raise RuntimeError(f"{dataset.id}: rows without a series id reached the load (a bug)")
            bulk_insert_observations(conn, new_rows.select(OBSERVATION_COLUMNS), on_stage=stage)
            check_references(conn, snapshot_id)
            if lock is not None:
                lock.check(conn)  # last: a lock lost meanwhile rolls everything back
            stage("observations written")
        return LoadResult(
            dataset.id,
            snapshot_id,
            False,
            added=added.height,
            revised=diff.revised,
            unchanged=diff.unchanged,
            withdrawn=withdrawn.height,
            confirmed=diff.confirmed,
            reflagged=diff.reflagged,
        )


def check_references(conn: Connection, snapshot_id: int | None = None) -> None:
    """Every observation (of one snapshot, or all) refers to a series and a snapshot that exist.

    The observation table has no per-row foreign keys (a key-share lock per row on PostgreSQL made a
    first load four times slower); this set-based check per load keeps the same guarantee, inside the
    load's transaction: a broken reference rolls the whole load back. For one snapshot it looks up each
    distinct series once (the primary key begins with series_id, so DISTINCT is one ordered pass on
    SQLite: 0.07 s instead of 0.33 s for 750 000 rows) and the snapshot once; only when something is
    broken are the broken rows counted.
    """
    obs, series, snap = schema.observation, schema.series, schema.snapshot
    if snapshot_id is not None:
        ids = select(obs.c.series_id).where(obs.c.snapshot_id == snapshot_id).distinct().subquery()
        missing_series = (
            select(func.count()).select_from(ids).where(~exists().where(series.c.id == ids.c.series_id))
        )
        snapshot_found = exists().where(snap.c.id == snapshot_id)
        missing, found = conn.execute(select(missing_series.scalar_subquery(), snapshot_found)).one()
        if not missing and found:
            return
    query = (
        select(func.count())
        .select_from(obs)
        .where(
            or_(
                ~exists().where(series.c.id == obs.c.series_id),
                ~exists().where(snap.c.id == obs.c.snapshot_id),
            )
        )
    )
    if snapshot_id is not None:
        query = query.where(obs.c.snapshot_id == snapshot_id)
    broken = conn.execute(query).scalar_one()
    if broken:
        raise RuntimeError(f"{broken} observations refer to a series or snapshot that does not exist")


def latest_digest(engine: Engine, dataset_id: str) -> str | None:
    """The sha256 of the dataset's newest snapshot: equal to a new fetch's digest means nothing changed."""
    with engine.connect() as conn:
        latest = _latest_snapshot(conn, dataset_id)
    return None if latest is None else latest[1]


_snap = schema.snapshot
# built once (read before every scheduled ingest, also by storage.locks): every dataset's newest snapshot, or
# those named (`datasets`)
_LATEST_DIGESTS = select(_snap.c.dataset_id, _snap.c.sha256).where(
    _snap.c.id.in_(select(func.max(_snap.c.id)).group_by(_snap.c.dataset_id).scalar_subquery())
)
LATEST_DIGESTS_OF = select(_snap.c.dataset_id, _snap.c.sha256).where(
    _snap.c.id.in_(
        select(func.max(_snap.c.id))
        .where(_snap.c.dataset_id.in_(bindparam("datasets", expanding=True)))
        .group_by(_snap.c.dataset_id)
        .scalar_subquery()
    )
)


def latest_digests(bind: Engine | Connection, dataset_ids: Sequence[str] | None = None) -> dict[str, str]:
    """latest_digest of every dataset (or of those named) in one query: dataset id -> sha256 of its newest
    snapshot."""
    if dataset_ids is None:
        query, params = _LATEST_DIGESTS, {}
    else:
        query, params = LATEST_DIGESTS_OF, {"datasets": list(dataset_ids)}
    if isinstance(bind, Connection):
        rows = bind.execute(query, params).all()
    else:
        with bind.connect() as conn:
            rows = conn.execute(query, params).all()
    return {str(dataset_id): str(sha256) for dataset_id, sha256 in rows}


def _latest_snapshot(conn: Connection, dataset_id: str) -> tuple[int, str] | None:
    """(id, sha256) of the dataset's newest snapshot, if any."""
    row = conn.execute(
        select(schema.snapshot.c.id, schema.snapshot.c.sha256)
        .where(schema.snapshot.c.dataset_id == dataset_id)
        .order_by(schema.snapshot.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else (int(row.id), str(row.sha256))


def _upsert_dataset(conn: Connection, dataset: DatasetInfo) -> None:
    """The dataset's source and dataset rows, inserted or updated, each in one INSERT … ON CONFLICT: two
    first loads of datasets of one source at once (the scheduler starts every new ingest at once) no
    longer race between a check and an insert (a UniqueViolation on PostgreSQL). A row already as given is
    not written (no row lock held for the rest of the load)."""
    source_row = {
        "publisher": dataset.source.publisher,
        "licence": dataset.source.licence,
        "attribution": dataset.source.attribution,
        "homepage": dataset.source.homepage,
    }
    _upsert(conn, schema.source, {"id": dataset.source.id, **source_row})
    dataset_row = {"source_id": dataset.source.id, "title": dataset.title, "protocol": dataset.protocol}
    _upsert(conn, schema.dataset, {"id": dataset.id, **dataset_row})


def _upsert(conn: Connection, table: Table, row: dict[str, object]) -> None:
    """Insert row into table (primary key id), or update the row of its id where any value differs."""
    dialect_insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(table).values(**row)
    changed = {name: statement.excluded[name] for name in row if name != "id"}
    differs = or_(*(table.c[name].is_distinct_from(value) for name, value in changed.items()))
    conn.execute(statement.on_conflict_do_update(index_elements=["id"], set_=changed, where=differs))


def _series_count(conn: Connection, dataset_id: str) -> int:
    query = select(func.count()).select_from(schema.series).where(schema.series.c.dataset_id == dataset_id)
    return int(conn.execute(query).scalar_one())


def _existing_series(conn: Connection, dataset_id: str) -> pl.DataFrame:
    query = select(schema.series.c.key, schema.series.c.id).where(schema.series.c.dataset_id == dataset_id)
    return fetch_frame(conn, query, {"key": pl.String(), "series_id": pl.Int64()})


def _series_ids(conn: Connection, dataset_id: str, keyed: pl.DataFrame) -> pl.DataFrame:
    """Map every series key in the frame to its id, inserting the series the database lacks (ids in the
    frame's order)."""
    wanted = keyed.select("key", "area", "unit").unique("key", maintain_order=True)
    existing = _existing_series(conn, dataset_id)
    missing = wanted.join(existing, on="key", how="anti", maintain_order="left")
    if missing.height:
        bulk_insert(
            conn, "series", missing.select(pl.lit(dataset_id).alias("dataset_id"), "key", "area", "unit")
        )
        existing = _existing_series(conn, dataset_id)
    return existing


def _current_observations(conn: Connection, dataset_id: str) -> pl.DataFrame:
    obs, series = schema.observation, schema.series
    query = (
        select(obs.c.series_id, obs.c.period, obs.c.value, obs.c.flag)
        .join(series, series.c.id == obs.c.series_id)
        .where(series.c.dataset_id == dataset_id, obs.c.valid_to.is_(None))
    )
    return fetch_frame(
        conn,
        query,
        {"series_id": pl.Int64(), "period": pl.String(), "value": pl.Float64(), "flag": pl.String()},
    )


def _diff(rows: pl.DataFrame, current: pl.DataFrame | None) -> Diff:
    """Split incoming rows into added, replaced (revised, confirmed or reflagged) and unchanged against the
    current values (one join)."""
    if current is None or current.height == 0:
        return Diff(rows, rows.clear(), 0, 0, 0, 0)
    joined = rows.join(
        current.with_columns(pl.lit(True).alias("present")),
        on=["series_id", "period"],
        how="left",
        suffix="_old",
    )
    present = pl.col("present").is_not_null()
    value_changed = pl.col("value").ne_missing(pl.col("value_old"))
    flag_changed = pl.col("flag").ne_missing(pl.col("flag_old"))
    added = joined.filter(~present).select(rows.columns)
    replaced = joined.filter(present & (value_changed | flag_changed))
    reflags = replaced.filter(~value_changed)
    confirmed = int(
        reflags.select((is_provisional(pl.col("flag_old")) & ~is_provisional(pl.col("flag"))).sum()).item()
    )
    return Diff(
        added=added,
        replaced=replaced.select(rows.columns),
        revised=replaced.height - reflags.height,
        confirmed=confirmed,
        reflagged=reflags.height - confirmed,
        unchanged=rows.height - added.height - replaced.height,
    )


def _withdrawn(
    conn: Connection,
    dataset_id: str,
    rows: pl.DataFrame,
    current: pl.DataFrame | None,
    covers: pl.Expr | None,
) -> pl.DataFrame:
    """The current (series_id, period) the payload covers and no longer holds (one anti join; the
    series' areas are read only when there are any)."""
    if covers is None or current is None or current.height == 0:
        return pl.DataFrame(schema={"series_id": pl.Int64(), "period": pl.String()})
    dropped = current.select(KEY).join(rows.select(KEY), on=KEY, how="anti")
    if dropped.height == 0:
        return dropped
    query = select(schema.series.c.id, schema.series.c.area).where(schema.series.c.dataset_id == dataset_id)
    areas = fetch_frame(conn, query, {"series_id": pl.Int64(), "area": pl.String()})
    return dropped.join(areas, on="series_id", how="left").filter(covers).select(KEY)


def _close_revised(conn: Connection, revised: pl.DataFrame, valid_to: datetime) -> None:
    obs = schema.observation
    statement = (
        obs.update()
        .where(
            obs.c.series_id == bindparam("b_series_id"),
            obs.c.period == bindparam("b_period"),
            obs.c.valid_to.is_(None),
        )
        .values(valid_to=valid_to)
    )
    params = [
        {"b_series_id": sid, "b_period": period}
        for sid, period in revised.select("series_id", "period").iter_rows()
    ]
    conn.execute(statement, params)


def bulk_insert_observations(
    conn: Connection,
    rows: pl.DataFrame,
    *,
    on_stage: Callable[[str], None] | None = None,
    batch: int = 200_000,
) -> None:
    """Append observation rows by the backend's fast path (see bulk_insert)."""
    bulk_insert(conn, "observation", rows.select(OBSERVATION_COLUMNS), on_stage=on_stage, batch=batch)


def bulk_insert(
    conn: Connection,
    table: str,
    rows: pl.DataFrame,
    *,
    on_stage: Callable[[str], None] | None = None,
    batch: int = 200_000,
) -> None:
    """Append rows (columns named like the table's) by COPY on PostgreSQL, executemany on SQLite.

    Datetime columns must already be text in TIMESTAMP_FORMAT; booleans are written as the backend
    expects them. Runs inside the caller's transaction.
    """
    if rows.height == 0:
        return
    columns = ", ".join(rows.columns)
    if conn.dialect.name == "postgresql":
        driver = conn.connection.driver_connection
        assert driver is not None
        statement = f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)"
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for offset in range(0, rows.height, batch):
                buffer = io.BytesIO()
                rows.slice(offset, batch).write_csv(buffer, include_header=False)
                copy.write(buffer.getvalue())
                if on_stage:
                    on_stage(f"copied {min(offset + batch, rows.height)}")
        return
    placeholders = ", ".join("?" for _ in rows.columns)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"
    batch = min(batch, SQLITE_BATCH)  # each batch becomes Python tuples: keep a few MB of them at a time
    for offset in range(0, rows.height, batch):
        conn.exec_driver_sql(sql, rows.slice(offset, batch).rows())
        if on_stage:
            on_stage(f"inserted {min(offset + batch, rows.height)}")


def _payload_row(snapshot_id: int, seq: int, payload: Payload, path: str) -> dict[str, object]:
    return {
        "snapshot_id": snapshot_id,
        "seq": seq,
        "method": payload.request.method,
        "url": payload.request.url,
        "params": json.dumps([list(pair) for pair in payload.request.params], ensure_ascii=False),
        "request_body": payload.request.json_body,
        "request_key": payload.request.key,
        "fetched_at": utc_naive(payload.fetched_at),
        "http_status": payload.status,
        "not_modified": payload.not_modified,
        "content_type": payload.header("content-type"),
        "etag": payload.header("etag"),
        "last_modified": payload.header("last-modified"),
        "sha256": payload.sha256,
        "size": payload.size,
        "storage_path": path,
    }
