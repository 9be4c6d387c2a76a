"""Reads of job_run's newest runs per job and per dataset that stay fast however long its history grows.

"The newest run of each job" written as `max(id) … GROUP BY job` reads every run ever recorded (a scan of
job_run, on SQLite and on PostgreSQL alike: neither skips through an index group by group), and a
per-job `ORDER BY id DESC LIMIT 1` lets PostgreSQL walk the primary key backwards from the newest run until
it meets one of that job (its estimate assumes the job's runs are spread evenly; those of a job run twice
a year, or retired years ago, are not), which may again be most of the table. These statements walk the
indexes of migrations 0011 and 0012 instead, one index probe per job or per dataset, so their cost follows the
number of jobs and datasets, not of runs:

- newest_run_ids: walks ix_job_run_job_id_outcome (job, id, outcome) down from its end, each step the
  last entry of the next job below: an order only that index gives, so both planners use it;
- newest_dataset_run_ids: walks ix_job_run_dataset_id_id (dataset_id, id) of migration 0012 down from its
  end, each step the newest run, meeting its conditions, of the next dataset below;
- dataset_ids: walks ix_job_run_dataset_id_outcome_finished_at_job up, dataset by dataset;
- latest_starts: a job's latest start of any run, one probe of ix_job_run_job_outcome_started_at (0012)
  per outcome a run can have.

The two walks down are one (newest_ids, by job or by dataset). All are recursive CTEs (SQLite and
PostgreSQL alike); the index names are storage.schema's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Literal

from sqlalchemy import CTE, ColumnElement, func, select
from sqlalchemy.sql.selectable import NamedFromClause

from storage import schema
from storage.jobs import OUTCOMES

__all__ = ["dataset_ids", "latest_starts", "newest_dataset_run_ids", "newest_ids", "newest_run_ids"]


def newest_run_ids(
    name: str, *, not_outcome: str | None = None, outcomes: Sequence[str] | None = None
) -> CTE:
    """A CTE (column `id`) of each job's newest run id, of the runs whose outcome is not not_outcome and is
    one of outcomes, when given (a job with no such run has none); one row has a null id (where the walk
    ended): select `id IS NOT NULL`, or use it in `IN`. The same ids as `SELECT max(id) FROM job_run WHERE
    <those outcome conditions> GROUP BY job`; each step reads the index's entries of one job from its newest
    until one has such an outcome (the outcome is in the index: no row is read for it)."""

    def conditions(run: NamedFromClause) -> list[ColumnElement[bool]]:
        wanted = [] if not_outcome is None else [run.c.outcome != not_outcome]
        return wanted if outcomes is None else [*wanted, run.c.outcome.in_(outcomes)]

    return newest_ids(name, "job", conditions)


def newest_dataset_run_ids(
    name: str, conditions: Callable[[NamedFromClause], Sequence[ColumnElement[bool]]]
) -> CTE:
    """A CTE (column `id`) of each dataset's newest run id, of the runs meeting conditions (made for the
    alias of job_run given; a dataset with no such run has none); one row has a null id (where the walk
    ended): select `id IS NOT NULL`, or use it in `IN`. The same ids as `SELECT max(id) FROM job_run WHERE
    dataset_id IS NOT NULL AND <conditions> GROUP BY dataset_id`; each step reads the index's entries of one
    dataset from its newest until a run meets the conditions (read from the row, by its primary key)."""
    return newest_ids(name, "dataset_id", conditions)


def newest_ids(
    name: str,
    by: Literal["job", "dataset_id"],
    conditions: Callable[[NamedFromClause], Sequence[ColumnElement[bool]]],
) -> CTE:
    """The walk of newest_run_ids and newest_dataset_run_ids: a recursive CTE (column `id`) of the newest run
    id meeting conditions of each value of job_run's column `by` (not null), from the greatest value down,
    each step the newest such run of the next value below (by's index: (job, id, outcome) or (dataset_id,
    id)); its last row has a null id."""

    def newest_below(value: ColumnElement[str] | None) -> ColumnElement[int]:
        run = schema.job_run.alias(f"{name}_run")
        column = run.c[by]
        first = [column.is_not(None)] if column.nullable else []  # (job is never null, dataset_id may be)
        below = first if value is None else [column < value]  # the first step reads from the index's end
        # (by DESC, id DESC): the index's own order, read from its end; not `by = …` (an equality would
        # leave id alone to order by, which PostgreSQL may then take from the primary key)
        return (
            select(run.c.id)
            .where(*below, *conditions(run))
            .order_by(column.desc(), run.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )

    walk = select(newest_below(None).label("id")).cte(name, recursive=True)
    previous = schema.job_run.alias(f"{name}_previous")
    of_previous = (  # (of the walk's row: correlated two levels down, so named)
        select(previous.c[by]).where(previous.c.id == walk.c.id).correlate(walk).scalar_subquery()
    )
    return walk.union_all(select(newest_below(of_previous)).where(walk.c.id.is_not(None)))


def dataset_ids(name: str) -> CTE:
    """A CTE (column `dataset_id`) of every dataset_id job_run holds (not null), in order: the same as
    `SELECT DISTINCT dataset_id … WHERE dataset_id IS NOT NULL`, one index probe per dataset."""
    run = schema.job_run.alias(f"{name}_first")
    walk = select(func.min(run.c.dataset_id).label("dataset_id")).cte(name, recursive=True)
    following = schema.job_run.alias(f"{name}_next")
    step = select(
        select(func.min(following.c.dataset_id))
        .where(following.c.dataset_id > walk.c.dataset_id)
        .scalar_subquery()
    ).where(walk.c.dataset_id.is_not(None))
    return walk.union_all(step)


def latest_starts(job: ColumnElement[str], name: str) -> list[ColumnElement[datetime]]:
    """Columns (correlated with the query that gives job) of the latest start of job's runs of each outcome
    a run can have (storage.jobs.OUTCOMES, which every writer of a run's outcome checks): the latest start
    of any of its runs is the greatest of those that are not null, as `SELECT max(started_at) … GROUP BY
    job` gives it. Each is one probe of ix_job_run_job_outcome_started_at (job, outcome, started_at), read
    from the end of the job's entries of that outcome; `max(started_at) WHERE job = …` alone would read
    every entry of the job (no index has (job, started_at))."""
    run = schema.job_run.alias(f"{name}_start")
    return [
        select(func.max(run.c.started_at))
        .where(run.c.job == job, run.c.outcome == outcome)
        .scalar_subquery()
        .label(f"{name}_{outcome}")
        for outcome in OUTCOMES
    ]
