"""Tests of the OECD city-statistics connector: a local server speaking SDMX-ML 2.1 and CSV with labels."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from pytest_httpserver import HTTPServer

from common.payload import Payload, RequestSpec
from ingest.catalogue import CalendarSpec, DatasetSpec, load_catalogue
from ingest.errors import FetchError, ValidationError
from ingest.http import DEFAULT_MIN_INTERVAL, LiveFetcher
from ingest.manifest import Manifest
from ingest.oecd import OecdConnector, read_options
from ingest.plausibility import check_payload
from ingest.replay import ReplayFetcher
from scripts.demo import oecd as demo
from storage.checks import check_observations

FLOW = "DSD_FUA_ENV@DF_GHG"
STRUCTURE_PATH = f"/rest/dataflow/OECD.CFE.EDS/{FLOW}/1.5"
LATEST_PATH = f"/rest/dataflow/OECD.CFE.EDS/{FLOW}/latest"
# Espoo is FI013C here (not the demo's code): found by its name "Espoo/Esbo"; Helsinki's FUA FI001F is
# also named "Helsinki" but is no city (code ending in F); Oulu is no peer.
KEY = "FI013C+FI001C.A..T_CO2E+T_CO2E_PS."
DATA_PATH = f"/rest/data/OECD.CFE.EDS,{FLOW},1.5/{KEY}"
DATA_QUERY = "startPeriod=1990&dimensionAtObservation=AllDimensions&format=csvfilewithlabels"
OPTIONS: dict[str, Any] = {
    "flow": FLOW,
    "version": "1.5",
    "key": {"REF_AREA": "peers", "FREQ": "A", "UNIT_MEASURE": ["T_CO2E", "T_CO2E_PS"]},
    "since": "1990",
}


def _dimension(identifier: str, position: int, codelist: str) -> str:
    return (
        f'<str:Dimension id="{identifier}" position="{position}"><str:ConceptIdentity><Ref id="{identifier}" '
        'maintainableParentID="CS" maintainableParentVersion="1.0" agencyID="OECD.CFE.EDS" '
        'package="conceptscheme" class="Concept"/></str:ConceptIdentity>'
        "<str:LocalRepresentation><str:Enumeration>"
        f'<Ref id="{codelist}" version="2.0" agencyID="OECD" package="codelist" class="Codelist"/>'
        "</str:Enumeration></str:LocalRepresentation></str:Dimension>"
    )


def structure(
    version: str = "1.5",
    areas: tuple[tuple[str, str], ...] | None = None,
    measures: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """A structure message: the GHG flow, a 5-dimension DSD (listed out of order), the area codelist and,
    when given, the measure codelist."""
    areas = areas or (
        ("FI001C", "Helsinki"),
        ("FI001F", "Helsinki"),
        ("FI004C", "Oulu"),
        ("FI013C", "Espoo/Esbo"),
        ("ES540C", "Puerto de Santa María, El"),
    )
    codes = "".join(
        f'<str:Code id="{code}"><com:Name xml:lang="fr">{name} (fr)</com:Name>'
        f'<com:Name xml:lang="en">{name}</com:Name></str:Code>'
        for code, name in areas
    )
    dimensions = "".join(
        [
            _dimension("MEASURE", 3, "CL_MEASURE"),
            _dimension("REF_AREA", 1, "CL_AREA"),
            _dimension("FREQ", 2, "CL_FREQ"),
            _dimension("UNIT_MEASURE", 4, "CL_UNIT"),
            _dimension("TERRITORIAL_LEVEL", 5, "CL_TL"),
        ]
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<message:Structure xmlns:message="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message" '
        'xmlns:str="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure" '
        'xmlns:com="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common">'
        "<message:Header><message:ID>IDREF1</message:ID></message:Header><message:Structures>"
        f'<str:Dataflows><str:Dataflow id="{FLOW}" agencyID="OECD.CFE.EDS" version="{version}">'
        '<com:Name xml:lang="en">GHG</com:Name></str:Dataflow></str:Dataflows>'
        '<str:Codelists><str:Codelist id="CL_AREA" agencyID="OECD" version="1.0"><com:Name xml:lang="en">'
        "Old areas</com:Name></str:Codelist>"
        '<str:Codelist id="CL_AREA" agencyID="OECD" version="2.0">'
        f'<com:Name xml:lang="en">Areas</com:Name>{codes}'
        "</str:Codelist>"
        + (
            '<str:Codelist id="CL_MEASURE" agencyID="OECD" version="2.0"><com:Name xml:lang="en">Measure'
            "</com:Name>"
            + "".join(
                f'<str:Code id="{code}"><com:Name xml:lang="en">{name}</com:Name></str:Code>'
                for code, name in measures
            )
            + "</str:Codelist>"
            if measures
            else ""
        )
        + "</str:Codelists>"
        '<str:DataStructures><str:DataStructure id="DSD_FUA_ENV" agencyID="OECD.CFE.EDS" version="1.5">'
        f'<str:DataStructureComponents><str:DimensionList id="DimensionDescriptor">{dimensions}'
        '<str:TimeDimension id="TIME_PERIOD" position="6"/></str:DimensionList></str:DataStructureComponents>'
        "</str:DataStructure></str:DataStructures></message:Structures></message:Structure>"
    ).encode()


HEADER = (
    "STRUCTURE,STRUCTURE_ID,STRUCTURE_NAME,ACTION,REF_AREA,Reference area,FREQ,Frequency of observation,"
    "MEASURE,Measure,UNIT_MEASURE,Unit of measure,TERRITORIAL_LEVEL,Territorial level,"
    "TIME_PERIOD,Time period,"
    "OBS_VALUE,Observation value,OBS_STATUS,Observation status,UNIT_MULT,Unit multiplier,DECIMALS,Decimals"
)
PREFIX = "dataflow,OECD.CFE.EDS:DSD_FUA_ENV@DF_GHG(1.5),Greenhouse gas emissions,I"


def row(
    code: str,
    name: str,
    year: str,
    value: str,
    *,
    measure: str = "GHG_TOTAL,Total emissions",
    unit: str = "T_CO2E,Tonnes of CO2 equivalent",
    status: str = "A,Normal value",
    mult: str = "0,Units",
) -> str:
    return (
        f"{PREFIX},{code},{name},A,Annual,{measure},{unit},CITY,City,{year},{year},{value},{value},{status},"
        f"{mult},1,One"
    )


# Values checked by hand against the expected frame below.
HAND_CHECKED = "\n".join(
    [
        HEADER,
        row("FI013C", "Espoo/Esbo", "1990", "951000", status="E,Estimated value"),
        row("FI013C", "Espoo/Esbo", "2022", "812.5", mult="3,Thousands"),  # 812.5 × 10³ t
        row("FI013C", "Espoo/Esbo", "2022", "2.49", unit="T_CO2E_PS,Tonnes of CO2 equivalent per person"),
        # the label "Buildings, residential and commercial" unquoted: 25 fields instead of 24
        row(
            "FI013C",
            "Espoo/Esbo",
            "2022",
            "190000",
            measure="GHG_BUILDINGS,Buildings, residential and commercial",
        ),
        row("FI001C", "Helsinki", "2022", "", status="M,Missing value"),  # missing value: null
        row("FI004C", "Oulu", "2022", "700000"),  # no peer: dropped
    ]
)


def make_spec(url: str = "https://sdmx.oecd.org/public/rest", **overrides: Any) -> DatasetSpec:
    return DatasetSpec(
        id="oecd_ghg",
        title="test",
        source="oecd",
        protocol="oecd_sdmx",
        url=url,
        options={**OPTIONS, **overrides},
        cadence="0 14 * * 2",
        calendar=CalendarSpec(frequency="annual", lag_days=730),
    )


def payload(body: bytes, url: str = "https://sdmx.oecd.org/public/rest/x") -> Payload:
    when = datetime(2026, 12, 5, tzinfo=UTC)
    return Payload(RequestSpec("GET", url), 200, {"content-type": "text/csv"}, body, when, url)


def parse(csv: str, xml: bytes | None = None, **overrides: Any) -> pl.DataFrame:
    spec = make_spec(**overrides)
    return OecdConnector().parse(spec, [payload(xml or structure()), payload(csv.encode())])


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def fetcher(slept: list[float]) -> Iterator[LiveFetcher]:
    with LiveFetcher(
        max_attempts=3, backoff_base=0.001, backoff_max=0.01, timeout=5, sleep=slept.append
    ) as live:
        yield live


def serve(httpserver: HTTPServer, csv: str = HAND_CHECKED, data_path: str = DATA_PATH) -> None:
    httpserver.expect_request(STRUCTURE_PATH, query_string="references=all").respond_with_data(
        structure(), content_type="application/vnd.sdmx.structure+xml; charset=utf-8"
    )
    httpserver.expect_request(data_path, query_string=DATA_QUERY).respond_with_data(
        csv, content_type="application/vnd.sdmx.data+csv; charset=utf-8"
    )


# ------------------------------------------------------------------------------------------ happy path


def test_structure_then_data_resolves_espoo_by_name_and_reads_the_values(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    serve(httpserver)
    spec = make_spec(httpserver.url_for("/rest"))
    connector = OecdConnector()
    payloads = connector.fetch(spec, fetcher)
    frame = connector.parse(spec, payloads)

    assert [p.request.url for p in payloads] == [
        httpserver.url_for(STRUCTURE_PATH),
        httpserver.url_for(DATA_PATH),
    ]
    assert frame.columns == [
        "area",
        "period",
        "value",
        "flag",
        "unit",
        "city_code",
        "measure",
        "unit_code",
        "freq",
        "territorial_level",
    ]
    rows = {
        (r["area"], r["period"], r["measure"], r["unit_code"]): (
            r["value"],
            r["flag"],
            r["unit"],
            r["city_code"],
        )
        for r in frame.iter_rows(named=True)
    }
    assert rows == {
        ("049", "1990", "GHG_TOTAL", "T_CO2E"): (951000.0, "E", "t CO2e", "FI013C"),
        ("049", "2022", "GHG_TOTAL", "T_CO2E"): (812500.0, None, "t CO2e", "FI013C"),
        ("049", "2022", "GHG_TOTAL", "T_CO2E_PS"): (2.49, None, "t CO2e per resident", "FI013C"),
        ("049", "2022", "GHG_BUILDINGS", "T_CO2E"): (190000.0, None, "t CO2e", "FI013C"),
        ("091", "2022", "GHG_TOTAL", "T_CO2E"): (None, "M", "t CO2e", "FI001C"),
    }
    assert set(frame["freq"]) == {"A"} and set(frame["territorial_level"]) == {"CITY"}
    check_observations(frame, "oecd_ghg")


def test_the_home_city_missing_from_the_codelist_is_named() -> None:
    xml = structure(areas=(("FI001C", "Helsinki"), ("FI013F", "Espoo/Esbo")))  # only Espoo's FUA
    with pytest.raises(ValidationError, match="Espoo") as caught:
        parse(HAND_CHECKED, xml)
    assert caught.value.field == "oecd city name 'Espoo'"


def test_the_key_follows_the_dsd_order_and_the_probe_asks_for_espoo_only(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    espoo_key = "FI013C.A..T_CO2E+T_CO2E_PS."
    serve(
        httpserver,
        "\n".join(HAND_CHECKED.splitlines()[:4]),
        f"/rest/data/OECD.CFE.EDS,{FLOW},1.5/{espoo_key}",
    )
    spec = make_spec(httpserver.url_for("/rest"), peers=["espoo"])
    frame = OecdConnector().parse(spec, OecdConnector().fetch(spec, fetcher))
    assert set(frame["area"]) == {"049"}


# -------------------------------------------------------------------------------------- versions, rate limit


def test_a_404_on_the_pinned_version_falls_back_to_latest(
    httpserver: HTTPServer, fetcher: LiveFetcher, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request(STRUCTURE_PATH).respond_with_data("NoResultsFound", status=404)
    httpserver.expect_request(LATEST_PATH, query_string="references=all").respond_with_data(
        structure(version="1.6"), content_type="application/xml"
    )
    data_path = f"/rest/data/OECD.CFE.EDS,{FLOW},1.6/{KEY}"
    httpserver.expect_request(data_path, query_string=DATA_QUERY).respond_with_data(HAND_CHECKED)
    spec = make_spec(httpserver.url_for("/rest"))

    with caplog.at_level(logging.WARNING, logger="ingest.oecd"):
        payloads = OecdConnector().fetch(spec, fetcher)
    frame = OecdConnector().parse(spec, payloads)

    assert [p.request.url for p in payloads] == [
        httpserver.url_for(LATEST_PATH),
        httpserver.url_for(data_path),
    ]
    assert frame.filter(pl.col("area") == "049").height == 4
    assert "pinned version 1.5" in caplog.text and "version 1.6" in caplog.text


def test_a_404_on_latest_too_is_a_fetch_error(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    httpserver.expect_request(STRUCTURE_PATH).respond_with_data("NoResultsFound", status=404)
    httpserver.expect_request(LATEST_PATH).respond_with_data("NoResultsFound", status=404)
    with pytest.raises(FetchError, match="404"):
        OecdConnector().fetch(make_spec(httpserver.url_for("/rest")), fetcher)


def test_a_data_request_matching_nothing_says_so(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    httpserver.expect_request(STRUCTURE_PATH).respond_with_data(structure(), content_type="application/xml")
    httpserver.expect_request(DATA_PATH).respond_with_data("NoRecordsFound", status=404)
    with pytest.raises(FetchError, match="nothing matches"):
        OecdConnector().fetch(make_spec(httpserver.url_for("/rest")), fetcher)


def test_429_with_retry_after_then_success_gets_the_data(
    httpserver: HTTPServer, fetcher: LiveFetcher, slept: list[float]
) -> None:
    httpserver.expect_oneshot_request(STRUCTURE_PATH).respond_with_data(
        "Too Many Requests", status=429, headers={"Retry-After": "7"}
    )
    serve(httpserver)
    spec = make_spec(httpserver.url_for("/rest"))
    frame = OecdConnector().parse(spec, OecdConnector().fetch(spec, fetcher))

    assert 7.0 in slept  # the server's Retry-After was honoured (no real wait: sleep is recorded)
    assert frame.filter(pl.col("area") == "049").height == 4


def test_sdmx_oecd_org_is_paced_between_the_two_requests(httpserver: HTTPServer) -> None:
    assert DEFAULT_MIN_INTERVAL["sdmx.oecd.org"] >= 5
    serve(httpserver)
    waits: list[float] = []
    now = [100.0]
    host = httpserver.host
    with LiveFetcher(
        max_attempts=1, min_interval={host: 6.0}, sleep=waits.append, clock=lambda: now[0]
    ) as live:
        OecdConnector().fetch(make_spec(httpserver.url_for("/rest")), live)
    assert waits == [6.0]  # the clock did not move: the data request waited the whole interval


# ------------------------------------------------------------------------------------------ bad input


def test_a_renamed_column_is_named() -> None:
    with pytest.raises(ValidationError) as caught:
        parse(HAND_CHECKED.replace("OBS_VALUE,Observation value", "OBS_VAL,Observation value", 1))
    assert caught.value.field == "column OBS_VALUE"


def test_a_code_column_without_its_label_is_not_csv_with_labels() -> None:
    plain = (  # format=csvfile: codes only
        "STRUCTURE,STRUCTURE_ID,ACTION,REF_AREA,FREQ,MEASURE,UNIT_MEASURE,TERRITORIAL_LEVEL,TIME_PERIOD,OBS_VALUE\n"
        "dataflow,OECD.CFE.EDS:DSD_FUA_ENV@DF_GHG(1.5),I,FI013C,A,GHG_TOTAL,T_CO2E,CITY,2022,812500\n"
    )
    with pytest.raises(ValidationError, match="csvfilewithlabels"):
        parse(plain)


def test_a_unit_code_the_key_did_not_ask_for_is_rejected() -> None:
    changed = HAND_CHECKED.replace(
        "T_CO2E_PS,Tonnes of CO2 equivalent per person", "KG_CO2E_PS,kg per person"
    )
    with pytest.raises(ValidationError) as caught:
        parse(changed)
    assert caught.value.field == "column UNIT_MEASURE" and "KG_CO2E_PS" in str(caught.value)


def test_a_unit_code_without_a_kestava_unit_is_rejected() -> None:
    changed = HAND_CHECKED.replace(
        "T_CO2E_PS,Tonnes of CO2 equivalent per person", "KG_CO2E_PS,kg per person"
    )
    with pytest.raises(ValidationError, match=r"add options\.units") as caught:
        parse(changed, key={"REF_AREA": "peers", "FREQ": "A"})
    assert caught.value.field == "column UNIT_MEASURE"


def test_a_comma_that_cannot_be_placed_is_rejected_naming_the_line() -> None:
    broken = HAND_CHECKED.replace(
        "FI013C,Espoo/Esbo,A,Annual,GHG_TOTAL", "FI013C,Espoo,Esbo,A,Annual,GHG_TOTAL", 1
    )
    with pytest.raises(ValidationError) as caught:
        parse(broken)
    assert caught.value.field == "CSV line 2" and "25 fields" in str(caught.value)


def test_not_applicable_periods_are_dropped_and_other_periods_rejected() -> None:
    extra = row("FI013C", "Espoo/Esbo", "Not applicable", "5")
    frame = parse(HAND_CHECKED + "\n" + extra)
    assert frame.filter(pl.col("area") == "049").height == 4  # the same four as without the row
    with pytest.raises(ValidationError) as caught:
        parse(HAND_CHECKED + "\n" + row("FI013C", "Espoo/Esbo", "2022-Q1", "5"))
    assert caught.value.field == "column TIME_PERIOD" and "2022-Q1" in str(caught.value)


def test_a_missing_or_renamed_unit_mult_column_is_rejected_not_read_as_units() -> None:
    """Espoo's 3,Thousands row would be a thousand times too small if the multiplier were lost."""
    for renamed in ("UNIT_MULTIPLIER", "UNITMULT"):
        with pytest.raises(ValidationError) as caught:
            parse(HAND_CHECKED.replace("UNIT_MULT,Unit multiplier", f"{renamed},Unit multiplier"))
        assert caught.value.field == "column UNIT_MULT" and "expected a column UNIT_MULT" in str(caught.value)


def test_unit_mult_must_be_a_power_of_ten() -> None:
    with pytest.raises(ValidationError) as caught:
        parse(HAND_CHECKED.replace("3,Thousands", "k,Thousands"))
    assert caught.value.field == "column UNIT_MULT"


def test_a_negative_unit_mult_divides() -> None:
    frame = parse(
        HAND_CHECKED.replace("812.5,812.5,A,Normal value,3,Thousands", "812500000,812500000,A,N,-3,m")
    )
    value = frame.filter(
        (pl.col("area") == "049") & (pl.col("period") == "2022") & (pl.col("unit_code") == "T_CO2E")
    )
    assert value.filter(pl.col("measure") == "GHG_TOTAL")["value"].to_list() == [812500.0]


def test_a_non_numeric_value_is_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        parse(HAND_CHECKED.replace("951000,951000", "n/a,n/a"))
    assert caught.value.field == "column OBS_VALUE"


def test_a_structure_with_a_dtd_or_not_xml_is_rejected() -> None:
    evil = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    with pytest.raises(ValidationError, match="DOCTYPE"):
        parse(HAND_CHECKED, evil)
    with pytest.raises(ValidationError, match="SDMX-ML"):
        parse(HAND_CHECKED, b"<html")


@pytest.mark.parametrize(
    ("encoding", "declaration"),
    [
        ("utf-16", '<?xml version="1.0" encoding="UTF-16"?>'),  # with a byte order mark
        ("utf-16-le", ""),  # without one: read from the first bytes, as XML says
        ("utf-16-be", ""),
        ("utf-8-sig", '<?xml version="1.0" encoding="UTF-8"?>'),
    ],
)
def test_a_dtd_in_another_encoding_is_rejected(encoding: str, declaration: str) -> None:
    """A byte search for "<!DOCTYPE" misses UTF-16 (two bytes a character): the parser's reading finds it."""
    laughs = '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><x>&b;</x>'
    evil = (declaration + laughs).encode(encoding)
    assert b"<!DOCTYPE" not in evil or encoding == "utf-8-sig"
    with pytest.raises(ValidationError) as caught:
        parse(HAND_CHECKED, evil)
    assert caught.value.field == "structure"
    assert "without a DTD" in caught.value.expected and "DOCTYPE" in (caught.value.got or "")


def test_a_key_dimension_the_flow_does_not_have_is_named() -> None:
    with pytest.raises(ValidationError, match="POLLUTANT"):
        parse(HAND_CHECKED, key={"REF_AREA": "peers", "POLLUTANT": ["PM25"]})


def test_bad_options_are_named() -> None:
    with pytest.raises(ValidationError, match="REF_AREA"):
        read_options(make_spec(key={"REF_AREA": ["FI001C"]}))
    with pytest.raises(ValidationError, match="nobody"):
        read_options(make_spec(peers=["nobody"]))
    with pytest.raises(ValidationError, match="versio"):
        read_options(make_spec(versio="1.5"))


# ------------------------------------------------------------------------------------------ catalogue, demo


def test_every_catalogue_entry_has_valid_options_and_a_probe_for_espoo() -> None:
    catalogue = load_catalogue()
    specs = [spec for spec in catalogue.datasets.values() if spec.protocol == "oecd_sdmx"]
    assert sorted(spec.id for spec in specs) == [
        "oecd_air_pollution",
        "oecd_ghg",
        "oecd_green_area",
        "oecd_pt_access",
    ]
    for spec in specs:
        assert read_options(spec).codes("REF_AREA") == ["peers"]
        assert spec.probe is not None and spec.probe["peers"] == ["espoo"]
        assert catalogue.sources[spec.source].licence == "CC BY 4.0"


def test_the_demo_snapshot_replays_with_plausible_espoo_values(tmp_path: Path) -> None:
    manifest = Manifest(label="demo", description="test", created="2026-12-05")
    demo.generate(tmp_path, manifest)
    replay = ReplayFetcher(tmp_path, manifest=manifest)
    catalogue = load_catalogue()
    spec = catalogue.dataset("oecd_ghg")
    frame = OecdConnector().parse(spec, OecdConnector().fetch(spec, replay))
    per_resident = frame.filter(
        (pl.col("area") == "049") & (pl.col("measure") == "GHG_TOTAL") & (pl.col("unit_code") == "T_CO2E_PS")
    ).sort("period")
    assert 2.0 <= per_resident["value"][-1] <= 3.0 and per_resident["period"][-1] == "2022"
    assert per_resident["value"][0] > per_resident["value"][-1]  # falling since 1990
    assert frame["area"].n_unique() == 20  # every peer of ingest/peers.toml resolved in the demo codelist
    for dataset in ("oecd_green_area", "oecd_air_pollution", "oecd_pt_access"):
        spec = catalogue.dataset(dataset)
        assert OecdConnector().parse(spec, OecdConnector().fetch(spec, replay)).height > 0


def test_a_wrong_magnitude_is_caught_by_the_catalogue_ranges() -> None:
    spec = load_catalogue().dataset("oecd_ghg")
    good = parse(HAND_CHECKED)
    assert check_payload(spec, good, jumps=False) == []
    # per resident in kg instead of t (× 1000), and a total in kt read as t (÷ 1000)
    wrong = parse(HAND_CHECKED.replace("2.49,2.49", "2490,2490").replace("951000,951000", "951,951"))
    broken = {(v.rule, v.period) for v in check_payload(spec, wrong, jumps=False)}
    assert broken == {("per_resident", "2022"), ("city_total", "1990")}


def test_the_area_codelist_may_come_from_the_concept() -> None:
    own = _dimension("REF_AREA", 1, "CL_AREA")
    bare = own[: own.index("<str:LocalRepresentation>")] + "</str:Dimension>"
    concepts = (
        '<str:Concepts><str:ConceptScheme id="CS" agencyID="OECD.CFE.EDS" version="1.0">'
        '<str:Concept id="REF_AREA"><str:CoreRepresentation><str:Enumeration>'
        '<Ref id="CL_AREA" version="2.0" agencyID="OECD" package="codelist" class="Codelist"/>'
        "</str:Enumeration></str:CoreRepresentation></str:Concept></str:ConceptScheme></str:Concepts>"
    )
    xml = (
        structure()
        .decode()
        .replace(own, bare)
        .replace("<str:DataStructures>", concepts + "<str:DataStructures>")
    )
    assert bare in xml and concepts in xml
    frame = parse(HAND_CHECKED, xml.encode())
    assert set(frame["city_code"]) == {"FI013C", "FI001C"}


# ------------------------------------------------------------------------------------------ codes by name

MEASURES = (
    ("PM25_POP_EXP", "Population exposure to PM2.5"),
    ("NO2_EXP", "Nitrogen dioxide (NO2) population exposure"),
    ("NOX_EMI", "Nitrogen oxides (NOx) emissions"),
)
POLLUTION = {
    "key": {"REF_AREA": "peers", "FREQ": "A", "MEASURE": ["PM25_POP_EXP"], "UNIT_MEASURE": ["MCG_M3"]},
    "key_names": {"MEASURE": {"no2": "nitrogen dioxide"}},
}
MCG = "MCG_M3,Microgrammes per cubic metre"
POLLUTION_CSV = "\n".join(
    [
        HEADER,
        row("FI013C", "Espoo/Esbo", "2022", "4.1", measure="PM25_POP_EXP,PM2.5", unit=MCG),
        row("FI013C", "Espoo/Esbo", "2022", "8.9", measure="NO2_EXP,Nitrogen dioxide (NO2)", unit=MCG),
        row("FI001C", "Helsinki", "2022", "11.7", measure="NO2_EXP,Nitrogen dioxide (NO2)", unit=MCG),
    ]
)


def serve_pollution(httpserver: HTTPServer, key: str, csv: str = POLLUTION_CSV) -> None:
    httpserver.expect_request(STRUCTURE_PATH, query_string="references=all").respond_with_data(
        structure(measures=MEASURES), content_type="application/xml"
    )
    httpserver.expect_request(
        f"/rest/data/OECD.CFE.EDS,{FLOW},1.5/{key}", query_string=DATA_QUERY
    ).respond_with_data(csv, content_type="text/csv")


def test_a_measure_is_resolved_by_its_name_asked_for_and_its_rows_carry_the_alias(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    key = "FI013C+FI001C.A.PM25_POP_EXP+NO2_EXP.MCG_M3."
    serve_pollution(httpserver, key)
    spec = make_spec(httpserver.url_for("/rest"), **POLLUTION)
    payloads = OecdConnector().fetch(spec, fetcher)
    assert payloads[1].request.url.endswith(f"/{key}")  # the explicit code, then the one found by name
    frame = OecdConnector().parse(spec, payloads)
    assert "measure_alias" in frame.columns and frame["measure_alias"].null_count() == 0
    rows = {(r["area"], r["measure"], r["measure_alias"]): r["value"] for r in frame.iter_rows(named=True)}
    assert rows == {
        ("049", "PM25_POP_EXP", "PM25_POP_EXP"): 4.1,  # given explicitly: the code itself
        ("049", "NO2_EXP", "no2"): 8.9,
        ("091", "NO2_EXP", "no2"): 11.7,
    }
    check_observations(frame, "oecd_ghg")


def test_a_name_matches_whole_words_ignoring_case() -> None:
    by_formula = parse(
        POLLUTION_CSV, structure(measures=MEASURES), **{**POLLUTION, "key_names": {"MEASURE": {"no2": "no2"}}}
    )
    assert set(by_formula["measure_alias"]) == {"PM25_POP_EXP", "no2"}
    # "NO" is not a word of "NO2" (nor "Nitrogen oxides (NOx)"): nothing matches, and with no explicit
    # code the dimension would be left empty (all measures): refused, the codelist listed
    only_names = {"key": {"REF_AREA": "peers", "FREQ": "A"}, "key_names": {"MEASURE": {"no": "NO"}}}
    with pytest.raises(ValidationError, match="Nitrogen dioxide \\(NO2\\) population exposure") as caught:
        parse(POLLUTION_CSV, structure(measures=MEASURES), **only_names)
    assert caught.value.field.startswith("MEASURE codelist names")


def test_two_codes_with_the_name_are_named() -> None:
    two = (*MEASURES, ("NO2_WHO", "Share of population exposed to nitrogen dioxide above the WHO guideline"))
    with pytest.raises(ValidationError) as caught:
        parse(POLLUTION_CSV, structure(measures=two), **POLLUTION)
    assert "NO2_EXP" in str(caught.value) and "NO2_WHO" in str(caught.value)
    assert caught.value.field == "MEASURE codelist name 'nitrogen dioxide' (no2)"


def test_no_code_with_the_name_is_a_warning_and_the_explicit_codes_are_still_asked_for(
    httpserver: HTTPServer, fetcher: LiveFetcher, caplog: pytest.LogCaptureFixture
) -> None:
    key = "FI013C+FI001C.A.PM25_POP_EXP.MCG_M3."
    serve_pollution(httpserver, key, "\n".join(POLLUTION_CSV.splitlines()[:2]))
    options = {**POLLUTION, "key_names": {"MEASURE": {"o3": "ozone"}}}
    spec = make_spec(httpserver.url_for("/rest"), **options)
    with caplog.at_level(logging.WARNING, logger="ingest.oecd"):
        payloads = OecdConnector().fetch(spec, fetcher)
        frame = OecdConnector().parse(spec, payloads)
    assert payloads[1].request.url.endswith(f"/{key}")
    assert "named 'ozone' (o3)" in caplog.text and "NO2_EXP (Nitrogen dioxide" in caplog.text
    assert frame["measure_alias"].to_list() == ["PM25_POP_EXP"]


def test_bad_key_names_are_named() -> None:
    with pytest.raises(ValidationError, match=r"key_names\.REF_AREA"):
        read_options(make_spec(key_names={"REF_AREA": {"espoo": "Espoo"}}))
    with pytest.raises(ValidationError, match=r"key_names\.MEASURE\.NO2"):
        read_options(make_spec(key_names={"MEASURE": {"NO2": "nitrogen dioxide"}}))
    with pytest.raises(ValidationError, match="POLLUTANT"):
        parse(POLLUTION_CSV, structure(measures=MEASURES), key_names={"POLLUTANT": {"no2": "NO2"}})


def test_the_demo_snapshot_resolves_no2_by_name_with_plausible_espoo_values(tmp_path: Path) -> None:
    manifest = Manifest(label="demo", description="test", created="2026-12-05")
    demo.generate(tmp_path, manifest)
    spec = load_catalogue().dataset("oecd_air_pollution")
    frame = OecdConnector().parse(
        spec, OecdConnector().fetch(spec, ReplayFetcher(tmp_path, manifest=manifest))
    )
    no2 = frame.filter((pl.col("measure_alias") == "no2") & (pl.col("area") == "049")).sort("period")
    assert set(no2["measure"]) == {"NO2_POP_EXP"} and no2["period"][-1] == "2022"
    assert 8.0 <= no2["value"][-1] <= 10.0
    assert set(frame["measure_alias"]) == {"PM25_POP_EXP", "no2"}
    assert check_payload(spec, frame, jumps=False) == []
