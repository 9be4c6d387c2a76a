"""Database engines: open the configured database and bring its schema to the newest migration."""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import Connection, Dialect, Engine, Executable, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from common.config import get_settings
from common.errors import DatabaseMissingError, DatabaseUrlError, NewerSchemaError, SchemaVersionError

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.sql import ClauseElement
    from sqlalchemy.sql.compiler import SQLCompiler

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
CHANGES_AT_BEGIN = "kestava_changes_at_begin"  # Connection.info key: sqlite3's total_changes at BEGIN
log = logging.getLogger(__name__)
_T = TypeVar("_T")


UNREADABLE_URL = "<a database URL that cannot be parsed>"


def parse_url(url: str | URL) -> URL:
    """The URL parsed; one that cannot be raises DatabaseUrlError, which does not repeat it (it may hold a
    password) but says what is wrong and what a URL looks like."""
    try:
        return make_url(url)
    except (ArgumentError, ValueError) as error:
        reason = (
            "its port is not a number"
            if isinstance(error, ValueError)
            else "it is not of the form dialect+driver://user@host:port/database"
        )
        raise DatabaseUrlError(
            f"the database URL (KESTAVA_DATABASE_URL or --database-url) cannot be parsed: {reason}; "
            "for example sqlite:///data/kestava.sqlite3 or postgresql+psycopg://user@host:5432/kestava"
        ) from None


def is_secret_parameter(name: str) -> bool:
    """Whether a URL query parameter holds a secret: libpq's `password` and `sslpassword` (a password may be
    given as `?password=…` instead of `user:password@`), or any parameter named for a secret or token."""
    lowered = name.lower()
    return any(word in lowered for word in ("password", "secret", "token", "passphrase"))


def safe_url(url: str | Engine) -> str:
    """The URL with any password masked, in its user part and in its query (is_secret_parameter), for logs
    and messages; never raises (a URL that cannot be parsed is not repeated at all)."""
    try:
        parsed = url.url if isinstance(url, Engine) else make_url(url)
    except (ArgumentError, ValueError):
        return UNREADABLE_URL
    hidden = {name: "***" for name in parsed.query if is_secret_parameter(name)}
    if hidden:
        parsed = parsed.update_query_dict(hidden)
    return parsed.render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


def create_db_engine(url: str | URL, *, pre_ping: bool = True, isolation_level: str | None = None) -> Engine:
    """An engine for url; SQLite gets foreign keys, WAL and a busy timeout on every connection. On
    PostgreSQL each checkout first pings the server (so that a restart costs no failed statement) unless
    pre_ping is False: for a caller that retries a statement whose connection turned out dead (once_more);
    isolation_level "AUTOCOMMIT" sets every connection so once, when it is made (PostgreSQL)."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        event.listen(engine, "begin", _begin_immediate)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    options: dict[str, Any] = {} if isolation_level is None else {"isolation_level": isolation_level}
    try:
        return create_engine(parsed, pool_pre_ping=pre_ping, **options)
    except (ModuleNotFoundError, ArgumentError) as error:  # a driver not installed, a dialect unknown
        raise DatabaseUrlError(
            f"the database URL (KESTAVA_DATABASE_URL or --database-url) names {parsed.drivername!r}, which "
            f"this tracker cannot use ({error}); use postgresql+psycopg://user@host:5432/kestava "
            "(psycopg 3, installed with the tracker) or sqlite:///data/kestava.sqlite3"
        ) from None


def autocommit(engine: Engine, *, ping: bool = True) -> Connection:
    """A connection for work of one statement at a time (a run record, a read): each statement commits on
    its own. On PostgreSQL without the round trips of BEGIN and COMMIT (or ROLLBACK); on SQLite without
    BEGIN IMMEDIATE (the sqlite3 module is in autocommit mode): a read takes no write lock, a write takes
    it for its statement alone. ping=False, on PostgreSQL: from unpinged(engine), whose checkouts do not
    ping the server first, for a caller that runs its statement once more when the connection turns out
    dead (once_more)."""
    if engine.dialect.name == "postgresql":
        if not ping:
            return unpinged(engine).connect()
        return engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    return engine.connect().execution_options(**{_STATEMENT_COMMITS: True})


# engine -> its unpinged twin (a pool of its own), disposed with it
_UNPINGED: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_UNPINGED_LOCK = threading.Lock()


def unpinged(engine: Engine) -> Engine:
    """PostgreSQL: an engine of the same database (made once, disposed with engine) whose checkouts do
    not ping the server, its connections in autocommit from the start: one round trip less (and no
    isolation level set and reset) per checkout, for the work a scheduler firing does on every run. Its
    callers run a statement once more on a new connection when the server dropped the old one
    (once_more). Any other backend: engine itself (it does not ping)."""
    if engine.dialect.name != "postgresql":
        return engine
    with _UNPINGED_LOCK:
        twin = _UNPINGED.get(engine)
        if twin is None:
            twin = create_db_engine(engine.url, pre_ping=False, isolation_level="AUTOCOMMIT")
            _UNPINGED[engine] = twin
            event.listen(engine, "engine_disposed", lambda _engine: twin.dispose())
        return twin


def once_more(operation: Callable[[], _T]) -> _T:
    """operation(), once more if the server had dropped its connection (a restart): for an operation of
    one statement on a connection of its own, which either failed before the database did anything or
    says what it found (e.g. a row stored twice)."""
    try:
        return operation()
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        log.info("the database connection was lost (%s); once more on a new one", type(error).__name__)
        return operation()


def driver_rows(conn: Connection, statement: Executable, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """The rows (none for a statement that returns none) of a statement built once (a module's or an
    object's constant) run with params on a cursor of conn's driver connection, as SQLAlchemy runs its own
    special-case statements (Connection._cursor_execute: the statement events, echo, and a driver error
    raised as DBAPIError, the pool invalidated when the server is gone, as for any statement), but
    without its execution context and result object and their per-execution parameter handling, which
    take about as much client CPU again as psycopg's own work (≈ 80 µs a statement here): for the few
    statements a scheduler firing runs. The statement is written out for conn's dialect at its first use
    (_Written: its SQL, its constant parameters, the bind conversions its types make); one with an
    expanding parameter (IN) is refused (ValueError). The rows are the driver's, not converted by
    SQLAlchemy's result types: for statements whose results the driver gives as SQLAlchemy would (on
    PostgreSQL text, numbers, timestamps and bytes; tests compare them with Connection.execute's)."""
    written = _written(statement, conn.dialect)
    values = {**written.constants, **params}
    for name, process in written.processors.items():
        if name in params:
            values[name] = process(values[name])
    cursor = _kept_cursor(conn)
    conn._cursor_execute(cursor, written.sql, values)
    return list(cursor.fetchall()) if _returned_rows(cursor) else []


# the info key (of a pooled driver connection, which info lives and is cleared with) of the cursor driver_rows
# keeps: (the driver connection, its cursor)
_CURSOR = "kestava_driver_rows_cursor"


def _kept_cursor(conn: Connection) -> Any:
    """A cursor of conn's driver connection, kept with it and used by every driver_rows on it (a connection
    is one thread's at a time): a new cursor and its close took about 10 µs of a statement's CPU."""
    pooled = conn.connection
    driver = pooled.driver_connection
    kept = pooled.info.get(_CURSOR)
    if kept is not None and kept[0] is driver and not getattr(kept[1], "closed", False):
        return kept[1]
    cursor = pooled.cursor()
    pooled.info[_CURSOR] = (driver, cursor)
    return cursor


def _returned_rows(cursor: Any) -> bool:
    """Whether the cursor's statement returned rows (DB-API's description is not None): psycopg's result
    has fields, seen without the column descriptions psycopg makes on every read of description."""
    result = getattr(cursor, "pgresult", None)
    return (result is not None and result.nfields > 0) or cursor.description is not None


@dataclass(frozen=True)
class _Written:
    """A statement written out for a dialect: its SQL, the values of its constant parameters (converted),
    the conversions of the parameters the caller gives (by name), and the statement (kept alive: _WRITTEN
    knows it by id)."""

    sql: str
    constants: dict[str, Any]
    processors: dict[str, Callable[[Any], Any]]
    statement: Executable


_WRITTEN: weakref.WeakKeyDictionary[Dialect, dict[int, _Written]] = weakref.WeakKeyDictionary()
_WRITTEN_LOCK = threading.Lock()
_WRITTEN_MAX = 64  # statements per dialect


def _written(statement: Executable, dialect: Dialect) -> _Written:
    """The statement written out for dialect (once per dialect: see driver_rows)."""
    known = _WRITTEN.get(dialect)
    found = known.get(id(statement)) if known is not None else None
    if found is not None:
        return found
    compiled = cast("SQLCompiler", cast("ClauseElement", statement).compile(dialect=dialect))
    sql = str(compiled)
    if "POSTCOMPILE" in sql:
        raise ValueError(f"driver_rows: a statement with an expanding parameter (IN): {sql}")
    constants: dict[str, Any] = {}
    processors: dict[str, Callable[[Any], Any]] = {}
    for bind, name in compiled.bind_names.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if bind.required:
            if process is not None:
                processors[name] = process
        else:
            value = bind.effective_value
            constants[name] = process(value) if process is not None else value
    found = _Written(sql, constants, processors, statement)
    with _WRITTEN_LOCK:
        known = _WRITTEN.setdefault(dialect, {})
        if len(known) >= _WRITTEN_MAX:  # statements made per call (not what driver_rows is for): no leak
            known.clear()
        known[id(statement)] = found
    return found


# a SQLite connection's execution option: no BEGIN IMMEDIATE, each statement commits on its own
_STATEMENT_COMMITS = "kestava_statement_commits"


def _begin_immediate(conn: Connection) -> None:
    """SQLite: a transaction takes the write lock at once (no deadlock upgrading a read, and no other
    writer commits until it ends), unless the connection is autocommit's. It notes how many rows the
    connection had changed, so that storage.fetch can tell whether the transaction wrote yet; a
    connection without the lock has no such note."""
    if conn.get_execution_options().get(_STATEMENT_COMMITS):
        conn.info.pop(CHANGES_AT_BEGIN, None)
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE")
    conn.info[CHANGES_AT_BEGIN] = conn.connection.driver_connection.total_changes  # type: ignore[union-attr]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # autocommit at driver level; BEGIN issued explicitly
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def alembic_config() -> Config:
    """An Alembic configuration pointing at this package's migrations."""
    from alembic.config import Config  # alembic is imported only where a schema may change

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


# what to do about a database a newer tracker migrated (README, "Running in production": upgrades)
NEWER_SCHEMA_REMEDY = (
    "upgrade this tracker to the version that migrated it, or restore the database's backup taken before "
    "that upgrade"
)
# why a database can be newer than the tracker reading it
NEWER_SCHEMA_CAUSE = "this code was rolled back, or is older than the tracker that migrated it"

# the PostgreSQL advisory lock (a transaction's) under which one process at a time migrates
MIGRATION_LOCK_KEY = 0x6B657374_6D696772  # "kest" "migr"


def migrate(engine: Engine) -> None:
    """Upgrade the database to the newest migration (a no-op when it is already there).

    One process at a time: two starting together (the scheduler restarted as a cron command runs) would
    both create the same tables and indexes. The second waits for the first (PostgreSQL: an advisory lock;
    SQLite: the write lock its transaction takes at BEGIN IMMEDIATE) and finds the database migrated.
    A database of a newer tracker (a revision this code does not know: the code rolled back after a
    migration) raises NewerSchemaError saying so, as open_existing_database does."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = alembic_config()
    scripts = ScriptDirectory.from_config(config)
    head = scripts.get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current == head:
        return
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        current = MigrationContext.configure(connection).get_current_revision()  # again, under the lock
        if current == head:
            return
        if current is not None and current not in {script.revision for script in scripts.walk_revisions()}:
            raise NewerSchemaError(
                f"the database at {safe_url(engine)} has schema version {current}, newer than this "
                f"tracker's {head} ({NEWER_SCHEMA_CAUSE}): {NEWER_SCHEMA_REMEDY}; nothing was changed"
            )
        log.info("migrating %s from %s to %s", safe_url(engine), current, head)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_database(url: str | None = None) -> Engine:
    """Open the configured (or given) database, migrated to head."""
    engine = create_db_engine(url or get_settings().resolved_database_url())
    migrate(engine)
    return engine


@dataclass(frozen=True)
class SchemaState:
    """A database's schema version against this tracker's newest migration (head_revision): current,
    behind (migrations pending: `kestava migrate`) or newer (migrated by a newer tracker)."""

    database: str | None  # the revision alembic_version holds (None: none recorded)
    tracker: str  # this code's newest migration

    @property
    def state(self) -> str:
        """current, behind or newer (the migrations are numbered in one line: their order is the text's)."""
        if self.database == self.tracker:
            return "current"
        return "behind" if self.database is None or self.database < self.tracker else "newer"

    def versions(self, url: str) -> str:
        """Both versions as every message about a mismatch names them (url without its password)."""
        where = f"the database at {safe_url(url)} has schema version {self.database}"
        if self.state == "newer":
            return f"{where}, newer than this tracker's {self.tracker}"
        return f"{where}; this version of the tracker needs {self.tracker}"

    def refusal(self, url: str) -> SchemaVersionError | None:
        """The error a read-only command raises on this schema (url named without its password); None
        when it is current."""
        match self.state:
            case "behind":
                return SchemaVersionError(
                    f"{self.versions(url)}: run `kestava migrate` to upgrade it (its data are kept)"
                )
            case "newer":
                return NewerSchemaError(f"{self.versions(url)} ({NEWER_SCHEMA_CAUSE}): {NEWER_SCHEMA_REMEDY}")
        return None

    def as_dict(self) -> dict[str, str | None]:
        """For JSON: the state, and both revisions."""
        return {"state": self.state, "database": self.database, "tracker": self.tracker}


_SCHEMA_VERSION = text("SELECT version_num FROM alembic_version")


def schema_state(engine: Engine, tracker: str | None = None) -> SchemaState:
    """The database's schema version against tracker (default: head_revision), in one read of
    alembic_version on a connection not pinged first (once more when the server had dropped it): for a
    running process to notice a newer tracker's migration (it knows the head it started with)."""

    def read() -> str | None:
        with autocommit(engine, ping=False) as conn:
            return cast("str | None", conn.execute(_SCHEMA_VERSION).scalar())

    return SchemaState(once_more(read), tracker or head_revision())


def open_existing_database(url: str | None = None) -> Engine:
    """Open the configured (or given) database for reading: never creates, never migrates.

    Raises DatabaseMissingError when a SQLite file does not exist or the database has no tracker schema
    (no Alembic version table), saying how to create one; SchemaVersionError (NewerSchemaError) when its
    schema is older (newer) than this tracker's (SchemaState.refusal).
    """
    url = url or get_settings().resolved_database_url()
    engine, schema_state = open_any_schema(url)
    refused = schema_state.refusal(url)
    if refused is not None:
        engine.dispose()
        raise refused
    return engine


def open_any_schema(url: str | None = None) -> tuple[Engine, SchemaState]:
    """open_existing_database, whatever the version of its schema: the engine and the schema's state (for
    `kestava status` to show; what it reads must be read only when that is current). Raises
    DatabaseMissingError as open_existing_database does."""
    url = url or get_settings().resolved_database_url()
    parsed = parse_url(url)
    hint = "run `kestava ingest` (or `kestava migrate`) first, or set KESTAVA_DATABASE_URL"
    file = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if file and file != ":memory:" and not Path(file).is_file():
        raise DatabaseMissingError(f"no database at {safe_url(url)}: {hint}")
    engine = create_db_engine(url)
    try:
        has_schema = inspect(engine).has_table("alembic_version")
        if has_schema:
            with engine.connect() as conn:
                current = conn.execute(_SCHEMA_VERSION).scalar()
    except Exception:
        engine.dispose()
        raise
    if not has_schema:
        engine.dispose()
        raise DatabaseMissingError(f"{safe_url(url)} holds no tracker database: {hint}")
    return engine, SchemaState(current, head_revision())


def head_revision() -> str:
    """The newest migration's revision without importing Alembic (which takes 0.3 s): the migrations are
    numbered in one line, and each file is named after its revision (tests check both against Alembic)."""
    return max(p.name.split("_", 1)[0] for p in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py"))
