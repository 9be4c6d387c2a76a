"""Demo snapshot for Syke ALas: one `;`/decimal-comma CSV per catalogue municipality, with Hinku/ETS rules."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from common.payload import RequestSpec
from ingest.catalogue import load_catalogue
from ingest.manifest import Manifest
from ingest.replay import record_exchange
from ingest.syke import REQUIRED_COLUMNS, municipality_url, request_codes
from scripts.demo.hsy import city_totals_kt, lerp

DATASET = "syke_emissions"
SEED = 2027
YEARS = (1990, *range(2005, 2025))
RESPONSE_DATE = "Mon, 23 Nov 2026 04:30:07 GMT"
RELEASE_HTTP_DATE = "Wed, 28 May 2025 06:30:00 GMT"

# All ALas emissions (sum of `kt`, kt CO2e). The capital-region cities follow the HSY demo totals times a
# factor: ALas counts ETS industry and through traffic in the municipality, so Espoo's ALas total is
# higher than its HSY total (the two sources differ, as in reality).
HSY_FACTOR: Mapping[str, Mapping[int, float]] = {
    "049": {1990: 1.08, 2024: 1.15},
    "091": {1990: 1.04, 2024: 1.06},
    "092": {1990: 1.10, 2024: 1.12},
    "235": {1990: 0.98, 2024: 1.00},
}
HSY_CITY = {"049": "Espoo", "091": "Helsinki", "092": "Vantaa", "235": "Kauniainen"}
OTHER_TOTALS_KT: Mapping[str, Mapping[int, float]] = {
    "837": {1990: 1450.0, 2005: 1500.0, 2010: 1550.0, 2015: 1250.0, 2020: 950.0, 2023: 820.0, 2024: 780.0},
    "853": {1990: 1250.0, 2005: 1300.0, 2010: 1250.0, 2015: 1000.0, 2020: 700.0, 2023: 560.0, 2024: 520.0},
    "564": {1990: 1700.0, 2005: 1900.0, 2010: 2000.0, 2015: 1750.0, 2020: 1300.0, 2023: 1150.0, 2024: 1100.0},
}
# Wind power credit (kt CO2e, the Tuu rows' kt_tuuli, negative) per municipality in 2024; grows from 2012.
WIND_CREDIT_2024_KT = {
    "049": 14.0,
    "091": 30.0,
    "092": 9.0,
    "235": 0.4,
    "837": 15.0,
    "853": 10.0,
    "564": 28.0,
}

# taso_3 share of all ALas emissions in 1990 and 2024 (linear in between, renormalised each year).
TASO3_SHARES: Mapping[str, tuple[float, float]] = {
    "Kul": (0.20, 0.07),
    "Säh": (0.06, 0.03),
    "Kau": (0.30, 0.22),
    "Ölj": (0.08, 0.03),
    "Muu": (0.02, 0.02),
    "Teo": (0.08, 0.12),
    "Työ": (0.04, 0.06),
    "Tie": (0.17, 0.35),
    "Rai": (0.005, 0.003),
    "Ves": (0.01, 0.01),
    "Maa": (0.01, 0.02),
    "Jät": (0.035, 0.02),
    "F-k": (0.005, 0.015),
}
MUNICIPALITY_WEIGHTS: Mapping[str, Mapping[str, float]] = {
    "091": {"Kau": 1.3, "Ves": 3.0, "Maa": 0.2},
    "092": {"Teo": 1.4, "Tie": 1.1},
    "235": {"Teo": 0.1, "Ölj": 2.0, "Maa": 0.3},
    "837": {"Teo": 1.5},
    "853": {"Ves": 2.0},
    "564": {"Teo": 3.0, "Maa": 2.0},
}
# t CO2e per GWh, for a plausible GWh column (None: not an energy sector, written NA / NULL)
ENERGY_FACTORS: Mapping[str, tuple[float, float] | None] = {
    "Kul": (230.0, 45.0),
    "Säh": (230.0, 45.0),
    "Kau": (290.0, 100.0),
    "Ölj": (267.0, 267.0),
    "Muu": (40.0, 30.0),
    "Teo": (220.0, 180.0),
    "Työ": (265.0, 240.0),
    "Tie": (265.0, 228.0),
    "Rai": (150.0, 60.0),
    "Ves": (270.0, 265.0),
    "Maa": None,
    "Jät": None,
    "F-k": None,
}


@dataclass(frozen=True)
class SubRow:
    """One row under a taso_3 code: taso_4, taso_5 (Syke's short codes), its share of the code, and whether
    it counts in the Hinku calculation and in the EU ETS (written true/false, as the 2025– CSVs do)."""

    taso_3: str
    taso_4: str
    taso_5: str
    share: float
    hinku: bool
    ets: bool


def _sub_rows() -> list[SubRow]:
    rows = [
        SubRow("Kul", "", "Asu", 0.40, True, False),
        SubRow("Kul", "", "Pal", 0.40, True, False),
        SubRow("Kul", "", "Teo", 0.20, False, False),  # Hinku leaves industrial power out
        SubRow("Säh", "", "Asu", 0.8, True, False),
        SubRow("Säh", "", "Pal", 0.2, True, False),
        SubRow("Kau", "", "Asu", 0.6, True, True),
        SubRow("Kau", "", "Pal", 0.4, True, True),
        SubRow("Ölj", "", "Asu", 0.6, True, False),
        SubRow("Ölj", "", "Pal", 0.4, True, False),
        SubRow("Muu", "Puu", "Asu", 0.7, True, False),
        SubRow("Muu", "MaL", "Asu", 0.3, True, False),
        SubRow("Teo", "", "Teo", 0.7, False, True),  # fuels under the ETS
        SubRow("Teo", "", "Teo", 0.3, True, False),
        SubRow("Työ", "", "Pal", 0.5, True, False),
        SubRow("Työ", "", "Maa", 0.2, True, False),
        SubRow("Työ", "", "Teo", 0.3, True, False),
    ]
    vehicles = (("Hen", 0.62), ("PaA", 0.10), ("KuA", 0.18), ("LiA", 0.10))
    for road, road_share in (("Kad", 0.45), ("Ti", 0.40), ("Läp", 0.15)):
        hinku = road != "Läp"  # Hinku leaves through traffic out
        rows += [
            SubRow("Tie", road, vehicle, road_share * share, hinku, False) for vehicle, share in vehicles
        ]
    rows += [
        SubRow("Rai", "LäL", "Sä", 0.6, True, False),
        SubRow("Rai", "TaL", "Die", 0.4, True, False),
        SubRow("Ves", "Lai", "", 0.7, True, False),
        SubRow("Ves", "HuV", "", 0.3, True, False),
        SubRow("Maa", "Kot", "", 0.5, True, False),
        SubRow("Maa", "Pel", "", 0.5, True, False),
        SubRow("Jät", "Kaa", "Yhd", 0.7, True, False),
        SubRow("Jät", "JäP", "", 0.2, True, False),
        SubRow("Jät", "Kom", "Yhd", 0.1, True, False),
        SubRow("F-k", "MuF", "", 1.0, True, False),
    ]
    return rows


def _flag(value: bool) -> str:
    return "true" if value else "false"


def alas_totals_kt() -> dict[str, dict[int, float]]:
    """All ALas emissions (kt CO2e) of every demo municipality and year."""
    rng = random.Random(SEED)
    hsy = city_totals_kt()
    totals: dict[str, dict[int, float]] = {}
    for code in ("049", "091", "092", "235"):
        totals[code] = {
            year: hsy[HSY_CITY[code]][year] * lerp(HSY_FACTOR[code], year) * (1 + rng.uniform(-0.01, 0.01))
            for year in YEARS
        }
    for code, anchors in OTHER_TOTALS_KT.items():
        totals[code] = {year: lerp(anchors, year) * (1 + rng.uniform(-0.015, 0.015)) for year in YEARS}
    return totals


def _number(value: float | None, decimals: int, null: str = "NA") -> str:
    if value is None:
        return null
    return f"{value:.{decimals}f}".replace(".", ",")


def csv_bytes(code: str) -> bytes:
    """One demo municipality's file (see alas_csv), around its calibrated ALas totals."""
    return alas_csv(
        alas_totals_kt()[code],
        WIND_CREDIT_2024_KT[code],
        random.Random(f"{SEED}-{code}"),
        MUNICIPALITY_WEIGHTS.get(code, {}),
    )


def alas_csv(
    totals: Mapping[int, float],
    wind_credit_2024: float,
    rng: random.Random,
    weights: Mapping[str, float] | None = None,
) -> bytes:
    """A municipality's ALas file: header in the documented column order, `;`, decimal comma, NA/NULL/empty,
    boolean flags true/false and short codes in taso_3…taso_5, as the 2025– release writes them; the
    sub-sector rows share each year's total (kt CO2e), the wind credit grows from 2012 to its 2024 value."""
    sub_rows = _sub_rows()
    lines = [";".join(REQUIRED_COLUMNS)]
    for year in YEARS:
        raw = {
            taso3: lerp({1990: low, 2024: high}, year) * (weights or {}).get(taso3, 1.0)
            for taso3, (low, high) in TASO3_SHARES.items()
        }
        scale = totals[year] / sum(raw.values())
        for row in sub_rows:
            kt = raw[row.taso_3] * scale * row.share * (1 + rng.uniform(-0.05, 0.05))
            factor = ENERGY_FACTORS[row.taso_3]
            if factor is None:
                gwh = _number(None, 3, null="NULL" if row.taso_3 == "F-k" else "NA")
            else:
                gwh = _number(kt * 1000 / lerp({1990: factor[0], 2024: factor[1]}, year), 3)
            cells = [_number(kt, 4), _number(kt, 4), gwh, _flag(row.hinku), _flag(row.ets), str(year)]
            lines.append(";".join([*cells, row.taso_3, row.taso_4, row.taso_5]))
        if year >= 2012:
            credit = wind_credit_2024 * (year - 2011) / 13
            lines.append(
                ";".join(["NA", _number(-credit, 4), "NA", "true", "false", str(year), "Tuu", "Tuu", ""])
            )
    return ("\n".join(lines) + "\n").encode("utf-8")


def generate(folder: Path, manifest: Manifest) -> None:
    """Record the one GET per catalogue municipality that the Syke connector makes."""
    spec = load_catalogue().dataset(DATASET)
    for code, written in request_codes(spec).items():
        body = csv_bytes(code)
        url = municipality_url(spec, written)
        record_exchange(
            folder,
            manifest,
            DATASET,
            RequestSpec("GET", url),
            200,
            {
                "content-type": "text/csv",
                "content-length": str(len(body)),
                "etag": '"' + hashlib.sha256(body).hexdigest()[:16] + ':0"',
                "last-modified": RELEASE_HTTP_DATE,
                "accept-ranges": "bytes",
                "date": RESPONSE_DATE,
            },
            body,
            f"{DATASET}/{url.rsplit('/', 1)[-1]}",
        )


POPULATION_DATASET = "syke_population"
POPULATION_FILE = "asukasluvut_2025.csv"
# Syke takes its population from Statistics Finland; the demo lets a few years differ slightly, as a
# second source (another date of the year-end count) would, within the reconciliation's tolerance.
POPULATION_OFFSETS = {("049", 2024): 0.002, ("091", 2023): -0.001, ("235", 2010): 0.003}


def population_csv_bytes() -> bytes:
    """Syke's population file, wide: kuntanro, kunta_fi, maakunta_fi, then one column per year."""
    from scripts.demo.statfin import municipalities, population

    lines = [";".join(["kuntanro", "kunta_fi", "maakunta_fi", *(str(year) for year in YEARS)])]
    for code, name in municipalities():
        cells = []
        for year in YEARS:
            value = population(code, year)
            if value is None:
                cells.append("NA")
            else:
                cells.append(str(round(value * (1 + POPULATION_OFFSETS.get((code, year), 0.0)))))
        lines.append(";".join([str(int(code)), name, "", *cells]))
    return ("\n".join(lines) + "\n").encode("utf-8")


def generate_population(folder: Path, manifest: Manifest) -> None:
    """Record the one GET of Syke's population file."""
    spec = load_catalogue().dataset(POPULATION_DATASET)
    body = population_csv_bytes()
    record_exchange(
        folder,
        manifest,
        POPULATION_DATASET,
        RequestSpec("GET", spec.url),
        200,
        {
            "content-type": "text/csv",
            "content-length": str(len(body)),
            "etag": '"' + hashlib.sha256(body).hexdigest()[:16] + ':0"',
            "last-modified": RELEASE_HTTP_DATE,
            "date": RESPONSE_DATE,
        },
        body,
        f"{POPULATION_DATASET}/{POPULATION_FILE}",
    )
