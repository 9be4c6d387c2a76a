"""The offline Fetcher: answers requests from the bundled snapshot (manifest.json plus body files)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from common.payload import HostRule, Params, Payload, RequestSpec
from ingest.errors import FetchError, ValidationError
from ingest.http import check_answered_within, check_not_html, display_url, full_url, status_error
from ingest.manifest import DEFAULT_SNAPSHOT_DIR, Exchange, Manifest, read_manifest

__all__ = ["ReplayFetcher", "record_exchange", "snapshot_manifest"]


@dataclass(frozen=True)
class _Indexed:
    """One version of a snapshot's manifest.json: (mtime_ns, size, inode), the manifest, exchanges by key."""

    stamp: tuple[int, int, int]
    manifest: Manifest
    by_key: dict[str, Exchange]


@dataclass(frozen=True)
class _Body:
    """One version of a recorded body file: its (mtime_ns, size, inode), its bytes and their sha256."""

    stamp: tuple[int, int, int]
    data: bytes
    sha256: str


# manifest.json path -> the version last read, and body file -> the same: a scheduler replays the same
# snapshot on every firing, and an unchanged dataset is known by the digests of the same bodies
_indexed: dict[Path, _Indexed] = {}
_bodies: dict[Path, _Body] = {}


def snapshot_manifest(folder: Path = DEFAULT_SNAPSHOT_DIR) -> Manifest:
    """folder's manifest, read (and indexed) again only when manifest.json changed; treat it as read-only."""
    return _index(folder).manifest


def _index(folder: Path) -> _Indexed:
    """The manifest and its exchanges by request key, kept while manifest.json keeps mtime, size, inode."""
    path = folder / "manifest.json"
    stamp = _stamp(path)  # before reading: a change made while reading shows as a new stamp next time
    known = _indexed.get(path)
    if known is not None and known.stamp == stamp:
        return known
    manifest = read_manifest(folder)
    known = _Indexed(stamp, manifest, _by_key(folder, manifest))
    _indexed[path] = known
    return known


def _stamp(path: Path) -> tuple[int, int, int]:
    """The file's (mtime_ns, size, inode): a cached reading of it stays good while these do not change."""
    status = path.stat()
    return (status.st_mtime_ns, status.st_size, status.st_ino)


def _read_body(path: Path) -> _Body:
    """The file's bytes and sha256, read and hashed again only when its mtime, size or inode changed."""
    stamp = _stamp(path)  # before reading: a change made while reading shows as a new stamp next time
    known = _bodies.get(path)
    if known is None or known.stamp != stamp:
        data = path.read_bytes()
        known = _Body(stamp, data, hashlib.sha256(data).hexdigest())
        _bodies[path] = known
    return known


def _by_key(folder: Path, manifest: Manifest) -> dict[str, Exchange]:
    """The manifest's exchanges by request key; two different recordings of one request are an error."""
    by_key: dict[str, Exchange] = {}
    for index, exchange in enumerate(manifest.exchanges):
        key = exchange.request().key
        known = by_key.get(key)
        if known is not None and (known.status, known.file) != (exchange.status, exchange.file):
            raise ValidationError(
                f"snapshot {folder}",
                f"manifest.json exchanges[{index}]",
                "at most one recording per request",
                got=f"{exchange.method} {exchange.url} recorded twice",
            )
        by_key[key] = exchange
    return by_key


class ReplayFetcher:
    """Fetcher that replays recorded exchanges; errors take the same shape as the live fetcher's.

    A recorded non-2xx status raises the same FetchError / TooManyCellsError the live fetcher raises for
    a final non-2xx answer, and a 2xx HTML page raises the same ValidationError, so connectors exercise
    one error-handling path online and offline.
    """

    def __init__(
        self,
        folder: Path = DEFAULT_SNAPSHOT_DIR,
        *,
        manifest: Manifest | None = None,
        fetched_at: datetime | None = None,
    ) -> None:
        if fetched_at is not None and fetched_at.utcoffset() is None:
            raise ValueError("fetched_at must be timezone-aware")
        self.folder = folder
        self._fetched_at = fetched_at.astimezone(UTC) if fetched_at is not None else None
        # the snapshot as last read (unless manifest.json changed since), or the manifest given: that of
        # snapshot_manifest keeps its index, any other is indexed here
        known = _index(folder) if manifest is None else _indexed.get(folder / "manifest.json")
        if known is not None and (manifest is None or manifest is known.manifest):
            self.manifest, self._by_key = known.manifest, known.by_key
        else:
            self.manifest = manifest if manifest is not None else read_manifest(folder)
            self._by_key = _by_key(folder, self.manifest)

    def __repr__(self) -> str:
        return f"ReplayFetcher({str(self.folder)!r}, exchanges={len(self._by_key)})"

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
        """Replay a GET; `source` names the dataset in errors. Raises FetchError when not recorded, or when
        allowed_hosts does not allow the URL it would be answered from (check_answered_within)."""
        spec = RequestSpec("GET", url, tuple(params), None)
        check_answered_within(source, url, params, _final_url(spec), allowed_hosts)
        return self._replay(source, spec, accept)

    def post_json(
        self,
        source: str,
        url: str,
        body: object,
        *,
        params: Params = (),
        secret_headers: Mapping[str, str] | None = None,
    ) -> Payload:
        """Replay a JSON POST; `source` names the dataset in errors. Raises FetchError when not recorded."""
        spec = RequestSpec("POST", url, tuple(params), RequestSpec.canonical_body(body) or None)
        return self._replay(source, spec, None)

    def _replay(self, source: str, spec: RequestSpec, accept: str | None) -> Payload:
        exchange = self._by_key.get(spec.key)
        if exchange is None:
            raise FetchError(
                source,
                _field(spec),
                "a recorded response",
                f"none: the offline snapshot ({self.folder}) has no recording of this request",
            )
        body = self._body(source, spec, exchange)
        if not 200 <= exchange.status < 300:
            raise status_error(
                source, spec.method, display_url(spec.url, spec.params), exchange.status, body.data
            )
        headers = {name.lower(): value for name, value in exchange.headers.items()}
        payload = Payload(
            request=spec,
            status=exchange.status,
            headers=headers,
            body=body.data,
            fetched_at=self._fetched_at or datetime.now(UTC),
            final_url=_final_url(spec),
            is_demo=self.manifest.is_demo,
            known_sha256=body.sha256,
        )
        check_not_html(source, headers, body.data, accept=accept, page=lambda: payload)
        return payload

    def _body(self, source: str, spec: RequestSpec, exchange: Exchange) -> _Body:
        try:
            return _read_body(_inside(self.folder, exchange.file))
        except (OSError, ValueError) as exc:
            raise FetchError(
                source,
                _field(spec),
                f"the recorded body file {exchange.file!r} in the offline snapshot ({self.folder})",
                type(exc).__name__,
            ) from None


def record_exchange(
    folder: Path,
    manifest: Manifest,
    dataset: str,
    request: RequestSpec,
    status: int,
    headers: dict[str, str],
    body: bytes,
    file: str,
) -> None:
    """Write the body file into folder and add the exchange to manifest (replacing one for the same request).

    The manifest is changed in memory only: call ingest.manifest.write_manifest once all exchanges are
    recorded. `request` must not carry secrets (a RequestSpec never does); headers are stored lower-cased.
    """
    path = _inside(folder, file)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    exchange = Exchange(
        dataset=dataset,
        method=request.method.upper(),
        url=request.url,
        params=list(request.params),
        json_body=request.json_body,
        status=status,
        headers={name.lower(): value for name, value in headers.items()},
        file=file,
    )
    key = exchange.request().key
    manifest.exchanges = [e for e in manifest.exchanges if e.request().key != key]
    manifest.exchanges.append(exchange)


def _field(spec: RequestSpec) -> str:
    """The request as errors name it (secrets masked)."""
    return f"{spec.method} {display_url(spec.url, spec.params)}"


def _final_url(spec: RequestSpec) -> str:
    """full_url of the request, remembered: a replay asks the same few requests on every run."""
    try:
        return _full_url(spec.url, spec.params)
    except TypeError:  # unhashable parameters (lists, not tuples)
        return full_url(spec.url, spec.params)


@lru_cache(maxsize=4096)
def _full_url(url: str, params: tuple[tuple[str, str], ...]) -> str:
    return full_url(url, params)


def _inside(folder: Path, file: str) -> Path:
    """folder/file, refusing absolute paths and paths that climb out of folder."""
    relative = Path(file)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise ValueError(f"snapshot body file must be a relative path inside the snapshot, got {file!r}")
    return folder / relative
