"""Tests of the Eurostat connector against a local HTTP server speaking the statistics API's JSON-stat."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from pytest_httpserver import HTTPServer

from common.flags import EUROSTAT_LETTERS, MEANINGS, VALUE_ONLY, implausible_flags
from common.payload import Payload, RequestSpec
from ingest.catalogue import CalendarSpec, DatasetSpec, load_catalogue
from ingest.connector import parse_flagged
from ingest.errors import FetchError, ValidationError
from ingest.eurostat import EurostatConnector, read_options, request_params
from ingest.http import LiveFetcher
from ingest.jsonstat import read_jsonstat
from ingest.manifest import Manifest
from ingest.pxweb import MISSING_MARKS, NIL_MARK
from ingest.replay import ReplayFetcher
from storage.checks import check_observations

PATH = "/eurostat/api/dissemination/statistics/1.0/data/cei_wm011"
QUERY = "format=JSON&lang=EN&geo=FI&geo=EU27_2020&sinceTimePeriod=2000"


def dataset(
    *,
    value: dict[str, float],
    status: dict[str, str] | None = None,
    units: tuple[str, ...] = ("PC",),
    geo_id: str = "geo",
    time_id: str = "time",
) -> dict[str, Any]:
    """A Eurostat statistics-API response: geo in Eurostat's order (EU first), 2021–2023, sparse values."""
    ids = ["freq", "wst_oper", "unit", geo_id, time_id]
    return {
        "version": "2.0",
        "class": "dataset",
        "label": "Recycling rate of municipal waste",
        "source": "ESTAT",
        "updated": "2026-03-18T23:00:00+0100",
        "value": value,
        "status": status or {},
        "id": ids,
        "size": [1, 1, len(units), 2, 3],
        "dimension": {
            "freq": {"label": "Time frequency", "category": {"index": {"A": 0}, "label": {"A": "Annual"}}},
            "wst_oper": {
                "label": "Waste management operations",
                "category": {"index": {"RCY": 0}, "label": {"RCY": "Recycling"}},
            },
            "unit": {
                "label": "Unit of measure",
                "category": {"index": {u: i for i, u in enumerate(units)}, "label": {u: u for u in units}},
            },
            geo_id: {
                "label": "Geopolitical entity (reporting)",
                "category": {
                    "index": {"EU27_2020": 0, "FI": 1},
                    "label": {"EU27_2020": "European Union - 27 countries (from 2020)", "FI": "Finland"},
                },
            },
            time_id: {
                "label": "Time",
                "category": {
                    "index": {"2021": 0, "2022": 1, "2023": 2},
                    "label": {"2021": "2021", "2022": "2022", "2023": "2023"},
                },
            },
        },
        "extension": {
            "lang": "EN",
            "agencyId": "ESTAT",
            "id": "CEI_WM011",
            "version": "1.0",
            "positions-with-no-data": {"geo": [], "time": []},
        },
    }


# Flat index = geo * 3 + time (freq, wst_oper and unit have one category each):
# EU 2021 = 0, EU 2022 = 1, EU 2023 = 2, FI 2021 = 3, FI 2022 = 4, FI 2023 = 5.
HAND_CHECKED = dataset(
    value={"0": 46.1, "1": 47.0, "3": 37.2, "5": 40.6},
    status={"1": "e", "2": ":", "5": "p"},
)


def make_spec(
    url: str, options: dict[str, Any] | None = None, dataset_id: str = "eurostat_cei_wm011"
) -> DatasetSpec:
    return DatasetSpec(
        id=dataset_id,
        title="test",
        source="eurostat",
        protocol="eurostat",
        url=url,
        options=options if options is not None else {"geo": ["FI", "EU27_2020"], "since": "2000"},
        cadence="5 13 * * *",
        calendar=CalendarSpec(frequency="annual", lag_days=540),
    )


def payload(body: bytes, content_type: str = "application/json", status: int = 200) -> Payload:
    url = "https://ec.europa.eu/eurostat/api/dissemination/statistics/1.0/data/cei_wm011"
    when = datetime(2026, 11, 27, tzinfo=UTC)
    return Payload(RequestSpec("GET", url), status, {"content-type": content_type}, body, when, url)


def parse(document: object, options: dict[str, Any] | None = None) -> pl.DataFrame:
    spec = make_spec("https://example.test/data/cei_wm011", options)
    return EurostatConnector().parse(spec, [payload(json.dumps(document).encode())])


@pytest.fixture
def fetcher() -> Iterator[LiveFetcher]:
    with LiveFetcher(max_attempts=2, backoff_base=0.001, backoff_max=0.01, timeout=5) as live:
        yield live


def test_fetch_repeats_geo_in_catalogue_order_and_decodes_sparse_values(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    httpserver.expect_request(PATH, method="GET", query_string=QUERY).respond_with_json(HAND_CHECKED)
    spec = make_spec(httpserver.url_for(PATH))
    connector = EurostatConnector()
    frame = connector.parse(spec, connector.fetch(spec, fetcher))

    assert httpserver.log[0][0].query_string.decode() == QUERY
    assert frame.columns == ["area", "period", "value", "flag", "unit", "unit_code", "freq", "wst_oper"]
    observed = {
        (area, period): (value, flag)
        for area, period, value, flag in frame.select("area", "period", "value", "flag").rows()
    }
    assert observed == {
        ("EU27_2020", "2021"): (46.1, None),
        ("EU27_2020", "2022"): (47.0, "e"),
        ("EU27_2020", "2023"): (None, ":"),  # status without a value: kept, value null
        ("FI", "2021"): (37.2, None),
        ("FI", "2023"): (40.6, "p"),
    }  # FI 2022 is absent from value and status: not an observation


@pytest.mark.parametrize("flag", ["=1+1", "-1+1", "@SUM(A1)", "p\tx", "e p", "provisional value, see notes"])
def test_a_status_that_is_no_flag_code_is_refused_at_ingest(
    httpserver: HTTPServer, fetcher: LiveFetcher, flag: str
) -> None:
    """A flag is stored and published as written: a hostile one (a spreadsheet formula) never gets in."""
    hostile = dataset(value=HAND_CHECKED["value"], status={"1": "e", "5": flag})
    httpserver.expect_request(PATH, method="GET", query_string=QUERY).respond_with_json(hostile)
    spec = make_spec(httpserver.url_for(PATH))
    connector = EurostatConnector()
    with pytest.raises(ValidationError) as caught:
        parse_flagged(connector, spec, connector.fetch(spec, fetcher))
    assert caught.value.source == "eurostat_cei_wm011" and caught.value.field == "flag"
    assert caught.value.got == repr(flag)
    assert "ASCII letters, digits and ':'" in caught.value.expected


def test_every_known_flag_code_is_plausible() -> None:
    known = [
        *(code for meaning in MEANINGS.values() for code in meaning.codes),
        *sorted(EUROSTAT_LETTERS),
        *VALUE_ONLY,
        *MISSING_MARKS,
        NIL_MARK,
        "bep",
        ":",
        "e,p",
        "neg,p",
        "",
    ]
    assert implausible_flags(pl.Series(known)) == []


def test_other_dimensions_are_kept_as_code_columns_and_the_unit_is_mapped() -> None:
    frame = parse(HAND_CHECKED)
    assert set(frame["unit"]) == {"%"}
    assert set(frame["unit_code"]) == {"PC"}
    assert set(frame["freq"]) == {"A"}
    assert set(frame["wst_oper"]) == {"RCY"}
    assert frame.schema["value"] == pl.Float64


def test_greenhouse_gas_units_map_to_co2_equivalents_when_the_dataset_says_so() -> None:
    # unit is a dimension of two categories: flat = unit * 6 + geo * 3 + time.
    document = dataset(value={"3": 80.1, "9": 8.4, "0": 70.8}, units=("I90", "T_HAB"))
    frame = parse(document, {"geo": ["FI", "EU27_2020"], "ghg": True})
    assert sorted(frame.select("area", "period", "unit", "unit_code", "value").rows()) == [
        ("EU27_2020", "2021", "index", "I90", 70.8),
        ("FI", "2021", "index", "I90", 80.1),
        ("FI", "2021", "t CO2e per resident", "T_HAB", 8.4),
    ]
    with pytest.raises(ValidationError, match=r"dimension unit.*got T_HAB"):
        parse(document, {"geo": ["FI", "EU27_2020"]})


def test_unknown_unit_code_fails_naming_it_unless_the_catalogue_maps_it() -> None:
    document = dataset(value={"0": 1.0}, units=("MIO_EUR",))
    with pytest.raises(ValidationError, match=r"eurostat_cei_wm011: dimension unit: .*got MIO_EUR"):
        parse(document)
    with pytest.raises(ValidationError, match=r"options\.units MIO_EUR"):
        parse(document, {"geo": ["FI"], "units": {"MIO_EUR": "million euro"}})
    frame = parse(document, {"geo": ["FI"], "units": {"MIO_EUR": "index"}})
    assert frame["unit"].to_list() == ["index"]


def test_error_body_with_http_200_is_a_clear_fetch_error() -> None:
    error = {"error": {"status": 400, "id": 100, "label": "Dataset contains no data. Check the filters."}}
    with pytest.raises(
        FetchError, match=r"status 400 Dataset contains no data\. Check the filters\. \(error id 100\)"
    ):
        parse(error)
    as_list = {"error": [{"status": 404, "id": 100, "label": "ERR_NOT_FOUND_4: XYZ is not available"}]}
    with pytest.raises(FetchError, match="ERR_NOT_FOUND_4"):
        parse(as_list)


@pytest.mark.parametrize("status", [400, 404])
def test_error_body_with_an_error_status_names_eurostats_label(
    httpserver: HTTPServer, fetcher: LiveFetcher, status: int
) -> None:
    label = "ERR_NOT_FOUND_4: CEI_WM011 (DATA_SET:ESTAT,1.0) is not available for dissemination."
    httpserver.expect_request(PATH).respond_with_json(
        {"error": {"status": status, "id": 100, "label": label}}, status=status
    )
    with pytest.raises(FetchError, match=r"Eurostat answered with an error.*ERR_NOT_FOUND_4") as caught:
        EurostatConnector().fetch(make_spec(httpserver.url_for(PATH)), fetcher)
    assert f"status {status}" in str(caught.value)


def test_html_page_with_http_200_is_a_validation_error(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    page = "<!DOCTYPE html><html lang='en'><body>Eurostat is under maintenance</body></html>"
    httpserver.expect_request(PATH).respond_with_data(page, content_type="text/html; charset=utf-8")
    with pytest.raises(ValidationError, match="content-type"):
        EurostatConnector().fetch(make_spec(httpserver.url_for(PATH)), fetcher)
    spec = make_spec("https://example.test/x")
    with pytest.raises(ValidationError, match="not an HTML page"):
        EurostatConnector().parse(spec, [payload(page.encode(), content_type="application/json")])
    with pytest.raises(ValidationError, match=r"JSON-stat 2\.0 JSON"):
        EurostatConnector().parse(spec, [payload(b"geo\\time,2021\nFI,37.2\n")])


def test_renamed_or_missing_geo_and_time_dimensions_fail_naming_them() -> None:
    with pytest.raises(ValidationError, match=r"expected a dimension 'geo'.*'GEO'"):
        parse(dataset(value={"0": 1.0}, geo_id="GEO"))
    with pytest.raises(ValidationError, match=r"expected a dimension 'time'.*'TIME_PERIOD'"):
        parse(dataset(value={"0": 1.0}, time_id="TIME_PERIOD"))


def test_empty_dataset_is_an_error() -> None:
    with pytest.raises(ValidationError, match="value: expected at least one observation"):
        parse(dataset(value={}))
    with pytest.raises(ValidationError, match="value: expected at least one observation"):
        parse(dataset(value={}, status={"0": ":"}))


def test_an_answer_without_observations_says_so_before_looking_for_the_filters_codes() -> None:
    """An empty answer had read as a renamed code: "dimension nrg_bal: expected the codes ['REN'], got
    only []"."""
    spec = make_spec("https://example.test/sdg_07_40", SDG_07_40_OPTIONS, "eurostat_sdg_07_40")
    empty = {**SDG_07_40, "value": {}, "status": {}}
    with pytest.raises(ValidationError) as caught:
        EurostatConnector().parse(spec, [payload(json.dumps(empty).encode())])
    assert caught.value.field == "value"
    assert caught.value.got == "an answer without any value or status"


def test_filters_are_repeated_parameters_before_since() -> None:
    options = read_options(
        make_spec(
            "x", {"geo": ["FI", "EU27_2020", "SE"], "since": "2010", "filters": {"unit": ["I90", "T_HAB"]}}
        )
    )
    assert request_params(options) == [
        ("format", "JSON"),
        ("lang", "EN"),
        ("geo", "FI"),
        ("geo", "EU27_2020"),
        ("geo", "SE"),
        ("unit", "I90"),
        ("unit", "T_HAB"),
        ("sinceTimePeriod", "2010"),
    ]
    with pytest.raises(ValidationError, match="catalogue options"):
        read_options(make_spec("x", {"geos": ["FI"]}))


# -- series selection: the real datasets' extra dimensions --------------------------------------------

REAL_DIR = Path(__file__).parent / "realdata" / "eurostat"
SDG_13_10_PATH = "/eurostat/api/dissemination/statistics/1.0/data/sdg_13_10"
SDG_07_40_PATH = "/eurostat/api/dissemination/statistics/1.0/data/sdg_07_40"


def cube(
    dimensions: list[tuple[str, list[str]]], cells: dict[tuple[str, ...], float], label: str
) -> dict[str, Any]:
    """A Eurostat answer without `role` (as Eurostat sends it): sparse value keyed by flat index."""
    sizes = [len(codes) for _, codes in dimensions]
    strides = [1] * len(sizes)
    for i in range(len(sizes) - 2, -1, -1):
        strides[i] = strides[i + 1] * sizes[i + 1]
    value: dict[str, float] = {}
    for coordinates, number in sorted(cells.items()):
        flat = sum(
            codes.index(code) * stride
            for (_, codes), code, stride in zip(dimensions, coordinates, strides, strict=True)
        )
        value[str(flat)] = number
    return {
        "version": "2.0",
        "class": "dataset",
        "label": label,
        "source": "ESTAT",
        "updated": "2026-06-12T23:00:00+0200",
        "value": {k: value[k] for k in sorted(value, key=int)},
        "status": {},
        "id": [name for name, _ in dimensions],
        "size": sizes,
        "dimension": {
            name: {
                "label": name,
                "category": {"index": {c: i for i, c in enumerate(codes)}, "label": {c: c for c in codes}},
            }
            for name, codes in dimensions
        },
        "extension": {"lang": "EN", "positions-with-no-data": {name: [] for name, _ in dimensions}},
    }


# sdg_13_10 as published: freq, airpol, src_crf (net incl. LULUCF and excl. LULUCF), unit, geo, time.
SDG_13_10 = cube(
    [
        ("freq", ["A"]),
        ("airpol", ["GHG"]),
        ("src_crf", ["TOTXMEMONIA", "TOTX4_MEMONIA"]),
        ("unit", ["I90", "T_HAB"]),
        ("geo", ["EU27_2020", "FI"]),
        ("time", ["2021", "2022"]),
    ],
    {
        ("A", "GHG", "TOTXMEMONIA", "I90", "FI", "2021"): 61.2,
        ("A", "GHG", "TOTXMEMONIA", "I90", "FI", "2022"): 74.9,
        ("A", "GHG", "TOTX4_MEMONIA", "I90", "FI", "2021"): 67.4,
        ("A", "GHG", "TOTX4_MEMONIA", "I90", "FI", "2022"): 64.8,
        ("A", "GHG", "TOTXMEMONIA", "T_HAB", "FI", "2022"): 8.5,
        ("A", "GHG", "TOTX4_MEMONIA", "T_HAB", "FI", "2022"): 8.1,
        ("A", "GHG", "TOTXMEMONIA", "I90", "EU27_2020", "2022"): 69.0,
        ("A", "GHG", "TOTX4_MEMONIA", "I90", "EU27_2020", "2022"): 70.2,
    },
    "Net greenhouse gas emissions",
)
SDG_13_10_OPTIONS = {
    "geo": ["FI", "EU27_2020"],
    "since": "2000",
    "ghg": True,
    "filters": {"freq": ["A"], "airpol": ["GHG"], "src_crf": ["TOTXMEMONIA"], "unit": ["I90", "T_HAB"]},
}
SDG_07_40 = cube(
    [
        ("freq", ["A"]),
        ("nrg_bal", ["REN", "REN_TRA", "REN_ELC", "REN_HEAT_CL"]),
        ("unit", ["PC"]),
        ("geo", ["EU27_2020", "FI"]),
        ("time", ["2022", "2023"]),
    ],
    {
        ("A", "REN", "PC", "FI", "2022"): 47.9,
        ("A", "REN", "PC", "FI", "2023"): 50.8,
        ("A", "REN_TRA", "PC", "FI", "2023"): 21.3,
        ("A", "REN_ELC", "PC", "FI", "2023"): 53.4,
        ("A", "REN_HEAT_CL", "PC", "FI", "2023"): 61.0,
        ("A", "REN", "PC", "EU27_2020", "2023"): 24.5,
        ("A", "REN_ELC", "PC", "EU27_2020", "2023"): 45.3,
    },
    "Share of renewable energy in gross final energy consumption by sector",
)
SDG_07_40_OPTIONS = {
    "geo": ["FI", "EU27_2020"],
    "since": "2000",
    "filters": {"freq": ["A"], "nrg_bal": ["REN"], "unit": ["PC"]},
}


def test_sdg_13_10_with_two_src_crf_series_gives_the_net_series_selected_in_the_catalogue(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    # The server answers with every series, as if it ignored the filters: the answer is still checked.
    httpserver.expect_request(SDG_13_10_PATH, method="GET").respond_with_json(SDG_13_10)
    spec = make_spec(httpserver.url_for(SDG_13_10_PATH), SDG_13_10_OPTIONS, "eurostat_sdg_13_10")
    connector = EurostatConnector()
    frame = connector.parse(spec, connector.fetch(spec, fetcher))

    query = httpserver.log[0][0].args
    assert query.getlist("src_crf") == ["TOTXMEMONIA"]
    assert query.getlist("airpol") == ["GHG"]
    assert query.getlist("unit") == ["I90", "T_HAB"]
    assert set(frame["src_crf"]) == {"TOTXMEMONIA"}
    assert sorted(frame.select("area", "period", "unit_code", "value").rows()) == [
        ("EU27_2020", "2022", "I90", 69.0),
        ("FI", "2021", "I90", 61.2),
        ("FI", "2022", "I90", 74.9),
        ("FI", "2022", "T_HAB", 8.5),
    ]
    check_observations(frame, spec.id)


def test_sdg_13_10_without_a_src_crf_choice_fails_listing_both_series() -> None:
    options = {"geo": ["FI", "EU27_2020"], "ghg": True}
    with pytest.raises(
        ValidationError,
        match=r"eurostat_sdg_13_10: series: expected one series per geo and unit.*"
        r"several series, by src_crf: TOTX4_MEMONIA, TOTXMEMONIA",
    ):
        EurostatConnector().parse(
            make_spec("https://example.test/sdg_13_10", options, "eurostat_sdg_13_10"),
            [payload(json.dumps(SDG_13_10).encode())],
        )


def test_sdg_07_40_with_four_nrg_bal_series_gives_the_overall_share() -> None:
    spec = make_spec("https://example.test/sdg_07_40", SDG_07_40_OPTIONS, "eurostat_sdg_07_40")
    frame = EurostatConnector().parse(spec, [payload(json.dumps(SDG_07_40).encode())])
    assert set(frame["nrg_bal"]) == {"REN"}
    assert sorted(frame.select("area", "period", "value").rows()) == [
        ("EU27_2020", "2023", 24.5),
        ("FI", "2022", 47.9),
        ("FI", "2023", 50.8),
    ]
    no_choice = {"geo": ["FI", "EU27_2020"], "filters": {"unit": ["PC"]}}
    with pytest.raises(ValidationError, match=r"by nrg_bal: REN, REN_ELC, REN_HEAT_CL, REN_TRA"):
        EurostatConnector().parse(
            make_spec("https://example.test/sdg_07_40", no_choice, "eurostat_sdg_07_40"),
            [payload(json.dumps(SDG_07_40).encode())],
        )


def test_a_filter_on_a_dimension_the_answer_lacks_or_a_code_it_lacks_fails_naming_it() -> None:
    spec = make_spec(
        "https://example.test/sdg_07_40",
        {**SDG_07_40_OPTIONS, "filters": {"siec": ["TOTAL"], "unit": ["PC"]}},
        "eurostat_sdg_07_40",
    )
    with pytest.raises(ValidationError, match=r"a dimension 'siec'.*dimensions \['freq', 'nrg_bal'"):
        EurostatConnector().parse(spec, [payload(json.dumps(SDG_07_40).encode())])
    spec = make_spec(
        "https://example.test/sdg_07_40",
        {**SDG_07_40_OPTIONS, "filters": {"nrg_bal": ["REN_XYZ"]}},
        "eurostat_sdg_07_40",
    )
    with pytest.raises(ValidationError, match=r"dimension nrg_bal: expected the codes \['REN_XYZ'\].*only"):
        EurostatConnector().parse(spec, [payload(json.dumps(SDG_07_40).encode())])


def test_every_eurostat_catalogue_entry_selects_its_series_with_filters() -> None:
    catalogue = load_catalogue()
    entries = [d for d in catalogue.datasets.values() if d.protocol == "eurostat"]
    assert entries
    for spec in entries:
        options = read_options(spec)
        assert options.single_series, spec.id
        if options.indicator_units:  # city statistics: no unit dimension, a unit per chosen indicator
            assert set(options.filters[options.indicator_dimension]) == set(options.indicator_units)
        else:
            assert "unit" in options.filters, spec.id
    assert read_options(catalogue.dataset("eurostat_sdg_13_10")).filters["src_crf"] == ["TOTXMEMONIA"]
    assert read_options(catalogue.dataset("eurostat_sdg_07_40")).filters["nrg_bal"] == ["REN"]


def test_the_real_eurostat_answer_parses(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    # A verbatim Eurostat answer: no `role`, no `status`, `extension` with `annotation` and
    # `positions-with-no-data`.
    body = (REAL_DIR / "prc_hicp_manr_EA_2025-10_12.json").read_bytes()
    document = json.loads(body)
    assert "role" not in document and "status" not in document
    path = "/eurostat/api/dissemination/statistics/1.0/data/prc_hicp_manr"
    httpserver.expect_request(path, method="GET").respond_with_data(body, content_type="application/json")
    options = {
        "geo": ["EA"],
        "filters": {"unit": ["RCH_A"], "coicop": ["CP00"]},
        "units": {"RCH_A": "%"},
    }
    spec = make_spec(httpserver.url_for(path), options, "eurostat_prc_hicp_manr")
    connector = EurostatConnector()
    frame = connector.parse(spec, connector.fetch(spec, fetcher))
    assert frame.columns == ["area", "period", "value", "flag", "unit", "unit_code", "freq", "coicop"]
    assert frame.select("area", "period", "value", "flag", "unit").rows() == [
        ("EA", "2025-10", 2.1, None, "%"),
        ("EA", "2025-11", 2.1, None, "%"),
        ("EA", "2025-12", 2.0, None, "%"),
    ]
    check_observations(frame, spec.id)

    dataset = read_jsonstat(body, source="eurostat_prc_hicp_manr")
    assert dataset.roles == {"time": ["time"], "geo": ["geo"]}  # no `role`: Eurostat's dimension names
    assert dataset.updated == "2026-02-06T23:00:00+0100"
    annotations = dataset.extension["annotation"]
    assert (
        isinstance(annotations, list)
        and {"type": "OBS_PERIOD_OVERALL_LATEST", "title": "2025-12"} in annotations
    )
    assert dataset.extension["positions-with-no-data"] == {d: [] for d in dataset.dimension_ids}
    assert dataset.frame["status"].null_count() == 3  # no `status` at all: every cell without one


# -- the bundled demo snapshot ----------------------------------------------------------------------------

RANGES: dict[str, dict[tuple[str, str], tuple[float, float]]] = {
    # dataset: {(area, unit_code): (low, high)}
    "eurostat_cei_wm011": {("FI", "PC"): (33, 43.5), ("EU27_2020", "PC"): (29, 49.5)},
    "eurostat_cei_pc031": {("FI", "KG_HAB"): (480, 610), ("EU27_2020", "KG_HAB"): (495, 535)},
    "eurostat_sdg_12_41": {("FI", "PC"): (1.5, 8.5), ("EU27_2020", "PC"): (7.5, 12.5)},
    "eurostat_sdg_07_40": {("FI", "PC"): (27, 51), ("EU27_2020", "PC"): (9, 25.5)},
    "eurostat_sdg_13_10": {
        ("FI", "I90"): (55, 115),
        ("EU27_2020", "I90"): (60, 95),
        ("FI", "T_HAB"): (6, 12),
        ("EU27_2020", "T_HAB"): (6, 11),
    },
}


def test_demo_snapshot_replays_through_the_connector(tmp_path: Path) -> None:
    from scripts.demo import eurostat

    manifest = Manifest(label="demo", description="test", created="2026-11-27")
    eurostat.generate(tmp_path, manifest)
    replay = ReplayFetcher(tmp_path, manifest=manifest)
    catalogue = load_catalogue()
    connector = EurostatConnector()
    assert sorted(e.dataset for e in manifest.exchanges) == sorted(RANGES)
    flags: set[str] = set()
    for dataset_id, ranges in RANGES.items():
        spec = catalogue.dataset(dataset_id)
        frame = connector.parse(spec, connector.fetch(spec, replay))
        check_observations(frame, dataset_id)
        assert sorted(frame["area"].unique()) == ["EU27_2020", "FI"]
        for (area, unit), (low, high) in ranges.items():
            series = frame.filter((pl.col("area") == area) & (pl.col("unit_code") == unit))
            assert series.height >= 15, (dataset_id, area, unit)
            assert series["value"].is_between(low, high).all(), (dataset_id, area, unit, series["value"])
        flags |= set(frame["flag"].drop_nulls())
        latest = frame.group_by("area").agg(pl.col("period").max())
        if dataset_id == "eurostat_cei_pc031":
            assert dict(latest.rows()) == {"FI": "2024", "EU27_2020": "2023"}  # EU's latest year missing
    assert {"p", "e", "b"} <= flags
    units = connector.parse(
        catalogue.dataset("eurostat_sdg_13_10"),
        connector.fetch(catalogue.dataset("eurostat_sdg_13_10"), replay),
    )
    assert set(units["unit"]) == {"index", "t CO2e per resident"}


def test_demo_snapshot_is_byte_identical_between_runs(tmp_path: Path) -> None:
    from scripts.demo import eurostat

    outputs = []
    for name in ("a", "b"):
        manifest = Manifest(label="demo", description="test", created="2026-11-27")
        eurostat.generate(tmp_path / name, manifest)
        files = {
            p.relative_to(tmp_path / name): p.read_bytes()
            for p in (tmp_path / name).rglob("*")
            if p.is_file()
        }
        outputs.append((manifest.model_dump(), files))
    assert outputs[0] == outputs[1]
    assert len(outputs[0][1]) == 5
