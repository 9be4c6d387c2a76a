"""HSY Helsinki-region greenhouse gas emissions: CKAN package_show discovery, then the XLSX long table."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, ClassVar

import fastexcel
import polars as pl

from ingest import jsondecode
from ingest.catalogue import DatasetSpec
from ingest.errors import ValidationError
from ingest.http import check_not_html
from ingest.payload import Fetcher, Payload

__all__ = [
    "CITY_CODES",
    "REGION_TOTAL_NAMES",
    "XLSX_MEDIA_TYPE",
    "HsyConnector",
    "ckan_resources",
    "pick_resource",
]

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_ZIP_MAGIC = b"PK\x03\x04"

# Kaupunki (city) as written in the file -> Statistics Finland municipality number.
CITY_CODES: Mapping[str, str] = {
    "helsinki": "091",
    "helsingfors": "091",
    "espoo": "049",
    "esbo": "049",
    "vantaa": "092",
    "vanda": "092",
    "kauniainen": "235",
    "grankulla": "235",
}
# The region total rows: dropped, because the region total is derived by summing the four cities.
REGION_TOTAL_NAMES = frozenset({"pks", "pääkaupunkiseutu", "pääkaupunkiseutu yhteensä"})

SECTOR_COLUMNS = ("sektori1", "sektori2", "sektori3", "sektori4")
EXPECTED_COLUMNS = "Kaupunki, Vuosi, Sektori1…Sektori4, Energiankulutus (GWh), Päästöt (t CO2e)"
FIRST_YEAR = 1990
_HEADER_SEARCH_ROWS = 30

# Unit written in the column header (in parentheses, compacted by _unit_of) -> factor to the stored unit.
_EMISSION_UNITS_TO_KT: Mapping[str, float] = {
    "": 0.001,  # no unit in the header: SOURCES.md documents tonnes
    "t": 0.001,
    "tco2e": 0.001,
    "tonnia": 0.001,
    "kt": 1.0,
    "ktco2e": 1.0,
    "1000t": 1.0,
    "1000tco2e": 1.0,
}
_ENERGY_UNITS_TO_GWH: Mapping[str, float] = {"": 1.0, "gwh": 1.0, "mwh": 0.001}


class HsyConnector:
    """Protocol `ckan_xlsx`: the HSY emissions table published on the Helsinki Region Infoshare CKAN.

    Options (catalogue `options`):
    - `package_id` (required): the CKAN package name.
    - `resource_pattern` (optional): a case-insensitive regular expression the resource's name or URL
      must match; without it every XLSX resource of the package is a candidate. The newest candidate
      (by `last_modified`, else `created`) is downloaded.
    - `sheet` (optional): the sheet name; without it the first sheet with a `Kaupunki`/`Vuosi` header
      row (searched in its first 30 rows) is read.

    Output dimensions: `measure` ("emissions" in kt CO2e from `Päästöt`, converted from tonnes;
    "energy" in GWh from `Energiankulutus`) and `sector1`…`sector4` ("" where blank). Areas are the
    municipality numbers of the four cities; the `PKS` region total rows are dropped. Negative values
    are kept and flagged "neg". Rows whose only non-blank cell is `Kaupunki` (notes) are ignored.
    """

    protocol: ClassVar[str] = "ckan_xlsx"
    reader_version: ClassVar[str] = "hsy-xlsx/1"

    def __init__(self, today: Callable[[], date] = date.today) -> None:
        self._today = today

    def fetch(self, spec: DatasetSpec, fetcher: Fetcher) -> list[Payload]:
        """GET package_show, pick the newest emissions XLSX resource, GET it: [envelope, xlsx]."""
        package_id = spec.options.get("package_id")
        if not isinstance(package_id, str) or not package_id:
            raise ValueError(f"catalogue: dataset {spec.id!r}: options.package_id must name the CKAN package")
        envelope = fetcher.get(spec.id, spec.url, params=[("id", package_id)], accept="application/json")
        resources = ckan_resources(spec.id, envelope)
        resource = pick_resource(spec.id, resources, spec.options.get("resource_pattern"))
        xlsx = fetcher.get(spec.id, str(resource["url"]), accept=f"{XLSX_MEDIA_TYPE}, */*;q=0.5")
        return [envelope, xlsx]

    def parse(self, spec: DatasetSpec, payloads: Sequence[Payload]) -> pl.DataFrame:
        """The XLSX (the last payload) as a normalised observation frame."""
        if not payloads:
            raise ValidationError(spec.id, "payloads", "the package_show envelope and the XLSX file", "none")
        payload = payloads[-1]
        check_not_html(spec.id, payload.headers, payload.body)
        if not payload.body.startswith(_ZIP_MAGIC):
            raise ValidationError(
                spec.id,
                f"body of {payload.request.url}",
                "an XLSX file (a zip archive)",
                _excerpt(payload.body),
            )
        table = _read_table(spec.id, payload.body, spec.options.get("sheet"))
        return _normalise(spec.id, table, self._today().year)


# --------------------------------------------------------------------------------------------------
# CKAN envelope


def ckan_resources(source: str, payload: Payload) -> list[dict[str, Any]]:
    """The `result.resources` list of a CKAN package_show answer, after checking the envelope."""
    check_not_html(source, payload.headers, payload.body)
    try:
        document = jsondecode.loads(payload.body, source, "package_show body")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValidationError(
            source, "package_show body", "a CKAN JSON envelope", _excerpt(payload.body)
        ) from None
    if not isinstance(document, dict):
        raise ValidationError(source, "package_show body", "a JSON object", type(document).__name__)
    if document.get("success") is not True:
        error = document.get("error")
        got = json.dumps(error, ensure_ascii=False) if error is not None else repr(document.get("success"))
        raise ValidationError(source, "package_show success", "true", got)
    result = document.get("result")
    if not isinstance(result, dict):
        raise ValidationError(source, "package_show result", "an object", type(result).__name__)
    resources = result.get("resources")
    if not isinstance(resources, list):
        raise ValidationError(source, "package_show result.resources", "a list", type(resources).__name__)
    return [resource for resource in resources if isinstance(resource, dict)]


def pick_resource(
    source: str, resources: Sequence[Mapping[str, Any]], pattern: str | None
) -> Mapping[str, Any]:
    """The newest XLSX resource (matching `pattern`, if given), by last_modified, then created."""
    matcher = re.compile(pattern, re.IGNORECASE) if pattern else None
    candidates: list[tuple[datetime, int, Mapping[str, Any]]] = []
    for position, resource in enumerate(resources):
        url = resource.get("url")
        fmt = str(resource.get("format") or "").strip().lstrip(".").upper()
        if not isinstance(url, str) or not url:
            continue
        if fmt != "XLSX" and not (fmt == "" and url.lower().split("?", 1)[0].endswith(".xlsx")):
            continue
        if matcher is not None and not matcher.search(f"{resource.get('name') or ''} {url}"):
            continue
        stamp = _timestamp(resource.get("last_modified")) or _timestamp(resource.get("created"))
        candidates.append((stamp or datetime.min, position, resource))
    if not candidates:
        found = ", ".join(f"{r.get('name')!r} ({r.get('format')})" for r in resources) or "no resources"
        wanted = "an XLSX resource" + (f" whose name or URL matches {pattern!r}" if pattern else "")
        raise ValidationError(source, "package_show result.resources", wanted, found)
    _, _, newest = max(candidates, key=lambda item: (item[0], item[1]))
    url = str(newest["url"])
    if not url.startswith(("http://", "https://")):
        raise ValidationError(source, "resource url", "an absolute http(s) URL", url)
    return newest


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        stamp = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp.replace(tzinfo=None)


# --------------------------------------------------------------------------------------------------
# The XLSX table


def _norm(text: str | None) -> str:
    """Header / label normalisation: NFC, lower case, single spaces."""
    if text is None:
        return ""
    return " ".join(unicodedata.normalize("NFC", text).split()).lower()


def _unit_of(header: str) -> str:
    """The unit in parentheses, compacted: "(t CO2-ekv.)" -> "tco2e", "(GWh)" -> "gwh"."""
    match = re.search(r"\(([^)]*)\)", header)
    if not match:
        return ""
    unit = _norm(match.group(1)).replace("₂", "2")
    for noise in (" ", ".", "-", "_"):
        unit = unit.replace(noise, "")
    return unit.replace("co2ekv", "co2e")


class _Table:
    """The raw table as strings: column name (normalised) -> original header, and the data rows."""

    def __init__(self, frame: pl.DataFrame, headers: Mapping[str, str], sheet: str) -> None:
        self.frame = frame
        self.headers = headers
        self.sheet = sheet


def _read_table(source: str, body: bytes, sheet: object) -> _Table:
    try:
        reader = fastexcel.read_excel(body)
        names: list[str] = list(reader.sheet_names)
    except Exception as exc:  # calamine raises its own error types for corrupt files
        raise ValidationError(
            source, "XLSX file", "a readable workbook", f"{type(exc).__name__}: {exc}"
        ) from None
    if sheet is not None:
        if sheet not in names:
            raise ValidationError(source, "sheet", f"a sheet named {sheet!r}", ", ".join(names))
        names = [str(sheet)]
    first_seen: list[str] = []
    for name in names:
        raw = reader.load_sheet(name, header_row=None, dtypes="string", whitespace_as_null=True).to_polars()
        header_index = None
        for index, row in enumerate(raw.head(_HEADER_SEARCH_ROWS).iter_rows()):
            cells = {_norm(cell) for cell in row}
            if "kaupunki" in cells and "vuosi" in cells:
                header_index = index
                break
            if index == 0:
                first_seen.append(f"{name}: " + ", ".join(str(cell) for cell in row if cell is not None))
        if header_index is None:
            continue
        header_row = raw.row(header_index)
        data = raw.slice(header_index + 1)
        keep: dict[str, str] = {}
        renamed: dict[str, str] = {}
        for column, header in zip(raw.columns, header_row, strict=True):
            key = _norm(header)
            if not key or key.startswith("unnamed") or key in keep:
                continue  # blank / "Unnamed" columns are ignored (the real file has some)
            keep[key] = str(header).strip()
            renamed[column] = key
        frame = data.select(list(renamed)).rename(renamed)
        return _Table(frame, keep, name)
    raise ValidationError(
        source,
        "header row",
        f"a row with the columns {EXPECTED_COLUMNS} in the first {_HEADER_SEARCH_ROWS} rows of a sheet",
        "; ".join(first_seen) or "an empty workbook",
    )


def _find_column(source: str, table: _Table, prefix: str, label: str) -> str:
    for key in table.headers:
        if key == prefix or key.startswith(prefix + " ") or key.startswith(prefix + "("):
            return key
    raise ValidationError(
        source,
        f"column {label!r}",
        f"the HSY columns {EXPECTED_COLUMNS}",
        f"sheet {table.sheet!r} has " + ", ".join(table.headers.values()),
    )


def _numeric(source: str, frame: pl.DataFrame, column: str, label: str) -> pl.Series:
    """Cast a string column to Float64; text that is not a number raises, naming the column and row."""
    values = frame[column].str.strip_chars()
    numbers = values.cast(pl.Float64, strict=False)
    bad = values.is_not_null() & numbers.is_null()
    if bad.any():
        row = int(bad.arg_true()[0])
        raise ValidationError(
            source, f"column {label!r}, row {row + 1} below the header", "a number", repr(values[row])
        )
    return numbers


def _normalise(source: str, table: _Table, current_year: int) -> pl.DataFrame:
    city = _find_column(source, table, "kaupunki", "Kaupunki")
    year = _find_column(source, table, "vuosi", "Vuosi")
    sectors = [_find_column(source, table, name, f"Sektori{n}") for n, name in enumerate(SECTOR_COLUMNS, 1)]
    emissions = _find_column(source, table, "päästöt", "Päästöt")
    energy = _find_column(source, table, "energiankulutus", "Energiankulutus")

    emission_unit = _unit_of(table.headers[emissions])
    energy_unit = _unit_of(table.headers[energy])
    if emission_unit not in _EMISSION_UNITS_TO_KT:
        raise ValidationError(
            source, f"column {table.headers[emissions]!r}", "emissions in t CO2e", emission_unit
        )
    if energy_unit not in _ENERGY_UNITS_TO_GWH:
        raise ValidationError(source, f"column {table.headers[energy]!r}", "energy use in GWh", energy_unit)

    frame = table.frame.select([city, year, *sectors, energy, emissions])
    # Drop blank rows and note rows (a text in the first column only).
    frame = frame.filter(~pl.all_horizontal(pl.col([year, *sectors, energy, emissions]).is_null()))
    if frame.is_empty():
        raise ValidationError(source, f"sheet {table.sheet!r}", "at least one data row", "an empty table")

    years = _numeric(source, frame, year, "Vuosi")
    bad_year = years.is_null() | (years != years.floor()) | (years < FIRST_YEAR) | (years > current_year)
    if bad_year.any():
        row = int(bad_year.arg_true()[0])
        raise ValidationError(
            source,
            f"column 'Vuosi', row {row + 1} below the header",
            f"a year from {FIRST_YEAR} to {current_year}",
            repr(frame[year][row]),
        )
    energy_values = _numeric(source, frame, energy, table.headers[energy])
    emission_values = _numeric(source, frame, emissions, table.headers[emissions])

    city_names = frame[city].str.strip_chars().str.normalize("NFC").str.to_lowercase().fill_null("")
    is_region = city_names.is_in(list(REGION_TOTAL_NAMES))
    areas = city_names.replace_strict(dict(CITY_CODES), default=None, return_dtype=pl.String)
    unknown = areas.is_null() & ~is_region
    if unknown.any():
        row = int(unknown.arg_true()[0])
        raise ValidationError(
            source,
            f"column 'Kaupunki', row {row + 1} below the header",
            "Helsinki, Espoo, Vantaa, Kauniainen or PKS (region total)",
            repr(frame[city][row]),
        )

    rows = pl.DataFrame(
        {
            "area": areas,
            "period": years.cast(pl.Int64).cast(pl.String),
            **{
                f"sector{n}": frame[column].str.strip_chars().fill_null("")
                for n, column in enumerate(sectors, 1)
            },
            "energy": energy_values * _ENERGY_UNITS_TO_GWH[energy_unit],
            "emissions": emission_values * _EMISSION_UNITS_TO_KT[emission_unit],
        }
    ).filter(~is_region)

    key = ["area", "period", "sector1", "sector2", "sector3", "sector4"]
    duplicated = rows.select(key).is_duplicated()
    if duplicated.any():
        first = rows.filter(duplicated).row(0, named=True)
        raise ValidationError(
            source,
            "rows (Kaupunki, Vuosi, Sektori1…Sektori4)",
            "one row per city, year and sector",
            "duplicate " + " / ".join(str(first[column]) for column in key),
        )

    sector_columns = [f"sector{n}" for n in range(1, 5)]
    measures = [("emissions", "kt CO2e"), ("energy", "GWh")]
    long = pl.concat(
        [
            rows.select(
                "area",
                "period",
                pl.col(measure).alias("value"),
                pl.when(pl.col(measure) < 0)
                .then(pl.lit("neg"))
                .otherwise(None)
                .cast(pl.String)
                .alias("flag"),
                pl.lit(unit).alias("unit"),
                pl.lit(measure).alias("measure"),
                *sector_columns,
            )
            for measure, unit in measures
        ]
    )
    return long.sort(["area", "measure", *sector_columns, "period"])


def _excerpt(body: bytes) -> str:
    return body[:120].decode("utf-8", errors="replace")
