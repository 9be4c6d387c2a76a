"""LiveFetcher against a real local HTTP server (pytest-httpserver) and a raw socket server."""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from common.payload import RequestSpec
from ingest.errors import FetchError, HtmlPageError, ValidationError
from ingest.http import (
    USER_AGENT,
    HttpError,
    LiveFetcher,
    TooManyCellsError,
    check_not_html,
    display_url,
    looks_like_html,
)

SECRET = "sekret-KEY-9f3a7c1e-do-not-leak"
Make = Callable[..., LiveFetcher]


class MemoryCache:
    """A tiny in-memory ValidatorCache."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[str | None, str | None, str]] = {}
        self.bodies: dict[str, bytes] = {}

    def put(self, key: str, body: bytes, etag: str | None = None, last_modified: str | None = None) -> None:
        sha = hashlib.sha256(body).hexdigest()
        self.entries[key] = (etag, last_modified, sha)
        self.bodies[sha] = body

    def validators(self, request_key: str) -> tuple[str | None, str | None, str] | None:
        return self.entries.get(request_key)

    def body(self, sha256: str) -> bytes:
        return self.bodies[sha256]


class Recorder:
    """Injected sleep and clock: sleeping advances the fake clock and is recorded, never real."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def make_fetcher(rec: Recorder) -> Iterator[Callable[..., LiveFetcher]]:
    made: list[LiveFetcher] = []

    def make(**kwargs: object) -> LiveFetcher:
        options: dict[str, object] = {
            "max_attempts": 3,
            "backoff_base": 0.01,
            "backoff_max": 0.05,
            "timeout": 5.0,
            "sleep": rec.sleep,
            "clock": rec.clock,
        }
        options.update(kwargs)
        fetcher = LiveFetcher(**options)  # type: ignore[arg-type]
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        fetcher.close()


def test_get_json_200(httpserver: HTTPServer, make_fetcher: Make) -> None:
    httpserver.expect_request("/api/data", query_string="a=1&b=x").respond_with_json(
        {"ok": True}, headers={"ETag": '"v1"', "X-Custom": "Yes"}
    )
    with make_fetcher() as fetcher:
        payload = fetcher.get("ds1", httpserver.url_for("/api/data"), params=[("a", "1"), ("b", "x")])
    assert payload.status == 200
    assert json.loads(payload.body) == {"ok": True}
    assert payload.header("ETag") == '"v1"'
    assert payload.headers["x-custom"] == "Yes"
    assert all(name == name.lower() for name in payload.headers)
    assert payload.fetched_at.tzinfo is not None
    assert payload.fetched_at.utcoffset() == timedelta(0)
    assert payload.final_url == httpserver.url_for("/api/data") + "?a=1&b=x"
    assert payload.request == RequestSpec("GET", httpserver.url_for("/api/data"), (("a", "1"), ("b", "x")))
    assert not payload.not_modified
    assert not payload.is_demo
    assert payload.sha256 == hashlib.sha256(payload.body).hexdigest()
    request = httpserver.log[0][0]
    assert request.headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("kestava/")


def test_repeated_paging_calls(httpserver: HTTPServer, make_fetcher: Make) -> None:
    for n in (1, 2, 3):
        httpserver.expect_request("/pages", query_string=f"page={n}").respond_with_json(
            {"data": [n], "nextPage": n + 1 if n < 3 else None}
        )
    fetcher = make_fetcher()
    seen: list[int] = []
    page: int | None = 1
    while page is not None:
        payload = fetcher.get("fingrid_265", httpserver.url_for("/pages"), params=[("page", str(page))])
        doc = json.loads(payload.body)
        seen.extend(doc["data"])
        page = doc["nextPage"]
    assert seen == [1, 2, 3]
    assert len(httpserver.log) == 3


def test_post_json_sends_canonical_body(httpserver: HTTPServer, make_fetcher: Make) -> None:
    query = {"response": {"format": "json-stat2"}, "query": [{"code": "Alue", "values": ["KU049"]}]}
    canonical = RequestSpec.canonical_body(query)
    httpserver.expect_request("/table.px", method="POST", data=canonical).respond_with_json({"value": [1]})
    payload = make_fetcher().post_json("pxweb", httpserver.url_for("/table.px"), query)
    assert payload.request == RequestSpec("POST", httpserver.url_for("/table.px"), (), canonical)
    assert httpserver.log[0][0].headers["Content-Type"].startswith("application/json")


def test_etag_304_returns_cached_body(httpserver: HTTPServer, make_fetcher: Make) -> None:
    cache = MemoryCache()
    url = httpserver.url_for("/etag")
    httpserver.expect_oneshot_request("/etag").respond_with_data(
        b'{"v": 1}', headers={"ETag": '"abc"'}, content_type="application/json"
    )
    httpserver.expect_oneshot_request("/etag", headers={"If-None-Match": '"abc"'}).respond_with_data(
        b"", status=304, headers={"ETag": '"abc"'}
    )
    fetcher = make_fetcher(cache=cache)
    first = fetcher.get("ds", url)
    assert first.status == 200
    assert not first.not_modified
    cache.put(first.request.key, first.body, etag=first.header("etag"))

    second = fetcher.get("ds", url)
    assert second.status == 304
    assert second.not_modified
    assert second.body == b'{"v": 1}'
    assert second.sha256 == first.sha256
    assert httpserver.log[1][0].headers["If-None-Match"] == '"abc"'
    httpserver.check_assertions()


def test_if_modified_since(httpserver: HTTPServer, make_fetcher: Make) -> None:
    cache = MemoryCache()
    url = httpserver.url_for("/ims")
    stamp = "Wed, 21 Oct 2026 07:28:00 GMT"
    cache.put(RequestSpec("GET", url).key, b"a;b\n1;2\n", last_modified=stamp)
    httpserver.expect_request("/ims", headers={"If-Modified-Since": stamp}).respond_with_data(b"", status=304)
    payload = make_fetcher(cache=cache).get("ds", url)
    assert payload.not_modified
    assert payload.status == 304
    assert payload.body == b"a;b\n1;2\n"
    assert "If-None-Match" not in httpserver.log[0][0].headers


def test_304_with_missing_cached_body_refetches(httpserver: HTTPServer, make_fetcher: Make) -> None:
    cache = MemoryCache()
    url = httpserver.url_for("/gone")
    cache.put(RequestSpec("GET", url).key, b"old", etag='"e"')
    cache.bodies.clear()  # the stored body vanished
    httpserver.expect_oneshot_request("/gone", headers={"If-None-Match": '"e"'}).respond_with_data(
        b"", status=304
    )
    httpserver.expect_oneshot_request("/gone").respond_with_data(b"fresh", content_type="text/csv")
    payload = make_fetcher(cache=cache).get("ds", url)
    assert payload.status == 200
    assert payload.body == b"fresh"
    assert "If-None-Match" not in httpserver.log[1][0].headers


def test_429_retry_after_seconds(httpserver: HTTPServer, make_fetcher: Make, rec: Recorder) -> None:
    httpserver.expect_oneshot_request("/busy").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "2"}
    )
    httpserver.expect_oneshot_request("/busy").respond_with_json({"ok": 1})
    payload = make_fetcher().get("ds", httpserver.url_for("/busy"))
    assert payload.status == 200
    assert rec.sleeps == [pytest.approx(2.0)]


def test_retry_after_http_date_is_capped(httpserver: HTTPServer, make_fetcher: Make, rec: Recorder) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(hours=2), usegmt=True)
    httpserver.expect_oneshot_request("/busy").respond_with_data(
        "", status=503, headers={"Retry-After": later}
    )
    httpserver.expect_oneshot_request("/busy").respond_with_json({"ok": 1})
    payload = make_fetcher(retry_after_max=7.5).get("ds", httpserver.url_for("/busy"))
    assert payload.status == 200
    assert rec.sleeps == [7.5]


def test_500_then_success(httpserver: HTTPServer, make_fetcher: Make, rec: Recorder) -> None:
    httpserver.expect_oneshot_request("/flaky").respond_with_data("oops", status=500)
    httpserver.expect_oneshot_request("/flaky").respond_with_json([1, 2])
    payload = make_fetcher().get("ds", httpserver.url_for("/flaky"))
    assert json.loads(payload.body) == [1, 2]
    assert len(rec.sleeps) == 1
    assert 0.01 <= rec.sleeps[0] <= 0.02 + 1e-9  # backoff_base, plus jitter of at most backoff_base


def test_persistent_503_gives_up(httpserver: HTTPServer, make_fetcher: Make, rec: Recorder) -> None:
    httpserver.expect_request("/down").respond_with_data("maintenance", status=503)
    with pytest.raises(HttpError) as info:
        make_fetcher(max_attempts=4).get("statfin_11ra", httpserver.url_for("/down"), params=[("x", "1")])
    err = info.value
    assert err.attempts == 4
    assert err.status == 503
    assert len(httpserver.log) == 4
    assert len(rec.sleeps) == 3
    text = str(err)
    assert text.startswith("statfin_11ra: GET " + httpserver.url_for("/down") + "?x=1")
    assert "4 attempts" in text
    assert "503" in text
    assert not isinstance(err, TooManyCellsError)


def test_gave_up_message_says_what_the_last_answer_was(httpserver: HTTPServer, make_fetcher: Make) -> None:
    httpserver.expect_oneshot_request("/busy").respond_with_data("", status=502)
    httpserver.expect_oneshot_request("/busy").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "7"}
    )
    with pytest.raises(HttpError) as info:
        make_fetcher(max_attempts=2).get("eurostat_sdg_13_10", httpserver.url_for("/busy"))
    assert str(info.value) == (
        f"eurostat_sdg_13_10: GET {httpserver.url_for('/busy')}: expected a successful answer (HTTP 2xx), "
        "got at the last of 2 attempts: HTTP 429 Too Many Requests: slow down (asked to retry after 7 s)"
    )
    assert "gave up" not in str(info.value)
    assert info.value.status == 429


def test_gave_up_message_names_the_connection_error(make_fetcher: Make) -> None:
    with socket.socket() as sock:  # a port nobody listens on once this socket is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(HttpError) as info:
        make_fetcher(max_attempts=1).get("syke_alas", f"http://127.0.0.1:{port}/file.csv")
    text = str(info.value)
    assert f"syke_alas: GET http://127.0.0.1:{port}/file.csv: expected a successful answer (HTTP 2xx)" in text
    assert "got at the only attempt: no connection to the server (" in text
    assert "refused" in text.lower()
    assert info.value.status is None


def test_timeout_is_retried_then_fails(httpserver: HTTPServer, make_fetcher: Make) -> None:
    def slow(request: Request) -> Response:
        time.sleep(0.3)
        return Response("late", content_type="application/json")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    started = time.perf_counter()
    with pytest.raises(FetchError) as info:
        make_fetcher(max_attempts=2, timeout=0.1).get("ds", httpserver.url_for("/slow"))
    assert time.perf_counter() - started < 3
    assert "2 attempts" in str(info.value)
    assert "no answer within 0.1 s (timed out: ReadTimeout)" in str(info.value)
    # the server is still answering the timed-out attempts: let it finish, or its log entries land in the
    # next test's log (the server is shared by the tests of a worker)
    deadline = time.monotonic() + 5
    while len(httpserver.log) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture
def raw_server() -> Iterator[Callable[[bytes], str]]:
    """A one-connection-at-a-time raw socket server sending a fixed response, then closing."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.1)
    stop = threading.Event()
    response = {"bytes": b""}
    served = {"count": 0}

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                conn.sendall(response["bytes"])
                served["count"] += 1

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def start(raw: bytes) -> str:
        response["bytes"] = raw
        return f"http://127.0.0.1:{sock.getsockname()[1]}/file.csv"

    start.served = served  # type: ignore[attr-defined]
    yield start
    stop.set()
    thread.join(2)
    sock.close()


def test_truncated_body(raw_server: Callable[[bytes], str], make_fetcher: Make) -> None:
    url = raw_server(b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: 1000\r\n\r\na;b\n1;2\n")
    with pytest.raises(FetchError) as info:
        make_fetcher(max_attempts=2).get("syke_alas", url)
    text = str(info.value)
    assert "2 attempts" in text  # transient: retried like a connection error
    assert "1000" in text or "incomplete" in text.lower() or "peer closed" in text
    assert raw_server.served["count"] == 2  # type: ignore[attr-defined]


def test_html_page_with_200_is_rejected(httpserver: HTTPServer, make_fetcher: Make) -> None:
    httpserver.expect_request("/by-type").respond_with_data(
        "<p>Moved</p>", content_type="text/html; charset=utf-8"
    )
    httpserver.expect_request("/by-body").respond_with_data(
        "\n  <!DOCTYPE html><html><body>Login</body></html>", content_type="application/octet-stream"
    )
    fetcher = make_fetcher()
    with pytest.raises(ValidationError) as by_type:
        fetcher.get("hsy", httpserver.url_for("/by-type"))
    assert by_type.value.field == "content-type"
    assert "not an HTML page" in str(by_type.value)
    with pytest.raises(ValidationError) as by_body:
        fetcher.get("hsy", httpserver.url_for("/by-body"))
    assert by_body.value.field == "body"
    # Asked for HTML: fine.
    assert fetcher.get("hsy", httpserver.url_for("/by-type"), accept="text/html").body == b"<p>Moved</p>"


def test_a_refused_html_page_carries_the_page_as_received_with_its_secrets_masked(
    httpserver: HTTPServer, make_fetcher: Make
) -> None:
    # a login wall: the data URL redirects to a page that echoes the key and carries a session token
    page = f"<!DOCTYPE html><html><body>Kirjaudu: avain {SECRET} vanhentunut</body></html>".encode()
    login = httpserver.url_for("/login")
    httpserver.expect_request("/data").respond_with_data(
        "", status=302, headers={"Location": f"{login}?back=%2Fdata&token={SECRET}&lang=fi"}
    )
    httpserver.expect_request("/login").respond_with_data(page, content_type="text/html; charset=utf-8")
    secrets = {"x-api-key": SECRET}
    params = [("page", "1"), ("api_key", "param-secret-0d1e")]

    before = datetime.now(UTC)
    with pytest.raises(HtmlPageError) as info:
        make_fetcher().get("fingrid_265", httpserver.url_for("/data"), params=params, secret_headers=secrets)
    after = datetime.now(UTC)

    kept = info.value.payload
    assert kept is not None and info.value.field == "content-type"
    # the page as it came, but for the key it echoed
    assert kept.body == page.replace(SECRET.encode(), b"***") and SECRET.encode() not in kept.body
    assert kept.sha256 == hashlib.sha256(kept.body).hexdigest()
    assert kept.status == 200 and kept.header("content-type") == "text/html; charset=utf-8"
    assert before <= kept.fetched_at <= after and not kept.not_modified
    # provenance: what was asked and where the answer came from, secret-like parameters masked
    assert (kept.request.method, kept.request.url) == ("GET", httpserver.url_for("/data"))
    assert kept.request.params == (("page", "1"), ("api_key", "***"))
    assert httpx.URL(kept.final_url).copy_with(query=None) == httpx.URL(login)
    assert httpx.URL(kept.final_url).params.multi_items() == [
        ("back", "/data"),
        ("token", "***"),
        ("lang", "fi"),
    ]
    texts = [
        repr(kept),
        kept.final_url,
        repr(kept.request),
        repr(dict(kept.headers)),
        *_error_texts(info.value),
    ]
    _assert_no_secret(*texts)
    assert "param-secret-0d1e" not in " ".join(texts)


def test_an_html_page_a_connector_checks_carries_no_payload() -> None:
    with pytest.raises(HtmlPageError) as info:
        check_not_html("x", {"content-type": "text/html"}, b"<p>Moved</p>")
    assert info.value.payload is None


def test_html_check_helpers() -> None:
    assert looks_like_html("text/html", b"") == "content-type"
    assert looks_like_html("application/json", b"\xef\xbb\xbf <HTML lang=fi>") == "body"
    assert looks_like_html("application/json", b'{"html": 1}') is None
    check_not_html("x", {"content-type": "text/csv"}, b"a;b\n")
    with pytest.raises(ValidationError):
        check_not_html("x", {}, b"<!doctype html>")


def test_oversize_body(httpserver: HTTPServer, make_fetcher: Make) -> None:
    httpserver.expect_request("/big").respond_with_data(b"x" * 5000, content_type="text/csv")

    def chunked(request: Request) -> Response:
        return Response((b"y" * 1000 for _ in range(5)), content_type="text/csv")  # no Content-Length

    httpserver.expect_request("/stream").respond_with_handler(chunked)
    fetcher = make_fetcher(max_bytes=1024)
    with pytest.raises(FetchError) as declared:
        fetcher.get("ds", httpserver.url_for("/big"))
    assert "Content-Length 5000" in str(declared.value)
    with pytest.raises(FetchError) as streamed:
        fetcher.get("ds", httpserver.url_for("/stream"))
    assert "at most 1024 bytes" in str(streamed.value)
    assert len(httpserver.log) == 2  # not retried


def test_403_is_too_many_cells(httpserver: HTTPServer, make_fetcher: Make) -> None:
    httpserver.expect_request("/table.px", method="POST").respond_with_data("Too many cells", status=403)
    with pytest.raises(TooManyCellsError) as info:
        make_fetcher().post_json("statfin_11re", httpserver.url_for("/table.px"), {"query": []})
    assert isinstance(info.value, FetchError)
    assert info.value.status == 403
    assert len(httpserver.log) == 1


def test_403_to_a_get_is_refused_access_not_too_many_cells(
    httpserver: HTTPServer, make_fetcher: Make
) -> None:
    refused = '{"message": "Forbidden"}'
    httpserver.expect_request("/api/datasets/265/data").respond_with_data(refused, status=403)
    with pytest.raises(HttpError) as info:
        make_fetcher().get(
            "fingrid_emission_factor",
            httpserver.url_for("/api/datasets/265/data"),
            secret_headers={"x-api-key": "k-123"},
        )
    text = str(info.value)
    assert not isinstance(info.value, TooManyCellsError)
    assert info.value.status == 403
    assert "check the API key" in text and "too many cells" not in text
    assert text.startswith("fingrid_emission_factor: GET http://") and "HTTP 403 Forbidden" in text
    assert "k-123" not in text
    assert len(httpserver.log) == 1


def test_403_to_a_get_without_a_key_blames_no_key(httpserver: HTTPServer, make_fetcher: Make) -> None:
    """HRI's CKAN needs no key: its 403 is a block of this network or client (SOURCES.md), not a key."""
    httpserver.expect_request("/data/api/3/action/package_show").respond_with_data("Forbidden", status=403)
    with pytest.raises(HttpError) as info:
        make_fetcher().get("hsy_emissions", httpserver.url_for("/data/api/3/action/package_show"))
    text = str(info.value)
    assert "no key was sent: the source blocks this network or this client" in text
    assert "API key" not in text


def test_404_fails_without_retry(httpserver: HTTPServer, make_fetcher: Make, rec: Recorder) -> None:
    httpserver.expect_request("/missing").respond_with_data("No such table: 11zz", status=404)
    with pytest.raises(FetchError) as info:
        make_fetcher().get("statfin_11zz", httpserver.url_for("/missing"))
    text = str(info.value)
    assert "HTTP 404 Not Found" in text
    assert "No such table: 11zz" in text
    assert text.startswith("statfin_11zz: GET http://")
    assert not isinstance(info.value, TooManyCellsError)
    assert len(httpserver.log) == 1
    assert rec.sleeps == []


def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text


def _error_texts(err: BaseException) -> list[str]:
    return [str(err), repr(err), "".join(traceback.format_exception(err)), repr(err.args)]


def test_secret_header_never_leaks(
    httpserver: HTTPServer, make_fetcher: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = {"x-api-key": SECRET}
    httpserver.expect_request("/ok", headers={"x-api-key": SECRET}).respond_with_json({"data": []})
    # Servers sometimes echo what they got: the echo must be scrubbed from error messages too.
    httpserver.expect_request("/denied").respond_with_data(f"bad key {SECRET}", status=401)
    httpserver.expect_request("/down").respond_with_data(f"down for {SECRET}", status=503)
    httpserver.expect_request("/html").respond_with_data("<html>hi</html>", content_type="text/html")

    fetcher = make_fetcher(max_attempts=2)
    payload = fetcher.get(
        "fingrid_265", httpserver.url_for("/ok"), params=[("page", "1")], secret_headers=secrets
    )
    # the server did receive it (by path: the shared server's log may hold a late request of another test)
    (received,) = [request for request, _ in httpserver.log if request.path == "/ok"]
    assert received.headers["x-api-key"] == SECRET
    _assert_no_secret(repr(payload), repr(payload.request), repr(dict(payload.headers)), payload.final_url)
    assert SECRET.encode() not in payload.body

    errors: list[BaseException] = []
    for path in ("/denied", "/down", "/html"):
        with pytest.raises((FetchError, ValidationError)) as info:
            fetcher.get("fingrid_265", httpserver.url_for(path), secret_headers=secrets)
        errors.append(info.value)
        assert info.value.__cause__ is None
        assert info.value.__context__ is None  # no chained httpx exception holding the request
    for err in errors:
        _assert_no_secret(*_error_texts(err))
    assert "***" in str(errors[0])  # the echoed key was replaced, the rest of the body kept

    # A connection failure (nothing listening) too.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    with pytest.raises(FetchError) as info:
        fetcher.get("fingrid_265", f"http://127.0.0.1:{dead_port}/x", secret_headers=secrets)
    _assert_no_secret(*_error_texts(info.value))
    assert info.value.__context__ is None

    assert any(r.name == "ingest.http" and r.levelno == logging.INFO for r in caplog.records)
    _assert_no_secret(caplog.text, *(repr(r.args) for r in caplog.records))
    _assert_no_secret(repr(fetcher))


def test_secret_in_query_is_masked_in_errors(
    httpserver: HTTPServer, make_fetcher: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # other code may have quietened httpx
    httpserver.expect_request("/q").respond_with_data("nope", status=400)
    with pytest.raises(FetchError) as info:
        make_fetcher().get("ds", httpserver.url_for("/q"), params=[("api_key", SECRET), ("geo", "FI")])
    assert "api_key=***" in str(info.value)
    assert "geo=FI" in str(info.value)
    _assert_no_secret(*_error_texts(info.value))
    client_side = [r for r in caplog.records if r.name != "werkzeug"]  # werkzeug logs the test server
    assert any(r.name == "httpx" for r in client_side)
    _assert_no_secret(*(r.getMessage() for r in client_side))
    assert display_url("https://u:p@h.example/x?token=abc&a=1") == "https://h.example/x?token=***&a=1"


def test_redirects_followed_and_secret_dropped_across_origins(
    httpserver: HTTPServer, make_fetcher: Make
) -> None:
    secrets = {"x-api-key": SECRET}
    same = httpserver.url_for("/final")
    other_origin = same.replace("localhost", "127.0.0.1")
    assert other_origin != same
    httpserver.expect_request("/start").respond_with_data("", status=302, headers={"Location": "/final?p=1"})
    httpserver.expect_request("/final").respond_with_json({"done": True})
    httpserver.expect_request("/away").respond_with_data("", status=301, headers={"Location": other_origin})
    fetcher = make_fetcher()

    payload = fetcher.get("ds", httpserver.url_for("/start"), secret_headers=secrets)
    assert payload.final_url == same + "?p=1"
    assert payload.request.url == httpserver.url_for("/start")
    assert httpserver.log[-1][0].headers.get("x-api-key") == SECRET  # same origin: kept

    payload = fetcher.get("ds", httpserver.url_for("/away"), secret_headers=secrets)
    assert payload.final_url == other_origin
    assert httpserver.log[-2][0].headers.get("x-api-key") == SECRET
    assert "x-api-key" not in httpserver.log[-1][0].headers  # other origin: dropped


def test_rate_limit_per_host(httpserver: HTTPServer, make_fetcher: Make, rec: Recorder) -> None:
    httpserver.expect_request("/r").respond_with_json({})
    fetcher = make_fetcher(min_interval={"localhost": 6.0})
    url = httpserver.url_for("/r")
    fetcher.get("ds", url)
    assert rec.sleeps == []
    rec.now += 2.5
    fetcher.get("ds", url)
    assert rec.sleeps == [pytest.approx(3.5)]
    rec.now += 10.0
    fetcher.get("ds", url)
    assert rec.sleeps == [pytest.approx(3.5)]
    fetcher.get("ds", url)
    assert rec.sleeps == [pytest.approx(3.5), pytest.approx(6.0)]
    # Another host is not paced by localhost's interval.
    fetcher.get("ds", url.replace("localhost", "127.0.0.1"))
    assert len(rec.sleeps) == 2


def test_default_intervals_follow_house_rules() -> None:
    from ingest.http import DEFAULT_MIN_INTERVAL

    assert DEFAULT_MIN_INTERVAL["pxdata.stat.fi"] == 1.0
    assert DEFAULT_MIN_INTERVAL["trafi2.stat.fi"] == 1.0  # Traficom's PxWeb: the same 10 requests per 10 s
    assert DEFAULT_MIN_INTERVAL["data.fingrid.fi"] == 6.0


def test_a_server_trickling_its_answer_is_cut_off_at_the_requests_deadline(
    httpserver: HTTPServer, make_fetcher: Make
) -> None:
    """The per-read timeout never fires while a byte comes every 0.2 s; the overall deadline does."""

    def trickle(_request: Request) -> Response:
        def body() -> Iterator[bytes]:
            for _ in range(100):  # 20 s in all
                time.sleep(0.2)
                yield b"x"

        return Response(body(), headers={"Content-Length": "100"}, content_type="text/csv")

    httpserver.expect_request("/slow").respond_with_handler(trickle)
    fetcher = make_fetcher(deadline=1.5, timeout=1.0, clock=time.monotonic, sleep=time.sleep)
    started = time.monotonic()
    with pytest.raises(HttpError) as caught:
        fetcher.get(
            "hsy_emissions",
            httpserver.url_for("/slow"),
            params=[("year", "2024")],
            secret_headers={"x-api-key": "trickle-secret-key"},
        )
    assert time.monotonic() - started < 4.0
    message = str(caught.value)
    assert "hsy_emissions" in message and f"GET {httpserver.url_for('/slow')}?year=2024" in message
    assert "deadline of 1.5 s" in message and "bytes of the answer, still coming" in message
    assert "trickle-secret-key" not in message
    assert len(httpserver.log) == 1  # not tried again: another attempt would trickle as long


def test_the_deadline_covers_every_attempt_and_its_wait(httpserver: HTTPServer, make_fetcher: Make) -> None:
    httpserver.expect_request("/busy").respond_with_data("busy", status=503, headers={"Retry-After": "1"})
    fetcher = make_fetcher(deadline=0.5, max_attempts=5, clock=time.monotonic, sleep=time.sleep)
    with pytest.raises(HttpError) as caught:
        fetcher.get("statfin_population", httpserver.url_for("/busy"))
    assert "deadline of 0.5 s" in str(caught.value)
    assert len(httpserver.log) == 1  # the second attempt would start after the deadline


def test_a_server_that_sends_nothing_is_given_up_at_the_deadline_with_the_reason(
    httpserver: HTTPServer, make_fetcher: Make
) -> None:
    """Without headers, the read timeout (here 5 s) governed: a deadline of 1 s was cut at 31 s in the audit,
    and its message ("within the request's deadline of 4 s … after 31.1 s") dropped why."""

    def silent(_request: Request) -> Response:
        time.sleep(3.0)
        return Response("late", content_type="text/csv")

    httpserver.expect_request("/silent").respond_with_handler(silent)
    fetcher = make_fetcher(deadline=1.0, timeout=5.0, max_attempts=3, clock=time.monotonic, sleep=time.sleep)
    started = time.monotonic()
    with pytest.raises(HttpError) as caught:
        fetcher.get("hsy_emissions", httpserver.url_for("/silent"))
    took = time.monotonic() - started
    assert took < 2.0, took
    message = str(caught.value)
    assert "deadline of 1 s" in message
    assert "the last attempt: no answer within" in message and "ReadTimeout" in message


def test_a_redirect_to_a_silent_server_is_given_up_at_the_deadline(
    httpserver: HTTPServer, make_fetcher: Make
) -> None:
    """A redirect's request had kept the first hop's timeouts, and no deadline was checked between hops."""

    def slow_redirect(_request: Request) -> Response:
        time.sleep(0.7)
        return Response("", status=302, headers={"Location": httpserver.url_for("/silent")})

    def silent(_request: Request) -> Response:
        time.sleep(3.0)
        return Response("late", content_type="text/csv")

    httpserver.expect_request("/moved").respond_with_handler(slow_redirect)
    httpserver.expect_request("/silent").respond_with_handler(silent)
    fetcher = make_fetcher(deadline=1.0, timeout=5.0, max_attempts=1, clock=time.monotonic, sleep=time.sleep)
    started = time.monotonic()
    with pytest.raises(HttpError) as caught:
        fetcher.get("hsy_emissions", httpserver.url_for("/moved"))
    assert time.monotonic() - started < 1.4  # the second hop had kept the first hop's 1 s: 1.7 s
    assert "ReadTimeout" in str(caught.value) or "deadline of 1 s" in str(caught.value)


def test_a_wait_for_the_hosts_turn_counts_against_the_deadline(
    httpserver: HTTPServer, make_fetcher: Make
) -> None:
    httpserver.expect_request("/paced").respond_with_data("a,b\n1,2\n", content_type="text/csv")
    host = httpx.URL(httpserver.url_for("/")).host
    fetcher = make_fetcher(
        deadline=0.5, min_interval={host: 2.0}, clock=time.monotonic, sleep=time.sleep, max_attempts=1
    )
    fetcher._pace(host)  # a request to the host has just started (as one of another dataset would)
    started = time.monotonic()
    with pytest.raises(HttpError) as caught:
        fetcher.get("hsy_emissions", httpserver.url_for("/paced"))  # waits 2 s for its turn
    assert "deadline of 0.5 s" in str(caught.value) and "waiting for its turn" in str(caught.value)
    assert time.monotonic() - started < 2.5
