"""Sets up the project (virtualenv + locked dependencies) and runs the main job or the full test suite.

python3 dev.py install # production: .venv with the locked runtime dependencies only (no test tools, no npm)
python3 dev.py setup   # development: .venv with the test and lint tools too, and npm ci for the browser tests
python3 dev.py run     # set up, then run the main job on the bundled snapshot into the SQLite file
python3 dev.py test    # set up, then ruff, mypy, import layers, pytest (needs PostgreSQL on 127.0.0.1:5432)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
UV_VERSION = "0.13.8"
BROWSER_TESTS = ROOT / "tests" / "browser"  # axe-core for tests/test_site_browser.py (package-lock.json)
PROJECT_CODE = ("common", "kestava", "ingest", "indicators", "storage", "report", "schedule", "scheduler.py")


def sh(*args: str | Path, env: dict[str, str] | None = None) -> None:
    """Run a command in the project folder; stop with its exit code if it fails."""
    print("+", " ".join(str(a) for a in args), flush=True)
    completed = subprocess.run([str(a) for a in args], cwd=ROOT, env=env, check=False)
    if completed.returncode != 0:
        raise SystemExit(completed.returncode)


def setup(*, dev: bool = True) -> None:
    """Create .venv and install exactly the locked dependencies (uv.lock) and the project itself; without
    dev, only what the tracker runs on (uv's --no-dev: no test, lint or notebook tools; those a development
    .venv had are removed)."""
    if not (BIN / "python").exists():
        venv.create(VENV, with_pip=True)
    if not (BIN / "uv").exists():
        sh(BIN / "python", "-m", "pip", "install", "--quiet", f"uv=={UV_VERSION}")
    # Bytecode compiled at install: without it every start of `kestava` (and environments that set
    # PYTHONDONTWRITEBYTECODE never write any) recompiles every imported module, seconds per command.
    sh(BIN / "uv", "sync", "--frozen", "--quiet", "--compile-bytecode", *([] if dev else ["--no-dev"]))
    sh(BIN / "python", "-m", "compileall", "-q", *PROJECT_CODE)  # the project itself is installed editable


def setup_browser_tests() -> None:
    """npm ci in tests/browser (axe-core, exactly as locked), only when the lock file changed since the
    last install; without npm, a note (the site's accessibility test fails under CI=true, else skips)."""
    lock = BROWSER_TESTS / "package-lock.json"
    stamp = BROWSER_TESTS / "node_modules" / ".kestava-lock"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == digest:
        return
    npm = shutil.which("npm")
    if npm is None:
        print("note: npm not found; tests/test_site_browser.py needs it (apt-get install -y npm)", flush=True)
        return
    sh(npm, "ci", "--prefix", BROWSER_TESTS, "--no-audit", "--no-fund", "--silent")
    stamp.write_text(digest, encoding="utf-8")


def env_with_venv() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "VIRTUAL_ENV": str(VENV)}


def main(argv: list[str]) -> None:
    if len(argv) < 1 or argv[0] not in ("install", "run", "test", "setup"):
        raise SystemExit(__doc__)
    if argv[0] == "install":  # production (README, "Running in production")
        setup(dev=False)
        return
    setup()
    if argv[0] in ("setup", "test"):  # `run` needs no npm (nor the registry)
        setup_browser_tests()
    env = env_with_venv()
    if argv[0] == "run":
        sh(BIN / "kestava", "run", *argv[1:], env=env)
    elif argv[0] == "test":
        sh(BIN / "ruff", "check", ".", env=env)
        sh(BIN / "ruff", "format", "--check", ".", env=env)
        sh(BIN / "mypy", ".", env=env)
        sh(BIN / "lint-imports", env=env)  # the layers (pyproject.toml [tool.importlinter], README Layout)
        sh(BIN / "python", "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3", env=env)
        # three workers on the two cores: the tests wait on subprocesses, browsers and the database about a
        # third of the time (two workers: 554 s, three: 460–496 s on an idle machine, 2026-12-07); loadfile:
        # each test file runs whole on one worker, so that its module fixtures (a loaded database, a built
        # site, rendered reports) are made once, not again each time a worker comes back to the file
        # (loadgroup dealt ungrouped tests out one by one: 23 % more CPU)
        # --durations: CI's log names the slowest tests, where the suite's time goes
        sh(BIN / "pytest", *(argv[1:] or ["-n", "3", "--dist", "loadfile", "--durations=40"]), env=env)


if __name__ == "__main__":
    main(sys.argv[1:])
