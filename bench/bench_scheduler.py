"""Benchmark: a simulated day of the schedule with nothing new upstream vs one full ingest + compute + report.

Baseline, measured in the same run on a fresh, migrated database: one full offline ingest of every dataset
(the bundled snapshot), one compute of every indicator (without the site rebuild that follows it in the
scheduler) and the weekly report. Then, with that data loaded,
a day of the schedule is replayed through the scheduler's own job functions: every catalogue dataset fires
per its cadence (a Monday, so the weekly ones fire too) plus the daily health check, each wake-up doing
what APScheduler's loop does (query the job store for due jobs, run each, store its next run time, ask the
store for the next wake-up), on a job store left as a scheduler running through the days before leaves it.
Every ingest is then 'unchanged', so compute and reports are skipped. Days and full runs (each on its
own fresh database) alternate in pairs; both must leave the same current observations (checked on
an untimed pair first, and after every pair). Goal: the median day costs under 2 % of the full run of
its pair. (The weekly report itself is the product, not overhead: it runs on Mondays whatever changed,
and is not part of the simulated day.)

    .venv/bin/python bench/bench_scheduler.py [--backend sqlite|postgresql] [--days 5] [--no-report]

Needs the bundled snapshot (data/snapshot/manifest.json), indicators.engine.compute and
report.weekly.write_weekly_report; exits with status 2 and says what is missing otherwise
(--no-report measures against ingest + compute only, a stricter baseline).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from bench_stats import MIN_PAIRS, fmt, interleave, spread
from sqlalchemy import create_engine, func, select, text

import scheduler
from ingest.catalogue import load_catalogue
from ingest.manifest import DEFAULT_SNAPSHOT_DIR
from ingest.run import ingest
from kestava.alerts import Alerter, AlertSettings
from storage import schema
from storage.engine import open_database
from storage.rawstore import RawStore

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GOAL = 0.02
DAY = datetime(2026, 1, 5, tzinfo=scheduler.HELSINKI)  # a Monday: daily and weekly datasets all fire


def missing(no_report: bool) -> list[str]:
    """What the benchmark needs but the tree does not have yet."""
    problems = []
    if not (DEFAULT_SNAPSHOT_DIR / "manifest.json").exists():
        problems.append(f"the bundled snapshot ({DEFAULT_SNAPSHOT_DIR / 'manifest.json'})")
    for module, name in [("indicators.engine", "compute")] + (
        [] if no_report else [("report.weekly", "write_weekly_report")]
    ):
        try:
            if not hasattr(importlib.import_module(module), name):
                problems.append(f"{module}.{name}")
        except ImportError as error:
            problems.append(f"{module}.{name} ({error})")
    return problems


def fresh(backend: str, folder: Path) -> tuple[str, Callable[[], None]]:
    if backend == "sqlite":
        return f"sqlite:///{folder / f'{uuid.uuid4().hex}.sqlite3'}", lambda: None
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()

    return f"{PG_ADMIN}?options=-csearch_path%3D{name}", drop


def full_run(runtime: scheduler.Runtime, reports: Path, no_report: bool) -> tuple[float, dict[str, float]]:
    """One full offline ingest + compute + weekly report; (seconds, per stage)."""
    engine = runtime.engine
    stages: dict[str, float] = {}
    start = time.perf_counter()
    outcomes = ingest(engine, runtime.raw_store, offline=True, catalogue=runtime.catalogue, trigger="bench")
    stages["ingest"] = time.perf_counter() - start
    bad = [f"{o.dataset_id}: {o.outcome} {o.error or ''}" for o in outcomes if not o.ok]
    if bad:
        raise SystemExit("the offline ingest failed, no baseline:\n  " + "\n  ".join(bad))
    mark = time.perf_counter()
    # compute for every dataset, recorded as the scheduler does; not the public site the scheduler rebuilds
    # after it (that is neither ingest nor compute, and would pad the baseline)
    if scheduler.run_compute(runtime, site=False) != "success":
        raise SystemExit("compute failed, no baseline")
    stages["compute"] = time.perf_counter() - mark
    if not no_report:
        mark = time.perf_counter()
        importlib.import_module("report.weekly").write_weekly_report(engine, lang="fi", out_dir=reports)
        stages["report"] = time.perf_counter() - mark
    return time.perf_counter() - start, stages


def simulated_day(
    runtime: scheduler.Runtime, store: scheduler.JobStore, day: datetime
) -> tuple[float, int, dict[str, int]]:
    """Replay one day of the scheduler loop through the job store and the job functions; (seconds, firings,
    outcomes). The store is the one the days share, as a scheduler process keeps its own.

    The job store first holds what a scheduler running through the days before leaves in it (each job's
    next run time its trigger's first fire time of the day or later; untimed). Then, as
    APScheduler's BaseScheduler._process_jobs does at each wake-up: the due jobs' query, for each due job
    its run times, its run (here in this thread, there in the executor's), its next fire time and its
    update in the job store; then the query for the store's next run time, which is the next wake-up.
    """
    specs = [s for s in scheduler.catalogue_jobs(runtime.catalogue) if s.kind in ("ingest", "health")]
    end = day + timedelta(days=1)
    expected = 0
    for spec in specs:
        fire = spec.trigger.get_next_fire_time(None, day)
        while fire is not None and fire < end:
            expected += 1
            fire = spec.trigger.get_next_fire_time(fire, fire)
    jobs = store.store
    outcomes: dict[str, int] = {}
    firings = 0
    scheduler.sync_jobs(store, specs, day, start_now=lambda _s: False)
    for spec in specs:  # where the days before left the schedule (a job never stays overdue)
        store.put(spec, spec.trigger.get_next_fire_time(None, day))
    wake = jobs.get_next_run_time()  # (what the day before's last wake-up asked)
    start = time.perf_counter()
    while wake is not None and wake < end:
        now = wake.astimezone(scheduler.HELSINKI)  # the loop's clock
        for job in jobs.get_due_jobs(now):  # the loop's query
            run_times = job._get_run_times(now)[-1:]  # coalesced
            outcome = str(job.func(*job.args, **job.kwargs))
            job._modify(next_run_time=job.trigger.get_next_fire_time(run_times[-1], now))
            jobs.update_job(job)  # and its update
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            firings += 1
        wake = jobs.get_next_run_time()  # and the next wake-up
    seconds = time.perf_counter() - start
    if firings != expected:
        raise SystemExit(f"FAIL: the day fired {firings} jobs, its triggers say {expected}")
    return seconds, firings, outcomes


def runtime_for(url: str, folder: Path) -> scheduler.Runtime:
    engine = open_database(url)
    return scheduler.Runtime(
        engine=engine,
        database_url=url,
        raw_store=RawStore(folder / f"raw-{uuid.uuid4().hex}"),
        catalogue=load_catalogue(),
        alerter=Alerter(engine, AlertSettings(), channels=[], secrets=[]),
        offline=True,
        retry_wait_s=0.0,
    )


def current_rows(runtime: scheduler.Runtime) -> tuple[int, float]:
    """Current observations (count, sum of values): the day must leave what a fresh full run stores."""
    obs = schema.observation
    with runtime.engine.connect() as conn:
        count, total = conn.execute(
            select(func.count(), func.sum(obs.c.value)).where(obs.c.valid_to.is_(None))
        ).one()
    return int(count), round(float(total or 0.0), 6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--days", type=int, default=MIN_PAIRS, help="interleaved pairs (day, full run), >= 5")
    parser.add_argument("--no-report", action="store_true", help="baseline without the weekly report")
    args = parser.parse_args()
    problems = missing(args.no_report)
    if problems:
        print("bench_scheduler: cannot run yet; missing: " + "; ".join(problems))
        raise SystemExit(2)
    logging.basicConfig(level=logging.ERROR)
    day_outcomes: list[dict[str, int]] = []
    contents: set[tuple[int, float]] = set()
    stage_runs: list[dict[str, float]] = []
    firings = 0
    with tempfile.TemporaryDirectory() as folder:
        url, drop = fresh(args.backend, Path(folder))
        runtime = runtime_for(url, Path(folder))
        store: scheduler.JobStore | None = None
        try:
            scheduler.set_runtime(runtime)
            full_run(runtime, Path(folder) / "reports", args.no_report)  # the data the days run on
            store = shared = scheduler.JobStore(url)  # the scheduler's job store, kept from day to day
            days = iter(range(max(args.days, MIN_PAIRS) + 1))

            def day() -> float:
                nonlocal firings
                scheduler.set_runtime(runtime)
                when = DAY + timedelta(days=7 * next(days))
                seconds, firings, outcomes = simulated_day(runtime, shared, when)
                day_outcomes.append(outcomes)
                contents.add(current_rows(runtime))
                return seconds

            def baseline() -> float:
                other_url, other_drop = fresh(args.backend, Path(folder))
                other = runtime_for(other_url, Path(folder))
                try:
                    scheduler.set_runtime(other)
                    seconds, stages = full_run(other, Path(folder) / "reports-baseline", args.no_report)
                    stage_runs.append(stages)
                    contents.add(current_rows(other))
                    return seconds
                finally:
                    scheduler.set_runtime(None)
                    other.engine.dispose()
                    other_drop()

            day(), baseline()  # one untimed pair first: the same current observations on both sides?
            if len(contents) != 1:
                raise SystemExit(f"FAIL: a day and a fresh full run leave different observations {contents}")
            day_outcomes.clear()
            stage_runs.clear()
            pairs = interleave(day, baseline, args.days)  # and every timed pair is checked again
        finally:
            scheduler.set_runtime(None)
            if store is not None:
                store.close()
            runtime.engine.dispose()
            drop()
    odd = [o for o in day_outcomes if set(o) - {"unchanged", "success"} or o.get("success", 0) > 1]
    same = len(contents) == 1
    share = spread(pairs.ratios)[1]
    ok = share < GOAL and same and not odd
    what = "ingest + compute" + ("" if args.no_report else " + report")
    fastest = min(stage_runs, key=lambda stages: sum(stages.values()))
    print(f"backend {args.backend}; baseline: full offline {what} on a fresh database each time")
    print(
        f"simulated day: {firings} firings ({day_outcomes[-1]}); the day leaves the same current "
        f"observations as a fresh full run: {'yes' if same else f'NO {sorted(contents)}'}"
    )
    for outcomes in odd:
        print(f"warning: a day's outcomes {outcomes} (expected unchanged ingests)")
    print(
        f"{pairs.summary('simulated day', 'full run')}; fastest full run: "
        + ", ".join(f"{name} {value:.2f} s" for name, value in fastest.items())
    )
    shares = fmt([ratio * 100 for ratio in pairs.ratios], 2, " %")
    print(f"day / full run of its pair: {shares} (goal median < {GOAL:.0%}): {'OK' if ok else 'FAIL'}")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
