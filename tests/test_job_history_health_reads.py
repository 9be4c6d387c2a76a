"""The health check's and freshness' reads of job_run's history (ingest.freshness' newest ingest runs, the
failing jobs, the datasets compute must catch up): the answers of reading every run, from the indexes."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine, delete, inspect, select, text

from ingest import freshness
from kestava import alerts
from kestava.alerts import alert_failing_jobs
from schedule import catchup, compute_job
from schedule.compute_job import pending_datasets
from storage import schema
from storage.engine import create_db_engine, migrate
from storage.newest_runs import newest_run_ids

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from job_history import END, fill_job_runs, history_rows, run_row

from tests.test_job_history_reads import index_walk_plans

DECISIVE = ("success", "unchanged", "failed")
CHANGES = ("rows_added", "rows_revised", "rows_withdrawn", "rows_confirmed", "rows_reflagged")
LATE = END + timedelta(hours=2)  # after the history's newest run
# the recursive CTEs these reads walk, and the row their first step selects from (scanned, not job_run)
CTES = ("newest_ended", "newest_fetched", "decisive", "changed", "CONSTANT")


def _run(job: str, dataset: str | None, started: datetime, outcome: str, **extra: Any) -> dict[str, Any]:
    return {**dict.fromkeys(CHANGES, 0), **run_row(job, dataset, started, outcome, **extra)}


def _corner_runs() -> list[dict[str, Any]]:
    """Runs where the newest could be told wrongly (recorded after the history, in this order)."""
    at = LATE
    return [
        # a dataset that only ever failed: a last outcome, no last fetch
        _run("ingest:always_down", "always_down", at, "failed", error="503 first"),
        _run("ingest:always_down", "always_down", at + timedelta(minutes=1), "rejected", error="jump"),
        # a fetch recorded last without its end (NULL finished_at): the newest run, but no fetch; the one
        # before it is the last fetch; a failure with no end
        _run("ingest:hsy_emissions", "hsy_emissions", at, "success", rows_added=3),
        {
            **_run("ingest:hsy_emissions", "hsy_emissions", at + timedelta(minutes=2), "unchanged"),
            "finished_at": None,
        },
        {
            **_run("ingest:syke_population", "syke_population", at, "failed", error="no end"),
            "finished_at": None,
        },
        # still running: no outcome yet, not read
        {**_run("ingest:oecd_ghg", "oecd_ghg", at + timedelta(minutes=3), "running"), "finished_at": None},
        # ties in finished_at: a success and a failure of one dataset ending at the same moment
        {**_run("ingest:traficom_cars", "traficom_cars", at, "success", rows_confirmed=2), "finished_at": at},
        {**_run("ingest:traficom_cars", "traficom_cars", at, "failed", error="tie"), "finished_at": at},
        # a job that is no ingest, with a dataset: not an ingest run of it
        _run("probe", "statfin_population", at + timedelta(minutes=4), "failed", error="not ingest"),
        # jobs whose last decisive run failed, followed by runs that decide nothing (busy, rejected, running)
        _run("site", None, at, "failed", error="disk full"),
        _run("site", None, at + timedelta(minutes=5), "busy", error="busy, already running by tracker-2:1"),
        _run("ingest:eurostat_urb_cenv", "eurostat_urb_cenv", at, "failed", error="timeout"),
        _run("ingest:eurostat_urb_cenv", "eurostat_urb_cenv", at + timedelta(minutes=1), "rejected"),
        # a job that failed and then succeeded: not failing
        _run("report:weekly", None, at, "failed", error="render"),
        _run("report:weekly", None, at + timedelta(minutes=6), "success"),
    ]


@pytest.fixture
def history(engine: Engine) -> list[dict[str, Any]]:
    """A month of the scheduler's history with its corner cases (a retired dataset among them), stored; the
    rows as stored, in id order."""
    rows = [{**dict.fromkeys(CHANGES, 0), **r} for r in history_rows(years=1 / 12)] + _corner_runs()
    fill_job_runs(engine, rows)
    return _stored(engine)


def _stored(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(schema.job_run).order_by(schema.job_run.c.id))]


def _expected_ingest_runs(
    rows: list[dict[str, Any]], as_of: datetime | None
) -> list[tuple[str, datetime | None, str, str | None]]:
    """Per dataset its newest finished ingest run and its newest that fetched, in id order, from every row."""
    ended = [
        r
        for r in rows
        if r["dataset_id"] is not None
        and r["outcome"] != "running"
        and r["job"].startswith("ingest:")
        and (as_of is None or (r["finished_at"] is not None and r["finished_at"] <= as_of))
    ]
    kept: set[int] = set()
    for dataset in {r["dataset_id"] for r in ended}:
        mine = [r for r in ended if r["dataset_id"] == dataset]
        kept.add(max(r["id"] for r in mine))
        fetched = [
            r["id"] for r in mine if r["outcome"] in ("success", "unchanged") and r["finished_at"] is not None
        ]
        kept.update(fetched[-1:])
    return [(r["dataset_id"], r["finished_at"], r["outcome"], r["error"]) for r in rows if r["id"] in kept]


def test_freshness_reads_each_datasets_newest_runs_as_every_run_gives_them(
    engine: Engine, history: list[dict[str, Any]]
) -> None:
    """Now and as of several moments: before any run, within the history, at a run's end exactly (it counts)
    and at the tie of two ends."""
    some_end = next(r["finished_at"] for r in reversed(history) if r["job"] == "ingest:eurostat_sdg_12_41")
    moments = [None, END - timedelta(days=60), END - timedelta(days=3), some_end, LATE, LATE + timedelta(1)]
    with engine.connect() as conn:
        for as_of in moments:
            expected = _expected_ingest_runs(history, as_of)
            assert freshness._ingest_runs(conn, as_of) == expected, as_of
    now = _expected_ingest_runs(history, None)
    assert [r for r in now if r[0] == "always_down"] == [
        ("always_down", LATE + timedelta(minutes=1, seconds=3), "rejected", "jump")
    ]
    hsy = [r for r in now if r[0] == "hsy_emissions"]
    assert [(r[1], r[2]) for r in hsy] == [(LATE + timedelta(seconds=3), "success"), (None, "unchanged")]
    assert [r[2] for r in now if r[0] == "traficom_cars"] == ["success", "failed"]  # the tie: both, by id
    assert any(r[0] == "retired_source" for r in now)
    assert _expected_ingest_runs(history, END - timedelta(days=60)) == []


def test_failing_jobs_are_those_whose_newest_decisive_run_failed(
    engine: Engine, history: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    alerted: list[tuple[str, str | None, str | None]] = []
    monkeypatch.setattr(alerts, "_failing", lambda _alerter, *found: alerted.append(found))
    alert_failing_jobs(SimpleNamespace(engine=engine, secrets=[]))  # type: ignore[arg-type]
    expected = []
    for job in sorted({r["job"] for r in history}):
        decisive = [r for r in history if r["job"] == job and r["outcome"] in DECISIVE]
        if decisive and decisive[-1]["outcome"] == "failed":
            expected.append((job, decisive[-1]["error"], decisive[-1]["dataset_id"]))
    assert alerted == expected
    failing = {job for job, _, _ in alerted}
    assert {"site", "ingest:eurostat_urb_cenv", "ingest:always_down", "ingest:retired_source"} <= failing
    assert "report:weekly" not in failing


def _expected_pending(rows: list[dict[str, Any]]) -> list[str]:
    computes = [r["started_at"] for r in rows if r["job"] == "compute" and r["outcome"] == "success"]
    last = max(computes, default=None)
    return sorted(
        {
            r["dataset_id"]
            for r in rows
            if r["job"].startswith("ingest:")
            and r["outcome"] == "success"
            and sum(r[c] for c in CHANGES) > 0
            and r["dataset_id"] is not None
            and (last is None or (r["finished_at"] is not None and r["finished_at"] >= last))
        }
    )


def test_pending_datasets_are_those_changed_since_the_last_compute_started(
    engine: Engine, history: list[dict[str, Any]]
) -> None:
    """After the last compute: a change ending at its start exactly counts, one with no end does not, a
    flag alone counts; with no compute at all, every dataset that ever changed (with an end or not)."""
    compute_at = LATE + timedelta(minutes=10)
    later = [
        _run("compute", None, compute_at, "success"),
        _run("compute", None, compute_at + timedelta(hours=1), "failed", error="not a success"),
        {
            **_run("ingest:oecd_ghg", "oecd_ghg", compute_at, "success", rows_added=1),
            "finished_at": compute_at,
        },
        {
            **_run("ingest:oecd_pt_access", "oecd_pt_access", compute_at, "success", rows_added=1),
            "finished_at": None,
        },
        _run("ingest:covenant_targets", "covenant_targets", compute_at, "success", rows_reflagged=4),
        _run("ingest:syke_emissions", "syke_emissions", compute_at, "unchanged", rows_unchanged=5),
        _run(
            "ingest:hsy_emissions",
            "hsy_emissions",
            compute_at - timedelta(seconds=10),
            "success",
            rows_added=9,
        ),
        _run("probe", "eurostat_sdg_12_41", compute_at, "success", rows_added=1),
    ]
    fill_job_runs(engine, later)
    rows = _stored(engine)
    assert pending_datasets(engine) == _expected_pending(rows) == ["covenant_targets", "oecd_ghg"]
    with engine.begin() as conn:
        conn.execute(delete(schema.job_run).where(schema.job_run.c.job == "compute"))
    rows = _stored(engine)
    assert pending_datasets(engine) == _expected_pending(rows)
    assert {"oecd_pt_access", "hsy_emissions", "traficom_cars"} <= set(_expected_pending(rows))


def test_the_health_reads_use_the_indexes_not_a_scan(engine: Engine) -> None:
    """EXPLAIN (EXPLAIN QUERY PLAN on SQLite) on a year of history: every access to job_run goes through an
    index (on PostgreSQL after ANALYZE, as autovacuum does; SQLite has no statistics)."""
    fill_job_runs(engine, history_rows(years=1))
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE job_run"))
    decisive = newest_run_ids("decisive", outcomes=DECISIVE)
    reads = {
        "ingest runs": freshness._INGEST_RUNS,
        "ingest runs as of": freshness._ingest_runs_query(END - timedelta(days=3)),
        "failing jobs": select(schema.job_run.c.job).where(schema.job_run.c.id.in_(select(decisive.c.id))),
        "pending": compute_job._PENDING,
    }
    joined = index_walk_plans(engine, reads, CTES)
    assert "ix_job_run_dataset_id_id" in joined["ingest runs"]
    assert "ix_job_run_dataset_id_id" in joined["ingest runs as of"]
    assert "ix_job_run_job_id_outcome" in joined["failing jobs"]
    assert "ix_job_run_dataset_id_outcome_finished_at_job" in joined["pending"]
    # the last compute's start: one probe (PostgreSQL may instead walk the starts back to the newest compute)
    last_start = ["ix_job_run_job_outcome_started_at"]
    last_start += ["ix_job_run_started_at"] if engine.dialect.name == "postgresql" else []
    assert any(index in joined["pending"] for index in last_start), joined["pending"]


def test_migration_0012_adds_the_dataset_and_last_start_indexes_and_its_downgrade_drops_them(
    db_url: str,
) -> None:
    from alembic import command

    from storage.engine import alembic_config

    engine = create_db_engine(db_url)

    def to(revision: str, step: str = "upgrade") -> None:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            getattr(command, step)(config, revision)

    def indexes() -> set[str]:
        return {str(i["name"]) for i in inspect(engine).get_indexes("job_run")}

    def rows() -> list[tuple[Any, ...]]:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(select(schema.job_run).order_by(schema.job_run.c.id))]

    added = {"ix_job_run_dataset_id_id", "ix_job_run_job_outcome_started_at"}
    try:
        to("0011")
        fill_job_runs(engine, history_rows(years=1 / 52))
        before, at_0011 = rows(), indexes()
        assert not added & at_0011
        migrate(engine)
        assert indexes() == at_0011 | added
        columns = {str(i["name"]): i["column_names"] for i in inspect(engine).get_indexes("job_run")}
        assert columns["ix_job_run_dataset_id_id"] == ["dataset_id", "id"]
        assert columns["ix_job_run_job_outcome_started_at"] == ["job", "outcome", "started_at"]
        assert rows() == before
        to("0011", "downgrade")
        assert indexes() == at_0011 and rows() == before
        migrate(engine)
        assert indexes() == at_0011 | added
    finally:
        engine.dispose()


def _last_runs_read_from_every_run(rows: list[dict[str, Any]]) -> dict[str, tuple[str, str | None, datetime]]:
    """Each job's newest run (the greatest id) and the latest start of any of its runs, from every row."""
    last: dict[str, tuple[str, str | None, datetime]] = {}
    for row in rows:  # in id order: the newest run of a job is its last row
        began = max(row["started_at"], last[row["job"]][2]) if row["job"] in last else row["started_at"]
        last[row["job"]] = (row["outcome"], row["error"], began)
    return last


def test_catchup_reads_each_jobs_last_run_and_latest_start_as_reading_every_run(engine: Engine) -> None:
    """schedule.catchup.last_runs (read at every scheduler start) is `max(id)` and `max(started_at)` per job:
    also where the newest run began before an older one (a look-ahead's runs are recorded at its end, with
    the start of their fetch) and where the latest start is of another outcome than the newest run's."""
    fill_job_runs(engine, history_rows(years=1 / 12))
    early = LATE - timedelta(minutes=30)
    fill_job_runs(
        engine,
        [
            _run("ingest:hsy_emissions", "hsy_emissions", LATE, "busy", error="busy, held by tracker-2:1"),
            _run("ingest:hsy_emissions", "hsy_emissions", early, "unchanged"),  # recorded last, began first
            _run("report:weekly", None, LATE, "failed", error="interrupted: process 1 on tracker-1"),
        ],
    )
    last = catchup.last_runs(engine)
    expected = _last_runs_read_from_every_run(_stored(engine))
    assert {job: (r.outcome, r.error, r.began.replace(tzinfo=None)) for job, r in last.items()} == expected
    assert last["ingest:hsy_emissions"].outcome == "unchanged"
    assert last["ingest:hsy_emissions"].began.replace(tzinfo=None) == LATE  # the busy run's start
    assert all(r.began.tzinfo is UTC for r in last.values())


def test_catchups_read_uses_the_indexes_not_a_scan(engine: Engine) -> None:
    """EXPLAIN (EXPLAIN QUERY PLAN on SQLite) of schedule.catchup.last_runs' read on a year of history: the
    newest run of each job by the walk of ix_job_run_job_id_outcome, its latest start by probes of
    ix_job_run_job_outcome_started_at; no access to job_run reads every run (it was a GROUP BY of all)."""
    fill_job_runs(engine, history_rows(years=1))
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE job_run"))
    joined = index_walk_plans(engine, {"last runs": catchup._LAST_RUNS}, (*CTES, "last_runs"))
    assert "ix_job_run_job_id_outcome" in joined["last runs"]
    assert "ix_job_run_job_outcome_started_at" in joined["last runs"]


def _site_followed_read_from_every_run(rows: list[dict[str, Any]]) -> tuple[str, datetime] | None:
    """The latest end of a successful compute or report of the scheduler's (not trigger cli), and its job,
    from every row: what lost_site had read with `ORDER BY finished_at DESC LIMIT 1` over them all."""
    ended = [
        (r["finished_at"], r["job"])
        for r in rows
        if r["job"] in ("compute", "report:weekly", "report:half")
        and r["outcome"] == "success"
        and r["trigger"] != "cli"
        and r["finished_at"] is not None
    ]
    return None if not ended else (max(ended)[1], max(ended)[0])


def test_lost_sites_read_of_the_last_compute_or_report_is_that_of_reading_every_run(engine: Engine) -> None:
    """schedule.catchup.lost_site (at every scheduler start): the newest end of a compute or report the
    scheduler ran, past a person's newer ones (trigger cli), failures, a success with no end, and a report
    that ended after a compute that began later; whether the site's last run began after it."""
    fill_job_runs(engine, history_rows(years=1 / 12))

    def read() -> tuple[str, datetime] | None:
        with engine.connect() as conn:
            found = conn.execute(catchup._SITE_FOLLOWED).first()
        return None if found is None else (found.job, found.finished_at)

    expected = _site_followed_read_from_every_run(_stored(engine))
    assert expected is not None and read() == expected
    assert catchup.lost_site(engine) is None  # the history's last compute was followed by its site run
    at = LATE
    fill_job_runs(
        engine,
        [
            # the scheduler's report, a long one, and a compute that began after it and ended first
            {**_run("report:weekly", None, at, "success"), "finished_at": at + timedelta(minutes=9)},
            {
                **_run("compute", None, at + timedelta(minutes=1), "success"),
                "finished_at": at + timedelta(minutes=2),
            },
            # newer, none of which the site follows: a person's compute, a failure, a success with no end
            _run("compute", None, at + timedelta(minutes=20), "success", trigger="cli"),
            _run("report:half", None, at + timedelta(minutes=21), "failed", error="render"),
            {**_run("report:half", None, at + timedelta(minutes=22), "success"), "finished_at": None},
        ],
    )
    expected = _site_followed_read_from_every_run(_stored(engine))
    assert read() == expected == ("report:weekly", at + timedelta(minutes=9))
    why = catchup.lost_site(engine)
    assert why is not None and why.startswith("the report:weekly that finished at 2026-12-07 ")
    fill_job_runs(engine, [_run("site", None, at + timedelta(minutes=9), "success")])  # began at its end
    assert catchup.lost_site(engine) is None


def test_lost_sites_read_uses_the_indexes_not_a_scan(engine: Engine) -> None:
    """EXPLAIN (EXPLAIN QUERY PLAN on SQLite) of schedule.catchup.lost_site's read on a year of history: each
    job's newest success read back from its newest start (one probe, of ix_job_run_job_outcome_started_at;
    PostgreSQL may walk a frequent job's back along ix_job_run_started_at), then those (at most three) by
    their primary key. It had read every success of the three jobs and sorted them by their end (on SQLite a
    temporary B-tree, on PostgreSQL a bitmap heap scan sorted: a year's 3 800 runs, growing with history)."""
    fill_job_runs(engine, history_rows(years=1))
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE job_run"))
    plan = index_walk_plans(engine, {"site followed": catchup._SITE_FOLLOWED}, CTES)["site followed"]
    if engine.dialect.name == "sqlite":
        probes = [line for line in plan.splitlines() if line.startswith("SEARCH site_follows_")]
        assert len(probes) == 3, plan
        assert all("USING INDEX ix_job_run_job_outcome_started_at (job=? AND outcome=?)" in p for p in probes)
        assert "SEARCH job_run USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
    else:
        assert plan.count("Index Scan Backward using ") == 3, plan  # each job's from its newest start
        assert "ix_job_run_job_outcome_started_at on job_run site_follows_report_half" in plan, plan
        assert "Index Scan using pk_job_run on job_run" in plan and "(id = ANY (" in plan, plan
        assert "Bitmap Heap Scan" not in plan, plan
