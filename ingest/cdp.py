"""CDP-ICLEI city disclosures (Socrata, data.cdp.net): peer cities' city-wide emissions; opt-in, restricted.

Why opt-in and restricted: the portal names a "CDP Open Database License", but cdp.net's site terms forbid
use beyond internal use without written consent. The catalogue entry is `enabled = false` (ingested only
with KESTAVA_CDP_ENABLED=true) and `restricted = true` (its rows are never published in reports or exports
unless a licence is declared in KESTAVA_CDP_LICENCE; see ingest.licensing.publishable).

Request: per disclosure year, `GET {url}/{dataset id}.json?$limit={page_size}&$offset={n}&$order=:id`,
paging until a page holds fewer than `page_size` rows (Socrata's `$limit` is at most 50 000; `:id` keeps
the order stable between pages).

Catalogue options (`[datasets.X] options`):
- `years`: {disclosure year: {id, columns}}: CDP publishes a new dataset (new id) with new column names
  every year, so each year lists its Socrata id and the name of each field the tracker reads:
  `account` (CDP account number), `organization`, `city`, `country` (a country name), `accounting_year`
  (the inventory's year: "2018", a date, or a range "2017-07-01 - 2018-06-30", whose end year counts),
  `scope1` and `scope2` (total scope 1 and scope 2 emissions, metric tonnes CO2e).
- `page_size` (default 1 000, at most 50 000) and `max_pages` (default 200).

Parse: rows are JSON objects with snake_case keys; Socrata leaves out the keys of empty cells, so a
configured column absent from EVERY row of a year is a renamed column (ValidationError naming it), while
one absent from a row is a gap. Peers are resolved by the row's city or organisation name within its
country (`ingest.peers.resolve_codes`, source "cdp"); only peers are kept.

Output: area = the peer's area, period = the accounting year, value in t CO2e, flag null,
unit "t CO2e", `city_code` = CDP account number, `measure` = "scope1" or "scope2",
`disclosure_year` = the year of the dataset (a city may report the same inventory year in two
disclosures: they are separate series, the newest disclosure is the city's latest word).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import orjson
import polars as pl
import pydantic

from common.payload import Fetcher, Payload
from ingest import jsondecode
from ingest.catalogue import DatasetSpec
from ingest.connector import Connector
from ingest.errors import ValidationError
from ingest.http import check_not_html
from ingest.peers import Candidate, resolve_codes

__all__ = [
    "COUNTRY_CODES",
    "CdpConnector",
    "CdpOptions",
    "accounting_year",
    "page_params",
    "read_options",
]

# CDP's country names -> ISO 3166-1 alpha-2, for the countries of the peer cities (ingest/peers.toml).
# A row of any other country keeps no country and so never matches a peer.
COUNTRY_CODES: Mapping[str, str] = {
    "Austria": "AT",
    "Denmark": "DK",
    "Estonia": "EE",
    "Finland": "FI",
    "Germany": "DE",
    "Iceland": "IS",
    "Netherlands": "NL",
    "Norway": "NO",
    "Slovenia": "SI",
    "Sweden": "SE",
    "Switzerland": "CH",
}
MEASURES = ("scope1", "scope2")
UNIT = "t CO2e"
_DATE = re.compile(r"(\d{4})-\d{2}-\d{2}")
_YEAR = re.compile(r"^\s*(\d{4})\s*$")


class CdpColumns(pydantic.BaseModel):
    """The names of the fields the tracker reads, in one year's dataset."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    account: str
    organization: str
    city: str
    country: str
    accounting_year: str
    scope1: str
    scope2: str


class CdpYear(pydantic.BaseModel):
    """One disclosure year: its Socrata dataset id and column names."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    id: str = pydantic.Field(pattern=r"^[a-z0-9]{4}-[a-z0-9]{4}$")
    columns: CdpColumns


class CdpOptions(pydantic.BaseModel):
    """The cdp_socrata protocol's catalogue options (see the module docstring)."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    years: dict[str, CdpYear] = pydantic.Field(min_length=1)
    page_size: int = pydantic.Field(default=1000, ge=1, le=50_000)
    max_pages: int = pydantic.Field(default=200, ge=1)

    @pydantic.field_validator("years")
    @classmethod
    def _year_keys(cls, years: dict[str, CdpYear]) -> dict[str, CdpYear]:
        bad = [key for key in years if not _YEAR.match(key)]
        if bad:
            raise ValueError(f"years: keys must be disclosure years like '2020', got {bad}")
        ids = [year.id for year in years.values()]
        if len(set(ids)) != len(ids):
            raise ValueError(f"years: each year needs its own dataset id, got {ids}")
        return years


def read_options(spec: DatasetSpec) -> CdpOptions:
    """Validate the dataset's options; a typo or a wrong type is a ValidationError naming the option."""
    try:
        return CdpOptions.model_validate(spec.options)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise ValidationError(spec.id, "catalogue options", "valid cdp_socrata options", problems) from None


def page_params(page_size: int, offset: int) -> list[tuple[str, str]]:
    """One page's query parameters."""
    return [("$limit", str(page_size)), ("$offset", str(offset)), ("$order", ":id")]


def accounting_year(source: str, column: str, text: object) -> str:
    """The inventory year of an accounting-year cell: a year, a date's year, or a range's end year."""
    if isinstance(text, int) and not isinstance(text, bool) and 1900 <= text <= 2100:
        return str(text)
    if isinstance(text, str):
        bare = _YEAR.match(text)
        if bare:
            return bare[1]
        dates = _DATE.findall(text)
        if dates:
            return str(dates[-1])
    raise ValidationError(
        source, column, "a year, a date or a date range (its end year counts)", repr(text)[:80]
    )


def _number(source: str, column: str, account: str, value: object) -> float:
    """A Socrata number (sent as a string, sometimes as a number); anything else names the cell."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.replace(",", "").strip())
        except ValueError:
            pass
    raise ValidationError(source, f"{column} (account {account})", "a number of t CO2e", repr(value)[:80])


def _rows(source: str, payload: Payload) -> list[dict[str, Any]]:
    """The JSON array of row objects of one page (a Socrata error object names its message)."""
    check_not_html(source, payload.headers, payload.body)
    try:
        document = jsondecode.loads(payload.body, source)
    except orjson.JSONDecodeError as exc:
        raise ValidationError(
            source, "body", "a JSON array of rows", f"{exc}: {payload.body[:80]!r}"
        ) from None
    if isinstance(document, dict):
        message = document.get("message") or document.get("error") or sorted(document)
        raise ValidationError(
            source, "body", "a JSON array of rows (Socrata answered an object)", str(message)
        )
    if not isinstance(document, list) or not all(isinstance(row, dict) for row in document):
        raise ValidationError(source, "body", "a JSON array of row objects", type(document).__name__)
    return document


def _dataset_id(url: str) -> str:
    """The Socrata dataset id of a resource URL (…/resource/p43t-fbkj.json -> p43t-fbkj)."""
    return url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".json")


class CdpConnector(Connector):
    """CDP-ICLEI city-wide emissions: paged Socrata JSON per disclosure year, peers kept."""

    protocol: ClassVar[str] = "cdp_socrata"
    reader_version: ClassVar[str] = "cdp-1"

    def fetch(self, spec: DatasetSpec, fetcher: Fetcher) -> list[Payload]:
        """Every page of every configured year, years in order."""
        options = read_options(spec)
        payloads: list[Payload] = []
        for year in sorted(options.years):
            url = f"{spec.url.rstrip('/')}/{options.years[year].id}.json"
            offset, pages = 0, 0
            while True:
                payload = fetcher.get(spec.id, url, params=page_params(options.page_size, offset))
                payloads.append(payload)
                pages += 1
                if len(_rows(spec.id, payload)) < options.page_size:
                    break
                if pages >= options.max_pages:
                    raise ValidationError(
                        spec.id,
                        f"{year} paging",
                        f"at most {options.max_pages} pages of {options.page_size} rows (options.max_pages)",
                        f"a full page {pages}",
                    )
                offset += options.page_size
        return payloads

    def parse(self, spec: DatasetSpec, payloads: Sequence[Payload]) -> pl.DataFrame:
        """The pages of each year -> the peers' scope 1 and scope 2 totals."""
        options = read_options(spec)
        source = spec.id
        if not payloads:
            raise ValidationError(source, "payloads", "at least one Socrata page", "none")
        year_of = {cfg.id: year for year, cfg in options.years.items()}
        rows_by_year: dict[str, list[dict[str, Any]]] = {year: [] for year in options.years}
        for payload in payloads:
            dataset_id = _dataset_id(payload.request.url)
            if dataset_id not in year_of:
                raise ValidationError(
                    source, "request", f"one of the configured datasets {sorted(year_of)}", dataset_id
                )
            rows_by_year[year_of[dataset_id]].extend(_rows(source, payload))

        records: list[dict[str, Any]] = []
        candidates: list[Candidate] = []
        for year, rows in sorted(rows_by_year.items()):
            columns = options.years[year].columns
            if not rows:
                raise ValidationError(source, f"{year} dataset {options.years[year].id}", "rows", "none")
            present = set().union(*(row.keys() for row in rows))
            for field, name in columns.model_dump().items():
                if name not in present:
                    raise ValidationError(
                        source,
                        f"{year} column {name} ({field})",
                        "present in at least one row (renamed? fix options.years)",
                        f"absent; the rows have {', '.join(sorted(present))[:300]}",
                    )
            for row in rows:
                account = row.get(columns.account)
                if account is None:
                    raise ValidationError(
                        source, f"{year} column {columns.account}", "an account number", "empty"
                    )
                account = str(account).strip()
                country = COUNTRY_CODES.get(str(row.get(columns.country, "")).strip(), "")
                for label_column in (columns.city, columns.organization):
                    label = row.get(label_column)
                    if isinstance(label, str) and label.strip():
                        # an unknown country ("--") never equals a peer's country
                        candidates.append(Candidate(account, label.strip(), country or "--"))
                for measure in MEASURES:
                    column = getattr(columns, measure)
                    if row.get(column) is None:
                        continue  # a gap: the city did not report it
                    records.append(
                        {
                            "city_code": account,
                            "period": accounting_year(
                                source,
                                f"{year} column {columns.accounting_year} (account {account})",
                                row.get(columns.accounting_year),
                            ),
                            "value": _number(source, f"{year} column {column}", account, row[column]),
                            "measure": measure,
                            "disclosure_year": year,
                        }
                    )

        resolved = resolve_codes(source, "cdp", candidates)
        area_of = {code: area for area, code in resolved.items()}
        schema = {
            "city_code": pl.Utf8,
            "period": pl.Utf8,
            "value": pl.Float64,
            "measure": pl.Utf8,
            "disclosure_year": pl.Utf8,
        }
        frame = pl.DataFrame(records, schema=schema).filter(pl.col("city_code").is_in(list(area_of)))
        if frame.height == 0:
            raise ValidationError(source, "rows", "emissions of at least one peer city", "none")
        frame = frame.select(
            pl.col("city_code").replace_strict(area_of, return_dtype=pl.Utf8).alias("area"),
            "period",
            "value",
            pl.lit(None, dtype=pl.Utf8).alias("flag"),
            pl.lit(UNIT, dtype=pl.Utf8).alias("unit"),
            "city_code",
            "measure",
            "disclosure_year",
        )
        keys = ["area", "city_code", "measure", "disclosure_year", "period"]
        if frame.select(keys).is_duplicated().any():
            dup = frame.filter(frame.select(keys).is_duplicated()).select(keys).row(0)
            raise ValidationError(
                source, "rows", "one row per account, disclosure and accounting year", str(dup)
            )
        return frame.sort(keys)
