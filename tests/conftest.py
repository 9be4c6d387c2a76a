"""Shared fixtures: a fresh database per test on SQLite and on the PostgreSQL server, and sample data."""

from __future__ import annotations

import functools
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock
from sqlalchemy import Connection, Engine, create_engine, delete, event, insert, make_url, text
from sqlalchemy.exc import OperationalError

from common.payload import Payload, RequestSpec
from report import render_cache
from storage import schema
from storage.engine import create_db_engine, migrate, open_database
from storage.load import DatasetInfo, SourceInfo
from storage.rawstore import RawStore

# Where PYTHONDONTWRITEBYTECODE is set, pytest also stops keeping the test modules it rewrote for its
# assertion messages, and each xdist worker rewrote all of them again at every run (12 s of CPU a worker on
# the 2-core machine, 4 s with them kept, 2026-12-07). They are kept in tests/__pycache__ (ignored by git),
# as dev.py compiles the project's own modules; the processes the tests start keep the environment's choice.
sys.dont_write_bytecode = False

BACKENDS = ["sqlite", "postgresql"]
LOADED_TODAY = date(2026, 11, 27)
PG_ADMIN_URL = os.environ.get("KESTAVA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@functools.cache
def _pg_admin() -> Engine:
    """The test server's engine for making and dropping schemas and databases, one a process (a new engine's
    first connection took 50 ms, and each PostgreSQL test makes and drops one); each checkout pings first,
    for the tests that end the server's sessions."""
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as error:  # pragma: no cover - CI must have PostgreSQL
        engine.dispose()
        pytest.fail(f"PostgreSQL is required for the storage tests and is unreachable: {error}")
    return engine


@contextmanager
def fresh_database(backend: str, folder: Path) -> Iterator[str]:
    """A URL to an empty database: a SQLite file in folder, or a private schema on the PostgreSQL server."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / f'test-{uuid.uuid4().hex[:8]}.sqlite3'}"
        return
    admin = _pg_admin()
    schema_name = f"t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema_name}"'))
    try:
        yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema_name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema_name}" CASCADE'))


@pytest.fixture
def mixed_data_allowed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """KESTAVA_ALLOW_MIXED_DATA=true, as a test database may set it: for a test that loads live data (from a
    local server) beside the bundled demo snapshot (storage.data_kind refuses that otherwise)."""
    from common.config import get_settings

    monkeypatch.setenv("KESTAVA_ALLOW_MIXED_DATA", "true")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database, on SQLite and on PostgreSQL."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


class LoadedTemplates:
    """The bundled snapshot ingested and computed once per backend in a test run, shared by the run's
    xdist workers, and copied for each fixture that wants it loaded (a load takes seconds, a copy 0.1–0.5 s):
    a SQLite file copied, a PostgreSQL database made with CREATE DATABASE … TEMPLATE.

    The first worker to want a backend makes it under a file lock in folder (shared by the workers) and
    leaves a marker; the others wait for the lock and use it. The PostgreSQL template is named after the
    run (template_name), and the controller drops it when the run ends (pytest_sessionfinish)."""

    def __init__(self, folder: Path, run_id: str) -> None:
        self.folder = folder
        self.run_id = run_id
        self.made: dict[str, str] = {}  # backend: the SQLite file, or the PostgreSQL database's name

    def _make(self, backend: str) -> str:
        from indicators.engine import compute
        from ingest.run import ingest

        folder = self.folder / backend
        if folder.exists():  # a worker that failed while making it: start again
            shutil.rmtree(folder)
        folder.mkdir()
        if backend == "sqlite":
            name = str(folder / "loaded.sqlite3")
            url = f"sqlite:///{name}"
        else:
            name = template_name(self.run_id)
            with _pg_admin().connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        engine = open_database(url)
        try:
            outcomes = ingest(engine, RawStore(folder / "raw"), offline=True)
            assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
            summary = compute(engine, today=LOADED_TODAY)
            assert not summary.errors, summary.errors
        finally:
            engine.dispose()  # a template database takes no copy while a session is connected to it
        return name

    def _template(self, backend: str) -> str:
        """The backend's template, made by the first worker that wants it (the others wait for it)."""
        if backend not in self.made:
            marker = self.folder / f"{backend}.made"
            with FileLock(self.folder / f"{backend}.lock"):
                if not marker.exists():
                    marker.write_text(self._make(backend), encoding="utf-8")
            self.made[backend] = marker.read_text(encoding="utf-8")
        return self.made[backend]

    @contextmanager
    def copy(self, backend: str, folder: Path) -> Iterator[str]:
        """A URL to a database of its own holding the bundled data loaded and computed, with a copy of its
        raw store in folder / "raw" (the stored paths are relative to the store's root)."""
        template = self._template(backend)
        shutil.copytree(self.folder / backend / "raw", folder / "raw")
        if backend == "sqlite":
            target = folder / f"loaded-{uuid.uuid4().hex[:8]}.sqlite3"
            shutil.copyfile(template, target)
            yield f"sqlite:///{target}"
            return
        name = f"kt_{uuid.uuid4().hex[:12]}"
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        try:
            yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        finally:
            DROPS.drop(name)


class DatabaseDrops:
    """The copies' DROP DATABASE, done by a thread of this process while the tests go on: PostgreSQL 15
    makes each DROP DATABASE wait for an immediate checkpoint of the whole server (up to 10 s a drop with the
    suite's other workers writing, 2026-12-07), time no test needs to wait. Each drop ends its database's
    sessions first (WITH (FORCE)); pytest_sessionfinish waits for the drops still queued."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future[None]] = []

    @staticmethod
    def _drop(name: str) -> None:
        with _pg_admin().connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def drop(self, name: str) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-database")
        self._pending.append(self._pool.submit(self._drop, name))

    def wait(self) -> None:
        """Wait for every drop queued; the first that failed is raised (its database was left behind)."""
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()


DROPS = DatabaseDrops()


def forget_computed(engine: Engine) -> None:
    """Delete what compute wrote (values, assessments, indicator states): a template's copy as ingested."""
    with engine.begin() as conn:
        for table in (schema.indicator_value, schema.assessment, schema.indicator_state):
            conn.execute(delete(table))


def template_name(run_id: str) -> str:
    """The PostgreSQL template database of a test run."""
    return f"kt_tpl_{run_id[:16]}"


def pytest_configure(config: pytest.Config) -> None:
    """The controller names the run (xdist hands the name to its workers), so that they share templates,
    and the cache of drawn charts (RENDER_CACHE)."""
    if not hasattr(config, "workerinput") and config.getoption("testrunuid", None) is None:
        config.option.testrunuid = uuid.uuid4().hex
    if not os.environ.get(render_cache.SETTING):
        os.environ[render_cache.SETTING] = str(render_cache_folder(_run_id(config)))


def render_cache_folder(run_id: str) -> Path:
    """The run's cache of drawn charts (report.render_cache), shared by its workers and the processes they
    start: the same bundled data make the same chart specs in some thirty test modules, and drawing them
    (vl-convert) was most of each report's time. The tests of drawing itself turn it off."""
    return Path(tempfile.gettempdir()) / f"kestava-render-cache-{run_id[:16]}"


def _run_id(config: pytest.Config) -> str:
    """The run's name: the controller's, handed to each xdist worker (pytest_configure)."""
    workerinput = getattr(config, "workerinput", None)
    return str(workerinput["testrunuid"] if workerinput else config.getoption("testrunuid"))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Each process waits for its copies' drops (DatabaseDrops); the controller (or the only process) then
    drops the run's PostgreSQL template, once every worker is done."""
    DROPS.wait()
    if hasattr(session.config, "workerinput"):
        return
    shutil.rmtree(render_cache_folder(_run_id(session.config)), ignore_errors=True)
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(
                text(f'DROP DATABASE IF EXISTS "{template_name(_run_id(session.config))}" WITH (FORCE)')
            )
    except OperationalError:  # no server: nothing was made on it (the tests that need it have failed)
        pass
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def loaded_templates(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> LoadedTemplates:
    """The bundled data loaded once per backend in this test run, to be copied (LoadedTemplates): in the
    folder the run's workers share (the parent of each worker's own temporary folder)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if hasattr(request.config, "workerinput") else base
    folder = shared / "loaded-templates"
    folder.mkdir(exist_ok=True)
    return LoadedTemplates(folder, _run_id(request.config))


@pytest.fixture(scope="module", params=BACKENDS)
def loaded_engine(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    loaded_templates: LoadedTemplates,
) -> Iterator[Engine]:
    """A database loaded from the bundled snapshot and computed, shared by a module's read-only tests."""
    folder = tmp_path_factory.mktemp("loaded")
    with loaded_templates.copy(request.param, folder) as url:
        engine = open_database(url)
        yield engine
        engine.dispose()


Recorded = list[tuple[str, Any, bool]]  # (statement, parameters, executemany) as the driver was given them


class MigratedTemplates:
    """Fresh databases made as migrating them to head makes them, without running the migrations for each
    test (Alembic takes 0.1 s on SQLite, 0.4–1 s on PostgreSQL, and about 250 tests of each backend want a
    migrated database): on SQLite a copy of a file migrated once per worker; on PostgreSQL the statements
    that migrating a schema of its own sent to the driver, recorded once per worker, sent again in the same
    order to the test's schema (the URL's search_path), in one transaction as the migration runs.
    tests/test_migrated_template.py checks that both give what migrating gives."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._sqlite: Path | None = None
        self._statements: Recorded | None = None

    def sqlite_template(self) -> Path:
        """A SQLite file migrated to head (open_database), made on first use."""
        if self._sqlite is None:
            path = self.folder / "migrated.sqlite3"
            open_database(f"sqlite:///{path}").dispose()  # the last connection closed: no -wal file left
            self._sqlite = path
        return self._sqlite

    def statements(self) -> Recorded:
        """What migrating an empty PostgreSQL schema to head sent to the driver, recorded on first use."""
        if self._statements is None:
            recorded: Recorded = []

            def record(
                _conn: Connection, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
            ) -> None:
                recorded.append((statement, parameters, many))

            with fresh_database("postgresql", self.folder) as url:
                engine = create_db_engine(url)
                event.listen(engine, "before_cursor_execute", record)
                try:
                    migrate(engine)
                finally:
                    engine.dispose()
            assert any("CREATE TABLE" in statement for statement, _, _ in recorded), recorded
            self._statements = recorded
        return self._statements

    def fill(self, url: str) -> None:
        """Make the empty database at url (a db_url) what migrating it to head makes."""
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            assert parsed.database and not Path(parsed.database).exists(), url
            shutil.copyfile(self.sqlite_template(), parsed.database)
            return
        engine = create_db_engine(url)
        try:
            with engine.begin() as conn:
                cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                for statement, parameters, many in self.statements():
                    if many:
                        cursor.executemany(statement, parameters)
                    else:
                        cursor.execute(statement, parameters)
                cursor.close()
        finally:
            engine.dispose()


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> MigratedTemplates:
    """This worker's migrated SQLite file and recorded PostgreSQL migration (MigratedTemplates)."""
    return MigratedTemplates(tmp_path_factory.mktemp("migrated"))


@pytest.fixture
def engine(db_url: str, migrated_templates: MigratedTemplates) -> Iterator[Engine]:
    """An engine on a fresh database migrated to head (made so by MigratedTemplates; open_database finds it
    at head and migrates nothing)."""
    migrated_templates.fill(db_url)
    engine = open_database(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def raw_store(tmp_path: Path) -> RawStore:
    return RawStore(tmp_path / "raw")


@pytest.fixture
def dataset_info() -> DatasetInfo:
    source = SourceInfo("hsy", "HSY", "CC BY 4.0", "HSY", "https://hri.fi/")
    return DatasetInfo("hsy_emissions", "Päästöt pääkaupunkiseudulla", "ckan_xlsx", source)


def insert_snapshot_row(conn: Connection, fetched_at: datetime, *, is_demo: bool) -> None:
    """One snapshot row of a dataset `d` (its source and dataset rows too), as a load of that kind writes
    it: for tests of what a database holds, not of the load itself."""
    conn.execute(
        insert(schema.source).values(id="s", publisher="S", licence="CC", attribution="S", homepage="-")
    )
    conn.execute(insert(schema.dataset).values(id="d", source_id="s", title="D", protocol="p"))
    conn.execute(
        insert(schema.snapshot).values(
            dataset_id="d",
            fetched_at=fetched_at,
            sha256="0" * 64,
            reader_version="1",
            is_demo=is_demo,
            rows_added=1,
            rows_revised=0,
            rows_unchanged=0,
        )
    )


def make_payload(
    body: bytes, when: datetime | None = None, url: str = "https://example.test/data.xlsx"
) -> Payload:
    """A payload as a connector would return it."""
    return Payload(
        request=RequestSpec("GET", url, (("id", "x"),)),
        status=200,
        headers={"content-type": "application/octet-stream", "etag": '"v1"'},
        body=body,
        fetched_at=when or datetime.now(UTC),
        final_url=url,
    )


# The test files that take longest, longest first (their tests' wall times summed per worker, a plugin
# timing each test, on the 2-core machine, 2026-12-08: test_report.py 162 s of 2 120 s in all, down to
# test_data_kind.py 24 s; the proportions are what count): each file runs whole on one worker (dev.py:
# --dist loadfile; pyproject.toml's --no-loadscope-reorder keeps this order, else xdist deals the files out
# by their number of tests), and one of these dealt out last would leave the other workers idle for a
# minute or more at the end.
LONGEST_FIRST = (
    "test_report.py",
    "test_report_retention.py",
    "test_report_accessibility_browser.py",
    "test_site_browser.py",
    "test_preflight.py",
    "test_site.py",
    "test_cli_locks.py",
    "test_report_asof.py",
    "test_scheduler.py",
    "test_revisions.py",
    "test_kill_trials.py",
    "test_plausibility.py",
    "test_phone_layouts.py",
    "test_job_history_health_reads.py",
    "test_ingest_run.py",
    "test_charts.py",
    "test_report_browser.py",
    "test_report_csp.py",
    "test_rejected_payloads.py",
    "test_report_atomic.py",
    "test_outlook_consistency.py",
    "test_scheduler_watch.py",
    "test_untranslated.py",
    "test_cli.py",
    "test_provisional.py",
    "test_data_kind.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Collected items with the longest files first (LONGEST_FIRST), each file's items in their order."""
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
