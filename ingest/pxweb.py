"""PxWeb v1 connector (Statistics Finland StatFin): queries built from table metadata, JSON-stat 2 parsed.

How it works: GET the table metadata, find the area, time and content variables in it (by role, text or
value pattern, never by hard-coded code: the June 2026 change renamed every code), POST a json-stat2 query
built from those codes, split so that no query asks for more than `cell_limit` cells, and halve a query
again whenever the service answers HTTP 403 (too many cells).

Catalogue options (`[datasets.X] options`):
- `content`: content value code(s) to fetch, matched with or without the table prefix
  (`vaerak-vaesto` matches `vaesto` and vice versa); optional when the table has one content value.
- `unit`: the kestava.units unit of every value (required).
- `area`: "all_municipalities" (every `KU###` value) or a list of municipality numbers / area codes.
- `keep_country`: also fetch the whole-country total `SSS`, stored as area "FI" (default false).
- `variables`: {variable code or text: "all" | [value codes]} for the table's other variables; an unnamed
  non-eliminable variable gets all its values, an unnamed eliminable one is eliminated (its total).
- `required_values`: {variable: [value codes]} that must exist in the metadata (layout check).
- `strict_variables`: fail when the table has other variables than those named in `variables`.
- `since`: first time period to fetch (compared on the leading year).
- `cell_limit`: most cells per POST (default 100 000). StatFin's real limit is not published per table
  and has varied over time (**unverified**); the connector also halves on HTTP 403.

Output: the normalised observation frame; `measure` is the content code without its database prefix
(`vaerak-vaesto` → `vaesto`), other variables become columns named by DIMENSION_NAMES (English names
of known variable texts) or else by the snake_case of the variable code.

Assumed layout of mkan/11ic (**unverified**, the table was not reachable when this was written):
variables area (`alue_…`, text "Alue", values `KU###`), driving power (text "Käyttövoima", values
`YH` total, `01` petrol, `02` diesel, `04` electric, `06` gas, `39` petrol/electric plug-in hybrid,
`44` diesel/electric plug-in hybrid, `MUU` other), time (`time: true`, years) and contents
(`contentscode`, e.g. `mkan-henkiloautot` passenger cars in traffic). The catalogue entry requires the
driving-power variable and the codes 01, 02, 04, 39 and 44 and forbids other variables, so another
layout fails with a message naming the variable or value that was expected.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

import orjson
import polars as pl
import pydantic

from ingest.catalogue import DatasetSpec
from ingest.errors import FetchError, ValidationError
from ingest.http import HttpError, TooManyCellsError
from ingest.jsonstat import read_jsonstat
from ingest.payload import Fetcher, Payload
from kestava.units import UnitError, check_unit

__all__ = [
    "DEFAULT_CELL_LIMIT",
    "DIMENSION_NAMES",
    "PxWebConnector",
    "PxWebOptions",
    "Selection",
    "TableLayout",
    "TableMetadata",
    "Variable",
    "build_query",
    "build_selection",
    "cell_count",
    "halve_selection",
    "identify_layout",
    "parse_metadata",
    "read_options",
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
}
RESERVED_COLUMNS = frozenset({"area", "period", "value", "flag", "unit", "measure"})

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
    """The roles of a table's variables: area, time, content and the others (metadata order)."""

    area: Variable
    time: Variable
    content: Variable
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
        raise ValidationError(spec.id, "catalogue options.unit", "a kestava.units unit", str(exc)) from None
    return options


def parse_metadata(source: str, body: bytes) -> TableMetadata:
    """Validate a table-metadata response {title, variables: [{code, text, values, valueTexts, …}]}."""
    try:
        doc = orjson.loads(body)
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
    if len(times) != 1:
        raise ValidationError(
            source,
            "metadata.variables",
            'exactly one time variable ("time": true)',
            f"{len(times)} among {found}",
        )
    time = times[0]
    rest = [v for v in meta.variables if v is not time]

    contents = [v for v in rest if v.code.lower() == CONTENT_CODE]
    if not contents:
        contents = [v for v in rest if v.text.strip().lower() in CONTENT_TEXTS]
    if len(contents) != 1:
        raise ValidationError(
            source,
            "metadata.variables",
            f"one content variable (code {CONTENT_CODE!r} or text Tiedot/Uppgifter/Information)",
            f"{len(contents)} among {found}",
        )
    content = contents[0]
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
    if options.content is None:
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
    times, areas = values[layout.time.code], values[layout.area.code]
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
    for code in (layout.time.code, layout.area.code):
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
    return re.sub(r"[^0-9a-z]+", "_", text.strip().lower()).strip("_") or "dimension"


def column_name(variable: Variable) -> str:
    """The output column for a variable other than area, time and content."""
    name = DIMENSION_NAMES.get(variable.text.strip().lower()) or _snake(variable.code)
    return f"{name}_code" if name in RESERVED_COLUMNS else name


def period_expr(column: str) -> pl.Expr:
    """PxWeb time codes to the frame's period: 2024 → 2024, 2024M05 → 2024-05, 2024Q1 → 2024-Q1."""
    return (
        pl.col(column)
        .str.replace(r"^(\d{4})M(\d{2})$", "${1}-${2}")
        .str.replace(r"^(\d{4})Q([1-4])$", "${1}-Q${2}")
    )


class PxWebConnector:
    """Statistics Finland PxWeb v1 tables: metadata GET, split json-stat2 POSTs, normalised frame."""

    protocol: ClassVar[str] = "pxweb"
    reader_version: ClassVar[str] = "pxweb-1"

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
        except TooManyCellsError:
            halves = halve_selection(part, layout)
            if halves is None:
                raise
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
        layout = identify_layout(spec.id, parse_metadata(spec.id, metadata[0].body), options)
        frames = [self._parse_data(spec, options, layout, payload) for payload in data]
        columns = frames[0].columns
        for frame in frames[1:]:
            if frame.columns != columns:
                raise ValidationError(
                    spec.id, "json-stat2 dimensions", f"the same columns {columns}", str(frame.columns)
                )
        frame = pl.concat(frames, how="vertical")
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
        self, spec: DatasetSpec, options: PxWebOptions, layout: TableLayout, payload: Payload
    ) -> pl.DataFrame:
        source = spec.id
        dataset = read_jsonstat(payload.body, source=source)  # JsonStatError is a ValidationError
        ids = list(dataset.dimension_ids)
        expected = _query_codes(payload) or [c for c in layout.order if c in ids]
        missing = [code for code in expected if code not in ids]
        if missing or len(ids) != len(expected):
            raise ValidationError(
                source,
                "json-stat2 id",
                f"the queried variables {expected}",
                f"{ids} (missing {missing})" if missing else str(ids),
            )
        for code in (layout.area.code, layout.time.code, layout.content.code):
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
        prefix = content_prefix(spec.url)
        content = pl.col(layout.content.code)
        measure = content.str.strip_prefix(f"{prefix}-") if prefix else content
        period = period_expr(layout.time.code)
        status = pl.col("status")
        value = (
            pl.when(status.is_in(list(MISSING_MARKS)))
            .then(pl.lit(None, dtype=pl.Float64))
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
