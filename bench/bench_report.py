"""Benchmark: the whole weekly report (9 charts, 3 languages, HTML+PNG+SVG+CSV) against vl-convert alone.

    .venv/bin/python bench/bench_report.py [--keep DIR] [--pairs 6]

Builds a database in a temporary folder (offline ingest of the bundled snapshot, then compute), writes
the weekly report in fi, sv and en, and renders the same nine chart specs with vl-convert alone (PNG at
the report's scale + SVG, each from the spec), after checking that every SVG the report wrote is what
vl-convert makes of the same spec. Then report and vl-convert alone run in interleaved pairs, the
languages in turn. Goal: the report for one language takes under 3× what vl-convert alone needs for
those specs (median ratio). Prints the figures and OK/FAIL; exits 1 on FAIL.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import vl_convert as vlc
from bench_stats import interleave, spread

from indicators.engine import compute
from ingest.run import ingest
from report import weekly
from storage.engine import open_database
from storage.rawstore import RawStore

GOAL = 3.0  # report for one language / vl-convert alone on the same specs, at most
LANGS = ("fi", "sv", "en")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the reports here instead of a temporary folder")
    parser.add_argument("--pairs", type=int, default=6, help="interleaved pairs (at least 5)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        engine = open_database(f"sqlite:///{folder / 'bench.sqlite3'}")
        outcomes = ingest(engine, RawStore(folder / "raw"), offline=True)
        if not all(o.ok for o in outcomes):
            print("ingest failed:", [o.error for o in outcomes if not o.ok])
            return 1
        summary = compute(engine, today=date.today())
        print(f"database: {time.perf_counter() - start:.1f} s ({summary.summary()})")
        out = args.keep or folder / "reports"
        week = weekly.current_week()

        # warm-up: vl-convert's JavaScript runtime and the Vega bundle, outside every timing
        weekly.javascript_bundle()
        vlc.vegalite_to_svg({"mark": "point", "data": {"values": [{"a": 1}]}, "encoding": {}})

        results = {lang: weekly.build_report(engine, week, lang=lang, out_dir=out) for lang in LANGS}

        def alone(lang: str) -> float:
            """vl-convert alone: the same specs, PNG (same scale) and SVG, each straight from the spec."""
            began = time.perf_counter()
            for chart in results[lang].charts:
                if chart.spec is not None:
                    vlc.vegalite_to_png(chart.spec, scale=weekly.PNG_SCALE)
                    vlc.vegalite_to_svg(chart.spec)
            return time.perf_counter() - began

        # both sides draw the same charts: every SVG the report wrote is what vl-convert makes of its spec
        differ = [
            f"{lang}/{chart.name}"
            for lang, result in results.items()
            for chart in result.charts
            if chart.spec is not None
            and (
                chart.svg is None
                or (result.path.parent / chart.svg).read_text(encoding="utf-8")
                != vlc.vegalite_to_svg(chart.spec)
            )
        ]
        drawn = {
            lang: sum(1 for c in result.charts if c.spec is not None) for lang, result in results.items()
        }
        same = "yes" if not differ else "NO"
        print(f"charts drawn per language: {drawn}; SVGs equal to vl-convert alone: {same}")
        for name in differ:
            print(f"  differs: {name}")

        # interleaved pairs (report, vl-convert alone), the languages in turn
        langs = iter(LANGS * args.pairs)
        current: list[str] = []

        def report() -> float:
            current.append(next(langs))
            result = weekly.build_report(engine, week, lang=current[-1], out_dir=out)
            return result.timings["total"]

        pairs = interleave(report, lambda: alone(current[-1]), args.pairs)
        engine.dispose()
        median = spread(pairs.ratios)[1]
        ok = median < GOAL and not differ
        print(
            f"weekly report {week.key}, one language per pair ({', '.join(current)}): "
            f"{pairs.summary('report', 'vl-convert alone')} (goal median < {GOAL:.0f}x) "
            + ("OK" if ok else "FAIL")
        )
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
