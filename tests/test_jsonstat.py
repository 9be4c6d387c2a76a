"""Tests for the JSON-stat 2.0 reader: worked examples, every variant, every error, and properties."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from typing import Any

import orjson
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import jsonstat
from ingest.errors import IngestError, ValidationError
from ingest.jsondecode import DuplicateKeyError
from ingest.jsonstat import JsonStatDataset, JsonStatError, read_jsonstat

SOURCE = "test_dataset"

Cells = dict[tuple[str, ...], tuple[float | None, str | None]]


def cells(ds: JsonStatDataset) -> Cells:
    """coordinates (category codes in id order) -> (value, status), from the frame."""
    n = len(ds.dimension_ids)
    return {tuple(row[:n]): (row[n], row[n + 1]) for row in ds.frame.iter_rows()}


def rows(ds: JsonStatDataset) -> list[tuple[Any, ...]]:
    return list(ds.frame.iter_rows())


def oecd_like() -> dict[str, Any]:
    """A small dataset in the shape of the specification's oecd.json sample.

    concept is a constant dimension without index; area has an object index given out of order;
    year has an array index. Row-major, last dimension (year) fastest.
    """
    return {
        "version": "2.0",
        "class": "dataset",
        "label": "Unemployment rate in the OECD countries 2003-2005",
        "source": "Economic Outlook No 92",
        "updated": "2012-11-27",
        "id": ["concept", "area", "year"],
        "size": [1, 2, 3],
        "role": {"time": ["year"], "geo": ["area"], "metric": ["concept"]},
        "dimension": {
            "concept": {
                "label": "indicator",
                "category": {
                    "label": {"UNR": "unemployment rate"},
                    "unit": {"UNR": {"label": "%", "decimals": 1, "symbol": "%", "position": "end"}},
                },
            },
            "area": {
                "label": "OECD countries",
                "category": {
                    "index": {"AT": 1, "AU": 0},
                    "label": {"AU": "Australia", "AT": "Austria"},
                    "coordinates": {"AU": [133.0, -25.0]},
                },
            },
            "year": {"label": "2003-2005", "category": {"index": ["2003", "2004", "2005"]}},
        },
        "value": [5.9, 5.4, 5.0, 4.3, 4.9, 5.2],
        "extension": {"contact": "example"},
        "note": ["Data from the spec sample, shortened."],
    }


# ---------------------------------------------------------------------------------------------------------
# Worked examples (expected cells derived by hand from the row-major rule)


def test_worked_example_dense_row_major_last_dimension_fastest() -> None:
    ds = read_jsonstat(orjson.dumps(oecd_like()), source=SOURCE)
    assert rows(ds) == [
        ("UNR", "AU", "2003", 5.9, None),
        ("UNR", "AU", "2004", 5.4, None),
        ("UNR", "AU", "2005", 5.0, None),
        ("UNR", "AT", "2003", 4.3, None),
        ("UNR", "AT", "2004", 4.9, None),
        ("UNR", "AT", "2005", 5.2, None),
    ]
    assert ds.frame.columns == ["concept", "area", "year", "value", "status"]
    assert ds.frame.dtypes == [pl.String, pl.String, pl.String, pl.Float64, pl.String]
    assert ds.dimension_ids == ("concept", "area", "year")


def test_worked_example_metadata() -> None:
    ds = read_jsonstat(oecd_like(), source=SOURCE)
    assert ds.label == "Unemployment rate in the OECD countries 2003-2005"
    assert ds.source == "Economic Outlook No 92"
    assert ds.updated == "2012-11-27"
    assert ds.version == "2.0"
    assert ds.extension == {"contact": "example"}
    assert ds.note == ["Data from the spec sample, shortened."]
    assert ds.roles == {"time": ["year"], "geo": ["area"], "metric": ["concept"]}
    assert ds.dimension_labels == {"concept": "indicator", "area": "OECD countries", "year": "2003-2005"}
    assert ds.labels == {
        "concept": {"UNR": "unemployment rate"},
        "area": {"AU": "Australia", "AT": "Austria"},
        "year": {"2003": "2003", "2004": "2004", "2005": "2005"},  # no label: the code
    }
    assert ds.units == {"concept": {"UNR": {"label": "%", "decimals": 1, "symbol": "%", "position": "end"}}}
    assert ds.coordinates == {"area": {"AU": (133.0, -25.0)}}


def test_worked_example_three_dimensions_each_cell_by_hand() -> None:
    # A: 2 categories, B: 3, C: 2 -> strides 6, 2, 1. value i at flat index i.
    doc = {
        "version": "2.0",
        "class": "dataset",
        "id": ["A", "B", "C"],
        "size": [2, 3, 2],
        "dimension": {
            "A": {"category": {"index": ["a1", "a2"]}},
            "B": {"category": {"index": ["b1", "b2", "b3"]}},
            "C": {"category": {"index": {"c1": 0, "c2": 1}}},
        },
        "value": list(range(12)),
    }
    got = cells(read_jsonstat(doc, source=SOURCE))
    assert got[("a1", "b1", "c1")] == (0.0, None)
    assert got[("a1", "b1", "c2")] == (1.0, None)
    assert got[("a1", "b2", "c1")] == (2.0, None)
    assert got[("a1", "b3", "c2")] == (5.0, None)
    assert got[("a2", "b1", "c1")] == (6.0, None)
    assert got[("a2", "b2", "c2")] == (9.0, None)
    assert got[("a2", "b3", "c2")] == (11.0, None)
    assert len(got) == 12


def test_eurostat_sparse_value_and_status() -> None:
    # geo x time, 2 x 3; Eurostat omits missing cells and keys value/status by flat index.
    doc = {
        "version": "2.0",
        "class": "dataset",
        "label": "Net greenhouse gas emissions",
        "source": "ESTAT",
        "updated": "2026-02-06T23:00:00+0100",
        "id": ["freq", "geo", "time"],
        "size": [1, 2, 3],
        "dimension": {
            "freq": {"label": "Time frequency", "category": {"index": {"A": 0}, "label": {"A": "Annual"}}},
            "geo": {
                "label": "Geopolitical entity",
                "category": {
                    "index": {"EU27_2020": 0, "FI": 1},
                    "label": {"EU27_2020": "EU", "FI": "Finland"},
                },
            },
            "time": {"label": "Time", "category": {"index": {"2021": 0, "2022": 1, "2023": 2}}},
        },
        "value": {"5": 3.1, "0": 154.7, "1": 150.2, "3": 9.8},
        "status": {"5": "p", "2": ":"},
        "extension": {"positions-with-no-data": {"geo": [], "time": []}, "id": "SDG_13_10"},
    }
    ds = read_jsonstat(orjson.dumps(doc), source="eurostat_sdg_13_10")
    assert rows(ds) == [
        ("A", "EU27_2020", "2021", 154.7, None),
        ("A", "EU27_2020", "2022", 150.2, None),
        ("A", "EU27_2020", "2023", None, ":"),
        ("A", "FI", "2021", 9.8, None),
        ("A", "FI", "2022", None, None),
        ("A", "FI", "2023", 3.1, "p"),
    ]
    # Eurostat declares no role: time and geo are recognised by their ids.
    assert ds.roles == {"time": ["time"], "geo": ["geo"]}
    assert ds.extension["id"] == "SDG_13_10"

    present = read_jsonstat(orjson.dumps(doc), source="eurostat_sdg_13_10", drop_missing=True)
    assert rows(present) == [
        ("A", "EU27_2020", "2021", 154.7, None),
        ("A", "EU27_2020", "2022", 150.2, None),
        ("A", "FI", "2021", 9.8, None),
        ("A", "FI", "2023", 3.1, "p"),
    ]


def test_pxweb_json_stat2_shape() -> None:
    # As PxWeb v1 answers format=json-stat2: class first, units with `base`, status object on nulls.
    doc = {
        "class": "dataset",
        "label": "Population by area",
        "source": "Statistics Finland",
        "updated": "2026-03-27T05:00:00Z",
        "id": ["alue_23_20260101", "contentscode", "timeperiod_y"],
        "size": [2, 1, 2],
        "dimension": {
            "alue_23_20260101": {
                "label": "Alue",
                "category": {
                    "index": {"KU049": 0, "KU091": 1},
                    "label": {"KU049": "Espoo", "KU091": "Helsinki"},
                },
                "extension": {"elimination": True, "show": "value"},
            },
            "contentscode": {
                "label": "Tiedot",
                "category": {
                    "index": {"vaerak-vaesto": 0},
                    "label": {"vaerak-vaesto": "Väkiluku"},
                    "unit": {"vaerak-vaesto": {"base": "henkilöä", "decimals": 0}},
                },
            },
            "timeperiod_y": {
                "label": "Vuosi",
                "category": {"index": {"2024": 0, "2025": 1}, "label": {"2024": "2024", "2025": "2025"}},
                "note": ["Preliminary"],
            },
        },
        "value": [314024, None, 674500, 684018],
        "status": {"1": ".."},
        "role": {"time": ["timeperiod_y"], "metric": ["contentscode"]},
        "version": "2.0",
        "extension": {"px": {"tableid": "11ra", "decimals": 0}},
    }
    ds = read_jsonstat(orjson.dumps(doc), source="statfin_11ra")
    assert rows(ds) == [
        ("KU049", "vaerak-vaesto", "2024", 314024.0, None),
        ("KU049", "vaerak-vaesto", "2025", None, ".."),
        ("KU091", "vaerak-vaesto", "2024", 674500.0, None),
        ("KU091", "vaerak-vaesto", "2025", 684018.0, None),
    ]
    assert ds.roles == {"time": ["timeperiod_y"], "metric": ["contentscode"]}
    assert ds.units == {"contentscode": {"vaerak-vaesto": {"base": "henkilöä", "decimals": 0}}}
    assert ds.labels["alue_23_20260101"] == {"KU049": "Espoo", "KU091": "Helsinki"}
    assert ds.dimension_extensions == {"alue_23_20260101": {"elimination": True, "show": "value"}}
    assert ds.dimension_notes == {"timeperiod_y": ["Preliminary"]}
    assert ds.extension == {"px": {"tableid": "11ra", "decimals": 0}}
    present = read_jsonstat(orjson.dumps(doc), source="statfin_11ra", drop_missing=True)
    assert present.frame.height == 3
    assert present.frame["status"].null_count() == 3


# ---------------------------------------------------------------------------------------------------------
# Variants


def two_by_two(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "version": "2.0",
        "class": "dataset",
        "id": ["x", "y"],
        "size": [2, 2],
        "dimension": {
            "x": {"category": {"index": ["x1", "x2"]}},
            "y": {"category": {"index": ["y1", "y2"]}},
        },
        "value": [1.5, None, 3, -4.25],
    }
    doc.update(overrides)
    return doc


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("e", ["e", "e", "e", "e"]),
        (["e"], ["e", "e", "e", "e"]),
        (["a", None, "c", "d"], ["a", None, "c", "d"]),
        ({"3": "p", "0": "b"}, ["b", None, None, "p"]),
        ({"1": None}, [None, None, None, None]),
        (["", "x", "", None], [None, "x", None, None]),
        ("", [None, None, None, None]),
        ({}, [None, None, None, None]),
    ],
)
def test_status_forms(status: object, expected: list[str | None]) -> None:
    ds = read_jsonstat(two_by_two(status=status), source=SOURCE)
    assert ds.frame["status"].to_list() == expected
    assert ds.frame["value"].to_list() == [1.5, None, 3.0, -4.25]


@pytest.mark.parametrize(
    "status",
    ["e", ["e"], ["a", None, "c", "d"], {"3": "p", "1": "b"}, None],
)
def test_status_forms_with_drop_missing_sparse_and_dense(status: object) -> None:
    full = read_jsonstat(two_by_two(status=status), source=SOURCE)
    expected = full.frame.filter(pl.col("value").is_not_null())
    dense = read_jsonstat(two_by_two(status=status), source=SOURCE, drop_missing=True)
    sparse = read_jsonstat(
        two_by_two(status=status, value={"3": -4.25, "1": None, "0": 1.5, "2": 3}),
        source=SOURCE,
        drop_missing=True,
    )
    assert dense.frame.equals(expected)
    assert sparse.frame.equals(expected)
    assert sparse.frame.schema == full.frame.schema


def test_sparse_value_full_cube_fills_missing_with_null() -> None:
    ds = read_jsonstat(two_by_two(value={"2": 7, "0": 1}), source=SOURCE)
    assert ds.frame["value"].to_list() == [1.0, None, 7.0, None]
    assert ds.frame["x"].to_list() == ["x1", "x1", "x2", "x2"]
    assert ds.frame["y"].to_list() == ["y1", "y2", "y1", "y2"]


def test_empty_sparse_value() -> None:
    ds = read_jsonstat(two_by_two(value={}), source=SOURCE)
    assert ds.frame["value"].to_list() == [None] * 4
    assert read_jsonstat(two_by_two(value={}), source=SOURCE, drop_missing=True).frame.height == 0


def test_index_object_is_ordered_by_position_not_key_order() -> None:
    doc = two_by_two()
    doc["dimension"]["x"]["category"]["index"] = {"x2": 1, "x1": 0}
    doc["dimension"]["y"]["category"]["index"] = {"yb": 0, "ya": 1}
    ds = read_jsonstat(doc, source=SOURCE)
    assert [r[:2] for r in rows(ds)] == [("x1", "yb"), ("x1", "ya"), ("x2", "yb"), ("x2", "ya")]


def test_constant_dimension_without_index_takes_the_label_key() -> None:
    doc = two_by_two(id=["c", "x"], size=[1, 2], value=[1, 2])
    doc["dimension"] = {
        "c": {"label": "constant", "category": {"label": {"ONLY": "the only one"}}},
        "x": {"category": {"index": ["x1", "x2"]}},
    }
    ds = read_jsonstat(doc, source=SOURCE)
    assert rows(ds) == [("ONLY", "x1", 1.0, None), ("ONLY", "x2", 2.0, None)]
    assert ds.labels["c"] == {"ONLY": "the only one"}


def test_single_cell_and_single_dimension() -> None:
    doc = two_by_two(id=["c"], size=[1], value=[42], status=["p"])
    doc["dimension"] = {"c": {"category": {"index": ["k"]}}}
    assert rows(read_jsonstat(doc, source=SOURCE)) == [("k", 42.0, "p")]
    doc["value"] = {"0": 42}
    doc["status"] = {"0": "p"}
    assert rows(read_jsonstat(doc, source=SOURCE, drop_missing=True)) == [("k", 42.0, "p")]


def test_zero_sized_dimension_gives_an_empty_frame() -> None:
    doc = two_by_two(size=[2, 0], value=[])
    doc["dimension"]["y"]["category"]["index"] = []
    ds = read_jsonstat(doc, source=SOURCE)
    assert ds.frame.height == 0
    assert ds.frame.columns == ["x", "y", "value", "status"]


def test_inputs_bytes_text_mapping_and_bom() -> None:
    doc = two_by_two()
    body = orjson.dumps(doc)
    expected = read_jsonstat(doc, source=SOURCE).frame
    assert read_jsonstat(body, source=SOURCE).frame.equals(expected)
    assert read_jsonstat(body.decode(), source=SOURCE).frame.equals(expected)
    assert read_jsonstat(b"\xef\xbb\xbf" + body, source=SOURCE).frame.equals(expected)
    assert read_jsonstat("\ufeff" + body.decode(), source=SOURCE).frame.equals(expected)
    assert read_jsonstat(bytearray(body), source=SOURCE).frame.equals(expected)  # type: ignore[arg-type]


def test_dataset_without_class_is_read() -> None:
    doc = two_by_two()
    del doc["class"]
    del doc["version"]
    assert read_jsonstat(doc, source=SOURCE).frame.height == 4


def test_collection_with_one_embedded_dataset() -> None:
    doc = {
        "version": "2.0",
        "class": "collection",
        "label": "a collection",
        "link": {"item": [two_by_two(label="embedded")]},
    }
    ds = read_jsonstat(doc, source=SOURCE)
    assert ds.label == "embedded"
    assert ds.frame.height == 4


def test_declared_roles_are_not_extended_by_inference() -> None:
    doc = two_by_two(id=["geo", "time"], role={"metric": []})
    doc["dimension"] = {"geo": doc["dimension"]["x"], "time": doc["dimension"]["y"]}
    assert read_jsonstat(doc, source=SOURCE).roles == {"metric": []}
    del doc["role"]
    assert read_jsonstat(doc, source=SOURCE).roles == {"time": ["time"], "geo": ["geo"]}


def test_full_specification_extras() -> None:
    doc = two_by_two(href="https://example.org/ds.json", link={"alternate": [{"type": "text/csv"}]})
    doc["dimension"]["x"] = {
        "label": "area",
        "class": "dimension",
        "href": "https://example.org/x",
        "note": ["dimension note"],
        "extension": {"k": 1},
        "category": {
            "index": ["x1", "x2"],
            "label": {"x1": "one"},
            "child": {"x1": ["x2"]},
            "note": {"x2": ["category note"]},
            "coordinates": {"x1": [24, 60.2]},
        },
    }
    ds = read_jsonstat(doc, source=SOURCE)
    assert ds.children == {"x": {"x1": ["x2"]}}
    assert ds.category_notes == {"x": {"x2": ["category note"]}}
    assert ds.coordinates == {"x": {"x1": (24.0, 60.2)}}
    assert ds.dimension_notes == {"x": ["dimension note"]}
    assert ds.dimension_extensions == {"x": {"k": 1}}
    assert ds.labels["x"] == {"x1": "one", "x2": "x2"}
    assert ds.dimension_labels == {"x": "area", "y": "y"}
    assert ds.href == "https://example.org/ds.json"
    assert ds.link == {"alternate": [{"type": "text/csv"}]}
    assert ds.units == {}
    assert ds.roles == {}


def test_integers_and_large_numbers_become_float() -> None:
    ds = read_jsonstat(two_by_two(value=[0, 1, 2**53 + 1, -(10**20)]), source=SOURCE)
    assert ds.frame["value"].to_list() == [0.0, 1.0, float(2**53 + 1), -1e20]


# ---------------------------------------------------------------------------------------------------------
# Errors: each names the source and the field


def raises(doc: object, field: str, **kwargs: Any) -> JsonStatError:
    with pytest.raises(JsonStatError) as info:
        read_jsonstat(doc, source=SOURCE, **kwargs)  # type: ignore[arg-type]
    err = info.value
    assert isinstance(err, ValidationError)
    assert isinstance(err, IngestError)
    assert err.source == SOURCE
    assert err.field == field
    assert SOURCE in str(err)
    assert field in str(err)
    return err


def test_error_is_a_validation_error() -> None:
    assert issubclass(JsonStatError, ValidationError)


@pytest.mark.parametrize(
    "body",
    [b'{"version": "2.0", "class": "dataset", "id": ["a"', b"", b"not json", "{'single': 'quotes'}", b"[1,"],
)
def test_invalid_json(body: bytes | str) -> None:
    err = raises(body, "body")
    assert err.expected == "valid JSON"


@pytest.mark.parametrize("body", [b"[]", b"3", b'"dataset"', b"null"])
def test_top_level_not_an_object(body: bytes) -> None:
    raises(body, "body")


def test_not_bytes_text_or_mapping() -> None:
    raises(12345, "body")


def mutated(change: Any) -> dict[str, Any]:
    doc = two_by_two()
    change(doc)
    return doc


ERROR_CASES: list[tuple[str, Any, str]] = [
    ("missing id", lambda d: d.pop("id"), "id"),
    ("empty id", lambda d: d.update(id=[]), "id"),
    ("id not strings", lambda d: d.update(id=["x", 3]), "id[1]"),
    ("duplicate id", lambda d: d.update(id=["x", "x"]), "id[1]"),
    ("id named value", lambda d: d.update(id=["x", "value"]), "id[1]"),
    ("missing size", lambda d: d.pop("size"), "size"),
    ("size length mismatch", lambda d: d.update(size=[2, 2, 1]), "size"),
    ("size not integer", lambda d: d.update(size=[2, "2"]), "size[1]"),
    ("size negative", lambda d: d.update(size=[-2, 2]), "size[0]"),
    ("size boolean", lambda d: d.update(size=[True, 2]), "size[0]"),
    ("size vs categories", lambda d: d.update(size=[2, 3], value=[1] * 6), "dimension.y.category.index"),
    ("dimension missing", lambda d: d["dimension"].pop("y"), "dimension.y"),
    ("dimension not object", lambda d: d.update(dimension=[1]), "dimension"),
    ("extra dimension", lambda d: d["dimension"].update(z={"category": {"index": ["z"]}}), "dimension"),
    ("dimension not dict", lambda d: d["dimension"].update(y=[]), "dimension.y"),
    ("category missing", lambda d: d["dimension"]["y"].pop("category"), "dimension.y.category"),
    (
        "index missing with two labels",
        lambda d: d["dimension"]["y"].update(category={"label": {"y1": "a", "y2": "b"}}),
        "dimension.y.category.index",
    ),
    (
        "index and label missing",
        lambda d: d["dimension"]["y"].update(category={}),
        "dimension.y.category.index",
    ),
    (
        "index wrong type",
        lambda d: d["dimension"]["y"]["category"].update(index="y1"),
        "dimension.y.category.index",
    ),
    (
        "index code not string",
        lambda d: d["dimension"]["y"]["category"].update(index=["y1", 2]),
        "dimension.y.category.index[1]",
    ),
    (
        "index duplicates",
        lambda d: d["dimension"]["y"]["category"].update(index=["y1", "y1"]),
        "dimension.y.category.index",
    ),
    (
        "index object position out of range",
        lambda d: d["dimension"]["y"]["category"].update(index={"y1": 0, "y2": 2}),
        "dimension.y.category.index.y2",
    ),
    (
        "index object position repeated",
        lambda d: d["dimension"]["y"]["category"].update(index={"y1": 0, "y2": 0}),
        "dimension.y.category.index",
    ),
    (
        "index object position not integer",
        lambda d: d["dimension"]["y"]["category"].update(index={"y1": 0, "y2": "1"}),
        "dimension.y.category.index.y2",
    ),
    (
        "label for unknown category",
        lambda d: d["dimension"]["y"]["category"].update(label={"y9": "nine"}),
        "dimension.y.category.label",
    ),
    (
        "label not string",
        lambda d: d["dimension"]["y"]["category"].update(label={"y1": 1}),
        "dimension.y.category.label.y1",
    ),
    (
        "category labels not object",
        lambda d: d["dimension"]["y"]["category"].update(label=["a"]),
        "dimension.y.category.label",
    ),
    ("dimension label not string", lambda d: d["dimension"]["y"].update(label=5), "dimension.y.label"),
    (
        "unit not object",
        lambda d: d["dimension"]["y"]["category"].update(unit={"y1": "kt"}),
        "dimension.y.category.unit.y1",
    ),
    (
        "unit bad position",
        lambda d: d["dimension"]["y"]["category"].update(unit={"y1": {"position": "left"}}),
        "dimension.y.category.unit.y1.position",
    ),
    (
        "unit bad decimals",
        lambda d: d["dimension"]["y"]["category"].update(unit={"y1": {"decimals": -1}}),
        "dimension.y.category.unit.y1.decimals",
    ),
    (
        "unit unknown category",
        lambda d: d["dimension"]["y"]["category"].update(unit={"zz": {}}),
        "dimension.y.category.unit",
    ),
    (
        "child not array",
        lambda d: d["dimension"]["y"]["category"].update(child={"y1": "y2"}),
        "dimension.y.category.child.y1",
    ),
    (
        "coordinates not pair",
        lambda d: d["dimension"]["y"]["category"].update(coordinates={"y1": [1]}),
        "dimension.y.category.coordinates.y1",
    ),
    (
        "category note not array",
        lambda d: d["dimension"]["y"]["category"].update(note={"y1": "n"}),
        "dimension.y.category.note.y1",
    ),
    ("dimension note not array", lambda d: d["dimension"]["y"].update(note="n"), "dimension.y.note"),
    (
        "dimension extension not object",
        lambda d: d["dimension"]["y"].update(extension=[]),
        "dimension.y.extension",
    ),
    ("value missing", lambda d: d.pop("value"), "value"),
    ("value wrong type", lambda d: d.update(value="1,2,3,4"), "value"),
    ("dense too short", lambda d: d.update(value=[1, 2, 3]), "value"),
    ("dense too long", lambda d: d.update(value=[1, 2, 3, 4, 5]), "value"),
    ("dense string value", lambda d: d.update(value=[1, 2, "3", 4]), "value[2]"),
    ("dense boolean value", lambda d: d.update(value=[1, True, 3, 4]), "value[1]"),
    ("dense nested value", lambda d: d.update(value=[1, 2, 3, [4]]), "value[3]"),
    ("sparse string value", lambda d: d.update(value={"0": 1, "3": "x"}), 'value["3"]'),
    ("sparse key out of range", lambda d: d.update(value={"0": 1, "4": 2}), 'value["4"]'),
    ("sparse key negative", lambda d: d.update(value={"-1": 1}), 'value["-1"]'),
    ("sparse key not integer", lambda d: d.update(value={"a": 1}), "value"),
    ("sparse key leading zero", lambda d: d.update(value={"01": 1}), "value"),
    ("sparse key decimal", lambda d: d.update(value={"1.0": 1}), "value"),
    ("sparse key plus sign", lambda d: d.update(value={"+1": 1}), "value"),
    ("sparse key minus zero", lambda d: d.update(value={"-0": 1}), "value"),
    ("sparse key with space", lambda d: d.update(value={" 1": 1}), "value"),
    ("sparse key spelled twice", lambda d: d.update(value={"1": 1, "01": 2}), "value"),
    ("status sparse key not integer", lambda d: d.update(status={"p": "p"}), "status"),
    ("status wrong length", lambda d: d.update(status=["a", "b"]), "status"),
    ("status not string", lambda d: d.update(status=["a", "b", 3, None]), "status[2]"),
    ("status single not string", lambda d: d.update(status=[3]), "status[0]"),
    ("status sparse not string", lambda d: d.update(status={"2": 3}), 'status["2"]'),
    ("status sparse key out of range", lambda d: d.update(status={"9": "p"}), 'status["9"]'),
    ("status wrong type", lambda d: d.update(status=5), "status"),
    ("role not object", lambda d: d.update(role=["time"]), "role"),
    ("role unknown dimension", lambda d: d.update(role={"time": ["year"]}), "role.time"),
    ("role not array", lambda d: d.update(role={"time": "x"}), "role.time"),
    ("label not string", lambda d: d.update(label=1), "label"),
    ("source not string", lambda d: d.update(source=["ESTAT"]), "source"),
    ("updated not string", lambda d: d.update(updated=20240101), "updated"),
    ("extension not object", lambda d: d.update(extension="x"), "extension"),
    ("note not array of strings", lambda d: d.update(note=[1]), "note"),
    ("version too old", lambda d: d.update(version="1.02"), "version"),
    ("version not a number", lambda d: d.update(version="two"), "version"),
    ("version not string", lambda d: d.update(version=2.0), "version"),
    ("class unknown", lambda d: d.update({"class": "table"}), "class"),
    ("class dimension", lambda d: d.update({"class": "dimension"}), "class"),
]


@pytest.mark.parametrize(("name", "change", "field"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_error_cases(name: str, change: Any, field: str) -> None:
    raises(mutated(change), field)


@pytest.mark.parametrize(("name", "change", "field"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_error_cases_from_bytes_and_with_drop_missing(name: str, change: Any, field: str) -> None:
    raises(orjson.dumps(mutated(change)), field, drop_missing=True)


def test_string_value_error_names_index_and_value() -> None:
    err = raises(two_by_two(value=[1, 2, "3", 4]), "value[2]")
    assert err.got == "'3'"
    assert "number or null" in str(err)


def test_class_missing_and_not_a_dataset() -> None:
    raises({"version": "2.0", "label": "nothing"}, "class")


def test_json_stat_1_bundle_is_rejected_with_a_hint() -> None:
    old = two_by_two()
    bundle = {
        "dataset": {"dimension": {**old["dimension"], "id": old["id"], "size": old["size"]}, "value": []}
    }
    err = raises(bundle, "class")
    assert "1.x bundle" in str(err)


@pytest.mark.parametrize(
    "body",
    [
        {"error": "Too many values selected"},  # PxWeb
        {"error": [{"status": 400, "id": 150, "label": "INVALID_QUERY_DIMENSION"}]},  # Eurostat
        {"version": "2.0", "class": "dataset", "error": [{"status": "404", "label": "not found"}]},
    ],
)
def test_error_responses(body: dict[str, Any]) -> None:
    err = raises(body, "error")
    assert err.got is not None
    assert err.got.split()[-1] in str(err)


@pytest.mark.parametrize(
    "items",
    [
        [],
        [{"class": "dataset", "href": "https://example.org/a.json", "label": "link only"}],
        [two_by_two(), two_by_two()],
        [{"class": "dimension", "category": {"index": ["a"]}}],
    ],
)
def test_collections_that_do_not_embed_exactly_one_dataset(items: list[Any]) -> None:
    raises({"version": "2.0", "class": "collection", "link": {"item": items}}, "link.item")


def test_too_many_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonstat, "MAX_CELLS", 3)
    err = raises(two_by_two(), "size")
    assert "2 x 2 = 4 cells" in str(err)
    # A sparse value read with drop_missing materialises only the cells present.
    assert read_jsonstat(two_by_two(value={"3": 1}), source=SOURCE, drop_missing=True).frame.height == 1


# ---------------------------------------------------------------------------------------------------------
# Properties: any valid dataset reads to exactly the cells built independently with itertools.product

DIMENSION_IDS = ["geo", "time", "sex", "age"]
STATUS_CHOICES = st.sampled_from([None, None, "p", "e", "..", ":", ""])
NUMBERS = st.one_of(
    st.none(),
    st.integers(min_value=-(10**9), max_value=10**9),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
)


@st.composite
def datasets(draw: st.DrawFn) -> tuple[dict[str, Any], list[list[str]], list[float | None], list[str | None]]:
    """A valid JSON-stat document (dense value, no status yet), its categories in order, values, statuses."""
    n_dims = draw(st.integers(1, 4))
    ids = draw(st.permutations(DIMENSION_IDS))[:n_dims]
    dimension: dict[str, Any] = {}
    categories: list[list[str]] = []
    for did in ids:
        size = draw(st.integers(1, 4))
        codes = draw(
            st.lists(
                st.text("abcXYZ019_-", min_size=1, max_size=3), min_size=size, max_size=size, unique=True
            )
        )
        category: dict[str, Any] = {}
        labels = {c: f"label {c}" for c in codes if draw(st.booleans())}
        form = draw(st.sampled_from(["array", "object", "none"] if size == 1 else ["array", "object"]))
        if form == "array":
            category["index"] = codes
        elif form == "object":
            order = draw(st.permutations(range(size)))  # the object's key order is not the category order
            category["index"] = {codes[i]: i for i in order}
        else:
            labels = {codes[0]: labels.get(codes[0], "constant")}
        if labels:
            category["label"] = labels
        dimension[did] = {"label": f"dimension {did}", "category": category}
        categories.append(codes)
    n = 1
    for codes in categories:
        n *= len(codes)
    values = draw(st.lists(NUMBERS, min_size=n, max_size=n))
    statuses = draw(st.lists(STATUS_CHOICES, min_size=n, max_size=n))
    doc = {
        "version": "2.0",
        "class": "dataset",
        "id": ids,
        "size": [len(c) for c in categories],
        "dimension": dimension,
        "value": values,
    }
    return doc, categories, values, statuses


def expected_cells(categories: list[list[str]], values: list[Any], statuses: list[str | None]) -> Cells:
    out: Cells = {}
    for flat, coords in enumerate(itertools.product(*categories)):
        value = values[flat]
        out[coords] = (None if value is None else float(value), statuses[flat] or None)
    return out


def encode_status(mode: str, statuses: list[str | None]) -> tuple[object, list[str | None]]:
    """The status property in the given form, and the per-cell statuses it stands for."""
    n = len(statuses)
    if mode == "none":
        return None, [None] * n
    if mode == "string":
        return statuses[0] or "p", [statuses[0] or "p"] * n
    if mode == "single":
        return [statuses[0]], [statuses[0]] * n
    if mode == "array":
        return statuses, statuses
    return {str(i): s for i, s in enumerate(statuses) if s is not None}, statuses


@settings(max_examples=100, deadline=None)
@given(
    generated=datasets(),
    status_mode=st.sampled_from(["none", "string", "single", "array", "object"]),
    sparse=st.booleans(),
    explicit_nulls=st.booleans(),
)
def test_property_any_valid_dataset_reads_to_the_product_of_its_categories(
    generated: tuple[dict[str, Any], list[list[str]], list[Any], list[str | None]],
    status_mode: str,
    sparse: bool,
    explicit_nulls: bool,
) -> None:
    doc, categories, values, statuses = generated
    status, per_cell = encode_status(status_mode, statuses)
    if status is not None:
        doc["status"] = status
    if sparse:
        items = [(str(i), v) for i, v in enumerate(values) if v is not None or explicit_nulls]
        doc["value"] = dict(reversed(items))  # key order must not matter
    expected = expected_cells(categories, values, per_cell)
    body = orjson.dumps(doc)

    ds = read_jsonstat(body, source=SOURCE)
    assert cells(ds) == expected
    assert ds.frame.height == len(expected)
    assert [tuple(r[: len(categories)]) for r in rows(ds)] == list(itertools.product(*categories))
    assert ds.frame.dtypes == [pl.String] * len(categories) + [pl.Float64, pl.String]

    present = read_jsonstat(body, source=SOURCE, drop_missing=True)
    assert cells(present) == {k: v for k, v in expected.items() if v[0] is not None}
    assert present.frame.schema == ds.frame.schema


@settings(max_examples=100, deadline=None)
@given(generated=datasets(), sparse=st.booleans(), data=st.data())
def test_property_dense_and_sparse_encodings_agree(
    generated: tuple[dict[str, Any], list[list[str]], list[Any], list[str | None]],
    sparse: bool,
    data: st.DataObject,
) -> None:
    doc, _categories, values, statuses = generated
    dense = copy.deepcopy(doc)
    dense["status"] = statuses
    sparse_doc = copy.deepcopy(doc)
    sparse_doc["value"] = {str(i): v for i, v in enumerate(values) if v is not None}
    sparse_doc["status"] = {str(i): s for i, s in enumerate(statuses) if s is not None}
    drop = data.draw(st.booleans())
    a = read_jsonstat(dense, source=SOURCE, drop_missing=drop).frame
    b = read_jsonstat(sparse_doc, source=SOURCE, drop_missing=drop).frame
    assert a.equals(b)


def break_document(doc: dict[str, Any], how: str, which: int, n: int) -> None:
    ids = doc["id"]
    target = ids[which % len(ids)]
    if how == "size":
        doc["size"][which % len(ids)] += 1 + which % 2
    elif how == "size_length":
        doc["size"].append(1)
    elif how == "missing_dimension":
        del doc["dimension"][target]
    elif how == "dense_length":
        doc["value"] = doc["value"][:-1] if which % 2 else [*doc["value"], 1.0]
    elif how == "sparse_key":
        keys = [str(n + which), str(-1 - which), "x", f"0{which}", f"{which}.5"]
        doc["value"] = {keys[which % len(keys)]: 1.0}
    elif how == "string_value":
        doc["value"][which % n] = "1.5"
    elif how == "status_length":
        doc["status"] = ["p"] * (n + 1)


@settings(max_examples=100, deadline=None)
@given(
    generated=datasets(),
    how=st.sampled_from(
        [
            "size",
            "size_length",
            "missing_dimension",
            "dense_length",
            "sparse_key",
            "string_value",
            "status_length",
        ]
    ),
    which=st.integers(0, 20),
    drop_missing=st.booleans(),
)
def test_property_invalid_datasets_raise(
    generated: tuple[dict[str, Any], list[list[str]], list[Any], list[str | None]],
    how: str,
    which: int,
    drop_missing: bool,
) -> None:
    doc, _categories, values, _statuses = generated
    break_document(doc, how, which, len(values))
    with pytest.raises(JsonStatError) as info:
        read_jsonstat(orjson.dumps(doc), source=SOURCE, drop_missing=drop_missing)
    assert info.value.source == SOURCE
    assert str(info.value).startswith(f"{SOURCE}: {info.value.field}: expected ")


def test_mapping_input_is_not_modified() -> None:
    doc = oecd_like()
    before = copy.deepcopy(doc)
    read_jsonstat(doc, source=SOURCE)
    assert doc == before
    assert isinstance(doc, Mapping)


def _large(status: object = None) -> dict[str, Any]:
    """A dense cube of 120,000 cells: its code columns are built on a second thread."""
    areas = [f"A{i:05d}" for i in range(40_000)]
    values: list[object] = [None if i % 7 == 0 else i / 4 for i in range(120_000)]
    doc = two_by_two(
        id=["area", "year"],
        size=[40_000, 3],
        dimension={
            "area": {"category": {"index": areas}},
            "year": {"category": {"index": ["2021", "2022", "2023"]}},
        },
        value=values,
    )
    if status is not None:
        doc["status"] = status
    return doc


@pytest.mark.parametrize(
    ("status", "status_of_row_8"), [(None, None), ("p", "p"), (["e"] * 120_000, "e"), ({"5": "p"}, None)]
)
@pytest.mark.parametrize("drop_missing", [False, True])
def test_a_large_cube_reads_as_a_small_one_does(
    monkeypatch: pytest.MonkeyPatch, status: object, status_of_row_8: str | None, drop_missing: bool
) -> None:
    body = orjson.dumps(_large(status))
    assert jsonstat._PARALLEL_CELLS <= 120_000
    threaded = read_jsonstat(body, source=SOURCE, drop_missing=drop_missing).frame
    monkeypatch.setattr(jsonstat, "_PARALLEL_CELLS", 10**9)
    inline = read_jsonstat(body, source=SOURCE, drop_missing=drop_missing).frame
    assert threaded.equals(inline)
    assert threaded.schema == inline.schema
    assert threaded.height == (120_000 - 120_000 // 7 - 1 if drop_missing else 120_000)
    if not drop_missing:
        assert threaded.row(8) == ("A00002", "2023", 2.0, status_of_row_8)


def test_a_large_cube_with_a_bad_value_names_its_index() -> None:
    doc = _large()
    doc["value"][100_001] = True
    err = raises(orjson.dumps(doc), "value[100001]")
    assert err.got == "True"


@pytest.mark.parametrize(
    "change",
    [
        lambda d: None,  # nothing else wrong
        lambda d: d["value"].__setitem__(1, "x"),  # a value the frame cannot hold
        lambda d: d.update(version="1.0"),  # a version this reader does not read
        lambda d: d.update(size=[40_000, 4]),  # a size the categories do not match
        lambda d: d.update(value=d["value"][:-1]),  # one value short
        lambda d: d.update(label=5),  # a label checked after the frame is built
    ],
)
@pytest.mark.parametrize("large", [False, True])
def test_a_repeated_key_is_reported_before_anything_else(change: Any, large: bool) -> None:
    doc = _large() if large else two_by_two(value=[1.0, 2.0, None, 4.0])
    change(doc)
    body = orjson.dumps(doc).replace(b'"class":"dataset"', b'"class":"dataset","class":"dataset"', 1)
    with pytest.raises(DuplicateKeyError, match='key "class" 2 times'):
        read_jsonstat(body, source=SOURCE)
