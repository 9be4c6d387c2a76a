"""rows_withdrawn of snapshot and job_run: observations a load closed as its payload no longer held them

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


# plain ALTER TABLE on both backends (SQLite adds and drops a column in place since 3.35): a batch rebuild
# of snapshot would drop a table that payload rows refer to
def upgrade() -> None:
    for table in ("snapshot", "job_run"):
        op.add_column(table, sa.Column("rows_withdrawn", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    for table in ("job_run", "snapshot"):
        op.drop_column(table, "rows_withdrawn")
