"""Exports indicator values, targets and assessments as one tidy long table with provenance columns."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, select

from common.atomic import publish_file
from common.flags import flag_meanings
from indicators.catalogue import (
    IndicatorCatalogue,
    ReductionTarget,
    ResidualDerivation,
    ShareOfYearDerivation,
)
from indicators.outlook import outlook
from indicators.query import assessments, utc_times
from ingest.catalogue import load_catalogue
from ingest.citation import area_of_url, is_data_request
from ingest.licensing import publishable
from report.data import pace_figures
from report.i18n import format_percent, has, label, source_text, t
from report.spreadsheet_text import inert_text
from storage import schema
from storage.read import provenance, query_frame

EXPORT_COLUMNS = (
    "indicator",
    "name",
    "sdg",
    "area",
    "period",
    "kind",
    "value",
    "lower",
    "upper",
    "unit",
    "flags",
    "method",
    "method_version",
    "status",
    "score",
    "source",
    "snapshot_ids",
    "vintage",
    "is_demo",
)
FORMATS = ("csv", "parquet", "json")
# the export's column types where a column may be all null in a selection (the same types in every export)
_TYPES = {
    "value": pl.Float64(),
    "lower": pl.Float64(),
    "upper": pl.Float64(),
    "score": pl.Float64(),
    "snapshot_ids": pl.List(pl.Int64()),
    "vintage": pl.Datetime("us"),
    "is_demo": pl.Boolean(),
}
# times in CSV and JSON: ISO 8601 with the UTC offset
_ISO_UTC = "%Y-%m-%dT%H:%M:%S%.6f%:z"


def export_table(
    engine: Engine,
    catalogue: IndicatorCatalogue,
    indicators: Sequence[str] = (),
    *,
    area: str | None = None,
    lang: str = "en",
) -> pl.DataFrame:
    """indicator, area, period, value, unit, kind (the kinds of indicators.query.VALUE_KINDS: observed,
    target, path, path_from_latest, projection, estimate, target_derived, assumption; assessment; and the
    outlook to the next target: outlook_projection, outlook_year_reached, outlook_required_rate) plus the
    assessment method (its id, as kestava.api gives it) and method_version, status and score, and
    provenance: source, snapshot ids (a list), vintage (UTC), demo.

    An assessment's value is the pace ratio (unit pace_ratio: observed ÷ required compound rate, as
    kestava.api.assessments' pace_ratio) or the German model's deviation (unit "% deviation").

    The outlook rows are indicators.outlook's OLS row (method "ols"), the numbers the reports' headline
    and trajectory chart state: the projection for the target year with its 95 % band, the year the trend
    reaches the target (empty when it does not) and the compound rate needed each year from the latest."""
    wanted = set(indicators)
    withheld = [i for i in catalogue.indicators if not publishable_indicator(catalogue, i)]

    def selected(frame: pl.DataFrame, column: str) -> pl.DataFrame:
        base = pl.col(column).str.split(".").list.first()
        if wanted:
            frame = frame.filter(pl.col(column).is_in(wanted) | base.is_in(wanted))
        if withheld:  # a restricted source without a declared licence never goes out (ingest.licensing)
            frame = frame.filter(~base.is_in(withheld))
        return frame.filter(pl.col("area") == area) if area else frame

    # kinds as stored: a derived indicator's own values are target_derived or assumption, not observed
    frame = selected(query_frame(engine, select(schema.indicator_value)), "indicator_id")
    id_lists = [json.loads(text) for text in frame["snapshot_ids"]] if frame.height else []
    rows = []
    # an assessment is made from the observed values of its indicator and area: their snapshots are its own
    assessed_from: dict[tuple[str, str], tuple[set[int], bool]] = {}
    for r, ids in zip(frame.iter_rows(named=True), id_lists, strict=True):
        if r["kind"] == "observed":
            seen, demo = assessed_from.get((r["indicator_id"], r["area"]), (set(), False))
            assessed_from[(r["indicator_id"], r["area"])] = (seen | set(ids), demo or bool(r["is_demo"]))
        rows.append(
            {
                "indicator": r["indicator_id"],
                "area": r["area"],
                "period": r["period"],
                "kind": r["kind"],
                "value": r["value"],
                "lower": r["lower"],
                "upper": r["upper"],
                "unit": r["unit"],
                "flags": r["flags"],
                "snapshot_ids": ids,
                "vintage": r["vintage"],
                "is_demo": r["is_demo"],
            }
        )
    rows.extend(_outlook_rows(frame, catalogue))
    # each series' newest vintage, as the API and the reports take it
    assessed = assessments(engine=engine).rename({"indicator": "indicator_id"})
    if assessed.height:
        latest = selected(assessed, "indicator_id")
        for r in latest.iter_rows(named=True):
            ids, demo = assessed_from.get((r["indicator_id"], r["area"]), (set(), False))
            ratio, deviation = pace_figures(r)  # as the progress dashboard states them
            # a method without a target states a status, no ratio nor deviation: no value, so no unit
            unit = "% deviation" if deviation is not None else "pace_ratio" if ratio is not None else None
            rows.append(
                {
                    "indicator": r["indicator_id"],
                    "area": r["area"],
                    "period": str(r["latest_year"]) if r["latest_year"] is not None else None,
                    "kind": "assessment",
                    "value": deviation if deviation is not None else ratio,
                    "unit": unit,
                    "method": r["method"],
                    "method_version": r["method_version"],
                    "status": r["status"],
                    "score": r["score"],
                    "snapshot_ids": sorted(ids) or None,
                    "vintage": r["as_of"],
                    "is_demo": demo if ids else None,
                }
            )
    table = pl.DataFrame(rows, schema_overrides=_TYPES, infer_schema_length=None)
    if table.height == 0:
        return pl.DataFrame(schema={c: _TYPES.get(c, pl.String()) for c in EXPORT_COLUMNS})
    sdg = {e: catalogue.get(e).sdg_code for e in table["indicator"].unique().to_list()}
    table = in_language(
        table.with_columns(pl.col("indicator").replace_strict(sdg).alias("sdg")), engine, catalogue, lang
    )
    for column in EXPORT_COLUMNS:
        if column not in table.columns:
            table = table.with_columns(pl.lit(None, dtype=_TYPES.get(column, pl.String())).alias(column))
    # a total order: the same data export to the same bytes (the site rewrites a download only on a change)
    order = ("indicator", "area", "kind", "period", "method")
    return utc_times(table.select(EXPORT_COLUMNS).sort(order, nulls_last=True))


def why_empty(
    engine: Engine,
    catalogue: IndicatorCatalogue,
    indicators: Sequence[str] = (),
    *,
    area: str | None = None,
    kinds: Sequence[str] = (),
) -> str:
    """Why export_table (or kestava.api, for an area it asked for) selected no rows, in one line: no values
    at all, an indicator withheld for its licence, or (for an area) the areas the indicators are computed
    for or have values for (of `kinds` when given: the outlook needs a target)."""
    from indicators.query import area_names

    names = area_names("fi")

    def listed(codes: Iterable[str]) -> str:
        return ", ".join(f"{c} ({names.get(c, c)})" for c in sorted(codes)) or "none"

    bases = sorted({i.split(".", 1)[0] for i in indicators})
    withheld = [i for i in bases if not publishable_indicator(catalogue, i)]
    if bases and len(withheld) == len(bases):
        return f"{', '.join(withheld)}: withheld (a restricted source without a declared licence)"
    table = schema.indicator_value
    stored = query_frame(engine, select(table.c.indicator_id, table.c.area, table.c.kind).distinct())
    base = pl.col("indicator_id").str.split(".").list.first()
    if bases:
        stored = stored.filter(base.is_in(bases))
    what = ", ".join(bases) or "the database"
    if stored.height == 0:
        return f"{what}: no computed values (run `kestava compute`)"
    if area is None:
        return f"{what}: nothing to export"
    declared = sorted({a for i in bases for a in (catalogue.get(i).areas or [])})
    computed_for = [i for i in bases if catalogue.get(i).areas and area not in (catalogue.get(i).areas or [])]
    if bases and len(computed_for) == len(bases):
        return f"{what}: computed only for {listed(declared)}, not for {listed([area])}"
    values = f"{' or '.join(kinds)} values" if kinds else "values"
    having = stored.filter(pl.col("kind").is_in(list(kinds))) if kinds else stored
    return f"{what}: no {values} for {listed([area])}; areas with {values}: {listed(set(having['area']))}"


def publishable_indicator(catalogue: IndicatorCatalogue, indicator_id: str) -> bool:
    """Whether an indicator may be published: every dataset it is made from may be (ingest.licensing)."""
    return all(publishable(dataset) for dataset in catalogue.datasets_of(indicator_id))


def in_language(
    table: pl.DataFrame, engine: Engine, catalogue: IndicatorCatalogue, lang: str
) -> pl.DataFrame:
    """export_table's table with its words in lang: each indicator's name (name) and each row's source,
    made from the row's snapshot ids and area (every other column is the same in any language), so that a
    table exported once is given in another language without being exported again.

    A value's or an outlook's source cites its snapshots' payloads, after how the value is derived where it
    is no source's figure (an assumption, or the value a target sets); an assessment's the snapshots of the
    observed values it assessed (None when there are none)."""
    id_lists = table["snapshot_ids"].to_list()
    sources = _sources(engine, {i for ids in id_lists for i in ids or []}, lang)
    assumed = derivation_texts(catalogue, lang)
    cited: list[str | None] = []
    for ids, area, indicator, kind in zip(
        id_lists, table["area"], table["indicator"], table["kind"], strict=True
    ):
        text = "; ".join(sorted({sources[i].text(area, lang) for i in ids or [] if i in sources}))
        base = indicator.split(".")[0]
        if kind == "assessment":
            cited.append(text or None)
        elif base in assumed:
            cited.append(t("export.assumption", lang, assumption=assumed[base], cited=text))
        else:
            cited.append(text)
    names = {e: _name(catalogue, e, lang) for e in table["indicator"].unique().to_list()}
    return table.with_columns(
        pl.col("indicator").replace_strict(names, return_dtype=pl.String).alias("name"),
        pl.Series("source", cited, dtype=pl.String),
    )


def _outlook_rows(values: pl.DataFrame, catalogue: IndicatorCatalogue) -> list[dict[str, object]]:
    """The OLS outlook of every indicator and area with observed values and a later target, as export rows,
    each with the snapshots of the latest observed value it runs from (its source: that value's)."""
    if values.height == 0:
        return []
    annual = values.filter(pl.col("period").str.contains(r"^\d{4}$")).select(
        pl.col("indicator_id").alias("indicator"),
        "area",
        "kind",
        pl.col("period").cast(pl.Int64).alias("year"),
        "value",
        "unit",
        "snapshot_ids",
        "vintage",
        "is_demo",
    )
    rows: list[dict[str, object]] = []
    for (indicator,), part in annual.partition_by(["indicator"], as_dict=True).items():
        entry = catalogue.get(str(indicator))
        found = outlook(part, entry.direction, entry.value_bounds)
        if found.height == 0 or "projected_value" not in found.columns:
            continue
        for r in found.filter(pl.col("method") == "ols", pl.col("status") == "ok").iter_rows(named=True):
            latest = part.filter(
                pl.col("area") == r["area"], pl.col("kind") == "observed", pl.col("year") == r["latest_year"]
            ).row(0, named=True)
            ids = json.loads(latest["snapshot_ids"])
            common = {
                "indicator": indicator,
                "area": r["area"],
                "period": str(r["target_year"]),
                "method": "ols",
                "snapshot_ids": ids,
                "vintage": latest["vintage"],
                "is_demo": latest["is_demo"],
            }
            rows += [
                {
                    **common,
                    "kind": "outlook_projection",
                    "value": r["projected_value"],
                    "lower": r["projected_lower"],
                    "upper": r["projected_upper"],
                    "unit": latest["unit"],
                },
                {
                    **common,
                    "kind": "outlook_year_reached",
                    "value": None if r["year_reached"] is None else float(r["year_reached"]),
                    "unit": "year",
                },
                {
                    **common,
                    "kind": "outlook_required_rate",
                    "value": None if r["required_rate"] is None else r["required_rate"] * 100,
                    "unit": "% a year",
                },
            ]
    return rows


def _name(catalogue: IndicatorCatalogue, indicator_id: str, lang: str) -> str:
    """An indicator's name in lang; a breakdown part ("ghg_by_subsector.oil_heating") adds its sector."""
    name = catalogue.get(indicator_id).name.get(lang)
    part = indicator_id.split(".", 1)[1] if "." in indicator_id else None
    return f"{name}: {label('sector', part, lang)}" if part else name


@dataclass(frozen=True)
class _Cited:
    """A snapshot as a value's source: its publisher's attribution and licence, and the payloads that hold
    values (url, fetch time, the area the file is of or None), in request order."""

    attribution: str
    licence: str
    payloads: tuple[tuple[str, datetime, str | None], ...]

    def text(self, area: str, lang: str) -> str:
        """'attribution (licence), fetched <YYYY-MM-DD HH:MM> UTC, <url>' for a value of area: the file of
        that area where the snapshot has one file per area (Syke), else its first data file, with how
        many more the snapshot holds (a region total adds several areas' files)."""
        own = [p for p in self.payloads if p[2] == area]
        url, fetched, _ = (own or list(self.payloads))[0]
        more = len(self.payloads) - 1 if not own else 0
        return t(
            "export.source",
            lang,
            attribution=self.attribution,
            licence=self.licence,
            fetched=f"{fetched:%Y-%m-%d %H:%M}",
            url=url + (t("export.more_files", lang, n=more) if more else ""),
        )


def derivation_texts(catalogue: IndicatorCatalogue, lang: str) -> dict[str, str]:
    """The indicators whose values are not a source's figures, each with how they are derived in words: an
    assumption on a source's value (derive kind share_of_year: a share of one year's value, with who states
    it and where, or that the statement's address is not known) or the value a reduction target sets
    (residual: e.g. 20 % of the 1990 value for −80 %); the source cited is then that of the base value.
    The export's source column, the site's indicator page and the report's provenance all say it so."""
    found: dict[str, str] = {}
    for indicator_id, indicator in catalogue.indicators.items():
        derive = indicator.derive
        if isinstance(derive, ResidualDerivation):
            source = catalogue.get(derive.of)
            found[indicator_id] = "; ".join(
                t(
                    "export.residual",
                    lang,
                    share=format_percent((1 - target.reduction) * 100, lang),
                    base_year=target.base_year,
                    reduction=format_percent(target.reduction * 100, lang),
                    year=target.year,
                    of=_name(catalogue, derive.of, lang),
                )
                for target in source.targets
                if isinstance(target, ReductionTarget)
            )
        elif isinstance(derive, ShareOfYearDerivation):
            assumption = t(
                "export.share_of_year",
                lang,
                share=format_percent(derive.share * 100, lang),
                year=derive.year,
                of=_name(catalogue, derive.of, lang),
            )
            stated_by = derive.stated_by.get(lang)
            found[indicator_id] = (
                t("export.stated_at", lang, assumption=assumption, by=stated_by, url=derive.url)
                if derive.url
                else t("export.stated_no_url", lang, assumption=assumption, by=stated_by)
            )
    return found


def _sources(engine: Engine, snapshot_ids: set[int], lang: str) -> dict[int, _Cited]:
    """snapshot id → what a value from it cites: its data payloads (ingest.citation), each with its area
    where the catalogue's URL names one; a snapshot of a dataset the catalogue no longer has cites all."""
    if not snapshot_ids:
        return {}
    datasets = load_catalogue().datasets
    cited: dict[int, _Cited] = {}
    for (snapshot_id,), rows in provenance(engine, sorted(snapshot_ids)).group_by(
        "snapshot_id", maintain_order=True
    ):
        spec = datasets.get(str(rows["dataset_id"][0]))
        payloads = [
            (str(r["url"]), r["fetched_at"], area_of_url(spec.url, str(r["url"])) if spec else None)
            for r in rows.iter_rows(named=True)
            if spec is None or is_data_request(spec.protocol, str(r["method"]), str(r["url"]))
        ]
        if not payloads:  # a dataset whose every payload was discovery: cite them rather than nothing
            payloads = [(str(r["url"]), r["fetched_at"], None) for r in rows.iter_rows(named=True)]
        first = rows.row(0, named=True)
        cited[int(snapshot_id)] = _Cited(
            source_text(str(first["attribution"]), lang),
            source_text(str(first["licence"]), lang),
            tuple(payloads),
        )
    return cited


# a reader's copy of an export (the site's data/<lang>/<id>.csv): the export's columns but the snapshot ids
# (the machine-readable files keep them), with the area's name after its code
READER_COLUMNS = tuple(
    name
    for column in EXPORT_COLUMNS
    if column != "snapshot_ids"
    for name in ((column, "area_name") if column == "area" else (column,))
)


def reader_table(table: pl.DataFrame, lang: str) -> pl.DataFrame:
    """An export table (its words already in lang: in_language) for a reader's spreadsheet in lang: every
    header in lang ([download] of the translations), the area's name beside its code, each kind, unit,
    source flag, method and status in words (the names the report and the site give them: an estimate is
    "Seurannan oma arvio"), is_demo as the page's yes or no. The ids (indicator, area, period) and every
    number are the machine-readable file's, numbers as numbers, never rounded."""
    from indicators.query import area_names  # the catalogue of areas, read when a download is made
    from report.charts.common import METHOD_ALIASES

    def words(column: str, name: Callable[[str], str]) -> pl.Expr:
        values = [v for v in table[column].unique().to_list() if v is not None]
        return pl.col(column).replace_strict(
            {v: name(v) for v in values}, default=None, return_dtype=pl.String
        )

    def method(code: str) -> str:
        key = f"method.{METHOD_ALIASES.get(code, code)}"
        return t(key, lang) if has(key) else label("download", f"method_{code}", lang)

    def flags(text: str) -> str:
        return ", ".join(t(f"flag.{m}", lang) for m in flag_meanings(text)) or text

    yes, no = t("report.yes", lang), t("report.no", lang)
    names = area_names(lang)
    shown = table.with_columns(
        pl.col("area")
        .replace_strict(names, default=pl.col("area"), return_dtype=pl.String)
        .alias("area_name"),
        words("kind", lambda k: t(f"site.kind_{k}", lang)),
        words("unit", lambda u: label("unit_name", u, lang)),
        words("flags", flags),
        words("method", method),
        words("status", lambda s: label("status", s, lang)),
        pl.when(pl.col("is_demo"))
        .then(pl.lit(yes))
        .when(~pl.col("is_demo"))
        .then(pl.lit(no))
        .alias("is_demo"),
    ).select(READER_COLUMNS)
    return shown.rename({c: t(f"download.{c}", lang) for c in READER_COLUMNS})


def export_text(table: pl.DataFrame, fmt: str) -> str:
    """The table as CSV or JSON text: times in ISO 8601 with their UTC offset; snapshot_ids a list in JSON,
    comma-joined text in CSV (a cell holds no list), where no text cell is one a spreadsheet would run."""
    if fmt == "csv":
        joined = pl.col("snapshot_ids").cast(pl.List(pl.String)).list.join(",")
        return inert_text(table.with_columns(joined)).write_csv(datetime_format=_ISO_UTC)
    times = [name for name, dtype in table.schema.items() if isinstance(dtype, pl.Datetime)]
    return table.with_columns(pl.col(times).dt.to_string(_ISO_UTC)).write_json()


def write_export(table: pl.DataFrame, fmt: str, out: Path | None) -> str | None:
    """Write the table as csv, parquet or json to out (csv/json to the returned string when out is None)."""
    if fmt not in FORMATS:
        raise ValueError(f"export format: expected one of {FORMATS}, got {fmt!r}")
    if fmt == "parquet":
        if out is None:
            raise ValueError("export format parquet: needs --out FILE")
        with publish_file(out) as part:  # a killed export leaves the previous file, never half a file
            table.write_parquet(part)
        return None
    text = export_text(table, fmt)
    if out is None:
        return text
    with publish_file(out) as part:
        part.write_text(text, encoding="utf-8")
    return None
