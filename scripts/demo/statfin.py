"""Demo snapshot for Statistics Finland (PxWeb v1): the connector's metadata GETs and json-stat2 POSTs."""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from ingest.catalogue import load_catalogue
from ingest.manifest import Manifest
from ingest.payload import Params, Payload, RequestSpec
from ingest.pxweb import PxWebConnector
from ingest.replay import record_exchange
from scripts.demo.calibration import ESPOO_POPULATION

__all__ = ["DATASETS", "RecordingFetcher", "generate", "jsonstat2_response", "population", "vehicles"]

SEED = 20_261_127
FETCHED_AT = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
HTTP_DATE = "Mon, 23 Nov 2026 06:00:00 GMT"
MUNICIPALITIES_FILE = Path(__file__).resolve().parents[2] / "ingest" / "municipalities.json"
POPULATION_YEARS = range(1990, 2025)
VEHICLE_YEARS = range(2015, 2025)
# Cells the demo marks ".." (data not available): Sottunga 1990 and Luhanka 1991.
MISSING_POPULATION = frozenset({("766", 1990), ("435", 1991)})

# Approximate published year-end populations of the comparison cities (current borders);
# years in between are interpolated linearly.
CITY_POPULATION: Mapping[str, Mapping[int, int]] = {
    "091": {1990: 492_400, 2000: 555_474, 2010: 588_549, 2020: 656_920, 2024: 684_018},  # Helsinki
    "092": {1990: 154_933, 2000: 178_471, 2010: 200_055, 2020: 237_231, 2024: 250_073},  # Vantaa
    "235": {1990: 7_858, 2000: 8_535, 2010: 8_630, 2020: 10_204, 2024: 10_436},  # Kauniainen
    "837": {1990: 172_560, 2000: 195_468, 2010: 213_217, 2020: 241_009, 2024: 260_358},  # Tampere
    "853": {1990: 159_180, 2000: 172_561, 2010: 177_326, 2020: 194_391, 2024: 202_386},  # Turku
    "564": {1990: 150_240, 2000: 171_630, 2010: 189_230, 2020: 207_327, 2024: 216_032},  # Oulu
}

# Espoo's passenger cars in traffic by driving power, as shares of all (demo values: battery-electric
# from 0.2 % in 2015 to 7.4 % in 2024, plug-in hybrids alongside, diesel declining).
ESPOO_ELECTRIC_SHARE = dict(
    zip(
        VEHICLE_YEARS,
        [0.0020, 0.0031, 0.0046, 0.0068, 0.0098, 0.0152, 0.0251, 0.0392, 0.0561, 0.0742],
        strict=True,
    )
)
ESPOO_PLUGIN_HYBRID_SHARE = dict(
    zip(
        VEHICLE_YEARS,
        [0.0030, 0.0052, 0.0090, 0.0160, 0.0262, 0.0401, 0.0580, 0.0721, 0.0820, 0.0880],
        strict=True,
    )
)
DRIVING_POWERS = [
    ("YH", "Yhteensä"),
    ("01", "Bensiini"),
    ("02", "Diesel"),
    ("04", "Sähkö"),
    ("06", "Kaasu"),
    ("39", "Bensiini/sähkö (ladattava hybridi)"),
    ("44", "Diesel/sähkö (ladattava hybridi)"),
    ("MUU", "Muu"),
]
REGIONS = [
    ("MK01", "Uusimaa"),
    ("MK02", "Varsinais-Suomi"),
    ("MK04", "Satakunta"),
    ("MK05", "Kanta-Häme"),
    ("MK06", "Pirkanmaa"),
    ("MK07", "Päijät-Häme"),
    ("MK08", "Kymenlaakso"),
    ("MK09", "Etelä-Karjala"),
    ("MK10", "Etelä-Savo"),
    ("MK11", "Pohjois-Savo"),
    ("MK12", "Pohjois-Karjala"),
    ("MK13", "Keski-Suomi"),
    ("MK14", "Etelä-Pohjanmaa"),
    ("MK15", "Pohjanmaa"),
    ("MK16", "Keski-Pohjanmaa"),
    ("MK17", "Pohjois-Pohjanmaa"),
    ("MK18", "Kainuu"),
    ("MK19", "Lappi"),
    ("MK21", "Ahvenanmaa"),
]


@cache
def municipalities() -> tuple[tuple[str, str], ...]:
    """(number, Finnish name) of the 309 municipalities, in number order."""
    doc = json.loads(MUNICIPALITIES_FILE.read_text(encoding="utf-8"))
    return tuple(sorted((m["code"], m["fi"]) for m in doc["municipalities"]))


def _interpolate(anchors: Mapping[int, int], year: int) -> int:
    years = sorted(anchors)
    for low, high in itertools.pairwise(years):
        if low <= year <= high:
            return round(anchors[low] + (anchors[high] - anchors[low]) * (year - low) / (high - low))
    raise ValueError(f"year {year} outside {years[0]}–{years[-1]}")


@cache
def _population_table() -> dict[tuple[str, int], int | None]:
    """Year-end population per (municipality number, year); None where the demo marks ".."."""
    rng = random.Random(SEED)
    table: dict[tuple[str, int], int | None] = {}
    for code, _ in municipalities():
        # Draw for every municipality (also the fixed ones) so that the stream does not depend on them.
        size = min(60_000.0, max(100.0, math.exp(rng.gauss(8.9, 1.0))))
        growth = rng.uniform(-0.015, 0.012) if size < 20_000 else rng.uniform(-0.004, 0.015)
        noise = [rng.gauss(0.0, 0.002) for _ in POPULATION_YEARS]
        for index, year in enumerate(POPULATION_YEARS):
            if code == "049":
                value = ESPOO_POPULATION[year]
            elif code in CITY_POPULATION:
                value = _interpolate(CITY_POPULATION[code], year)
            else:
                value = round(size / (1 + growth) ** (2024 - year) * (1 + noise[index]))
            table[(code, year)] = None if (code, year) in MISSING_POPULATION else value
    return table


def population(code: str, year: int) -> int | None:
    """The demo's year-end population of a municipality (Espoo exactly as in calibration)."""
    return _population_table()[(code, year)]


@cache
def _vehicle_table() -> dict[tuple[str, int], dict[str, int]]:
    """Passenger cars in traffic per (municipality, year) by driving-power code (YH = the sum)."""
    rng = random.Random(SEED + 1)
    table: dict[tuple[str, int], dict[str, int]] = {}
    for code, _ in municipalities():
        rate = rng.uniform(0.50, 0.62)
        electric = rng.uniform(0.25, 1.05)
        hybrid = rng.uniform(0.35, 1.05)
        diesel = rng.uniform(0.30, 0.40)
        if code == "049":
            rate, electric, hybrid, diesel = 0.43, 1.0, 1.0, 0.30
        elif code in ("091", "092", "235"):
            rate, electric, hybrid, diesel = {
                "091": (0.34, 0.92, 0.85, 0.26),
                "092": (0.46, 0.80, 0.90, 0.31),
                "235": (0.47, 1.35, 1.25, 0.28),
            }[code]
        for year in VEHICLE_YEARS:
            people = population(code, year) or population(code, year + 1) or 0
            step = year - VEHICLE_YEARS[0]
            total = round(people * (rate - 0.002 * step))
            counts = {
                "02": round(total * (diesel - 0.009 * step)),
                "04": round(total * ESPOO_ELECTRIC_SHARE[year] * electric),
                "06": round(total * 0.0025),
                "39": round(total * ESPOO_PLUGIN_HYBRID_SHARE[year] * hybrid * 0.85),
                "44": round(total * ESPOO_PLUGIN_HYBRID_SHARE[year] * hybrid * 0.15),
                "MUU": round(total * 0.0008),
            }
            counts["01"] = total - sum(counts.values())
            table[(code, year)] = {"YH": total, **counts}
    return table


def vehicles(code: str, year: int, driving_power: str) -> int:
    """The demo's passenger cars in traffic in a municipality by driving power."""
    return _vehicle_table()[(code, year)][driving_power]


def _population_cell(cell: Mapping[str, str]) -> int | None:
    area, content, year = cell["alue_23_20260101"], cell["contentscode"], int(cell["timeperiod_y"])
    if area == "SSS":
        values = [population(code, year) for code, _ in municipalities()]
        total = sum(v for v in values if v is not None)
    elif area.startswith("KU"):
        total_or_none = population(area[2:], year)
        if total_or_none is None:
            return None
        total = total_or_none
    else:
        return None  # regions are listed in the metadata but never asked for by the connector
    men = round(total * 0.4925)
    return {"vaerak-vaesto": total, "vaerak-miehet": men, "vaerak-naiset": total - men}[content]


def _vehicle_cell(cell: Mapping[str, str]) -> int:
    area, year, power = cell["alue_23_20260101"], int(cell["timeperiod_y"]), cell["kayttovoima"]
    if area == "SSS":
        return sum(vehicles(code, year, power) for code, _ in municipalities())
    return vehicles(area[2:], year, power)


def _years(years: range) -> dict[str, Any]:
    codes = [str(y) for y in years]
    return {"code": "timeperiod_y", "text": "Vuosi", "values": codes, "valueTexts": codes, "time": True}


def _areas(regions: bool) -> dict[str, Any]:
    pairs = [("SSS", "KOKO MAA"), *(REGIONS if regions else [])]
    pairs += [(f"KU{code}", name) for code, name in municipalities()]
    return {
        "code": "alue_23_20260101",
        "text": "Alue",
        "values": [c for c, _ in pairs],
        "valueTexts": [t for _, t in pairs],
        "elimination": True,
    }


@dataclass(frozen=True)
class DemoTable:
    """One PxWeb table of the demo: its metadata and how to answer a cell."""

    table_id: str
    contents: str
    updated: str
    metadata: dict[str, Any]
    cell: Callable[[Mapping[str, str]], int | None]
    unit: str


def _population_demo() -> DemoTable:
    metadata = {
        "title": "Väestö muuttujina Alue, Tiedot ja Vuosi",
        "variables": [
            _areas(regions=True),
            {
                "code": "contentscode",
                "text": "Tiedot",
                "values": ["vaerak-vaesto", "vaerak-miehet", "vaerak-naiset"],
                "valueTexts": ["Väkiluku", "Miehet", "Naiset"],
            },
            _years(POPULATION_YEARS),
        ],
    }
    return DemoTable("11ra", "Väestö", "2025-04-25T05:00:00Z", metadata, _population_cell, "lukumäärä")


def _vehicles_demo() -> DemoTable:
    metadata = {
        "title": "Liikennekäytössä olevat henkilöautot muuttujina Vuosi, Alue, Käyttövoima ja Tiedot",
        "variables": [
            _years(VEHICLE_YEARS),
            _areas(regions=False),
            {
                "code": "kayttovoima",
                "text": "Käyttövoima",
                "values": [c for c, _ in DRIVING_POWERS],
                "valueTexts": [t for _, t in DRIVING_POWERS],
                "elimination": True,
            },
            {
                "code": "contentscode",
                "text": "Tiedot",
                "values": ["mkan-henkiloautot"],
                "valueTexts": ["Liikennekäytössä olevat henkilöautot"],
            },
        ],
    }
    return DemoTable("11ic", "Moottoriajoneuvokanta", "2025-03-20T05:00:00Z", metadata, _vehicle_cell, "kpl")


DATASETS: Mapping[str, Callable[[], DemoTable]] = {
    "statfin_population": _population_demo,
    "statfin_vehicles": _vehicles_demo,
}


def _dumps(document: object) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def jsonstat2_response(table: DemoTable, query: Mapping[str, Any]) -> bytes:
    """What PxWeb answers to a json-stat2 query: dimensions in table order, dense values, sparse status."""
    selected = {item["code"]: list(item["selection"]["values"]) for item in query["query"]}
    variables = [v for v in table.metadata["variables"] if v["code"] in selected]
    ids: list[str] = []
    sizes: list[int] = []
    axes: list[list[str]] = []
    dimension: dict[str, Any] = {}
    for variable in variables:
        wanted = set(selected[variable["code"]])
        pairs = [
            (c, t) for c, t in zip(variable["values"], variable["valueTexts"], strict=True) if c in wanted
        ]
        category: dict[str, Any] = {
            "index": {c: i for i, (c, _) in enumerate(pairs)},
            "label": dict(pairs),
        }
        if variable["code"] == "contentscode":
            category["unit"] = {c: {"base": table.unit, "decimals": 0} for c, _ in pairs}
        show = "code" if variable.get("time") else "value"
        dimension[variable["code"]] = {
            "extension": {"show": show},
            "label": variable["text"],
            "category": category,
        }
        ids.append(variable["code"])
        sizes.append(len(pairs))
        axes.append([c for c, _ in pairs])
    values: list[int | None] = []
    status: dict[str, str] = {}
    for flat in range(math.prod(sizes)):
        coordinates: list[str] = []
        rest = flat
        for axis in reversed(axes):
            coordinates.append(axis[rest % len(axis)])
            rest //= len(axis)
        value = table.cell(dict(zip(ids, reversed(coordinates), strict=True)))
        if value is None:
            status[str(flat)] = ".."
        values.append(value)
    time = next(v["code"] for v in variables if v.get("time"))
    document: dict[str, Any] = {
        "class": "dataset",
        "label": table.metadata["title"],
        "source": "Tilastokeskus",
        "updated": table.updated,
        "id": ids,
        "size": sizes,
        "dimension": dimension,
        "value": values,
    }
    if status:
        document["status"] = status
    document["role"] = {"time": [time], "metric": ["contentscode"]}
    document["version"] = "2.0"
    document["extension"] = {
        "px": {
            "infofile": "None",
            "tableid": table.table_id,
            "decimals": 0,
            "official-statistics": True,
            "aggregallowed": False,
            "language": "fi",
            "contents": table.contents,
            "descriptiondefault": False,
            "heading": [time],
            "stub": [code for code in ids if code != time],
        }
    }
    return _dumps(document)


def _headers(body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json; charset=utf-8",
        "content-length": str(len(body)),
        "date": HTTP_DATE,
        "cache-control": "no-cache",
    }


class RecordingFetcher:
    """A Fetcher that answers from a DemoTable and records every exchange into the snapshot."""

    def __init__(self, folder: Path, manifest: Manifest, dataset: str, table: DemoTable) -> None:
        self.folder = folder
        self.manifest = manifest
        self.dataset = dataset
        self.table = table
        self.posts = 0

    def _record(self, request: RequestSpec, body: bytes, file: str) -> Payload:
        headers = _headers(body)
        record_exchange(self.folder, self.manifest, self.dataset, request, 200, headers, body, file)
        return Payload(request, 200, headers, body, FETCHED_AT, request.url, is_demo=True)

    def get(
        self,
        source: str,
        url: str,
        *,
        params: Params = (),
        secret_headers: Mapping[str, str] | None = None,
        accept: str | None = None,
    ) -> Payload:
        request = RequestSpec("GET", url, tuple(params), None)
        return self._record(
            request, _dumps(self.table.metadata), f"statfin/{self.table.table_id}-metadata.json"
        )

    def post_json(
        self,
        source: str,
        url: str,
        body: object,
        *,
        params: Params = (),
        secret_headers: Mapping[str, str] | None = None,
    ) -> Payload:
        request = RequestSpec("POST", url, tuple(params), RequestSpec.canonical_body(body) or None)
        assert isinstance(body, Mapping)
        self.posts += 1
        file = f"statfin/{self.table.table_id}-data-{self.posts:02d}.json"
        return self._record(request, jsonstat2_response(self.table, body), file)


def generate(folder: Path, manifest: Manifest) -> None:
    """Record the exchanges the PxWeb connector makes for the StatFin catalogue entries."""
    catalogue = load_catalogue()
    connector = PxWebConnector()
    for dataset_id, build in DATASETS.items():
        fetcher = RecordingFetcher(folder, manifest, dataset_id, build())
        connector.fetch(catalogue.dataset(dataset_id), fetcher)
