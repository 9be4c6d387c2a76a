"""storage.engine.migrate as an operator meets it: processes starting together on an empty database (the
scheduler restarted while a cron command runs) migrate it once between them, and a database migrated by a
newer tracker (the code rolled back) is refused naming both versions, nothing changed."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from common.errors import SchemaVersionError
from storage.engine import create_db_engine, head_revision, migrate
from tests.conftest import BACKENDS, fresh_database


def _migrate_in_a_process(url: str, start: multiprocessing.synchronize.Event) -> None:
    engine = create_db_engine(url)
    start.wait(60)
    migrate(engine)
    engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_processes_migrating_an_empty_database_together_all_succeed(backend: str, tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    with fresh_database(backend, tmp_path) as url:
        start = context.Event()
        processes = [context.Process(target=_migrate_in_a_process, args=(url, start)) for _ in range(3)]
        for process in processes:
            process.start()
        start.set()  # all three at once, each past its imports
        for process in processes:
            process.join(120)
        assert [p.exitcode for p in processes] == [0, 0, 0]
        engine = create_db_engine(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
                head_revision()
            ]
        assert "job_run" in inspect(engine).get_table_names()
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_of_a_newer_tracker_is_refused_naming_both_versions(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        engine = create_db_engine(url)
        migrate(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
        with pytest.raises(SchemaVersionError) as refused:
            migrate(engine)
        message = str(refused.value)
        assert "schema version 0099, newer than this tracker's" in message and head_revision() in message
        assert "CommandError" not in message and "nothing was changed" in message
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0099"
        engine.dispose()
