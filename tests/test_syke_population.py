"""SykePopulationConnector on a local HTTP server: both layouts of Syke's population file, and bad files."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl
import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine

from ingest.catalogue import DatasetSpec, load_catalogue
from ingest.connector import Connector
from ingest.errors import FetchError, ValidationError
from ingest.http import LiveFetcher
from ingest.syke_population import SykePopulationConnector

PATH = "/asukasluvut_2025.csv"
WIDE = (
    "kuntanro;kunta_fi;maakunta_fi;2023;2024\n"
    "49;Espoo;Uusimaa;314024;320931\n"
    "91;Helsinki;Uusimaa;664028;674963\n"
    "478;Maarianhamina;Ahvenanmaa;11 812;NA\n"
)
LONG = (
    "kuntanro;kunta_fi;maakunta_fi;vuosi;asukasluku\n"
    "49;Espoo;Uusimaa;2023;314024\n"
    "049;Espoo;Uusimaa;2024;320931\n"  # padded or not
)


@pytest.fixture
def fetcher() -> Iterator[LiveFetcher]:
    with LiveFetcher(max_attempts=1, timeout=5.0) as live:
        yield live


def spec_for(httpserver: HTTPServer) -> DatasetSpec:
    return load_catalogue().dataset("syke_population").model_copy(update={"url": httpserver.url_for(PATH)})


def serve(httpserver: HTTPServer, body: str, status: int = 200, content_type: str = "text/csv") -> None:
    httpserver.expect_request(PATH).respond_with_data(body.encode("utf-8"), status, content_type=content_type)


def run(httpserver: HTTPServer, fetcher: LiveFetcher) -> pl.DataFrame:
    connector = SykePopulationConnector()
    spec = spec_for(httpserver)
    return connector.parse(spec, connector.fetch(spec, fetcher))


def test_wide_file_one_column_per_year(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    serve(httpserver, WIDE)
    frame = run(httpserver, fetcher)
    assert frame.columns == ["area", "period", "value", "flag", "unit", "measure"]
    rows = {(r["area"], r["period"]): r["value"] for r in frame.iter_rows(named=True)}
    assert rows == {
        ("049", "2023"): 314024.0,
        ("049", "2024"): 320931.0,
        ("091", "2023"): 664028.0,
        ("091", "2024"): 674963.0,
        ("478", "2023"): 11812.0,  # a thousands space is read
        ("478", "2024"): None,  # NA stays missing, never 0
    }
    assert set(frame["unit"]) == {"persons"} and set(frame["measure"]) == {"population"}


def test_long_file_with_a_year_column(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    serve(httpserver, LONG)
    frame = run(httpserver, fetcher)
    assert frame.select("area", "period", "value").rows() == [
        ("049", "2023", 314024.0),
        ("049", "2024", 320931.0),
    ]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ("kunta;2023\n49;314024\n", "column 'kuntanro'", "kunta, 2023"),
        ("kuntanro,2023\n49,314024\n", "column 'kuntanro'", "','-separated"),
        ("kuntanro;kunta_fi;maakunta_fi\n49;Espoo;Uusimaa\n", "columns", "kuntanro, kunta_fi, maakunta_fi"),
        ("kuntanro;2023\n999;314024\n", "column 'kuntanro', line 2", "'999'"),
        ("kuntanro;2023\n49;314024,5\n", "column 'value', line 2", "a whole number"),
        ("kuntanro;vuosi;asukasluku\n49;vuosi;314024\n", "column 'year', line 2", "a year"),
        ("kuntanro;2023\n49;314024\n49;314025\n", "column 'kuntanro', line 2", "one row per municipality"),
        ("kuntanro;2023\n", "body", "at least one data row"),
        # Pertunmaa joined Mäntyharju on 1 January 2025: no residents of its own after 2024
        (
            "kuntanro;2024;2025\n588;2 000;1 990\n507;5 500;5 480\n",
            "area",
            "588 Pertunmaa joined 507 Mäntyharju",
        ),
    ],
)
def test_bad_files_name_the_field_and_what_was_expected(
    httpserver: HTTPServer, fetcher: LiveFetcher, body: str, field: str, words: str
) -> None:
    serve(httpserver, body)
    with pytest.raises(ValidationError) as caught:
        run(httpserver, fetcher)
    assert caught.value.source == "syke_population"
    assert caught.value.field == field
    assert words in str(caught.value)


def test_a_merged_municipality_counts_for_the_years_it_existed(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    serve(httpserver, "kuntanro;2023;2024\n588;2 010;2 000\n")
    frame = run(httpserver, fetcher)
    assert frame.select("area", "period", "value").rows() == [
        ("588", "2023", 2010.0),
        ("588", "2024", 2000.0),
    ]


def test_a_row_repeated_exactly_counts_once(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    serve(httpserver, "kuntanro;2023\n478;11812\n478;11812\n49;314024\n")
    frame = run(httpserver, fetcher)
    assert frame.select("area", "value").rows() == [("049", 314024.0), ("478", 11812.0)]


def test_an_html_page_and_a_404_are_clear_errors(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    serve(httpserver, "<!DOCTYPE html><html><body>Huolto</body></html>", content_type="text/html")
    with pytest.raises(ValidationError):
        run(httpserver, fetcher)
    httpserver.clear()
    serve(httpserver, "Not Found", status=404, content_type="text/plain")
    with pytest.raises(FetchError, match="404"):
        run(httpserver, fetcher)


def test_connector_fulfils_the_protocol() -> None:
    connector: Connector = SykePopulationConnector()
    assert load_catalogue().dataset("syke_population").protocol == connector.protocol


def test_bundled_run_compares_statfin_and_syke_population(loaded_engine: Engine) -> None:
    """The demo's Syke file differs from StatFin by 0.2 % for Espoo in 2024: within the 0.5 % tolerance."""
    from kestava import api

    statfin = api.indicator_values("population", area="049", kind="observed", engine=loaded_engine)
    syke = api.indicator_values("syke_population", area="049", kind="observed", engine=loaded_engine)
    check = api.indicator_values("reconcile_population_statfin_syke", area="049", engine=loaded_engine)
    s24 = statfin.filter(pl.col("year") == 2024)["value"].item()
    k24 = syke.filter(pl.col("year") == 2024)["value"].item()
    c24 = check.filter(pl.col("kind") == "observed", pl.col("year") == 2024)["value"].item()
    assert abs(k24 / s24 - 1.002) < 1e-5
    assert abs(c24) == pytest.approx(abs(s24 - k24) / k24 * 100, rel=1e-6)
    assert abs(c24) < 0.5
