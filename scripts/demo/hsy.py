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

from common.payload import RequestSpec
from ingest.catalogue import load_catalogue
from ingest.hsy import XLSX_MEDIA_TYPE
from ingest.manifest import Manifest
from ingest.replay import record_exchange
from scripts.demo.calibration import (
    ESPOO_ENERGY_2022_GWH,
    ESPOO_HSY_SECTORS_KT,
    ESPOO_HSY_TOTAL_KT,
    ESPOO_TRANSPORT_2022_KT,
)

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
GROUPS = (
    "district_heat",
    "oil_heating",
    "electric_heating",
    "other_heating",
    "consumer_electricity",
    "transport",
    "industry_machinery",
    "waste",
    "agriculture",
)

# Main-sector shares of a city's total at anchor years, linear in between. Espoo: the published 1990 and
# 2022 splits (calibration.ESPOO_HSY_SECTORS_KT) exactly, 2016 (district heat 42 %, transport 27 %) and 2019
# (transport just under 31 %) from FIGURES.md, 2023–2024 demo. Espoo has no geothermal / other heating rows
# (its published buildings total is district heat + oil + electric heating + consumer electricity).
ESPOO_SHARE_ANCHORS: Mapping[int, Mapping[str, float]] = {
    **{
        year: {group: kt / ESPOO_HSY_TOTAL_KT[year] for group, kt in sectors.items()}
        for year, sectors in ESPOO_HSY_SECTORS_KT.items()
    },
    2016: {
        "district_heat": 0.42,
        "oil_heating": 0.045,
        "electric_heating": 0.045,
        "consumer_electricity": 0.17,
        "transport": 0.27,
        "industry_machinery": 0.02,
        "waste": 0.02,
        "agriculture": 0.01,
    },
    2019: {
        "district_heat": 0.39,
        "oil_heating": 0.04,
        "electric_heating": 0.045,
        "consumer_electricity": 0.157,
        "transport": 0.305,
        "industry_machinery": 0.018,
        "waste": 0.03,
        "agriculture": 0.015,
    },
    2023: {
        "district_heat": 0.33,
        "oil_heating": 0.05,
        "electric_heating": 0.05,
        "consumer_electricity": 0.12,
        "transport": 0.404,
        "industry_machinery": 0.016,
        "waste": 0.028,
        "agriculture": 0.002,
    },
    2024: {
        "district_heat": 0.30,
        "oil_heating": 0.05,
        "electric_heating": 0.05,
        "consumer_electricity": 0.11,
        "transport": 0.442,
        "industry_machinery": 0.018,
        "waste": 0.028,
        "agriculture": 0.002,
    },
}
# The other cities: demo shares, scaled by CITY_WEIGHTS and renormalised.
SHARE_ANCHORS: Mapping[int, Mapping[str, float]] = {
    1990: {
        "district_heat": 0.40,
        "oil_heating": 0.06,
        "electric_heating": 0.03,
        "other_heating": 0.01,
        "consumer_electricity": 0.20,
        "transport": 0.22,
        "industry_machinery": 0.05,
        "waste": 0.025,
        "agriculture": 0.005,
    },
    2016: {
        "district_heat": 0.42,
        "oil_heating": 0.04,
        "electric_heating": 0.025,
        "other_heating": 0.015,
        "consumer_electricity": 0.14,
        "transport": 0.27,
        "industry_machinery": 0.05,
        "waste": 0.03,
        "agriculture": 0.01,
    },
    2024: {
        "district_heat": 0.30,
        "oil_heating": 0.035,
        "electric_heating": 0.03,
        "other_heating": 0.025,
        "consumer_electricity": 0.09,
        "transport": 0.40,
        "industry_machinery": 0.075,
        "waste": 0.035,
        "agriculture": 0.01,
    },
}
CITY_WEIGHTS: Mapping[str, Mapping[str, float]] = {
    "Espoo": {},
    "Helsinki": {"district_heat": 1.25, "transport": 0.85, "oil_heating": 0.5, "agriculture": 0.2},
    "Vantaa": {"transport": 1.15, "industry_machinery": 1.6, "agriculture": 1.5},
    "Kauniainen": {"district_heat": 0.6, "oil_heating": 2.2, "other_heating": 2.0, "agriculture": 0.3},
}
TRANSPORT_MODES: Mapping[str, tuple[float, float, float]] = {  # road, rail, waterborne
    "Espoo": (0.965, 0.01, 0.025),
    "Helsinki": (0.80, 0.04, 0.16),
    "Vantaa": (0.96, 0.03, 0.01),
    "Kauniainen": (0.985, 0.015, 0.0),
}
# Sektori3 (vehicle type) and Sektori4 (economic sector) of road transport, share of the road mode.
VEHICLES = (
    ("Henkilöautot", "Henkilöliikenne", 0.59),
    ("Moottoripyörät ja mopot", "Henkilöliikenne", 0.02),
    ("Pakettiautot", "Tavaraliikenne", 0.09),
    ("Kuorma-autot", "Tavaraliikenne", 0.28),
    ("Linja-autot", "Joukkoliikenne", 0.02),
)
# Sektori4 (economic sector) of heating, electricity and waste rows: share of the Sektori3 row.
ECONOMIC_SECTORS = (("Asuminen", 0.55), ("Palvelut", 0.33), ("Teollisuus", 0.12))


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
    cities: frozenset[str] = frozenset(CITY_ORDER)  # the cities that have this row


def _by_economic_sector(
    group: str,
    path: tuple[str, str, str],
    share: Callable[[str, int], float],
    factor: Callable[[int], float] | None,
    cities: frozenset[str] = frozenset(CITY_ORDER),
) -> list[Leaf]:
    """One leaf per economic sector (Sektori4) of a Sektori1–3 path."""
    return [
        Leaf(group, (*path, name), _scaled(share, part), factor, cities) for name, part in ECONOMIC_SECTORS
    ]


def _scaled(share: Callable[[str, int], float], part: float) -> Callable[[str, int], float]:
    return lambda city, year: share(city, year) * part


def _leaves() -> list[Leaf]:
    """Every row of a city-year, four levels deep: Sektori1 main sector, Sektori2 sector, Sektori3 the
    energy carrier / vehicle type / waste treatment, Sektori4 the economic sector."""
    electricity = lambda year: lerp(ELECTRICITY_FACTOR, year)  # noqa: E731
    one = lambda c, y: 1.0  # noqa: E731
    not_espoo = frozenset(CITY_ORDER) - {"Espoo"}
    leaves = [
        *_by_economic_sector(
            "district_heat",
            ("Lämmitys", "Kaukolämpö", "Kaukolämpö"),
            one,
            lambda y: lerp(DISTRICT_HEAT_FACTOR, y),
        ),
        *_by_economic_sector(
            "oil_heating", ("Lämmitys", "Öljylämmitys", "Kevyt polttoöljy"), one, lambda y: 267.0
        ),
        *_by_economic_sector("electric_heating", ("Lämmitys", "Sähkölämmitys", "Sähkö"), one, electricity),
        *_by_economic_sector(
            "other_heating",
            ("Lämmitys", "Maalämpö", "Sähkö"),
            lambda c, y: _span(0.1, 0.7)(y),
            electricity,
            not_espoo,
        ),
        *_by_economic_sector(
            "other_heating",
            ("Lämmitys", "Muu lämmitys", "Puu"),
            lambda c, y: _span(0.9, 0.3)(y),
            lambda y: 40.0,
            not_espoo,
        ),
        *_by_economic_sector("consumer_electricity", ("Sähkö", "Kulutussähkö", "Sähkö"), one, electricity),
    ]
    for vehicle, economic, share in VEHICLES:
        leaves.append(
            Leaf(
                "transport",
                ("Liikenne", "Tieliikenne", vehicle, economic),
                _mode_share(0, share),
                _span(265.0, 228.0),
            )
        )
    for name in ("Lähijunat", "Metrot", "Raitiovaunut"):
        cities = frozenset({"Helsinki"}) if name == "Raitiovaunut" else frozenset(CITY_ORDER)
        leaves.append(
            Leaf(
                "transport",
                ("Liikenne", "Raideliikenne", name, "Joukkoliikenne"),
                _rail(name),
                electricity,
                cities,
            )
        )
    for name, economic, share in (("Huviveneet", "Vapaa-aika", 0.6), ("Ammattiveneet", "Palvelut", 0.4)):
        leaves.append(
            Leaf(
                "transport",
                ("Liikenne", "Laivaliikenne", name, economic),
                _mode_share(2, share),
                lambda y: 270.0,
            )
        )
    leaves += [
        Leaf(
            "industry_machinery",
            ("Teollisuus ja työkoneet", "Teollisuus", "Polttoaineet", "Teollisuus"),
            lambda c, y: 0.1 if c == "Espoo" else 0.45,
            _span(200.0, 150.0),
        ),
        Leaf(
            "industry_machinery",
            ("Teollisuus ja työkoneet", "Työkoneet", "Diesel", "Rakentaminen"),
            lambda c, y: 0.9 if c == "Espoo" else 0.55,
            _span(265.0, 240.0),
        ),
        *_by_economic_sector(
            "waste", ("Jätteiden käsittely", "Kiinteät jätteet", "Kaatopaikat"), _landfill_share, None
        ),
        *_by_economic_sector(
            "waste",
            ("Jätteiden käsittely", "Kiinteät jätteet", "Biojätteen kompostointi"),
            lambda c, y: 0.9 if _landfill_share(c, y) < 0 else _span(0.10, 0.40)(y),
            None,
        ),
        *_by_economic_sector(
            "waste",
            ("Jätteiden käsittely", "Jätevedet", "Jätevedenpuhdistus"),
            lambda c, y: 0.3 if _landfill_share(c, y) < 0 else 1.0 - _span(0.85, 0.75)(y),
            None,
        ),
        Leaf("agriculture", ("Maatalous", "Peltoviljely", "Maaperä", "Maatalous"), lambda c, y: 0.6, None),
        Leaf(
            "agriculture", ("Maatalous", "Kotieläimet", "Ruoansulatus", "Maatalous"), lambda c, y: 0.4, None
        ),
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
        "Lähijunat": 0.75,
        "Metrot": 0.15 if has_metro else 0.0,
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
    anchors = ESPOO_SHARE_ANCHORS if city == "Espoo" else SHARE_ANCHORS
    years = sorted(anchors)
    base = {group: lerp({y: anchors[y].get(group, 0.0) for y in years}, year) for group in GROUPS}
    weighted = {group: share * CITY_WEIGHTS[city].get(group, 1.0) for group, share in base.items()}
    total = sum(weighted.values())
    return {group: share / total for group, share in weighted.items()}


def _split(total: int, weights: list[float]) -> list[int]:
    """Whole numbers in proportion to `weights` that add up to `total` exactly (residual on the largest)."""
    whole = sum(weights)
    if not whole:
        return [0] * len(weights)
    parts = [round(total * weight / whole) for weight in weights]
    largest = max(range(len(weights)), key=lambda i: abs(weights[i]))
    parts[largest] += total - sum(parts)
    return parts


@dataclass(frozen=True)
class Row:
    """One row of the demo file: city (or PKS), year, Sektori1…4, GWh (None = blank) and tonnes CO2e."""

    city: str
    year: int
    sectors: tuple[str, str, str, str]
    energy_gwh: float | None
    emissions_t: int  # whole tonnes CO2e, so sums are exact; the file holds kt (Päästöt is kt CO2e)

    @property
    def emissions_kt(self) -> float:
        return self.emissions_t / 1000


def _city_year(city: str, year: int, total_kt: float, rng: random.Random) -> list[Row]:
    """The rows of one city and year: group totals from the shares (Espoo 1990 and 2022: the published
    split exactly), leaves by their weights (Espoo 2022 transport: the published vehicle detail)."""
    leaves = [leaf for leaf in _leaves() if city in leaf.cities]
    calibrated = ESPOO_HSY_SECTORS_KT.get(year) if city == "Espoo" else None
    total_t = round(total_kt * 1000)
    if calibrated is not None:
        group_t = {group: round(calibrated.get(group, 0.0) * 1000) for group in GROUPS}
        if sum(group_t.values()) != total_t:
            raise AssertionError(f"calibration: Espoo {year} sectors do not add up to {total_kt} kt")
    else:
        shares = _group_shares(city, year)
        group_t = dict(zip(GROUPS, _split(total_t, [shares[g] for g in GROUPS]), strict=True))
    values: dict[int, int] = {}
    for group in GROUPS:
        members = [i for i, leaf in enumerate(leaves) if leaf.group == group]
        if not members:
            continue
        weights = []
        for i in members:
            leaf = leaves[i]
            if city == "Espoo" and year == 2022 and group == "transport":
                weight = ESPOO_TRANSPORT_2022_KT.get((leaf.sectors[1], leaf.sectors[2]), 0.0)
            else:
                jitter = 1.0 + rng.uniform(-0.06, 0.06) if group != "district_heat" else 1.0
                weight = leaf.share(city, year) * jitter
            weights.append(weight)
        for i, value in zip(members, _split(group_t[group], weights), strict=True):
            values[i] = value
    # Espoo 2022: the published energy use per group, split over its rows in MWh so the sum is exact
    published_mwh: dict[int, int] = {}
    if city == "Espoo" and year == 2022:
        for group, gwh in ESPOO_ENERGY_2022_GWH.items():
            members = [i for i, leaf in enumerate(leaves) if leaf.group == group and leaf.factor is not None]
            parts = _split(round(gwh * 1000), [float(max(values[i], 0)) for i in members])
            published_mwh.update(zip(members, parts, strict=True))
    rows = []
    for i, leaf in enumerate(leaves):
        energy = None
        if i in published_mwh:
            energy = published_mwh[i] / 1000
        elif leaf.factor is not None:
            energy = round(max(values[i], 0) / leaf.factor(year), 3)
        rows.append(Row(city, year, leaf.sectors, energy, values[i]))
    return rows


def demo_rows() -> list[Row]:
    """Every row of the demo file, PKS (the sum of the four cities per sector row) last."""
    rng = random.Random(SEED + 1)
    totals = city_totals_kt()
    rows: list[Row] = []
    for year in YEARS:
        year_rows: list[Row] = []
        for city in CITY_ORDER:
            year_rows += _city_year(city, year, totals[city][year], rng)
        rows += year_rows
        for leaf in _leaves():
            parts = [row for row in year_rows if row.sectors == leaf.sectors]
            energy_parts = [row.energy_gwh for row in parts if row.energy_gwh is not None]
            energy_total = round(sum(energy_parts), 3) if leaf.factor is not None else None
            rows.append(Row("PKS", year, leaf.sectors, energy_total, sum(row.emissions_t for row in parts)))
    rows.sort(key=lambda row: (row.city == "PKS", row.city, row.year))
    return rows


def xlsx_bytes(rows: list[Row]) -> bytes:
    """The workbook in HSY's real shape: one long table with BARE headers (Päästöt in kt CO2e,
    Energiankulutus in GWh), four sector levels, blank (pandas: `Unnamed: n`) columns, and an info sheet."""
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
    header += ["Energiankulutus", "Päästöt", "Unnamed: 9", "Unnamed: 10"]
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
        sheet.write_number(line, 8, row.emissions_kt)
    info = workbook.add_worksheet("Tietoa")
    notes = [
        "Pääkaupunkiseudun kasvihuonekaasupäästöt 1990–2024",
        "Lähde: Helsingin seudun ympäristöpalvelut HSY. Lisenssi: CC BY 4.0.",
        "Päästöt: kt CO2-ekv. Energiankulutus: GWh. Vuoden 2024 luvut ovat ennakkotietoja.",
        "PKS = pääkaupunkiseutu yhteensä (Helsinki, Espoo, Vantaa, Kauniainen).",
        "DEMO: esimerkkiaineisto; Espoon 1990 ja 2022 sektorijako HSY:n julkaisemien lukujen mukaan.",
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
