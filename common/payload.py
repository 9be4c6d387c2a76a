"""The raw payload of one HTTP exchange, and the fetcher protocol connectors use to get payloads."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import InitVar, dataclass, field
from datetime import datetime
from typing import Protocol

# Query parameters are kept as an ordered list of pairs because real APIs repeat keys
# (Eurostat: geo=FI&geo=EU27_2020).
Params = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class RequestSpec:
    """What was asked: enough to replay the request and to key conditional-request validators.

    Secret headers (API keys) are never part of a RequestSpec.
    """

    method: str
    url: str
    params: tuple[tuple[str, str], ...] = ()
    json_body: str | None = None  # canonical JSON text (sorted keys) of a POST body

    @property
    def key(self) -> str:
        """A stable identity for this request (method, URL, parameters, body)."""
        text = json.dumps([self.method.upper(), self.url, list(self.params), self.json_body])
        return hashlib.sha256(text.encode()).hexdigest()

    @staticmethod
    def canonical_body(body: object) -> str:
        """Serialise a JSON body canonically so the same query always has the same key."""
        return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Payload:
    """One response as received (or replayed): bytes plus the provenance needed to trace them."""

    request: RequestSpec
    status: int
    headers: Mapping[str, str]  # lower-cased names; never contains secrets
    body: bytes
    fetched_at: datetime  # timezone-aware UTC
    final_url: str
    not_modified: bool = False  # True when the server answered 304 and body is the cached copy
    is_demo: bool = False  # True when replayed from the bundled demo snapshot
    sha256: str = field(init=False)
    # the body's sha256 when the caller has it already (the replay, of a snapshot file it hashed before)
    known_sha256: InitVar[str | None] = None

    def __post_init__(self, known_sha256: str | None) -> None:
        object.__setattr__(self, "sha256", known_sha256 or hashlib.sha256(self.body).hexdigest())

    @property
    def size(self) -> int:
        return len(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class HostRule(Protocol):
    """Where a request, and every redirect it takes, may go (ingest.http.AllowedHosts)."""

    @property
    def expected(self) -> str:
        """What a URL must be, for an error ("an https URL on one of the allowed hosts (…)")."""
        ...

    def refusal(self, url: str) -> str | None:
        """Why url may not be requested (its host, scheme and URL, without secrets); None when it may."""
        ...


class Fetcher(Protocol):
    """How a connector gets payloads: live over HTTP, or replayed from the bundled snapshot."""

    def get(
        self,
        source: str,
        url: str,
        *,
        params: Params = (),
        secret_headers: Mapping[str, str] | None = None,
        accept: str | None = None,
        allowed_hosts: HostRule | None = None,
    ) -> Payload:
        """GET url; `source` names the dataset in errors. Raises FetchError on failure. With allowed_hosts,
        every URL the answer comes by must be one it allows, else a FetchError naming the host and the
        allowed hosts: a fetcher that requests checks url and each redirect hop before requesting it, one
        that requests nothing (a replay) the URL its answer came from."""
        ...

    def post_json(
        self,
        source: str,
        url: str,
        body: object,
        *,
        params: Params = (),
        secret_headers: Mapping[str, str] | None = None,
    ) -> Payload:
        """POST a JSON body; `source` names the dataset in errors. Raises FetchError on failure."""
        ...


class ValidatorCache(Protocol):
    """Remembers ETag / Last-Modified and the body of the last good response per request key."""

    def validators(self, request_key: str) -> tuple[str | None, str | None, str] | None:
        """(etag, last_modified, sha256) of the last stored response for this request, if any."""
        ...

    def body(self, sha256: str) -> bytes:
        """The raw bytes stored under this sha256."""
        ...
