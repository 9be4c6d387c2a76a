"""The health job: alert late sources (all-clear those on time again), catch up pending compute."""

from __future__ import annotations

import time

from kestava.alerts import ON_TIME_AGAIN, alert_late_sources
from schedule.compute_job import run_compute
from schedule.execution import _guarded, _log_job
from schedule.runtime import _today, current_runtime
from storage.alert_state import ClosedProblem
from storage.engine import autocommit, once_more
from storage.jobs import now_utc, record_runs


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
        _log_job("health", "success", time.monotonic() - started, trigger=runtime.trigger)
        run_compute(runtime)
        return "success"

    return _guarded(runtime, "health", body)
