"""flags of indicator_value: the source status flags behind an observed value (provisional, estimated, …)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


# a nullable column added in place on both backends; the next `kestava compute` recomputes every indicator
# and fills it (indicators.engine.ENGINE_VERSION changed with it, and it is part of every input hash)
def upgrade() -> None:
    op.add_column("indicator_value", sa.Column("flags", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("indicator_value", "flags")
