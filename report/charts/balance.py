"""The neutrality balance chart: residual emissions at the target year against the carbon-sink estimate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

import altair as alt
import polars as pl

from indicators.catalogue import ReductionTarget
from indicators.trajectory import target_from_base
from report import theme as th
from report.charts.common import (
    PHONE_PLOT_WIDTH,
    Col,
    _check_lang,
    _check_meta,
    _finish,
    _frame,
    _layer,
    _unique,
    labels_above,
    text_width,
    wrap_px,
)
from report.charts.provisional import provisional_texts
from report.i18n import (
    format_number,
    format_percent,
    format_quantity,
    shown_decimals,
    source_text,
    t,
)
from report.theme import ChartMeta

BALANCE_EMISSIONS: Final[Mapping[str, Col]] = {
    "year": Col("int", "the calendar year"),
    "value": Col("num", "total emissions in kt CO2e"),
}
_WIDTH: Final = 520  # the plot's width in px
_LABEL_DX: Final = 6  # px between a bar's end and its label
_PHONE_BAR: Final = 24  # a bar's height (px) in the phone's layout, its label above it
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
    target: ReductionTarget,
    lang: str = "fi",
    provisional_years: Sequence[int] = (),
    phone: bool = False,
) -> alt.LayerChart:
    """Residual emissions left at the target year (base × (1 − reduction)) against the carbon-sink estimate.

    emissions: year (int), value (float, kt CO2e) — must include the target's base year (extra columns
        are ignored).
    target: the commitment, as the indicator catalogue declares it (report.data.reduction_target): no
        default, so the residual is the one the headline's target leaves.
    sinks: year (int), value (float, removals in kt CO2e, positive), lower, upper (float, optional).
    The latest sink year is compared; the gap (or the difference, a sink larger than the residual) is drawn
    as an outlined bar and labelled. The sink is the City of Espoo's assumption (a share of one year's
    emissions), not a measurement: the chart labels it so, credits it to the City of Espoo and states the
    balance as a what-if. The latest year's emissions are drawn above the two, so that a sink as large as
    the residual is not read as neutrality reached: the residual is what remains only after the cut.
    phone: the phone's layout (report.phone): each bar's name wrapped above it, the plot PHONE_PLOT_WIDTH
    wide.
    """
    name = "neutrality_balance"
    _check_lang(name, lang)
    _check_meta(name, meta)
    base_year, target_year, target_reduction = target.base_year, target.year, target.reduction
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
        "latest": t("balance.latest", lang, year=int(latest["year"])),
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
        "latest": t("balance.kind_latest", lang),
        "residual": t("balance.kind_residual", lang),
        "sink": t("balance.kind_sink", lang),
        "gap": t("balance.kind_gap", lang),
        "surplus": t("balance.kind_surplus", lang),
    }
    # one number per subject: residual and sink rounded as the report prints them (shown_decimals), the
    # gap their difference as printed (212 − 229 = −17, never a "16.7" beside "229" and "212"), and the
    # label, the text, the table and the downloads all show these
    places = max(shown_decimals(residual), shown_decimals(sink))
    residual, sink = round(residual, places), round(sink, places)
    gap = round(residual - sink, places)
    gap_kind = "gap" if gap > 0 else "surplus"
    # the latest emissions as the headline states them (its value, its year), the trajectory's colour
    latest_value = round(float(latest["value"]), places)
    bar_colours = {
        "latest": th.SERIES_COLOURS["history"],
        "residual": th.MUTED_TEXT,
        "sink": th.OKABE_ITO["bluish_green"],
        gap_kind: th.BACKGROUND,
    }
    bars_rows: list[dict[str, Any]] = [
        {
            "category": cats["latest"],
            "kind": kinds["latest"],
            "lo": 0.0,
            "hi": latest_value,
            "value": latest_value,
            "source": emission_sources,
            "text_colour": th.text_on(bar_colours["latest"]),
        },
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
        # a shortfall by its size; a sink larger than the residual as a signed difference, never a
        # "surplus" (read as neutrality secured, where the residual is what remains only after the cut)
        "label": t(
            f"balance.{gap_kind}_label",
            lang,
            value=format_quantity(abs(gap) if gap > 0 else -gap, "kt", lang, places, signed=gap <= 0),
        ),
    }
    df = pl.DataFrame(bars_rows).with_columns(
        label=pl.Series([format_number(r["value"], lang, places) for r in bars_rows])
    )
    gap_df = pl.DataFrame([gap_row])
    width = PHONE_PLOT_WIDTH if phone else _WIDTH
    y = alt.Y(
        "category:N",
        sort=[cats["latest"], cats["residual"], cats["sink"]],
        title=None,
        axis=None if phone else alt.Axis(labelLimit=300),
    )
    x_title = t("axis.balance_kt", lang)  # the sink's bar is no emission
    domain = [kinds["latest"], kinds["residual"], kinds["sink"], kinds[gap_kind]]
    gap_stroke = th.OKABE_ITO["vermillion"] if gap > 0 else th.OKABE_ITO["blue"]
    # fill, outline colour and dash by kind, in one legend: its gap (surplus) symbol is the dashed outline
    # the chart draws, not a plain box
    legend = alt.Legend(orient="bottom", direction="horizontal", symbolStrokeWidth=2)
    colour = alt.Fill(
        "kind:N",
        title=None,
        scale=alt.Scale(
            domain=domain, range=[bar_colours[k] for k in ("latest", "residual", "sink", gap_kind)]
        ),
        legend=legend,
    )
    outline = alt.Stroke(
        "kind:N",
        title=None,
        scale=alt.Scale(
            domain=domain, range=[*(bar_colours[k] for k in ("latest", "residual", "sink")), gap_stroke]
        ),
        legend=legend,
    )
    dash = alt.StrokeDash(
        "kind:N",
        title=None,
        scale=alt.Scale(domain=domain, range=[[1, 0], [1, 0], [1, 0], [5, 3]]),
        legend=legend,
    )
    # room right of the gap's bar for its label ("Skillnad +17 kt" in bold), measured, not guessed; the
    # longest bar (the latest emissions) may reach the plot's end, the label beside a shorter one not past it
    upper_end = sink_row.get("upper")
    far = max(latest_value, residual, sink, float(upper_end) if upper_end is not None else 0.0)
    label_px = text_width(str(gap_row["label"]), 11, bold=True) + _LABEL_DX + 4
    end = max(far, max(sink, residual) * width / (width - label_px))  # the gap's bar ends at the larger
    x_scale = alt.Scale(domain=[0.0, end], nice=False, zero=True)
    tips = [
        alt.Tooltip("category:N", title=t("label.item", lang)),
        alt.Tooltip("value:Q", title=t("label.amount_kt", lang), format=",.0f"),
        alt.Tooltip("source:N", title=t("label.source", lang)),
    ]
    layers: list[alt.Chart] = [
        alt.Chart(df)
        .mark_bar(height=_PHONE_BAR if phone else {"band": 0.6})
        .encode(
            y=y,
            x=alt.X("lo:Q", title=x_title, axis=alt.Axis(format=",.0f"), scale=x_scale),
            x2=alt.X2("hi:Q"),
            fill=colour,
            stroke=outline,
            strokeDash=dash,
            tooltip=tips,
        ),
        alt.Chart(gap_df)
        .mark_bar(height=_PHONE_BAR if phone else {"band": 0.6}, strokeWidth=2)
        .encode(
            y=y,
            x=alt.X("lo:Q", title=x_title),
            x2=alt.X2("hi:Q"),
            fill=colour,
            stroke=outline,
            strokeDash=dash,
            tooltip=tips,
        ),
        alt.Chart(df)
        .mark_text(align="left", dx=6, fontWeight="bold")
        .encode(
            y=y,
            x=alt.X("lo:Q", title=x_title),
            text=alt.Text("label:N"),
            fill=alt.Fill("text_colour:N", scale=None),
        ),
        alt.Chart(gap_df)
        .mark_text(align="left", dx=_LABEL_DX, fontWeight="bold", color=th.TEXT_COLOUR)
        .encode(y=y, x=alt.X("hi:Q", title=x_title), text=alt.Text("label:N")),
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
                x2=alt.X2("upper:Q"),
                tooltip=[
                    alt.Tooltip("lower:Q", title=t("label.lower", lang), format=",.0f"),
                    alt.Tooltip("upper:Q", title=t("label.upper", lang), format=",.0f"),
                ],
            )
        )
    step = 56
    if phone:
        lines = {c: wrap_px(c, PHONE_PLOT_WIDTH) for c in cats.values()}
        above, step = labels_above(y, "category", lines, mark_px=_PHONE_BAR)
        layers.append(above)
    chart = _layer(layers, meta, lang).properties(width=width, height=alt.Step(step))
    fmt = {
        "sink": format_number(sink, lang, places),
        "residual": format_number(residual, lang, places),
        "pct": format_percent(sink / residual * 100, lang),
        "year": target_year,
        "latest_year": int(latest["year"]),
        "latest": format_number(latest_value, lang, places),
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
        # mid-sentence, after a semicolon: "…; surplus 17 kt", not "; Surplus"
        gap=str(gap_row["label"])[:1].lower() + str(gap_row["label"])[1:],
        **fmt,
    )
    suffix, sentence = provisional_texts(provisional_years, None, lang)
    finding, description = finding + suffix, description + sentence
    table = pl.DataFrame(
        [
            {"item": "latest", "label": cats["latest"], "year": int(latest["year"]), "value": latest_value},
            {"item": "residual", "label": cats["residual"], "year": target_year, "value": residual},
            {"item": "sink", "label": cats["sink"], "year": sink_year, "value": sink},
            {"item": gap_kind, "label": gap_row["label"], "year": target_year, "value": abs(gap)},
        ]
    )
    if places == 0:  # whole numbers as the chart prints them: "229" in the table and the CSV, not "229.0"
        table = table.with_columns(pl.col("value").round(0).cast(pl.Int64))
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
