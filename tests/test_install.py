"""The production install (`python3 dev.py install`: uv.lock's runtime dependencies, no dev group) has every
package the tracker imports: no module of the tracker imports a package that only the dev group brings."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from dev import PROJECT_CODE

ROOT = Path(__file__).resolve().parent.parent
OWN = {Path(name).stem for name in PROJECT_CODE}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_distributions() -> set[str]:
    """Every distribution uv.lock installs without the dev group: the project's dependencies (with their
    extras) and theirs, to the end (markers ignored: a superset for any platform)."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    packages = {_normal(p["name"]): p for p in lock["package"]}
    wanted = [(_normal(d["name"]), tuple(d.get("extra", ()))) for d in packages["kestava"]["dependencies"]]
    found: set[str] = set()
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while wanted:
        name, extras = wanted.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        found.add(name)
        package = packages[name]
        deps = list(package.get("dependencies", []))
        for extra in extras:
            deps += package.get("optional-dependencies", {}).get(extra, [])
        wanted += [(_normal(d["name"]), tuple(d.get("extra", ()))) for d in deps]
    return found


def imported_packages() -> dict[str, set[str]]:
    """Top-level name of each module the tracker's code imports (anywhere: at the top or in a function) ->
    the files that import it; the standard library's and the tracker's own left out."""
    files = [
        p
        for name in PROJECT_CODE
        for p in ([ROOT / name] if name.endswith(".py") else (ROOT / name).rglob("*.py"))
    ]
    imported: dict[str, set[str]] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in OWN:
                    imported.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return imported


def test_every_package_the_tracker_imports_is_a_runtime_dependency() -> None:
    runtime = runtime_distributions()
    assert {"polars", "sqlalchemy", "altair"} <= runtime and "pytest" not in runtime  # (the walk itself)
    providers = packages_distributions()
    imported = imported_packages()
    assert {"polars", "sqlalchemy", "typer"} <= imported.keys()
    dev_only = {
        name: sorted(where)
        for name, where in imported.items()
        if not any(_normal(d) in runtime for d in providers.get(name, [name]))
    }
    assert dev_only == {}, f"imported by the tracker but installed only by the dev group: {dev_only}"
