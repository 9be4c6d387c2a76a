"""The ingest:<dataset> job: one dataset with retries, its alerts, then compute if data changed."""

from __future__ import annotations

import logging
import time

from tenacity import (
    retry_if_exception,
    retry_if_result,
)

from common.secrets import redact
from ingest.run import DatasetOutcome
from kestava.alerts import RETRY_TRIGGER, Problem, check_freshness, check_run
from schedule.compute_job import run_compute
from schedule.execution import _guarded, _log_job, _retrying
from schedule.preflight import MIXED_DATA
from schedule.runtime import Runtime, _today, current_runtime
from schedule.schema_guard import NewerSchemaFoundError, check_failure

log = logging.getLogger("scheduler")


def run_ingest_job(dataset_id: str) -> str:
    """Scheduled job: ingest one dataset (retrying failures), alert, then compute if data changed."""
    runtime = current_runtime()
    return _guarded(runtime, f"ingest:{dataset_id}", lambda: _ingest_job(runtime, dataset_id), dataset_id)


def _ingest_job(runtime: Runtime, dataset_id: str) -> str:
    job = f"ingest:{dataset_id}"
    started = time.monotonic()
    outcome = _ingest_with_retries(runtime, dataset_id)
    result = outcome.result
    added, revised = (result.added, result.revised) if result else (0, 0)
    withdrawn = result.withdrawn if result else 0
    confirmed, reflagged = (result.confirmed, result.reflagged) if result else (0, 0)
    _log_job(
        job,
        outcome.outcome,
        time.monotonic() - started,
        trigger=runtime.trigger,
        dataset=dataset_id,
        rows_added=added,
        rows_revised=revised,
        rows_confirmed=confirmed,
        rows_reflagged=reflagged,
        error=redact(outcome.error, runtime.secrets) if outcome.error else None,
    )
    if outcome.mixing is not None:  # the database's problem, not the dataset's: one alert for all
        runtime.alerter.problem(Problem(*MIXED_DATA, redact(str(outcome.mixing), runtime.secrets)))
    else:
        check_run(
            runtime.alerter,
            job,
            outcome.outcome,
            outcome.error,
            dataset=dataset_id,
            cleared=outcome.cleared,
            busy_limit_min=runtime.job_time_limit_s / 60,
        )
    if outcome.outcome == "success" and added + revised + withdrawn + confirmed + reflagged > 0:
        check_freshness(runtime.alerter, runtime.catalogue, _today(), [dataset_id])
        if runtime.stop.is_set():
            log.info("compute left pending: the scheduler is stopping", extra={"job": "compute"})
        elif runtime.chain_compute:
            run_compute(runtime)
    return outcome.outcome


def _failed(outcome: object) -> bool:
    """Whether an ingest attempt's outcome is retried: a failure, unless of a load refused because the
    database holds the other kind of data (demo or live), which no retry changes."""
    return isinstance(outcome, DatasetOutcome) and outcome.outcome == "failed" and outcome.mixing is None


def _retried(error: BaseException) -> bool:
    """Whether an exception an ingest attempt raised is retried (not on a newer tracker's schema)."""
    return not isinstance(error, ImportError | NewerSchemaFoundError)


def _ingest_with_retries(runtime: Runtime, dataset_id: str) -> DatasetOutcome:
    """Up to retry_attempts ingests while it fails or raises (never for 'rejected' or 'busy', nor for a
    load refused for mixing demo and live data).

    The first attempt runs on its own: an outcome that is not retried (every unchanged firing) is returned
    as the retrying would return it, without building it. Otherwise the retrying takes over with that
    attempt replayed as its first (its outcome returned, or its exception raised, again), so that its
    stop, waits, logs and error callback are as if it had made that attempt itself.

    An attempt failing with a database error (raised, or the outcome's database_error) on the schema of
    a newer tracker raises NewerSchemaFoundError: not retried, nothing more recorded or alerted."""
    attempts = 0
    job = f"ingest:{dataset_id}"

    def attempt() -> DatasetOutcome:
        nonlocal attempts
        attempts += 1
        trigger = runtime.trigger if attempts == 1 else RETRY_TRIGGER
        try:
            outcome = runtime.runners.ingest(runtime, dataset_id, trigger)
        except Exception as error:
            check_failure(runtime, job, error)
            raise
        if outcome.database_error is not None:
            check_failure(runtime, job, outcome.database_error)
        return outcome

    first: DatasetOutcome | None = None
    raised: BaseException | None = None
    try:
        first = attempt()
    except BaseException as error:  # (as the retrying catches them)
        if not _retried(error):
            raise
        raised = error
    else:
        if not _failed(first):
            return first
    replayed = False

    def again() -> DatasetOutcome:
        nonlocal replayed
        if replayed:
            return attempt()
        replayed = True
        if raised is not None:
            raise raised
        assert first is not None  # (it returned, or it raised)
        return first

    retrying = _retrying(
        runtime,
        job,
        retry=retry_if_result(_failed) | retry_if_exception(_retried),
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
    )
    outcome: DatasetOutcome = retrying(again)
    return outcome
