"""HsyConnector: CKAN discovery and the XLSX long table, served by a real local HTTP server."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import xlsxwriter
from pytest_httpserver import HTTPServer

from common.payload import Payload, RequestSpec
from common.units import UNITS
from ingest.catalogue import DatasetSpec, load_catalogue
from ingest.connector import Connector
from ingest.errors import ValidationError
from ingest.hsy import XLSX_MEDIA_TYPE, HsyConnector, check_download_url
from ingest.http import LiveFetcher
from ingest.manifest import Manifest
from ingest.replay import ReplayFetcher
from scripts.demo import hsy as demo
from scripts.demo.calibration import ESPOO_HSY_TOTAL_KT, REGION_HSY_TOTAL_KT

PACKAGE = "paakaupunkiseudun-kasvihuonekaasupaastot"
API_PATH = "/data/api/3/action/package_show"
# The real file's header: BARE value columns (Energiankulutus in GWh, Päästöt in kt CO2e, SOURCES.md).
COLUMNS = ["Kaupunki", "Vuosi", "Sektori1", "Sektori2", "Sektori3", "Sektori4", "Energiankulutus", "Päästöt"]

# (Kaupunki, Vuosi, Sektori1…4, GWh, kt CO2e), four levels deep as HSY publishes: Sektori3 the energy
# carrier / vehicle type / waste treatment, Sektori4 the economic sector.
ROWS: list[tuple[Any, ...]] = [
    ("Espoo", 2020, "Lämmitys", "Kaukolämpö", "Kaukolämpö", "Asuminen", 1500.0, 120.0),
    ("Espoo", 2020, "Liikenne", "Tieliikenne", "Henkilöautot", "Henkilöliikenne", 300.5, 80.0005),
    ("Espoo", 2020, "Jätteiden käsittely", "Kiinteät jätteet", "Kaatopaikat", "Asuminen", None, -2.5),
    ("Espoo", 2021, "Lämmitys", "Kaukolämpö", "Kaukolämpö", "Asuminen", 1400.0, 110.0),
    ("Helsinki", 2020, "Lämmitys", "Kaukolämpö", "Kaukolämpö", "Palvelut", 6000.0, 900.0),
    ("Vantaa", 2020, "Sähkö", "Kulutussähkö", "Sähkö", "Asuminen", 800.0, None),
    ("Kauniainen", 2020, "Lämmitys", "Öljylämmitys", "Kevyt polttoöljy", "Asuminen", 20.0, 5.333),
    ("PKS", 2020, "Lämmitys", "Kaukolämpö", "Kaukolämpö", "Asuminen", 7500.0, 1020.0),
]


def xlsx(
    rows: list[tuple[Any, ...]] = ROWS, columns: list[str] = COLUMNS, blank_columns: bool = True
) -> bytes:
    """An XLSX long table like HSY's, written by polars (xlsxwriter), with two blank Unnamed columns."""
    data = {name: [row[i] for row in rows] for i, name in enumerate(columns)}
    frame = pl.DataFrame(data, strict=False)
    if blank_columns:
        frame = frame.with_columns(
            pl.lit(None, dtype=pl.String).alias("Unnamed: 8"),
            pl.lit(None, dtype=pl.String).alias("Unnamed: 9"),
        )
    buffer = io.BytesIO()
    frame.write_excel(buffer, worksheet="Päästöt")
    return buffer.getvalue()


def envelope(resources: list[dict[str, Any]], success: bool = True) -> dict[str, Any]:
    return {
        "help": "https://hri.fi/data/api/3/action/help_show?name=package_show",
        "success": success,
        "result": {"name": PACKAGE, "license_id": "cc-by-4.0", "resources": resources},
    }


def resource(url: str, last_modified: str | None, fmt: str = "XLSX", name: str = "Päästöt") -> dict[str, Any]:
    return {"id": name, "name": name, "format": fmt, "url": url, "last_modified": last_modified}


@pytest.fixture
def fetcher() -> Iterator[LiveFetcher]:
    with LiveFetcher(max_attempts=2, backoff_base=0.001, backoff_max=0.01, timeout=5.0) as live:
        yield live


@pytest.fixture
def spec(httpserver: HTTPServer) -> DatasetSpec:
    base = load_catalogue().dataset("hsy_emissions")
    return base.model_copy(update={"url": httpserver.url_for(API_PATH)})


def serve(httpserver: HTTPServer, body: bytes, resources: list[dict[str, Any]] | None = None) -> None:
    """package_show (only with ?id=<package>) listing an old and a new XLSX and a PDF; the new file."""
    if resources is None:
        resources = [
            resource(
                httpserver.url_for("/download/old.xlsx"), "2024-06-05T10:02:11.870211", name="1990–2023"
            ),
            resource(
                httpserver.url_for("/download/new.xlsx"), "2025-06-03T09:12:44.512398", name="1990–2024"
            ),
            resource(httpserver.url_for("/download/method.pdf"), "2025-07-01T00:00:00", fmt="PDF"),
        ]
    httpserver.expect_request(API_PATH, query_string={"id": PACKAGE}).respond_with_json(envelope(resources))
    httpserver.expect_request("/download/new.xlsx").respond_with_data(body, content_type=XLSX_MEDIA_TYPE)


def run(spec: DatasetSpec, fetcher: LiveFetcher) -> pl.DataFrame:
    connector = HsyConnector()
    return connector.parse(spec, connector.fetch(spec, fetcher))


def test_fetch_picks_newest_xlsx_and_parses_the_long_table(
    httpserver: HTTPServer, spec: DatasetSpec, fetcher: LiveFetcher
) -> None:
    serve(httpserver, xlsx())
    frame = run(spec, fetcher)

    requested = [request.path for request, _ in httpserver.log]
    assert requested == [API_PATH, "/download/new.xlsx"]
    assert frame.columns[:5] == ["area", "period", "value", "flag", "unit"]
    assert set(frame["area"]) == {"049", "091", "092", "235"}
    assert set(frame["unit"]) <= set(UNITS)
    emissions = frame.filter(pl.col("measure") == "emissions")
    assert set(emissions["unit"]) == {"kt CO2e"}
    espoo_2020 = emissions.filter(pl.col("area") == "049", pl.col("period") == "2020")["value"].sum()
    # a bare Päästöt header is kt CO2e, as declared in the catalogue: never ÷ 1000 (the old reading made
    # Espoo 1 000× too small); the negative row is counted
    assert espoo_2020 == pytest.approx(120.0 + 80.0005 - 2.5)
    energy = frame.filter(pl.col("measure") == "energy", pl.col("area") == "049", pl.col("period") == "2020")
    assert set(energy["unit"]) == {"GWh"}
    assert energy["value"].sum() == pytest.approx(1500.0 + 300.5)


def test_region_total_rows_are_dropped_not_double_counted(
    httpserver: HTTPServer, spec: DatasetSpec, fetcher: LiveFetcher
) -> None:
    serve(httpserver, xlsx())
    emissions = run(spec, fetcher).filter(pl.col("measure") == "emissions", pl.col("period") == "2020")
    assert "PKS" not in set(emissions["area"])
    assert emissions["value"].sum() == pytest.approx(120 + 80.0005 - 2.5 + 900 + 5.333)


def test_negative_emissions_are_kept_and_flagged(
    httpserver: HTTPServer, spec: DatasetSpec, fetcher: LiveFetcher
) -> None:
    serve(httpserver, xlsx())
    frame = run(spec, fetcher)
    flagged = frame.filter(pl.col("flag") == "neg")
    assert flagged.height == 1
    row = flagged.row(0, named=True)
    assert (row["area"], row["sector3"], row["value"], row["measure"]) == (
        "049",
        "Kaatopaikat",
        -2.5,
        "emissions",
    )
    assert frame.filter(pl.col("flag").is_not_null()).height == 1


def test_four_level_hierarchy_is_kept_as_published_and_missing_values_stay_null(
    httpserver: HTTPServer, spec: DatasetSpec, fetcher: LiveFetcher
) -> None:
    serve(httpserver, xlsx())
    frame = run(spec, fetcher)
    road = frame.filter(pl.col("sector3") == "Henkilöautot", pl.col("measure") == "energy").row(0, named=True)
    assert tuple(road[f"sector{n}"] for n in range(1, 6)) == (
        "Liikenne",
        "Tieliikenne",
        "Henkilöautot",  # Sektori3: the vehicle type
        "Henkilöliikenne",  # Sektori4: the economic sector
        "",  # no Sektori5 in this file: the fifth level is blank, so a later file may add it
    )
    assert (road["unit"], road["value"]) == ("GWh", 300.5)
    assert set(frame["sector4"]) == {"Asuminen", "Palvelut", "Henkilöliikenne"}
    for column in ("area", "period", "unit", "measure", *(f"sector{n}" for n in range(1, 6))):
        assert frame[column].null_count() == 0
    vantaa = frame.filter(pl.col("area") == "092", pl.col("measure") == "emissions")
    assert vantaa["value"].to_list() == [None]  # blank Päästöt: null, never 0
    landfill_energy = frame.filter(pl.col("sector3") == "Kaatopaikat", pl.col("measure") == "energy")
    assert landfill_energy["value"].to_list() == [None]


def test_a_fifth_sector_level_is_kept_not_a_duplicate(
    httpserver: HTTPServer, spec: DatasetSpec, fetcher: LiveFetcher
) -> None:
    """Rows equal in Sektori1…4 and different in Sektori5 are two rows (before: a duplicate-row rejection)."""
    columns = [*COLUMNS[:6], "Sektori5", *COLUMNS[6:]]
    rows = [
        (
            "Espoo",
            2022,
            "Liikenne",
            "Tieliikenne",
            "Henkilöautot",
            "Henkilöliikenne",
            "Bensiini",
            400.0,
            100.0,
        ),
        ("Espoo", 2022, "Liikenne", "Tieliikenne", "Henkilöautot", "Henkilöliikenne", "Diesel", 260.0, 72.0),
        ("Espoo", 2022, "Lämmitys", "Kaukolämpö", "Kaukolämpö", "Asuminen", None, 1000.0, 150.0),
    ]
    serve(httpserver, xlsx(rows, columns))
    emissions = run(spec, fetcher).filter(pl.col("measure") == "emissions")
    cars = emissions.filter(pl.col("sector3") == "Henkilöautot").sort("sector5")
    assert cars.select("sector5", "value").rows() == [("Bensiini", 100.0), ("Diesel", 72.0)]
    heat = emissions.filter(pl.col("sector2") == "Kaukolämpö")
    assert heat["sector5"].to_list() == [""]  # blank fifth level


def test_rows_differing_only_in_sektori5_repeated_are_still_duplicates() -> None:
    columns = [*COLUMNS[:6], "Sektori5", *COLUMNS[6:]]
    row = ("Espoo", 2022, "Liikenne", "Tieliikenne", "Henkilöautot", "Henkilöliikenne", "Diesel", 260.0, 72.0)
    error = _parse_error(xlsx([row, row], columns))
    assert "Sektori1…Sektori5" in error.field
    assert "Diesel" in (error.got or "")


def test_unknown_sector_label_is_rejected_by_name() -> None:
    """A label the catalogue's sector table does not map is a named rejection, not a silent 'other'."""
    rows = [
        ("Espoo", 2022, "Lämmitys", "Kaukolämpö", "Kaukolämpö", "Asuminen", 100.0, 30.0),
        ("Espoo", 2022, "Lämmitys", "Vetylämmitys", "Vety", "Asuminen", 1.0, 0.1),
    ]
    error = _parse_error(xlsx(rows))
    assert error.field == "sector (Sektori1…)"
    assert "Sektori2='Vetylämmitys'" in (error.got or "")
    assert "datasets.hsy_emissions.sectors" in error.expected


def test_sector_table_maps_every_published_sector_to_a_tracker_sector() -> None:
    spec = load_catalogue().dataset("hsy_emissions")
    cases = {
        ("Lämmitys", "Kaukolämpö", "Kaukolämpö"): ("district_heat", "district_heat"),
        ("Lämmitys", "Öljylämmitys", "Kevyt polttoöljy"): ("oil_heating", "other_heating"),
        ("Lämmitys", "Sähkölämmitys", "Sähkö"): ("electric_heating", "other_heating"),
        ("Sähkö", "Kulutussähkö", "Sähkö"): ("consumer_electricity", "consumer_electricity"),
        ("Liikenne", "Tieliikenne", "Linja-autot"): ("road_transport", "transport"),
        ("Liikenne", "Raideliikenne", "Metrot"): ("rail_transport", "transport"),
        ("Liikenne", "Laivaliikenne", "Huviveneet"): ("waterborne_transport", "transport"),
        ("Teollisuus ja työkoneet", "Työkoneet", "Diesel"): ("industry_machinery", "industry_machinery"),
        ("Jätteiden käsittely", "Jätevedet", "Jätevedenpuhdistus"): ("waste", "waste"),
        ("Maatalous", "Kotieläimet", "Ruoansulatus"): ("agriculture", "agriculture"),
    }
    for (first, second, third), expected in cases.items():
        rule = spec.sector_of({"sector1": first, "sector2": second, "sector3": third, "sector4": "Asuminen"})
        assert rule is not None and (rule.sector, rule.group) == expected, (first, second)
    assert spec.sector_of({"sector1": "Lämmitys", "sector2": "Vetylämmitys"}) is None


def test_header_below_title_rows_on_a_later_sheet_and_kt_unit() -> None:
    """A title sheet first, a title above the header row, and a header that already says kt."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    workbook.add_worksheet("Tietoa").write_string(0, 0, "Lähde: HSY")
    sheet = workbook.add_worksheet("Data")
    sheet.write_string(0, 0, "Pääkaupunkiseudun kasvihuonekaasupäästöt")
    header = ["Kaupunki", "Vuosi", "Sektori1", "Sektori2", "Sektori3", "Sektori4", "Energiankulutus (GWh)"]
    sheet.write_row(2, 0, [*header, "Päästöt (kt CO2e)"])
    sheet.write_row(3, 0, ["Espoo", 2024, "Sähkö", "Kulutussähkö", "Sähkö", "Asuminen", 100.0, 12.5])
    sheet.write_string(5, 0, "Vuoden 2024 luvut ovat ennakkotietoja.")  # a note row: ignored
    workbook.close()
    frame = HsyConnector().parse(load_catalogue().dataset("hsy_emissions"), [_payload(buffer.getvalue())])
    assert frame.filter(pl.col("measure") == "emissions")["value"].to_list() == [12.5]


def _payload(body: bytes, content_type: str = XLSX_MEDIA_TYPE) -> Payload:
    url = "https://hri.fi/data/new.xlsx"
    return Payload(RequestSpec("GET", url), 200, {"content-type": content_type}, body, datetime.now(UTC), url)


def _parse_error(body: bytes) -> ValidationError:
    spec = load_catalogue().dataset("hsy_emissions")
    with pytest.raises(ValidationError) as caught:
        HsyConnector(today=lambda: date(2026, 11, 23)).parse(spec, [_payload(body)])
    assert caught.value.source == "hsy_emissions"
    return caught.value


def test_renamed_emissions_column_names_the_field(
    httpserver: HTTPServer, spec: DatasetSpec, fetcher: LiveFetcher
) -> None:
    serve(httpserver, xlsx(columns=[*COLUMNS[:-1], "Emissions"]))
    with pytest.raises(ValidationError) as caught:
        run(spec, fetcher)
    assert "Päästöt" in caught.value.field
    assert "Emissions" in str(caught.value)


@pytest.mark.parametrize(
    ("rows", "field", "got"),
    [
        ([("Espoo", "vuosi 2020", "Sähkö", None, None, None, 1.0, 2.0)], "Vuosi", "vuosi 2020"),
        ([("Espoo", 1989, "Sähkö", None, None, None, 1.0, 2.0)], "Vuosi", "1989"),
        ([("Espoo", 2031, "Sähkö", None, None, None, 1.0, 2.0)], "Vuosi", "2031"),
        ([("Turku", 2020, "Sähkö", None, None, None, 1.0, 2.0)], "Kaupunki", "Turku"),
        ([("Espoo", 2020, "Sähkö", None, None, None, 1.0, "n/a")], "Päästöt", "n/a"),
        ([("Espoo", 2020, "Sähkö", None, None, None, "paljon", 2.0)], "Energiankulutus", "paljon"),
    ],
)
def test_bad_cells_name_the_column_and_row(rows: list[tuple[Any, ...]], field: str, got: str) -> None:
    error = _parse_error(xlsx(rows))
    assert field in error.field
    assert "row 1" in error.field
    assert got in (error.got or "")


ONE_ROW = [("Espoo", 2020, "Sähkö", "Kulutussähkö", "Sähkö", "Asuminen", 1.0, 2.0)]


def test_catalogue_declares_the_units_of_the_bare_columns() -> None:
    assert load_catalogue().dataset("hsy_emissions").column_units == {
        "Päästöt": "kt CO2e",
        "Energiankulutus": "GWh",
    }


@pytest.mark.parametrize(
    "header",
    ["Päästöt", "Päästöt (kt CO2e)", "Päästöt, kt", "Päästöt [1000 t CO2-ekv.]", "Päästöt (kt CO₂-ekv.)"],
)
def test_a_header_agreeing_with_the_declared_kt_reads_kt(header: str) -> None:
    body = xlsx(ONE_ROW, columns=[*COLUMNS[:-1], header])
    frame = HsyConnector().parse(load_catalogue().dataset("hsy_emissions"), [_payload(body)])
    assert frame.filter(pl.col("measure") == "emissions")["value"].to_list() == [2.0]


@pytest.mark.parametrize(
    ("header", "found"),
    [("Päästöt (t CO2e)", "t CO2e"), ("Päästöt, t", "t CO2e"), ("Päästöt (Mt)", "Mt CO2e")],
)
def test_a_header_whose_unit_disagrees_with_the_catalogue_is_rejected_not_rescaled(
    header: str, found: str
) -> None:
    error = _parse_error(xlsx(ONE_ROW, columns=[*COLUMNS[:-1], header]))
    assert error.field == f"unit in column header {header!r}"
    assert error.expected.startswith("kt CO2e, the unit the catalogue declares for Päästöt")
    assert (error.got or "").startswith(f"{found}:")


def test_a_tonnes_declaration_converts_to_kt() -> None:
    """Where the catalogue declares tonnes, a bare or a tonnes header is read as t and stored as kt."""
    spec = load_catalogue().dataset("hsy_emissions")
    in_tonnes = spec.model_copy(update={"column_units": {**spec.column_units, "Päästöt": "t CO2e"}})
    for header in ("Päästöt", "Päästöt (t CO2-ekv.)"):
        body = xlsx([(*ONE_ROW[0][:-1], 2500.0)], columns=[*COLUMNS[:-1], header])
        frame = HsyConnector().parse(in_tonnes, [_payload(body)])
        emissions = frame.filter(pl.col("measure") == "emissions")
        assert emissions.select("value", "unit").rows() == [(2.5, "kt CO2e")]


@pytest.mark.parametrize(
    ("header", "unit"), [("Päästöt (tonnes of stuff)", "tonnesofstuff"), ("Energiankulutus (MWh)", "mwh")]
)
def test_an_unknown_unit_in_a_header_is_rejected(header: str, unit: str) -> None:
    columns = [*COLUMNS[:-2], header, "Päästöt"] if header.startswith("Energia") else [*COLUMNS[:-1], header]
    error = _parse_error(xlsx(ONE_ROW, columns=columns))
    assert error.field == f"unit in column header {header!r}"
    assert error.got == f"an unknown unit {unit!r}"


def test_a_catalogue_without_the_unit_declaration_is_a_catalogue_error() -> None:
    spec = load_catalogue().dataset("hsy_emissions")
    undeclared = spec.model_copy(update={"column_units": {"Energiankulutus": "GWh"}})
    with pytest.raises(ValueError, match="column_units must declare the unit of 'Päästöt'"):
        HsyConnector().parse(undeclared, [_payload(xlsx(ONE_ROW))])


def test_connector_fulfils_the_protocol() -> None:
    connector: Connector = HsyConnector()
    assert (connector.protocol, connector.reader_version) == ("ckan_xlsx", "hsy-xlsx/2")
    assert load_catalogue().dataset("hsy_emissions").protocol == connector.protocol


def test_empty_table_is_rejected() -> None:
    error = _parse_error(xlsx([("Lähde: HSY", None, None, None, None, None, None, None)]))
    assert "at least one data row" in error.expected


def test_duplicate_city_year_sector_rows_are_rejected() -> None:
    row = ("Espoo", 2020, "Sähkö", "Kulutussähkö", None, None, 1.0, 2.0)
    error = _parse_error(xlsx([row, row]))
    assert "one row per city, year and sector" in error.expected
    assert "049 / 2020 / Sähkö / Kulutussähkö" in (error.got or "")


def test_missing_header_row_is_rejected() -> None:
    error = _parse_error(xlsx([("a", 1, "b", "c", "d", "e", 1.0, 2.0)], columns=[f"c{i}" for i in range(8)]))
    assert error.field == "header row"


def test_html_body_is_rejected_by_parse() -> None:
    html = b"<!DOCTYPE html><html><body>Kirjaudu sisaan</body></html>"
    spec = load_catalogue().dataset("hsy_emissions")
    with pytest.raises(ValidationError):
        HsyConnector().parse(spec, [_payload(html, content_type="text/html; charset=utf-8")])
    with pytest.raises(ValidationError, match="XLSX"):
        HsyConnector().parse(spec, [_payload(b"Kaupunki;Vuosi\n", content_type="application/octet-stream")])


def test_html_page_with_status_200_is_a_validation_error(
    httpserver: HTTPServer, spec: DatasetSpec, fetcher: LiveFetcher
) -> None:
    resources = [resource(httpserver.url_for("/download/new.xlsx"), "2025-06-03T09:12:44")]
    httpserver.expect_request(API_PATH).respond_with_json(envelope(resources))
    httpserver.expect_request("/download/new.xlsx").respond_with_data(
        "<!doctype html><html><title>Sivua ei löydy</title></html>", content_type="text/html"
    )
    with pytest.raises(ValidationError):
        run(spec, fetcher)


def test_ckan_success_false_is_rejected(
    httpserver: HTTPServer, spec: DatasetSpec, fetcher: LiveFetcher
) -> None:
    document = {"help": "…", "success": False, "error": {"__type": "Not Found Error", "message": "Not found"}}
    httpserver.expect_request(API_PATH).respond_with_json(document)
    with pytest.raises(ValidationError) as caught:
        HsyConnector().fetch(spec, fetcher)
    assert caught.value.field == "package_show success"
    assert "Not Found Error" in (caught.value.got or "")


def test_ckan_answer_that_is_not_json_is_rejected(
    httpserver: HTTPServer, spec: DatasetSpec, fetcher: LiveFetcher
) -> None:
    httpserver.expect_request(API_PATH).respond_with_data("maintenance", content_type="text/plain")
    with pytest.raises(ValidationError, match="CKAN JSON envelope"):
        HsyConnector().fetch(spec, fetcher)


def test_no_xlsx_resource_is_rejected(
    httpserver: HTTPServer, spec: DatasetSpec, fetcher: LiveFetcher
) -> None:
    resources = [resource(httpserver.url_for("/m.pdf"), "2025-01-01T00:00:00", fmt="PDF", name="Menetelmä")]
    httpserver.expect_request(API_PATH).respond_with_json(envelope(resources))
    with pytest.raises(ValidationError) as caught:
        HsyConnector().fetch(spec, fetcher)
    assert "XLSX" in caught.value.expected
    assert "Menetelmä" in (caught.value.got or "")


def test_a_resource_on_a_host_the_catalogue_does_not_allow_is_not_fetched(
    httpserver: HTTPServer, spec: DatasetSpec, fetcher: LiveFetcher
) -> None:
    """A compromised listing must not make the tracker fetch elsewhere (here the same server by another
    name: reachable, so only the host check stops it)."""
    elsewhere = httpserver.url_for("/download/new.xlsx").replace("//localhost:", "//127.0.0.1:")
    serve(httpserver, xlsx(), [resource(elsewhere, "2025-06-03T09:12:44")])
    with pytest.raises(ValidationError) as caught:
        HsyConnector().fetch(spec, fetcher)
    assert caught.value.field == "resource url"
    assert "host '127.0.0.1'" in (caught.value.got or "")
    local = f"localhost:{httpserver.port}"  # the catalogue URL's own host, on its port
    assert f"hosts (*.hsy.fi, hri.fi, hsy.fi, {local}, www.hri.fi)" in caught.value.expected
    assert not any(request.path.startswith("/download/") for request, _ in httpserver.log)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hri.fi/data/dataset/p/resource/r/download/p.xlsx", True),
        ("https://www.hsy.fi/globalassets/paastot.xlsx", True),
        ("https://HRI.fi/data/p.xlsx", True),
        ("http://hri.fi/data/p.xlsx", False),  # https only
        ("ftp://hri.fi/p.xlsx", False),
        ("https://evil.example/p.xlsx", False),
        ("https://hri.fi@evil.example/p.xlsx", False),  # user info is not the host
        ("https://nothsy.fi/p.xlsx", False),
        ("https://www.hsy.fi.evil.example/p.xlsx", False),
        ("https://localhost/p.xlsx", False),
        ("https://127.0.0.1/p.xlsx", False),
        ("https://169.254.169.254/latest/meta-data", False),
    ],
)
def test_the_real_catalogue_allows_https_on_hri_and_hsy_only(url: str, allowed: bool) -> None:
    spec = load_catalogue().dataset("hsy_emissions")
    if allowed:
        check_download_url(spec, url)
    else:
        with pytest.raises(ValidationError, match="resource url: expected an https URL on one of"):
            check_download_url(spec, url)


def test_envelope_without_resources_list_is_rejected(
    httpserver: HTTPServer, spec: DatasetSpec, fetcher: LiveFetcher
) -> None:
    httpserver.expect_request(API_PATH).respond_with_json({"success": True, "result": {"name": PACKAGE}})
    with pytest.raises(ValidationError) as caught:
        HsyConnector().fetch(spec, fetcher)
    assert caught.value.field == "package_show result.resources"


def test_resource_pattern_option_narrows_the_candidates(
    httpserver: HTTPServer, spec: DatasetSpec, fetcher: LiveFetcher
) -> None:
    resources = [
        resource(httpserver.url_for("/download/new.xlsx"), "2025-06-01T00:00:00", name="Päästöt 1990–2024"),
        resource(httpserver.url_for("/download/other.xlsx"), "2025-07-01T00:00:00", name="Asukasluvut"),
    ]
    serve(httpserver, xlsx(), resources)
    narrowed = spec.model_copy(update={"options": {**spec.options, "resource_pattern": "päästöt"}})
    assert HsyConnector().fetch(narrowed, fetcher)[1].request.url.endswith("/download/new.xlsx")


def test_an_xlsx_file_labelled_excel_is_a_candidate(
    httpserver: HTTPServer, spec: DatasetSpec, fetcher: LiveFetcher
) -> None:
    """CKAN's format is free text a publisher types: "Excel" for an .xlsx file had left no candidate."""
    resources = [
        resource(httpserver.url_for("/download/old.xlsx"), "2024-06-01T00:00:00"),
        resource(httpserver.url_for("/download/new.xlsx"), "2025-06-01T00:00:00", fmt="Excel"),
        resource(httpserver.url_for("/download/menetelma.pdf"), "2025-07-01T00:00:00", fmt="Excel"),
    ]
    serve(httpserver, xlsx(), resources)
    assert HsyConnector().fetch(spec, fetcher)[1].request.url.endswith("/download/new.xlsx")


# --------------------------------------------------------------------------------------------------
# The demo snapshot generator


@pytest.fixture(scope="module")
def demo_frame(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, Path, Manifest]:
    folder = tmp_path_factory.mktemp("snapshot")
    manifest = Manifest(label="demo", description="test", created="2026-11-23")
    demo.generate(folder, manifest)
    spec = load_catalogue().dataset("hsy_emissions")
    connector = HsyConnector()
    payloads = connector.fetch(spec, ReplayFetcher(folder, manifest=manifest))
    assert all(payload.is_demo for payload in payloads)
    return connector.parse(spec, payloads), folder, manifest


def test_demo_espoo_totals_match_the_calibration(demo_frame: tuple[pl.DataFrame, Path, Manifest]) -> None:
    frame, _, _ = demo_frame
    totals = (
        frame.filter(pl.col("area") == "049", pl.col("measure") == "emissions")
        .group_by("period")
        .agg(pl.col("value").sum())
    )
    got = {int(period): value for period, value in totals.iter_rows()}
    assert sorted(got) == [1990, *range(2000, 2025)]
    for year, kt in ESPOO_HSY_TOTAL_KT.items():
        assert got[year] == pytest.approx(kt, abs=0.01)


def test_demo_region_totals_and_sector_shares_are_plausible(
    demo_frame: tuple[pl.DataFrame, Path, Manifest],
) -> None:
    frame, _, _ = demo_frame
    emissions = frame.filter(pl.col("measure") == "emissions")
    for year, kt in REGION_HSY_TOTAL_KT.items():
        assert emissions.filter(pl.col("period") == str(year))["value"].sum() == pytest.approx(kt, rel=0.01)
    espoo_2016 = emissions.filter(pl.col("area") == "049", pl.col("period") == "2016")
    by_sector = dict(espoo_2016.group_by("sector2").agg(pl.col("value").sum()).iter_rows())
    assert by_sector["Kaukolämpö"] / 1153 == pytest.approx(0.42, abs=0.01)
    transport = espoo_2016.filter(pl.col("sector1") == "Liikenne")["value"].sum()
    assert transport / 1153 == pytest.approx(0.27, abs=0.01)
    assert {"Henkilöautot", "Linja-autot", "Kuorma-autot", "Metrot", "Huviveneet"} <= set(
        emissions["sector3"]
    )
    assert {"Asuminen", "Palvelut", "Teollisuus"} <= set(emissions["sector4"])
    assert {"Öljylämmitys", "Sähkölämmitys", "Maalämpö", "Kulutussähkö"} <= set(emissions["sector2"])
    helsinki = dict(
        emissions.filter(pl.col("area") == "091").group_by("period").agg(pl.col("value").sum()).iter_rows()
    )
    assert helsinki["2024"] / helsinki["2023"] - 1 == pytest.approx(-0.16, abs=0.005)
    assert frame.filter(pl.col("flag") == "neg").height > 0


def test_demo_rows_are_four_levels_deep_everywhere(demo_frame: tuple[pl.DataFrame, Path, Manifest]) -> None:
    frame, _, _ = demo_frame
    for column in ("sector1", "sector2", "sector3", "sector4"):
        assert (frame[column] != "").all(), column
    assert set(frame["sector5"]) == {""}


def test_demo_espoo_2022_transport_detail_is_the_published_one(
    demo_frame: tuple[pl.DataFrame, Path, Manifest],
) -> None:
    """Espoo CCC 2023 table A-1.3 (kt CO2e): cars 172, vans 26, trucks 82, buses 5, motorcycles 6,
    commuter trains 2, metro 1, leisure boats 6, professional boats 2 — in Sektori3, summed over Sektori4."""
    frame, _, _ = demo_frame
    transport = frame.filter(
        pl.col("area") == "049",
        pl.col("period") == "2022",
        pl.col("measure") == "emissions",
        pl.col("sector1") == "Liikenne",
    )
    by_vehicle = {
        vehicle: round(kt, 6)
        for vehicle, kt in transport.group_by("sector3").agg(pl.col("value").sum()).rows()
    }
    assert by_vehicle == {
        "Henkilöautot": 172,
        "Pakettiautot": 26,
        "Kuorma-autot": 82,
        "Linja-autot": 5,
        "Moottoripyörät ja mopot": 6,
        "Lähijunat": 2,
        "Metrot": 1,
        "Huviveneet": 6,
        "Ammattiveneet": 2,
    }


def test_demo_file_has_the_real_shape(demo_frame: tuple[pl.DataFrame, Path, Manifest]) -> None:
    """Bare value headers (kt, GWh), Sektori1…4, PKS rows and blank Unnamed columns, as HSY publishes."""
    _, folder, manifest = demo_frame
    xlsx_exchange = next(e for e in manifest.exchanges if e.file.endswith(".xlsx"))
    raw = pl.read_excel(
        folder / xlsx_exchange.file,
        sheet_name="Päästöt",
        engine="calamine",
        drop_empty_cols=False,
        infer_schema_length=0,
    )
    assert "PKS" in set(raw["Kaupunki"])
    assert {"Energiankulutus", "Päästöt", "Sektori1", "Sektori2", "Sektori3", "Sektori4"} <= set(raw.columns)
    unnamed = [c for c in raw.columns if c.startswith("__UNNAMED") or c.startswith("Unnamed")]
    assert len(unnamed) >= 2
    assert all(raw[c].null_count() == raw.height for c in unnamed)
    espoo_1990 = (
        raw.filter(pl.col("Kaupunki") == "Espoo", pl.col("Vuosi") == "1990")["Päästöt"].cast(pl.Float64).sum()
    )
    assert espoo_1990 == pytest.approx(1060.0)  # kt in the file itself
    headers = xlsx_exchange.headers
    assert headers["content-type"] == XLSX_MEDIA_TYPE
    assert {"etag", "last-modified", "date"} <= set(headers)
    envelope_exchange = next(e for e in manifest.exchanges if e.file.endswith("package_show.json"))
    assert envelope_exchange.params == [("id", PACKAGE)]
    document = json.loads((folder / envelope_exchange.file).read_bytes())
    assert document["success"] is True


def test_demo_generator_is_byte_identical(tmp_path: Path) -> None:
    digests = []
    for run_number in range(2):
        folder = tmp_path / str(run_number)
        demo.generate(folder, Manifest(label="demo", description="test", created="2026-11-23"))
        digests.append(
            {
                p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(folder.rglob("*"))
                if p.is_file()
            }
        )
    assert digests[0] == digests[1]


def test_demo_espoo_2022_energy_use_is_the_published_one(
    demo_frame: tuple[pl.DataFrame, Path, Manifest],
) -> None:
    """Espoo CCC 2023 table A-1.1 (GWh): district heat 1 958, oil heating 166, electric heating 394,
    consumer electricity 1 701, transport fossil fuels 1 455, industrial and machinery fuels 50."""
    frame, _, _ = demo_frame
    energy = frame.filter(pl.col("area") == "049", pl.col("period") == "2022", pl.col("measure") == "energy")
    by_sector = {
        key: round(gwh, 6)
        for key, gwh in energy.group_by("sector1", "sector2")
        .agg(pl.col("value").sum())
        .select(pl.concat_str("sector1", "sector2", separator="/"), "value")
        .rows()
    }
    assert by_sector["Lämmitys/Kaukolämpö"] == 1958
    assert by_sector["Lämmitys/Öljylämmitys"] == 166
    assert by_sector["Lämmitys/Sähkölämmitys"] == 394
    assert by_sector["Sähkö/Kulutussähkö"] == 1701
    transport = sum(v for k, v in by_sector.items() if k.startswith("Liikenne/"))
    assert round(transport, 6) == 1455
    machinery = sum(v for k, v in by_sector.items() if k.startswith("Teollisuus ja työkoneet/"))
    assert round(machinery, 6) == 50


def test_the_bundled_workbook_served_over_http_gives_espoo_1060_kt_in_1990(
    httpserver: HTTPServer, spec: DatasetSpec, fetcher: LiveFetcher
) -> None:
    """The bundled snapshot's XLSX (real shape: bare headers in kt) behind a CKAN package_show."""
    body = (
        Path(__file__).parents[1]
        / "data"
        / "snapshot"
        / "hsy_emissions"
        / "paakaupunkiseudun_kasvihuonekaasupaastot_1990-2024.xlsx"
    ).read_bytes()
    serve(httpserver, body)
    emissions = run(spec, fetcher).filter(pl.col("measure") == "emissions", pl.col("area") == "049")
    assert emissions.filter(pl.col("period") == "1990")["value"].sum() == pytest.approx(1060.0)
    assert emissions.filter(pl.col("period") == "2023")["value"].sum() == pytest.approx(742.0)


def test_a_subtotal_row_beside_its_detail_rows_is_rejected_not_added_to_them() -> None:
    """A row with its lower levels blank beside rows under it would be summed with them (Espoo's
    electricity 258 kt for 129); every rule looks at Sektori1 or Sektori2 only, so it would match."""
    rows = [
        ("Espoo", 2022, "Sähkö", "Kulutussähkö", "Sähkö", "Asuminen", 900.0, 70.0),
        ("Espoo", 2022, "Sähkö", "Kulutussähkö", "Sähkö", "Palvelut", 801.0, 59.0),
        ("Espoo", 2022, "Sähkö", None, None, None, 1701.0, 129.0),
    ]
    error = _parse_error(xlsx(rows))
    assert error.field == "rows (Kaupunki, Vuosi, Sektori1…) of Espoo (049) 2022"
    assert "detail rows only" in error.expected
    assert (error.got or "").startswith("Sektori1='Sähkö', a subtotal")


def test_a_short_path_without_rows_below_it_is_a_row_of_its_own() -> None:
    """Only a path that other rows of the same city and year continue is a subtotal: the same short path
    in another city, or beside a sibling branch, is kept."""
    rows = [
        ("Espoo", 2022, "Sähkö", "Kulutussähkö", "Sähkö", "Asuminen", 900.0, 70.0),
        ("Espoo", 2022, "Maatalous", None, None, None, 2.0, 1.5),
        ("Vantaa", 2022, "Sähkö", None, None, None, 800.0, 60.0),
        ("Espoo", 2021, "Sähkö", None, None, None, 850.0, 65.0),
    ]
    frame = HsyConnector(today=lambda: date(2026, 11, 23)).parse(
        load_catalogue().dataset("hsy_emissions"), [_payload(xlsx(rows))]
    )
    emissions = frame.filter(pl.col("measure") == "emissions").sort("area", "period", "sector2")
    assert emissions.select("area", "period", "sector1", "value").rows() == [
        ("049", "2021", "Sähkö", 65.0),
        ("049", "2022", "Maatalous", 1.5),
        ("049", "2022", "Sähkö", 70.0),
        ("092", "2022", "Sähkö", 60.0),
    ]


def test_a_blank_level_between_filled_ones_is_rejected() -> None:
    rows = [("Espoo", 2022, "Sähkö", None, "Sähkö", "Asuminen", 900.0, 70.0)]
    error = _parse_error(xlsx(rows))
    assert error.field == "sector (Sektori1…) of Espoo (049) 2022"
    assert "without a blank level" in error.expected
    assert error.got == "Sektori1='Sähkö' / Sektori2='' / Sektori3='Sähkö' / Sektori4='Asuminen'"


@pytest.mark.parametrize("label", ["Muu tai tuntematon", "Muu"])
def test_other_or_unknown_heating_is_other_heating(label: str) -> None:
    """Public configurations that read the real file name the other heating "Muu tai tuntematon", alias "Muu"
    (kausaltech/kausal-paths, configs/frameworks/hsy/buildings.yaml)."""
    spec = load_catalogue().dataset("hsy_emissions")
    labels = {"sector1": "Lämmitys", "sector2": label, "sector3": label, "sector4": "Asuminen", "sector5": ""}
    assert spec.sector_of(labels) is not None
    assert spec.sector_of(labels) == spec.sector_of({**labels, "sector2": "Muu lämmitys"})
