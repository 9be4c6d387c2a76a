"""Runs a stop lost (interrupted, or queued and never begun) run once at the next start, however the
scheduler stopped: graceful, forced after the grace period, or killed."""

from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

import scheduler
from ingest.catalogue import parse_catalogue
from schedule.catchup import INTERRUPTED
from scheduler import HELSINKI
from storage import schema
from storage.jobs import finish_run, start_run
from tests.test_scheduler import (
    Rig,
    Work,
    catalogue_dict,
    dataset_toml,
    dead_pid,
    job_runs,
    make_runtime,
    rig,  # noqa: F401 (the fixture)
    runs,
    store_times,
    wait_for,
)

CADENCES = {"a": "0 5 * * *", "b": "0 6 * * *", "c": "0 7 * * *", "d": "0 8 * * *"}


@pytest.fixture(autouse=True)
def _forget_runtime() -> Iterator[None]:
    yield
    scheduler.set_runtime(None)


def _ran(
    engine: Engine, job: str, began: datetime, outcome: str = "success", error: str | None = None
) -> None:
    """A finished run of job that began at began (aware)."""
    naive = began.astimezone(UTC).replace(tzinfo=None)
    run_id = start_run(engine, job, trigger="scheduler", started_at=naive)
    finish_run(engine, run_id, outcome, error=error)


def _killed(engine: Engine, job: str, began: datetime) -> None:
    """A run of job left 'running' by a process that was killed (reap_orphans closes it at start)."""
    with engine.begin() as conn:
        conn.execute(
            schema.job_run.insert().values(
                job=job,
                trigger="scheduler",
                started_at=began.astimezone(UTC).replace(tzinfo=None),
                outcome="running",
                host=socket.gethostname(),
                pid=dead_pid(),
            )
        )


def _left_by_a_stop(engine: Engine, db_url: str) -> list[scheduler.JobSpec]:
    """The job store and job_run as a stop left them: every next run time moved on by APScheduler.

    a: fell due two days ago and was queued, never began; b: ran after its last fire time (nothing lost);
    c: killed mid-run; d: never ran (an ingest: starts at once); report:weekly: abandoned by a forced stop
    mid-publication (fi and sv published, en not)."""
    cat = parse_catalogue(catalogue_dict(CADENCES))
    specs = scheduler.catalogue_jobs(cat)
    now = datetime.now(HELSINKI)
    by_id = {s.id: s for s in specs}
    store = scheduler.JobStore(db_url)
    try:
        scheduler.sync_jobs(store, specs, now, start_now=lambda _s: False)
        _ran(engine, "ingest:a", now - timedelta(days=3))
        b_began = now - timedelta(seconds=2)
        _ran(engine, "ingest:b", b_began)
        store.put(by_id["ingest:b"], by_id["ingest:b"].trigger.get_next_fire_time(None, b_began))
        _killed(engine, "ingest:c", now - timedelta(minutes=5))
        # a forced stop (grace period over) marks the runs it abandons as it exits
        _ran(
            engine,
            "report:weekly",
            now - timedelta(minutes=5),
            "failed",
            "interrupted: abandoned at shutdown",
        )
        for job in ("health", "report:half"):
            _ran(engine, job, now - timedelta(seconds=1))
        _ran(engine, "site", datetime.now(HELSINKI))  # the site's rebuild that followed report:half
    finally:
        store.close()
    for job, when in store_times(db_url).items():
        assert when is not None and when > now, job  # nothing looks due
    return specs


def test_serve_runs_interrupted_and_queued_runs_once_at_start(
    engine: Engine, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    work = Work()
    runtime, _ = make_runtime(engine, db_url, tmp_path, work, parse_catalogue(catalogue_dict(CADENCES)))
    specs = _left_by_a_stop(engine, db_url)
    stop = threading.Event()
    thread = threading.Thread(
        target=scheduler.serve, args=(runtime, specs), kwargs={"install_signals": False, "stop": stop}
    )
    caplog.set_level(logging.INFO, logger="scheduler")
    thread.start()
    try:
        wait_for(lambda: ("report:weekly", "all") in work.calls and len(work.calls) >= 4, 10, "the catch-up")
    finally:
        stop.set()
        thread.join(30)
    ingests = sorted(c[1] for c in work.calls if c[0] == "ingest")
    assert ingests == ["a", "c", "d"]  # once each; b lost nothing
    assert ("report:weekly", "all") in work.calls  # the week's report, all languages, again
    assert not any(c[0] == "report:half" for c in work.calls)
    caught = {
        getattr(r, "job", ""): r.getMessage()
        for r in caplog.records
        if getattr(r, "outcome", None) == "catch-up"
    }
    assert set(caught) == {"ingest:a", "ingest:c", "ingest:d", "report:weekly"}
    assert "never began" in caught["ingest:a"] and INTERRUPTED in caught["ingest:c"]
    times = store_times(db_url)
    for job in ("ingest:a", "ingest:c", "report:weekly"):
        when = times[job]
        assert when is not None and when > datetime.now(HELSINKI)  # back on the schedule, not run again


def test_run_once_runs_interrupted_and_queued_runs(engine: Engine, db_url: str, tmp_path: Path) -> None:
    work = Work()
    runtime, _ = make_runtime(engine, db_url, tmp_path, work, parse_catalogue(catalogue_dict(CADENCES)))
    specs = _left_by_a_stop(engine, db_url)
    assert scheduler.run_once(runtime, specs, install_signals=False) == scheduler.EXIT_OK
    ingests = sorted(c[1] for c in work.calls if c[0] == "ingest")
    assert ingests == ["a", "c", "d"]  # d: --once runs a job that never ran
    assert ("report:weekly", "all") in work.calls
    # run again: nothing is lost any more
    work.calls.clear()
    assert scheduler.run_once(runtime, specs, install_signals=False) == scheduler.EXIT_OK
    assert work.calls == []


def test_a_job_busy_elsewhere_is_not_run_again(engine: Engine, db_url: str, tmp_path: Path) -> None:
    work = Work()
    runtime, _ = make_runtime(engine, db_url, tmp_path, work, parse_catalogue(catalogue_dict(CADENCES)))
    specs = _left_by_a_stop(engine, db_url)
    start_run(engine, "ingest:a", trigger="cli")  # a manual run of this (live) process is still going
    assert scheduler.run_once(runtime, specs, install_signals=False) == scheduler.EXIT_OK
    assert "a" not in [c[1] for c in work.calls if c[0] == "ingest"]


@pytest.mark.slow
def test_a_run_killed_mid_way_runs_again_at_the_next_start(db_url: str, rig: Callable[..., Rig]) -> None:  # noqa: F811
    """SIGKILL (or a power cut) mid-run: the next start runs the job at once, not at its next cron time."""
    setup = rig(db_url, dataset_toml("k", "0 5 * * *"), KESTAVA_SCHEDULER_HOOKS="sched_hooks")
    # never ran: starts at once (its transaction, SQLite's write lock, after the store moved its next run on)
    first = setup.start(HOOK_SLEEP="k=60", HOOK_AFTER_STORE="k")
    wait_for(lambda: "in-transaction ingest:k" in setup.hook_log, 20, "the ingest to be mid-transaction")

    def moved_on() -> bool:  # APScheduler writes the next run time after it hands the run to its pool
        moved = store_times(db_url)["ingest:k"]
        return moved is not None and moved > datetime.now(HELSINKI)

    wait_for(moved_on, 20, "the job store to move the job's next run time on")  # the lost-run case
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    assert moved_on()

    second = setup.start()
    wait_for(lambda: "end ingest:k success" in setup.hook_log, 20, "the run again after the kill")
    assert second.stop(signal.SIGTERM) == scheduler.EXIT_OK
    outcomes = [(r.outcome, r.error or "") for r in job_runs(db_url) if r.job == "ingest:k"]
    assert [o for o, _ in outcomes] == ["failed", "success"] and outcomes[0][1].startswith(INTERRUPTED)
    times = store_times(db_url)
    assert times["ingest:k"] is not None and times["ingest:k"] > datetime.now(HELSINKI)


def _all_ran(engine: Engine, db_url: str) -> list[scheduler.JobSpec]:
    """Every scheduled job ran a moment ago and its next run is on its schedule: none of them is lost."""
    specs = scheduler.catalogue_jobs(parse_catalogue(catalogue_dict(CADENCES)))
    now = datetime.now(HELSINKI)
    store = scheduler.JobStore(db_url)
    try:
        scheduler.sync_jobs(store, specs, now, start_now=lambda _s: False)
        began = now - timedelta(seconds=2)
        for spec in specs:
            _ran(engine, spec.id, began)
            store.put(spec, spec.trigger.get_next_fire_time(None, began))
        _ran(engine, "site", datetime.now(HELSINKI))  # the rebuild after the reports
    finally:
        store.close()
    return specs


def test_run_once_rebuilds_a_site_a_stop_interrupted(engine: Engine, db_url: str, tmp_path: Path) -> None:
    work = Work()
    runtime, _ = make_runtime(engine, db_url, tmp_path, work, parse_catalogue(catalogue_dict(CADENCES)))
    specs = _all_ran(engine, db_url)
    _ran(engine, "compute", datetime.now(HELSINKI) - timedelta(minutes=6))
    _killed(engine, "site", datetime.now(HELSINKI) - timedelta(minutes=5))  # the compute's rebuild, killed
    assert scheduler.run_once(runtime, specs, install_signals=False) == scheduler.EXIT_OK
    assert work.calls == [("site",)]  # rebuilt once, nothing else run
    outcomes = [(r.outcome, r.error or "") for r in job_runs(db_url) if r.job == "site"]
    assert [o for o, _ in outcomes] == ["success", "failed", "success"]
    assert outcomes[1][1].startswith(INTERRUPTED)
    work.calls.clear()
    assert scheduler.run_once(runtime, specs, install_signals=False) == scheduler.EXIT_OK
    assert work.calls == []  # nothing is lost any more


def test_run_once_rebuilds_a_site_a_stop_came_before(engine: Engine, db_url: str, tmp_path: Path) -> None:
    """The scheduler stopped after a compute (or a report) and before the site rebuild that follows it;
    a person's `kestava compute` (trigger cli) does not rebuild the site, and does not make it due."""
    work = Work()
    runtime, _ = make_runtime(engine, db_url, tmp_path, work, parse_catalogue(catalogue_dict(CADENCES)))
    specs = _all_ran(engine, db_url)
    run_id = start_run(engine, "compute", trigger="cli")
    finish_run(engine, run_id, "success")
    assert scheduler.run_once(runtime, specs, install_signals=False) == scheduler.EXIT_OK
    assert work.calls == []
    _ran(engine, "report:weekly", datetime.now(HELSINKI))  # as if it ran, then the scheduler stopped
    assert scheduler.run_once(runtime, specs, install_signals=False) == scheduler.EXIT_OK
    assert work.calls == [("site",)]


def test_serve_rebuilds_a_site_a_stop_interrupted(
    engine: Engine, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    work = Work()
    runtime, _ = make_runtime(engine, db_url, tmp_path, work, parse_catalogue(catalogue_dict(CADENCES)))
    specs = _all_ran(engine, db_url)
    # a forced stop (grace period over) abandoned the site's rebuild
    _ran(engine, "site", datetime.now(HELSINKI) - timedelta(minutes=5), "failed", "interrupted: abandoned")
    stop = threading.Event()
    thread = threading.Thread(
        target=scheduler.serve, args=(runtime, specs), kwargs={"install_signals": False, "stop": stop}
    )
    caplog.set_level(logging.INFO, logger="scheduler")
    thread.start()
    try:
        wait_for(lambda: ("site",) in work.calls, 10, "the site's catch-up")
    finally:
        stop.set()
        thread.join(30)
    assert work.calls == [("site",)]
    caught = {
        getattr(r, "job", ""): r.getMessage()
        for r in caplog.records
        if getattr(r, "outcome", None) == "catch-up"
    }
    assert set(caught) == {"site"} and INTERRUPTED in caught["site"]
    assert [o for o, _ in runs(engine, "site")] == ["success", "failed", "success"]
