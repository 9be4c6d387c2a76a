"""Error types for ingestion: every message names the source, the field and what was expected."""

from __future__ import annotations

from common.errors import DataError


class IngestError(DataError):
    """A payload or request that cannot be turned into observations.

    The message always says which source (dataset id or host), which field (column, dimension, header,
    JSON path) and what was expected, so that an operator can act on it without reading code.
    """


class FetchError(IngestError):
    """The upstream could not be reached or answered with an unusable response."""


class ValidationError(IngestError):
    """The payload arrived but does not have the documented shape or values."""
