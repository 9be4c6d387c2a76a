"""Derivations: sums with breakdown rules and region totals, select, ratios, indices; missing stays null."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indicators.catalogue import IndicatorCatalogue, load_indicator_catalogue, parse_indicator_catalogue
from indicators.derive import _merge_ids, derive_all
from indicators.engine import indicator_values
from indicators.targets import targets_frame

T = datetime(2025, 6, 1)
NAMES = {"name": {"fi": "x", "sv": "x", "en": "x"}, "description": {"fi": "x", "sv": "x", "en": "x"}}


def named(key: str) -> dict[str, str]:
    """A name of its own in each language (the catalogue refuses two indicators of one name)."""
    return {"fi": key, "sv": key, "en": key}


def catalogue(**entries: Mapping[str, object]) -> IndicatorCatalogue:
    base = {"unit": "kt CO2e", "direction": "decrease", "boundary": "test", "assess": []}
    return parse_indicator_catalogue(
        {"indicators": {k: {**NAMES, "name": named(k), **base, **v} for k, v in entries.items()}}
    )


def obs(
    rows: list[tuple[str, str, float | None, dict[str, str]]], unit: str = "kt CO2e", snapshot: int = 1
) -> pl.DataFrame:
    """(area, period, value, dims) rows as a loaded observation frame."""
    dims = sorted({k for *_, d in rows for k in d})
    return pl.DataFrame(
        {
            "area": [r[0] for r in rows],
            "period": [r[1] for r in rows],
            "value": [r[2] for r in rows],
            "flag": [None] * len(rows),
            "unit": [unit] * len(rows),
            **{d: [r[3].get(d, "") for r in rows] for d in dims},
            "snapshot_id": [snapshot] * len(rows),
            "valid_from": [T] * len(rows),
        },
        schema_overrides={"value": pl.Float64, "flag": pl.String},
    )


SECTORS = {
    "kind": "sum",
    "dataset": "d",
    "unit_in": "kt CO2e",
    "breakdown": [
        {"key": "district_heat", "match": {"s1": "Lämmitys", "s2": "Kaukolämpö"}},
        {"key": "other_heating", "match": {"s1": "Lämmitys"}},
        {"key": "transport", "match": {"s1": "Liikenne"}},
    ],
}


def test_breakdown_first_rule_wins_and_unmatched_goes_to_other() -> None:
    data = obs(
        [
            ("049", "2020", 10.0, {"s1": "Lämmitys", "s2": "Kaukolämpö"}),
            ("049", "2020", 3.0, {"s1": "Lämmitys", "s2": "Öljylämmitys"}),
            ("049", "2020", 5.0, {"s1": "Liikenne", "s2": "Tieliikenne"}),
            ("049", "2020", 1.0, {"s1": "Uusi sektori", "s2": ""}),
        ]
    )
    done, errors = derive_all(catalogue(sectors={"derive": SECTORS}), {"d": data})
    assert not errors
    result = dict(done["sectors"].select("indicator", "value").iter_rows())
    # 10 + 3 + 5 + 1: district heat matched before the broader heating rule
    assert result == {
        "sectors.district_heat": 10.0,
        "sectors.other_heating": 3.0,
        "sectors.transport": 5.0,
        "sectors.other": 1.0,
    }


def test_breakdown_rules_sharing_a_key_give_one_part_and_region_totals_per_part() -> None:
    # "heating" is the key of two rules that are not next to each other: one stored part, summed over
    # both rules' rows, and the region total of each part adds the members' parts
    derive = {
        "kind": "sum",
        "dataset": "d",
        "unit_in": "kt CO2e",
        "breakdown": [
            {"key": "heating", "match": {"s1": "Lämmitys"}},
            {"key": "transport", "match": {"s1": "Liikenne"}},
            {"key": "heating", "match": {"s1": "Lämpöpumput"}},
        ],
        "totals": [{"area": "R", "of": ["049", "091"]}],
    }
    rows: list[tuple[str, str, float | None, dict[str, str]]] = []
    for area, scale in (("049", 1.0), ("091", 100.0)):
        rows += [
            (area, "2020", 1.0 * scale, {"s1": "Lämmitys"}),
            (area, "2020", 2.0 * scale, {"s1": "Liikenne"}),
            (area, "2020", 4.0 * scale, {"s1": "Lämpöpumput"}),
            (area, "2020", 8.0 * scale, {"s1": "Muu"}),
        ]
    done, errors = derive_all(catalogue(sectors={"derive": derive}), {"d": obs(rows)})
    assert not errors
    result = {(r[0], r[1]): r[2] for r in done["sectors"].select("indicator", "area", "value").iter_rows()}
    assert result == {
        ("sectors.heating", "049"): 5.0,
        ("sectors.transport", "049"): 2.0,
        ("sectors.other", "049"): 8.0,
        ("sectors.heating", "091"): 500.0,
        ("sectors.transport", "091"): 200.0,
        ("sectors.other", "091"): 800.0,
        ("sectors.heating", "R"): 505.0,
        ("sectors.transport", "R"): 202.0,
        ("sectors.other", "R"): 808.0,
    }
    assert done["sectors"].schema["indicator"] == pl.String


def test_breakdown_rules_treat_a_missing_dimension_as_not_matching() -> None:
    data = obs(
        [
            ("049", "2020", 2.0, {"s1": "Lämmitys"}),
            ("049", "2020", 4.0, {"s1": "Lämmitys", "s2": "Kaukolämpö"}),
            ("049", "2020", 8.0, {"s2": "Kaukolämpö"}),
        ]
    ).with_columns(pl.col("s1", "s2").replace("", None))
    done, errors = derive_all(catalogue(sectors={"derive": SECTORS}), {"d": data})
    assert not errors
    result = dict(done["sectors"].select("indicator", "value").iter_rows())
    # s2 missing fails the district-heat rule, so 2.0 is other heating; s1 missing matches no rule
    assert result == {"sectors.district_heat": 4.0, "sectors.other_heating": 2.0, "sectors.other": 8.0}


def test_sums_are_bit_identical_from_run_to_run() -> None:
    # many values per group in an order-sensitive mix of magnitudes: a group-by that adds them in a
    # varying order (a parallel aggregation) gives sums that differ in the last bits between runs
    values = [(i * 7919 % 1000) * 10.0 ** (i % 7 - 3) + 0.1 for i in range(60_000)]
    no_dims: dict[str, str] = {}
    rows: list[tuple[str, str, float | None, dict[str, str]]] = [
        (f"{i % 40:03d}", str(1990 + i % 30), v, no_dims) for i, v in enumerate(values)
    ]
    cat = catalogue(t={"derive": {"kind": "sum", "dataset": "d", "unit_in": "kt CO2e"}})
    data = obs(rows)
    runs = {tuple(derive_all(cat, {"d": data})[0]["t"].sort("area", "period")["value"]) for _ in range(20)}
    assert len(runs) == 1


def test_a_breakdown_part_adds_its_rows_in_row_order() -> None:
    # each part is summed on its own (derive._aggregate): its groups must still add their values in the
    # order the rows come in, as one group-by over all parts did, or the sums change in their last bits
    sectors = [{"s1": "Lämmitys", "s2": "Kaukolämpö"}, {"s1": "Lämmitys"}, {"s1": "Liikenne"}, {"s1": "Muu"}]
    parts = ["district_heat", "other_heating", "transport", "other"]
    rows: list[tuple[str, str, float | None, dict[str, str]]] = [
        (
            f"{i % 7:03d}",
            str(2000 + i % 5),
            (i * 7919 % 1000) * 10.0 ** (i // 140 % 9 - 4) + 0.1,
            sectors[i % 4],
        )
        for i in range(20_000)
    ]
    data = obs(rows)
    # the reference: one group-by with the part as a third key (each group's values in row order)
    labelled = data.with_columns(pl.Series("part", [f"sectors.{parts[i % 4]}" for i in range(len(rows))]))
    reference = labelled.group_by("part", "area", "period").agg(pl.col("value").sum())
    expected = {(i, a, p): v for i, a, p, v in reference.iter_rows()}
    done, errors = derive_all(catalogue(sectors={"derive": SECTORS}), {"d": data})
    assert not errors
    got = {
        (i, a, p): v
        for i, a, p, v in done["sectors"].select("indicator", "area", "period", "value").iter_rows()
    }
    assert got == expected


def test_all_missing_sum_stays_missing_not_zero() -> None:
    data = obs([("049", "2020", None, {}), ("049", "2020", None, {"s": "b"}), ("049", "2021", 2.0, {})])
    done, _ = derive_all(
        catalogue(t={"derive": {"kind": "sum", "dataset": "d", "unit_in": "kt CO2e"}}), {"d": data}
    )
    assert dict(done["t"].select("period", "value").iter_rows()) == {"2020": None, "2021": 2.0}


def test_region_total_only_when_every_member_has_a_value() -> None:
    derive = {
        "kind": "sum",
        "dataset": "d",
        "unit_in": "kt CO2e",
        "totals": [{"area": "PKS", "of": ["049", "091"]}],
    }
    data = obs([("049", "2020", 1.0, {}), ("091", "2020", 2.0, {}), ("049", "2021", 1.0, {})])
    done, _ = derive_all(catalogue(t={"derive": derive}), {"d": data})
    region = done["t"].filter(pl.col("area") == "PKS")
    assert dict(region.select("period", "value").iter_rows()) == {"2020": 3.0}  # 2021 lacks 091


def test_a_region_part_adds_the_members_that_report_it_so_the_parts_add_up_to_the_region_total() -> None:
    # 049 never reports geothermal heating (no row in any year): the region's part is 091's alone, and
    # the region's parts add up to its total; 091 lacks transport in 2021 only, which leaves the
    # region's 2021 transport out, and a member missing from a year leaves that year's totals out
    derive = {
        "kind": "sum",
        "dataset": "d",
        "unit_in": "kt CO2e",
        "breakdown": [
            {"key": "geothermal", "match": {"s1": "Maalämpö"}},
            {"key": "transport", "match": {"s1": "Liikenne"}},
        ],
        "totals": [{"area": "R", "of": ["049", "091"]}],
    }
    whole = {**derive, "breakdown": [], "totals": derive["totals"]}
    rows: list[tuple[str, str, float | None, dict[str, str]]] = [
        ("049", "2020", 10.0, {"s1": "Liikenne"}),
        ("049", "2021", 11.0, {"s1": "Liikenne"}),
        ("049", "2022", 12.0, {"s1": "Liikenne"}),
        ("091", "2020", 3.0, {"s1": "Maalämpö"}),
        ("091", "2020", 20.0, {"s1": "Liikenne"}),
        ("091", "2021", 4.0, {"s1": "Maalämpö"}),
    ]
    done, errors = derive_all(catalogue(parts={"derive": derive}, total={"derive": whole}), {"d": obs(rows)})
    assert not errors
    region = done["parts"].filter(pl.col("area") == "R")
    found = {(r[0], r[1]): r[2] for r in region.select("indicator", "period", "value").iter_rows()}
    assert found == {
        ("parts.geothermal", "2020"): 3.0,
        ("parts.transport", "2020"): 30.0,
        ("parts.geothermal", "2021"): 4.0,  # 049 has no geothermal part at all
    }  # 2021 transport: 091 reports transport, not in 2021; 2022: 091 has no row at all
    totals = dict(done["total"].filter(pl.col("area") == "R").select("period", "value").iter_rows())
    assert totals == {"2020": 33.0, "2021": 15.0}
    assert sum(v for (_, period), v in found.items() if period == "2020") == totals["2020"]


def test_a_flag_of_the_one_value_it_sits_on_is_not_carried_into_a_total() -> None:
    # the HSY connector marks a negative row "neg"; the positive total is not negative, while a
    # provisional row makes its total provisional
    rows: list[tuple[str, str, float | None, dict[str, str]]] = [
        ("049", "2020", 10.0, {"s": "a"}),
        ("049", "2020", -2.0, {"s": "b"}),
        ("049", "2021", 5.0, {"s": "a"}),
        ("049", "2021", -1.0, {"s": "b"}),  # negative in the provisional year: "neg,p"
    ]
    data = obs(rows).with_columns(pl.Series("flag", [None, "neg", "p", "neg,p"], dtype=pl.String))
    done, _ = derive_all(
        catalogue(t={"derive": {"kind": "sum", "dataset": "d", "unit_in": "kt CO2e"}}), {"d": data}
    )
    assert dict(done["t"].select("period", "flags").iter_rows()) == {"2020": None, "2021": "p"}


def test_select_refuses_an_ambiguous_filter() -> None:
    data = obs([("FI", "2020", 1.0, {"unit_code": "I90"}), ("FI", "2020", 2.0, {"unit_code": "T_HAB"})])
    derive = {"kind": "select", "dataset": "d", "unit_in": "kt CO2e"}
    _, errors = derive_all(catalogue(t={"derive": derive}), {"d": data})
    assert "exactly one series per area and period" in errors["t"] and "indicator t" in errors["t"]


@pytest.mark.parametrize(
    ("derive", "field"),
    [
        ({"kind": "sum", "dataset": "d", "unit_in": "GWh"}, "unit"),
        ({"kind": "sum", "dataset": "d", "unit_in": "kt CO2e", "filter": {"sector9": "x"}}, "sector9"),
        ({"kind": "sum", "dataset": "missing", "unit_in": "kt CO2e"}, "dataset missing"),
    ],
)
def test_bad_inputs_name_the_indicator_and_field(derive: dict[str, object], field: str) -> None:
    data = obs([("049", "2020", 1.0, {"s": "a"})])
    _, errors = derive_all(
        catalogue(t={"derive": derive}, r={"derive": {"kind": "index", "of": "t", "base_year": 2020}}),
        {"d": data},
    )
    assert errors["t"].startswith(f"indicator t: {field}")
    assert errors["r"] == "indicator r: input indicator t failed"


def test_unknown_dependency_is_rejected_when_the_catalogue_loads() -> None:
    with pytest.raises(ValueError, match="depends on unknown indicator 'nope'"):
        catalogue(r={"derive": {"kind": "index", "of": "nope", "base_year": 1990}})


def test_two_indicators_of_one_name_are_rejected_when_the_catalogue_loads() -> None:
    # the peer figures were all "Emissions per resident", beside HSY's own series of that name
    same = {
        "fi": "Päästöt asukasta kohden",
        "sv": "Utsläpp per invånare (OECD)",
        "en": "Emissions per resident",
    }
    with pytest.raises(ValueError, match="'b' and 'a' share the fi name 'Päästöt asukasta kohden'"):
        catalogue(
            a={"derive": {"kind": "sum", "dataset": "d", "unit_in": "kt CO2e"}, "name": same},
            b={
                "derive": {"kind": "sum", "dataset": "e", "unit_in": "kt CO2e"},
                "name": {**same, "fi": same["fi"]},
            },
        )


def test_every_indicator_of_the_shipped_catalogue_has_a_name_of_its_own_in_each_language() -> None:
    entries = load_indicator_catalogue().indicators.values()
    for lang in ("fi", "sv", "en"):
        names = [entry.name.get(lang) for entry in entries]
        assert len(set(names)) == len(names), [n for n in names if names.count(n) > 1]


def test_target_is_derived_from_the_same_release() -> None:
    entry = {
        "derive": {"kind": "sum", "dataset": "d", "unit_in": "kt CO2e"},
        "targets": [
            {"kind": "reduction_from_base", "base_year": 1990, "reduction": 0.8, "year": 2030, "source": "s"}
        ],
    }
    cat = catalogue(t=entry, r={"derive": {"kind": "residual", "of": "t"}})
    for base in (1060.0, 1224.0):  # the current release and the older SECAP calculation
        done, _ = derive_all(cat, {"d": obs([("049", "1990", base, {}), ("049", "2023", 742.0, {})])})
        assert done["r"]["value"].to_list() == [pytest.approx(base * 0.2)]


def test_values_no_source_published_are_stored_with_the_kind_of_their_derivation() -> None:
    """The engine's kind of an indicator's own values follows its derive kind, whatever its id: a residual
    is target_derived, a share of one year's value an assumption, anything else observed."""
    goal = {"kind": "reduction_from_base", "base_year": 1990, "reduction": 0.8, "year": 2030, "source": "s"}
    cat = catalogue(
        t={"derive": {"kind": "sum", "dataset": "d", "unit_in": "kt CO2e"}, "targets": [goal]},
        r={"derive": {"kind": "residual", "of": "t"}},
        s={
            "derive": {
                "kind": "share_of_year",
                "of": "t",
                "year": 2019,
                "share": 0.2,
                "source": "x",
                "stated_by": {"fi": "x", "sv": "x", "en": "x"},
            }
        },
    )
    done, _ = derive_all(cat, {"d": obs([("049", "1990", 1000.0, {}), ("049", "2019", 800.0, {})])})
    values = indicator_values(cat, done, date(2026, 11, 27))
    own = values.filter(pl.col("kind").is_in(["observed", "target_derived", "assumption"]))
    assert sorted(own.select("indicator", "period", "kind", "value").rows()) == [
        ("r", "2030", "target_derived", pytest.approx(200.0)),
        ("s", "2019", "assumption", pytest.approx(160.0)),
        ("t", "1990", "observed", 1000.0),
        ("t", "2019", "observed", 800.0),
    ]


def test_a_reduction_target_on_a_change_series_is_the_change_it_means() -> None:
    """A reduction on a base year, declared on the % change on 1990, is the change the reduction means:
    −80 % on 1990 is −80 (the 1990 level 100 → 20); −50 % on 2007, when 2007 stood at +10 % on 1990 (110),
    is 55, i.e. −45 %. On the index (1990 = 100) it is the base-year value reduced: 20."""
    goal = {"kind": "reduction_from_base", "base_year": 1990, "reduction": 0.8, "year": 2030, "source": "s"}
    later = {**goal, "base_year": 2007, "reduction": 0.5, "year": 2035}
    cat = catalogue(
        t={"derive": {"kind": "sum", "dataset": "d", "unit_in": "kt CO2e"}},
        c={
            "derive": {"kind": "change", "of": "t", "against": "base_year", "base_year": 1990},
            "unit": "%",
            "targets": [goal, later],
        },
        i={"derive": {"kind": "index", "of": "t", "base_year": 1990}, "unit": "index", "targets": [goal]},
    )
    done, _ = derive_all(cat, {"d": obs([("049", "1990", 1060.0, {}), ("049", "2007", 1166.0, {})])})
    change = targets_frame(cat.get("c"), done["c"])
    assert dict(zip(change["year"], change["value"], strict=True)) == {
        2030: pytest.approx(-80.0),
        2035: pytest.approx(-45.0),
    }
    assert change.filter(pl.col("year") == 2030)["base_value"].to_list() == [0.0]  # the series' own 1990
    assert targets_frame(cat.get("i"), done["i"])["value"].to_list() == [pytest.approx(20.0)]


def test_a_change_on_the_previous_year_takes_no_reduction_target() -> None:
    goal = {"kind": "reduction_from_base", "base_year": 1990, "reduction": 0.8, "year": 2030, "source": "s"}
    with pytest.raises(ValueError, match="previous year has no base"):
        catalogue(
            t={"derive": {"kind": "sum", "dataset": "d", "unit_in": "kt CO2e"}},
            c={
                "derive": {"kind": "change", "of": "t", "against": "previous_year"},
                "unit": "%",
                "targets": [goal],
            },
        )


ratio_catalogue = catalogue(
    e={"derive": {"kind": "sum", "dataset": "e", "unit_in": "kt CO2e"}},
    p={"derive": {"kind": "sum", "dataset": "p", "unit_in": "persons"}, "unit": "persons"},
    per={
        "derive": {"kind": "ratio", "numerator": "e", "denominator": "p", "scale": 1000.0},
        "unit": "t CO2e per resident",
    },
    idx={"derive": {"kind": "index", "of": "e", "base_year": 1990}, "unit": "index"},
)


@settings(max_examples=60, deadline=None)
@given(
    emissions=st.lists(st.floats(1, 5000), min_size=3, max_size=3),
    population=st.floats(1000, 2_000_000),
    factor=st.floats(0.1, 10),
)
def test_per_resident_scales_inversely_with_population(
    emissions: list[float], population: float, factor: float
) -> None:
    periods = ["1990", "2000", "2010"]
    e = obs([("049", p, v, {}) for p, v in zip(periods, emissions, strict=True)])

    def per_resident(pop: float) -> list[float]:
        p = obs([("049", per, pop, {}) for per in periods], unit="persons", snapshot=2)
        done, errors = derive_all(ratio_catalogue, {"e": e, "p": p}, ["per"])
        assert not errors
        return done["per"].sort("period")["value"].to_list()

    base, scaled = per_resident(population), per_resident(population * factor)
    for b, s in zip(base, scaled, strict=True):
        assert s == pytest.approx(b / factor, rel=1e-9)
    assert base[0] == pytest.approx(emissions[0] * 1000 / population)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.floats(0.5, 1e6), min_size=2, max_size=6))
def test_index_is_100_in_its_base_year(values: list[float]) -> None:
    periods = [str(1990 + 5 * i) for i in range(len(values))]
    done, _ = derive_all(
        ratio_catalogue,
        {"e": obs([("049", p, v, {}) for p, v in zip(periods, values, strict=True)])},
        ["idx"],
    )
    index = dict(done["idx"].select("period", "value").iter_rows())
    assert index["1990"] == pytest.approx(100.0)
    for period, v in zip(periods, values, strict=True):
        assert index[period] == pytest.approx(v / values[0] * 100)


def test_provenance_is_the_union_of_inputs() -> None:
    e = obs([("049", "2020", 10.0, {})], snapshot=7)
    p = obs([("049", "2020", 5.0, {})], unit="persons", snapshot=9)
    done, _ = derive_all(ratio_catalogue, {"e": e, "p": p}, ["per"])
    assert done["per"]["snapshot_ids"].to_list() == [[7, 9]]


def test_provenance_union_is_sorted_and_per_row() -> None:
    # 1990 and 2021 from snapshot 4, 2020 revised in snapshot 2: only the 2020 index value draws on both
    e = pl.concat(
        [
            obs([("049", "1990", 10.0, {}), ("049", "2021", 8.0, {})], snapshot=4),
            obs([("049", "2020", 9.0, {})], snapshot=2),
        ]
    )
    p = obs([("049", "2020", 5.0, {})], unit="persons", snapshot=1)
    done, _ = derive_all(ratio_catalogue, {"e": e, "p": p}, ["per", "idx"])
    index = dict(done["idx"].select("period", "snapshot_ids").iter_rows())
    assert index == {"1990": [4], "2020": [2, 4], "2021": [4]}
    assert done["per"]["snapshot_ids"].to_list() == [[1, 2]]


def test_merged_snapshot_ids_are_the_sorted_union_of_each_rows_lists() -> None:
    # equal lists, two different single ids and longer lists in one frame: each row its own union
    frame = pl.DataFrame(
        {
            "key": [1, 2, 3, 4, 5, 6],
            "snapshot_ids": [[1], [3], [1, 5], [4], [1, 2], [2]],
            "other_ids": [[1], [2], [2], [1, 4], [1, 2], [2]],
        },
        schema={"key": pl.Int64, "snapshot_ids": pl.List(pl.Int64), "other_ids": pl.List(pl.Int64)},
    )
    merged = _merge_ids(frame, "other_ids")
    assert merged.columns == ["key", "snapshot_ids"]
    assert dict(merged.sort("key").iter_rows()) == {
        1: [1],
        2: [2, 3],
        3: [1, 2, 5],
        4: [1, 4],
        5: [1, 2],
        6: [2],
    }
    # only equal lists and single ids: the same result without the general union
    quick = _merge_ids(frame.filter(pl.col("key").is_in([1, 2, 6])), "other_ids")
    assert dict(quick.iter_rows()) == {1: [1], 2: [2, 3], 6: [2]}


def test_vintage_is_the_latest_valid_from_of_each_key() -> None:
    later = datetime(2026, 2, 1)
    data = obs([("049", "2020", 1.0, {}), ("049", "2020", 2.0, {"s": "b"}), ("049", "2021", 4.0, {})])
    data = data.with_columns(
        pl.when(pl.col("s") == "b").then(pl.lit(later)).otherwise(pl.col("valid_from")).alias("valid_from")
    )
    cat = catalogue(t={"derive": {"kind": "sum", "dataset": "d", "unit_in": "kt CO2e"}})
    done, _ = derive_all(cat, {"d": data})
    rows = {
        period: (value, vintage)
        for period, value, vintage in done["t"].select("period", "value", "vintage").iter_rows()
    }
    assert rows == {"2020": (3.0, later), "2021": (4.0, T)}
    # one vintage throughout: every key carries it
    done, _ = derive_all(cat, {"d": obs([("049", "2020", 1.0, {}), ("091", "2020", 2.0, {})])})
    assert done["t"]["vintage"].to_list() == [T, T]


def test_a_sum_over_rows_from_two_snapshots_lists_both_and_uses_the_revised_value() -> None:
    # one value revised in a later snapshot (2): the sum takes it, provenance names both snapshots;
    # a key whose rows all come from snapshot 1 keeps [1]
    first = obs(
        [
            ("049", "2020", 10.0, {"s1": "Lämmitys", "s2": "Kaukolämpö"}),
            ("049", "2020", 5.0, {"s1": "Liikenne", "s2": "Tieliikenne"}),
        ]
    )
    revised = obs([("049", "2020", 12.0, {"s1": "Lämmitys", "s2": "Öljylämmitys"})], snapshot=2)
    data = pl.concat([first, revised], how="vertical")
    entry = {"kind": "sum", "dataset": "d", "unit_in": "kt CO2e"}
    done, errors = derive_all(catalogue(total={"derive": entry}, sectors={"derive": SECTORS}), {"d": data})
    assert not errors
    totals = done["total"].select("value", "snapshot_ids").to_dicts()
    assert totals == [{"value": 27.0, "snapshot_ids": [1, 2]}]
    parts = {r["indicator"]: r["snapshot_ids"] for r in done["sectors"].to_dicts()}
    assert parts["sectors.other_heating"] == [2]
    assert parts["sectors.transport"] == [1]


def test_a_region_total_is_bit_identical_whatever_order_its_members_come_in() -> None:
    # a region total added its members in the order the rows happened to come in: a revision of one row
    # reorders the observations, and every other total of the region changed in its last bit, a
    # spurious revision (issue 14). One row per area and year, so only the total's own order counts.
    import random

    members = ["049", "091", "092", "235"]
    derive = {"kind": "sum", "dataset": "d", "unit_in": "kt CO2e", "totals": [{"area": "PKS", "of": members}]}
    cat = catalogue(t={"derive": derive})
    areas = members + [f"{i:03d}" for i in range(300, 340)]  # enough rows for polars' parallel group-by
    values = random.Random(14)
    rows: list[tuple[str, str, float | None, dict[str, str]]] = [
        (area, str(year), values.random() * 10.0 ** values.randint(-3, 3), {})
        for area in areas
        for year in range(1990, 2025)
    ]
    totals = set()
    for seed in range(8):
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        region = derive_all(cat, {"d": obs(shuffled)})[0]["t"].filter(pl.col("area") == "PKS")
        totals.add(tuple(region.sort("period")["value"]))
    assert len(totals) == 1
    (first,) = totals
    by_year = {r[1]: 0.0 for r in rows}
    for area, year, value, _ in rows:
        if area in members and value is not None:
            by_year[year] += value
    assert list(first) == pytest.approx([by_year[y] for y in sorted(by_year)], rel=1e-12)
