"""Worker processes end with the process that started them, even when it is killed outright."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# each script starts one kind of worker, prints the workers' process ids, then waits to be killed
STARTERS = {
    "drawing": """
        from report.render import Renderer
        renderer = Renderer(2).__enter__()
        renderer.warm()
        renderer.submit({"data": {"values": [{"x": 1}]}, "mark": "point"}).result(timeout=120)
        pids = list(renderer._pool._processes)
    """,
    "sqlite read": """
        from storage import sqlite_arrow
        assert sqlite_arrow.wait(120)
        pids = list(sqlite_arrow._pool._processes)
    """,
}


def _alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
@pytest.mark.parametrize("kind", sorted(STARTERS))
def test_workers_exit_when_their_parent_is_killed(kind: str) -> None:
    script = (
        textwrap.dedent(STARTERS[kind])
        + "import json, sys, time\nprint(json.dumps(pids), flush=True)\ntime.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    try:
        assert parent.stdout is not None
        pids = json.loads(parent.stdout.readline())
        assert pids and all(_alive(pid) for pid in pids)
    finally:
        parent.send_signal(signal.SIGKILL)  # no shutdown, no atexit: as the out-of-memory killer does
        parent.wait(30)
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in pids if _alive(pid)]
    for pid in left:  # do not leave them behind when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not left, f"{kind} workers {left} outlived their killed parent"
