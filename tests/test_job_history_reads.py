"""The reads of job_run's history after years of the scheduler: the same answers as reading every run, from
the indexes of migration 0011 (their query plans), and the migration itself up and down on both backends."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, inspect, select, text

from ingest.catalogue import load_catalogue
from ingest.freshness import freshness_rows
from kestava import status
from kestava.status import PROBLEM_OUTCOMES, status_report, used_areas
from storage import read, schema
from storage.engine import alembic_config, create_db_engine, migrate
from storage.newest_runs import dataset_ids, newest_run_ids

# the synthetic history of the benchmark (bench/job_history.py): the scheduler's jobs on their cadences
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from job_history import END, fill_job_runs, history_rows, run_row

# the recursive CTEs of status' reads (storage.newest_runs), and the row their first step selects from
CTES = ("ran", "newest", "datasets", "CONSTANT")
TODAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
NEW_INDEXES = {
    "ix_job_run_job_id_outcome": ["job", "id", "outcome"],
    "ix_job_run_dataset_id_outcome_finished_at_job": ["dataset_id", "outcome", "finished_at", "job"],
    "ix_job_run_started_at": ["started_at"],
}


def _to(engine: Engine, revision: str, step: str = "upgrade") -> None:
    from alembic import command

    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        getattr(command, step)(config, revision)


def _odd_runs() -> list[dict[str, Any]]:
    """Runs where "the newest" could be told wrongly: a success recorded last that finished before the one
    recorded before it (the last success is the one recorded last, as every newest run), a failure of a
    dataset recorded under a job that is no ingest (not its failure), and a retired job's failure years
    ago."""
    late = END + timedelta(hours=1)
    extra = {"trigger": "cli", "host": "elsewhere", "pid": 1}
    first = run_row("ingest:hsy_emissions", "hsy_emissions", late, "success", **extra)
    second = run_row("ingest:hsy_emissions", "hsy_emissions", late + timedelta(minutes=1), "success", **extra)
    other = run_row("probe", "syke_emissions", late + timedelta(minutes=3), "failed", error="not ingest")
    return [{**first, "finished_at": late + timedelta(minutes=30)}, second, other]


@pytest.fixture
def history(engine: Engine) -> list[dict[str, Any]]:
    """A month of the scheduler's history with its corner cases, stored; the rows in id order."""
    rows = [*history_rows(years=1 / 12), *_odd_runs()]
    fill_job_runs(engine, rows)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(schema.job_run).order_by(schema.job_run.c.id))]


def _holder(error: str | None) -> str | None:
    return status._holder(error)


def test_status_reads_the_same_newest_runs_as_reading_every_run(
    engine: Engine, history: list[dict[str, Any]]
) -> None:
    """Each dataset's last success (its newest ingest run that fetched: success or unchanged), last failure
    and its error, and each job's last run that was not busy and the busy runs after it, as read from every
    run in Python; the last success is the last fetch `kestava sources` shows (freshness), one read."""
    ingest = [r for r in history if r["job"].startswith("ingest:")]
    report = status_report(engine, load_catalogue(), TODAY, now=NOW, job_time_limit_min=360.0, disks=())
    datasets = {d.dataset: d for d in report.datasets}
    assert datasets, "the catalogue's datasets"
    sources = {row["dataset"]: row for row in freshness_rows(engine, load_catalogue(), TODAY, used_areas())}
    for dataset, shown in datasets.items():
        fetched = [
            r["finished_at"]
            for r in ingest
            if r["dataset_id"] == dataset and r["outcome"] in ("success", "unchanged") and r["finished_at"]
        ]
        failures = [r for r in ingest if r["dataset_id"] == dataset and r["outcome"] in PROBLEM_OUTCOMES]
        assert shown.last_success == (fetched[-1] if fetched else None), dataset
        assert shown.last_success == sources[dataset]["last_fetch"], dataset
        assert (shown.last_failure, shown.last_error) == (
            (failures[-1]["finished_at"], failures[-1]["error"]) if failures else (None, None)
        ), dataset
    # the success recorded last finished before the one recorded before it: the newest run is the one
    # recorded last, as the sources' last fetch has it
    hsy = [r for r in ingest if r["dataset_id"] == "hsy_emissions" and r["outcome"] == "success"]
    assert hsy[-1]["finished_at"] < hsy[-2]["finished_at"]
    assert datasets["hsy_emissions"].last_success == hsy[-1]["finished_at"]
    jobs = {j.job: j for j in report.jobs}
    for job in {r["job"] for r in history}:
        runs = [r for r in history if r["job"] == job]
        ran = [r for r in runs if r["outcome"] != "busy"]
        last = ran[-1] if ran else None
        job_shown = jobs[job]
        if last is None:
            assert job_shown.last_outcome is None, job
        else:
            error = last["error"] if last["outcome"] in PROBLEM_OUTCOMES else None
            assert (
                job_shown.last_outcome,
                job_shown.last_started,
                job_shown.last_finished,
                job_shown.last_error,
            ) == (
                last["outcome"],
                last["started_at"],
                last["finished_at"],
                error,
            ), job
        busy = [r for r in runs if r["outcome"] == "busy" and (last is None or r["id"] > last["id"])]
        expected = (min(r["started_at"] for r in busy), _holder(busy[-1]["error"])) if busy else (None, None)
        assert (job_shown.busy_since, job_shown.busy_holder) == expected, job
    # the corners the history holds: blocked now, only ever busy, still running, retired years ago
    assert jobs["ingest:traficom_cars"].busy_holder == "tracker-2:4711"
    assert jobs["ingest:new_source"].last_outcome is None and jobs["ingest:new_source"].busy_since is not None
    assert jobs["report:half"].last_outcome == "running" and jobs["report:half"].hung
    assert jobs["ingest:retired_source"].retired and jobs["ingest:retired_source"].last_outcome == "failed"


@pytest.mark.parametrize(
    ("not_outcome", "outcomes"),
    [(None, None), ("busy", None), (None, ("success", "unchanged", "failed")), (None, ("nothing",))],
    ids=["any", "not-busy", "decisive", "none"],
)
def test_the_walk_finds_the_ids_a_group_by_over_every_run_finds(
    engine: Engine, history: list[dict[str, Any]], not_outcome: str | None, outcomes: tuple[str, ...] | None
) -> None:
    """newest_run_ids is `max(id) … GROUP BY job` (kestava.alerts' failing jobs read the last of
    outcomes)."""
    run = schema.job_run
    conditions = [run.c.outcome != not_outcome] if not_outcome else []
    conditions += [run.c.outcome.in_(outcomes)] if outcomes else []
    walk = newest_run_ids("walk", not_outcome=not_outcome, outcomes=outcomes)
    with engine.connect() as conn:
        grouped = set(
            conn.execute(select(func.max(run.c.id)).where(*conditions).group_by(run.c.job)).scalars()
        )
        walked = set(conn.execute(select(walk.c.id).where(walk.c.id.is_not(None))).scalars())
        datasets = list(conn.execute(select(dataset_ids("ds").c.dataset_id)).scalars())
    assert walked == grouped and (len(walked) > 20 or outcomes == ("nothing",))
    assert datasets == [*sorted({r["dataset_id"] for r in history if r["dataset_id"]}), None]


def test_problem_runs_of_a_period_are_those_of_every_run(
    engine: Engine, history: list[dict[str, Any]]
) -> None:
    end = END.replace(hour=0, minute=0)
    start = end - timedelta(days=7)
    expected = [
        r["id"]
        for r in reversed(history)
        if r["outcome"] in ("failed", "rejected") and start <= r["started_at"] < end
    ]
    assert expected, "failures in the week"
    assert read.problem_runs(engine, start, end)["id"].to_list() == expected


def _plan(engine: Engine, statement: Any, params: dict[str, Any] | None = None) -> list[str]:
    sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True, "render_postcompile": True}))
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return [str(row[-1]) for row in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}"), params or {})]
        return [str(row[0]) for row in conn.execute(text(f"EXPLAIN {sql}"), params or {})]


def index_walk_plans(engine: Engine, reads: dict[str, Any], ctes: tuple[str, ...]) -> dict[str, str]:
    """Each read's plan (EXPLAIN; EXPLAIN QUERY PLAN on SQLite), asserting that none scans job_run whole:
    on SQLite a SCAN of job_run (under any alias) only where a walk's first step reads an index from its
    end until the first row (ORDER BY … LIMIT 1), the CTEs `ctes` themselves scanned; on PostgreSQL no
    Seq Scan of job_run. The plans joined, by read, for the indexes each must name."""
    plans = {name: _plan(engine, statement) for name, statement in reads.items()}
    for name, plan in plans.items():
        if engine.dialect.name == "sqlite":
            scans = [line for line in plan if line.startswith("SCAN") and line.split()[1] not in ctes]
            assert all("COVERING INDEX ix_job_run_job_id_outcome" in line for line in scans), (name, plan)
        else:
            assert not any("Seq Scan on job_run" in line for line in plan), (name, plan)
    return {name: "\n".join(plan) for name, plan in plans.items()}


def test_the_reads_of_status_and_the_report_use_the_indexes_not_a_scan(engine: Engine) -> None:
    """EXPLAIN (EXPLAIN QUERY PLAN on SQLite) of each read on a year of history: every access to job_run
    goes through an index (on PostgreSQL after ANALYZE, as autovacuum does; SQLite has no statistics)."""
    fill_job_runs(engine, history_rows(years=1))
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE job_run"))
    run = schema.job_run
    end = END.replace(hour=0, minute=0)
    week = (
        select(run)
        .where(run.c.outcome.in_(("failed", "rejected")), run.c.started_at >= end - timedelta(days=7))
        .where(run.c.started_at < end)
        .order_by(run.c.id.desc())
    )
    reads = {
        "per dataset": status._PER_DATASET,
        "latest per job": status._LATEST,
        "busy now": status._BUSY_NOW,
        "busy since": status._BUSY_SINCE.params(job="ingest:traficom_cars", ran=1000),
        "runs ended": status._RUNS_ENDED.params(ids=[1, 2, 3]),
        "problem runs": week,
    }
    joined = index_walk_plans(engine, reads, CTES)
    assert "ix_job_run_dataset_id_outcome_finished_at_job" in joined["per dataset"]
    assert "ix_job_run_job_id_outcome" in joined["latest per job"]
    # one job's runs after `ran`: either index led by job reads only that job's rows (PostgreSQL's choice
    # between them follows ANALYZE's sample; a bitmap scan of the other one was seen in a full run)
    led_by_job = ("ix_job_run_job_id_outcome", "ix_job_run_job_outcome_started_at")
    assert any(name in joined["busy since"] for name in led_by_job)
    assert "ix_job_run_started_at" in joined["problem runs"]


def test_migration_0011_adds_the_history_indexes_and_its_downgrade_gives_the_job_index_back(
    db_url: str,
) -> None:
    engine = create_db_engine(db_url)

    def indexes() -> dict[str, list[str]]:
        return {
            str(i["name"]): [str(c) for c in i["column_names"]]
            for i in inspect(engine).get_indexes("job_run")
        }

    def rows() -> list[tuple[Any, ...]]:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(select(schema.job_run).order_by(schema.job_run.c.id))]

    try:
        _to(engine, "0010")
        fill_job_runs(engine, history_rows(years=1 / 52))
        before = rows()
        assert indexes() == {"ix_job_run_job": ["job"]}
        _to(engine, "0011")
        assert indexes() == NEW_INDEXES
        assert rows() == before
        _to(engine, "0010", "downgrade")
        assert indexes() == {"ix_job_run_job": ["job"]}
        assert rows() == before
        migrate(engine)  # to head (0012 adds two more: tests/test_job_history_health_reads.py)
        assert NEW_INDEXES.items() <= indexes().items()
    finally:
        engine.dispose()
