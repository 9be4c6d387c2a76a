"""A partial revision of every dataset, in its real wire format: compute, export and report follow it.

The bundled snapshot is loaded and computed; then a copy of it with a few values revised in every
dataset's own payload (the HSY workbook's XML, Syke's CSV, PxWeb's and Eurostat's JSON-stat, Fingrid's
JSON) is ingested as the next vintage and computed again. Sums then take rows from two snapshots (the
revised row from the second, the rest from the first), which crashed `compute` before (issue 14). The
expected values are the values before plus the change made to the payload, worked out here from the
payload, not from the code under test.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine

from indicators.catalogue import load_indicator_catalogue
from indicators.engine import compute
from indicators.export import export_table
from ingest.catalogue import load_catalogue
from ingest.manifest import DEFAULT_SNAPSHOT_DIR, read_manifest
from ingest.run import ingest
from kestava import api
from report import weekly
from report.i18n import format_number
from storage.engine import open_database
from storage.rawstore import RawStore
from tests.conftest import BACKENDS, LOADED_TODAY, fresh_database

HELSINKI_DAY = timedelta(hours=2)  # Helsinki is UTC+2 in November: a day starts at 22:00 UTC the day before

# every dataset of the catalogue is revised here; a new dataset must be added (the test says so)
REVISED = {
    "hsy_emissions",
    "syke_emissions",
    "syke_population",
    "statfin_population",
    "traficom_cars",
    "eurostat_cei_pc031",
    "eurostat_cei_wm011",
    "eurostat_sdg_12_41",
    "eurostat_sdg_07_40",
    "eurostat_sdg_13_10",
    "fingrid_emission_factor",
}


@dataclass
class Expected:
    """An indicator value the revision must change: (indicator, area, period) moves by `delta`."""

    indicator: str
    area: str
    period: str
    delta: float
    dataset: str
    from_both: bool  # the value sums rows of the old and the new snapshot


@dataclass
class Revised:
    """The database before and after the revision, and what the revision changed."""

    engine: Engine
    before: pl.DataFrame
    after: pl.DataFrame
    expected: list[Expected] = field(default_factory=list)
    new_snapshots: dict[str, int] = field(default_factory=dict)
    old_snapshots: dict[str, int] = field(default_factory=dict)
    report_html: dict[str, str] = field(default_factory=dict)
    between: datetime | None = None  # a moment after the first load and before the revision's


# --------------------------------------------------------------------------------------------------
# editing payloads in their own formats


def _jsonstat_revise(path: Path, where: dict[str, str], delta: float) -> tuple[str, float]:
    """Add delta to the newest value at the categories `where` (other dimensions: one category, or the
    time dimension); returns (time code, old value). Works for PxWeb's list and Eurostat's dict values."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    ids, sizes = doc["id"], doc["size"]
    # a point-in-time table (Traficom's) has no time dimension: its one period is the reference date
    time_dim = next((d for d in ids if d in ("time", "timeperiod_y") or d.lower().startswith("vuosi")), "")
    positions: dict[str, int] = {}
    for dim, size in zip(ids, sizes, strict=True):
        index = doc["dimension"][dim]["category"]["index"]
        order = index if isinstance(index, dict) else {code: i for i, code in enumerate(index)}
        if dim in where:
            positions[dim] = order[where[dim]]
        elif dim != time_dim:
            assert size == 1, f"{path.name}: say which {dim} to revise"
            positions[dim] = 0
    times = doc["dimension"][time_dim]["category"]["index"] if time_dim else {"": 0}
    time_order = times if isinstance(times, dict) else {code: i for i, code in enumerate(times)}

    def flat(time_position: int) -> int:
        number = 0
        for dim, size in zip(ids, sizes, strict=True):
            number = number * size + (time_position if dim == time_dim else positions[dim])
        return number

    values = doc["value"]
    for code, position in sorted(time_order.items(), key=lambda item: -item[1]):
        key: Any = flat(position) if isinstance(values, list) else str(flat(position))
        old = values[key] if isinstance(values, list) else values.get(key)
        if old is not None:
            values[key] = round(old + delta, 6)
            path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
            return code, float(old)
    raise AssertionError(f"{path.name}: no value at {where}")


def _xlsx_revise(path: Path, city: str, delta: float) -> tuple[int, float]:
    """Add delta to the emissions (column I, Päästöt, kt) of the city's first row of its newest year."""
    source = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    strings = re.findall(r"<si><t[^>]*>(.*?)</t></si>", source.read("xl/sharedStrings.xml").decode())
    assert strings[7] == "Päästöt", "the demo workbook's header changed: column I is no longer Päästöt"
    sheet = source.read("xl/worksheets/sheet1.xml").decode()
    city_index = strings.index(city)
    rows = re.findall(r'<row r="(\d+)"[^>]*>(.*?)</row>', sheet)
    candidates = []
    for number, cells in rows:
        named = re.search(rf'<c r="A{number}" t="s"><v>{city_index}</v></c>', cells)
        year = re.search(rf'<c r="B{number}"><v>(\d+)</v></c>', cells)
        value = re.search(rf'<c r="I{number}"><v>([-\d.E]+)</v></c>', cells)
        if named and year and value:
            candidates.append((-int(year.group(1)), int(number), float(value.group(1))))
    negative_year, number, old = min(candidates)
    cell = re.search(rf'<c r="I{number}"><v>[^<]*</v></c>', sheet)
    assert cell is not None
    sheet = sheet.replace(cell.group(0), f'<c r="I{number}"><v>{old + delta!r}</v></c>', 1)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = (
                sheet.encode() if item.filename == "xl/worksheets/sheet1.xml" else source.read(item.filename)
            )
            target.writestr(item, data)
    path.write_bytes(out.getvalue())
    return -negative_year, old


def _syke_revise(path: Path, delta: float) -> tuple[int, float]:
    """Add delta to `kt` of the newest year's first row with a number; returns (year, old kt)."""
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    header = lines[0].split(";")
    kt, year = header.index("kt"), header.index("vuosi")
    numbered = [
        (int(cells[year]), i)
        for i, line in enumerate(lines[1:], 1)
        if line and (cells := line.split(";"))[kt] not in ("", "NA", "NULL")
    ]
    newest = max(y for y, _ in numbered)
    line_number = next(i for y, i in numbered if y == newest)
    cells = lines[line_number].split(";")
    old = float(cells[kt].replace(",", "."))
    cells[kt] = f"{old + delta:.4f}".replace(".", ",")
    lines[line_number] = ";".join(cells)
    path.write_text("\n".join(lines), encoding="utf-8")
    return newest, old


def _population_csv_revise(path: Path, code: str, delta: float) -> tuple[str, float]:
    """Add delta to the municipality's newest year in Syke's wide population file; (year, old value)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    header = lines[0].split(";")
    newest = max((c for c in header if c.isdigit()), key=int)
    column = header.index(newest)
    index = next(i for i, line in enumerate(lines) if line.split(";")[0] == str(int(code)))
    cells = lines[index].split(";")
    old = float(cells[column])
    cells[column] = str(round(old + delta))
    lines[index] = ";".join(cells)
    path.write_text("\n".join(lines), encoding="utf-8")
    return newest, old


def _fingrid_revise(path: Path, delta: float) -> tuple[str, int]:
    """Add delta to the first value of the last full ISO week; returns (week, values in that week)."""
    doc = json.loads(path.read_text(encoding="utf-8"))

    def helsinki_day(item: dict[str, Any]) -> date:
        moment = datetime.fromisoformat(item["startTime"].replace("Z", "+00:00")) + HELSINKI_DAY
        return moment.date()

    days = {helsinki_day(item) for item in doc["data"]}
    full_weeks = [
        d for d in days if d.isoweekday() == 7 and all(d - timedelta(days=k) in days for k in range(7))
    ]
    last_sunday = max(full_weeks)
    monday = last_sunday - timedelta(days=6)
    week = [i for i in doc["data"] if monday <= helsinki_day(i) <= last_sunday and i["value"] is not None]
    week[0]["value"] = round(week[0]["value"] + delta, 6)
    path.write_text(json.dumps(doc), encoding="utf-8")
    iso = monday.isocalendar()
    return f"{iso.year}-W{iso.week:02d}", len(week)


def _file(folder: Path, dataset: str, pattern: str) -> Path:
    (exchange,) = [
        e for e in read_manifest(folder).exchanges if e.dataset == dataset and re.search(pattern, e.file)
    ]
    return folder / exchange.file


def revise_snapshot(folder: Path) -> list[Expected]:
    """Revise a copy of the bundled snapshot in place; what each revision must do to the indicators."""
    expected: list[Expected] = []
    year, _ = _xlsx_revise(_file(folder, "hsy_emissions", r"\.xlsx$"), "Espoo", 10.0)
    expected += [
        Expected("ghg_total", "049", str(year), 10.0, "hsy_emissions", True),
        Expected("ghg_total", "PKS", str(year), 10.0, "hsy_emissions", True),
    ]
    year, _ = _syke_revise(_file(folder, "syke_emissions", r"kunta_0?49\.csv$"), 2.5)
    expected.append(Expected("syke_ghg_total", "049", str(year), 2.5, "syke_emissions", True))
    year_text, _ = _population_csv_revise(_file(folder, "syke_population", r"\.csv$"), "049", 500.0)
    expected.append(Expected("syke_population", "049", year_text, 500.0, "syke_population", False))
    period, _ = _jsonstat_revise(
        _file(folder, "statfin_population", r"-data-\d+\.json$"), {"alue_23_20260101": "KU049"}, 1000.0
    )
    expected += [
        Expected("population", "049", period, 1000.0, "statfin_population", False),
        Expected("population", "PKS", period, 1000.0, "statfin_population", True),
    ]
    _jsonstat_revise(
        _file(folder, "traficom_cars", r"-data-\d+\.json$"), {"Alue": "KU049", "Käyttövoima": "04"}, 100.0
    )
    expected += [
        Expected("cars_electric", "049", "*", 100.0, "traficom_cars", False),
        Expected("cars_rechargeable", "049", "*", 100.0, "traficom_cars", True),
    ]
    eurostat = {
        "eurostat_cei_pc031": ("municipal_waste_per_capita", {"geo": "FI"}),
        "eurostat_cei_wm011": ("recycling_rate", {"geo": "FI"}),
        "eurostat_sdg_12_41": ("circular_material_use_rate", {"geo": "FI"}),
        "eurostat_sdg_07_40": ("renewable_share", {"geo": "FI", "nrg_bal": "REN"}),
        "eurostat_sdg_13_10": ("net_ghg_national", {"geo": "FI", "src_crf": "TOTXMEMONIA", "unit": "I90"}),
    }
    for dataset, (indicator, where) in eurostat.items():
        period, _ = _jsonstat_revise(_file(folder, dataset, r"\.json$"), where, 1.0)
        expected.append(Expected(indicator, "FI", period, 1.0, dataset, False))
    week, count = _fingrid_revise(_file(folder, "fingrid_emission_factor", r"\.json$"), 48.0)
    expected.append(
        Expected("electricity_emission_factor", "FI", week, 48.0 / count, "fingrid_emission_factor", False)
    )
    return expected


# --------------------------------------------------------------------------------------------------
# the two vintages


def _values(engine: Engine) -> pl.DataFrame:
    return api.indicator_values(kind="observed", engine=engine)


@pytest.fixture(scope="module", params=BACKENDS)
def revised(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Revised]:
    folder = tmp_path_factory.mktemp("revisions")
    with fresh_database(request.param, folder) as url:
        engine = open_database(url)
        raw = RawStore(folder / "raw")
        first = ingest(engine, raw, offline=True)
        assert all(o.ok for o in first), [o.error for o in first if not o.ok]
        assert not compute(engine, today=LOADED_TODAY).errors
        before = _values(engine)
        between = datetime.now(UTC)

        snapshot = folder / "snapshot"
        shutil.copytree(DEFAULT_SNAPSHOT_DIR, snapshot)
        expected = revise_snapshot(snapshot)
        second = ingest(engine, raw, offline=True, snapshot_dir=snapshot)
        assert {o.dataset_id: o.outcome for o in second} == dict.fromkeys(REVISED, "success"), [
            (o.dataset_id, o.outcome, o.error) for o in second
        ]
        summary = compute(engine, today=LOADED_TODAY)
        assert not summary.errors, summary.errors
        state = Revised(engine, before, _values(engine), expected, between=between)
        state.old_snapshots = {o.dataset_id: o.result.snapshot_id for o in first if o.result}
        state.new_snapshots = {o.dataset_id: o.result.snapshot_id for o in second if o.result}
        for o in second:
            assert o.result is not None and o.result.revised >= 1 and o.result.added == 0, o.result
        for lang in ("fi", "sv", "en"):
            built = weekly.build_report(
                engine, weekly.current_week(LOADED_TODAY), lang=lang, out_dir=folder / "report", images=False
            )
            state.report_html[lang] = built.path.read_text(encoding="utf-8")
        yield state
        engine.dispose()


def test_every_dataset_of_the_catalogue_is_revised() -> None:
    assert set(load_catalogue().datasets) == REVISED, "add a revision of the new dataset to this test"


def _one(frame: pl.DataFrame, e: Expected, period: str | None = None) -> dict[str, Any]:
    rows = frame.filter(
        pl.col("indicator") == e.indicator, pl.col("area") == e.area, pl.col("period") == (period or e.period)
    )
    assert rows.height == 1, (e, rows)
    return rows.row(0, named=True)


def _period(state: Revised, e: Expected) -> str:
    """The period to check: a point-in-time dataset's ("*") is its newest."""
    if e.period != "*":
        return e.period
    rows = state.after.filter(pl.col("indicator") == e.indicator, pl.col("area") == e.area)
    return str(rows["period"].max())


def test_revised_values_move_by_the_change_made_to_the_payload(revised: Revised) -> None:
    for e in revised.expected:
        period = _period(revised, e)
        old, new = _one(revised.before, e, period), _one(revised.after, e, period)
        assert new["value"] - old["value"] == pytest.approx(e.delta, rel=1e-6, abs=1e-6), e


def test_unrevised_values_stay_as_they_were(revised: Revised) -> None:
    """Every other area and period of a revised indicator keeps its value."""
    changed = {(e.indicator, e.area, _period(revised, e)) for e in revised.expected}
    key = ["indicator", "area", "period"]
    for indicator in {e.indicator for e in revised.expected}:
        before = revised.before.filter(pl.col("indicator") == indicator)
        after = revised.after.filter(pl.col("indicator") == indicator)
        joined = before.join(after, on=key, suffix="_after")
        assert joined.height == before.height == after.height, indicator
        kept = joined.filter(
            ~pl.struct(key).map_elements(
                lambda r: (r["indicator"], r["area"], r["period"]) in changed, pl.Boolean
            )
        )
        assert kept.height > 0, indicator
        assert (kept["value_after"] - kept["value"]).abs().max() == pytest.approx(0, abs=1e-9), indicator


def test_ratios_follow_both_revised_inputs(revised: Revised) -> None:
    """Syke per resident = Syke total / population × 1000, both revised, from the stored parts."""
    (syke,) = [e for e in revised.expected if e.indicator == "syke_ghg_total"]
    total = _one(revised.after, syke)["value"]
    population = revised.after.filter(
        pl.col("indicator") == "population", pl.col("area") == "049", pl.col("period") == syke.period
    )
    ratio = _one(revised.after, Expected("syke_ghg_per_resident", "049", syke.period, 0, "", False))
    assert ratio["value"] == pytest.approx(total / population["value"].item() * 1000, rel=1e-9)
    share = _period(revised, Expected("ev_share", "049", "*", 0, "", False))
    electric = _one(revised.after, Expected("cars_electric", "049", share, 0, "", False))["value"]
    cars = _one(revised.after, Expected("cars_all", "049", share, 0, "", False))["value"]
    ev = _one(revised.after, Expected("ev_share", "049", share, 0, "", False))["value"]
    assert ev == pytest.approx(electric / cars * 100, rel=1e-9)


def test_provenance_lists_both_snapshots_of_a_sum_over_a_revision(revised: Revised) -> None:
    for e in revised.expected:
        row = _one(revised.after, e, _period(revised, e))
        ids = set(row["snapshot_ids"])
        new, old = revised.new_snapshots[e.dataset], revised.old_snapshots[e.dataset]
        assert new in ids, e
        if e.from_both:
            assert old in ids, (e, ids)
        provenance = api.provenance(sorted(ids), engine=revised.engine)
        assert set(provenance["snapshot_id"]) >= {new}
        assert provenance["url"].str.starts_with("https://").all()
        assert provenance["fetched_at"].is_not_null().all()


def test_export_carries_the_revised_numbers_and_both_snapshots(revised: Revised) -> None:
    catalogue = load_indicator_catalogue()
    for e in revised.expected:
        period = _period(revised, e)
        table = export_table(revised.engine, catalogue, [e.indicator], area=e.area)
        row = table.filter(pl.col("kind") == "observed", pl.col("period") == period).row(0, named=True)
        assert row["value"] == pytest.approx(_one(revised.after, e, period)["value"], rel=1e-12)
        ids = {int(i) for i in row["snapshot_ids"].split(",")}
        assert revised.new_snapshots[e.dataset] in ids
        if e.from_both:
            assert revised.old_snapshots[e.dataset] in ids
        assert row["source"], e


def test_the_report_states_the_revised_headline_in_every_language(revised: Revised) -> None:
    (espoo,) = [e for e in revised.expected if e.indicator == "ghg_total" and e.area == "049"]
    latest = _one(revised.after, espoo)["value"]
    previous = _one(revised.before, espoo)["value"]
    for lang, html in revised.report_html.items():
        assert format_number(latest, lang) in html, lang
        assert format_number(latest, lang) != format_number(previous, lang)


def test_observations_equal_a_row_by_row_decoding_of_the_series_keys(revised: Revised) -> None:
    """storage.read decodes each series key once and joins it back: the same frame as decoding every row,
    current and as of before the revision, over rows from both snapshots and flagged rows."""
    from sqlalchemy import and_, or_, select

    from storage import schema
    from storage.read import observations

    obs, series = schema.observation, schema.series
    moments: list[datetime | None] = [None, revised.between]
    for moment in moments:
        query = select(
            series.c.dataset_id.label("dataset"),
            obs.c.series_id,
            series.c.key,
            obs.c.period,
            obs.c.value,
            obs.c.flag,
            obs.c.snapshot_id,
            obs.c.valid_from,
            obs.c.valid_to,
        ).join(series, series.c.id == obs.c.series_id)
        if moment is None:
            query = query.where(obs.c.valid_to.is_(None))
        else:
            naive = moment.astimezone(UTC).replace(tzinfo=None)
            query = query.where(
                and_(obs.c.valid_from <= naive, or_(obs.c.valid_to.is_(None), obs.c.valid_to > naive))
            )
        with revised.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query.order_by(obs.c.series_id, obs.c.period))]
        for dataset in sorted(REVISED):
            mine = [r for r in rows if r["dataset"] == dataset]
            expected = pl.DataFrame(
                [{**{k: v for k, v in r.items() if k != "key"}, **json.loads(r["key"])} for r in mine],
                infer_schema_length=None,
            )
            found = observations(revised.engine, dataset, as_of=moment)
            assert found.height == expected.height > 0, dataset
            assert sorted(found.columns) == sorted(expected.columns), dataset
            assert found.select(expected.columns).equals(
                expected.cast(found.select(expected.columns).schema)
            ), dataset
        if moment is not None:  # before the revision: the first vintage only
            held = observations(revised.engine, "hsy_emissions", as_of=moment)["snapshot_id"]
            assert set(held) == {revised.old_snapshots["hsy_emissions"]}
        else:
            snapshots = set(observations(revised.engine, "hsy_emissions")["snapshot_id"])
            assert snapshots == {
                revised.old_snapshots["hsy_emissions"],
                revised.new_snapshots["hsy_emissions"],
            }
            flags = observations(revised.engine, "fingrid_emission_factor")["flag"]
            assert (flags == "partial").any()
