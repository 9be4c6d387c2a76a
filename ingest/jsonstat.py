"""JSON-stat 2.0 reader: one dataset response (PxWeb, Eurostat, any producer) into a polars frame."""

# What is read, and the choices made where the specification leaves room (https://json-stat.org/full/):
#
# - Response classes: `class: "dataset"` is read. A `"collection"` is accepted only when `link.item` holds
#   exactly one item and that item is an embedded dataset (it has `value`); anything else raises, because
#   silently taking the first of several datasets would drop data. `"dimension"` responses, JSON-stat 1.x
#   bundles (no `class`, datasets keyed by name) and error responses (`error` property, as PxWeb and
#   Eurostat send them) raise JsonStatError. A document without `class` that has `id`, `dimension` and
#   `value` at the top is read as a dataset.
# - `version`, when present, must be a string naming 2.0 or later.
# - `value`: dense array (row-major, last dimension fastest) whose length must equal the product of `size`,
#   or a sparse object keyed by flat index ("0", "17") where absent keys are missing cells (Eurostat).
#   Keys must be canonical non-negative decimal integers below the cell count. Values are numbers or null;
#   strings and booleans raise (naming the index).
# - `status`: a string (applies to every cell), an array of the cell count, an array of one element
#   (applies to every cell, as the JSON-stat Javascript Toolkit reads it), or a sparse object keyed by flat
#   index (PxWeb, Eurostat). Status values are strings or null; an empty string means "no status" (null).
# - Category `index`: an array of codes or an object code -> position (a permutation of 0..n-1). It may be
#   omitted only for a single-category dimension, whose code is then the single key of `label`. The number
#   of categories must equal the dimension's entry in `size`. A category without a label is labelled by its
#   code; a dimension without a label is labelled by its id.
# - `unit` (per category; PxWeb writes `base` where the specification says `label`; kept as given),
#   `child`, `coordinates`, category and dimension `note`, dimension `extension`, `role`, `link`, `href`,
#   `extension`, `note`, `updated`, `label`, `source` are validated and returned.
# - `role`: as declared. When the document declares no `role` at all (Eurostat never does), a dimension
#   whose id is `time` gets the time role and one whose id is `geo` the geo role (the Eurostat/SDMX names).
# - The frame has one row per cell, in row-major order: one Utf8 column of category codes per dimension
#   (in `id` order), then `value` (Float64, null where missing) and `status` (Utf8, null where none).
#   With `drop_missing=True` the rows whose value is null are left out (whatever their status).

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Final, NoReturn

import orjson
import polars as pl

from ingest import jsondecode
from ingest.errors import ValidationError

__all__ = ["MAX_CELLS", "JsonStatDataset", "JsonStatError", "read_jsonstat"]

# A full cube is materialised one row per cell; beyond this many cells the request should be split
# (or, for a sparse `value`, read with drop_missing=True, which materialises only the cells present).
MAX_CELLS: Final = 100_000_000

# From this many cells the code columns are built on a second thread, beside the value Series.
_PARALLEL_CELLS: Final = 100_000
_RESERVED_COLUMNS: Final = ("value", "status")
_UTF8_BOM: Final = b"\xef\xbb\xbf"
_UNIT_POSITIONS: Final = ("start", "end")


class JsonStatError(ValidationError):
    """A document that is not a readable JSON-stat 2.0 dataset; names the source and the JSON path."""


@dataclass(frozen=True)
class JsonStatDataset:
    """One JSON-stat dataset: the cube as a long frame, plus every piece of metadata it carried."""

    frame: pl.DataFrame
    dimension_ids: tuple[str, ...]
    labels: dict[str, dict[str, str]]
    dimension_labels: dict[str, str]
    units: dict[str, dict[str, dict[str, object]]]
    roles: dict[str, list[str]]
    label: str | None
    source: str | None
    updated: str | None
    extension: dict[str, object]
    note: list[str]
    # The rest of the specification (all optional in the document; empty when absent).
    children: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    coordinates: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    category_notes: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    dimension_notes: dict[str, list[str]] = field(default_factory=dict)
    dimension_extensions: dict[str, dict[str, object]] = field(default_factory=dict)
    link: dict[str, object] = field(default_factory=dict)
    href: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class _Dimension:
    id: str
    codes: list[str]
    label: str
    labels: dict[str, str]
    units: dict[str, dict[str, object]]
    children: dict[str, list[str]]
    coordinates: dict[str, tuple[float, float]]
    notes: dict[str, list[str]]
    note: list[str]
    extension: dict[str, object]


def read_jsonstat(
    data: bytes | str | Mapping[str, object], *, source: str, drop_missing: bool = False
) -> JsonStatDataset:
    """Read a JSON-stat 2.0 dataset (bytes, text or an already parsed object) into a JsonStatDataset.

    `source` is the dataset id used in error messages. Raises JsonStatError on anything that does not
    follow the specification (see the module comment for the exact rules), and jsondecode's
    DuplicateKeyError, before any other error, when an object of the JSON text repeats a key.
    """
    parsed, keys = _load(data, source)
    try:
        return _read(parsed, keys, source, drop_missing)
    except Exception as exc:  # a repeated key is reported first, whatever else the document gets wrong
        failure = exc
    keys.check()
    raise failure


def _read(parsed: object, keys: _KeyCheck, source: str, drop_missing: bool) -> JsonStatDataset:
    """read_jsonstat on the decoded document; `keys.check` runs once the value array is in hand."""
    if not isinstance(parsed, Mapping):  # a Mapping passed in is read as it is
        raise JsonStatError(source, "body", "a JSON object (a JSON-stat response)", _kind(parsed))
    doc = _select_dataset(parsed, source)
    version = _optional_str(doc, "version", source)
    if version is not None:
        _check_version(version, source)

    ids = _dimension_ids(doc, source)
    sizes = _sizes(doc, ids, source)
    dims = _dimensions(doc, ids, sizes, source)
    roles = _roles(doc, ids, source)
    n_cells = 1
    for size in sizes:
        n_cells *= size

    if "value" not in doc:
        raise JsonStatError(source, "value", "the data values (an array or an object keyed by flat index)")
    raw_value = doc["value"]
    raw_status = doc.get("status")
    if isinstance(raw_value, dict) and drop_missing:
        keys.check()
        frame = _sparse_present_frame(dims, sizes, raw_value, raw_status, n_cells, source)
    else:
        frame = _full_frame(dims, sizes, raw_value, raw_status, n_cells, source, keys)
        if drop_missing:
            frame = frame.filter(pl.col("value").is_not_null())

    return JsonStatDataset(
        frame=frame,
        dimension_ids=tuple(ids),
        labels={d.id: d.labels for d in dims},
        dimension_labels={d.id: d.label for d in dims},
        units={d.id: d.units for d in dims if d.units},
        roles=roles,
        label=_optional_str(doc, "label", source),
        source=_optional_str(doc, "source", source),
        updated=_optional_str(doc, "updated", source),
        extension=_optional_object(doc, "extension", source),
        note=_string_list(doc.get("note"), "note", source),
        children={d.id: d.children for d in dims if d.children},
        coordinates={d.id: d.coordinates for d in dims if d.coordinates},
        category_notes={d.id: d.notes for d in dims if d.notes},
        dimension_notes={d.id: d.note for d in dims if d.note},
        dimension_extensions={d.id: d.extension for d in dims if d.extension},
        link=_optional_object(doc, "link", source),
        href=_optional_str(doc, "href", source),
        version=version,
    )


# ---------------------------------------------------------------------------------------------------------
# The document: parse, pick the dataset, top-level fields


class _KeyCheck:
    """jsondecode's duplicate-key check of the JSON text read, run once (nothing to check for a Mapping)."""

    def __init__(self, raw: bytes | str | None, document: object, source: str) -> None:
        self._raw = raw
        self._document = document
        self._source = source

    def check(self, numeric: tuple[list[object], ...] = ()) -> None:
        """DuplicateKeyError when an object repeats a key; `numeric`: arrays known to hold only numbers."""
        raw, self._raw = self._raw, None
        if raw is not None:
            jsondecode.check_keys(raw, self._document, self._source, numeric=numeric)


def _load(data: bytes | str | Mapping[str, object], source: str) -> tuple[object, _KeyCheck]:
    """The decoded document and its pending duplicate-key check."""
    if isinstance(data, Mapping):
        return data, _KeyCheck(None, data, source)
    raw: bytes | str
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data).removeprefix(_UTF8_BOM)
    elif isinstance(data, str):
        raw = data.removeprefix("\ufeff")
    else:
        raise JsonStatError(source, "body", "JSON bytes, text or a parsed object", type(data).__name__)
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise JsonStatError(source, "body", "valid JSON", str(exc)) from None
    return parsed, _KeyCheck(raw, parsed, source)


def _select_dataset(doc: Mapping[str, object], source: str) -> Mapping[str, object]:
    error = doc.get("error")
    if error not in (None, [], {}, ""):
        raise JsonStatError(source, "error", "a dataset, not an error response", _error_text(error))
    cls = doc.get("class")
    if cls == "dataset":
        return doc
    if cls == "collection":
        return _collection_dataset(doc, source)
    if cls is None:
        if "id" in doc and "dimension" in doc and "value" in doc:
            return doc  # a dataset whose producer left out `class`
        if doc and all(isinstance(v, dict) and "dimension" in v for v in doc.values()):
            raise JsonStatError(
                source,
                "class",
                'a JSON-stat 2.0 dataset (class "dataset"); this is a JSON-stat 1.x bundle, '
                "ask the API for json-stat2",
                "no class, datasets " + ", ".join(sorted(str(k) for k in doc)),
            )
        raise JsonStatError(source, "class", '"dataset" (a JSON-stat 2.0 dataset response)', "missing")
    if cls == "dimension":
        raise JsonStatError(source, "class", '"dataset"; a dimension response carries no data', '"dimension"')
    raise JsonStatError(source, "class", '"dataset" or "collection"', repr(cls))


def _collection_dataset(doc: Mapping[str, object], source: str) -> Mapping[str, object]:
    link = doc.get("link")
    items = link.get("item") if isinstance(link, dict) else None
    if not isinstance(items, list) or not items:
        raise JsonStatError(source, "link.item", "a collection with one embedded dataset", _kind(items))
    first = items[0]
    if (
        len(items) != 1
        or not isinstance(first, dict)
        or first.get("class") != "dataset"
        or "value" not in first
    ):
        got = f"{len(items)} items" + (
            "" if isinstance(first, dict) and "value" in first else ", not embedded"
        )
        raise JsonStatError(source, "link.item", "exactly one item, an embedded dataset (with value)", got)
    return first


def _check_version(version: str, source: str) -> None:
    parts = [*version.split("."), "0"]
    try:
        number = (int(parts[0]), int(parts[1]))
    except ValueError:
        raise JsonStatError(source, "version", 'a version number such as "2.0"', repr(version)) from None
    if number < (2, 0):
        raise JsonStatError(source, "version", "2.0 or later (this reader follows JSON-stat 2.0)", version)


def _dimension_ids(doc: Mapping[str, object], source: str) -> list[str]:
    ids = doc.get("id")
    if not isinstance(ids, list) or not ids:
        raise JsonStatError(source, "id", "a non-empty array of dimension ids", _kind(ids))
    seen: set[str] = set()
    for i, did in enumerate(ids):
        if not isinstance(did, str):
            raise JsonStatError(source, f"id[{i}]", "a string (a dimension id)", _kind(did))
        if did in seen:
            raise JsonStatError(source, f"id[{i}]", "unique dimension ids", f"{did!r} twice")
        if did in _RESERVED_COLUMNS:
            raise JsonStatError(
                source, f"id[{i}]", "a dimension id other than 'value' or 'status' (frame columns)", did
            )
        seen.add(did)
    return ids


def _sizes(doc: Mapping[str, object], ids: list[str], source: str) -> list[int]:
    sizes = doc.get("size")
    if not isinstance(sizes, list):
        raise JsonStatError(source, "size", "an array of category counts, one per dimension", _kind(sizes))
    if len(sizes) != len(ids):
        raise JsonStatError(
            source, "size", f"{len(ids)} entries, one per dimension in id", f"{len(sizes)} entries"
        )
    for i, size in enumerate(sizes):
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise JsonStatError(source, f"size[{i}]", "a non-negative integer", repr(size))
    return sizes


def _roles(doc: Mapping[str, object], ids: list[str], source: str) -> dict[str, list[str]]:
    if "role" not in doc:
        # Eurostat declares no roles; its time and geo dimensions are always called `time` and `geo`.
        return {name: [name] for name in ("time", "geo") if name in ids}
    raw = doc["role"]
    if not isinstance(raw, dict):
        raise JsonStatError(source, "role", "an object role name -> dimension ids", _kind(raw))
    known = set(ids)
    roles: dict[str, list[str]] = {}
    for name, members in raw.items():
        path = f"role.{name}"
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise JsonStatError(source, path, "an array of dimension ids", repr(members))
        unknown = [m for m in members if m not in known]
        if unknown:
            raise JsonStatError(source, path, "dimension ids listed in id", ", ".join(unknown))
        roles[name] = list(members)
    return roles


# ---------------------------------------------------------------------------------------------------------
# Dimensions and categories


def _dimensions(doc: Mapping[str, object], ids: list[str], sizes: list[int], source: str) -> list[_Dimension]:
    raw = doc.get("dimension")
    if not isinstance(raw, dict):
        raise JsonStatError(source, "dimension", "an object dimension id -> dimension", _kind(raw))
    known = set(ids)
    extra = [str(k) for k in raw if k not in known]
    if extra:
        raise JsonStatError(source, "dimension", "only the dimensions listed in id", ", ".join(extra))
    dims: list[_Dimension] = []
    for i, (did, size) in enumerate(zip(ids, sizes, strict=True)):
        if did not in raw:
            raise JsonStatError(source, f"dimension.{did}", f"the dimension {did!r} listed in id", "missing")
        dims.append(_dimension(did, raw[did], size, i, source))
    return dims


def _dimension(did: str, raw: object, size: int, position: int, source: str) -> _Dimension:
    path = f"dimension.{did}"
    if not isinstance(raw, dict):
        raise JsonStatError(source, path, "an object with a category", _kind(raw))
    category = raw.get("category")
    if not isinstance(category, dict):
        raise JsonStatError(source, f"{path}.category", "an object with index and/or label", _kind(category))
    cpath = f"{path}.category"
    raw_labels = category.get("label")
    if raw_labels is not None and not isinstance(raw_labels, dict):
        raise JsonStatError(source, f"{cpath}.label", "an object category code -> label", _kind(raw_labels))
    codes = _category_codes(category.get("index"), raw_labels, cpath, source)
    if len(codes) != size:
        raise JsonStatError(
            source, f"{cpath}.index", f"{size} categories (size[{position}])", f"{len(codes)} categories"
        )
    code_set = set(codes)
    labels = dict(zip(codes, codes, strict=True))
    for code, text in (raw_labels or {}).items():
        if code not in code_set:
            raise JsonStatError(source, f"{cpath}.label", "labels only for categories in index", repr(code))
        if not isinstance(text, str):
            raise JsonStatError(source, f"{cpath}.label.{code}", "a string", _kind(text))
        labels[code] = text
    label = raw.get("label", did)
    if not isinstance(label, str):
        raise JsonStatError(source, f"{path}.label", "a string", _kind(label))
    return _Dimension(
        id=did,
        codes=codes,
        label=label,
        labels=labels,
        units=_units(category.get("unit"), code_set, f"{cpath}.unit", source),
        children=_children(category.get("child"), f"{cpath}.child", source),
        coordinates=_coordinates(category.get("coordinates"), code_set, f"{cpath}.coordinates", source),
        notes=_category_notes(category.get("note"), code_set, f"{cpath}.note", source),
        note=_string_list(raw.get("note"), f"{path}.note", source),
        extension=_optional_object(raw, "extension", source, path=f"{path}.extension"),
    )


def _category_codes(index: object, labels: dict[str, object] | None, path: str, source: str) -> list[str]:
    if index is None:
        if labels is not None and len(labels) == 1:
            return list(labels)  # a constant dimension may omit index: its code is label's only key
        got = "no index and " + ("no label" if labels is None else f"{len(labels)} labels")
        raise JsonStatError(
            source,
            f"{path}.index",
            "an index (it may be omitted only when label has exactly one category)",
            got,
        )
    if isinstance(index, list):
        for i, code in enumerate(index):
            if not isinstance(code, str):
                raise JsonStatError(source, f"{path}.index[{i}]", "a string (a category code)", _kind(code))
        if len(set(index)) != len(index):
            dupes = sorted({c for c in index if index.count(c) > 1})
            raise JsonStatError(source, f"{path}.index", "unique category codes", ", ".join(dupes))
        return list(index)
    if isinstance(index, dict):
        codes: list[str | None] = [None] * len(index)
        for code, pos in index.items():
            if not isinstance(pos, int) or isinstance(pos, bool) or not 0 <= pos < len(index):
                raise JsonStatError(
                    source, f"{path}.index.{code}", f"a position from 0 to {len(index) - 1}", repr(pos)
                )
            if codes[pos] is not None:
                raise JsonStatError(
                    source,
                    f"{path}.index",
                    "each position used once",
                    f"{pos} for {codes[pos]!r} and {code!r}",
                )
            codes[pos] = code
        return [c for c in codes if c is not None]
    raise JsonStatError(
        source, f"{path}.index", "an array of codes or an object code -> position", _kind(index)
    )


def _units(raw: object, codes: set[str], path: str, source: str) -> dict[str, dict[str, object]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise JsonStatError(source, path, "an object category code -> unit", _kind(raw))
    units: dict[str, dict[str, object]] = {}
    for code, unit in raw.items():
        upath = f"{path}.{code}"
        if code not in codes:
            raise JsonStatError(source, path, "units only for categories in index", repr(code))
        if not isinstance(unit, dict):
            raise JsonStatError(source, upath, "an object (label, decimals, symbol, position)", _kind(unit))
        decimals = unit.get("decimals")
        if decimals is not None and (
            not isinstance(decimals, int) or isinstance(decimals, bool) or decimals < 0
        ):
            raise JsonStatError(source, f"{upath}.decimals", "a non-negative integer", repr(decimals))
        for key in ("label", "symbol"):
            if key in unit and not isinstance(unit[key], str):
                raise JsonStatError(source, f"{upath}.{key}", "a string", _kind(unit[key]))
        if "position" in unit and unit["position"] not in _UNIT_POSITIONS:
            raise JsonStatError(source, f"{upath}.position", '"start" or "end"', repr(unit["position"]))
        units[code] = dict(unit)
    return units


def _children(raw: object, path: str, source: str) -> dict[str, list[str]]:
    # Parents and children are not required to be in index: a query may select part of a hierarchy.
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise JsonStatError(source, path, "an object parent code -> child codes", _kind(raw))
    children: dict[str, list[str]] = {}
    for parent, kids in raw.items():
        if not isinstance(kids, list) or not all(isinstance(k, str) for k in kids):
            raise JsonStatError(source, f"{path}.{parent}", "an array of category codes", repr(kids))
        children[parent] = list(kids)
    return children


def _coordinates(raw: object, codes: set[str], path: str, source: str) -> dict[str, tuple[float, float]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise JsonStatError(source, path, "an object category code -> [longitude, latitude]", _kind(raw))
    coordinates: dict[str, tuple[float, float]] = {}
    for code, pair in raw.items():
        if code not in codes:
            raise JsonStatError(source, path, "coordinates only for categories in index", repr(code))
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in pair)
        ):
            raise JsonStatError(source, f"{path}.{code}", "[longitude, latitude] (two numbers)", repr(pair))
        coordinates[code] = (float(pair[0]), float(pair[1]))
    return coordinates


def _category_notes(raw: object, codes: set[str], path: str, source: str) -> dict[str, list[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise JsonStatError(source, path, "an object category code -> array of notes", _kind(raw))
    notes: dict[str, list[str]] = {}
    for code, texts in raw.items():
        if code not in codes:
            raise JsonStatError(source, path, "notes only for categories in index", repr(code))
        notes[code] = _string_list(texts, f"{path}.{code}", source)
    return notes


# ---------------------------------------------------------------------------------------------------------
# Values, statuses and the frame


def _full_frame(
    dims: list[_Dimension],
    sizes: list[int],
    raw_value: object,
    raw_status: object,
    n_cells: int,
    source: str,
    keys: _KeyCheck,
) -> pl.DataFrame:
    """One row per cell of the cube, in row-major order."""
    if n_cells > MAX_CELLS:
        raise JsonStatError(
            source,
            "size",
            f"at most {MAX_CELLS:,} cells (split the request, or read a sparse value with drop_missing)",
            f"{' x '.join(map(str, sizes))} = {n_cells:,} cells",
        )
    if isinstance(raw_value, list) and len(raw_value) != n_cells:
        raise JsonStatError(
            source,
            "value",
            f"{n_cells} values (the product of size {sizes})",
            f"an array of {len(raw_value)} values",
        )
    columns = _dimension_columns(dims, sizes, pl.int_range(0, n_cells, dtype=_index_dtype(n_cells)))
    if n_cells < _PARALLEL_CELLS:
        value, status = _values(raw_value, raw_status, n_cells, source, keys)
        frame = pl.select(*columns)
    else:
        # polars builds the code columns without the GIL on another thread while this one turns the
        # values into a Series and checks the keys (both Python-object work, under the GIL).
        with ThreadPoolExecutor(1, thread_name_prefix="jsonstat") as pool:
            pending = pool.submit(pl.select, *columns)
            value, status = _values(raw_value, raw_status, n_cells, source, keys)
            frame = pending.result()
    return frame.with_columns(
        pl.lit(value).alias("value"),
        (pl.lit(status) if isinstance(status, pl.Series) else pl.lit(status, dtype=pl.String)).alias(
            "status"
        ),
    )


def _values(
    raw_value: object, raw_status: object, n_cells: int, source: str, keys: _KeyCheck
) -> tuple[pl.Series, pl.Series | str | None]:
    """The value of every cell (Float64) and the status (as _status_full), the keys checked first."""
    if isinstance(raw_value, list):
        series = _float_series(raw_value)
        keys.check(() if series is None else (raw_value,))  # a Float64 Series holds no key, no string
        value = _number_series(raw_value, None, source, series)
    elif isinstance(raw_value, dict):
        keys.check()
        positions, present = _sparse(raw_value, n_cells, "value", source)
        numbers = _number_series(present, positions, source)
        value = pl.repeat(None, n_cells, dtype=pl.Float64, eager=True)
        if len(positions):
            value.scatter(positions, numbers)
    else:
        keys.check()
        raise JsonStatError(source, "value", "an array or an object keyed by flat index", _kind(raw_value))
    return value, _status_full(raw_status, n_cells, source)


def _sparse_present_frame(
    dims: list[_Dimension],
    sizes: list[int],
    raw_value: dict[str, object],
    raw_status: object,
    n_cells: int,
    source: str,
) -> pl.DataFrame:
    """Only the cells a sparse `value` holds with a number, in row-major order (drop_missing)."""
    positions, present = _sparse(raw_value, n_cells, "value", source)
    numbers = _number_series(present, positions, source)
    cells = (
        pl.DataFrame({"_row": positions, "value": numbers})
        .filter(pl.col("value").is_not_null())
        .sort("_row")
        .with_columns(pl.col("_row").cast(_index_dtype(n_cells)))
    )
    rows = cells.get_column("_row")
    status: pl.Series | str | None
    if isinstance(raw_status, dict):
        status_positions, status_values = _sparse(raw_status, n_cells, "status", source)
        by_row = pl.DataFrame(
            {
                "_row": status_positions.cast(rows.dtype),
                "status": _status_series(status_values, status_positions, source),
            }
        )
        status = cells.select("_row").join(by_row, on="_row", how="left", maintain_order="left")["status"]
    elif isinstance(raw_status, list) and len(raw_status) == n_cells:
        status = _status_series(raw_status, None, source).gather(rows)
    else:
        status = _status_full(raw_status, n_cells, source)
    return pl.select(
        *_dimension_columns(dims, sizes, pl.lit(rows)),
        pl.lit(cells.get_column("value")).alias("value"),
        (pl.lit(status) if isinstance(status, pl.Series) else pl.lit(status, dtype=pl.String)).alias(
            "status"
        ),
    )


def _index_dtype(n_cells: int) -> type[pl.UInt32] | type[pl.Int64]:
    return pl.UInt32 if n_cells < 2**32 else pl.Int64


def _dimension_columns(dims: list[_Dimension], sizes: list[int], row: pl.Expr) -> list[pl.Expr]:
    """Category codes per row by integer arithmetic on the flat index: (row // stride) % size."""
    columns: list[pl.Expr] = []
    stride = 1
    strides: list[int] = []
    for size in reversed(sizes):
        strides.append(stride)
        stride *= size
    for dim, size, step in zip(dims, sizes, reversed(strides), strict=True):
        if size == 1:
            columns.append(pl.lit(dim.codes[0], dtype=pl.String).alias(dim.id))
            continue
        position = row if step == 1 else row // step
        codes = pl.Series(dim.id, dim.codes, dtype=pl.String)
        columns.append(pl.lit(codes).gather(position % size).alias(dim.id))
    return columns


def _sparse(raw: dict[str, object], n_cells: int, what: str, source: str) -> tuple[pl.Series, list[object]]:
    """Flat positions (Int64) of a sparse object's keys, validated, and its values in the same order."""
    keys = list(raw.keys())
    text = pl.Series(keys, dtype=pl.String)
    positions = text.cast(pl.Int64, strict=False)
    if positions.null_count():
        _bad_key(keys[positions.is_null().arg_true()[0]], what, source)
    if not len(positions):
        return positions, []
    low, high = positions.min(), positions.max()
    assert isinstance(low, int) and isinstance(high, int)
    if low < 0 or high >= n_cells:
        bad_pos = low if low < 0 else high
        raise JsonStatError(
            source, f'{what}["{bad_pos}"]', f"a flat index from 0 to {n_cells - 1}", str(bad_pos)
        )
    # Keys must be spelled canonically ("5", not "05" or "+5"), else two keys could name one cell. A key
    # that parses to p is never shorter than p's digits, so equal total lengths mean all are canonical.
    digits = len(positions) + sum(int((positions >= 10**k).sum()) for k in range(1, len(str(high))))
    if text.str.len_bytes().sum() != digits:
        canonical = positions.cast(pl.String).eq(text)
        _bad_key(keys[canonical.not_().arg_true()[0]], what, source)
    return positions, list(raw.values())


def _bad_key(key: str, what: str, source: str) -> NoReturn:
    raise JsonStatError(
        source, what, 'keys that are flat cell indices (non-negative integers such as "17")', repr(key)
    )


def _float_series(items: list[object]) -> pl.Series | None:
    """pl.Series("value", items, dtype=Float64), or None where polars cannot convert an item."""
    try:
        return pl.Series("value", items, dtype=pl.Float64)
    except (TypeError, ValueError, OverflowError):
        return None


def _number_series(
    items: list[object], positions: pl.Series | None, source: str, series: pl.Series | None = None
) -> pl.Series:
    """Float64 from JSON numbers and nulls in one constructor; anything else raises, naming the index.

    `series`: _float_series(items) when the caller has it already.
    """
    if series is None:
        series = _float_series(items)
    if series is not None:
        # The constructor turns booleans into 0.0/1.0: look at those cells only.
        candidates = series.is_in([0.0, 1.0]).arg_true().to_list()
        picked = [items[i] for i in candidates]
        if bool not in set(map(type, picked)):
            return series
    for i, item in enumerate(items):
        if item is not None and (not isinstance(item, int | float) or isinstance(item, bool)):
            raise JsonStatError(source, _cell_path("value", i, positions), "a number or null", repr(item))
    for i, item in enumerate(items):  # only Python-built documents get here: an int beyond float range
        try:
            float(item)  # type: ignore[arg-type]
        except (TypeError, OverflowError):
            raise JsonStatError(
                source, _cell_path("value", i, positions), "a number within 64-bit float range", repr(item)
            ) from None
    raise JsonStatError(source, "value", "numbers or nulls", "values polars could not convert")


def _status_full(raw: object, n_cells: int, source: str) -> pl.Series | str | None:
    """The status of every cell: a Series of n_cells, or one string / None that applies to all."""
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw or None
    if isinstance(raw, list):
        if len(raw) == 1 and n_cells != 1:
            only = raw[0]
            if only is not None and not isinstance(only, str):
                raise JsonStatError(source, "status[0]", "a string or null", _kind(only))
            return only or None
        if len(raw) != n_cells:
            raise JsonStatError(
                source,
                "status",
                f"{n_cells} statuses (one per cell), a single string, or an object keyed by flat index",
                f"an array of {len(raw)}",
            )
        return _status_series(raw, None, source)
    if isinstance(raw, dict):
        positions, items = _sparse(raw, n_cells, "status", source)
        status = pl.repeat(None, n_cells, dtype=pl.String, eager=True)
        if len(positions):
            status.scatter(positions, _status_series(items, positions, source))
        return status
    raise JsonStatError(source, "status", "a string, an array or an object keyed by flat index", _kind(raw))


def _status_series(items: list[object], positions: pl.Series | None, source: str) -> pl.Series:
    try:
        series = pl.Series("status", items, dtype=pl.String)
    except (TypeError, ValueError):
        for i, item in enumerate(items):
            if item is not None and not isinstance(item, str):
                raise JsonStatError(
                    source, _cell_path("status", i, positions), "a string or null", repr(item)
                ) from None
        raise JsonStatError(source, "status", "strings or nulls", "values polars could not convert") from None
    return series.replace("", None) if series.eq("").any() else series


def _cell_path(what: str, i: int, positions: pl.Series | None) -> str:
    return f"{what}[{i}]" if positions is None else f'{what}["{positions[i]}"]'


# ---------------------------------------------------------------------------------------------------------
# Small typed accessors


def _optional_str(doc: Mapping[str, object], key: str, source: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise JsonStatError(source, key, "a string", _kind(value))
    return value


def _optional_object(
    doc: Mapping[str, object], key: str, source: str, *, path: str | None = None
) -> dict[str, object]:
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise JsonStatError(source, path or key, "an object", _kind(value))
    return dict(value)


def _string_list(value: object, path: str, source: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise JsonStatError(source, path, "an array of strings", repr(value))
    return list(value)


def _error_text(error: object) -> str:
    """PxWeb sends {"error": "text"}; Eurostat {"error": [{"status", "id", "label"}]}."""
    items = error if isinstance(error, list) else [error]
    parts: list[str] = []
    for item in items:
        if isinstance(item, dict):
            fields = [str(item[k]) for k in ("status", "id", "label") if k in item]
            parts.append(" ".join(fields) if fields else repr(item))
        else:
            parts.append(str(item))
    return "; ".join(parts)


def _kind(value: object) -> str:
    """A short description of an unexpected JSON value for error messages."""
    if value is None:
        return "missing or null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return f"an array of {len(value)}"
    return f"{type(value).__name__} {value!r}"
