"""rejected payloads: kept for a person to accept (kestava accept), with who, why and when

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rejected_payload",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dataset_id", sa.String(length=128), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("first_rejected_at", sa.DateTime(), nullable=False),
        sa.Column("last_rejected_at", sa.DateTime(), nullable=False),
        sa.Column("times", sa.Integer(), nullable=False),
        sa.Column("reader_version", sa.String(length=64), nullable=False),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("payloads", sa.Text(), nullable=False),
        sa.Column("violations", sa.Text(), nullable=False),
        sa.Column("acceptable", sa.Boolean(), nullable=False),
        sa.Column("accepted_by", sa.String(length=255), nullable=True),
        sa.Column("accepted_why", sa.Text(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(), nullable=True),
        sa.Column("snapshot_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_payload")),
        sa.UniqueConstraint("dataset_id", "sha256", name=op.f("uq_rejected_payload_dataset_id_sha256")),
    )


def downgrade() -> None:
    op.drop_table("rejected_payload")
