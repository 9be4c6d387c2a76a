"""SykeConnector: per-municipality ALas CSVs (`;`, decimal comma, NA) served by a real local HTTP server."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine
from werkzeug import Request, Response

from common.payload import Payload, RequestSpec
from ingest import syke
from ingest.catalogue import DatasetSpec, load_catalogue
from ingest.connector import Connector
from ingest.errors import ValidationError
from ingest.http import HttpError, LiveFetcher
from ingest.manifest import DEFAULT_SNAPSHOT_DIR, Manifest, read_manifest
from ingest.replay import ReplayFetcher
from ingest.syke import (
    TASO3,
    SykeConnector,
    UrlFormMemory,
    current_municipality_codes,
    merged_municipalities,
    municipalities,
    request_codes,
)
from scripts.demo import syke as demo
from scripts.demo.calibration import ESPOO_HSY_TOTAL_KT

PATH = "/Tulokset_taso_5/kunta_{municipality}.csv"
HEADER = "kt;kt_tuuli;GWh;hinku_laskenta;päästökauppa;vuosi;taso_3;taso_4;taso_5"
ESPOO_CSV = "\n".join(
    [
        HEADER,
        "12,5;10,25;100,5;On;Ei;2020;Kul;Kulutussähkö;Kotitaloudet",
        "3,75;3,75;NA;Ei;Ei;2020;Kul;Kulutussähkö;Teollisuus",
        "40;40;150;On;On;2020;Kau;Kaukolämpö;Asuinrakennukset",
        "20,125;20,125;80;Ei;On;2020;Teo;Teollisuus;Polttoaineet, päästökauppa",
        "7,5;7,5;30;Ei;Ei;2020;Tie;Läpiajo;Henkilöautot",
        "NA;-2,5;NULL;On;Ei;2020;Tuu;Tuulivoima;",
        "1,5;1,5;;On;Ei;2020;F-k;F-kaasut;",
        "11;11;95;On;Ei;1990;Kul;Kulutussähkö;Kotitaloudet",
    ]
).encode("utf-8")


def municipality_csv(code: str) -> bytes:
    """A small file whose emissions encode the municipality number (049 -> 49,5 kt)."""
    value = f"{int(code)},5"
    return f"{HEADER}\n{value};{value};1,0;On;Ei;2024;Tie;Katuajo;Henkilöautot\n".encode()


@pytest.fixture
def fetcher() -> Iterator[LiveFetcher]:
    with LiveFetcher(max_attempts=2, backoff_base=0.001, backoff_max=0.01, timeout=5.0) as live:
        yield live


def make_spec(httpserver: HTTPServer, **options: object) -> DatasetSpec:
    base = load_catalogue().dataset("syke_emissions")
    return base.model_copy(update={"url": httpserver.url_for(PATH), "options": {**base.options, **options}})


def run(spec: DatasetSpec, fetcher: LiveFetcher, memory: UrlFormMemory | None = None) -> pl.DataFrame:
    connector = SykeConnector(memory=memory or UrlFormMemory(None))
    return connector.parse(spec, connector.fetch(spec, fetcher))


def csv_path(code: str) -> str:
    return PATH.replace("{municipality}", code)


def test_three_municipalities_parsed_with_decimal_comma_and_nulls(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    spec = make_spec(httpserver, municipalities=["049", "91", 235])
    httpserver.expect_request(csv_path("49")).respond_with_data(ESPOO_CSV, content_type="text/csv")
    for code in ("091", "235"):
        httpserver.expect_request(csv_path(str(int(code)))).respond_with_data(
            municipality_csv(code), content_type="text/csv"
        )
    frame = run(spec, fetcher)

    # the numbers unpadded in the URL (kunta_49.csv), as Syke's files are named
    assert [request.path for request, _ in httpserver.log] == [csv_path(c) for c in ("49", "91", "235")]
    assert frame.columns[:5] == ["area", "period", "value", "flag", "unit"]
    assert set(frame["area"]) == {"049", "091", "235"}
    espoo = frame.filter(pl.col("area") == "049", pl.col("period") == "2020")
    emissions = espoo.filter(pl.col("measure") == "emissions")
    assert emissions["value"].sum() == pytest.approx(12.5 + 3.75 + 40 + 20.125 + 7.5 + 1.5)
    assert emissions["value"].null_count() == 1  # the Tuu row's kt is NA: null, not 0
    wind = espoo.filter(pl.col("measure") == "emissions_wind_credit")
    assert wind["value"].sum() == pytest.approx(10.25 + 3.75 + 40 + 20.125 + 7.5 - 2.5 + 1.5)
    energy = espoo.filter(pl.col("measure") == "energy")
    assert energy["unit"].unique().to_list() == ["GWh"]
    assert energy["value"].null_count() == 3  # NA, NULL and empty
    assert (
        energy.filter(pl.col("taso_3") == "Kul", pl.col("taso_5") == "Kotitaloudet")["value"].item() == 100.5
    )
    assert set(frame.filter(pl.col("measure") != "energy")["unit"]) == {"kt CO2e"}
    assert frame.filter(pl.col("area") == "091", pl.col("measure") == "emissions")["value"].to_list() == [
        91.5
    ]


def test_accounting_rules_are_kept_so_every_total_can_be_derived(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    spec = make_spec(httpserver, municipalities=["049"])
    httpserver.expect_request(csv_path("49")).respond_with_data(ESPOO_CSV, content_type="text/csv")
    frame = run(spec, fetcher).filter(pl.col("period") == "2020")
    emissions = frame.filter(pl.col("measure") == "emissions")
    wind = frame.filter(pl.col("measure") == "emissions_wind_credit")
    hinku_total = wind.filter(pl.col("hinku") == "on")["value"].sum()
    assert hinku_total == pytest.approx(10.25 + 40 - 2.5 + 1.5)
    assert emissions.filter(pl.col("ets") == "on")["value"].sum() == pytest.approx(40 + 20.125)
    assert emissions.filter(pl.col("ets") == "ei")["value"].sum() == pytest.approx(12.5 + 3.75 + 7.5 + 1.5)
    assert set(frame["hinku"]) == {"on", "ei"}
    row = frame.filter(pl.col("taso_3") == "Kau").row(0, named=True)
    assert (row["taso_1"], row["taso_2"], row["taso_4"], row["taso_5"]) == (
        "Lämmitys",
        "Kaukolämpö",
        "Kaukolämpö",
        "Asuinrakennukset",
    )
    fgas = frame.filter(pl.col("taso_3") == "F-k").row(0, named=True)
    assert fgas["taso_5"] == ""
    for column in ("taso_1", "taso_2", "taso_3", "taso_4", "taso_5", "hinku", "ets", "measure"):
        assert frame[column].null_count() == 0


def test_a_404_on_the_unpadded_name_falls_back_to_the_padded_and_remembers_it(
    httpserver: HTTPServer, fetcher: LiveFetcher, tmp_path: Path
) -> None:
    """Syke's file names are unpadded (kunta_49.csv) by the evidence; if a release pads them, the padded
    name is tried on 404, used for the rest, and asked first by the next run (even after a restart)."""
    spec = make_spec(httpserver, municipalities=["049", "235"])
    for code in ("049", "235"):
        httpserver.expect_request(csv_path(code)).respond_with_data(municipality_csv(code))
    httpserver.expect_request(csv_path("49")).respond_with_data("Not Found", status=404)
    memory_file = tmp_path / "state" / "url_forms.json"
    frame = run(spec, fetcher, UrlFormMemory(memory_file))
    assert set(frame["area"]) == {"049", "235"}  # areas are always three digits
    assert [r.path for r, _ in httpserver.log] == [csv_path(c) for c in ("49", "049", "235")]
    assert json.loads(memory_file.read_text(encoding="utf-8")) == {"syke_emissions": "padded"}

    httpserver.clear_log()
    run(spec, fetcher, UrlFormMemory(memory_file))  # a new process: the padded form is asked first
    assert [r.path for r, _ in httpserver.log] == [csv_path(c) for c in ("049", "235")]


def test_the_padded_form_remembered_falls_back_to_unpadded_again(
    httpserver: HTTPServer, fetcher: LiveFetcher, tmp_path: Path
) -> None:
    memory_file = tmp_path / "url_forms.json"
    memory_file.write_text('{"syke_emissions": "padded"}', encoding="utf-8")
    spec = make_spec(httpserver, municipalities=["049"])
    httpserver.expect_request(csv_path("049")).respond_with_data("Not Found", status=404)
    httpserver.expect_request(csv_path("49")).respond_with_data(municipality_csv("049"))
    assert run(spec, fetcher, UrlFormMemory(memory_file))["area"].unique().to_list() == ["049"]
    assert json.loads(memory_file.read_text(encoding="utf-8")) == {"syke_emissions": "unpadded"}


def test_both_names_404_is_a_fetch_error_naming_both_urls(
    httpserver: HTTPServer, fetcher: LiveFetcher, tmp_path: Path
) -> None:
    spec = make_spec(httpserver, municipalities=["049"])
    httpserver.expect_request(re.compile(r".*")).respond_with_data("Not Found", status=404)
    memory_file = tmp_path / "url_forms.json"
    with pytest.raises(HttpError) as caught:
        run(spec, fetcher, UrlFormMemory(memory_file))
    assert caught.value.source == "syke_emissions" and caught.value.status == 404
    assert caught.value.field == "municipality 049"
    assert "kunta_49.csv" in str(caught.value) and "kunta_049.csv" in str(caught.value)
    assert not memory_file.exists()  # nothing answered: nothing to remember


def test_only_a_404_falls_back(httpserver: HTTPServer, tmp_path: Path) -> None:
    spec = make_spec(httpserver, municipalities=["049"])
    httpserver.expect_request(csv_path("49")).respond_with_data("Service Unavailable", status=503)
    with LiveFetcher(max_attempts=1, timeout=5.0) as fetcher, pytest.raises(HttpError) as caught:
        run(spec, fetcher, UrlFormMemory(tmp_path / "url_forms.json"))
    assert caught.value.status == 503
    assert [r.path for r, _ in httpserver.log] == [csv_path("49")]  # the padded name was not tried


def test_the_zero_pad_option_is_no_longer_read(httpserver: HTTPServer) -> None:
    with pytest.raises(ValueError, match="zero_pad is no longer read"):
        request_codes(make_spec(httpserver, municipalities=["049"], zero_pad=True))


def test_all_308_municipalities_of_today_in_one_run(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    """ "all" asks for today's municipalities: not Pertunmaa (588), which joined Mäntyharju in 2025."""

    def handler(request: Request) -> Response:
        code = re.fullmatch(r"/Tulokset_taso_5/kunta_([1-9]\d{0,2})\.csv", request.path)
        assert code is not None
        return Response(municipality_csv(code.group(1).zfill(3)), content_type="text/csv")

    httpserver.expect_request(re.compile(r"^/Tulokset_taso_5/kunta_\d{1,3}\.csv$")).respond_with_handler(
        handler
    )
    spec = make_spec(httpserver, municipalities="all")
    started = time.perf_counter()
    frame = run(spec, fetcher)
    assert time.perf_counter() - started < 10
    assert len(httpserver.log) == 308
    assert csv_path("588") not in {request.path for request, _ in httpserver.log}
    assert frame["area"].n_unique() == 308
    emissions = frame.filter(pl.col("measure") == "emissions")
    assert dict(emissions.select("area", "value").iter_rows()) == {
        code: int(code) + 0.5 for code in current_municipality_codes()
    }


def test_municipality_list_has_the_309_codes_of_2021_with_names_and_the_2025_merger() -> None:
    rows = municipalities()
    assert len(rows) == 309
    assert len({code for code, _, _ in rows}) == 309
    # Pertunmaa joined Mäntyharju on 1 January 2025 (Finnish Government decision of 6 June 2024): its name
    # still labels older data, but no source publishes it any more
    assert merged_municipalities() == {"588": ("507", "2024-12-31")}
    today = current_municipality_codes()
    assert len(today) == 308 and "588" not in today and "507" in today
    names = {code: (fi, sv) for code, fi, sv in rows}
    assert names["049"] == ("Espoo", "Esbo")
    assert names["091"] == ("Helsinki", "Helsingfors")
    assert names["092"] == ("Vantaa", "Vanda")
    assert names["235"] == ("Kauniainen", "Grankulla")
    for code, name in {
        "837": "Tampere",
        "853": "Turku",
        "564": "Oulu",
        "179": "Jyväskylä",
        "398": "Lahti",
    }.items():
        assert names[code][0] == name
    assert all(re.fullmatch(r"\d{3}", code) for code in names)


def test_connector_fulfils_the_protocol() -> None:
    connector: Connector = SykeConnector()
    assert (connector.protocol, connector.reader_version) == ("syke_csv", "syke-csv/2")
    assert load_catalogue().dataset("syke_emissions").protocol == connector.protocol


def test_a_merged_municipality_is_refused_naming_the_one_it_joined(httpserver: HTTPServer) -> None:
    with pytest.raises(ValueError, match=r"'588' no longer exists after 2024-12-31: it joined 507") as caught:
        request_codes(make_spec(httpserver, municipalities=["049", "588"]))
    assert "ask for 507" in str(caught.value)
    assert list(request_codes(make_spec(httpserver, municipalities=["049", "507"]))) == ["049", "507"]


def test_unknown_municipality_option_is_a_clear_error(httpserver: HTTPServer) -> None:
    with pytest.raises(ValueError, match="'999' is not a Finnish municipality number"):
        request_codes(make_spec(httpserver, municipalities=["049", "999"]))
    with pytest.raises(ValueError, match="list of municipality numbers"):
        request_codes(make_spec(httpserver, municipalities="some"))


def test_renamed_column_names_the_field(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    spec = make_spec(httpserver, municipalities=["049"])
    body = ESPOO_CSV.replace(b"kt_tuuli", b"kt_wind", 1)
    httpserver.expect_request(csv_path("49")).respond_with_data(body, content_type="text/csv")
    with pytest.raises(ValidationError) as caught:
        run(spec, fetcher)
    assert caught.value.field == "kunta_49.csv: column 'kt_tuuli'"
    assert "kt_wind" in (caught.value.got or "")


def _parse(body: bytes, code: str = "049") -> pl.DataFrame:
    spec = load_catalogue().dataset("syke_emissions")
    url = spec.url.replace("{municipality}", code)
    payload = Payload(
        RequestSpec("GET", url), 200, {"content-type": "text/csv"}, body, datetime.now(UTC), url
    )
    return SykeConnector().parse(spec, [payload])


def test_dot_decimal_file_is_detected() -> None:
    body = ESPOO_CSV.replace(b"12,5", b"12.5").replace(b"3,75", b"3.75")
    with pytest.raises(ValidationError, match="decimal comma") as caught:
        _parse(body)
    assert caught.value.field == "kunta_049.csv: column 'kt', line 2"


def test_text_in_a_numeric_column_names_column_and_line() -> None:
    body = ESPOO_CSV.replace(b"40;40;150", b"40;40;paljon")
    with pytest.raises(ValidationError) as caught:
        _parse(body)
    assert caught.value.field == "kunta_049.csv: column 'GWh', line 4"
    assert caught.value.got == "'paljon'"


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (b";On;On;2020;Kau", b";Kylla;On;2020;Kau", "column 'hinku_laskenta', line 4"),
        (b";On;On;2020;Kau", b";on;ON;2020;Kau", None),  # On/Ei in any case
        (b"2020;Kau", b"20x0;Kau", "column 'vuosi', line 4"),
        (b"2020;Kau", b"1985;Kau", "column 'vuosi', line 4"),
        (b"2020;Kau", b"2020;Xyz", "column 'taso_3', line 4"),
    ],
)
def test_bad_values_are_rejected(old: bytes, new: bytes, field: str | None) -> None:
    body = ESPOO_CSV.replace(old, new)
    if field is None:
        assert _parse(body).height > 0
        return
    with pytest.raises(ValidationError) as caught:
        _parse(body)
    assert caught.value.field == f"kunta_049.csv: {field}"


def test_full_taso3_names_are_accepted_and_mapped_to_codes() -> None:
    frame = _parse(ESPOO_CSV.replace(b";Kau;", b";Kaukol\xc3\xa4mp\xc3\xb6;"))
    assert "Kau" in set(frame["taso_3"])
    assert set(frame["taso_3"]) <= set(TASO3)


def test_a_row_repeated_exactly_is_counted_once_with_a_note(caplog: pytest.LogCaptureFixture) -> None:
    """Some releases repeat rows (reported for the Åland municipalities): identical rows count once."""
    line = b"\n40;40;150;On;On;2020;Kau;Kaukol\xc3\xa4mp\xc3\xb6;Asuinrakennukset"
    once = _parse(ESPOO_CSV)
    with caplog.at_level("WARNING", logger="ingest.syke"):
        twice = _parse_many({"478": ESPOO_CSV + line + line})  # Maarianhamina / Mariehamn
    assert (
        twice.drop("area")
        .sort(twice.drop("area").columns)
        .equals(once.drop("area").sort(once.drop("area").columns))
    )
    (note,) = [r.getMessage() for r in caplog.records if "repeated exactly" in r.getMessage()]
    assert "kunta_478.csv: 2 row(s) repeated exactly (lines 10, 11)" in note


def test_a_repeated_row_with_other_numbers_is_rejected_naming_the_line() -> None:
    line = b"\n41;41;150;On;On;2020;Kau;Kaukol\xc3\xa4mp\xc3\xb6;Asuinrakennukset"
    with pytest.raises(ValidationError, match="one row per year") as caught:
        _parse(ESPOO_CSV + line)
    assert caught.value.field in ("kunta_049.csv: line 4", "kunta_049.csv: line 10")
    assert "other numbers" in str(caught.value)


def test_comma_separated_file_is_explained() -> None:
    with pytest.raises(ValidationError, match="','-separated"):
        _parse(b"kt,kt_tuuli,GWh\n1,2,3\n")


def test_header_only_file_is_rejected() -> None:
    with pytest.raises(ValidationError, match="at least one data row"):
        _parse(HEADER.encode() + b"\n")


def test_html_page_with_status_200_is_a_validation_error(
    httpserver: HTTPServer, fetcher: LiveFetcher
) -> None:
    spec = make_spec(httpserver, municipalities=["049"])
    httpserver.expect_request(csv_path("49")).respond_with_data(
        "<!DOCTYPE html><html><body>Sivua ei löytynyt</body></html>", content_type="text/html"
    )
    with pytest.raises(ValidationError):
        run(spec, fetcher)


def test_payload_from_another_url_is_rejected() -> None:
    spec = load_catalogue().dataset("syke_emissions")
    url = "https://example.test/other.csv"
    payload = Payload(RequestSpec("GET", url), 200, {}, ESPOO_CSV, datetime.now(UTC), url)
    with pytest.raises(ValidationError, match="payload URL"):
        SykeConnector().parse(spec, [payload])


def _parse_many(bodies: dict[str, bytes]) -> pl.DataFrame:
    """Several municipalities' files parsed together (the joined read when their headers agree)."""
    spec = load_catalogue().dataset("syke_emissions")
    spec = spec.model_copy(update={"options": {**spec.options, "municipalities": list(bodies)}})
    payloads = []
    for code, body in bodies.items():
        url = spec.url.replace("{municipality}", code)
        payloads.append(
            Payload(RequestSpec("GET", url), 200, {"content-type": "text/csv"}, body, datetime.now(UTC), url)
        )
    return SykeConnector().parse(spec, payloads)


MANY = ("005", "009", "010", "016", "018", "019", "020", "046", "047", "049", "050", "051")


def test_many_files_read_together_keep_area_and_values(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_file_by_file(*args: object) -> None:
        raise AssertionError("regular files are read with one read_csv")

    monkeypatch.setattr("ingest.syke._read_csv", not_file_by_file)
    bodies = {code: municipality_csv(code) for code in MANY}
    bodies["049"] = b"\xef\xbb\xbf" + ESPOO_CSV.replace(b"\n", b"\r\n")  # BOM, CRLF, no final newline
    frame = _parse_many(bodies)
    emissions = frame.filter(pl.col("measure") == "emissions", pl.col("area") != "049")
    assert dict(emissions.select("area", "value").iter_rows()) == {
        code: int(code) + 0.5 for code in MANY if code != "049"
    }
    espoo = frame.filter(pl.col("area") == "049", pl.col("measure") == "emissions")
    assert espoo.height == 8
    assert espoo.filter(pl.col("taso_5") == "Kotitaloudet", pl.col("period") == "1990")["value"].item() == 11


def test_bad_value_among_many_files_names_its_file_and_line() -> None:
    bodies = {code: municipality_csv(code) for code in MANY}
    bodies["047"] = ESPOO_CSV.replace(b"40;40;150", b"40;40;paljon")
    with pytest.raises(ValidationError) as caught:
        _parse_many(bodies)
    assert caught.value.field == "kunta_047.csv: column 'GWh', line 4"
    assert caught.value.got == "'paljon'"


def test_different_header_among_many_files_is_named() -> None:
    bodies = {code: municipality_csv(code) for code in MANY}
    bodies["020"] = bodies["020"].replace(b"kt_tuuli", b"kt_wind", 1)
    with pytest.raises(ValidationError) as caught:
        _parse_many(bodies)
    assert caught.value.field == "kunta_020.csv: column 'kt_tuuli'"
    assert "kt_wind" in (caught.value.got or "")


def test_reordered_columns_among_many_files_are_read_file_by_file() -> None:
    bodies = {code: municipality_csv(code) for code in MANY}
    columns = HEADER.split(";")
    reordered = ";".join(reversed(columns))
    value = "20,5"
    row = ";".join(reversed([value, value, "1,0", "On", "Ei", "2024", "Tie", "Katuajo", "Henkilöautot"]))
    bodies["020"] = f"{reordered}\n{row}\n".encode()
    frame = _parse_many(bodies).filter(pl.col("measure") == "emissions")
    assert dict(frame.select("area", "value").iter_rows()) == {code: int(code) + 0.5 for code in MANY}


def test_cp1252_and_quoted_files_among_many_are_read_file_by_file() -> None:
    bodies = {code: municipality_csv(code) for code in MANY}
    bodies["010"] = bodies["010"].decode("utf-8").encode("cp1252")
    bodies["016"] = bodies["016"].replace(b";Katuajo;", b';"Katuajo";')
    frame = _parse_many(bodies).filter(pl.col("measure") == "emissions")
    assert dict(frame.select("area", "value").iter_rows()) == {code: int(code) + 0.5 for code in MANY}
    assert set(frame["taso_4"]) == {"Katuajo"}


def test_header_only_file_among_many_is_named() -> None:
    bodies = {code: municipality_csv(code) for code in MANY}
    bodies["046"] = HEADER.encode() + b"\n"
    with pytest.raises(ValidationError, match="at least one data row") as caught:
        _parse_many(bodies)
    assert caught.value.field == "kunta_046.csv"


@pytest.mark.parametrize(
    ("value", "field", "expected"),
    [
        ("inf", "column 'kt', line 3", "a number or NA"),
        (",5", "column 'kt', line 3", "a number or NA"),
        ("5,", "column 'kt', line 3", "a number or NA"),
        ("-,5", "column 'kt', line 3", "a number or NA"),
        ("5,e3", "column 'kt', line 3", "a number or NA"),
        ("5.5", "column 'kt', line 3", "a decimal comma"),
        ("paljon", "column 'kt', line 3", "a number or NA"),
    ],
)
def test_numbers_read_by_polars_are_checked_as_written(value: str, field: str, expected: str) -> None:
    """Plain files (no '.', spaces or misplaced commas) have their numbers read by polars, which would
    also take these: each must still be rejected naming the file, column and line."""
    bodies = {code: municipality_csv(code) for code in MANY}
    bodies["047"] += f"{value};1,0;1,0;On;Ei;2024;Tie;Katuajo;Kuorma-autot\n".encode()
    with pytest.raises(ValidationError, match=expected) as caught:
        _parse_many(bodies)
    assert caught.value.field == f"kunta_047.csv: {field}"


def test_numbers_read_by_polars_equal_those_read_as_text() -> None:
    bodies = {code: municipality_csv(code) for code in MANY}
    bodies["047"] += b"-1,25e2;+0,5;007;true;FALSE;2024;Tie;Katuajo;Kuorma-autot\n"
    plain = _parse_many(bodies)
    bodies["047"] = bodies["047"].replace(b"Katuajo;Kuorma", b"Katuajo; Kuorma")  # a space: read as text
    assert_frame_equal(plain, _parse_many(bodies), check_exact=True)
    row = plain.filter(pl.col("area") == "047", pl.col("taso_5") == "Kuorma-autot")
    assert dict(row.select("measure", "value").iter_rows()) == {
        "emissions": -125.0,
        "emissions_wind_credit": 0.5,
        "energy": 7.0,
    }
    assert row.select("hinku", "ets").unique().rows() == [("on", "ei")]


def test_ragged_line_among_many_files_is_named() -> None:
    bodies = {code: municipality_csv(code) for code in MANY}
    bodies["018"] = bodies["018"] + b"1;2;3;On;Ei;2024;Tie;Katuajo;x;extra;more\n"
    with pytest.raises(ValidationError) as caught:
        _parse_many(bodies)
    assert caught.value.field == "kunta_018.csv"


# --------------------------------------------------------------------------------------------------
# The demo snapshot generator


def test_demo_snapshot_replays_through_the_connector(tmp_path: Path) -> None:
    manifest = Manifest(label="demo", description="test", created="2026-11-23")
    demo.generate(tmp_path, manifest)
    spec = load_catalogue().dataset("syke_emissions")
    connector = SykeConnector()
    frame = connector.parse(spec, connector.fetch(spec, ReplayFetcher(tmp_path, manifest=manifest)))

    assert set(frame["area"]) == {"049", "091", "092", "235", "837", "853", "564"}
    assert sorted(set(frame["period"])) == ["1990", *[str(y) for y in range(2005, 2025)]]
    emissions = frame.filter(pl.col("measure") == "emissions", pl.col("area") == "049")
    alas = dict(emissions.group_by("period").agg(pl.col("value").sum()).iter_rows())
    for year in (1990, 2015, 2024):
        ratio = alas[str(year)] / ESPOO_HSY_TOTAL_KT[year]
        assert 1.02 < ratio < 1.25  # close to HSY, but not the same figure
    wind = frame.filter(pl.col("measure") == "emissions_wind_credit", pl.col("area") == "049")
    hinku_2024 = wind.filter(pl.col("hinku") == "on", pl.col("period") == "2024")["value"].sum()
    assert hinku_2024 < alas["2024"]
    assert set(frame["ets"]) == {"on", "ei"}
    assert frame.filter(pl.col("taso_3") == "Tuu", pl.col("measure") == "emissions")["value"].null_count() > 0
    exchange = manifest.exchanges[0]
    assert {"content-type", "etag", "last-modified", "date"} <= set(exchange.headers)

    again = tmp_path / "again"
    demo.generate(again, Manifest(label="demo", description="test", created="2026-11-23"))
    for path in (tmp_path / "syke_emissions").iterdir():
        second = again / "syke_emissions" / path.name
        assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()


@pytest.mark.parametrize(("on", "off"), [("true", "false"), ("TRUE", "False"), ("1", "0")])
def test_boolean_flag_spellings_read_as_on_and_ei(on: str, off: str) -> None:
    """The CSVs may write the flags as true/false or 1/0 (SOURCES.md): they mean the same as On/Ei."""
    lines = ESPOO_CSV.decode().split("\n")
    spelling = {"On": on, "Ei": off}
    swapped = [lines[0]]
    for line in lines[1:]:
        fields = line.split(";")
        if len(fields) > 4:  # hinku_laskenta and päästökauppa are the 4th and 5th columns
            fields[3], fields[4] = spelling[fields[3]], spelling[fields[4]]
        swapped.append(";".join(fields))
    body = "\n".join(swapped).encode()
    assert b";On;" not in body and b";Ei;" not in body
    assert_frame_equal(_parse(body), _parse(ESPOO_CSV))


@pytest.mark.parametrize("bad", ["yes", "2", "kyllä"])
def test_an_unknown_flag_spelling_is_rejected_naming_what_is_expected(bad: str) -> None:
    body = ESPOO_CSV.replace(b";On;On;2020;Kau", f";{bad};On;2020;Kau".encode())
    with pytest.raises(ValidationError) as caught:
        _parse(body)
    assert caught.value.field == "kunta_049.csv: column 'hinku_laskenta', line 4"
    assert "true/false" in str(caught.value)


# --------------------------------------------------------------------------------------------------
# The one label table of Syke's short codes


def test_every_code_of_the_bundled_files_has_a_name_in_fi_sv_and_en() -> None:
    from report.i18n import LANGS, SYKE_LEVELS, syke_label

    spec = load_catalogue().dataset("syke_emissions")
    manifest = read_manifest(DEFAULT_SNAPSHOT_DIR)
    payloads = SykeConnector(memory=UrlFormMemory(None)).fetch(
        spec, ReplayFetcher(DEFAULT_SNAPSHOT_DIR, manifest=manifest)
    )
    frame = SykeConnector(memory=UrlFormMemory(None)).parse(spec, payloads)
    for level in SYKE_LEVELS:
        codes = set(frame[level]) - {""}
        assert codes, level
        for code in codes:
            names = {syke_label(level, code, lang) for lang in LANGS}
            assert code not in names, (level, code)  # a name, not the code again
            assert all(names), (level, code)
    assert syke_label("taso_4", "Kad", "sv") == "Gatukörning"
    assert syke_label("taso_5", "Hen", "en") == "Passenger cars"
    assert set(TASO3) <= {c for c in TASO3 if syke_label("taso_3", c, "fi") != c}


def test_an_unknown_code_is_shown_as_written_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    from report.i18n import syke_label

    with caplog.at_level("WARNING", logger="report.i18n"):
        assert syke_label("taso_5", "Xyz", "fi") == "Xyz"
    assert any("'Xyz' has no label" in r.getMessage() for r in caplog.records)
    with pytest.raises(ValueError, match="taso_3, taso_4, taso_5"):
        syke_label("taso_9", "Kad", "fi")


def test_api_observations_name_the_codes_in_the_language_asked(loaded_engine: Engine) -> None:
    from kestava import api

    frame = api.observations("syke_emissions", area="Espoo", lang="sv", engine=loaded_engine)
    road = frame.filter(pl.col("taso_3") == "Tie", pl.col("taso_4") == "Kad", pl.col("taso_5") == "Hen")
    assert road.height > 0
    assert road.select("taso_3_name", "taso_4_name", "taso_5_name").unique().rows() == [
        ("Vägtrafik", "Gatukörning", "Personbilar")
    ]
    assert "taso_3_name" not in api.observations("syke_emissions", engine=loaded_engine).columns


def test_a_file_of_mixed_encodings_among_many_is_named() -> None:
    # a UTF-8 header over a Latin-1 row: the joined read must not crash on the byte that is not UTF-8;
    # the file read on its own (as cp1252, being no UTF-8) fails the header check, which names it
    bodies = {code: municipality_csv(code) for code in MANY}
    header, rows = bodies["010"].split(b"\n", 1)
    bodies["010"] = header + b"\n" + rows.decode("utf-8").encode("cp1252")
    assert b"Henkil\xf6autot" in bodies["010"]  # a byte that is not UTF-8, after a header that is
    with pytest.raises(ValidationError, match="expected the ALas columns") as caught:
        _parse_many(bodies)
    assert caught.value.field == "kunta_010.csv: column 'päästökauppa'"


_TEXT_BYTES = st.sampled_from([b"1", b"0", b",", b";", b"\n", b"+", b"-", b"e", b"E", b"a", "ä".encode()])
_RARE_BYTES = st.sampled_from([b"\r", b".", b" ", b"\t", b"\xe4"])


@settings(max_examples=400, deadline=None)
@given(
    header=st.lists(_TEXT_BYTES.filter(lambda b: b != b"\n"), min_size=1, max_size=6).map(b"".join),
    files=st.lists(
        st.tuples(st.booleans(), st.lists(_TEXT_BYTES | _RARE_BYTES, max_size=12).map(b"".join)),
        min_size=1,
        max_size=4,
    ),
)
def test_plain_numbers_file_by_file_is_the_check_of_the_joined_bytes(
    header: bytes, files: list[tuple[bool, bytes]]
) -> None:
    # Each body: the header line (perhaps ended by CR + LF), then its data lines, with or without a last
    # line end; joined as _read_joined joins them. The check is, by definition, over the joined bytes.
    bodies = [header + (b"\r" if crlf else b"") + b"\n" + lines for crlf, lines in files]
    parts = [lines + (b"" if lines.endswith(b"\n") else b"\n") for _, lines in files]
    data = b"".join([header, b"\n", *parts])
    try:
        data.decode("utf-8")
        utf8 = True
    except UnicodeDecodeError:
        utf8 = False
    expected = (
        utf8
        and not any(character in data for character in b". \t\r\x0b\x0c")
        and re.search(rb"[;\n+\-],|,[;\neE]", data) is None
    )
    assert syke._plain_numbers(data, header, bodies) is expected


def test_a_file_ending_in_a_comma_without_a_line_end_is_not_plain() -> None:
    header = b"kt;x"
    assert syke._plain_numbers(b"kt;x\n1,5;a\n", header, [b"kt;x\n1,5;a"])
    assert not syke._plain_numbers(b"kt;x\n1,5;a,\n", header, [b"kt;x\n1,5;a,"])
    # a header ending in ',' is followed by LF in the joined bytes, by CR + LF in a body
    assert not syke._plain_numbers(b"kt;x,\n1,5\n", b"kt;x,", [b"kt;x,\r\n1,5\n"])


def test_the_typed_and_the_text_reading_give_the_same_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundled files (short codes, decimal commas: as Syke publishes them) are read typed; read as text
    instead (as a file that is not plain is), they must give the same frame, row for row."""
    spec = load_catalogue().dataset("syke_emissions")
    connector = SykeConnector(memory=UrlFormMemory(None))
    payloads = connector.fetch(spec, ReplayFetcher(DEFAULT_SNAPSHOT_DIR))
    paths: list[str] = []

    def spy(name: str) -> Callable[..., object]:
        original = getattr(syke, name)

        def called(*args: object) -> object:
            paths.append(name)
            return original(*args)

        return called

    for name in ("_typed_rows", "_rows"):
        monkeypatch.setattr(syke, name, spy(name))
    typed = connector.parse(spec, payloads)
    assert paths == ["_typed_rows"]
    monkeypatch.setattr(syke, "_plain_numbers", lambda *_args: False)
    as_text = connector.parse(spec, payloads)
    assert paths == ["_typed_rows", "_rows"]
    assert typed.height > 10_000
    assert_frame_equal(as_text, typed)


@pytest.mark.parametrize("marker", [b"NA", b"NULL", b""])
def test_a_missing_flag_is_named_as_missing_not_none(marker: bytes) -> None:
    """A flag written NA (or NULL, or empty) is read as missing; the error says so, not "None"."""
    body = ESPOO_CSV.replace(b";On;On;2020;Kau", b";On;" + marker + b";2020;Kau")
    with pytest.raises(ValidationError) as caught:
        _parse(body)
    assert caught.value.field == "kunta_049.csv: column 'päästökauppa', line 4"
    assert caught.value.got == "a missing value ('NA', 'NULL', '')"
