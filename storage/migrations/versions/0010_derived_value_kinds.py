"""indicator_value: the values no source published are stored with their own kind, not as observed

compensation_need (derive kind residual: the value the −80 % target leaves) becomes target_derived and
carbon_sink_estimate (share_of_year: an assumed share of one year's emissions) assumption, the kinds the
API and the export gave them already; a direct SQL reader now sees them too. Only the kind column of their
observed rows changes: no other table stores a value's kind (assessments, indicator_state and the
observations have none), and a value's kind is no part of any revision count.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# the catalogue's indicators of those derive kinds when this migration was written (indicators.catalogue
# DERIVED_VALUE_KINDS; a migration names what it rewrites, the engine writes the kinds from the catalogue)
KINDS = {"compensation_need": "target_derived", "carbon_sink_estimate": "assumption"}

_value = sa.table(
    "indicator_value",
    sa.column("indicator_id", sa.String),
    sa.column("kind", sa.String),
)


def _rewrite(indicator_id: str, old: str, new: str) -> None:
    """One indicator's rows of kind old become kind new (plain UPDATE on both backends: the kind is part of
    the primary key, and no row of kind new exists for these indicators before, nor of old after)."""
    op.execute(
        _value.update().where(_value.c.indicator_id == indicator_id, _value.c.kind == old).values(kind=new)
    )


def upgrade() -> None:
    for indicator_id, kind in KINDS.items():
        _rewrite(indicator_id, "observed", kind)


def downgrade() -> None:
    for indicator_id, kind in KINDS.items():
        _rewrite(indicator_id, kind, "observed")
