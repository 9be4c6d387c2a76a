"""Expected errors: each has a message for a person and the exit code the command line ends with."""

from __future__ import annotations

# Exit codes of every `kestava` command (README, "Command line"; `kestava --help`).
EXIT_OK = 0  # done, and all is well
EXIT_FAILED = 1  # ran, but something failed or is stale (a dataset, an indicator, drift, status problems)
EXIT_USAGE = 2  # could not run: bad argument, unknown code, no or unreachable database, unwritable output
EXIT_INTERNAL = 3  # an unexpected error (a bug): one line, and the traceback with --verbose


class KestavaError(Exception):
    """An expected error: str(error) says what is wrong and what to do; the CLI exits with exit_code."""

    exit_code = EXIT_USAGE


class DatabaseUrlError(KestavaError):
    """The database URL (KESTAVA_DATABASE_URL or --database-url) cannot be parsed; never repeats it."""


class DatabaseMissingError(KestavaError):
    """A read-only command found no database (or no tracker schema) where the settings point."""


class SchemaVersionError(KestavaError):
    """A read-only command found a database whose schema is older (or newer) than this tracker's."""


class NewerSchemaError(SchemaVersionError):
    """The database was migrated by a newer tracker (the code rolled back after an upgrade): this code
    neither reads nor migrates it, and waiting does not change that."""


class MixedDataError(KestavaError):
    """A load of demo data (the bundled snapshot) into a database that holds live data, or of live data into
    one that holds demo data, refused (storage.data_kind): says what each holds and how to proceed."""


class NothingToReportError(KestavaError):
    """A report's period has no data to show (nothing had been fetched by its end): nothing is written; the
    scheduler records its run as unchanged, with this reason, and does not try it again."""


class DataError(KestavaError):
    """Data that cannot be accepted; says which source, which field, what was expected and what came."""

    exit_code = EXIT_FAILED

    def __init__(self, source: str, field: str, expected: str, got: str | None = None) -> None:
        self.source = source
        self.field = field
        self.expected = expected
        self.got = got
        message = f"{source}: {field}: expected {expected}"
        if got is not None:
            message += f", got {shorten(got)}"
        super().__init__(message)


def shorten(text: str, limit: int = 200) -> str:
    """Keep messages readable when the offending value is long (e.g. an HTML page)."""
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def first_line(error: BaseException) -> str:
    """The first line of an error's own message: a database error's driver message (sqlite3's "database is
    locked"; its `orig`), without SQLAlchemy's statement and background lines; its type when it says none."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


def one_line(error: BaseException) -> str:
    """ "Type: message" on one line, for a run's error or a log line (first_line, after the type)."""
    cause = getattr(error, "orig", None) or error
    return f"{type(cause).__name__}: {first_line(cause) if str(cause).strip() else ''}"


def is_database_error(error: BaseException) -> bool:
    """Whether an error is the database's (unreachable, refusing, read-only, a missing table: the driver's
    errors as SQLAlchemy wraps them, or raised bare), not a bug in the code that used it."""
    import sqlite3

    from sqlalchemy.exc import DBAPIError, NoSuchTableError

    if isinstance(error, (DBAPIError, NoSuchTableError, sqlite3.Error)):
        return True
    try:
        import psycopg
    except ImportError:  # (psycopg is installed with the tracker; without it no PostgreSQL error can come)
        return False
    return isinstance(error, psycopg.Error)


def error_reason(error: BaseException, *, env_prefix: str = "") -> str:
    """Why, in one line: a validation error names each field (with env_prefix: as its environment
    variable) and what is wrong with it, never the value given; anything else as one_line."""
    from pydantic import ValidationError  # (only where an error is explained: pydantic stays unimported)

    if isinstance(error, ValidationError):
        fields = []
        for detail in error.errors(include_url=False, include_input=False):
            where = ".".join(str(part) for part in detail["loc"])
            name = f"{env_prefix}{where.upper()}" if env_prefix else where
            fields.append(f"{name}: {detail['msg']}")
        return "; ".join(fields) or one_line(error)
    return " ".join(one_line(error).split())
