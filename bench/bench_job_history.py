"""Benchmark: the reads of job_run's history after years of the scheduler, before and after 0011 and 0012.

    .venv/bin/python bench/bench_job_history.py [--years 5] [--backend sqlite|postgresql|both] [--pairs 5]
                                               [--base 0bd71d5]

On a synthetic job_run of --years of the scheduler's history (bench/job_history.py: about 300,000 runs at
five years), per backend, in interleaved pairs (after, before, after, before, …):

- `kestava status`'s status_report (in the process, as the command calls it, the disks left out; the
  freshness cache emptied before each call, as in a new `kestava status` process), and of it status' own
  reads (freshness' rows, whose reads ingest/freshness.py makes, read once beforehand);
- the health check's reads of job_run: freshness (alert_late_sources), the failing jobs
  (alert_failing_jobs, its alerts skipped) and the datasets compute must catch up (pending_datasets);
- the weekly report's failed and rejected runs of the last week (storage.read.problem_runs);
- each of the health check's three reads alone: freshness' newest ingest runs (now, and as of a week ago
  as the weekly report reads them), the failing jobs and the pending datasets.

"before" is the code of --base (its kestava/status.py, ingest/freshness.py, kestava/alerts.py and
schedule/compute_job.py, read with git show, each a module of its own; the other modules' reads did not
change) on a database at revision 0010, with only the index on job; "after" is this code on the same
history migrated to head (0011's and 0012's indexes; the migration's own time is printed). Each pair's
results are checked equal first (the status report as JSON, the frames, the lists). PostgreSQL's tables
are analysed (VACUUM ANALYZE) after the fill, as autovacuum would; SQLite has no statistics, as in use.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from bench_stats import MIN_PAIRS, Pairs, fmt, interleave, timer
from job_history import END, fill_job_runs, history_rows
from sqlalchemy import Engine, create_engine, func, select, text

from ingest import freshness
from ingest.catalogue import load_catalogue
from kestava import alerts, status
from schedule import compute_job
from storage import read, schema
from storage.engine import alembic_config, create_db_engine, migrate

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BASE = "0bd71d5"  # the code before migration 0011 and the rewritten status reads
AS_OF = END - timedelta(days=7)  # the weekly report's freshness: the runs finished by its period's end
TODAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def base_module(base: str, path: str, name: str) -> ModuleType:
    """The file at path as it was at base, as a module of its own named name."""
    source = subprocess.run(
        ["git", "show", f"{base}:{path}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    spec = importlib.util.spec_from_loader(name, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # (its dataclasses look their module up)
    exec(compile(source, f"{base}:{path}", "exec"), module.__dict__)
    return module


def base_code(base: str) -> SimpleNamespace:
    """The modules whose reads this benchmark times, as they were at base (status reading the base's
    freshness, so that its status report is the base's throughout)."""
    old = SimpleNamespace(
        freshness=base_module(base, "ingest/freshness.py", "freshness_before"),
        status=base_module(base, "kestava/status.py", "status_before"),
        alerts=base_module(base, "kestava/alerts.py", "alerts_before"),
        compute_job=base_module(base, "schedule/compute_job.py", "compute_job_before"),
    )
    old.status.freshness_rows = old.freshness.freshness_rows
    old.alerts.freshness_rows = old.freshness.freshness_rows
    return old


CURRENT = SimpleNamespace(freshness=freshness, status=status, alerts=alerts, compute_job=compute_job)


def upgrade_to(engine: Engine, revision: str) -> None:
    from alembic import command

    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@contextmanager
def database(
    backend: str, folder: Path, rows: list[dict[str, Any]]
) -> Iterator[tuple[Engine, Engine, float]]:
    """(before, after, seconds of the migration to head): the same history at revision 0010 and at head."""
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT") if backend == "postgresql" else None
    names = [f"bench_jobs_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    engines = []
    try:
        for name in names:
            if admin is None:
                url = f"sqlite:///{folder / f'{name}.sqlite3'}"
            else:
                with admin.connect() as conn:
                    conn.execute(text(f"CREATE SCHEMA {name}"))
                url = f"{PG_ADMIN}?options=-csearch_path%3D{name}"
            engine = create_db_engine(url)
            engines.append(engine)
            upgrade_to(engine, "0010")
            fill_job_runs(engine, rows)
        before, after = engines
        started = time.perf_counter()
        migrate(after)
        migration = time.perf_counter() - started
        if admin is not None:
            for name in names:
                with admin.connect() as conn:
                    conn.execute(text(f"VACUUM ANALYZE {name}.job_run"))
        yield before, after, migration
    finally:
        for engine in engines:
            engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                for name in names:
                    conn.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
            admin.dispose()


def status_side(code: SimpleNamespace, engine: Engine) -> Callable[[], dict[str, Any]]:
    catalogue = load_catalogue()

    def run() -> dict[str, Any]:
        code.freshness._STORED.pop(engine, None)  # as a new `kestava status` process: nothing cached
        report = code.status.status_report(
            engine, catalogue, TODAY, now=NOW, job_time_limit_min=360.0, disks=()
        )
        return dict(report.to_dict())

    return run


def own_reads_side(code: SimpleNamespace, engine: Engine) -> Callable[[], dict[str, Any]]:
    """status_report with freshness' rows read once beforehand (ingest.freshness, timed on its own below):
    status' own reads of job_run and indicator_state."""
    catalogue = load_catalogue()
    code.freshness._STORED.pop(engine, None)
    rows = code.freshness.freshness_rows(engine, catalogue, TODAY, status.used_areas())
    module = code.status

    def run() -> dict[str, Any]:
        names = module.__dict__
        kept = names["freshness_rows"]
        names["freshness_rows"] = lambda *args, **kwargs: rows
        try:
            report = module.status_report(
                engine, catalogue, TODAY, now=NOW, job_time_limit_min=360.0, disks=()
            )
        finally:
            names["freshness_rows"] = kept
        return dict(report.to_dict())

    return run


def health_side(code: SimpleNamespace, engine: Engine) -> Callable[[], tuple[Any, ...]]:
    catalogue = load_catalogue()
    areas = status.used_areas()
    failing = failing_side(code, engine)

    def run() -> tuple[Any, ...]:
        code.freshness._STORED.pop(engine, None)  # the health check's first read of the day reads them all
        rows = code.freshness.freshness_rows(engine, catalogue, TODAY, areas)
        return rows, failing(), code.compute_job.pending_datasets(engine)

    return run


def ingest_runs_side(code: SimpleNamespace, engine: Engine, as_of: datetime | None) -> Callable[[], Any]:
    """freshness' newest ingest runs of each dataset (ingest.freshness._ingest_runs), now or as of."""

    def run() -> Any:
        with engine.connect() as conn:
            return code.freshness._ingest_runs(conn, as_of)

    return run


def failing_side(code: SimpleNamespace, engine: Engine) -> Callable[[], list[str]]:
    """alert_failing_jobs: the jobs whose last decisive run failed (noted, their alerts skipped)."""

    def run() -> list[str]:
        failing: list[str] = []

        def skip(job: str) -> bool:
            failing.append(job)
            return True

        alerter = SimpleNamespace(engine=engine, secrets=[])
        code.alerts.alert_failing_jobs(alerter, skip)
        return failing

    return run


def problem_side(engine: Engine) -> Callable[[], Any]:
    end = END.replace(hour=0, minute=0)
    return lambda: read.problem_runs(engine, end - timedelta(days=7), end)


def plans(engine: Engine) -> list[str]:
    """The query plans of status' job_run reads and of problem_runs on this database."""
    end = END.replace(hour=0, minute=0)
    run = schema.job_run
    statements = {
        "status per dataset": status._PER_DATASET,
        "status latest per job": status._LATEST,
        "status busy now": status._BUSY_NOW,
        "freshness ingest runs": freshness._INGEST_RUNS,
        "freshness ingest runs as of": freshness._ingest_runs_query(AS_OF),
        "pending datasets": compute_job._PENDING,
        "problem_runs": select(run)
        .where(run.c.outcome.in_(("failed", "rejected")), run.c.started_at >= end - timedelta(days=7))
        .where(run.c.started_at < end)
        .order_by(run.c.id.desc()),
    }
    lines = []
    for name, statement in statements.items():
        sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                found = [str(row[-1]) for row in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}"))]
            else:
                found = [str(row[0]).strip() for row in conn.execute(text(f"EXPLAIN {sql}"))]
        lines.append(
            f"  {name}: " + " | ".join(line for line in found if "job_run" in line or "Index" in line)
        )
    return lines


def equal(a: Any, b: Any) -> bool:
    """Whether two results are the same (frames by their values and schema)."""
    return bool(a.equals(b)) if hasattr(a, "equals") else bool(a == b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=float, default=5.0)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pairs", type=int, default=MIN_PAIRS)
    parser.add_argument("--base", default=BASE, help="the commit whose code is 'before'")
    parser.add_argument("--plans", action="store_true", help="print the query plans on the migrated database")
    args = parser.parse_args()
    before = base_code(args.base)
    rows = history_rows(args.years)
    print(f"job_run: {len(rows):,} runs over {args.years:g} years; before = {args.base} at revision 0010")
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    failed = False
    for backend in backends:
        with (
            tempfile.TemporaryDirectory(prefix="bench-jobs-") as folder,
            database(backend, Path(folder), rows) as (old_db, after, migration),
        ):
            with after.connect() as conn:
                count = conn.execute(select(func.count()).select_from(schema.job_run)).scalar_one()
            print(f"\n{backend}: {count:,} runs; migration 0010 -> head on them {migration:.2f} s")
            if args.plans:
                print("\n".join(plans(after)))
            sides = {
                "kestava status (status_report)": (
                    status_side(CURRENT, after),
                    status_side(before, old_db),
                ),
                "  of which status' own reads (freshness read beforehand)": (
                    own_reads_side(CURRENT, after),
                    own_reads_side(before, old_db),
                ),
                "health check reads": (health_side(CURRENT, after), health_side(before, old_db)),
                "  freshness' ingest runs": (
                    ingest_runs_side(CURRENT, after, None),
                    ingest_runs_side(before, old_db, None),
                ),
                "  freshness' ingest runs as of a week ago": (
                    ingest_runs_side(CURRENT, after, AS_OF),
                    ingest_runs_side(before, old_db, AS_OF),
                ),
                "  failing jobs (alert_failing_jobs)": (
                    failing_side(CURRENT, after),
                    failing_side(before, old_db),
                ),
                "  pending datasets (compute)": (
                    lambda: compute_job.pending_datasets(after),
                    lambda: before.compute_job.pending_datasets(old_db),
                ),
                "problem_runs, one week": (problem_side(after), problem_side(old_db)),
            }
            for name, (new, old) in sides.items():
                if not equal(new(), old()):
                    failed = True
                    print(f"  {name}: FAIL, the results differ")
                    continue
                pairs: Pairs = interleave(timer(new), timer(old), args.pairs)
                after_ms = [t * 1000 for t in pairs.measured]
                before_ms = [t * 1000 for t in pairs.baseline]
                print(
                    f"  {name}: same results; {len(after_ms)} interleaved pairs: after "
                    f"{fmt(after_ms, 1, ' ms')}; before {fmt(before_ms, 1, ' ms')}; "
                    f"after/before {fmt(pairs.ratios)}"
                )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
