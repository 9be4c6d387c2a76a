"""The kestava command line: every command has help, the main flow works, bad arguments get clear errors."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from kestava.cli import app
from kestava.config import get_settings

runner = CliRunner()
COMMANDS = ["ingest", "sources", "compute", "indicators", "export", "migrate", "run", "report", "status"]


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """The CLI configures logging on the runner's temporary stderr; put the previous set-up back."""
    root, httpx = logging.getLogger(), logging.getLogger("httpx")
    handlers, level, httpx_level = root.handlers[:], root.level, httpx.level
    yield
    root.handlers[:], root.level = handlers, level
    httpx.setLevel(httpx_level)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private data folder (SQLite file and raw store) for the commands."""
    monkeypatch.setenv("KESTAVA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("KESTAVA_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_command_has_help(command: str | None) -> None:
    result = runner.invoke(app, [command, "--help"] if command else ["--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_reports_follow_the_data_dir_unless_set(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_settings().reports == data_dir / "reports"
    monkeypatch.setenv("KESTAVA_REPORT_DIR", str(data_dir / "elsewhere"))
    get_settings.cache_clear()
    assert get_settings().reports == data_dir / "elsewhere"


def test_offline_ingest_compute_sources_export(data_dir: Path) -> None:
    result = runner.invoke(app, ["ingest", "--offline", "hsy_emissions", "statfin_population"])
    assert result.exit_code == 0, result.output
    assert "2 datasets: 2 loaded" in result.output
    again = runner.invoke(app, ["ingest", "--offline", "hsy_emissions"])
    assert "1 unchanged payloads skipped" in again.output
    computed = runner.invoke(app, ["compute"])
    assert "compute:" in computed.output
    sources = runner.invoke(app, ["sources", "--json"])
    rows = {r["dataset"]: r for r in json.loads(sources.output)}
    assert rows["hsy_emissions"]["latest_period"] == "2024" and rows["hsy_emissions"]["is_demo"] is True
    assert rows["syke_emissions"]["state"] == "never"
    out = data_dir / "ghg.csv"
    exported = runner.invoke(
        app, ["export", "ghg_total", "--area", "049", "--format", "csv", "--out", str(out)]
    )
    assert exported.exit_code == 0, exported.output
    table = pl.read_csv(out)
    assert table.filter(pl.col("kind") == "target")["value"].to_list() == [pytest.approx(212, abs=1)]
    listing = runner.invoke(app, ["indicators", "--lang", "sv"])
    assert "Växthusgasutsläpp" in listing.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "--offline", "no_such_dataset"], "unknown dataset 'no_such_dataset'"),
        (["export", "no_such_indicator"], "unknown indicator 'no_such_indicator'"),
        (["export", "ghg_total", "--format", "xlsx"], "expected one of csv, parquet, json"),
        (["export", "ghg_total", "--format", "parquet"], "needs --out FILE"),
    ],
)
def test_bad_arguments_get_clear_errors(data_dir: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
