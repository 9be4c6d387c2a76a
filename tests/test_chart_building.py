"""Building the report's charts without Altair's slow paths: layered charts whose copies do not deep-copy
their layers, channels given as channel objects (never a string or dict that Altair indexes every schema
class to convert), layers' frames turned into JSON rows once (not by Altair per layer and per to_dict);
the specs are those Altair's own constructors give."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import altair as alt
import polars as pl
import pytest
import vl_convert as vlc
from altair.utils import schemapi
from sqlalchemy import Engine

from common.helsinki import HELSINKI
from report import weekly
from report.charts.common import HConcatChart, LayerChart, VConcatChart, at_px, inline_data, label_expr
from report.i18n import LANGS


def _spec(chart: alt.TopLevelMixin) -> str:
    """The chart's spec as the report writes it (key order included)."""
    return json.dumps(chart.to_dict(validate=False), ensure_ascii=False)


def _layers() -> list[Any]:
    """Layers as the report's charts make them: some sharing a frame, one with its own, sizes on some."""
    shared = pl.DataFrame({"year": [2020, 2021, 2022], "value": [3.0, 2.5, 2.25], "label": ["a", "b", "c"]})
    base = alt.Chart(shared)
    return [
        base.mark_line().encode(x=alt.X("year:O"), y=alt.Y("value:Q")),
        base.mark_text(dy=-8).encode(x=alt.X("year:O"), y=alt.Y("value:Q"), text=alt.Text("label:N")),
        alt.Chart(pl.DataFrame({"zero": [0.0]})).mark_rule().encode(y=alt.Y("zero:Q")).properties(width=300),
        alt.Chart().mark_text(text="demo").encode(x=at_px(alt.XValue, 4)).properties(name="demo_watermark"),
    ]


def _deep_copies(action: Callable[[], object]) -> int:
    """How many deep copies Altair makes of its schema objects while action runs."""
    copies = 0
    deep_copy = schemapi._deep_copy

    def counted(obj: Any, by_ref: set[str]) -> Any:
        nonlocal copies
        copies += 1
        return deep_copy(obj, by_ref)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(schemapi, "_deep_copy", counted)
        action()
    return copies


def test_a_layered_chart_gives_altairs_spec_and_its_copies_do_not_copy_the_layers() -> None:
    """The same spec as alt.LayerChart's, the shared width lifted to the top as Altair lifts it, and after
    properties(), a concatenation and a deep copy too; a copy does not deep-copy the layers again (Altair's
    LayerChart deep-copies each layer twice whenever it is constructed, and every copy constructs it)."""
    ours, altairs = LayerChart(layer=_layers()), alt.LayerChart(layer=_layers())
    assert ours.width == altairs.width == 300
    assert _spec(ours) == _spec(altairs)
    sized = {"width": 560, "height": alt.Step(30)}
    assert _spec(ours.properties(**sized)) == _spec(altairs.properties(**sized))
    assert _spec(ours.copy()) == _spec(altairs.copy())
    assert _spec(alt.hconcat(ours, ours.copy())) == _spec(alt.hconcat(altairs, altairs.copy()))
    shared = pl.DataFrame({"x": [1, 2]})  # one frame for every layer: Altair puts it at the top
    one = [alt.Chart(shared).mark_point().encode(x=alt.X("x:Q")), alt.Chart(shared).mark_rule()]
    assert _spec(LayerChart(layer=one)) == _spec(alt.LayerChart(layer=one))

    assert _deep_copies(lambda: ours.properties(height=200).to_dict(validate=False)) == 0
    assert _deep_copies(lambda: altairs.properties(height=200).to_dict(validate=False)) > 0  # it can see one


def test_a_layer_with_parameters_is_layered_by_altair() -> None:
    """A layer with a selection parameter takes Altair's own constructor, which lifts it to the top."""
    frame = pl.DataFrame({"x": [1, 2]})
    pick = alt.selection_point(name="pick")
    layers = [
        alt.Chart(frame).mark_point().encode(x=alt.X("x:Q")).add_params(pick),
        alt.Chart(frame).mark_rule(),
    ]
    ours = LayerChart(layer=layers)
    assert ours.to_dict(validate=False)["params"][0]["name"] == "pick"
    assert _spec(ours) == _spec(alt.LayerChart(layer=layers))


@pytest.fixture
def no_channel_from_dict() -> Iterator[list[str]]:
    """The schema classes Altair converted a plain dict to (from_dict) while the fixture was active."""
    converted: list[str] = []
    original = schemapi._FromDict.__init__

    def noted(self: Any, wrapper_classes: Any, /) -> None:
        converted.append("from_dict")
        original(self, wrapper_classes)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(schemapi._FromDict, "__init__", noted)
        yield converted


@pytest.mark.parametrize("loaded_engine", ["sqlite"], indirect=True)
def test_the_report_charts_give_every_channel_as_a_channel_object(
    loaded_engine: Engine, no_channel_from_dict: list[str]
) -> None:
    """Each chart of the report and each phone layout, in every language, is built without Altair turning a
    channel given as a string or dict into its class: that indexes every schema class first (16 ms each
    time, about 200 times a run). Give the channel's class instead (alt.Text("label:N"), at_px)."""
    _build_every_chart(loaded_engine, lambda lang, name: not no_channel_from_dict)


def _build_every_chart(engine: Engine, ok: Callable[[str, str], bool]) -> None:
    """Build and to_dict every chart of the report, and its phone layout, in every language; ok(lang, name)
    after each."""
    today = datetime.now(HELSINKI).date()
    for lang in LANGS:
        built, layouts = weekly._all_builders(engine, lang, today, {})
        for name in weekly.CHART_NAMES:
            chart, _ = built[name]()
            chart.to_dict(validate=False)
            if name in layouts:
                weekly.phone_layout(layouts[name])
            assert ok(lang, name), (lang, name)


def test_a_frame_becomes_the_rows_altairs_data_transformer_makes_of_it() -> None:
    """inline_data writes dates and times (naive, zoned, any unit) as Altair's default transformer does and
    leaves every other value as it is; a frame Altair would refuse (a duration) is left to Altair."""
    stamp = pl.Series([datetime(2024, 6, 1, 12, 0, 5, 123456, tzinfo=UTC), None])
    frame = pl.DataFrame(
        {
            "day": [date(2024, 1, 2), None],
            "at": [datetime(2024, 1, 2, 3, 4, 5, 123456), None],
            "ms": pl.Series([datetime(2024, 1, 2, 3, 4, 5), None]).cast(pl.Datetime("ms")),
            "zoned": stamp.dt.convert_time_zone("Europe/Helsinki"),
            "value": [1.5, None],
            "label": ["a", None],
            "flag": [True, None],
            "nothing": [None, None],
            "parts": [[1], None],
        }
    )
    inline = inline_data(frame, {})
    transform = alt.data_transformers.get()
    assert isinstance(inline, alt.InlineData) and transform is not None
    assert inline.values == transform(frame)["values"]
    assert inline_data(frame, {id(frame): (frame, inline)}) is inline  # converted once
    lasting = pl.DataFrame({"span": [timedelta(days=1)]})
    assert inline_data(lasting, {}) is lasting


@pytest.fixture
def altair_conversions() -> Iterator[list[str]]:
    """The columns of every frame Altair's data transformer converts while the fixture is active."""
    converted: list[str] = []
    default = alt.data_transformers.get()
    assert default is not None

    def counting(data: Any) -> Any:
        converted.append(",".join(getattr(data, "columns", [])))
        return default(data)

    alt.data_transformers.register("kestava_counting", counting)
    with alt.data_transformers.enable("kestava_counting"):
        yield converted


def test_a_layered_charts_frames_are_converted_once_for_every_to_dict(altair_conversions: list[str]) -> None:
    """LayerChart gives its layers their frames as inline data, converted once when it is made: Altair
    converts none of them at to_dict (it did for each layer at each to_dict, wide and phone layout alike)."""
    chart = LayerChart(layer=_layers())
    assert altair_conversions == []
    assert not any(isinstance(getattr(part, "data", None), pl.DataFrame) for part in chart.layer)
    assert _spec(chart) == _spec(alt.LayerChart(layer=_layers()))
    assert len(altair_conversions) == 3  # Altair's own: one per layer with a frame, a shared one twice
    altair_conversions.clear()
    chart.to_dict(validate=False)
    chart.properties(height=200).to_dict(validate=False)
    assert altair_conversions == []


@pytest.mark.parametrize("loaded_engine", ["sqlite"], indirect=True)
def test_altair_converts_no_frame_of_the_report_charts(
    loaded_engine: Engine, altair_conversions: list[str]
) -> None:
    """No chart of the report nor phone layout, in any language, leaves a frame for Altair to convert at
    to_dict (its data transformer: about 5 ms each, several a chart, each layout again)."""
    _build_every_chart(loaded_engine, lambda lang, name: not altair_conversions)


@pytest.mark.parametrize(("ours", "altairs"), [(HConcatChart, alt.hconcat), (VConcatChart, alt.vconcat)])
def test_a_concatenation_gives_altairs_spec_without_copying_its_panels(ours: Any, altairs: Any) -> None:
    """The same spec as Altair's concatenation (a named layer renamed by its panel's position, the shared
    colour scale), and neither it nor its copies deep-copy the panels (Altair's deep-copies each panel
    whenever it is constructed, and to_dict constructs it again)."""
    shared = alt.Resolve(scale=alt.ScaleResolveMap(color="shared"))
    key = "hconcat" if ours is HConcatChart else "vconcat"
    mine = ours(
        **{key: [LayerChart(layer=_layers()), LayerChart(layer=_layers())]}, spacing=28, resolve=shared
    )
    theirs = altairs(
        alt.LayerChart(layer=_layers()), alt.LayerChart(layer=_layers()), spacing=28, resolve=shared
    )
    assert _spec(mine) == _spec(theirs)
    assert '"demo_watermark_1"' in _spec(mine)
    assert _spec(mine.copy()) == _spec(theirs.copy())

    assert _deep_copies(lambda: mine.to_dict(validate=False)) == 0
    assert _deep_copies(lambda: theirs.to_dict(validate=False)) > 0  # the check can see a copy


def test_a_label_expression_writes_the_named_labels_as_vega_draws_them() -> None:
    """report.charts.common.label_expr, the one expression of the area, peer, per-resident and freshness
    charts' labels: drawn by Vega (vl-convert), a named label shows its text or its lines, any other as it
    is, or what `otherwise` says; a quote or a backslash in a label or a text is no end of its string."""
    odd = "It's \\ odd"
    frame = pl.DataFrame({"area": ["Oslo", "Espoo", odd], "value": [1, 2, 3]})

    def drawn(expr: str) -> list[str]:
        """The y axis' labels as Vega draws them, their lines joined by " / "."""
        y = alt.Y("area:N", axis=alt.Axis(labelExpr=expr), title=None)
        chart = alt.Chart(frame).mark_bar().encode(x=alt.X("value:Q", axis=None), y=y)
        svg = ElementTree.fromstring(vlc.vegalite_to_svg(chart.to_dict()))
        labels = svg.iter("{http://www.w3.org/2000/svg}text")
        lines = [[t.text or "" for t in label] or [label.text or ""] for label in labels]
        return sorted(" / ".join(label) for label in lines)

    texts = {"Oslo": "Oslo · Nordic", odd: [odd, "its 'second' line"]}
    assert drawn(label_expr(texts)) == sorted(["Oslo · Nordic", "Espoo", f"{odd} / its 'second' line"])
    assert drawn(label_expr({"Oslo": "−52 %"}, otherwise="''")) == ["", "", "−52 %"]
