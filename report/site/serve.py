"""`kestava site --serve`: a preview of the built site on 127.0.0.1 (the standard library's file server)."""

from __future__ import annotations

import contextlib
import functools
import http.server
from pathlib import Path


def make_server(folder: Path, port: int = 8000) -> http.server.ThreadingHTTPServer:
    """A file server for `folder` bound to 127.0.0.1 only (port 0: any free port)."""
    # the folder as given (a link to the published build): each request sees the newest build
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)


def serve(folder: Path, port: int = 8000) -> None:
    """Serve `folder` on http://127.0.0.1:<port>/ until interrupted (never on other interfaces)."""
    with make_server(folder, port) as server:
        print(f"serving {folder} on http://127.0.0.1:{server.server_address[1]}/ (Ctrl+C stops)")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
