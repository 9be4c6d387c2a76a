"""The compute job: recompute what the changed datasets affect, under the compute lock."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from sqlalchemy import ColumnElement, Engine, and_, exists, func, or_, select

from common.secrets import redact
from kestava.alerts import Problem, check_run
from schedule.execution import _guarded, _lock_or_none, _log_job, _record_busy, _run_recorded
from schedule.runtime import Runtime, current_runtime
from schedule.site_job import run_site
from storage import schema
from storage.engine import autocommit, once_more
from storage.locks import HeldLock
from storage.newest_runs import dataset_ids

_run = schema.job_run
# built once (the health check asks every day): the datasets changed by an ingest that finished after the
# last successful compute started (every such dataset when no compute has succeeded yet), in one statement
_LAST_COMPUTE = (
    select(func.max(_run.c.started_at))
    .where(_run.c.job == "compute", _run.c.outcome == "success")
    .scalar_subquery()
)
_changed = dataset_ids("changed")


def _changed_since_last_compute(late: bool) -> ColumnElement[bool]:
    """Whether the walk's dataset had a successful ingest that changed data and finished after the last
    successful compute started (late), or had one at all (not late: when no compute has succeeded)."""
    run = _run.alias("changed_run")
    return exists().where(
        run.c.dataset_id == _changed.c.dataset_id,
        run.c.outcome == "success",
        # (dataset_id, outcome, finished_at): a range of its index from the last compute on
        *([run.c.finished_at >= _LAST_COMPUTE] if late else []),
        run.c.job.like("ingest:%"),
        # a flag alone changed (confirmed, reflagged) changes the indicators' flags (provisional)
        (
            run.c.rows_added
            + run.c.rows_revised
            + run.c.rows_withdrawn
            + run.c.rows_confirmed
            + run.c.rows_reflagged
        )
        > 0,
    )


# dataset by dataset (storage.newest_runs.dataset_ids), each one index range: not every run ever recorded
_PENDING = select(_changed.c.dataset_id).where(
    _changed.c.dataset_id.is_not(None),
    or_(
        and_(_LAST_COMPUTE.is_(None), _changed_since_last_compute(late=False)),
        _changed_since_last_compute(late=True),
    ),
)

log = logging.getLogger("scheduler")


def pending_datasets(engine: Engine) -> list[str]:
    """Datasets changed by an ingest that finished after the last successful compute started (one read, its
    connection not pinged first; once more when the server had dropped it)."""

    def read() -> list[str]:
        with autocommit(engine, ping=False) as conn:
            return sorted(conn.execute(_PENDING).scalars())

    return once_more(read)


def _compute(runtime: Runtime, datasets: Sequence[str], lock: HeldLock) -> None:
    """The compute runner. Indicators it could not compute are logged and alerted (kind "indicators");
    the run itself succeeded, and the others were stored. A compute with none failing gives the all-clear
    (a failed indicator is retried by every compute until it succeeds)."""
    summary = runtime.runners.compute(runtime.engine, datasets, lock=lock)
    errors = getattr(summary, "errors", None)
    if isinstance(errors, dict) and errors:
        listed = redact(
            "; ".join(f"{name}: {text}" for name, text in sorted(errors.items())[:10]), runtime.secrets
        )
        log.warning(
            "compute: %d indicator(s) not computed: %s",
            len(errors),
            listed,
            extra={"job": "compute", "outcome": "partial"},
        )
        message = (
            f"{len(errors)} indicator(s) could not be computed; their previous values stay in place "
            f"(kestava status lists them): {listed}"
        )
        runtime.alerter.problem(Problem("indicators", "compute", message, job="compute"))
    else:
        runtime.alerter.resolve_many([("indicators", "compute")], "every indicator computed again.")


def run_compute(runtime: Runtime, *, wait_s: float | None = None, site: bool = True) -> str:
    """Recompute what the pending changed datasets affect, under the `compute` lock; 'unchanged' if none.
    Then the site is rebuilt, unless `site` is False (a report job rebuilds it once, after the report)."""
    if not pending_datasets(runtime.engine):
        return "unchanged"
    job = "compute"
    started = time.monotonic()
    lock, held, why = _lock_or_none(runtime, job, runtime.busy_wait_s if wait_s is None else wait_s)
    if lock is None or held is None:
        return _record_busy(runtime, job, why or "busy", started)
    with lock:
        datasets = pending_datasets(runtime.engine)  # again, now that no other compute runs
        if not datasets:
            return "unchanged"
        outcome, error = _run_recorded(runtime, job, lambda: _compute(runtime, datasets, held))
    _log_job(job, outcome, time.monotonic() - started, trigger=runtime.trigger, error=error)
    log.info("compute covered %s", ", ".join(datasets), extra={"job": job, "outcome": outcome})
    check_run(runtime.alerter, job, outcome, error)
    if outcome == "success" and site:
        run_site(runtime)  # the public site follows every compute
    return outcome


def run_compute_job() -> str:
    """Scheduled job: compute whatever is pending (used to catch up after a restart)."""
    runtime = current_runtime()
    return _guarded(runtime, "compute", lambda: run_compute(runtime))
