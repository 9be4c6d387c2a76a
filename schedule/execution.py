"""How a job body runs: guarded against crashes, retried, logged, under its lock, recorded in job_run."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_when_event_set,
    wait_exponential,
)

from common.errors import NothingToReportError, is_database_error, one_line
from common.secrets import redact
from kestava.alerts import RETRY_TRIGGER, Problem, check_run
from schedule.runtime import Runtime, _in_flight, _skip
from schedule.schema_guard import REFUSED, NewerSchemaFoundError, check_failure, newer_schema
from storage.jobs import finish_run, start_run
from storage.locks import BusyError, HeldLock, LockLostError, job_lock

log = logging.getLogger("scheduler")


def _log_job(
    job: str,
    outcome: str,
    seconds: float,
    *,
    trigger: str,
    dataset: str | None = None,
    rows_added: int = 0,
    rows_revised: int = 0,
    rows_confirmed: int = 0,
    rows_reflagged: int = 0,
    error: str | None = None,
) -> None:
    level = logging.ERROR if outcome in ("failed", "rejected") else logging.INFO
    log.log(
        level,
        "%s: %s in %.2f s%s",
        job,
        outcome,
        seconds,
        f": {error}" if error else "",
        extra={
            "job": job,
            "dataset": dataset,
            "duration_s": round(seconds, 3),
            "rows_added": rows_added,
            "rows_revised": rows_revised,
            "rows_confirmed": rows_confirmed,
            "rows_reflagged": rows_reflagged,
            "outcome": outcome,
            "trigger": trigger,
        },
    )


def _retrying(runtime: Runtime, job: str, **options: Any) -> Retrying:
    """3 attempts (default) with exponential backoff, the waits cut short when the scheduler stops."""

    def before_sleep(state: RetryCallState) -> None:
        assert state.next_action is not None
        failed = state.outcome.exception() if state.outcome is not None else None
        log.warning(
            "%s: attempt %d of %d did not succeed%s; retrying in %.1f s",
            job,
            state.attempt_number,
            runtime.retry_attempts,
            f" ({why(failed, runtime.secrets)})" if failed is not None else "",
            state.next_action.sleep,
            extra={"job": job, "outcome": "retry"},
        )

    return Retrying(
        stop=stop_after_attempt(runtime.retry_attempts) | stop_when_event_set(runtime.stop),
        wait=wait_exponential(multiplier=runtime.retry_wait_s, min=runtime.retry_wait_s),
        sleep=lambda seconds: _pause(runtime, seconds),
        before_sleep=before_sleep,
        **options,
    )


def _pause(runtime: Runtime, seconds: float) -> None:
    """Sleep, but wake up when the scheduler is told to stop."""
    runtime.stop.wait(seconds)


def why(error: BaseException, secrets: Sequence[str]) -> str:
    """An error in one line, secrets masked: a database error as its driver's first line (common.errors.
    one_line), without SQLAlchemy's statement, parameters and link; anything else as "Type: message"."""
    text = one_line(error) if is_database_error(error) else f"{type(error).__name__}: {error}"
    return redact(text, secrets)


def _guarded(runtime: Runtime, job: str, body: Callable[[], str], dataset: str | None = None) -> str:
    """Run a job's body unless the scheduler is stopping; anything it raises is logged and alerted: a
    database error in one line saying the job could not use the database (its traceback with --verbose),
    unless the database turns out migrated by a newer tracker (schedule.schema_guard: 'refused', nothing
    recorded), anything else as a crash with its traceback."""
    if runtime.stop.is_set():
        return _skip(job)
    with _in_flight(job):
        try:
            return body()
        except NewerSchemaFoundError:  # alerted, the stop requested: nothing more to record
            return REFUSED
        except Exception as error:  # e.g. the database is unreachable: never take the scheduler down
            if is_database_error(error) and newer_schema(runtime, job, error):
                return REFUSED
            message = why(error, runtime.secrets)
            extra = {"job": job, "dataset": dataset, "outcome": "failed"}
            if is_database_error(error):
                log.error("%s: could not use the database: %s", job, message, extra=extra)
                log.debug("the database error's traceback", exc_info=error)
                text = f"{job} could not use the database: {message}"
            else:
                log.exception("%s: crashed: %s", job, message, extra=extra)
                text = f"{job} crashed: {message}"
            runtime.alerter.problem(Problem("failing", job, text, dataset=dataset, job=job))
            return "failed"


def _lock_or_none(
    runtime: Runtime, name: str, wait_s: float
) -> tuple[ExitStack, HeldLock, None] | tuple[None, None, str]:
    """Take the job lock, waiting up to wait_s while another run holds it: (the stack that releases it, the
    HeldLock the job's writer checks before it commits, None), or (None, None, why) when still busy."""
    deadline = time.monotonic() + wait_s
    delay = 1.0
    while True:
        stack = ExitStack()
        try:
            held = stack.enter_context(job_lock(runtime.engine, name, lease=runtime.lock_lease))
        except BusyError as busy:
            stack.close()
            left = deadline - time.monotonic()
            if left <= 0 or runtime.stop.is_set():
                return None, None, str(busy)
            runtime.stop.wait(min(delay, left))
            delay = min(delay * 2, 30.0)
        else:
            return stack, held, None


def _record_busy(runtime: Runtime, job: str, why: str, started: float) -> str:
    """Record a run that found its lock held by another run (alerted as blocked when that lasts)."""
    run_id = start_run(runtime.engine, job, trigger=runtime.trigger)
    finish_run(runtime.engine, run_id, "busy", error=why)
    _log_job(job, "busy", time.monotonic() - started, trigger=runtime.trigger, error=why)
    check_run(runtime.alerter, job, "busy", why, busy_limit_min=runtime.job_time_limit_s / 60)
    return "busy"


# what an attempt of _run_recorded raises that is not tried again
_NOT_RETRIED = (ImportError, LockLostError, NothingToReportError, NewerSchemaFoundError)


def _run_recorded(runtime: Runtime, job: str, work: Callable[[], object]) -> tuple[str, str | None]:
    """Run work with retries, each attempt recorded in job_run; (outcome, error). Call under the lock.
    Work that finds nothing to report (NothingToReportError: a report's period without data) wrote
    nothing: its run is recorded 'unchanged' with the reason, not retried; ('unchanged', the reason).
    An attempt's database error on the schema of a newer tracker is not recorded, nor retried: it raises
    NewerSchemaFoundError (schedule.schema_guard)."""
    attempts = 0

    def attempt() -> None:
        nonlocal attempts
        attempts += 1
        run_id = start_run(runtime.engine, job, trigger=runtime.trigger if attempts == 1 else RETRY_TRIGGER)
        try:
            work()
        except NewerSchemaFoundError:
            raise
        except NothingToReportError as nothing:
            finish_run(runtime.engine, run_id, "unchanged", error=redact(str(nothing), runtime.secrets))
            raise
        except Exception as error:
            check_failure(runtime, job, error)  # (the schema of a newer tracker: nothing more recorded)
            message = why(error, runtime.secrets)
            finish_run(runtime.engine, run_id, "failed", error=message)
            log.error(
                "%s: attempt %d failed: %s", job, attempts, message, extra={"job": job, "outcome": "failed"}
            )
            raise
        finish_run(runtime.engine, run_id, "success")

    retrying = _retrying(
        runtime,
        job,
        # a lost lock is not tried again: the next attempt would write without it; nor is a period without
        # data: no attempt brings data fetched before its end; nor is a newer tracker's schema (it stops)
        retry=retry_if_exception(lambda e: not isinstance(e, _NOT_RETRIED)),
        reraise=True,
    )
    try:
        retrying(attempt)
    except NewerSchemaFoundError:
        raise
    except NothingToReportError as nothing:
        return "unchanged", redact(str(nothing), runtime.secrets)
    except Exception as error:
        return "failed", why(error, runtime.secrets)
    return "success", None
