"""Silently short payloads are rejected: one test per protocol on the replay path, both backends."""

from __future__ import annotations

import importlib
import json
import math
import re
import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from sqlalchemy import Engine, func, select, true

from common.payload import Payload, RequestSpec
from ingest.catalogue import Catalogue, CompleteSpec, load_catalogue
from ingest.completeness import (
    Previous,
    compress_periods,
    missing_observations,
    requested_days,
)
from ingest.manifest import Manifest, read_manifest, write_manifest
from ingest.run import DatasetOutcome, ingest
from scripts.demo import fingrid
from storage import schema
from storage.load import series_keys
from storage.rawstore import RawStore
from storage.read import job_runs, observations, snapshots

SOURCE_MODULES = {
    "hsy_emissions": "hsy",
    "syke_emissions": "syke",
    "statfin_population": "statfin",
    "eurostat_cei_wm011": "eurostat",
    "fingrid_emission_factor": "fingrid",
}


@pytest.fixture(scope="module")
def demo_snapshots(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Per source, its part of the bundled demo snapshot, generated afresh by scripts/demo (the real
    wire formats) with the manifest settings of scripts/make_demo_snapshot."""
    built: dict[str, Path] = {}

    def snapshot(dataset: str) -> Path:
        name = SOURCE_MODULES[dataset]
        if name not in built:
            module = importlib.import_module(f"scripts.demo.{name}")
            folder = tmp_path_factory.mktemp(name)
            manifest = Manifest(label="demo", description="demo", created="2026-11-23")
            manifest.dataset_options = {
                "fingrid_emission_factor": {"reference_date": fingrid.DEMO_REFERENCE_DATE.isoformat()}
            }
            module.generate(folder, manifest)
            write_manifest(manifest, folder)
            built[name] = folder
        return built[name]

    return snapshot


@pytest.fixture
def damaged(demo_snapshots: Callable[[str], Path], tmp_path: Path) -> Callable[[str], Path]:
    """A private copy of a source's demo snapshot that a test may damage."""

    def copy(dataset: str) -> Path:
        folder = tmp_path / "damaged"
        shutil.copytree(demo_snapshots(dataset), folder)
        return folder

    return copy


def _files(folder: Path, dataset: str) -> list[tuple[Path, str | None]]:
    """The body files of a dataset's exchanges, with each exchange's JSON body (PxWeb queries)."""
    manifest = read_manifest(folder)
    return [(folder / e.file, e.json_body) for e in manifest.exchanges if e.dataset == dataset]


def _ingest_one(
    engine: Engine,
    raw: RawStore,
    folder: Path,
    dataset: str,
    catalogue: Catalogue | None = None,
) -> DatasetOutcome:
    (outcome,) = ingest(engine, raw, [dataset], offline=True, snapshot_dir=folder, catalogue=catalogue)
    return outcome


def _with_complete(dataset: str, **changes: object) -> Catalogue:
    """The catalogue with one dataset's complete block changed."""
    catalogue = load_catalogue()
    spec = catalogue.dataset(dataset)
    complete = spec.complete.model_copy(update=changes)
    complete = CompleteSpec.model_validate(complete.model_dump())  # validate the changed rules
    datasets = {**catalogue.datasets, dataset: spec.model_copy(update={"complete": complete})}
    return catalogue.model_copy(update={"datasets": datasets})


def _rejected_untouched(engine: Engine, dataset: str, outcome: DatasetOutcome, before: pl.DataFrame) -> str:
    """The outcome is a recorded rejection and the stored observations are those of before."""
    assert outcome.outcome == "rejected", outcome
    assert outcome.error is not None
    runs = job_runs(engine, f"ingest:{dataset}")
    assert runs["outcome"][0] == "rejected"
    assert runs["error"][0] == outcome.error
    after = observations(engine, dataset, expand=False)
    assert after.sort("series_id", "period").equals(before.sort("series_id", "period"))
    return outcome.error


# ------------------------------------------------------------------------------------------ Syke CSV


def _year(header: bytes, line: bytes) -> bytes:
    """The `vuosi` cell of a Syke CSV line (the header line names the columns)."""
    return line.split(b";")[header.strip().split(b";").index(b"vuosi")].strip()


def test_syke_csv_cut_at_a_line_boundary_is_rejected(
    engine: Engine, raw_store: RawStore, damaged: Callable[[str], Path]
) -> None:
    snapshot_copy = damaged("syke_emissions")
    first = _ingest_one(engine, raw_store, snapshot_copy, "syke_emissions")
    assert first.outcome == "success", first.error
    before = observations(engine, "syke_emissions", expand=False)
    (path, _), *_ = [(p, b) for p, b in _files(snapshot_copy, "syke_emissions") if p.name.endswith("564.csv")]
    lines = path.read_bytes().splitlines(keepends=True)
    kept = lines[: len(lines) - 60]  # a valid CSV, 60 rows shorter: its last years lose some sectors
    path.write_bytes(b"".join(kept))
    cut_years = {_year(lines[0], line).decode() for line in lines[len(kept) :]}

    error = _rejected_untouched(
        engine, "syke_emissions", _ingest_one(engine, raw_store, snapshot_copy, "syke_emissions"), before
    )

    assert error.startswith("syke_emissions: completeness:")
    assert "area 564" in error
    assert "previous vintage" in error
    assert any(year in error for year in cut_years)
    assert len(snapshots(engine, "syke_emissions")) == 1


def test_syke_first_load_of_a_cut_file_is_rejected_without_a_previous_vintage(
    engine: Engine, raw_store: RawStore, damaged: Callable[[str], Path]
) -> None:
    snapshot_copy = damaged("syke_emissions")
    (path, _), *_ = [
        (p, b) for p, b in _files(snapshot_copy, "syke_emissions") if re.search(r"kunta_0?49\.csv$", p.name)
    ]
    lines = path.read_bytes().splitlines(keepends=True)
    newest = _year(lines[0], lines[-1])
    path.write_bytes(b"".join(line for line in lines if _year(lines[0], line) != newest))

    outcome = _ingest_one(engine, raw_store, snapshot_copy, "syke_emissions")

    assert outcome.outcome == "rejected"
    assert outcome.error is not None
    assert f"area 049: periods {newest.decode()} [complete.annual_from expects; other areas have]" in (
        outcome.error
    )
    assert observations(engine, "syke_emissions").height == 0


def test_syke_allowed_drop_is_accepted(
    engine: Engine, raw_store: RawStore, damaged: Callable[[str], Path]
) -> None:
    snapshot_copy = damaged("syke_emissions")
    assert _ingest_one(engine, raw_store, snapshot_copy, "syke_emissions").outcome == "success"
    for path, _ in _files(snapshot_copy, "syke_emissions"):  # the publisher drops 1990 everywhere
        lines = path.read_bytes().splitlines(keepends=True)
        path.write_bytes(b"".join(line for line in lines if _year(lines[0], line) != b"1990"))

    strict = _ingest_one(engine, raw_store, snapshot_copy, "syke_emissions")
    assert strict.outcome == "rejected"
    assert strict.error is not None and "periods 1990 [the previous vintage had]" in strict.error

    allowed = _with_complete("syke_emissions", may_drop=("period < 2000",))
    outcome = _ingest_one(engine, raw_store, snapshot_copy, "syke_emissions", allowed)
    assert outcome.outcome == "success", outcome.error
    assert len(snapshots(engine, "syke_emissions")) == 2


# ------------------------------------------------------------------------------------------ PxWeb


def _drop_category(doc: dict[str, Any], dimension: str, code: str) -> dict[str, Any]:
    """A JSON-stat 2.0 dataset without one category of one dimension (dense or sparse values)."""
    ids: list[str] = list(doc["id"])
    sizes: list[int] = list(doc["size"])
    axis = ids.index(dimension)
    category: dict[str, Any] = dict(doc["dimension"][dimension]["category"])
    index: dict[str, int] = category["index"]
    dropped = index[code]
    new_sizes = [size - 1 if i == axis else size for i, size in enumerate(sizes)]

    def move(flat: int) -> int | None:
        coords = []
        for size in reversed(sizes):
            coords.append(flat % size)
            flat //= size
        coords.reverse()
        if coords[axis] == dropped:
            return None
        coords[axis] -= coords[axis] > dropped
        out = 0
        for coordinate, size in zip(coords, new_sizes, strict=True):
            out = out * size + coordinate
        return out

    result = dict(doc)
    for field in ("value", "status"):
        raw = doc.get(field)
        if raw is None:
            continue
        cells = dict(enumerate(raw)) if isinstance(raw, list) else {int(k): v for k, v in raw.items()}
        moved = {new: v for flat, v in cells.items() if (new := move(flat)) is not None}
        if isinstance(raw, list):
            result[field] = [moved.get(i) for i in range(math.prod(new_sizes))]
        else:
            result[field] = {str(k): v for k, v in sorted(moved.items())}
    category["index"] = {c: i - (i > dropped) for c, i in index.items() if c != code}
    category["label"] = {c: t for c, t in category["label"].items() if c != code}
    result["dimension"] = {
        **doc["dimension"],
        dimension: {**doc["dimension"][dimension], "category": category},
    }
    result["size"] = new_sizes
    return result


def test_pxweb_answer_missing_a_municipality_is_rejected(
    engine: Engine, raw_store: RawStore, damaged: Callable[[str], Path]
) -> None:
    snapshot_copy = damaged("statfin_population")
    dataset = "statfin_population"
    edited = 0
    for path, query in _files(snapshot_copy, dataset):
        if query is None or "KU091" not in query:
            continue
        doc = orjson.loads(path.read_bytes())
        area = next(d for d in doc["id"] if "KU091" in doc["dimension"][d]["category"]["index"])
        path.write_bytes(orjson.dumps(_drop_category(doc, area, "KU091")))
        edited += 1
    assert edited

    outcome = _ingest_one(engine, raw_store, snapshot_copy, dataset)

    assert outcome.outcome == "rejected", outcome
    assert outcome.error is not None
    assert outcome.error.startswith(f"{dataset}: completeness:")
    assert "area 091: no observation at all [the request asked for]" in outcome.error
    assert observations(engine, dataset).height == 0


def test_pxweb_answer_missing_a_requested_year_is_rejected_on_a_first_load(
    engine: Engine, raw_store: RawStore, damaged: Callable[[str], Path]
) -> None:
    dataset = "statfin_population"
    snapshot_copy = damaged(dataset)
    folder = snapshot_copy
    metadata = next(p for p, query in _files(folder, dataset) if query is None)
    (time,) = [v["code"] for v in orjson.loads(metadata.read_bytes())["variables"] if v.get("time")]
    for path, query in _files(folder, dataset):
        if query is not None and '"2010"' in query:
            path.write_bytes(orjson.dumps(_drop_category(orjson.loads(path.read_bytes()), time, "2010")))

    outcome = _ingest_one(engine, raw_store, folder, dataset)

    assert outcome.outcome == "rejected", outcome
    assert outcome.error is not None
    assert "all areas: periods 2010 [the request asked for]" in outcome.error
    assert observations(engine, dataset).height == 0


# ------------------------------------------------------------------------------------------ Fingrid


def test_fingrid_page_missing_a_day_is_rejected(
    engine: Engine, raw_store: RawStore, damaged: Callable[[str], Path]
) -> None:
    snapshot_copy = damaged("fingrid_emission_factor")
    dataset = "fingrid_emission_factor"
    assert _ingest_one(engine, raw_store, snapshot_copy, dataset).outcome == "success"
    before = observations(engine, dataset, expand=False)
    ((path, _),) = _files(snapshot_copy, dataset)
    doc = json.loads(path.read_bytes())
    # 2026-11-10 in Helsinki is 2026-11-09T22:00Z … 2026-11-10T22:00Z
    lo, hi = datetime(2026, 11, 9, 22, tzinfo=UTC), datetime(2026, 11, 10, 22, tzinfo=UTC)
    doc["data"] = [
        item
        for item in doc["data"]
        if not lo <= datetime.fromisoformat(item["startTime"].replace("Z", "+00:00")) < hi
    ]
    doc["pagination"]["total"] = doc["pagination"]["to"] = len(doc["data"])
    path.write_bytes(json.dumps(doc, separators=(",", ":")).encode())

    error = _rejected_untouched(
        engine, dataset, _ingest_one(engine, raw_store, snapshot_copy, dataset), before
    )

    assert "all areas: periods 2026-11-10 [the requested window holds]" in error


# ------------------------------------------------------------------------------------------ Eurostat


def _drop_geo(path: Path, geo: str) -> None:
    doc = orjson.loads(path.read_bytes())
    path.write_bytes(orjson.dumps(_drop_category(doc, "geo", geo)))


def test_eurostat_answer_missing_a_geo_is_rejected(
    engine: Engine, raw_store: RawStore, damaged: Callable[[str], Path]
) -> None:
    snapshot_copy = damaged("eurostat_cei_wm011")
    dataset = "eurostat_cei_wm011"
    ((path, _),) = _files(snapshot_copy, dataset)
    _drop_geo(path, "EU27_2020")

    outcome = _ingest_one(engine, raw_store, snapshot_copy, dataset)

    assert outcome.outcome == "rejected", outcome
    assert outcome.error is not None
    assert "area EU27_2020: no observation at all [the request asked for]" in outcome.error


def test_eurostat_geo_the_catalogue_lets_go_is_accepted(
    engine: Engine, raw_store: RawStore, damaged: Callable[[str], Path]
) -> None:
    snapshot_copy = damaged("eurostat_cei_wm011")
    dataset = "eurostat_cei_wm011"
    assert _ingest_one(engine, raw_store, snapshot_copy, dataset).outcome == "success"
    before = observations(engine, dataset)
    ((path, _),) = _files(snapshot_copy, dataset)
    _drop_geo(path, "EU27_2020")
    allowed = _with_complete(dataset, may_drop=("area = EU27_2020",))

    outcome = _ingest_one(engine, raw_store, snapshot_copy, dataset, allowed)

    assert outcome.outcome == "success", outcome.error
    assert outcome.result is not None and outcome.result.added == 0
    # the request still names EU27_2020, so the payload covers its rows: forgiven, they are withdrawn
    # (closed, their history kept), no longer current
    eu_rows = before.filter(pl.col("area") == "EU27_2020").height
    assert eu_rows > 0 and outcome.result.withdrawn == eu_rows
    assert "EU27_2020" not in observations(engine, dataset)["area"].to_list()
    assert _closed_rows(engine, dataset, "EU27_2020") == eu_rows  # the rows stay, closed
    assert snapshots(engine, dataset)["rows_withdrawn"].to_list() == [0, eu_rows]


def _closed_rows(engine: Engine, dataset: str, area: str | None = None) -> int:
    """How many stored rows of the dataset (of the area, when given) are closed (valid_to set): history,
    not current values."""
    obs, series = schema.observation, schema.series
    of_area = series.c.area == area if area is not None else true()
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(obs.join(series, series.c.id == obs.c.series_id))
                .where(series.c.dataset_id == dataset, of_area, obs.c.valid_to.is_not(None))
            ).scalar_one()
        )


# ------------------------------------------------------------------------------------------ HSY


def _rewrite_hsy(folder: Path, keep: Callable[[Any], bool]) -> None:
    from scripts.demo import hsy

    xlsx = next(p for p, _ in _files(folder, "hsy_emissions") if p.suffix == ".xlsx")
    xlsx.write_bytes(hsy.xlsx_bytes([row for row in hsy.demo_rows() if keep(row)]))


def test_hsy_file_missing_a_city_is_rejected(
    engine: Engine, raw_store: RawStore, damaged: Callable[[str], Path]
) -> None:
    snapshot_copy = damaged("hsy_emissions")
    _rewrite_hsy(snapshot_copy, lambda row: row.city != "Kauniainen")

    outcome = _ingest_one(engine, raw_store, snapshot_copy, "hsy_emissions")

    assert outcome.outcome == "rejected", outcome
    assert outcome.error is not None
    assert "area 235: no observation at all [the catalogue's complete.areas lists]" in outcome.error


def test_hsy_file_missing_a_year_is_rejected(
    engine: Engine, raw_store: RawStore, damaged: Callable[[str], Path]
) -> None:
    snapshot_copy = damaged("hsy_emissions")
    assert _ingest_one(engine, raw_store, snapshot_copy, "hsy_emissions").outcome == "success"
    before = observations(engine, "hsy_emissions", expand=False)
    _rewrite_hsy(snapshot_copy, lambda row: row.year != 2010)

    error = _rejected_untouched(
        engine, "hsy_emissions", _ingest_one(engine, raw_store, snapshot_copy, "hsy_emissions"), before
    )

    for area in ("049", "091", "092", "235"):
        assert f"area {area}: periods 2010 [complete.annual_from expects]" in error


# ------------------------------------------------------------------------------------------ pure parts


def _payload(params: tuple[tuple[str, str], ...]) -> Payload:
    return Payload(RequestSpec("GET", "https://x.test/", params), 200, {}, b"{}", datetime.now(UTC), "")


def test_requested_days_are_helsinki_days_with_an_exclusive_end() -> None:
    payload = _payload((("startTime", "2026-03-27T22:00:00.000Z"), ("endTime", "2026-03-30T21:00:00.000Z")))
    # 28–30 March 2026 (the clocks go forward on the 29th); the window ends at midnight of the 31st
    assert requested_days([payload]) == [date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30)]
    assert requested_days([_payload(())]) == []


def test_periods_are_summarised_as_ranges() -> None:
    assert compress_periods(["2022", "1990", "2020", "2021"]) == "1990, 2020–2022"
    assert compress_periods(["2026-11-03", "2026-11-04", "2026-11-07"]) == "2026-11-03…2026-11-04, 2026-11-07"
    assert compress_periods([str(y) for y in range(1990, 2030, 2)], limit=2) == "1990, 1992, … (20 periods)"


def test_may_drop_rules_are_validated_and_matched() -> None:
    with pytest.raises(ValueError, match="may_drop"):
        CompleteSpec(may_drop=("period before 2000",))
    spec = load_catalogue().dataset("eurostat_cei_wm011")
    spec = spec.model_copy(update={"complete": CompleteSpec(may_drop=("period < 2005", "unit_code = *"))})
    frame = pl.DataFrame(
        {
            "area": ["FI"],
            "period": ["2010"],
            "value": [1.0],
            "flag": [None],
            "unit": ["%"],
            "wst_oper": ["RCY"],
        },
        schema_overrides={"flag": pl.String},
    )
    previous = pl.DataFrame(
        {
            "key": [
                '{"area":"FI","unit":"%","wst_oper":"RCY"}',
                '{"area":"FI","unit":"%","wst_oper":"RCY"}',
                '{"area":"FI","unit":"%","wst_oper":"RCY"}',
            ],
            "period": ["2000", "2004", "2006"],
        }
    )
    requested = _payload((("geo", "FI"),))
    missing = missing_observations(spec, frame, [requested], Previous.from_keys(previous))
    assert missing.select("area", "period").rows() == [("FI", "2006")]  # 2000 and 2004 may go


def _frame(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    """A parsed frame of (area, driving power, period) rows."""
    return pl.DataFrame(
        {
            "area": [r[0] for r in rows],
            "period": [r[2] for r in rows],
            "value": [1.0] * len(rows),
            "flag": [None] * len(rows),
            "unit": ["vehicles"] * len(rows),
            "power": [r[1] for r in rows],
        },
        schema_overrides={"flag": pl.String},
    )


def _stored(frame: pl.DataFrame) -> Previous:
    return Previous.from_keys(frame.select(series_keys(frame).alias("key"), "period"))


def test_point_in_time_tables_keep_every_series_not_every_date() -> None:
    spec = load_catalogue().dataset("statfin_population")
    spec = spec.model_copy(update={"complete": CompleteSpec(requested_areas=False, previous="series")})
    before = _frame([("049", "04", "2026-03-31"), ("049", "01", "2026-03-31"), ("091", "04", "2026-03-31")])
    moved_on = _frame([("049", "04", "2026-06-30"), ("049", "01", "2026-06-30"), ("091", "04", "2026-06-30")])
    assert missing_observations(spec, moved_on, [], _stored(before)).height == 0
    lost = moved_on.filter(pl.col("power") != "01")
    missing = missing_observations(spec, lost, [], _stored(before))
    assert missing.select("area", "power", "period").rows() == [("049", "01", None)]


def test_a_new_reader_compares_areas_and_periods_only() -> None:
    spec = load_catalogue().dataset("statfin_population")
    spec = spec.model_copy(update={"complete": CompleteSpec(requested_areas=False)})
    before = _frame([("049", "04", "2024"), ("091", "04", "2024"), ("091", "04", "2023")])
    renamed = _frame([("049", "EV", "2024"), ("091", "EV", "2024")])  # codes renamed by a new reader
    exact = missing_observations(spec, renamed, [], _stored(before))
    assert exact.height == 3  # compared series by series, everything looks lost
    coarse = missing_observations(spec, renamed, [], _stored(before), coarse=True)
    assert coarse.select("area", "period").rows() == [("091", "2023")]
