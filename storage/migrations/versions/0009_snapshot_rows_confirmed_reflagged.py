"""rows_confirmed and rows_reflagged of snapshot and job_run: observations whose flag alone changed

A provisional value published again as final with the same number (confirmed), or another change of flag
alone (reflagged), was counted in rows_revised; rows_revised now counts changed values only. Rows loaded
before this migration keep their counts (0 here, their flag-only changes within rows_revised).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = ("rows_confirmed", "rows_reflagged")


# plain ALTER TABLE on both backends, as 0007 (a batch rebuild of snapshot would drop a table that payload
# rows refer to); storage.load writes the columns only when non-zero, so a database not yet migrated loads
def upgrade() -> None:
    for table in ("snapshot", "job_run"):
        for column in COLUMNS:
            op.add_column(table, sa.Column(column, sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    for table in ("job_run", "snapshot"):
        for column in reversed(COLUMNS):
            op.drop_column(table, column)
