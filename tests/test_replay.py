"""ReplayFetcher and record_exchange on a snapshot folder built in tmp_path."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from common.payload import RequestSpec
from ingest.errors import FetchError, ValidationError
from ingest.http import HttpError, TooManyCellsError
from ingest.manifest import Manifest, read_manifest, write_manifest
from ingest.replay import ReplayFetcher, record_exchange, snapshot_manifest

BASE = "https://pxdata.stat.fi/PxWeb/api/v1/fi/StatFin/vaerak/11ra.px"
FINGRID = "https://data.fingrid.fi/api/datasets/265/data"
QUERY = {"query": [{"code": "alue", "selection": {"filter": "item", "values": ["KU049"]}}]}


def _manifest(label: str = "demo") -> Manifest:
    return Manifest(label=label, description="test snapshot", created="2026-11-27")


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    manifest = _manifest()
    record_exchange(
        tmp_path,
        manifest,
        "statfin_11ra",
        RequestSpec("GET", BASE),
        200,
        {"Content-Type": "application/json"},
        b'{"title": "meta"}',
        "statfin/11ra_meta.json",
    )
    record_exchange(
        tmp_path,
        manifest,
        "statfin_11ra",
        RequestSpec("POST", BASE, (), RequestSpec.canonical_body(QUERY)),
        200,
        {"content-type": "application/json"},
        b'{"value": [305000]}',
        "statfin/11ra_data.json",
    )
    params = (("startTime", "2026-11-01T00:00:00.000Z"), ("page", "1"))
    record_exchange(
        tmp_path,
        manifest,
        "fingrid_265",
        RequestSpec("GET", FINGRID, params),
        200,
        {"content-type": "application/json"},
        b'{"data": [], "pagination": {"nextPage": null}}',
        "fingrid/265_p1.json",
    )
    record_exchange(
        tmp_path, manifest, "broken", RequestSpec("GET", BASE + "/down"), 500, {}, b"boom", "broken.txt"
    )
    record_exchange(
        tmp_path, manifest, "big", RequestSpec("POST", BASE, (), '{"all":true}'), 403, {}, b"", "big.txt"
    )
    record_exchange(
        tmp_path,
        manifest,
        "portal",
        RequestSpec("GET", "https://hri.fi/moved.xlsx"),
        200,
        {"content-type": "text/html"},
        b"<html>moved</html>",
        "portal.html",
    )
    write_manifest(manifest, tmp_path)
    return tmp_path


def test_record_and_replay(snapshot: Path) -> None:
    fetcher = ReplayFetcher(snapshot)
    meta = fetcher.get("statfin_11ra", BASE)
    assert meta.body == b'{"title": "meta"}'
    assert meta.status == 200
    assert meta.header("Content-Type") == "application/json"
    assert meta.is_demo
    assert meta.fetched_at.tzinfo is not None
    assert meta.final_url == BASE
    assert meta.request == RequestSpec("GET", BASE)

    data = fetcher.post_json("statfin_11ra", BASE, QUERY)
    assert json.loads(data.body) == {"value": [305000]}
    assert data.request.json_body == RequestSpec.canonical_body(QUERY)

    page = fetcher.get(
        "fingrid_265",
        FINGRID,
        params=[("startTime", "2026-11-01T00:00:00.000Z"), ("page", "1")],
        secret_headers={"x-api-key": "not-needed-offline"},
    )
    assert page.final_url == FINGRID + "?startTime=2026-11-01T00%3A00%3A00.000Z&page=1"
    assert "not-needed-offline" not in repr(page)


def test_body_files_and_manifest_written(snapshot: Path) -> None:
    manifest = read_manifest(snapshot)
    assert len(manifest.exchanges) == 6
    assert (snapshot / "statfin" / "11ra_meta.json").read_bytes() == b'{"title": "meta"}'
    meta = next(e for e in manifest.exchanges if e.file == "statfin/11ra_meta.json")
    assert meta.headers == {"content-type": "application/json"}  # lower-cased on record


def test_rerecording_replaces_the_exchange(tmp_path: Path) -> None:
    manifest = _manifest()
    spec = RequestSpec("GET", BASE)
    record_exchange(tmp_path, manifest, "d", spec, 200, {}, b"old", "a.json")
    record_exchange(tmp_path, manifest, "d", spec, 200, {}, b"new", "b.json")
    assert len(manifest.exchanges) == 1
    assert ReplayFetcher(tmp_path, manifest=manifest).get("d", BASE).body == b"new"


def test_record_refuses_paths_outside_the_snapshot(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="inside the snapshot"):
        record_exchange(tmp_path, _manifest(), "d", RequestSpec("GET", BASE), 200, {}, b"x", "../escape.json")


def test_fixed_fetched_at_and_non_demo_label(snapshot: Path) -> None:
    manifest = read_manifest(snapshot).model_copy(update={"label": "recorded"})
    when = datetime(2026, 11, 2, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    payload = ReplayFetcher(snapshot, manifest=manifest, fetched_at=when).get("statfin_11ra", BASE)
    assert payload.fetched_at == when
    assert payload.fetched_at.tzinfo == UTC
    assert not payload.is_demo


def test_missing_recording(snapshot: Path) -> None:
    fetcher = ReplayFetcher(snapshot)
    with pytest.raises(FetchError) as info:
        fetcher.get("statfin_11re", BASE.replace("11ra", "11re"), params=[("lang", "fi")])
    text = str(info.value)
    assert text.startswith("statfin_11re: GET https://pxdata.stat.fi/")
    assert "11re.px?lang=fi" in text
    assert "offline snapshot" in text
    assert "no recording" in text
    # Same URL, different parameter order: a different request.
    with pytest.raises(FetchError, match="no recording"):
        fetcher.get("fingrid_265", FINGRID, params=[("page", "1"), ("startTime", "2026-11-01T00:00:00.000Z")])
    # Same URL, different POST body.
    with pytest.raises(FetchError, match="POST"):
        fetcher.post_json("statfin_11ra", BASE, {"query": []})


def test_recorded_error_statuses_behave_like_live(snapshot: Path) -> None:
    fetcher = ReplayFetcher(snapshot)
    with pytest.raises(HttpError) as info:
        fetcher.get("broken", BASE + "/down")
    assert info.value.status == 500
    assert "HTTP 500 Internal Server Error: boom" in str(info.value)
    assert not isinstance(info.value, TooManyCellsError)
    with pytest.raises(TooManyCellsError):
        fetcher.post_json("big", BASE, {"all": True})


def test_recorded_html_page_is_rejected(snapshot: Path) -> None:
    fetcher = ReplayFetcher(snapshot)
    with pytest.raises(ValidationError) as info:
        fetcher.get("portal", "https://hri.fi/moved.xlsx")
    assert info.value.field == "content-type"
    assert (
        fetcher.get("portal", "https://hri.fi/moved.xlsx", accept="text/html").body == b"<html>moved</html>"
    )


def test_missing_body_file(snapshot: Path) -> None:
    (snapshot / "statfin" / "11ra_meta.json").unlink()
    with pytest.raises(FetchError, match=r"11ra_meta\.json"):
        ReplayFetcher(snapshot).get("statfin_11ra", BASE)


def test_key_is_stable_for_same_params_in_same_order() -> None:
    params = [("geo", "FI"), ("geo", "EU27_2020"), ("sinceTimePeriod", "2000")]
    a = RequestSpec("GET", "https://ec.europa.eu/x", tuple(params))
    b = RequestSpec(
        "GET", "https://ec.europa.eu/x", (("geo", "FI"), ("geo", "EU27_2020"), ("sinceTimePeriod", "2000"))
    )
    assert a.key == b.key
    reordered = RequestSpec("GET", "https://ec.europa.eu/x", tuple(reversed(params)))
    assert reordered.key != a.key
    body_one = RequestSpec("POST", BASE, (), RequestSpec.canonical_body({"b": 1, "a": [1, 2]}))
    body_two = RequestSpec("POST", BASE, (), RequestSpec.canonical_body({"a": [1, 2], "b": 1}))
    assert body_one.key == body_two.key


def test_live_and_replay_build_the_same_request_spec(snapshot: Path) -> None:
    """The key the live fetcher would compute is the one the manifest stores."""
    manifest = read_manifest(snapshot)
    keys = {e.request().key for e in manifest.exchanges}
    assert RequestSpec("POST", BASE, (), RequestSpec.canonical_body(QUERY)).key in keys


def test_conflicting_duplicate_recordings_are_refused(tmp_path: Path) -> None:
    manifest = _manifest()
    record_exchange(tmp_path, manifest, "d", RequestSpec("GET", BASE), 200, {}, b"a", "a.json")
    duplicate = manifest.exchanges[0].model_copy(update={"file": "b.json"})
    manifest.exchanges.append(duplicate)
    with pytest.raises(ValidationError, match="one recording per request"):
        ReplayFetcher(tmp_path, manifest=manifest)


def test_errors_name_the_request_and_repeated_replays_give_the_same_final_url(snapshot: Path) -> None:
    fetcher = ReplayFetcher(snapshot, manifest=read_manifest(snapshot))
    params = [("startTime", "2026-11-01T00:00:00.000Z"), ("page", "1")]
    first = fetcher.get("fingrid_265", FINGRID, params=params)
    again = ReplayFetcher(snapshot).get("fingrid_265", FINGRID, params=params)
    assert first.final_url == again.final_url == FINGRID + "?startTime=2026-11-01T00%3A00%3A00.000Z&page=1"
    with pytest.raises(FetchError) as missing:
        fetcher.get("fingrid_265", FINGRID, params=[("page", "2"), ("api_key", "s3cret")])
    assert missing.value.field.startswith(f"GET {FINGRID}?page=2")
    assert "s3cret" not in str(missing.value)
    (snapshot / "statfin" / "11ra_meta.json").unlink()
    with pytest.raises(FetchError) as gone:
        fetcher.get("statfin_11ra", BASE)
    assert gone.value.field == f"GET {BASE}"


def test_the_manifest_is_read_again_only_when_the_file_changed(snapshot: Path) -> None:
    first = snapshot_manifest(snapshot)
    assert snapshot_manifest(snapshot) is first  # unchanged file: the manifest and its index as read
    fetcher = ReplayFetcher(snapshot)
    assert fetcher.manifest is first
    assert ReplayFetcher(snapshot, manifest=first).get("statfin_11ra", BASE).body == b'{"title": "meta"}'
    # re-recorded: another body file for the same request, and the label changed (a new mtime and size)
    manifest = read_manifest(snapshot)
    manifest.label = "recorded"
    record_exchange(
        snapshot, manifest, "statfin_11ra", RequestSpec("GET", BASE), 200, {}, b'{"title": "new"}', "new.json"
    )
    write_manifest(manifest, snapshot)
    second = snapshot_manifest(snapshot)
    assert second is not first and second.label == "recorded"
    replayed = ReplayFetcher(snapshot).get("statfin_11ra", BASE)
    assert replayed.body == b'{"title": "new"}' and not replayed.is_demo
    # a manifest of the caller's is indexed as given, whatever the file says
    assert ReplayFetcher(snapshot, manifest=first).get("statfin_11ra", BASE).body == b'{"title": "meta"}'


def test_a_rewrite_of_the_same_size_is_seen_by_its_mtime(snapshot: Path) -> None:
    assert snapshot_manifest(snapshot).label == "demo"
    path = snapshot / "manifest.json"
    before = path.stat()
    path.write_text(path.read_text(encoding="utf-8").replace('"demo"', '"omed"'), encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))  # same size, a later mtime
    assert path.stat().st_size == before.st_size
    assert snapshot_manifest(snapshot).label == "omed"


def test_a_body_file_is_read_and_hashed_again_only_when_it_changed(snapshot: Path) -> None:
    fetcher = ReplayFetcher(snapshot)
    first = fetcher.get("statfin_11ra", BASE)
    assert first.sha256 == hashlib.sha256(b'{"title": "meta"}').hexdigest()
    again = fetcher.get("statfin_11ra", BASE)
    assert again.body is first.body and again.sha256 == first.sha256  # the file as read before
    path = snapshot / "statfin" / "11ra_meta.json"
    before = path.stat()
    path.write_bytes(b'{"title": "mexa"}')  # the same size: seen by its later mtime
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    changed = fetcher.get("statfin_11ra", BASE)
    assert changed.body == b'{"title": "mexa"}'
    assert changed.sha256 == hashlib.sha256(b'{"title": "mexa"}').hexdigest() != first.sha256
    path.write_bytes(b'{"title": "a longer title"}')
    assert ReplayFetcher(snapshot).get("statfin_11ra", BASE).body == b'{"title": "a longer title"}'
