"""The health job: alert late sources (all-clear those on time again), catch up pending compute."""

from __future__ import annotations

import time

from kestava.alerts import check_freshness
from schedule.compute_job import run_compute
from schedule.execution import _guarded, _log_job
from schedule.runtime import _today, current_runtime
from storage.jobs import now_utc, record_runs


def run_health_job() -> str:
    """Scheduled job: alert late sources (all-clear those on time again) and catch up pending compute."""
    runtime = current_runtime()

    def body() -> str:
        started, started_at = time.monotonic(), now_utc()
        check_freshness(runtime.alerter, runtime.catalogue, _today())  # never raises: alerts what fails
        # the check is short (one read, the alerts): its run is recorded once, when it ends, in one write
        # (no 'running' record first); a process killed during it leaves no record of it
        run = {"job": "health", "trigger": runtime.trigger, "started_at": started_at, "outcome": "success"}
        record_runs(runtime.engine, [{**run, "finished_at": now_utc()}])
        _log_job("health", "success", time.monotonic() - started, trigger=runtime.trigger)
        run_compute(runtime)
        return "success"

    return _guarded(runtime, "health", body)
