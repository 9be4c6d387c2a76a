"""Tests of the JRC Covenant of Mayors connector against a local server: directory listings and XLSX."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest
from pytest_httpserver import HTTPServer

from common.payload import Payload, RequestSpec
from indicators.catalogue import load_indicator_catalogue
from indicators.derive import derive_sum
from ingest import covenant
from ingest.catalogue import load_catalogue
from ingest.covenant import CovenantConnector, newest_release
from ingest.errors import ValidationError
from ingest.hsy import XLSX_MEDIA_TYPE
from ingest.http import LiveFetcher
from ingest.plausibility import check_payload
from scripts.demo import covenant as demo
from storage.checks import check_observations

ROOT = "/ftp/public/JRC-OpenData/GCOM-MyCovenant/"
INVENTORY_HEADER = (
    "inventory_year",
    "population_in_the_inventory_year",
    "aggregated_sector",
    "aggregated_carrier",
    "energy_measure",
    "emission_measure",
)
SIGNATORIES = [
    ("1418", "Espoo", "fi", "Finland"),
    ("1403", "Helsinki", "fi", "Finland"),
    ("1020", "Stockholm", "se", "Sweden"),
    ("5555", "Espoo", "se", "Sweden"),  # same name, another country: not Espoo
    ("7102", "Kauniainen", "fi", "Finland"),  # not a peer
]
Rows = Sequence[Sequence[str]]


def signatories(rows: Rows = SIGNATORIES) -> bytes:
    header = ("organisation_id", "organisation_name", "country_code", "country_name")
    return demo.xlsx_book([("1", header, rows)])


def action_plans(
    inventories: Rows,
    *,
    plans: Rows = (("100", "1418"), ("200", "1403"), ("300", "1020"), ("900", "7102")),
    header: Sequence[str] = ("action_plan_id", *INVENTORY_HEADER),
    targets: tuple[Sequence[str], Rows] | None = None,
) -> bytes:
    sheets: list[tuple[str, Sequence[str], Rows]] = [
        ("df2_METADATA", ("sheet",), [("2",)]),
        ("2", ("action_plan_id", "organisation_id"), plans),
    ]
    if targets is not None:
        sheets.append(("2A_1", *targets))
    sheets.append(("2D_1", header, inventories))
    return demo.xlsx_book(sheets)


def monitoring(
    inventories: Rows,
    *,
    reports: Rows = (("1418", "100", "7001"), ("1403", "200", "7002")),
    header: Sequence[str] = ("monitoring_report_id", *INVENTORY_HEADER),
    sheet: str = "3D_1",
) -> bytes:
    return demo.xlsx_book(
        [
            ("3", ("organisation_id", "action_plan_id", "monitoring_report_id"), reports),
            (sheet, header, inventories),
        ]
    )


def rows(ident: str, year: int, population: str, *tonnes: str) -> list[tuple[str, ...]]:
    """Sector rows of one inventory: one per emission value."""
    return [(ident, str(year), population, "Transport", f"carrier {i}", "-", t) for i, t in enumerate(tonnes)]


BASELINES = [*rows("100", 1990, "172629", "600000", "460217"), *rows("200", 1990, "492400", "3420000")]
MONITORING = [*rows("7001", 2016, "274583", "1000000", "367949"), *rows("7002", 2017, "643272", "2705000")]


def release_files(
    *, df1: bytes | None = None, df2: bytes | None = None, df3: bytes | None = None
) -> dict[str, bytes]:
    return {
        "df1_Signatories_2024.xlsx": df1 if df1 is not None else signatories(),
        "df2_Action_Plans.xlsx": df2 if df2 is not None else action_plans(BASELINES),
        "df3_Monitoring.xlsx": df3 if df3 is not None else monitoring(MONITORING),
    }


def serve(server: HTTPServer, releases: Mapping[str, Mapping[str, bytes]]) -> None:
    """The root listing with the release folders, each folder's listing and its files."""
    server.clear()
    folders = [(f"{name}/", "2024-11-18 10:12", "-") for name in releases]
    server.expect_request(ROOT).respond_with_data(
        demo.listing_html(ROOT.rstrip("/"), folders), content_type="text/html;charset=UTF-8"
    )
    for name, files in releases.items():
        entries = [(file, "2024-11-18 10:11", "10K") for file in files]
        server.expect_request(f"{ROOT}{name}/").respond_with_data(
            demo.listing_html(f"{ROOT}{name}", entries), content_type="text/html;charset=UTF-8"
        )
        for file, body in files.items():
            server.expect_request(f"{ROOT}{name}/{file}").respond_with_data(
                body, content_type=XLSX_MEDIA_TYPE
            )


@pytest.fixture
def fetcher() -> Iterator[LiveFetcher]:
    with LiveFetcher(max_attempts=1, backoff_base=0.001, backoff_max=0.01, timeout=5) as live:
        yield live


def run(
    server: HTTPServer, fetcher: LiveFetcher, dataset: str = "covenant_inventories", **options: Any
) -> pl.DataFrame:
    spec = load_catalogue().dataset(dataset)
    spec = spec.model_copy(update={"url": server.url_for(ROOT), "options": {**spec.options, **options}})
    connector = CovenantConnector()
    return connector.parse(spec, connector.fetch(spec, fetcher))


def value(frame: pl.DataFrame, **match: str) -> float | None:
    found = frame.filter(pl.all_horizontal(pl.col(k) == v for k, v in match.items()))
    assert found.height == 1, found
    result = found["value"][0]
    return None if result is None else float(result)


# ------------------------------------------------------------------------------------------ releases


def test_the_newest_release_folder_is_read_and_a_new_one_is_chosen_when_it_appears(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    older = release_files(df3=monitoring(rows("7001", 2016, "274583", "999999")))
    serve(httpserver, {"2023_Fourth_release": older, "2024_release": release_files()})

    frame = run(httpserver, fetcher)
    # 1 000 000 + 367 949: the 2024 release, not the 2023 one's 999 999
    assert value(frame, area="049", measure="emissions", period="2016") == 1_367_949

    newer = release_files(df3=monitoring(rows("7001", 2016, "274583", "1300000")))
    serve(
        httpserver,
        {"2023_Fourth_release": older, "2024_release": release_files(), "2025_Sixth_release": newer},
    )
    frame = run(httpserver, fetcher)
    assert value(frame, area="049", measure="emissions", period="2016") == 1_300_000
    assert any("2025_Sixth_release/df3_Monitoring.xlsx" in str(entry[0].url) for entry in httpserver.log)


def test_two_releases_of_the_same_year_without_an_order_fail_naming_both(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    serve(httpserver, {"2024_release_a": release_files(), "2024_release_b": release_files()})
    with pytest.raises(ValidationError, match="equally new") as error:
        run(httpserver, fetcher)
    assert "2024_release_a" in str(error.value) and "2024_release_b" in str(error.value)


def test_the_bundled_demo_release_gives_espoo_its_published_figures(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    serve(httpserver, {"2023_Fourth_release": release_files(), demo.RELEASE: demo.workbooks()})
    frame = check_observations(run(httpserver, fetcher), "covenant_inventories")

    # SOURCES.md: Espoo 1 367 949 t in 2016; its 1990 base 1 060 217 t (CDP); 274 583 residents in 2016
    assert value(frame, area="049", measure="emissions", period="2016") == 1_367_949
    assert value(frame, area="049", measure="emissions", period="1990", inventory="baseline") == 1_060_217
    per_resident = value(frame, area="049", measure="emissions_per_resident", period="2016")
    assert per_resident == pytest.approx(1_367_949 / 274_583)  # 4.98 t
    espoo = frame.filter(pl.col("area") == "049", pl.col("measure") == "emissions")
    assert espoo["city_code"].unique().to_list() == ["1418"]
    assert espoo["inventory"].to_list() == ["baseline", "monitoring", "monitoring"]
    assert espoo["unit"].unique().to_list() == ["t CO2e"]
    assert espoo["reported_unit"].unique().to_list() == ["tCO2 or tCO2e"]
    # peers only: Kauniainen signed but is not a peer; Turku signed without inventories
    assert "7102" not in frame["city_code"].to_list()
    assert "853" not in frame["area"].to_list()
    assert {"091", "092", "837", "398", "stockholm", "malmo", "copenhagen"} <= set(frame["area"].to_list())
    assert not check_payload(load_catalogue().dataset("covenant_inventories"), frame)


# ------------------------------------------------------------------------------------------ inventories


def test_several_inventories_per_city_and_two_of_the_same_year_keep_their_ids(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    reports = (("1418", "100", "7001"), ("1418", "100", "7003"), ("1418", "100", "7004"))
    df3 = monitoring(
        [
            *rows("7001", 2016, "274583", "1367949"),
            *rows("7003", 2019, "289731", "1100000", "50000"),
            *rows("7004", 2019, "289731", "1120000"),
        ],
        reports=reports,
    )
    serve(httpserver, {"2024_release": release_files(df3=df3)})
    frame = run(httpserver, fetcher).filter(pl.col("area") == "049", pl.col("measure") == "emissions")

    assert frame.select("period", "inventory", "inventory_id", "value").rows() == [
        ("1990", "baseline", "AP100", 1_060_217.0),  # 600 000 + 460 217
        ("2016", "monitoring", "MR7001", 1_367_949.0),
        ("2019", "monitoring", "MR7003", 1_150_000.0),  # 1 100 000 + 50 000
        ("2019", "monitoring", "MR7004", 1_120_000.0),
    ]


def test_two_inventories_of_one_city_and_year_one_is_preferred_and_the_indicators_still_derive(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    # a SEAP (plan 100) and a later SECAP (plan 101), both with a 1990 baseline, and two 2019 reports
    plans = (("100", "1418"), ("101", "1418"), ("200", "1403"), ("300", "1020"))
    df2 = action_plans(
        [*BASELINES, *rows("101", 1990, "172629", "1100000")],
        plans=plans,
    )
    reports = (("1418", "100", "7001"), ("1418", "101", "7003"), ("1418", "101", "7004"))
    df3 = monitoring(
        [
            *rows("7001", 2016, "274583", "1367949"),
            *rows("7003", 2019, "289731", "1150000"),
            *rows("7004", 2019, "289731", "1120000"),
        ],
        reports=reports,
    )
    serve(httpserver, {"2024_release": release_files(df2=df2, df3=df3)})
    frame = run(httpserver, fetcher)
    espoo = frame.filter(pl.col("area") == "049", pl.col("measure") == "emissions")
    # both inventories stay stored; the newer document's is the one the indicators use
    assert sorted(espoo.select("period", "inventory_id", "preferred").rows()) == [
        ("1990", "AP100", "false"),
        ("1990", "AP101", "true"),
        ("2016", "MR7001", "true"),
        ("2019", "MR7003", "false"),
        ("2019", "MR7004", "true"),
    ]
    observations = frame.with_columns(
        pl.lit(1).alias("snapshot_id"), pl.lit(datetime(2025, 6, 1)).alias("valid_from")
    )
    catalogue = load_indicator_catalogue()
    for indicator in ("peer_ghg_total_covenant", "peer_ghg_per_resident_covenant"):
        entry = catalogue.get(indicator)
        derived = derive_sum(entry, entry.derive, observations)  # type: ignore[arg-type]
        mine = dict(derived.filter(pl.col("area") == "049").select("period", "value").rows())
        assert set(mine) == {"1990", "2016", "2019"}
    totals = catalogue.get("peer_ghg_total_covenant")
    derived = derive_sum(totals, totals.derive, observations)  # type: ignore[arg-type]
    mine = dict(derived.filter(pl.col("area") == "049").select("period", "value").rows())
    assert mine["1990"] == pytest.approx(1100.0) and mine["2019"] == pytest.approx(1120.0)  # kt


def test_inventory_ids_and_the_baseline_flag_are_read_when_the_sheet_has_them(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    header = ("action_plan_id", "emission_inventory_id", "bei_flag", *INVENTORY_HEADER)
    df2 = action_plans(
        [
            ("100", "EI-1", "TRUE", "1990", "172629", "Transport", "Diesel", "-", "1060217"),
            ("100", "EI-2", "FALSE", "2012", "256760", "Transport", "Diesel", "-", "1200000"),
        ],
        header=header,
    )
    serve(httpserver, {"2024_release": release_files(df2=df2)})
    frame = run(httpserver, fetcher).filter(pl.col("area") == "049", pl.col("measure") == "emissions")
    assert frame.select("period", "inventory", "inventory_id").rows() == [
        ("1990", "baseline", "EI-1"),
        ("2012", "monitoring", "EI-2"),
        ("2016", "monitoring", "MR7001"),
    ]


def test_without_a_baseline_flag_an_action_plans_earliest_year_is_its_baseline(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    df2 = action_plans([*rows("100", 2008, "235019", "1200000"), *rows("100", 1990, "172629", "1060217")])
    serve(httpserver, {"2024_release": release_files(df2=df2)})
    frame = run(httpserver, fetcher).filter(pl.col("area") == "049", pl.col("inventory_id") == "AP100")
    assert sorted(set(frame.select("period", "inventory").rows())) == [
        ("1990", "baseline"),
        ("2008", "monitoring"),
    ]


def test_missing_markers_give_null_values_flagged_missing_and_partial_rows_are_summed(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    df3 = monitoring(
        [
            *rows("7001", 2016, "274583", "1000000", "-", "367949", "null"),  # two cells not reported
            *rows("7002", 2017, "null", "-", "NULL"),  # nothing reported
        ]
    )
    serve(httpserver, {"2024_release": release_files(df3=df3)})
    frame = check_observations(run(httpserver, fetcher), "covenant_inventories")

    assert value(frame, area="049", measure="emissions", period="2016") == 1_367_949
    helsinki = frame.filter(pl.col("area") == "091", pl.col("period") == "2017")
    assert helsinki.height == 3
    assert helsinki["value"].null_count() == 3
    assert helsinki["flag"].unique().to_list() == ["missing"]


def test_text_in_a_number_column_fails_naming_the_column_sheet_and_row(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    df3 = monitoring([*rows("7001", 2016, "274583", "1000000", "n/a")])
    serve(httpserver, {"2024_release": release_files(df3=df3)})
    with pytest.raises(ValidationError) as error:
        run(httpserver, fetcher)
    assert "emission_measure" in error.value.field and "3D_1" in error.value.field
    assert "row 3" in error.value.field and "'n/a'" in str(error.value)


def test_a_renamed_header_fails_naming_the_column(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    header = ("monitoring_report_id", *INVENTORY_HEADER[:-1], "emissions_measure")
    serve(httpserver, {"2024_release": release_files(df3=monitoring(MONITORING, header=header))})
    with pytest.raises(ValidationError) as error:
        run(httpserver, fetcher)
    assert error.value.field == "column 'emission_measure' in sheet '3D_1' of df3_Monitoring.xlsx"
    assert "emissions_measure" in str(error.value)


def test_a_renamed_signatory_header_fails_naming_the_column(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    df1 = demo.xlsx_book([("1", ("organisation_id", "name", "country_code"), SIGNATORIES)])
    serve(httpserver, {"2024_release": release_files(df1=df1)})
    with pytest.raises(ValidationError, match="organisation_name"):
        run(httpserver, fetcher)


def test_a_missing_sheet_fails_naming_the_sheet(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    serve(httpserver, {"2024_release": release_files(df3=monitoring(MONITORING, sheet="3D_2"))})
    with pytest.raises(ValidationError) as error:
        run(httpserver, fetcher)
    assert error.value.field == "sheet '3D_1' of df3_Monitoring.xlsx"
    assert "3D_2" in str(error.value)


def test_a_unit_column_is_read_and_a_wrong_unit_fails(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    header = ("monitoring_report_id", *INVENTORY_HEADER, "emission_reporting_unit")
    good = [(*row, "t CO2-eq") for row in MONITORING]
    serve(httpserver, {"2024_release": release_files(df3=monitoring(good, header=header))})
    frame = run(httpserver, fetcher)
    row = frame.filter(pl.col("area") == "049", pl.col("measure") == "emissions", pl.col("period") == "2016")
    assert row["reported_unit"].to_list() == ["tCO2e"]

    wrong = [(*row, "MWh") for row in MONITORING]
    serve(httpserver, {"2024_release": release_files(df3=monitoring(wrong, header=header))})
    with pytest.raises(ValidationError) as error:
        run(httpserver, fetcher)
    assert "emission_reporting_unit" in error.value.field
    assert error.value.expected == "tCO2 or tCO2e" and "MWh" in str(error.value)


def test_a_kt_value_in_a_t_column_is_caught_by_the_plausibility_ranges(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    df3 = monitoring([*rows("7001", 2016, "274583", "1367.949"), *rows("7002", 2017, "643272", "2705000")])
    serve(httpserver, {"2024_release": release_files(df3=df3)})
    violations = check_payload(load_catalogue().dataset("covenant_inventories"), run(httpserver, fetcher))
    # 1 367.949 (kt written in a t column) passes the 1 000 t floor of a total, but is 0.005 t per resident
    assert {v.rule for v in violations} == {"per_resident"}
    assert violations[0].series["area"] == "049" and violations[0].period == "2016"


def test_an_html_error_page_instead_of_the_workbook_is_rejected(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    entries = [(name, "2024-11-18 10:11", "10K") for name in release_files()]
    httpserver.expect_request(ROOT).respond_with_data(
        demo.listing_html(ROOT, [("2024_release/", "2024-11-18 10:12", "-")]), content_type="text/html"
    )
    httpserver.expect_request(f"{ROOT}2024_release/").respond_with_data(
        demo.listing_html(ROOT, entries), content_type="text/html"
    )
    httpserver.expect_request(f"{ROOT}2024_release/df1_Signatories_2024.xlsx").respond_with_data(
        "<!DOCTYPE html><html><body><h1>Access denied</h1></body></html>", content_type="text/html"
    )
    with pytest.raises(ValidationError) as error:
        run(httpserver, fetcher)
    assert error.value.field == "content-type"


def test_a_workbook_that_is_not_xlsx_is_rejected_naming_the_file(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    serve(httpserver, {"2024_release": release_files(df3=b"Maintenance in progress, try again later")})
    with pytest.raises(ValidationError) as error:
        run(httpserver, fetcher)
    assert error.value.field == "body of df3_Monitoring.xlsx"


def test_a_release_missing_a_workbook_fails_naming_the_role(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    files = release_files()
    del files["df3_Monitoring.xlsx"]
    serve(httpserver, {"2024_release": files})
    with pytest.raises(ValidationError) as error:
        run(httpserver, fetcher)
    assert error.value.field == "monitoring workbook"


# ------------------------------------------------------------------------------------------ targets

TARGET_HEADER = (
    "action_plan_id",
    "co2_target_CoM2030",
    "base_year_CoM2030",
    "reduction_type_CoM2030",
    "co2_target_Mid-term target",
    "base_year_Mid-term target",
    "target_year_Mid-term target",
    "reduction_type_Mid-term target",
)


def test_targets_are_percentages_with_their_base_and_target_years(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    targets = (
        TARGET_HEADER,
        [
            ("100", "0.8", "1990", "absolute", "-", "-", "-", "-"),
            ("300", "-", "-", "-", "0.6", "1990", "2035", "per_capita"),
            ("900", "0.4", "2005", "absolute", "-", "-", "-", "-"),  # Kauniainen: not a peer
        ],
    )
    serve(httpserver, {"2024_release": release_files(df2=action_plans(BASELINES, targets=targets))})
    frame = check_observations(run(httpserver, fetcher, "covenant_targets"), "covenant_targets")
    assert frame.select(
        "area", "period", "value", "unit", "target", "base_year", "reduction_type"
    ).rows() == [
        ("049", "2030", 80.0, "%", "CoM2030", "1990", "absolute"),
        ("stockholm", "2035", 60.0, "%", "Mid-term target", "1990", "per_capita"),
    ]
    assert frame["target_year"].to_list() == ["2030", "2035"]
    assert frame["city_code"].to_list() == ["1418", "1020"]


def test_a_target_written_as_a_percentage_fails(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    targets = (TARGET_HEADER, [("100", "80", "1990", "absolute", "-", "-", "-", "-")])
    serve(httpserver, {"2024_release": release_files(df2=action_plans(BASELINES, targets=targets))})
    with pytest.raises(ValidationError) as error:
        run(httpserver, fetcher, "covenant_targets")
    assert "co2_target_CoM2030" in error.value.field and "fraction" in error.value.expected


@pytest.mark.parametrize(
    ("folders", "newest"),
    [
        (["2023_Third_release", "2023_Fourth_release", "2022_Fifth_release"], "2023_Fourth_release"),
        (["2023_4th_release", "2023_3rd_release"], "2023_4th_release"),
        (["2024_November", "2024_March", "readme"], "2024_November"),
        (["2024_release", "2023_Fourth_release"], "2024_release"),
    ],
)
def test_the_newest_release_by_year_then_ordinal_or_month(
    httpserver: HTTPServer, fetcher: LiveFetcher, folders: list[str], newest: str
) -> None:
    httpserver.expect_request(ROOT).respond_with_data(
        demo.listing_html(ROOT, [(f"{name}/", "2024-11-18 10:12", "-") for name in folders]),
        content_type="text/html",
    )
    name, url = newest_release(
        "covenant_inventories", fetcher.get("t", httpserver.url_for(ROOT), accept="text/html")
    )
    assert name == newest and url == httpserver.url_for(f"{ROOT}{newest}/")


def test_a_listing_read_again_is_parsed_once_and_its_entries_depend_on_body_and_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a scheduler fetches the same listings at every firing: the parse of a body is kept
    fed: list[str] = []
    feed = covenant._Links.feed

    def counted(self: covenant._Links, data: str) -> None:
        fed.append(data)
        feed(self, data)

    monkeypatch.setattr(covenant._Links, "feed", counted)
    body = demo.listing_html(ROOT, [("2024_release/", "2024-11-18 10:12", "-"), ("a.xlsx", "", "1K")])

    def listing(url: str, content: bytes) -> Payload:
        request = RequestSpec(method="GET", url=url)
        return Payload(request, 200, {"content-type": "text/html"}, content, datetime.now(UTC), url)

    base = f"https://example.test{ROOT}"
    first = covenant.listing_links("s", listing(base, body))
    assert first == [("2024_release", f"{base}2024_release/"), ("a.xlsx", f"{base}a.xlsx")] and len(fed) == 1
    first.clear()  # the caller's own list
    assert covenant.listing_links("s", listing(base, bytes(body))) == [
        ("2024_release", f"{base}2024_release/"),
        ("a.xlsx", f"{base}a.xlsx"),
    ]
    assert len(fed) == 1  # an equal body: not parsed again
    other = "https://mirror.test/jrc/"
    assert covenant.listing_links("s", listing(other, body))[1] == ("a.xlsx", f"{other}a.xlsx")
    changed = body.replace(b"a.xlsx", b"b.xlsx")
    assert covenant.listing_links("s", listing(base, changed))[1] == ("b.xlsx", f"{base}b.xlsx")
    assert len(fed) == 3
    with pytest.raises(ValidationError, match="no links"):  # an error is not kept: raised every time
        covenant.listing_links("s", listing(base, b"<html><body>nothing</body></html>"))
    with pytest.raises(ValidationError, match="no links"):
        covenant.listing_links("s", listing(base, b"<html><body>nothing</body></html>"))
