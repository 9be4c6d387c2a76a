"""Runs lost at a stop, due again at the next start (once), however the scheduler stopped.

APScheduler moves a job's next run time on as soon as it submits the job to the pool, before the job
starts. A stop (a graceful one past its grace period, a forced one, SIGKILL, a power cut) therefore leaves
in the job store, for the runs it cut short or that were queued and never started, a next run time as if
they had run. What did run is durable in job_run (each run is recorded when it starts, or, for the runs
recorded in one write, with the time it started), so at start a job whose schedule is unchanged is made
due now when:

- its last run was interrupted (closed "interrupted: …" by reap_orphans or by a forced stop);
- it was due (its trigger fired) since its last run began, yet the store's next run time is later: it
  was queued and moved on, but never began;
- it is a job that starts at once when new (start_now: an ingest that never ran) and has never run.

The site has no schedule of its own: it is rebuilt after each of the scheduler's successful computes and
reports. It is due at start (lost_site, run by serve and --once) when its last run was interrupted, or
when such a compute or report finished after the last site run began (the stop came before the rebuild).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, Select, select

from common.helsinki import HELSINKI
from schedule.jobs import JobSpec
from schedule.jobstore import JobStore
from storage import schema
from storage.newest_runs import latest_starts, newest_run_ids

log = logging.getLogger("scheduler")
INTERRUPTED = "interrupted:"  # the start of the error of a run closed as interrupted (storage.orphans)
SITE = "site"  # the site job (schedule.site_job)
_SITE_FOLLOWS = ("compute", "report:weekly", "report:half")  # the scheduler rebuilds the site after these
_KEPT = ("kept", "updated")  # what sync_jobs did to a job whose trigger (and stored next run) it kept


@dataclass(frozen=True)
class LastRun:
    """A job's last recorded run: its outcome and error, and when the latest of its runs began (aware UTC)."""

    outcome: str
    error: str | None
    began: datetime


def last_runs(engine: Engine) -> dict[str, LastRun]:
    """Every job's last run (the latest recorded), with the latest start of any of its runs: each job's
    newest run found by the walk of storage.newest_runs (one index probe per job), its latest start by a
    probe per outcome (latest_starts), not a read of every run ever recorded (run at every start)."""
    with engine.connect() as conn:
        return {
            row[0]: LastRun(row[1], row[2], max(s for s in row[3:] if s is not None).replace(tzinfo=UTC))
            for row in conn.execute(_LAST_RUNS)
        }


_last = newest_run_ids("last_runs")
_LAST_RUNS = select(
    schema.job_run.c.job,
    schema.job_run.c.outcome,
    schema.job_run.c.error,
    *latest_starts(schema.job_run.c.job, "began"),
).where(schema.job_run.c.id.in_(select(_last.c.id)))


def _interrupted(last: LastRun) -> str | None:
    if last.outcome == "failed" and (last.error or "").startswith(INTERRUPTED):
        return f"its last run was interrupted ({last.error})"
    return None


def lost_run(spec: JobSpec, next_run: datetime, last: LastRun | None, now: datetime) -> str | None:
    """Why the job, stored to run next at next_run (later than now), must run now; None: it need not."""
    if last is None:
        return None
    if interrupted := _interrupted(last):
        return interrupted
    if last.outcome == "running":  # still running in another process (or one reap_orphans cannot judge)
        return None
    # the trigger's first fire after the last run began (a run begins after its fire time, here by 1 s at
    # least: a fire time is a whole second): before the stored next run, it was submitted but never began
    fired = spec.trigger.get_next_fire_time(None, last.began + timedelta(seconds=1))
    if fired is not None and fired < next_run and fired <= now:
        return f"it fell due at {fired:%Y-%m-%d %H:%M %Z} but never began (queued when the scheduler stopped)"
    return None


def catch_up(
    engine: Engine,
    store: JobStore,
    specs: Sequence[JobSpec],
    now: datetime,
    synced: Mapping[str, str],
    *,
    start_now: Callable[[JobSpec], bool],
) -> dict[str, str]:
    """Make due now, in store, the jobs whose runs a stop lost (synced: what sync_jobs did, by job id);
    each is logged (a warning) with why; returns job id -> why."""
    stored = store.jobs()
    last = last_runs(engine)
    due: dict[str, str] = {}
    for spec in specs:
        job = stored.get(spec.id)
        if synced.get(spec.id) not in _KEPT or job is None or job.next_run_time is None:
            continue
        if job.next_run_time <= now:  # due anyway
            continue
        why = lost_run(spec, job.next_run_time, last.get(spec.id), now)
        if why is None and spec.id not in last and start_now(spec):
            why = "it has never run"
        if why is None:
            continue
        store.put(spec, now)
        due[spec.id] = why
        log.warning("%s: runs now (once): %s", spec.id, why, extra={"job": spec.id, "outcome": "catch-up"})
    return due


def lost_site(engine: Engine) -> str | None:
    """Why the site must be rebuilt now (its rebuild lost by a stop); None: it need not. Not for a
    compute or report of a person's command (trigger cli), which does not rebuild the site."""
    site = last_runs(engine).get(SITE)
    if site is not None:
        if interrupted := _interrupted(site):
            return interrupted
        if site.outcome == "running":  # still running in another process
            return None
    with engine.connect() as conn:
        latest = conn.execute(_SITE_FOLLOWED).first()
    if latest is None:
        return None
    finished = latest.finished_at.replace(tzinfo=UTC)
    if site is not None and finished <= site.began:
        return None
    return (
        f"the {latest.job} that finished at {finished.astimezone(HELSINKI):%Y-%m-%d %H:%M %Z} was not "
        "followed by a site rebuild (the scheduler stopped before it began)"
    )


def _site_followed() -> Select[tuple[str, datetime]]:
    """The newest end of a successful run of the scheduler's (not a person's: trigger cli) of the jobs the
    site follows, and its job: of each job its newest such run by its start, one probe of
    ix_job_run_job_outcome_started_at read back from the job's newest success past any of a person's (its
    rows read for the trigger), then the latest end of those (at most three). A job's runs never overlap
    (each holds its job's lock; one that lost it records no success), so a job's newest start is its newest
    end: the answer `… ORDER BY finished_at DESC LIMIT 1` gave, which read every success the three jobs ever
    had and sorted them (no index has a job's runs by their end). A success without an end (none is
    recorded so) is passed over."""
    run = schema.job_run
    newest = []
    for job in _SITE_FOLLOWS:
        mine = run.alias(f"site_follows_{job.replace(':', '_')}")
        newest.append(
            select(mine.c.id)
            .where(
                mine.c.job == job,
                mine.c.outcome == "success",
                mine.c.trigger != "cli",
                mine.c.finished_at.is_not(None),
            )
            .order_by(mine.c.started_at.desc())
            .limit(1)
            .scalar_subquery()
        )
    return (
        select(run.c.job, run.c.finished_at)
        .where(run.c.id.in_(newest))
        .order_by(run.c.finished_at.desc())
        .limit(1)
    )


_SITE_FOLLOWED = _site_followed()


def catch_up_site(engine: Engine) -> str | None:
    """lost_site, logged (a warning, as catch_up logs the jobs it makes due) when the site is due."""
    why = lost_site(engine)
    if why is not None:
        log.warning("%s: runs now (once): %s", SITE, why, extra={"job": SITE, "outcome": "catch-up"})
    return why
