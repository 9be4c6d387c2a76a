"""HSY Helsinki-region greenhouse gas emissions: CKAN package_show discovery, then the XLSX long table."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import fastexcel
import polars as pl

from common.payload import Fetcher, Payload
from common.units import conversion_factor
from ingest import jsondecode
from ingest.catalogue import DatasetSpec, own_port
from ingest.connector import Connector
from ingest.errors import ValidationError
from ingest.http import AllowedHosts, check_not_html
from ingest.municipalities import municipalities
from ingest.xlsx import ZIP_MAGIC, check_xlsx

__all__ = [
    "CITY_CODES",
    "REGION_TOTAL_NAMES",
    "XLSX_MEDIA_TYPE",
    "HsyConnector",
    "allowed_hosts",
    "check_download_url",
    "ckan_resources",
    "pick_resource",
]

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

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

SECTOR_COLUMNS = ("sektori1", "sektori2", "sektori3", "sektori4")  # always there
OPTIONAL_SECTOR_COLUMN = "sektori5"  # newer files may add a fifth level
SECTOR_DIMENSIONS = ("sector1", "sector2", "sector3", "sector4", "sector5")  # stored; "" where blank/absent
EXPECTED_COLUMNS = "Kaupunki, Vuosi, Sektori1…Sektori4 (Sektori5), Energiankulutus, Päästöt"
FIRST_YEAR = 1990
_HEADER_SEARCH_ROWS = 30

# The value columns: header name -> (measure, the unit it is stored in). The unit the file uses is declared
# in the catalogue (`column_units`); values are converted from that unit to the stored one.
MEASURES: Mapping[str, tuple[str, str]] = {
    "päästöt": ("emissions", "kt CO2e"),
    "energiankulutus": ("energy", "GWh"),
}

# A unit written in a header (compacted by _unit_of) -> the common.units spelling.
_HEADER_UNITS: Mapping[str, str] = {
    "t": "t CO2e",
    "tco2e": "t CO2e",
    "tonnia": "t CO2e",
    "kt": "kt CO2e",
    "ktco2e": "kt CO2e",
    "1000t": "kt CO2e",
    "1000tco2e": "kt CO2e",
    "tuhattatonnia": "kt CO2e",
    "mt": "Mt CO2e",
    "mtco2e": "Mt CO2e",
    "gwh": "GWh",
}


class HsyConnector(Connector):
    """Protocol `ckan_xlsx`: the HSY emissions table published on the Helsinki Region Infoshare CKAN.

    Options (catalogue `options`):
    - `package_id` (required): the CKAN package name.
    - `resource_pattern` (optional): a case-insensitive regular expression the resource's name or URL
      must match; without it every XLSX resource of the package is a candidate. The newest candidate
      (by `last_modified`, else `created`) is downloaded.
    - `sheet` (optional): the sheet name; without it the first sheet with a `Kaupunki`/`Vuosi` header
      row (searched in its first 30 rows) is read.

    Catalogue `column_units` declares the unit of `Päästöt` and `Energiankulutus` (HSY's headers are
    bare; Päästöt is kt CO2e); a header that names a unit must name the declared one, else the file is
    rejected. Catalogue `sectors` maps the hierarchy to the tracker's sectors: a row no rule matches is
    rejected, naming its labels. Every row must be a leaf of the hierarchy: a row whose sector path other
    rows of its city and year continue (a subtotal, which the rules would add to its detail rows), or one
    with a blank level between filled ones, is rejected.

    Output dimensions: `measure` ("emissions" in kt CO2e from `Päästöt`; "energy" in GWh from
    `Energiankulutus`, each converted from its declared unit) and `sector1`…`sector5`, the published
    Sektori1…Sektori5 exactly ("" where blank, and sector5 "" when the file has no Sektori5). Areas are
    the municipality numbers of the four cities; the `PKS` region total rows are dropped. Negative values
    are kept and flagged "neg". Rows whose only non-blank cell is `Kaupunki` (notes) are ignored.
    """

    protocol: ClassVar[str] = "ckan_xlsx"
    reader_version: ClassVar[str] = "hsy-xlsx/2"

    def __init__(self, today: Callable[[], date] = date.today) -> None:
        self._today = today

    @staticmethod
    def is_data_request(method: str, url: str) -> bool:
        """The XLSX holds the values; the package_show envelope only finds it (not cited as their source)."""
        return not url.rstrip("/").endswith("/action/package_show")

    def fetch(self, spec: DatasetSpec, fetcher: Fetcher) -> list[Payload]:
        """GET package_show, pick the newest emissions XLSX resource, GET it: [envelope, xlsx]."""
        package_id = spec.options.get("package_id")
        if not isinstance(package_id, str) or not package_id:
            raise ValueError(f"catalogue: dataset {spec.id!r}: options.package_id must name the CKAN package")
        hosts = allowed_hosts(spec)  # each request, and each redirect it takes, checked before it is made
        envelope = fetcher.get(
            spec.id, spec.url, params=[("id", package_id)], accept="application/json", allowed_hosts=hosts
        )
        resources = ckan_resources(spec.id, envelope)
        resource = pick_resource(spec.id, resources, spec.options.get("resource_pattern"))
        check_download_url(spec, str(resource["url"]))
        accept = f"{XLSX_MEDIA_TYPE}, */*;q=0.5"
        xlsx = fetcher.get(spec.id, str(resource["url"]), accept=accept, allowed_hosts=hosts)
        return [envelope, xlsx]

    def parse(self, spec: DatasetSpec, payloads: Sequence[Payload]) -> pl.DataFrame:
        """The XLSX (the last payload) as a normalised observation frame."""
        if not payloads:
            raise ValidationError(spec.id, "payloads", "the package_show envelope and the XLSX file", "none")
        payload = payloads[-1]
        check_not_html(spec.id, payload.headers, payload.body)
        if not payload.body.startswith(ZIP_MAGIC):
            raise ValidationError(
                spec.id,
                f"body of {payload.request.url}",
                "an XLSX file (a zip archive)",
                _excerpt(payload.body),
            )
        name = unquote(urlsplit(payload.request.url).path.rsplit("/", 1)[-1])
        table = _read_table(spec.id, payload.body, name, spec.options.get("sheet"))
        frame = _normalise(spec, table, self._today().year)
        _check_sectors(spec, frame)
        return frame


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
    """The newest XLSX resource (matching `pattern`, if given), by last_modified, then created: one whose
    format is XLSX or whose URL ends in .xlsx, whatever format it is labelled with."""
    matcher = re.compile(pattern, re.IGNORECASE) if pattern else None
    candidates: list[tuple[datetime, int, Mapping[str, Any]]] = []
    for position, resource in enumerate(resources):
        url = resource.get("url")
        fmt = str(resource.get("format") or "").strip().lstrip(".").upper()
        if not isinstance(url, str) or not url:
            continue
        if fmt != "XLSX" and not url.lower().split("?", 1)[0].endswith(".xlsx"):  # (a format "Excel" too)
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


def allowed_hosts(spec: DatasetSpec) -> AllowedHosts:
    """Where the dataset's requests and their redirects may go: https (or the catalogue URL's own scheme: a
    local test server's http) on a host and port the catalogue allows (DatasetSpec.allows_download_host:
    the scheme's default port, or the one the catalogue URL or download_hosts names)."""
    own = urlsplit(spec.url)
    port = own_port(spec.url)
    here = (own.hostname or "") + ("" if port is None else f":{port}")
    names = tuple(sorted({here, *spec.download_hosts} - {""}))
    return AllowedHosts(spec.allows_download_host, names, frozenset({"https", own.scheme}))


def check_download_url(spec: DatasetSpec, url: str) -> None:
    """ValidationError unless `url` is one allowed_hosts allows: a listing that names another host is not
    followed."""
    allowed = allowed_hosts(spec)
    refusal = allowed.refusal(url)  # the check every request and redirect hop gets
    if refusal is not None:
        raise ValidationError(spec.id, "resource url", allowed.expected, refusal)


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


def _unit_of(header: str, name: str) -> str:
    """The unit a header names after the column name, compacted: "Päästöt (t CO2-ekv.)" -> "tco2e",
    "Päästöt, kt" -> "kt", "Energiankulutus [GWh]" -> "gwh"; "" for a bare header."""
    unit = _norm(header)[len(name) :].replace("₂", "2")
    for noise in (" ", ".", "-", "_", ",", ";", ":", "(", ")", "[", "]", "/"):
        unit = unit.replace(noise, "")
    return unit.replace("co2ekv", "co2e").replace("co2eq", "co2e")


def _declared_unit(spec: DatasetSpec, name: str) -> str:
    """The unit the catalogue declares for a value column (matched case-insensitively)."""
    for column, unit in spec.column_units.items():
        if _norm(column) == name:
            return unit
    raise ValueError(
        f"catalogue: dataset {spec.id!r}: column_units must declare the unit of {name.capitalize()!r}"
        f" (declared: {', '.join(spec.column_units) or 'none'})"
    )


def _factor_to_stored(spec: DatasetSpec, table: _Table, column: str, name: str) -> float:
    """The factor from the column's declared unit to the stored unit, after checking the header's unit."""
    declared = _declared_unit(spec, name)
    header = table.headers[column]
    written = _unit_of(header, name)
    if written:
        unit = _HEADER_UNITS.get(written)
        if unit is None:
            raise ValidationError(
                spec.id,
                f"unit in column header {header!r}",
                f"{declared}, the unit the catalogue declares (or a bare header)",
                f"an unknown unit {written!r}",
            )
        if unit != declared:
            raise ValidationError(
                spec.id,
                f"unit in column header {header!r}",
                f"{declared}, the unit the catalogue declares for {name.capitalize()} (column_units)",
                f"{unit}: if the publisher changed the unit, declare the new one in ingest/catalogue.toml;"
                " the file is never rescaled silently",
            )
    return conversion_factor(declared, MEASURES[name][1])


class _Table:
    """The raw table as strings: column name (normalised) -> original header, and the data rows."""

    def __init__(self, frame: pl.DataFrame, headers: Mapping[str, str], sheet: str) -> None:
        self.frame = frame
        self.headers = headers
        self.sheet = sheet


def _read_table(source: str, body: bytes, name: str, sheet: object) -> _Table:
    check_xlsx(source, body, name)
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
        if key == prefix or (key.startswith(prefix) and not key[len(prefix)].isalnum()):
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


def _normalise(spec: DatasetSpec, table: _Table, current_year: int) -> pl.DataFrame:
    source = spec.id
    city = _find_column(source, table, "kaupunki", "Kaupunki")
    year = _find_column(source, table, "vuosi", "Vuosi")
    sectors = [_find_column(source, table, name, f"Sektori{n}") for n, name in enumerate(SECTOR_COLUMNS, 1)]
    if OPTIONAL_SECTOR_COLUMN in table.headers:
        sectors.append(OPTIONAL_SECTOR_COLUMN)
    emissions = _find_column(source, table, "päästöt", "Päästöt")
    energy = _find_column(source, table, "energiankulutus", "Energiankulutus")
    emission_factor = _factor_to_stored(spec, table, emissions, "päästöt")
    energy_factor = _factor_to_stored(spec, table, energy, "energiankulutus")

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
                dimension: (
                    frame[sectors[n]].str.strip_chars().str.normalize("NFC").fill_null("")
                    if n < len(sectors)
                    else pl.Series(dimension, [""] * frame.height, dtype=pl.String)
                )
                for n, dimension in enumerate(SECTOR_DIMENSIONS)
            },
            "energy": energy_values * energy_factor,
            "emissions": emission_values * emission_factor,
        }
    ).filter(~is_region)

    key = ["area", "period", *SECTOR_DIMENSIONS]
    duplicated = rows.select(key).is_duplicated()
    if duplicated.any():
        first = rows.filter(duplicated).row(0, named=True)
        raise ValidationError(
            source,
            f"rows (Kaupunki, Vuosi, Sektori1…Sektori{len(sectors)})",
            "one row per city, year and sector",
            "duplicate " + " / ".join(str(first[column]) for column in key),
        )

    _check_paths(source, rows)
    sector_columns = list(SECTOR_DIMENSIONS)
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


def _check_paths(source: str, rows: pl.DataFrame) -> None:
    """Every row is a leaf of the sector hierarchy: its levels filled from Sektori1 on without a gap, and
    no row's path the beginning of another's for the same city and year (a subtotal beside its detail rows
    would be added to them: the city's sum counted twice)."""
    levels = [pl.col(dimension) != "" for dimension in SECTOR_DIMENSIONS]
    shaped = rows.with_columns(
        depth=pl.sum_horizontal(pl.all_horizontal(levels[: n + 1]) for n in range(len(levels))),
        filled=pl.sum_horizontal(levels),
    )
    gapped = shaped.filter(pl.col("depth") != pl.col("filled"))
    if gapped.height:
        first = gapped.row(0, named=True)
        raise ValidationError(
            source,
            f"sector (Sektori1…) of {_city(first['area'])} {first['period']}",
            "the levels filled from Sektori1 on, without a blank level between filled ones",
            _path_text(first),
        )
    for depth in range(1, len(SECTOR_DIMENSIONS)):
        key = ["area", "period", *SECTOR_DIMENSIONS[:depth]]
        subtotals = shaped.filter(pl.col("depth") == depth).join(
            shaped.filter(pl.col("depth") > depth).select(key).unique(), on=key, how="semi"
        )
        if subtotals.height:
            first = subtotals.row(0, named=True)
            raise ValidationError(
                source,
                f"rows (Kaupunki, Vuosi, Sektori1…) of {_city(first['area'])} {first['period']}",
                "detail rows only: no row for a sector whose levels below it have rows of their own",
                f"{_path_text(first)}, a subtotal of the rows below it, which would be counted twice",
            )


def _city(code: str) -> str:
    """A city as the file's Kaupunki names it, with its number: "Espoo (049)"."""
    names = {number: fi for number, fi, _ in municipalities()}
    return f"{names.get(code, code)} ({code})"


def _path_text(labels: Mapping[str, Any]) -> str:
    """A row's published sector path, e.g. Sektori1='Sähkö' / Sektori2='' (blank levels between filled ones
    shown)."""
    last = max((n for n, d in enumerate(SECTOR_DIMENSIONS) if labels[d]), default=0)
    return " / ".join(f"Sektori{n + 1}={labels[d]!r}" for n, d in enumerate(SECTOR_DIMENSIONS[: last + 1]))


def _check_sectors(spec: DatasetSpec, frame: pl.DataFrame) -> None:
    """Every published sector path must map to a tracker sector through the catalogue's `sectors` table."""
    if not spec.sectors:
        return
    paths = frame.select(SECTOR_DIMENSIONS).unique(maintain_order=True)
    for labels in paths.iter_rows(named=True):
        if spec.sector_of(labels) is None:
            path = _path_text(labels)
            raise ValidationError(
                spec.id,
                "sector (Sektori1…)",
                "a sector the catalogue's sector table maps (datasets.hsy_emissions.sectors)",
                f"{path}: no rule maps it; add one to ingest/catalogue.toml (an explicit 'other' if it is)",
            )


def _excerpt(body: bytes) -> str:
    return body[:120].decode("utf-8", errors="replace")
