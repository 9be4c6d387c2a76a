"""The base error for bad data: its message always names the source, the field and what was expected."""

from __future__ import annotations


class DataError(Exception):
    """Data that cannot be accepted; says which source, which field, what was expected and what came."""

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
