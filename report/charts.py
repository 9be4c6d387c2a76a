"""The chart library: tidy polars frames in, themed Altair charts out, in Finnish, Swedish or English."""

from __future__ import annotations

import itertools
import statistics
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal, TypeVar

import altair as alt
import polars as pl

from indicators.catalogue import load_indicator_catalogue
from indicators.trajectory import target_from_base
from report import theme as th
from report.i18n import (
    LANGS,
    NOT_AVAILABLE,
    format_date,
    format_datetime,
    format_number,
    format_percent,
    has,
    label,
    source_text,
    t,
    vega_locale,
)
from report.theme import ChartMeta

__all__ = [
    "AREA_ALIASES",
    "EU_RECYCLING_TARGETS",
    "KEY_COLUMNS",
    "METHODS",
    "METHOD_ALIASES",
    "STATUS_LEVELS",
    "ChartMeta",
    "chart_table",
    "circular_economy",
    "data_freshness",
    "emissions_trajectory",
    "indicator_label",
    "neutrality_balance",
    "per_resident_comparison",
    "progress_dashboard",
    "sector_area",
    "sector_waterfall",
    "weekly_mover",
]

# EU Waste Framework Directive: municipal waste prepared for re-use and recycled, % by year.
EU_RECYCLING_TARGETS: Final[Mapping[int, float]] = {2025: 55.0, 2030: 60.0, 2035: 65.0}

# Statistics Finland municipality codes and Eurostat geo codes accepted in `area` columns.
AREA_ALIASES: Final[Mapping[str, str]] = {
    "049": "espoo",
    "091": "helsinki",
    "092": "vantaa",
    "235": "kauniainen",
    "837": "tampere",
    "853": "turku",
    "564": "oulu",
    "179": "jyvaskyla",
    "398": "lahti",
    "297": "kuopio",
    "FI": "fi",
    "EU27_2020": "eu27_2020",
}
CAPITAL_REGION: Final[frozenset[str]] = frozenset({"espoo", "helsinki", "vantaa", "kauniainen"})

# Progress-assessment methods (column order in the dashboard) and every status they can give.
METHODS: Final[tuple[str, ...]] = ("eurostat", "opensdg", "sdsn", "german", "linear")
# The indicator engine's method names (indicators.methods.METHOD_VERSIONS) accepted as aliases.
METHOD_ALIASES: Final[Mapping[str, str]] = {
    "eurostat_sdg": "eurostat",
    "open_sdg": "opensdg",
    "sdsn_trend": "sdsn",
    "german_strategy": "german",
    "linear_trajectory_check": "linear",
}
LEVELS: Final[tuple[str, ...]] = ("achieved", "good", "moderate", "weak", "away", "none")
STATUS_LEVELS: Final[Mapping[str, str]] = {
    # Eurostat SDG monitoring (with and without a target)
    "significant_progress": "good",
    "moderate_progress": "moderate",
    "insufficient_progress": "weak",
    "movement_away": "away",
    "moderate_movement_away": "weak",
    "significant_movement_away": "away",
    # Open SDG / Statistics Canada
    "target_achieved": "achieved",
    "substantial_progress": "good",
    "limited_progress": "weak",
    "deterioration": "away",
    # SDSN trend dashboards
    "achieved": "achieved",
    "on_track": "good",
    "moderately_improving": "moderate",
    "stagnating": "weak",
    "decreasing": "away",
    # German sustainability strategy
    "nearly_on_track": "moderate",
    "off_track": "weak",
    "moving_away": "away",
    # linear trajectory check (latest value against the straight path from base to target)
    "on_path": "good",
    "behind_path": "weak",
    # any method
    "insufficient_data": "none",
    "not_assessed": "none",
}
FRESHNESS_STATUSES: Final[tuple[str, ...]] = ("fresh", "due", "late", "failed", "never")
CIRCULAR_INDICATORS: Final[tuple[str, ...]] = ("waste_per_resident", "recycling_rate")

_TABLE_ATTR: Final = "_kestava_table"
# columns of the chart tables that hold catalogue keys (for joining the CSV), not words for a reader
KEY_COLUMNS: Final[frozenset[str]] = frozenset(
    {"sector_key", "area_key", "method_key", "status_key", "level_key", "item", "indicator_key"}
)
# characters per title line, by chart (roughly the chart's width at the title font size)
_TITLE_WRAP: Final[Mapping[str, int]] = {"circular_economy": 100, "progress_dashboard": 75}
_YEAR_T: Final = "year_t"

Kind = Literal["int", "num", "str", "bool", "date", "datetime"]
_C = TypeVar("_C", alt.LayerChart, alt.HConcatChart)
_KIND_TEXT: Final[Mapping[str, str]] = {
    "int": "an integer dtype",
    "num": "a numeric dtype",
    "str": "a String/Categorical dtype",
    "bool": "a Boolean dtype",
    "date": "a Date dtype",
    "datetime": "a Date or Datetime dtype",
}


# ---------------------------------------------------------------------------------------------------------
# input contracts and validation


@dataclass(frozen=True)
class Col:
    """One column of an input-frame contract."""

    kind: Kind
    what: str
    nullable: bool = False
    required: bool = True


def _dtype_ok(dtype: pl.DataType, kind: Kind) -> bool:
    if kind == "int":
        return dtype.is_integer()
    if kind == "num":
        return dtype.is_numeric()
    if kind == "str":
        return dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))
    if kind == "bool":
        return dtype == pl.Boolean
    if kind == "date":
        return dtype == pl.Date
    return dtype == pl.Date or isinstance(dtype, pl.Datetime)


def _frame(chart: str, arg: str, frame: object, contract: Mapping[str, Col]) -> pl.DataFrame:
    """Check frame against contract; return it (collected) with just the contract's columns."""
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    if not isinstance(frame, pl.DataFrame):
        raise ValueError(f"{chart}: `{arg}` must be a polars DataFrame, got {type(frame).__name__}")
    keep: list[str] = []
    for name, col in contract.items():
        if name not in frame.columns:
            if col.required:
                raise ValueError(
                    f"{chart}: `{arg}` is missing column {name!r}; expected {col.what} "
                    f"({_KIND_TEXT[col.kind]}). Columns present: {frame.columns}"
                )
            continue
        dtype = frame.schema[name]
        if not (_dtype_ok(dtype, col.kind) or (col.nullable and dtype == pl.Null)):
            raise ValueError(
                f"{chart}: column {name!r} of `{arg}` has dtype {dtype}; expected {col.what} "
                f"({_KIND_TEXT[col.kind]})"
            )
        if not col.nullable and frame.get_column(name).null_count():
            raise ValueError(f"{chart}: column {name!r} of `{arg}` has null values; expected {col.what}")
        keep.append(name)
    if frame.height == 0:
        raise ValueError(f"{chart}: `{arg}` has no rows")
    out = frame.select(keep)
    for name in keep:
        if contract[name].kind == "num" and out.get_column(name).dtype != pl.Null:
            values = out.get_column(name).cast(pl.Float64)
            if values.is_nan().any() or values.is_infinite().any():
                raise ValueError(f"{chart}: column {name!r} of `{arg}` has NaN or infinite values")
    return out


def _unique(chart: str, arg: str, frame: pl.DataFrame, keys: Sequence[str]) -> None:
    dup = frame.select(keys).is_duplicated()
    if dup.any():
        example = frame.filter(dup).row(0, named=True)
        shown = {k: example[k] for k in keys}
        raise ValueError(f"{chart}: `{arg}` has more than one row for {shown}; expected one per {list(keys)}")


def _check_lang(chart: str, lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"{chart}: unsupported language {lang!r}; expected one of {', '.join(LANGS)}")


def _check_meta(chart: str, meta: object) -> None:
    if not isinstance(meta, ChartMeta):
        raise ValueError(f"{chart}: `meta` must be a ChartMeta, got {type(meta).__name__}")


# ---------------------------------------------------------------------------------------------------------
# shared building blocks


@dataclass(frozen=True)
class ChartTable:
    """The data behind a chart, with the chart's language (for translated headers)."""

    frame: pl.DataFrame
    lang: str
    # decimals the chart itself shows, by column (its downloads round to these, not to a default)
    decimals: Mapping[str, int] = field(default_factory=dict)


def chart_table(
    chart: alt.TopLevelMixin, *, translated_headers: bool = False, keys: bool = True
) -> pl.DataFrame:
    """The data table behind a chart made here (the object the chart function returned, not a copy).

    translated_headers: column names in the chart's language; keys=False: without the KEY_COLUMNS (the
    table a reader sees, where every key already has a translated column beside it).
    """
    table = chart.__dict__.get(_TABLE_ATTR)
    if not isinstance(table, ChartTable):
        raise ValueError(
            "chart_table: this chart carries no data table; pass the object a report.charts function "
            "returned (methods such as .properties() return copies without it)"
        )
    frame = table.frame if keys else table.frame.drop(KEY_COLUMNS, strict=False)
    if not translated_headers:
        return frame
    return frame.rename({c: t(f"column.{c}", table.lang) for c in frame.columns})


def chart_decimals(chart: alt.TopLevelMixin) -> Mapping[str, int]:
    """The decimals a chart made here shows, by column of its data table, where it chose them itself."""
    table = chart.__dict__.get(_TABLE_ATTR)
    return table.decimals if isinstance(table, ChartTable) else {}


def _finish(
    chart: _C,
    *,
    name: str,
    finding: str,
    description: str,
    meta: ChartMeta,
    lang: str,
    table: pl.DataFrame,
    decimals: Mapping[str, int] | None = None,
) -> _C:
    """Title, alt text, locale and the data table: the last step of every chart function."""
    finding = finding[:1].upper() + finding[1:]
    out: _C = chart.properties(
        title=th.title_params(finding, meta, lang, width=_TITLE_WRAP.get(name, 85)),
        description=description,
        usermeta={
            "kestava": {"chart": name, "lang": lang, "is_demo": meta.is_demo},
            # vega-embed's default tooltip handler escapes HTML; say so explicitly
            "embedOptions": {"tooltip": True},
        },
    ).configure(locale=vega_locale(lang))
    object.__setattr__(out, _TABLE_ATTR, ChartTable(table, lang, dict(decimals or {})))
    return out


def _layer(layers: Sequence[alt.Chart], meta: ChartMeta, lang: str) -> alt.LayerChart:
    parts = list(layers)
    if meta.is_demo:
        parts.append(th.watermark(lang))
    return alt.LayerChart(layer=parts)


def _years(chart: alt.Chart, field: str = "year") -> alt.Chart:
    """Add a temporal field for an integer year (local 1 January, matching local axis formatting)."""
    return chart.transform_calculate(**{_YEAR_T: f"datetime(datum.{field}, 0, 1)"})


# the least distance in px between the centres of two year labels ("2035" is about 28 px at 11 px)
_YEAR_LABEL_SPACING: Final = 56
_NICE_YEAR_STEPS: Final[tuple[int, ...]] = (1, 2, 5, 10, 20, 25, 50)


def _year_step(first: int, last: int, width: int | None = None) -> int:
    """Years between two labels: by the span, and with a width (px) at least _YEAR_LABEL_SPACING apart."""
    span = last - first
    step = 1 if span <= 12 else 2 if span <= 24 else 5 if span <= 60 else 10
    if width is None or span <= 0:
        return step
    fits = max(1, width // _YEAR_LABEL_SPACING)  # labels that fit side by side
    return next((s for s in _NICE_YEAR_STEPS if s >= step and span / s + 1 <= fits), _NICE_YEAR_STEPS[-1])


def _x_year(first: int, last: int, title: str | None = None, width: int | None = None) -> alt.X:
    """A temporal year axis with plain "%Y" labels (never "2,010") and ticks on whole years; with the
    plot's width (px), labels far enough apart never to touch (a narrow panel labels every 5th year)."""
    return alt.X(
        f"{_YEAR_T}:T",
        title=title,
        scale=alt.Scale(domain=[alt.DateTime(year=first), alt.DateTime(year=last)]),
        axis=alt.Axis(
            format="%Y",
            formatType="time",
            tickCount={"interval": "year", "step": _year_step(first, last, width)},
            labelOverlap=True,
            labelAngle=0,
        ),
    )


def _year_tip(lang: str, field: str = "year") -> alt.Tooltip:
    return alt.Tooltip(f"{field}:O", title=t("label.year", lang))


def _area_key(value: str) -> str:
    """Catalogue key for an area (name, municipality code or Eurostat geo code); unknown names as-is."""
    raw = value.strip()
    key = AREA_ALIASES.get(raw, raw.lower())
    return key if has(f"area.{key}") else raw


def indicator_label(value: str, lang: str) -> str:
    """An indicator's name in lang: the translation catalogue, then the indicator catalogue, else as given."""
    if has(f"indicator.{value}"):
        return t(f"indicator.{value}", lang)
    indicator = load_indicator_catalogue().indicators.get(value.split(".", 1)[0])
    if indicator is None:
        return value
    name = indicator.name.get(lang)
    part = value.split(".", 1)[1] if "." in value else None
    return f"{name}: {label('sector', part, lang)}" if part else name


def _titled(key: str, area: str, lang: str, **fmt: object) -> str:
    """A title about an area: the genitive form when the catalogue has it, else the `_other` variant."""
    if has(f"area_gen.{area}"):
        return t(key, lang, gen=t(f"area_gen.{area}", lang), **fmt)
    return t(f"{key}_other", lang, area=label("area", area, lang), **fmt)


def _dash(on: bool) -> list[int]:
    return [5, 3] if on else [1, 0]


def _pct_change(new: float, old: float) -> float:
    return (new / old - 1.0) * 100.0


def _gaps(years: Sequence[int]) -> list[tuple[int, int]]:
    """The runs of missing years inside a sorted list of years: [1990, 2000, 2001] → [(1991, 1999)]."""
    return [(a + 1, b - 1) for a, b in itertools.pairwise(years) if b - a > 1]


def _years_text(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}\u2013{last}"


def _gap_rows(points: Mapping[int, float], value_field: str = "value") -> list[dict[str, Any]]:
    """One row per gap in a yearly series: the gap's middle (year and month), a height, the missing years."""
    rows = []
    for first, last in _gaps(sorted(points)):
        middle = first - 1 + last + 1  # twice the middle year
        rows.append(
            {
                "year": middle // 2,
                "month": 6 * (middle % 2),  # an even number of missing years: the middle is 1 July
                value_field: (points[first - 1] + points[last + 1]) / 2,
                "years": _years_text(first, last),
            }
        )
    return rows


def _gap_labels(rows: Sequence[Mapping[str, Any]], x: alt.X, y: alt.Y, lang: str) -> alt.Chart:
    """ "no data 1991–1999" written in the gap of a yearly series (its line or area is not drawn there)."""
    frame = pl.DataFrame([{**r, "label": t("gap.label", lang, years=r["years"])} for r in rows])
    chart: alt.Chart = (
        alt.Chart(frame)
        .transform_calculate(**{_YEAR_T: "datetime(datum.year, datum.month, 1)"})
        .mark_text(
            lineBreak="\n",
            fontSize=10,
            fontStyle="italic",
            color=th.MUTED_TEXT,
            align="center",
            baseline="middle",
        )
        .encode(x=x, y=y, text="label:N")
    )
    return chart


def _gap_sentence(years: Sequence[int], lang: str) -> str:
    """The alt-text sentence naming the missing years of a series, or "" when none are missing."""
    gaps = _gaps(sorted(years))
    if not gaps:
        return ""
    return " " + t("gap.description", lang, years=", ".join(_years_text(a, b) for a, b in gaps))


def _band_row(year: int, value: float, lower: float, upper: float) -> dict[str, Any]:
    return {"year": year, "value": value, "lower": lower, "upper": upper}


# ---------------------------------------------------------------------------------------------------------
# 1. emissions trajectory

TRAJECTORY_HISTORY: Final[Mapping[str, Col]] = {
    "year": Col("int", "the calendar year"),
    "value": Col("num", "total emissions in kt CO2e"),
    "estimated": Col("bool", "True for a nowcast/preliminary year", required=False),
    "lower": Col("num", "an estimated year's lower band bound in kt CO2e", nullable=True, required=False),
    "upper": Col("num", "an estimated year's upper band bound in kt CO2e", nullable=True, required=False),
}
TRAJECTORY_PROJECTION: Final[Mapping[str, Col]] = {
    "year": Col("int", "the projected year"),
    "value": Col("num", "the central trend projection in kt CO2e"),
    "lower": Col("num", "the lower bound of the uncertainty band in kt CO2e"),
    "upper": Col("num", "the upper bound of the uncertainty band in kt CO2e"),
}


def emissions_trajectory(
    history: pl.DataFrame,
    projection: pl.DataFrame | None = None,
    *,
    meta: ChartMeta,
    lang: str = "fi",
    area: str = "espoo",
    base_year: int = 1990,
    target_year: int = 2030,
    target_reduction: float = 0.80,
    band_level: float = 0.95,
) -> alt.LayerChart:
    """History of an area's emissions against the straight path to its target, with the trend projection.

    history: one row per year —
        year (int), value (float, kt CO2e), estimated (bool, optional: True marks nowcast/preliminary
        years, drawn hollow with a dashed line; absent means every year is observed), lower, upper
        (float, optional, nullable: an estimated year's band). Missing years are a gap in the line,
        labelled, never bridged as if measured.
    projection (optional): one row per projected year —
        year (int), value (float, central projection, kt CO2e), lower, upper (float, the band_level
        prediction band, 95 % by default). It is joined to the last history year so the band starts from
        the latest value: with no spread at a measured value, with its own band at an estimate (an
        estimate without a band: from the latest measured year).
    The target is derived from the same data: value(base_year) × (1 − target_reduction), drawn as a rule
    with a label; the required path runs straight from the latest year to (target_year, target).
    """
    name = "emissions_trajectory"
    _check_lang(name, lang)
    _check_meta(name, meta)
    h = _frame(name, "history", history, TRAJECTORY_HISTORY)
    _unique(name, "history", h, ["year"])
    if not 0.0 < target_reduction < 1.0:
        raise ValueError(f"{name}: target_reduction must be between 0 and 1, got {target_reduction}")
    if target_year <= base_year:
        raise ValueError(f"{name}: target_year ({target_year}) must be after base_year ({base_year})")
    rows = sorted(h.rows(named=True), key=lambda r: int(r["year"]))
    hist = [(int(r["year"]), float(r["value"]), bool(r.get("estimated") or False)) for r in rows]
    # an estimated year's own band (a nowcast is uncertain: the projection band starts from it, not from 0)
    est_bands = {
        int(r["year"]): (float(r["lower"]), float(r["upper"]))
        for r in rows
        if r.get("estimated") and r.get("lower") is not None and r.get("upper") is not None
    }
    for year, (lower, upper) in est_bands.items():
        value = next(v for y, v, _ in hist if y == year)
        if not lower <= value <= upper:
            raise ValueError(f"{name}: `history` row for {year} needs lower <= value <= upper")
    base_value = next((v for y, v, _ in hist if y == base_year), None)
    if base_value is None or base_value <= 0:
        raise ValueError(
            f"{name}: `history` needs a positive value for base_year {base_year} to derive the target"
        )
    area_key = _area_key(area)
    target = target_from_base(base_value, target_reduction)  # the one derivation: 1060 → 212.0
    latest_year, latest_value, latest_est = hist[-1]
    # the title's finding is about the latest published value; a nowcast only when nothing is published
    found_year, found_value, found_est = ([h for h in hist if not h[2]] or hist)[-1]
    first_year = hist[0][0]
    obs_label, est_label = t("trajectory.observed", lang), t("trajectory.estimated", lang)
    level_text = format_percent(band_level * 100, lang)
    series = {
        "history": t("trajectory.series_history", lang),
        "projection": t("trajectory.series_projection", lang, level=level_text),
        "path": t("trajectory.series_path", lang),
        "base_path": t("trajectory.series_base_path", lang, base_year=base_year, target_year=target_year),
        "target": t("trajectory.series_target", lang),
    }
    colours = {
        "history": th.OKABE_ITO["blue"],
        "projection": th.ORANGE_MARK,
        "path": th.OKABE_ITO["bluish_green"],
        "base_path": th.OKABE_ITO["reddish_purple"],
        "target": th.OKABE_ITO["vermillion"],
    }

    table_rows: list[dict[str, Any]] = [
        {
            "series": series["history"],
            "year": y,
            "value": v,
            "lower": est_bands.get(y, (None, None))[0],
            "upper": est_bands.get(y, (None, None))[1],
            "estimated": e,
        }
        for y, v, e in hist
    ]
    proj_rows: list[dict[str, Any]] = []
    if not 0.0 < band_level < 1.0:
        raise ValueError(f"{name}: band_level must be between 0 and 1, got {band_level}")
    if projection is not None:
        p = _frame(name, "projection", projection, TRAJECTORY_PROJECTION)
        _unique(name, "projection", p, ["year"])
        proj_rows = sorted(p.rows(named=True), key=lambda r: int(r["year"]))
        for r in proj_rows:
            if not float(r["lower"]) <= float(r["value"]) <= float(r["upper"]):
                raise ValueError(f"{name}: `projection` row for {r['year']} needs lower <= value <= upper")
        if int(proj_rows[0]["year"]) > latest_year:
            # the band starts from the latest year: with no spread at a measured value, with its own band at
            # an estimate; an estimate without a band starts it from the latest measured year instead
            observed = [(y, v) for y, v, e in hist if not e]
            if not latest_est:
                proj_rows.insert(0, _band_row(latest_year, latest_value, latest_value, latest_value))
            elif latest_year in est_bands:
                proj_rows.insert(0, _band_row(latest_year, latest_value, *est_bands[latest_year]))
            elif observed:
                year, value = observed[-1]
                proj_rows.insert(0, _band_row(year, value, value, value))
        table_rows += [
            {"series": series["projection"], "estimated": True, **{k: r[k] for k in TRAJECTORY_PROJECTION}}
            for r in proj_rows
        ]
    path_rows: list[dict[str, Any]] = []
    if latest_year < target_year:
        path_rows = [{"year": latest_year, "value": latest_value}, {"year": target_year, "value": target}]
        table_rows += [
            {"series": series["path"], "lower": None, "upper": None, "estimated": False, **r}
            for r in path_rows
        ]
    # the straight line from the base year the linear-path status compares with (its value in any year)
    base_path_rows = [{"year": base_year, "value": base_value}, {"year": target_year, "value": target}]
    table_rows += [
        {"series": series["base_path"], "lower": None, "upper": None, "estimated": False, **r}
        for r in base_path_rows
    ]
    table_rows.append(
        {
            "series": series["target"],
            "year": target_year,
            "value": target,
            "lower": None,
            "upper": None,
            "estimated": False,
        }
    )
    used = (
        ["history"]
        + (["projection"] if proj_rows else [])
        + (["path"] if path_rows else [])
        + ["base_path", "target"]
    )
    colour = alt.Color(
        "series:N",
        title=None,
        scale=alt.Scale(domain=[series[k] for k in used], range=[colours[k] for k in used]),
        legend=alt.Legend(orient="bottom", direction="horizontal", symbolType="stroke", columns=3),
    )
    last_x = max(target_year, int(proj_rows[-1]["year"]) if proj_rows else target_year)
    x = _x_year(min(first_year, base_year), last_x)
    y_title = t("axis.emissions_kt", lang)
    y_val = alt.Y("value:Q", title=y_title)
    value_tip = alt.Tooltip("value:Q", title=t("label.emissions_kt", lang), format=",.0f")

    # history line as two-point segments, so a segment touching an estimated year is dashed; the dash
    # and the point fill share one legend (same field and title): solid+filled vs dashed+hollow
    status_title = t("trajectory.legend_status", lang)
    status_legend = alt.Legend(
        orient="top",  # above the plot, never over a point (inside, the Swedish labels covered 2019)
        direction="horizontal",
        symbolType="circle",
        symbolStrokeColor=colours["history"],
        symbolStrokeWidth=1.6,
    )
    seg_rows = []
    for i, ((y0, v0, e0), (y1, v1, e1)) in enumerate(itertools.pairwise(hist)):
        if y1 - y0 > 1:
            continue  # missing years are a gap, not a line as if measured
        dash = est_label if (e0 or e1) else obs_label
        seg_rows += [
            {"segment": i, "year": y0, "value": v0, "status": dash, "series": series["history"]},
            {"segment": i, "year": y1, "value": v1, "status": dash, "series": series["history"]},
        ]
    layers: list[alt.Chart] = []
    if proj_rows:
        proj_df = pl.DataFrame(proj_rows).with_columns(series=pl.lit(series["projection"]))
        band = _years(alt.Chart(proj_df)).mark_area(opacity=0.22, color=colours["projection"])
        layers.append(
            band.encode(
                x=x,
                y=alt.Y("lower:Q", title=y_title),
                y2="upper:Q",
                tooltip=[
                    _year_tip(lang),
                    alt.Tooltip("lower:Q", title=t("label.lower", lang), format=",.0f"),
                    alt.Tooltip("upper:Q", title=t("label.upper", lang), format=",.0f"),
                ],
            )
        )
        layers.append(
            _years(alt.Chart(proj_df))
            .mark_line(strokeWidth=2)
            .encode(x=x, y=y_val, color=colour, tooltip=[_year_tip(lang), value_tip])
        )
    if path_rows:
        path_df = pl.DataFrame(path_rows).with_columns(series=pl.lit(series["path"]))
        layers.append(
            _years(alt.Chart(path_df))
            .mark_line(strokeDash=[7, 4], strokeWidth=1.8)
            .encode(x=x, y=y_val, color=colour)
        )
    base_path_df = pl.DataFrame(base_path_rows).with_columns(series=pl.lit(series["base_path"]))
    layers.append(
        _years(alt.Chart(base_path_df))
        .mark_line(strokeDash=[2, 3], strokeWidth=1.6)
        .encode(x=x, y=y_val, color=colour, tooltip=[_year_tip(lang), value_tip])
    )
    if seg_rows:
        layers.append(
            _years(alt.Chart(pl.DataFrame(seg_rows)))
            .mark_line(strokeWidth=2.4)
            .encode(
                x=x,
                y=alt.Y("value:Q", title=y_title, axis=alt.Axis(format=",.0f")),
                color=colour,
                detail="segment:N",
                strokeDash=alt.StrokeDash(
                    "status:N",
                    title=status_title,
                    scale=alt.Scale(domain=[obs_label, est_label], range=[_dash(False), _dash(True)]),
                    legend=status_legend,
                ),
            )
        )
    point_df = pl.DataFrame(
        [{"year": y, "value": v, "status": est_label if e else obs_label} for y, v, e in hist]
    )
    layers.append(
        _years(alt.Chart(point_df))
        .mark_point(filled=True, size=46, stroke=colours["history"], strokeWidth=1.6, fillOpacity=1)
        .encode(
            x=x,
            y=alt.Y("value:Q", title=y_title, axis=alt.Axis(format=",.0f"), scale=alt.Scale(zero=True)),
            fill=alt.Fill(
                "status:N",
                title=status_title,
                scale=alt.Scale(domain=[obs_label, est_label], range=[colours["history"], "#FFFFFF"]),
                legend=status_legend,
            ),
            tooltip=[
                _year_tip(lang),
                value_tip,
                alt.Tooltip("status:N", title=t("trajectory.legend_status", lang)),
            ],
        )
    )
    target_text = t(
        "trajectory.target_label",
        lang,
        year=target_year,
        value=format_number(target, lang),
        pct=format_percent(-target_reduction * 100, lang),
        base=base_year,
    )
    target_df = pl.DataFrame([{"year": target_year, "value": target, "series": series["target"]}])
    layers += [
        alt.Chart(target_df).mark_rule(strokeDash=[2, 3], strokeWidth=1.5).encode(y=y_val, color=colour),
        _years(alt.Chart(target_df))
        .mark_point(shape="diamond", filled=True, size=120, color=colours["target"])
        .encode(x=x, y=y_val, tooltip=[_year_tip(lang), value_tip]),
        _years(alt.Chart(target_df))
        .mark_text(
            text=target_text,
            align="right",
            baseline="bottom",
            dx=-10,
            dy=-6,
            fontWeight="bold",
            color=th.VERMILLION_TEXT,
        )
        .encode(x=x, y=y_val),
    ]
    gap_rows = _gap_rows({y: v for y, v, _ in hist})
    if gap_rows:
        layers.append(_gap_labels(gap_rows, x, y_val, lang))
    chart = _layer(layers, meta, lang).properties(width=620, height=340)

    found_change = _pct_change(found_value, base_value)
    verb = "fell" if found_change < 0 else "rose"
    finding = _titled(
        f"trajectory.title_{verb}",
        area_key,
        lang,
        pct=format_percent(abs(found_change), lang),
        base=base_year,
        latest=found_year,
    )
    if found_est:
        finding += t("trajectory.title_estimated", lang)
    # the alt text states the latest published value as fact and every estimate as an estimate
    description = t(
        "trajectory.description_estimated_only" if found_est else "trajectory.description",
        lang,
        area=label("area", area_key, lang),
        first=first_year,
        latest=found_year,
        latest_value=format_number(found_value, lang),
        base=base_year,
        base_value=format_number(base_value, lang),
        change=format_percent(found_change, lang, signed=True),
        target_year=target_year,
        target=format_number(target, lang),
    )
    for year, value, estimated in hist:
        if not estimated or (found_est and year == found_year):
            continue
        band = est_bands.get(year)
        description += " " + t(
            "trajectory.description_estimate" if band else "trajectory.description_estimate_noband",
            lang,
            year=year,
            value=format_number(value, lang),
            level=level_text,
            lower=format_number(band[0], lang) if band else NOT_AVAILABLE,
            upper=format_number(band[1], lang) if band else NOT_AVAILABLE,
        )
    if proj_rows:
        end = proj_rows[-1]
        description += " " + t(
            "trajectory.description_projection",
            lang,
            year=int(end["year"]),
            value=format_number(float(end["value"]), lang),
            level=level_text,
            lower=format_number(float(end["lower"]), lang),
            upper=format_number(float(end["upper"]), lang),
        )
    description += _gap_sentence([y for y, _, _ in hist], lang)
    table = pl.DataFrame(
        table_rows,
        schema={
            "series": pl.String,
            "year": pl.Int64,
            "value": pl.Float64,
            "lower": pl.Float64,
            "upper": pl.Float64,
            "estimated": pl.Boolean,
        },
    )
    return _finish(
        chart, name=name, finding=finding, description=description, meta=meta, lang=lang, table=table
    )


# ---------------------------------------------------------------------------------------------------------
# 2. sectors over time (stacked area)

SECTOR_FRAME: Final[Mapping[str, Col]] = {
    "year": Col("int", "the calendar year"),
    "sector": Col(
        "str", "the sector key (e.g. 'district_heat', 'transport'; see report.theme.SECTOR_COLOURS)"
    ),
    "value": Col("num", "the sector's emissions in kt CO2e (>= 0)"),
}


def _sector_rows(name: str, frame: pl.DataFrame) -> list[tuple[int, str, float]]:
    f = _frame(name, "frame", frame, SECTOR_FRAME)
    _unique(name, "frame", f, ["year", "sector"])
    rows = [(int(r["year"]), str(r["sector"]), float(r["value"])) for r in f.rows(named=True)]
    negative = [r for r in rows if r[2] < 0]
    if negative:
        y, s, v = negative[0]
        raise ValueError(f"{name}: sector {s!r} has a negative value {v} in {y}; expected emissions >= 0")
    return rows


def _sector_scale(keys: Sequence[str], lang: str) -> alt.Scale:
    colours = th.sector_colours(keys)
    return alt.Scale(domain=[label("sector", k, lang) for k in keys], range=[colours[k] for k in keys])


def sector_area(
    frame: pl.DataFrame,
    *,
    meta: ChartMeta,
    lang: str = "fi",
    label_count: int = 3,
) -> alt.LayerChart:
    """Emissions by sector over time as stacked areas, largest sector at the bottom, the largest labelled.

    frame: one row per year and sector —
        year (int), sector (str key; known keys are translated and keep their colour in every chart,
        unknown keys are shown as given in grey), value (float, kt CO2e, >= 0).
    A missing year–sector pair counts as zero in the stack.
    """
    name = "sector_area"
    _check_lang(name, lang)
    _check_meta(name, meta)
    rows = _sector_rows(name, frame)
    years = sorted({y for y, _, _ in rows})
    latest = years[-1]
    values = {(y, s): v for y, s, v in rows}
    sectors_all = {s for _, s, _ in rows}
    sectors = sorted(sectors_all, key=lambda s: (-values.get((latest, s), 0.0), s))
    order = {s: i for i, s in enumerate(sectors)}
    totals = {y: sum(values.get((y, s), 0.0) for s in sectors) for y in years}
    # a run of consecutive years is one area; missing years between runs are a gap, not interpolated
    run_of: dict[int, int] = {}
    for previous, year in zip([years[0], *years[:-1]], years, strict=True):
        run_of[year] = run_of.get(previous, 0) + int(year - previous > 1)
    run_sizes = {r: list(run_of.values()).count(r) for r in set(run_of.values())}
    data = [
        {
            "year": y,
            "sector": label("sector", s, lang),
            "sector_key": s,
            "value": values.get((y, s), 0.0),
            "share": values.get((y, s), 0.0) / totals[y] if totals[y] else 0.0,
            "order": order[s],
            "run": run_of[y],
        }
        for y in years
        for s in sectors
    ]
    df = pl.DataFrame(data)
    x = _x_year(years[0], latest)
    colour = alt.Color(
        "sector:N",
        title=t("label.sector", lang),
        scale=_sector_scale(sectors, lang),
        legend=alt.Legend(orient="bottom", columns=3),
    )
    y_title = t("axis.emissions_kt", lang)
    stacked = {
        "x": x,
        "y": alt.Y("value:Q", title=y_title, stack="zero", axis=alt.Axis(format=",.0f")),
        "color": colour,
        "order": alt.Order("order:Q", sort="ascending"),
        "tooltip": [
            _year_tip(lang),
            alt.Tooltip("sector:N", title=t("label.sector", lang)),
            alt.Tooltip("value:Q", title=t("label.emissions_kt", lang), format=",.0f"),
            alt.Tooltip("share:Q", title=t("label.share", lang), format=".0%"),
        ],
    }
    area = (
        _years(alt.Chart(df.filter(pl.col("run").replace_strict(run_sizes) > 1)))
        .mark_area(line={"color": "white", "strokeWidth": 0.6})
        .encode(detail="run:N", **stacked)
    )
    # right-end labels for the largest sectors, at the middle of their band
    total_latest = totals[latest]
    labels = []
    below = 0.0
    for s in sectors:
        v = values.get((latest, s), 0.0)
        share = v / total_latest if total_latest else 0.0
        if order[s] < label_count and share >= 0.04:
            text = f"{label('sector', s, lang)} {format_percent(share * 100, lang)}"
            labels.append({"year": latest, "mid": below + v / 2, "label": text})
        below += v
    layers: list[alt.Chart] = [area]
    single = df.filter(pl.col("run").replace_strict(run_sizes) == 1)
    if single.height:  # a year alone between gaps (1990 before 2000): a stacked column, not a vanishing area
        layers.append(_years(alt.Chart(single)).mark_bar(width=6).encode(**stacked))
    if labels:
        layers.append(
            _years(alt.Chart(pl.DataFrame(labels)))
            .mark_text(align="left", dx=6, fontWeight="bold", fontSize=11)
            .encode(x=x, y=alt.Y("mid:Q", title=y_title, stack=None), text="label:N")
        )
    gap_rows = _gap_rows({y: totals[y] / 2 for y in years})
    if gap_rows:
        layers.append(_gap_labels(gap_rows, x, alt.Y("value:Q", title=y_title, stack=None), lang))
    chart = _layer(layers, meta, lang).properties(width=560, height=320)
    top = sectors[0]
    top_share = values.get((latest, top), 0.0) / total_latest * 100 if total_latest else 0.0
    finding = t(
        "sector_area.title",
        lang,
        sector=label("sector", top, lang),
        year=latest,
        share=format_percent(top_share, lang),
    )
    description = t(
        "sector_area.description",
        lang,
        first=years[0],
        latest=latest,
        n=len(sectors),
        total=format_number(total_latest, lang),
        largest=", ".join(
            f"{label('sector', s, lang)} {format_number(values.get((latest, s), 0.0), lang)} kt"
            for s in sectors[:3]
        ),
    ) + _gap_sentence(years, lang)
    table = df.select("year", "sector_key", "sector", "value", "share")
    return _finish(
        chart, name=name, finding=finding, description=description, meta=meta, lang=lang, table=table
    )


# ---------------------------------------------------------------------------------------------------------
# 3. sector waterfall


def sector_waterfall(
    frame: pl.DataFrame,
    *,
    meta: ChartMeta,
    lang: str = "fi",
    base_year: int = 1990,
    latest_year: int | None = None,
) -> alt.LayerChart:
    """Change from the base year to the latest year by sector: start bar, sector deltas by sign, end bar.

    frame: the same long frame as sector_area — year (int), sector (str key), value (float, kt CO2e).
    Both years must list the same sectors (add an explicit 0 row for a sector absent in one of them).
    Deltas are sorted from the largest cut to the largest increase; cuts are blue, increases vermillion.
    """
    name = "sector_waterfall"
    _check_lang(name, lang)
    _check_meta(name, meta)
    rows = _sector_rows(name, frame)
    years = {y for y, _, _ in rows}
    end_year = max(years) if latest_year is None else latest_year
    for y, arg in ((base_year, "base_year"), (end_year, "latest_year")):
        if y not in years:
            raise ValueError(f"{name}: no rows for {arg} {y}; years present: {sorted(years)}")
    if end_year <= base_year:
        raise ValueError(f"{name}: latest_year ({end_year}) must be after base_year ({base_year})")
    start = {s: v for y, s, v in rows if y == base_year}
    end = {s: v for y, s, v in rows if y == end_year}
    if set(start) != set(end):
        odd = sorted(set(start) ^ set(end))
        raise ValueError(
            f"{name}: sectors {odd} appear in only one of {base_year} and {end_year}; "
            "add explicit 0 rows so the change is unambiguous"
        )
    deltas = sorted(((s, end[s] - start[s]) for s in start), key=lambda p: (p[1], p[0]))
    total_start, total_end = sum(start.values()), sum(end.values())
    total_cut = sum(d for _, d in deltas if d < 0)
    kinds = {
        "total": t("waterfall.kind_total", lang),
        "decrease": t("waterfall.kind_decrease", lang),
        "increase": t("waterfall.kind_increase", lang),
    }
    steps: list[dict[str, Any]] = [
        {
            "step": t("waterfall.total_label", lang, year=base_year),
            "sector_key": None,
            "kind": kinds["total"],
            "start": 0.0,
            "end": total_start,
            "change": None,
            "share_of_cut": None,
            "text": format_number(total_start, lang),
        }
    ]
    running = total_start
    for s, d in deltas:
        steps.append(
            {
                "step": label("sector", s, lang),
                "sector_key": s,
                "kind": kinds["increase" if d > 0 else "decrease"],
                "start": running,
                "end": running + d,
                "change": d,
                "share_of_cut": d / total_cut if d < 0 and total_cut else None,
                "text": format_number(d, lang, signed=True),
            }
        )
        running += d
    steps.append(
        {
            "step": t("waterfall.total_label", lang, year=end_year),
            "sector_key": None,
            "kind": kinds["total"],
            "start": 0.0,
            "end": total_end,
            "change": None,
            "share_of_cut": None,
            "text": format_number(total_end, lang),
        }
    )
    df = pl.DataFrame(
        [
            {
                **s,
                "lo": min(s["start"], s["end"]),
                "hi": max(s["start"], s["end"]),
                "start_text": format_number(s["start"], lang),
                "end_text": format_number(s["end"], lang),
            }
            for s in steps
        ],
        schema_overrides={"sector_key": pl.String, "change": pl.Float64, "share_of_cut": pl.Float64},
    )
    order = [s["step"] for s in steps]
    y_enc = alt.Y("step:N", sort=order, title=None, axis=alt.Axis(labelLimit=220))
    x_title = t("axis.emissions_kt", lang)
    tips = [
        alt.Tooltip("step:N", title=t("label.item", lang)),
        alt.Tooltip("start_text:N", title=t("label.from", lang)),
        alt.Tooltip("end_text:N", title=t("label.to", lang)),
        alt.Tooltip("text:N", title=t("label.change_kt", lang)),
    ]
    bars = (
        alt.Chart(df)
        .mark_bar(height={"band": 0.72})
        .encode(
            y=y_enc,
            x=alt.X("lo:Q", title=x_title, axis=alt.Axis(format=",.0f"), scale=alt.Scale(zero=True)),
            x2="hi:Q",
            color=alt.Color(
                "kind:N",
                title=None,
                scale=alt.Scale(
                    domain=[kinds["total"], kinds["decrease"], kinds["increase"]],
                    range=[th.NEUTRAL, th.OKABE_ITO["blue"], th.OKABE_ITO["vermillion"]],
                ),
                legend=alt.Legend(orient="bottom", direction="horizontal"),
            ),
            tooltip=tips,
        )
    )
    texts = (
        alt.Chart(df)
        .mark_text(align="left", dx=5, fontSize=11)
        .encode(y=y_enc, x=alt.X("hi:Q", title=x_title), text="text:N", tooltip=tips)
    )
    chart = _layer([bars, texts], meta, lang).properties(width=520, height=alt.Step(30))
    cut_sector, cut = deltas[0]
    span = {"base": base_year, "latest": end_year}
    if cut < 0:
        finding = t(
            "waterfall.title",
            lang,
            sector=label("sector", cut_sector, lang),
            delta=format_number(cut, lang, signed=True),
            **span,
        )
    else:
        finding = t("waterfall.title_no_cut", lang, **span)
    description = t(
        "waterfall.description",
        lang,
        start=format_number(total_start, lang),
        end=format_number(total_end, lang),
        change=format_percent(_pct_change(total_end, total_start), lang, signed=True)
        if total_start
        else NOT_AVAILABLE,
        steps="; ".join(
            f"{label('sector', s, lang)} {format_number(d, lang, signed=True)}" for s, d in deltas
        ),
        **span,
    )
    table = df.select("step", "sector_key", "kind", "start", "end", "change", "share_of_cut")
    return _finish(
        chart, name=name, finding=finding, description=description, meta=meta, lang=lang, table=table
    )


# ---------------------------------------------------------------------------------------------------------
# 4. per-resident emissions across cities

PER_RESIDENT_FRAME: Final[Mapping[str, Col]] = {
    "area": Col("str", "the area: a key such as 'espoo', a municipality code such as '049', or a name"),
    "year": Col("int", "the calendar year"),
    "value": Col("num", "emissions per resident in t CO2e"),
}


def _rank_decimals(values: Sequence[float], lang: str, least: int = 1, most: int = 3) -> int:
    """The fewest decimals, from least up to most, at which any two neighbours in the ranking of values
    that differ also differ as printed in lang (2.61 and 2.64 both print "2,6": two decimals)."""
    ranked = sorted(set(values))
    for places in range(least, most):
        printed = [format_number(v, lang, places) for v in ranked]
        if all(a != b for a, b in itertools.pairwise(printed)):
            return places
    return most


def per_resident_comparison(
    frame: pl.DataFrame,
    *,
    meta: ChartMeta,
    lang: str = "fi",
    highlight: str = "espoo",
    year: int | None = None,
) -> alt.LayerChart:
    """Per-resident emissions in one year: the highlighted city against the capital region and large cities.

    frame: one row per area and year —
        area (str: 'espoo', 'helsinki', … or a Statistics Finland code '049'; other names are shown as
        given), year (int), value (float, t CO2e per resident; Syke's ALas data).
    year defaults to the latest year with a value for the highlighted area; the tooltip shows the change
    from each area's first year in the frame. A rule marks the median of the other areas.
    """
    name = "per_resident_comparison"
    _check_lang(name, lang)
    _check_meta(name, meta)
    f = _frame(name, "frame", frame, PER_RESIDENT_FRAME)
    _unique(name, "frame", f, ["area", "year"])
    rows = [(_area_key(str(r["area"])), int(r["year"]), float(r["value"])) for r in f.rows(named=True)]
    hl = _area_key(highlight)
    hl_years = sorted(y for a, y, _ in rows if a == hl)
    if not hl_years:
        raise ValueError(f"{name}: highlighted area {highlight!r} has no rows in `frame`")
    yr = hl_years[-1] if year is None else year
    current = {a: v for a, y, v in rows if y == yr}
    if hl not in current:
        raise ValueError(f"{name}: highlighted area {highlight!r} has no value for {yr}")
    others = {a: v for a, v in current.items() if a != hl}
    if not others:
        raise ValueError(f"{name}: `frame` has no other areas for {yr} to compare {highlight!r} against")
    first: dict[str, tuple[int, float]] = {}
    for a, y, v in sorted(rows, key=lambda r: r[1]):
        first.setdefault(a, (y, v))
    groups = {
        "highlight": label("area", hl, lang),
        "capital": t("per_resident.group_capital", lang),
        "other": t("per_resident.group_other", lang),
    }

    def group(a: str) -> str:
        if a == hl:
            return groups["highlight"]
        return groups["capital"] if a in CAPITAL_REGION else groups["other"]

    def change_text(a: str, v: float) -> str:
        y0, v0 = first[a]
        if y0 >= yr or v0 == 0:
            return NOT_AVAILABLE
        pct = format_percent(_pct_change(v, v0), lang, signed=True)
        return f"{pct} ({y0}–{yr})"

    ordered = sorted(current, key=lambda a: (current[a], label("area", a, lang)))
    df = pl.DataFrame(
        [
            {
                "area_key": a,
                "area": label("area", a, lang),
                "year": yr,
                "value": current[a],
                "group": group(a),
                "change": change_text(a, current[a]),
            }
            for a in ordered
        ]
    )
    median = statistics.median(others.values())
    # one decimal, or more where the ranking needs it: two cities that differ never print the same
    places = _rank_decimals([current[a] for a in ordered], lang)
    value_format = f",.{places}f"
    y_enc = alt.Y("area:N", sort=[label("area", a, lang) for a in ordered], title=None)
    x_title = t("axis.per_resident", lang)
    group_domain = [groups["highlight"], groups["capital"], groups["other"]]
    bars = (
        alt.Chart(df)
        .mark_bar(height={"band": 0.7})
        .encode(
            y=y_enc,
            x=alt.X("value:Q", title=x_title, axis=alt.Axis(format=",.1f"), scale=alt.Scale(zero=True)),
            color=alt.Color(
                "group:N",
                title=None,
                scale=alt.Scale(
                    domain=group_domain, range=[th.OKABE_ITO["blue"], th.NEUTRAL, th.LIGHT_NEUTRAL]
                ),
                legend=alt.Legend(orient="bottom", direction="horizontal"),
            ),
            tooltip=[
                alt.Tooltip("area:N", title=t("label.area", lang)),
                _year_tip(lang),
                alt.Tooltip("value:Q", title=t("label.per_resident", lang), format=value_format),
                alt.Tooltip("change:N", title=t("label.change_since_first", lang)),
            ],
        )
    )
    values = (
        alt.Chart(df)
        .mark_text(align="left", dx=4)
        .encode(y=y_enc, x=alt.X("value:Q", title=x_title), text=alt.Text("value:Q", format=value_format))
    )
    median_df = pl.DataFrame([{"median": median}])
    median_text = t("per_resident.median_label", lang, value=format_number(median, lang, places))
    rule = (
        alt.Chart(median_df)
        .mark_rule(strokeDash=[4, 3], color=th.TEXT_COLOUR)
        .encode(x=alt.X("median:Q", title=x_title))
    )
    rule_text = (
        alt.Chart(median_df)
        .mark_text(text=median_text, align="left", baseline="top", dx=4, y=-14, color=th.TEXT_COLOUR)
        .encode(x=alt.X("median:Q", title=x_title))
    )
    chart = _layer([bars, values, rule, rule_text], meta, lang).properties(width=480, height=alt.Step(26))
    diff = _pct_change(current[hl], median) if median else 0.0
    if abs(diff) < 0.5:
        comparison = t("per_resident.same", lang)
    else:
        key = "per_resident.below" if diff < 0 else "per_resident.above"
        comparison = t(key, lang, pct=format_percent(abs(diff), lang))
    finding = _titled(
        "per_resident.title",
        hl,
        lang,
        value=format_number(current[hl], lang, places),
        year=yr,
        comparison=comparison,
    )
    description = t(
        "per_resident.description",
        lang,
        year=yr,
        n=len(current),
        area=label("area", hl, lang),
        value=format_number(current[hl], lang, places),
        rank=ordered.index(hl) + 1,
        median=format_number(median, lang, places),
        lowest=f"{label('area', ordered[0], lang)} {format_number(current[ordered[0]], lang, places)}",
        highest=f"{label('area', ordered[-1], lang)} {format_number(current[ordered[-1]], lang, places)}",
    )
    table = df.select("area_key", "area", "year", "value", "group", "change")
    return _finish(
        chart,
        name=name,
        finding=finding,
        description=description,
        meta=meta,
        lang=lang,
        table=table,
        decimals={"value": places},
    )


# ---------------------------------------------------------------------------------------------------------
# 5. progress dashboard

DASHBOARD_FRAME: Final[Mapping[str, Col]] = {
    "indicator": Col("str", "the indicator name as displayed (or a key in the 'indicator' catalogue)"),
    "sdg": Col("str", "the SDG target code, e.g. '13.2'"),
    "method": Col("str", f"the assessment method, one of {list(METHODS)}"),
    "status": Col("str", "the status key the method gave (see report.charts.STATUS_LEVELS)"),
    "observed_rate": Col("num", "the observed average change in % a year", nullable=True),
    "required_rate": Col("num", "the required average change in % a year", nullable=True),
    "ratio": Col("num", "observed/required pace as a fraction (1.0 = exactly on pace)", nullable=True),
    "base_year": Col("int", "the first year of the assessment period", nullable=True),
    "latest_year": Col("int", "the last year of the assessment period", nullable=True),
}


def progress_dashboard(frame: pl.DataFrame, *, meta: ChartMeta, lang: str = "fi") -> alt.LayerChart:
    """Every indicator's status by every assessment method, as a colour-blind-safe grid with text cells.

    frame: one row per indicator and method —
        indicator (str: a display name, or an indicator id of indicators/catalogue.toml such as
        'ghg_total', shown by its name in `lang`), sdg (str, e.g. '13.2'; may be empty), method (str:
        'eurostat', 'opensdg', 'sdsn', 'german', 'linear', or the engine's names 'eurostat_sdg',
        'open_sdg', 'sdsn_trend', 'german_strategy', 'linear_trajectory_check'), status (str key from
        STATUS_LEVELS), observed_rate, required_rate (float, % a year, nullable), ratio (float,
        observed/required pace, nullable), base_year, latest_year (int, nullable). A missing
        indicator–method pair is shown as "not assessed".
    Cell colour is the status's level (achieved → good → moderate → weak → wrong direction, blue to
    vermillion); the status name is written in the cell and the reason is in the tooltip.
    """
    name = "progress_dashboard"
    _check_lang(name, lang)
    _check_meta(name, meta)
    f = _frame(name, "frame", frame, DASHBOARD_FRAME)
    f = f.with_columns(pl.col("method").cast(pl.String).replace(dict(METHOD_ALIASES)))
    _unique(name, "frame", f, ["indicator", "method"])
    rows = f.rows(named=True)
    for r in rows:
        if r["method"] not in METHODS:
            raise ValueError(f"{name}: unknown method {r['method']!r}; expected one of {list(METHODS)}")
        if r["status"] not in STATUS_LEVELS:
            raise ValueError(
                f"{name}: unknown status {r['status']!r} for {r['indicator']!r}; "
                f"expected one of {sorted(STATUS_LEVELS)}"
            )
    indicators: dict[str, str] = {}
    for r in rows:
        indicators.setdefault(str(r["indicator"]), str(r["sdg"]))
    methods = [m for m in METHODS if any(r["method"] == m for r in rows)]
    by_key = {(str(r["indicator"]), str(r["method"])): r for r in rows}
    # the caller's row order (report.data.dashboard_frame: the catalogue's display order, headline first)
    ind_order = list(indicators)
    level_labels = {lv: t(f"level.{lv}", lang) for lv in LEVELS}

    def rate(v: float | None) -> str:
        if v is None:
            return NOT_AVAILABLE
        return t("unit.per_year", lang, value=format_percent(v, lang, 1, signed=True))

    cells: list[dict[str, Any]] = []
    for ind in ind_order:
        row_label = f"{indicators[ind]} {indicator_label(ind, lang)}".strip()
        for m in methods:
            cell = by_key.get((ind, m))
            status = str(cell["status"]) if cell else "not_assessed"
            level = STATUS_LEVELS[status]
            status_label = t(f"status.{status}", lang)
            by, ly = (cell["base_year"], cell["latest_year"]) if cell else (None, None)
            cells.append(
                {
                    "indicator": ind,
                    "sdg": indicators[ind],
                    "row": row_label,
                    "method_key": m,
                    "method": t(f"method.{m}", lang),
                    "status_key": status,
                    "status": status_label,
                    "cell_text": "\n".join(textwrap.wrap(status_label, 20)),
                    "level_key": level,
                    "level": level_labels[level],
                    "text_colour": th.text_on(th.LEVEL_COLOURS[level]),  # WCAG AA: black on vermillion
                    "observed_rate": cell["observed_rate"] if cell else None,
                    "required_rate": cell["required_rate"] if cell else None,
                    "ratio": cell["ratio"] if cell else None,
                    "base_year": by,
                    "latest_year": ly,
                    "observed_text": rate(cell["observed_rate"] if cell else None),
                    "required_text": rate(cell["required_rate"] if cell else None),
                    "ratio_text": format_percent(cell["ratio"] * 100, lang)
                    if cell and cell["ratio"] is not None
                    else NOT_AVAILABLE,
                    "years_text": f"{by}\u2009→\u2009{ly}"
                    if by is not None and ly is not None
                    else NOT_AVAILABLE,
                }
            )
    df = pl.DataFrame(
        cells,
        schema_overrides={
            "observed_rate": pl.Float64,
            "required_rate": pl.Float64,
            "ratio": pl.Float64,
            "base_year": pl.Int64,
            "latest_year": pl.Int64,
        },
    )
    row_order = list(dict.fromkeys(c["row"] for c in cells))
    method_order = [t(f"method.{m}", lang) for m in methods]
    x = alt.X(
        "method:N",
        sort=method_order,
        title=None,
        axis=alt.Axis(orient="top", labelAngle=0, labelFontWeight="bold"),
    )
    y = alt.Y("row:N", sort=row_order, title=None, axis=alt.Axis(labelLimit=320))
    tips = [
        alt.Tooltip("row:N", title=t("label.indicator", lang)),
        alt.Tooltip("method:N", title=t("label.method", lang)),
        alt.Tooltip("status:N", title=t("label.status", lang)),
        alt.Tooltip("observed_text:N", title=t("label.observed_rate", lang)),
        alt.Tooltip("required_text:N", title=t("label.required_rate", lang)),
        alt.Tooltip("ratio_text:N", title=t("label.ratio", lang)),
        alt.Tooltip("years_text:N", title=t("label.period", lang)),
    ]
    rect = (
        alt.Chart(df)
        .mark_rect(stroke="white", strokeWidth=2)
        .encode(
            x=x,
            y=y,
            color=alt.Color(
                "level:N",
                title=t("dashboard.legend", lang),
                scale=alt.Scale(
                    domain=[level_labels[lv] for lv in LEVELS], range=[th.LEVEL_COLOURS[lv] for lv in LEVELS]
                ),
                legend=alt.Legend(orient="bottom", direction="horizontal", columns=3),
            ),
            tooltip=tips,
        )
    )
    text = (
        alt.Chart(df)
        .mark_text(fontSize=10, lineBreak="\n", lineHeight=12)
        .encode(x=x, y=y, text="cell_text:N", fill=alt.Fill("text_colour:N", scale=None), tooltip=tips)
    )
    chart = _layer([rect, text], meta, lang).properties(width=alt.Step(150), height=alt.Step(40))
    assessed = [c for c in cells if c["level_key"] != "none"]
    good = [c for c in assessed if c["level_key"] in ("achieved", "good")]
    away = [c for c in assessed if c["level_key"] == "away"]
    # the title counts indicators, not indicator × method cells, and leads with the first (headline) row
    levels_of: dict[str, list[str]] = {}
    for c in assessed:
        levels_of.setdefault(c["indicator"], []).append(c["level_key"])
    on_track = [i for i, lv in levels_of.items() if all(x in ("achieved", "good") for x in lv)]
    first = ind_order[0]
    first_levels = levels_of.get(first, [])
    finding = t(
        "dashboard.title",
        lang,
        first=indicator_label(first, lang),
        first_good=sum(x in ("achieved", "good") for x in first_levels),
        first_total=len(first_levels),
        good=len(on_track),
        total=len(levels_of),
    )
    description = t(
        "dashboard.description",
        lang,
        indicators=len(ind_order),
        methods=", ".join(method_order),
        good=len(good),
        away=len(away),
        total=len(assessed),
    )
    table = df.select(
        "indicator",
        "sdg",
        "method_key",
        "method",
        "status_key",
        "status",
        "level_key",
        "level",
        "observed_rate",
        "required_rate",
        "ratio",
        "base_year",
        "latest_year",
    )
    return _finish(
        chart, name=name, finding=finding, description=description, meta=meta, lang=lang, table=table
    )


# ---------------------------------------------------------------------------------------------------------
# 6. circular economy

CIRCULAR_FRAME: Final[Mapping[str, Col]] = {
    "indicator": Col("str", f"the indicator, one of {list(CIRCULAR_INDICATORS)}"),
    "area": Col("str", "the area: Eurostat geo code ('FI', 'EU27_2020') or a key such as 'fi'"),
    "year": Col("int", "the calendar year"),
    "value": Col("num", "kg per resident (waste_per_resident) or % (recycling_rate, 0–100)"),
}


_PANEL_WIDTH: Final = 300


def circular_economy(
    frame: pl.DataFrame,
    *,
    meta: ChartMeta,
    lang: str = "fi",
    area: str = "fi",
    comparison: str = "eu27_2020",
    targets: Mapping[int, float] = EU_RECYCLING_TARGETS,
) -> alt.HConcatChart:
    """Municipal waste per resident and its recycling rate against the EU targets: two panels.

    frame: one row per indicator, area and year —
        indicator (str: 'waste_per_resident' in kg per resident, 'recycling_rate' in % 0–100),
        area (str: 'FI', 'EU27_2020' or another area; highlighted `area` blue, `comparison` orange,
        any other grey), year (int), value (float).
    targets: recycling-rate targets in % by year (default: the EU's 55/60/65 % for 2025/2030/2035).
    """
    name = "circular_economy"
    _check_lang(name, lang)
    _check_meta(name, meta)
    f = _frame(name, "frame", frame, CIRCULAR_FRAME)
    _unique(name, "frame", f, ["indicator", "area", "year"])
    rows = [
        (str(r["indicator"]), _area_key(str(r["area"])), int(r["year"]), float(r["value"]))
        for r in f.rows(named=True)
    ]
    unknown = sorted({i for i, _, _, _ in rows} - set(CIRCULAR_INDICATORS))
    if unknown:
        raise ValueError(f"{name}: unknown indicator(s) {unknown}; expected {list(CIRCULAR_INDICATORS)}")
    hl, cmp = _area_key(area), _area_key(comparison)
    for ind in CIRCULAR_INDICATORS:
        if not any(i == ind and a == hl for i, a, _, _ in rows):
            raise ValueError(f"{name}: no {ind!r} rows for area {area!r}")
    if not targets:
        raise ValueError(f"{name}: `targets` must name at least one year")
    areas = [hl] + ([cmp] if any(a == cmp for _, a, _, _ in rows) else [])
    areas += sorted({a for _, a, _, _ in rows} - set(areas))
    target_label = t("circular.series_target", lang)
    domain = [label("area", a, lang) for a in areas] + [target_label]
    greys = [th.NEUTRAL, th.LIGHT_NEUTRAL, "#5E5E5E"]
    palette = [th.OKABE_ITO["blue"], th.OKABE_ITO["orange"] if cmp in areas else greys[0]]
    rng = [*(palette + [greys[i % len(greys)] for i in range(len(areas))])[: len(areas)], th.TEXT_COLOUR]
    colour = alt.Color(
        "area:N",
        title=None,
        scale=alt.Scale(domain=domain, range=rng),
        legend=alt.Legend(orient="bottom", direction="horizontal"),
    )
    data = [
        {
            "indicator": i,
            "area_key": a,
            "area": label("area", a, lang),
            "year": y,
            "value": v,
            "plot_value": v / 100 if i == "recycling_rate" else v,
        }
        for i, a, y, v in sorted(rows, key=lambda r: (r[0], r[1], r[2]))
    ]
    df = pl.DataFrame(data)

    def panel(ind: str, y_axis: alt.Y, fmt: str, extra: list[alt.Chart], last_year: int) -> alt.LayerChart:
        sub = df.filter(pl.col("indicator") == ind)
        years = sub.get_column("year")
        x = _x_year(int(years.min()), max(int(years.max()), last_year), width=_PANEL_WIDTH)  # type: ignore[arg-type]
        tips = [
            alt.Tooltip("area:N", title=t("label.area", lang)),
            _year_tip(lang),
            alt.Tooltip("plot_value:Q", title=t(f"circular.tooltip_{ind}", lang), format=fmt),
        ]
        base = _years(alt.Chart(sub))
        lines = [
            base.mark_line().encode(x=x, y=y_axis, color=colour),
            base.mark_point(filled=True, size=30).encode(x=x, y=y_axis, color=colour, tooltip=tips),
        ]
        layers = lines + [e.encode(x=x) for e in extra]
        return _layer(layers, meta, lang).properties(
            width=_PANEL_WIDTH,
            height=260,
            title=alt.TitleParams(t(f"circular.panel_{ind}", lang), fontSize=13),
        )

    waste_y = alt.Y("plot_value:Q", title=t("axis.waste_kg", lang), axis=alt.Axis(format=",.0f"))
    rate_y = alt.Y(
        "plot_value:Q",
        title=t("axis.recycling_rate", lang),
        axis=alt.Axis(format=".0%"),
        scale=alt.Scale(domain=[0, max(0.8, max(targets.values()) / 100 + 0.1)]),
    )
    target_df = pl.DataFrame(
        [
            {
                "year": y,
                "plot_value": v / 100,
                "area": target_label,
                "label": format_percent(v, lang),
            }
            for y, v in sorted(targets.items())
        ]
    )
    target_tips = [_year_tip(lang), alt.Tooltip("label:N", title=target_label)]
    target_layers = [
        _years(alt.Chart(target_df))
        .mark_line(strokeDash=[4, 3], strokeWidth=1.4)
        .encode(y=rate_y, color=colour),
        _years(alt.Chart(target_df))
        .mark_point(shape="diamond", filled=True, size=90)
        .encode(y=rate_y, color=colour, tooltip=target_tips),
        _years(alt.Chart(target_df))
        .mark_text(dy=-12, fontWeight="bold", fontSize=10)
        .encode(y=rate_y, text="label:N"),
    ]
    chart: alt.HConcatChart = alt.hconcat(
        panel("waste_per_resident", waste_y, ",.0f", [], 0),
        panel("recycling_rate", rate_y, ".1%", target_layers, max(targets)),
        spacing=28,
    ).resolve_scale(color="shared")

    rec = sorted((y, v) for i, a, y, v in rows if i == "recycling_rate" and a == hl)
    rec_year, rec_value = rec[-1]
    upcoming = [y for y in sorted(targets) if y >= rec_year]
    target_year = upcoming[0] if upcoming else max(targets)
    finding = _titled(
        "circular.title",
        hl,
        lang,
        value=format_percent(rec_value, lang),
        year=rec_year,
        target_year=target_year,
        target=format_percent(targets[target_year], lang),
    )
    waste = sorted((y, v) for i, a, y, v in rows if i == "waste_per_resident" and a == hl)
    description = t(
        "circular.description",
        lang,
        area=label("area", hl, lang),
        waste_year=waste[-1][0],
        waste=format_number(waste[-1][1], lang),
        rate_year=rec_year,
        rate=format_percent(rec_value, lang),
        targets=", ".join(f"{format_percent(v, lang)} ({y})" for y, v in sorted(targets.items())),
    )
    table = pl.concat(
        [
            df.select(
                pl.col("indicator").alias("indicator_key"),
                pl.col("indicator").replace_strict(
                    {i: t(f"circular.panel_{i}", lang) for i in CIRCULAR_INDICATORS}, return_dtype=pl.String
                ),
                "area_key",
                "area",
                "year",
                "value",
            ),
            pl.DataFrame(
                [
                    {
                        "indicator_key": "recycling_target",
                        "indicator": target_label,
                        "area_key": None,
                        "area": target_label,
                        "year": y,
                        "value": v,
                    }
                    for y, v in sorted(targets.items())
                ],
                schema={
                    "indicator_key": pl.String,
                    "indicator": pl.String,
                    "area_key": pl.String,
                    "area": pl.String,
                    "year": pl.Int64,
                    "value": pl.Float64,
                },
            ),
        ],
        how="vertical_relaxed",
    )
    return _finish(
        chart, name=name, finding=finding, description=description, meta=meta, lang=lang, table=table
    )


# ---------------------------------------------------------------------------------------------------------
# 7. weekly mover: electricity emission factor by ISO week

WEEKLY_FRAME: Final[Mapping[str, Col]] = {
    "year": Col("int", "the ISO year"),
    "week": Col("int", "the ISO week number, 1–53"),
    "value": Col("num", "the mean emission factor of consumed electricity in gCO2/kWh"),
}


def _week_domain(weeks: Sequence[int]) -> list[int]:
    """The x domain of the weeks with data: first to last (one week alone: a week either side)."""
    if weeks[0] < weeks[-1]:
        return [weeks[0], weeks[-1]]
    return [weeks[0] - 1, weeks[0] + 1]


def _week_ticks(weeks: Sequence[int], most: int = 13) -> list[int]:
    """Axis labels at weeks that have data: all of them when few, else every n-th ending at the last."""
    step = -(-len(weeks) // most)
    return sorted(weeks[::-1][::step])


def _week_before(year: int, week: int) -> tuple[int, int]:
    """The ISO (year, week) before the given one (week 1 of 2026 → the last week of 2025)."""
    if week > 1:
        return year, week - 1
    iso = (date(year, 1, 4) - timedelta(days=7)).isocalendar()  # 4 January is always in ISO week 1
    return iso.year, iso.week


def weekly_mover(
    frame: pl.DataFrame,
    *,
    meta: ChartMeta,
    lang: str = "fi",
    current_year: int | None = None,
) -> alt.LayerChart:
    """The electricity emission factor by ISO week: one line per year, the current year emphasised.

    frame: one row per ISO year and week — year (int), week (int, 1–53), value (float, gCO2/kWh).
    current_year defaults to the latest year. The x axis spans the weeks that have data (not 1–53). The
    title states the latest week's change from the week before (when that week has a value) and compares
    it with the mean of the earlier years' same week.
    """
    name = "weekly_mover"
    _check_lang(name, lang)
    _check_meta(name, meta)
    f = _frame(name, "frame", frame, WEEKLY_FRAME)
    _unique(name, "frame", f, ["year", "week"])
    rows = [(int(r["year"]), int(r["week"]), float(r["value"])) for r in f.rows(named=True)]
    bad = [r for r in rows if not 1 <= r[1] <= 53]
    if bad:
        raise ValueError(f"{name}: week {bad[0][1]} in {bad[0][0]} is outside 1–53")
    years = sorted({y for y, _, _ in rows})
    weeks = sorted({w for _, w, _ in rows})  # the axis spans these, not 1–53
    cur = years[-1] if current_year is None else current_year
    if cur not in years:
        raise ValueError(f"{name}: no rows for current_year {cur}; years present: {years}")
    earlier = [y for y in years if y != cur]
    n = len(earlier)
    greys = [
        "#{0:02X}{0:02X}{0:02X}".format(int(0xD4 - (0xD4 - 0x80) * (i / (n - 1) if n > 1 else 1)))
        for i in range(n)
    ]
    colour = alt.Color(
        "year_label:N",
        title=t("label.year", lang),
        scale=alt.Scale(domain=[str(y) for y in earlier] + [str(cur)], range=[*greys, th.OKABE_ITO["blue"]]),
        legend=alt.Legend(orient="right"),
    )
    df = pl.DataFrame([{"year": y, "year_label": str(y), "week": w, "value": v} for y, w, v in sorted(rows)])
    x = alt.X(
        "week:Q",
        title=t("axis.iso_week", lang),
        scale=alt.Scale(domain=_week_domain(weeks), nice=False, zero=False),
        axis=alt.Axis(format="d", values=_week_ticks(weeks), labelOverlap=True),
    )
    y_axis = alt.Y("value:Q", title=t("axis.emission_factor", lang), axis=alt.Axis(format=",.0f"))
    tips = [
        alt.Tooltip("year_label:N", title=t("label.year", lang)),
        alt.Tooltip("week:O", title=t("label.week", lang)),
        alt.Tooltip("value:Q", title=t("label.emission_factor", lang), format=",.0f"),
    ]
    past = df.filter(pl.col("year") != cur)
    now = df.filter(pl.col("year") == cur)
    layers: list[alt.Chart] = []
    if past.height:
        layers.append(
            alt.Chart(past)
            .mark_line(strokeWidth=1.3)
            .encode(x=x, y=y_axis, color=colour, detail="year:N", tooltip=tips)
        )
    layers += [
        alt.Chart(now).mark_line(strokeWidth=3).encode(x=x, y=y_axis, color=colour),
        alt.Chart(now).mark_point(filled=True, size=28).encode(x=x, y=y_axis, color=colour, tooltip=tips),
    ]
    last_week, last_value = max((w, v) for y, w, v in rows if y == cur)
    end_df = pl.DataFrame(
        [{"week": last_week, "value": last_value, "label": f"{cur}: {format_number(last_value, lang)}"}]
    )
    layers.append(
        alt.Chart(end_df)
        .mark_text(align="left", dx=7, fontWeight="bold", color=th.OKABE_ITO["blue"])
        .encode(x=x, y=y_axis, text="label:N")
    )
    chart = _layer(layers, meta, lang).properties(width=560, height=300)
    same_week = [v for y, w, v in rows if y != cur and w == last_week]
    # week on week: the ISO week before the latest (week 1 follows the previous ISO year's last week)
    prev_year, prev_week = _week_before(cur, last_week)
    prev_value = next((v for y, w, v in rows if (y, w) == (prev_year, prev_week)), None)
    change, change_sentence = "", ""
    if prev_value is not None:
        delta = format_number(last_value - prev_value, lang, 1, signed=True)
        change = t("weekly.change", lang, delta=delta)
        change_sentence = t(
            "weekly.description_change",
            lang,
            prev_week=prev_week,
            prev_year=prev_year,
            prev=format_number(prev_value, lang),
            delta=delta,
        )
    fmt = {"week": last_week, "year": cur, "value": format_number(last_value, lang), "change": change}
    if same_week and statistics.fmean(same_week) > 0:
        mean = statistics.fmean(same_week)
        diff = _pct_change(last_value, mean)
        direction = t("weekly.lower" if diff < 0 else "weekly.higher", lang)
        finding = t("weekly.title", lang, pct=format_percent(abs(diff), lang), direction=direction, **fmt)
        mean_text = format_number(mean, lang)
    else:
        finding = t("weekly.title_plain", lang, **fmt)
        mean_text = NOT_AVAILABLE
    description = (
        t(
            "weekly.description",
            lang,
            first=years[0],
            last=years[-1],
            mean=mean_text,
            **fmt,
        )
        + change_sentence
    )
    return _finish(
        chart,
        name=name,
        finding=finding,
        description=description,
        meta=meta,
        lang=lang,
        table=df.select("year", "week", "value"),
    )


# ---------------------------------------------------------------------------------------------------------
# 8. neutrality balance

BALANCE_EMISSIONS: Final[Mapping[str, Col]] = {
    "year": Col("int", "the calendar year"),
    "value": Col("num", "total emissions in kt CO2e"),
}
BALANCE_SINKS: Final[Mapping[str, Col]] = {
    "year": Col("int", "the year of the sink estimate"),
    "value": Col("num", "net removals by carbon sinks in kt CO2e, as a positive number"),
    "lower": Col("num", "lower bound of the estimate in kt CO2e", nullable=True, required=False),
    "upper": Col("num", "upper bound of the estimate in kt CO2e", nullable=True, required=False),
}


def neutrality_balance(
    emissions: pl.DataFrame,
    sinks: pl.DataFrame,
    *,
    meta: ChartMeta,
    lang: str = "fi",
    base_year: int = 1990,
    target_year: int = 2030,
    target_reduction: float = 0.80,
) -> alt.LayerChart:
    """Residual emissions left at the target year (base × (1 − reduction)) against the carbon-sink estimate.

    emissions: year (int), value (float, kt CO2e) — must include base_year (extra columns are ignored).
    sinks: year (int), value (float, removals in kt CO2e, positive), lower, upper (float, optional).
    The latest sink year is compared; the gap (or surplus) is drawn as an outlined bar and labelled. The
    sink is the City of Espoo's assumption (a share of one year's emissions), not a measurement: the chart
    labels it so, credits it to the City of Espoo and states the balance as a what-if.
    """
    name = "neutrality_balance"
    _check_lang(name, lang)
    _check_meta(name, meta)
    e = _frame(name, "emissions", emissions, BALANCE_EMISSIONS)
    s = _frame(name, "sinks", sinks, BALANCE_SINKS)
    _unique(name, "emissions", e, ["year"])
    _unique(name, "sinks", s, ["year"])
    if not 0.0 < target_reduction < 1.0:
        raise ValueError(f"{name}: target_reduction must be between 0 and 1, got {target_reduction}")
    base = e.filter(pl.col("year") == base_year)
    if base.height == 0 or float(base.item(0, "value")) <= 0:
        raise ValueError(f"{name}: `emissions` needs a positive value for base_year {base_year}")
    base_value = float(base.item(0, "value"))
    residual = target_from_base(base_value, target_reduction)
    sink_row = s.sort("year").row(-1, named=True)
    sink, sink_year = float(sink_row["value"]), int(sink_row["year"])
    if sink < 0:
        raise ValueError(
            f"{name}: sink value {sink} for {sink_year} is negative; give removals as positive kt"
        )
    latest = e.sort("year").row(-1, named=True)
    # the sink is an assumption of the City of Espoo (a share of one year's emissions), not a measurement
    # and not HSY's: the subtitle, the bar, its tooltip and the alt text name it so
    sink_source = t("balance.sink_source", lang)
    meta = replace(meta, sources=(*meta.sources, t("balance.sink_credit", lang, source=sink_source)))
    emission_sources = ", ".join(source_text(x, lang) for x in meta.sources[:-1])
    cats = {
        "residual": t(
            "balance.residual",
            lang,
            year=target_year,
            pct=format_percent((1 - target_reduction) * 100, lang),
            base=base_year,
        ),
        "sink": t("balance.sink", lang, year=sink_year, source=sink_source),
    }
    kinds = {
        "residual": t("balance.kind_residual", lang),
        "sink": t("balance.kind_sink", lang),
        "gap": t("balance.kind_gap", lang),
        "surplus": t("balance.kind_surplus", lang),
    }
    gap = residual - sink
    gap_kind = "gap" if gap > 0 else "surplus"
    bar_colours = {"residual": th.MUTED_TEXT, "sink": th.OKABE_ITO["bluish_green"], gap_kind: th.BACKGROUND}
    bars_rows: list[dict[str, Any]] = [
        {
            "category": cats["residual"],
            "kind": kinds["residual"],
            "lo": 0.0,
            "hi": residual,
            "value": residual,
            "source": emission_sources,
            # the value is written inside the bar, from its start: a text colour that reads on the bar
            "text_colour": th.text_on(bar_colours["residual"]),
        },
        {
            "category": cats["sink"],
            "kind": kinds["sink"],
            "lo": 0.0,
            "hi": sink,
            "value": sink,
            "source": sink_source,
            "text_colour": th.text_on(bar_colours["sink"]),
        },
    ]
    gap_row = {
        "category": cats["sink"] if gap > 0 else cats["residual"],
        "kind": kinds[gap_kind],
        "lo": min(sink, residual),
        "hi": max(sink, residual),
        "value": abs(gap),
        "source": f"{emission_sources}, {sink_source}",
        "label": t(f"balance.{gap_kind}_label", lang, value=format_number(abs(gap), lang)),
    }
    df = pl.DataFrame(bars_rows).with_columns(
        label=pl.Series([format_number(r["value"], lang) for r in bars_rows])
    )
    gap_df = pl.DataFrame([gap_row])
    y = alt.Y("category:N", sort=[cats["residual"], cats["sink"]], title=None, axis=alt.Axis(labelLimit=300))
    x_title = t("axis.emissions_kt", lang)
    colour = alt.Color(
        "kind:N",
        title=None,
        scale=alt.Scale(
            domain=[kinds["residual"], kinds["sink"], kinds[gap_kind]],
            range=[bar_colours["residual"], bar_colours["sink"], bar_colours[gap_kind]],
        ),
        legend=alt.Legend(orient="bottom", direction="horizontal", symbolStrokeColor=th.TEXT_COLOUR),
    )
    tips = [
        alt.Tooltip("category:N", title=t("label.item", lang)),
        alt.Tooltip("value:Q", title=t("label.emissions_kt", lang), format=",.0f"),
        alt.Tooltip("source:N", title=t("label.source", lang)),
    ]
    layers: list[alt.Chart] = [
        alt.Chart(df)
        .mark_bar(height={"band": 0.6})
        .encode(
            y=y,
            x=alt.X("lo:Q", title=x_title, axis=alt.Axis(format=",.0f"), scale=alt.Scale(zero=True)),
            x2="hi:Q",
            color=colour,
            tooltip=tips,
        ),
        alt.Chart(gap_df)
        .mark_bar(
            height={"band": 0.6},
            stroke=th.OKABE_ITO["vermillion"] if gap > 0 else th.OKABE_ITO["blue"],
            strokeDash=[5, 3],
            strokeWidth=2,
        )
        .encode(y=y, x=alt.X("lo:Q", title=x_title), x2="hi:Q", color=colour, tooltip=tips),
        alt.Chart(df)
        .mark_text(align="left", dx=6, fontWeight="bold")
        .encode(
            y=y,
            x=alt.X("lo:Q", title=x_title),
            text="label:N",
            fill=alt.Fill("text_colour:N", scale=None),
        ),
        alt.Chart(gap_df)
        .mark_text(align="left", dx=6, fontWeight="bold", color=th.TEXT_COLOUR)
        .encode(y=y, x=alt.X("hi:Q", title=x_title), text="label:N"),
    ]
    has_band = "lower" in s.columns and "upper" in s.columns
    lower, upper = (sink_row.get("lower"), sink_row.get("upper")) if has_band else (None, None)
    if lower is not None and upper is not None:
        band_df = pl.DataFrame([{"category": cats["sink"], "lower": float(lower), "upper": float(upper)}])
        layers.append(
            alt.Chart(band_df)
            .mark_errorbar(ticks=True, color=th.TEXT_COLOUR, thickness=1.5)
            .encode(
                y=y,
                x=alt.X("lower:Q", title=x_title),
                x2="upper:Q",
                tooltip=[
                    alt.Tooltip("lower:Q", title=t("label.lower", lang), format=",.0f"),
                    alt.Tooltip("upper:Q", title=t("label.upper", lang), format=",.0f"),
                ],
            )
        )
    chart = _layer(layers, meta, lang).properties(width=520, height=alt.Step(56))
    fmt = {
        "sink": format_number(sink, lang),
        "residual": format_number(residual, lang),
        "pct": format_percent(sink / residual * 100, lang),
        "year": target_year,
    }
    finding = t("balance.title", lang, **fmt)
    description = t(
        "balance.description",
        lang,
        base=base_year,
        base_value=format_number(base_value, lang),
        reduction=format_percent(target_reduction * 100, lang),
        sink_year=sink_year,
        source=sink_source,
        gap=gap_row["label"],
        latest_year=int(latest["year"]),
        latest=format_number(float(latest["value"]), lang),
        **fmt,
    )
    table = pl.DataFrame(
        [
            {"item": "residual", "label": cats["residual"], "year": target_year, "value": residual},
            {"item": "sink", "label": cats["sink"], "year": sink_year, "value": sink},
            {"item": gap_kind, "label": gap_row["label"], "year": target_year, "value": abs(gap)},
        ]
    )
    return _finish(
        chart, name=name, finding=finding, description=description, meta=meta, lang=lang, table=table
    )


# ---------------------------------------------------------------------------------------------------------
# 9. data freshness

FRESHNESS_FRAME: Final[Mapping[str, Col]] = {
    "dataset": Col("str", "the dataset id or title as displayed"),
    "status": Col("str", f"the freshness status, one of {list(FRESHNESS_STATUSES)}"),
    "last_period_end": Col("date", "the end date of the newest published period held", nullable=True),
    "expected_period_end": Col("date", "the end of the newest period the publication calendar expects"),
    "last_fetch": Col("datetime", "when the dataset was last fetched (attempted)", nullable=True),
    "source": Col("str", "the publisher's short name", nullable=True, required=False),
    "frequency": Col(
        "str", "the calendar frequency: annual, monthly, weekly or daily", nullable=True, required=False
    ),
}
_SEVERITY: Final[Mapping[str, int]] = {"failed": 0, "never": 1, "late": 2, "due": 3, "fresh": 4}


def _iso_day(d: date | datetime) -> str:
    return (d.date() if isinstance(d, datetime) else d).isoformat()


def data_freshness(
    frame: pl.DataFrame,
    *,
    meta: ChartMeta,
    lang: str = "fi",
    as_of: date | None = None,
) -> alt.LayerChart:
    """Each dataset's newest published period and last fetch against its publication calendar.

    frame: one row per dataset —
        dataset (str), status (str: 'fresh', 'due', 'late', 'failed'), last_period_end (date, null when
        nothing is held yet), expected_period_end (date), last_fetch (date or datetime, nullable),
        source (str, optional), frequency (str: 'annual', 'monthly', 'weekly', 'daily'; optional).
    Status is colour and shape; the triangle marks the period the calendar expects, the square the last
    fetch, the dashed rule `as_of` (default: meta.vintage). Problems are listed first.
    """
    name = "data_freshness"
    _check_lang(name, lang)
    _check_meta(name, meta)
    f = _frame(name, "frame", frame, FRESHNESS_FRAME)
    _unique(name, "frame", f, ["dataset"])
    today = meta.vintage if as_of is None else as_of
    rows = f.rows(named=True)
    for r in rows:
        if r["status"] not in FRESHNESS_STATUSES:
            raise ValueError(
                f"{name}: unknown status {r['status']!r} for {r['dataset']!r}; "
                f"expected {list(FRESHNESS_STATUSES)}"
            )
    rows = sorted(rows, key=lambda r: (_SEVERITY[r["status"]], str(r["dataset"])))
    status_labels = {s: t(f"freshness.status_{s}", lang) for s in FRESHNESS_STATUSES}
    data = []
    for r in rows:
        last, expected, fetched = r["last_period_end"], r["expected_period_end"], r["last_fetch"]
        freq = r.get("frequency")
        data.append(
            {
                "dataset": str(r["dataset"]),
                "source": str(r.get("source") or NOT_AVAILABLE),
                "status_key": r["status"],
                "status": status_labels[r["status"]],
                "last_period_end": last,
                "expected_period_end": expected,
                "last_fetch": fetched,
                "marker_x": _iso_day(last if last is not None else expected),
                "last_x": _iso_day(last) if last is not None else None,
                "expected_x": _iso_day(expected),
                "last_text": format_date(last, lang) if last is not None else NOT_AVAILABLE,
                "expected_text": format_date(expected, lang),
                "fetch_text": (
                    format_datetime(fetched, lang)
                    if isinstance(fetched, datetime)
                    else format_date(fetched, lang)
                    if fetched is not None
                    else NOT_AVAILABLE
                ),
                "frequency": label("frequency", str(freq), lang) if freq else NOT_AVAILABLE,
            }
        )
    df = pl.DataFrame(
        data,
        schema_overrides={
            "last_period_end": pl.Date,
            "last_fetch": pl.Datetime("us")
            if any(isinstance(d["last_fetch"], datetime) for d in data)
            else pl.Date,
            "last_x": pl.String,
        },
    )
    plot = df.drop("last_period_end", "expected_period_end", "last_fetch")
    dates = [d for r in rows for d in (r["last_period_end"], r["expected_period_end"], r["last_fetch"]) if d]
    day_list = [d.date() if isinstance(d, datetime) else d for d in dates] + [today]
    lo, hi = min(day_list), max(day_list)
    pad = max(20, (hi - lo).days // 12)
    x_scale = alt.Scale(
        type="utc",
        domain=[
            _iso_day(lo.fromordinal(lo.toordinal() - pad)),
            _iso_day(hi.fromordinal(hi.toordinal() + pad)),
        ],
    )
    x_title = t("axis.date", lang)
    plot = plot.with_columns(edge=pl.lit(x_scale.domain[1]))

    def x(field: str) -> alt.X:
        return alt.X(
            f"{field}:T",
            title=x_title,
            scale=x_scale,
            axis=alt.Axis(format="%b %Y", labelOverlap=True),
        )

    y = alt.Y("dataset:N", sort=[str(r["dataset"]) for r in rows], title=None, axis=alt.Axis(labelLimit=300))
    tips = [
        alt.Tooltip("dataset:N", title=t("label.dataset", lang)),
        alt.Tooltip("source:N", title=t("label.source", lang)),
        alt.Tooltip("status:N", title=t("label.status", lang)),
        alt.Tooltip("frequency:N", title=t("label.frequency", lang)),
        alt.Tooltip("last_text:N", title=t("label.last_period", lang)),
        alt.Tooltip("expected_text:N", title=t("label.expected_period", lang)),
        alt.Tooltip("fetch_text:N", title=t("label.last_fetch", lang)),
    ]
    kinds = {"expected": t("freshness.marker_expected", lang), "fetch": t("freshness.marker_fetch", lang)}
    marker_rows = []
    for r, d in zip(rows, data, strict=True):
        marker_rows.append({"dataset": d["dataset"], "marker": kinds["expected"], "x": d["expected_x"]})
        if r["last_fetch"] is not None:
            marker_rows.append(
                {"dataset": d["dataset"], "marker": kinds["fetch"], "x": _iso_day(r["last_fetch"])}
            )
    status_domain = [status_labels[s] for s in FRESHNESS_STATUSES]
    today_df = pl.DataFrame([{"x": _iso_day(today)}])
    layers: list[alt.Chart] = [
        alt.Chart(plot.filter(pl.col("last_x").is_not_null()))
        .mark_rule(color=th.LIGHT_NEUTRAL, strokeWidth=3)
        .encode(y=y, x=x("last_x"), x2="expected_x:T"),
        alt.Chart(today_df).mark_rule(strokeDash=[4, 3], color=th.MUTED_TEXT).encode(x=x("x")),
        alt.Chart(today_df)
        .mark_text(
            text=t("freshness.as_of", lang, date=format_date(today, lang)),
            baseline="bottom",
            dy=-4,
            y=0,
            color=th.MUTED_TEXT,
            fontSize=10,
        )
        .encode(x=x("x")),
        alt.Chart(pl.DataFrame(marker_rows))
        .mark_point(filled=False, size=70, color=th.TEXT_COLOUR, strokeWidth=1.4)
        .encode(
            y=y,
            x=x("x"),
            shape=alt.Shape(
                "marker:N",
                title=t("freshness.legend_markers", lang),
                scale=alt.Scale(
                    domain=[kinds["expected"], kinds["fetch"]], range=["triangle-down", "square"]
                ),
                legend=alt.Legend(orient="bottom", direction="horizontal"),
            ),
            tooltip=[*tips[:1], alt.Tooltip("marker:N", title=t("label.marker", lang))],
        ),
        alt.Chart(plot)
        .mark_point(filled=True, size=150, opacity=1)
        .encode(
            y=y,
            x=x("marker_x"),
            color=alt.Color(
                "status:N",
                title=t("label.status", lang),
                scale=alt.Scale(
                    domain=status_domain, range=[th.FRESHNESS_COLOURS[s] for s in FRESHNESS_STATUSES]
                ),
                legend=alt.Legend(orient="bottom", direction="horizontal"),
            ),
            tooltip=tips,
        ),
        # the status in words at the right edge: colour is never the only cue
        alt.Chart(plot)
        .mark_text(align="left", dx=10, fontSize=11)
        .encode(
            y=y,
            x=alt.X("edge:T", title=x_title, scale=x_scale),
            text="status:N",
            tooltip=tips,
        ),
    ]
    chart = _layer(layers, meta, lang).properties(width=560, height=alt.Step(30))
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in FRESHNESS_STATUSES}
    attention = counts["late"] + counts["failed"] + counts["never"]
    fmt = {"fresh": counts["fresh"], "n": len(rows), "bad": attention}
    finding = t("freshness.title_attention" if attention else "freshness.title", lang, **fmt)
    description = t(
        "freshness.description",
        lang,
        date=format_date(today, lang),
        n=len(rows),
        **{s: counts[s] for s in FRESHNESS_STATUSES},
        problems=", ".join(
            f"{d['dataset']} ({d['status']})" for d in data if d["status_key"] in ("late", "failed", "never")
        )
        or NOT_AVAILABLE,
    )
    table = df.select(
        "dataset", "source", "status_key", "status", "last_period_end", "expected_period_end", "last_fetch"
    )
    return _finish(
        chart, name=name, finding=finding, description=description, meta=meta, lang=lang, table=table
    )
