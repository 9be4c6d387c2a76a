"""Demo snapshot for the PxWeb v1 tables (Statistics Finland, Traficom): metadata GETs and json-stat2 POSTs.

- statfin_population (StatFin vaerak/11ra): year-end population of the 309 municipalities, 1990–2024.
  Real where known: Espoo, Helsinki, Vantaa and Kauniainen 2005–2019 exactly as Statistics Finland's table
  11re (REAL_POPULATION), Espoo 2022 = 305 274 (HSY/Espoo's published detail); Espoo's other years from
  scripts/demo/calibration.py; the comparison cities interpolated between real anchors; the rest demo.
- traficom_cars (Traficom 010_kanta_tau_101): passenger cars in traffic by municipality and driving power
  on one reference date, in the table's real shape: no time variable (the date is in the title), no content
  variable, variables Alue, Merkki, Käyttöönottovuosi and Käyttövoima. Values are demo.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from common.payload import HostRule, Params, Payload, RequestSpec
from ingest.catalogue import load_catalogue
from ingest.http import check_answered_within
from ingest.manifest import Manifest
from ingest.municipalities import merged_municipalities
from ingest.pxweb import PxWebConnector
from ingest.replay import record_exchange
from scripts.demo.calibration import ESPOO_POPULATION

__all__ = [
    "DATASETS",
    "REAL_POPULATION",
    "TRAFICOM_REFERENCE_DATE",
    "RecordingFetcher",
    "cars",
    "generate",
    "jsonstat2_response",
    "population",
]

SEED = 20_261_127
FETCHED_AT = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
HTTP_DATE = "Mon, 23 Nov 2026 06:00:00 GMT"
MUNICIPALITIES_FILE = Path(__file__).resolve().parents[2] / "ingest" / "municipalities.json"
POPULATION_YEARS = range(1990, 2025)
TRAFICOM_REFERENCE_DATE = date(2026, 9, 30)
# Cells the demo marks ".." (data not available): Sottunga 1990 and Luhanka 1991.
MISSING_POPULATION = frozenset({("766", 1990), ("435", 1991)})

# Real year-end populations (men + women) 2005–2019, Statistics Finland table 11re (the project's
# realdata/statfin/pks_population_2005_2019.csv, a copy in tests/realdata/statfin/), and Espoo 2022.
REAL_POPULATION: Mapping[str, Mapping[int, int]] = {
    "049": dict(zip(range(2005, 2020), [
        231_704, 235_019, 238_047, 241_565, 244_330, 247_970, 252_439, 256_824, 260_753, 265_543,
        269_802, 274_583, 279_044, 283_632, 289_731,
    ], strict=True)) | {2022: 305_274},
    "091": dict(zip(range(2005, 2020), [
        560_905, 564_521, 568_531, 576_632, 583_350, 588_549, 595_384, 603_968, 612_664, 620_715,
        628_208, 635_181, 643_272, 648_042, 653_835,
    ], strict=True)),
    "092": dict(zip(range(2005, 2020), [
        187_281, 189_711, 192_522, 195_397, 197_636, 200_055, 203_001, 205_312, 208_098, 210_803,
        214_605, 219_341, 223_027, 228_166, 233_775,
    ], strict=True)),
    "235": dict(zip(range(2005, 2020), [
        8_457, 8_469, 8_511, 8_545, 8_617, 8_689, 8_807, 8_910, 9_101, 9_357,
        9_486, 9_397, 9_624, 9_615, 9_797,
    ], strict=True)),
}  # fmt: skip

# Approximate published year-end populations of the comparison cities (current borders); years in
# between are interpolated linearly (through the real years of REAL_POPULATION where there are some).
CITY_POPULATION: Mapping[str, Mapping[int, int]] = {
    "091": {1990: 492_400, 2000: 555_474, 2010: 588_549, 2020: 656_920, 2024: 684_018},  # Helsinki
    "092": {1990: 154_933, 2000: 178_471, 2010: 200_055, 2020: 237_231, 2024: 250_073},  # Vantaa
    "235": {1990: 7_858, 2000: 8_535, 2010: 8_630, 2020: 10_204, 2024: 10_436},  # Kauniainen
    "837": {1990: 172_560, 2000: 195_468, 2010: 213_217, 2020: 241_009, 2024: 260_358},  # Tampere
    "853": {1990: 159_180, 2000: 172_561, 2010: 177_326, 2020: 194_391, 2024: 202_386},  # Turku
    "564": {1990: 150_240, 2000: 171_630, 2010: 189_230, 2020: 207_327, 2024: 216_032},  # Oulu
}

# Espoo's passenger cars in traffic on the reference date by driving power, as shares of all (demo values:
# battery-electric 10.5 %, plug-in hybrids 9.5 %, diesel 20 %).
ESPOO_ELECTRIC_SHARE = 0.105
ESPOO_PLUGIN_HYBRID_SHARE = 0.095
# Traficom's driving-power codes (English texts, the table is read from its /en/ API); Y = other.
DRIVING_POWERS = [
    ("YH", "Total"),
    ("01", "Petrol"),
    ("02", "Diesel"),
    ("04", "Electricity"),
    ("06", "Gas"),
    ("39", "Petrol/Electricity (plug-in hybrid)"),
    ("44", "Diesel/Electricity (plug-in hybrid)"),
    ("Y", "Other"),
]
# A few of the makes and years of first registration the table lists (the demo answers only YH).
MAKES = [("YH", "Total"), ("2055", "Tesla"), ("0310", "Toyota"), ("1810", "Volkswagen")]
FIRST_REGISTRATION_YEARS = [("YH", "Total"), *((str(y), str(y)) for y in range(2026, 2019, -1))]
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
def _every_municipality() -> tuple[tuple[str, str], ...]:
    """(number, Finnish name) of the 309 municipalities since 2021, merged ones included, in number order:
    the demo draws its random figures for each, so that the stream does not depend on the division."""
    doc = json.loads(MUNICIPALITIES_FILE.read_text(encoding="utf-8"))
    return tuple(sorted((m["code"], m["fi"]) for m in doc["municipalities"]))


@cache
def municipalities() -> tuple[tuple[str, str], ...]:
    """(number, Finnish name) of today's 308 municipalities, in number order: the sources publish in the
    current division, a merged municipality's figures (Pertunmaa's) under the one it joined (Mäntyharju)."""
    merged = merged_municipalities()
    return tuple((code, name) for code, name in _every_municipality() if code not in merged)


def _interpolate(anchors: Mapping[int, int], year: int) -> int:
    years = sorted(anchors)
    for low, high in itertools.pairwise(years):
        if low <= year <= high:
            return round(anchors[low] + (anchors[high] - anchors[low]) * (year - low) / (high - low))
    raise ValueError(f"year {year} outside {years[0]}–{years[-1]}")


@cache
def _drawn_population() -> dict[tuple[str, int], int | None]:
    """Year-end population per (municipality number, year) of every municipality since 2021, merged ones
    apart; None where the demo marks ".."."""
    rng = random.Random(SEED)
    table: dict[tuple[str, int], int | None] = {}
    for code, _ in _every_municipality():
        # Draw for every municipality (also the fixed ones) so that the stream does not depend on them.
        size = min(60_000.0, max(100.0, math.exp(rng.gauss(8.9, 1.0))))
        growth = rng.uniform(-0.015, 0.012) if size < 20_000 else rng.uniform(-0.004, 0.015)
        noise = [rng.gauss(0.0, 0.002) for _ in POPULATION_YEARS]
        for index, year in enumerate(POPULATION_YEARS):
            if year in REAL_POPULATION.get(code, {}):
                value = REAL_POPULATION[code][year]
            elif code == "049":
                value = ESPOO_POPULATION[year]
            elif code in CITY_POPULATION:
                value = _interpolate({**CITY_POPULATION[code], **REAL_POPULATION.get(code, {})}, year)
            else:
                value = round(size / (1 + growth) ** (2024 - year) * (1 + noise[index]))
            table[(code, year)] = None if (code, year) in MISSING_POPULATION else value
    return table


@cache
def _population_table() -> dict[tuple[str, int], int | None]:
    """Year-end population per (municipality number, year) in the current division, back to 1990: a
    merged municipality's residents counted in the one it joined; None where the demo marks ".."."""
    table = dict(_drawn_population())
    for code, (into, _) in merged_municipalities().items():
        for year in POPULATION_YEARS:
            gone, kept = table.pop((code, year)), table[(into, year)]
            table[(into, year)] = None if gone is None or kept is None else gone + kept
    return table


def population(code: str, year: int) -> int | None:
    """The demo's year-end population of a municipality (real where REAL_POPULATION has it)."""
    return _population_table()[(code, year)]


@cache
def _car_table() -> dict[str, dict[str, int]]:
    """Passenger cars in traffic on the reference date per municipality by driving power (YH = the sum)."""
    rng = random.Random(SEED + 1)
    table: dict[str, dict[str, int]] = {}
    for code, _ in _every_municipality():
        rate = rng.uniform(0.48, 0.60)
        electric = rng.uniform(0.25, 1.05)
        hybrid = rng.uniform(0.35, 1.05)
        diesel = rng.uniform(0.22, 0.32)
        if code == "049":
            rate, electric, hybrid, diesel = 0.41, 1.0, 1.0, 0.20
        elif code in ("091", "092", "235"):
            rate, electric, hybrid, diesel = {
                "091": (0.32, 0.92, 0.85, 0.18),
                "092": (0.44, 0.80, 0.90, 0.22),
                "235": (0.45, 1.35, 1.25, 0.19),
            }[code]
        drawn = _drawn_population()
        people = drawn[(code, POPULATION_YEARS[-1])] or drawn[(code, POPULATION_YEARS[-2])] or 0
        total = round(people * rate)
        counts = {
            "02": round(total * diesel),
            "04": round(total * ESPOO_ELECTRIC_SHARE * electric),
            "06": round(total * 0.0025),
            "39": round(total * ESPOO_PLUGIN_HYBRID_SHARE * hybrid * 0.85),
            "44": round(total * ESPOO_PLUGIN_HYBRID_SHARE * hybrid * 0.15),
            "Y": round(total * 0.0008),
        }
        counts["01"] = total - sum(counts.values())
        table[code] = {"YH": total, **counts}
    for code, (into, _) in merged_municipalities().items():  # the current division
        gone = table.pop(code)
        table[into] = {power: count + gone[power] for power, count in table[into].items()}
    return table


def cars(code: str, driving_power: str) -> int:
    """The demo's passenger cars in traffic in a municipality on the reference date, by driving power."""
    return _car_table()[code][driving_power]


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


def _car_cell(cell: Mapping[str, str]) -> int | None:
    area, make, year, power = cell["Alue"], cell["Merkki"], cell["Käyttöönottovuosi"], cell["Käyttövoima"]
    if make != "YH" or year != "YH":
        raise ValueError(f"the demo answers only Merkki YH and Käyttöönottovuosi YH, not {make}, {year}")
    if not area.startswith("KU"):
        return None  # Mainland Finland is listed in the metadata but never asked for by the connector
    return cars(area[2:], power)


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
    folder: str = "statfin"  # the snapshot folder of its files
    publisher: str = "Tilastokeskus"  # the json-stat2 `source`


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


def _variable(code: str, text: str, pairs: list[tuple[str, str]], elimination: bool) -> dict[str, Any]:
    return {
        "code": code,
        "text": text,
        "values": [c for c, _ in pairs],
        "valueTexts": [t for _, t in pairs],
        "elimination": elimination,
    }


def _cars_demo() -> DemoTable:
    stamp = f"{TRAFICOM_REFERENCE_DATE.day} {TRAFICOM_REFERENCE_DATE:%B} {TRAFICOM_REFERENCE_DATE.year}"
    areas = [("MA1", "Mainland Finland"), *((f"KU{code}", name) for code, name in municipalities())]
    metadata = {
        "title": f"Passenger cars in traffic on {stamp} by area, make, year of first registration and "
        "driving power",
        "variables": [
            _variable("Alue", "Area", areas, elimination=False),
            _variable("Merkki", "Make", MAKES, elimination=True),
            _variable("Käyttöönottovuosi", "Year of first registration", FIRST_REGISTRATION_YEARS, True),
            _variable("Käyttövoima", "Driving power", DRIVING_POWERS, elimination=True),
        ],
    }
    return DemoTable(
        "010_kanta_tau_101",
        "Passenger cars in traffic",
        "2026-10-21T06:00:00Z",
        metadata,
        _car_cell,
        "",
        folder="traficom",
        publisher="Traficom",
    )


DATASETS: Mapping[str, Callable[[], DemoTable]] = {
    "statfin_population": _population_demo,
    "traficom_cars": _cars_demo,
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
    time = next((v["code"] for v in variables if v.get("time")), None)
    content = next((v["code"] for v in variables if v["code"] == "contentscode"), None)
    document: dict[str, Any] = {
        "class": "dataset",
        "label": table.metadata["title"],
        "source": table.publisher,
        "updated": table.updated,
        "id": ids,
        "size": sizes,
        "dimension": dimension,
        "value": values,
    }
    if status:
        document["status"] = status
    if time is not None:  # a point-in-time table has no time role (and Traficom's no metric either)
        document["role"] = {"time": [time], "metric": [content]} if content else {"time": [time]}
    elif content is not None:
        document["role"] = {"metric": [content]}
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
            "heading": [time or ids[-1]],
            "stub": [code for code in ids if code != (time or ids[-1])],
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
        allowed_hosts: HostRule | None = None,
    ) -> Payload:
        request = RequestSpec("GET", url, tuple(params), None)
        check_answered_within(source, url, params, request.url, allowed_hosts)  # answered from it (_record)
        return self._record(
            request, _dumps(self.table.metadata), f"{self.table.folder}/{self.table.table_id}-metadata.json"
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
        file = f"{self.table.folder}/{self.table.table_id}-data-{self.posts:02d}.json"
        return self._record(request, jsonstat2_response(self.table, body), file)


def generate(folder: Path, manifest: Manifest) -> None:
    """Record the exchanges the PxWeb connector makes for the StatFin and Traficom catalogue entries."""
    catalogue = load_catalogue()
    connector = PxWebConnector()
    for dataset_id, build in DATASETS.items():
        fetcher = RecordingFetcher(folder, manifest, dataset_id, build())
        connector.fetch(catalogue.dataset(dataset_id), fetcher)
