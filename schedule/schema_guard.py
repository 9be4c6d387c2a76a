"""A database a newer tracker migrated while the scheduler runs: found, recorded nowhere, alerted, stopped.

Read only where it costs a firing nothing: the daily health check reads the schema version first (one
read of alembic_version), and a job's database error reads it once before the failure is recorded and
alerted as an ordinary one. Newer than the schema this code started with (Runtime.schema_head), as a
refused start (schedule.startup): nothing more is written to the database (no job_run, no alert_state),
one line is logged, `schema:newer` alerted without the database (the alerter's unrecorded store: the
scheduler's alert ledger, whose all-clear the first start that succeeds sends), and the scheduler stops as
a signal stops it (the running jobs finish, no other starts), exiting 4 (EXIT_DATABASE_REFUSED).
"""

from __future__ import annotations

import logging
import threading

from common.errors import is_database_error, one_line
from common.secrets import redact
from kestava.alerts import Problem
from schedule.preflight import NEWER_SCHEMA
from schedule.runtime import Runtime
from schedule.shutdown import EXIT_DATABASE_REFUSED
from storage.engine import schema_state

log = logging.getLogger("scheduler")
REFUSED = "refused"  # the outcome of a job that found the database of a newer tracker
_found_lock = threading.Lock()  # one job alerts it, when two find it at once


class NewerSchemaFoundError(Exception):
    """A job found the database of a newer tracker (alerted, the stop requested): raised through its
    recording, neither recorded nor retried, to its guard (schedule.execution._guarded)."""


def check_schema(runtime: Runtime, job: str) -> None:
    """Raise NewerSchemaFoundError when the database's schema is newer than this code's (newer_schema)."""
    if newer_schema(runtime, job):
        raise NewerSchemaFoundError(job)


def check_failure(runtime: Runtime, job: str, error: BaseException) -> None:
    """Before a failure is recorded: a database error raises NewerSchemaFoundError (from error) when the
    schema is newer than this code's (newer_schema); anything else returns at once."""
    if is_database_error(error) and newer_schema(runtime, job, error):
        raise NewerSchemaFoundError(job) from error


def newer_schema(runtime: Runtime, job: str, failure: BaseException | None = None) -> bool:
    """Whether the database's schema is newer than this code's: one read (none once a job found it).
    The first time, one line logged, `schema:newer` alerted and the stop requested (exit 4); failure is
    the database error that made job look. A read that fails says no (the job's failure is then reported
    as ever)."""
    if runtime.newer_schema is not None:
        log.warning(
            "%s: not recorded: the database's schema is newer than this tracker's (the scheduler stops)",
            job,
            extra={"job": job, "outcome": REFUSED},
        )
        return True
    try:
        state = schema_state(runtime.engine, runtime.schema_head)
    except Exception as error:
        log.debug("%s: could not read the schema version: %s", job, redact(one_line(error), runtime.secrets))
        return False
    refusal = state.refusal(runtime.database_url) if state.state == "newer" else None
    if refusal is None:
        return False
    with _found_lock:
        if runtime.newer_schema is not None:
            return True
        runtime.newer_schema = state
    how = f" when it could not use it ({one_line(failure)})" if failure is not None else ""
    message = redact(
        f"the scheduler stops: {refusal}. {job} found it{how}; the scheduler records nothing more there, "
        f"lets the running jobs finish, starts no other and exits (status {EXIT_DATABASE_REFUSED})",
        runtime.secrets,
    )
    log.error("%s", message, extra={"job": job, "outcome": REFUSED})
    runtime.request_stop(EXIT_DATABASE_REFUSED)
    runtime.alerter.problem_unrecorded(Problem(*NEWER_SCHEMA, message))
    return True
