"""Error types for ingestion: every message names the source, the field and what was expected."""

from __future__ import annotations


class IngestError(Exception):
    """A payload or request that cannot be turned into observations.

    The message always says which source (dataset id or host), which field (column, dimension, header,
    JSON path) and what was expected, so that an operator can act on it without reading code.
    """

    def __init__(self, source: str, field: str, expected: str, got: str | None = None) -> None:
        self.source = source
        self.field = field
        self.expected = expected
        self.got = got
        message = f"{source}: {field}: expected {expected}"
        if got is not None:
            message += f", got {_shorten(got)}"
        super().__init__(message)


class FetchError(IngestError):
    """The upstream could not be reached or answered with an unusable response."""


class ValidationError(IngestError):
    """The payload arrived but does not have the documented shape or values."""


def _shorten(text: str, limit: int = 200) -> str:
    """Keep error messages readable when the offending value is long (e.g. an HTML page)."""
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"
