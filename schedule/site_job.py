"""The site job: rebuild the public site after a compute or a report (only the pages whose inputs changed)."""

from __future__ import annotations

import time

from kestava.alerts import check_run
from schedule.execution import _guarded, _lock_or_none, _log_job, _record_busy, _run_recorded
from schedule.runtime import Runtime, current_runtime


def run_site(runtime: Runtime) -> str:
    """Rebuild the site under the `site` lock, recorded as job `site`; a failure is alerted, and the
    previous site stays published (the build is published in one step or not at all)."""
    job = "site"
    started = time.monotonic()
    lock, held, why = _lock_or_none(runtime, job, runtime.busy_wait_s)
    if lock is None or held is None:
        return _record_busy(runtime, job, why or "busy", started)
    with lock:
        outcome, error = _run_recorded(runtime, job, lambda: runtime.runners.site(runtime.engine, lock=held))
    _log_job(job, outcome, time.monotonic() - started, trigger=runtime.trigger, error=error)
    check_run(runtime.alerter, job, outcome, error)
    return outcome


def run_site_job() -> str:
    """Scheduled job: rebuild the site (used to catch up a rebuild a stop lost)."""
    runtime = current_runtime()
    return _guarded(runtime, "site", lambda: run_site(runtime))
