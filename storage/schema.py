"""The database schema (SQLAlchemy Core tables); Alembic migrations create it, this module describes it.

All timestamps are stored as naive UTC. Observations are vintaged: a row is valid from the fetch time of
the snapshot that brought it (`valid_from`) until a later snapshot revised it (`valid_to`, null = current).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

source = Table(
    "source",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("publisher", Text, nullable=False),
    Column("licence", Text, nullable=False),
    Column("attribution", Text, nullable=False),
    Column("homepage", Text, nullable=False),
)

dataset = Table(
    "dataset",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("source_id", String(64), ForeignKey("source.id"), nullable=False),
    Column("title", Text, nullable=False),
    Column("protocol", String(32), nullable=False),
)

snapshot = Table(
    "snapshot",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset_id", String(128), ForeignKey("dataset.id"), nullable=False),
    Column("fetched_at", DateTime, nullable=False),
    Column("sha256", String(64), nullable=False),  # over the payloads' sha256s, in request order
    Column("reader_version", String(64), nullable=False),
    Column("is_demo", Boolean, nullable=False),
    Column("rows_added", Integer, nullable=False),
    Column("rows_revised", Integer, nullable=False),
    Column("rows_unchanged", Integer, nullable=False),
    # observations closed because the payload covered them and no longer held them (storage.load)
    Column("rows_withdrawn", Integer, nullable=False, server_default="0"),
    # observations whose value stayed and whose flag changed: provisional made final (confirmed), or any
    # other flag change (reflagged); rows_revised counts changed values only (storage.load)
    Column("rows_confirmed", Integer, nullable=False, server_default="0"),
    Column("rows_reflagged", Integer, nullable=False, server_default="0"),
    Index(None, "dataset_id", "sha256"),
)

payload = Table(
    "payload",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("snapshot_id", Integer, ForeignKey("snapshot.id"), nullable=False, index=True),
    Column("seq", Integer, nullable=False),
    Column("method", String(8), nullable=False),
    Column("url", Text, nullable=False),
    Column("params", Text, nullable=False),  # JSON list of [name, value] pairs
    Column("request_body", Text),  # canonical JSON of a POST body
    Column("request_key", String(64), nullable=False, index=True),
    Column("fetched_at", DateTime, nullable=False),
    Column("http_status", Integer, nullable=False),
    Column("not_modified", Boolean, nullable=False),
    Column("content_type", Text),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("storage_path", Text, nullable=False),  # relative to the raw store
    UniqueConstraint("snapshot_id", "seq"),
)

series = Table(
    "series",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset_id", String(128), ForeignKey("dataset.id"), nullable=False),
    Column("key", Text, nullable=False),  # canonical JSON of every dimension except period
    Column("area", String(32), nullable=False),
    Column("unit", String(64), nullable=False),
    UniqueConstraint("dataset_id", "key"),
    Index(None, "dataset_id", "area"),
)

observation = Table(
    "observation",
    metadata,
    # no ForeignKey on the two references: checked per load as a set (storage.load.check_references)
    Column("series_id", Integer, primary_key=True),
    Column("period", String(16), primary_key=True),
    Column("snapshot_id", Integer, primary_key=True),
    Column("value", Float),
    Column("flag", String(16)),
    Column("valid_from", DateTime, nullable=False),
    Column("valid_to", DateTime),
    # and the partial unique index ix_observation_current: see with_current_index
)


indicator_value = Table(
    "indicator_value",
    metadata,
    Column("indicator_id", String(128), primary_key=True),
    Column("area", String(32), primary_key=True),
    Column("period", String(16), primary_key=True),
    # observed, estimate, target, path, path_from_latest, projection; the own values of an indicator no
    # source published: target_derived (set by a reduction target), assumption (migration 0010)
    Column("kind", String(16), primary_key=True),
    Column("value", Float),
    Column("lower", Float),
    Column("upper", Float),
    Column("unit", String(64), nullable=False),
    Column("vintage", DateTime, nullable=False),  # newest input fetch time
    Column("snapshot_ids", Text, nullable=False),  # JSON list of the snapshots behind the value
    Column("is_demo", Boolean, nullable=False),
    Column("computed_at", DateTime, nullable=False),
    # the source status flags of the observations behind an observed value (common.flags), sorted,
    # unique, comma-joined ("p", "b,e"); null for none and for computed kinds (migration 0008)
    Column("flags", Text),
)

assessment = Table(
    "assessment",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("indicator_id", String(128), nullable=False),
    Column("area", String(32), nullable=False),
    Column("method", String(64), nullable=False),
    Column("method_version", String(32), nullable=False),
    Column("as_of", DateTime, nullable=False),  # the data vintage assessed
    Column("status", String(64), nullable=False),
    Column("score", Float),
    Column("base_year", Integer),
    Column("base_value", Float),
    Column("latest_year", Integer),
    Column("latest_value", Float),
    Column("target_year", Integer),
    Column("target_value", Float),
    Column("observed_rate", Float),
    Column("required_rate", Float),
    Column("ratio", Float),
    Column("n_points", Integer, nullable=False),
    Column("details", Text, nullable=False),  # JSON: thresholds, warnings, every intermediate number
    Column("input_hash", String(64), nullable=False),
    Column("computed_at", DateTime, nullable=False),
    UniqueConstraint("indicator_id", "area", "method", "as_of"),
)

job_run = Table(
    "job_run",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job", String(128), nullable=False),
    Column("dataset_id", String(128)),
    Column("trigger", String(32), nullable=False),  # cli, scheduler, test
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("outcome", String(32), nullable=False),  # running, success, unchanged, failed, rejected, busy
    Column("error", Text),
    Column("rows_added", Integer, nullable=False, server_default="0"),
    Column("rows_revised", Integer, nullable=False, server_default="0"),
    Column("rows_unchanged", Integer, nullable=False, server_default="0"),
    Column("rows_withdrawn", Integer, nullable=False, server_default="0"),  # see snapshot.rows_withdrawn
    Column("rows_confirmed", Integer, nullable=False, server_default="0"),  # see snapshot.rows_confirmed
    Column("rows_reflagged", Integer, nullable=False, server_default="0"),  # see snapshot.rows_reflagged
    Column("snapshot_id", Integer),
    Column("host", String(255)),
    Column("pid", Integer),
    # (migration 0011) a job's runs newest first, their outcome in the index (storage.newest_runs walks it
    # job by job; the streaks of kestava.alerts read it); SQLite's job index had been this already (its
    # rowid is id), PostgreSQL's had not
    Index(None, "job", "id", "outcome"),
    # a dataset's runs by outcome, newest finish last, with job: status' last success and last failure of
    # each dataset and freshness' newest runs read every column they need from it (covering)
    Index(None, "dataset_id", "outcome", "finished_at", "job"),
    # the runs of a period (storage.read.problem_runs: the weekly report's failed and rejected runs)
    Index(None, "started_at"),
    # (migration 0012) a dataset's runs newest first: storage.newest_runs walks it dataset by dataset
    # (freshness' newest ingest runs, whatever their outcome)
    Index(None, "dataset_id", "id"),
    # a job's last start of an outcome in one probe (schedule.compute_job: the last successful compute)
    Index(None, "job", "outcome", "started_at"),
)

job_lock = Table(
    "job_lock",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("holder", String(255), nullable=False),
    Column("acquired_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
)

indicator_state = Table(
    "indicator_state",
    metadata,
    Column("indicator_id", String(128), primary_key=True),
    Column("input_hash", String(64), nullable=False),  # catalogue entry + engine version + input snapshots
    Column("vintage", DateTime),
    Column("computed_at", DateTime, nullable=False),
    Column("error", Text),
)

alert_state = Table(
    "alert_state",
    metadata,
    # kind:subject, e.g. failing:ingest:fingrid_emission_factor, rejected:hsy_emissions, late:syke_emissions
    Column("problem_key", String(255), primary_key=True),
    Column("first_seen", DateTime, nullable=False),
    Column("last_sent", DateTime),  # null: never delivered (no channel reachable yet)
    Column("last_message", Text),
    Column("resolved_at", DateTime),  # null while the problem lasts
)

rejected_payload = Table(
    "rejected_payload",
    metadata,
    # a payload set the plausibility checks rejected, kept (bytes in the raw store) so a person can accept it
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset_id", String(128), nullable=False),
    Column("sha256", String(64), nullable=False),  # over the payloads' sha256s: the snapshot it would be
    Column("first_rejected_at", DateTime, nullable=False),
    Column("last_rejected_at", DateTime, nullable=False),
    Column("times", Integer, nullable=False),
    Column("reader_version", String(64), nullable=False),
    Column("options", Text, nullable=False),  # JSON: the dataset options it was read with
    Column("payloads", Text, nullable=False),  # JSON: request, status, headers, fetch time, sha256 of each
    Column("violations", Text, nullable=False),  # JSON list of ingest.plausibility.Violation
    Column("acceptable", Boolean, nullable=False),  # only jumps failed: a person may accept it
    Column("accepted_by", String(255)),
    Column("accepted_why", Text),
    Column("accepted_at", DateTime),
    Column("snapshot_id", Integer),  # the snapshot it was loaded as, once accepted and loaded
    UniqueConstraint("dataset_id", "sha256"),
)

note = Table(
    "note",
    metadata,
    # a person's note on an indicator for a period (Markdown), never deleted: an edit is a new row that
    # replaces the old one, a withdrawal marks the row with who, why and when (storage.notes)
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("indicator_id", String(128), nullable=False),
    Column("area", String(32), nullable=False),
    Column("period", String(16), nullable=False),  # 2024, 2026-H1, 2026-Q3, 2026-05, 2026-W45
    Column("lang", String(2), nullable=False),  # fi, sv, en
    Column("body", Text, nullable=False),  # Markdown
    Column("author", String(255), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("replaces", Integer, ForeignKey("note.id"), unique=True),  # one edit per note: a line of versions
    Column("withdrawn_at", DateTime),
    Column("withdrawn_by", String(255)),
    Column("withdrawn_why", Text),
    Index(None, "indicator_id", "area"),
)


def with_current_index() -> MetaData:
    """The metadata with observation's partial unique index (one current row per series and period).

    It is attached here, where DDL is made (the migrations' environment, which Alembic compares with
    the migrated schema), not when this module is imported: its PostgreSQL condition makes SQLAlchemy
    import the PostgreSQL dialect with all its drivers (about 30 ms), which every command that reads a
    SQLite file (`kestava status`) would pay for. Idempotent.
    """
    if not any(index.name == "ix_observation_current" for index in observation.indexes):
        Index(
            "ix_observation_current",
            observation.c.series_id,
            observation.c.period,
            unique=True,
            postgresql_where=text("valid_to IS NULL"),
            sqlite_where=text("valid_to IS NULL"),
        )
    return metadata
