"""The alert_state table's all-clear: close open problems in one statement, on the caller's connection."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Select,
    String,
    Update,
    any_,
    bindparam,
    select,
    update,
)

from storage import schema

_state = schema.alert_state


def _close_problems(keys: ColumnElement[bool]) -> Update:
    """Close the open problems whose keys match (parameter closed_at), returning each one closed."""
    return (
        update(_state)
        .where(keys, _state.c.resolved_at.is_(None))
        .values(resolved_at=bindparam("closed_at"))
        .returning(_state.c.problem_key, _state.c.first_seen, _state.c.last_sent)
    )


# built once: a statement made per call costs more Python than the database takes to run it (keys: a list)
CLOSE_PROBLEMS: Update = _close_problems(_state.c.problem_key.in_(bindparam("keys", expanding=True)))
# the same with the keys as one array (= ANY): PostgreSQL, for a statement written out once, whatever the
# number of keys (storage.engine.driver_rows)
CLOSE_PROBLEMS_ANY: Update = _close_problems(
    _state.c.problem_key == any_(bindparam("keys", type_=ARRAY(String)))
)


# built once (the daily health check reads it): the keys of the problems not yet resolved, in key order
OPEN_PROBLEMS: Select[tuple[str]] = (
    select(_state.c.problem_key).where(_state.c.resolved_at.is_(None)).order_by(_state.c.problem_key)
)


@dataclass(frozen=True)
class AllClear:
    """The open problems (keys) a dataset's 'unchanged' run closes with its record (ingest.run), and when."""

    keys: Callable[[str], Sequence[str]]  # dataset id -> problem keys
    clock: Callable[[], datetime]  # naive UTC


@dataclass(frozen=True)
class ClosedProblem:
    """A problem an all-clear closed: its key, when it was first seen and last alerted, when it was closed."""

    key: str
    first_seen: datetime
    last_sent: datetime | None  # None: never alerted, so no all-clear is owed
    closed_at: datetime


def close_problems(conn: Connection, keys: Sequence[str], closed_at: datetime) -> list[ClosedProblem]:
    """Close those of the problems (kind:subject keys) still open; nothing open means nothing written."""
    if not keys:
        return []
    return closed(conn.execute(CLOSE_PROBLEMS, {"keys": list(keys), "closed_at": closed_at}), closed_at)


def closed(rows: Iterable[Any], closed_at: datetime) -> list[ClosedProblem]:
    """The ClosedProblems of rows of (problem_key, first_seen, last_sent), as CLOSE_PROBLEMS returns them."""
    return [ClosedProblem(str(key), first, last, closed_at) for key, first, last in rows]


def open_problem_keys(conn: Connection) -> list[str]:
    """The keys of the problems not yet resolved, in key order (one read, on the caller's connection)."""
    return [str(key) for key in conn.execute(OPEN_PROBLEMS).scalars()]
