"""Tests of the PxWeb connector against a local HTTP server speaking StatFin's PxWeb v1 wire format."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine
from werkzeug import Request, Response

from common.payload import Payload, RequestSpec
from indicators.catalogue import load_indicator_catalogue
from indicators.engine import compute
from ingest.catalogue import CalendarSpec, DatasetSpec, load_catalogue
from ingest.completeness import missing_observations
from ingest.errors import FetchError, ValidationError
from ingest.freshness import period_end
from ingest.http import LiveFetcher, TooManyCellsError
from ingest.manifest import Manifest, write_manifest
from ingest.pxweb import (
    REFERENCE_PERIOD_FORMAT,
    PxWebConnector,
    PxWebOptions,
    build_query,
    build_selection,
    cell_count,
    dates_in,
    halve_selection,
    identify_layout,
    parse_metadata,
    period_expr,
    read_options,
    split_selection,
)
from ingest.replay import ReplayFetcher
from ingest.run import ingest
from kestava import api
from scripts.demo import calibration
from storage.checks import check_observations
from storage.rawstore import RawStore

TABLE_PATH = "/PxWeb/api/v1/fi/StatFin/vaerak/11ra.px"
YEARS = ["2021", "2022", "2023", "2024"]
AREAS = ["SSS", "MK01", "KU049", "KU091", "KU092", "KU235", "KU837"]
AREA_NAMES = ["KOKO MAA", "Uusimaa", "Espoo", "Helsinki", "Vantaa", "Kauniainen", "Tampere"]

# The table metadata after the June 2026 change: new variable codes, a prefixed content code.
METADATA: dict[str, Any] = {
    "title": "Väestö muuttujina Alue, Tiedot ja Vuosi",
    "variables": [
        {
            "code": "alue_23_20260101",
            "text": "Alue",
            "values": AREAS,
            "valueTexts": AREA_NAMES,
            "elimination": True,
        },
        {
            "code": "contentscode",
            "text": "Tiedot",
            "values": ["vaerak-vaesto", "vaerak-miehet"],
            "valueTexts": ["Väkiluku", "Miehet"],
        },
        {"code": "timeperiod_y", "text": "Vuosi", "values": YEARS, "valueTexts": YEARS, "time": True},
    ],
}

# The same table as it was before the change (old codes): the service now answers 400 to them.
OLD_METADATA: dict[str, Any] = {
    "title": METADATA["title"],
    "variables": [
        {**METADATA["variables"][0], "code": "Alue"},
        {**METADATA["variables"][1], "code": "Tiedot", "values": ["vaesto", "miehet"]},
        {**METADATA["variables"][2], "code": "Vuosi"},
    ],
}

# Traficom's cars in traffic (010_kanta_tau_101) as its public clients query it: no time variable (the
# stock on one date, written in the title), no content variable; Finnish codes, English texts (/en/ API).
CARS_PATH = "/PXWeb/api/v1/en/TraFi/Liikennekaytossa_olevat_ajoneuvot/010_kanta_tau_101.px"
CARS_TITLE = (
    "Passenger cars in traffic on 30 September 2026 by area, make, year of first registration "
    "and driving power"
)
CARS_METADATA: dict[str, Any] = {
    "title": CARS_TITLE,
    "variables": [
        {"code": "Alue", "text": "Area", "values": ["MA1", "KU049", "KU091", "KU235"],
         "valueTexts": ["Mainland Finland", "Espoo", "Helsinki", "Kauniainen"]},
        {"code": "Merkki", "text": "Make", "values": ["YH", "2055"], "valueTexts": ["Total", "Tesla"],
         "elimination": True},
        {"code": "Käyttöönottovuosi", "text": "Year of first registration", "values": ["YH", "2026", "2025"],
         "valueTexts": ["Total", "2026", "2025"], "elimination": True},
        {"code": "Käyttövoima", "text": "Driving power", "values": ["YH", "01", "02", "04", "39", "44", "Y"],
         "valueTexts": ["Total", "Petrol", "Diesel", "Electricity", "Petrol/Electricity (plug-in hybrid)",
                        "Diesel/Electricity (plug-in hybrid)", "Other"], "elimination": True},
    ],
}  # fmt: skip
CARS_OPTIONS: dict[str, Any] = {
    "unit": "vehicles",
    "area": "all_municipalities",
    "point_in_time": True,
    "measure": "passenger_cars",
    "variables": {"Merkki": ["YH"], "Käyttöönottovuosi": ["YH"], "Käyttövoima": ["YH", "04", "39", "44"]},
    "strict_variables": True,
}
# StatFin's mkan/11ic as it really is (SOURCES.md, corrected 2026-12): vehicles by class, no driving power.
MKAN_11IC_METADATA: dict[str, Any] = {
    "title": "Moottoriajoneuvokanta muuttujina Alue, Ajoneuvoluokka, Liikennekäyttö ja Vuosi",
    "variables": [
        {"code": "Alue", "text": "Alue", "values": ["SSS", "KU049"], "valueTexts": ["KOKO MAA", "Espoo"]},
        {"code": "Ajoneuvoluokka", "text": "Ajoneuvoluokka", "values": ["01", "02", "03", "04", "05"],
         "valueTexts": ["Henkilöautot", "Pakettiautot", "Kuorma-autot", "Linja-autot", "Erikoisautot"]},
        {"code": "Liikennekäyttö", "text": "Liikennekäyttö", "values": ["1", "2"],
         "valueTexts": ["Liikennekäytössä", "Liikennekäytöstä poistetut"]},
        {"code": "Vuosi", "text": "Vuosi", "values": ["2024"], "valueTexts": ["2024"], "time": True},
    ],
}  # fmt: skip

POPULATION_OPTIONS = {"content": "vaesto", "unit": "persons", "area": "all_municipalities"}
MISSING = {("KU235", "vaerak-vaesto", "2022")}  # cells the fake service marks ".."


def population(area: str, content: str, year: str) -> int:
    """The fake service's values: hand-checkable (Espoo 2024 = 49_000_000 + 2024 + 1)."""
    base = {"SSS": 5, "KU049": 49, "KU091": 91, "KU092": 92, "KU235": 235, "KU837": 837}.get(area, 1)
    return base * 1_000_000 + int(year) + (1 if content.endswith("vaesto") else 2)


def jsonstat2(metadata: dict[str, Any], query: dict[str, Any], value: Callable[..., int | None]) -> bytes:
    """A PxWeb json-stat2 response for a query: dimensions in table order, dense values, sparse status."""
    selected = {item["code"]: item["selection"]["values"] for item in query["query"]}
    variables = [v for v in metadata["variables"] if v["code"] in selected]
    ids, sizes, dimension = [], [], {}
    for variable in variables:
        codes = [c for c in variable["values"] if c in selected[variable["code"]]]
        texts = dict(zip(variable["values"], variable["valueTexts"], strict=True))
        category: dict[str, Any] = {
            "index": {c: i for i, c in enumerate(codes)},
            "label": {c: texts[c] for c in codes},
        }
        if variable["text"] == "Tiedot":
            category["unit"] = {c: {"base": "lukumäärä", "decimals": 0} for c in codes}
        dimension[variable["code"]] = {
            "extension": {"show": "value"},
            "label": variable["text"],
            "category": category,
        }
        ids.append(variable["code"])
        sizes.append(len(codes))
    values: list[int | None] = []
    status: dict[str, str] = {}
    axes = [list(dimension[i]["category"]["index"]) for i in ids]
    for flat in range(math.prod(sizes)):
        coords, rest = [], flat
        for axis in reversed(axes):
            coords.append(axis[rest % len(axis)])
            rest //= len(axis)
        cell = dict(zip(ids, reversed(coords), strict=True))
        result = value(**cell)
        if result is None:
            status[str(flat)] = ".."
        values.append(result)
    time = next((v["code"] for v in variables if v.get("time")), None)
    content = next((v["code"] for v in variables if v["text"] == "Tiedot"), None)
    document: dict[str, Any] = {
        "class": "dataset",
        "label": metadata["title"],
        "source": "Tilastokeskus",
        "updated": "2025-04-25T05:00:00Z",
        "id": ids,
        "size": sizes,
        "dimension": dimension,
        "value": values,
    }
    if status:
        document["status"] = status
    if time is not None and content is not None:
        document["role"] = {"time": [time], "metric": [content]}  # a point-in-time table has neither
    document["version"] = "2.0"
    document["extension"] = {"px": {"tableid": "11ra", "decimals": 0, "language": "fi"}}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def population_cell(**cell: str) -> int | None:
    area, content, year = cell["alue_23_20260101"], cell["contentscode"], cell["timeperiod_y"]
    return None if (area, content, year) in MISSING else population(area, content, year)


def car_cell(**cell: str) -> int:
    """Hand-checkable cars: Espoo YH 1000, 04 105, 39 80, 44 15; Helsinki twice; Kauniainen a tenth."""
    count = {"YH": 1000, "01": 500, "02": 200, "04": 105, "39": 80, "44": 15, "Y": 1}[cell["Käyttövoima"]]
    return {"KU049": count, "KU091": 2 * count, "KU235": count // 10}.get(cell["Alue"], 0)


def pxweb_handler(
    metadata: dict[str, Any],
    value: Callable[..., int | None],
    max_cells: int | None = None,
    bom: bool = False,
) -> Callable[[Request], Response]:
    """The POST side of the fake service: 403 above max_cells, 400 for unknown variable codes."""
    codes = {v["code"] for v in metadata["variables"]}
    prefix = b"\xef\xbb\xbf" if bom else b""

    def handle(request: Request) -> Response:
        query = json.loads(request.get_data())
        if any(item["code"] not in codes for item in query["query"]):
            return Response("Parameter error", status=400, content_type="text/plain")
        cells = math.prod(len(item["selection"]["values"]) for item in query["query"])
        if max_cells is not None and cells > max_cells:
            return Response("Too many values selected", status=403, content_type="text/plain")
        body = prefix + jsonstat2(metadata, query, value)
        return Response(body, content_type="application/json; charset=utf-8")

    return handle


def serve(
    httpserver: HTTPServer,
    metadata: dict[str, Any],
    handler: Callable[[Request], Response],
    path: str = TABLE_PATH,
) -> str:
    httpserver.expect_request(path, method="GET").respond_with_json(metadata)
    httpserver.expect_request(path, method="POST").respond_with_handler(handler)
    return httpserver.url_for(path)


def make_spec(url: str, options: dict[str, Any], dataset_id: str = "statfin_population") -> DatasetSpec:
    return DatasetSpec(
        id=dataset_id,
        title="test",
        source="statfin",
        protocol="pxweb",
        url=url,
        options=options,
        cadence="0 7 * * 1",
        calendar=CalendarSpec(frequency="annual", lag_days=100),
    )


@pytest.fixture
def fetcher() -> Iterator[LiveFetcher]:
    with LiveFetcher(max_attempts=2, backoff_base=0.001, backoff_max=0.01, timeout=5) as live:
        yield live


def posted_queries(httpserver: HTTPServer) -> list[dict[str, Any]]:
    return [json.loads(request.get_data()) for request, _ in httpserver.log if request.method == "POST"]


def run(spec: DatasetSpec, fetcher: LiveFetcher) -> pl.DataFrame:
    connector = PxWebConnector()
    return connector.parse(spec, connector.fetch(spec, fetcher))


# -- fetch: the query is built from the metadata ---------------------------------------------------------


def test_fetch_gets_metadata_then_posts_a_query_built_from_the_metadata_codes(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    spec = make_spec(
        serve(httpserver, METADATA, pxweb_handler(METADATA, population_cell)), POPULATION_OPTIONS
    )
    payloads = PxWebConnector().fetch(spec, fetcher)

    assert [request.method for request, _ in httpserver.log] == ["GET", "POST"]
    assert [p.request.method for p in payloads] == ["GET", "POST"]
    assert posted_queries(httpserver) == [
        {
            "query": [
                {
                    "code": "alue_23_20260101",
                    "selection": {"filter": "item", "values": ["KU049", "KU091", "KU092", "KU235", "KU837"]},
                },
                {"code": "contentscode", "selection": {"filter": "item", "values": ["vaerak-vaesto"]}},
                {"code": "timeperiod_y", "selection": {"filter": "item", "values": YEARS}},
            ],
            "response": {"format": "json-stat2"},
        }
    ]
    assert httpserver.log[1][0].headers["Content-Type"] == "application/json"


def test_parse_maps_municipality_codes_periods_and_content_to_the_observation_frame(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    spec = make_spec(
        serve(httpserver, METADATA, pxweb_handler(METADATA, population_cell)), POPULATION_OPTIONS
    )
    frame = run(spec, fetcher)

    assert frame.columns == ["area", "period", "value", "flag", "unit", "measure"]
    assert frame.schema["value"] == pl.Float64
    assert frame.height == 5 * 4
    assert sorted(frame["area"].unique()) == ["049", "091", "092", "235", "837"]
    assert set(frame["unit"]) == {"persons"}
    assert set(frame["measure"]) == {"vaesto"}
    espoo = frame.filter(pl.col("area") == "049").sort("period")
    assert espoo["period"].to_list() == YEARS
    assert espoo["value"].to_list() == [49_002_022.0, 49_002_023.0, 49_002_024.0, 49_002_025.0]
    assert espoo["flag"].to_list() == [None] * 4


def test_missing_value_markers_become_null_values_with_the_marker_as_flag(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    spec = make_spec(
        serve(httpserver, METADATA, pxweb_handler(METADATA, population_cell)), POPULATION_OPTIONS
    )
    frame = run(spec, fetcher)

    flagged = frame.filter(pl.col("flag").is_not_null())
    assert flagged.select("area", "period", "value", "flag").rows() == [("235", "2022", None, "..")]
    assert frame.filter(pl.col("value").is_null()).height == 1


def test_whole_country_is_dropped_by_default_and_kept_as_fi_on_request(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    url = serve(httpserver, METADATA, pxweb_handler(METADATA, population_cell))
    frame = run(make_spec(url, {**POPULATION_OPTIONS, "keep_country": True}), fetcher)

    assert posted_queries(httpserver)[0]["query"][0]["selection"]["values"][0] == "SSS"
    country = frame.filter(pl.col("area") == "FI").sort("period")
    assert country["value"].to_list() == [5_002_022.0, 5_002_023.0, 5_002_024.0, 5_002_025.0]
    assert "MK01" not in frame["area"].to_list()


def test_a_given_area_list_accepts_municipality_numbers(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    url = serve(httpserver, METADATA, pxweb_handler(METADATA, population_cell))
    frame = run(make_spec(url, {**POPULATION_OPTIONS, "area": ["049", "KU091"]}), fetcher)

    assert posted_queries(httpserver)[0]["query"][0]["selection"]["values"] == ["KU049", "KU091"]
    assert sorted(frame["area"].unique()) == ["049", "091"]


# -- splitting --------------------------------------------------------------------------------------------


def test_query_above_the_cell_limit_is_split_by_time_and_merged_back(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    url = serve(httpserver, METADATA, pxweb_handler(METADATA, population_cell))
    whole = run(make_spec(url, POPULATION_OPTIONS), fetcher)
    httpserver.clear_log()

    frame = run(make_spec(url, {**POPULATION_OPTIONS, "cell_limit": 10}), fetcher)

    queries = posted_queries(httpserver)
    assert len(queries) == 2  # 20 cells, 5 per year → two queries of two years
    assert [q["query"][2]["selection"]["values"] for q in queries] == [YEARS[:2], YEARS[2:]]
    assert all(math.prod(len(i["selection"]["values"]) for i in q["query"]) <= 10 for q in queries)
    assert frame.equals(whole)


def test_query_is_split_by_area_when_one_period_alone_exceeds_the_limit(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    url = serve(httpserver, METADATA, pxweb_handler(METADATA, population_cell))
    frame = run(make_spec(url, {**POPULATION_OPTIONS, "cell_limit": 2}), fetcher)

    queries = posted_queries(httpserver)
    assert len(queries) == 4 * 3  # 4 years × areas in chunks of 2, 2 and 1
    assert frame.height == 20
    assert (
        frame.filter((pl.col("area") == "837") & (pl.col("period") == "2024"))["value"].item() == 837_002_025
    )


def test_http_403_too_many_cells_halves_the_time_values_and_retries(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    url = serve(httpserver, METADATA, pxweb_handler(METADATA, population_cell, max_cells=5))
    frame = run(make_spec(url, POPULATION_OPTIONS), fetcher)

    statuses = [response.status_code for request, response in httpserver.log if request.method == "POST"]
    assert statuses == [403, 403, 200, 200, 403, 200, 200]  # 4 years → 2 + 2 → 1 + 1 each
    assert frame.height == 20
    assert frame.sort("area", "period")["period"].to_list()[:4] == YEARS


def test_http_403_for_a_query_that_cannot_be_split_is_a_refusal_not_too_many_cells(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    url = serve(httpserver, METADATA, pxweb_handler(METADATA, population_cell, max_cells=0))
    with pytest.raises(FetchError) as caught:
        PxWebConnector().fetch(make_spec(url, {**POPULATION_OPTIONS, "area": ["049"]}), fetcher)
    assert not isinstance(caught.value, TooManyCellsError)
    assert "HTTP 403" in (caught.value.got or "")
    assert "refuses this network or client, not the query's size" in (caught.value.got or "")
    assert isinstance(caught.value.__cause__, TooManyCellsError)  # the status stays findable (probe hints)


def test_http_400_for_old_variable_names_fails_loudly(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    # The metadata (e.g. from a stale proxy) still has the pre-June-2026 codes; the service rejects them.
    url = serve(httpserver, OLD_METADATA, pxweb_handler(METADATA, population_cell))
    with pytest.raises(FetchError, match=r"HTTP 400.*Alue, Tiedot, Vuosi") as caught:
        PxWebConnector().fetch(make_spec(url, POPULATION_OPTIONS), fetcher)
    assert "June 2026" in str(caught.value)


# -- the metadata decides ---------------------------------------------------------------------------------


def test_old_codes_and_unprefixed_content_work_when_the_service_accepts_them(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    url = serve(httpserver, OLD_METADATA, pxweb_handler(OLD_METADATA, lambda **c: int(c["Vuosi"])))
    frame = run(make_spec(url, {**POPULATION_OPTIONS, "content": "vaerak-vaesto"}), fetcher)

    assert posted_queries(httpserver)[0]["query"][1]["selection"]["values"] == ["vaesto"]
    assert set(frame["measure"]) == {"vaesto"}


# -- Traficom: a point-in-time table without a time (or content) variable ---------------------------------


def cars_spec(url: str, options: dict[str, Any] | None = None) -> DatasetSpec:
    return make_spec(url, options or CARS_OPTIONS, "traficom_cars")


def test_point_in_time_table_period_is_the_reference_date_from_the_title(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    url = serve(httpserver, CARS_METADATA, pxweb_handler(CARS_METADATA, car_cell), CARS_PATH)
    frame = run(cars_spec(url), fetcher)

    query = posted_queries(httpserver)[0]["query"]
    assert [(item["code"], item["selection"]["values"]) for item in query] == [
        ("Alue", ["KU049", "KU091", "KU235"]),
        ("Merkki", ["YH"]),
        ("Käyttöönottovuosi", ["YH"]),
        ("Käyttövoima", ["YH", "04", "39", "44"]),
    ]
    assert frame.columns == [
        "area", "period", "value", "flag", "unit", "measure", "make", "first_registration_year",
        "driving_power",
    ]  # fmt: skip
    assert set(frame["period"]) == {"2026-09-30"}
    assert set(frame["measure"]) == {"passenger_cars"}
    espoo = frame.filter(pl.col("area") == "049")
    assert dict(espoo.select("driving_power", "value").rows()) == {
        "YH": 1000.0, "04": 105.0, "39": 80.0, "44": 15.0,
    }  # fmt: skip
    assert set(espoo["make"]) == {"YH"} and set(espoo["first_registration_year"]) == {"YH"}
    check_observations(frame, "traficom_cars")


def with_pertunmaa(metadata: dict[str, Any]) -> dict[str, Any]:
    """The table with Pertunmaa (588) among its areas: it joined Mäntyharju (507) on 1 January 2025."""
    area, *others = metadata["variables"]
    values, texts = [*area["values"], "KU588"], [*area["valueTexts"], "Pertunmaa"]
    return {**metadata, "variables": [{**area, "values": values, "valueTexts": texts}, *others]}


def test_a_municipality_counted_after_its_merger_refuses_the_whole_table(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    # A stock on 30 September 2026 cannot count Pertunmaa's cars: the table is not in a division the tracker
    # knows (the demo had listed it, so ev_share ranked 309 areas where Finland has 308)
    metadata = with_pertunmaa(CARS_METADATA)

    def counted(**cell: str) -> int:
        return 7 if cell["Alue"] == "KU588" else car_cell(**cell)

    url = serve(httpserver, metadata, pxweb_handler(metadata, counted), CARS_PATH)
    with pytest.raises(ValidationError) as caught:
        run(cars_spec(url), fetcher)
    message = str(caught.value)
    assert "traficom_cars" in message and "area" in message
    assert "588 Pertunmaa" in message and "507 Mäntyharju" in message and "2024-12-31" in message
    assert "'2026-09-30'" in message


def test_a_municipality_listed_empty_after_its_merger_is_left_out_with_a_warning(
    httpserver: HTTPServer, fetcher: LiveFetcher, caplog: pytest.LogCaptureFixture
) -> None:
    """A table that still lists Pertunmaa with nothing in it (0 or no value) says nothing of it: its rows
    are left out, not the whole table refused."""
    metadata = with_pertunmaa(CARS_METADATA)

    def empty(**cell: str) -> int | None:
        if cell["Alue"] == "KU588":
            return None if cell["Käyttövoima"] == "04" else 0
        return car_cell(**cell)

    url = serve(httpserver, metadata, pxweb_handler(metadata, empty), CARS_PATH)
    spec = cars_spec(url)
    connector = PxWebConnector()
    payloads = connector.fetch(spec, fetcher)
    with caplog.at_level("WARNING", logger="ingest.municipalities"):
        frame = connector.parse(spec, payloads)
    assert "588" not in set(frame["area"]) and {"049", "091", "235"} <= set(frame["area"])
    # asked for (the query names every area of the table) but no longer existing: not missing
    missing = missing_observations(spec, frame, payloads)
    assert "588" not in set(missing["area"].drop_nulls()), missing
    (note,) = [r.getMessage() for r in caplog.records if "after its merger" in r.getMessage()]
    assert note.startswith("traficom_cars: ") and "of 588 Pertunmaa after its merger: left out" in note


def test_a_merged_municipality_is_accepted_for_the_years_it_existed(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    # a table still in the 2024 division: Pertunmaa's own rows up to 2024 are real data
    metadata = with_pertunmaa(METADATA)
    spec = make_spec(
        serve(httpserver, metadata, pxweb_handler(metadata, population_cell)), POPULATION_OPTIONS
    )
    frame = run(spec, fetcher)
    assert YEARS[-1] <= "2024" and set(frame.filter(pl.col("area") == "588")["period"]) == set(YEARS)


def test_a_merged_municipality_in_a_year_after_its_merger_is_refused(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    area, content, year = METADATA["variables"]
    later = {**year, "values": [*year["values"], "2025"], "valueTexts": [*year["valueTexts"], "2025"]}
    metadata = with_pertunmaa({**METADATA, "variables": [area, content, later]})
    spec = make_spec(
        serve(httpserver, metadata, pxweb_handler(metadata, population_cell)), POPULATION_OPTIONS
    )
    with pytest.raises(ValidationError, match=r"statfin_population.*588 Pertunmaa.*first period '2025'"):
        run(spec, fetcher)


def test_reference_date_period_format_is_an_iso_date_storage_and_freshness_read() -> None:
    # The period of a point-in-time table is YYYY-MM-DD: storage accepts it, freshness reads its end, and
    # it is not an annual period (the engine's trends take only YYYY).
    assert REFERENCE_PERIOD_FORMAT == "%Y-%m-%d"
    frame = pl.DataFrame(
        {"area": ["049"], "period": [date(2026, 9, 30).strftime(REFERENCE_PERIOD_FORMAT)], "value": [1.0],
         "flag": [None], "unit": ["vehicles"]},
        schema_overrides={"flag": pl.String},
    )  # fmt: skip
    check_observations(frame, "traficom_cars")
    assert period_end("2026-09-30") == date(2026, 9, 30)
    assert not re.fullmatch(r"\d{4}", frame["period"][0])


def test_metadata_and_data_with_a_byte_order_mark_are_read(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    body = b"\xef\xbb\xbf" + json.dumps(CARS_METADATA, ensure_ascii=False).encode()
    httpserver.expect_request(CARS_PATH, method="GET").respond_with_data(
        body, content_type="application/json; charset=utf-8"
    )
    httpserver.expect_request(CARS_PATH, method="POST").respond_with_handler(
        pxweb_handler(CARS_METADATA, car_cell, bom=True)
    )
    frame = run(cars_spec(httpserver.url_for(CARS_PATH)), fetcher)
    assert frame.filter((pl.col("area") == "091") & (pl.col("driving_power") == "04"))["value"].item() == 210


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        (CARS_TITLE, date(2026, 9, 30)),
        ("Liikennekäytössä olevat henkilöautot 30.9.2026 alueittain", date(2026, 9, 30)),
        ("Personbilar i trafik den 31 december 2025 efter område", date(2025, 12, 31)),
        ("Passenger cars in traffic on 31 June 2021 by area", date(2021, 6, 30)),  # as quoted publicly
        ("Liikennekäytössä olevat henkilöautot 31. maaliskuuta 2026", date(2026, 3, 31)),
        ("Passenger cars in traffic, March 31, 2026", date(2026, 3, 31)),
        ("Cars in traffic 2026-06-30", date(2026, 6, 30)),
    ],
)
def test_reference_date_is_read_from_the_title_in_every_written_form(title: str, expected: date) -> None:
    assert dates_in(title) == [expected]


def _cars_payloads(title: str, data: dict[str, Any]) -> list[Payload]:
    url = "https://trafi2.stat.fi" + CARS_PATH
    query = build_query((("Alue", ("KU049",)), ("Merkki", ("YH",)), ("Käyttöönottovuosi", ("YH",)),
                         ("Käyttövoima", ("YH",))))  # fmt: skip
    body = json.loads(jsonstat2(CARS_METADATA, query, car_cell))
    body.update(data)
    now = datetime(2026, 11, 27, tzinfo=UTC)
    return [
        Payload(RequestSpec("GET", url), 200, {}, json.dumps({**CARS_METADATA, "title": title}).encode(),
                now, url),
        Payload(RequestSpec("POST", url, (), RequestSpec.canonical_body(query)), 200,
                {"content-type": "application/json"}, json.dumps(body).encode(), now, url),
    ]  # fmt: skip


def test_reference_date_falls_back_to_the_notes_then_to_updated_and_fails_naming_the_places() -> None:
    connector = PxWebConnector()
    spec = cars_spec("https://trafi2.stat.fi" + CARS_PATH)
    untitled = "Passenger cars in traffic by area"
    noted = {"label": untitled, "note": ["Statistics on 31.12.2025."], "updated": "2026-01-20T06:00:00Z"}
    assert set(connector.parse(spec, _cars_payloads(untitled, noted))["period"]) == {"2025-12-31"}
    updated = {"label": untitled, "updated": "2026-10-20T22:30:00Z"}  # 21 October in Helsinki
    assert set(connector.parse(spec, _cars_payloads(untitled, updated))["period"]) == {"2026-10-21"}

    strict = cars_spec(spec.url, {**CARS_OPTIONS, "reference_date": ["title", "note"]})
    with pytest.raises(
        ValidationError,
        match=r"traficom_cars: reference date: expected a date in the title, note.*no date in",
    ):
        connector.parse(strict, _cars_payloads(untitled, updated))
    with pytest.raises(ValidationError, match=r"reference date \(title\).*2025-12-31, 2026-09-30"):
        connector.parse(spec, _cars_payloads("Cars 31.12.2025 and 30.9.2026", {}))


def test_point_in_time_options_refuse_a_table_with_a_time_variable() -> None:
    meta = parse_metadata("traficom_cars", json.dumps(METADATA).encode())
    options = PxWebOptions.model_validate({**POPULATION_OPTIONS, "point_in_time": True})
    with pytest.raises(ValidationError, match=r"no time variable.*'timeperiod_y'"):
        identify_layout("traficom_cars", meta, options)


def test_a_table_without_time_or_content_needs_point_in_time_and_a_measure() -> None:
    meta = parse_metadata("traficom_cars", json.dumps(CARS_METADATA).encode())
    no_time = {k: v for k, v in CARS_OPTIONS.items() if k != "point_in_time"}
    with pytest.raises(ValidationError, match=r"exactly one time variable.*options.point_in_time"):
        identify_layout("traficom_cars", meta, PxWebOptions.model_validate(no_time))
    no_measure = {k: v for k, v in CARS_OPTIONS.items() if k != "measure"}
    with pytest.raises(ValidationError, match=r"one content variable.*or options.measure"):
        identify_layout("traficom_cars", meta, PxWebOptions.model_validate(no_measure))


def test_point_in_time_queries_are_split_and_halved_by_area(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    url = serve(httpserver, CARS_METADATA, pxweb_handler(CARS_METADATA, car_cell, max_cells=8), CARS_PATH)
    frame = run(cars_spec(url, {**CARS_OPTIONS, "cell_limit": 8}), fetcher)
    areas = [q["query"][0]["selection"]["values"] for q in posted_queries(httpserver)]
    assert areas == [["KU049", "KU091"], ["KU235"]]  # 4 cells per area, at most 8 per query
    assert frame.height == 12

    httpserver.clear_log()
    frame = run(cars_spec(url), fetcher)  # one query of 12 cells: 403, then halves by area
    statuses = [response.status_code for request, response in httpserver.log if request.method == "POST"]
    assert statuses == [403, 200, 200]
    assert frame.height == 12


def test_cars_table_without_the_driving_power_variable_fails_naming_it(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    changed = json.loads(json.dumps(CARS_METADATA))
    del changed["variables"][3]
    url = serve(httpserver, changed, pxweb_handler(changed, car_cell), CARS_PATH)
    with pytest.raises(ValidationError, match=r"a variable 'Käyttövoima'.*'Merkki' \(Make\)"):
        PxWebConnector().fetch(cars_spec(url), fetcher)
    assert [request.method for request, _ in httpserver.log] == ["GET"]


def test_cars_table_without_the_electric_code_fails_naming_the_value(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    changed = json.loads(json.dumps(CARS_METADATA))
    changed["variables"][3]["values"][3] = "SÄHKÖ"
    url = serve(httpserver, changed, pxweb_handler(changed, car_cell), CARS_PATH)
    with pytest.raises(ValidationError, match=r"'Käyttövoima'.*missing \['04'\]"):
        PxWebConnector().fetch(cars_spec(url), fetcher)


def test_an_unexpected_extra_variable_fails_when_variables_are_strict() -> None:
    changed = json.loads(json.dumps(CARS_METADATA))
    changed["variables"].append(
        {"code": "Ajoneuvoluokka", "text": "Vehicle class", "values": ["M1"], "valueTexts": ["M1"]}
    )
    meta = parse_metadata("traficom_cars", json.dumps(changed).encode())
    with pytest.raises(ValidationError, match="unexpected 'Ajoneuvoluokka'"):
        identify_layout("traficom_cars", meta, PxWebOptions.model_validate(CARS_OPTIONS))


def test_mkan_11ic_without_driving_power_is_no_longer_expected_ev_indicators_read_traficom() -> None:
    catalogue = load_catalogue()
    assert not [d.id for d in catalogue.datasets.values() if "mkan/11ic" in d.url]
    assert "statfin_vehicles" not in catalogue.datasets
    spec = catalogue.dataset("traficom_cars")
    assert spec.url.startswith("https://trafi2.stat.fi/PXWeb/api/v1/en/TraFi/")
    options = read_options(spec)
    assert options.point_in_time and options.measure == "passenger_cars"
    # The real mkan/11ic layout fails the Traficom entry's layout check, naming what it lacks.
    meta = parse_metadata("traficom_cars", json.dumps(MKAN_11IC_METADATA).encode())
    with pytest.raises(ValidationError, match="no time variable"):
        identify_layout("traficom_cars", meta, options)
    indicators = load_indicator_catalogue()
    for indicator_id in ("cars_electric", "cars_all", "cars_rechargeable"):
        derive = indicators.get(indicator_id).derive
        assert getattr(derive, "dataset", None) == "traficom_cars", indicator_id


def _meta(variables: list[dict[str, Any]]) -> bytes:
    return json.dumps({"title": "t", "variables": variables}).encode()


def test_metadata_without_a_time_variable_fails() -> None:
    variables = json.loads(json.dumps(METADATA["variables"]))
    del variables[2]["time"]
    meta = parse_metadata("s", _meta(variables))
    with pytest.raises(ValidationError, match='time variable \\("time": true\\)'):
        identify_layout("s", meta, PxWebOptions.model_validate(POPULATION_OPTIONS))


def test_metadata_without_an_area_variable_fails() -> None:
    variables = [v for v in METADATA["variables"] if v["text"] != "Alue"]
    meta = parse_metadata("s", _meta(variables))
    with pytest.raises(ValidationError, match="one area variable"):
        identify_layout("s", meta, PxWebOptions.model_validate(POPULATION_OPTIONS))


def test_area_variable_is_found_by_swedish_text_or_by_its_values() -> None:
    variables = json.loads(json.dumps(METADATA["variables"]))
    variables[0].update(code="omr_2026", text="Område")
    layout = identify_layout(
        "s", parse_metadata("s", _meta(variables)), PxWebOptions.model_validate(POPULATION_OPTIONS)
    )
    assert layout.area.code == "omr_2026"
    variables[0].update(code="x_23_20260101", text="Geography")
    layout = identify_layout(
        "s", parse_metadata("s", _meta(variables)), PxWebOptions.model_validate(POPULATION_OPTIONS)
    )
    assert layout.area.code == "x_23_20260101"


def test_content_code_not_found_names_what_was_expected_and_what_exists(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    url = serve(httpserver, METADATA, pxweb_handler(METADATA, population_cell))
    with pytest.raises(ValidationError, match=r"'vaerak-ika'.*\['vaerak-vaesto', 'vaerak-miehet'\]"):
        PxWebConnector().fetch(make_spec(url, {**POPULATION_OPTIONS, "content": "vaerak-ika"}), fetcher)


def test_malformed_metadata_names_the_field() -> None:
    variables = json.loads(json.dumps(METADATA["variables"]))
    variables[1]["valueTexts"] = ["Väkiluku"]
    with pytest.raises(
        ValidationError, match=r"variables\[1\]\.valueTexts \(contentscode\): expected 2 texts"
    ):
        parse_metadata("s", _meta(variables))
    with pytest.raises(ValidationError, match="table-metadata object"):
        parse_metadata("s", '[{"id": "vaerak", "type": "l", "text": "Väestörakenne"}]'.encode())


def test_metadata_read_again_is_the_answer_kept_and_an_error_is_raised_every_time() -> None:
    body = _meta(json.loads(json.dumps(METADATA["variables"])))  # a body no other test parses
    meta = parse_metadata("s", body)
    assert parse_metadata("s", bytes(body)) is meta  # an equal body: not parsed again
    assert meta == parse_metadata("other", body) and parse_metadata("other", body) is not meta  # per source
    changed = body.replace(b'"t"', b'"t2"', 1)
    assert (
        parse_metadata("s", changed).title == "t2"
        and parse_metadata("s", changed).variables == meta.variables
    )
    bad = body.replace(b'"valueTexts"', b'"valueTexts_"', 1)
    for _ in range(2):
        with pytest.raises(ValidationError, match="valueTexts"):
            parse_metadata("s", bad)


def test_unknown_option_and_unit_are_rejected() -> None:
    with pytest.raises(ValidationError, match=r"options.*contents"):
        PxWebConnector().fetch(make_spec("http://unused", {**POPULATION_OPTIONS, "contents": "x"}), None)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"options\.unit"):
        PxWebConnector().fetch(make_spec("http://unused", {**POPULATION_OPTIONS, "unit": "people"}), None)  # type: ignore[arg-type]


# -- pure helpers -----------------------------------------------------------------------------------------


def test_split_and_halve_selection_cover_every_cell_exactly_once() -> None:
    meta = parse_metadata("s", json.dumps(METADATA).encode())
    options = PxWebOptions.model_validate(POPULATION_OPTIONS)
    layout = identify_layout("s", meta, options)
    selection = build_selection("s", layout, options)
    assert cell_count(selection) == 20

    def cells(parts: list[Any]) -> list[tuple[str, ...]]:
        out = []
        for part in parts:
            values = dict(part)
            out += [(a, y) for a in values["alue_23_20260101"] for y in values["timeperiod_y"]]
        return sorted(out)

    everything = cells([selection])
    for limit in (1, 3, 5, 7, 20, 1000):
        parts = split_selection("s", selection, layout, limit)
        assert all(cell_count(p) <= limit for p in parts)
        assert cells(parts) == everything
    halves = halve_selection(selection, layout)
    assert halves is not None
    assert [dict(h)["timeperiod_y"] for h in halves] == [("2021", "2022"), ("2023", "2024")]
    assert build_query(halves[0])["response"] == {"format": "json-stat2"}


def test_parse_rejects_a_response_missing_a_queried_variable() -> None:
    spec = make_spec("https://pxdata.stat.fi/PxWeb/api/v1/fi/StatFin/vaerak/11ra.px", POPULATION_OPTIONS)
    query = build_query(
        (("alue_23_20260101", ("KU049",)), ("contentscode", ("vaerak-vaesto",)), ("timeperiod_y", ("2024",)))
    )
    body = json.loads(jsonstat2(METADATA, query, population_cell))
    body["id"] = ["alue_23_20260101", "timeperiod_y"]
    body["size"] = [1, 1]
    del body["dimension"]["contentscode"]
    del body["role"]["metric"]
    now = datetime(2026, 11, 27, tzinfo=UTC)
    payloads = [
        Payload(RequestSpec("GET", spec.url), 200, {}, json.dumps(METADATA).encode(), now, spec.url),
        Payload(
            RequestSpec("POST", spec.url, (), RequestSpec.canonical_body(query)),
            200,
            {"content-type": "application/json; charset=utf-8"},
            json.dumps(body).encode(),
            now,
            spec.url,
        ),
    ]
    with pytest.raises(ValidationError, match=r"json-stat2 id.*missing \['contentscode'\]"):
        PxWebConnector().parse(spec, payloads)


def test_monthly_and_quarterly_time_codes_become_iso_like_periods() -> None:
    frame = pl.DataFrame({"t": ["2024", "2024M05", "2024Q3"]}).select(period_expr("t").alias("period"))
    assert frame["period"].to_list() == ["2024", "2024-05", "2024-Q3"]


# -- the bundled demo snapshot ----------------------------------------------------------------------------


def test_demo_snapshot_replays_through_the_connector(tmp_path: Path) -> None:
    from scripts.demo import statfin

    manifest = Manifest(label="demo", description="test", created="2026-11-27")
    statfin.generate(tmp_path, manifest)
    catalogue = load_catalogue()
    replay = ReplayFetcher(tmp_path, manifest=manifest)
    connector = PxWebConnector()

    spec = catalogue.dataset("statfin_population")
    population_frame = connector.parse(spec, connector.fetch(spec, replay))
    # today's 308 municipalities (the current division: Pertunmaa counted in Mäntyharju) and the country
    assert population_frame["area"].n_unique() == 308 + 1 and "588" not in population_frame["area"]
    drawn = statfin._drawn_population()  # the demo's own figures, each municipality apart
    mantyharju = population_frame.filter(pl.col("area") == "507", pl.col("period") == "1990")["value"].item()
    assert mantyharju == drawn[("507", 1990)] + drawn[("588", 1990)]  # type: ignore[operator]
    country = population_frame.filter(pl.col("area") == "FI", pl.col("period") == "2024")["value"].item()
    municipal = population_frame.filter(pl.col("area") != "FI", pl.col("period") == "2024")["value"].sum()
    assert country == municipal  # keep_country: the country's total, which the demo keeps consistent
    assert population_frame["period"].min() == "1990"
    assert population_frame["period"].max() == "2024"
    espoo = population_frame.filter(pl.col("area") == "049")
    assert dict(zip(espoo["period"].cast(pl.Int64), espoo["value"], strict=True)) == {
        year: float(count) for year, count in calibration.ESPOO_POPULATION.items()
    }
    assert population_frame.filter(pl.col("flag") == "..").height >= 2
    check_observations(population_frame, spec.id)

    spec = catalogue.dataset("traficom_cars")
    cars = connector.parse(spec, connector.fetch(spec, replay))
    check_observations(cars, spec.id)
    assert cars["area"].n_unique() == 308 and "588" not in cars["area"]
    assert set(cars["period"]) == {statfin.TRAFICOM_REFERENCE_DATE.isoformat()}
    espoo_cars = dict(cars.filter(pl.col("area") == "049").select("driving_power", "value").rows())
    assert 0.09 <= espoo_cars["04"] / espoo_cars["YH"] <= 0.12
    assert espoo_cars["YH"] == sum(espoo_cars[c] for c in ("01", "02", "04", "39", "44")) + statfin.cars(
        "049", "06"
    ) + statfin.cars("049", "Y")


def test_demo_snapshot_is_byte_identical_between_runs(tmp_path: Path) -> None:
    from scripts.demo import statfin

    first, second = tmp_path / "a", tmp_path / "b"
    manifests = []
    for folder in (first, second):
        manifest = Manifest(label="demo", description="test", created="2026-11-27")
        statfin.generate(folder, manifest)
        manifests.append(manifest.model_dump())
    assert manifests[0] == manifests[1]
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files
    for relative in files:
        assert (first / relative).read_bytes() == (second / relative).read_bytes()


# -- through the engine: real population figures and a reference-date period --------------------------

REAL_POPULATION_CSV = Path(__file__).parent / "realdata" / "statfin" / "pks_population_2005_2019.csv"


def test_computed_population_equals_the_real_figures_and_car_shares_keep_the_reference_date(
    engine: Engine, tmp_path: Path
) -> None:
    from scripts.demo import statfin

    folder = tmp_path / "snapshot"
    manifest = Manifest(label="demo", description="test", created="2026-11-27")
    statfin.generate(folder, manifest)
    write_manifest(manifest, folder)
    datasets = ["statfin_population", "traficom_cars"]
    outcomes = ingest(engine, RawStore(tmp_path / "raw"), datasets, offline=True, snapshot_dir=folder)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    summary = compute(engine, datasets=datasets, today=date(2026, 11, 27))
    mine = {"population", "ev_share", "rechargeable_share", "cars_electric", "cars_rechargeable", "cars_all"}
    assert mine <= set(summary.computed), summary.errors  # (those needing emissions lack their inputs here)

    # Statistics Finland's published year-end populations (table 11re), read from the real file.
    real = pl.read_csv(REAL_POPULATION_CSV, comment_prefix="#", schema_overrides={"code": pl.String})
    values = api.indicator_values("population", kind="observed", engine=engine)
    for row in real.iter_rows(named=True):
        computed = values.filter(pl.col("area") == row["code"], pl.col("year").is_between(2005, 2019))
        assert dict(zip(computed["year"], computed["value"], strict=True)) == {
            int(year): float(row[year]) for year in map(str, range(2005, 2020))
        }, row["municipality"]
    espoo_2022 = values.filter(pl.col("area") == "049", pl.col("period") == "2022")["value"].item()
    assert espoo_2022 == 305_274.0  # Espoo's published 2022 population (HSY / Espoo detail)

    # The cars' period is the table's reference date, and the shares keep it (no year).
    shares = api.indicator_values(["ev_share", "rechargeable_share"], area="049", engine=engine)
    assert set(shares["period"]) == {"2026-09-30"}
    assert shares["year"].is_null().all()
    ev_share = shares.filter(pl.col("indicator") == "ev_share")["value"].item()
    assert ev_share == pytest.approx(100.0 * statfin.cars("049", "04") / statfin.cars("049", "YH"))
    plug_in = shares.filter(pl.col("indicator") == "rechargeable_share")["value"].item()
    rechargeable = sum(statfin.cars("049", code) for code in ("04", "39", "44"))
    assert plug_in == pytest.approx(100.0 * rechargeable / statfin.cars("049", "YH"))


def test_each_traficom_release_adds_its_reference_date_and_earlier_dates_stay(
    engine: Engine, tmp_path: Path, httpserver: HTTPServer
) -> None:
    # Two releases of the point-in-time table: the stock on 30 June, then on 30 September. The second
    # answer holds only its own date; the tracker keeps both, one period each.
    catalogue = load_catalogue()
    url = httpserver.url_for(CARS_PATH)
    spec = catalogue.dataset("traficom_cars").model_copy(update={"url": url})
    local = catalogue.model_copy(update={"datasets": {**catalogue.datasets, "traficom_cars": spec}})
    june = {**CARS_METADATA, "title": CARS_TITLE.replace("30 September", "30 June")}
    for metadata in (june, CARS_METADATA):
        httpserver.clear()
        serve(httpserver, metadata, pxweb_handler(metadata, car_cell), CARS_PATH)
        live = LiveFetcher(max_attempts=1, timeout=5)
        outcomes = ingest(
            engine, RawStore(tmp_path / "raw"), ["traficom_cars"], catalogue=local, fetcher=live
        )
        assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    stored = api.observations("traficom_cars", area="049", engine=engine)
    assert sorted(stored.filter(pl.col("driving_power") == "04")["period"]) == ["2026-06-30", "2026-09-30"]
    compute(engine, datasets=["traficom_cars"], today=date(2026, 11, 27))
    shares = api.indicator_values("ev_share", area="049", engine=engine)
    assert dict(zip(shares["period"], shares["value"], strict=True)) == {
        "2026-06-30": pytest.approx(10.5),
        "2026-09-30": pytest.approx(10.5),
    }
