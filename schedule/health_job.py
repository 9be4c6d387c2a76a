"""The health job: alert late sources (all-clear those on time again), catch up pending compute."""

from __future__ import annotations

import logging
import time

from ingest.catalogue import Catalogue
from kestava.alerts import ON_TIME_AGAIN, Alerter, alert_late_sources
from kestava.status import retired_job
from schedule.compute_job import run_compute
from schedule.execution import _guarded, _log_job
from schedule.runtime import _today, current_runtime
from storage.alert_state import ClosedProblem
from storage.engine import autocommit, once_more
from storage.jobs import now_utc, record_runs

log = logging.getLogger("scheduler")
NO_LONGER_SCHEDULED = "It is no longer in the catalogue, so it no longer runs."
_DATASET_KINDS = ("rejected", "late")  # problems whose subject is a dataset (the others name a job)


def close_retired(alerter: Alerter, catalogue: Catalogue) -> int:
    """All-clear the open problems of jobs and datasets the catalogue no longer defines (e.g. a failing
    ingest of an opt-in dataset switched off again): no run of theirs will ever close them. How many
    all-clears went out; never raises."""
    try:
        retired = []
        for key in alerter.open_problems():
            kind, _, subject = key.partition(":")
            gone = (
                subject not in catalogue.datasets
                if kind in _DATASET_KINDS
                else retired_job(subject, catalogue)
            )
            if gone:
                retired.append((kind, subject))
    except Exception as error:
        log.warning("alert state: could not read the open problems: %s", type(error).__name__)
        return 0
    return alerter.resolve_many(retired, NO_LONGER_SCHEDULED)


def run_health_job() -> str:
    """Scheduled job: alert late sources (all-clear those on time again) and catch up pending compute."""
    runtime = current_runtime()

    def body() -> str:
        started, started_at = time.monotonic(), now_utc()
        on_time = alert_late_sources(runtime.alerter, runtime.catalogue, _today())  # never raises
        # the check is short (one read, the alerts): its run is recorded once, when it ends, in one write
        # (no 'running' record first) that closes the problems of the sources on time again (on
        # PostgreSQL one statement); a process killed during it leaves no record of it. Its connection is
        # not pinged first: the write runs once more when the server had dropped it (a restart)
        run = {"job": "health", "trigger": runtime.trigger, "started_at": started_at, "outcome": "success"}
        keys, closed_at = [f"{kind}:{subject}" for kind, subject in on_time], runtime.alerter.now()

        def record() -> list[ClosedProblem]:
            with autocommit(runtime.engine, ping=False) as conn:
                return record_runs(conn, [{**run, "finished_at": now_utc()}], close=keys, closed_at=closed_at)

        runtime.alerter.all_clears(once_more(record), ON_TIME_AGAIN)
        close_retired(runtime.alerter, runtime.catalogue)
        _log_job("health", "success", time.monotonic() - started, trigger=runtime.trigger)
        run_compute(runtime)
        return "success"

    return _guarded(runtime, "health", body)
