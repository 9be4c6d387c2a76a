"""Stand-ins for the site's slow parts in tests that read pages, not drawings: placeholder charts and XLSX."""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path
from typing import Any

from report.render import Rendered, Renderer


class PlaceholderRenderer(Renderer):
    """Charts as placeholder SVGs of the spec's size: drawing 120 charts with vl-convert takes half a minute,
    and the pages show them as <img> with alt text (the drawing itself is tested in tests/test_charts.py)."""

    def __init__(self) -> None:
        super().__init__(workers=0)

    def submit(self, spec: dict[str, Any], *, svg_only: bool = False) -> Future[Rendered]:
        width = spec["width"] + 80 if isinstance(spec.get("width"), int) else 640  # + axes and legend
        height = spec["height"] + 90 if isinstance(spec.get("height"), int) else 350
        svg = (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}"><rect x="1" y="1" width="{width - 2}" height="{height - 2}" '
            'fill="#f4f8fb" stroke="#005a8c"/>'
            '<text x="12" y="28" font-size="14">chart placeholder</text></svg>'
        )
        future: Future[Rendered] = Future()
        future.set_result(Rendered(svg, b"", b""))
        return future


def placeholder_xlsx(frame: Any, target: Path, *args: Any) -> None:
    target.write_bytes(b"placeholder")
