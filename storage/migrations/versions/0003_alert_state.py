"""alert state: one row per alerted problem, for one alert per day and an all-clear on recovery

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Chained after 0002_indicator_state (written concurrently with the same number 0002); the lead may
# rename this file to 0003_alert_state.py.
revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_state",
        sa.Column("problem_key", sa.String(length=255), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_sent", sa.DateTime(), nullable=True),
        sa.Column("last_message", sa.Text(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("problem_key", name=op.f("pk_alert_state")),
    )


def downgrade() -> None:
    op.drop_table("alert_state")
