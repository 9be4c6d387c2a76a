"""indicator input state, for recomputing only what changed inputs affect

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "indicator_state",
        sa.Column("indicator_id", sa.String(length=128), nullable=False),
        sa.Column("input_hash", sa.String(length=64), nullable=False),
        sa.Column("vintage", sa.DateTime(), nullable=True),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("indicator_id", name=op.f("pk_indicator_state")),
    )


def downgrade() -> None:
    op.drop_table("indicator_state")
