"""The live Fetcher: polite, retrying, size-capped HTTP with conditional requests and no leaked secrets."""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Self

import httpx
from tenacity import RetryCallState, RetryError, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from common.payload import HostRule, Params, Payload, RequestSpec, ValidatorCache
from common.secrets import REDACTED, redact
from ingest.errors import FetchError, HtmlPageError

__all__ = [
    "DEFAULT_MIN_INTERVAL",
    "USER_AGENT",
    "AllowedHosts",
    "HttpError",
    "LiveFetcher",
    "TooManyCellsError",
    "check_answered_within",
    "check_not_html",
    "describe_status",
    "display_url",
    "full_url",
    "looks_like_html",
    "scrub",
    "status_error",
]

logger = logging.getLogger("ingest.http")


def _version() -> str:
    try:
        return importlib.metadata.version("kestava")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0"


USER_AGENT = f"kestava/{_version()} (+https://github.com/kestava-espoo)"

# Minimum seconds between two requests to the same host (the sources' house rules, see SOURCES.md).
DEFAULT_MIN_INTERVAL: Mapping[str, float] = {
    "pxdata.stat.fi": 1.0,  # PxWeb's house rule: about 10 requests per 10 s
    "trafi2.stat.fi": 1.0,  # Traficom's PxWeb, the same rule
    "data.fingrid.fi": 6.0,
    "sdmx.oecd.org": 6.0,  # OECD answers HTTP 429 after 10–15 quick requests (SOURCES.md)
}

NOT_HTML = "JSON/CSV/XLSX, not an HTML page"
MAX_REDIRECTS = 20
# A request's overall deadline (s): all its attempts and their bodies (LiveFetcher's `deadline`)
DEFAULT_DEADLINE_S = 300.0
_ERROR_BODY_BYTES = 4096  # how much of an error response body is read for the message
_SECRET_PARAM_NAMES = frozenset(
    {
        "key",
        "apikey",
        "api_key",
        "token",
        "access_token",
        "auth",
        "secret",
        "client_secret",
        "password",
        "passwd",
        "sig",
        "signature",
        "subscription_key",
    }
)


class _MaskUrls(logging.Filter):
    """Mask secret-looking query parameters in httpx's own "HTTP Request: GET <url>" log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            record.args = tuple(display_url(a) if isinstance(a, httpx.URL) else a for a in record.args)
        return True


if not any(isinstance(f, _MaskUrls) for f in logging.getLogger("httpx").filters):
    logging.getLogger("httpx").addFilter(_MaskUrls())


class HttpError(FetchError):
    """A FetchError with the HTTP details: status (None for transport failures) and attempts made."""

    def __init__(
        self,
        source: str,
        field: str,
        expected: str,
        got: str | None = None,
        *,
        status: int | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(source, field, expected, got)
        self.status = status
        self.attempts = attempts


@dataclass(frozen=True)
class AllowedHosts:
    """Where a download, and every redirect it takes, may go: a host and port `allows` accepts (named in
    errors as `names`), by one of `schemes`. The port `allows` is given is None for the scheme's default
    (https://hsy.fi and https://hsy.fi:443 alike), else the one the URL names (https://hsy.fi:8443)."""

    allows: Callable[[str, int | None], bool]
    names: tuple[str, ...]
    schemes: frozenset[str] = frozenset({"https"})

    def refusal(self, url: str | httpx.URL) -> str | None:
        """Why url may not be requested (its host, port, scheme and URL, without secrets); None when it
        may."""
        try:
            parsed = httpx.URL(url) if isinstance(url, str) else url
        except httpx.InvalidURL as error:
            return f"{display_url(str(url))} ({error})"
        if parsed.scheme in self.schemes and parsed.host and self.allows(parsed.host, parsed.port):
            return None
        host = f"host {parsed.host or 'none'!r}" + ("" if parsed.port is None else f", port {parsed.port}")
        return f"{display_url(parsed)} ({host}, scheme {parsed.scheme or 'none'!r})"

    @property
    def expected(self) -> str:
        """What a hop must be, for an error: "an https URL on one of the allowed hosts (…)"."""
        schemes = " or ".join(sorted(self.schemes))
        return f"an {schemes} URL on one of the allowed hosts ({', '.join(self.names)})"


class TooManyCellsError(HttpError):
    """HTTP 403: PxWeb's answer to a query asking for too many cells; the caller should split the query."""


# --------------------------------------------------------------------------------------------------
# Helpers shared with ingest.replay (and any other code that checks payloads)


def scrub(text: str, secrets: Mapping[str, str] | None) -> str:
    """Replace every secret value (of a request's secret headers or parameters) occurring in text with ***."""
    return redact(text, sorted(secrets.values(), key=len, reverse=True)) if secrets else text


def full_url(url: str, params: Params = ()) -> str:
    """The URL httpx requests for url plus params (as in Payload.final_url when there is no redirect)."""
    return str(httpx.URL(url).copy_merge_params(list(params))) if params else str(httpx.URL(url))


def display_url(url: str | httpx.URL, params: Params = (), secrets: Mapping[str, str] | None = None) -> str:
    """The URL with its parameters, safe for logs and errors: no user info, secret-like parameters masked."""
    try:
        parsed = httpx.URL(url) if isinstance(url, str) else url
        if params:
            parsed = parsed.copy_merge_params(list(params))
    except (httpx.InvalidURL, TypeError, ValueError):
        return scrub(str(url).split("?", 1)[0], secrets)
    if parsed.userinfo:
        parsed = parsed.copy_with(username=None, password=None)
    if parsed.query:
        parsed = parsed.copy_with(params=_masked_params(parsed.params.multi_items()))
    return scrub(str(parsed).replace("%2A%2A%2A", REDACTED), secrets)


def _masked_params(params: Params, secrets: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """The parameters with the values of secret-like names masked (and secret values scrubbed)."""
    return [
        (name, REDACTED if name.lower().replace("-", "_") in _SECRET_PARAM_NAMES else scrub(value, secrets))
        for name, value in params
    ]


def looks_like_html(content_type: str | None, body: bytes) -> str | None:
    """Say why a response looks like an HTML page ("content-type" or "body"), or None if it does not."""
    if content_type is not None:
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type in ("text/html", "application/xhtml+xml"):
            return "content-type"
    start = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n\f\v").lower()
    if start.startswith((b"<!doctype html", b"<html")):
        return "body"
    return None


def check_not_html(
    source: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    accept: str | None = None,
    page: Callable[[], Payload] | None = None,
) -> None:
    """Raise HtmlPageError when a successful response is an HTML page the caller did not ask for.

    Portals answer a moved or broken download link with a 200 HTML page (a login wall, a "not found"
    page); parsing that as data fails in confusing ways, so it is rejected here with a clear message.
    `headers` are lower-cased (as in Payload.headers). A fetcher gives `page`, which makes the payload
    the error carries, its secrets masked (called only for a refused page; ingest.run keeps it as a
    rejected snapshot); the message quotes that payload.
    """
    if accept is not None and "html" in accept.lower():
        return
    why = looks_like_html(headers.get("content-type"), body)
    if why is None:
        return
    kept = page() if page is not None else None
    if kept is not None:
        headers, body = kept.headers, kept.body
    got = headers.get("content-type") if why == "content-type" else body[:200].decode("utf-8", "replace")
    raise HtmlPageError(source, why, NOT_HTML, got=None if got is None else got.strip(), payload=kept)


def status_error(
    source: str,
    method: str,
    url: str,
    status: int,
    body: bytes = b"",
    *,
    secrets: Mapping[str, str] | None = None,
) -> HttpError:
    """The error for a final non-2xx response. `url` must already be safe.

    403 to a POST is TooManyCellsError (PxWeb's answer to a query of too many cells, which the caller
    splits); 403 to a GET is refused access, said as such: a wrong API key where `secrets` holds one,
    else a source that blocks this network or client.
    """
    got = describe_status(status, body, secrets)
    field = f"{method.upper()} {url}"
    if status == 403 and method.upper() == "POST":
        return TooManyCellsError(
            source,
            field,
            "a permitted query (HTTP 403: for PxWeb, too many cells — split the query)",
            got,
            status=status,
        )
    if status == 403:
        why = (
            "check the API key, or whether the source blocks this network"
            if secrets
            else ("no key was sent: the source blocks this network or this client")
        )
        return HttpError(source, field, f"access (HTTP 403: refused — {why})", got, status=status)
    return HttpError(source, field, "HTTP 2xx", got, status=status)


def describe_status(status: int, body: bytes = b"", secrets: Mapping[str, str] | None = None) -> str:
    """ "HTTP 404 Not Found: <start of the body>", with secrets scrubbed and whitespace collapsed."""
    text = f"HTTP {status} {_reason(status)}".rstrip()
    excerpt = scrub(body[:_ERROR_BODY_BYTES].decode("utf-8", errors="replace"), secrets)
    excerpt = " ".join(excerpt.split())[:150]
    return f"{text}: {excerpt}" if excerpt else text


def _reason(status: int) -> str:
    return httpx.codes.get_reason_phrase(status)


def _retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent or bad."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


# --------------------------------------------------------------------------------------------------
# The live fetcher


class _TransientError(Exception):
    """Internal: a failure worth retrying (connection error, timeout, truncated body, 429, 5xx)."""

    def __init__(self, description: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(description)
        self.description = description
        self.status = status
        self.retry_after = retry_after


class _Call:
    """Everything about one logical request (all attempts share it)."""

    def __init__(
        self,
        source: str,
        spec: RequestSpec,
        secrets: Mapping[str, str],
        accept: str | None,
        allowed_hosts: HostRule | None = None,
    ) -> None:
        self.source = source
        self.spec = spec
        self.secrets = dict(secrets)
        self.accept = accept
        self.allowed_hosts = allowed_hosts  # None: any host, any redirect
        self.safe_url = display_url(spec.url, spec.params, self.secrets)
        self.field = f"{spec.method} {self.safe_url}"
        self.started: float | None = None  # LiveFetcher's clock at the first attempt (its deadline's start)
        self.last_failure: str | None = None  # why the attempt before the current one failed (retried)

    def error(self, expected: str, got: str | None = None, *, status: int | None = None) -> HttpError:
        return HttpError(
            self.source,
            self.field,
            expected,
            None if got is None else scrub(got, self.secrets),
            status=status,
        )


class LiveFetcher:
    """Fetcher over HTTP(S) with httpx: retries, Retry-After, per-host pacing, conditional requests.

    Secret headers (API keys) are sent but never stored in a Payload or RequestSpec, logged, or put in
    an error message; they are also dropped when a redirect leaves the original origin.

    `min_interval` is merged over DEFAULT_MIN_INTERVAL (host → seconds; 0 disables pacing for a host).
    With a `cache`, a 304 returns the cached body; if that body is missing or its hash does not match,
    the request is repeated once without validators.

    `deadline` bounds a request as a whole (s, every attempt and its body together; None: no bound): the
    per-read `timeout` alone lets a server trickling a byte a second keep a fetch alive for ever. A
    request past it is refused (HttpError naming the source, the URL without secrets and the deadline),
    and not tried again.
    """

    def __init__(
        self,
        cache: ValidatorCache | None = None,
        *,
        timeout: float = 30.0,
        deadline: float | None = DEFAULT_DEADLINE_S,
        max_bytes: int = 200_000_000,
        max_attempts: int = 5,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        retry_after_max: float = 300.0,
        min_interval: Mapping[str, float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if deadline is not None and deadline <= 0:
            raise ValueError("deadline must be positive (or None)")
        self._cache = cache
        self._deadline = deadline
        self._max_bytes = max_bytes
        self._max_attempts = max_attempts
        self._retry_after_max = retry_after_max
        self._backoff = wait_exponential_jitter(multiplier=backoff_base, max=backoff_max, jitter=backoff_base)
        self._min_interval = {**DEFAULT_MIN_INTERVAL, **(min_interval or {})}
        self._min_interval = {host.lower(): seconds for host, seconds in self._min_interval.items()}
        self._sleep = sleep
        self._clock = clock
        self._last_request: dict[str, float] = {}
        self._pace_lock = threading.Lock()
        # Redirects are followed by hand (see _send) so secret headers never leave the original origin.
        self._client = httpx.Client(
            headers={"User-Agent": USER_AGENT},
            timeout=httpx.Timeout(timeout),
            verify=True,
            follow_redirects=False,
        )

    # -- lifecycle ----------------------------------------------------------------------------------

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LiveFetcher(max_attempts={self._max_attempts}, max_bytes={self._max_bytes})"

    # -- Fetcher protocol ---------------------------------------------------------------------------

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
        """GET url; `source` names the dataset in errors. Raises FetchError on failure. With
        `allowed_hosts`, url and every redirect hop are checked before they are requested: a hop elsewhere
        is refused (HttpError naming the hop's host and the allowed hosts), not requested."""
        spec = RequestSpec("GET", url, tuple(params), None)
        return self._fetch(_Call(source, spec, secret_headers or {}, accept, allowed_hosts), content=None)

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
        spec = RequestSpec("POST", url, tuple(params), RequestSpec.canonical_body(body) or None)
        content = (spec.json_body or "").encode("utf-8")
        return self._fetch(_Call(source, spec, secret_headers or {}, None), content=content)

    # -- internals ----------------------------------------------------------------------------------

    def _fetch(self, call: _Call, content: bytes | None) -> Payload:
        call.started = self._clock()
        retrying = Retrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_TransientError),
            sleep=self._sleep,
            before_sleep=lambda state: self._log_retry(call, state),
            reraise=False,
        )
        failure: HttpError | None = None
        try:
            return retrying(self._attempt, call, content)
        except RetryError as gave_up:
            last = gave_up.last_attempt.exception()
            attempts = gave_up.last_attempt.attempt_number
            description = last.description if isinstance(last, _TransientError) else type(last).__name__
            status = last.status if isinstance(last, _TransientError) else None
            which = f"the last of {attempts} attempts" if attempts > 1 else "the only attempt"
            failure = HttpError(
                call.source,
                call.field,
                "a successful answer (HTTP 2xx)",
                scrub(f"at {which}: {description}", call.secrets),
                status=status,
                attempts=attempts,
            )
        # Raised outside the except block: no chained exception (which could hold the httpx request).
        raise failure

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, _TransientError) and exc.retry_after is not None:
            return min(exc.retry_after, self._retry_after_max)
        return float(self._backoff(state))

    def _log_retry(self, call: _Call, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        description = exc.description if isinstance(exc, _TransientError) else type(exc).__name__
        call.last_failure = scrub(description, call.secrets)
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        logger.warning(
            "%s %s: attempt %d of %d failed (%s); retrying in %.1f s",
            call.spec.method,
            call.safe_url,
            state.attempt_number,
            self._max_attempts,
            scrub(description, call.secrets),
            wait,
        )

    def _pace(self, host: str) -> None:
        """Keep at least min_interval[host] seconds between the starts of two requests to host."""
        interval = self._min_interval.get(host.lower())
        if not interval:
            return
        with self._pace_lock:
            last = self._last_request.get(host.lower())
            if last is not None:
                remaining = last + interval - self._clock()
                if remaining > 0:
                    self._sleep(remaining)
            self._last_request[host.lower()] = self._clock()

    def _attempt(self, call: _Call, content: bytes | None, conditional: bool = True) -> Payload:
        """One attempt: raises _TransientError (retried), HttpError / ValidationError (final) or returns."""
        before = f" (the last attempt: {call.last_failure})" if call.last_failure else ""
        self._check_deadline(call, f"no successful answer yet{before}; the attempts and their waits took it")
        headers: dict[str, str] = {}
        if call.accept is not None:
            headers["Accept"] = call.accept
        if content is not None:
            headers["Content-Type"] = "application/json"
        cached = self._cache.validators(call.spec.key) if (self._cache is not None and conditional) else None
        if cached is not None:
            etag, last_modified, _ = cached
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
        sent_conditional = "If-None-Match" in headers or "If-Modified-Since" in headers
        headers.update(call.secrets)

        # Errors are raised after the except blocks, so they never chain an httpx exception (whose
        # .request holds the secret headers).
        failure: Exception | None = None
        try:
            request = self._client.build_request(
                call.spec.method,
                call.spec.url,
                params=list(call.spec.params),
                content=content,
                headers=headers,
                timeout=self._attempt_timeout(call),
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError, TypeError) as exc:
            failure = call.error("a valid http(s) URL", type(exc).__name__)
        if failure is not None:
            raise failure

        started = time.perf_counter()
        response: httpx.Response | None = None
        body = b""
        try:
            response = self._send(call, request)
            if response.status_code == 304 and sent_conditional and cached is not None:
                body = b""
            elif 200 <= response.status_code < 300:
                body = self._read_capped(call, response)
            else:
                body = self._read_prefix(call, response)
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
            # Type name only: h11's message may quote an offending header value.
            failure = call.error("a request the client can send", type(exc).__name__)
        except httpx.TimeoutException as exc:
            failure = _TransientError(_describe_timeout(exc))
        except httpx.TransportError as exc:
            failure = _TransientError(scrub(_describe_transport(exc), call.secrets))
        except httpx.HTTPError as exc:
            failure = call.error("a readable response", f"{type(exc).__name__}: {exc}")
        finally:
            if response is not None:
                response.close()
        if failure is not None:
            raise failure
        assert response is not None
        status = response.status_code

        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.info(
            "%s %s -> %d, %d bytes, %.0f ms",
            call.spec.method,
            display_url(response.url, secrets=call.secrets),
            status,
            len(body),
            elapsed_ms,
        )

        response_headers = {name.lower(): value for name, value in response.headers.items()}
        final_url = str(response.url)
        fetched_at = datetime.now(UTC)

        if status == 304 and sent_conditional and cached is not None:
            cached_body = self._cached_body(cached[2])
            if cached_body is None:
                logger.warning(
                    "%s %s: 304 but the cached body %s is missing or corrupt; fetching it again",
                    call.spec.method,
                    call.safe_url,
                    cached[2][:12],
                )
                return self._attempt(call, content, conditional=False)
            return Payload(
                request=call.spec,
                status=304,
                headers=response_headers,
                body=cached_body,
                fetched_at=fetched_at,
                final_url=final_url,
                not_modified=True,
            )
        if status == 429 or 500 <= status < 600:
            retry_after = _retry_after(response_headers.get("retry-after"), fetched_at)
            description = describe_status(status, body, call.secrets)
            if retry_after is not None:
                description = f"{description} (asked to retry after {retry_after:.0f} s)"
            raise _TransientError(description, status=status, retry_after=retry_after)
        if not 200 <= status < 300:
            raise status_error(
                call.source, call.spec.method, call.safe_url, status, body, secrets=call.secrets
            )

        payload = Payload(
            request=call.spec,
            status=status,
            headers=response_headers,
            body=body,
            fetched_at=fetched_at,
            final_url=final_url,
        )
        check_not_html(
            call.source,
            response_headers,
            body,
            accept=call.accept,
            page=lambda: _masked(payload, call.secrets),
        )
        return payload

    def _attempt_timeout(self, call: _Call) -> httpx.Timeout:
        """The client's timeouts, each cut to what is left of the request's deadline: a server that sends
        nothing at all is given up at the deadline, not after a whole read timeout past it."""
        timeout = self._client.timeout
        if self._deadline is None or call.started is None:
            return timeout
        left = max(self._deadline - (self._clock() - call.started), 0.001)

        def cut(seconds: float | None) -> float:
            return left if seconds is None else min(seconds, left)

        return httpx.Timeout(
            connect=cut(timeout.connect),
            read=cut(timeout.read),
            write=cut(timeout.write),
            pool=cut(timeout.pool),
        )

    def _send(self, call: _Call, request: httpx.Request) -> httpx.Response:
        """Send, following redirects by hand; secret headers are dropped when the origin changes."""
        origin = (request.url.scheme, request.url.host, request.url.port)
        self._check_host(call, request.url, "a request to")
        for _ in range(MAX_REDIRECTS + 1):
            self._pace(request.url.host)
            # what is left of the deadline after the pacing wait and earlier hops (a redirect's request
            # copies the first hop's timeouts)
            self._check_deadline(call, "no answer yet (waiting for its turn at the host, or redirected),")
            request.extensions["timeout"] = self._attempt_timeout(call).as_dict()
            response = self._client.send(request, stream=True, follow_redirects=False)
            if not response.is_redirect or response.next_request is None:
                return response
            next_request = response.next_request
            response.close()
            self._check_host(call, next_request.url, f"HTTP {response.status_code}: a redirect to")
            if (next_request.url.scheme, next_request.url.host, next_request.url.port) != origin:
                for name in call.secrets:
                    next_request.headers.pop(name, None)
                origin = ("", "", None)  # once dropped, never restored on a later hop
            logger.info(
                "%s %s -> %d redirect to %s",
                request.method,
                display_url(request.url, secrets=call.secrets),
                response.status_code,
                display_url(next_request.url, secrets=call.secrets),
            )
            request = next_request
        raise call.error(f"at most {MAX_REDIRECTS} redirects", "a longer redirect chain")

    def _check_host(self, call: _Call, url: httpx.URL, what: str) -> None:
        """Refuse url before it is requested when the call allows some hosts only and not url's (HttpError,
        not retried)."""
        if call.allowed_hosts is None:
            return
        refusal = call.allowed_hosts.refusal(str(url))
        if refusal is not None:
            raise call.error(call.allowed_hosts.expected, f"{what} {refusal}")

    def _read_capped(self, call: _Call, response: httpx.Response) -> bytes:
        """Read the whole body, refusing more than max_bytes and detecting truncation."""
        declared = _content_length(response)
        if declared is not None and declared > self._max_bytes:
            raise call.error(
                f"a body of at most {self._max_bytes} bytes", f"Content-Length {declared}", status=200
            )
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            self._check_deadline(
                call, f"{size} bytes of the answer, still coming (a stalled or trickling server),"
            )
            if size > self._max_bytes:
                raise call.error(
                    f"a body of at most {self._max_bytes} bytes",
                    f"more than {self._max_bytes} bytes streamed",
                    status=response.status_code,
                )
            chunks.append(chunk)
        # h11 already raises RemoteProtocolError on a short body; this is a second line of defence.
        if declared is not None and response.num_bytes_downloaded < declared:
            raise _TransientError(
                f"a truncated answer: received {response.num_bytes_downloaded} of {declared} bytes",
                status=response.status_code,
            )
        return b"".join(chunks)

    def _check_deadline(self, call: _Call, progress: str) -> None:
        """Refuse the request when its deadline has passed (HttpError, not retried)."""
        if self._deadline is None or call.started is None:
            return
        elapsed = self._clock() - call.started
        if elapsed > self._deadline:
            raise call.error(
                f"a complete answer within the request's deadline of {self._deadline:g} s",
                f"{progress} after {elapsed:.1f} s",
            )

    def _read_prefix(self, call: _Call, response: httpx.Response) -> bytes:
        """The start of an error response's body (for the message); the rest is not downloaded."""
        data = b""
        try:
            for chunk in response.iter_bytes():
                data += chunk
                self._check_deadline(call, f"HTTP {response.status_code}, its body still coming,")
                if len(data) >= _ERROR_BODY_BYTES:
                    break
        except httpx.DecodingError:
            pass  # the status is what matters; keep whatever was readable
        return data[:_ERROR_BODY_BYTES]

    def _cached_body(self, sha256: str) -> bytes | None:
        assert self._cache is not None
        try:
            body = self._cache.body(sha256)
        except (KeyError, LookupError, OSError, ValueError):
            return None
        return body if hashlib.sha256(body).hexdigest() == sha256 else None


def check_answered_within(
    source: str, url: str, params: Params, answered_from: str, allowed_hosts: HostRule | None
) -> None:
    """The check of a fetcher that requests nothing itself (a replay, which follows no redirect): an
    HttpError naming source, the request (url, params), the host and the allowed hosts when allowed_hosts
    does not allow the URL its answer comes from (answered_from: its final_url); nothing without them."""
    refusal = None if allowed_hosts is None else allowed_hosts.refusal(answered_from)
    if allowed_hosts is not None and refusal is not None:
        field = f"GET {display_url(url, params)}"
        raise HttpError(source, field, allowed_hosts.expected, f"an answer from {refusal}")


def _masked(payload: Payload, secrets: Mapping[str, str]) -> Payload:
    """A payload fit to be stored though it is no data (a refused HTML page): its URLs as display_url
    masks them (no user info, secret-like parameters ***), each secret value *** in its request, headers
    and body."""
    request = payload.request
    body = payload.body
    for secret in sorted(secrets.values(), key=len, reverse=True):
        if secret:
            body = body.replace(secret.encode(), REDACTED.encode())
    return replace(
        payload,
        request=RequestSpec(
            request.method,
            display_url(request.url, secrets=secrets),
            tuple(_masked_params(request.params, secrets)),
            None if request.json_body is None else scrub(request.json_body, secrets),
        ),
        headers={name: scrub(value, secrets) for name, value in payload.headers.items()},
        body=body,
        final_url=display_url(payload.final_url, secrets=secrets),
    )


def _describe_timeout(exc: httpx.TimeoutException) -> str:
    """A timeout in plain words: what did not come within how long (the attempt's own timeouts)."""
    try:
        limits: Mapping[str, float | None] = exc.request.extensions.get("timeout", {})
    except RuntimeError:  # no request attached
        limits = {}

    def within(phase: str) -> str:
        seconds = limits.get(phase)
        return "in time" if seconds is None else f"within {seconds:.3g} s"

    if isinstance(exc, httpx.ConnectTimeout):
        return f"no connection {within('connect')} (timed out: ConnectTimeout)"
    if isinstance(exc, httpx.ReadTimeout):
        return f"no answer {within('read')} (timed out: ReadTimeout)"
    if isinstance(exc, httpx.WriteTimeout):
        return f"the request could not be sent {within('write')} (timed out: WriteTimeout)"
    return f"timed out waiting for a free connection ({type(exc).__name__})"


def _describe_transport(exc: httpx.TransportError) -> str:
    """A connection failure in plain words, with the library's own reason (scrubbed by the caller)."""
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"no connection to the server ({reason})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the server broke off the answer ({reason})"
    if isinstance(exc, httpx.ReadError):
        return f"the connection failed while reading the answer ({reason})"
    if isinstance(exc, httpx.WriteError):
        return f"the connection failed while sending the request ({reason})"
    if isinstance(exc, httpx.ProxyError):
        return f"the proxy refused or failed ({reason})"
    return f"{type(exc).__name__}: {reason}"


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)
