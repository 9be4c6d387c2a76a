"""Starting worker processes by spawn: not running the caller's main script again, not outliving it."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
import types
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Final

PARENT_POLL_S: Final = 0.5  # how often a worker looks whether its parent is still there


@contextmanager
def main_module_hidden() -> Iterator[None]:
    """While workers start: a bare __main__, so that a spawned worker does not import the caller's script.

    multiprocessing's spawn runs the parent's main script again in every worker (to find functions
    defined there); a script that calls the tracker without an `if __name__ == "__main__":` guard
    would then run itself in each worker, which waits for work that never comes. The workers need
    nothing from it: their functions are imported from the tracker's own modules.
    """
    modules = sys.modules
    main = modules.get("__main__")
    modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            modules["__main__"] = main


def spawned_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` spawned processes, each of which exits when the process that made it dies.

    A pool's workers otherwise outlive a parent that is killed (SIGKILL, the out-of-memory killer, a
    service manager's stop timeout): each holds both ends of its own task queue, so it never sees the
    queue close, and waits for work for ever, with its memory (a drawing worker holds ~130 MB).
    """
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=exit_with_parent,
        initargs=(os.getpid(),),
    )


def exit_with_parent(parent: int) -> None:
    """In a worker: end this process (at once, whatever it is doing) as soon as `parent` is not its parent
    any more, i.e. the parent died and the worker was handed to another process."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
