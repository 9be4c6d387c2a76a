"""The `engine` fixture's fresh databases (tests/conftest.py, MigratedTemplates) are what migrating an empty
database to head makes, on SQLite and on PostgreSQL: the same tables, columns, keys, indexes and
constraints, and the same Alembic version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text

from storage.engine import head_revision, open_database
from tests.conftest import BACKENDS, MigratedTemplates, fresh_database


def _written(items: list[Any]) -> list[str]:
    """Constraints or indexes as sorted text (an index's SQLite WHERE is a clause object: its SQL)."""
    return sorted(json.dumps(item, sort_keys=True, default=str) for item in items)


def _described(engine: Engine) -> dict[str, Any]:
    """Everything the inspector says of the database's tables, and its Alembic version."""
    found = inspect(engine)
    tables: dict[str, Any] = {}
    for table in sorted(found.get_table_names()):
        tables[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default")), c.get("autoincrement"))
                for c in found.get_columns(table)
            ],
            "primary key": _written([found.get_pk_constraint(table)]),
            "foreign keys": _written(found.get_foreign_keys(table)),
            "indexes": _written(found.get_indexes(table)),
            "unique": _written(found.get_unique_constraints(table)),
            "checks": _written(found.get_check_constraints(table)),
        }
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return {"tables": tables, "version": version, "views": sorted(found.get_view_names())}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_fresh_database_of_the_fixture_is_what_migrating_makes(
    backend: str, tmp_path: Path, migrated_templates: MigratedTemplates
) -> None:
    with fresh_database(backend, tmp_path) as migrated_url, fresh_database(backend, tmp_path) as filled_url:
        migrated = open_database(migrated_url)  # Alembic, as every command does
        migrated_templates.fill(filled_url)
        filled = open_database(filled_url)
        try:
            expected = _described(migrated)
            assert expected["version"] == [head_revision()] and len(expected["tables"]) > 10
            assert _described(filled) == expected
        finally:
            migrated.dispose()
            filled.dispose()


def test_the_fixtures_fresh_database_holds_no_rows_but_the_version(engine: Engine) -> None:
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            count = conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one()
            assert count == (1 if table == "alembic_version" else 0), table
