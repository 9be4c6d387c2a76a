"""PxWeb v1 connector (Statistics Finland StatFin, Traficom): table-metadata queries, JSON-stat 2 parsed.

How it works: GET the table metadata, find the area, time and content variables in it (by role, text or
value pattern, never by hard-coded code: the June 2026 change renamed every code), POST a json-stat2 query
built from those codes, split so that no query asks for more than `cell_limit` cells, and halve a query
again whenever the service answers HTTP 403 (too many cells).

Point-in-time tables (`point_in_time = true`, e.g. Traficom's cars in traffic, 010_kanta_tau_101): the
table has NO time variable; it describes the stock on one reference date, and every observation's period
is that date as `YYYY-MM-DD` (REFERENCE_PERIOD_FORMAT; storage accepts it, `ingest.freshness.period_end`
reads it, and the indicator engine treats it as a non-annual period: values and ratios, no annual trend).
History builds up from the vintages the tracker keeps: a new reference date is a new period, the old ones
stay. The reference date is read from the places listed in `reference_date`, in order:
- `title`: the metadata title, then the JSON-stat `label` (the same title): a date written `30.9.2024`,
  `2024-09-30`, `30 September 2024`, `September 30, 2024`, `30 september 2024` (sv) or `30. syyskuuta 2024`.
  **Unverified**: one public project quotes the English title as "Passenger cars in traffic on 31 June 2021
  by area"; so a day past the month's end is read as the month's last day (a quarter-end stock).
- `note`: the JSON-stat dataset notes, the same patterns.
- `updated`: the JSON-stat `updated` timestamp (the publication time, in Europe/Helsinki): the day the
  stock was published rather than its reference date; **unverified** whether Traficom fills it.
Where the date is written is **unverified** (no real answer of the table was available); if none of the
listed places holds exactly one date, the parse fails with a ValidationError naming the places and what
they held, and nothing is written. Split POSTs that disagree on the date fail the same way.
Traficom's table also has **no content variable** (its public queries select Alue, Merkki,
Käyttöönottovuosi and Käyttövoima only), so `measure` names the measure; a single-category dimension the
answer adds beyond those queried is ignored. Its bodies may start with a UTF-8 byte-order mark (public
clients decode them as utf-8-sig); both the metadata and the data reader accept one. A cell whose status
is `-` (PX "nil": magnitude zero) and whose value is null becomes 0 (**unverified** that PxWeb sends it so).

Catalogue options (`[datasets.X] options`):
- `content`: content value code(s) to fetch, matched with or without the table prefix
  (`vaerak-vaesto` matches `vaesto` and vice versa); optional when the table has one content value.
- `unit`: the common.units unit of every value (required).
- `area`: "all_municipalities" (every `KU###` value) or a list of municipality numbers / area codes.
- `keep_country`: also fetch the whole-country total `SSS`, stored as area "FI" (default false).
- `variables`: {variable code or text: "all" | [value codes]} for the table's other variables; an unnamed
  non-eliminable variable gets all its values, an unnamed eliminable one is eliminated (its total).
- `required_values`: {variable: [value codes]} that must exist in the metadata (layout check).
- `strict_variables`: fail when the table has other variables than those named in `variables`.
- `since`: first time period to fetch (compared on the leading year).
- `point_in_time`: the table has no time variable; the period is its reference date (see above).
- `reference_date`: where to read that date, in order (default title, note, updated).
- `measure`: the measure name for a table without a content variable (required there, refused elsewhere).
- `cell_limit`: most cells per POST (default 100 000). StatFin's real limit is not published per table
  and has varied over time (**unverified**); the connector also halves on HTTP 403.

Output: the normalised observation frame; `measure` is the content code without its database prefix
(`vaerak-vaesto` → `vaesto`), other variables become columns named by DIMENSION_NAMES (English names
of known variable texts) or else by the snake_case of the variable code.

StatFin's `mkan/11ic` has no driving-power variable (Alue, Ajoneuvoluokka, Liikennekäyttö, Vuosi:
vehicles by class), so passenger cars by driving power come from Traficom's table instead. The catalogue
entry names the values it selects of Merkki (`YH` all makes), Käyttöönottovuosi (`YH` all years) and
Käyttövoima (`YH` total, `04` electric, `39`/`44` plug-in hybrids…) and forbids other variables, so another
layout fails with a message naming the variable or value that was expected.
"""

from __future__ import annotations

import calendar
import functools
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

import orjson
import polars as pl
import pydantic

from common.helsinki import HELSINKI
from common.payload import Fetcher, Payload
from common.units import UnitError, check_unit
from ingest import jsondecode
from ingest.catalogue import DatasetSpec
from ingest.connector import Connector
from ingest.errors import FetchError, ValidationError
from ingest.http import HttpError, TooManyCellsError
from ingest.jsonstat import JsonStatDataset, read_jsonstat
from ingest.municipalities import within_division

__all__ = [
    "DEFAULT_CELL_LIMIT",
    "DIMENSION_NAMES",
    "REFERENCE_PERIOD_FORMAT",
    "PxWebConnector",
    "PxWebOptions",
    "Selection",
    "TableLayout",
    "TableMetadata",
    "Variable",
    "build_query",
    "build_selection",
    "cell_count",
    "dates_in",
    "halve_selection",
    "identify_layout",
    "parse_metadata",
    "read_options",
    "reference_date",
    "split_selection",
]

DEFAULT_CELL_LIMIT = 100_000
COUNTRY_CODE = "SSS"  # StatFin's code for the whole country ("KOKO MAA")
MUNICIPALITY = re.compile(r"^KU(\d{3})$")
AREA_TEXTS = frozenset({"alue", "område", "area", "kunta", "kommun", "municipality", "region"})
AREA_CODE_PREFIXES = ("alue", "område", "omrade", "area", "kunta", "kommun")
CONTENT_CODE = "contentscode"
CONTENT_TEXTS = frozenset({"tiedot", "uppgifter", "information", "contents"})
# Status symbols StatFin uses for a missing value: ".." not available, "." logically impossible, etc.
MISSING_MARKS = frozenset({".", "..", "...", "....", "....."})
NIL_MARK = "-"  # PX "nil": the magnitude is zero
# The period of a point-in-time table's observations: its reference date (ISO 8601 calendar date).
REFERENCE_PERIOD_FORMAT = "%Y-%m-%d"
_UTF8_BOM = b"\xef\xbb\xbf"
# English column names for variable texts seen in StatFin tables (fi, sv and en texts, lower case).
DIMENSION_NAMES: Mapping[str, str] = {
    "käyttövoima": "driving_power",
    "drivkraft": "driving_power",
    "driving power": "driving_power",
    "ajoneuvoluokka": "vehicle_class",
    "fordonsklass": "vehicle_class",
    "vehicle class": "vehicle_class",
    "sukupuoli": "sex",
    "kön": "sex",
    "sex": "sex",
    "ikä": "age",
    "ålder": "age",
    "age": "age",
    "merkki": "make",
    "märke": "make",
    "make": "make",
    "käyttöönottovuosi": "first_registration_year",
    "ibruktagningsår": "first_registration_year",
    "year of first registration": "first_registration_year",
    "liikennekäyttö": "traffic_use",
}
RESERVED_COLUMNS = frozenset({"area", "period", "value", "flag", "unit", "measure"})

# Where a point-in-time table's reference date may be read (see the module docstring).
ReferencePlace = Literal["title", "note", "updated"]
REFERENCE_PLACES: tuple[ReferencePlace, ...] = ("title", "note", "updated")

# One POST's selection: (variable code, selected value codes) in metadata order.
Selection = tuple[tuple[str, tuple[str, ...]], ...]


class PxWebOptions(pydantic.BaseModel):
    """The pxweb protocol's catalogue options (see the module docstring)."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    unit: str
    content: str | list[str] | None = None
    area: Literal["all_municipalities"] | list[str] = "all_municipalities"
    keep_country: bool = False
    variables: dict[str, Literal["all"] | list[str]] = pydantic.Field(default_factory=dict)
    required_values: dict[str, list[str]] = pydantic.Field(default_factory=dict)
    strict_variables: bool = False
    since: str | None = None
    cell_limit: int = pydantic.Field(default=DEFAULT_CELL_LIMIT, ge=1)
    point_in_time: bool = False
    reference_date: list[ReferencePlace] = pydantic.Field(
        default_factory=lambda: list(REFERENCE_PLACES), min_length=1
    )
    measure: str | None = None


@dataclass(frozen=True)
class Variable:
    """One variable of a PxWeb table, as the metadata describes it."""

    code: str
    text: str
    values: tuple[str, ...]
    value_texts: tuple[str, ...]
    elimination: bool = False
    time: bool = False

    def describe(self) -> str:
        return f"{self.code!r} ({self.text})"


@dataclass(frozen=True)
class TableMetadata:
    """A PxWeb table's metadata: its title and variables."""

    title: str
    variables: tuple[Variable, ...]


@dataclass(frozen=True)
class TableLayout:
    """The roles of a table's variables: area, time, content and the others (metadata order).

    `time` is None for a point-in-time table; `content` is None for a table without a content variable.
    """

    area: Variable
    time: Variable | None
    content: Variable | None
    others: tuple[Variable, ...]
    order: tuple[str, ...]  # every variable code in metadata order


def read_options(spec: DatasetSpec) -> PxWebOptions:
    """Validate the dataset's options; a typo or a wrong type is a ValidationError naming the option."""
    try:
        options = PxWebOptions.model_validate(spec.options)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise ValidationError(spec.id, "catalogue options", "valid pxweb options", problems) from None
    try:
        check_unit(options.unit)
    except UnitError as exc:
        raise ValidationError(spec.id, "catalogue options.unit", "a common.units unit", str(exc)) from None
    return options


def parse_metadata(source: str, body: bytes) -> TableMetadata:
    """Validate a table-metadata response {title, variables: [{code, text, values, valueTexts, …}]}.

    The answers for the last few bodies are kept (TableMetadata is immutable): a scheduler fetches the
    same metadata at every firing of a table, and parses it again when the table has changed."""
    return _parse_metadata(source, body)


@functools.lru_cache(maxsize=16)
def _parse_metadata(source: str, body: bytes) -> TableMetadata:
    try:
        doc = jsondecode.loads(body.removeprefix(_UTF8_BOM), source, "metadata")
    except orjson.JSONDecodeError as exc:
        raise ValidationError(source, "metadata", "PxWeb table metadata (JSON)", str(exc)) from None
    if not isinstance(doc, dict):
        raise ValidationError(
            source,
            "metadata",
            "a table-metadata object {title, variables} (is the URL a table .px, not a folder?)",
            type(doc).__name__,
        )
    title = doc.get("title")
    if not isinstance(title, str):
        raise ValidationError(source, "metadata.title", "a string", repr(title))
    raw_variables = doc.get("variables")
    if not isinstance(raw_variables, list) or not raw_variables:
        raise ValidationError(source, "metadata.variables", "a non-empty list", repr(raw_variables))
    variables = tuple(_variable(source, index, raw) for index, raw in enumerate(raw_variables))
    codes = [v.code for v in variables]
    if len(set(codes)) != len(codes):
        raise ValidationError(source, "metadata.variables[].code", "unique codes", ", ".join(codes))
    return TableMetadata(title=title, variables=variables)


def _variable(source: str, index: int, raw: object) -> Variable:
    path = f"metadata.variables[{index}]"
    if not isinstance(raw, dict):
        raise ValidationError(source, path, "an object", type(raw).__name__)
    code, text = raw.get("code"), raw.get("text")
    if not isinstance(code, str) or not code:
        raise ValidationError(source, f"{path}.code", "a non-empty string", repr(code))
    if not isinstance(text, str):
        raise ValidationError(source, f"{path}.text", "a string", repr(text))
    values, texts = raw.get("values"), raw.get("valueTexts")
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise ValidationError(source, f"{path}.values ({code})", "a non-empty list of strings", repr(values))
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise ValidationError(source, f"{path}.valueTexts ({code})", "a list of strings", repr(texts))
    if len(texts) != len(values):
        raise ValidationError(
            source, f"{path}.valueTexts ({code})", f"{len(values)} texts (one per value)", str(len(texts))
        )
    if len(set(values)) != len(values):
        raise ValidationError(source, f"{path}.values ({code})", "unique value codes", "duplicates")
    flags: dict[str, bool] = {}
    for key in ("elimination", "time"):
        flag = raw.get(key, False)
        if not isinstance(flag, bool):
            raise ValidationError(source, f"{path}.{key} ({code})", "true or false", repr(flag))
        flags[key] = flag
    return Variable(code, text, tuple(values), tuple(texts), flags["elimination"], flags["time"])


def identify_layout(source: str, meta: TableMetadata, options: PxWebOptions) -> TableLayout:
    """Find the time, content and area variables; raise ValidationError naming what is missing."""
    found = ", ".join(v.describe() for v in meta.variables)
    times = [v for v in meta.variables if v.time]
    time: Variable | None
    if options.point_in_time:
        if times:
            raise ValidationError(
                source,
                "metadata.variables",
                "no time variable (options.point_in_time: the period is the table's reference date)",
                f"time variable {times[0].describe()}",
            )
        time = None
    elif len(times) != 1:
        raise ValidationError(
            source,
            "metadata.variables",
            'exactly one time variable ("time": true), or options.point_in_time for a table without one',
            f"{len(times)} among {found}",
        )
    else:
        time = times[0]
    rest = [v for v in meta.variables if v is not time]

    contents = [v for v in rest if v.code.lower() == CONTENT_CODE]
    if not contents:
        contents = [v for v in rest if v.text.strip().lower() in CONTENT_TEXTS]
    if len(contents) > 1 or (not contents and options.measure is None):
        raise ValidationError(
            source,
            "metadata.variables",
            f"one content variable (code {CONTENT_CODE!r} or text Tiedot/Uppgifter/Information), "
            "or options.measure for a table without one",
            f"{len(contents)} among {found}",
        )
    content = contents[0] if contents else None
    if content is not None and options.measure is not None:
        raise ValidationError(
            source,
            "catalogue options.measure",
            "no measure name: it is only for a table without a content variable",
            f"content variable {content.describe()}",
        )
    rest = [v for v in rest if v is not content]

    areas = [v for v in rest if v.text.strip().lower() in AREA_TEXTS]
    if not areas:
        areas = [v for v in rest if v.code.lower().startswith(AREA_CODE_PREFIXES)]
    if not areas:
        areas = [v for v in rest if any(MUNICIPALITY.match(x) or x == COUNTRY_CODE for x in v.values)]
    if len(areas) != 1:
        raise ValidationError(
            source,
            "metadata.variables",
            "one area variable (text Alue/Område/Area, or values like KU049 / SSS)",
            f"{len(areas)} among {found}",
        )
    area = areas[0]
    others = tuple(v for v in rest if v is not area)
    _check_other_variables(source, others, options)
    return TableLayout(area, time, content, others, tuple(v.code for v in meta.variables))


def _find(name: str, variables: Sequence[Variable]) -> Variable | None:
    wanted = name.strip().lower()
    for variable in variables:
        if wanted in (variable.code.lower(), variable.text.strip().lower()):
            return variable
    return None


def _check_other_variables(source: str, others: Sequence[Variable], options: PxWebOptions) -> None:
    found = ", ".join(v.describe() for v in others) or "none"
    named: set[str] = set()
    for name in [*options.variables, *options.required_values]:
        variable = _find(name, others)
        if variable is None:
            raise ValidationError(
                source,
                "metadata.variables",
                f"a variable {name!r} (by code or text) besides area, time and content",
                f"the other variables are: {found}",
            )
        named.add(variable.code)
    for name, required in options.required_values.items():
        variable = _find(name, others)
        assert variable is not None
        missing = [code for code in required if code not in variable.values]
        if missing:
            raise ValidationError(
                source,
                f"metadata variable {variable.describe()}",
                f"value codes {required}",
                f"missing {missing}; it has {list(variable.values)}",
            )
    if options.strict_variables:
        extra = [v.describe() for v in others if v.code not in named]
        if extra:
            listed = sorted(options.variables) or "none"
            raise ValidationError(
                source,
                "metadata.variables",
                f"no variables besides area, time, content and {listed}",
                f"unexpected {', '.join(extra)}",
            )


def content_prefix(url: str) -> str:
    """The database folder of a table URL (…/StatFin/vaerak/11ra.px → "vaerak"), '' if there is none."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    return parts[-2] if len(parts) >= 2 and parts[-1].endswith(".px") else ""


def _bare(code: str) -> str:
    return code.split("-", 1)[1] if "-" in code else code


def match_content(source: str, content: Variable, wanted: str) -> str:
    """The content value code for `wanted`, allowing a prefix on either side (`vaerak-vaesto` ~ `vaesto`)."""
    if wanted in content.values:
        return wanted
    candidates = [
        code
        for code in content.values
        if code.endswith("-" + wanted) or wanted.endswith("-" + code) or _bare(code) == _bare(wanted)
    ]
    if len(candidates) == 1:
        return candidates[0]
    expected = f"content value {wanted!r} (with or without a prefix such as 'vaerak-')"
    got = f"values of {content.describe()}: {list(content.values)}"
    if candidates:
        got = f"ambiguous: {candidates}; {got}"
    raise ValidationError(source, "metadata content variable", expected, got)


def build_selection(source: str, layout: TableLayout, options: PxWebOptions) -> Selection:
    """Which values of which variables to ask for (before splitting), from the metadata and options."""
    chosen: dict[str, tuple[str, ...]] = {}

    area = layout.area
    if options.area == "all_municipalities":
        areas = [code for code in area.values if MUNICIPALITY.match(code)]
        if not areas:
            raise ValidationError(
                source,
                f"metadata area variable {area.describe()}",
                "municipality codes like KU049",
                f"{list(area.values[:8])}…",
            )
    else:
        areas = []
        for wanted in options.area:
            code = f"KU{wanted}" if re.fullmatch(r"\d{3}", wanted) else wanted
            if code not in area.values:
                raise ValidationError(
                    source,
                    f"metadata area variable {area.describe()}",
                    f"area code {code!r} (from options.area {wanted!r})",
                    f"{list(area.values[:8])}…",
                )
            areas.append(code)
    if options.keep_country and COUNTRY_CODE not in areas:
        if COUNTRY_CODE not in area.values:
            raise ValidationError(
                source,
                f"metadata area variable {area.describe()}",
                f"the whole-country code {COUNTRY_CODE!r} (options.keep_country)",
                f"{list(area.values[:8])}…",
            )
        areas.insert(0, COUNTRY_CODE)
    chosen[area.code] = tuple(areas)

    if layout.time is not None:
        times = list(layout.time.values)
        if options.since is not None:
            times = [t for t in times if t[:4] >= options.since[:4]]
            if not times:
                raise ValidationError(
                    source,
                    f"metadata time variable {layout.time.describe()}",
                    f"periods from {options.since} (options.since)",
                    f"periods {layout.time.values[0]}…{layout.time.values[-1]}",
                )
        chosen[layout.time.code] = tuple(times)

    content = layout.content
    if content is None:
        if options.content is not None:
            raise ValidationError(
                source,
                "catalogue options.content",
                "no content value: the table has no content variable (use options.measure)",
                repr(options.content),
            )
    elif options.content is None:
        if len(content.values) != 1:
            raise ValidationError(
                source,
                "catalogue options.content",
                f"a content value code (the table has several: {list(content.values)})",
                "none",
            )
        chosen[content.code] = content.values
    else:
        contents = [options.content] if isinstance(options.content, str) else options.content
        chosen[content.code] = tuple(match_content(source, content, name) for name in contents)

    for variable in layout.others:
        spec = next(
            (sel for name, sel in options.variables.items() if _find(name, [variable]) is not None), None
        )
        if spec is None:
            if variable.elimination:
                continue  # eliminated: the service returns the total over this variable
            chosen[variable.code] = variable.values
        elif spec == "all":
            chosen[variable.code] = variable.values
        else:
            missing = [code for code in spec if code not in variable.values]
            if missing:
                raise ValidationError(
                    source,
                    f"metadata variable {variable.describe()}",
                    f"value codes {spec} (options.variables)",
                    f"missing {missing}; it has {list(variable.values)}",
                )
            chosen[variable.code] = tuple(spec)

    return tuple((code, chosen[code]) for code in layout.order if code in chosen)


def cell_count(selection: Selection) -> int:
    """How many cells a query asks for: the product of the numbers of selected values."""
    return math.prod(len(values) for _, values in selection)


def _replace(selection: Selection, code: str, values: tuple[str, ...]) -> Selection:
    return tuple((c, values if c == code else v) for c, v in selection)


def _chunks(values: tuple[str, ...], size: int) -> list[tuple[str, ...]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def split_selection(
    source: str, selection: Selection, layout: TableLayout, cell_limit: int
) -> list[Selection]:
    """Split a selection into queries of at most cell_limit cells: by time first, then by area."""
    if cell_count(selection) <= cell_limit:
        return [selection]
    values = dict(selection)
    areas = values[layout.area.code]
    if layout.time is None:
        per_area = cell_count(selection) // len(areas)
        if per_area > cell_limit:
            raise ValidationError(
                source,
                "query",
                f"at most {cell_limit} cells per area (options.cell_limit)",
                f"{per_area} cells: select fewer values of the other variables",
            )
        return [
            _replace(selection, layout.area.code, chunk) for chunk in _chunks(areas, cell_limit // per_area)
        ]
    times = values[layout.time.code]
    per_time = cell_count(selection) // len(times)
    if per_time <= cell_limit:
        return [
            _replace(selection, layout.time.code, chunk) for chunk in _chunks(times, cell_limit // per_time)
        ]
    per_area = per_time // len(areas)
    if per_area > cell_limit:
        raise ValidationError(
            source,
            "query",
            f"at most {cell_limit} cells per area and period (options.cell_limit)",
            f"{per_area} cells: select fewer values of the other variables",
        )
    parts: list[Selection] = []
    for time in times:
        one_time = _replace(selection, layout.time.code, (time,))
        for chunk in _chunks(areas, cell_limit // per_area):
            parts.append(_replace(one_time, layout.area.code, chunk))
    return parts


def halve_selection(selection: Selection, layout: TableLayout) -> tuple[Selection, Selection] | None:
    """Split a selection in two along time (or, with one period left, along area); None if impossible."""
    values = dict(selection)
    codes = [layout.area.code] if layout.time is None else [layout.time.code, layout.area.code]
    for code in codes:
        chosen = values[code]
        if len(chosen) > 1:
            middle = (len(chosen) + 1) // 2
            return _replace(selection, code, chosen[:middle]), _replace(selection, code, chosen[middle:])
    return None


def build_query(selection: Selection) -> dict[str, Any]:
    """The PxWeb v1 POST body for a selection, asking for JSON-stat 2.0."""
    return {
        "query": [
            {"code": code, "selection": {"filter": "item", "values": list(values)}}
            for code, values in selection
        ],
        "response": {"format": "json-stat2"},
    }


def _query_codes(payload: Payload) -> list[str]:
    """The variable codes a recorded POST asked for (from its canonical body)."""
    if payload.request.json_body is None:
        return []
    try:
        body = orjson.loads(payload.request.json_body)
        return [str(item["code"]) for item in body["query"]]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return []


def _snake(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^0-9a-z]+", "_", ascii_text.strip().lower()).strip("_") or "dimension"


def column_name(variable: Variable) -> str:
    """The output column for a variable other than area, time and content (by its text, else its code)."""
    name = (
        DIMENSION_NAMES.get(variable.text.strip().lower())
        or DIMENSION_NAMES.get(variable.code.strip().lower())
        or _snake(variable.code)
    )
    return f"{name}_code" if name in RESERVED_COLUMNS else name


def period_expr(column: str) -> pl.Expr:
    """PxWeb time codes to the frame's period: 2024 → 2024, 2024M05 → 2024-05, 2024Q1 → 2024-Q1."""
    return (
        pl.col(column)
        .str.replace(r"^(\d{4})M(\d{2})$", "${1}-${2}")
        .str.replace(r"^(\d{4})Q([1-4])$", "${1}-Q${2}")
    )


_MONTHS: Mapping[str, int] = {
    **{name: i for i, name in enumerate(calendar.month_name) if name},  # English
    **{name: i + 1 for i, name in enumerate(
        ["januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september",
         "oktober", "november", "december"]
    )},  # Swedish
    **{f"{name}kuuta": i + 1 for i, name in enumerate(
        ["tammi", "helmi", "maalis", "huhti", "touko", "kesä", "heinä", "elo", "syys", "loka",
         "marras", "joulu"]
    )},  # Finnish (30. syyskuuta 2024)
}  # fmt: skip
_MONTHS_LOWER = {name.lower(): number for name, number in _MONTHS.items()}
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_DOTTED_DATE = re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})\.(\d{4})(?!\d)")
_DAY_MONTH_YEAR = re.compile(r"(?<![\d.])(\d{1,2})(?:st|nd|rd|th|\.)?\s+([^\W\d_]+)\s+(\d{4})(?!\d)")
_MONTH_DAY_YEAR = re.compile(r"\b([^\W\d_]+)\s+(\d{1,2})(?:st|nd|rd|th)?,\s*(\d{4})(?!\d)")


def _calendar_date(year: int, month: int, day: int) -> date | None:
    """The date, or None; a day past the month's end (e.g. "31 June") is read as the month's last day."""
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        return None
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def dates_in(text: str) -> list[date]:
    """Every distinct date written in a text (ISO, d.m.yyyy, or with a month name in en, sv or fi)."""
    found: list[date | None] = []
    found += [_calendar_date(int(y), int(m), int(d)) for y, m, d in _ISO_DATE.findall(text)]
    found += [_calendar_date(int(y), int(m), int(d)) for d, m, y in _DOTTED_DATE.findall(text)]
    for d, name, y in _DAY_MONTH_YEAR.findall(text):
        if name.lower() in _MONTHS_LOWER:
            found.append(_calendar_date(int(y), _MONTHS_LOWER[name.lower()], int(d)))
    for name, d, y in _MONTH_DAY_YEAR.findall(text):
        if name.lower() in _MONTHS_LOWER:
            found.append(_calendar_date(int(y), _MONTHS_LOWER[name.lower()], int(d)))
    return sorted({d for d in found if d is not None})


def _updated_date(updated: str) -> date | None:
    try:
        moment = datetime.fromisoformat(updated.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(HELSINKI).date() if moment.tzinfo is not None else moment.date()


def reference_date(source: str, places: Sequence[str], title: str, dataset: JsonStatDataset) -> date:
    """A point-in-time table's reference date, from the first of `places` that holds exactly one date.

    title: the metadata title, else the JSON-stat label; note: the JSON-stat notes; updated: the JSON-stat
    `updated` timestamp as a Helsinki date. None found (or several in one place) raises ValidationError.
    """
    seen: list[str] = []
    for place in places:
        if place == "updated":
            day = _updated_date(dataset.updated) if dataset.updated else None
            if day is not None:
                return day
            seen.append(f"updated {dataset.updated!r}")
            continue
        texts = [title, dataset.label or ""] if place == "title" else [" ".join(dataset.note)]
        for text in texts:
            days = dates_in(text)
            if len(days) == 1:
                return days[0]
            if len(days) > 1:
                raise ValidationError(
                    source,
                    f"reference date ({place})",
                    "one date: the table's reference date (a point-in-time table)",
                    f"{', '.join(d.isoformat() for d in days)} in {text[:160]!r}",
                )
        seen.append(f"{place} {' / '.join(repr(t[:120]) for t in texts if t) or 'empty'}")
    raise ValidationError(
        source,
        "reference date",
        f"a date in the {', '.join(places)} of the answer (options.reference_date; a point-in-time "
        "table's period is its reference date)",
        "no date in " + "; ".join(seen),
    )


class PxWebConnector(Connector):
    """Statistics Finland PxWeb v1 tables: metadata GET, split json-stat2 POSTs, normalised frame."""

    protocol: ClassVar[str] = "pxweb"
    reader_version: ClassVar[str] = "pxweb-1"

    @staticmethod
    def is_data_request(method: str, url: str) -> bool:
        """The POSTed queries hold the values; the GET of the table's metadata only describes them."""
        return method.upper() == "POST"

    def fetch(self, spec: DatasetSpec, fetcher: Fetcher) -> list[Payload]:
        """GET the metadata, then POST the (split) queries; payloads in request order, metadata first."""
        options = read_options(spec)
        metadata_payload = fetcher.get(spec.id, spec.url)
        layout = identify_layout(spec.id, parse_metadata(spec.id, metadata_payload.body), options)
        selection = build_selection(spec.id, layout, options)
        payloads = [metadata_payload]
        for part in split_selection(spec.id, selection, layout, options.cell_limit):
            payloads.extend(self._post(spec, fetcher, layout, part))
        return payloads

    def _post(
        self, spec: DatasetSpec, fetcher: Fetcher, layout: TableLayout, part: Selection
    ) -> list[Payload]:
        """POST one query; on HTTP 403 (too many cells) halve it and POST the halves."""
        try:
            return [fetcher.post_json(spec.id, spec.url, build_query(part))]
        except TooManyCellsError as exc:
            halves = halve_selection(part, layout)
            if halves is None:  # refused at its smallest: not for its size
                raise FetchError(
                    spec.id,
                    f"POST {spec.url}",
                    "a query the service permits",
                    f"{exc.got}, also for a query of one period and one area, which cannot be split: "
                    "the service refuses this network or client, not the query's size",
                ) from exc
            return [p for half in halves for p in self._post(spec, fetcher, layout, half)]
        except HttpError as exc:
            if exc.status != 400:
                raise
            codes = ", ".join(code for code, _ in part)
            raise FetchError(
                spec.id,
                f"POST {spec.url}",
                "a query the table accepts (HTTP 400 usually means variable or value codes the table "
                "no longer has, e.g. names from before the June 2026 change)",
                f"HTTP 400 for variables {codes}: {exc.got}",
            ) from exc

    def parse(self, spec: DatasetSpec, payloads: Sequence[Payload]) -> pl.DataFrame:
        """The metadata payload plus the json-stat2 responses → one normalised observation frame."""
        options = read_options(spec)
        metadata = [p for p in payloads if p.request.method.upper() == "GET"]
        data = [p for p in payloads if p.request.method.upper() == "POST"]
        if len(metadata) != 1:
            raise ValidationError(spec.id, "payloads", "one metadata GET", f"{len(metadata)}")
        if not data:
            raise ValidationError(spec.id, "payloads", "at least one json-stat2 POST response", "none")
        meta = parse_metadata(spec.id, metadata[0].body)
        layout = identify_layout(spec.id, meta, options)
        frames = [self._parse_data(spec, options, layout, meta.title, payload) for payload in data]
        columns = frames[0].columns
        for frame in frames[1:]:
            if frame.columns != columns:
                raise ValidationError(
                    spec.id, "json-stat2 dimensions", f"the same columns {columns}", str(frame.columns)
                )
        frame = pl.concat(frames, how="vertical")
        if layout.time is None and frame.get_column("period").n_unique() > 1:
            raise ValidationError(
                spec.id,
                "reference date",
                "one reference date across the split responses (a point-in-time table)",
                ", ".join(frame.get_column("period").unique().sort().to_list()),
            )
        frame = within_division(spec.id, frame)
        keys = [c for c in columns if c not in ("value", "flag")]
        duplicated = frame.filter(frame.select(keys).is_duplicated())
        if duplicated.height:
            raise ValidationError(
                spec.id,
                "observations",
                "each (area, period, …) once across the split responses",
                str(duplicated.select(keys).head(3).rows()),
            )
        sort_keys = [c for c in columns if c not in ("period", "value", "flag", "unit")] + ["period"]
        return frame.sort(sort_keys)

    def _parse_data(
        self,
        spec: DatasetSpec,
        options: PxWebOptions,
        layout: TableLayout,
        title: str,
        payload: Payload,
    ) -> pl.DataFrame:
        source = spec.id
        dataset = read_jsonstat(payload.body, source=source)  # JsonStatError is a ValidationError
        ids = list(dataset.dimension_ids)
        expected = _query_codes(payload) or [c for c in layout.order if c in ids]
        missing = [code for code in expected if code not in ids]
        # A table without a content variable may still answer with a one-category content dimension.
        tolerated = [
            c for c in ids if c not in expected and layout.content is None and len(dataset.labels[c]) == 1
        ]
        if missing or len(ids) != len(expected) + len(tolerated):
            raise ValidationError(
                source,
                "json-stat2 id",
                f"the queried variables {expected}",
                f"{ids} (missing {missing})" if missing else str(ids),
            )
        roles = [layout.area, layout.time, layout.content]
        for code in (v.code for v in roles if v is not None):
            if code not in ids:
                raise ValidationError(source, "json-stat2 id", f"dimension {code!r}", str(ids))

        others = [v for v in layout.others if v.code in ids]
        frame = dataset.frame
        area = pl.col(layout.area.code)
        digits = area.str.extract(r"^KU(\d{3})$", 1)
        area_out = (
            pl.when(digits.is_not_null())
            .then(digits)
            .when(area == COUNTRY_CODE)
            .then(pl.lit("FI"))
            .otherwise(area)
        )
        if not options.keep_country:
            frame = frame.filter(area != COUNTRY_CODE)
        measure: pl.Expr
        if layout.content is None:
            measure = pl.lit(options.measure, dtype=pl.Utf8)
        else:
            prefix = content_prefix(spec.url)
            content = pl.col(layout.content.code)
            measure = content.str.strip_prefix(f"{prefix}-") if prefix else content
        if layout.time is None:
            day = reference_date(source, options.reference_date, title, dataset)
            period = pl.lit(day.strftime(REFERENCE_PERIOD_FORMAT), dtype=pl.Utf8)
        else:
            period = period_expr(layout.time.code)
        status = pl.col("status")
        value = (
            pl.when(status.is_in(list(MISSING_MARKS)))
            .then(pl.lit(None, dtype=pl.Float64))
            .when((status == NIL_MARK) & pl.col("value").is_null())
            .then(pl.lit(0.0))
            .otherwise(pl.col("value").cast(pl.Float64))
        )
        names = [column_name(v) for v in others]
        if len(set(names)) != len(names):
            raise ValidationError(source, "metadata.variables", "distinct column names", str(names))
        return frame.select(
            area_out.alias("area"),
            period.alias("period"),
            value.alias("value"),
            status.cast(pl.Utf8).alias("flag"),
            pl.lit(options.unit, dtype=pl.Utf8).alias("unit"),
            measure.alias("measure"),
            *[pl.col(v.code).cast(pl.Utf8).alias(name) for v, name in zip(others, names, strict=True)],
        )
