"""Withdrawn values: a value a new release blanks or drops is rejected or closed, never left in sums."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastexcel
import orjson
import polars as pl
import pytest
import xlsxwriter
from sqlalchemy import Engine

from common.payload import Payload
from ingest.acceptance import accept
from ingest.catalogue import CompleteSpec, DatasetSpec, load_catalogue
from ingest.completeness import coverage
from ingest.manifest import DEFAULT_SNAPSHOT_DIR, Manifest, read_manifest, write_manifest
from ingest.registry import connector_for
from ingest.replay import ReplayFetcher
from ingest.run import offline_spec
from report import data as rd
from scripts.demo import fingrid
from storage.load import DatasetInfo, load_snapshot
from storage.rawstore import RawStore
from storage.read import job_runs, observations, snapshots
from storage.rejections import record_acceptance, rejections
from tests.conftest import make_payload
from tests.test_completeness import _closed_rows, _with_complete
from tests.test_completeness import _ingest_one as _ingest

HSY_XLSX = "hsy_emissions/paakaupunkiseudun_kasvihuonekaasupaastot_1990-2024.xlsx"


@pytest.fixture
def release(tmp_path: Path) -> Path:
    """A private copy of the bundled snapshot (real payloads) that a test edits into the next release."""
    folder = tmp_path / "release"
    shutil.copytree(DEFAULT_SNAPSHOT_DIR, folder)
    return folder


# ------------------------------------------------------------------------------------------ HSY: a blank cell


def _hsy_blanked(path: Path, city: str, year: int, value: str) -> None:
    """The HSY workbook (its real layout) with one emission cell of a city and year left empty."""
    reader = fastexcel.read_excel(path.read_bytes())
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    blanked = 0
    for name in reader.sheet_names:
        sheet = reader.load_sheet(name, header_row=None, dtypes="string").to_polars()
        worksheet = book.add_worksheet(name)
        where: dict[str, int] = {}
        for r, row in enumerate(sheet.iter_rows()):
            cells = list(row)
            if not where and "Kaupunki" in cells:
                where = {c: i for i, c in enumerate(cells) if c}
            emissions = where.get("Päästöt")
            for c, cell in enumerate(cells):
                if cell is None:
                    continue
                if (
                    where
                    and c == emissions
                    and cells[where["Kaupunki"]] == city
                    and float(str(cells[where["Vuosi"]])) == year
                    and float(cell) == float(value)
                ):
                    blanked += 1
                    continue
                try:
                    worksheet.write_number(r, c, float(cell))
                except ValueError:
                    worksheet.write_string(r, c, cell)
    book.close()
    assert blanked == 1
    path.write_bytes(out.getvalue())


def _espoo_2010(engine: Engine) -> pl.DataFrame:
    rows = observations(engine, "hsy_emissions", area="049")
    return rows.filter((pl.col("measure") == "emissions") & (pl.col("period") == "2010"))


def test_a_blanked_hsy_cell_is_rejected_as_a_withdrawal_then_accepted(
    engine: Engine, raw_store: RawStore, release: Path
) -> None:
    assert _ingest(engine, raw_store, DEFAULT_SNAPSHOT_DIR, "hsy_emissions").outcome == "success"
    good = observations(engine, "hsy_emissions", expand=False)
    total = float(_espoo_2010(engine)["value"].sum())
    _hsy_blanked(release / HSY_XLSX, "Espoo", 2010, "277.972")

    outcome = _ingest(engine, raw_store, release, "hsy_emissions")

    assert outcome.outcome == "rejected", outcome
    error = outcome.error or ""
    assert error.startswith(
        "hsy_emissions: plausibility: 1 previously published value(s) withdrawn (missing in the new payload)"
    )
    for part in (
        "area='049'",
        "sector2='Kaukolämpö'",
        "sector4='Asuminen'",
        "period 2010",
        "277.972 kt CO2e",
    ):
        assert part in error
    assert "→ missing" in error and "kestava accept hsy_emissions" in error
    assert observations(engine, "hsy_emissions", expand=False).equals(good)  # the last good data stay
    assert job_runs(engine, "ingest:hsy_emissions")["outcome"][0] == "rejected"
    (kept,) = rejections(engine, "hsy_emissions")
    assert kept.acceptable and kept.violations[0]["kind"] == "withdrawal"
    assert kept.violations[0]["previous"] == pytest.approx(277.972)

    done = accept(
        engine,
        load_catalogue(),
        "hsy_emissions",
        kept.short,
        by="Liisa Analyst",
        why="HSY withdrew the value",
        raw_store=raw_store,
    )

    assert done.result.revised == 1 and done.result.withdrawn == 0  # a nulled value: a revision to null
    after = _espoo_2010(engine)
    assert after["value"].null_count() == 1
    assert float(after["value"].sum()) == pytest.approx(total - 277.972)


# ------------------------------------------------------------------------------------------ Syke: NA


def test_a_syke_na_is_rejected_as_a_withdrawal(engine: Engine, raw_store: RawStore, release: Path) -> None:
    assert _ingest(engine, raw_store, DEFAULT_SNAPSHOT_DIR, "syke_emissions").outcome == "success"
    good = observations(engine, "syke_emissions", expand=False)
    path = release / "syke_emissions" / "kunta_49.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    header = lines[0].strip().split(";")
    year = header.index("vuosi")
    first = next(i for i, line in enumerate(lines[1:], 1) if line.split(";")[year] == "2015")
    cells = lines[first].rstrip("\n").split(";")
    old = float(cells[header.index("kt")].replace(",", "."))
    cells[header.index("kt")] = cells[header.index("kt_tuuli")] = "NA"
    lines[first] = ";".join(cells) + "\n"
    path.write_text("".join(lines), encoding="utf-8")

    outcome = _ingest(engine, raw_store, release, "syke_emissions")

    assert outcome.outcome == "rejected", outcome
    error = outcome.error or ""
    assert "previously published value(s) withdrawn" in error
    assert "area='049'" in error and "period 2015" in error and "→ missing" in error
    assert f"{old:.6g} kt CO2e → missing" in error
    assert observations(engine, "syke_emissions", expand=False).equals(good)


# ------------------------------------------------------------------------------------------ Eurostat: dropped


def _drop_cells(path: Path, where: Callable[[dict[str, str]], bool]) -> list[float]:
    """Remove the values (and statuses) of the cells whose categories `where` picks from a JSON-stat
    answer (Eurostat's sparse value dict); returns the removed values."""
    doc: dict[str, Any] = orjson.loads(path.read_bytes())
    ids, sizes = doc["id"], doc["size"]
    codes = {dim: {i: code for code, i in doc["dimension"][dim]["category"]["index"].items()} for dim in ids}
    removed = []
    for key in list(doc["value"]):
        flat, coords = int(key), {}
        for dim, size in zip(reversed(ids), reversed(sizes), strict=True):
            coords[dim] = codes[dim][flat % size]
            flat //= size
        if where(coords):
            removed.append(float(doc["value"].pop(key)))
            doc.get("status", {}).pop(key, None)
    path.write_bytes(orjson.dumps(doc))
    return removed


def test_a_dropped_home_city_year_is_rejected_then_closed_as_withdrawn_on_acceptance(
    engine: Engine, raw_store: RawStore, release: Path
) -> None:
    """The audit's repro A: Espoo's EN4008V 2004 vanishes from urb_cenv (previous = "series" forgives a
    year of a present series); a peer city's year vanishes too (may_drop "area != 049")."""
    dataset = "eurostat_urb_cenv"
    assert _ingest(engine, raw_store, DEFAULT_SNAPSHOT_DIR, dataset).outcome == "success"
    good = observations(engine, dataset, expand=False)
    before = observations(engine, dataset)
    peer = before.filter((pl.col("area") != "049") & (pl.col("indic_ur") == "EN4008V")).row(0, named=True)
    (espoo,) = _drop_cells(
        release / "eurostat" / "urb_cenv.json",
        lambda c: c["cities"] == "FI004C" and c["indic_ur"] == "EN4008V" and c["time"] == "2004",
    )
    _drop_cells(
        release / "eurostat" / "urb_cenv.json",
        lambda c: (
            c["cities"] == peer["city_code"] and c["indic_ur"] == "EN4008V" and c["time"] == peer["period"]
        ),
    )

    rejected = _ingest(engine, raw_store, release, dataset)

    assert rejected.outcome == "rejected", rejected
    error = rejected.error or ""
    assert "1 previously published value(s) withdrawn" in error  # the peer's is forgiven
    assert "area='049'" in error and "indic_ur='EN4008V'" in error and "period 2004" in error
    assert f"{espoo:.6g} thousand tonnes → missing (the new payload no longer holds it" in error
    assert observations(engine, dataset, expand=False).equals(good)
    (kept,) = rejections(engine, dataset)

    done = accept(
        engine, load_catalogue(), dataset, kept.short, by="Ops", why="withdrawn", raw_store=raw_store
    )

    assert (done.result.added, done.result.revised, done.result.withdrawn) == (0, 0, 2)
    assert "2 withdrawn" in done.result.summary()
    now = observations(engine, dataset)
    espoo_2004 = (pl.col("area") == "049") & (pl.col("indic_ur") == "EN4008V") & (pl.col("period") == "2004")
    assert now.filter(espoo_2004).height == 0
    assert now.height == before.height - 2
    assert _closed_rows(engine, dataset) == 2  # their history is kept
    assert snapshots(engine, dataset)["rows_withdrawn"].to_list() == [0, 2]
    runs = job_runs(engine, f"ingest:{dataset}")
    assert (runs["trigger"][0], runs["rows_withdrawn"][0]) == ("accept", 2)
    # the same release again: unchanged, nothing more closed
    assert _ingest(engine, raw_store, release, dataset).outcome == "unchanged"
    assert _closed_rows(engine, dataset) == 2


def test_a_year_a_may_drop_rule_lets_go_is_closed_as_withdrawn_and_reported(
    engine: Engine, raw_store: RawStore, release: Path
) -> None:
    """The audit's repro B: may_drop = ["period = 2005"] on sdg_13_10, EU27 I90 2005 withdrawn."""
    dataset = "eurostat_sdg_13_10"
    assert _ingest(engine, raw_store, DEFAULT_SNAPSHOT_DIR, dataset).outcome == "success"
    before = observations(engine, dataset)
    (value,) = _drop_cells(
        release / "eurostat" / "sdg_13_10.json",
        lambda c: (
            c["geo"] == "EU27_2020"
            and c["unit"] == "I90"
            and c["src_crf"] == "TOTXMEMONIA"
            and c["time"] == "2005"
        ),
    )
    strict = _ingest(engine, raw_store, release, dataset)
    assert strict.outcome == "rejected" and "periods 2005 [the previous vintage had]" in (strict.error or "")
    start = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)

    outcome = _ingest(
        engine, raw_store, release, dataset, _with_complete(dataset, may_drop=("period = 2005",))
    )

    assert outcome.outcome == "success", outcome.error
    assert outcome.result is not None
    assert (outcome.result.added, outcome.result.revised, outcome.result.withdrawn) == (0, 0, 1)
    assert outcome.result.summary().endswith(f"{before.height - 1} unchanged, 1 withdrawn")
    eu_2005 = (
        (pl.col("area") == "EU27_2020")
        & (pl.col("unit_code") == "I90")
        & (pl.col("src_crf") == "TOTXMEMONIA")
        & (pl.col("period") == "2005")
    )
    assert before.filter(eu_2005)["value"].to_list() == [value]
    assert observations(engine, dataset).filter(eu_2005).height == 0
    assert _closed_rows(engine, dataset) == 1
    found = rd.changes(engine, start, datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=1))
    assert found.snapshots.select("dataset_id", "rows_revised", "rows_withdrawn").rows()[-1] == (
        dataset,
        0,
        1,
    )


def _eu_2005_nulled(release: Path) -> float:
    """The audit's repro: sdg_13_10's EU27 I90 TOTXMEMONIA 2005 value set to null in the value map."""
    path = release / "eurostat" / "sdg_13_10.json"
    doc: dict[str, Any] = orjson.loads(path.read_bytes())
    old = float(doc["value"]["5"])
    doc["value"]["5"] = None
    path.write_bytes(orjson.dumps(doc))
    return old


EU_2005 = (
    (pl.col("area") == "EU27_2020")
    & (pl.col("unit_code") == "I90")
    & (pl.col("src_crf") == "TOTXMEMONIA")
    & (pl.col("period") == "2005")
)


def test_a_withdrawal_the_completeness_check_finds_is_kept_and_can_be_accepted(
    engine: Engine, raw_store: RawStore, release: Path
) -> None:
    dataset = "eurostat_sdg_13_10"
    assert _ingest(engine, raw_store, DEFAULT_SNAPSHOT_DIR, dataset).outcome == "success"
    good = observations(engine, dataset, expand=False)
    before = observations(engine, dataset)
    value = _eu_2005_nulled(release)
    assert before.filter(EU_2005)["value"].to_list() == [value]

    rejected = _ingest(engine, raw_store, release, dataset)

    assert rejected.outcome == "rejected", rejected
    error = rejected.error or ""
    assert error.startswith(f"{dataset}: completeness: the payload lacks what it should hold")
    assert "area EU27_2020" in error and "periods 2005 [the previous vintage had]" in error
    (kept,) = rejections(engine, dataset)
    assert f"kept as rejected snapshot {kept.short}" in error
    assert f"kestava accept {dataset} {kept.short} --why" in error
    assert kept.acceptable and [v["kind"] for v in kept.violations] == ["withdrawal"]
    message = str(kept.violations[0]["message"])
    assert "area='EU27_2020'" in message and "period 2005" in message and "previous vintage" in message
    assert raw_store.get(kept.payloads[0]["sha256"]) == (release / "eurostat" / "sdg_13_10.json").read_bytes()
    assert observations(engine, dataset, expand=False).equals(good)
    assert job_runs(engine, f"ingest:{dataset}")["outcome"][0] == "rejected"

    done = accept(
        engine,
        load_catalogue(),
        dataset,
        kept.short,
        by="Ops",
        why="Eurostat withdrew it",
        raw_store=raw_store,
    )

    assert done.rejection.accepted_by == "Ops" and done.rejection.snapshot_id == done.result.snapshot_id
    assert (done.result.added, done.result.revised, done.result.withdrawn) == (0, 0, 1)
    assert observations(engine, dataset).filter(EU_2005).height == 0
    assert observations(engine, dataset).height == before.height - 1
    assert _closed_rows(engine, dataset) == 1  # its history kept
    runs = job_runs(engine, f"ingest:{dataset}")
    assert (runs["trigger"][0], runs["outcome"][0], runs["rows_withdrawn"][0]) == ("accept", "success", 1)
    # the same release again: unchanged
    assert _ingest(engine, raw_store, release, dataset).outcome == "unchanged"


def test_an_accepted_completeness_withdrawal_is_loaded_by_the_next_ingest(
    engine: Engine, raw_store: RawStore, release: Path
) -> None:
    """An acceptance whose load did not happen (another run held the lock): the next ingest of the same
    payload passes the completeness check and loads it."""
    dataset = "eurostat_sdg_13_10"
    assert _ingest(engine, raw_store, DEFAULT_SNAPSHOT_DIR, dataset).outcome == "success"
    _eu_2005_nulled(release)
    assert _ingest(engine, raw_store, release, dataset).outcome == "rejected"
    (kept,) = rejections(engine, dataset)
    record_acceptance(engine, kept.id, by="Ops", why="Eurostat withdrew it")

    outcome = _ingest(engine, raw_store, release, dataset)

    assert outcome.outcome == "success", outcome.error
    assert outcome.result is not None and outcome.result.withdrawn == 1
    assert observations(engine, dataset).filter(EU_2005).height == 0


# ------------------------------------------------------------------------------------------ what is covered


def test_a_municipality_no_longer_requested_stays_current(
    engine: Engine, raw_store: RawStore, release: Path
) -> None:
    """Syke is asked per municipality: one left out of the request is not covered, so its rows stay."""
    dataset = "syke_emissions"
    assert _ingest(engine, raw_store, DEFAULT_SNAPSHOT_DIR, dataset).outcome == "success"
    kauniainen = observations(engine, dataset, area="235", expand=False)
    catalogue = load_catalogue()
    spec = catalogue.dataset(dataset)
    fewer = [m for m in spec.options["municipalities"] if m != "235"]
    manifest = read_manifest(release)
    manifest.exchanges = [e for e in manifest.exchanges if not e.file.endswith("kunta_235.csv")]
    write_manifest(manifest, release)
    changed = spec.model_copy(
        update={
            "options": {**spec.options, "municipalities": fewer},
            "complete": CompleteSpec.model_validate(
                {**spec.complete.model_dump(), "may_drop": ["area = 235"]}
            ),
        }
    )
    outcome = _ingest(
        engine, raw_store, release, dataset, catalogue.model_copy(update={"datasets": {dataset: changed}})
    )

    assert outcome.outcome == "success", outcome.error
    assert outcome.result is not None and outcome.result.withdrawn == 0
    assert observations(engine, dataset, area="235", expand=False).equals(kauniainen)


def _fingrid_release(folder: Path, reference: Any) -> Path:
    manifest = Manifest(label="demo", description="demo", created="2026-11-23")
    manifest.dataset_options = {"fingrid_emission_factor": {"reference_date": reference.isoformat()}}
    original = fingrid.DEMO_REFERENCE_DATE
    fingrid.DEMO_REFERENCE_DATE = reference
    try:
        fingrid.generate(folder, manifest)
    finally:
        fingrid.DEMO_REFERENCE_DATE = original
    write_manifest(manifest, folder)
    return folder


def test_days_that_left_fingrids_moving_window_stay_current(
    engine: Engine, raw_store: RawStore, tmp_path: Path
) -> None:
    dataset = "fingrid_emission_factor"
    first = _fingrid_release(tmp_path / "a", fingrid.DEMO_REFERENCE_DATE)
    later = _fingrid_release(tmp_path / "b", fingrid.DEMO_REFERENCE_DATE + timedelta(days=3))
    assert _ingest(engine, raw_store, first, dataset).outcome == "success"
    before = observations(engine, dataset)

    outcome = _ingest(engine, raw_store, later, dataset)

    assert outcome.outcome == "success", outcome.error
    assert outcome.result is not None and outcome.result.added > 0
    assert outcome.result.withdrawn == 0
    now = observations(engine, dataset)
    oldest = before["period"].min()
    assert now.filter(pl.col("period") == oldest).height == before.filter(pl.col("period") == oldest).height
    assert _closed_rows(engine, dataset) == outcome.result.revised


def _recorded(dataset: str) -> tuple[DatasetSpec, list[Payload], pl.DataFrame]:
    """A dataset's recorded payloads of the bundled snapshot and their parsed frame."""
    spec = offline_spec(load_catalogue().dataset(dataset), DEFAULT_SNAPSHOT_DIR)
    connector = connector_for(spec.protocol)
    fetcher = ReplayFetcher(DEFAULT_SNAPSHOT_DIR)
    payloads = connector.fetch(spec, fetcher)
    return spec, payloads, connector.parse(spec, payloads)


def _covered(
    spec: DatasetSpec, payloads: list[Payload], frame: pl.DataFrame, rows: list[tuple[str, str]]
) -> list[bool]:
    expr = coverage(spec, payloads, frame)
    assert expr is not None
    probe = pl.DataFrame(rows, schema={"area": pl.String, "period": pl.String}, orient="row")
    return probe.with_columns(expr.alias("c"))["c"].to_list()


def test_what_each_kind_of_payload_covers() -> None:
    """The declared coverage on the recorded requests: a point-in-time table covers its reference date
    only, a PxWeb query the periods it names, Eurostat its geos from sinceTimePeriod on, HSY all."""
    spec, payloads, frame = _recorded("traficom_cars")
    assert spec.complete.covers == "payload_periods"
    (date_held,) = frame["period"].unique().to_list()
    assert _covered(spec, payloads, frame, [("049", date_held), ("049", "2020-12-31")]) == [True, False]

    spec, payloads, frame = _recorded("statfin_population")
    held = sorted(frame["period"].unique().to_list())
    assert _covered(spec, payloads, frame, [("049", held[-1]), ("049", "1850")]) == [True, False]

    spec, payloads, frame = _recorded("eurostat_sdg_13_10")
    assert _covered(spec, payloads, frame, [("FI", "2005"), ("SE", "2005"), ("FI", "1995")]) == [
        True,
        False,
        False,
    ]

    spec, payloads, frame = _recorded("hsy_emissions")
    assert spec.complete.covers == "all"
    assert _covered(spec, payloads, frame, [("049", "1850"), ("999", "2020")]) == [True, True]

    none = spec.model_copy(update={"complete": spec.complete.model_copy(update={"covers": "none"})})
    assert coverage(none, payloads, frame) is None


# ------------------------------------------------------------------------------------------ the load itself


def _frame(values: dict[tuple[str, str], float]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "area": [a for a, _ in values],
            "period": [p for _, p in values],
            "value": list(values.values()),
            "flag": [None] * len(values),
            "unit": ["kt CO2e"] * len(values),
            "measure": ["emissions"] * len(values),
        },
        schema_overrides={"flag": pl.String, "value": pl.Float64},
    )


def test_the_load_closes_only_covered_observations_the_payload_lacks(
    engine: Engine, dataset_info: DatasetInfo, raw_store: RawStore
) -> None:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    first = {("049", "2022"): 250.0, ("049", "2023"): 240.0, ("091", "2022"): 900.0, ("091", "2023"): 880.0}
    load_snapshot(
        engine,
        dataset_info,
        [make_payload(b"v1", t0)],
        _frame(first),
        reader_version="t/1",
        raw_store=raw_store,
    )
    second = {("049", "2023"): 240.0, ("091", "2023"): 880.0}  # 2022 gone everywhere

    not_covering = load_snapshot(
        engine,
        dataset_info,
        [make_payload(b"v2", t0 + timedelta(days=1))],
        _frame(second),
        reader_version="t/1",
        raw_store=raw_store,
    )
    assert not_covering.withdrawn == 0  # no coverage declared: nothing closed (the old behaviour)
    assert observations(engine, dataset_info.id).height == 4

    result = load_snapshot(
        engine,
        dataset_info,
        [make_payload(b"v3", t0 + timedelta(days=2))],
        _frame(second),
        reader_version="t/1",
        raw_store=raw_store,
        covers=pl.col("area") == "049",  # a payload covering Espoo only (a per-municipality file)
    )

    assert (result.added, result.revised, result.unchanged, result.withdrawn) == (0, 0, 2, 1)
    now = observations(engine, dataset_info.id).sort("area", "period")
    assert now.select("area", "period").rows() == [("049", "2023"), ("091", "2022"), ("091", "2023")]
    held = observations(engine, dataset_info.id, as_of=t0 + timedelta(days=1, hours=1))
    assert ("049", "2022") in held.select("area", "period").rows()  # its history is kept
    assert snapshots(engine, dataset_info.id)["rows_withdrawn"].to_list() == [0, 0, 1]


def test_catalogue_declarations_of_withdrawals_are_validated() -> None:
    from pydantic import ValidationError

    from ingest.catalogue import WithdrawalRule

    with pytest.raises(ValidationError, match="needs a why"):
        WithdrawalRule(reject=False)
    assert WithdrawalRule(reject=False, why="the source blanks provisional values").reject is False
    with pytest.raises(ValidationError):
        CompleteSpec.model_validate({"covers": "everything"})
    assert all(
        spec.plausibility.withdrawals.reject for spec in load_catalogue().datasets.values()
    )  # no dataset opts out
