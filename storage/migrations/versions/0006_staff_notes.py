"""staff notes: a person's Markdown note on an indicator for a period, kept with its history (kestava note)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "note",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("indicator_id", sa.String(length=128), nullable=False),
        sa.Column("area", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("lang", sa.String(length=2), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("replaces", sa.Integer(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=255), nullable=True),
        sa.Column("withdrawn_why", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["replaces"], ["note.id"], name=op.f("fk_note_replaces_note")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_note")),
        sa.UniqueConstraint("replaces", name=op.f("uq_note_replaces")),
    )
    op.create_index(op.f("ix_note_indicator_id_area"), "note", ["indicator_id", "area"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_note_indicator_id_area"), table_name="note")
    op.drop_table("note")
