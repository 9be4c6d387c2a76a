"""Reconciliation across sources: differences as indicators with a status; a breach is a report warning."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine
from werkzeug import Request, Response

from common.helsinki import HELSINKI
from indicators.catalogue import IndicatorCatalogue, load_indicator_catalogue, parse_indicator_catalogue
from indicators.derive import derive_all
from indicators.engine import compute
from indicators.reconcile import breaches, latest_status, status_frame
from ingest.catalogue import load_catalogue
from ingest.http import LiveFetcher
from ingest.manifest import DEFAULT_SNAPSHOT_DIR
from ingest.run import ingest
from report import weekly
from report.charts import chart_table
from report.reconcile_chart import cross_source_checks
from report.theme import ChartMeta
from storage.rawstore import RawStore
from storage.validators import DbValidatorCache

VINTAGE = datetime(2026, 6, 1, 12, 0)
META = ChartMeta(sources=("HSY", "Syke"), licence="CC BY 4.0", vintage=date(2026, 6, 1))
TEXT = {"fi": "x", "sv": "x", "en": "x"}
NAME_NUMBER = itertools.count()  # each indicator a name of its own: the catalogue refuses two of one name


def indicator(unit: str, derive: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": {lang: f"{derive} {unit} {next(NAME_NUMBER)}" for lang in ("fi", "sv", "en")},
        "description": TEXT,
        "unit": unit,
        "direction": "decrease",
        "boundary": "test",
        "derive": derive,
        "assess": [],
        **extra,
    }


def catalogue() -> IndicatorCatalogue:
    return parse_indicator_catalogue(
        {
            "indicators": {
                "hsy_total": indicator("kt CO2e", {"kind": "sum", "dataset": "hsy", "unit_in": "kt CO2e"}),
                "syke_total": indicator("t CO2e", {"kind": "sum", "dataset": "syke", "unit_in": "t CO2e"}),
                "ghg_check": indicator(
                    "%", {"kind": "reconcile", "of": "hsy_total", "against": "syke_total", "tolerance": 10}
                ),
                "population": indicator(
                    "persons", {"kind": "select", "dataset": "pop", "unit_in": "persons"}
                ),
                "syke_population": indicator(
                    "persons", {"kind": "select", "dataset": "syke_population", "unit_in": "persons"}
                ),
                "population_check": indicator(
                    "%",
                    {"kind": "reconcile", "of": "population", "against": "syke_population", "tolerance": 0.5},
                ),
                "population_total_check": indicator(
                    "%", {"kind": "reconcile_total", "of": "population", "whole": "FI", "tolerance": 0.1}
                ),
            }
        }
    )


def observations(rows: list[tuple[str, str, float]], unit: str, snapshot: int) -> pl.DataFrame:
    """Stored observations as storage.read.observations expands them: (area, period, value) rows."""
    return pl.DataFrame(
        {
            "area": [r[0] for r in rows],
            "period": [r[1] for r in rows],
            "value": [r[2] for r in rows],
            "flag": [None] * len(rows),
            "unit": [unit] * len(rows),
            "snapshot_id": [snapshot] * len(rows),
            "valid_from": [VINTAGE] * len(rows),
        },
        schema_overrides={"flag": pl.String, "snapshot_id": pl.Int64},
    )


def derived() -> dict[str, pl.DataFrame]:
    inputs = {
        # Espoo 2022: HSY 1 100 kt against Syke 1 000 000 t (= 1 000 kt): +10 %, at the tolerance;
        # 2023: 1 200 kt against 1 000 kt: +20 %, beyond it. Vantaa has no Syke value: no check.
        "hsy": observations(
            [("049", "2022", 1100.0), ("049", "2023", 1200.0), ("092", "2023", 800.0)], "kt CO2e", 1
        ),
        "syke": observations([("049", "2022", 1_000_000.0), ("049", "2023", 1_000_000.0)], "t CO2e", 2),
        # StatFin: three municipalities and the country; 2023's municipalities add up to 1 000 short
        "pop": observations(
            [
                ("049", "2023", 300_000.0),
                ("091", "2023", 660_000.0),
                ("235", "2023", 10_000.0),
                ("FI", "2023", 971_000.0),
                ("049", "2022", 298_000.0),
                ("091", "2022", 655_000.0),
                ("235", "2022", 10_000.0),
                ("FI", "2022", 963_000.0),
            ],
            "persons",
            3,
        ),
        "syke_population": observations(
            [("049", "2023", 300_300.0), ("091", "2023", 680_000.0)], "persons", 4
        ),
    }
    done, errors = derive_all(catalogue(), inputs)
    assert errors == {}
    return done


def values(frame: pl.DataFrame) -> dict[tuple[str, str], float]:
    return {(r["area"], r["period"]): r["value"] for r in frame.iter_rows(named=True)}


def test_reconcile_is_the_difference_in_percent_of_the_reference_in_a_common_unit() -> None:
    frame = derived()["ghg_check"]
    assert values(frame) == pytest.approx({("049", "2022"): 10.0, ("049", "2023"): 20.0})
    assert frame["unit"].unique().to_list() == ["%"]
    assert sorted(frame.filter(pl.col("period") == "2023")["snapshot_ids"].to_list()[0]) == [1, 2]


def test_reconcile_total_compares_the_sum_of_municipalities_with_the_whole() -> None:
    frame = derived()["population_total_check"]
    # 2023: 970 000 against 971 000 → −0.103 %; 2022: 963 000 against 963 000 → 0
    assert values(frame) == pytest.approx({("FI", "2023"): -100 / 971, ("FI", "2022"): 0.0})
    assert sorted(frame["snapshot_ids"].to_list()[0]) == [3]


def test_reconcile_total_is_bit_identical_whatever_order_the_parts_come_in() -> None:
    # the parts were added in the order their rows came in: a revision of one municipality reorders
    # them, and the check of every year moved in its last bit, a spurious revision (issue 14)
    import random

    checks = parse_indicator_catalogue(
        {
            "indicators": {
                "v": indicator("kt CO2e", {"kind": "sum", "dataset": "d", "unit_in": "kt CO2e"}),
                "check": indicator(
                    "%", {"kind": "reconcile_total", "of": "v", "whole": "FI", "tolerance": 1}
                ),
            }
        }
    )
    draw = random.Random(14)
    rows = [
        (f"{a:03d}", str(y), draw.random() * 10.0 ** draw.randint(-3, 3))
        for a in range(1, 100)
        for y in range(2000, 2025)
    ]
    rows += [("FI", str(y), 1000.0) for y in range(2000, 2025)]
    found = set()
    for seed in range(8):
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        done, _ = derive_all(checks, {"d": observations(shuffled, "kt CO2e", 1)})
        found.add(tuple(done["check"].sort("period")["value"]))
    assert len(found) == 1
    (values_by_year,) = found
    sums = {y: sum(v for a, p, v in rows if p == y and a != "FI") for y in sorted({p for _, p, _ in rows})}
    assert list(values_by_year) == pytest.approx([(s / 1000.0 - 1) * 100 for s in sums.values()], rel=1e-9)


def test_status_is_a_breach_only_beyond_the_tolerance() -> None:
    done = derived()
    found = status_frame(pl.concat([done["ghg_check"], done["population_check"]]), catalogue())
    status = {(r["indicator"], r["area"], r["period"]): r["status"] for r in found.iter_rows(named=True)}
    assert status == {
        ("ghg_check", "049", "2022"): "ok",  # exactly at 10 %
        ("ghg_check", "049", "2023"): "breach",  # 20 % > 10 %
        ("population_check", "049", "2023"): "ok",  # −0.0999 %
        ("population_check", "091", "2023"): "breach",  # −2.9 %
    }
    assert set(found["tolerance"].to_list()) == {10.0, 0.5}


def test_catalogue_reconciliations_refer_to_existing_indicators_and_are_percentages() -> None:
    catalogue = load_indicator_catalogue()
    check = catalogue.get("reconcile_ghg_hsy_syke")
    assert check.unit == "%" and check.dependencies() == ["ghg_total", "syke_ghg_total"]
    assert catalogue.datasets_of("reconcile_ghg_hsy_syke") == {"hsy_emissions", "syke_emissions"}


def test_a_reconciliation_needs_a_percent_unit() -> None:
    bad = parse_indicator_catalogue(
        {
            "indicators": {
                "a": indicator("persons", {"kind": "select", "dataset": "pop", "unit_in": "persons"}),
                "b": indicator("persons", {"kind": "reconcile", "of": "a", "against": "a", "tolerance": 1}),
            }
        }
    )
    _, errors = derive_all(bad, {"pop": observations([("049", "2023", 1.0)], "persons", 1)})
    assert "indicator b: unit: expected '%'" in errors["b"]


# --------------------------------------------------------------------------------------------------
# end to end: HSY from the bundled snapshot, Syke from a real local HTTP server, on both databases


def syke_csv(factor: float) -> bytes:
    """The bundled Syke file for Espoo with its emission columns (kt, kt_tuuli) × factor."""
    lines = (
        (DEFAULT_SNAPSHOT_DIR / "syke_emissions" / "kunta_49.csv").read_text(encoding="utf-8").splitlines()
    )
    header = lines[0].split(";")
    scaled = [header.index("kt"), header.index("kt_tuuli")]
    out = [lines[0]]
    for line in lines[1:]:
        cells = line.split(";")
        for i in scaled:
            if re.fullmatch(r"-?\d+(,\d+)?", cells[i]):
                cells[i] = f"{float(cells[i].replace(',', '.')) * factor:.4f}".replace(".", ",")
        out.append(";".join(cells))
    return ("\n".join(out) + "\n").encode("utf-8")


@pytest.fixture
def syke_server(httpserver: HTTPServer) -> Iterator[dict[str, bytes]]:
    """Serves Espoo's file whether asked for as kunta_49.csv or kunta_049.csv."""
    served = {"body": syke_csv(1.0)}

    def handle(_request: Request) -> Response:
        return Response(served["body"], status=200, content_type="text/csv; charset=utf-8")

    httpserver.expect_request(re.compile(r"^/Tulokset_taso_5/kunta_0?49\.csv$")).respond_with_handler(handle)
    yield served
    httpserver.clear()


def load(engine: Engine, raw: RawStore, httpserver: HTTPServer) -> None:
    """HSY replayed from the bundled snapshot; Syke's Espoo file fetched from the local server."""
    assert all(o.ok for o in ingest(engine, raw, ["hsy_emissions"], offline=True))
    base = load_catalogue()
    options = {**base.dataset("syke_emissions").options, "municipalities": ["049"]}
    url = httpserver.url_for("/Tulokset_taso_5/kunta_{municipality}.csv")
    syke = base.dataset("syke_emissions").model_copy(update={"url": url, "options": options})
    only = base.model_copy(update={"datasets": {"syke_emissions": syke}})
    fetcher = LiveFetcher(DbValidatorCache(engine, raw), backoff_base=0.01, backoff_max=0.02, max_attempts=2)
    outcome = ingest(engine, raw, ["syke_emissions"], catalogue=only, fetcher=fetcher)[0]
    assert outcome.ok, outcome.error
    summary = compute(engine, datasets=["hsy_emissions", "syke_emissions"], today=date(2026, 11, 27))
    assert "reconcile_ghg_hsy_syke" not in summary.errors, summary.errors


def attention_section(engine: Engine, out: Path) -> str:
    iso = datetime.now(UTC).astimezone(HELSINKI).date().isocalendar()
    period = weekly.parse_week(f"{iso.year}-W{iso.week:02d}")
    html = weekly.build_report(engine, period, lang="en", out_dir=out, images=False).path.read_text()
    start = html.index("Cross-source checks")
    return html[start : html.index("<h3>", start + 1)]


@pytest.mark.usefixtures("mixed_data_allowed")  # HSY replayed (demo), Syke from a local server (live)
def test_a_syke_total_beyond_tolerance_of_hsy_shows_in_the_reports_attention_section(
    engine: Engine, tmp_path: Path, httpserver: HTTPServer, syke_server: dict[str, bytes]
) -> None:
    raw = RawStore(tmp_path / "raw")
    syke_server["body"] = syke_csv(1.5)  # Syke's Espoo half as large again: HSY is a third below it
    load(engine, raw, httpserver)

    (espoo,) = breaches(engine).filter(pl.col("area") == "049").iter_rows(named=True)
    assert espoo["indicator"] == "reconcile_ghg_hsy_syke" and espoo["status"] == "breach"
    assert espoo["value"] < -25.0 and espoo["tolerance"] == 25.0
    section = attention_section(engine, tmp_path / "reports")
    assert "Emissions difference: HSY vs Syke" in section and "Espoo" in section
    assert "±25" in section and "beyond tolerance" in section
    html = (tmp_path / "reports").rglob("report.html").__next__().read_text()
    assert "Cross-source check: HSY vs Syke" in html and "beyond the tolerance of ±25%" in html


@pytest.mark.usefixtures("mixed_data_allowed")  # HSY replayed (demo), Syke from a local server (live)
def test_agreeing_sources_leave_the_attention_section_clear(
    engine: Engine, tmp_path: Path, httpserver: HTTPServer, syke_server: dict[str, bytes]
) -> None:
    raw = RawStore(tmp_path / "raw")
    load(engine, raw, httpserver)

    status = latest_status(engine).filter(pl.col("area") == "049")
    assert status["status"].to_list() == ["ok"]
    assert -25.0 < status["value"][0] < 0  # the bundled HSY total is some per cent below Syke's
    assert breaches(engine).height == 0
    section = attention_section(engine, tmp_path / "reports")
    assert "The sources agree with each other" in section


def test_the_national_population_check_runs_when_the_country_is_fetched_and_is_empty_otherwise() -> None:
    catalogue = load_indicator_catalogue()
    municipalities = [("049", "2023", 300_000.0), ("091", "2023", 670_000.0)]
    with_country = observations([*municipalities, ("FI", "2023", 1_000_000.0)], "persons", 7)
    rows = with_country.with_columns(pl.lit("vaesto").alias("measure"))
    wanted = ["reconcile_population_national"]
    done, errors = derive_all(catalogue, {"statfin_population": rows}, wanted)
    assert errors == {}
    assert values(done["reconcile_population_national"]) == pytest.approx({("FI", "2023"): -3.0})
    status = status_frame(done["reconcile_population_national"], catalogue)
    assert status["status"].to_list() == ["breach"]  # 3 % of the country missing: beyond 0.1 %
    without = rows.filter(pl.col("area") != "FI")
    done, errors = derive_all(catalogue, {"statfin_population": without}, wanted)
    assert errors == {} and done["reconcile_population_national"].height == 0


# --------------------------------------------------------------------------------------------------
# the chart of the difference


def chart_frame(espoo_latest: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "area": ["049", "049", "091", "091"],
            "year": [2023, 2024, 2023, 2024],
            "value": [-12.0, espoo_latest, -4.0, -6.5],
            "tolerance": [25.0] * 4,
        }
    )


@pytest.mark.parametrize(
    ("lang", "latest", "expected"),
    [
        (
            "en",
            -14.2,
            "Espoo: HSY's emissions in 2024 are 14% below Syke's figure, within the tolerance of ±25%",
        ),
        (
            "fi",
            30.0,
            "Espoo: HSY:n päästöt 2024 ovat 30\u00a0% suuremmat kuin Syken luku, yli toleranssin ±25\u00a0%",
        ),
        (
            "sv",
            -14.2,
            "Esbo: HSY:s utsläpp 2024 är 14\u00a0% lägre än Sykes siffra, inom toleransen ±25\u00a0%",
        ),
    ],
)
def test_the_chart_title_states_the_difference_and_whether_it_is_within_tolerance(
    lang: str, latest: float, expected: str
) -> None:
    chart = cross_source_checks(chart_frame(latest), meta=META, lang=lang)
    spec = chart.to_dict()
    title = (
        " ".join(spec["title"]["text"]) if isinstance(spec["title"]["text"], list) else spec["title"]["text"]
    )
    assert title.startswith(expected)
    table = chart_table(chart)
    assert table.columns == ["area_key", "area", "year", "difference", "tolerance"]
    assert table.filter(pl.col("area_key") == "espoo")["difference"].to_list() == [-12.0, latest]
    if lang == "en":  # −12 and −14.2 are inside ±25 %
        assert "0 values lie outside" in spec["description"]


def test_the_chart_refuses_mixed_tolerances_naming_the_chart() -> None:
    frame = chart_frame(-14.2).with_columns(pl.Series("tolerance", [25.0, 25.0, 10.0, 10.0]))
    with pytest.raises(ValueError, match="cross_source_checks: `frame` has several tolerances"):
        cross_source_checks(frame, meta=META, lang="en")


def test_the_bundled_run_checks_the_municipalities_against_the_country(loaded_engine: Engine) -> None:
    """statfin_population keeps the whole country (keep_country): the national check has values, and the
    demo's municipalities add up to its country total."""
    from kestava import api

    found = api.indicator_values("reconcile_population_national", area="FI", engine=loaded_engine)
    observed = found.filter(pl.col("kind") == "observed")
    assert observed.height > 0
    assert observed["value"].abs().max() == pytest.approx(0, abs=1e-9)
    population = api.indicator_values("population", area="FI", kind="observed", engine=loaded_engine)
    assert population.height == 35  # 1990–2024
    assert population["value"].is_between(4_500_000, 6_000_000).all()  # Finland: 5.0 million in 1990
