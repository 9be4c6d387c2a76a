"""Fingrid open data: electricity emission factors, paged, aggregated to daily and ISO-week means."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar

import orjson
import polars as pl

from common.helsinki import HELSINKI
from common.payload import Fetcher, Payload
from ingest import jsondecode
from ingest.catalogue import DatasetSpec
from ingest.connector import Connector
from ingest.errors import FetchError, ValidationError
from ingest.http import check_not_html

__all__ = [
    "API_KEY_HEADER",
    "HELSINKI",
    "FingridConnector",
    "Identity",
    "dataset_names",
    "dataset_url",
    "format_time",
    "metadata_url",
    "page_params",
    "window",
]

API_KEY_HEADER = "x-api-key"
DEFAULT_MAX_PAGES = 200
UNIT = "gCO2/kWh"


def format_time(moment: datetime) -> str:
    """A UTC instant as the API writes it: 2026-11-01T00:00:00.000Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def window(today: date, days: int) -> tuple[datetime, datetime]:
    """The last `days` whole Europe/Helsinki days before `today`, as a UTC [start, end) pair."""
    start = datetime.combine(today - timedelta(days=days), time(), tzinfo=HELSINKI)
    end = datetime.combine(today, time(), tzinfo=HELSINKI)
    return start.astimezone(UTC), end.astimezone(UTC)


def page_params(start: datetime, end: datetime, page_size: int, page: int) -> list[tuple[str, str]]:
    """The query of one page, in the order the connector sends it (the snapshot generator uses it too)."""
    return [
        ("startTime", format_time(start)),
        ("endTime", format_time(end)),
        ("pageSize", str(page_size)),
        ("page", str(page)),
        ("sortBy", "startTime"),
        ("sortOrder", "asc"),
    ]


def dataset_url(spec: DatasetSpec) -> str:
    """The data URL of the catalogue entry, with its dataset number filled in."""
    return spec.url.replace("{dataset}", str(_int_option(spec, "dataset", None)))


@dataclass(frozen=True)
class Identity:
    """What the source calls a dataset against what the catalogue takes it for (`kestava probe`)."""

    payload: Payload
    expected: str
    found: str
    ok: bool


def metadata_url(spec: DatasetSpec) -> str:
    """The dataset's description, `GET /api/datasets/{dataset}` (the data URL without `/data`)."""
    return dataset_url(spec).removesuffix("/data")


def dataset_names(source: str, payload: Payload) -> list[str]:
    """The names a dataset description gives (the text of every top-level key beginning with "name", as
    nameFi and nameEn); a body that is not a JSON object is a ValidationError."""
    check_not_html(source, payload.headers, payload.body)
    try:
        document = jsondecode.loads(payload.body, source, "dataset description")
    except orjson.JSONDecodeError:
        excerpt = payload.body[:120].decode("utf-8", errors="replace")
        raise ValidationError(source, "dataset description", "a JSON document", excerpt) from None
    if not isinstance(document, dict):
        raise ValidationError(source, "dataset description", "a JSON object", type(document).__name__)
    return [str(v) for k, v in document.items() if k.lower().startswith("name") and isinstance(v, str)]


def _now() -> datetime:
    return datetime.now(UTC)


class FingridConnector(Connector):
    """Protocol `fingrid`: `GET /api/datasets/{dataset}/data`, paged until `pagination.nextPage` is null.

    Options: `dataset` (number), `days` (window length in whole days), `page_size`, `max_pages` (default
    200, a guard against a paging loop) and `reference_date` ("YYYY-MM-DD", optional). "Today" is the
    Europe/Helsinki date of the injected clock unless `reference_date` is set; the bundled offline
    snapshot sets it so that the replayed request has exactly the recorded window.
    Do not set it for live runs.

    The API key is read from the environment variable named by the catalogue's `secret_env` and sent
    only as the `x-api-key` secret header.

    Output: area "FI", unit gCO2/kWh, `measure` "daily_mean" (period "YYYY-MM-DD", Europe/Helsinki
    calendar days) and "weekly_mean" (period "YYYY-Www", ISO weeks), each the mean of the values in the
    period. The interval is inferred from the timestamps, day by day (the most common spacing between
    consecutive values of the day, else of the window): Fingrid moved some datasets from 3 to 15 minutes,
    and a window may span the change. It must divide an hour. A day is complete when it holds every
    interval of its 24 hours (23 / 25 on daylight-saving change days): 480 values at 3 minutes, 96 at 15;
    flag "partial" otherwise, and on every ISO week with a day that is not complete (e.g. the first and
    last week of the window).
    """

    protocol: ClassVar[str] = "fingrid"
    reader_version: ClassVar[str] = "fingrid-json/1"

    def __init__(
        self, clock: Callable[[], datetime] = _now, environ: Mapping[str, str] | None = None
    ) -> None:
        self._clock = clock
        self._environ = environ
        # the documents fetch decoded (to read nextPage), by id of their still-living payload, for parse
        self._documents: dict[int, tuple[weakref.ref[Payload], dict[str, Any]]] = {}

    def today(self, spec: DatasetSpec) -> date:
        """options.reference_date when set, else the clock's date in Helsinki."""
        reference = spec.options.get("reference_date")
        if reference is not None:
            try:
                return date.fromisoformat(str(reference))
            except ValueError:
                raise ValueError(
                    f"catalogue: dataset {spec.id!r}: options.reference_date must be YYYY-MM-DD, "
                    f"got {reference!r}"
                ) from None
        return self._clock().astimezone(HELSINKI).date()

    def fetch(self, spec: DatasetSpec, fetcher: Fetcher) -> list[Payload]:
        """Every page of the window, in page order."""
        key = self._api_key(spec)
        days = _int_option(spec, "days", 28)
        page_size = _int_option(spec, "page_size", 20000)
        max_pages = _int_option(spec, "max_pages", DEFAULT_MAX_PAGES)
        start, end = window(self.today(spec), days)
        url = dataset_url(spec)
        payloads: list[Payload] = []
        page = 1
        while True:
            payload = fetcher.get(
                spec.id,
                url,
                params=page_params(start, end, page_size, page),
                secret_headers={API_KEY_HEADER: key} if key else None,
                accept="application/json",
            )
            payloads.append(payload)
            document = _last_member(payload.body)
            if document is None:  # not the API's compact form: decode the whole page
                document = _document(spec.id, payload, page, keys_checked=False)
                self._remember(payload, document)
            next_page = _pagination(spec.id, payload, page, document).get("nextPage")
            if next_page is None:
                return payloads
            if not isinstance(next_page, int) or isinstance(next_page, bool) or next_page <= page:
                raise ValidationError(
                    spec.id,
                    f"page {page}: pagination.nextPage",
                    f"null or a page number above {page}",
                    repr(next_page),
                )
            if len(payloads) >= max_pages:
                raise ValidationError(
                    spec.id,
                    "pagination",
                    f"at most {max_pages} pages (options.max_pages)",
                    f"page {next_page}",
                )
            page = next_page

    def _remember(self, payload: Payload, document: dict[str, Any]) -> None:
        """Keep the decoded page for parse while the payload lives (so each page is decoded once; its
        keys are checked only by parse, which an unchanged payload never reaches)."""
        key = id(payload)
        documents = self._documents
        documents[key] = (weakref.ref(payload, lambda _: documents.pop(key, None)), document)

    def _decoded(self, source: str, payload: Payload, page: int) -> dict[str, Any]:
        """The page as fetch decoded it (its keys checked now), else decoded now."""
        known = self._documents.get(id(payload))
        if known is not None and known[0]() is payload:
            jsondecode.check_keys(payload.body, known[1], source, f"page {page}: body")
            return known[1]
        return _document(source, payload, page)

    def _api_key(self, spec: DatasetSpec) -> str | None:
        """The key from the variable named by secret_env; None when the spec needs none (offline replay)."""
        name = spec.secret_env
        if not name:
            return None
        environ = os.environ if self._environ is None else self._environ
        key = environ.get(name, "").strip()
        if not key:
            raise FetchError(
                spec.id,
                f"environment variable {name}",
                "the Fingrid open data API key (free registration at data.fingrid.fi)",
                "not set",
            )
        return key

    def identify(self, spec: DatasetSpec, fetcher: Fetcher) -> Identity | None:
        """Whether the source's own name of the dataset has one of the words of `options.name_words`:
        265 and 266 (consumed and produced) are emission factors of the same magnitude, which no range
        tells apart, and one older client labels them the other way round (SOURCES.md). None when the
        catalogue names no words: nothing is asked."""
        words = [str(word) for word in spec.options.get("name_words", [])]
        if not words:  # nothing to check the name against
            return None
        key = self._api_key(spec)
        payload = fetcher.get(
            spec.id,
            metadata_url(spec),
            secret_headers={API_KEY_HEADER: key} if key else None,
            accept="application/json",
        )
        names = dataset_names(spec.id, payload)
        expected = "a name with " + " or ".join(repr(word) for word in words) + " (options.name_words)"
        found = " / ".join(names) if names else "no name (no key beginning with 'name')"
        named = any(word.casefold() in name.casefold() for word in words for name in names)
        return Identity(payload, expected, found, named)

    def parse(self, spec: DatasetSpec, payloads: Sequence[Payload]) -> pl.DataFrame:
        """Daily and ISO-week means of all pages' values inside the requested window."""
        if not payloads:
            raise ValidationError(spec.id, "payloads", "at least one page", "none")
        dataset = _int_option(spec, "dataset", None)
        starts: list[datetime] = []
        values: list[float | None] = []
        total: object = None
        for number, payload in enumerate(payloads, 1):
            document = self._decoded(spec.id, payload, number)
            total = _pagination(spec.id, payload, number, document).get("total")
            for index, item in enumerate(document["data"]):
                where = f"page {number}: data[{index}]"
                starts.append(_item_start(spec.id, where, item, dataset))
                values.append(_item_value(spec.id, where, item))
        if isinstance(total, int) and not isinstance(total, bool) and total != len(starts):
            raise ValidationError(
                spec.id, "pagination.total", f"the number of values received ({len(starts)})", str(total)
            )
        start, end = _requested_window(spec.id, payloads[0])
        frame = pl.DataFrame(
            {"start": starts, "value": values},
            schema={"start": pl.Datetime("us", "UTC"), "value": pl.Float64},
        )
        frame = frame.filter((pl.col("start") >= start) & (pl.col("start") < end))
        if frame.is_empty():
            raise ValidationError(
                spec.id, "data", f"values between {format_time(start)} and {format_time(end)}", "none"
            )
        conflicting = frame.unique().select("start").is_duplicated()
        if conflicting.any():
            raise ValidationError(
                spec.id,
                "data[].startTime",
                "one value per startTime",
                str(frame.unique().filter(conflicting)[0, 0]),
            )
        frame = frame.unique("start").with_columns(
            pl.col("start").dt.convert_time_zone(HELSINKI.key).dt.date().alias("day")
        )
        return _aggregate(frame, _interval_per_day(spec.id, frame))


def _int_option(spec: DatasetSpec, name: str, default: int | None) -> int:
    value = spec.options.get(name, default)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(
            f"catalogue: dataset {spec.id!r}: options.{name} must be a positive integer, got {value!r}"
        )
    return value


def _document(source: str, payload: Payload, page: int, *, keys_checked: bool = True) -> dict[str, Any]:
    """The page decoded, its shape checked; with `keys_checked`, also no object repeating a key."""
    check_not_html(source, payload.headers, payload.body)
    try:
        if keys_checked:
            document = jsondecode.loads(payload.body, source, f"page {page}: body")
        else:
            document = orjson.loads(payload.body)
    except orjson.JSONDecodeError:
        excerpt = payload.body[:120].decode("utf-8", errors="replace")
        raise ValidationError(source, f"page {page}: body", "a JSON document", excerpt) from None
    if not isinstance(document, dict):
        raise ValidationError(source, f"page {page}: body", "a JSON object", type(document).__name__)
    if not isinstance(document.get("data"), list):
        raise ValidationError(
            source, f"page {page}: data", "a list of values", repr(document.get("data"))[:80]
        )
    return document


def _last_member(body: bytes) -> dict[str, Any] | None:
    """{"pagination": …} read from the end of a page in the API's compact form (`…],"pagination":{…}}`)
    without decoding its values; None when the page does not end so.

    Sound for valid JSON: an unescaped quote cannot be inside a string, so the last `,"pagination":`
    is a key, and when the rest parses as one object's members, their closing brace is the document's,
    so the key is the top-level one (the last of its name, which orjson keeps too). An invalid page is
    rejected by parse, which decodes every page it loads; an unchanged page never gets there.
    """
    at = body.rfind(b',"pagination":')
    if at < 0:
        return None
    try:
        members = orjson.loads(b"{" + body[at + 1 :])
    except orjson.JSONDecodeError:
        return None
    return members if isinstance(members, dict) else None


def _pagination(
    source: str, payload: Payload, page: int, document: dict[str, Any] | None = None
) -> dict[str, Any]:
    document = _document(source, payload, page) if document is None else document
    pagination = document.get("pagination")
    if not isinstance(pagination, dict) or "nextPage" not in pagination:
        raise ValidationError(
            source, f"page {page}: pagination", "an object with nextPage", repr(pagination)[:80]
        )
    return pagination


def _item_start(source: str, where: str, item: object, dataset: int) -> datetime:
    if not isinstance(item, dict):
        raise ValidationError(source, where, "an object", type(item).__name__)
    got = item.get("datasetId")
    if str(got) != str(dataset):
        raise ValidationError(source, f"{where}.datasetId", str(dataset), repr(got))
    text = item.get("startTime")
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if not isinstance(text, str) or moment is None or moment.tzinfo is None:
        raise ValidationError(source, f"{where}.startTime", "an ISO 8601 UTC time", repr(text))
    return moment.astimezone(UTC)


def _item_value(source: str, where: str, item: dict[str, Any]) -> float | None:
    if "value" not in item:
        raise ValidationError(source, f"{where}.value", "a number", "no value")
    value = item["value"]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(source, f"{where}.value", "a number", repr(value))
    return float(value)


def _requested_window(source: str, payload: Payload) -> tuple[datetime, datetime]:
    params = dict(payload.request.params)
    try:
        start = datetime.fromisoformat(params["startTime"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(params["endTime"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        raise ValidationError(
            source, "request parameters", "startTime and endTime", repr(payload.request.params)
        ) from None
    return start, end


# spacings that divide an hour (Fingrid publishes 3-minute, 15-minute and hourly series)
_INTERVALS = frozenset(minutes for minutes in range(1, 61) if 60 % minutes == 0)


def _interval_per_day(source: str, frame: pl.DataFrame) -> dict[date, int | None]:
    """Minutes between values, per Helsinki day: the day's most common spacing, else the window's.

    None for every day when the window holds a single value (its interval cannot be known: partial).
    A spacing that does not divide an hour is a ValidationError naming the day.
    """
    spacing = (
        frame.sort("start")
        .with_columns((pl.col("start").diff().dt.total_seconds() / 60).over("day").alias("minutes"))
        .drop_nulls("minutes")
    )
    if spacing.is_empty():
        return dict.fromkeys(frame["day"].unique().to_list())
    window: float = spacing["minutes"].mode().min()  # type: ignore[assignment]
    per_day = dict(spacing.group_by("day").agg(pl.col("minutes").mode().min()).iter_rows())
    intervals: dict[date, int | None] = {}
    for day in sorted(frame["day"].unique().to_list()):
        minutes = per_day.get(day, window)
        if not float(minutes).is_integer() or int(minutes) not in _INTERVALS:
            raise ValidationError(
                source,
                "data[].startTime",
                "values at a regular interval that divides an hour (3, 15 or 60 minutes, …)",
                f"values {minutes:g} minutes apart on {day.isoformat()}",
            )
        intervals[day] = int(minutes)
    return intervals


def _expected_per_day(day: date, interval_minutes: int | None) -> int | None:
    """Values a full Helsinki day holds: 24 h (23 h / 25 h on daylight-saving change days); None: unknown."""
    if interval_minutes is None:
        return None
    start = datetime.combine(day, time(), tzinfo=HELSINKI).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=HELSINKI).astimezone(UTC)
    return int((end - start).total_seconds() // 60) // interval_minutes  # in UTC: same-zone maths is naive


def _aggregate(frame: pl.DataFrame, intervals: dict[date, int | None]) -> pl.DataFrame:
    expected = pl.DataFrame(
        {"day": list(intervals), "expected": [_expected_per_day(d, m) for d, m in intervals.items()]},
        schema={"day": pl.Date, "expected": pl.Int64},
    )
    daily = (
        frame.group_by("day")
        .agg(pl.col("value").mean(), pl.col("value").count().alias("n"))
        .join(expected, on="day", how="left")
        .with_columns((pl.col("expected").is_null() | (pl.col("n") < pl.col("expected"))).alias("partial"))
    )
    week = (
        pl.col("day").dt.iso_year().cast(pl.String)
        + "-W"
        + pl.col("day").dt.week().cast(pl.String).str.zfill(2)
    )
    complete_days = daily.group_by(week.alias("week")).agg((~pl.col("partial")).sum().alias("complete_days"))
    weekly = (
        frame.group_by(week.alias("week"))
        .agg(pl.col("value").mean())
        .join(complete_days, on="week", how="left")
        .with_columns((pl.col("complete_days") < 7).alias("partial"))
    )
    flag = pl.when(pl.col("partial")).then(pl.lit("partial")).otherwise(None).cast(pl.String)
    columns = [
        pl.lit("FI").alias("area"),
        pl.col("period"),
        pl.col("value"),
        flag.alias("flag"),
        pl.lit(UNIT).alias("unit"),
    ]
    result = pl.concat(
        [
            daily.with_columns(pl.col("day").dt.strftime("%Y-%m-%d").alias("period")).select(
                *columns, pl.lit("daily_mean").alias("measure")
            ),
            weekly.rename({"week": "period"}).select(*columns, pl.lit("weekly_mean").alias("measure")),
        ]
    )
    return result.sort(["measure", "period"])
