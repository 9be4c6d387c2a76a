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


def one_line(error: BaseException) -> str:
    """ "Type: message" on one line, for a run's error or a log line: a database error's own message
    (sqlite3's "database is locked"; its `orig`), without SQLAlchemy's statement and background lines."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}"
