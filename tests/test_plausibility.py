"""Plausibility: declared ranges and jumps reject a payload whole and keep it; `kestava accept` loads it."""

from __future__ import annotations

import io
import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import fastexcel
import polars as pl
import pytest
import xlsxwriter
from pydantic import ValidationError as PydanticValidationError
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine
from typer.testing import CliRunner
from werkzeug import Request, Response

from common.config import get_settings
from ingest.acceptance import STORED_VIOLATIONS, AcceptError, accept
from ingest.catalogue import Catalogue, DatasetSpec, load_catalogue, parse_catalogue
from ingest.hsy import XLSX_MEDIA_TYPE
from ingest.http import LiveFetcher
from ingest.manifest import DEFAULT_SNAPSHOT_DIR, read_manifest
from ingest.plausibility import PlausibilityError, Violation, check_payload, require_plausible
from ingest.registry import connector_for
from ingest.replay import ReplayFetcher
from ingest.run import DatasetOutcome, offline_spec
from ingest.run import ingest as run_ingest
from kestava.alerts import Alert, Alerter, AlertSettings, check_run
from kestava.cli import app
from storage import read
from storage.rawstore import RawStore
from storage.rejections import RejectionLookupError, rejections
from storage.validators import DbValidatorCache

HSY_XLSX = DEFAULT_SNAPSHOT_DIR / "hsy_emissions" / "paakaupunkiseudun_kasvihuonekaasupaastot_1990-2024.xlsx"
PACKAGE = "paakaupunkiseudun-kasvihuonekaasupaastot"
API_PATH = "/data/api/3/action/package_show"
CITY_COLUMN = "Kaupunki"
runner = CliRunner()


# --------------------------------------------------------------------------------------------------
# check_payload: pure, on the catalogue's own declarations


def spec(dataset_id: str) -> DatasetSpec:
    return load_catalogue().dataset(dataset_id)


def hsy_frame(espoo_1990_kt: float = 1060.0, unit: str = "kt CO2e") -> pl.DataFrame:
    """HSY-shaped observations: Espoo 1990 in two sector rows, Vantaa 1990 in one."""
    half = espoo_1990_kt / 2
    return pl.DataFrame(
        {
            "area": ["049", "049", "092", "049"],
            "period": ["1990", "1990", "1990", "1990"],
            "value": [half, half, 1_000.0 * (1 if unit == "kt CO2e" else 1_000), 2_000.0],
            "flag": [None, None, None, None],
            "unit": [unit, unit, unit, "GWh"],
            "measure": ["emissions", "emissions", "emissions", "energy"],
            "sector1": ["Lämmitys", "Liikenne", "Lämmitys", "Lämmitys"],
            "sector2": ["Kaukolämpö", "Tieliikenne", "Kaukolämpö", "Kaukolämpö"],
        },
        schema_overrides={"flag": pl.String},
    )


def population(values: dict[str, float], period: str = "2024") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "area": list(values),
            "period": [period] * len(values),
            "value": list(values.values()),
            "flag": [None] * len(values),
            "unit": ["persons"] * len(values),
            "measure": ["vaesto"] * len(values),
        },
        schema_overrides={"flag": pl.String},
    )


def test_plausible_payload_passes() -> None:
    assert check_payload(spec("hsy_emissions"), hsy_frame()) == []


@pytest.mark.parametrize(
    ("factor", "shown"),
    [(1 / 1000, "value 1.06 kt CO2e"), (1000, "value 1 060 000 kt CO2e")],
    ids=["divided-by-1000", "times-1000"],
)
def test_espoo_total_out_of_range_names_dataset_series_period_value_and_rule(
    factor: float, shown: str
) -> None:
    violations = check_payload(spec("hsy_emissions"), hsy_frame(1060.0 * factor))
    espoo = [v for v in violations if v.rule == "espoo_total"]
    assert len(espoo) == 1
    v = espoo[0]
    assert (v.dataset_id, v.kind, v.period, v.unit, v.rows) == (
        "hsy_emissions",
        "range",
        "1990",
        "kt CO2e",
        2,
    )
    assert v.series == {"area": "049", "measure": "emissions"}
    assert v.value == pytest.approx(1060.0 * factor)
    message = v.message()
    for part in ("hsy_emissions", "area='049'", "measure='emissions'", "period 1990", "100 – 3000 kt CO2e"):
        assert part in message
    assert "[range rule 'espoo_total']" in message and shown in message


def test_values_in_another_unit_of_the_same_kind_are_converted() -> None:
    """1 060 000 t CO2e is Espoo's 1 060 kt: plausible; the rule's kt bounds apply after conversion."""
    frame = hsy_frame(1_060_000.0, unit="t CO2e")
    assert check_payload(spec("hsy_emissions"), frame) == []


def test_a_unit_of_another_kind_fails_the_rule() -> None:
    frame = hsy_frame().with_columns(
        pl.when(pl.col("measure") == "emissions").then(pl.lit("GWh")).otherwise("unit").alias("unit")
    )
    kinds = {(v.kind, v.unit) for v in check_payload(spec("hsy_emissions"), frame)}
    assert ("unit", "GWh") in kinds


def test_population_out_of_range_is_a_violation() -> None:
    violations = check_payload(spec("statfin_population"), population({"091": 684_018, "005": 12_000_000}))
    assert [(v.rule, v.series["area"], v.period, v.value) for v in violations] == [
        ("municipality_population", "005", "2024", 12_000_000)
    ]
    assert "12 000 000 persons" in violations[0].message()
    assert "50 – 10 000 000 persons" in violations[0].message()


def test_share_above_100_is_a_violation() -> None:
    frame = pl.DataFrame(
        {
            "area": ["FI", "EU27_2020"],
            "period": ["2022", "2022"],
            "value": [47.9, 230.0],
            "flag": [None, None],
            "unit": ["%", "%"],
            "unit_code": ["PC", "PC"],
        },
        schema_overrides={"flag": pl.String},
    )
    violations = check_payload(spec("eurostat_sdg_07_40"), frame)
    assert [(v.series["area"], v.rule) for v in violations] == [("EU27_2020", "share")]


def test_jump_beyond_the_declared_factor_is_a_violation_within_it_is_not() -> None:
    before = population({"049": 300_000, "235": 10_000, "091": 300})
    after = population({"049": 310_000, "235": 50_000, "091": 900})  # ×1.03; ×5; ×3 but under the floor
    violations = check_payload(spec("statfin_population"), after, before)
    assert [(v.kind, v.rule, v.series["area"], v.previous, v.value) for v in violations] == [
        ("jump", "population_revision", "235", 10_000, 50_000)
    ]
    assert violations[0].acceptable
    assert "×5 on the previous vintage's 10 000 persons (declared limit ×2 or ÷2)" in violations[0].message()
    assert check_payload(spec("statfin_population"), after, before, jumps=False) == []


def test_jump_on_a_sum_and_a_sign_change() -> None:
    before = hsy_frame(1000.0)
    doubled_and_flipped = before.with_columns(
        pl.when((pl.col("area") == "049") & (pl.col("sector1") == "Liikenne"))
        .then(-pl.col("value") * 5)
        .otherwise(pl.col("value"))
        .alias("value")
    )  # Espoo: 500 + 500 → 500 − 2 500 = −2 000 in total
    rules = {(v.rule, v.kind) for v in check_payload(spec("hsy_emissions"), doubled_and_flipped, before)}
    assert ("sector_revision", "jump") in rules  # 500 → −2 500 in one row
    assert ("city_total_revision", "jump") in rules  # 1 000 → −2 000
    assert ("espoo_total", "range") in rules
    # after a reader change the rows may be cut differently: only the sums' jumps are compared
    coarse = check_payload(spec("hsy_emissions"), doubled_and_flipped, before, series_jumps=False)
    assert {(v.rule, v.kind) for v in coarse} == rules - {("sector_revision", "jump")}


def test_new_series_without_a_previous_value_are_not_jumps() -> None:
    before = population({"049": 300_000})
    after = population({"049": 300_000, "235": 10_000})
    assert check_payload(spec("statfin_population"), after, before) == []


def test_require_plausible_raises_a_data_error_naming_every_violation() -> None:
    frame = population({"005": 10, "049": 20, "091": 30, "092": 40})
    with pytest.raises(PlausibilityError) as caught:
        require_plausible(spec("statfin_population"), frame)
    error = caught.value
    assert len(error.violations) == 5  # four municipalities, and Espoo's own range too
    assert str(error).startswith("statfin_population: plausibility: 5 value(s) fail")
    assert "; and 2 more" in str(error) and not error.acceptable


def test_every_dataset_declares_ranges() -> None:
    catalogue = load_catalogue()
    undeclared = [d.id for d in catalogue.datasets.values() if not d.plausibility.ranges]
    assert undeclared == []


@pytest.mark.parametrize(
    ("rule", "needle"),
    [
        ({"name": "r", "unit": "kt CO2e", "min": 5, "max": 1}, "min 5.0 > max 1.0"),
        ({"name": "r", "unit": "furlongs", "min": 0}, "unknown unit"),
        ({"name": "r", "unit": "kt CO2e"}, "declare min, max or both"),
        (
            {"name": "r", "unit": "kt CO2e", "min": 0, "aggregate": "sum", "by": ["area"]},
            "must include 'period'",
        ),
    ],
)
def test_bad_declarations_are_refused(rule: dict[str, object], needle: str) -> None:
    raw = {
        "sources": {"s": {"publisher": "p", "licence": "l", "attribution": "a", "homepage": "h"}},
        "datasets": {
            "d": {
                "title": "t",
                "source": "s",
                "protocol": "eurostat",
                "url": "https://example.test/",
                "cadence": "0 0 * * *",
                "calendar": {"frequency": "annual", "lag_days": 1},
                "plausibility": {"ranges": [rule]},
            }
        },
    }
    with pytest.raises(PydanticValidationError, match=needle):
        parse_catalogue(raw)


def test_the_bundled_snapshot_passes_every_declared_check() -> None:
    """The demo data are in the real shapes and magnitudes; a range that refused them would be wrong."""
    catalogue = load_catalogue()
    manifest = read_manifest(DEFAULT_SNAPSHOT_DIR)
    fetcher = ReplayFetcher(DEFAULT_SNAPSHOT_DIR, manifest=manifest)
    for dataset in catalogue.datasets.values():
        dataset = offline_spec(dataset, DEFAULT_SNAPSHOT_DIR, manifest=manifest)
        connector = connector_for(dataset.protocol)
        frame = connector.parse(dataset, connector.fetch(dataset, fetcher))
        assert check_payload(dataset, frame, frame) == [], dataset.id


# --------------------------------------------------------------------------------------------------
# at load time: HSY served by a real local HTTP server, on SQLite and PostgreSQL


def scaled_hsy(factor: float, city: str | None = None, year: str | None = None) -> bytes:
    """The bundled HSY workbook (its real layout) with every energy and emission cell × factor (only
    those of one city and year when given): a publisher's unit slip, or a restated year."""
    reader = fastexcel.read_excel(HSY_XLSX.read_bytes())
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    for name in reader.sheet_names:
        sheet = reader.load_sheet(name, header_row=None, dtypes="string").to_polars()
        worksheet = book.add_worksheet(name)
        header: list[str | None] | None = None
        for r, row in enumerate(sheet.iter_rows()):
            cells = list(row)
            if header is None and CITY_COLUMN in cells:
                header = cells
                measured = {
                    i for i, c in enumerate(cells) if c and c.startswith(("Päästöt", "Energiankulutus"))
                }
                where = {c: i for i, c in enumerate(cells) if c}
            for c, cell in enumerate(cells):
                if cell is None:
                    continue
                try:
                    number = float(cell)
                except ValueError:
                    worksheet.write_string(r, c, cell)
                    continue
                if header is not None and c in measured:
                    picked = (city is None or cells[where[CITY_COLUMN]] == city) and (
                        year is None or float(str(cells[where["Vuosi"]])) == float(year)
                    )
                    number *= factor if picked else 1
                worksheet.write_number(r, c, number)
    book.close()
    return out.getvalue()


class Upstream:
    """HSY's CKAN package_show and the XLSX it lists; the file served can be swapped between runs."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.body = HSY_XLSX.read_bytes()
        resource = {
            "id": "päästöt",
            "name": "1990–2024",
            "format": "XLSX",
            "url": server.url_for("/download/hsy.xlsx"),
            "last_modified": "2025-06-03T09:12:44.512398",
        }
        envelope = {"success": True, "result": {"name": PACKAGE, "resources": [resource]}}
        server.expect_request(API_PATH, query_string={"id": PACKAGE}).respond_with_json(envelope)
        server.expect_request("/download/hsy.xlsx").respond_with_handler(self._xlsx)

    def _xlsx(self, _request: Request) -> Response:
        return Response(self.body, status=200, content_type=XLSX_MEDIA_TYPE)

    def catalogue(self) -> Catalogue:
        base = load_catalogue()
        hsy = base.dataset("hsy_emissions").model_copy(update={"url": self.server.url_for(API_PATH)})
        return base.model_copy(update={"datasets": {"hsy_emissions": hsy}})


@pytest.fixture
def upstream(httpserver: HTTPServer) -> Iterator[Upstream]:
    yield Upstream(httpserver)
    httpserver.clear()


@pytest.fixture
def data_dir(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The CLI's settings point at the test's database and raw store."""
    monkeypatch.setenv("KESTAVA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KESTAVA_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """The CLI configures logging on the runner's temporary stderr; put the previous set-up back."""
    root, httpx = logging.getLogger(), logging.getLogger("httpx")
    handlers, level, httpx_level = root.handlers[:], root.level, httpx.level
    yield
    root.handlers[:], root.level = handlers, level
    httpx.setLevel(httpx_level)


def ingest_hsy(engine: Engine, raw: RawStore, upstream: Upstream) -> DatasetOutcome:
    fetcher = LiveFetcher(DbValidatorCache(engine, raw), backoff_base=0.01, backoff_max=0.02, max_attempts=2)
    return run_ingest(engine, raw, ["hsy_emissions"], catalogue=upstream.catalogue(), fetcher=fetcher)[0]


def current(engine: Engine) -> pl.DataFrame:
    return read.observations(engine, "hsy_emissions").sort("series_id", "period")


def espoo_total(engine: Engine, period: str, area: str = "049") -> float:
    frame = read.observations(engine, "hsy_emissions", area=area)
    rows = frame.filter((pl.col("measure") == "emissions") & (pl.col("period") == period))
    return float(rows["value"].sum())


@pytest.mark.parametrize(
    ("factor", "shown"),
    [(1 / 1000, "value 1.06 kt CO2e"), (1000, "value 1 060 000 kt CO2e")],
    ids=["divided-by-1000", "times-1000"],
)
def test_corrupted_magnitude_is_rejected_whole_and_the_last_good_data_stay(
    engine: Engine, data_dir: Path, upstream: Upstream, factor: float, shown: str
) -> None:
    raw = RawStore(data_dir / "raw")
    assert ingest_hsy(engine, raw, upstream).outcome == "success"
    good = current(engine)
    upstream.body = scaled_hsy(factor)

    outcome = ingest_hsy(engine, raw, upstream)

    assert outcome.outcome == "rejected", outcome.error
    error = outcome.error or ""
    assert error.startswith("hsy_emissions: plausibility: ")
    for part in ("area='049'", "measure='emissions'", "period 1990", shown):
        assert part in error
    assert "[range rule 'espoo_total']" in error and "cannot be accepted" in error
    assert current(engine).equals(good)  # nothing written; the last good data stay
    assert len(read.snapshots(engine, "hsy_emissions")) == 1
    runs = read.job_runs(engine, "ingest:hsy_emissions")
    assert runs["outcome"].to_list()[0] == "rejected" and runs["error"].to_list()[0] == error
    kept = rejections(engine, "hsy_emissions")
    assert len(kept) == 1 and not kept[0].acceptable
    assert len(kept[0].violations) == STORED_VIOLATIONS  # the first ones; the message has the total
    assert (
        kept[0].violations[0]["rule"] == "espoo_total" and "period 1990" in kept[0].violations[0]["message"]
    )
    assert raw.get(kept[0].payloads[-1]["sha256"]) == upstream.body  # the rejected bytes are kept
    with pytest.raises(AcceptError, match="cannot be accepted"):
        accept(engine, upstream.catalogue(), "hsy_emissions", kept[0].sha256, by="x", why="y", raw_store=raw)
    assert current(engine).equals(good)


def test_a_fivefold_revision_is_rejected_then_accepted_and_loaded(
    engine: Engine, data_dir: Path, upstream: Upstream
) -> None:
    raw = RawStore(data_dir / "raw")
    assert ingest_hsy(engine, raw, upstream).outcome == "success"
    kauniainen_2010 = espoo_total(engine, "2010", area="235")
    good = current(engine)
    upstream.body = scaled_hsy(5, city="Kauniainen", year="2010")

    rejected = ingest_hsy(engine, raw, upstream)
    assert rejected.outcome == "rejected"
    assert "area='235'" in (rejected.error or "") and "period 2010" in (rejected.error or "")
    assert "[jump rule 'city_total_revision']" in (rejected.error or "")
    assert current(engine).equals(good)
    (kept,) = rejections(engine, "hsy_emissions")
    assert kept.acceptable and kept.accepted_at is None
    assert f"kestava accept hsy_emissions {kept.short}" in (rejected.error or "")
    again = ingest_hsy(engine, raw, upstream)  # the same payload next week: rejected again, counted
    assert again.outcome == "rejected" and rejections(engine, "hsy_emissions")[0].times == 2

    refused = runner.invoke(app, ["accept", "hsy_emissions", kept.short])
    assert refused.exit_code != 0 and "--why" in refused.output
    unknown = runner.invoke(app, ["accept", "hsy_emissions", "00000000", "--why", "x"])
    assert unknown.exit_code == 2 and "no rejected payload" in unknown.output  # a bad SNAPSHOT argument
    assert unknown.output.count("hsy_emissions:") == 1  # the dataset named once
    listed = runner.invoke(app, ["accept", "hsy_emissions"])
    assert listed.exit_code == 0 and kept.short in listed.output

    result = runner.invoke(
        app,
        ["accept", "hsy_emissions", kept.short, "--by", "Liisa Analyst", "--why", "HSY restated Kauniainen"],
    )

    assert result.exit_code == 0, result.output
    assert "accepted by Liisa Analyst" in result.output
    (done,) = rejections(engine, "hsy_emissions")
    assert (done.accepted_by, done.accepted_why) == ("Liisa Analyst", "HSY restated Kauniainen")
    assert done.accepted_at is not None and done.snapshot_id is not None
    assert espoo_total(engine, "2010", area="235") == pytest.approx(5 * kauniainen_2010)
    assert espoo_total(engine, "2010") == pytest.approx(
        float(
            good.filter(
                (pl.col("area") == "049") & (pl.col("measure") == "emissions") & (pl.col("period") == "2010")
            )["value"].sum()
        )
    )
    snapshots = read.snapshots(engine, "hsy_emissions")
    assert len(snapshots) == 2
    runs = read.job_runs(engine, "ingest:hsy_emissions")
    assert (runs["trigger"][0], runs["outcome"][0], runs["snapshot_id"][0]) == (
        "accept",
        "success",
        done.snapshot_id,
    )
    # the upstream still serves it: the next ingest finds it unchanged
    assert ingest_hsy(engine, raw, upstream).outcome == "unchanged"
    twice = runner.invoke(app, ["accept", "hsy_emissions", kept.short, "--why", "again"])
    assert twice.exit_code == 1 and "already accepted by Liisa Analyst" in twice.output


def test_an_accepted_payload_is_loaded_by_the_next_ingest_when_it_could_not_be_loaded_at_once(
    engine: Engine, data_dir: Path, upstream: Upstream
) -> None:
    """The acceptance is recorded before the load: if the load cannot run (the dataset is busy), the
    next ingest of the same payload skips the jump check and loads it."""
    from storage.locks import BusyError, job_lock

    raw = RawStore(data_dir / "raw")
    assert ingest_hsy(engine, raw, upstream).outcome == "success"
    upstream.body = scaled_hsy(5, city="Kauniainen", year="2010")
    assert ingest_hsy(engine, raw, upstream).outcome == "rejected"
    (kept,) = rejections(engine, "hsy_emissions")
    with job_lock(engine, "ingest:hsy_emissions"), pytest.raises(BusyError):
        accept(engine, upstream.catalogue(), "hsy_emissions", kept.short, by="Ops", why="real", raw_store=raw)
    assert rejections(engine, "hsy_emissions")[0].accepted_by == "Ops"
    assert ingest_hsy(engine, raw, upstream).outcome == "success"


def test_an_ambiguous_or_malformed_snapshot_reference_is_refused(engine: Engine) -> None:
    from storage.rejections import find_rejection, record_rejection

    for digest in ("ab" * 32, "ab" * 4 + "cd" * 28):
        record_rejection(
            engine, "d", digest, reader_version="1", options={}, payloads=[], violations=[], acceptable=True
        )
    with pytest.raises(RejectionLookupError, match="names 2 rejected payloads"):
        find_rejection(engine, "d", "abababab")
    with pytest.raises(RejectionLookupError, match="at least 8 hex digits"):
        find_rejection(engine, "d", "abab")
    assert find_rejection(engine, "d", "ababababcd").sha256.endswith("cd" * 28)


def test_violation_round_trips_as_a_record() -> None:
    v = Violation("d", "r", "jump", {"area": "049"}, "2020", 5.0, "kt CO2e", "changed ×5", previous=1.0)
    record = v.as_dict()
    assert record["message"] == v.message() and record["previous"] == 1.0


class Collected:
    """An alert channel that keeps what it was asked to send."""

    name = "collected"

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.alerts.append(alert)


def test_a_plausibility_rejection_is_alerted_like_any_rejection_and_cleared_by_acceptance(
    engine: Engine, data_dir: Path, upstream: Upstream
) -> None:
    raw = RawStore(data_dir / "raw")
    channel = Collected()
    alerter = Alerter(engine, AlertSettings(), channels=[channel], secrets=[])
    assert ingest_hsy(engine, raw, upstream).outcome == "success"
    upstream.body = scaled_hsy(5, city="Kauniainen", year="2010")
    outcome = ingest_hsy(engine, raw, upstream)
    check_run(alerter, "ingest:hsy_emissions", outcome.outcome, outcome.error, dataset="hsy_emissions")
    (alert,) = channel.alerts
    assert (alert.kind, alert.subject) == ("rejected", "hsy_emissions")
    assert "[jump rule 'city_total_revision']" in alert.text and "kestava accept hsy_emissions" in alert.text
    (kept,) = rejections(engine, "hsy_emissions")
    accept(engine, upstream.catalogue(), "hsy_emissions", kept.short, by="Ops", why="real", raw_store=raw)
    again = ingest_hsy(engine, raw, upstream)  # the accepted payload is now the newest snapshot
    check_run(alerter, "ingest:hsy_emissions", again.outcome, again.error, dataset="hsy_emissions")
    assert again.outcome == "unchanged" and alerter.open_problems() == []


def test_accept_has_help() -> None:
    result = runner.invoke(app, ["accept", "--help"])
    assert result.exit_code == 0 and "--why" in result.output and "SNAPSHOT" in result.output


def test_previous_values_are_the_current_observations_with_their_dimensions(
    engine: Engine, data_dir: Path, upstream: Upstream
) -> None:
    from ingest.acceptance import previous_values

    assert previous_values(engine, "hsy_emissions") is None
    assert ingest_hsy(engine, RawStore(data_dir / "raw"), upstream).outcome == "success"
    fast = previous_values(engine, "hsy_emissions")
    assert fast is not None
    slow = read.observations(engine, "hsy_emissions").select(fast.columns)
    key = [c for c in fast.columns if c != "value"]
    assert fast.sort(key).equals(slow.sort(key))
    assert {"area", "period", "value", "unit", "measure", "sector1"} <= set(fast.columns)


def test_a_rejected_payload_older_than_the_newest_snapshot_is_not_accepted(
    engine: Engine, data_dir: Path, upstream: Upstream
) -> None:
    raw = RawStore(data_dir / "raw")
    assert ingest_hsy(engine, raw, upstream).outcome == "success"
    upstream.body = scaled_hsy(5, city="Kauniainen", year="2010")
    assert ingest_hsy(engine, raw, upstream).outcome == "rejected"
    upstream.body = scaled_hsy(1.1, city="Kauniainen", year="2010")  # a plausible revision comes after
    assert ingest_hsy(engine, raw, upstream).outcome == "success"
    newest = current(engine)
    (kept,) = rejections(engine, "hsy_emissions")
    with pytest.raises(AcceptError, match="would put older data back"):
        accept(engine, upstream.catalogue(), "hsy_emissions", kept.short, by="Ops", why="late", raw_store=raw)
    assert current(engine).equals(newest)
    assert rejections(engine, "hsy_emissions")[0].accepted_at is None  # a refused acceptance is not recorded
    assert read.job_runs(engine, "ingest:hsy_emissions")["trigger"][0] != "accept"


def test_a_population_out_of_range_is_rejected_on_load_and_the_last_good_data_stay(
    engine: Engine, tmp_path: Path
) -> None:
    """The bundled StatFin answer (its real JSON-stat shape) with one municipality's population ×1000."""
    raw = RawStore(tmp_path / "raw")
    first = run_ingest(engine, raw, ["statfin_population"], offline=True)[0]
    assert first.outcome == "success", first.error
    good = read.observations(engine, "statfin_population").sort("series_id", "period")
    folder = tmp_path / "snapshot"
    shutil.copytree(DEFAULT_SNAPSHOT_DIR, folder)
    answer = folder / "statfin" / "11ra-data-01.json"
    body = json.loads(answer.read_text(encoding="utf-8"))
    assert body["id"][0].startswith("alue") and body["id"][-1] == "timeperiod_y"  # area first, year last
    areas = body["dimension"][body["id"][0]]["category"]["index"]
    body["value"][areas["KU005"] * body["size"][-1]] *= 1000  # Alajärvi (KU005) in the first year
    answer.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")

    outcome = run_ingest(engine, raw, ["statfin_population"], offline=True, snapshot_dir=folder)[0]

    assert outcome.outcome == "rejected"
    error = outcome.error or ""
    for part in ("statfin_population", "area='005'", "period 1990", "value 19 764 000 persons"):
        assert part in error, part
    assert "outside the declared range 50 – 10 000 000 persons" in error
    assert "[range rule 'municipality_population']" in error
    assert read.observations(engine, "statfin_population").sort("series_id", "period").equals(good)


def test_a_frame_storage_will_reject_is_left_to_storage_checks() -> None:
    """No unit column, or text values: not for the plausibility checks to name (storage.checks does)."""
    assert check_payload(spec("statfin_population"), population({"049": 10}).drop("unit")) == []
    texts = population({"049": 300_000}).with_columns(pl.lit("n/a").alias("value"))
    assert check_payload(spec("statfin_population"), texts) == []


def test_after_a_reader_change_a_total_that_jumps_is_still_rejected(
    engine: Engine, data_dir: Path, upstream: Upstream
) -> None:
    from sqlalchemy import update

    from storage import schema

    raw = RawStore(data_dir / "raw")
    assert ingest_hsy(engine, raw, upstream).outcome == "success"
    with engine.begin() as conn:  # as if the newest snapshot had been read by an older connector
        conn.execute(update(schema.snapshot).values(reader_version="hsy-0-old"))
    upstream.body = scaled_hsy(5, city="Kauniainen", year="2010")
    outcome = ingest_hsy(engine, raw, upstream)
    assert outcome.outcome == "rejected" and "[jump rule 'city_total_revision']" in (outcome.error or "")
