"""Demo snapshot for HSY: the CKAN package_show envelope and an emissions XLSX calibrated to Espoo."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import xlsxwriter

from ingest.catalogue import load_catalogue
from ingest.hsy import XLSX_MEDIA_TYPE
from ingest.manifest import Manifest
from ingest.payload import RequestSpec
from ingest.replay import record_exchange
from scripts.demo.calibration import ESPOO_HSY_TOTAL_KT, ESPOO_SECTOR_SHARES_2016

DATASET = "hsy_emissions"
SEED = 2026
YEARS = (1990, *range(2000, 2025))
RESPONSE_DATE = "Mon, 23 Nov 2026 04:15:03 GMT"  # the Date header of the recorded responses
RELEASE_MODIFIED = "2025-06-03T09:12:44.512398"
RELEASE_HTTP_DATE = "Tue, 03 Jun 2025 09:12:44 GMT"
XLSX_FILE = "paakaupunkiseudun_kasvihuonekaasupaastot_1990-2024.xlsx"
RESOURCE_ID = "6f1c2a7e-3b0d-4c55-9d8e-2a4b7c1e9f30"

# Demo city totals (kt CO2e). Espoo is calibration.ESPOO_HSY_TOTAL_KT; the other three are chosen so that
# the four cities add up to calibration.REGION_HSY_TOTAL_KT in 2015, 2018 and 2024 and so that 2023 → 2024
# is −16 % (Helsinki) and −6 % (Vantaa, Kauniainen) as HSY published. Other years are interpolated.
OTHER_CITY_ANCHORS_KT: Mapping[str, Mapping[int, float]] = {
    "Helsinki": {
        1990: 3700.0,
        2000: 3650.0,
        2005: 3550.0,
        2010: 3800.0,
        2015: 2950.0,
        2018: 2660.0,
        2019: 2560.0,
        2020: 2200.0,
        2021: 2330.0,
        2022: 2250.0,
        2023: 2065.0,
        2024: 1735.0,
    },
    "Vantaa": {
        1990: 1000.0,
        2000: 1090.0,
        2005: 1130.0,
        2010: 1210.0,
        2015: 1020.0,
        2018: 980.0,
        2019: 960.0,
        2020: 850.0,
        2021: 880.0,
        2022: 820.0,
        2023: 771.0,
        2024: 725.0,
    },
    "Kauniainen": {
        1990: 36.0,
        2000: 35.5,
        2010: 35.0,
        2015: 32.0,
        2018: 30.0,
        2020: 28.5,
        2023: 29.8,
        2024: 28.0,
    },
}
CITY_ORDER = ("Espoo", "Helsinki", "Kauniainen", "Vantaa")

# Espoo's main-sector shares at anchor years (2016 from FIGURES.md; 2019 transport just under 31 %);
# linear in between. The other cities scale these by CITY_WEIGHTS and renormalise.
SHARE_ANCHORS: Mapping[int, Mapping[str, float]] = {
    1990: {
        "district_heat": 0.40,
        "transport": 0.22,
        "consumer_electricity": 0.20,
        "other_heating": 0.10,
        "industry_machinery": 0.05,
        "waste": 0.025,
        "agriculture": 0.005,
    },
    2016: ESPOO_SECTOR_SHARES_2016,
    2019: {
        "district_heat": 0.39,
        "transport": 0.305,
        "consumer_electricity": 0.13,
        "other_heating": 0.08,
        "industry_machinery": 0.055,
        "waste": 0.03,
        "agriculture": 0.01,
    },
    2023: {
        "district_heat": 0.33,
        "transport": 0.38,
        "consumer_electricity": 0.10,
        "other_heating": 0.08,
        "industry_machinery": 0.07,
        "waste": 0.03,
        "agriculture": 0.01,
    },
    2024: {
        "district_heat": 0.30,
        "transport": 0.40,
        "consumer_electricity": 0.09,
        "other_heating": 0.09,
        "industry_machinery": 0.075,
        "waste": 0.035,
        "agriculture": 0.01,
    },
}
CITY_WEIGHTS: Mapping[str, Mapping[str, float]] = {
    "Espoo": {},
    "Helsinki": {"district_heat": 1.25, "transport": 0.85, "other_heating": 0.5, "agriculture": 0.2},
    "Vantaa": {"transport": 1.15, "industry_machinery": 1.6, "agriculture": 1.5},
    "Kauniainen": {"district_heat": 0.6, "other_heating": 2.2, "industry_machinery": 0.4, "agriculture": 0.3},
}
TRANSPORT_MODES: Mapping[str, tuple[float, float, float]] = {  # road, rail, waterborne
    "Espoo": (0.93, 0.02, 0.05),
    "Helsinki": (0.80, 0.04, 0.16),
    "Vantaa": (0.96, 0.03, 0.01),
    "Kauniainen": (0.985, 0.015, 0.0),
}
VEHICLES = (
    ("Henkilöautot", 0.60),
    ("Pakettiautot", 0.10),
    ("Kuorma-autot", 0.18),
    ("Linja-autot", 0.10),
    ("Moottoripyörät ja mopot", 0.02),
)
ROADS = (("Katuajo", 0.45), ("Maantieajo", 0.55))


def lerp(anchors: Mapping[int, float], year: int) -> float:
    """Linear interpolation between anchor years (constant beyond the ends)."""
    years = sorted(anchors)
    if year <= years[0]:
        return anchors[years[0]]
    if year >= years[-1]:
        return anchors[years[-1]]
    for low, high in itertools.pairwise(years):
        if low <= year <= high:
            return anchors[low] + (anchors[high] - anchors[low]) * (year - low) / (high - low)
    raise AssertionError("unreachable")


def _span(start: float, end: float) -> Callable[[int], float]:
    return lambda year: lerp({1990: start, 2024: end}, year)


# Emission factors (t CO2e per GWh = g/kWh) to derive a plausible energy use from emissions.
ELECTRICITY_FACTOR = {1990: 230.0, 2010: 215.0, 2015: 160.0, 2019: 120.0, 2020: 95.0, 2023: 55.0, 2024: 42.0}
DISTRICT_HEAT_FACTOR = {1990: 300.0, 2010: 235.0, 2016: 210.0, 2020: 165.0, 2023: 130.0, 2024: 95.0}


@dataclass(frozen=True)
class Leaf:
    """One sector row of the file: its main group, Sektori1…4, split share and emission factor."""

    group: str
    sectors: tuple[str, str, str, str]
    share: Callable[[str, int], float]  # (city, year) -> share of the group
    factor: Callable[[int], float] | None  # year -> t CO2e per GWh; None: no energy use reported


def _leaves() -> list[Leaf]:
    electricity = lambda year: lerp(ELECTRICITY_FACTOR, year)  # noqa: E731
    leaves = [
        Leaf(
            "district_heat",
            ("Lämmitys", "Kaukolämpö", "", ""),
            lambda c, y: 1.0,
            lambda y: lerp(DISTRICT_HEAT_FACTOR, y),
        ),
        Leaf(
            "other_heating",
            ("Lämmitys", "Öljylämmitys", "", ""),
            lambda c, y: _span(0.75, 0.40)(y),
            lambda y: 267.0,
        ),
        Leaf(
            "other_heating",
            ("Lämmitys", "Sähkölämmitys", "", ""),
            lambda c, y: _span(0.20, 0.35)(y),
            electricity,
        ),
        Leaf(
            "other_heating", ("Lämmitys", "Maalämpö", "", ""), lambda c, y: _span(0.005, 0.15)(y), electricity
        ),
        Leaf(
            "other_heating",
            ("Lämmitys", "Muu lämmitys", "", ""),
            lambda c, y: 1.0 - _span(0.955, 0.90)(y),
            lambda y: 40.0,
        ),
        Leaf("consumer_electricity", ("Sähkö", "Kulutussähkö", "", ""), lambda c, y: 1.0, electricity),
    ]
    for road, road_share in ROADS:
        for vehicle, vehicle_share in VEHICLES:
            leaves.append(
                Leaf(
                    "transport",
                    ("Liikenne", "Tieliikenne", road, vehicle),
                    _mode_share(0, road_share * vehicle_share),
                    _span(265.0, 228.0),
                )
            )
    for name in ("Lähiliikenteen junat", "Metro", "Raitiovaunut"):
        leaves.append(
            Leaf(
                "transport",
                ("Liikenne", "Raideliikenne", name, ""),
                _rail(name),
                electricity,
            )
        )
    for name, share in (("Matkustaja- ja rahtiliikenne", 0.6), ("Huviveneily", 0.4)):
        leaves.append(
            Leaf(
                "transport",
                ("Liikenne", "Vesiliikenne", name, ""),
                _mode_share(2, share),
                lambda y: 270.0,
            )
        )
    leaves += [
        Leaf(
            "industry_machinery",
            ("Teollisuus ja työkoneet", "Teollisuus", "", ""),
            lambda c, y: 0.45,
            _span(200.0, 150.0),
        ),
        Leaf(
            "industry_machinery",
            ("Teollisuus ja työkoneet", "Työkoneet", "", ""),
            lambda c, y: 0.55,
            _span(265.0, 240.0),
        ),
        Leaf("waste", ("Jätteiden käsittely", "Kaatopaikat", "", ""), _landfill_share, None),
        Leaf(
            "waste",
            ("Jätteiden käsittely", "Biojätteen käsittely", "", ""),
            lambda c, y: 0.9 if _landfill_share(c, y) < 0 else _span(0.10, 0.40)(y),
            None,
        ),
        Leaf(
            "waste",
            ("Jätteiden käsittely", "Jätevedenpuhdistus", "", ""),
            lambda c, y: 0.3 if _landfill_share(c, y) < 0 else 1.0 - _span(0.85, 0.75)(y),
            None,
        ),
        Leaf("agriculture", ("Maatalous", "Peltoviljely", "", ""), lambda c, y: 0.6, None),
        Leaf("agriculture", ("Maatalous", "Kotieläimet", "", ""), lambda c, y: 0.4, None),
    ]
    return leaves


def _mode_share(mode: int, share: float) -> Callable[[str, int], float]:
    """Share of the transport group: the city's share of the mode (road, rail, water) times `share`."""
    return lambda city, year: TRANSPORT_MODES[city][mode] * share


def _rail(name: str) -> Callable[[str, int], float]:
    return lambda city, year: TRANSPORT_MODES[city][1] * _rail_share(city, year, name)


def _rail_share(city: str, year: int, name: str) -> float:
    """Split of rail: Espoo has a metro from late 2017; only Helsinki has trams and (earlier) a metro."""
    has_metro = city == "Helsinki" or (city == "Espoo" and year >= 2017)
    has_tram = city == "Helsinki"
    parts = {
        "Lähiliikenteen junat": 0.75,
        "Metro": 0.15 if has_metro else 0.0,
        "Raitiovaunut": 0.10 if has_tram else 0.0,
    }
    return parts[name] / sum(parts.values())


def _landfill_share(city: str, year: int) -> float:
    """Espoo's landfill gas recovery exceeds landfill emissions from 2022: a negative row (kept, flagged)."""
    if city == "Espoo" and year >= 2022:
        return -0.2
    return _span(0.75, 0.35)(year)


def city_totals_kt() -> dict[str, dict[int, float]]:
    """The demo total of each city and year (kt CO2e)."""
    rng = random.Random(SEED)
    totals: dict[str, dict[int, float]] = {"Espoo": {year: ESPOO_HSY_TOTAL_KT[year] for year in YEARS}}
    for city, anchors in OTHER_CITY_ANCHORS_KT.items():
        totals[city] = {}
        for year in YEARS:
            value = lerp(anchors, year)
            if year not in anchors:
                value *= 1.0 + rng.uniform(-0.015, 0.015)
            totals[city][year] = round(value, 1)
    return totals


def _group_shares(city: str, year: int) -> dict[str, float]:
    years = sorted(SHARE_ANCHORS)
    base = {group: lerp({y: SHARE_ANCHORS[y][group] for y in years}, year) for group in SHARE_ANCHORS[2016]}
    weighted = {group: share * CITY_WEIGHTS[city].get(group, 1.0) for group, share in base.items()}
    total = sum(weighted.values())
    return {group: share / total for group, share in weighted.items()}


@dataclass(frozen=True)
class Row:
    """One row of the demo file: city (or PKS), year, sectors, GWh (None = blank) and tenths of tonnes."""

    city: str
    year: int
    sectors: tuple[str, str, str, str]
    energy_gwh: float | None
    emissions_dt: int  # tenths of a tonne CO2e, so sums are exact

    @property
    def emissions_t(self) -> float:
        return self.emissions_dt / 10


def demo_rows() -> list[Row]:
    """Every row of the demo file, PKS (the sum of the four cities) last within each year."""
    rng = random.Random(SEED + 1)
    leaves = _leaves()
    totals = city_totals_kt()
    rows: list[Row] = []
    for year in YEARS:
        year_rows: list[Row] = []
        for city in CITY_ORDER:
            target_dt = round(totals[city][year] * 10_000)
            shares = _group_shares(city, year)
            group_sums: dict[str, float] = {}
            raw: list[float] = []
            for leaf in leaves:
                jitter = 1.0 + rng.uniform(-0.06, 0.06) if leaf.group != "district_heat" else 1.0
                raw.append(leaf.share(city, year) * jitter)
                group_sums[leaf.group] = group_sums.get(leaf.group, 0.0) + raw[-1]
            values = [
                round(target_dt * shares[leaf.group] * part / group_sums[leaf.group])
                if group_sums[leaf.group]
                else 0
                for leaf, part in zip(leaves, raw, strict=True)
            ]
            values[0] += target_dt - sum(values)  # rounding residual on district heat: totals are exact
            for leaf, value in zip(leaves, values, strict=True):
                energy = None
                if leaf.factor is not None:
                    energy = round(max(value, 0) / 10 / leaf.factor(year), 3)
                year_rows.append(Row(city, year, leaf.sectors, energy, value))
        rows += year_rows
        for index, leaf in enumerate(leaves):
            parts = year_rows[index :: len(leaves)]
            energy_parts = [row.energy_gwh for row in parts if row.energy_gwh is not None]
            energy_total = round(sum(energy_parts), 3) if leaf.factor is not None else None
            rows.append(Row("PKS", year, leaf.sectors, energy_total, sum(row.emissions_dt for row in parts)))
    rows.sort(key=lambda row: (row.city == "PKS", row.city, row.year))
    return rows


def xlsx_bytes(rows: list[Row]) -> bytes:
    """The workbook as HSY publishes it: a long table, two header-less columns, and an info sheet."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    workbook.set_properties(
        {
            "title": "Pääkaupunkiseudun kasvihuonekaasupäästöt 1990–2024",
            "author": "HSY",
            "created": datetime(2025, 6, 3, 9, 12, 44),
        }
    )
    bold = workbook.add_format({"bold": True})
    sheet = workbook.add_worksheet("Päästöt")
    header = ["Kaupunki", "Vuosi", "Sektori1", "Sektori2", "Sektori3", "Sektori4", None]
    header += ["Energiankulutus (GWh)", "Päästöt (t CO2e)", None]
    for column, title in enumerate(header):
        if title is not None:
            sheet.write_string(0, column, title, bold)
    for line, row in enumerate(rows, start=1):
        sheet.write_string(line, 0, row.city)
        sheet.write_number(line, 1, row.year)
        for offset, sector in enumerate(row.sectors):
            if sector:
                sheet.write_string(line, 2 + offset, sector)
        if row.energy_gwh is not None:
            sheet.write_number(line, 7, row.energy_gwh)
        sheet.write_number(line, 8, row.emissions_t)
    sheet.write_string(1, 9, "Vuoden 2024 luvut ovat ennakkotietoja.")
    info = workbook.add_worksheet("Tietoa")
    notes = [
        "Pääkaupunkiseudun kasvihuonekaasupäästöt 1990–2024",
        "Lähde: Helsingin seudun ympäristöpalvelut HSY. Lisenssi: CC BY 4.0.",
        "Päästöt: t CO2-ekv. Energiankulutus: GWh.",
        "PKS = pääkaupunkiseutu yhteensä (Helsinki, Espoo, Vantaa, Kauniainen).",
        "DEMO: kalibroitu esimerkkiaineisto, ei HSY:n julkaisemia lukuja.",
    ]
    for line, note in enumerate(notes):
        info.write_string(line, 0, note)
    workbook.close()
    return buffer.getvalue()


def envelope_bytes(package_id: str, resource_url: str, xlsx_size: int) -> bytes:
    """The CKAN package_show answer: the new release, last year's release and a PDF method description."""
    base = f"https://hri.fi/data/dataset/{package_id}/resource"
    document = {
        "help": "https://hri.fi/data/api/3/action/help_show?name=package_show",
        "success": True,
        "result": {
            "name": package_id,
            "title": "Pääkaupunkiseudun kasvihuonekaasupäästöt",
            "license_id": "cc-by-4.0",
            "license_title": "Creative Commons Attribution 4.0",
            "organization": {
                "name": "helsingin-seudun-ymparistopalvelut",
                "title": "Helsingin seudun ympäristöpalvelut (HSY)",
            },
            "metadata_modified": "2025-06-03T09:12:51.104528",
            "num_resources": 3,
            "resources": [
                {
                    "id": "0b9e3f56-8d2a-4f1e-a7c3-5e6d4c3b2a19",
                    "name": "Pääkaupunkiseudun kasvihuonekaasupäästöt 1990–2023",
                    "format": "XLSX",
                    "mimetype": XLSX_MEDIA_TYPE,
                    "url": f"{base}/0b9e3f56-8d2a-4f1e-a7c3-5e6d4c3b2a19/download/"
                    "paakaupunkiseudun_kasvihuonekaasupaastot_1990-2023.xlsx",
                    "created": "2024-06-05T10:02:11.000000",
                    "last_modified": "2024-06-05T10:02:11.870211",
                    "size": 231904,
                    "position": 0,
                },
                {
                    "id": RESOURCE_ID,
                    "name": "Pääkaupunkiseudun kasvihuonekaasupäästöt 1990–2024",
                    "format": "XLSX",
                    "mimetype": XLSX_MEDIA_TYPE,
                    "url": resource_url,
                    "created": "2025-06-03T09:10:02.000000",
                    "last_modified": RELEASE_MODIFIED,
                    "size": xlsx_size,
                    "position": 1,
                },
                {
                    "id": "c3d2e1f0-5a4b-4c3d-8e7f-6a5b4c3d2e1f",
                    "name": "Laskentamenetelmän kuvaus",
                    "format": "PDF",
                    "mimetype": "application/pdf",
                    "url": f"{base}/c3d2e1f0-5a4b-4c3d-8e7f-6a5b4c3d2e1f/download/laskentamenetelma.pdf",
                    "created": "2025-06-03T09:11:30.000000",
                    "last_modified": "2025-06-03T09:11:30.402118",
                    "size": 512733,
                    "position": 2,
                },
            ],
        },
    }
    return json.dumps(document).encode("utf-8")


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def generate(folder: Path, manifest: Manifest) -> None:
    """Record the two exchanges the HSY connector makes for the catalogue entry (body files + manifest)."""
    spec = load_catalogue().dataset(DATASET)
    package_id = str(spec.options["package_id"])
    resource_url = f"https://hri.fi/data/dataset/{package_id}/resource/{RESOURCE_ID}/download/{XLSX_FILE}"
    xlsx = xlsx_bytes(demo_rows())
    envelope = envelope_bytes(package_id, resource_url, len(xlsx))
    record_exchange(
        folder,
        manifest,
        DATASET,
        RequestSpec("GET", spec.url, (("id", package_id),)),
        200,
        {
            "content-type": "application/json;charset=utf-8",
            "date": RESPONSE_DATE,
            "cache-control": "no-cache",
            "content-length": str(len(envelope)),
        },
        envelope,
        f"{DATASET}/package_show.json",
    )
    record_exchange(
        folder,
        manifest,
        DATASET,
        RequestSpec("GET", resource_url),
        200,
        {
            "content-type": XLSX_MEDIA_TYPE,
            "content-length": str(len(xlsx)),
            "etag": _etag(xlsx),
            "last-modified": RELEASE_HTTP_DATE,
            "date": RESPONSE_DATE,
        },
        xlsx,
        f"{DATASET}/{XLSX_FILE}",
    )


def region_totals_kt() -> dict[int, float]:
    """The four-city total per year (for checks against calibration.REGION_HSY_TOTAL_KT)."""
    totals = city_totals_kt()
    return {year: sum(totals[city][year] for city in CITY_ORDER) for year in YEARS}
