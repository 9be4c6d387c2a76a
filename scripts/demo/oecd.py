"""Demo snapshot for the OECD city statistics: an SDMX-ML 2.1 structure and a CSV-with-labels answer per flow.

The shapes follow ingest/oecd.py's docstring: the structure message names the flow's version, the DSD's
dimensions in key order and the REF_AREA codelist (the peers' cities with "Espoo/Esbo"-style names, their
functional urban areas, a few other cities, one with a comma in its name); the CSV answer has each code
column followed by its label column, labels written UNQUOTED as the OECD has been seen to (the demo's
"Buildings, residential and commercial" measure label splits a row), one missing value and flags.

DEMO DATA. City codes other than FI001C (Helsinki) are invented, as are the GHG sector codes beyond
GHG_TOTAL, GHG_POWER and GHG_BUILDINGS, the NO2 measure code NO2_POP_EXP (DEMO: the real code was never
seen; the connector finds it by its name, "Nitrogen dioxide (NO2) population exposure"), the TRAN_MODE
code and every value. Values are plausible:
territorial (gridded) emissions per resident of 1.5–6 t in 2022, falling since 1990 (Espoo about
2.5 t in 2022); population-weighted NO2 of 6–25 µg/m³, falling (Espoo about 9 µg/m³ in 2022).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from common.payload import HostRule, Params, Payload, RequestSpec
from ingest.catalogue import load_catalogue
from ingest.http import check_answered_within
from ingest.manifest import Manifest
from ingest.oecd import AREA, OecdConnector, read_options
from ingest.replay import record_exchange

__all__ = ["CITIES", "FLOWS", "data_csv", "generate", "structure_xml"]

SEED = 20_261_205
HTTP_DATE = "Mon, 23 Nov 2026 12:00:00 GMT"
AGENCY = "OECD.CFE.EDS"
NS_MESSAGE = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"
NS_STRUCTURE = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure"
NS_COMMON = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common"


@dataclass(frozen=True)
class City:
    """A demo city: code, codelist name, population 1990 and 2022, t CO2e per resident 1990 and 2022, PM2.5
    and NO2 in 2022 (µg/m³), green area (m² per resident)."""

    code: str
    name: str
    population: tuple[int, int]
    per_resident: tuple[float, float]
    pm25: float
    green_m2: float
    no2: float


# peer key → city; the codelist also lists their FUAs and a few cities that are no peers
CITIES: Mapping[str, City] = {
    "espoo": City("FI009C", "Espoo/Esbo", (172_000, 305_000), (5.6, 2.5), 5.0, 410.0, 9.0),
    "helsinki": City("FI001C", "Helsinki", (492_000, 658_000), (8.0, 4.2), 5.8, 180.0, 12.5),
    "vantaa": City("FI010C", "Vantaa/Vanda", (155_000, 240_000), (6.4, 3.4), 5.5, 330.0, 10.5),
    "tampere": City("FI002C", "Tampere", (172_000, 244_000), (6.8, 3.6), 4.9, 300.0, 8.5),
    "turku": City("FI003C", "Turku", (159_000, 195_000), (6.0, 3.0), 5.2, 260.0, 8.0),
    "stockholm": City("SE001C", "Stockholm", (674_000, 980_000), (4.5, 1.9), 5.4, 150.0, 11.0),
    "goteborg": City("SE002C", "Göteborg", (433_000, 590_000), (6.5, 3.8), 5.6, 240.0, 12.0),
    "malmo": City("SE003C", "Malmö", (233_000, 355_000), (4.8, 2.2), 7.1, 90.0, 13.5),
    "oslo": City("NO001C", "Oslo", (458_000, 700_000), (3.2, 1.6), 5.9, 210.0, 14.0),
    "bergen": City("NO002C", "Bergen", (212_000, 286_000), (3.5, 2.0), 4.1, 380.0, 10.0),
    "copenhagen": City("DK001C", "København", (467_000, 650_000), (6.0, 2.1), 8.4, 70.0, 14.5),
    "aarhus": City("DK002C", "Aarhus", (262_000, 360_000), (6.2, 2.8), 7.6, 160.0, 11.5),
    "reykjavik": City("IS001C", "Reykjavík", (97_000, 136_000), (3.8, 3.0), 3.2, 290.0, 7.0),
    "tallinn": City("EE001C", "Tallinn", (480_000, 440_000), (9.0, 5.5), 5.3, 140.0, 10.0),
    "amsterdam": City("NL002C", "Amsterdam", (695_000, 905_000), (6.0, 4.5), 10.2, 60.0, 21.0),
    "vienna": City("AT001C", "Wien", (1_490_000, 1_980_000), (5.0, 3.6), 12.4, 120.0, 19.5),
    "zurich": City("CH001C", "Zürich", (365_000, 420_000), (5.2, 3.2), 9.8, 110.0, 18.0),
    "freiburg": City("DE027C", "Freiburg im Breisgau", (190_000, 232_000), (6.0, 4.0), 9.1, 230.0, 15.0),
    "ljubljana": City("SI001C", "Ljubljana", (270_000, 290_000), (6.5, 4.5), 15.6, 200.0, 17.5),
    "lahti": City("FI005C", "Lahti", (94_000, 120_000), (7.0, 3.5), 5.1, 350.0, 7.5),
}
OTHER_AREAS = (
    ("FI001F", "Helsinki"),
    ("FI002F", "Tampere"),
    ("FI003F", "Turku"),
    ("FI004C", "Oulu"),
    ("FI004F", "Oulu"),
    ("SE001F", "Stockholm"),
    ("AT001F", "Wien"),
    ("ES540C", "Puerto de Santa María, El"),
)
STATUS = {"A": "Normal value", "P": "Provisional value", "E": "Estimated value", "M": "Missing value"}
MULT = {"0": "Units"}
# dimension id → (concept label, {code: label})
LABELS: dict[str, tuple[str, dict[str, str]]] = {
    "FREQ": ("Frequency of observation", {"A": "Annual"}),
    "MEASURE": (
        "Measure",
        {
            "GHG_TOTAL": "Total greenhouse gas emissions",
            "GHG_POWER": "Power generation",
            "GHG_BUILDINGS": "Buildings, residential and commercial",
            "GHG_TRANSPORT": "Transport",
            "GREEN_AREA": "Green area in FUAs' urban centres",
            "PM25_POP_EXP": "Population exposure to PM2.5",
            "NO2_POP_EXP": "Nitrogen dioxide (NO2) population exposure",  # DEMO code (see the docstring)
            "POP_WITH_ACCESS": "Population with access to at least one service point",
        },
    ),
    "UNIT_MEASURE": (
        "Unit of measure",
        {
            "T_CO2E": "Tonnes of CO2 equivalent",
            "T_CO2E_PS": "Tonnes of CO2 equivalent per person",
            "M2_PS": "Square metres per person",
            "PT_LAR": "Percentage of land area",
            "MCG_M3": "Microgrammes per cubic metre",
            "PT_POP": "Percentage of population",
        },
    ),
    "POLLUTANT_CONCENTRATION": ("Pollutant concentration level", {"_Z": "Not applicable"}),
    "TIME_SEASON": ("Time of the day and season", {"_Z": "Not applicable"}),
    "TERRITORIAL_LEVEL": ("Territorial level", {"CITY": "City", "FUA": "Functional urban area"}),
    "DESIGNATION": ("IUCN management categories", {"_Z": "Not applicable"}),
    "TRAN_MODE": ("Mode of transport", {"WALK": "Walking"}),
    "TRAVEL_TIME": (
        "Travel time",
        {"MN_LE5": "Within 5 minutes", "MN_LE10": "Within 10 minutes", "MN_LE15": "Within 15 minutes"},
    ),
    "SERVICE": ("Service", {"PT_STOP": "Public transport stop"}),
}
ENV_DIMENSIONS = (
    "REF_AREA",
    "FREQ",
    "MEASURE",
    "UNIT_MEASURE",
    "POLLUTANT_CONCENTRATION",
    "TIME_SEASON",
    "TERRITORIAL_LEVEL",
    "DESIGNATION",
)
TRAN_DIMENSIONS = (
    "REF_AREA",
    "FREQ",
    "MEASURE",
    "UNIT_MEASURE",
    "TRAN_MODE",
    "TERRITORIAL_LEVEL",
    "TRAVEL_TIME",
    "SERVICE",
)
GHG_YEARS = (1990, 2000, 2005, *range(2010, 2023))
# one observation: (dimension codes other than REF_AREA/FREQ/TERRITORIAL_LEVEL, year, value, status)
Row = tuple[dict[str, str], int, float | None, str]


@dataclass(frozen=True)
class Flow:
    """One OECD flow of the demo: its DSD, version, name and the rows of one city."""

    dataset: str
    dsd: str
    flow: str
    version: str
    name: str
    dimensions: tuple[str, ...]
    rows: Callable[[str, City, random.Random], list[Row]]


def _between(pair: tuple[float, float], year: int) -> float:
    """Linear between 1990 and 2022."""
    share = (year - 1990) / (2022 - 1990)
    return pair[0] + (pair[1] - pair[0]) * share


def _ghg_rows(key: str, city: City, rng: random.Random) -> list[Row]:
    rows: list[Row] = []
    sectors = {"GHG_POWER": 0.28, "GHG_BUILDINGS": 0.22, "GHG_TRANSPORT": 0.31}
    for year in GHG_YEARS:
        per_resident = round(_between(city.per_resident, year) * (1 + rng.gauss(0, 0.03)), 3)
        population = _between(city.population, year)
        total = round(per_resident * population, -2)
        status = "P" if year == 2022 else ("E" if year == 1990 else "A")
        if key == "reykjavik" and year == 2022:  # a missing value
            rows.append(({"MEASURE": "GHG_TOTAL", "UNIT_MEASURE": "T_CO2E"}, year, None, "M"))
            rows.append(({"MEASURE": "GHG_TOTAL", "UNIT_MEASURE": "T_CO2E_PS"}, year, None, "M"))
            continue
        rows.append(({"MEASURE": "GHG_TOTAL", "UNIT_MEASURE": "T_CO2E"}, year, total, status))
        rows.append(({"MEASURE": "GHG_TOTAL", "UNIT_MEASURE": "T_CO2E_PS"}, year, per_resident, status))
        for measure, share in sectors.items():
            rows.append(
                ({"MEASURE": measure, "UNIT_MEASURE": "T_CO2E"}, year, round(total * share, -2), status)
            )
    return rows


def _env_fixed(row: dict[str, str]) -> dict[str, str]:
    return {"POLLUTANT_CONCENTRATION": "_Z", "TIME_SEASON": "_Z", "DESIGNATION": "_Z", **row}


def _green_rows(key: str, city: City, rng: random.Random) -> list[Row]:
    rows: list[Row] = []
    for year, factor in ((2000, 1.08), (2010, 1.04), (2021, 1.0)):
        per_resident = round(city.green_m2 * factor * (1 + rng.gauss(0, 0.02)), 1)
        share = round(min(85.0, city.green_m2 / 8 + 10) * factor, 1)
        rows.append(({"MEASURE": "GREEN_AREA", "UNIT_MEASURE": "M2_PS"}, year, per_resident, "A"))
        rows.append(({"MEASURE": "GREEN_AREA", "UNIT_MEASURE": "PT_LAR"}, year, share, "A"))
    return rows


def _pollution_rows(key: str, city: City, rng: random.Random) -> list[Row]:
    rows: list[Row] = []
    for year in range(2010, 2023):
        value = round(city.pm25 * (1.35 - 0.35 * (year - 2010) / 12) * (1 + rng.gauss(0, 0.05)), 2)
        rows.append(({"MEASURE": "PM25_POP_EXP", "UNIT_MEASURE": "MCG_M3"}, year, value, "A"))
    for year in range(2010, 2023):  # after PM2.5, so PM2.5 draws the same numbers as before NO2 came
        value = round(city.no2 * (1.5 - 0.5 * (year - 2010) / 12) * (1 + rng.gauss(0, 0.05)), 2)
        rows.append(({"MEASURE": "NO2_POP_EXP", "UNIT_MEASURE": "MCG_M3"}, year, value, "A"))
    return rows


def _access_rows(key: str, city: City, rng: random.Random) -> list[Row]:
    base = 78.0 + 12.0 * rng.random()
    rows: list[Row] = []
    for time, add in (("MN_LE5", 0.0), ("MN_LE10", 0.55), ("MN_LE15", 0.8)):
        value = round(base + (100 - base) * add, 1)
        codes = {"MEASURE": "POP_WITH_ACCESS", "UNIT_MEASURE": "PT_POP", "TRAN_MODE": "WALK"}
        rows.append(({**codes, "TRAVEL_TIME": time, "SERVICE": "PT_STOP"}, 2023, value, "A"))
    return rows


FLOWS: Mapping[str, Flow] = {
    "oecd_ghg": Flow(
        "oecd_ghg",
        "DSD_FUA_ENV",
        "DSD_FUA_ENV@DF_GHG",
        "1.5",
        "Greenhouse gas emissions",
        ENV_DIMENSIONS,
        _ghg_rows,
    ),
    "oecd_green_area": Flow(
        "oecd_green_area",
        "DSD_FUA_ENV",
        "DSD_FUA_ENV@DF_GREEN_AREA",
        "1.2",
        "Green area",
        ENV_DIMENSIONS,
        _green_rows,
    ),
    "oecd_air_pollution": Flow(
        "oecd_air_pollution",
        "DSD_FUA_ENV",
        "DSD_FUA_ENV@DF_POLLUTION",
        "1.5",
        "Air pollution",
        ENV_DIMENSIONS,
        _pollution_rows,
    ),
    "oecd_pt_access": Flow(
        "oecd_pt_access",
        "DSD_FUA_TRAN",
        "DSD_FUA_TRAN@DF_PT_ACCESS",
        "1.1",
        "Access to public transport",
        TRAN_DIMENSIONS,
        _access_rows,
    ),
}


def _name(text: str) -> str:
    return f'<common:Name xml:lang="en">{escape(text)}</common:Name>'


def _codelist(identifier: str, name: str, codes: Sequence[tuple[str, str]]) -> str:
    items = "".join(
        f"<structure:Code id={quoteattr(code)}>{_name(label)}</structure:Code>" for code, label in codes
    )
    return (
        f'<structure:Codelist id="{identifier}" agencyID="{AGENCY}" version="1.0" isFinal="false">'
        f"{_name(name)}{items}</structure:Codelist>"
    )


def _codelist_id(dimension: str) -> str:
    return "CL_REGIONAL" if dimension == AREA else f"CL_{dimension}"


def structure_xml(flow: Flow) -> bytes:
    """The answer to GET …/dataflow/OECD.CFE.EDS/{flow}/{version}?references=all (SDMX-ML 2.1)."""
    areas = [(city.code, city.name) for city in CITIES.values()] + list(OTHER_AREAS)
    codelists = [_codelist("CL_REGIONAL", "Regions, cities and functional urban areas", sorted(areas))]
    codelists += [
        _codelist(_codelist_id(d), LABELS[d][0], sorted(LABELS[d][1].items()))
        for d in flow.dimensions
        if d != AREA
    ]
    dimensions = "".join(
        f'<structure:Dimension id="{d}" position="{i}">'
        f'<structure:ConceptIdentity><Ref id="{d}" maintainableParentID="CS_FUA" '
        f'maintainableParentVersion="1.0" '
        f'agencyID="{AGENCY}" package="conceptscheme" class="Concept"/></structure:ConceptIdentity>'
        f'<structure:LocalRepresentation><structure:Enumeration><Ref id="{_codelist_id(d)}" version="1.0" '
        f'agencyID="{AGENCY}" package="codelist" class="Codelist"/></structure:Enumeration>'
        f"</structure:LocalRepresentation></structure:Dimension>"
        for i, d in enumerate(flow.dimensions, start=1)
    )
    time = (
        f'<structure:TimeDimension id="TIME_PERIOD" position="{len(flow.dimensions) + 1}">'
        '<structure:ConceptIdentity><Ref id="TIME_PERIOD" maintainableParentID="CS_FUA" '
        f'maintainableParentVersion="1.0" agencyID="{AGENCY}" package="conceptscheme" class="Concept"/>'
        "</structure:ConceptIdentity><structure:LocalRepresentation><structure:TextFormat "
        'textType="ObservationalTimePeriod"/></structure:LocalRepresentation></structure:TimeDimension>'
    )
    document = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<message:Structure xmlns:message="{NS_MESSAGE}" xmlns:structure="{NS_STRUCTURE}" '
        f'xmlns:common="{NS_COMMON}">'
        "<message:Header><message:ID>IDREF-DEMO</message:ID><message:Test>false</message:Test>"
        '<message:Prepared>2026-11-23T12:00:00Z</message:Prepared><message:Sender id="OECD"/>'
        "</message:Header><message:Structures>"
        f'<structure:Dataflows><structure:Dataflow id="{flow.flow}" agencyID="{AGENCY}" '
        f'version="{flow.version}" isFinal="false">{_name(flow.name)}<structure:Structure>'
        f'<Ref id="{flow.dsd}" version="{flow.version}" '
        f'agencyID="{AGENCY}" package="datastructure" class="DataStructure"/></structure:Structure>'
        "</structure:Dataflow></structure:Dataflows>"
        f"<structure:Codelists>{''.join(codelists)}</structure:Codelists>"
        f'<structure:DataStructures><structure:DataStructure id="{flow.dsd}" agencyID="{AGENCY}" '
        f'version="{flow.version}" isFinal="false">{_name(flow.name)}<structure:DataStructureComponents>'
        f'<structure:DimensionList id="DimensionDescriptor">{dimensions}{time}</structure:DimensionList>'
        "</structure:DataStructureComponents></structure:DataStructure></structure:DataStructures>"
        "</message:Structures></message:Structure>"
    )
    return document.encode("utf-8")


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.10g}"


def data_csv(flow: Flow, codes: Sequence[str]) -> bytes:
    """The answer to the data request for these city codes: CSV with labels, labels unquoted."""
    names = {city.code: city.name for city in CITIES.values()}
    keys = {city.code: key for key, city in CITIES.items()}
    header = ["STRUCTURE", "STRUCTURE_ID", "STRUCTURE_NAME", "ACTION"]
    for dimension in flow.dimensions:
        header += [dimension, "Reference area" if dimension == AREA else LABELS[dimension][0]]
    header += [
        "TIME_PERIOD",
        "Time period",
        "OBS_VALUE",
        "Observation value",
        "OBS_STATUS",
        "Observation status",
    ]
    header += ["UNIT_MULT", "Unit multiplier", "DECIMALS", "Decimals"]
    lines = [",".join(header)]
    structure_id = f"{AGENCY}:{flow.flow}({flow.version})"
    for code in sorted(codes):
        rng = random.Random(f"{SEED}-{flow.dataset}-{code}")
        for row, year, value, status in flow.rows(keys[code], CITIES[keys[code]], rng):
            codes_of = {"FREQ": "A", "TERRITORIAL_LEVEL": "CITY", **_env_fixed(row)}
            fields = ["dataflow", structure_id, flow.name, "I"]
            for dimension in flow.dimensions:
                if dimension == AREA:
                    fields += [code, names[code]]
                else:
                    fields += [codes_of[dimension], LABELS[dimension][1][codes_of[dimension]]]
            number = _number(value)
            decimals = "3" if row["UNIT_MEASURE"] == "T_CO2E_PS" else "1"
            fields += [str(year), str(year), number, number, status, STATUS[status], "0", MULT["0"]]
            fields += [decimals, decimals]
            lines.append(",".join(fields))  # unquoted, as the OECD writes labels
    return ("\n".join(lines) + "\n").encode("utf-8")


class _Answers:
    """A Fetcher answering the connector's requests with the demo bodies, recording each exchange."""

    def __init__(self, folder: Path, manifest: Manifest, flow: Flow) -> None:
        self.folder, self.manifest, self.flow = folder, manifest, flow

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
        check_answered_within(source, url, params, url, allowed_hosts)  # answered from url itself
        if "/dataflow/" in url:
            body, content_type, file = (
                structure_xml(self.flow),
                "application/vnd.sdmx.structure+xml; charset=utf-8",
                "structure.xml",
            )
        else:
            codes = url.rsplit("/", 1)[1].split(".")[0].split("+")
            body, content_type, file = (
                data_csv(self.flow, codes),
                "application/vnd.sdmx.data+csv; charset=utf-8",
                "data.csv",
            )
        request = RequestSpec("GET", url, tuple(params), None)
        headers = {"content-type": content_type, "content-length": str(len(body)), "date": HTTP_DATE}
        record_exchange(
            self.folder,
            self.manifest,
            source,
            request,
            200,
            headers,
            body,
            f"oecd/{self.flow.dataset}/{file}",
        )
        return Payload(request, 200, headers, body, datetime(2026, 11, 23, 12, tzinfo=UTC), url)

    def post_json(
        self,
        source: str,
        url: str,
        body: object,
        *,
        params: Params = (),
        secret_headers: Mapping[str, str] | None = None,
    ) -> Payload:
        raise NotImplementedError("the OECD connector only GETs")


def generate(folder: Path, manifest: Manifest) -> None:
    """Record the structure and data GETs the OECD connector makes for each oecd_* catalogue entry."""
    catalogue = load_catalogue()
    for dataset_id, flow in FLOWS.items():
        spec = catalogue.dataset(dataset_id)
        options = read_options(spec)
        assert (options.flow, options.version) == (flow.flow, flow.version), dataset_id
        OecdConnector().fetch(spec, _Answers(folder, manifest, flow))
