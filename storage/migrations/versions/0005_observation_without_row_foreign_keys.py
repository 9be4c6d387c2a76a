"""observation: no per-row foreign keys (the loader checks every load's references as a set instead)

On PostgreSQL a foreign key is checked row by row (an index probe and a key-share lock on the referenced
row for every observation): four fifths of a first load of a million rows went to it. The references
are checked by storage.load for each load in one set-based query inside the load's transaction
(storage.load.check_references); series and snapshots are never deleted.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FOREIGN_KEYS = (
    ("fk_observation_series_id_series", "series", ["series_id"]),
    ("fk_observation_snapshot_id_snapshot", "snapshot", ["snapshot_id"]),
)


def _current_index() -> None:
    op.create_index(
        "ix_observation_current",
        "observation",
        ["series_id", "period"],
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
        sqlite_where=sa.text("valid_to IS NULL"),
    )


def upgrade() -> None:
    # the partial index is dropped and made again by name: SQLite's table rebuild would not keep its WHERE
    op.drop_index("ix_observation_current", table_name="observation")
    with op.batch_alter_table("observation") as batch:  # SQLite rebuilds the table; PostgreSQL alters it
        for name, _table, _columns in FOREIGN_KEYS:
            batch.drop_constraint(name, type_="foreignkey")
    _current_index()


def downgrade() -> None:
    op.drop_index("ix_observation_current", table_name="observation")
    with op.batch_alter_table("observation") as batch:
        for name, table, columns in FOREIGN_KEYS:
            batch.create_foreign_key(name, table, columns, ["id"])
    _current_index()
