"""The report:weekly and report:half jobs (each after any pending compute)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date

from kestava.alerts import check_run
from schedule.compute_job import run_compute
from schedule.execution import _guarded, _lock_or_none, _log_job, _record_busy, _run_recorded
from schedule.jobs import ALL_LANGS
from schedule.runtime import Runtime, _today, current_runtime
from schedule.site_job import run_site
from storage.locks import HeldLock

log = logging.getLogger("scheduler")


def prune_old_reports() -> None:
    """After a weekly report: the weekly reports older than KESTAVA_REPORT_KEEP_WEEKS keep their page and
    CSVs only (report.retention), logged in one line; a failure is logged, the report's run stays good (the
    next week's job tries again)."""
    from report.retention import prune_configured_reports

    result = prune_configured_reports(today=_today())  # never the report's failure: it was published
    line = result.summary()
    if line is not None:
        level = logging.WARNING if result.failed or result.skipped else logging.INFO
        log.log(level, line, extra={"job": "report:weekly"})


def _run_report(
    runtime: Runtime, job: str, work: Callable[[HeldLock], object], *, prune: bool = False
) -> str:
    def body() -> str:
        started = time.monotonic()
        run_compute(runtime, site=False)  # the report reflects every change loaded so far
        lock, held, why = _lock_or_none(runtime, job, 0.0)
        if lock is None or held is None:
            return _record_busy(runtime, job, why or "busy", started)
        with lock:
            outcome, error = _run_recorded(runtime, job, lambda: work(held))
            if prune and outcome == "success":
                prune_old_reports()  # under the report's lock, before the site links the archive
        _log_job(job, outcome, time.monotonic() - started, trigger=runtime.trigger, error=error)
        check_run(runtime.alerter, job, outcome, error)
        if outcome == "success":
            run_site(runtime)  # the site's reports archive and home page link the new report
        return outcome

    return _guarded(runtime, job, body)


def run_weekly_report_job(lang: str = ALL_LANGS) -> str:
    """Scheduled job: the weekly report (after any pending compute)."""
    runtime = current_runtime()
    return _run_report(
        runtime,
        "report:weekly",
        lambda held: runtime.runners.weekly_report(runtime.engine, lang, lock=held),
        prune=True,
    )


def previous_half(today: date) -> str:
    """The half year before the one today falls in: 2026-H2 in January 2027, 2027-H1 in July 2027."""
    return f"{today.year - 1}-H2" if today.month <= 6 else f"{today.year}-H1"


def run_half_year_report_job(lang: str = ALL_LANGS) -> str:
    """Scheduled job: the half-yearly council report for the previous half year."""
    runtime = current_runtime()
    half = previous_half(_today())
    return _run_report(
        runtime,
        "report:half",
        lambda held: runtime.runners.half_year_report(runtime.engine, half, lang, lock=held),
    )
