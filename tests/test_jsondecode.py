"""Tests for ingest.jsondecode: JSON payloads with a repeated key are rejected, everything else decodes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from ingest import jsondecode
from ingest.catalogue import load_catalogue
from ingest.errors import ValidationError
from ingest.eurostat import EurostatConnector
from ingest.fingrid import FingridConnector
from ingest.http import LiveFetcher
from ingest.jsondecode import DuplicateKeyError
from ingest.jsonstat import read_jsonstat
from ingest.pxweb import parse_metadata

SPARSE = (
    b'{"version":"2.0","class":"dataset","id":["geo","time"],"size":[1,3],'
    b'"dimension":{"geo":{"category":{"index":{"FI":0}}},'
    b'"time":{"category":{"index":{"2021":0,"2022":1,"2023":2}}}},'
    b'"value":{"0":40.1,"5":1.0,"2":41.0,"5":2.0}}'
)


def test_a_repeated_key_in_a_jsonstat_value_is_rejected_naming_it() -> None:
    with pytest.raises(DuplicateKeyError) as info:
        jsondecode.loads(SPARSE, "eurostat_cei_wm011")
    assert str(info.value) == (
        "eurostat_cei_wm011: body: value: expected an object with each key once (JSON leaves a repeated "
        'key undefined; a parser keeps one silently), got key "5" 2 times '
        'in the object with keys "0", "5", "2"'
    )
    assert isinstance(info.value, ValidationError)  # rejected like any malformed payload
    with pytest.raises(DuplicateKeyError, match="body: value"):
        read_jsonstat(SPARSE, source="statfin_population")  # the PxWeb path decodes through here too


@pytest.mark.parametrize(
    ("raw", "path", "key"),
    [
        (b'{"a": 1, "a": 1}', "body", "a"),  # even the same value twice: which one was meant is unknown
        (b'{"data": [{"x": 1}, {"x": 1, "y": 2, "x": 3}]}', "body: data[1]", "x"),
        (b'{"d": {"e": {"f:g": "h:i", "f:g": "h"}}}', "body: d.e", "f:g"),  # colons in keys and values
        # an escaped colon (\u003a) cannot hide a duplicate from the count
        (b'{"k": "\\u003a", "s": {"1": 0, "1": 0}}', "body: s", "1"),
        ('{"ä": {"ö": 1, "ö": 2}}'.encode(), "body: ä", "ö"),
    ],
)
def test_repeated_keys_anywhere_are_found_with_their_path(raw: bytes, path: str, key: str) -> None:
    with pytest.raises(DuplicateKeyError) as info:
        jsondecode.loads(raw, "src")
    assert info.value.field == path
    assert info.value.got is not None and info.value.got.startswith(f'key "{key}" ')
    with pytest.raises(DuplicateKeyError):
        jsondecode.loads(raw.decode(), "src")  # text as well as bytes


def test_arrays_known_to_hold_numbers_are_skipped_and_other_repeats_still_found() -> None:
    raw = b'{"value": [1.5, null, 2, true], "dimension": {"a": {"k": 1, "k": 2}}}'
    document = orjson.loads(raw)
    with pytest.raises(DuplicateKeyError, match=r"body: dimension\.a"):
        jsondecode.check_keys(raw, document, "src", numeric=(document["value"],))
    unique = b'{"value": [1.5, null, 2, true], "label": "a:b", "n": [3]}'
    document = orjson.loads(unique)
    jsondecode.check_keys(unique, document, "src", numeric=(document["value"], document["n"]))


def test_a_huge_object_repeating_its_last_key_is_refused_in_linear_time() -> None:
    # 40,000 keys (about 430 KB), the last one a repeat: scanning the key list once per key took 49 s
    keys = [f"key{i:06d}" for i in range(40_000)]
    raw = ("{" + ",".join(f'"{k}": 1' for k in [*keys, keys[-1]]) + "}").encode()
    started = time.perf_counter()
    with pytest.raises(DuplicateKeyError) as info:
        jsondecode.loads(raw, "src")
    elapsed = time.perf_counter() - started
    assert info.value.field == "body"
    assert info.value.got is not None and info.value.got.startswith('key "key039999" 2 times ')
    assert elapsed < 5, f"{elapsed:.1f} s"  # loose: well under 0.5 s when linear


def test_invalid_json_raises_orjsons_error_for_the_callers_message() -> None:
    with pytest.raises(orjson.JSONDecodeError):
        jsondecode.loads(b'{"value": {"0": 1.0', "src")


_keys = st.text(alphabet=st.sampled_from('ab:\\"é0 '), max_size=4)
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _keys,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(doc=_json, escape=st.booleans())
def test_unique_keys_decode_exactly_as_orjson(doc: Any, escape: bool) -> None:
    raw = json.dumps(doc, ensure_ascii=escape).encode()
    if escape:
        raw = raw.replace(b":", b"\\u003a").replace(b'"\\u003a ', b'": ')  # colons inside strings only
    assert jsondecode.loads(raw, "src") == orjson.loads(raw)


@settings(max_examples=300, deadline=None)
@given(doc=st.dictionaries(_keys, _json, min_size=1, max_size=4), data=st.data())
def test_any_repeated_key_is_rejected(doc: dict[str, Any], data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(doc)))
    raw = json.dumps(doc).encode()
    repeated = raw[:-1] + b", " + json.dumps(key).encode() + b": " + json.dumps(doc[key]).encode() + b"}"
    with pytest.raises(DuplicateKeyError):
        jsondecode.loads(repeated, "src")


# ---------------------------------------------------------------------------------------------------------
# every JSON protocol, from a local server


@pytest.fixture
def fetcher() -> Iterator[LiveFetcher]:
    with LiveFetcher(max_attempts=1, timeout=5) as live:
        yield live


def test_eurostat_rejects_a_repeated_value_key(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    spec = load_catalogue().dataset("eurostat_cei_wm011")
    httpserver.expect_request("/data").respond_with_data(SPARSE, content_type="application/json")
    payload = fetcher.get(spec.id, httpserver.url_for("/data"))
    with pytest.raises(DuplicateKeyError, match=r"^eurostat_cei_wm011: body: value: .*key \"5\" 2 times"):
        EurostatConnector().parse(spec, [payload])


def test_pxweb_metadata_rejects_a_repeated_key(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    body = '{"title": "Väestö", "title": "Population", "variables": []}'.encode()
    httpserver.expect_request("/table.px").respond_with_data(body, content_type="application/json")
    payload = fetcher.get("statfin_population", httpserver.url_for("/table.px"))
    with pytest.raises(DuplicateKeyError, match=r"^statfin_population: metadata: .*key \"title\" 2 times"):
        parse_metadata("statfin_population", payload.body)


def test_fingrid_rejects_a_repeated_key_on_a_page(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    spec = load_catalogue().dataset("fingrid_emission_factor")
    row = b'{"datasetId": 265, "startTime": "2026-11-01T00:00:00.000Z", '
    row += b'"endTime": "2026-11-01T00:03:00.000Z", "value": 80.1, "value": 8.1}'
    body = b'{"data": [' + row + b'], "pagination": {"currentPage": 1, "lastPage": 1}}'
    httpserver.expect_request("/data").respond_with_data(body, content_type="application/json")
    payload = fetcher.get(spec.id, httpserver.url_for("/data"))
    with pytest.raises(DuplicateKeyError, match=r"page 1: body: data\[0\]: .*key \"value\" 2 times"):
        FingridConnector().parse(spec, [payload])
