"""Tests of the Eurostat connector on the Urban Audit city statistics (cities dimension, peers by label)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest
from pytest_httpserver import HTTPServer

from common.payload import Payload, RequestSpec
from ingest.catalogue import load_catalogue
from ingest.completeness import Previous, missing_observations
from ingest.errors import ValidationError
from ingest.eurostat import EurostatConnector, read_options
from ingest.http import LiveFetcher
from ingest.plausibility import check_payload
from storage.checks import check_observations, dimension_columns
from storage.load import series_keys

PATH = "/eurostat/api/dissemination/statistics/1.0/data/urb_cenv"
QUERY = "format=JSON&lang=EN&freq=A&indic_ur=EN4008V&indic_ur=EN5205V&sinceTimePeriod=2000"
CITIES = {
    "FI001C": "Helsinki/Helsingfors",
    "FI001F": "Helsinki/Helsingfors",  # the functional urban area: same label, not a city
    "FI004C": "Espoo/Esbo",
    "FI008C": "Jyväskylä",  # not a peer
    "SE001C": "Stockholm",
    "DE001C": "Berlin",  # not a peer
}
INDICATORS = {
    "EN4008V": "Municipal waste generated (domestic and commercial), total - 1000 t",
    "EN5205V": "Share of green urban areas in the total area - %",
}
TIMES = ("2018", "2019", "2020")

# Flat index = (indicator * 6 + city) * 3 + time (freq has one category):
# EN4008V: FI001C 2018 = 0, 2020 = 2; FI001F 2018 = 3; FI004C 2018 = 6, 2019 = 7; FI008C 2018 = 9;
#          SE001C 2019 = 13; DE001C 2018 = 15.
# EN5205V: FI004C 2018 = (6 + 2) * 3 = 24; SE001C 2018 = (6 + 4) * 3 = 30.
VALUES = {
    "0": 310.5,
    "2": 298.0,
    "3": 700.0,
    "6": 133.2,
    "7": 135.0,
    "9": 60.1,
    "13": 402.0,
    "15": 1450.0,
    "24": 4.5,
    "30": 15.0,
}
STATUS = {"7": "e"}
# What the peers' rows must be: (area, city_code, indicator, period) -> (value, flag, unit).
EXPECTED = {
    ("091", "FI001C", "EN4008V", "2018"): (310.5, None, "thousand tonnes"),
    ("091", "FI001C", "EN4008V", "2020"): (298.0, None, "thousand tonnes"),
    ("049", "FI004C", "EN4008V", "2018"): (133.2, None, "thousand tonnes"),
    ("049", "FI004C", "EN4008V", "2019"): (135.0, "e", "thousand tonnes"),
    ("049", "FI004C", "EN5205V", "2018"): (4.5, None, "%"),
    ("stockholm", "SE001C", "EN4008V", "2019"): (402.0, None, "thousand tonnes"),
    ("stockholm", "SE001C", "EN5205V", "2018"): (15.0, None, "%"),
}


def document(
    *,
    cities: dict[str, str] = CITIES,
    values: dict[str, float] = VALUES,
    indicators: dict[str, str] = INDICATORS,
) -> dict[str, Any]:
    """An urb_cenv answer of Eurostat's statistics API: freq, indic_ur, cities, time; no unit."""
    dims = {
        "freq": ("Time frequency", {"A": "Annual"}),
        "indic_ur": ("Urban audit indicator", indicators),
        "cities": ("Geopolitical entity (declaring)", cities),
        "time": ("Time", {t: t for t in TIMES}),
    }
    return {
        "version": "2.0",
        "class": "dataset",
        "label": "Environment by cities and greater cities",
        "source": "ESTAT",
        "updated": "2026-04-14T23:00:00+0200",
        "value": values,
        "status": STATUS,
        "id": list(dims),
        "size": [len(categories) for _, categories in dims.values()],
        "dimension": {
            did: {
                "label": label,
                "category": {"index": {c: i for i, c in enumerate(categories)}, "label": categories},
            }
            for did, (label, categories) in dims.items()
        },
        "extension": {"lang": "EN", "agencyId": "ESTAT", "id": "URB_CENV", "version": "1.0"},
    }


def spec_at(url: str, **options: Any) -> Any:
    """The catalogue's eurostat_urb_cenv entry, pointed at url, with option overrides."""
    spec = load_catalogue().dataset("eurostat_urb_cenv")
    return spec.model_copy(update={"url": url, "options": {**spec.options, **options}})


def payload(doc: object) -> Payload:
    url = "https://ec.europa.eu/eurostat/api/dissemination/statistics/1.0/data/urb_cenv"
    when = datetime(2026, 11, 27, tzinfo=UTC)
    return Payload(
        RequestSpec("GET", url),
        200,
        {"content-type": "application/json"},
        json.dumps(doc).encode(),
        when,
        url,
    )


def parse(doc: object, **options: Any) -> pl.DataFrame:
    return EurostatConnector().parse(spec_at("https://example.test/urb_cenv", **options), [payload(doc)])


def observed(frame: pl.DataFrame) -> dict[tuple[str, str, str, str], tuple[float, str | None, str]]:
    return {
        (area, code, indicator, period): (value, flag, unit)
        for area, code, indicator, period, value, flag, unit in frame.select(
            "area", "city_code", "indic_ur", "period", "value", "flag", "unit"
        ).rows()
    }


@pytest.fixture
def fetcher() -> Iterator[LiveFetcher]:
    with LiveFetcher(max_attempts=2, backoff_base=0.001, backoff_max=0.01, timeout=5) as live:
        yield live


def test_fetch_asks_for_the_indicators_without_any_area_and_resolves_espoo_by_its_label(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    httpserver.expect_request(PATH, method="GET", query_string=QUERY).respond_with_json(document())
    spec = spec_at(httpserver.url_for(PATH))
    connector = EurostatConnector()
    frame = connector.parse(spec, connector.fetch(spec, fetcher))

    query = httpserver.log[0][0].query_string.decode()
    assert query == QUERY
    assert "geo=" not in query and "cities=" not in query
    assert frame.columns == ["area", "period", "value", "flag", "unit", "city_code", "freq", "indic_ur"]
    assert observed(frame) == EXPECTED
    check_observations(frame, spec.id)  # the normalised frame contract holds


def test_only_peer_cities_are_kept_never_a_functional_urban_area() -> None:
    frame = parse(document())
    assert set(frame["city_code"]) == {"FI001C", "FI004C", "SE001C"}
    # FI001F carries Helsinki's label too: only the city (…C) is Helsinki; Jyväskylä and Berlin are no peers
    assert 700.0 not in frame["value"].to_list()
    assert not {60.1, 1450.0} & set(frame["value"].to_list())


def test_gaps_stay_gaps() -> None:
    frame = parse(document())
    periods = {key: sorted(group["period"].to_list()) for key, group in frame.group_by("area", "indic_ur")}
    assert periods[("049", "EN4008V")] == ["2018", "2019"]  # 2020 not reported: no row, no zero
    assert periods[("091", "EN4008V")] == ["2018", "2020"]  # 2019 not reported
    assert ("091", "EN5205V") not in periods  # Helsinki reported no green area at all
    assert frame["value"].null_count() == 0


def test_an_indicator_without_a_unit_is_rejected_by_name() -> None:
    with pytest.raises(ValidationError, match=r"eurostat_urb_cenv: dimension indic_ur: .*got EN5205V"):
        parse(document(), indicator_units={"EN4008V": "thousand tonnes"})


def test_a_unit_dimension_alongside_indicator_units_is_rejected() -> None:
    doc = document()
    doc["id"] = ["freq", "indic_ur", "cities", "unit", "time"]
    doc["size"] = [1, 2, 6, 1, 3]
    doc["dimension"]["unit"] = {"label": "Unit", "category": {"index": {"NR": 0}, "label": {"NR": "Number"}}}
    with pytest.raises(ValidationError, match=r"no dimension 'unit'"):
        parse(doc)


def test_the_home_city_missing_from_the_labels_is_rejected_by_name() -> None:
    cities = {**CITIES, "FI004C": "Kauniainen/Grankulla"}
    with pytest.raises(ValidationError, match=r"urban_audit city name 'Espoo'.*home city espoo"):
        parse(document(cities=cities))


def test_the_home_city_as_a_functional_urban_area_only_is_rejected() -> None:
    cities = {k.replace("FI004C", "FI004F"): v for k, v in CITIES.items()}
    with pytest.raises(ValidationError, match=r"home city espoo"):
        parse(document(cities=cities))


def test_options_need_geo_only_for_the_geo_dimension() -> None:
    with pytest.raises(ValidationError, match=r"geo: .*not allowed when the area dimension is 'cities'"):
        read_options(spec_at("https://example.test", geo=["FI"]))
    with pytest.raises(ValidationError, match=r"indicator_units"):
        read_options(spec_at("https://example.test", indicator_units={"EN4008V": "kilotonnes"}))


def test_a_missing_city_or_year_never_rejects_but_the_home_citys_series_vanishing_does() -> None:
    spec = load_catalogue().dataset("eurostat_urb_cenv")
    full = parse(document())
    dims = dimension_columns(full)
    previous = Previous.from_keys(full.select(series_keys(full.select(dims)).alias("key"), "period"))

    # Stockholm stops reporting altogether, Helsinki's 2020 and Espoo's 2019 go: all voluntary gaps
    values = {k: v for k, v in VALUES.items() if k not in ("13", "30", "2", "7")}
    fewer = parse(document(values=values))
    assert missing_observations(spec, fewer, [payload(document(values=values))], previous).height == 0

    # Espoo's green-area series disappears entirely: looked at
    values = {k: v for k, v in VALUES.items() if k != "24"}
    gone = parse(document(values=values))
    missing = missing_observations(spec, gone, [payload(document(values=values))], previous)
    assert missing.select("area", "indic_ur").unique().rows() == [("049", "EN5205V")]


def test_waste_in_tonnes_instead_of_thousands_is_implausible() -> None:
    spec = load_catalogue().dataset("eurostat_urb_cenv")
    assert check_payload(spec, parse(document())) == []
    tonnes = {k: v * 1000 if int(k) < 18 else v for k, v in VALUES.items()}
    violations = check_payload(spec, parse(document(values=tonnes)))
    assert {v.rule for v in violations} == {"municipal_waste"}


def test_the_population_and_transport_entries_map_every_requested_indicator_to_a_unit() -> None:
    catalogue = load_catalogue()
    for dataset_id in ("eurostat_urb_cenv", "eurostat_urb_ctran", "eurostat_urb_cpop1"):
        options = read_options(catalogue.dataset(dataset_id))
        assert options.area_dimension == "cities" and options.peer_code_suffix == "C"
        assert set(options.filters["indic_ur"]) == set(options.indicator_units)
    units = read_options(catalogue.dataset("eurostat_urb_ctran")).indicator_units
    assert units == {"TT1057I": "cars per 1 000 residents", "TT1079V": "km"}


def test_a_geo_dataset_is_unchanged_by_the_city_options() -> None:
    doc = copy.deepcopy(document())
    with pytest.raises(ValidationError, match=r"a dimension 'geo'"):
        EurostatConnector().parse(load_catalogue().dataset("eurostat_cei_pc031"), [payload(doc)])


def test_the_demo_snapshot_replays_with_every_peer_and_gaps(tmp_path: Any) -> None:
    from ingest.manifest import Manifest
    from ingest.peers import load_peers
    from ingest.replay import ReplayFetcher
    from scripts.demo import eurostat

    manifest = Manifest(label="demo", description="test", created="2026-11-27")
    eurostat.generate_urban(tmp_path, manifest)
    replay = ReplayFetcher(tmp_path, manifest=manifest)
    connector = EurostatConnector()
    peers = {peer.area for peer in load_peers() if "urban_audit" in peer.sources}
    for dataset_id in ("eurostat_urb_cenv", "eurostat_urb_ctran", "eurostat_urb_cpop1"):
        spec = load_catalogue().dataset(dataset_id)
        frame = connector.parse(spec, connector.fetch(spec, replay))
        check_observations(frame, dataset_id)
        assert set(frame["area"]) == peers, dataset_id
        assert set(frame.filter(pl.col("area") == "049")["city_code"]) == {"FI004C"}
        assert check_payload(spec, frame) == [], dataset_id
        # voluntary reporting: not every peer has every year of every indicator
        grid = frame.select("area").n_unique() * frame.select("indic_ur", "period").n_unique()
        assert frame.select("area", "indic_ur", "period").n_unique() < grid
