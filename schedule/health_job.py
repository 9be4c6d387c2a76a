"""The health job: alert late sources (all-clear those on time again), catch up pending compute."""

from __future__ import annotations

import time

from kestava.alerts import check_freshness
from schedule.compute_job import run_compute
from schedule.execution import _guarded, _log_job
from schedule.runtime import _today, current_runtime
from storage.jobs import finish_run, start_run


def run_health_job() -> str:
    """Scheduled job: alert late sources (all-clear those on time again) and catch up pending compute."""
    runtime = current_runtime()

    def body() -> str:
        started = time.monotonic()
        run_id = start_run(runtime.engine, "health", trigger=runtime.trigger)
        check_freshness(runtime.alerter, runtime.catalogue, _today())
        finish_run(runtime.engine, run_id, "success")
        _log_job("health", "success", time.monotonic() - started, trigger=runtime.trigger)
        run_compute(runtime)
        return "success"

    return _guarded(runtime, "health", body)
