"""job_run: indexes for each dataset's newest runs (freshness) and the last compute's start (pending)

After migration 0011, freshness' newest ingest runs of each dataset (`kestava status`, the health check,
the weekly report) still read every ingest run (`max(id) … GROUP BY dataset_id`), and the datasets compute
must catch up read every compute run for the last one's start (SQLite): at five years of the scheduler's
history 55 and 60 ms on SQLite (bench/bench_job_history.py). (dataset_id, id) lets storage.newest_runs walk
each dataset's runs newest first, and (job, outcome, started_at) gives the last start of a job's runs of an
outcome in one probe. No row changes.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 20:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# (name, columns) as storage.schema's naming convention names them
INDEXES = (
    ("ix_job_run_dataset_id_id", ["dataset_id", "id"]),
    ("ix_job_run_job_outcome_started_at", ["job", "outcome", "started_at"]),
)


# plain CREATE / DROP INDEX on both backends (no batch rebuild of the table: nothing else changes)
def upgrade() -> None:
    for name, columns in INDEXES:
        op.create_index(name, "job_run", columns, unique=False)


def downgrade() -> None:
    for name, _ in reversed(INDEXES):
        op.drop_index(name, table_name="job_run")
