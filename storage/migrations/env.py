"""Alembic environment: runs migrations on the connection handed over by storage.engine.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from storage.schema import with_current_index

config = context.config
metadata = with_current_index()


def run_migrations_online() -> None:
    """Run on the connection in config.attributes, or on a fresh engine from sqlalchemy.url."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {}, prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as fresh:
        context.configure(connection=fresh, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
