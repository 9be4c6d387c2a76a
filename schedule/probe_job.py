"""The probe job: the weekly live probe; drift is recorded as a failed run and alerted."""

from __future__ import annotations

import logging
import time

from common.secrets import redact
from kestava.alerts import Problem, run_problems
from schedule.execution import _guarded, _log_job
from schedule.runtime import current_runtime
from storage.jobs import finish_run, start_run

log = logging.getLogger("scheduler")


def run_probe_job() -> str:
    """Scheduled job: the weekly live probe; drift is recorded as a failed run and alerted at once."""
    runtime = current_runtime()

    def body() -> str:
        if runtime.offline:  # the probe is live by nature: a replay has nothing to compare
            log.info("probe: not run offline", extra={"job": "probe", "outcome": "skipped"})
            return "skipped"
        started = time.monotonic()
        run_id = start_run(runtime.engine, "probe", trigger=runtime.trigger)
        results = runtime.runners.probe(runtime.catalogue)
        drifted = [r for r in results if r.drift]
        found = "; ".join(
            f"{r.dataset_id}: {check.what}: {check.found}" for r in drifted for check in r.drifts()[:2]
        )
        error = redact(found, runtime.secrets) or None
        outcome = "failed" if drifted else "success"
        finish_run(runtime.engine, run_id, outcome, error=error)
        _log_job("probe", outcome, time.monotonic() - started, trigger=runtime.trigger, error=error)
        if drifted:
            names = ", ".join(r.dataset_id for r in drifted)
            runtime.alerter.problem(
                Problem(
                    "drift",
                    "probe",
                    f"kestava probe found drift in {names} (run `kestava probe` for the table): {error}",
                    job="probe",
                )
            )
        else:
            runtime.alerter.resolve_many(  # and the problems of an earlier crashed or hung probe
                [("drift", "probe"), *run_problems("probe")],
                f"kestava probe: {len(results)} datasets as expected.",
            )
        return outcome

    return _guarded(runtime, "probe", body)
