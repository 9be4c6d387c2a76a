"""Demo snapshot for the JRC GCoM MyCovenant releases: two folder listings and the newest release's workbooks.

The root listing (Apache autoindex HTML) holds two dated release folders, 2023_Fourth_release and
2024_release: the connector must take the 2024 one, so only its listing and workbooks are recorded. The
workbooks have the sheets and columns seen in public code (ingest/covenant.py): df1_Signatories_2024.xlsx
(sheet 1), df2_Action_Plans.xlsx (df2_METADATA, 2, 2A_1, 2D_1), df3_Monitoring.xlsx (df3_METADATA, 3,
3D_1), `-` and `null` as missing markers, country codes in lower case. DEMO values: Espoo's 1990 baseline
is 1 060 217 t (its CDP-reported 1990 base) and its 2016 monitoring inventory 1 367 949 t (SOURCES.md);
the other cities' figures are plausible, not theirs.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import xlsxwriter

from common.payload import RequestSpec
from ingest.catalogue import load_catalogue
from ingest.hsy import XLSX_MEDIA_TYPE
from ingest.manifest import Manifest
from ingest.replay import record_exchange

__all__ = [
    "INVENTORIES",
    "RELEASE",
    "TARGETS",
    "Inventory",
    "generate",
    "listing_html",
    "workbooks",
    "xlsx_book",
]

DATASET = "covenant_inventories"  # the targets dataset makes the same requests: recorded once
RESPONSE_DATE = "Mon, 23 Nov 2026 05:40:00 GMT"
RELEASE = "2024_release"
OLDER_RELEASE = "2023_Fourth_release"
FILES = ("df1_Signatories_2024.xlsx", "df2_Action_Plans.xlsx", "df3_Monitoring.xlsx")
SECTORS = (
    ("Municipal buildings, equipment/facilities", "Electricity", 0.04),
    ("Tertiary buildings, equipment/facilities", "Electricity", 0.10),
    ("Residential buildings", "Electricity", 0.08),
    ("Residential buildings", "Heat/cold", 0.30),
    ("Tertiary buildings, equipment/facilities", "Heat/cold", 0.14),
    ("Residential buildings", "Fossil fuels", 0.05),
    ("Transport", "Fossil fuels", 0.27),
    ("Transport", "Electricity", 0.02),
)

# organisation_id, name, country code and name, latitude, longitude, population at adhesion, adhesion date
SIGNATORIES: tuple[tuple[str, str, str, str, str, str, str, str], ...] = (
    ("1418", "Espoo", "fi", "Finland", "60.2055", "24.6559", "254000", "2010-02-09"),
    ("1403", "Helsinki", "fi", "Finland", "60.1699", "24.9384", "588549", "2009-02-10"),
    ("1417", "Vantaa", "fi", "Finland", "60.2934", "25.0378", "200055", "2010-02-09"),
    ("2461", "Tampere", "fi", "Finland", "61.4978", "23.7610", "213217", "2011-11-29"),
    ("7346", "Turku", "fi", "Finland", "null", "null", "-", "2017-06-12"),
    ("4521", "Lahti", "fi", "Finland", "60.9827", "25.6612", "119000", "2013-01-01"),
    ("7102", "Kauniainen", "fi", "Finland", "60.2100", "24.7300", "9600", "2016-05-01"),
    ("1020", "Stockholm", "se", "Sweden", "59.3293", "18.0686", "810120", "2008-12-03"),
    ("1093", "Malmö", "se", "Sweden", "55.6050", "13.0038", "293909", "2008-12-03"),
    ("1031", "Copenhagen", "dk", "Denmark", "55.6761", "12.5683", "509861", "2008-12-03"),
)


@dataclass(frozen=True)
class Inventory:
    """One demo inventory: whose, which sheet, its id there, year, population and total tonnes."""

    organisation: str
    kind: str  # "AP" (action plan, sheet 2D_1) or "MR" (monitoring report, sheet 3D_1)
    ident: str  # action_plan_id or monitoring_report_id
    year: int
    population: int | None
    total_t: int
    missing_row: bool = False  # one sector row's emission_measure is "-" (a carrier not reported)


INVENTORIES: tuple[Inventory, ...] = (
    Inventory("1418", "AP", "5112", 1990, 172629, 1_060_217),
    Inventory("1418", "MR", "9021", 2016, 274583, 1_367_949),
    Inventory("1418", "MR", "12877", 2020, 292796, 1_104_350, missing_row=True),
    Inventory("1403", "AP", "4410", 1990, 492400, 3_420_000),
    Inventory("1403", "MR", "10440", 2017, 643272, 2_705_000),
    Inventory("1417", "AP", "5118", 1990, 154933, 905_000),
    Inventory("1417", "MR", "8870", 2015, 214605, 1_052_000),
    Inventory("2461", "AP", "6011", 1990, 172560, 1_490_000),
    Inventory("2461", "MR", "11502", 2018, 232513, 1_248_000),
    Inventory("4521", "AP", "6640", 1990, 93000, 812_000),
    Inventory("7102", "AP", "8101", 1990, 7600, 41_000),  # not a peer: filtered out
    Inventory("1020", "AP", "3001", 1990, 674452, 3_610_000),
    Inventory("1020", "MR", "11990", 2019, 974073, 2_110_000),
    Inventory("1093", "AP", "3044", 1990, 233887, 1_310_000),
    Inventory("1031", "AP", "3120", 2005, 502362, 2_480_000),
    Inventory("1031", "MR", "11203", 2018, 623404, 1_402_000),
)
# action_plan_id -> organisation (sheet 2); monitoring reports belong to the organisation's plan (sheet 3)
PLANS = {inv.ident: inv.organisation for inv in INVENTORIES if inv.kind == "AP"}
PLAN_OF = {org: plan for plan, org in PLANS.items()}
PLAN_OF["7346"] = "7400"  # Turku: an action plan without inventories in this release
# action_plan_id -> {target: (fraction, base year, target year or None, reduction type)}
TARGETS: dict[str, dict[str, tuple[float, int, int | None, str]]] = {
    "5112": {"CoM2020": (0.2, 1990, None, "absolute"), "CoM2030": (0.8, 1990, None, "absolute")},
    "4410": {"CoM2030": (0.8, 1990, None, "absolute")},
    "5118": {"CoM2030": (0.55, 1990, None, "absolute")},
    "6011": {"Mid-term target": (0.8, 1990, 2030, "absolute")},
    "3001": {"Mid-term target": (0.6, 1990, 2030, "per_capita")},
    "3120": {"CoM2020": (0.2, 2005, None, "absolute"), "Long-term target": (1.0, 2005, 2025, "absolute")},
}
TARGET_NAMES = ("CoM2020", "CoM2030", "Mid-term target", "Long-term target")


def _split(total: int, shares: Sequence[float]) -> list[int]:
    """Whole tonnes in proportion to shares, adding up to total exactly (residual on the largest)."""
    parts = [round(total * share / sum(shares)) for share in shares]
    largest = max(range(len(shares)), key=lambda i: shares[i])
    parts[largest] += total - sum(parts)
    return parts


def inventory_rows(inventory: Inventory) -> list[tuple[str, str, str, str]]:
    """(sector, carrier, energy MWh, emissions t) rows of an inventory; "-" where not reported."""
    shares = [share for _, _, share in SECTORS]
    if inventory.missing_row:
        shares[-1] = 0.0
    tonnes = _split(inventory.total_t, shares)
    rows = []
    for (sector, carrier, _), t in zip(SECTORS, tonnes, strict=True):
        if inventory.missing_row and t == 0:
            rows.append((sector, carrier, "-", "-"))
        else:
            rows.append((sector, carrier, str(round(t / 0.21)), str(t)))
    return rows


def _sheet(
    workbook: xlsxwriter.Workbook, name: str, header: Sequence[str], rows: Sequence[Sequence[str]]
) -> None:
    """A sheet: the header in the first row, then the rows; cells that read as numbers are numbers."""
    sheet = workbook.add_worksheet(name)
    for column, title in enumerate(header):
        sheet.write_string(0, column, title)
    for line, row in enumerate(rows, start=1):
        for column, cell in enumerate(row):
            try:
                sheet.write_number(line, column, float(cell))
            except ValueError:
                sheet.write_string(line, column, cell)


def xlsx_book(sheets: Sequence[tuple[str, Sequence[str], Sequence[Sequence[str]]]]) -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    workbook.set_properties({"author": "JRC", "created": datetime(2024, 11, 18, 10, 0, 0)})
    for name, header, rows in sheets:
        _sheet(workbook, name, header, rows)
    workbook.close()
    return buffer.getvalue()


def _metadata(prefix: str) -> tuple[str, Sequence[str], Sequence[Sequence[str]]]:
    return (
        f"{prefix}_METADATA",
        ("sheet", "description"),
        [
            ("-", "DEMO: example data in the shape of the GCoM MyCovenant release; not the JRC's data."),
            ("-", "Missing values are written - or null."),
        ],
    )


def workbooks() -> dict[str, bytes]:
    """File name -> XLSX bytes of the demo release."""
    signatories = xlsx_book(
        [
            (
                "1",
                (
                    "organisation_id",
                    "organisation_name",
                    "country_code",
                    "country_name",
                    "organisation_latitude",
                    "organisation_longitude",
                    "population_adhesion",
                    "signatory_status",
                    "adhesion_type",
                    "date_of_adhesion",
                    "group_profile",
                ),
                [
                    (org, name, cc, country, lat, lon, pop, "Active", "Covenant of Mayors", date, "-")
                    for org, name, cc, country, lat, lon, pop, date in SIGNATORIES
                ],
            )
        ]
    )
    plans = [
        (plan, org, "-", f"{2010 + i % 9}-0{1 + i % 9}-15")
        for i, (plan, org) in enumerate(sorted((p, o) for o, p in PLAN_OF.items()))
    ]
    target_header = ["action_plan_id"]
    for name in TARGET_NAMES:
        target_header += [f"co2_target_{name}", f"base_year_{name}"]
        if not name.startswith("CoM"):
            target_header.append(f"target_year_{name}")
        target_header += [f"reduction_type_{name}", f"population_estimate_in_target_year_{name}"]
    target_rows = []
    for plan, targets in sorted(TARGETS.items()):
        row = [plan]
        for name in TARGET_NAMES:
            value = targets.get(name)
            row += [str(value[0]), str(value[1])] if value else ["-", "-"]
            if not name.startswith("CoM"):
                row.append(str(value[2]) if value and value[2] else "-")
            row += [value[3] if value else "-", "-"]
        target_rows.append(row)
    inventory_header = (
        "action_plan_id",
        "inventory_year",
        "population_in_the_inventory_year",
        "aggregated_sector",
        "aggregated_carrier",
        "energy_measure",
        "emission_measure",
    )
    action_plans = xlsx_book(
        [
            _metadata("df2"),
            ("2", ("action_plan_id", "organisation_id", "number_of_group_members", "approval_date"), plans),
            ("2A_1", target_header, target_rows),
            (
                "2D_1",
                inventory_header,
                [
                    (inv.ident, str(inv.year), str(inv.population), *row)
                    for inv in INVENTORIES
                    if inv.kind == "AP"
                    for row in inventory_rows(inv)
                ],
            ),
        ]
    )
    reports = [
        (inv.organisation, PLAN_OF[inv.organisation], inv.ident, "Full", "Submitted", f"{inv.year + 2}-03-31")
        for inv in INVENTORIES
        if inv.kind == "MR"
    ]
    monitoring = xlsx_book(
        [
            _metadata("df3"),
            (
                "3",
                (
                    "organisation_id",
                    "action_plan_id",
                    "monitoring_report_id",
                    "monitoring_report_type",
                    "monitoring_report_submission_status",
                    "monitoring_report_submission_date",
                ),
                reports,
            ),
            (
                "3D_1",
                ("monitoring_report_id", *inventory_header[1:]),
                [
                    (inv.ident, str(inv.year), str(inv.population), *row)
                    for inv in INVENTORIES
                    if inv.kind == "MR"
                    for row in inventory_rows(inv)
                ],
            ),
        ]
    )
    return dict(zip(FILES, (signatories, action_plans, monitoring), strict=True))


def listing_html(path: str, entries: Sequence[tuple[str, str, str]]) -> bytes:
    """An Apache autoindex page: relative hrefs, sort links, a parent link; entries (name, date, size)."""
    lines = [
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">',
        "<html>",
        " <head>",
        f"  <title>Index of {path}</title>",
        " </head>",
        " <body>",
        f"<h1>Index of {path}</h1>",
        "<pre>"
        '<a href="?C=N;O=D">Name</a>                    <a href="?C=M;O=A">Last modified</a>'
        '      <a href="?C=S;O=A">Size</a>  <a href="?C=D;O=A">Description</a><hr>'
        '<a href="/ftp/public/JRC-OpenData/">Parent Directory</a>                             -   ',
    ]
    for name, modified, size in entries:
        href = name.replace(" ", "%20")
        lines.append(f'<a href="{href}">{name}</a>{" " * max(1, 40 - len(name))}{modified}  {size:>5}  ')
    lines += ["<hr></pre>", "</body></html>", ""]
    return "\n".join(lines).encode("utf-8")


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


def generate(folder: Path, manifest: Manifest) -> None:
    """Record the listings and workbooks the gcom_xlsx connector asks for (both datasets share them)."""
    root_url = load_catalogue().dataset(DATASET).url
    root = listing_html(
        "/ftp/public/JRC-OpenData/GCOM-MyCovenant",
        [(f"{OLDER_RELEASE}/", "2023-03-28 14:02", "-"), (f"{RELEASE}/", "2024-11-18 10:12", "-")],
    )
    books = workbooks()
    release = listing_html(
        f"/ftp/public/JRC-OpenData/GCOM-MyCovenant/{RELEASE}",
        [(name, "2024-11-18 10:11", f"{len(body) // 1024}K") for name, body in books.items()]
        + [("GCoM_MyCovenant_data_description_2024.pdf", "2024-11-18 10:11", "812K")],
    )
    html = {"content-type": "text/html;charset=UTF-8", "date": RESPONSE_DATE}
    record_exchange(
        folder, manifest, DATASET, RequestSpec("GET", root_url), 200, html, root, f"{DATASET}/index.html"
    )
    release_url = f"{root_url}{RELEASE}/"
    record_exchange(
        folder,
        manifest,
        DATASET,
        RequestSpec("GET", release_url),
        200,
        html,
        release,
        f"{DATASET}/{RELEASE}.html",
    )
    for name, body in books.items():
        record_exchange(
            folder,
            manifest,
            DATASET,
            RequestSpec("GET", release_url + name),
            200,
            {
                "content-type": XLSX_MEDIA_TYPE,
                "content-length": str(len(body)),
                "etag": _etag(body),
                "last-modified": "Mon, 18 Nov 2024 10:11:00 GMT",
                "date": RESPONSE_DATE,
            },
            body,
            f"{DATASET}/{name}",
        )
