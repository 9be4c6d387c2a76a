"""Eurostat dissemination API connector: JSON-stat 2.0 with sparse values, status flags kept, units mapped.

Request: `GET {url}?format=JSON&lang=EN&geo=FI&geo=EU27_2020[&<dim>=<code>…]&sinceTimePeriod=2000`
(filters are repeated query parameters, in the order the catalogue gives them).

Catalogue options (`[datasets.X] options`):
- `geo`: geo codes to request, in order (required when the area dimension is `geo`, else not allowed).
- `area_dimension` (default `geo`): the dimension holding the areas, e.g. `cities` in the Urban Audit
  city statistics (`urb_cenv`, `urb_ctran`, `urb_cpop1`), which are requested without any area parameter.
- `peer_source` (e.g. `urban_audit`) and `peer_code_suffix` (e.g. `C`, a city rather than its greater city
  `K` or functional urban area `F`): the area dimension's codes are resolved to the peer cities of
  ingest/peers.toml by their LABELS ("Espoo/Esbo") with `ingest.peers.resolve_codes`; only peers are kept,
  `area` is the peer's area and a column `city_code` keeps Eurostat's code. The home city absent from the
  labels is a ValidationError naming it.
- `since`: first time period (`sinceTimePeriod`), optional.
- `filters`: {dimension: [codes]} the series to take: sent as repeated query parameters (sorted by
  dimension) AND applied to the answer (Eurostat may ignore a filter it does not know, so the answer is
  checked: a filtered dimension that is absent, or holds none of the codes, is a ValidationError).
- `single_series` (default true): after the filters, every dimension other than geo, time and unit must
  hold one code, i.e. one series per geo and unit. Several (e.g. sdg_13_10's two `src_crf` series, with
  and without LULUCF, or sdg_07_40's four `nrg_bal` series) is a ValidationError listing the dimensions and
  their codes, so a catalogue entry chooses its series on purpose instead of an indicator summing them.
- `ghg`: the dataset measures greenhouse gases, so mass units are tonnes of CO2 equivalent
  (GHG_UNIT_CODES overrides UNIT_CODES).
- `units`: {Eurostat unit code: kestava unit} overrides for this dataset.
- `unit`: the kestava unit when the dataset has no `unit` dimension.
- `indicator_units`: {indicator code: kestava unit} when the dataset has no `unit` dimension and each
  indicator of `indicator_dimension` (default `indic_ur`) has its own unit, e.g. `{ EN4008V = "thousand
  tonnes", EN5205V = "%" }`. An indicator of the answer without an entry is a ValidationError naming it.
  The indicator dimension then tells series apart like `unit` does (the one-series check skips it).

Output: the normalised observation frame; area = geo code (or the peer's area, see `peer_source`),
period = time code, flag = Eurostat status
(p provisional, e estimated, b break, d definition differs, u low reliability, : not available);
`unit` is the kestava unit and `unit_code` keeps Eurostat's unit code (so I90 and I15 stay distinct
series); every other dimension (freq, nace_r2, src_crf, wst_oper, …) is a column of codes.
Cells absent from the sparse `value` object without a status are not observations and are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import ClassVar

import orjson
import polars as pl
import pydantic

from common.payload import Fetcher, Payload
from common.units import UnitError, check_unit
from ingest import jsondecode
from ingest.catalogue import DatasetSpec
from ingest.connector import Connector
from ingest.errors import FetchError, ValidationError
from ingest.http import HttpError, check_not_html
from ingest.jsonstat import JsonStatDataset, read_jsonstat
from ingest.peers import Candidate, PeerSource, resolve_codes

__all__ = [
    "GHG_UNIT_CODES",
    "UNIT_CODES",
    "EurostatConnector",
    "EurostatOptions",
    "check_single_series",
    "error_message",
    "read_options",
    "request_params",
    "select_series",
    "unit_mapping",
]

# Eurostat unit codes → common.units, for units whose meaning does not depend on the dataset.
UNIT_CODES: Mapping[str, str] = {
    "PC": "%",  # percentage
    "KG_HAB": "kg per resident",  # kilograms per capita
    "I90": "index",  # index, 1990 = 100
    "I00": "index",
    "I05": "index",
    "I10": "index",
    "I15": "index",
    "I20": "index",
    "I21": "index",
    "THS_T": "thousand tonnes",
}
# Datasets measuring greenhouse gases (options.ghg): masses are CO2 equivalents.
GHG_UNIT_CODES: Mapping[str, str] = {
    "T": "t CO2e",
    "THS_T": "kt CO2e",
    "MIO_T": "Mt CO2e",
    "T_HAB": "t CO2e per resident",
    "I90": "index",
}
RESERVED_COLUMNS = frozenset({"area", "period", "value", "flag", "unit", "unit_code", "city_code"})


class EurostatOptions(pydantic.BaseModel):
    """The eurostat protocol's catalogue options (see the module docstring)."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    geo: list[str] = pydantic.Field(default_factory=list)
    area_dimension: str = "geo"
    peer_source: PeerSource | None = None
    peer_code_suffix: str | None = None
    since: str | None = None
    filters: dict[str, list[str]] = pydantic.Field(default_factory=dict)
    ghg: bool = False
    units: dict[str, str] = pydantic.Field(default_factory=dict)
    unit: str | None = None
    indicator_dimension: str = "indic_ur"
    indicator_units: dict[str, str] = pydantic.Field(default_factory=dict)
    single_series: bool = True

    @pydantic.model_validator(mode="after")
    def _areas(self) -> EurostatOptions:
        if self.area_dimension == "geo" and not self.geo:
            raise ValueError("geo: at least one geo code (the area dimension is geo)")
        if self.area_dimension != "geo" and self.geo:
            raise ValueError(f"geo: not allowed when the area dimension is {self.area_dimension!r}")
        if self.peer_code_suffix is not None and self.peer_source is None:
            raise ValueError("peer_code_suffix needs peer_source")
        return self


def read_options(spec: DatasetSpec) -> EurostatOptions:
    """Validate the dataset's options; a typo or a wrong type is a ValidationError naming the option."""
    try:
        options = EurostatOptions.model_validate(spec.options)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise ValidationError(spec.id, "catalogue options", "valid eurostat options", problems) from None
    named = [
        *[(f"units {code}", unit) for code, unit in options.units.items()],
        *[(f"indicator_units {code}", unit) for code, unit in options.indicator_units.items()],
        *([("unit", options.unit)] if options.unit else []),
    ]
    for name, unit in named:
        try:
            check_unit(unit)
        except UnitError as exc:
            raise ValidationError(spec.id, f"catalogue options.{name}", "a kestava unit", str(exc)) from None
    return options


def request_params(options: EurostatOptions) -> list[tuple[str, str]]:
    """The query parameters as an ordered list of pairs (geo repeated, in the catalogue's order)."""
    params = [("format", "JSON"), ("lang", "EN")]
    params += [("geo", code) for code in options.geo]
    for dimension in sorted(options.filters):
        params += [(dimension, code) for code in options.filters[dimension]]
    if options.since is not None:
        params.append(("sinceTimePeriod", options.since))
    return params


def unit_mapping(options: EurostatOptions) -> dict[str, str]:
    """Eurostat unit code → kestava unit for a dataset: general table, GHG table, then overrides."""
    mapping = dict(UNIT_CODES)
    if options.ghg:
        mapping.update(GHG_UNIT_CODES)
    mapping.update(options.units)
    return mapping


def error_message(doc: object) -> str | None:
    """The text of a Eurostat error body ({"error": {"status", "id", "label"}} or a list of those)."""
    if not isinstance(doc, dict) or "error" not in doc:
        return None
    error = doc["error"]
    items = error if isinstance(error, list) else [error]
    parts = []
    for item in items:
        if isinstance(item, dict):
            status, code, label = item.get("status"), item.get("id"), item.get("label")
            text = " ".join(str(x) for x in (f"status {status}" if status is not None else None, label) if x)
            parts.append(f"{text} (error id {code})" if code is not None else text)
        else:
            parts.append(str(item))
    return "; ".join(parts) or "an empty error object"


def _error_from_got(got: str | None) -> str | None:
    """The Eurostat error label inside a fetcher error's "HTTP 400 Bad Request: {…}" text, if any."""
    if not got:
        return None
    match = re.search(r"\{.*", got)
    if match is None:
        return None
    try:
        return error_message(orjson.loads(match[0]))
    except orjson.JSONDecodeError:
        label = re.search(r'"label"\s*:\s*"([^"]*)', match[0])
        return label[1] if label else None


def select_series(
    source: str, options: EurostatOptions, ids: Sequence[str], frame: pl.DataFrame
) -> pl.DataFrame:
    """Keep the rows of options.filters; a filtered dimension absent or without any chosen code raises."""
    for dimension in sorted(options.filters):
        wanted = options.filters[dimension]
        if dimension not in ids:
            raise ValidationError(
                source,
                "id",
                f"a dimension {dimension!r} (options.filters selects {wanted} in it)",
                f"dimensions {list(ids)}",
            )
        present = frame.get_column(dimension).unique().sort().to_list()
        if not set(wanted) & set(present):
            raise ValidationError(
                source,
                f"dimension {dimension}",
                f"the codes {wanted} (options.filters)",
                f"only {present}",
            )
        frame = frame.filter(pl.col(dimension).is_in(wanted))
    return frame


def check_single_series(
    source: str, ids: Sequence[str], frame: pl.DataFrame, *, exclude: Sequence[str] = ("geo",)
) -> None:
    """One series per area and unit: every other dimension must hold a single code after the filters.

    `exclude` names the dimensions that tell series apart besides time and unit (the area dimension and,
    with indicator_units, the indicator dimension).
    """
    several = {
        dimension: frame.get_column(dimension).unique().sort().to_list()
        for dimension in ids
        if dimension not in ("time", "unit", *exclude)
    }
    several = {dimension: codes for dimension, codes in several.items() if len(codes) > 1}
    if several:
        listed = "; ".join(f"{dimension}: {', '.join(codes)}" for dimension, codes in several.items())
        raise ValidationError(
            source,
            "series",
            "one series per geo and unit (choose one code of every other dimension with options.filters)",
            f"several series, by {listed}",
        )


class EurostatConnector(Connector):
    """Eurostat statistics API datasets: one filtered JSON-stat GET, parsed into a normalised frame."""

    protocol: ClassVar[str] = "eurostat"
    reader_version: ClassVar[str] = "eurostat-1"

    def fetch(self, spec: DatasetSpec, fetcher: Fetcher) -> list[Payload]:
        """One GET with the dataset's filters; Eurostat's error label is put into the FetchError."""
        params = request_params(read_options(spec))
        try:
            return [fetcher.get(spec.id, spec.url, params=params)]
        except HttpError as exc:
            label = _error_from_got(exc.got)
            if label is None:
                raise
            raise FetchError(
                spec.id,
                f"GET {spec.url}",
                "a dataset (Eurostat answered with an error)",
                f"HTTP {exc.status}: {label}",
            ) from exc

    def parse(self, spec: DatasetSpec, payloads: Sequence[Payload]) -> pl.DataFrame:
        """Each payload → observations; several payloads are concatenated."""
        options = read_options(spec)
        if not payloads:
            raise ValidationError(spec.id, "payloads", "at least one JSON-stat response", "none")
        frames = [self._parse_one(spec, options, payload) for payload in payloads]
        frame = pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]
        keys = [c for c in frame.columns if c not in ("value", "flag")]
        if frame.select(keys).is_duplicated().any():
            raise ValidationError(spec.id, "observations", "each (geo, time, …) once", "duplicates")
        return frame.sort(
            [c for c in frame.columns if c not in ("period", "value", "flag", "unit")] + ["period"]
        )

    def _parse_one(self, spec: DatasetSpec, options: EurostatOptions, payload: Payload) -> pl.DataFrame:
        source = spec.id
        check_not_html(source, payload.headers, payload.body)
        try:
            doc = jsondecode.loads(payload.body, source)
        except orjson.JSONDecodeError as exc:
            raise ValidationError(
                source, "body", "JSON-stat 2.0 JSON", f"{exc}: {payload.body[:80]!r}"
            ) from None
        message = error_message(doc)
        if message is not None:
            raise FetchError(
                source,
                "error",
                f"a JSON-stat dataset (Eurostat answered HTTP {payload.status} with an error body)",
                message,
            )
        if not isinstance(doc, dict):
            raise ValidationError(source, "body", "a JSON-stat dataset object", type(doc).__name__)
        dataset = read_jsonstat(doc, source=source)  # JsonStatError is a ValidationError

        ids = list(dataset.dimension_ids)
        area_dim = options.area_dimension
        for required in (area_dim, "time"):
            if required not in ids:
                raise ValidationError(source, "id", f"a dimension {required!r}", f"dimensions {ids}")
        frame = dataset.frame.filter(pl.col("value").is_not_null() | pl.col("status").is_not_null())
        if frame.is_empty():  # before the filters' codes are looked for: none is there to find
            raise ValidationError(
                source, "value", "at least one observation", "an answer without any value or status"
            )
        frame = select_series(source, options, ids, frame)
        if options.peer_source is not None:
            frame = _keep_peers(source, options, dataset, frame)
        if frame.filter(pl.col("value").is_not_null()).height == 0:
            raise ValidationError(source, "value", "at least one observation", "an empty dataset")
        per_indicator = bool(options.indicator_units)
        if per_indicator and options.indicator_dimension not in ids:
            raise ValidationError(
                source,
                "id",
                f"a dimension {options.indicator_dimension!r} (options.indicator_units)",
                f"dimensions {ids}",
            )
        if options.single_series:
            exclude = (area_dim, *([options.indicator_dimension] if per_indicator else []))
            check_single_series(source, ids, frame, exclude=exclude)

        others = [d for d in ids if d not in (area_dim, "time", "unit")]
        clash = [d for d in others if d in RESERVED_COLUMNS]
        if clash:
            raise ValidationError(source, "id", "dimension ids that are not output column names", str(clash))

        extra: list[pl.Expr] = []
        if per_indicator:
            if "unit" in ids:
                raise ValidationError(
                    source, "id", "no dimension 'unit' (options.indicator_units gives the units)", str(ids)
                )
            mapping = options.indicator_units
            codes = frame.get_column(options.indicator_dimension).unique().sort().to_list()
            unknown = [code for code in codes if code not in mapping]
            if unknown:
                raise ValidationError(
                    source,
                    f"dimension {options.indicator_dimension}",
                    f"indicators with a kestava unit in options.indicator_units (known: {sorted(mapping)})",
                    ", ".join(unknown),
                )
            unit = pl.col(options.indicator_dimension).replace_strict(mapping, return_dtype=pl.Utf8)
        elif "unit" in ids:
            mapping = unit_mapping(options)
            codes = frame.get_column("unit").unique().sort().to_list()
            unknown = [code for code in codes if code not in mapping]
            if unknown:
                raise ValidationError(
                    source,
                    "dimension unit",
                    f"unit codes with a kestava unit (known: {sorted(mapping)}; add options.units)",
                    ", ".join(unknown),
                )
            unit = pl.col("unit").replace_strict(mapping, return_dtype=pl.Utf8)
            extra = [pl.col("unit").alias("unit_code")]
        elif options.unit is not None:
            unit = pl.lit(options.unit, dtype=pl.Utf8)
        else:
            raise ValidationError(source, "id", "a dimension 'unit' (or options.unit)", f"dimensions {ids}")

        if options.peer_source is not None:
            area = pl.col("_peer_area").alias("area")
            extra.append(pl.col(area_dim).alias("city_code"))
        else:
            area = pl.col(area_dim).alias("area")
        return frame.select(
            area,
            pl.col("time").alias("period"),
            pl.col("value").cast(pl.Float64),
            pl.col("status").cast(pl.Utf8).alias("flag"),
            unit.alias("unit"),
            *extra,
            *[pl.col(d).cast(pl.Utf8) for d in others],
        )


def _keep_peers(
    source: str, options: EurostatOptions, dataset: JsonStatDataset, frame: pl.DataFrame
) -> pl.DataFrame:
    """The rows of the peer cities, resolved by the area dimension's labels, with their area (_peer_area)."""
    assert options.peer_source is not None
    labels = dataset.labels.get(options.area_dimension, {})
    candidates = [Candidate(code, label) for code, label in labels.items()]
    resolved = resolve_codes(source, options.peer_source, candidates, code_suffix=options.peer_code_suffix)
    area_of = {code: area for area, code in resolved.items()}
    return frame.filter(pl.col(options.area_dimension).is_in(list(area_of))).with_columns(
        pl.col(options.area_dimension).replace_strict(area_of, return_dtype=pl.Utf8).alias("_peer_area")
    )
