"""Charts drawn in worker processes: the same files as drawn here, safe from an unguarded script, and kept
in a cache of drawn charts (KESTAVA_RENDER_CACHE) when one is set."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import vl_convert as vlc
from PIL import Image, ImageChops, ImageStat

from report import render_cache
from report.render import EMBED_SCALE, PNG_SCALE, Rendered, Renderer, default_workers, reduced_png, render

ROOT = Path(__file__).resolve().parent.parent

SPEC: dict[str, Any] = {
    "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
    "data": {"values": [{"year": 1990 + i, "kt": 1000 - 20 * i} for i in range(30)]},
    "mark": "line",
    "encoding": {"x": {"field": "year", "type": "ordinal"}, "y": {"field": "kt", "type": "quantitative"}},
    "title": "Päästöt – Utsläpp",
}


@pytest.fixture(autouse=True)
def no_render_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """The drawing itself is under test here: no cache of drawn charts (tests/conftest.py sets one)."""
    monkeypatch.delenv(render_cache.SETTING, raising=False)


def test_workers_draw_the_same_files_as_this_process() -> None:
    here = render(SPEC)
    with Renderer(2) as renderer:
        futures = [renderer.submit({**SPEC, "title": f"chart {i}"}) for i in range(3)]
        drawn = [f.result(timeout=120) for f in futures]
        again = renderer.submit(SPEC).result(timeout=120)
    assert again == here  # SVG text and both PNGs, byte for byte
    assert [all(f"chart {j}" in d.svg for j in range(3) if j != i) for i, d in enumerate(drawn)] == [
        False
    ] * 3
    assert all(f"chart {i}" in d.svg for i, d in enumerate(drawn))  # each its own chart, in order
    assert here.png.startswith(b"\x89PNG") and len(here.embedded) < len(here.png)


def _image(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def test_the_inlined_png_looks_like_the_chart_drawn_at_its_scale() -> None:
    drawn = render(SPEC)
    inlined, own = _image(drawn.embedded), _image(vlc.svg_to_png(drawn.svg, scale=EMBED_SCALE))
    big = _image(drawn.png)
    assert inlined.size == own.size == (round(big.width / PNG_SCALE), round(big.height / PNG_SCALE))
    # the same drawing: on average within 1 of 255 per channel of vl-convert's own at that scale (anti-
    # aliasing differs), whereas the chart against a blank image differs by more than that
    blank = Image.new("RGB", own.size, "white")
    assert max(ImageStat.Stat(ImageChops.difference(inlined, own)).mean) < 1
    assert min(ImageStat.Stat(ImageChops.difference(blank, own)).mean) > 3


def test_a_png_is_reduced_by_block_means() -> None:
    image = Image.new("RGB", (4, 2), "white")
    image.putpixel((0, 0), (0, 0, 0))  # one black pixel of the first 2 × 2 block
    out = io.BytesIO()
    image.save(out, format="PNG")
    reduced = _image(reduced_png(out.getvalue(), 2))
    assert reduced.size == (2, 1)
    assert reduced.getpixel((0, 0)) in {(191, 191, 191), (192, 192, 192)}  # 3 white and 1 black: 3/4 of 255
    assert reduced.getpixel((1, 0)) == (255, 255, 255)


def test_warming_starts_every_worker_before_the_first_chart() -> None:
    with Renderer(2) as renderer:
        renderer.warm()
        pool = renderer._pool
        assert pool is not None and len(pool._processes) == 2  # both spawned, before any chart is asked for
        assert renderer.submit(SPEC).result(timeout=120) == render(SPEC)  # the same pool draws the charts
    with Renderer(0) as in_process:
        in_process.warm()
        assert in_process._pool is None  # drawing in this process: nothing to start


def test_a_drawing_error_reaches_the_caller() -> None:
    broken = {**SPEC, "mark": "no-such-mark"}
    for workers in (0, 1):
        with (
            Renderer(workers) as renderer,
            pytest.raises(ValueError, match="Vega-Lite to SVG conversion failed"),
        ):
            renderer.submit(broken).result(timeout=120)


def test_a_script_without_a_main_guard_is_not_run_again_by_the_workers(tmp_path: Path) -> None:
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(ROOT)!r})
            from report.render import Renderer
            print("script ran", flush=True)
            with Renderer(2) as renderer:
                print(len(renderer.submit({SPEC!r}).result(timeout=60).png) > 0, flush=True)
            """
        ),
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=180, check=False, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["script ran", "True"]


def test_the_number_of_workers_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KESTAVA_RENDER_WORKERS", "0")
    assert default_workers() == 0 and Renderer().workers == 0
    monkeypatch.setenv("KESTAVA_RENDER_WORKERS", "3")
    assert default_workers() == 3
    for bad in ("-1", "two"):
        monkeypatch.setenv("KESTAVA_RENDER_WORKERS", bad)
        with pytest.raises(
            ValueError, match=f"KESTAVA_RENDER_WORKERS: expected a whole number >= 0, got '{bad}'"
        ):
            default_workers()
    monkeypatch.delenv("KESTAVA_RENDER_WORKERS")
    assert default_workers() == min(2, os.cpu_count() or 1)


def test_a_chart_in_the_cache_is_read_not_drawn_and_a_new_one_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spec drawn once is read from KESTAVA_RENDER_CACHE by the next run, byte for byte; a spec that
    differs (its data, or SVG only) is drawn and kept beside it."""
    monkeypatch.setenv(render_cache.SETTING, str(tmp_path / "cache"))
    with Renderer(0) as renderer:
        first = renderer.submit(SPEC).result()
    assert first == render(SPEC) and len(list((tmp_path / "cache").glob("*.chart"))) == 1

    def no_drawing(spec: dict[str, Any], svg_only: bool = False) -> Rendered:
        raise AssertionError("drawn again")

    monkeypatch.setattr("report.render.render", no_drawing)
    with Renderer(0) as renderer:
        assert renderer.submit(SPEC).result() == first
        other = {**SPEC, "data": {"values": [{"year": 1990, "kt": 1}]}}
        with pytest.raises(AssertionError, match="drawn again"):
            renderer.submit(other).result()
        with pytest.raises(AssertionError, match="drawn again"):
            renderer.submit(SPEC, svg_only=True).result()
    assert len(list((tmp_path / "cache").glob("*.chart"))) == 1  # a failed drawing is not kept


def test_a_damaged_cache_entry_is_drawn_again_and_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cut or garbled file in the cache (a full disk, a copy) is not a chart: it is drawn again."""
    monkeypatch.setenv(render_cache.SETTING, str(tmp_path))
    with Renderer(2) as renderer:  # kept by the worker's drawing too
        drawn = renderer.submit(SPEC).result(timeout=120)
    [kept] = tmp_path.glob("*.chart")
    whole = kept.read_bytes()
    for damaged in (whole[: len(whole) // 2], b"not a chart", b'{"svg": 1}\nx'):
        kept.write_bytes(damaged)
        assert render_cache.read(tmp_path, kept.stem) is None
        with Renderer(0) as renderer:
            assert renderer.submit(SPEC).result() == drawn
        assert kept.read_bytes() == whole


def test_a_cache_folder_that_cannot_be_made_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv(render_cache.SETTING, str(tmp_path / "file" / "cache"))
    with pytest.raises(ValueError, match=r"KESTAVA_RENDER_CACHE: cannot make the folder '.*file/cache'"):
        Renderer(0)
