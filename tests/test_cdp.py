"""CDP-ICLEI city disclosures: paged Socrata parse against a local server, the opt-in and the licence gate."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, text
from werkzeug import Request, Response

import scheduler
from common.config import Settings, get_settings
from common.payload import Payload, RequestSpec
from ingest.catalogue import CATALOGUE_PATH, Catalogue, load_catalogue, parse_catalogue
from ingest.cdp import CdpConnector, accounting_year
from ingest.errors import FetchError, ValidationError
from ingest.http import LiveFetcher
from ingest.licensing import declared_licence, publishable
from ingest.plausibility import check_payload
from ingest.run import ingest as run_ingest
from storage.checks import check_observations
from storage.rawstore import RawStore
from storage.validators import DbValidatorCache

DATASET = "cdp_city_emissions"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
COLUMNS_2019 = {
    "account": "account_number",
    "organization": "organization",
    "city": "city",
    "country": "country",
    "accounting_year": "accounting_year",
    "scope1": "total_scope_1_emissions_metric_tonnes_co2e",
    "scope2": "total_scope_2_emissions_metric_tonnes_co2e",
}
COLUMNS_2020 = {
    **COLUMNS_2019,
    "scope1": "total_scope_1_emissions_metric",
    "scope2": "total_scope_2_emissions_metric",
}
# Socrata leaves out the keys of empty cells (Helsinki 2019 has no scope 2) and sends numbers as strings.
ROWS_2019 = [
    {
        "account_number": "54409",
        "organization": "City of Espoo",
        "city": "Espoo",
        "country": "Finland",
        "accounting_year": "2017-01-01T00:00:00.000",
        "total_scope_1_emissions_metric_tonnes_co2e": "612345",
        "total_scope_2_emissions_metric_tonnes_co2e": "398000.5",
    },
    {
        "account_number": "31090",
        "organization": "City of Helsinki",
        "city": "Helsinki",
        "country": "Finland",
        "accounting_year": "2017-01-01 - 2017-12-31",
        "total_scope_1_emissions_metric_tonnes_co2e": "1800000",
    },
    {
        "account_number": "31175",
        "organization": "City of Paris",
        "city": "Paris",
        "country": "France",
        "accounting_year": "2017",
        "total_scope_1_emissions_metric_tonnes_co2e": "4000000",
        "total_scope_2_emissions_metric_tonnes_co2e": "2000000",
    },
    {  # a Finnish city that is a peer elsewhere but has no CDP name in peers.toml: not kept
        "account_number": "60001",
        "organization": "City of Turku",
        "city": "Turku",
        "country": "Finland",
        "accounting_year": "2017",
        "total_scope_1_emissions_metric_tonnes_co2e": "900000",
    },
    {  # the same name in another country is not Espoo
        "account_number": "99999",
        "organization": "Espoo Town",
        "city": "Espoo",
        "country": "Canada",
        "accounting_year": "2017",
        "total_scope_1_emissions_metric_tonnes_co2e": "5",
    },
]
ROWS_2020 = [
    {
        "account_number": "54409",
        "organization": "City of Espoo",
        "city": "Espoo",
        "country": "Finland",
        "accounting_year": "2018",
        "total_scope_1_emissions_metric": "590000",
        "total_scope_2_emissions_metric": "380000",
    },
    {
        "account_number": "31090",
        "organization": "City of Helsinki",
        "city": "Helsinki",
        "country": "Finland",
        "accounting_year": "2017-07-01 - 2018-06-30",
        "total_scope_1_emissions_metric": "1750000",
        "total_scope_2_emissions_metric": "600000",
    },
]
# (area, disclosure year, accounting year, measure) -> t CO2e, read off the rows above
EXPECTED = {
    ("049", "2019", "2017", "scope1"): 612345.0,
    ("049", "2019", "2017", "scope2"): 398000.5,
    ("091", "2019", "2017", "scope1"): 1800000.0,
    ("049", "2020", "2018", "scope1"): 590000.0,
    ("049", "2020", "2018", "scope2"): 380000.0,
    ("091", "2020", "2018", "scope1"): 1750000.0,  # a fiscal year: its end year
    ("091", "2020", "2018", "scope2"): 600000.0,
}


class Socrata:
    """A Socrata resource endpoint: rows per dataset id, served by $limit/$offset in :id order."""

    def __init__(self, server: HTTPServer, rows: dict[str, list[dict[str, Any]]]) -> None:
        self.rows = rows
        self.asked: list[tuple[str, str, str, str]] = []
        server.expect_request(re.compile(r"/resource/.*")).respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        dataset = request.path.rsplit("/", 1)[-1].removesuffix(".json")
        limit, offset = int(request.args["$limit"]), int(request.args["$offset"])
        self.asked.append((dataset, request.args["$limit"], request.args["$offset"], request.args["$order"]))
        if dataset not in self.rows:
            body = {"code": "not_found", "error": True, "message": "Not found"}
            return Response(json.dumps(body), status=404, content_type="application/json")
        page = self.rows[dataset][offset : offset + limit]
        return Response(json.dumps(page), content_type="application/json")


def bundled_raw() -> dict[str, Any]:
    with CATALOGUE_PATH.open("rb") as handle:
        return tomllib.load(handle)


def cdp_spec(url: str, **options: Any) -> Any:
    """The bundled entry, pointed at url, as if enabled."""
    catalogue = parse_catalogue(bundled_raw(), switched_on={"cdp_enabled"})
    spec = catalogue.dataset(DATASET)
    return spec.model_copy(update={"url": url, "options": {**spec.options, **options}})


@pytest.fixture
def fetcher() -> Iterator[LiveFetcher]:
    with LiveFetcher(max_attempts=1, backoff_base=0.001, backoff_max=0.01, timeout=5) as live:
        yield live


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Settings read afresh from the environment the test sets."""
    monkeypatch.delenv("KESTAVA_CDP_ENABLED", raising=False)
    monkeypatch.delenv("KESTAVA_CDP_LICENCE", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def observed(frame: pl.DataFrame) -> dict[tuple[str, str, str, str], float]:
    return {
        (area, disclosure, period, measure): value
        for area, disclosure, period, measure, value in frame.select(
            "area", "disclosure_year", "period", "measure", "value"
        ).rows()
    }


# ------------------------------------------------------------------------------------------ the parse


def test_pages_every_year_until_a_short_page_and_keeps_only_the_peers(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    server = Socrata(httpserver, {"542d-zyj8": ROWS_2019, "p43t-fbkj": ROWS_2020})
    spec = cdp_spec(httpserver.url_for("/resource"), page_size=2)
    connector = CdpConnector()
    payloads = connector.fetch(spec, fetcher)
    # 2019: 5 rows = pages of 2, 2, 1; 2020: 2 rows = a full page, then an empty one
    assert server.asked == [
        ("542d-zyj8", "2", "0", ":id"),
        ("542d-zyj8", "2", "2", ":id"),
        ("542d-zyj8", "2", "4", ":id"),
        ("p43t-fbkj", "2", "0", ":id"),
        ("p43t-fbkj", "2", "2", ":id"),
    ]
    frame = connector.parse(spec, payloads)
    assert frame.columns == [
        "area",
        "period",
        "value",
        "flag",
        "unit",
        "city_code",
        "measure",
        "disclosure_year",
    ]
    assert observed(frame) == EXPECTED
    assert set(frame["unit"]) == {"t CO2e"}
    assert dict(frame.select("area", "city_code").unique().rows()) == {"049": "54409", "091": "31090"}
    check_observations(frame, DATASET)
    assert check_payload(spec, frame) == []


def test_a_renamed_column_is_rejected_naming_the_year_and_column(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    renamed = [
        {
            ("total_scope_1_emissions" if k == "total_scope_1_emissions_metric" else k): v
            for k, v in row.items()
        }
        for row in ROWS_2020
    ]
    Socrata(httpserver, {"542d-zyj8": ROWS_2019, "p43t-fbkj": renamed})
    spec = cdp_spec(httpserver.url_for("/resource"))
    connector = CdpConnector()
    with pytest.raises(ValidationError, match=r"2020 column total_scope_1_emissions_metric \(scope1\)"):
        connector.parse(spec, connector.fetch(spec, fetcher))


def test_text_in_a_number_column_is_rejected_naming_the_account(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    rows = [{**ROWS_2020[0], "total_scope_2_emissions_metric": "Question not applicable"}, ROWS_2020[1]]
    Socrata(httpserver, {"542d-zyj8": ROWS_2019, "p43t-fbkj": rows})
    spec = cdp_spec(httpserver.url_for("/resource"))
    connector = CdpConnector()
    with pytest.raises(ValidationError, match=r"total_scope_2_emissions_metric \(account 54409\).*Question"):
        connector.parse(spec, connector.fetch(spec, fetcher))


def test_the_home_city_absent_is_rejected_by_name(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    no_espoo = {"542d-zyj8": ROWS_2019[1:], "p43t-fbkj": ROWS_2020[1:]}
    Socrata(httpserver, no_espoo)
    spec = cdp_spec(httpserver.url_for("/resource"))
    connector = CdpConnector()
    with pytest.raises(ValidationError, match=r"cdp city name 'Espoo'.*home city espoo"):
        connector.parse(spec, connector.fetch(spec, fetcher))


def test_a_socrata_error_is_a_clear_error(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    Socrata(httpserver, {"542d-zyj8": ROWS_2019})  # p43t-fbkj: 404 with Socrata's error object
    spec = cdp_spec(httpserver.url_for("/resource"))
    with pytest.raises(FetchError, match=r"404"):
        CdpConnector().fetch(spec, fetcher)
    # the same object with HTTP 200 names Socrata's message
    error = {"code": "query.soql.no-such-column", "error": True, "message": "No such column: year"}
    body = json.dumps(error).encode()
    url = httpserver.url_for("/resource/542d-zyj8.json")
    payload = Payload(RequestSpec("GET", url), 200, {"content-type": "application/json"}, body, NOW, url)
    with pytest.raises(ValidationError, match=r"body: expected a JSON array of rows.*No such column: year"):
        CdpConnector().parse(spec, [payload])


def test_a_kt_value_in_the_t_column_is_implausible(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    rows = [{**ROWS_2020[0], "total_scope_1_emissions_metric": "590"}, ROWS_2020[1]]
    Socrata(httpserver, {"542d-zyj8": ROWS_2019, "p43t-fbkj": rows})
    spec = cdp_spec(httpserver.url_for("/resource"))
    connector = CdpConnector()
    violations = check_payload(spec, connector.parse(spec, connector.fetch(spec, fetcher)))
    assert [(v.series["area"], v.period, v.value) for v in violations] == [("049", "2018", 590.0)]


@pytest.mark.parametrize(
    ("cell", "year"),
    [
        ("2018", "2018"),
        (2018, "2018"),
        ("2018-01-01T00:00:00.000", "2018"),
        ("2017-07-01 - 2018-06-30", "2018"),
    ],
)
def test_accounting_years(cell: object, year: str) -> None:
    assert accounting_year(DATASET, "accounting_year", cell) == year


def test_an_unreadable_accounting_year_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"accounting_year: expected a year"):
        accounting_year(DATASET, "accounting_year", "last year")


# ------------------------------------------------------------------------------------------ opt-in


def test_disabled_by_default_not_scheduled_and_not_a_known_dataset(settings_env: pytest.MonkeyPatch) -> None:
    catalogue = load_catalogue()
    assert DATASET not in catalogue.datasets
    assert DATASET in catalogue.disabled
    assert f"ingest:{DATASET}" not in [job.id for job in scheduler.catalogue_jobs(catalogue)]
    with pytest.raises(KeyError, match=r"opt-in, not enabled.*KESTAVA_CDP_ENABLED=true"):
        catalogue.dataset(DATASET)


def test_enabled_by_the_setting_it_is_scheduled(settings_env: pytest.MonkeyPatch) -> None:
    settings_env.setenv("KESTAVA_CDP_ENABLED", "true")
    get_settings.cache_clear()
    catalogue = load_catalogue()
    assert catalogue.dataset(DATASET).protocol == "cdp_socrata"
    assert f"ingest:{DATASET}" in [job.id for job in scheduler.catalogue_jobs(catalogue)]


def _server_catalogue(server: HTTPServer) -> Catalogue:
    """The bundled catalogue's CDP entry alone, pointed at the local server (opt-ins as the settings say)."""
    raw = bundled_raw()
    entry = {**raw["datasets"][DATASET], "url": server.url_for("/resource")}
    return parse_catalogue({"sources": raw["sources"], "datasets": {DATASET: entry}})


def _run(engine: Engine, raw_store: RawStore, catalogue: Catalogue) -> list[Any]:
    fetcher = LiveFetcher(
        DbValidatorCache(engine, raw_store), backoff_base=0.01, backoff_max=0.02, max_attempts=1
    )
    return run_ingest(engine, raw_store, [], catalogue=catalogue, fetcher=fetcher)


def test_a_run_fetches_nothing_from_cdp_unless_enabled(
    settings_env: pytest.MonkeyPatch, httpserver: HTTPServer, engine: Engine, raw_store: RawStore
) -> None:
    server = Socrata(httpserver, {"542d-zyj8": ROWS_2019, "p43t-fbkj": ROWS_2020})
    assert _run(engine, raw_store, _server_catalogue(httpserver)) == []
    assert server.asked == []

    settings_env.setenv("KESTAVA_CDP_ENABLED", "1")
    get_settings.cache_clear()
    (outcome,) = _run(engine, raw_store, _server_catalogue(httpserver))
    assert (outcome.dataset_id, outcome.outcome) == (DATASET, "success"), outcome.error
    assert {asked[0] for asked in server.asked} == {"542d-zyj8", "p43t-fbkj"}
    with engine.connect() as conn:
        count = conn.execute(
            text(
                "select count(*) from observation o join series s on s.id = o.series_id "
                "where s.dataset_id = :d and o.valid_to is null"
            ),
            {"d": DATASET},
        ).scalar()
    assert count == len(EXPECTED)


# ------------------------------------------------------------------------------------------ licence


def test_the_analyst_api_marks_and_warns_of_restricted_rows_until_a_licence_is_declared(
    settings_env: pytest.MonkeyPatch, httpserver: HTTPServer, engine: Engine, raw_store: RawStore
) -> None:
    from kestava import api

    Socrata(httpserver, {"542d-zyj8": ROWS_2019, "p43t-fbkj": ROWS_2020})
    settings_env.setenv("KESTAVA_CDP_ENABLED", "1")
    get_settings.cache_clear()
    (outcome,) = _run(engine, raw_store, _server_catalogue(httpserver))
    assert outcome.outcome == "success", outcome.error
    with pytest.warns(api.RestrictedDataWarning, match=r"cdp_city_emissions.*internally only.*not publish"):
        rows = api.observations(DATASET, engine=engine)
    assert rows.height == len(EXPECTED) and rows["restricted"].to_list() == [True] * rows.height
    settings_env.setenv("KESTAVA_CDP_LICENCE", "written consent of CDP, 2026-11-30")
    get_settings.cache_clear()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", api.RestrictedDataWarning)
        licensed = api.observations(DATASET, engine=engine)
    assert "restricted" not in licensed.columns and licensed.height == rows.height


def test_restricted_rows_are_publishable_only_with_a_declared_licence() -> None:
    catalogue = parse_catalogue(bundled_raw(), switched_on=set())
    assert not publishable(DATASET, catalogue=catalogue, settings=Settings())
    assert not publishable(DATASET, catalogue=catalogue, settings=Settings(cdp_licence="  "))
    enabled = parse_catalogue(bundled_raw(), switched_on={"cdp_enabled"})
    assert not publishable(DATASET, catalogue=enabled, settings=Settings(cdp_enabled=True))
    consent = "Written consent of CDP, 2026-12-01"
    assert publishable(DATASET, catalogue=enabled, settings=Settings(cdp_licence=consent))
    assert declared_licence(DATASET, catalogue=enabled, settings=Settings(cdp_licence=consent)) == consent
    # every other dataset is publishable as before
    assert all(publishable(d, catalogue=catalogue, settings=Settings()) for d in catalogue.datasets)
    with pytest.raises(KeyError):
        publishable("no_such_dataset", catalogue=catalogue)


def test_the_licence_is_read_from_the_environment(settings_env: pytest.MonkeyPatch) -> None:
    assert not publishable(DATASET)
    settings_env.setenv("KESTAVA_CDP_LICENCE", "CDP written consent 2026-12-01")
    get_settings.cache_clear()
    assert publishable(DATASET)


def test_the_catalogue_entry_is_opt_in_and_restricted() -> None:
    spec = parse_catalogue(bundled_raw(), switched_on={"cdp_enabled"}).dataset(DATASET)
    assert (spec.enabled, spec.enabled_by, spec.restricted, spec.licence_setting) == (
        False,
        "cdp_enabled",
        True,
        "cdp_licence",
    )
    options = spec.options["years"]
    assert {year: cfg["id"] for year, cfg in options.items()} == {"2019": "542d-zyj8", "2020": "p43t-fbkj"}
    assert options["2019"]["columns"] == COLUMNS_2019
    assert options["2020"]["columns"] == COLUMNS_2020
