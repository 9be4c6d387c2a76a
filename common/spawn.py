"""Starting worker processes by spawn without running the caller's main script again in each."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager


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
