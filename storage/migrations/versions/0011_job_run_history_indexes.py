"""job_run: indexes for the reads of its history (status, the health check, the weekly report)

`kestava status` and the scheduler's daily health check read each job's and each dataset's newest runs,
and the weekly report the failed and rejected runs of its week: with only the index on job, each read
scanned every run ever recorded (the months-of-operation audit: status 27 ms at one year of the
scheduler's history on SQLite, 95 ms at five; bench/bench_job_history.py measures them).
ix_job_run_job (job) becomes (job, id, outcome): on SQLite the same order (its rowid is id), on PostgreSQL
the order storage.newest_runs walks; (dataset_id, outcome, finished_at, job) serves the per-dataset reads
from the index alone, and (started_at) the reads of a period. No row changes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 19:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# (name, columns) as storage.schema's naming convention names them
INDEXES = (
    ("ix_job_run_job_id_outcome", ["job", "id", "outcome"]),
    ("ix_job_run_dataset_id_outcome_finished_at_job", ["dataset_id", "outcome", "finished_at", "job"]),
    ("ix_job_run_started_at", ["started_at"]),
)


# plain CREATE / DROP INDEX on both backends (no batch rebuild of the table: nothing else changes)
def upgrade() -> None:
    for name, columns in INDEXES:
        op.create_index(name, "job_run", columns, unique=False)
    op.drop_index("ix_job_run_job", table_name="job_run")  # the first of ix_job_run_job_id_outcome's


def downgrade() -> None:
    op.create_index("ix_job_run_job", "job_run", ["job"], unique=False)
    for name, _ in reversed(INDEXES):
        op.drop_index(name, table_name="job_run")
