"""`kestava probe` against a local server answering in the real shapes (the demo generators' answers)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, func, inspect, select, table
from typer.testing import CliRunner
from werkzeug import Request, Response

from common.config import get_settings
from common.payload import RequestSpec
from ingest.catalogue import CATALOGUE_PATH, load_catalogue
from ingest.manifest import Exchange, read_manifest
from ingest.probe import HINTS, hint, magnitude, probe_spec
from kestava.cli import app
from scripts.demo import fingrid, oecd, statfin
from scripts.make_demo_snapshot import build
from storage.engine import open_database
from storage.read import job_runs, snapshots

runner = CliRunner()
API_KEY = "probe-test-key"


@pytest.fixture(scope="module")
def demo_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo snapshot generated afresh by scripts/demo: the answers the server gives, and the
    reference the probe compares with."""
    folder = tmp_path_factory.mktemp("probe") / "snapshot"
    build(folder)
    return folder


@dataclass
class DemoServer:
    """Answers like the real sources: recorded exchanges, and the generators' answers to the probe's
    smaller requests (a PxWeb query for one area, a one-day Fingrid window). Overrides damage one URL."""

    server: HTTPServer
    snapshot: Path
    overrides: dict[tuple[str, str], tuple[int, bytes, str]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    fingrid_every: int = 1  # serve every n-th 3-minute value: 5 gives Fingrid's 15-minute resolution
    fingrid_described: int | None = None  # describe this dataset whichever is asked (a swapped number)

    def __post_init__(self) -> None:
        self.base = self.server.url_for("/").rstrip("/")
        self.exchanges = read_manifest(self.snapshot).exchanges
        self.server.expect_request(re.compile(".*")).respond_with_handler(self.handle)

    def local(self, url: str) -> str:
        """A source URL as served here: https://host/path → http://127.0.0.1:port/host/path."""
        return url.replace("https://", self.base + "/")

    def exchange(self, dataset: str, suffix: str = "") -> Exchange:
        return next(e for e in self.exchanges if e.dataset == dataset and e.url.endswith(suffix))

    def body(self, exchange: Exchange) -> bytes:
        return (self.snapshot / exchange.file).read_bytes()

    def override(
        self, url: str, body: bytes, status: int = 200, content_type: str = "", method: str = "GET"
    ) -> None:
        """Answer requests for this source URL with this body and status from now on."""
        self.overrides[(method, url)] = (status, body, content_type)

    def catalogue_file(self, folder: Path) -> Path:
        """The bundled catalogue with every dataset URL pointing at this server."""
        text = CATALOGUE_PATH.read_text(encoding="utf-8")
        text = re.sub(r'(?m)^url = "https://', f'url = "{self.base}/', text)
        path = folder / "catalogue.toml"
        path.write_text(text, encoding="utf-8")
        return path

    def handle(self, request: Request) -> Response:
        url = "https://" + request.path.lstrip("/")
        self.requests.append(f"{request.method} {url}")
        if (request.method, url) in self.overrides:
            status, body, content_type = self.overrides[(request.method, url)]
            return Response(body, status=status, content_type=content_type or _content_type(url))
        described = re.search(r"data\.fingrid\.fi/api/datasets/(\d+)$", url)
        if described:  # the dataset's description, which the probe reads for its name
            if request.headers.get("x-api-key") != API_KEY:
                return Response('{"message":"Access denied"}', status=401, content_type="application/json")
            body = fingrid.description_bytes(self.fingrid_described or int(described[1]))
            return Response(body, status=200, content_type="application/json")
        candidates = [e for e in self.exchanges if e.url == url and e.method == request.method]
        flows = [f for f in oecd.FLOWS.values() if f"/data/{oecd.AGENCY},{f.flow},{f.version}/" in url]
        if not candidates and flows:  # the OECD probe asks for fewer cities: the generator's answer
            codes = url.rsplit("/", 1)[1].split(".")[0].split("+")
            return Response(oecd.data_csv(flows[0], codes), status=200, content_type="text/csv")
        if not candidates:
            return Response("<html><body>Not Found</body></html>", status=404, content_type="text/html")
        dataset = candidates[0].dataset
        if dataset.startswith("fingrid") and request.headers.get("x-api-key") != API_KEY:
            return Response('{"message":"Access denied"}', status=401, content_type="application/json")
        params = list(request.args.items(multi=True))
        if request.method == "POST":
            query = request.get_json()
            body_text = RequestSpec.canonical_body(query)
            exact = [e for e in candidates if e.json_body == body_text]
            body = (
                self.body(exact[0])
                if exact
                else statfin.jsonstat2_response(statfin.DATASETS[dataset](), query)
            )
        elif dataset.startswith("fingrid"):
            window = dict(params)
            start, end = (
                datetime.fromisoformat(window[k].replace("Z", "+00:00")) for k in ("startTime", "endTime")
            )
            series = fingrid.values(start, end)[:: self.fingrid_every]
            body = fingrid.page_bytes(265, series, int(window["pageSize"]))
        else:
            exact = [e for e in candidates if [tuple(p) for p in e.params] == params]
            body = self.body((exact or candidates)[0])  # Eurostat: the recorded answer to any filter
        body = body.replace(b"https://", self.base.encode() + b"/") if body[:1] == b"{" else body
        return Response(body, status=200, content_type=candidates[0].headers.get("content-type"))


def _content_type(url: str) -> str:
    return {"csv": "text/csv", "xlsx": "application/octet-stream"}.get(
        url.rsplit(".", 1)[-1], "application/json"
    )


@pytest.fixture
def demo_server(httpserver: HTTPServer, demo_snapshot: Path) -> DemoServer:
    return DemoServer(httpserver, demo_snapshot)


@pytest.fixture
def settings_env(tmp_path: Path, demo_snapshot: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings for the CLI: a data dir of the test's own, the generated snapshot, a Fingrid key."""
    data = tmp_path / "data"
    monkeypatch.setenv("KESTAVA_DATA_DIR", str(data))
    monkeypatch.setenv("KESTAVA_SNAPSHOT_DIR", str(demo_snapshot))
    monkeypatch.setenv("FINGRID_API_KEY", API_KEY)
    get_settings.cache_clear()
    yield data
    get_settings.cache_clear()


def _probe(server: DemoServer, folder: Path, *args: str) -> tuple[int, str]:
    catalogue = server.catalogue_file(folder)
    result = runner.invoke(app, ["probe", "--catalogue", str(catalogue), *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


def _drift(output: str, dataset: str) -> list[dict[str, object]]:
    (found,) = [r for r in json.loads(output) if r["dataset"] == dataset]
    return [c for c in found["checks"] if not c["ok"]]


# ------------------------------------------------------------------------------------------ all good


def test_every_dataset_as_expected_exits_0_with_a_readable_table(
    demo_server: DemoServer, settings_env: Path, tmp_path: Path
) -> None:
    code, output = _probe(demo_server, tmp_path)

    assert code == 0, output
    catalogue = load_catalogue()
    for dataset in catalogue.datasets:
        assert f"{dataset}: as expected" in output
    assert f"{len(catalogue.datasets)} datasets probed: no drift" in output
    for column in ("check", "expected", "found"):
        assert column in output
    # the smallest requests: Syke's Espoo file only, a PxWeb query for Espoo, a one-day Fingrid window
    syke = [r for r in demo_server.requests if "kunta_" in r]
    assert len(syke) == 1 and re.search(r"kunta_0?49\.csv$", syke[0])
    assert "sample value" in output and "10^" in output
    assert not settings_env.exists()  # no SQLite file, no raw store: nothing written


def test_json_names_urls_statuses_and_samples(
    demo_server: DemoServer, settings_env: Path, tmp_path: Path
) -> None:
    code, output = _probe(demo_server, tmp_path, "syke_emissions", "eurostat_cei_pc031", "--json")

    assert code == 0, output
    results = json.loads(output)
    assert [r["dataset"] for r in results] == ["syke_emissions", "eurostat_cei_pc031"]
    eurostat = results[1]
    assert eurostat["requests"][0]["status"] == 200
    assert "geo=FI" in eurostat["requests"][0]["url"] and "EU27_2020" not in eurostat["requests"][0]["url"]
    sample = next(c for c in eurostat["checks"] if c["what"] == "sample value")
    assert sample["found"].startswith("FI ") and "kg per resident (10^2)" in sample["found"]


def test_the_oecd_probe_asks_for_espoo_only_and_samples_espoo(
    demo_server: DemoServer, settings_env: Path, tmp_path: Path
) -> None:
    code, output = _probe(demo_server, tmp_path, "oecd_ghg", "--json")

    assert code == 0, output
    (result,) = json.loads(output)
    structure, data = result["requests"]
    assert "/dataflow/OECD.CFE.EDS/DSD_FUA_ENV@DF_GHG/1.5" in structure["url"]
    espoo = oecd.CITIES["espoo"].code
    assert f"DSD_FUA_ENV@DF_GHG,1.5/{espoo}.A..T_CO2E+T_CO2E_PS...." in data["url"]
    assert "startPeriod=2020" in data["url"] and data["status"] == 200
    sample = next(c for c in result["checks"] if c["what"] == "sample value")
    assert sample["found"].startswith("049 2022 ") and "t CO2e per resident (10^0)" in sample["found"]


def test_an_oecd_unit_code_the_key_did_not_ask_for_is_drift(
    demo_server: DemoServer, settings_env: Path, tmp_path: Path
) -> None:
    exchange = next(e for e in demo_server.exchanges if e.dataset == "oecd_green_area" and "/data/" in e.url)
    url = exchange.url.replace(
        exchange.url.rsplit("/", 1)[1], f"{oecd.CITIES['espoo'].code}.A.GREEN_AREA.M2_PS+PT_LAR...."
    )
    body = demo_server.body(exchange).replace(
        b",M2_PS,Square metres per person,", b",HA_PS,Hectares per person,"
    )
    demo_server.override(url, body)

    code, output = _probe(demo_server, tmp_path, "oecd_green_area", "--json")

    assert code == 1
    (drift,) = _drift(output, "oecd_green_area")
    assert (
        drift["what"] == "shape" and "UNIT_MEASURE" in str(drift["found"]) and "HA_PS" in str(drift["found"])
    )


# ------------------------------------------------------------------------------------------ drift


def test_renamed_column_is_drift_naming_the_column(
    demo_server: DemoServer, settings_env: Path, tmp_path: Path
) -> None:
    espoo = next(e for e in demo_server.exchanges if re.search(r"kunta_0?49\.csv$", e.url))
    body = demo_server.body(espoo)
    header, rest = body.split(b"\n", 1)
    demo_server.override(espoo.url, header.replace(b"vuosi", b"vuosi_2026") + b"\n" + rest)

    code, output = _probe(demo_server, tmp_path, "syke_emissions", "--json")

    assert code == 1
    (drift,) = _drift(output, "syke_emissions")
    assert drift["what"] == "shape"
    assert "'vuosi'" in str(drift["found"]) and "vuosi_2026" in str(drift["found"])


@pytest.mark.parametrize(
    ("dataset", "status", "words"),
    [
        ("syke_emissions", 404, "neither kunta_49.csv nor kunta_049.csv answered"),
        ("hsy_emissions", 403, "HRI's CKAN API has answered 403"),
    ],
)
def test_http_errors_are_drift_with_a_named_hint(
    demo_server: DemoServer, settings_env: Path, tmp_path: Path, dataset: str, status: int, words: str
) -> None:
    spec = probe_spec(load_catalogue().dataset(dataset))
    first = next(e for e in demo_server.exchanges if e.dataset == dataset)
    if dataset == "syke_emissions":
        first = next(e for e in demo_server.exchanges if re.search(r"kunta_0?49\.csv$", e.url))
    demo_server.override(first.url, b"<html><body>Error</body></html>", status, "text/html")

    code, output = _probe(demo_server, tmp_path, dataset, "--json")

    assert code == 1
    (drift,) = _drift(output, dataset)
    assert drift["what"] == "HTTP"
    assert f"HTTP {status}" in str(drift["found"]) and words in str(drift["found"])
    assert spec.id == dataset


def test_fingrid_key_refused_is_drift_with_a_hint(
    demo_server: DemoServer, settings_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINGRID_API_KEY", "wrong-key")

    code, output = _probe(demo_server, tmp_path, "fingrid_emission_factor", "--json")

    assert code == 1
    (drift,) = _drift(output, "fingrid_emission_factor")
    assert "HTTP 401" in str(drift["found"]) and "FINGRID_API_KEY" in str(drift["found"])
    assert "wrong-key" not in output  # the key never reaches the output


def _xlsx_header(body: bytes, old: str, new: str) -> bytes:
    """The workbook with the header cell starting with `old` (bare or with a unit) reading `new`."""
    source = zipfile.ZipFile(io.BytesIO(body))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.endswith(".xml"):
                data = re.sub(f">{old}( \\([^<]*\\))?<".encode(), f">{new}<".encode(), data)
            target.writestr(item, data)
    return out.getvalue()


def test_a_header_unit_that_disagrees_is_drift_naming_the_column(
    demo_server: DemoServer, settings_env: Path, tmp_path: Path
) -> None:
    xlsx = next(e for e in demo_server.exchanges if e.dataset == "hsy_emissions" and e.url.endswith(".xlsx"))
    damaged = _xlsx_header(demo_server.body(xlsx), "Energiankulutus", "Energiankulutus (TJ)")
    assert damaged != demo_server.body(xlsx)
    demo_server.override(xlsx.url, damaged)

    code, output = _probe(demo_server, tmp_path, "hsy_emissions", "--json")

    assert code == 1
    (drift,) = _drift(output, "hsy_emissions")
    assert drift["what"] == "shape"
    assert "Energiankulutus (TJ)" in str(drift["found"]) and "GWh" in str(drift["found"])


def test_a_renamed_covenant_column_is_drift_naming_the_column_and_sheet(
    demo_server: DemoServer, settings_env: Path, tmp_path: Path
) -> None:
    xlsx = next(e for e in demo_server.exchanges if e.url.endswith("df3_Monitoring.xlsx"))
    damaged = _xlsx_header(demo_server.body(xlsx), "emission_measure", "emission_measure_t")
    assert damaged != demo_server.body(xlsx)
    demo_server.override(xlsx.url, damaged)

    code, output = _probe(demo_server, tmp_path, "covenant_inventories", "--json")

    assert code == 1
    (drift,) = _drift(output, "covenant_inventories")
    assert drift["what"] == "shape"
    assert "'emission_measure' in sheet '3D_1'" in str(drift["found"])
    assert "emission_measure_t" in str(drift["found"])


def test_an_unknown_code_is_drift_naming_the_code(
    demo_server: DemoServer, settings_env: Path, tmp_path: Path
) -> None:
    espoo = next(e for e in demo_server.exchanges if re.search(r"kunta_0?49\.csv$", e.url))
    lines = demo_server.body(espoo).split(b"\n")
    cells = lines[1].split(b";")
    cells[lines[0].strip().split(b";").index(b"taso_3")] = b"Xyz"  # the sector code
    demo_server.override(espoo.url, b"\n".join([lines[0], b";".join(cells), *lines[2:]]))

    code, output = _probe(demo_server, tmp_path, "syke_emissions", "--json")

    assert code == 1
    drift = _drift(output, "syke_emissions")
    assert any("taso_3" in str(d["found"]) and "Xyz" in str(d["found"]) for d in drift), drift


def test_a_value_a_thousand_times_too_large_is_drift_naming_the_rule(
    demo_server: DemoServer, settings_env: Path, tmp_path: Path
) -> None:
    dataset = "eurostat_cei_pc031"
    exchange = demo_server.exchange(dataset)
    doc = orjson.loads(demo_server.body(exchange))
    doc["value"] = {k: v * 1000 for k, v in doc["value"].items()}
    demo_server.override(exchange.url, orjson.dumps(doc))

    code, output = _probe(demo_server, tmp_path, dataset, "--json")

    assert code == 1
    drift = _drift(output, dataset)
    assert drift and all(d["what"] == "plausibility" for d in drift)
    rules = {rule.name for rule in load_catalogue().dataset(dataset).plausibility.ranges}
    assert any(f"rule {name!r}" in str(d["found"]) for d in drift for name in rules)
    sample = next(c for c in json.loads(output)[0]["checks"] if c["what"] == "sample value")
    assert "(10^5)" in sample["found"] and "(10^2)" in sample["expected"]


def test_an_answer_missing_the_requested_area_is_drift(
    demo_server: DemoServer, settings_env: Path, tmp_path: Path
) -> None:
    dataset = "statfin_population"
    recorded = next(e for e in demo_server.exchanges if e.dataset == dataset and e.method == "POST")
    assert recorded.json_body is not None
    query = json.loads(recorded.json_body)
    for item in query["query"]:  # the answer holds Helsinki where Espoo was asked for
        if "KU049" in item["selection"]["values"]:
            item["selection"]["values"] = ["KU091"]
    answer = statfin.jsonstat2_response(statfin.DATASETS[dataset](), query)
    demo_server.override(recorded.url, answer, method="POST")

    code, output = _probe(demo_server, tmp_path, dataset, "--json")

    assert code == 1
    drift = _drift(output, dataset)
    assert any(d["what"] == "completeness" and "area 049" in str(d["found"]) for d in drift), drift


# ------------------------------------------------------------------------------------------ nothing written


def _row_counts(engine: Engine) -> dict[str, int]:
    names = inspect(engine).get_table_names()
    with engine.connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(table(name))).scalar_one() for name in names
        }


def test_probe_leaves_the_database_and_raw_store_untouched(
    demo_server: DemoServer,
    settings_env: Path,
    tmp_path: Path,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KESTAVA_DATABASE_URL", db_url)
    get_settings.cache_clear()
    engine = open_database(db_url)
    result = runner.invoke(app, ["ingest", "--offline", "eurostat_cei_pc031"])
    assert result.exit_code == 0, result.output
    before = _row_counts(engine)
    raw_before = sorted(p.name for p in settings_env.rglob("*"))

    code, output = _probe(demo_server, tmp_path)
    espoo = next(e for e in demo_server.exchanges if re.search(r"kunta_0?49\.csv$", e.url))
    demo_server.override(espoo.url, b"Not Found", 404, "text/plain")
    drifted, _ = _probe(demo_server, tmp_path, "syke_emissions")  # a probe that finds drift

    assert drifted == 1
    assert code == 0, output
    assert _row_counts(engine) == before
    assert before["snapshot"] == 1 and before["observation"] > 0
    assert sorted(p.name for p in settings_env.rglob("*")) == raw_before
    engine.dispose()


# ------------------------------------------------------------------------------------------ parts


def test_hints_and_magnitudes() -> None:
    assert hint("syke_csv", 404) is not None and "kunta_049.csv" in str(hint("syke_csv", 404))
    assert hint("eurostat", 429) == HINTS[(None, 429)]
    assert hint("eurostat", None) is None
    assert magnitude(742.0) == "10^2" and magnitude(0.0042) == "10^-3" and magnitude(0) == "0"
    assert magnitude(None) == "null"


def test_probe_requests_are_the_catalogue_probe_overrides() -> None:
    catalogue = load_catalogue()
    syke = catalogue.dataset("syke_emissions")
    assert probe_spec(syke).options["municipalities"] == ["049"]
    assert probe_spec(syke).url == syke.url and probe_spec(syke).cadence == syke.cadence  # the rest unchanged
    fingrid_spec = catalogue.dataset("fingrid_emission_factor")
    assert probe_spec(fingrid_spec).options["days"] == 1 < fingrid_spec.options["days"]


# ------------------------------------------------------------------------------------------ weekly job


def test_the_scheduler_probes_weekly_and_alerts_drift(
    demo_server: DemoServer, settings_env: Path, tmp_path: Path, db_url: str
) -> None:
    import scheduler

    catalogue = load_catalogue(demo_server.catalogue_file(tmp_path))
    (job,) = [s for s in scheduler.catalogue_jobs(catalogue) if s.id == "probe"]
    fire = job.trigger.get_next_fire_time(None, datetime(2026, 12, 1, tzinfo=scheduler.HELSINKI))
    assert fire is not None and fire.isoweekday() == 7 and (fire.hour, fire.minute) == (5, 0)
    runtime = scheduler.build_runtime(db_url, catalogue=catalogue)
    scheduler.set_runtime(runtime)
    try:
        espoo = next(e for e in demo_server.exchanges if re.search(r"kunta_0?49\.csv$", e.url))
        demo_server.override(espoo.url, b"Not Found", 404, "text/plain")

        assert scheduler.run_probe_job() == "failed"
        runs = job_runs(runtime.engine, "probe")
        assert runs["outcome"].to_list() == ["failed"]
        assert "syke_emissions: HTTP" in runs["error"][0] and "HTTP 404" in runs["error"][0]
        assert "drift:probe" in runtime.alerter.open_problems()

        demo_server.overrides.clear()
        assert scheduler.run_probe_job() == "success"
        assert "drift:probe" not in runtime.alerter.open_problems()
        # the probe itself loaded nothing
        assert snapshots(runtime.engine).height == 0
    finally:
        scheduler.set_runtime(None)
        runtime.engine.dispose()


def test_an_offline_scheduler_does_not_probe(settings_env: Path, db_url: str) -> None:
    import scheduler

    runtime = scheduler.build_runtime(db_url, offline=True)
    scheduler.set_runtime(runtime)
    try:
        assert scheduler.run_probe_job() == "skipped"
        assert job_runs(runtime.engine, "probe").height == 0
    finally:
        scheduler.set_runtime(None)
        runtime.engine.dispose()


def test_no_probe_job_without_probe_blocks() -> None:
    import scheduler

    catalogue = load_catalogue()
    bare = catalogue.model_copy(
        update={"datasets": {k: v.model_copy(update={"probe": None}) for k, v in catalogue.datasets.items()}}
    )
    assert "probe" not in [s.id for s in scheduler.catalogue_jobs(bare)]
    assert "probe" in [s.id for s in scheduler.catalogue_jobs(catalogue)]


def test_a_renamed_pxweb_variable_is_drift_before_any_data_is_asked(
    demo_server: DemoServer, settings_env: Path, tmp_path: Path
) -> None:
    dataset = "traficom_cars"
    metadata = next(e for e in demo_server.exchanges if e.dataset == dataset and e.method == "GET")
    doc = json.loads(demo_server.body(metadata))
    (power,) = [v for v in doc["variables"] if v["text"] in ("Käyttövoima", "Driving power")]
    power["code"], power["text"] = "Voimanlähde", "Voimanlähde"
    demo_server.override(metadata.url, json.dumps(doc, ensure_ascii=False).encode())

    code, output = _probe(demo_server, tmp_path, dataset, "--json")

    assert code == 1
    (drift,) = _drift(output, dataset)
    assert drift["what"] == "shape" and "Voimanlähde" in str(drift["found"])
    assert not [r for r in demo_server.requests if r.startswith("POST")]  # metadata first, no data query


def test_fingrid_at_15_minutes_is_as_expected_with_complete_days(
    demo_server: DemoServer, settings_env: Path, tmp_path: Path
) -> None:
    """Fingrid may have moved dataset 265 to 15-minute values (SOURCES.md): the probe's day is complete."""
    demo_server.fingrid_every = 5
    code, output = _probe(demo_server, tmp_path, "fingrid_emission_factor", "--json")

    assert code == 0, output
    assert _drift(output, "fingrid_emission_factor") == []
    assert "2026-" in output and "gCO2/kWh (10^1)" in output  # a day's mean of the 96 values, as usual


def test_fingrid_dataset_is_checked_by_its_own_name(
    demo_server: DemoServer, settings_env: Path, tmp_path: Path
) -> None:
    """265 (consumed) and 266 (produced) are emission factors of one magnitude: only the name tells them
    apart (SOURCES.md: one older client labels them the other way round)."""
    code, output = _probe(demo_server, tmp_path, "fingrid_emission_factor", "--json")
    assert code == 0, output
    (result,) = json.loads(output)
    assert result["requests"][-1]["url"].endswith("data.fingrid.fi/api/datasets/265")
    (named,) = [c for c in result["checks"] if c["what"] == "dataset name"]
    assert named["ok"] and "consumed" in named["found"]
    assert API_KEY not in output

    demo_server.fingrid_described = 266  # the number now names the produced electricity's factor
    code, output = _probe(demo_server, tmp_path, "fingrid_emission_factor", "--json")
    assert code == 1
    (drift,) = _drift(output, "fingrid_emission_factor")
    assert drift["what"] == "dataset name"
    assert drift["expected"] == "a name with 'kulutetun' or 'consumed' (options.name_words)"
    assert "sähköntuotannon" in str(drift["found"]) and "production" in str(drift["found"])


@pytest.mark.parametrize(
    ("status", "body", "found"),
    [
        (404, b"<html>Not Found</html>", "HTTP 404"),
        (200, b'{"id": 265, "unit": "gCO2/kWh"}', "no name (no key beginning with 'name')"),
        (200, b"[265]", "expected a JSON object, got list"),
    ],
)
def test_a_fingrid_description_without_its_name_is_drift(
    demo_server: DemoServer, settings_env: Path, tmp_path: Path, status: int, body: bytes, found: str
) -> None:
    demo_server.override("https://data.fingrid.fi/api/datasets/265", body, status, "application/json")
    code, output = _probe(demo_server, tmp_path, "fingrid_emission_factor", "--json")
    assert code == 1
    (drift,) = _drift(output, "fingrid_emission_factor")
    assert drift["what"] == "dataset name"
    assert found in str(drift["found"])
