"""Chart specs drawn as SVG and PNG by vl-convert, in worker processes (its PNG step holds the GIL)."""

from __future__ import annotations

import io
import os
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final

from common.spawn import main_module_hidden, spawned_pool

PNG_SCALE: Final = 2.0  # the PNG file: twice the CSS size, sharp on high-density screens and slides
EMBED_SCALE: Final = 1.0  # the PNG inlined in the page for readers without JavaScript: a third of the bytes
# The inlined PNG is the file's PNG reduced by this whole factor (each pixel the mean of a 2 × 2 block), not
# drawn again: vl-convert's drawing opens and maps the font file once per glyph, so a second drawing of each
# chart cost more than the first one's reduction (about 110 ms against 40 ms per chart), and the reduced
# image is half the bytes of vl-convert's own PNG at that size.
EMBED_REDUCTION: Final = round(PNG_SCALE / EMBED_SCALE)
assert EMBED_REDUCTION * EMBED_SCALE == PNG_SCALE, "the inlined scale must divide the file's scale"


_WARM_UP_SPEC: Final = {"data": {"values": [{"x": 1}]}, "mark": "point", "encoding": {"x": {"field": "x"}}}


@dataclass(frozen=True)
class Rendered:
    """One chart drawn: the SVG file, the PNG file (PNG_SCALE) and the PNG inlined in the page."""

    svg: str
    png: bytes
    embedded: bytes


def render(spec: dict[str, Any], svg_only: bool = False) -> Rendered:
    """Draw one Vega-Lite spec (here, in this process); svg_only: no PNGs (empty bytes)."""
    import vl_convert as vlc

    svg = vlc.vegalite_to_svg(spec)
    if svg_only:
        return Rendered(svg, b"", b"")
    png = vlc.svg_to_png(svg, scale=PNG_SCALE)
    return Rendered(svg, png, reduced_png(png, EMBED_REDUCTION))


def reduced_png(png: bytes, factor: int) -> bytes:
    """The PNG made factor times smaller in each direction, each pixel the mean of a factor × factor block."""
    from PIL import Image  # imported by the drawing workers only

    with Image.open(io.BytesIO(png)) as image:
        smaller = image.reduce(factor)
    out = io.BytesIO()
    smaller.save(out, format="PNG", compress_level=1)  # fast; still half the bytes of vl-convert's own
    return out.getvalue()


def default_workers() -> int:
    """Worker processes for drawing: KESTAVA_RENDER_WORKERS, else one per core up to two (0: draw here)."""
    configured = os.environ.get("KESTAVA_RENDER_WORKERS")
    if configured is not None and configured.strip():
        try:
            workers = int(configured)
        except ValueError:
            raise ValueError(
                f"KESTAVA_RENDER_WORKERS: expected a whole number >= 0, got {configured!r}"
            ) from None
        if workers < 0:
            raise ValueError(f"KESTAVA_RENDER_WORKERS: expected a whole number >= 0, got {configured!r}")
        return workers
    return min(2, os.cpu_count() or 1)


class Renderer:
    """Draws specs in a pool of worker processes started on first use (with workers=0, in this process).

    Use as a context manager: the pool is shut down when the block ends. The workers are spawned (not
    forked: vl-convert runs its own threads), import only vl-convert, and live for the whole report run,
    so the cost of starting its JavaScript engine is paid once per worker, not once per chart.
    """

    def __init__(self, workers: int | None = None) -> None:
        from report.render_cache import cache_folder  # it imports this module's Rendered

        self.workers = default_workers() if workers is None else workers
        self._pool: ProcessPoolExecutor | None = None
        self._cache = cache_folder()

    def __enter__(self) -> Renderer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def warm(self) -> None:
        """Start the workers now and have each draw a tiny chart, so that their start and vl-convert's
        first-drawing cost (about half a second each) overlap whatever the caller does before drawing.
        With a cache of drawn charts (KESTAVA_RENDER_CACHE) they start at the first chart not in it."""
        if self._cache is not None:
            return
        for _ in range(self.workers):
            self.submit(_WARM_UP_SPEC, svg_only=True)

    def submit(self, spec: dict[str, Any], *, svg_only: bool = False) -> Future[Rendered]:
        """Start drawing a spec; the future's result is the Rendered chart (or the drawing's error). With
        KESTAVA_RENDER_CACHE, a spec drawn before is read from the cache, and a new drawing kept in it."""
        if self._cache is None:
            return self._draw(spec, svg_only)
        from report import render_cache

        folder, key = self._cache, render_cache.spec_key(spec, svg_only)
        kept = render_cache.read(folder, key)
        if kept is not None:
            done: Future[Rendered] = Future()
            done.set_result(kept)
            return done
        future = self._draw(spec, svg_only)

        def keep(drawn: Future[Rendered]) -> None:
            if not drawn.cancelled() and drawn.exception() is None:
                render_cache.write(folder, key, drawn.result())

        future.add_done_callback(keep)
        return future

    def _draw(self, spec: dict[str, Any], svg_only: bool) -> Future[Rendered]:
        """Draw a spec in this process (workers=0) or start drawing it in a worker."""
        if self.workers == 0:
            future: Future[Rendered] = Future()
            try:
                future.set_result(render(spec, svg_only))
            except Exception as error:  # the caller gets it from future.result(), as from a worker
                future.set_exception(error)
            return future
        if self._pool is None:
            self._pool = spawned_pool(self.workers)
        with main_module_hidden():  # a worker may be started here
            return self._pool.submit(render, spec, svg_only)
