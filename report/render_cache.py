"""Charts already drawn, kept in a folder by their spec's digest (KESTAVA_RENDER_CACHE), read not drawn."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

from report.render import EMBED_REDUCTION, PNG_SCALE, Rendered

SETTING: Final = "KESTAVA_RENDER_CACHE"
_PARTS: Final = ("svg", "png", "embedded")


def cache_folder() -> Path | None:
    """The folder KESTAVA_RENDER_CACHE names (made if missing), or None when unset (no cache)."""
    configured = os.environ.get(SETTING, "").strip()
    if not configured:
        return None
    folder = Path(configured)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"{SETTING}: cannot make the folder {configured!r}: {error.strerror}") from None
    return folder


@functools.cache
def _vl_convert_version() -> str:
    """vl-convert's installed version (read from its metadata once per process, not once per chart)."""
    return version("vl-convert-python")


def spec_key(spec: dict[str, Any], svg_only: bool) -> str:
    """The digest naming one drawing: the spec (keys sorted), what is drawn, the scales and vl-convert's
    version (a new vl-convert may draw the same spec differently)."""
    what = {
        "spec": spec,
        "svg_only": svg_only,
        "png_scale": PNG_SCALE,
        "embed_reduction": EMBED_REDUCTION,
        "vl_convert": _vl_convert_version(),
    }
    text = json.dumps(what, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read(folder: Path, key: str) -> Rendered | None:
    """The drawing kept under key, or None if there is none (or it is unreadable: then it is drawn again)."""
    try:
        data = (folder / f"{key}.chart").read_bytes()
        header, _, body = data.partition(b"\n")
        sizes = json.loads(header)
        parts: list[bytes] = []
        at = 0
        for name in _PARTS:
            size = int(sizes[name])
            parts.append(body[at : at + size])
            at += size
        if at != len(body):
            return None
        return Rendered(parts[0].decode("utf-8"), parts[1], parts[2])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write(folder: Path, key: str, rendered: Rendered) -> None:
    """Keep a drawing under key: written beside it and renamed into place, so that a reader (another
    process drawing the same chart) sees the whole file or none."""
    parts = (rendered.svg.encode("utf-8"), rendered.png, rendered.embedded)
    header = json.dumps({name: len(part) for name, part in zip(_PARTS, parts, strict=True)}).encode()
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{key}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(header + b"\n" + b"".join(parts))
        Path(temporary).replace(folder / f"{key}.chart")
    except OSError:
        Path(temporary).unlink(missing_ok=True)  # a cache that cannot be written is only slower
