"""Error types for ingestion: every message names the source, the field and what was expected."""

from __future__ import annotations

from common.errors import DataError
from common.payload import Payload


class IngestError(DataError):
    """A payload or request that cannot be turned into observations.

    The message always says which source (dataset id or host), which field (column, dimension, header,
    JSON path) and what was expected, so that an operator can act on it without reading code.
    """


class FetchError(IngestError):
    """The upstream could not be reached or answered with an unusable response."""


class ValidationError(IngestError):
    """The payload arrived but does not have the documented shape or values."""


class HtmlPageError(ValidationError):
    """A successful answer that is an HTML page (a login wall, a "not found" page), not the data asked for.

    `payload` is the page as the fetcher received it, with secrets masked (ingest.run keeps it as a
    rejected snapshot for the operator to inspect); None where a connector checked a payload it holds.
    """

    def __init__(
        self,
        source: str,
        field: str,
        expected: str,
        got: str | None = None,
        *,
        payload: Payload | None = None,
    ) -> None:
        super().__init__(source, field, expected, got)
        self.payload = payload
