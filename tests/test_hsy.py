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

from ingest.catalogue import DatasetSpec, load_catalogue
from ingest.connector import Connector
from ingest.errors import ValidationError
from ingest.hsy import XLSX_MEDIA_TYPE, HsyConnector
from ingest.http import LiveFetcher
from ingest.manifest import Manifest
from ingest.payload import Payload, RequestSpec
from ingest.replay import ReplayFetcher
from kestava.units import UNITS
from scripts.demo import hsy as demo
from scripts.demo.calibration import ESPOO_HSY_TOTAL_KT, REGION_HSY_TOTAL_KT

PACKAGE = "paakaupunkiseudun-kasvihuonekaasupaastot"
API_PATH = "/data/api/3/action/package_show"
COLUMNS = [
    "Kaupunki",
    "Vuosi",
    "Sektori1",
    "Sektori2",
    "Sektori3",
    "Sektori4",
    "Energiankulutus (GWh)",
    "Päästöt (t CO2e)",
]

# (Kaupunki, Vuosi, Sektori1…4, GWh, t CO2e)
ROWS: list[tuple[Any, ...]] = [
    ("Espoo", 2020, "Lämmitys", "Kaukolämpö", None, None, 1500.0, 120000.0),
    ("Espoo", 2020, "Liikenne", "Tieliikenne", "Katuajo", "Henkilöautot", 300.5, 80000.5),
    ("Espoo", 2020, "Jätteiden käsittely", "Kaatopaikat", None, None, None, -2500.0),
    ("Espoo", 2021, "Lämmitys", "Kaukolämpö", None, None, 1400.0, 110000.0),
    ("Helsinki", 2020, "Lämmitys", "Kaukolämpö", None, None, 6000.0, 900000.0),
    ("Vantaa", 2020, "Sähkö", "Kulutussähkö", None, None, 800.0, None),
    ("Kauniainen", 2020, "Lämmitys", "Öljylämmitys", None, None, 20.0, 5333.0),
    ("PKS", 2020, "Lämmitys", "Kaukolämpö", None, None, 7500.0, 1020000.0),
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
    assert espoo_2020 == pytest.approx((120000.0 + 80000.5 - 2500.0) / 1000)  # t -> kt, negative counted


def test_region_total_rows_are_dropped_not_double_counted(
    httpserver: HTTPServer, spec: DatasetSpec, fetcher: LiveFetcher
) -> None:
    serve(httpserver, xlsx())
    emissions = run(spec, fetcher).filter(pl.col("measure") == "emissions", pl.col("period") == "2020")
    assert "PKS" not in set(emissions["area"])
    assert emissions["value"].sum() == pytest.approx((120000 + 80000.5 - 2500 + 900000 + 5333) / 1000)


def test_negative_emissions_are_kept_and_flagged(
    httpserver: HTTPServer, spec: DatasetSpec, fetcher: LiveFetcher
) -> None:
    serve(httpserver, xlsx())
    frame = run(spec, fetcher)
    flagged = frame.filter(pl.col("flag") == "neg")
    assert flagged.height == 1
    row = flagged.row(0, named=True)
    assert (row["area"], row["sector2"], row["value"], row["measure"]) == (
        "049",
        "Kaatopaikat",
        -2.5,
        "emissions",
    )
    assert frame.filter(pl.col("flag").is_not_null()).height == 1


def test_sectors_blank_become_empty_strings_and_missing_values_stay_null(
    httpserver: HTTPServer, spec: DatasetSpec, fetcher: LiveFetcher
) -> None:
    serve(httpserver, xlsx())
    frame = run(spec, fetcher)
    road = frame.filter(pl.col("sector4") == "Henkilöautot", pl.col("measure") == "energy").row(0, named=True)
    assert (road["sector1"], road["sector2"], road["sector3"], road["unit"], road["value"]) == (
        "Liikenne",
        "Tieliikenne",
        "Katuajo",
        "GWh",
        300.5,
    )
    heat = frame.filter(pl.col("area") == "049", pl.col("period") == "2021", pl.col("measure") == "emissions")
    assert heat.select("sector3", "sector4").row(0) == ("", "")
    for column in ("area", "period", "unit", "measure", "sector1", "sector2", "sector3", "sector4"):
        assert frame[column].null_count() == 0
    vantaa = frame.filter(pl.col("area") == "092", pl.col("measure") == "emissions")
    assert vantaa["value"].to_list() == [None]  # blank Päästöt: null, never 0
    landfill_energy = frame.filter(pl.col("sector2") == "Kaatopaikat", pl.col("measure") == "energy")
    assert landfill_energy["value"].to_list() == [None]


def test_header_below_title_rows_on_a_later_sheet_and_kt_unit() -> None:
    """A title sheet first, a title above the header row, and a header that already says kt."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    workbook.add_worksheet("Tietoa").write_string(0, 0, "Lähde: HSY")
    sheet = workbook.add_worksheet("Data")
    sheet.write_string(0, 0, "Pääkaupunkiseudun kasvihuonekaasupäästöt")
    header = ["Kaupunki", "Vuosi", "Sektori1", "Sektori2", "Sektori3", "Sektori4", "Energiankulutus (GWh)"]
    sheet.write_row(2, 0, [*header, "Päästöt (kt CO2e)"])
    sheet.write_row(3, 0, ["Espoo", 2024, "Sähkö", "Kulutussähkö", "", "", 100.0, 12.5])
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
    serve(httpserver, xlsx(columns=[*COLUMNS[:-1], "Emissions (t CO2e)"]))
    with pytest.raises(ValidationError) as caught:
        run(spec, fetcher)
    assert "Päästöt" in caught.value.field
    assert "Emissions (t CO2e)" in str(caught.value)


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


@pytest.mark.parametrize(
    ("header", "kt"), [("Päästöt (t CO2-ekv.)", 0.002), ("Päästöt", 0.002), ("Päästöt (1000 t CO2e)", 2.0)]
)
def test_emission_unit_in_the_header_is_honoured(header: str, kt: float) -> None:
    body = xlsx([("Espoo", 2020, "Sähkö", None, None, None, 1.0, 2.0)], columns=[*COLUMNS[:-1], header])
    frame = HsyConnector().parse(load_catalogue().dataset("hsy_emissions"), [_payload(body)])
    assert frame.filter(pl.col("measure") == "emissions")["value"].to_list() == [pytest.approx(kt)]


def test_unknown_emission_unit_is_rejected() -> None:
    error = _parse_error(
        xlsx([("Espoo", 2020, "Sähkö", None, None, None, 1.0, 2.0)], columns=[*COLUMNS[:-1], "Päästöt (Mt)"])
    )
    assert error.field == "column 'Päästöt (Mt)'"


def test_connector_fulfils_the_protocol() -> None:
    connector: Connector = HsyConnector()
    assert (connector.protocol, connector.reader_version) == ("ckan_xlsx", "hsy-xlsx/1")
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
    assert {"Henkilöautot", "Linja-autot", "Kuorma-autot"} <= set(emissions["sector4"])
    assert {"Öljylämmitys", "Sähkölämmitys", "Maalämpö", "Kulutussähkö"} <= set(emissions["sector2"])
    helsinki = dict(
        emissions.filter(pl.col("area") == "091").group_by("period").agg(pl.col("value").sum()).iter_rows()
    )
    assert helsinki["2024"] / helsinki["2023"] - 1 == pytest.approx(-0.16, abs=0.005)
    assert frame.filter(pl.col("flag") == "neg").height > 0


def test_demo_file_keeps_pks_rows_and_blank_columns(demo_frame: tuple[pl.DataFrame, Path, Manifest]) -> None:
    _, folder, manifest = demo_frame
    xlsx_exchange = next(e for e in manifest.exchanges if e.file.endswith(".xlsx"))
    raw = pl.read_excel(folder / xlsx_exchange.file, sheet_name="Päästöt", engine="calamine")
    assert "PKS" in set(raw["Kaupunki"])
    assert any(column.startswith("__UNNAMED") or column.startswith("Unnamed") for column in raw.columns)
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
