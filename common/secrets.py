"""Masking of secret values (API keys, passwords) in any text bound for a log, a message or a record."""

from __future__ import annotations

from collections.abc import Iterable

REDACTED = "***"


def redact(text: str, secrets: Iterable[str]) -> str:
    """text with every secret value replaced by ***; give the longest secrets first, so that a secret
    containing another is masked whole."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text
