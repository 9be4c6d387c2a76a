"""The parts every chart shares: catalogue constants, input-frame contracts and their validation,
the chart table, the finishing step, year axes and label helpers."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

import altair as alt
import polars as pl
from altair.vegalite.v6 import api as altair_api

from indicators.catalogue import load_indicator_catalogue
from report import theme as th
from report.i18n import (
    check_lang,
    has,
    label,
    t,
    vega_locale,
)
from report.theme import ChartMeta

if TYPE_CHECKING:
    from PIL.ImageFont import FreeTypeFont

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
    "moderate_movement_away": "away",  # a movement away from the target, however slow, is no progress
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
    {
        "sector_key",
        "area_key",
        "method_key",
        "status_key",
        "level_key",
        "item",
        "indicator_key",
        "kind_key",
        "dataset_key",
    }
)
# characters per title line, by chart (roughly the chart's width at the title font size)
_TITLE_WRAP: Final[Mapping[str, int]] = {"circular_economy": 100, "progress_dashboard": 75}
_YEAR_T: Final = "year_t"

Kind = Literal["int", "num", "str", "bool", "date", "datetime"]
_C = TypeVar("_C", bound=alt.LayerChart | alt.HConcatChart | alt.VConcatChart)
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
    """report.i18n.check_lang, its message naming the chart."""
    try:
        check_lang(lang)
    except ValueError as error:
        raise ValueError(f"{chart}: {error}") from None


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


def chart_notes(spec: Mapping[str, Any]) -> list[str]:
    """The notes a chart's spec carries for the page to show below it (a peer chart's coverage and method,
    which its phone layout leaves out of its subtitle); none for most charts."""
    usermeta = spec.get("usermeta")
    own = usermeta.get("kestava") if isinstance(usermeta, Mapping) else None
    notes = own.get("notes") if isinstance(own, Mapping) else None
    return [str(note) for note in notes] if isinstance(notes, list) else []


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
    """Title, alt text, locale and the data table: the last step of every chart function.

    The chart is one the caller has just built and hands over, so these are set on it in place:
    Altair's `properties()` and `configure()` copy a layered chart by constructing it again, which deep
    copies every layer (about a fifth of a report's chart-building time). The whole spec is still validated
    against the Vega-Lite schema when it is turned into a dict.
    """
    finding = finding[:1].upper() + finding[1:]
    chart.title = th.title_params(finding, meta, lang, width=_TITLE_WRAP.get(name, 85))
    chart.description = description
    chart.usermeta = {
        "kestava": {"chart": name, "lang": lang, "is_demo": meta.is_demo},
        # vega-embed's default tooltip handler escapes HTML; say so explicitly
        "embedOptions": {"tooltip": True},
    }
    config = alt.Config() if chart.config is alt.Undefined else chart.config
    config.locale = vega_locale(lang)
    chart.config = config
    object.__setattr__(chart, _TABLE_ATTR, ChartTable(table, lang, dict(decimals or {})))
    return chart


class LayerChart(alt.LayerChart):
    """alt.LayerChart, constructed without the deep copies of its layers Altair makes to merge their
    selection parameters, when no layer has any (none of the report's has: with one, Altair's own
    constructor runs). Altair constructs a layered chart again for every copy of it (`properties()`,
    `to_dict()`, a concatenation of it), so those copies, each deep-copying every layer twice, were most
    of a report's chart-building time. The data and the width, height and view common to the layers go
    to the top as Altair's constructor puts them there; the spec is the same. Each layer's polars frame is
    turned into its JSON rows here, once (inline_data), not by Altair for each layer at every to_dict."""

    def __init__(self, data: Any = alt.Undefined, layer: Sequence[Any] = (), **kwargs: Any) -> None:
        """As alt.LayerChart(data, layer, **kwargs): the same checks and spec, the layers not copied."""
        layers = list(layer)
        if kwargs.get("params", alt.Undefined) is not alt.Undefined or any(map(_has_params, layers)):
            super().__init__(data=data, layer=layers, **kwargs)
            return
        for part in layers:
            altair_api._check_if_valid_subspec(part, "LayerChart")
            altair_api._check_if_can_be_layered(part)
        converted: dict[int, Any] = {}  # a frame shared by layers: one conversion, one data object
        data = inline_data(data, converted)
        layers = [_with_inline_data(part, converted) for part in layers]
        alt.TopLevelLayerSpec.__init__(self, data=data, layer=layers, **kwargs)
        self.data, self.layer = altair_api._combine_subchart_data(self.data, self.layer)
        lifted, self.layer = altair_api._remove_layer_props(self, self.layer, ("height", "width", "view"))
        for prop, value in lifted.items():
            self[prop] = value


class HConcatChart(alt.HConcatChart):
    """alt.HConcatChart without the deep copy of every panel Altair's constructor makes to merge their
    selection parameters (and makes again for every copy of the chart, to_dict's included), when no panel
    has any: with one, Altair's own constructor runs. The spec is the same (concatenated_parts)."""

    def __init__(self, data: Any = alt.Undefined, hconcat: Sequence[Any] = (), **kwargs: Any) -> None:
        """As alt.HConcatChart(data, hconcat, **kwargs): the same checks and spec, the panels not copied."""
        _concatenate(self, alt.HConcatChart, alt.TopLevelHConcatSpec, "hconcat", data, hconcat, kwargs)


class VConcatChart(alt.VConcatChart):
    """alt.VConcatChart without the deep copies of its panels, as HConcatChart."""

    def __init__(self, data: Any = alt.Undefined, vconcat: Sequence[Any] = (), **kwargs: Any) -> None:
        """As alt.VConcatChart(data, vconcat, **kwargs): the same checks and spec, the panels not copied."""
        _concatenate(self, alt.VConcatChart, alt.TopLevelVConcatSpec, "vconcat", data, vconcat, kwargs)


def _concatenate(
    chart: Any,
    altairs: type[Any],
    spec: type[Any],
    key: str,
    data: Any,
    panels: Sequence[Any],
    kwargs: dict[str, Any],
) -> None:
    """Construct chart, a concatenation (key "hconcat" or "vconcat") of panels, as Altair's class altairs
    does when a panel or the chart has parameters, else as its spec class without copying the panels."""
    parts = list(panels)
    if kwargs.get("params", alt.Undefined) is not alt.Undefined or any(map(_has_params, parts)):
        altairs.__init__(chart, data=data, **{key: parts}, **kwargs)
        return
    name: Literal["HConcatChart", "VConcatChart"] = "HConcatChart" if key == "hconcat" else "VConcatChart"
    for part in parts:
        altair_api._check_if_valid_subspec(part, name)
    spec.__init__(chart, data=data, **{key: parts}, **kwargs)
    chart.data, parts = altair_api._combine_subchart_data(chart.data, parts)
    setattr(chart, key, concatenated_parts(parts))


def concatenated_parts(parts: Sequence[Any]) -> list[Any]:
    """The panels of a concatenation without parameters as Altair's constructor leaves them: a named
    layer of a layered panel renamed by the panel's position ("demo_watermark_1"), in a shallow copy of
    that layer and panel; every other panel as it is."""
    if len(parts) < 2:
        return list(parts)
    out = []
    for i, part in enumerate(parts):
        layers = part.layer if isinstance(part, alt.LayerChart) else []
        if any(isinstance(layer, alt.Chart) and layer.name is not alt.Undefined for layer in layers):
            renamed = []
            for layer in layers:
                if isinstance(layer, alt.Chart) and layer.name is not alt.Undefined:
                    layer = layer.copy(deep=False)
                    layer.name = f"{altair_api._view_base_for_chart(layer)}_{i}"
                renamed.append(layer)
            part = part.copy(deep=False)
            part.layer = renamed
        out.append(part)
    return out


# Altair's default data transformer refuses frames longer than this (altair.utils.data.limit_rows)
_ALTAIR_MAX_ROWS: Final = 5000
_ISO_TIME: Final = "%Y-%m-%dT%H:%M:%S"


def inline_data(data: Any, converted: dict[int, Any]) -> Any:
    """A polars frame as alt.InlineData of the rows Altair's default data transformer makes of it
    (altair.utils.data.to_values: a date or time as ISO text, the rest as it is), so that Altair neither
    converts nor re-checks it per layer and per to_dict; it names the dataset by the same hash, so the spec
    is the same. converted: the frames already turned (by id, the same frame gives the same object). Other
    data, a frame of a duration or too long for Altair, is returned as given (Altair's own checks)."""
    if not isinstance(data, pl.DataFrame):
        return data
    if id(data) in converted:
        return converted[id(data)][1]
    if data.height > _ALTAIR_MAX_ROWS or any(isinstance(d, pl.Duration) for d in data.dtypes):
        return data
    columns = [
        pl.col(name).cast(pl.Datetime("us")).dt.to_string(_ISO_TIME)
        if dtype == pl.Date
        else pl.col(name).dt.to_string(f"{_ISO_TIME}%.f" + ("%z" if dtype.time_zone else ""))
        if isinstance(dtype, pl.Datetime)
        else pl.col(name)
        for name, dtype in data.schema.items()
    ]
    inline = alt.InlineData(values=data.select(columns).rows(named=True))
    converted[id(data)] = (data, inline)  # the frame kept alive while its id is a key
    return inline


def _with_inline_data(part: Any, converted: dict[int, Any]) -> Any:
    """A layer with its polars frame as inline_data (a shallow copy of it; the layer itself unchanged)."""
    data = getattr(part, "data", alt.Undefined) if isinstance(part, alt.Chart) else alt.Undefined
    if not isinstance(data, pl.DataFrame):
        return part
    inline = inline_data(data, converted)
    if inline is data:
        return part
    copy = part.copy(deep=False)
    copy.data = inline
    return copy


_Position = TypeVar("_Position", alt.XValue, alt.X2Value)


def at_px(channel: type[_Position], px: float) -> _Position:
    """A position channel fixed at px (alt.value(px) as its channel object: encode() turns a plain dict
    into one through Altair's from_dict, which indexes every schema class first, 16 ms a call)."""
    return channel(px)


def _has_params(chart: Any) -> bool:
    """Whether a chart (a layer) has selection or variable parameters of its own."""
    return chart._get("params") is not alt.Undefined


def _layer(layers: Sequence[alt.Chart], meta: ChartMeta, lang: str) -> alt.LayerChart:
    parts = list(layers)
    if meta.is_demo:
        parts.append(th.watermark(lang, text_width(t("meta.watermark", lang), 100, bold=True) / 100))
    return LayerChart(layer=parts)


def given_ticks(values: Sequence[float]) -> dict[str, Any]:
    """An axis's arguments for ticks at exactly `values`, each labelled: Vega thins given values to the
    theme's tick count (6), so seven values drew every other one ("+30, +10, −10, −30", no zero)."""
    return {"values": list(values), "tickCount": len(values)}


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


@functools.cache
def _font(size: int, bold: bool) -> FreeTypeFont | None:
    """DejaVu Sans (the theme's first font, what vl-convert draws with) at a pixel size; None if absent."""
    from PIL import ImageFont  # imported when a label is measured: most users of the charts never do

    try:
        return ImageFont.truetype("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf", size)
    except OSError:
        return None


def vega_string(text: str) -> str:
    """A text as a string literal of a Vega expression (labelExpr), quotes and backslashes escaped."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def label_expr(texts: Mapping[str, str | Sequence[str]], otherwise: str = "datum.label") -> str:
    """A Vega expression (an axis' or a legend's labelExpr) writing each label that is a key of texts as its
    text (a sequence of texts: its lines), any other as `otherwise` (an expression: the label itself)."""
    expr = otherwise
    for key, text in texts.items():
        shown = vega_string(text) if isinstance(text, str) else f"[{', '.join(map(vega_string, text))}]"
        expr = f"datum.label === {vega_string(key)} ? {shown} : {expr}"
    return expr


def text_width(text: str, size: int = 11, *, bold: bool = False) -> float:
    """The width in px of one line of text in the theme's font (DejaVu Sans; without it, a wide estimate)."""
    font = _font(size, bold)
    if font is None:
        return len(text) * size * (0.72 if bold else 0.66)
    return float(font.getlength(text))


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


def gap_too_narrow(room: str, years: str, lang: str) -> str:
    """A Vega expression: whether room (px, an expression of the plot's width) is narrower than the gap's
    label ("no data 1991–1999", its widest line) and a margin: there the label is written upright."""
    wide = max(text_width(line) for line in t("gap.label", lang, years=years).split("\n"))
    return f"{room} < {wide + 8:.0f}"


def _gap_labels(
    rows: Sequence[Mapping[str, Any]],
    x: alt.X,
    y: alt.Y,
    lang: str,
    *,
    angle: alt.ExprRef | None = None,
    x_offset: alt.ExprRef | None = None,
    y_offset: alt.ExprRef | None = None,
) -> alt.Chart:
    """ "no data 1991–1999" written in the gap of a yearly series (its line or area is not drawn there), at
    the charts' 11 px body size. angle, x_offset, y_offset: the text's, as Vega expressions of the plot's
    width (and the row's fields); None: level, at the gap's middle."""
    frame = pl.DataFrame([{**r, "label": t("gap.label", lang, years=r["years"])} for r in rows])
    chart: alt.Chart = (
        alt.Chart(frame)
        .transform_calculate(**{_YEAR_T: "datetime(datum.year, datum.month, 1)"})
        .mark_text(
            lineBreak="\n",
            fontSize=11,
            fontStyle="italic",
            color=th.MUTED_TEXT,
            align="center",
            baseline="middle",
            angle=alt.Undefined if angle is None else angle,
            xOffset=alt.Undefined if x_offset is None else x_offset,
            yOffset=alt.Undefined if y_offset is None else y_offset,
        )
        .encode(x=x, y=y, text=alt.Text("label:N"))
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
# the sector frame (sector_area and sector_waterfall)

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


# A chart's phone layout (report.phone, a report's page below 40rem): its plot this wide, its row labels
# above its marks, so that the whole drawing fits a phone's column (PHONE_COLUMN) at its size, unscaled.
PHONE_PLOT_WIDTH: Final = 285
# a 390 px phone's column in a report (1rem padding each side; 343 px beside a 15 px scrollbar): a
# chart's phone layout fits it
PHONE_COLUMN: Final = 340
# the height of one line of a label written above its row (px, the 11 px font)
PHONE_LINE_HEIGHT: Final = 13
# a phone's legend: two entries a row when every label fits in this width (px), else one a row
LEGEND_COLUMN_WIDTH: Final = 125


def wrap_px(text: str, px: float, size: int = 11, *, bold: bool = False) -> list[str]:
    """text in lines no wider than px (measured, text_width), broken at its spaces (never at a no-break
    space: "11 %" stays whole); a word wider than px is a line of its own."""
    lines: list[str] = []
    for word in filter(None, text.split(" ")):
        if lines and text_width(f"{lines[-1]} {word}", size, bold=bold) <= px:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def labels_above(
    y: alt.Y, field: str, lines: Mapping[str, Sequence[str]], *, mark_px: float
) -> tuple[alt.Chart, int]:
    """Each row's label (lines: by the row's value of field, its lines, wrap_px) written at the plot's
    left edge, its last line just above the row's mark (mark_px high, centred on the row): a phone's
    layout, whose labels take no width beside the plot. y: the rows' encoding, its axis hidden
    (axis=None). With the rows' height (px) that fits the longest label, its mark and a gap."""
    most = max((len(parts) for parts in lines.values()), default=1)
    step = round(most * PHONE_LINE_HEIGHT + mark_px + 10)
    frame = pl.DataFrame(
        {
            field: list(lines),
            "row_label": ["\n".join(parts) for parts in lines.values()],
            # the offset from the row's top (yOffset): Vega writes a label's first line there and the others
            # below it, so a label of more lines starts higher, its last line above the mark
            "label_dy": [
                (step - mark_px) / 2 - 3 - (len(parts) - 1) * PHONE_LINE_HEIGHT for parts in lines.values()
            ],
        }
    )
    chart: alt.Chart = (
        alt.Chart(frame)
        .mark_text(
            align="left",
            baseline="bottom",
            fontSize=11,
            lineBreak="\n",
            lineHeight=PHONE_LINE_HEIGHT,
            color=th.TEXT_COLOUR,
        )
        .encode(
            y=y,
            yOffset=alt.YOffset("label_dy:Q", scale=None),
            x=at_px(alt.XValue, 0),
            text=alt.Text("row_label:N"),
        )
    )
    return chart, step
