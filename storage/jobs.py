"""Records job runs: what ran, when, triggered by whom, with what outcome, error and row counts."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Insert,
    Integer,
    String,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    null,
    select,
    true,
    update,
)

from storage import schema
from storage.alert_state import CLOSE_PROBLEMS, ClosedProblem, close_problems, closed
from storage.engine import autocommit

OUTCOMES = ("running", "success", "unchanged", "failed", "rejected", "busy")


def now_utc() -> datetime:
    """The current time as naive UTC (the database convention)."""
    return datetime.now(UTC).replace(tzinfo=None)


def start_run(
    engine: Engine,
    job: str,
    *,
    dataset_id: str | None = None,
    trigger: str = "cli",
    started_at: datetime | None = None,
) -> int:
    """Record that a job has started (now, or at started_at: naive UTC); returns the run id."""
    with autocommit(engine) as conn:
        result = conn.execute(
            insert(schema.job_run).values(
                job=job,
                dataset_id=dataset_id,
                trigger=trigger,
                started_at=started_at or now_utc(),
                outcome="running",
                host=socket.gethostname(),
                pid=os.getpid(),
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def finish_run(
    engine: Engine,
    run_id: int,
    outcome: str,
    *,
    error: str | None = None,
    rows_added: int = 0,
    rows_revised: int = 0,
    rows_unchanged: int = 0,
    rows_withdrawn: int = 0,
    rows_confirmed: int = 0,
    rows_reflagged: int = 0,
    snapshot_id: int | None = None,
) -> None:
    """Record how a job ended."""
    if outcome not in OUTCOMES:
        raise ValueError(f"job outcome: expected one of {OUTCOMES}, got {outcome!r}")
    with autocommit(engine) as conn:
        conn.execute(
            update(schema.job_run)
            .where(schema.job_run.c.id == run_id)
            .values(
                finished_at=now_utc(),
                outcome=outcome,
                error=error,
                rows_added=rows_added,
                rows_revised=rows_revised,
                rows_unchanged=rows_unchanged,
                rows_withdrawn=rows_withdrawn,
                rows_confirmed=rows_confirmed,
                rows_reflagged=rows_reflagged,
                snapshot_id=snapshot_id,
            )
        )


# built once (record_runs runs on every scheduled firing; a statement made per call costs more Python than
# the database takes to run it): the insert, and on PostgreSQL one run's insert with the all-clear
_INSERT_RUN = insert(schema.job_run)
_RUN_COLUMNS = (
    *("job", "dataset_id", "trigger", "started_at", "finished_at", "outcome", "error"),
    *("rows_added", "rows_revised", "rows_unchanged", "snapshot_id", "host", "pid"),
)
_RECORD_ONE_AND_CLOSE = CLOSE_PROBLEMS.add_cte(
    insert(schema.job_run).values({name: bindparam(f"run_{name}") for name in _RUN_COLUMNS}).cte("run")
)
# PostgreSQL, a condition that holds: the statement's own transaction (in autocommit) commits without waiting
# for the disk (set_config(..., true) lasts until that transaction ends, and is read when it commits); its
# arguments written in the SQL, not sent as parameters on every run
SYNCHRONOUS_COMMIT_OFF = func.set_config(
    literal_column("'synchronous_commit'"), literal_column("'off'"), true()
).is_not(None)
# an 'unchanged' run's columns that are the same for every such run, written in the SQL (run_insert's
# fixed): a statement run on every unchanged firing sends six parameters fewer
UNCHANGED_RUN: dict[str, ColumnElement[Any]] = {
    "outcome": literal_column("'unchanged'", String),
    "error": cast(null(), String),
    "rows_added": literal_column("0", Integer),
    "rows_revised": literal_column("0", Integer),
    "rows_unchanged": literal_column("0", Integer),
    "snapshot_id": cast(null(), Integer),
}


def run_insert(
    *conditions: ColumnElement[bool], fixed: Mapping[str, ColumnElement[Any]] | None = None
) -> Insert:
    """One run's insert (parameters run_<column>, as one_run_params gives them), made only where
    conditions hold; the columns of fixed are those SQL expressions instead (no parameter)."""
    fixed = fixed or {}
    return insert(schema.job_run).from_select(
        list(_RUN_COLUMNS),
        select(
            *(
                fixed[name] if name in fixed else bindparam(f"run_{name}", type_=schema.job_run.c[name].type)
                for name in _RUN_COLUMNS
            )
        ).where(*conditions),
    )


# the same as _RECORD_ONE_AND_CLOSE, committed without waiting for the disk
_RECORD_ONE_AND_CLOSE_ASYNC = CLOSE_PROBLEMS.add_cte(run_insert(SYNCHRONOUS_COMMIT_OFF).cte("run"))
RUN_FIELDS = frozenset(
    {
        "job",
        "dataset_id",
        "trigger",
        "started_at",
        "finished_at",
        "outcome",
        "error",
        "rows_added",
        "rows_revised",
        "rows_unchanged",
        "snapshot_id",
    }
)


def record_runs(
    bind: Engine | Connection,
    rows: Sequence[Mapping[str, object]],
    *,
    close: Sequence[str] = (),
    closed_at: datetime | None = None,
    durable: bool = True,
) -> list[ClosedProblem]:
    """Record finished runs in one insert: each row has job, outcome, started_at and finished_at (naive UTC),
    optionally dataset_id, trigger (default "cli"), error, rows_added/revised/unchanged and snapshot_id.

    With close, the open problems of those alert_state keys are closed (at closed_at, default now) on
    the same connection (on PostgreSQL, for one run, in the same statement); returns the problems
    closed. A Connection given is used as it is (its transaction, if any, is the caller's).

    durable=False, on PostgreSQL for one run: its transaction commits without waiting for the disk
    (synchronous_commit off for that transaction alone). A server crash (not a client's) can then lose the
    last fraction of a second of such records and their all-clears (a problem closed again by the next
    run, its all-clear perhaps sent twice); for runs that loaded nothing, never for observations."""
    values = _run_values(rows)
    if not values and not close:
        return []
    at = closed_at or now_utc()
    with _connection(bind) as conn:
        postgresql = conn.dialect.name == "postgresql"
        if len(values) == 1 and postgresql and (close or not durable):  # one statement, one round trip
            params = _run_params(values[0])
            statement = _RECORD_ONE_AND_CLOSE if durable else _RECORD_ONE_AND_CLOSE_ASYNC
            found = conn.execute(statement, {**params, "keys": list(close), "closed_at": at})
            return closed(found, at)
        if values:
            conn.execute(_INSERT_RUN, values)
        return close_problems(conn, close, at)


def _connection(bind: Engine | Connection) -> AbstractContextManager[Connection]:
    """The connection given, or one of engine's for one-statement work (storage.engine.autocommit)."""
    return nullcontext(bind) if isinstance(bind, Connection) else autocommit(bind)


def one_run_params(
    row: Mapping[str, object], *, fixed: Mapping[str, ColumnElement[Any]] | None = None
) -> dict[str, object]:
    """The parameters run_<column> of one run's insert (run_insert, with the same fixed), every column's
    default filled in."""
    return _run_params({k: v for k, v in _run_values([row])[0].items() if k not in (fixed or {})})


def _run_params(values: Mapping[str, object]) -> dict[str, object]:
    """A run's column values as the parameters run_<column> of the one-run statements."""
    return {f"run_{name}": value for name, value in values.items()}


def _run_values(rows: Sequence[Mapping[str, object]]) -> list[dict[str, object]]:
    """The job_run rows with every column's default filled in; raises ValueError for a malformed row."""
    host, pid = socket.gethostname(), os.getpid()
    values = []
    for row in rows:
        unknown = set(row) - RUN_FIELDS
        if unknown:
            raise ValueError(f"job run: unknown fields {sorted(unknown)}")
        if row.get("outcome") not in OUTCOMES or row["outcome"] == "running":
            raise ValueError(f"job outcome: expected one of {OUTCOMES[1:]}, got {row.get('outcome')!r}")
        values.append(
            {
                "dataset_id": None,
                "trigger": "cli",
                "error": None,
                "rows_added": 0,
                "rows_revised": 0,
                "rows_unchanged": 0,
                "snapshot_id": None,
                **row,
                "host": host,
                "pid": pid,
            }
        )
    return values
