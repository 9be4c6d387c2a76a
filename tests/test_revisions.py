"""A partial revision of every dataset, in its real wire format: compute, export and report follow it.

The bundled snapshot is loaded and computed; then a copy of it with a few values revised in every
dataset's own payload (the HSY and Covenant of Mayors workbooks' XML, Syke's CSV, the OECD's CSV with
labels, PxWeb's and Eurostat's JSON-stat, Fingrid's JSON) is ingested as the next vintage and computed
again. Sums then take rows from two snapshots (the revised row from the second, the rest from the
first), which crashed `compute` before (issue 14). The expected values are the values before plus the
change made to the payload, worked out here from the payload, not from the code under test.
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

from indicators import query
from indicators.catalogue import (
    ChangeDerivation,
    IndexDerivation,
    Indicator,
    IndicatorCatalogue,
    RatioDerivation,
    ReconcileDerivation,
    ReconcileTotalDerivation,
    ReductionTarget,
    ResidualDerivation,
    ShareOfYearDerivation,
    SumDerivation,
    load_indicator_catalogue,
)
from indicators.engine import compute
from ingest.catalogue import load_catalogue
from ingest.citation import area_of_url, is_data_request
from ingest.manifest import DEFAULT_SNAPSHOT_DIR, read_manifest
from ingest.run import ingest
from kestava import api
from report import data as rd
from report import weekly
from report.export import export_table
from report.i18n import format_number
from storage import read, schema
from storage.engine import open_database
from storage.rawstore import RawStore
from tests.conftest import BACKENDS, LOADED_TODAY, LoadedTemplates

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
    "oecd_ghg",
    "oecd_green_area",
    "oecd_air_pollution",
    "oecd_pt_access",
    "covenant_inventories",
    "covenant_targets",
    "eurostat_urb_cenv",
    "eurostat_urb_ctran",
    "eurostat_urb_cpop1",
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
    value: float | None = None  # the value after, worked out from the revised payload's raw numbers


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
    cells: dict[str, int] = field(default_factory=dict)  # stored rows each dataset's revision changes
    loads: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # added, revised, unchanged
    changes: rd.Changes | None = None  # the report's "what changed" over the revision
    assessed_before: pl.DataFrame | None = None  # the stored assessments before the revision, as stored


# --------------------------------------------------------------------------------------------------
# editing payloads in their own formats


def _jsonstat_cells(doc: dict[str, Any], where: dict[str, str], name: str) -> dict[str, Any]:
    """The value keys at the categories `where` (other dimensions: one category, or the time dimension),
    by time code, newest first. Keys index PxWeb's value list or Eurostat's value dict."""
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
            assert size == 1, f"{name}: say which {dim} to revise"
            positions[dim] = 0
    times = doc["dimension"][time_dim]["category"]["index"] if time_dim else {"": 0}
    time_order = times if isinstance(times, dict) else {code: i for i, code in enumerate(times)}

    def flat(time_position: int) -> Any:
        number = 0
        for dim, size in zip(ids, sizes, strict=True):
            number = number * size + (time_position if dim == time_dim else positions[dim])
        return number if isinstance(doc["value"], list) else str(number)

    return {code: flat(position) for code, position in sorted(time_order.items(), key=lambda i: -i[1])}


def _jsonstat_value(path: Path, where: dict[str, str], time: str) -> float:
    """The number at the categories `where` and the time code (as the payload holds it)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    key = _jsonstat_cells(doc, where, path.name)[time]
    values = doc["value"]
    value = values[key] if isinstance(values, list) else values.get(key)
    assert value is not None, f"{path.name}: no value at {where}, {time}"
    return float(value)


def _jsonstat_revise(
    path: Path, where: dict[str, str], delta: float, time: str | None = None
) -> tuple[str, float]:
    """Add delta to the newest value at the categories `where` (or the time code's); returns (time
    code, old value)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    values = doc["value"]
    for code, key in _jsonstat_cells(doc, where, path.name).items():
        old = values[key] if isinstance(values, list) else values.get(key)
        if old is not None and time in (None, code):
            values[key] = round(old + delta, 6)
            path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
            return code, float(old)
    raise AssertionError(f"{path.name}: no value at {where}")


def _jsonstat_code(path: Path, dimension: str, label: str) -> str:
    """The category of a dimension whose label is `label` (e.g. a city's Urban Audit code)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    labels = doc["dimension"][dimension]["category"]["label"]
    (code,) = [code for code, name in labels.items() if name == label]
    return str(code)


_CELL = re.compile(r'<c r="([A-Z]+)\d+"([^>]*)><v>([^<]*)</v></c>')  # column, attributes, value


def _xlsx_rows(path: Path) -> tuple[zipfile.ZipFile, str, list[tuple[str, int, int, float]]]:
    """The workbook, its first sheet's XML and its rows as (city, year, row number, Päästöt in kt)."""
    source = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    strings = re.findall(r"<si><t[^>]*>(.*?)</t></si>", source.read("xl/sharedStrings.xml").decode())
    assert strings[7] == "Päästöt", "the demo workbook's header changed: column I is no longer Päästöt"
    sheet = source.read("xl/worksheets/sheet1.xml").decode()
    found = []
    for number, cells in re.findall(r'<row r="(\d+)"[^>]*>(.*?)</row>', sheet):
        row = {column: (kind, value) for column, kind, value in _CELL.findall(cells)}
        city, year, value = row.get("A"), row.get("B"), row.get("I")
        if city and city[0] == ' t="s"' and year and year[1].isdigit() and value and value[1]:
            found.append((strings[int(city[1])], int(year[1]), int(number), float(value[1])))
    return source, sheet, found


def _xlsx_total(path: Path, cities: list[str], year: int) -> float:
    """The cities' emissions (Päästöt, kt CO2e as the catalogue declares) summed over the year's rows."""
    _, _, rows = _xlsx_rows(path)
    assert {city for city, *_ in rows} >= set(cities), cities
    return sum(value for city, y, _, value in rows if city in cities and y == year)


def _xlsx_revise(path: Path, city: str, delta: float, year: int | None = None) -> tuple[int, float]:
    """Add delta to the emissions (column I, Päästöt, kt) of the city's first row of the year (default:
    its newest); returns (year, old value)."""
    source, sheet, rows = _xlsx_rows(path)
    year = year or max(y for c, y, _, _ in rows if c == city)
    number, old = min((n, v) for c, y, n, v in rows if c == city and y == year)
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
    return year, old


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


def _syke_total(path: Path, year: int) -> float:
    """The municipality's `kt` summed over the year's rows, a row repeated exactly counted once (Syke's
    rule for the Åland files); NA/NULL/empty are no number."""
    lines = path.read_text(encoding="utf-8").split("\n")
    header = lines[0].split(";")
    kt, column = header.index("kt"), header.index("vuosi")
    rows = {line for line in lines[1:] if line}
    return sum(
        float(cells[kt].replace(",", "."))
        for cells in (line.split(";") for line in rows)
        if int(cells[column]) == year and cells[kt] not in ("", "NA", "NULL")
    )


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


def _fingrid_revise(path: Path, delta: float) -> tuple[str, int, float]:
    """Add delta to the first value of the last full ISO week; returns (week, values in that week, their
    mean after the change)."""
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
    mean = sum(float(i["value"]) for i in week) / len(week)
    return f"{iso.year}-W{iso.week:02d}", len(week), mean


def _oecd_fields(line: str, width: int) -> list[str]:
    """A line of an OECD CSV with labels as fields: a label holding an unquoted ", " (e.g. "Buildings,
    residential and commercial") is split there, so a field starting with a space joins the one before."""
    fields: list[str] = []
    for part in line.split(","):
        if fields and part.startswith(" "):
            fields[-1] += "," + part
        else:
            fields.append(part)
    assert len(fields) == width, line
    return fields


def _oecd_number(fields: list[str], header: list[str]) -> float:
    """OBS_VALUE × 10^UNIT_MULT (the documented SDMX meaning of the unit multiplier)."""
    exponent = fields[header.index("UNIT_MULT")].strip() or "0"
    return float(fields[header.index("OBS_VALUE")]) * 10.0 ** int(exponent)


def _oecd_revise(
    path: Path, city: str, where: dict[str, str], delta: float, exponent: int | None = None
) -> tuple[str, float, float]:
    """Add delta (in the stored unit: OBS_VALUE × 10^UNIT_MULT) to the newest year of the city (by its
    REF_AREA label) at the codes `where`, written with the line's UNIT_MULT or `exponent` (e.g. 3: in
    thousands); returns (year, value before, value after), the value after read back from the line."""
    lines = path.read_text(encoding="utf-8").split("\n")
    header = lines[0].split(",")
    area, time, value = header.index("REF_AREA"), header.index("TIME_PERIOD"), header.index("OBS_VALUE")
    rows = {i: _oecd_fields(line, len(header)) for i, line in enumerate(lines[1:], 1) if line}
    matching = [
        (fields[time], i)
        for i, fields in rows.items()
        if fields[area + 1] == city
        and re.fullmatch(r"\d{4}", fields[time])
        and all(fields[header.index(d)] == code for d, code in where.items())
        and fields[value]
    ]
    assert matching, (path.name, city, where)
    year, number = max(matching)
    fields = rows[number]
    old = _oecd_number(fields, header)
    mult = header.index("UNIT_MULT")
    if exponent is None:
        exponent = int(fields[mult].strip() or "0")
    else:
        fields[mult : mult + 2] = [str(exponent), {0: "Units", 3: "Thousands", 6: "Millions"}[exponent]]
    text = repr(round((old + delta) / 10.0**exponent, 9)).removesuffix(".0")
    fields[value] = fields[value + 1] = text  # the code column and its label column hold the number
    lines[number] = ",".join(fields)
    path.write_text("\n".join(lines), encoding="utf-8")
    return year, old, _oecd_number(_oecd_fields(lines[number], len(header)), header)


_XLSX_CELL = re.compile(r'<c r="([A-Z]+)(\d+)"([^>]*)><v>([^<]*)</v></c>')  # column, row, attributes, value


def _xlsx_sheet_path(source: zipfile.ZipFile, sheet: str) -> str:
    """The part name of the sheet called `sheet` (workbook.xml's r:id, resolved by its relationships)."""
    workbook = source.read("xl/workbook.xml").decode()
    (rid,) = re.findall(rf'<sheet name="{re.escape(sheet)}" sheetId="\d+" r:id="([^"]+)"/>', workbook)
    relations = source.read("xl/_rels/workbook.xml.rels").decode()
    (target,) = re.findall(rf'<Relationship Id="{rid}" Type="[^"]+" Target="([^"]+)"/>', relations)
    return f"xl/{target}"


def _xlsx_table(path: Path, sheet: str) -> list[dict[str, tuple[str, str]]]:
    """A sheet's rows after its header row as {header: (cell reference, text)}; shared strings resolved."""
    source = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    strings = re.findall(r"<si><t[^>]*>(.*?)</t></si>", source.read("xl/sharedStrings.xml").decode())
    xml = source.read(_xlsx_sheet_path(source, sheet)).decode()
    rows = []
    for cells in re.findall(r"<row [^>]*>(.*?)</row>", xml):
        rows.append(
            {
                column: (f"{column}{row}", strings[int(v)] if ' t="s"' in kind else v)
                for column, row, kind, v in _XLSX_CELL.findall(cells)
            }
        )
    header = {column: text for column, (_, text) in rows[0].items()}
    return [{header[column]: cell for column, cell in row.items()} for row in rows[1:]]


def _xlsx_set(path: Path, sheet: str, reference: str, value: float) -> None:
    """Write a number into a cell of the sheet (the cell's XML edited, the other parts copied)."""
    source = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    part = _xlsx_sheet_path(source, sheet)
    xml = source.read(part).decode()
    cell = re.search(rf'<c r="{reference}"(?: t="n")?><v>[^<]*</v></c>', xml)
    assert cell is not None, (path.name, sheet, reference)  # a number cell, not a shared string
    xml = xml.replace(cell.group(0), f'<c r="{reference}"><v>{value!r}</v></c>', 1)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item, xml.encode() if item.filename == part else source.read(item.filename))
    path.write_bytes(out.getvalue())


def _covenant_plans(folder: Path, city: str) -> tuple[set[str], set[str]]:
    """The city's action plans (sheet 2 of df2_) and monitoring reports (sheet 3 of df3_), found by its
    organisation_name in the signatories (sheet 1 of df1_)."""
    signatories = _xlsx_table(_file(folder, "covenant_inventories", r"/df1_"), "1")
    (organisation,) = [r["organisation_id"][1] for r in signatories if r["organisation_name"][1] == city]
    plans = _xlsx_table(_file(folder, "covenant_inventories", r"/df2_"), "2")
    reports = _xlsx_table(_file(folder, "covenant_inventories", r"/df3_"), "3")
    return (
        {r["action_plan_id"][1] for r in plans if r["organisation_id"][1] == organisation},
        {r["monitoring_report_id"][1] for r in reports if r["organisation_id"][1] == organisation},
    )


def _covenant_revise(folder: Path, city: str, delta: float) -> tuple[str, float, float]:
    """Add delta (t) to the first reported emission_measure of the city's newest monitoring inventory
    (sheet 3D_1); returns (year, the inventory's total after: its emission rows summed, "-" and "null"
    not counted, and its population in the inventory year)."""
    workbook = _file(folder, "covenant_inventories", r"/df3_")
    _, reports = _covenant_plans(folder, city)
    rows = [r for r in _xlsx_table(workbook, "3D_1") if r["monitoring_report_id"][1] in reports]
    year = max(r["inventory_year"][1] for r in rows)
    mine = [r for r in rows if r["inventory_year"][1] == year]
    assert len({r["monitoring_report_id"][1] for r in mine}) == 1, mine  # one inventory that year
    first = next(r for r in mine if r["emission_measure"][1] not in ("-", "null"))
    reference, old = first["emission_measure"]
    _xlsx_set(workbook, "3D_1", reference, float(old) + delta)
    revised = [r for r in _xlsx_table(workbook, "3D_1") if r["monitoring_report_id"][1] in reports]
    total = sum(
        float(r["emission_measure"][1])
        for r in revised
        if r["inventory_year"][1] == year and r["emission_measure"][1] not in ("-", "null")
    )
    (population,) = {float(r["population_in_the_inventory_year"][1]) for r in mine}
    return str(int(float(year))), total, population


def _covenant_target_revise(folder: Path, city: str, target: str, delta: float) -> None:
    """Add delta (a fraction of 1) to the city's reduction target `target` (sheet 2A_1 of df2_)."""
    workbook = _file(folder, "covenant_inventories", r"/df2_")
    plans, _ = _covenant_plans(folder, city)
    (row,) = [r for r in _xlsx_table(workbook, "2A_1") if r["action_plan_id"][1] in plans]
    reference, old = row[f"co2_target_{target}"]
    _xlsx_set(workbook, "2A_1", reference, round(float(old) + delta, 6))


def _file(folder: Path, dataset: str, pattern: str) -> Path:
    (exchange,) = [
        e for e in read_manifest(folder).exchanges if e.dataset == dataset and re.search(pattern, e.file)
    ]
    return folder / exchange.file


HSY_CITIES = {"049": "Espoo", "091": "Helsinki", "092": "Vantaa", "235": "Kauniainen"}


def revise_snapshot(folder: Path) -> tuple[list[Expected], dict[str, int]]:
    """Revise a copy of the bundled snapshot in place; what each revision must do to the indicators (with
    the values after, worked out from the revised payloads' raw numbers), and how many stored rows of each
    dataset it changes (one per cell changed; Fingrid stores means: the day's and the week's)."""
    expected: list[Expected] = []
    cells = dict.fromkeys(REVISED, 1) | {"fingrid_emission_factor": 2}
    workbook = _file(folder, "hsy_emissions", r"\.xlsx$")
    # Espoo's newest year, its base year 1990 (targets, index, change on 1990, residual) and 2019 (the
    # carbon-sink estimate): every HSY derivation takes a revised row besides unrevised ones
    revisions = [(None, 10.0), (1990, 20.0), (2019, 5.0)]
    cells["hsy_emissions"] = len(revisions)
    for wanted, delta in revisions:
        year, _ = _xlsx_revise(workbook, "Espoo", delta, wanted)
        for area, cities in (("049", ["Espoo"]), ("PKS", list(HSY_CITIES.values()))):
            total = _xlsx_total(workbook, cities, year)
            expected.append(Expected("ghg_total", area, str(year), delta, "hsy_emissions", True, total))
    syke = _file(folder, "syke_emissions", r"kunta_0?49\.csv$")
    year, _ = _syke_revise(syke, 2.5)
    expected.append(
        Expected("syke_ghg_total", "049", str(year), 2.5, "syke_emissions", True, _syke_total(syke, year))
    )
    year_text, old = _population_csv_revise(_file(folder, "syke_population", r"\.csv$"), "049", 500.0)
    expected.append(Expected("syke_population", "049", year_text, 500.0, "syke_population", False, old + 500))
    statfin = _file(folder, "statfin_population", r"-data-\d+\.json$")
    municipality = "alue_23_20260101"
    period, old = _jsonstat_revise(statfin, {municipality: "KU049"}, 1000.0)
    capital = sum(_jsonstat_value(statfin, {municipality: f"KU{code}"}, period) for code in HSY_CITIES)
    expected += [
        Expected("population", "049", period, 1000.0, "statfin_population", False, old + 1000),
        Expected("population", "PKS", period, 1000.0, "statfin_population", True, capital),
    ]
    cars = _file(folder, "traficom_cars", r"-data-\d+\.json$")
    _, old = _jsonstat_revise(cars, {"Alue": "KU049", "Käyttövoima": "04"}, 100.0)
    rechargeable = sum(
        _jsonstat_value(cars, {"Alue": "KU049", "Käyttövoima": p}, "") for p in ("04", "39", "44")
    )
    expected += [
        Expected("cars_electric", "049", "*", 100.0, "traficom_cars", False, old + 100),
        Expected("cars_rechargeable", "049", "*", 100.0, "traficom_cars", True, rechargeable),
    ]
    eurostat = {
        "eurostat_cei_pc031": ("municipal_waste_per_capita", {"geo": "FI"}),
        "eurostat_cei_wm011": ("recycling_rate", {"geo": "FI"}),
        "eurostat_sdg_12_41": ("circular_material_use_rate", {"geo": "FI"}),
        "eurostat_sdg_07_40": ("renewable_share", {"geo": "FI", "nrg_bal": "REN"}),
        "eurostat_sdg_13_10": ("net_ghg_national", {"geo": "FI", "src_crf": "TOTXMEMONIA", "unit": "I90"}),
    }
    for dataset, (indicator, where) in eurostat.items():
        period, old = _jsonstat_revise(_file(folder, dataset, r"\.json$"), where, 1.0)
        expected.append(Expected(indicator, "FI", period, 1.0, dataset, False, old + 1))
    week, count, mean = _fingrid_revise(_file(folder, "fingrid_emission_factor", r"\.json$"), 48.0)
    expected.append(
        Expected(
            "electricity_emission_factor", "FI", week, 48.0 / count, "fingrid_emission_factor", False, mean
        )
    )
    expected += _revise_peers(folder, cells)
    return expected, cells


def _revise_peers(folder: Path, cells: dict[str, int]) -> list[Expected]:
    """Espoo's figures in the peer-city sources (area 049, found by each source's own name for it)."""
    expected: list[Expected] = []
    # OECD (CSV with labels): the total in t and per resident, green area, PM2.5, public transport access
    ghg = _file(folder, "oecd_ghg", r"data\.csv$")
    total = {"MEASURE": "GHG_TOTAL", "UNIT_MEASURE": "T_CO2E"}
    # the revised total written in thousands (UNIT_MULT 3): stored as OBS_VALUE × 10^UNIT_MULT tonnes
    year, old, new = _oecd_revise(ghg, "Espoo/Esbo", total, 1000.0, exponent=3)
    expected.append(Expected("peer_ghg_total_oecd", "049", year, 1.0, "oecd_ghg", False, new / 1000))
    per_resident = {"MEASURE": "GHG_TOTAL", "UNIT_MEASURE": "T_CO2E_PS"}
    year, old, new = _oecd_revise(ghg, "Espoo/Esbo", per_resident, 0.01)
    expected.append(Expected("peer_ghg_per_resident_oecd", "049", year, 0.01, "oecd_ghg", False, new))
    # a sector whose label holds an unquoted comma ("Buildings, residential and commercial"): no
    # indicator, but the repaired line must revise its own stored row and no other
    buildings = {"MEASURE": "GHG_BUILDINGS", "UNIT_MEASURE": "T_CO2E"}
    _oecd_revise(ghg, "Espoo/Esbo", buildings, 500.0)
    cells["oecd_ghg"] = 3
    for dataset, indicator, where, delta in (
        ("oecd_green_area", "peer_green_area_oecd", {"MEASURE": "GREEN_AREA", "UNIT_MEASURE": "M2_PS"}, 2.5),
        ("oecd_air_pollution", "peer_pm25_oecd", {"MEASURE": "PM25_POP_EXP", "UNIT_MEASURE": "MCG_M3"}, 0.25),
        (
            "oecd_pt_access",
            "peer_pt_access_oecd",
            {"MEASURE": "POP_WITH_ACCESS", "TRAVEL_TIME": "MN_LE10"},
            1.5,
        ),
    ):
        year, old, new = _oecd_revise(_file(folder, dataset, r"data\.csv$"), "Espoo/Esbo", where, delta)
        expected.append(Expected(indicator, "049", year, delta, dataset, False, new))
    # Covenant of Mayors (XLSX): the newest inventory's emissions, stored with the emissions per resident
    # derived from them (2 rows); a reduction target (no indicator: only its stored row)
    year, total_t, population = _covenant_revise(folder, "Espoo", 5000.0)
    expected += [
        Expected("peer_ghg_total_covenant", "049", year, 5.0, "covenant_inventories", False, total_t / 1000),
        Expected(
            "peer_ghg_per_resident_covenant",
            "049",
            year,
            5000.0 / population,
            "covenant_inventories",
            False,
            total_t / population,
        ),
    ]
    cells["covenant_inventories"] = 2
    _covenant_target_revise(folder, "Espoo", "CoM2030", -0.05)
    cells["covenant_targets"] = 1
    # Eurostat city statistics (JSON-stat, a `cities` dimension): waste and green urban area (2 cells),
    # cars, and the population of a year that has a waste figure, so the ratio moves on both sides. Each
    # ratio takes the other input from the old snapshot of the other dataset: not from both of its own.
    cenv = _file(folder, "eurostat_urb_cenv", r"\.json$")
    pop = _file(folder, "eurostat_urb_cpop1", r"\.json$")
    espoo = _jsonstat_code(cenv, "cities", "Espoo/Esbo")
    assert espoo == _jsonstat_code(pop, "cities", "Espoo/Esbo")
    people = {"cities": espoo, "indic_ur": "DE1001V"}
    waste = {"cities": espoo, "indic_ur": "EN4008V"}
    year, old = _jsonstat_revise(cenv, waste, 1.5)
    residents = _jsonstat_value(pop, people, year)
    expected += [
        Expected("peer_waste_total_ua", "049", year, 1.5, "eurostat_urb_cenv", False, old + 1.5),
        Expected(
            "peer_waste_per_resident_ua",
            "049",
            year,
            1.5 / residents * 1e6,
            "eurostat_urb_cenv",
            False,
            (old + 1.5) / residents * 1e6,
        ),
    ]
    green = {"cities": espoo, "indic_ur": "EN5205V"}
    year, old = _jsonstat_revise(cenv, green, 0.3)
    expected.append(
        Expected("peer_green_urban_area_ua", "049", year, 0.3, "eurostat_urb_cenv", False, old + 0.3)
    )
    cells["eurostat_urb_cenv"] = 2
    ctran = _file(folder, "eurostat_urb_ctran", r"\.json$")
    year, old = _jsonstat_revise(ctran, {"cities": espoo, "indic_ur": "TT1057I"}, 2.0)
    expected.append(Expected("peer_cars_ua", "049", year, 2.0, "eurostat_urb_ctran", False, old + 2.0))
    # the newest year with a waste figure before the one revised above
    doc = json.loads(cenv.read_text(encoding="utf-8"))
    years = [code for code, key in _jsonstat_cells(doc, waste, cenv.name).items() if key in doc["value"]]
    year = years[1]  # newest first
    kilotonnes = _jsonstat_value(cenv, waste, year)
    year, old = _jsonstat_revise(pop, people, 1000.0, time=year)
    expected += [
        Expected("peer_population_ua", "049", year, 1000.0, "eurostat_urb_cpop1", False, old + 1000),
        Expected(
            "peer_waste_per_resident_ua",
            "049",
            year,
            (kilotonnes / (old + 1000) - kilotonnes / old) * 1e6,
            "eurostat_urb_cpop1",
            False,
            kilotonnes / (old + 1000) * 1e6,
        ),
    ]
    return expected


# --------------------------------------------------------------------------------------------------
# the two vintages


def _values(engine: Engine) -> pl.DataFrame:
    # every series' own values: a target's residual and an assumed share are derived values too
    return api.indicator_values(kind=["observed", "target_derived", "assumption"], engine=engine)


def _snapshot_of_each_dataset(engine: Engine) -> dict[str, int]:
    """The snapshot of each dataset in a database loaded once (the template: one snapshot per dataset)."""
    snapshots = read.snapshots(engine)
    assert snapshots["dataset_id"].is_unique().all(), "one load of the bundled snapshot, one snapshot each"
    return {str(d): int(i) for d, i in zip(snapshots["dataset_id"], snapshots["id"], strict=True)}


@pytest.fixture(scope="module", params=BACKENDS)
def revised(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    loaded_templates: LoadedTemplates,
) -> Iterator[Revised]:
    """The bundled snapshot loaded and computed (a copy of the run's template), then a revised copy of it."""
    folder = tmp_path_factory.mktemp("revisions")
    with loaded_templates.copy(request.param, folder) as url:
        engine = open_database(url)
        raw = RawStore(folder / "raw")
        first = _snapshot_of_each_dataset(engine)
        before = _values(engine)
        assessed_before = query.assessments(latest=False, engine=engine)
        between = datetime.now(UTC)

        snapshot = folder / "snapshot"
        shutil.copytree(DEFAULT_SNAPSHOT_DIR, snapshot)
        expected, cells = revise_snapshot(snapshot)
        second = ingest(engine, raw, offline=True, snapshot_dir=snapshot)
        assert {o.dataset_id: o.outcome for o in second} == dict.fromkeys(REVISED, "success"), [
            (o.dataset_id, o.outcome, o.error) for o in second
        ]
        summary = compute(engine, today=LOADED_TODAY)
        assert not summary.errors, summary.errors
        state = Revised(engine, before, _values(engine), expected, between=between, cells=cells)
        state.old_snapshots = first
        state.assessed_before = assessed_before
        state.new_snapshots = {o.dataset_id: o.result.snapshot_id for o in second if o.result}
        state.loads = {
            o.dataset_id: (o.result.added, o.result.revised, o.result.unchanged) for o in second if o.result
        }
        end = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=1)
        state.changes = rd.changes(engine, between.replace(tzinfo=None), end, lang="en")
        # the three languages in one run, as kestava report does (the period's changes computed once)
        built = weekly.build_reports(
            engine,
            weekly.current_week(),  # this week: the vintages were fetched now (a past week shows neither)
            ("fi", "sv", "en"),
            out_dir=folder / "report",
            images=False,
        )
        state.report_html = {lang: result.path.read_text(encoding="utf-8") for lang, result in built.items()}
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
        assert new["value"] == pytest.approx(e.value, rel=1e-9), e


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
        # exactly: a value off in its last bit would be stored, reported and exported as a revision
        changed_rows = kept.filter(pl.col("value_after").ne_missing(pl.col("value")))
        assert changed_rows.height == 0, (indicator, changed_rows)


def test_values_that_use_no_revised_row_are_untouched(revised: Revised) -> None:
    """A revision stores only the revised rows under the new snapshot: every value of every indicator
    whose provenance does not name a new snapshot keeps its value and provenance exactly."""
    key = ["indicator", "area", "period"]
    joined = revised.before.join(revised.after, on=key, how="full", suffix="_after", coalesce=True)
    assert joined.height == revised.before.height == revised.after.height
    new = list(revised.new_snapshots.values())
    untouched = joined.filter(~pl.col("snapshot_ids_after").list.eval(pl.element().is_in(new)).list.any())
    assert 0 < untouched.height < joined.height
    moved = untouched.filter(
        pl.col("value_after").ne_missing(pl.col("value"))
        | (pl.col("snapshot_ids_after") != pl.col("snapshot_ids"))
    )
    assert moved.height == 0, moved.select(*key, "value", "value_after")


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


Cell = tuple[float | None, frozenset[int]]  # a value and the snapshots it comes from


def _cells(values: pl.DataFrame, indicator: str) -> dict[tuple[str, str], Cell]:
    rows = values.filter(pl.col("indicator") == indicator).iter_rows(named=True)
    return {(r["area"], r["period"]): (r["value"], frozenset(r["snapshot_ids"])) for r in rows}


def _percent(value: float | None, reference: float | None, scale: float = 100.0) -> float | None:
    return None if value is None or not reference else value / reference * scale


def _worked_out(catalogue: IndicatorCatalogue, indicator: Indicator, values: pl.DataFrame) -> dict[Any, Cell]:
    """The indicator per (area, period) from its stored inputs, by the catalogue's definitions, with the
    union of its inputs' snapshots: the test's own arithmetic, not the code under test."""
    d = indicator.derive
    out: dict[tuple[str, str], Cell] = {}
    if isinstance(d, RatioDerivation):
        denominator = _cells(values, d.denominator)
        for key, (value, ids) in _cells(values, d.numerator).items():
            if key in denominator:
                out[key] = (_percent(value, denominator[key][0], d.scale), ids | denominator[key][1])
    elif isinstance(d, IndexDerivation | ChangeDerivation):
        of = _cells(values, d.of)
        for (area, period), (value, ids) in of.items():
            if not re.fullmatch(r"\d{4}", period):
                continue
            previous = isinstance(d, ChangeDerivation) and d.against == "previous_year"
            reference = of.get((area, str(int(period) - 1 if previous else d.base_year)))
            if reference is not None:
                ratio = _percent(value, reference[0])
                if isinstance(d, ChangeDerivation):
                    ratio = None if ratio is None else ratio - 100.0
                out[(area, period)] = (ratio, ids | reference[1])
    elif isinstance(d, ResidualDerivation):
        source = catalogue.get(d.of)
        of = _cells(values, d.of)
        for target in source.targets:
            assert isinstance(target, ReductionTarget), target
            for (area, period), (value, ids) in of.items():
                applies = target.areas is None or area in target.areas
                if period == str(target.base_year) and value is not None and applies:
                    out[(area, str(target.year))] = (value * (1 - target.reduction), ids)
    elif isinstance(d, ShareOfYearDerivation):
        for (area, period), (value, ids) in _cells(values, d.of).items():
            if period == str(d.year):
                out[(area, period)] = (None if value is None else value * d.share, ids)
    elif isinstance(d, ReconcileDerivation):
        units = values.filter(pl.col("indicator").is_in([d.of, d.against]))["unit"].unique()
        assert units.len() == 1, (indicator.id, units)  # else the test would have to convert
        against = _cells(values, d.against)
        for key, (value, ids) in _cells(values, d.of).items():
            if key in against:
                ratio = _percent(value, against[key][0])
                out[key] = (None if ratio is None else ratio - 100.0, ids | against[key][1])
    elif isinstance(d, ReconcileTotalDerivation):
        of = _cells(values, d.of)
        for (area, period), (whole, whole_ids) in of.items():
            if area != d.whole:
                continue
            parts = [c for (a, p), c in of.items() if p == period and a != d.whole and re.search(d.parts, a)]
            numbers = [v for v, _ in parts if v is not None]
            if numbers:
                ratio = _percent(sum(numbers), whole)
                ids = whole_ids.union(*(i for _, i in parts))
                out[(area, period)] = (None if ratio is None else ratio - 100.0, ids)
    else:
        raise AssertionError(f"{indicator.id}: a derivation this test does not know: {d.kind}")
    return {k: c for k, c in out.items() if indicator.areas is None or k[0] in indicator.areas}


def test_every_derivation_over_two_vintages_follows_its_inputs(revised: Revised) -> None:
    """Ratios, indices, changes, residuals, shares of a year and reconciliations: every stored value is
    its inputs' stored values put through the catalogue's formula, its provenance the union of theirs;
    and for every kind of derivation the revision reached some value that now mixes both vintages."""
    catalogue = load_indicator_catalogue()
    new_ids = set(revised.new_snapshots.values())
    reached: dict[str, list[str]] = {}
    for indicator in catalogue.indicators.values():
        if isinstance(indicator.derive, SumDerivation):
            continue
        stored = _cells(revised.after, indicator.id)
        wanted = _worked_out(catalogue, indicator, revised.after)
        assert stored.keys() == wanted.keys(), indicator.id
        assert stored, indicator.id
        before = _cells(revised.before, indicator.id)
        for key, (value, ids) in stored.items():
            expected_value, expected_ids = wanted[key]
            assert ids == expected_ids, (indicator.id, key)
            if expected_value is None:
                assert value is None, (indicator.id, key)
                continue
            assert value == pytest.approx(expected_value, rel=1e-9, abs=1e-9), (indicator.id, key)
            moved = before.get(key, (None, None))[0] != value
            if moved and len(ids) > 1 and ids & new_ids:
                reached.setdefault(indicator.derive.kind, []).append(f"{indicator.id} {key}")
    kinds = {i.derive.kind for i in catalogue.indicators.values()} - {"sum", "select"}
    assert kinds <= set(reached), sorted(kinds - set(reached))


def test_targets_and_paths_follow_a_revised_base_year(revised: Revised) -> None:
    """A reduction target is the base year's value of the same release × (1 − reduction): after the
    base year's revision it is worked out from the revised workbook, and its path starts there; both
    list the two snapshots the base year's sum takes rows from."""
    catalogue = load_indicator_catalogue()
    hsy = {revised.old_snapshots["hsy_emissions"], revised.new_snapshots["hsy_emissions"]}
    stored = api.indicator_values("ghg_total", area="049", engine=revised.engine)
    for target in catalogue.get("ghg_total").targets:
        assert isinstance(target, ReductionTarget)
        (base,) = [
            e
            for e in revised.expected
            if (e.indicator, e.area, e.period) == ("ghg_total", "049", str(target.base_year))
        ]
        assert base.value is not None
        wanted = base.value * (1 - target.reduction)
        for kind, period, value in (("target", target.year, wanted), ("path", target.base_year, base.value)):
            row = stored.filter(pl.col("kind") == kind, pl.col("period") == str(period)).row(0, named=True)
            assert row["value"] == pytest.approx(value, rel=1e-9), (kind, period)
            assert set(row["snapshot_ids"]) == hsy, (kind, period)
        path_end = stored.filter(pl.col("kind") == "path", pl.col("period") == str(target.year))
        assert path_end["value"].item() == pytest.approx(wanted, rel=1e-9)


def test_breakdowns_move_in_the_one_part_revised(revised: Revised) -> None:
    """A sector breakdown over two vintages: its parts add up to the total, the revised row's part moves
    by the change made and lists both snapshots; the other parts keep their value and snapshots."""
    hsy_old, hsy_new = revised.old_snapshots["hsy_emissions"], revised.new_snapshots["hsy_emissions"]
    for e in [e for e in revised.expected if e.indicator == "ghg_total"]:
        for breakdown in ("ghg_by_sector", "ghg_by_subsector"):
            rows = {}
            for frame, name in ((revised.before, "before"), (revised.after, "after")):
                parts = frame.filter(
                    pl.col("indicator").str.starts_with(f"{breakdown}."),
                    pl.col("area") == e.area,
                    pl.col("period") == e.period,
                )
                rows[name] = {r["indicator"]: r for r in parts.iter_rows(named=True)}
            assert rows["before"].keys() == rows["after"].keys() and len(rows["after"]) > 1, breakdown
            # a region has a part only when every member has it (Espoo has no geothermal rows in the demo
            # workbook, so the capital region has no geothermal part): the parts add up per municipality
            if e.area != "PKS":
                total = sum(r["value"] for r in rows["after"].values() if r["value"] is not None)
                assert total == pytest.approx(e.value, rel=1e-9), (breakdown, e)
            moved = [k for k, r in rows["after"].items() if r["value"] != rows["before"][k]["value"]]
            assert len(moved) == 1, (breakdown, e, moved)
            (part,) = moved
            change = rows["after"][part]["value"] - rows["before"][part]["value"]
            assert change == pytest.approx(e.delta, rel=1e-9), (part, e)
            assert hsy_new in rows["after"][part]["snapshot_ids"], (part, e)
            for key, row in rows["after"].items():
                if key != part:
                    assert row["snapshot_ids"] == [hsy_old], (key, e)
                    assert row["snapshot_ids"] == rows["before"][key]["snapshot_ids"]


def test_provenance_lists_both_snapshots_of_a_sum_over_a_revision(revised: Revised) -> None:
    for e in revised.expected:
        row = _one(revised.after, e, _period(revised, e))
        ids = set(row["snapshot_ids"])
        new, old = revised.new_snapshots[e.dataset], revised.old_snapshots[e.dataset]
        assert new in ids, e
        if e.from_both:
            assert old in ids, (e, ids)
        provenance = api.provenance(sorted(ids), engine=revised.engine)
        assert set(provenance["snapshot_id"]) == ids, e
        assert provenance["url"].str.starts_with("https://").all()
        assert provenance["fetched_at"].is_not_null().all()
        if e.from_both:  # each snapshot with its own fetch: the revision fetched after the first load
            fetched = dict(zip(provenance["snapshot_id"], provenance["fetched_at"], strict=True))
            assert fetched[old] < fetched[new], (e, fetched)


def test_a_revised_series_keeps_its_assessments_of_the_vintage_before(revised: Revised) -> None:
    """A revised series is assessed at its new vintage and its assessments of the vintage before stay: its
    history (assessments(latest=False), status changes). An unrevised area's series keeps its one vintage,
    assessed once per method. Deleting every row of the indicator at any vintage assessed now had erased
    the revised area's history, because the unrevised areas kept the vintage it had before."""
    from indicators import query

    for indicator in ("ghg_total", "syke_ghg_total"):
        changed = {e.area for e in revised.expected if e.indicator == indicator}
        history = query.assessments(indicator, latest=False, engine=revised.engine)
        per_series = history.group_by("area", "method").agg(
            pl.col("as_of").n_unique().alias("vintages"), pl.len().alias("rows")
        )
        assert changed and per_series.height, (indicator, changed)
        for row in per_series.iter_rows(named=True):
            vintages = 2 if row["area"] in changed else 1
            assert (row["vintages"], row["rows"]) == (vintages, vintages), (indicator, row)
        assert set(per_series["area"]) - changed, (indicator, "some area unrevised")
        # the latest is the new vintage's, the older one the first load's
        latest = query.assessments(indicator, latest=True, engine=revised.engine)
        for area in changed:
            dates = history.filter(pl.col("area") == area)["as_of"]
            assert latest.filter(pl.col("area") == area)["as_of"].unique().to_list() == [dates.max()]


def test_export_carries_the_revised_numbers_and_both_snapshots(revised: Revised) -> None:
    """The export states every stored value with its snapshots: the revised ones, the unrevised ones and
    the derivations over both vintages alike."""
    table = export_table(revised.engine, load_indicator_catalogue()).filter(
        pl.col("kind").is_in(["observed", "target_derived", "assumption"])
    )
    exported = {
        (r["indicator"], r["area"], r["period"]): (r["value"], r["snapshot_ids"], r["source"])
        for r in table.iter_rows(named=True)
    }
    for r in revised.after.iter_rows(named=True):
        value, ids, source = exported[(r["indicator"], r["area"], r["period"])]
        assert value == r["value"] or value == pytest.approx(r["value"], rel=1e-12), r
        assert ids == r["snapshot_ids"], r
        assert source, r
    assert len(exported) == revised.after.height
    for e in revised.expected:
        value, ids, _ = exported[(e.indicator, e.area, _period(revised, e))]
        assert value == pytest.approx(e.value, rel=1e-9), e
        assert revised.new_snapshots[e.dataset] in ids, e
        if e.from_both:
            assert revised.old_snapshots[e.dataset] in ids, e
    # the source column names each snapshot's fetch time and the URL of the file holding the value, not
    # of a request that only found it (the two vintages of a sum alike)
    both = [e for e in revised.expected if e.from_both]
    datasets = load_catalogue().datasets
    for e in both:
        _, _, source = exported[(e.indicator, e.area, _period(revised, e))]
        ids = [revised.old_snapshots[e.dataset], revised.new_snapshots[e.dataset]]
        for snapshot_id in ids:
            rows = api.provenance([snapshot_id], engine=revised.engine).rows(named=True)
            spec = datasets[e.dataset]
            holding = [
                r
                for r in rows
                if is_data_request(spec.protocol, r["method"], r["url"])
                and area_of_url(spec.url, r["url"]) in (None, e.area)
            ]
            assert holding, (e, rows)
            r = holding[0]
            assert f"{r['fetched_at']:%Y-%m-%d %H:%M}" in source and r["url"] in source, (e, source)
            assert "package_show" not in source, (e, source)


def test_a_partial_revision_stores_only_the_rows_it_changes(revised: Revised) -> None:
    """Each dataset's second snapshot revises exactly the rows whose cells were changed, adds none and
    leaves the rest unchanged; the report's "what changed" lists each revision with those counts."""
    for dataset, (added, changed, unchanged) in revised.loads.items():
        assert (added, changed) == (0, revised.cells[dataset]), dataset
        assert unchanged > 0, dataset
    assert revised.changes is not None
    listed = {r["dataset_id"]: r for r in revised.changes.snapshots.iter_rows(named=True)}
    assert listed.keys() == REVISED
    for dataset, row in listed.items():
        assert row["snapshot_id"] == revised.new_snapshots[dataset]
        assert (row["rows_added"], row["rows_revised"]) == (0, revised.cells[dataset]), dataset
        assert row["rows_unchanged"] == revised.loads[dataset][2], dataset


def test_the_report_states_the_revised_headline_in_every_language(revised: Revised) -> None:
    espoo = max(
        (e for e in revised.expected if e.indicator == "ghg_total" and e.area == "049"),
        key=lambda e: e.period,
    )
    assert espoo.value is not None
    previous = _one(revised.before, espoo)["value"]
    hsy = [revised.old_snapshots["hsy_emissions"], revised.new_snapshots["hsy_emissions"]]
    payloads = api.provenance(hsy, engine=revised.engine)
    assert set(payloads["snapshot_id"]) == set(hsy)
    for lang, html in revised.report_html.items():
        assert format_number(espoo.value, lang) in html, lang  # the sum of the revised workbook's rows
        assert format_number(espoo.value, lang) != format_number(previous, lang)
        # the provenance section lists both vintages of the emissions: every payload's URL and sha256
        for r in payloads.iter_rows(named=True):
            assert f"{r['url']} · {r['sha256'][:12]}" in html, (lang, r["snapshot_id"], r["url"])


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


def test_an_older_assessment_cites_the_snapshots_of_the_values_it_was_made_from(revised: Revised) -> None:
    """Espoo's ghg_total was revised: its first assessments cite the values as they stood then (the first
    HSY snapshot), the newer ones the revised values, not both the current values."""
    assert revised.assessed_before is not None
    # the history compute keeps (indicators.engine): what the database lacks of the first assessments is
    # put back as it was stored, so that the test does not depend on how compute replaces its rows
    stored = query.assessments(latest=False, engine=revised.engine)
    gone = revised.assessed_before.join(stored, on=["indicator", "area", "method", "as_of"], how="anti")
    if gone.height:
        with revised.engine.begin() as conn:
            conn.execute(
                schema.assessment.insert(), gone.drop("id").rename({"indicator": "indicator_id"}).to_dicts()
            )
    history = api.assessments("ghg_total", area="049", latest=False, engine=revised.engine)
    first_vintage, second_vintage = sorted(set(history["vintage"].to_list()))

    def snapshots_of(values: pl.DataFrame) -> list[int]:
        own = values.filter(pl.col("indicator") == "ghg_total", pl.col("area") == "049")
        return sorted(set(own["snapshot_ids"].explode().to_list()))

    then, now = snapshots_of(revised.before), snapshots_of(revised.after)
    assert (
        revised.new_snapshots["hsy_emissions"] in now and revised.new_snapshots["hsy_emissions"] not in then
    )
    for vintage, cited in ((first_vintage, then), (second_vintage, now)):
        rows = history.filter(pl.col("vintage") == vintage)
        assert rows.height == len(load_indicator_catalogue().get("ghg_total").assess)
        assert rows["snapshot_ids"].to_list() == [cited] * rows.height, vintage
        assert rows["is_demo"].to_list() == [True] * rows.height and set(rows["unit"]) == {"kt CO2e"}
