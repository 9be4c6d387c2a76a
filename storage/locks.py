"""Named job locks in the database, so that no job runs twice at once, even across processes.

PostgreSQL: a session-level advisory lock on a dedicated connection; a crashed holder's connection
dies and the server releases the lock. SQLite: a lease row in job_lock that the holder renews from a
heartbeat thread; a crashed holder stops renewing and the lease expires. A renewal that fails ("database
is locked" after the busy timeout while another job writes, a full disk) is retried with backoff within the
lease; when the lease cannot be kept, the lock yielded by job_lock says it was lost (HeldLock.lost), and its
writer checks it right before it commits (HeldLock.check in the transaction: a load, a compute) or publishes
(HeldLock.confirm: a report, the site), so that it aborts rather than write under a lock another run may have
taken.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    String,
    bindparam,
    column,
    delete,
    exists,
    func,
    insert,
    literal_column,
    null,
    select,
    table,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from common.errors import one_line
from storage import schema
from storage.alert_state import CLOSE_PROBLEMS_ANY, ClosedProblem, close_problems, closed
from storage.engine import driver_rows
from storage.jobs import SYNCHRONOUS_COMMIT_OFF, UNCHANGED_RUN, now_utc, one_run_params, run_insert
from storage.load import LATEST_DIGESTS_OF

DEFAULT_LEASE = timedelta(minutes=10)
log = logging.getLogger(__name__)


class BusyError(RuntimeError):
    """The lock is held by another run."""

    def __init__(self, name: str, holder: str | None) -> None:
        self.name = name
        self.holder = holder
        who = f" by {holder}" if holder else ""
        super().__init__(f"{name}: busy, already running{who}")


class LockLostError(RuntimeError):
    """The lock was lost while its holder worked: its lease could not be renewed, or another run took it."""

    def __init__(self, name: str, why: str) -> None:
        self.name = name
        self.why = why
        super().__init__(f"{name}: the lock was lost while this run held it ({why}); nothing was written")


class HeldLock:
    """A job lock this run holds (what job_lock yields): whether it still holds it.

    On SQLite the heartbeat sets `lost` when the lease could not be renewed before it ran out, or was found
    taken by another holder; check(conn), in the transaction about to commit, also renews the lease in that
    transaction (which holds SQLite's write lock, so no run can take the lease before the commit). On
    PostgreSQL check(conn) confirms that the session holding the advisory lock still has it (a dropped
    connection releases it)."""

    def __init__(
        self, name: str, holder: str, lease: timedelta, *, pg_session: tuple[int, int] | None = None
    ) -> None:
        self.name = name
        self.holder = holder
        self.lease = lease
        self._lost = threading.Event()
        self._why = ""
        self._pg = pg_session  # PostgreSQL: (the holding session's backend pid, the unsigned key)

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    def lose(self, why: str) -> None:
        """Mark the lock lost (the heartbeat does, when it cannot keep the lease)."""
        if not self._lost.is_set():
            self._why = why
            self._lost.set()

    def check(self, conn: Connection | None = None) -> None:
        """Raise LockLostError when the lock was lost; with conn, a transaction on the lock's database,
        confirm in it that this run still holds the lock."""
        if conn is not None and not self._lost.is_set():
            if conn.dialect.name == "postgresql":
                if self._pg is not None and not conn.execute(_PG_HELD_BY, _pg_params(*self._pg)).scalar():
                    self.lose("the session holding the advisory lock no longer has it")
            else:
                renewed = conn.execute(
                    update(schema.job_lock)
                    .where(schema.job_lock.c.name == self.name, schema.job_lock.c.holder == self.holder)
                    .values(expires_at=now_utc() + self.lease)
                ).rowcount
                if renewed != 1:
                    self.lose("its lease was taken by another run")
        if self._lost.is_set():
            raise LockLostError(self.name, self._why)

    def confirm(self, engine: Engine) -> None:
        """check() in a transaction of its own on engine (the lock's database): for a writer whose last step
        is not a database commit (a report or the site published into a folder), right before it."""
        with engine.begin() as conn:
            self.check(conn)


def default_holder() -> str:
    """host:pid:thread identifies who holds a lock."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def advisory_key(name: str, namespace: str = "") -> int:
    """A stable signed 64-bit key for pg_advisory_lock from the lock name and the schema it guards.

    Advisory locks are per database, so trackers in different schemas of one database must not share
    keys: the namespace (the current schema) is part of the key.
    """
    return int.from_bytes(hashlib.sha256(f"{namespace}\x00{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def job_lock(
    engine: Engine, name: str, *, lease: timedelta = DEFAULT_LEASE, holder: str | None = None
) -> Iterator[HeldLock]:
    """Hold the named lock for the duration of the block, or raise BusyError at once. The block gets the
    HeldLock, whose check() a writer calls in its transaction before committing."""
    holder = holder or default_holder()
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            key = advisory_key(name, str(conn.execute(text("SELECT current_schema()")).scalar()))
            got, pid, _ = conn.execute(_PG_TRY_LOCK, {"k": key, "holder": holder[:63]}).one()
            conn.commit()
            if not got:
                holder_found = _pg_holder(conn, key)
                conn.execute(_PG_UNNAME)
                conn.commit()
                raise BusyError(name, holder_found)
            held = HeldLock(name, holder, lease, pg_session=(int(pid), key & 0xFFFFFFFFFFFFFFFF))
            try:
                yield held
            finally:
                try:
                    conn.execute(_PG_UNLOCK, {"k": key})
                    conn.commit()
                except DBAPIError as error:
                    if not error.connection_invalidated:
                        raise
                    # the session died, and the server released its lock with it
                    log.warning("%s: the lock's connection was lost before its release: %s", name, error)
        return
    _acquire_lease(engine, name, holder, lease)
    held = HeldLock(name, holder, lease)
    stop = threading.Event()
    heartbeat = threading.Thread(target=_renew, args=(engine, held, stop), name=f"lease:{name}", daemon=True)
    heartbeat.start()
    try:
        yield held
    finally:
        stop.set()
        heartbeat.join()
        with engine.begin() as conn:
            conn.execute(
                delete(schema.job_lock).where(
                    schema.job_lock.c.name == name, schema.job_lock.c.holder == holder
                )
            )


# taking and releasing an advisory lock; while it holds the lock, the session is named after the holder
# (application_name, which _pg_holder reads back), in the same round trips; the release puts back the name
# the connection was opened with
_PG_TRY_LOCK = text(
    "SELECT pg_try_advisory_lock(:k), pg_backend_pid(), set_config('application_name', :holder, false)"
)
_PG_RESET_NAME = (
    "set_config('application_name',"
    " (SELECT reset_val FROM pg_settings WHERE name = 'application_name'), false)"
)
_PG_UNNAME = text(f"SELECT {_PG_RESET_NAME}")
_PG_UNLOCK = text(f"SELECT pg_advisory_unlock(:k), {_PG_RESET_NAME}")

# built once (an ingest reads these before every fetch). PostgreSQL: the schema (part of each key) on a row
# of its own, then one row per advisory lock held in this database; SQLite: the named leases not expired
_PG_HELD = (
    "SELECT current_schema() AS namespace, NULL::oid AS classid, NULL::oid AS objid,"
    " NULL::text AS dataset_id, NULL::text AS sha256"
    " UNION ALL SELECT NULL, classid, objid, NULL, NULL FROM pg_locks WHERE locktype = 'advisory'"
    " AND granted AND objsubid = 1"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
_PG_HELD_LOCKS = text(_PG_HELD)
_lock = schema.job_lock
_LEASES_HELD = select(_lock.c.name.label("lock")).where(
    _lock.c.name.in_(bindparam("names", expanding=True)), _lock.c.expires_at >= bindparam("now")
)
# and with them, one row per named dataset: the sha256 of its newest snapshot (storage.load.LATEST_DIGESTS_OF,
# written out for PostgreSQL's text statement)
_PG_HELD_AND_DIGESTS = text(
    _PG_HELD + " UNION ALL SELECT NULL, NULL, NULL, dataset_id, sha256 FROM snapshot WHERE id IN"
    " (SELECT max(id) FROM snapshot WHERE dataset_id IN :datasets GROUP BY dataset_id)"
).bindparams(bindparam("datasets", expanding=True, type_=String))
_LEASES_HELD_AND_DIGESTS = union_all(
    _LEASES_HELD.add_columns(null().label("dataset_id"), null().label("sha256")),
    LATEST_DIGESTS_OF.with_only_columns(null(), schema.snapshot.c.dataset_id, schema.snapshot.c.sha256),
)


# whether the backend `pid` still holds the advisory lock of the bigint key (lock_high, lock_low)
_PG_HELD_BY = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
    " AND classid = :lock_high AND objid = :lock_low AND pid = :pid)"
)


def _key_halves(key: int) -> dict[str, int]:
    """An advisory key as pg_locks shows it: its unsigned 64 bits split into classid (lock_high) and objid
    (lock_low)."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    return {"lock_high": unsigned >> 32, "lock_low": unsigned & 0xFFFFFFFF}


def _pg_params(pid: int, key: int) -> dict[str, int]:
    return {"pid": pid, **_key_halves(key)}


def held_locks(conn: Connection, names: Sequence[str]) -> set[str]:
    """Which of the named job locks some run holds now (a hint for skipping work: the lock decides)."""
    if conn.dialect.name == "postgresql":
        return _held_on_pg(conn.execute(_PG_HELD_LOCKS).all(), names)  # one round trip
    leases = conn.execute(_LEASES_HELD, {"names": list(names), "now": now_utc()})
    return {str(name) for name in leases.scalars()}


def held_locks_and_digests(
    conn: Connection, names: Sequence[str], dataset_ids: Sequence[str]
) -> tuple[set[str], dict[str, str]]:
    """held_locks(names) and storage.load.latest_digests(dataset_ids) in one statement (one round trip):
    what an ingest reads before it fetches."""
    held, digests, _ = held_locks_digests_and_namespace(conn, names, dataset_ids)
    return held, digests


def held_locks_digests_and_namespace(
    conn: Connection, names: Sequence[str], dataset_ids: Sequence[str]
) -> tuple[set[str], dict[str, str], str | None]:
    """held_locks_and_digests and, on PostgreSQL, the schema its lock keys are made in (None on SQLite)."""
    namespace = None
    if conn.dialect.name == "postgresql":
        rows = conn.execute(_PG_HELD_AND_DIGESTS, {"datasets": list(dataset_ids)}).all()
        held = _held_on_pg(rows, names)
        namespace = next(str(row.namespace) for row in rows if row.namespace is not None)
    else:
        params = {"names": list(names), "now": now_utc(), "datasets": list(dataset_ids)}
        rows = conn.execute(_LEASES_HELD_AND_DIGESTS, params).all()
        held = {str(row.lock) for row in rows if row.lock is not None}
    digests = {str(row.dataset_id): str(row.sha256) for row in rows if row.dataset_id is not None}
    return held, digests, namespace


# an 'unchanged' run recorded only while its dataset's newest snapshot has the digest the run found and no
# run holds its lock (storage.jobs.run_insert with those conditions). PostgreSQL: with the all-clear of its
# problems, in one statement committed without waiting for the disk (as storage.jobs.record_runs(
# durable=False)): how many runs it recorded, then a row per problem closed (none: one row of nulls)
_NEWEST_DIGEST = (
    select(schema.snapshot.c.sha256)
    .where(schema.snapshot.c.dataset_id == bindparam("run_dataset_id"))
    .order_by(schema.snapshot.c.id.desc())
    .limit(literal_column("1"))  # (constants written in the SQL: no parameter to send on every firing)
    .scalar_subquery()
)
_pg_locks = table(
    "pg_locks",
    *(column(name) for name in ("locktype", "granted", "objsubid", "classid", "objid", "database")),
)
_pg_database = table("pg_database", column("oid"), column("datname"))
_PG_LOCK_HELD = exists().where(  # the advisory lock of the bigint key (lock_high, lock_low) in this database
    _pg_locks.c.locktype == literal_column("'advisory'"),
    _pg_locks.c.granted,
    _pg_locks.c.objsubid == literal_column("1"),
    _pg_locks.c.classid == bindparam("lock_high"),
    _pg_locks.c.objid == bindparam("lock_low"),
    _pg_locks.c.database
    == select(_pg_database.c.oid).where(_pg_database.c.datname == func.current_database()).scalar_subquery(),
)
_PG_RUN_IF_CURRENT = (
    run_insert(
        SYNCHRONOUS_COMMIT_OFF, bindparam("digest") == _NEWEST_DIGEST, ~_PG_LOCK_HELD, fixed=UNCHANGED_RUN
    )
    .returning(schema.job_run.c.id)
    .cte("run")
)
_PG_CLOSED_WITH_IT = CLOSE_PROBLEMS_ANY.where(exists(select(_PG_RUN_IF_CURRENT.c.id))).cte("closed")
_PG_RECORD_UNCHANGED_IF_CURRENT = select(
    select(func.count()).select_from(_PG_RUN_IF_CURRENT).scalar_subquery().label("recorded"),
    _PG_CLOSED_WITH_IT.c.problem_key,
    _PG_CLOSED_WITH_IT.c.first_seen,
    _PG_CLOSED_WITH_IT.c.last_sent,
).select_from(select(literal_column("1").label("one")).subquery().outerjoin(_PG_CLOSED_WITH_IT, true()))
_run = schema.job_run
_SQLITE_RECORD_UNCHANGED_IF_CURRENT = run_insert(
    bindparam("digest") == _NEWEST_DIGEST,
    ~exists().where(_lock.c.name == bindparam("lock"), _lock.c.expires_at >= bindparam("now")),
    fixed=UNCHANGED_RUN,
)


def record_unchanged_if_current(
    conn: Connection,
    run: Mapping[str, object],
    *,
    digest: str,
    lock: str,
    namespace: str | None,
    close: Sequence[str] = (),
    closed_at: datetime,
) -> list[ClosedProblem] | None:
    """Record the finished 'unchanged' run (job, dataset_id, trigger, started_at, finished_at) only if its
    dataset's newest snapshot still has digest and no run holds the lock named `lock` (namespace: the
    schema of PostgreSQL's lock keys, from held_locks_digests_and_namespace), closing the open problems of
    `close` with it; returns the problems closed, or None when nothing was written. On PostgreSQL one
    statement (one round trip), committed without waiting for the disk as record_runs(durable=False) does
    (a server crash may lose it, never an observation); on SQLite the insert, then the close. The caller
    passes an autocommit connection (storage.engine.autocommit)."""
    fields = ("job", "dataset_id", "trigger", "started_at", "finished_at")
    values = {
        **one_run_params(
            {**{name: run[name] for name in fields}, "outcome": "unchanged"}, fixed=UNCHANGED_RUN
        ),
        "digest": digest,
    }
    if conn.dialect.name == "postgresql":
        if namespace is None:
            raise ValueError("record_unchanged_if_current: PostgreSQL's lock keys need the namespace")
        params = {**_key_halves(advisory_key(lock, namespace)), "keys": list(close), "closed_at": closed_at}
        # on the driver's cursor (storage.engine.driver_rows): every unchanged firing runs it
        rows = driver_rows(conn, _PG_RECORD_UNCHANGED_IF_CURRENT, {**values, **params})
        if not rows[0][0]:  # recorded
            return None
        return closed((row[1:] for row in rows if row[1] is not None), closed_at)
    inserted = conn.execute(_SQLITE_RECORD_UNCHANGED_IF_CURRENT, {**values, "lock": lock, "now": now_utc()})
    if inserted.rowcount != 1:
        return None
    return close_problems(conn, close, closed_at)


def _held_on_pg(rows: Sequence[Row[Any]], names: Sequence[str]) -> set[str]:
    """Which of the named locks the rows of _PG_HELD say are held (the keys depend on the schema)."""
    namespace = next(str(row.namespace) for row in rows if row.namespace is not None)
    keys = {advisory_key(name, namespace) & 0xFFFFFFFFFFFFFFFF: name for name in names}
    held = ((int(row.classid) << 32) | int(row.objid) for row in rows if row.classid is not None)
    return {keys[key] for key in held if key in keys}


def _pg_holder(conn: Connection, key: int) -> str | None:
    """Which backend holds the advisory lock (a bigint key is split into classid and objid)."""
    row = conn.execute(
        text(
            "SELECT l.pid, a.application_name FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted"
            " AND l.classid = :lock_high AND l.objid = :lock_low AND l.objsubid = 1"
        ),
        _key_halves(key),
    ).first()
    if row is None:
        return None
    backend = f"PostgreSQL backend pid {row.pid}"
    return f"{row.application_name} ({backend})" if row.application_name else backend


def _acquire_lease(engine: Engine, name: str, holder: str, lease: timedelta) -> None:
    lock = schema.job_lock
    now = now_utc()
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(lock).values(name=name, holder=holder, acquired_at=now, expires_at=now + lease)
            )
        return
    except IntegrityError:
        pass  # held, possibly by a crashed holder whose lease has expired
    with engine.begin() as conn:
        current = conn.execute(select(lock.c.holder).where(lock.c.name == name)).scalar()
        # an expired lease, or one whose holder was a process on this machine that no longer runs
        # (killed: its lease would otherwise block everyone else until it expires)
        stale = lock.c.expires_at < now
        if current is not None and local_holder_is_dead(str(current)):
            stale = stale | (lock.c.holder == current)
        taken = conn.execute(
            update(lock)
            .where(lock.c.name == name, stale)
            .values(holder=holder, acquired_at=now, expires_at=now + lease)
        ).rowcount
        if taken == 1:
            return
    raise BusyError(name, current)


def local_holder_is_dead(holder: str) -> bool:
    """True when a host:pid:thread holder names this machine and a process that no longer exists."""
    host, _, rest = holder.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # a process of another user holds that pid
    return False


def _renew(engine: Engine, held: HeldLock, stop: threading.Event) -> None:
    """Renew the lease every third of it until stop is set. A failed renewal is logged and tried again with
    backoff (from a hundredth of the lease, doubling) while the lease lasts; when it runs out unrenewed, or
    the row is found taken, the lock is marked lost and the heartbeat ends."""
    lock = schema.job_lock
    seconds = held.lease.total_seconds()
    expires = time.monotonic() + seconds  # when the lease last written runs out (it was written just now)
    wait = seconds / 3
    failures = 0
    while not stop.wait(wait):
        attempt = time.monotonic()
        try:
            with engine.begin() as conn:
                renewed = conn.execute(
                    update(lock)
                    .where(lock.c.name == held.name, lock.c.holder == held.holder)
                    .values(expires_at=now_utc() + held.lease)
                ).rowcount
        except (SQLAlchemyError, OSError) as caught:
            error = one_line(caught)
            failures += 1
            left = expires - time.monotonic()
            if left <= 0:
                held.lose(f"its lease ran out after {failures} failed renewals, the last: {error}")
                log.error("%s: lease lost: %d renewals failed; the last: %s", held.name, failures, error)
                return
            wait = max(0.05, min(seconds / 100 * 2 ** (failures - 1), seconds / 3, left / 2))
            log.warning(
                "%s: lease renewal %d failed (%.1f s of the lease left; again in %.1f s): %s",
                held.name,
                failures,
                left,
                wait,
                error,
            )
            continue
        if renewed != 1:
            held.lose("its lease was taken by another run")
            log.error("%s: lease lost: another run holds it", held.name)
            return
        if failures:
            log.info("%s: lease renewed after %d failed attempts", held.name, failures)
        expires = attempt + seconds
        wait = seconds / 3
        failures = 0
