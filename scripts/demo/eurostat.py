"""Demo snapshot for Eurostat: one JSON-stat 2.0 GET per catalogue dataset, FI and EU27_2020, 2000–2024.

The answers have the real datasets' dimensions, including the series the catalogue filters out
(sdg_13_10's two src_crf series and its airpol dimension, sdg_07_40's four nrg_bal series), so that the
offline run goes through the connector's series selection exactly as a live run would. Values are demo.

The city statistics (Urban Audit: urb_cenv, urb_ctran, urb_cpop1) have dimensions freq, indic_ur, cities,
time and no unit; `cities` lists peers and other cities as cities (…C), greater cities (…K) and functional
urban areas (…F), Espoo labelled "Espoo/Esbo"; reporting is voluntary, so years and cities are missing.
The city codes follow Eurostat's pattern but are demo, as are the values.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.payload import RequestSpec
from ingest.catalogue import load_catalogue
from ingest.eurostat import read_options, request_params
from ingest.manifest import Manifest
from ingest.replay import record_exchange

__all__ = [
    "CITIES",
    "DATASETS",
    "URBAN_DATASETS",
    "DemoDataset",
    "UrbanDataset",
    "generate",
    "generate_urban",
    "jsonstat_response",
    "urban_response",
]

SEED = 20_261_127
HTTP_DATE = "Mon, 23 Nov 2026 12:00:00 GMT"
GEO_LABELS = {"EU27_2020": "European Union - 27 countries (from 2020)", "FI": "Finland"}
UNIT_LABELS = {
    "PC": "Percentage",
    "KG_HAB": "Kilograms per capita",
    "I90": "Index, 1990=100",
    "T_HAB": "Tonnes per capita",
}
# (value, status) anchors per year; years in between are interpolated with a little deterministic noise.
Anchors = Mapping[int, float]
Flags = Mapping[int, str]


@dataclass(frozen=True)
class Series:
    """One demo series: anchor values, the flags of some years, the years without a value."""

    anchors: Anchors
    flags: Flags = field(default_factory=dict)
    decimals: int = 1
    noise: float = 0.0


@dataclass(frozen=True)
class DemoDataset:
    """A Eurostat dataset of the demo: its dimensions (before geo and time) and series per unit and geo."""

    code: str
    label: str
    updated: str
    years: range
    dimensions: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...]  # (id, label, categories)
    series: Mapping[tuple[str, str], Series]  # (unit code, geo) → series
    geos: tuple[str, ...] = ("EU27_2020", "FI")  # Eurostat's own order, not the request's
    # Other categories of a multi-category dimension besides the first: (dimension, code) → factor on the
    # first category's values (demo values for the series the catalogue filters out).
    variants: Mapping[tuple[str, str], float] = field(default_factory=dict)


def _ghg_per_capita(index: Anchors, base_mt: float, pop_2000: float, pop_2024: float) -> dict[int, float]:
    """Tonnes per capita from a 1990 = 100 index, the 1990 level in Mt and a linear population (millions)."""
    return {
        year: value / 100 * base_mt / (pop_2000 + (pop_2024 - pop_2000) * (year - 2000) / 24)
        for year, value in index.items()
    }


FI_GHG_INDEX = {
    2000: 86.0,
    2003: 104.0,
    2005: 80.0,
    2006: 96.0,
    2009: 72.0,
    2010: 92.0,
    2013: 84.0,
    2015: 67.0,
    2018: 76.0,
    2020: 66.0,
    2021: 82.0,
    2022: 79.0,
}
EU_GHG_INDEX = {
    2000: 92.4,
    2005: 93.6,
    2008: 91.0,
    2009: 84.5,
    2010: 85.9,
    2012: 81.6,
    2014: 77.6,
    2017: 78.8,
    2018: 77.3,
    2019: 73.6,
    2020: 67.6,
    2021: 70.8,
    2022: 69.0,
    2023: 63.3,
}
FREQ = ("freq", "Time frequency", (("A", "Annual"),))


def _unit(*codes: str) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    return ("unit", "Unit of measure", tuple((code, UNIT_LABELS[code]) for code in codes))


DATASETS: Mapping[str, DemoDataset] = {
    "eurostat_sdg_13_10": DemoDataset(
        code="sdg_13_10",
        label="Net greenhouse gas emissions",
        updated="2026-06-12T23:00:00+0200",
        years=range(2000, 2024),
        dimensions=(
            FREQ,
            ("airpol", "Air pollutants and greenhouse gases", (("GHG", "Greenhouse gases"),)),
            (
                "src_crf",
                "Source sectors for greenhouse gas emissions (Common Reporting Format)",
                (
                    ("TOTXMEMONIA", "Total (excluding memo items)"),
                    ("TOTX4_MEMONIA", "Total (excluding LULUCF and memo items)"),
                ),
            ),
            _unit("I90", "T_HAB"),
        ),
        variants={("src_crf", "TOTX4_MEMONIA"): 1.18},
        series={
            ("I90", "FI"): Series(FI_GHG_INDEX, noise=1.5),
            ("I90", "EU27_2020"): Series(EU_GHG_INDEX, {2023: "p"}, noise=0.6),
            ("T_HAB", "FI"): Series(_ghg_per_capita(FI_GHG_INDEX, 56.0, 5.176, 5.604), noise=0.15),
            ("T_HAB", "EU27_2020"): Series(
                _ghg_per_capita(EU_GHG_INDEX, 4640.0, 429.0, 449.2), {2023: "p"}, noise=0.06
            ),
        },
    ),
    "eurostat_cei_wm011": DemoDataset(
        code="cei_wm011",
        label="Recycling rate of municipal waste",
        updated="2026-03-18T23:00:00+0100",
        years=range(2000, 2025),
        dimensions=(FREQ, ("wst_oper", "Waste management operations", (("RCY", "Recycling"),)), _unit("PC")),
        series={
            ("PC", "FI"): Series(
                {
                    2000: 33.8,
                    2005: 34.6,
                    2008: 34.0,
                    2010: 33.6,
                    2013: 34.3,
                    2015: 40.6,
                    2017: 41.8,
                    2019: 43.0,
                    2020: 41.8,
                    2021: 42.5,
                    2022: 40.6,
                    2023: 41.4,
                },
                {2015: "b"},
                noise=0.3,
            ),
            ("PC", "EU27_2020"): Series(
                {
                    2000: 30.0,
                    2005: 35.4,
                    2010: 40.4,
                    2015: 45.3,
                    2019: 48.2,
                    2020: 48.9,
                    2021: 49.0,
                    2022: 48.7,
                    2023: 48.2,
                },
                {**dict.fromkeys(range(2000, 2010), "e"), 2023: "e"},
                noise=0.3,
            ),
        },
    ),
    "eurostat_cei_pc031": DemoDataset(
        code="cei_pc031",
        label="Generation of municipal waste per capita",
        updated="2026-03-18T23:00:00+0100",
        years=range(2000, 2025),
        dimensions=(FREQ, _unit("KG_HAB")),
        series={
            ("KG_HAB", "FI"): Series(
                {
                    2000: 503,
                    2004: 530,
                    2008: 522,
                    2010: 504,
                    2013: 506,
                    2015: 500,
                    2017: 510,
                    2019: 566,
                    2020: 593,
                    2021: 596,
                    2022: 583,
                    2023: 576,
                    2024: 571,
                },
                {2024: "p"},
                decimals=0,
                noise=4.0,
            ),
            ("KG_HAB", "EU27_2020"): Series(
                {
                    2000: 523,
                    2002: 527,
                    2005: 515,
                    2008: 521,
                    2010: 510,
                    2013: 501,
                    2015: 502,
                    2018: 510,
                    2020: 527,
                    2021: 530,
                    2022: 513,
                    2023: 511,
                },
                {**dict.fromkeys(range(2000, 2005), "e"), 2023: "e"},
                decimals=0,
                noise=2.0,
            ),
        },
    ),
    "eurostat_sdg_12_41": DemoDataset(
        code="sdg_12_41",
        label="Circular material use rate",
        updated="2026-05-27T23:00:00+0200",
        years=range(2004, 2024),
        dimensions=(FREQ, _unit("PC")),
        series={
            ("PC", "FI"): Series(
                {
                    2004: 3.3,
                    2008: 4.9,
                    2010: 6.3,
                    2013: 7.6,
                    2015: 6.5,
                    2017: 5.3,
                    2019: 3.9,
                    2020: 2.4,
                    2021: 2.2,
                    2022: 2.2,
                    2023: 2.3,
                },
                {2023: "p"},
                noise=0.3,
            ),
            ("PC", "EU27_2020"): Series(
                {
                    2004: 8.3,
                    2008: 9.1,
                    2010: 10.7,
                    2012: 11.4,
                    2015: 11.3,
                    2017: 11.5,
                    2019: 11.4,
                    2020: 11.6,
                    2021: 11.5,
                    2022: 11.5,
                    2023: 11.8,
                },
                {**dict.fromkeys(range(2004, 2010), "e"), 2023: "p"},
                noise=0.15,
            ),
        },
    ),
    "eurostat_sdg_07_40": DemoDataset(
        code="sdg_07_40",
        label="Share of renewable energy in gross final energy consumption by sector",
        updated="2026-02-26T23:00:00+0100",
        years=range(2004, 2025),
        dimensions=(
            FREQ,
            (
                "nrg_bal",
                "Energy balance",
                (
                    ("REN", "Renewable energy sources"),
                    ("REN_TRA", "Renewable energy sources in transport"),
                    ("REN_ELC", "Renewable energy sources in electricity"),
                    ("REN_HEAT_CL", "Renewable energy sources in heating and cooling"),
                ),
            ),
            _unit("PC"),
        ),
        variants={("nrg_bal", "REN_TRA"): 0.45, ("nrg_bal", "REN_ELC"): 1.1, ("nrg_bal", "REN_HEAT_CL"): 1.2},
        series={
            ("PC", "FI"): Series(
                {
                    2004: 29.2,
                    2006: 29.8,
                    2008: 31.0,
                    2010: 32.2,
                    2012: 34.4,
                    2014: 38.8,
                    2016: 39.0,
                    2018: 41.1,
                    2020: 43.9,
                    2021: 43.1,
                    2022: 47.9,
                    2023: 49.8,
                },
                noise=0.4,
            ),
            ("PC", "EU27_2020"): Series(
                {
                    2004: 9.6,
                    2006: 10.5,
                    2008: 12.0,
                    2010: 14.4,
                    2012: 15.7,
                    2014: 17.4,
                    2016: 17.8,
                    2018: 18.9,
                    2020: 22.0,
                    2021: 21.9,
                    2022: 23.0,
                    2023: 24.5,
                    2024: 25.0,
                },
                {2020: "b", 2024: "p"},
                noise=0.2,
            ),
        },
    ),
}


def _values(series: Series, years: range, rng: random.Random) -> dict[int, float]:
    """Anchor years exactly; years between anchors interpolated plus noise; none outside the anchors."""
    anchors = sorted(series.anchors)
    out: dict[int, float] = {}
    for year in years:
        if year in series.anchors:
            value = float(series.anchors[year])
        elif anchors[0] < year < anchors[-1]:
            low = max(a for a in anchors if a < year)
            high = min(a for a in anchors if a > year)
            share = (year - low) / (high - low)
            value = series.anchors[low] + (series.anchors[high] - series.anchors[low]) * share
            value += rng.gauss(0.0, series.noise)
        else:
            continue
        out[year] = round(value, series.decimals) if series.decimals else float(round(value))
    return out


def _document(
    label: str,
    code: str,
    updated: str,
    value: Mapping[str, float | int],
    status: Mapping[str, str],
    dimensions: Sequence[tuple[str, str, tuple[tuple[str, str], ...]]],
    no_data: Mapping[str, list[int]],
) -> bytes:
    """A JSON-stat 2.0 dataset as Eurostat's statistics API sends it (sparse value and status, in key
    order; `no_data`: the categories without any value, per dimension)."""
    document: dict[str, Any] = {
        "version": "2.0",
        "class": "dataset",
        "label": label,
        "source": "ESTAT",
        "updated": updated,
        "value": {key: value[key] for key in sorted(value, key=int)},
        "status": {key: status[key] for key in sorted(status, key=int)},
        "id": [d[0] for d in dimensions],
        "size": [len(d[2]) for d in dimensions],
        "dimension": {
            did: {
                "label": dimension_label,
                "category": {
                    "index": {category: i for i, (category, _) in enumerate(categories)},
                    "label": dict(categories),
                },
            }
            for did, dimension_label, categories in dimensions
        },
        "extension": {
            "lang": "EN",
            "agencyId": "ESTAT",
            "id": code.upper(),
            "version": "1.0",
            "datastructure": {"id": code.upper(), "agencyId": "ESTAT", "version": "1.0"},
            "annotation": [
                {"type": "OBS_LAST_UPDATE", "date": updated},
                {"type": "DISSEMINATION_TIMESTAMP_DATA", "date": updated},
            ],
            "positions-with-no-data": dict(no_data),
        },
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def jsonstat_response(dataset: DemoDataset) -> bytes:
    """The dataset as Eurostat's statistics API sends it: JSON-stat 2.0, sparse value and status."""
    rng = random.Random(f"{SEED}-{dataset.code}")
    times = [str(year) for year in dataset.years]
    dimensions = [*dataset.dimensions]
    dimensions.append(
        ("geo", "Geopolitical entity (reporting)", tuple((g, GEO_LABELS[g]) for g in dataset.geos))
    )
    dimensions.append(("time", "Time", tuple((t, t) for t in times)))
    ids = [d[0] for d in dimensions]
    sizes = [len(d[2]) for d in dimensions]
    units = next(d[2] for d in dimensions if d[0] == "unit")

    strides = [math.prod(sizes[i + 1 :]) for i in range(len(sizes))]
    positions = {
        did: {code: i for i, (code, _) in enumerate(categories)} for did, _, categories in dimensions
    }

    def flat_index(coordinates: Mapping[str, str]) -> str:
        return str(
            sum(positions[did][coordinates[did]] * stride for did, stride in zip(ids, strides, strict=True))
        )

    value: dict[str, float | int] = {}
    status: dict[str, str] = {}
    used_times: set[str] = set()
    fixed = {did: categories[0][0] for did, _, categories in dimensions if len(categories) == 1}
    varied = [
        (did, [code for code, _ in categories])
        for did, _, categories in dimensions
        if len(categories) > 1 and did not in ("unit", "geo", "time")
    ]
    for unit, _ in units:
        for geo in dataset.geos:
            series = dataset.series[(unit, geo)]
            for year, number in _values(series, dataset.years, rng).items():
                for codes in itertools.product(*(c for _, c in varied)):
                    chosen = dict(zip((did for did, _ in varied), codes, strict=True))
                    factor = math.prod(dataset.variants.get(item, 1.0) for item in chosen.items())
                    scaled = round(number * factor, series.decimals)
                    flat = flat_index({**fixed, **chosen, "unit": unit, "geo": geo, "time": str(year)})
                    used_times.add(str(year))
                    value[flat] = int(scaled) if series.decimals == 0 else scaled
                    if year in series.flags:
                        status[flat] = series.flags[year]
    no_data = {"geo": [], "time": [i for i, time in enumerate(times) if time not in used_times]}
    return _document(dataset.label, dataset.code, dataset.updated, value, status, dimensions, no_data)


# ------------------------------------------------------------------------------ city statistics

# (code, label, population 2023, municipal waste kg per resident, green urban area %, cars per 1 000
# residents, cycle network km); greater cities (K) and functional urban areas (F) carry no demo values.
CITIES: tuple[tuple[str, str, int, int, float, int, int], ...] = (
    ("AT001C", "Wien", 1_982_000, 560, 16.5, 370, 1_650),
    ("AT001K", "Wien (greater city)", 0, 0, 0.0, 0, 0),
    ("CH001C", "Zürich", 427_000, 310, 12.0, 335, 420),
    ("DE001C", "Berlin", 3_755_000, 390, 11.5, 335, 1_500),
    ("DE027C", "Freiburg im Breisgau", 236_000, 330, 6.5, 410, 520),
    ("DK001C", "København", 654_000, 430, 14.0, 250, 390),
    ("DK002C", "Aarhus", 362_000, 480, 9.0, 400, 520),
    ("EE001C", "Tallinn", 457_000, 420, 11.0, 520, 280),
    ("EL001C", "Athina", 643_000, 470, 3.0, 560, 30),
    ("ES001C", "Madrid", 3_330_000, 410, 8.0, 500, 700),
    ("FI001C", "Helsinki/Helsingfors", 664_000, 430, 9.5, 400, 1_300),
    ("FI001K", "Helsinki/Helsingfors (greater city)", 0, 0, 0.0, 0, 0),
    ("FI001F", "Helsinki/Helsingfors", 0, 0, 0.0, 0, 0),
    ("FI002C", "Tampere/Tammerfors", 249_000, 450, 5.5, 470, 700),
    ("FI003C", "Turku/Åbo", 202_000, 440, 6.0, 460, 520),
    ("FI004C", "Espoo/Esbo", 305_000, 450, 4.5, 480, 1_050),
    ("FI005C", "Vantaa/Vanda", 242_000, 470, 4.0, 500, 600),
    ("FI007C", "Lahti/Lahtis", 120_000, 460, 5.0, 520, 420),
    ("FI008C", "Jyväskylä", 146_000, 430, 4.0, 500, 400),
    ("FI009C", "Kuopio", 124_000, 420, 4.5, 540, 350),
    ("IS001C", "Reykjavík", 139_000, 650, 8.5, 700, 120),
    ("NL002C", "Amsterdam", 918_000, 420, 10.5, 240, 520),
    ("NO001C", "Oslo", 709_000, 390, 13.0, 350, 300),
    ("NO002C", "Bergen", 290_000, 410, 5.0, 420, 110),
    ("PL001C", "Warszawa", 1_860_000, 370, 8.5, 780, 680),
    ("SE001C", "Stockholm", 985_000, 400, 15.0, 380, 760),
    ("SE002C", "Göteborg", 600_000, 410, 9.0, 350, 560),
    ("SE003C", "Malmö", 360_000, 400, 8.0, 330, 500),
    ("SE004C", "Uppsala", 240_000, 380, 4.0, 400, 440),
    ("SI001C", "Ljubljana", 295_000, 430, 10.0, 520, 300),
    ("SI001F", "Ljubljana", 0, 0, 0.0, 0, 0),
)


@dataclass(frozen=True)
class UrbanDataset:
    """An Urban Audit dataset of the demo: its indicators (code, label, how each city's value is made)."""

    code: str
    label: str
    updated: str
    indicators: tuple[tuple[str, str], ...]


URBAN_DATASETS: Mapping[str, UrbanDataset] = {
    "eurostat_urb_cenv": UrbanDataset(
        "urb_cenv",
        "Environment by cities and greater cities",
        "2026-04-14T23:00:00+0200",
        (
            ("EN4008V", "Municipal waste generated (domestic and commercial), total - 1000 t"),
            ("EN5205V", "Share of green urban areas in the total area - %"),
        ),
    ),
    "eurostat_urb_ctran": UrbanDataset(
        "urb_ctran",
        "Transport by cities and greater cities",
        "2026-04-14T23:00:00+0200",
        (
            ("TT1057I", "Number of registered cars per 1000 population"),
            ("TT1079V", "Length of bicycle network (dedicated cycle paths and lanes) - km"),
        ),
    ),
    "eurostat_urb_cpop1": UrbanDataset(
        "urb_cpop1",
        "Population on 1 January by age groups and sex - cities and greater cities",
        "2026-05-20T23:00:00+0200",
        (("DE1001V", "Population on the 1st of January, total"),),
    ),
}
URBAN_YEARS = range(2000, 2025)
# which years each indicator is collected in (voluntary reporting: a city reports some of them)
URBAN_REPORTED: Mapping[str, tuple[int, ...]] = {
    "DE1001V": tuple(range(2000, 2025)),
    "EN4008V": (2004, 2008, 2012, 2015, 2016, 2018, 2019, 2020, 2021, 2022),
    "EN5205V": (2006, 2012, 2018),
    "TT1057I": (2004, 2008, 2012, 2014, 2016, 2018, 2019, 2020, 2021, 2022),
    "TT1079V": (2008, 2012, 2015, 2018, 2021),
}


def _urban_value(indicator: str, city: tuple[str, str, int, int, float, int, int], year: int) -> float:
    """A city's demo value of an indicator in a year: 2023 levels with a modest trend."""
    _, _, population, waste_kg, green, cars, cycle = city
    people = population * (1 + 0.013 * (year - 2023))
    if indicator == "DE1001V":
        return float(round(people))
    if indicator == "EN4008V":
        return round(people * waste_kg * (1 + 0.004 * (2023 - year)) / 1e6, 1)
    if indicator == "EN5205V":
        return round(green * (1 + 0.01 * (year - 2018)), 1)
    if indicator == "TT1057I":
        return round(cars * (1 + 0.004 * (2023 - year)), 1)
    return float(round(cycle * (1 + 0.02 * (year - 2021))))


def urban_response(dataset: UrbanDataset) -> bytes:
    """An Urban Audit dataset as Eurostat's statistics API sends it (sparse value and status)."""
    rng = random.Random(f"{SEED}-{dataset.code}")
    times = [str(year) for year in URBAN_YEARS]
    n_cities, n_times = len(CITIES), len(times)
    value: dict[str, float] = {}
    status: dict[str, str] = {}
    for i, (indicator, _) in enumerate(dataset.indicators):
        for c, city in enumerate(CITIES):
            if not city[0].endswith("C"):
                continue  # the demo publishes cities only
            # most cities report most collection years; Espoo and Helsinki nearly all, Athina none
            share = {"FI004C": 0.95, "FI001C": 0.95, "EL001C": 0.0}.get(city[0], 0.75)
            for t, time in enumerate(times):
                year = int(time)
                if year not in URBAN_REPORTED[indicator] or rng.random() >= share:
                    continue
                flat = str((i * n_cities + c) * n_times + t)
                value[flat] = _urban_value(indicator, city, year)
                draw = rng.random()
                if draw < 0.03:
                    status[flat] = "e"
                elif draw < 0.05:
                    status[flat] = "b"
                elif year == 2024:
                    status[flat] = "p"
    used_times = {times[int(flat) % n_times] for flat in value}
    used_cities = {CITIES[(int(flat) // n_times) % n_cities][0] for flat in value}
    dimensions: list[tuple[str, str, tuple[tuple[str, str], ...]]] = [
        FREQ,
        ("indic_ur", "Urban audit indicator", dataset.indicators),
        ("cities", "Geopolitical entity (declaring)", tuple((c[0], c[1]) for c in CITIES)),
        ("time", "Time", tuple((t, t) for t in times)),
    ]
    no_data = {
        "cities": [i for i, city in enumerate(CITIES) if city[0] not in used_cities],
        "time": [i for i, time in enumerate(times) if time not in used_times],
    }
    return _document(dataset.label, dataset.code, dataset.updated, value, status, dimensions, no_data)


def generate(folder: Path, manifest: Manifest) -> None:
    """Record the GET the Eurostat connector makes for each national eurostat_* catalogue entry."""
    _record(
        folder, manifest, {dataset_id: (d.code, jsonstat_response(d)) for dataset_id, d in DATASETS.items()}
    )


def generate_urban(folder: Path, manifest: Manifest) -> None:
    """Record the GET the Eurostat connector makes for each city statistics (Urban Audit) entry."""
    _record(
        folder,
        manifest,
        {dataset_id: (d.code, urban_response(d)) for dataset_id, d in URBAN_DATASETS.items()},
    )


def _record(folder: Path, manifest: Manifest, bodies: Mapping[str, tuple[str, bytes]]) -> None:
    catalogue = load_catalogue()
    for dataset_id, (code, body) in bodies.items():
        spec = catalogue.dataset(dataset_id)
        request = RequestSpec("GET", spec.url, tuple(request_params(read_options(spec))), None)
        headers = {
            "content-type": "application/json",
            "content-length": str(len(body)),
            "date": HTTP_DATE,
            "cache-control": "no-cache, no-store, must-revalidate",
        }
        record_exchange(folder, manifest, dataset_id, request, 200, headers, body, f"eurostat/{code}.json")
