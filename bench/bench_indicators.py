"""Benchmark: derive, project and assess every municipal indicator for 309 (and 3090) areas vs pandas."""

from __future__ import annotations

import argparse
import gc
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

import common  # noqa: F401  polars' allocator set as in every kestava process (common.allocator)

# isort: split
import numpy as np
import pandas as pd
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_stats import fmt, interleave, spread, timer

from indicators.catalogue import (
    ChangeDerivation,
    IndexDerivation,
    IndicatorCatalogue,
    RatioDerivation,
    ReconcileDerivation,
    ReconcileTotalDerivation,
    ReductionTarget,
    ResidualDerivation,
    ShareOfYearDerivation,
    SumDerivation,
    load_indicator_catalogue,
)
from indicators.derive import derive_all
from indicators.engine import HORIZON_YEAR, METHODS_NEEDING_TARGET, assessments, indicator_values
from indicators.trajectory import TREND_MAX_POINTS, TREND_MIN_POINTS, t_quantile
from ingest.syke import TASO3, municipality_codes
from scripts.demo.hsy import _leaves
from scripts.demo.syke import _sub_rows

VECTOR_GOAL = 5.0  # tracker at least this many times faster than the vectorised pandas baseline (median)
SPEEDUP_GOAL = 10.0  # tracker at least this many times faster than the naive pandas baseline (median)
SCALING_GOAL = 12.0  # time(10 × areas) / time(areas) at most this (≈ linear)
TODAY = date(2026, 11, 27)
YEARS = tuple(range(1990, 2025))
VINTAGE = datetime(2026, 11, 23, 4, 30)  # the second snapshot, which revised some rows
FIRST_VINTAGE = datetime(2026, 5, 18, 4, 30)
DATASETS = ("hsy_emissions", "syke_emissions", "statfin_population", "traficom_cars")
DRIVING_POWERS = {"YH": 1.0, "01": 0.6, "02": 0.3, "04": 0.0, "06": 0.01, "39": 0.04, "44": 0.01, "MUU": 0.04}
COMMON = ["area", "period", "value", "flag", "unit", "snapshot_id", "valid_from"]
INSUFFICIENT = "insufficient_data"
RTOL = 1e-9
Verdict = tuple[str, float | None]  # (status, ratio) of one method for one series


# --------------------------------------------------------------------------------------------------
# Synthetic observations (the frames storage.read.observations returns, one per dataset)
# --------------------------------------------------------------------------------------------------


def area_codes(n: int) -> list[str]:
    """The 309 municipality numbers, then synthetic copies ("049-1", …) up to n areas."""
    base = list(municipality_codes())
    codes = list(base)
    copy = 1
    while len(codes) < n:
        codes += [f"{code}-{copy}" for code in base]
        copy += 1
    return codes[:n]


def _grid(areas: list[str], rows: pl.DataFrame, seed: int) -> pl.DataFrame:
    """areas × rows × years, with the area's size, the time fraction t (0 in 1990, 1 in 2024) and noise."""
    area = pl.DataFrame({"area": areas, "a_idx": np.arange(len(areas), dtype=np.int64)})
    years = pl.DataFrame({"period": [str(y) for y in YEARS], "t": np.linspace(0.0, 1.0, len(YEARS))})
    grid = area.join(rows, how="cross").join(years, how="cross")
    rng = np.random.default_rng(seed)
    return grid.with_columns(
        noise=pl.Series(rng.uniform(0.95, 1.05, grid.height)),
        size=(pl.col("a_idx") % 97 + 3).cast(pl.Float64) * 10.0,
    )


def _finish(frame: pl.DataFrame, snapshot_id: int, dimensions: list[str]) -> pl.DataFrame:
    """The stored rows of a dataset: a first snapshot, then a second one that revised some of them.

    Every 5th area's 2019–2024 values were revised by the second snapshot (snapshot_id + 100): the first
    snapshot's row (5 % higher) is closed (valid_to set), the revised row is current. The latest year is
    flagged provisional ("p") in every 3rd area, and 1995 estimated ("e") in every 7th.
    """
    revised = (pl.col("a_idx") % 5 == 0) & (pl.col("period") >= "2019")
    flag = (
        pl.when((pl.col("period") == str(YEARS[-1])) & (pl.col("a_idx") % 3 == 0))
        .then(pl.lit("p"))
        .when((pl.col("period") == "1995") & (pl.col("a_idx") % 7 == 0))
        .then(pl.lit("e"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    rows = frame.with_columns(
        flag.alias("flag"),
        pl.when(revised).then(snapshot_id + 100).otherwise(snapshot_id).cast(pl.Int64).alias("snapshot_id"),
        pl.when(revised).then(pl.lit(VINTAGE)).otherwise(pl.lit(FIRST_VINTAGE)).alias("valid_from"),
        pl.lit(None, dtype=pl.Datetime("us")).alias("valid_to"),
    )
    superseded = frame.filter(revised).with_columns(
        (pl.col("value") * 1.05).alias("value"),
        flag.alias("flag"),
        pl.lit(snapshot_id, dtype=pl.Int64).alias("snapshot_id"),
        pl.lit(FIRST_VINTAGE).alias("valid_from"),
        pl.lit(VINTAGE).cast(pl.Datetime("us")).alias("valid_to"),
    )
    columns = [*COMMON, "valid_to", *dimensions]
    return pl.concat([rows.select(columns), superseded.select(columns)])


def current(obs: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The current rows, as storage.read.observations selects them (SQL `valid_to IS NULL`)."""
    return {name: frame.filter(pl.col("valid_to").is_null()) for name, frame in obs.items()}


def observations(n: int) -> dict[str, pl.DataFrame]:
    """HSY-style sectors, Syke ALas rows, population and cars by driving power for n areas, 1990–2024.

    Every area is treated as an HSY area (in reality HSY covers 4 cities). Sector and accounting rows
    are those of the demo generators (scripts/demo). Gaps: every 41st area lacks HSY 1990 (no target,
    no index), every 53rd lacks Syke 2005–2009 (no Hinku base year 2007).
    """
    areas = area_codes(n)
    year = pl.col("period").cast(pl.Int64)
    # per-area pace: from +30 % to −89 % over 1990–2024, so every status of every method occurs
    pace = (pl.col("a_idx") * 37 % 120).cast(pl.Float64) / 100.0 - 0.3
    trend = (1.0 - pace * pl.col("t")) * pl.col("noise")

    leaves = sorted({leaf.sectors for leaf in _leaves()})
    sectors = pl.DataFrame({f"sector{k + 1}": [s[k] for s in leaves] for k in range(4)})
    grid = _grid(areas, sectors, 1).filter(~((pl.col("a_idx") % 41 == 7) & (year == 1990)))
    kt = pl.col("size") / len(leaves) * trend
    no_energy = pl.col("sector1").is_in(["Jätteiden käsittely", "Maatalous"])
    hsy = pl.concat(
        [
            grid.with_columns(value=kt, unit=pl.lit("kt CO2e"), measure=pl.lit("emissions")),
            grid.with_columns(
                value=pl.when(no_energy).then(None).otherwise(kt * 4.0),
                unit=pl.lit("GWh"),
                measure=pl.lit("energy"),
            ),
        ]
    )
    hsy = _finish(hsy, 1, ["measure", "sector1", "sector2", "sector3", "sector4"])

    subs = _sub_rows()
    taso = pl.DataFrame(
        {
            "taso_1": [*[TASO3[s.taso_3][2] for s in subs], "Päästöhyvitykset"],
            "taso_2": [*[TASO3[s.taso_3][1] for s in subs], "Päästöhyvitykset"],
            "taso_3": [*[s.taso_3 for s in subs], "Tuu"],
            "taso_4": [*[s.taso_4 for s in subs], "Tuu"],
            "taso_5": [*[s.taso_5 for s in subs], ""],
            "hinku": [*["on" if s.hinku else "ei" for s in subs], "on"],
            "ets": [*["on" if s.ets else "ei" for s in subs], "ei"],
        }
    )
    wind = pl.col("taso_3") == "Tuu"
    grid = _grid(areas, taso, 2).filter(
        ~wind | (year >= 2012), ~((pl.col("a_idx") % 53 == 11) & year.is_between(2005, 2009))
    )
    kt = pl.col("size") * 1.1 / len(subs) * trend
    syke = pl.concat(
        [
            grid.with_columns(
                value=pl.when(wind).then(None).otherwise(kt),
                unit=pl.lit("kt CO2e"),
                measure=pl.lit("emissions"),
            ),
            grid.with_columns(
                value=pl.when(wind).then(-pl.col("size") * 0.01 * pl.col("t")).otherwise(kt),
                unit=pl.lit("kt CO2e"),
                measure=pl.lit("emissions_wind_credit"),
            ),
            grid.with_columns(
                value=pl.when(wind | pl.col("taso_3").is_in(["Maa", "Jät", "F-k"]))
                .then(None)
                .otherwise(kt * 4),
                unit=pl.lit("GWh"),
                measure=pl.lit("energy"),
            ),
        ]
    )
    syke = _finish(syke, 2, ["measure", "taso_1", "taso_2", "taso_3", "taso_4", "taso_5", "hinku", "ets"])

    grid = _grid(areas, pl.DataFrame({"measure": ["vaesto"]}), 3)
    population = grid.with_columns(
        value=(pl.col("size") * 100.0 * (1.0 + 0.3 * pl.col("t")) * pl.col("noise")).round(0),
        unit=pl.lit("persons"),
    )
    population = _finish(population, 3, ["measure"])

    grid = _grid(areas, pl.DataFrame({"driving_power": list(DRIVING_POWERS)}), 4)
    cars = pl.col("size") * 50.0 * (1.0 + 0.4 * pl.col("t"))
    share = pl.col("driving_power").replace_strict(DRIVING_POWERS, return_dtype=pl.Float64)
    electric = (pl.col("t") - 0.55).clip(0.0, None) ** 2 * 0.5
    vehicles = grid.with_columns(
        value=pl.when(pl.col("driving_power") == "04")
        .then(cars * electric)
        .otherwise(cars * share * pl.col("noise"))
        .round(0),
        unit=pl.lit("vehicles"),
        measure=pl.lit("passenger_cars"),
        make=pl.lit("YH"),
        first_registration_year=pl.lit("YH"),
    )
    # Traficom's table: one stock per reference date; here one per year, for the load
    vehicles = _finish(vehicles, 4, ["measure", "make", "first_registration_year", "driving_power"])
    return {
        "hsy_emissions": hsy,
        "syke_emissions": syke,
        "statfin_population": population,
        "traficom_cars": vehicles,
    }


def bench_catalogue() -> IndicatorCatalogue:
    """The catalogue's municipal indicators with every `areas` restriction (indicator and target) lifted.

    Region totals (PKS = 049 + 091 + 092 + 235) are kept, so every area-level target is run for every
    area (all five methods for ghg_total and syke_ghg_hinku).
    """
    catalogue = load_indicator_catalogue()
    indicators = {}
    for indicator_id, indicator in catalogue.indicators.items():
        if not catalogue.datasets_of(indicator_id) <= set(DATASETS):
            continue  # national (Eurostat, Fingrid) indicators
        targets = [target.model_copy(update={"areas": None}) for target in indicator.targets]
        indicators[indicator_id] = indicator.model_copy(update={"areas": None, "targets": targets})
    return catalogue.model_copy(update={"indicators": indicators})


# --------------------------------------------------------------------------------------------------
# The tracker's path (storage-free core of indicators.engine.compute)
# --------------------------------------------------------------------------------------------------


@dataclass
class TrackerResult:
    values: pl.DataFrame
    assessed: pl.DataFrame
    seconds: dict[str, float]


def tracker(catalogue: IndicatorCatalogue, obs: dict[str, pl.DataFrame]) -> TrackerResult:
    """derive_all + indicator_values + assessments, timed per stage."""
    start, cpu_start = time.perf_counter(), time.process_time()
    inputs = current(obs)
    selected_at = time.perf_counter()
    derived, errors = derive_all(catalogue, inputs, list(catalogue.indicators))
    if errors:
        raise RuntimeError(f"derivation failed: {errors}")
    derived_at = time.perf_counter()
    values = indicator_values(catalogue, derived, TODAY)
    values_at = time.perf_counter()
    assessed = assessments(catalogue, derived)
    end = time.perf_counter()
    seconds = {
        "select": selected_at - start,
        "derive": derived_at - selected_at,
        "values": values_at - derived_at,
        "assess": end - values_at,
        "total": end - start,
        "cpu": time.process_time() - cpu_start,  # all threads of this process
    }
    return TrackerResult(values, assessed, seconds)


# --------------------------------------------------------------------------------------------------
# The pandas baseline: the same formulas, written the straightforward way (groupby-apply per area)
# --------------------------------------------------------------------------------------------------


def pd_current(obs: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The current rows (valid_to missing), as storage selects them."""
    return {name: frame[frame["valid_to"].isna()] for name, frame in obs.items()}


def _mask(frame: pd.DataFrame, match: dict[str, str | list[str]]) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for column, wanted in match.items():
        mask &= frame[column].isin(wanted if isinstance(wanted, list) else [wanted])
    return mask


def _pd_sum(indicator_id: str, derive: SumDerivation, obs: pd.DataFrame) -> pd.DataFrame:
    df = obs[_mask(obs, derive.filter) & (obs["unit"] == derive.unit_in)]
    keys = ["area", "period"]
    if derive.breakdown:
        rules = [_mask(df, rule.match) for rule in derive.breakdown]
        df = df.assign(breakdown=np.select(rules, [rule.key for rule in derive.breakdown], "other"))
        keys.append("breakdown")
    if derive.kind == "select" and df.duplicated(keys).any():
        raise ValueError(f"{indicator_id}: more than one series per area and period")
    out = (df.groupby(keys)["value"].sum(min_count=1) * derive.scale).reset_index()
    for total in derive.totals:
        members = out[out["area"].isin(total.of)]
        grouped = members.groupby([k for k in keys if k != "area"]).agg(
            n_areas=("area", "nunique"), n_values=("value", "count"), value=("value", "sum")
        )
        grouped = grouped[grouped["n_areas"] == len(total.of)]
        grouped["value"] = grouped["value"].where(grouped["n_values"] == len(total.of))
        out = pd.concat(
            [out, grouped.reset_index()[[k for k in keys if k != "area"] + ["value"]].assign(area=total.area)]
        )
    if derive.breakdown:
        out["indicator"] = indicator_id + "." + out.pop("breakdown")
    else:
        out["indicator"] = indicator_id
    return out[["indicator", "area", "period", "value"]]


def _pd_target(indicator: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """The indicator's reduction targets per area: value(base year) × (1 − reduction); of a % change on a
    fixed base year, the level (100 + the change) reduced, as a change again (indicators.targets)."""
    offset = 100.0 if isinstance(indicator.derive, ChangeDerivation) else 0.0
    parts = []
    for target in indicator.targets:
        if isinstance(target, ReductionTarget):
            base = frame[(frame["period"] == str(target.base_year)) & frame["value"].notna()]
            parts.append(
                pd.DataFrame(
                    {
                        "area": base["area"],
                        "year": target.year,
                        "value": (base["value"] + offset) * (1.0 - target.reduction) - offset,
                        "base_year": target.base_year,
                        "base_value": base["value"],
                    }
                )
            )
    return (
        pd.concat(parts)
        if parts
        else pd.DataFrame(columns=["area", "year", "value", "base_year", "base_value"])
    )


def pandas_derive(catalogue: IndicatorCatalogue, obs: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every indicator as (indicator, area, period, value), dependencies first."""
    done: dict[str, pd.DataFrame] = {}

    def visit(indicator_id: str) -> None:
        if indicator_id in done:
            return
        indicator = catalogue.get(indicator_id)
        for dependency in indicator.dependencies():
            visit(dependency)
        derive = indicator.derive
        if isinstance(derive, SumDerivation):
            done[indicator_id] = _pd_sum(indicator_id, derive, obs[derive.dataset])
        elif isinstance(derive, RatioDerivation):
            joined = done[derive.numerator].merge(
                done[derive.denominator][["area", "period", "value"]],
                on=["area", "period"],
                suffixes=("", "_d"),
            )
            joined["value"] = (joined["value"] / joined["value_d"] * derive.scale).where(
                joined["value_d"] != 0
            )
            done[indicator_id] = joined[["area", "period", "value"]].assign(indicator=indicator_id)
        elif isinstance(derive, IndexDerivation):
            source = done[derive.of]
            base = source.loc[source["period"] == str(derive.base_year), ["area", "value"]]
            joined = source.merge(base.rename(columns={"value": "base"}), on="area")
            joined["value"] = (joined["value"] / joined["base"] * 100.0).where(joined["base"] != 0)
            done[indicator_id] = joined[["area", "period", "value"]].assign(indicator=indicator_id)
        elif isinstance(derive, ChangeDerivation):
            source = done[derive.of]
            source = source[source["period"].str.fullmatch(r"\d{4}")].assign(
                year=lambda f: f["period"].astype(int)
            )
            if derive.against == "previous_year":
                reference = source[["area", "year", "value"]].assign(year=source["year"] + 1)
                joined = source.merge(reference, on=["area", "year"], suffixes=("", "_ref"))
            else:
                reference = source.loc[source["year"] == derive.base_year, ["area", "value"]]
                joined = source.merge(reference, on="area", suffixes=("", "_ref"))
            joined["value"] = ((joined["value"] / joined["value_ref"] - 1.0) * 100.0).where(
                joined["value_ref"] != 0
            )
            done[indicator_id] = joined[["area", "period", "value"]].assign(indicator=indicator_id)
        elif isinstance(derive, ResidualDerivation):
            targets = _pd_target(catalogue.get(derive.of), done[derive.of])
            done[indicator_id] = pd.DataFrame(
                {
                    "indicator": indicator_id,
                    "area": targets["area"],
                    "period": targets["year"].astype(str),
                    "value": targets["value"],
                }
            )
        elif isinstance(derive, ShareOfYearDerivation):
            source = done[derive.of]
            year = source[source["period"] == str(derive.year)]
            done[indicator_id] = year.assign(value=year["value"] * derive.share, indicator=indicator_id)
        elif isinstance(derive, ReconcileDerivation | ReconcileTotalDerivation):
            source = done[derive.of][["area", "period", "value"]]
            if isinstance(derive, ReconcileDerivation):
                reference = done[derive.against][["area", "period", "value"]]
                joined = source.merge(reference, on=["area", "period"], suffixes=("", "_r"))
            else:
                parts = source[source["area"].str.contains(derive.parts) & (source["area"] != derive.whole)]
                summed = (
                    parts.sort_values(["area", "period"]).groupby("period")["value"].agg(["sum", "count"])
                )
                summed = summed[summed["count"] > 0].reset_index().rename(columns={"sum": "value"})
                whole = source.loc[source["area"] == derive.whole, ["period", "value"]]
                joined = summed.merge(whole, on="period", suffixes=("", "_r")).assign(area=derive.whole)
            ok = joined["value_r"].notna() & (joined["value_r"] != 0)
            joined["value"] = ((joined["value"] / joined["value_r"] - 1.0) * 100.0).where(ok)
            done[indicator_id] = joined[["area", "period", "value"]].assign(indicator=indicator_id)
        else:
            raise NotImplementedError(f"pandas baseline: derivation kind {derive.kind!r} of {indicator_id}")

    for indicator_id in catalogue.indicators:
        visit(indicator_id)
    return done


def _trend(group: pd.DataFrame, horizon: int, quantiles: dict[int, float]) -> pd.DataFrame:
    """OLS over the last ≤ 10 values (≥ 5), projected to the horizon with a 95 % prediction band."""
    g = group.sort_values("year").tail(TREND_MAX_POINTS)
    n = len(g)
    if n < TREND_MIN_POINTS:
        return pd.DataFrame(columns=["year", "value", "lower", "upper"])
    x = g["year"].to_numpy(dtype=float)
    y = g["value"].to_numpy(dtype=float)
    x_mean, y_mean = x.mean(), y.mean()
    sxx = ((x - x_mean) ** 2).sum()
    slope = ((x - x_mean) * (y - y_mean)).sum() / sxx
    residuals = y - (y_mean + slope * (x - x_mean))
    s = math.sqrt((residuals**2).sum() / (n - 2))
    years = np.arange(int(x[-1]) + 1, horizon + 1)
    value = y_mean + slope * (years - x_mean)
    band = quantiles[n - 2] * s * np.sqrt(1.0 + 1.0 / n + (years - x_mean) ** 2 / sxx)
    return pd.DataFrame({"year": years, "value": value, "lower": value - band, "upper": value + band})


def _first_at_or_after(years: np.ndarray, year: int) -> int | None:
    index = int(np.searchsorted(years, year))
    return index if index < len(years) else None


def _eurostat(years: np.ndarray, values: np.ndarray, d: int, target: float, target_year: float) -> Verdict:
    latest, lv = int(years[-1]), values[-1]
    i = _first_at_or_after(years, latest - 5)
    assert i is not None  # the latest year itself qualifies
    by, bv = int(years[i]), values[i]
    span = latest - by
    if span < 3 or bv == 0 or lv == 0 or (bv > 0) != (lv > 0):
        return INSUFFICIENT, None
    observed = (lv / bv) ** (1.0 / span) - 1.0
    s = -1 if bv < 0 else 1
    if math.isnan(target):
        growth = d * s * observed
        if growth > 0.01:
            return "significant_progress", None
        if growth >= 0.0:
            return "moderate_progress", None
        return ("moderate_movement_away" if growth >= -0.01 else "significant_movement_away"), None
    horizon = target_year - by
    if target == 0 or (target > 0) != (bv > 0) or horizon <= 0:
        return INSUFFICIENT, None
    required = (target / bv) ** (1.0 / horizon) - 1.0
    ratio = observed / required if required != 0 else None
    if d * (lv - target) >= 0:
        return "significant_progress", ratio
    if d * s * required <= 0 or ratio is None:
        return "movement_away", ratio
    if ratio >= 0.95:
        return "significant_progress", ratio
    if ratio >= 0.60:
        return "moderate_progress", ratio
    return ("insufficient_progress" if ratio >= 0.0 else "movement_away"), ratio


def _open_sdg(years: np.ndarray, values: np.ndarray, d: int, target: float, target_year: float) -> Verdict:
    latest, lv = int(years[-1]), values[-1]
    i = _first_at_or_after(years, 2015)
    if i is None or latest - int(years[i]) < 1:
        return INSUFFICIENT, None
    by, bv = int(years[i]), values[i]
    has_target = not math.isnan(target)
    t = 0.001 if target == 0 else target
    b = 0.001 if bv == 0 else bv
    s = -1 if b < 0 else 1
    opposite = (b > 0 > lv) or (b < 0 < lv)
    observed = None if opposite else (lv / b) ** (1.0 / (latest - by)) - 1.0
    horizon = target_year - by
    target_ok = has_target and t / b > 0
    required = (t / b) ** (1.0 / horizon) - 1.0 if target_ok and horizon > 0 else None
    ratio = None
    if observed is not None and required is not None and required != 0:
        ratio = s * d * observed / abs(required)
    if has_target and d * (lv - t) >= 0:
        return "target_achieved", ratio
    if observed is None or (has_target and (not target_ok or horizon <= 0 or required == 0)):
        return INSUFFICIENT, ratio
    measure, high, med = (ratio, 0.95, 0.60) if has_target else (s * d * observed, 0.015, 0.005)
    assert measure is not None
    if measure >= high:
        return "substantial_progress", ratio
    if measure >= med:
        return "moderate_progress", ratio
    return ("limited_progress" if measure >= 0.0 else "deterioration"), ratio


def _sdsn(years: np.ndarray, values: np.ndarray, d: int, green: float, target_year: float) -> Verdict:
    latest, lv = int(years[-1]), values[-1]
    i = _first_at_or_after(years, 2015)
    if i is None or latest - int(years[i]) < 1 or target_year - int(years[i]) <= 0:
        return INSUFFICIENT, None
    by, bv = int(years[i]), values[i]
    lower = values.max() if d < 0 else values.min()
    degenerate = d * (green - lower) <= 0

    def score(x: float) -> float:
        return 100.0 if degenerate else min(max(100.0 * (x - lower) / (green - lower), 0.0), 100.0)

    latest_score, base_score = score(lv), score(bv)
    observed = (latest_score - base_score) / (latest - by)
    required = (100.0 - base_score) / (target_year - by)
    ratio = observed / required if required > 0 else None
    if latest_score >= 100.0:
        return "achieved", ratio
    if ratio is None:
        return "decreasing", None
    if ratio >= 1.0:
        return "on_track", ratio
    if ratio >= 0.5:
        return "moderately_improving", ratio
    return ("stagnating" if ratio >= 0.0 else "decreasing"), ratio


def _german(years: np.ndarray, values: np.ndarray, d: int, target: float, target_year: float) -> Verdict:
    latest, lv = int(years[-1]), values[-1]
    i = _first_at_or_after(years, latest - 5)
    assert i is not None  # the latest year itself qualifies
    by, bv = int(years[i]), values[i]
    horizon = target_year - latest
    if latest - by < 3 or horizon <= 0:
        return INSUFFICIENT, None
    mean_change = (lv - bv) / (latest - by)
    projected = lv + mean_change * horizon
    if d * (lv - target) >= 0:
        return ("on_track" if d * (projected - target) >= 0 else "moving_away"), None
    remaining = target - lv
    deviation = (target - projected) / remaining
    ratio = mean_change / (remaining / horizon)
    if d * mean_change < 0:
        return "moving_away", ratio
    if deviation <= 0.05:
        return "on_track", ratio
    return ("nearly_on_track" if deviation <= 0.20 else "off_track"), ratio


def _linear(
    years: np.ndarray, values: np.ndarray, d: int, target: float, target_year: float, base_year: float
) -> Verdict:
    latest, lv = int(years[-1]), values[-1]
    i = _first_at_or_after(years, int(base_year))
    if i is None or latest - int(years[i]) < 1 or target_year - int(years[i]) <= 0:
        return INSUFFICIENT, None
    by, bv = int(years[i]), values[i]
    horizon = target_year - by
    fraction = min(latest - by, horizon) / horizon
    path = bv * (1.0 - fraction) + target * fraction
    ratio = (lv - bv) / (path - bv) if path != bv else None
    return ("on_path" if d * (lv - path) >= 0 else "behind_path"), ratio


def _assess(group: pd.DataFrame, methods: list[str], d: int) -> pd.DataFrame:
    """Every method of the indicator for one area's series."""
    g = group.sort_values("year")
    years, values = g["year"].to_numpy(), g["value"].to_numpy(dtype=float)
    target, target_year = float(g["target"].iloc[0]), float(g["target_year"].iloc[0])
    rows = []
    for method in methods:
        if method == "eurostat_sdg":
            status, ratio = _eurostat(years, values, d, target, target_year)
        elif method == "open_sdg":
            status, ratio = _open_sdg(
                years, values, d, target, 2030.0 if math.isnan(target_year) else target_year
            )
        elif math.isnan(target):
            continue  # the other methods need a target
        elif method == "sdsn_trend":
            status, ratio = _sdsn(years, values, d, target, target_year)
        elif method == "german_strategy":
            status, ratio = _german(years, values, d, target, target_year)
        else:
            status, ratio = _linear(years, values, d, target, target_year, float(g["base_year"].iloc[0]))
        rows.append({"method": method, "status": status, "ratio": ratio})
    return pd.DataFrame(rows, columns=["method", "status", "ratio"])


@dataclass
class PandasResult:
    derived: dict[str, pd.DataFrame]
    targets: pd.DataFrame
    paths: pd.DataFrame
    paths_from_latest: pd.DataFrame
    projections: pd.DataFrame
    assessed: pd.DataFrame


def pandas_pipeline(
    catalogue: IndicatorCatalogue, obs: dict[str, pd.DataFrame], quantiles: dict[int, float]
) -> PandasResult:
    """Derived values, targets, linear paths, trend projections (with estimates) and method statuses."""
    derived = pandas_derive(catalogue, pd_current(obs))
    targets, paths, paths_from_latest, projections, assessed = [], [], [], [], []
    for indicator_id, frame in derived.items():
        indicator = catalogue.get(indicator_id)
        own = frame[frame["indicator"] == indicator_id]
        annual = own[own["period"].str.fullmatch(r"\d{4}") & own["value"].notna()].copy()
        annual["year"] = annual["period"].astype(int)
        target = _pd_target(indicator, own).assign(indicator=indicator_id)
        targets.append(target)
        for row in target.itertuples():
            years = np.arange(row.base_year, row.year + 1)
            fraction = np.minimum(years - row.base_year, row.year - row.base_year) / (
                row.year - row.base_year
            )
            path = row.base_value * (1.0 - fraction) + row.value * fraction
            paths.append(
                pd.DataFrame({"indicator": indicator_id, "area": row.area, "year": years, "value": path})
            )
        if len(target) and len(annual):
            latest = annual.loc[annual.groupby("area")["year"].idxmax(), ["area", "year", "value"]]
            ahead = latest.merge(target[["area", "year", "value"]], on="area", suffixes=("", "_t"))
            ahead = ahead[ahead["year_t"] > ahead["year"]].sort_values("year_t").drop_duplicates("area")
            for row in ahead.itertuples():
                years = np.arange(row.year, row.year_t + 1)
                fraction = (years - row.year) / (row.year_t - row.year)
                path = row.value * (1.0 - fraction) + row.value_t * fraction
                paths_from_latest.append(
                    pd.DataFrame({"indicator": indicator_id, "area": row.area, "year": years, "value": path})
                )
        horizon = max([HORIZON_YEAR, *target["year"].tolist()])
        # every stored series is projected and assessed: the indicator and each breakdown part
        # (parts have no target, so they get the trend-only methods)
        for part_id, part in frame.groupby("indicator"):
            part_annual = part[part["period"].str.fullmatch(r"\d{4}") & part["value"].notna()].copy()
            if not len(part_annual):
                continue
            part_annual["year"] = part_annual["period"].astype(int)
            if indicator.projected:  # no trend of a change on the previous year nor of a difference
                trend = part_annual.groupby("area")[["year", "value"]].apply(_trend, horizon, quantiles)
                if indicator.bounds is not None:  # cut at the quantity's bounds (each breakdown part too)
                    least, greatest = indicator.value_bounds
                    trend[["value", "lower", "upper"]] = trend[["value", "lower", "upper"]].clip(
                        least, greatest
                    )
                projections.append(trend.reset_index(level=0).assign(indicator=part_id))
            own_series = part_id == indicator_id
            methods = [m for m in indicator.assess if own_series or m not in METHODS_NEEDING_TARGET]
            if not methods:
                continue
            d = -1 if indicator.direction == "decrease" else 1
            part_target = target if own_series else target.iloc[0:0]
            series = part_annual.merge(
                part_target[["area", "value", "year", "base_year"]],
                on="area",
                how="left",
                suffixes=("", "_t"),
            )
            series = series.rename(columns={"value_t": "target", "year_t": "target_year"})
            result = series.groupby("area")[["year", "value", "target", "target_year", "base_year"]].apply(
                _assess, methods, d
            )
            assessed.append(result.reset_index(level=0).assign(indicator=part_id))
    projection = pd.concat(projections, ignore_index=True)
    estimates = projection[projection["year"] <= TODAY.year - 1]
    projection = pd.concat([projection.assign(kind="projection"), estimates.assign(kind="estimate")])
    return PandasResult(
        derived,
        pd.concat(targets, ignore_index=True),
        pd.concat(paths, ignore_index=True),
        pd.concat(paths_from_latest, ignore_index=True),
        projection,
        pd.concat(assessed, ignore_index=True),
    )


# --------------------------------------------------------------------------------------------------
# The vectorised pandas baseline: the same formulas as whole-column operations (no groupby-apply, no
# DataFrame per group, no Python loop over areas; the only loops are over indicators and methods)
# --------------------------------------------------------------------------------------------------


def _expand(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row i repeated counts[i] times, and starts[i], starts[i] + 1, … along each run."""
    counts = np.maximum(counts.astype(np.int64), 0)
    starts = starts.astype(np.int64)
    rows = np.repeat(np.arange(len(counts)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return rows, np.repeat(starts, counts) + offsets


def _first_from(annual: pd.DataFrame, threshold: pd.Series) -> pd.DataFrame:
    """Per series (sid): year and value of its first annual value at or after the row's threshold."""
    hit = annual.loc[annual["year"] >= threshold, ["sid", "year", "value"]]
    return hit.groupby("sid", sort=False).first().rename(columns={"year": "by", "value": "bv"})


def _v_eurostat(f: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    d, lv, bv, target, span = f["d"], f["lv"], f["bv5"], f["T"], f["L"] - f["by5"]
    insufficient = (span < 3) | (bv == 0) | (lv == 0) | ((bv > 0) != (lv > 0))
    observed = (lv / bv) ** (1.0 / span) - 1.0
    s = np.where(bv < 0, -1, 1)
    growth = d * s * observed
    free = np.select(
        [growth > 0.01, growth >= 0.0, growth >= -0.01],
        ["significant_progress", "moderate_progress", "moderate_movement_away"],
        "significant_movement_away",
    )
    horizon = f["ty"] - f["by5"]
    no_path = (target == 0) | ((target > 0) != (bv > 0)) | (horizon <= 0)
    required = (target / bv) ** (1.0 / horizon) - 1.0
    ratio = np.where(required != 0, observed / required, np.nan)
    judged = np.select(
        [
            d * (lv - target) >= 0,
            (d * s * required <= 0) | np.isnan(ratio),
            ratio >= 0.95,
            ratio >= 0.60,
            ratio >= 0.0,
        ],
        [
            "significant_progress",
            "movement_away",
            "significant_progress",
            "moderate_progress",
            "insufficient_progress",
        ],
        "movement_away",
    )
    has_target = target.notna()
    status = np.select([insufficient, ~has_target, no_path], [INSUFFICIENT, free, INSUFFICIENT], judged)
    return status, np.where(insufficient | ~has_target | no_path, np.nan, ratio)


def _v_open_sdg(f: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    d, lv, by, target = f["d"], f["lv"], f["by15"], f["T"]
    no_base = by.isna() | (f["L"] - by < 1)
    has_target = target.notna()
    t = np.where(target == 0, 0.001, target)
    b = np.where(f["bv15"] == 0, 0.001, f["bv15"])
    s = np.where(b < 0, -1, 1)
    opposite = ((b > 0) & (lv < 0)) | ((b < 0) & (lv > 0))
    observed = np.where(opposite, np.nan, (lv / b) ** (1.0 / (f["L"] - by)) - 1.0)
    horizon = f["ty"].fillna(2030.0) - by
    target_ok = has_target & (t / b > 0)
    required = np.where(target_ok & (horizon > 0), (t / b) ** (1.0 / horizon) - 1.0, np.nan)
    usable = ~np.isnan(observed) & ~np.isnan(required) & (required != 0)
    ratio = np.where(usable, s * d * observed / np.abs(required), np.nan)
    measure = np.where(has_target, ratio, s * d * observed)
    high, med = np.where(has_target, 0.95, 0.015), np.where(has_target, 0.60, 0.005)
    status = np.select(
        [
            no_base,
            has_target & (d * (lv - t) >= 0),
            np.isnan(observed) | (has_target & (~target_ok | (horizon <= 0) | (required == 0))),
            measure >= high,
            measure >= med,
            measure >= 0.0,
        ],
        [
            INSUFFICIENT,
            "target_achieved",
            INSUFFICIENT,
            "substantial_progress",
            "moderate_progress",
            "limited_progress",
        ],
        "deterioration",
    )
    return status, np.where(no_base, np.nan, ratio)


def _v_sdsn(f: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    d, lv, by, bv, green, ty = f["d"], f["lv"], f["by15"], f["bv15"], f["T"], f["ty"]
    insufficient = by.isna() | (f["L"] - by < 1) | (ty - by <= 0)
    lower = np.where(d < 0, f["vmax"], f["vmin"])
    degenerate = d * (green - lower) <= 0

    def score(x: pd.Series) -> np.ndarray:
        return np.where(degenerate, 100.0, np.clip(100.0 * (x - lower) / (green - lower), 0.0, 100.0))

    latest_score, base_score = score(lv), score(bv)
    observed = (latest_score - base_score) / (f["L"] - by)
    required = (100.0 - base_score) / (ty - by)
    ratio = np.where(required > 0, observed / required, np.nan)
    status = np.select(
        [insufficient, latest_score >= 100.0, np.isnan(ratio), ratio >= 1.0, ratio >= 0.5, ratio >= 0.0],
        [INSUFFICIENT, "achieved", "decreasing", "on_track", "moderately_improving", "stagnating"],
        "decreasing",
    )
    return status, np.where(insufficient, np.nan, ratio)


def _v_german(f: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    d, lv, by, bv, target = f["d"], f["lv"], f["by5"], f["bv5"], f["T"]
    horizon = f["ty"] - f["L"]
    insufficient = (f["L"] - by < 3) | (horizon <= 0)
    mean_change = (lv - bv) / (f["L"] - by)
    projected = lv + mean_change * horizon
    reached = d * (lv - target) >= 0
    remaining = target - lv
    deviation = (target - projected) / remaining
    ratio = mean_change / (remaining / horizon)
    status = np.select(
        [
            insufficient,
            reached & (d * (projected - target) >= 0),
            reached,
            d * mean_change < 0,
            deviation <= 0.05,
            deviation <= 0.20,
        ],
        [INSUFFICIENT, "on_track", "moving_away", "moving_away", "on_track", "nearly_on_track"],
        "off_track",
    )
    return status, np.where(insufficient | reached, np.nan, ratio)


def _v_linear(f: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    d, lv, by, bv, target, ty = f["d"], f["lv"], f["byb"], f["bvb"], f["T"], f["ty"]
    insufficient = by.isna() | (f["L"] - by < 1) | (ty - by <= 0)
    horizon = ty - by
    fraction = np.minimum(f["L"] - by, horizon) / horizon
    path = bv * (1.0 - fraction) + target * fraction
    ratio = np.where(path != bv, (lv - bv) / (path - bv), np.nan)
    status = np.where(insufficient, INSUFFICIENT, np.where(d * (lv - path) >= 0, "on_path", "behind_path"))
    return status, np.where(insufficient, np.nan, ratio)


VECTOR_METHODS: dict[str, Callable[[pd.DataFrame], tuple[np.ndarray, np.ndarray]]] = {
    "eurostat_sdg": _v_eurostat,
    "open_sdg": _v_open_sdg,
    "sdsn_trend": _v_sdsn,
    "german_strategy": _v_german,
    "linear_trajectory_check": _v_linear,
}


def _v_paths(frame: pd.DataFrame, start: str, start_value: str, end: str, end_value: str) -> pd.DataFrame:
    """Straight lines from (start, start_value) to (end, end_value), one row per year, per row of frame."""
    rows, years = _expand(frame[start].to_numpy(), (frame[end] - frame[start] + 1).to_numpy())
    picked = frame.iloc[rows]
    fraction = (years - picked[start].to_numpy()) / (picked[end] - picked[start]).to_numpy()
    value = picked[start_value].to_numpy() * (1.0 - fraction) + picked[end_value].to_numpy() * fraction
    return pd.DataFrame(
        {
            "indicator": picked["indicator"].to_numpy(),
            "area": picked["area"].to_numpy(),
            "year": years,
            "value": value,
        }
    )


def vector_pipeline(
    catalogue: IndicatorCatalogue, obs: dict[str, pd.DataFrame], quantiles: dict[int, float]
) -> PandasResult:
    """What pandas_pipeline computes, with every per-area step as a whole-column operation."""
    derived = pandas_derive(catalogue, pd_current(obs))
    targets, parts, owners = [], [], []
    for indicator_id, frame in derived.items():  # a loop over indicators: their targets and settings
        indicator = catalogue.get(indicator_id)
        targets.append(
            _pd_target(indicator, frame[frame["indicator"] == indicator_id]).assign(indicator=indicator_id)
        )
        parts.append(frame.assign(owner=indicator_id))
    target = pd.concat(targets, ignore_index=True).astype(
        {"year": np.int64, "base_year": np.int64, "value": float, "base_value": float}
    )
    if target.duplicated(["indicator", "area"]).any():
        raise NotImplementedError("vectorised baseline: more than one reduction target per series")
    for indicator_id in derived:
        indicator = catalogue.get(indicator_id)
        years = target.loc[target["indicator"] == indicator_id, "year"]
        owners.append(
            {
                "owner": indicator_id,
                "d": -1 if indicator.direction == "decrease" else 1,
                "horizon": max([HORIZON_YEAR, *years.tolist()]),
            }
        )
    settings = pd.DataFrame(owners)

    # every annual value of every stored series, one series number (sid) per (indicator, area)
    series = pd.concat(parts, ignore_index=True)
    annual = series[series["period"].str.fullmatch(r"\d{4}") & series["value"].notna()].copy()
    annual["year"] = annual["period"].astype(int)
    annual = annual.sort_values(["indicator", "area", "year"], ignore_index=True)
    annual["sid"] = annual.groupby(["indicator", "area"], sort=False).ngroup()
    by_sid = annual.groupby("sid", sort=False)
    per = by_sid.agg(
        indicator=("indicator", "first"),
        area=("area", "first"),
        owner=("owner", "first"),
        L=("year", "last"),
        lv=("value", "last"),
        vmin=("value", "min"),
        vmax=("value", "max"),
    )
    per = per.reset_index().merge(settings, on="owner", how="left")
    per = per.merge(
        target[["indicator", "area", "value", "year", "base_year"]].rename(
            columns={"value": "T", "year": "ty", "base_year": "tb"}
        ),
        on=["indicator", "area"],
        how="left",
    ).set_index("sid")
    per = per.sort_index()

    # linear paths from the base year, and from the latest value, to each target
    paths = _v_paths(target, "base_year", "base_value", "year", "value")
    latest = per.loc[per["indicator"] == per["owner"], ["indicator", "area", "L", "lv", "T", "ty"]]
    ahead = latest[latest["ty"] > latest["L"]].astype({"ty": int})
    paths_from_latest = _v_paths(ahead, "L", "lv", "ty", "T")

    # trend: OLS over the last ≤ 10 values (≥ 5) of each series, to the owner's horizon, 95 % band
    tail = annual[by_sid.cumcount(ascending=False) < TREND_MAX_POINTS]
    by_tail = tail.groupby("sid", sort=False)
    x_mean, y_mean = by_tail["year"].transform("mean"), by_tail["value"].transform("mean")
    dx, dy = tail["year"] - x_mean, tail["value"] - y_mean
    sums = pd.DataFrame({"sid": tail["sid"], "sxx": dx * dx, "sxy": dx * dy}).groupby("sid", sort=False).sum()
    fit = pd.DataFrame(
        {"n": by_tail.size(), "x_mean": by_tail["year"].mean(), "y_mean": by_tail["value"].mean()}
    ).join(sums)
    fit["slope"] = fit["sxy"] / fit["sxx"]
    slope_row = tail["sid"].map(fit["slope"])
    residual = tail["value"] - (y_mean + slope_row * dx)
    fit["rss"] = (
        pd.DataFrame({"sid": tail["sid"], "r2": residual * residual}).groupby("sid", sort=False)["r2"].sum()
    )
    # no trend of a change on the previous year nor of a difference (catalogue Indicator.projected)
    fit = fit.join(per[["indicator", "area", "owner", "L", "horizon"]])
    unprojected = [i for i in derived if not catalogue.get(i).projected]
    fit = fit[(fit["n"] >= TREND_MIN_POINTS) & ~fit["owner"].isin(unprojected)]
    fit["s"] = np.sqrt(fit["rss"] / (fit["n"] - 2))
    fit["q"] = (fit["n"] - 2).map(quantiles)
    rows, years = _expand((fit["L"] + 1).to_numpy(), (fit["horizon"] - fit["L"]).to_numpy())
    line = fit.iloc[rows]
    dx_year = years - line["x_mean"].to_numpy()
    value = line["y_mean"].to_numpy() + line["slope"].to_numpy() * dx_year
    band = (
        line["q"].to_numpy()
        * line["s"].to_numpy()
        * np.sqrt(1.0 + 1.0 / line["n"].to_numpy() + dx_year**2 / line["sxx"].to_numpy())
    )
    projection = pd.DataFrame(
        {
            "indicator": line["indicator"].to_numpy(),
            "area": line["area"].to_numpy(),
            "year": years,
            "value": value,
            "lower": value - band,
            "upper": value + band,
        }
    )
    # cut at the quantity's bounds (a breakdown's hold for each of its parts)
    bounded = {i: e.value_bounds for i, e in catalogue.indicators.items() if e.bounds is not None}
    owner = projection["indicator"].str.split(".").str[0]
    least = owner.map({i: b[0] for i, b in bounded.items()}).astype(float).fillna(-np.inf)
    greatest = owner.map({i: b[1] for i, b in bounded.items()}).astype(float).fillna(np.inf)
    for column in ("value", "lower", "upper"):
        projection[column] = projection[column].clip(least, greatest, axis=0)
    estimates = projection[projection["year"] <= TODAY.year - 1]
    projections = pd.concat([projection.assign(kind="projection"), estimates.assign(kind="estimate")])

    # the methods: base values found by masked group-firsts, then vectorised arithmetic per method
    sid = annual["sid"]
    last = sid.map(per["L"])
    per = per.join(_first_from(annual, last - 5).add_suffix("5"))
    per = per.join(_first_from(annual, pd.Series(2015, index=annual.index)).add_suffix("15"))
    per = per.join(_first_from(annual, sid.map(per["tb"])).add_suffix("b"))
    own = per["indicator"] == per["owner"]
    assessed = []
    with np.errstate(all="ignore"):
        for method, run in VECTOR_METHODS.items():
            wanted = [i for i in derived if method in catalogue.get(i).assess]
            chosen = per["owner"].isin(wanted)
            if method in METHODS_NEEDING_TARGET:
                chosen &= own & per["T"].notna()
            subset = per[chosen]
            if not len(subset):
                continue
            status, ratio = run(subset)
            assessed.append(
                pd.DataFrame(
                    {
                        "indicator": subset["indicator"].to_numpy(),
                        "area": subset["area"].to_numpy(),
                        "method": method,
                        "status": status,
                        "ratio": ratio,
                    }
                )
            )
    return PandasResult(
        derived,
        target,
        paths,
        paths_from_latest,
        projections,
        pd.concat(assessed, ignore_index=True),
    )


# --------------------------------------------------------------------------------------------------
# Sanity check: both give the same numbers
# --------------------------------------------------------------------------------------------------


def _compare(
    name: str, ours: pl.DataFrame, theirs: pl.DataFrame, keys: list[str], columns: list[str]
) -> list[str]:
    problems = []
    if ours.height != theirs.height:
        problems.append(f"{name}: tracker has {ours.height} rows, pandas {theirs.height}")
    joined = ours.join(theirs, on=keys, how="full", suffix="_pd", coalesce=True, nulls_equal=True)
    for column in columns:
        a, b = joined[column], joined[f"{column}_pd"]
        if a.dtype == pl.String or b.dtype == pl.String:
            bad = joined.filter(a.cast(pl.String).ne_missing(b.cast(pl.String)))
        else:
            close = (a - b).abs() <= RTOL * pl.max_horizontal(a.abs(), b.abs(), pl.lit(1e-12))
            bad = joined.filter(~(close.fill_null(False) | (a.is_null() & b.is_null())))
        if bad.height:
            problems.append(f"{name}.{column}: {bad.height} differ, e.g. {bad.row(0, named=True)}")
    return problems


# the kinds of the indicators' own derived values (indicators.catalogue.Indicator.value_kind)
OWN_KINDS: Final = ("observed", "target_derived", "assumption")


def sanity_check(ours: TrackerResult, theirs: PandasResult) -> list[str]:
    """Every derived value, target, path, projection/estimate (value and band) and method status/ratio."""
    values = ours.values.with_columns(pl.col("period").cast(pl.Int64, strict=False).alias("year"))
    derived = pl.from_pandas(pd.concat(theirs.derived.values(), ignore_index=True))
    problems = _compare(
        "observed",
        # the indicators' own values: observed, or a target's residual, or an assumption
        values.filter(pl.col("kind").is_in(OWN_KINDS)).select("indicator", "area", "period", "value"),
        derived.select("indicator", "area", "period", pl.col("value").cast(pl.Float64)),
        ["indicator", "area", "period"],
        ["value"],
    )
    unchecked = set(values["kind"].unique()) - {
        *OWN_KINDS,
        "target",
        "path",
        "path_from_latest",
        "projection",
        "estimate",
    }
    if unchecked:
        problems.append(f"value kinds the pandas baseline does not compute: {sorted(unchecked)}")
    for kind, frame, columns in (
        ("target", theirs.targets, ["value"]),
        ("path", theirs.paths, ["value"]),
        ("path_from_latest", theirs.paths_from_latest, ["value"]),
    ):
        problems += _compare(
            kind,
            values.filter(pl.col("kind") == kind).select("indicator", "area", "year", *columns),
            pl.from_pandas(frame[["indicator", "area", "year", *columns]]).cast({"year": pl.Int64}),
            ["indicator", "area", "year"],
            columns,
        )
    problems += _compare(
        "projection",
        values.filter(pl.col("kind").is_in(["projection", "estimate"])).select(
            "indicator", "area", "kind", "year", "value", "lower", "upper"
        ),
        pl.from_pandas(theirs.projections).select(
            "indicator", "area", "kind", pl.col("year").cast(pl.Int64), "value", "lower", "upper"
        ),
        ["indicator", "area", "kind", "year"],
        ["value", "lower", "upper"],
    )
    problems += _compare(
        "assessment",
        ours.assessed.select("indicator", "area", "method", "status", pl.col("ratio").cast(pl.Float64)),
        pl.from_pandas(theirs.assessed).select(
            "indicator", "area", "method", "status", pl.col("ratio").cast(pl.Float64)
        ),
        ["indicator", "area", "method"],
        ["status", "ratio"],
    )
    return problems


# --------------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------------


def best_of(repeats: int, run: Callable[[], Any]) -> float:
    best = math.inf
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def stages(result: TrackerResult) -> str:
    s = result.seconds
    return (
        f"select current {s['select']:.2f}s + derive {s['derive']:.2f}s + values/trajectories "
        f"{s['values']:.2f}s + assessments {s['assess']:.2f}s; process CPU {s['cpu']:.2f}s"
    )


def tracker_side(
    catalogue: IndicatorCatalogue, frames: dict[str, pl.DataFrame], kept: list[TrackerResult]
) -> Callable[[], float]:
    """One timed tracker run per call (seconds), keeping each run's stages."""

    def run() -> float:
        gc.collect()
        kept.append(tracker(catalogue, frames))
        return kept[-1].seconds["total"]

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--areas", type=int, default=309)
    parser.add_argument("--factor", type=int, default=10, help="area multiplier for the scaling run")
    parser.add_argument("--pairs", type=int, default=5, help="interleaved pairs per comparison (at least 5)")
    parser.add_argument("--skip-naive", action="store_true", help="no timing against the naive baseline")
    parser.add_argument("--skip-scaling", action="store_true")
    args = parser.parse_args()

    catalogue = bench_catalogue()
    obs = observations(args.areas)
    rows = sum(frame.height for frame in obs.values())
    superseded = sum(frame["valid_to"].is_not_null().sum() for frame in obs.values())
    flagged = sum(frame["flag"].is_not_null().sum() for frame in obs.values())
    print(
        f"{args.areas} areas × {len(catalogue.indicators)} indicators, {YEARS[0]}–{YEARS[-1]} observed, "
        f"projections to {HORIZON_YEAR}+: {rows:,} observation rows ({superseded:,} superseded by a "
        f"second snapshot, {flagged:,} flagged)"
    )
    obs_pd = {name: frame.to_pandas() for name, frame in obs.items()}
    quantiles = {df: t_quantile(0.975, df) for df in range(TREND_MIN_POINTS - 2, TREND_MAX_POINTS - 1)}

    ours = tracker(catalogue, obs)  # warm-up, and the run that is checked
    checked = (
        f"{ours.values.height:,} values and {ours.assessed.height:,} assessments "
        f"({ours.assessed['method'].n_unique()} methods)"
    )
    ok = True
    baselines: dict[str, tuple[Callable[[], PandasResult], float]] = {
        "vectorised pandas": (lambda: vector_pipeline(catalogue, obs_pd, quantiles), VECTOR_GOAL),
        "naive pandas": (lambda: pandas_pipeline(catalogue, obs_pd, quantiles), SPEEDUP_GOAL),
    }
    for name, (baseline, goal) in baselines.items():
        if name == "naive pandas" and args.skip_naive:
            continue
        problems = sanity_check(ours, baseline())
        if problems:
            print(f"{name}: sanity check FAIL: tracker and baseline differ on {checked}:")
            for problem in problems:
                print("  " + problem)
            ok = False
            continue
        print(f"{name}: sanity check OK: tracker and baseline agree on all {checked} (rtol {RTOL:g})")
        runs: list[TrackerResult] = []
        pairs = interleave(tracker_side(catalogue, obs, runs), timer(baseline), args.pairs)
        speedups = [1.0 / ratio for ratio in pairs.ratios]
        low, median, high = spread(speedups)
        passed = median >= goal
        ok &= passed
        best = min(runs, key=lambda run: run.seconds["total"])
        print(
            f"  {pairs.summary('tracker', name)}\n"
            f"  speed-up (baseline / tracker) min {low:.2f}x / median {median:.2f}x / max {high:.2f}x "
            f"(goal median >= {goal:g}x) {'OK' if passed else 'FAIL'}; fastest tracker run: {stages(best)}"
        )
    if not args.skip_scaling:
        del obs_pd
        big_areas = args.areas * args.factor
        big = observations(big_areas)
        big_rows = sum(frame.height for frame in big.values())
        # interleaved pairs (big, small): both sizes sample the same machine load
        big_runs: list[TrackerResult] = []
        small_runs: list[TrackerResult] = []

        pairs = interleave(
            tracker_side(catalogue, big, big_runs), tracker_side(catalogue, obs, small_runs), args.pairs
        )
        low, growth, high = spread(pairs.ratios)
        cpu = [b.seconds["cpu"] / s.seconds["cpu"] for b, s in zip(big_runs, small_runs, strict=True)]
        scale_ok = growth <= SCALING_GOAL
        ok &= scale_ok
        best = min(big_runs, key=lambda run: run.seconds["total"])
        print(
            f"scaling: {big_areas} areas ({big_rows:,} rows) against {args.areas} areas, "
            f"{pairs.summary(f'{big_areas} areas', f'{args.areas} areas')} for {args.factor}x the areas "
            f"(goal median <= {SCALING_GOAL:g}) {'OK' if scale_ok else 'FAIL'}; process CPU time ratio "
            f"{fmt(cpu)} (for information: less sensitive to other load); fastest big run: {stages(best)}"
        )
        control = primitive_scaling(current(obs)["hsy_emissions"], current(big)["hsy_emissions"])
        print(
            f"control (for information): a plain polars group_by-sum over the same HSY observations grows "
            f"{control:.2f}x for {args.factor}x the areas on this machine"
        )
    print("OK" if ok else "FAIL")
    return 0 if ok else 1


def primitive_scaling(small: pl.DataFrame, big: pl.DataFrame, repeats: int = 3) -> float:
    """How a bare polars group_by-sum grows from the small to the big frame: the machine's own scaling."""

    def seconds(frame: pl.DataFrame) -> float:
        def run() -> None:
            frame.group_by("area", "period", "sector1", "sector2").agg(pl.col("value").sum())

        return best_of(repeats, run)

    return seconds(big) / seconds(small)


if __name__ == "__main__":
    raise SystemExit(main())
