"""FingridConnector on a local HTTP server: paging, interval from timestamps, daily and weekly means."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from common.helsinki import HELSINKI
from common.payload import Payload, RequestSpec
from ingest.catalogue import DatasetSpec, load_catalogue
from ingest.connector import Connector
from ingest.errors import FetchError, ValidationError
from ingest.fingrid import FingridConnector, format_time, window
from ingest.http import LiveFetcher
from ingest.jsondecode import DuplicateKeyError
from ingest.manifest import Manifest
from ingest.plausibility import PlausibilityError, require_plausible
from ingest.replay import ReplayFetcher
from scripts.demo import fingrid as demo

SECRET = "fingrid-key-7c1e9f3a-never-log-me"
PATH = "/api/datasets/265/data"
STEP = timedelta(minutes=3)
# "Now" is 00:30 on 19 November in Helsinki (22:30 UTC the day before): today is the 19th.
NOW = datetime(2026, 11, 18, 22, 30, tzinfo=UTC)


def item(start: datetime, value: object, dataset: object = 265) -> dict[str, Any]:
    return {
        "datasetId": dataset,
        "startTime": format_time(start),
        "endTime": format_time(start + STEP),
        "value": value,
    }


def two_days() -> list[dict[str, Any]]:
    """17 Nov: 240 values of 10 then 240 of 20 (mean 15, full); 18 Nov: 100 values of 30 (partial)."""
    day1 = datetime(2026, 11, 17, tzinfo=HELSINKI).astimezone(UTC)
    day2 = datetime(2026, 11, 18, tzinfo=HELSINKI).astimezone(UTC)
    items = [item(day1 + i * STEP, 10.0 if i < 240 else 20) for i in range(480)]
    items += [item(day2 + i * STEP, 30.0) for i in range(100)]
    items.append(item(datetime(2026, 11, 19, tzinfo=HELSINKI).astimezone(UTC), 999.0))  # at endTime: outside
    return items


class PagedApi:
    """The data endpoint: checks the API key, serves `items` in pages of pageSize, records the queries."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.queries: list[dict[str, str]] = []

    def __call__(self, request: Request) -> Response:
        if request.headers.get("x-api-key") != SECRET:
            return Response('{"message": "Unauthorized"}', status=401, content_type="application/json")
        query = dict(request.args)
        self.queries.append(query)
        size, page = int(query["pageSize"]), int(query["page"])
        last = max(1, -(-len(self.items) // size))
        chunk = self.items[(page - 1) * size : page * size]
        document = {
            "data": chunk,
            "pagination": {
                "total": len(self.items),
                "lastPage": last,
                "prevPage": page - 1 if page > 1 else None,
                "nextPage": page + 1 if page < last else None,
                "perPage": size,
                "currentPage": page,
                "from": (page - 1) * size + 1,
                "to": (page - 1) * size + len(chunk),
            },
        }
        return Response(json.dumps(document), content_type="application/json")


@pytest.fixture
def fetcher() -> Iterator[LiveFetcher]:
    with LiveFetcher(max_attempts=2, backoff_base=0.001, backoff_max=0.01, timeout=5.0) as live:
        yield live


def make_spec(httpserver: HTTPServer, **options: object) -> DatasetSpec:
    base = load_catalogue().dataset("fingrid_emission_factor")
    url = httpserver.url_for("/api/datasets/{dataset}/data")
    return base.model_copy(update={"url": url, "options": {**base.options, "days": 2, **options}})


def connector(clock: datetime = NOW, key: str | None = SECRET) -> FingridConnector:
    return FingridConnector(clock=lambda: clock, environ={} if key is None else {"FINGRID_API_KEY": key})


def test_pages_until_next_page_is_null_and_computes_daily_and_weekly_means(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    api = PagedApi(two_days())
    httpserver.expect_request(PATH).respond_with_handler(api)
    spec = make_spec(httpserver, page_size=200)
    source = connector()
    payloads = source.fetch(spec, fetcher)

    assert len(payloads) == 3
    assert [q["page"] for q in api.queries] == ["1", "2", "3"]
    for query in api.queries:
        assert query["startTime"] == "2026-11-16T22:00:00.000Z"  # 17 Nov 00:00 in Helsinki
        assert query["endTime"] == "2026-11-18T22:00:00.000Z"  # 19 Nov 00:00 in Helsinki
        assert (query["pageSize"], query["sortBy"], query["sortOrder"]) == ("200", "startTime", "asc")

    frame = source.parse(spec, payloads)
    assert frame.columns == ["area", "period", "value", "flag", "unit", "measure"]
    rows = {(r["measure"], r["period"]): (r["value"], r["flag"]) for r in frame.iter_rows(named=True)}
    assert rows == {
        ("daily_mean", "2026-11-17"): (15.0, None),
        ("daily_mean", "2026-11-18"): (30.0, "partial"),
        ("weekly_mean", "2026-W47"): (pytest.approx((480 * 15 + 100 * 30) / 580), "partial"),
    }
    assert set(frame["area"]) == {"FI"}
    assert set(frame["unit"]) == {"gCO2/kWh"}


def test_api_key_is_sent_but_never_stored_logged_or_put_in_errors(
    httpserver: HTTPServer, fetcher: LiveFetcher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = PagedApi(two_days())
    httpserver.expect_request(PATH).respond_with_handler(api)
    spec = make_spec(httpserver, page_size=1000)
    payloads = connector().fetch(spec, fetcher)
    assert api.queries  # the server accepted the key
    for payload in payloads:
        assert SECRET not in repr(payload.headers)
        assert SECRET not in repr(payload.request)
        assert SECRET not in payload.final_url
        assert SECRET.encode() not in payload.body
    assert SECRET not in caplog.text

    httpserver.clear()
    httpserver.expect_request(PATH).respond_with_data(f"bad key {SECRET}", status=400)
    with pytest.raises(FetchError) as caught:
        connector().fetch(spec, fetcher)
    assert SECRET not in str(caught.value)
    assert SECRET not in caplog.text


def test_wrong_key_gives_a_fetch_error(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    httpserver.expect_request(PATH).respond_with_handler(PagedApi(two_days()))
    with pytest.raises(FetchError, match="401"):
        connector(key="wrong").fetch(make_spec(httpserver), fetcher)


def test_connector_fulfils_the_protocol() -> None:
    source: Connector = FingridConnector()
    assert (source.protocol, source.reader_version) == ("fingrid", "fingrid-json/1")
    assert load_catalogue().dataset("fingrid_emission_factor").protocol == source.protocol


def test_missing_key_names_the_variable(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    with pytest.raises(FetchError) as caught:
        connector(key=None).fetch(make_spec(httpserver), fetcher)
    assert "FINGRID_API_KEY" in caught.value.field
    assert not httpserver.log


def test_reference_date_option_overrides_the_clock(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    api = PagedApi(two_days())
    httpserver.expect_request(PATH).respond_with_handler(api)
    spec = make_spec(httpserver, reference_date="2026-11-23", days=28)
    connector(clock=datetime(2030, 1, 1, tzinfo=UTC)).fetch(spec, fetcher)
    start, end = window(date(2026, 11, 23), 28)
    assert (api.queries[0]["startTime"], api.queries[0]["endTime"]) == (
        "2026-10-25T22:00:00.000Z",
        format_time(end),
    )
    assert format_time(start) == "2026-10-25T22:00:00.000Z"


def test_html_page_with_status_200_is_a_validation_error(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    httpserver.expect_request(PATH).respond_with_data(
        "<!DOCTYPE html><html><body>Maintenance</body></html>", content_type="text/html"
    )
    with pytest.raises(ValidationError):
        connector().fetch(make_spec(httpserver), fetcher)


def test_next_page_that_does_not_advance_is_rejected(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    document = {"data": [], "pagination": {"nextPage": 1, "currentPage": 1}}
    httpserver.expect_request(PATH).respond_with_json(document)
    with pytest.raises(ValidationError, match="nextPage"):
        connector().fetch(make_spec(httpserver), fetcher)


# --------------------------------------------------------------------------------------------------
# parse() on hand-made pages


def page(data: object, pagination: object | None = None, start: str = "2026-11-16T22:00:00.000Z") -> Payload:
    document: dict[str, Any] = {"data": data}
    if pagination is not None:
        document["pagination"] = pagination
    params = (("startTime", start), ("endTime", "2026-11-18T22:00:00.000Z"), ("page", "1"))
    url = "https://data.fingrid.fi/api/datasets/265/data"
    body = json.dumps(document).encode()
    return Payload(RequestSpec("GET", url, params), 200, {"content-type": "application/json"}, body, NOW, url)


def parse(*payloads: Payload) -> pl.DataFrame:
    return connector().parse(load_catalogue().dataset("fingrid_emission_factor"), payloads)


FIRST = datetime(2026, 11, 16, 22, 0, tzinfo=UTC)
DONE = {"nextPage": None}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (page([item(FIRST, 1.0)]), "page 1: pagination"),
        (page({"x": 1}, DONE), "page 1: data"),
        (page([item(FIRST, "41,2")], DONE), "page 1: data[0].value"),
        (page([item(FIRST, True)], DONE), "page 1: data[0].value"),
        (page([item(FIRST, 1.0), item(FIRST + STEP, 2.0, dataset=266)], DONE), "page 1: data[1].datasetId"),
        (
            page([{"datasetId": 265, "startTime": "yesterday", "value": 1.0}], DONE),
            "page 1: data[0].startTime",
        ),
        (page([item(FIRST, 1.0), item(FIRST, 2.0)], DONE), "data[].startTime"),
        (page([item(FIRST, 1.0), item(FIRST + STEP, 2.0)], {**DONE, "total": 3}), "pagination.total"),
        (page([item(FIRST - STEP, 1.0)], DONE), "data"),
    ],
)
def test_bad_json_shapes_are_rejected(payload: Payload, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse(payload)
    assert caught.value.field == field
    assert caught.value.source == "fingrid_emission_factor"


def test_null_values_are_missing_not_zero_and_identical_duplicates_are_merged() -> None:
    items = [item(FIRST, 10.0), item(FIRST + STEP, None), item(FIRST + 2 * STEP, 20.0), item(FIRST, 10.0)]
    frame = parse(page(items, DONE))
    daily = frame.filter(pl.col("measure") == "daily_mean").row(0, named=True)
    assert (daily["period"], daily["value"], daily["flag"]) == ("2026-11-17", 15.0, "partial")


def test_daylight_saving_day_expects_25_hours_of_values() -> None:
    start = datetime(2026, 10, 25, tzinfo=HELSINKI).astimezone(UTC)  # 21:00 UTC on the 24th (EEST)
    assert (datetime(2026, 10, 26, tzinfo=HELSINKI).astimezone(UTC) - start) == timedelta(hours=25)
    full = [item(start + i * STEP, 5.0) for i in range(500)]
    frame = parse(page(full, DONE, start=format_time(start)))
    assert frame.filter(pl.col("measure") == "daily_mean")["flag"].to_list() == [None]
    frame = parse(page(full[:480], DONE, start=format_time(start)))
    assert frame.filter(pl.col("measure") == "daily_mean")["flag"].to_list() == ["partial"]


# --------------------------------------------------------------------------------------------------
# The demo snapshot generator


def test_demo_snapshot_replays_with_the_reference_date(tmp_path: Path) -> None:
    manifest = Manifest(label="demo", description="test", created="2026-11-23")
    demo.generate(tmp_path, manifest)
    base = load_catalogue().dataset("fingrid_emission_factor")
    spec = base.model_copy(update={"options": {**base.options, "reference_date": "2026-11-23"}})
    source = FingridConnector(environ={"FINGRID_API_KEY": "offline-placeholder"})
    payloads = source.fetch(spec, ReplayFetcher(tmp_path, manifest=manifest))
    frame = source.parse(spec, payloads)

    daily = frame.filter(pl.col("measure") == "daily_mean")
    weekly = frame.filter(pl.col("measure") == "weekly_mean")
    assert daily.height == 28
    assert (daily["period"][0], daily["period"][-1]) == ("2026-10-26", "2026-11-22")
    assert weekly["period"].to_list() == ["2026-W44", "2026-W45", "2026-W46", "2026-W47"]
    assert daily.filter(pl.col("flag") == "partial")["period"].to_list() == ["2026-11-12"]
    assert weekly.filter(pl.col("flag") == "partial")["period"].to_list() == ["2026-W46"]

    document = json.loads(payloads[0].body)
    by_day: dict[str, list[float]] = defaultdict(list)
    for entry in document["data"]:
        moment = datetime.fromisoformat(entry["startTime"].replace("Z", "+00:00")).astimezone(HELSINKI)
        by_day[moment.date().isoformat()].append(entry["value"])
    assert len(document["data"]) == 28 * 480 - 20
    for period, value in daily.select("period", "value").iter_rows():
        assert value == pytest.approx(sum(by_day[period]) / len(by_day[period]))
    assert all(5 < value < 120 for value in daily["value"])
    assert {"content-type", "etag", "date"} <= set(manifest.exchanges[0].headers)

    again = tmp_path / "again"
    demo.generate(again, Manifest(label="demo", description="test", created="2026-11-23"))
    first = (tmp_path / manifest.exchanges[0].file).read_bytes()
    second = (again / manifest.exchanges[0].file).read_bytes()
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the documents the connector decodes, in order (orjson.loads counted, not replaced)."""
    sizes: list[int] = []
    real_loads = orjson.loads

    def counting_loads(data: bytes) -> Any:
        sizes.append(len(data))
        return real_loads(data)

    monkeypatch.setattr("ingest.fingrid.orjson.loads", counting_loads)
    return sizes


def test_each_page_is_decoded_once_and_parse_still_decodes_other_payloads(
    httpserver: HTTPServer, fetcher: LiveFetcher, decoded: list[int]
) -> None:
    httpserver.expect_request(PATH).respond_with_handler(PagedApi(two_days()))
    spec = make_spec(httpserver, page_size=200)
    source = connector()
    payloads = source.fetch(spec, fetcher)
    assert len(decoded) == 3
    frame = source.parse(spec, payloads)
    assert len(decoded) == 3  # parse reused the pages fetch decoded
    copies = [Payload(p.request, p.status, p.headers, p.body, p.fetched_at, p.final_url) for p in payloads]
    assert connector().parse(spec, copies).equals(frame)  # payloads it did not fetch are decoded anew
    assert len(decoded) == 6
    del payloads
    assert source._documents == {}  # nothing kept once the payloads are gone


class CompactApi(PagedApi):
    """The API's own compact JSON (no spaces), which ends `…],"pagination":{…}}`."""

    def __call__(self, request: Request) -> Response:
        response = super().__call__(request)
        if response.status_code != 200:
            return response
        body = orjson.dumps(json.loads(response.get_data()))
        return Response(body, content_type="application/json")


def test_compact_pages_are_followed_from_their_end_and_decoded_once_by_parse(
    httpserver: HTTPServer, fetcher: LiveFetcher, decoded: list[int]
) -> None:
    httpserver.expect_request(PATH).respond_with_handler(CompactApi(two_days()))
    spec = make_spec(httpserver, page_size=200)
    source = connector()
    payloads = source.fetch(spec, fetcher)
    assert len(payloads) == 3
    assert all(size < 300 for size in decoded)  # only each page's pagination, not its values
    frame = source.parse(spec, payloads)
    assert sorted(decoded[3:]) == sorted(len(p.body) for p in payloads)  # each page decoded once, by parse
    httpserver.clear()
    httpserver.expect_request(PATH).respond_with_handler(PagedApi(two_days()))
    assert_frame_equal(connector().parse(spec, connector().fetch(spec, fetcher)), frame)


@pytest.mark.parametrize(
    ("api", "member", "repeated"),
    [
        (PagedApi, b'"value": ', b'"value": 1.0, "value": '),  # spaced JSON: decoded whole by fetch
        (CompactApi, b'"value":', b'"value":1.0,"value":'),  # the API's compact form: followed from its end
    ],
)
def test_a_repeated_key_in_a_fetched_page_is_rejected_by_parse(
    httpserver: HTTPServer, fetcher: LiveFetcher, api: type[PagedApi], member: bytes, repeated: bytes
) -> None:
    """fetch decodes pages only to follow nextPage; the keys are checked when parse uses the page."""

    class RepeatedKey(api):  # type: ignore[valid-type,misc]
        def __call__(self, request: Request) -> Response:
            body = super().__call__(request).get_data().replace(member, repeated, 1)
            return Response(body, content_type="application/json")

    httpserver.expect_request(PATH).respond_with_handler(RepeatedKey(two_days()))
    spec = make_spec(httpserver, page_size=200)
    source = connector()
    payloads = source.fetch(spec, fetcher)
    with pytest.raises(DuplicateKeyError) as caught:
        source.parse(spec, payloads)
    assert caught.value.field == "page 1: body: data[0]"


# --------------------------------------------------------------------------------------------------
# The interval is read from the timestamps (Fingrid moved datasets from 3 to 15 minutes)

QUARTER = timedelta(minutes=15)
DAY1 = datetime(2026, 11, 17, tzinfo=HELSINKI).astimezone(UTC)
DAY2 = datetime(2026, 11, 18, tzinfo=HELSINKI).astimezone(UTC)


def flags(frame: pl.DataFrame, measure: str) -> dict[str, str | None]:
    rows = frame.filter(pl.col("measure") == measure).select("period", "flag").iter_rows()
    return dict(rows)


def test_fifteen_minute_day_of_96_values_is_complete_and_95_is_partial() -> None:
    full = [item(DAY1 + i * QUARTER, 40.0) for i in range(96)]  # 24 h × 4
    short = [item(DAY2 + i * QUARTER, 50.0) for i in range(96) if i != 50]  # one quarter missing
    frame = parse(page(full + short, DONE))
    assert flags(frame, "daily_mean") == {"2026-11-17": None, "2026-11-18": "partial"}
    daily = frame.filter(pl.col("measure") == "daily_mean")
    assert daily["value"].to_list() == [40.0, 50.0]


def test_window_that_spans_a_change_from_3_to_15_minutes_has_both_days_complete() -> None:
    three = [item(DAY1 + i * STEP, 10.0) for i in range(480)]
    fifteen = [item(DAY2 + i * QUARTER, 20.0) for i in range(96)]
    frame = parse(page(three + fifteen, DONE))
    assert flags(frame, "daily_mean") == {"2026-11-17": None, "2026-11-18": None}
    # the week still lacks its other five days
    assert flags(frame, "weekly_mean") == {"2026-W47": "partial"}


def test_fifteen_minute_daylight_saving_day_expects_100_values() -> None:
    start = datetime(2026, 10, 25, tzinfo=HELSINKI).astimezone(UTC)  # 25 hours long
    full = [item(start + i * QUARTER, 5.0) for i in range(100)]
    assert flags(parse(page(full, DONE, start=format_time(start))), "daily_mean") == {"2026-10-25": None}
    assert flags(parse(page(full[:96], DONE, start=format_time(start))), "daily_mean") == {
        "2026-10-25": "partial"
    }


def test_full_week_of_fifteen_minute_days_is_not_partial() -> None:
    monday = datetime(2026, 11, 16, tzinfo=HELSINKI).astimezone(UTC)
    week = [item(monday + i * QUARTER, 30.0) for i in range(7 * 96)]
    end = format_time(monday + timedelta(days=7))
    document = {"data": week, "pagination": DONE}
    params = (("startTime", format_time(monday)), ("endTime", end), ("page", "1"))
    url = "https://data.fingrid.fi/api/datasets/265/data"
    payload = Payload(
        RequestSpec("GET", url, params),
        200,
        {"content-type": "application/json"},
        orjson.dumps(document),
        NOW,
        url,
    )
    frame = parse(payload)
    assert flags(frame, "weekly_mean") == {"2026-W47": None}
    assert set(flags(frame, "daily_mean").values()) == {None}


def test_day_with_one_value_takes_the_window_interval() -> None:
    three = [item(DAY1 + i * STEP, 10.0) for i in range(480)]
    frame = parse(page([*three, item(DAY2, 20.0)], DONE))
    assert flags(frame, "daily_mean") == {"2026-11-17": None, "2026-11-18": "partial"}


def test_spacing_that_does_not_divide_an_hour_is_rejected_naming_the_day() -> None:
    seven = [item(DAY1 + i * timedelta(minutes=7), 10.0) for i in range(100)]
    with pytest.raises(ValidationError) as caught:
        parse(page(seven, DONE))
    assert caught.value.field == "data[].startTime"
    assert "7 minutes apart on 2026-11-17" in str(caught.value)


def test_window_of_a_single_value_is_partial() -> None:
    frame = parse(page([item(DAY1, 10.0)], DONE))
    assert flags(frame, "daily_mean") == {"2026-11-17": "partial"}
    assert flags(frame, "weekly_mean") == {"2026-W47": "partial"}


# --------------------------------------------------------------------------------------------------
# A real answer of the API (tests/realdata/fingrid): dataset 124, 10 Oct 2024 UTC, 15-minute, newest first

REAL_ANSWER = Path(__file__).parent / "realdata" / "fingrid" / "fingriddata2025-02-02_dataset124.csv"


def real_items() -> list[dict[str, Any]]:
    """The real answer's rows as the JSON form's data items (the same four fields), in their order."""
    with REAL_ANSWER.open(encoding="utf-8", newline="") as handle:
        return [
            {
                "datasetId": int(row["datasetId"]),
                "startTime": row["startTime"],
                "endTime": row["endTime"],
                "value": float(row["value"]),
            }
            for row in csv.DictReader(handle, delimiter=";")
        ]


def real_spec(httpserver: HTTPServer) -> DatasetSpec:
    """The catalogue entry asking for dataset 124 over three whole Helsinki days up to 12 Oct 2024."""
    base = make_spec(httpserver, dataset=124, days=3, reference_date="2024-10-12")
    return base.model_copy(update={"url": httpserver.url_for("/api/datasets/{dataset}/data")})


def test_real_answer_newest_first_gives_helsinki_day_means_flagged_partial(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    items = real_items()
    assert len(items) == 96 and items[0]["startTime"] > items[-1]["startTime"]  # as the API sent them
    api = PagedApi(items)
    httpserver.expect_request("/api/datasets/124/data").respond_with_handler(api)
    spec = real_spec(httpserver)
    source = connector()
    frame = source.parse(spec, source.fetch(spec, fetcher))
    # the expected means, by Helsinki date (UTC+3 in October), straight from the file
    by_day: dict[str, list[float]] = defaultdict(list)
    for entry in items:
        start = datetime.fromisoformat(entry["startTime"].replace("Z", "+00:00"))
        by_day[start.astimezone(HELSINKI).date().isoformat()].append(entry["value"])
    assert {day: len(values) for day, values in by_day.items()} == {"2024-10-10": 84, "2024-10-11": 12}
    daily = frame.filter(pl.col("measure") == "daily_mean").sort("period")
    assert daily["period"].to_list() == ["2024-10-10", "2024-10-11"]
    means = [sum(values) / len(values) for _day, values in sorted(by_day.items())]
    assert daily["value"].to_list() == pytest.approx(means, rel=1e-12)
    # 84 and 12 of the day's 96 quarter-hours: neither day, nor their ISO week, is complete
    assert flags(frame, "daily_mean") == {"2024-10-10": "partial", "2024-10-11": "partial"}
    weekly = frame.filter(pl.col("measure") == "weekly_mean")
    assert weekly["period"].to_list() == ["2024-W41"] and weekly["flag"].to_list() == ["partial"]
    assert weekly["value"].item() == pytest.approx(sum(entry["value"] for entry in items) / 96, rel=1e-12)
    assert api.queries[0]["startTime"] == "2024-10-08T21:00:00.000Z"  # 9 Oct 00:00 in Helsinki


def test_real_consumption_under_the_emission_factor_entry_is_rejected_whole(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    """A wrong dataset number (124, consumption in MW, for 265, gCO2/kWh) fails the declared range."""
    httpserver.expect_request("/api/datasets/124/data").respond_with_handler(PagedApi(real_items()))
    spec = real_spec(httpserver)
    source = connector()
    frame = source.parse(spec, source.fetch(spec, fetcher))
    with pytest.raises(PlausibilityError) as caught:
        require_plausible(spec, frame)
    message = str(caught.value)
    assert message.startswith("fingrid_emission_factor: plausibility: 3 value(s) fail")
    assert "emission_factor" in message and "1000" in message.replace(" ", "")


def test_the_name_is_asked_only_where_the_catalogue_says_what_it_must_say(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    """A dataset without `name_words` had been drift whatever its name ("a name with  (…)")."""
    plain = make_spec(httpserver, name_words=[])
    assert connector().identify(plain, fetcher) is None
    assert httpserver.log == []  # nothing asked
    described = {"id": 265, "nameEn": "Emission factor for electricity consumed in Finland - real time data"}
    httpserver.expect_request("/api/datasets/265").respond_with_json(described)
    identity = connector().identify(make_spec(httpserver), fetcher)
    assert identity is not None and identity.ok
    assert httpserver.log[0][0].headers.get("x-api-key") == SECRET  # the key, as for the data
