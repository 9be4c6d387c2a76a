"""Tests of the PxWeb connector against a local HTTP server speaking StatFin's PxWeb v1 wire format."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from ingest.catalogue import CalendarSpec, DatasetSpec, load_catalogue
from ingest.errors import FetchError, ValidationError
from ingest.http import LiveFetcher, TooManyCellsError
from ingest.manifest import Manifest
from ingest.payload import Payload, RequestSpec
from ingest.pxweb import (
    PxWebConnector,
    PxWebOptions,
    build_query,
    build_selection,
    cell_count,
    halve_selection,
    identify_layout,
    parse_metadata,
    period_expr,
    split_selection,
)
from ingest.replay import ReplayFetcher
from scripts.demo import calibration
from storage.checks import check_observations

TABLE_PATH = "/PxWeb/api/v1/fi/StatFin/vaerak/11ra.px"
VEHICLE_PATH = "/PxWeb/api/v1/fi/StatFin/mkan/11ic.px"
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

VEHICLE_METADATA: dict[str, Any] = {
    "title": "Liikennekäytössä olevat henkilöautot muuttujina Vuosi, Alue, Käyttövoima ja Tiedot",
    "variables": [
        {"code": "timeperiod_y", "text": "Vuosi", "values": ["2023", "2024"], "valueTexts": ["2023", "2024"],
         "time": True},
        {"code": "alue_23_20260101", "text": "Alue", "values": ["SSS", "KU049", "KU091"],
         "valueTexts": ["KOKO MAA", "Espoo", "Helsinki"], "elimination": True},
        {"code": "kayttovoima", "text": "Käyttövoima", "values": ["YH", "01", "02", "04", "39", "44"],
         "valueTexts": ["Yhteensä", "Bensiini", "Diesel", "Sähkö", "Bensiini/sähkö", "Diesel/sähkö"],
         "elimination": True},
        {"code": "contentscode", "text": "Tiedot", "values": ["mkan-henkiloautot"],
         "valueTexts": ["Liikennekäytössä olevat henkilöautot"]},
    ],
}  # fmt: skip

POPULATION_OPTIONS = {"content": "vaesto", "unit": "persons", "area": "all_municipalities"}
VEHICLE_OPTIONS = {
    "content": "henkiloautot",
    "unit": "vehicles",
    "area": "all_municipalities",
    "variables": {"käyttövoima": "all"},
    "required_values": {"käyttövoima": ["01", "02", "04", "39", "44"]},
    "strict_variables": True,
}
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
    time = next(v["code"] for v in variables if v.get("time"))
    content = next(v["code"] for v in variables if v["text"] == "Tiedot")
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
    document["role"] = {"time": [time], "metric": [content]}
    document["version"] = "2.0"
    document["extension"] = {"px": {"tableid": "11ra", "decimals": 0, "language": "fi"}}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def population_cell(**cell: str) -> int | None:
    area, content, year = cell["alue_23_20260101"], cell["contentscode"], cell["timeperiod_y"]
    return None if (area, content, year) in MISSING else population(area, content, year)


def vehicle_cell(**cell: str) -> int:
    return {"YH": 100, "01": 50, "02": 30, "04": 8, "39": 7, "44": 5}[cell["kayttovoima"]] * (
        2 if cell["alue_23_20260101"] == "KU091" else 1
    ) + (1 if cell["timeperiod_y"] == "2024" else 0)


def pxweb_handler(
    metadata: dict[str, Any], value: Callable[..., int | None], max_cells: int | None = None
) -> Callable[[Request], Response]:
    """The POST side of the fake service: 403 above max_cells, 400 for unknown variable codes."""
    codes = {v["code"] for v in metadata["variables"]}

    def handle(request: Request) -> Response:
        query = json.loads(request.get_data())
        if any(item["code"] not in codes for item in query["query"]):
            return Response("Parameter error", status=400, content_type="text/plain")
        cells = math.prod(len(item["selection"]["values"]) for item in query["query"])
        if max_cells is not None and cells > max_cells:
            return Response("Too many values selected", status=403, content_type="text/plain")
        return Response(jsonstat2(metadata, query, value), content_type="application/json; charset=utf-8")

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


def test_http_403_for_a_single_cell_is_raised(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    url = serve(httpserver, METADATA, pxweb_handler(METADATA, population_cell, max_cells=0))
    with pytest.raises(TooManyCellsError, match="403"):
        PxWebConnector().fetch(make_spec(url, {**POPULATION_OPTIONS, "area": ["049"]}), fetcher)


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


def test_vehicles_by_driving_power_become_a_driving_power_column(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    url = serve(httpserver, VEHICLE_METADATA, pxweb_handler(VEHICLE_METADATA, vehicle_cell), VEHICLE_PATH)
    frame = run(make_spec(url, VEHICLE_OPTIONS, "statfin_vehicles"), fetcher)

    query = posted_queries(httpserver)[0]["query"]
    assert [item["code"] for item in query] == [
        "timeperiod_y",
        "alue_23_20260101",
        "kayttovoima",
        "contentscode",
    ]
    assert query[2]["selection"]["values"] == ["YH", "01", "02", "04", "39", "44"]
    assert query[3]["selection"]["values"] == ["mkan-henkiloautot"]
    assert frame.columns == ["area", "period", "value", "flag", "unit", "measure", "driving_power"]
    espoo_2024 = frame.filter((pl.col("area") == "049") & (pl.col("period") == "2024"))
    assert dict(espoo_2024.select("driving_power", "value").rows()) == {
        "YH": 101.0, "01": 51.0, "02": 31.0, "04": 9.0, "39": 8.0, "44": 6.0,
    }  # fmt: skip
    assert set(frame["unit"]) == {"vehicles"}
    assert set(frame["measure"]) == {"henkiloautot"}


def test_vehicles_table_without_the_expected_driving_power_variable_fails_naming_it(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    changed = json.loads(json.dumps(VEHICLE_METADATA))
    changed["variables"][2].update(code="ajoneuvoluokka", text="Ajoneuvoluokka")
    url = serve(httpserver, changed, pxweb_handler(changed, vehicle_cell))
    with pytest.raises(ValidationError, match=r"'käyttövoima'.*'ajoneuvoluokka' \(Ajoneuvoluokka\)"):
        PxWebConnector().fetch(make_spec(url, VEHICLE_OPTIONS, "statfin_vehicles"), fetcher)
    assert [request.method for request, _ in httpserver.log] == ["GET"]


def test_vehicles_table_without_the_electric_code_fails_naming_the_value() -> None:
    changed = json.loads(json.dumps(VEHICLE_METADATA))
    changed["variables"][2]["values"][3] = "SÄHKÖ"
    meta = parse_metadata("statfin_vehicles", json.dumps(changed).encode())
    with pytest.raises(ValidationError, match=r"'kayttovoima'.*missing \['04'\]"):
        identify_layout("statfin_vehicles", meta, PxWebOptions.model_validate(VEHICLE_OPTIONS))


def test_an_unexpected_extra_variable_fails_when_variables_are_strict() -> None:
    changed = json.loads(json.dumps(VEHICLE_METADATA))
    changed["variables"].append(
        {"code": "ajoneuvoluokka", "text": "Ajoneuvoluokka", "values": ["M1"], "valueTexts": ["M1"]}
    )
    meta = parse_metadata("statfin_vehicles", json.dumps(changed).encode())
    with pytest.raises(ValidationError, match="unexpected 'ajoneuvoluokka'"):
        identify_layout("statfin_vehicles", meta, PxWebOptions.model_validate(VEHICLE_OPTIONS))


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
    assert population_frame["area"].n_unique() == 309
    assert population_frame["period"].min() == "1990"
    assert population_frame["period"].max() == "2024"
    espoo = population_frame.filter(pl.col("area") == "049")
    assert dict(zip(espoo["period"].cast(pl.Int64), espoo["value"], strict=True)) == {
        year: float(count) for year, count in calibration.ESPOO_POPULATION.items()
    }
    assert population_frame.filter(pl.col("flag") == "..").height >= 2
    check_observations(population_frame, spec.id)

    spec = catalogue.dataset("statfin_vehicles")
    vehicles = connector.parse(spec, connector.fetch(spec, replay))
    check_observations(vehicles, spec.id)
    espoo_cars = vehicles.filter(pl.col("area") == "049")
    share = (
        espoo_cars.pivot("driving_power", index="period", values="value")
        .sort("period")
        .select("period", (pl.col("04") / pl.col("YH")).alias("share"))
    )
    assert 0.001 <= share["share"][0] <= 0.004  # 2015
    assert 0.06 <= share["share"][-1] <= 0.08  # 2024
    assert share["share"].is_sorted()


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
