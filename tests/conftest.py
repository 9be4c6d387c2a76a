"""Shared fixtures: a fresh database per test on SQLite and on the PostgreSQL server, and sample data."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from common.payload import Payload, RequestSpec
from storage.engine import open_database
from storage.load import DatasetInfo, SourceInfo
from storage.rawstore import RawStore

BACKENDS = ["sqlite", "postgresql"]
LOADED_TODAY = date(2026, 11, 27)
PG_ADMIN_URL = os.environ.get("KESTAVA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_admin() -> Engine:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as error:  # pragma: no cover - CI must have PostgreSQL
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
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database, on SQLite and on PostgreSQL."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="module", params=BACKENDS)
def loaded_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A database loaded from the bundled snapshot and computed, shared by a module's read-only tests."""
    from indicators.engine import compute
    from ingest.run import ingest

    folder = tmp_path_factory.mktemp("loaded")
    with fresh_database(request.param, folder) as url:
        engine = open_database(url)
        outcomes = ingest(engine, RawStore(folder / "raw"), offline=True)
        assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
        summary = compute(engine, today=LOADED_TODAY)
        assert not summary.errors, summary.errors
        yield engine
        engine.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh database migrated to head."""
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
