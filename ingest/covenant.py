"""JRC Global Covenant of Mayors (MyCovenant releases): the newest dated release folder's XLSX workbooks.

Protocol `gcom_xlsx`. What is known of the source, and how well (searched in public code, 2026-12; nothing
fetched live, so verify on the first run; `kestava probe` reports any difference by name):

- Release folders under `https://jeodpp.jrc.ec.europa.eu/ftp/public/JRC-OpenData/GCOM-MyCovenant/`, one
  per release, the year first: `2023_Fourth_release/df1_Signatories_4th%20Release%20-%20March%202023.xlsx`
  (two public R scripts download exactly this URL and cite the JRC data catalogue page
  data.jrc.ec.europa.eu/dataset/b425918f-53a1-495c-8619-cd370c302eb0). No "latest" link is known.
  THIN: what the folder listing looks like was not seen. The JRC's jeodpp `ftp/public` tree is served over
  HTTPS as a plain web-server directory listing; this reader takes every `<a href>` of the page (Apache
  and nginx autoindex both work: relative hrefs, a `../` parent link and Apache's `?C=N;O=D` sort links
  are skipped), so only "an HTML page whose links name the folder's children" is assumed.
- A 2024 release (a public Julia analysis): `df1_Signatories_2024.xlsx` sheet `1` (`organisation_id,
  organisation_name, country_code, country_name, organisation_latitude, organisation_longitude,
  population_adhesion, signatory_status, …`; `-` and `null` replaced by missing); `df2_Action_Plans.xlsx`
  sheets `df2_METADATA`, `2` (`organisation_id, action_plan_id, …, approval_date`), `2A_2`, …, `2D_1`
  (`action_plan_id, inventory_year, population_in_the_inventory_year, aggregated_sector,
  aggregated_carrier, energy_measure, emission_measure`: the action plan's inventory by sector and
  carrier); `df3_Monitoring.xlsx` sheets `3` (`organisation_id, action_plan_id, monitoring_report_id,
  monitoring_report_type, …`) and `3D_1` (`monitoring_report_id, inventory_year,
  population_in_the_inventory_year, aggregated_carrier, energy_measure, emission_measure`). `-` marks
  a missing cell throughout. Country codes are ISO alpha-2, compared case-insensitively (public code
  lower-cases them).
- Older extracts (a JRC validation script): inventories with `organisation_id, organisation_name,
  action_plan_id, bei_flag, emission_inventory_id, inventory_year, population_in_the_inventory_year,
  emission_measure, energy_measure`; JRC code sums `emission_measure` over sectors and carriers per
  inventory (na.rm) to get an inventory's total. Both optional columns are read when present:
  `emission_inventory_id` becomes the inventory id, `bei_flag` (true/false) says baseline or not.
- Targets (THIN): an older per-sheet file `df2A_1.xlsx`, read by JRC-related code with the columns
  `action_plan_id`, then per target `co2_target_<T>`, `base_year_<T>`, `reduction_type_<T>`
  (`per_capita` or absolute), `population_estimate_in_target_year_<T>` and, except for `CoM2030`/`CoM2020`
  (the year is in the name), `target_year_<T>`, for T = `CoM2030`, `Mid-term target`, …; the code computes
  `emissions * (1 - target)`, so a target is a fraction of 1 (0.4 = −40 %). The 2024 workbook has sheets
  `2A_2`…, so `2A_1` is taken to be this table inside `df2_Action_Plans`; a value above 1 (a percentage)
  fails by name.
- Units (THIN): emissions are tonnes, of CO2 or of CO2 equivalent as each city chose (SOURCES.md); no unit
  column was seen. A column `emission_reporting_unit` is read when present (`tCO2`/`tCO2e`, spelled loosely);
  anything else (MWh, kt …) fails by name. Without it the catalogue's `reported_unit` says what is known.

Catalogue options: `kind` ("inventories" or "targets"); `files` (role → regular expression on the file
name: signatories `^df1_`, action_plans `^df2_`, monitoring `^df3_`); `sheets` (role → sheet name);
`reported_unit` ("tCO2", "tCO2e" or "tCO2 or tCO2e", used without a unit column).

Fetch: GET the root listing, choose the newest release folder by the year in its name (then an ordinal word
or number, or a month name, e.g. `Fourth`, `4th`, `March`; two folders still equal fail by name), GET its
listing, then the workbooks the kind needs: [root, release, df1, df2(, df3)].

Output (every emitted row is a peer city of ingest/peers.toml, resolved by `organisation_name` within
`country_code`; `city_code` is the `organisation_id`):
- inventories: `measure` `emissions` (the inventory's total over its sector and carrier rows, unit
  `t CO2e`; a tCO2 inventory is stored in the same unit, `reported_unit` says which it was),
  `population` (persons, the population in the inventory year) and `emissions_per_resident`
  (t CO2e per resident, emissions / population: derived here so that the catalogue's plausibility
  range can check it); `inventory` `baseline` or `monitoring`; `inventory_id` (emission_inventory_id,
  else `AP<action_plan_id>` / `MR<monitoring_report_id>`); `reported_unit`; `preferred` ("true" for the
  one inventory per city and year the indicators select, "false" for the others, which stay stored: a
  city may have two, e.g. a SEAP's and a later SECAP's 1990 baseline; the newest document's is preferred,
  a monitoring report after an action plan, then the larger plan or report number). Period = inventory year.
  An inventory whose emission cells are all missing has a null value flagged `missing`. Without
  `bei_flag`, an action plan's earliest inventory year is its baseline and later years are monitoring.
- targets: `measure` `reduction_target` in % (the fraction × 100), `target` (CoM2030, Mid-term target,
  …), `target_year` (also the period), `base_year`, `reduction_type` as published, `action_plan_id`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from html.parser import HTMLParser
from typing import ClassVar, Literal
from urllib.parse import unquote, urljoin, urlsplit

import fastexcel
import polars as pl
import pydantic

from common.payload import Fetcher, Payload
from ingest.catalogue import DatasetSpec
from ingest.connector import Connector
from ingest.errors import ValidationError
from ingest.hsy import XLSX_MEDIA_TYPE
from ingest.http import check_not_html, looks_like_html
from ingest.peers import Candidate, resolve_codes
from ingest.xlsx import ZIP_MAGIC, check_xlsx

__all__ = [
    "MISSING_MARKERS",
    "CovenantConnector",
    "CovenantOptions",
    "listing_links",
    "newest_release",
    "read_options",
    "reported_unit",
]

MISSING_MARKERS = frozenset({"-", "null"})  # case-insensitive; a blank cell is missing too
FIRST_YEAR = 1990
STORED_UNIT = "t CO2e"
ORDINALS = {
    word: n
    for n, word in enumerate(
        ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"), 1
    )
}
MONTHS = {
    name: n
    for n, name in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ),
        1,
    )
}
# a unit as written in a unit column, compacted (lower case, no spaces, dots, dashes) -> reported_unit
UNIT_SPELLINGS: Mapping[str, str] = {
    "tco2": "tCO2",
    "tonnesco2": "tCO2",
    "tonco2": "tCO2",
    "tco2e": "tCO2e",
    "tco2eq": "tCO2e",
    "tonnesco2e": "tCO2e",
    "tonnesco2eq": "tCO2e",
    "tonnesco2equivalent": "tCO2e",
}
UNIT_COLUMN = "emission_reporting_unit"


class CovenantFiles(pydantic.BaseModel):
    """Regular expressions (case-insensitive) on the workbook file names of a release folder."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    signatories: str = r"^df1_.*\.xlsx$"
    action_plans: str = r"^df2_.*\.xlsx$"
    monitoring: str = r"^df3_.*\.xlsx$"


class CovenantSheets(pydantic.BaseModel):
    """The sheet names of the workbooks' tables."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    signatories: str = "1"
    action_plans: str = "2"
    targets: str = "2A_1"
    action_plan_inventories: str = "2D_1"
    monitoring_reports: str = "3"
    monitoring_inventories: str = "3D_1"


class CovenantOptions(pydantic.BaseModel):
    """The gcom_xlsx protocol's catalogue options (see the module docstring)."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    kind: Literal["inventories", "targets"]
    files: CovenantFiles = CovenantFiles()
    sheets: CovenantSheets = CovenantSheets()
    reported_unit: Literal["tCO2", "tCO2e", "tCO2 or tCO2e"] = "tCO2 or tCO2e"


def read_options(spec: DatasetSpec) -> CovenantOptions:
    """Validate the dataset's options; a typo or a wrong type is a ValidationError naming the option."""
    try:
        return CovenantOptions.model_validate(spec.options)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise ValidationError(spec.id, "catalogue options", "valid gcom_xlsx options", problems) from None


def _roles(options: CovenantOptions) -> tuple[str, ...]:
    """The workbooks a dataset needs, in fetch order."""
    if options.kind == "inventories":
        return ("signatories", "action_plans", "monitoring")
    return ("signatories", "action_plans")


class CovenantConnector(Connector):
    """Protocol `gcom_xlsx`: JRC GCoM MyCovenant release workbooks (see the module docstring)."""

    protocol: ClassVar[str] = "gcom_xlsx"
    reader_version: ClassVar[str] = "gcom-xlsx/1"

    def __init__(self, today: date | None = None) -> None:
        self._today = today

    @staticmethod
    def is_data_request(method: str, url: str) -> bool:
        """The release's workbooks hold the values; the folder listings only find them."""
        return url.lower().endswith(".xlsx")

    def fetch(self, spec: DatasetSpec, fetcher: Fetcher) -> list[Payload]:
        """GET the root listing, the newest release's listing, then its workbooks."""
        options = read_options(spec)
        root = fetcher.get(spec.id, spec.url, accept="text/html")
        _, release_url = newest_release(spec.id, root)
        release = fetcher.get(spec.id, release_url, accept="text/html")
        files = [(name, url) for name, url in listing_links(spec.id, release) if not url.endswith("/")]
        payloads = [root, release]
        for role in _roles(options):
            url = _pick_file(spec.id, files, role, getattr(options.files, role))
            payloads.append(fetcher.get(spec.id, url, accept=f"{XLSX_MEDIA_TYPE}, */*;q=0.5"))
        return payloads

    def parse(self, spec: DatasetSpec, payloads: Sequence[Payload]) -> pl.DataFrame:
        """The workbooks (after the two listings) as a normalised observation frame."""
        options = read_options(spec)
        roles = _roles(options)
        if len(payloads) != 2 + len(roles):
            raise ValidationError(
                spec.id,
                "payloads",
                f"the two folder listings and the workbooks {', '.join(roles)}",
                f"{len(payloads)} payloads",
            )
        books = {
            role: _Workbook.read(spec.id, payload) for role, payload in zip(roles, payloads[2:], strict=True)
        }
        sheets = options.sheets
        signatories = books["signatories"].table(
            sheets.signatories, ("organisation_id", "organisation_name", "country_code")
        )
        candidates = [
            Candidate(code=code, label=name or "", country=(country or "").upper() or None)
            for code, name, country in zip(
                _ids(signatories["organisation_id"]),
                signatories["organisation_name"],
                signatories["country_code"],
                strict=True,
            )
            if code
        ]
        resolved = resolve_codes(spec.id, "covenant", candidates)
        area_of = {code: area for area, code in resolved.items()}
        plans = books["action_plans"].table(sheets.action_plans, ("organisation_id", "action_plan_id"))
        plan_owner = _owners(plans, "action_plan_id", area_of)
        if options.kind == "targets":
            return _targets(spec.id, books["action_plans"], sheets.targets, plan_owner, area_of)
        reports = books["monitoring"].table(
            sheets.monitoring_reports, ("organisation_id", "monitoring_report_id")
        )
        report_owner = _owners(reports, "monitoring_report_id", area_of)
        current_year = (self._today or date.today()).year
        rows = [
            *_inventory_rows(
                spec.id,
                books["action_plans"],
                sheets.action_plan_inventories,
                "action_plan_id",
                "AP",
                plan_owner,
                current_year,
            ),
            *_inventory_rows(
                spec.id,
                books["monitoring"],
                sheets.monitoring_inventories,
                "monitoring_report_id",
                "MR",
                report_owner,
                current_year,
            ),
        ]
        return _inventory_frame(spec.id, rows, area_of, options.reported_unit)


# --------------------------------------------------------------------------------------------------
# Folder listings


class _Links(HTMLParser):
    """Collects the href of every <a> element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def listing_links(source: str, payload: Payload) -> list[tuple[str, str]]:
    """The children a directory listing links to: (name, absolute URL), folders ending in "/"."""
    if looks_like_html(payload.header("content-type"), payload.body) is None:
        raise ValidationError(
            source,
            f"listing {payload.request.url}",
            "an HTML directory listing",
            payload.body[:120].decode("utf-8", errors="replace"),
        )
    base = payload.final_url or payload.request.url
    if not base.endswith("/"):
        base += "/"
    children = _children(base, payload.body)
    if not children:
        raise ValidationError(
            source, f"listing {payload.request.url}", "links to the folder's entries", "no links"
        )
    return list(children)


@functools.lru_cache(maxsize=16)
def _children(base: str, body: bytes) -> tuple[tuple[str, str], ...]:
    """The (name, URL) entries of the listing body of folder base. Kept for the last few listings: a
    scheduler fetches the same two listings (the root, the newest release) at every firing, and parsing
    the HTML was most of a firing's fetch whose answer had not changed."""
    parser = _Links()
    parser.feed(body.decode("utf-8", errors="replace"))
    children: dict[str, str] = {}
    for href in parser.hrefs:
        url = urljoin(base, href)
        parts = urlsplit(url)
        if parts.query or parts.fragment or not url.startswith(base) or url == base:
            continue
        rest = url[len(base) :]
        if "/" in rest.rstrip("/"):
            continue  # a grandchild: not this folder's entry
        children.setdefault(unquote(rest).rstrip("/"), url)
    return tuple(children.items())


def _release_key(name: str) -> tuple[int, int] | None:
    """(year, then ordinal or month) of a release folder name; None without a year."""
    year = re.search(r"(?<!\d)(19|20)\d{2}(?!\d)", name)
    if year is None:
        return None
    words = re.findall(r"[a-z]+|\d+(?:st|nd|rd|th)", name.lower())
    sub = 0
    for word in words:
        number = re.match(r"^(\d+)(st|nd|rd|th)$", word)
        if number:
            sub = max(sub, int(number[1]))
        elif word in ORDINALS:
            sub = max(sub, ORDINALS[word])
        elif word in MONTHS:
            sub = max(sub, MONTHS[word])
    return int(year[0]), sub


def newest_release(source: str, payload: Payload) -> tuple[str, str]:
    """The release folder with the newest (year, ordinal/month) in its name: (name, URL)."""
    folders = [(name, url) for name, url in listing_links(source, payload) if url.endswith("/")]
    dated = [(key, name, url) for name, url in folders if (key := _release_key(name)) is not None]
    if not dated:
        raise ValidationError(
            source,
            f"release folders in {payload.request.url}",
            "folders named with a year (e.g. 2023_Fourth_release)",
            ", ".join(name for name, _ in folders) or "no folders",
        )
    dated.sort(key=lambda item: item[0], reverse=True)
    if len(dated) > 1 and dated[0][0] == dated[1][0]:
        raise ValidationError(
            source,
            f"release folders in {payload.request.url}",
            "one newest release (by the year, then an ordinal or month, in the folder name)",
            f"{dated[0][1]} and {dated[1][1]} are equally new",
        )
    return dated[0][1], dated[0][2]


def _pick_file(source: str, files: Sequence[tuple[str, str]], role: str, pattern: str) -> str:
    """The one file of the release whose name matches the role's pattern."""
    matcher = re.compile(pattern, re.IGNORECASE)
    found = [url for name, url in files if matcher.search(name)]
    if len(found) != 1:
        names = ", ".join(name for name, _ in files) or "no files"
        raise ValidationError(
            source,
            f"{role} workbook",
            f"one file of the release whose name matches {pattern!r} (catalogue options.files.{role})",
            f"{len(found)} among: {names}",
        )
    return found[0]


# --------------------------------------------------------------------------------------------------
# Workbooks


def _norm(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split()).lower()


@dataclass(frozen=True)
class _Workbook:
    """One downloaded workbook: its file name (for messages) and its calamine reader."""

    source: str
    name: str
    reader: fastexcel.ExcelReader

    @classmethod
    def read(cls, source: str, payload: Payload) -> _Workbook:
        name = unquote(urlsplit(payload.request.url).path.rsplit("/", 1)[-1])
        check_not_html(source, payload.headers, payload.body)
        if not payload.body.startswith(ZIP_MAGIC):
            raise ValidationError(
                source,
                f"body of {name}",
                "an XLSX file (a zip archive)",
                payload.body[:120].decode("utf-8", errors="replace"),
            )
        check_xlsx(source, payload.body, name)
        try:
            reader = fastexcel.read_excel(payload.body)
        except Exception as exc:  # calamine raises its own error types for corrupt files
            raise ValidationError(
                source, f"workbook {name}", "a readable workbook", f"{type(exc).__name__}: {exc}"
            ) from None
        return cls(source, name, reader)

    def rows(self, sheet: str) -> pl.DataFrame:
        """The sheet's non-blank rows as text, the header first; a missing sheet raises, naming it."""
        names = [str(n) for n in self.reader.sheet_names]
        if sheet not in names:
            raise ValidationError(
                self.source, f"sheet {sheet!r} of {self.name}", f"a sheet named {sheet!r}", ", ".join(names)
            )
        raw = self.reader.load_sheet(
            sheet, header_row=None, dtypes="string", whitespace_as_null=True
        ).to_polars()
        raw = raw.filter(~pl.all_horizontal(pl.all().is_null()))
        if raw.is_empty():
            raise ValidationError(
                self.source, f"sheet {sheet!r} of {self.name}", "a header row", "an empty sheet"
            )
        return raw

    def table(
        self,
        sheet: str,
        required: Sequence[str],
        optional: Sequence[str] = (),
        raw: pl.DataFrame | None = None,
    ) -> pl.DataFrame:
        """The sheet's columns `required` (each must be there) and `optional` (when there), as text;
        the header is the sheet's first non-blank row, matched case-insensitively."""
        if raw is None:
            raw = self.rows(sheet)
        columns: dict[str, str] = {}
        for column, header in zip(raw.columns, raw.row(0), strict=True):
            key = _norm(header)
            if key and key not in columns:
                columns[key] = column
        missing = [name for name in required if name not in columns]
        if missing:
            raise ValidationError(
                self.source,
                f"column {missing[0]!r} in sheet {sheet!r} of {self.name}",
                f"the columns {', '.join(required)}",
                "columns " + ", ".join(str(h) for h in raw.row(0) if h is not None),
            )
        wanted = [*required, *(name for name in optional if name in columns)]
        return raw.slice(1).select([pl.col(columns[name]).str.strip_chars().alias(name) for name in wanted])


def _missing(values: pl.Series) -> pl.Series:
    """True where a cell is blank or holds a missing-value marker (`-`, `null`)."""
    return values.is_null() | values.str.to_lowercase().is_in(list(MISSING_MARKERS))


def _numbers(source: str, frame: pl.DataFrame, column: str, where: str) -> pl.Series:
    """A text column as numbers: missing markers become null; any other text raises, naming the row."""
    values = frame[column]
    missing = _missing(values)
    numbers = values.cast(pl.Float64, strict=False)
    bad = ~missing & numbers.is_null()
    if bad.any():
        row = int(bad.arg_true()[0])
        raise ValidationError(
            source,
            f"column {column!r} of {where}, row {row + 2}",
            "a number, or - / null for a missing value",
            repr(values[row]),
        )
    return numbers  # "-" and "null" do not cast: already null


def _ids(values: pl.Series) -> list[str]:
    """Identifiers as text: "123.0" (a number cell) is "123"; missing cells are ""."""
    out = []
    for value in values.to_list():
        text = (value or "").strip()
        if text.lower() in MISSING_MARKERS:
            text = ""
        out.append(re.sub(r"^(\d+)\.0+$", r"\1", text))
    return out


def _owners(table: pl.DataFrame, key: str, area_of: Mapping[str, str]) -> dict[str, str]:
    """id (action plan or monitoring report) -> organisation_id, for the peers' organisations only."""
    return {
        ident: org
        for ident, org in zip(_ids(table[key]), _ids(table["organisation_id"]), strict=True)
        if ident and org in area_of
    }


# --------------------------------------------------------------------------------------------------
# Inventories


@dataclass(frozen=True)
class _Inventory:
    """One inventory's total: whose, which, its year, emissions, population and the unit written."""

    organisation: str
    inventory: str
    inventory_id: str
    year: int
    emissions: float | None
    population: float | None
    reported_unit: str | None
    document: str = ""  # the action plan (AP<id>) or monitoring report (MR<id>) the inventory is part of


def _years(source: str, frame: pl.DataFrame, where: str, current_year: int) -> list[int]:
    years = _numbers(source, frame, "inventory_year", where)
    bad = years.is_null() | (years != years.floor()) | (years < FIRST_YEAR) | (years > current_year)
    if bad.any():
        row = int(bad.arg_true()[0])
        raise ValidationError(
            source,
            f"column 'inventory_year' of {where}, row {row + 2}",
            f"a year from {FIRST_YEAR} to {current_year}",
            repr(frame["inventory_year"][row]),
        )
    return [int(y) for y in years.to_list()]


def reported_unit(source: str, written: str | None, where: str) -> str | None:
    """`tCO2` or `tCO2e` for a unit cell (None for a missing one); any other unit raises."""
    if written is None or written.strip().lower() in MISSING_MARKERS:
        return None
    compact = re.sub(r"[\s.\-_()₂]", "", written.replace("₂", "2")).lower()
    unit = UNIT_SPELLINGS.get(compact)
    if unit is None:
        raise ValidationError(source, f"column {UNIT_COLUMN!r} of {where}", "tCO2 or tCO2e", repr(written))
    return unit


def _bei(source: str, value: str | None, where: str) -> bool:
    text = (value or "").strip().lower()
    if text in ("true", "1", "1.0", "yes"):
        return True
    if text in ("false", "0", "0.0", "no"):
        return False
    raise ValidationError(source, f"column 'bei_flag' of {where}", "true or false", repr(value))


def _inventory_rows(
    source: str,
    book: _Workbook,
    sheet: str,
    key: str,
    prefix: str,
    owner: Mapping[str, str],
    current_year: int,
) -> list[_Inventory]:
    """The inventories of one sheet (action plans' or monitoring reports'), summed over their rows."""
    where = f"sheet {sheet!r} of {book.name}"
    table = book.table(
        sheet,
        (key, "inventory_year", "population_in_the_inventory_year", "emission_measure"),
        ("emission_inventory_id", "bei_flag", UNIT_COLUMN),
    )
    table = table.with_columns(pl.Series(key, _ids(table[key]))).with_row_index("row")
    table = table.filter(pl.col(key).is_in(list(owner)))
    if table.is_empty():
        return []
    years = _years(source, table, where, current_year)
    emissions = _numbers(source, table, "emission_measure", where).to_list()
    population = _numbers(source, table, "population_in_the_inventory_year", where).to_list()
    ids = _ids(table["emission_inventory_id"]) if "emission_inventory_id" in table.columns else None
    flags = table["bei_flag"].to_list() if "bei_flag" in table.columns else None
    units = table[UNIT_COLUMN].to_list() if UNIT_COLUMN in table.columns else None
    first_year: dict[str, int] = {}
    for ident, year in zip(table[key].to_list(), years, strict=True):
        first_year[ident] = min(year, first_year.get(ident, year))

    groups: dict[tuple[str, str, str, int], list[int]] = {}
    document_of: dict[tuple[str, str, str, int], str] = {}
    for i, ident in enumerate(table[key].to_list()):
        if flags is not None and prefix == "AP":
            baseline = _bei(source, flags[i], where)
        else:
            baseline = prefix == "AP" and years[i] == first_year[ident]
        inventory_id = (ids[i] if ids is not None else "") or f"{prefix}{ident}"
        kind = "baseline" if baseline else "monitoring"
        groups.setdefault((owner[ident], kind, inventory_id, years[i]), []).append(i)
        document_of[(owner[ident], kind, inventory_id, years[i])] = f"{prefix}{ident}"

    out = []
    for (organisation, kind, inventory_id, year), members in groups.items():
        label = f"inventory {inventory_id} ({year}) in {where}"
        people = {population[i] for i in members if population[i] is not None}
        if len(people) > 1:
            raise ValidationError(
                source, f"population_in_the_inventory_year of {label}", "one population", str(sorted(people))
            )
        written = {
            unit
            for i in members
            if units is not None and (unit := reported_unit(source, units[i], label)) is not None
        }
        if len(written) > 1:
            raise ValidationError(source, f"{UNIT_COLUMN} of {label}", "one unit", str(sorted(written)))
        values = [emissions[i] for i in members if emissions[i] is not None]
        out.append(
            _Inventory(
                organisation,
                kind,
                inventory_id,
                year,
                sum(values) if values else None,
                people.pop() if people else None,
                written.pop() if written else None,
                document_of[(organisation, kind, inventory_id, year)],
            )
        )
    return out


def _inventory_frame(
    source: str, rows: Sequence[_Inventory], area_of: Mapping[str, str], default_unit: str
) -> pl.DataFrame:
    if not rows:
        raise ValidationError(source, "inventories", "at least one inventory of a peer city", "none")
    preferred = _preferred(rows)
    records = []
    for row in rows:
        unit_written = row.reported_unit or default_unit
        per_resident = (
            row.emissions / row.population
            if row.emissions is not None and row.population not in (None, 0)
            else None
        )
        base = {
            "area": area_of[row.organisation],
            "period": str(row.year),
            "city_code": row.organisation,
            "inventory": row.inventory,
            "inventory_id": row.inventory_id,
            "preferred": "true" if preferred[(row.organisation, row.year)] is row else "false",
        }
        for measure, value, unit, written in (
            ("emissions", row.emissions, STORED_UNIT, unit_written),
            ("population", row.population, "persons", "persons"),
            ("emissions_per_resident", per_resident, "t CO2e per resident", f"{unit_written} per resident"),
        ):
            records.append(
                {
                    **base,
                    "value": value,
                    "flag": "missing" if value is None else None,
                    "unit": unit,
                    "measure": measure,
                    "reported_unit": written,
                }
            )
    frame = pl.DataFrame(
        records,
        schema={
            "area": pl.String,
            "period": pl.String,
            "city_code": pl.String,
            "inventory": pl.String,
            "inventory_id": pl.String,
            "preferred": pl.String,
            "value": pl.Float64,
            "flag": pl.String,
            "unit": pl.String,
            "measure": pl.String,
            "reported_unit": pl.String,
        },
    )
    key = ["area", "city_code", "inventory", "inventory_id", "measure", "period"]
    duplicated = frame.select(key).is_duplicated()
    if duplicated.any():
        first = frame.filter(duplicated).row(0, named=True)
        raise ValidationError(
            source, "inventories", "one total per inventory and year", " / ".join(str(first[k]) for k in key)
        )
    return frame.select(
        "area",
        "period",
        "value",
        "flag",
        "unit",
        "city_code",
        "measure",
        "inventory",
        "inventory_id",
        "preferred",
        "reported_unit",
    ).sort(["area", "measure", "inventory", "period", "inventory_id"])


def _document_order(row: _Inventory) -> tuple[int, int, str]:
    """How new an inventory's document is: a monitoring report (it reports on a plan already submitted)
    after an action plan, then by the document's number (MyCovenant numbers plans and reports as they are
    submitted; THIN: inferred from the ids seen, no submission date is read), then by the inventory id."""
    number = row.document[2:]
    return (row.document.startswith("MR"), int(number) if number.isdigit() else -1, row.inventory_id)


def _preferred(rows: Sequence[_Inventory]) -> dict[tuple[str, int], _Inventory]:
    """The one inventory per (organisation, year) the indicators use: the newest document's
    (_document_order), e.g. a SECAP's 1990 baseline over the earlier SEAP's. The others stay stored
    (column preferred = "false"), so which one was chosen is recorded with every observation."""
    chosen: dict[tuple[str, int], _Inventory] = {}
    for row in rows:
        key = (row.organisation, row.year)
        if key not in chosen or _document_order(row) > _document_order(chosen[key]):
            chosen[key] = row
    return chosen


# --------------------------------------------------------------------------------------------------
# Targets


def _targets(
    source: str, book: _Workbook, sheet: str, plan_owner: Mapping[str, str], area_of: Mapping[str, str]
) -> pl.DataFrame:
    where = f"sheet {sheet!r} of {book.name}"
    raw = book.rows(sheet)
    prefix = "co2_target_"
    # target key (the normalised header's tail) -> its name as the header writes it ("Mid-term target")
    labels = {
        _norm(cell)[len(prefix) :]: " ".join(cell.split())[len(prefix) :]
        for cell in raw.row(0)
        if cell is not None and _norm(cell).startswith(prefix)
    }
    if not labels:
        raise ValidationError(
            source,
            f"columns of {where}",
            "co2_target_<target> columns (e.g. co2_target_CoM2030)",
            ", ".join(str(cell) for cell in raw.row(0) if cell is not None),
        )
    required = ["action_plan_id"]
    for target in labels:
        required += [f"co2_target_{target}", f"base_year_{target}", f"reduction_type_{target}"]
        if re.fullmatch(r"com(\d{4})", target) is None:
            required.append(f"target_year_{target}")
    table = book.table(sheet, required, raw=raw)
    table = table.with_columns(pl.Series("action_plan_id", _ids(table["action_plan_id"])))
    table = table.filter(pl.col("action_plan_id").is_in(list(plan_owner)))
    records = []
    for target, label in labels.items():
        year_in_name = re.fullmatch(r"com(\d{4})", target)
        values = _numbers(source, table, f"co2_target_{target}", where)
        bases = _numbers(source, table, f"base_year_{target}", where)
        years = (
            _numbers(source, table, f"target_year_{target}", where)
            if year_in_name is None
            else pl.Series([float(year_in_name[1])] * table.height)
        )
        for i, plan in enumerate(table["action_plan_id"].to_list()):
            value = values[i]
            if value is None:
                continue  # no target of this kind: not a missing value
            if not 0 <= value <= 1:
                raise ValidationError(
                    source,
                    f"column 'co2_target_{label}' of {where}, action plan {plan}",
                    "a fraction of 1 (0.4 = a 40 % reduction)",
                    repr(table[f"co2_target_{target}"][i]),
                )
            for column, number in (("base_year", bases[i]), ("target_year", years[i])):
                if number is None or number != int(number) or not FIRST_YEAR - 20 <= number <= 2100:
                    raise ValidationError(
                        source,
                        f"column '{column}_{label}' of {where}, action plan {plan}",
                        "a year",
                        repr(number),
                    )
            reduction = table[f"reduction_type_{target}"][i]
            organisation = plan_owner[plan]
            records.append(
                {
                    "area": area_of[organisation],
                    "period": str(int(years[i])),
                    "value": round(value * 100, 6),
                    "flag": None,
                    "unit": "%",
                    "city_code": organisation,
                    "measure": "reduction_target",
                    "target": label,
                    "target_year": str(int(years[i])),
                    "base_year": str(int(bases[i])),
                    "reduction_type": ""
                    if reduction is None or reduction.lower() in MISSING_MARKERS
                    else reduction,
                    "action_plan_id": plan,
                }
            )
    if not records:
        raise ValidationError(source, where, "at least one target of a peer city", "none")
    return pl.DataFrame(records, schema_overrides={"value": pl.Float64, "flag": pl.String}).sort(
        ["area", "target", "period", "action_plan_id"]
    )
