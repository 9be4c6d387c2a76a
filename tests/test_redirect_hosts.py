"""Redirects of a download restricted to allowed hosts (HSY's download_hosts): each hop checked before it is
requested, against real local HTTP servers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError as PydanticValidationError
from pytest_httpserver import HTTPServer

from common.payload import Fetcher, HostRule, Params, Payload, RequestSpec
from ingest.catalogue import DatasetSpec, load_catalogue
from ingest.errors import ValidationError
from ingest.hsy import XLSX_MEDIA_TYPE, HsyConnector, allowed_hosts, check_download_url
from ingest.http import AllowedHosts, HttpError, LiveFetcher, check_answered_within
from ingest.manifest import Manifest
from ingest.replay import ReplayFetcher, record_exchange
from tests.test_hsy import API_PATH, PACKAGE, envelope, resource, xlsx

# the catalogue's download_hosts for HSY, and the local server's own host and port (the catalogue URL's, as
# in production hri.fi's own)
ALLOWED = "*.hsy.fi, hri.fi, hsy.fi, localhost:{port}, www.hri.fi"
SECRET = "redirect-t0ken-never-shown"


@pytest.fixture
def fetcher() -> Iterator[LiveFetcher]:
    with LiveFetcher(max_attempts=2, backoff_base=0.001, backoff_max=0.01, timeout=5.0) as live:
        yield live


@pytest.fixture
def spec(httpserver: HTTPServer) -> DatasetSpec:
    """HSY's catalogue entry on the local server (http there: the catalogue URL's own scheme is allowed,
    as tests/test_hsy.py does)."""
    base = load_catalogue().dataset("hsy_emissions")
    return base.model_copy(update={"url": httpserver.url_for(API_PATH)})


@pytest.fixture
def elsewhere() -> Iterator[HTTPServer]:
    """A second server on 127.0.0.1: a host HSY's catalogue entry does not allow."""
    server = HTTPServer(host="127.0.0.1")
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def mirror() -> Iterator[HTTPServer]:
    """A second server on localhost (another port): an allowed host."""
    server = HTTPServer(host="localhost")
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


def listing_redirected_to(httpserver: HTTPServer, location: str) -> None:
    """package_show listing the XLSX on the allowed server, whose download answers 302 to location."""
    listed = [resource(httpserver.url_for("/download/new.xlsx"), "2025-06-03T09:12:44")]
    httpserver.expect_request(API_PATH, query_string={"id": PACKAGE}).respond_with_json(envelope(listed))
    httpserver.expect_request("/download/new.xlsx").respond_with_data(
        "", status=302, headers={"Location": location}
    )


def test_a_redirect_from_an_allowed_host_to_another_is_refused_before_it_is_requested(
    httpserver: HTTPServer, elsewhere: HTTPServer, spec: DatasetSpec, fetcher: LiveFetcher
) -> None:
    elsewhere.expect_request("/evil.xlsx").respond_with_data(xlsx(), content_type=XLSX_MEDIA_TYPE)
    listing_redirected_to(httpserver, elsewhere.url_for(f"/evil.xlsx?token={SECRET}"))
    with pytest.raises(HttpError) as caught:
        HsyConnector().fetch(spec, fetcher)
    error = caught.value
    assert error.source == "hsy_emissions"
    allowed = ALLOWED.format(port=httpserver.port)
    assert f"allowed hosts ({allowed})" in error.expected and "an http or https URL" in error.expected
    assert "HTTP 302: a redirect to" in (error.got or "") and "host '127.0.0.1'" in (error.got or "")
    assert SECRET not in str(error)  # the hop's secret-like parameter is masked
    assert error.attempts == 1  # not retried
    assert elsewhere.log == []  # the target was never asked
    assert [request.path for request, _ in httpserver.log] == [API_PATH, "/download/new.xlsx"]


def test_a_redirect_to_an_allowed_host_on_another_port_is_refused_before_it_is_requested(
    httpserver: HTTPServer, mirror: HTTPServer, spec: DatasetSpec, fetcher: LiveFetcher
) -> None:
    """localhost is allowed on the catalogue URL's port only: the same host on another port is another
    server (https://hsy.fi:8443 is not https://hsy.fi)."""
    mirror.expect_request("/mirror/new.xlsx").respond_with_data(xlsx(), content_type=XLSX_MEDIA_TYPE)
    listing_redirected_to(httpserver, mirror.url_for("/mirror/new.xlsx"))
    with pytest.raises(HttpError) as caught:
        HsyConnector().fetch(spec, fetcher)
    got = caught.value.got or ""
    assert "HTTP 302: a redirect to" in got and f"host 'localhost', port {mirror.port}" in got, got
    assert f"localhost:{httpserver.port}" in caught.value.expected
    assert mirror.log == []  # never asked
    assert caught.value.attempts == 1


def test_a_redirect_from_an_allowed_host_to_another_allowed_one_is_followed(
    httpserver: HTTPServer, mirror: HTTPServer, spec: DatasetSpec, fetcher: LiveFetcher
) -> None:
    """The mirror's port named in download_hosts (localhost:<port>): followed."""
    mirror.expect_request("/mirror/new.xlsx").respond_with_data(xlsx(), content_type=XLSX_MEDIA_TYPE)
    listing_redirected_to(httpserver, mirror.url_for("/mirror/new.xlsx"))
    spec = spec.model_copy(update={"download_hosts": (*spec.download_hosts, f"localhost:{mirror.port}")})
    connector = HsyConnector()
    payloads = connector.fetch(spec, fetcher)
    assert payloads[-1].final_url == mirror.url_for("/mirror/new.xlsx")
    frame = connector.parse(spec, payloads)
    assert set(frame["area"]) == {"049", "091", "092", "235"}  # tests/test_hsy.py's ROWS, PKS dropped
    assert len(mirror.log) == 1


def test_only_the_allowed_schemes_are_requested(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    """https only: a plain-http URL, though on an allowed host, is refused before it is requested."""
    httpserver.expect_request("/data.csv").respond_with_data("a,b\n")
    https_only = AllowedHosts(lambda host, port: host == "localhost", ("localhost",))
    with pytest.raises(HttpError) as caught:
        fetcher.get("hsy_emissions", httpserver.url_for("/data.csv"), allowed_hosts=https_only)
    assert caught.value.expected == "an https URL on one of the allowed hosts (localhost)"
    assert "scheme 'http'" in (caught.value.got or "")
    assert httpserver.log == []


def test_without_allowed_hosts_a_redirect_anywhere_is_still_followed(
    httpserver: HTTPServer, elsewhere: HTTPServer, fetcher: LiveFetcher
) -> None:
    """The other connectors (no declared host list) keep their behaviour."""
    elsewhere.expect_request("/moved.csv").respond_with_data("a,b\n1,2\n", content_type="text/csv")
    httpserver.expect_request("/data.csv").respond_with_data(
        "", status=301, headers={"Location": elsewhere.url_for("/moved.csv")}
    )
    payload = fetcher.get("eurostat_x", httpserver.url_for("/data.csv"))
    assert payload.body == b"a,b\n1,2\n" and len(elsewhere.log) == 1


class _Answered:
    """A test fetcher that requests nothing (as a replay): its answer says it came from final_url."""

    def __init__(self, final_url: str) -> None:
        self.final_url = final_url

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
        check_answered_within(source, url, params, self.final_url, allowed_hosts)
        when = datetime(2026, 12, 7, tzinfo=UTC)
        return Payload(RequestSpec("GET", url, tuple(params)), 200, {}, b"x", when, self.final_url)

    def post_json(
        self,
        source: str,
        url: str,
        body: object,
        *,
        params: Params = (),
        secret_headers: Mapping[str, str] | None = None,
    ) -> Payload:
        raise NotImplementedError


def _refused(fetcher: Fetcher, url: str, hosts: AllowedHosts, host: str) -> None:
    with pytest.raises(HttpError) as caught:
        fetcher.get("hsy_emissions", url, allowed_hosts=hosts)
    assert caught.value.source == "hsy_emissions" and caught.value.expected == hosts.expected
    assert f"host {host!r}" in (caught.value.got or ""), caught.value.got


def test_every_fetcher_answers_whether_the_hosts_allow_it(tmp_path: Path, httpserver: HTTPServer) -> None:
    """The same AllowedHosts given to a replay of a snapshot, a test fetcher and the live fetcher: each
    refuses an answer from a host it does not allow (the live one before requesting it), naming the dataset
    and the host; without them, any host is answered."""
    hosts = AllowedHosts(lambda host, port: host == "hri.fi" and port is None, ("hri.fi",))
    allowed, elsewhere = "https://hri.fi/data/p.xlsx", "https://evil.example/p.xlsx"
    manifest = Manifest(label="test", description="test snapshot", created="2026-12-07")
    for n, url in enumerate((allowed, elsewhere)):
        record_exchange(
            tmp_path, manifest, "hsy_emissions", RequestSpec("GET", url), 200, {}, b"x", f"{n}.xlsx"
        )
    replay = ReplayFetcher(tmp_path, manifest=manifest)
    assert replay.get("hsy_emissions", allowed, allowed_hosts=hosts).body == b"x"
    _refused(replay, elsewhere, hosts, "evil.example")
    assert replay.get("hsy_emissions", elsewhere).body == b"x"

    assert _Answered(allowed).get("hsy_emissions", allowed, allowed_hosts=hosts).final_url == allowed
    _refused(_Answered(elsewhere), allowed, hosts, "evil.example")  # redirected there

    httpserver.expect_request("/p.xlsx").respond_with_data(b"x")
    with LiveFetcher(max_attempts=1) as live:
        _refused(live, httpserver.url_for("/p.xlsx"), hosts, "localhost")
        assert httpserver.log == []  # not requested
        assert live.get("hsy_emissions", httpserver.url_for("/p.xlsx")).body == b"x"


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hsy.fi/data/p.xlsx", True),
        ("https://hsy.fi:443/data/p.xlsx", True),  # the default port, named
        ("https://hsy.fi:8443/data/p.xlsx", False),
        ("https://www.hsy.fi:8443/data/p.xlsx", False),
        ("https://hri.fi:444/data/p.xlsx", False),
        ("https://hsy.fi:80/data/p.xlsx", False),  # http's default, not https'
        ("http://hsy.fi/data/p.xlsx", False),  # the scheme
    ],
)
def test_the_listed_download_is_checked_for_its_port_as_each_hop_is(url: str, allowed: bool) -> None:
    """HSY's catalogue entry as shipped: its hosts on https' default port only."""
    spec = load_catalogue().dataset("hsy_emissions")
    assert (allowed_hosts(spec).refusal(url) is None) is allowed
    if allowed:
        check_download_url(spec, url)
    else:
        with pytest.raises(ValidationError) as caught:
            check_download_url(spec, url)
        assert caught.value.source == "hsy_emissions" and caught.value.field == "resource url"


def test_download_hosts_may_name_a_port() -> None:
    base = load_catalogue().dataset("hsy_emissions")
    spec = DatasetSpec(**{**base.model_dump(), "download_hosts": ["hsy.fi:8443", "*.hsy.fi"]})
    assert spec.allows_download_host("hsy.fi", 8443) and spec.allows_download_host("hsy.fi", None)
    assert not spec.allows_download_host("hsy.fi", 8444)
    assert not spec.allows_download_host("www.hsy.fi", 8443)  # the port is named for hsy.fi alone
    assert allowed_hosts(spec).refusal("https://hsy.fi:8443/p.xlsx") is None
    for bad in ("hsy.fi:0", "hsy.fi:65536", "hsy.fi:", "hsy.fi:x"):
        with pytest.raises(PydanticValidationError, match="download_hosts"):
            DatasetSpec(**{**base.model_dump(), "download_hosts": [bad]})
