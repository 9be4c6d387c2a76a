"""Syke's population file (`asukasluvut_2025.csv`): residents per municipality and year, as ALas uses them."""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from collections.abc import Sequence
from typing import ClassVar

import polars as pl

from common.payload import Fetcher, Payload
from ingest.catalogue import DatasetSpec
from ingest.connector import Connector
from ingest.errors import ValidationError
from ingest.http import check_not_html
from ingest.municipalities import municipality_codes, within_division
from ingest.syke import NULL_MARKERS

log = logging.getLogger(__name__)

CODE_COLUMN = "kuntanro"
YEAR_COLUMN = "vuosi"
# a long file's population column, by the names Syke and Statistics Finland use for it
POPULATION_COLUMNS = ("asukasluku", "asukkaat", "väkiluku", "vakiluku", "asukasmaara", "asukasmäärä")
# a wide file's year columns: "2023", or a name ending in the year ("asukasluku_2023", "as_2023")
_YEAR_NAME = re.compile(r"^(?:.*[_ ])?((?:19|20)\d\d)$")
LAYOUTS = (
    f"{CODE_COLUMN} and one column per year (2023 or asukasluku_2023), or {CODE_COLUMN}, {YEAR_COLUMN} "
    f"and a population column ({', '.join(POPULATION_COLUMNS)})"
)


class SykePopulationConnector(Connector):
    """Protocol `syke_population_csv`: one `;`-separated CSV of residents per municipality (`kuntanro`).

    Two layouts are read (which one Syke publishes is unverified; SOURCES.md names only the columns
    `kuntanro`, `kunta_fi` and `maakunta_fi`): wide, one column per year, or long, a `vuosi` column and
    a population column. Anything else is a ValidationError naming the columns found. Output: area (the
    three-digit municipality number), period (year), value (persons), unit "persons", measure
    "population". Missing values (`NA`, `NULL`, empty) stay null. A row repeated exactly is counted once.
    """

    protocol: ClassVar[str] = "syke_population_csv"
    reader_version: ClassVar[str] = "syke-population-csv/1"

    def fetch(self, spec: DatasetSpec, fetcher: Fetcher) -> list[Payload]:
        """The one file."""
        return [fetcher.get(spec.id, spec.url, accept="text/csv, */*;q=0.5")]

    def parse(self, spec: DatasetSpec, payloads: Sequence[Payload]) -> pl.DataFrame:
        """Residents per municipality and year, in either layout."""
        if len(payloads) != 1:
            raise ValidationError(spec.id, "payloads", "one CSV", str(len(payloads)))
        raw = _read(spec.id, payloads[0])
        long = _long(spec.id, raw)
        return _normalise(spec.id, long)


def _read(source: str, payload: Payload) -> pl.DataFrame:
    check_not_html(source, payload.headers, payload.body)
    try:
        text = payload.body.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = payload.body.decode("cp1252")
    try:
        frame = pl.read_csv(io.StringIO(text), separator=";", infer_schema=False, null_values=NULL_MARKERS)
    except (pl.exceptions.PolarsError, ValueError) as exc:
        raise ValidationError(source, "body", "a ';'-separated CSV", f"{type(exc).__name__}: {exc}") from None
    frame = frame.rename({c: unicodedata.normalize("NFC", c.strip()).lower() for c in frame.columns})
    if CODE_COLUMN not in frame.columns:
        got = ", ".join(frame.columns)
        if len(frame.columns) == 1 and "," in frame.columns[0]:
            got = f"one column {frame.columns[0]!r} (a ','-separated file?)"
        raise ValidationError(source, f"column {CODE_COLUMN!r}", LAYOUTS, got)
    if frame.is_empty():
        raise ValidationError(source, "body", "at least one data row", "only a header")
    return frame.with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + 2).alias("line"))


def _long(source: str, raw: pl.DataFrame) -> pl.DataFrame:
    """kuntanro, line, year (text), value (text): the long layout as it is, the wide one unpivoted."""
    population = [c for c in POPULATION_COLUMNS if c in raw.columns]
    if YEAR_COLUMN in raw.columns and population:
        return raw.select(
            CODE_COLUMN,
            "line",
            pl.col(YEAR_COLUMN).alias("year"),
            pl.col(population[0]).alias("value"),
        )
    years = {c: m.group(1) for c in raw.columns if (m := _YEAR_NAME.match(c))}
    if not years or len(set(years.values())) != len(years):
        raise ValidationError(source, "columns", LAYOUTS, ", ".join(c for c in raw.columns if c != "line"))
    return (
        raw.select(CODE_COLUMN, "line", *years)
        .unpivot(index=[CODE_COLUMN, "line"], on=list(years), variable_name="column", value_name="value")
        .with_columns(pl.col("column").replace_strict(years, return_dtype=pl.String).alias("year"))
        .drop("column")
    )


def _fail(source: str, frame: pl.DataFrame, bad: pl.Series, field: str, expected: str) -> None:
    """A ValidationError naming the field and line of the first bad row, if any."""
    if bad.any():
        row = frame.filter(bad).row(0, named=True)
        raise ValidationError(source, f"column {field!r}, line {row['line']}", expected, repr(row.get(field)))


def _normalise(source: str, long: pl.DataFrame) -> pl.DataFrame:
    code = long[CODE_COLUMN].str.strip_chars()
    known = code.str.zfill(3).is_in(list(municipality_codes()))
    valid = code.str.contains(r"^\d{1,3}$").fill_null(False) & known
    _fail(source, long, ~valid, CODE_COLUMN, "a Finnish municipality's number (ingest/municipalities.json)")
    year = long["year"].cast(pl.Int64, strict=False)
    _fail(source, long, ~year.is_between(1900, 2100).fill_null(False), "year", "a year such as 2023")
    digits = long["value"].str.replace_all(r"[\s\u00a0]", "").str.replace(",", ".", literal=True)
    whole = digits.str.contains(r"^\d+(\.0+)?$")
    _fail(source, long, ~whole.fill_null(True), "value", "a whole number of residents, or NA")
    rows = pl.DataFrame(
        {
            "area": code.str.zfill(3),
            "period": year.cast(pl.String),
            "value": digits.cast(pl.Float64),
            "line": long["line"],
            CODE_COLUMN: long[CODE_COLUMN],
        }
    )
    rows = within_division(source, rows)
    repeated = rows.select("area", "period").is_duplicated()
    if repeated.any():
        exact = rows.select("area", "period", "value").is_duplicated()
        _fail(source, rows, repeated & ~exact, CODE_COLUMN, "one row per municipality (and year)")
        log.warning("%s: rows repeated exactly; each is counted once", source)
        rows = rows.unique(["area", "period"], keep="first", maintain_order=True)
    return rows.select(
        "area",
        "period",
        "value",
        pl.lit(None, dtype=pl.String).alias("flag"),
        pl.lit("persons").alias("unit"),
        pl.lit("population").alias("measure"),
    ).sort("area", "period")
