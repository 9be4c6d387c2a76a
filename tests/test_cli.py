"""The kestava command line: every command has help, the main flow works, bad arguments get clear errors."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import typer
import typer.main
from typer.testing import CliRunner

from common.config import get_settings
from common.errors import EXIT_FAILED, EXIT_INTERNAL, EXIT_USAGE
from kestava.cli import app

runner = CliRunner()
COMMANDS = [
    "ingest",
    "sources",
    "compute",
    "indicators",
    "export",
    "migrate",
    "run",
    "report",
    "site",
    "status",
    "accept",
    "probe",
    "note",
]


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


def test_the_list_of_commands_is_complete() -> None:
    assert sorted(typer.main.get_command(app).commands) == sorted(COMMANDS)  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_command_has_help_and_the_exit_codes(command: str | None) -> None:
    result = runner.invoke(app, [command, "--help"] if command else ["--help"])
    assert result.exit_code == 0 and "Usage" in result.output
    text = " ".join(result.output.replace("│", " ").split())
    assert "Exit codes: 0 done" in text and "2 could not run" in text
    if command:
        help_text = typer.main.get_command(app).commands[command].help  # type: ignore[attr-defined]
        assert help_text and len(help_text.split()) >= 5, f"{command} has no real help text"


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
    assert "1 dataset: 0 loaded, 1 unchanged (their 2 payloads identical to the last snapshot" in again.output
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


# One bad argument per command, with the words the message must contain; every command is covered.
BAD_ARGUMENTS = {
    "ingest": (
        ["ingest", "--offline", "hsy_emisions"],
        "unknown dataset 'hsy_emisions'; nearest: hsy_emissions",
    ),
    "sources": (["sources", "--jsn"], "No such option"),
    "compute": (["compute", "syke_emision"], "unknown dataset 'syke_emision'; nearest: syke_emissions"),
    "indicators": (["indicators", "--lang", "de"], "expected one of fi, sv, en, got 'de'"),
    "export": (["export", "ghg_totl"], "unknown indicator 'ghg_totl'; nearest: ghg_total"),
    "migrate": (["migrate", "extra"], "unexpected extra argument"),
    "run": (["run", "--lang", "de"], "expected one of fi, sv, en, got 'de'"),
    "report": (["report", "--week", "2026-48"], "--week"),
    "site": (["site", "--lang", "de"], "expected one of fi, sv, en, got 'de'"),
    "status": (["status", "--lang-x"], "No such option"),
    "accept": (["accept", "no_such_dataset"], "unknown dataset 'no_such_dataset'"),
    "probe": (["probe", "fingrid"], "unknown dataset 'fingrid'; nearest: fingrid_emission_factor"),
    "note": (
        ["note", "add", "ghg_totl", "--period", "2024", "--lang", "fi", "--author", "A", "--text", "x"],
        "unknown indicator 'ghg_totl'; nearest: ghg_total",
    ),
}


def clean(output: str) -> str:
    """The output as one line of words, without rich's box drawing."""
    return " ".join(output.replace("│", " ").replace("╭", " ").replace("╰", " ").split())


def test_every_command_is_in_the_bad_argument_table() -> None:
    assert sorted(BAD_ARGUMENTS) == sorted(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_bad_argument_is_a_usage_error(data_dir: Path, command: str) -> None:
    args, message = BAD_ARGUMENTS[command]
    result = runner.invoke(app, args)
    assert result.exit_code == EXIT_USAGE, result.output
    assert message in clean(result.output)
    assert "Traceback" not in result.output
    assert not (data_dir / "kestava.sqlite3").exists()  # nothing was created for a bad argument


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "ghg_total", "--format", "xlsx"], "expected one of csv, parquet, json"),
        (["export", "ghg_total", "--format", "parquet"], "needs --out FILE"),
        (["export", "ghg_total", "--lang", "de"], "expected one of fi, sv, en"),
        (["report", "--lang", "de"], "expected one of fi, sv, en, got 'de'"),
    ],
)
def test_bad_arguments_get_clear_errors(data_dir: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == EXIT_USAGE
    assert message in clean(result.output)


@pytest.mark.parametrize(
    "command", [["status"], ["sources"], ["export", "ghg_total"], ["accept", "hsy_emissions"]]
)
def test_read_only_commands_never_create_a_database(data_dir: Path, command: list[str]) -> None:
    result = runner.invoke(app, command)
    assert result.exit_code == EXIT_USAGE, result.output
    assert "no database at" in clean(result.output) and "kestava migrate" in clean(result.output)
    assert list(data_dir.iterdir()) == []  # no file, no folder


@pytest.mark.parametrize("command", [["status"], ["sources"], ["export", "ghg_total"]])
def test_read_only_commands_on_an_older_schema_say_run_migrate(data_dir: Path, command: list[str]) -> None:
    from alembic import command as alembic_command

    from storage.engine import alembic_config, create_db_engine

    engine = create_db_engine(get_settings().resolved_database_url())
    with engine.begin() as connection:  # a database made by an older tracker: schema 0003
        config = alembic_config()
        config.attributes["connection"] = connection
        alembic_command.upgrade(config, "0003")
    engine.dispose()
    result = runner.invoke(app, command)
    assert result.exit_code == EXIT_USAGE, result.output
    message = clean(result.output)
    assert "has schema version 0003" in message and "run `kestava migrate`" in message, message
    assert "Traceback" not in result.output
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    assert "has schema version" not in clean(runner.invoke(app, command).output)


def test_the_head_revision_read_from_file_names_is_alembics() -> None:
    from alembic.script import ScriptDirectory

    from storage.engine import alembic_config, head_revision

    scripts = ScriptDirectory.from_config(alembic_config())
    assert head_revision() == scripts.get_current_head()
    for script in scripts.walk_revisions():  # each file is named after its revision, numbered in a line
        assert Path(str(script.path)).name.startswith(f"{script.revision}_")


DATABASE_COMMANDS = [
    ["ingest", "--offline", "hsy_emissions"],
    ["sources"],
    ["compute"],
    ["export", "ghg_total"],
    ["migrate"],
    ["run"],
    ["report"],
    ["accept", "hsy_emissions"],
]


@pytest.mark.parametrize("condition", ["unreachable", "not a database"])
@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=lambda c: c[0])
def test_a_broken_database_is_one_line_and_exit_2(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, condition: str, command: list[str]
) -> None:
    if condition == "unreachable":
        url = "postgresql+psycopg://nobody:topsecret@127.0.0.1:1/none?connect_timeout=2"
    else:
        garbage = data_dir / "garbage.sqlite3"
        garbage.write_text("this is not a database\n" * 100)
        url = f"sqlite:///{garbage}"
    monkeypatch.setenv("KESTAVA_DATABASE_URL", url)
    get_settings.cache_clear()
    result = runner.invoke(app, command)
    assert result.exit_code == EXIT_USAGE, result.output
    assert "Traceback" not in result.output and "topsecret" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.output
    expected = "Connection refused" if condition == "unreachable" else "file is not a database"
    assert "cannot use the database at" in lines[0] and expected in lines[0]
    assert "KESTAVA_DATABASE_URL" in lines[0]


MALFORMED_URLS = {
    "no colon after the dialect": "postgresql+psycopg//nobody:topsecret@127.0.0.1/none",
    "a port that is not a number": "postgresql+psycopg://nobody:topsecret@127.0.0.1:notaport/none",
}


@pytest.mark.parametrize("url", MALFORMED_URLS.values(), ids=list(MALFORMED_URLS))
@pytest.mark.parametrize("command", [*DATABASE_COMMANDS, ["status"]], ids=lambda c: c[0])
def test_a_malformed_database_url_is_one_line_and_exit_2_without_repeating_it(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, url: str, command: list[str]
) -> None:
    monkeypatch.setenv("KESTAVA_DATABASE_URL", url)
    get_settings.cache_clear()
    result = runner.invoke(app, command)
    assert result.exit_code == EXIT_USAGE, result.output
    output = " ".join(result.output.split())  # rich wraps status's line
    assert "Traceback" not in output and "topsecret" not in output and "nobody" not in output
    assert "KESTAVA_DATABASE_URL or --database-url) cannot be parsed" in output
    reason = "its port is not a number" if "notaport" in url else "dialect+driver://user@host:port/database"
    assert reason in output


def test_status_json_on_a_malformed_database_url_is_json_saying_so(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KESTAVA_DATABASE_URL", MALFORMED_URLS["no colon after the dialect"])
    get_settings.cache_clear()
    result = runner.invoke(app, ["status", "--json"])
    assert result.exit_code == EXIT_USAGE
    answer = json.loads(result.stdout)
    assert answer["ok"] is False and "cannot be parsed" in answer["error"]
    assert "topsecret" not in result.output


def test_the_scheduler_on_a_malformed_database_url_logs_one_error_and_exits_1(tmp_path: Path) -> None:
    url = MALFORMED_URLS["no colon after the dialect"]
    done = subprocess.run(
        [sys.executable, str(Path(__file__).parents[1] / "scheduler.py"), "--database-url", url, "--list"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == EXIT_FAILED, done.stderr
    assert "Traceback" not in done.stderr and "topsecret" not in done.stderr + done.stdout
    assert "cannot open <a database URL that cannot be parsed>: DatabaseUrlError" in done.stderr


@pytest.mark.parametrize("command", [["ingest", "--offline", "eurostat_sdg_13_10"], ["sources"], ["migrate"]])
def test_a_database_driver_that_is_not_installed_is_a_settings_error_not_a_bug(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """`postgresql+psycopg2://` (psycopg 2, not installed: the tracker uses psycopg 3) had ended in
    "unexpected error: ModuleNotFoundError … (a bug)", exit 3."""
    monkeypatch.setenv("KESTAVA_DATABASE_URL", "postgresql+psycopg2://postgres:topsecret@127.0.0.1/x")
    get_settings.cache_clear()
    result = runner.invoke(app, command)
    assert result.exit_code == EXIT_USAGE, result.output
    output = clean(result.output)
    assert "names 'postgresql+psycopg2', which this tracker cannot use" in output
    assert "use postgresql+psycopg://" in output and "topsecret" not in output and "a bug" not in output


def test_an_invalid_setting_is_named_by_its_variable_without_its_value(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It had named pydantic's field and echoed the value ("job_time_limit_min … input_value='x7q'")."""
    monkeypatch.setenv("KESTAVA_JOB_TIME_LIMIT_MIN", "x7q")
    get_settings.cache_clear()
    result = runner.invoke(app, ["status"])
    assert result.exit_code == EXIT_USAGE, result.output
    output = clean(result.output)
    assert "invalid settings: KESTAVA_JOB_TIME_LIMIT_MIN: Input should be a valid number" in output
    assert "x7q" not in output and "input_value" not in output


def test_unwritable_output_is_a_usage_error(data_dir: Path) -> None:
    result = runner.invoke(app, ["export", "ghg_total", "--out", str(data_dir)])
    assert result.exit_code == EXIT_USAGE and "is a folder, expected a file" in clean(result.output)
    result = runner.invoke(app, ["export", "ghg_total", "--out", str(data_dir / "no" / "such" / "x.csv")])
    assert result.exit_code == EXIT_USAGE and "cannot write into the folder" in clean(result.output)
    a_file = data_dir / "a_file"
    a_file.write_text("")
    result = runner.invoke(app, ["report", "--out", str(a_file)])
    assert result.exit_code == EXIT_USAGE and "is a file, expected a folder" in clean(result.output)


def test_an_unexpected_error_is_one_line_with_exit_3(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug (here: a catalogue loader that raises) is not a traceback unless --verbose asks for one."""
    import indicators.catalogue

    def broken() -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(indicators.catalogue, "load_indicator_catalogue", broken)
    result = runner.invoke(app, ["indicators"])
    assert result.exit_code == EXIT_INTERNAL
    assert "error: unexpected error: ZeroDivisionError: division by zero" in clean(result.output)
    assert "Traceback" not in result.output
    verbose = runner.invoke(app, ["--verbose", "indicators"])
    assert verbose.exit_code == EXIT_INTERNAL and "Traceback" in verbose.output


def test_importing_the_cli_imports_no_heavy_module() -> None:
    """`kestava --help` stays fast: altair, vl-convert, polars, the engine and the report load on use."""
    code = (
        "import sys, kestava.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('altair', 'vl_convert', 'polars', 'report', 'indicators', 'sqlalchemy', 'alembic')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_status_runs_without_polars(data_dir: Path) -> None:
    """`kestava status` stays fast: its freshness rows are read without polars (about 0.1 s of import),
    nor the indicator engine (only the indicator catalogue, for the areas freshness is judged on), and a
    SQLite database is read without SQLAlchemy's PostgreSQL dialect (about 30 ms)."""
    assert runner.invoke(app, ["ingest", "hsy_emissions"]).exit_code == 0
    code = (
        "import sys\nfrom kestava.cli import app\n"
        "try:\n    app(['status'])\nexcept SystemExit:\n    pass\n"
        "catalogue_only = ('indicators', 'indicators.catalogue', 'indicators.method_ids')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('polars', 'altair', 'indicators')\n"
        "             and m not in catalogue_only or m.startswith('sqlalchemy.dialects.postgresql')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "hsy_emissions" in done.stdout  # it did report
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_an_indicator_that_raises_fails_the_run_and_shows_in_status(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken indicator definition (its filter compares the numeric value with text) fails alone:
    compute names it with its dataset and reason and exits 1; `status` shows it and the failed run."""
    import indicators.engine
    from tests.test_compute_isolation import small_catalogue

    assert runner.invoke(app, ["ingest", "hsy_emissions", "statfin_population"]).exit_code == 0
    monkeypatch.setattr(indicators.engine, "load_indicator_catalogue", lambda: small_catalogue(broken=True))
    result = runner.invoke(app, ["compute"])
    assert result.exit_code == 1, result.output
    text = clean(result.output)
    assert "4 indicators computed, 0 unchanged, 1 failed" in text
    assert "broken_sum: indicator broken_sum (datasets hsy_emissions): derive: ComputeError" in text
    assert "Traceback" not in result.output
    status = runner.invoke(app, ["status", "--json"])
    assert status.exit_code == 1
    document = json.loads(status.stdout)
    [failed] = document["failed_indicators"]
    assert failed["indicator"] == "broken_sum" and "cannot compare string with numeric" in failed["error"]
    jobs = {j["job"]: j for j in document["jobs"]}
    assert jobs["compute"]["last_outcome"] == "failed"
    assert jobs["compute"]["last_error"].startswith("1 indicator(s) failed: broken_sum: ")
    assert any(p.startswith("indicator broken_sum: failed (") for p in document["problems"])
    shown = clean(runner.invoke(app, ["status", "--lang", "en"]).output)
    assert "Indicators whose last compute failed" in shown and "broken_sum" in shown


def test_areas_are_accepted_by_name(data_dir: Path) -> None:
    assert runner.invoke(app, ["ingest", "hsy_emissions"]).exit_code == 0
    assert runner.invoke(app, ["compute", "hsy_emissions"]).exit_code in (0, 1)
    by_code = runner.invoke(app, ["export", "ghg_total", "--area", "049"])
    assert by_code.exit_code == 0 and by_code.stdout.count("\n") > 10
    for name in ("Espoo", "esbo", " ESPOO "):
        by_name = runner.invoke(app, ["export", "ghg_total", "--area", name])
        # the same rows (export does not order assessment rows of one period by method)
        assert by_name.exit_code == 0 and sorted(by_name.stdout.splitlines()) == sorted(
            by_code.stdout.splitlines()
        )
    tampere = runner.invoke(app, ["export", "ghg_total", "--area", "Tampere"])
    assert tampere.exit_code == 2
    assert "area 'Tampere' (837) has no computed values; areas with values: 049 (Espoo)" in clean(
        tampere.output
    )
    typo = runner.invoke(app, ["export", "ghg_total", "--area", "Espo"])
    assert typo.exit_code == 2 and "nearest: Espoo (049)" in clean(typo.output)


def test_status_and_sources_speak_fi_sv_and_en(data_dir: Path) -> None:
    assert runner.invoke(app, ["ingest", "hsy_emissions"]).exit_code == 0
    expected = {
        "fi": ("Aineistot (ajat Suomen aikaa)", "Viimeisin onnistunut haku", "ONGELMIA ("),
        "sv": ("Datamängder (tider i finsk tid)", "Senaste lyckade hämtning", "PROBLEM ("),
        "en": ("Datasets (times Europe/Helsinki)", "Last successful fetch", "PROBLEMS ("),
    }
    for lang, (title, fetch, problems) in expected.items():
        sources = runner.invoke(app, ["sources", "--lang", lang])
        assert sources.exit_code == EXIT_FAILED and title in sources.stdout and fetch in sources.stdout
        assert problems in sources.stdout  # most datasets never fetched: stale, as status says
        status = runner.invoke(app, ["status", "--lang", lang])
        assert status.exit_code == EXIT_FAILED and problems in status.stdout
    for command in ("sources", "status"):  # Finnish first, as export, indicators and the API
        default = runner.invoke(app, [command])
        assert expected["fi"][2] in default.stdout and expected["en"][2] not in default.stdout
    # the JSON is for machines: the same in any language (states as codes, problems in English)
    default_json, english_json = (
        json.loads(runner.invoke(app, ["status", "--json", *lang]).stdout) for lang in ([], ["--lang", "en"])
    )
    assert default_json["problems"] == english_json["problems"]
    assert "syke_emissions: never" in default_json["problems"]
    for command in ("sources", "status"):
        wrong = runner.invoke(app, [command, "--lang", "de"])
        assert wrong.exit_code == EXIT_USAGE and "expected one of fi, sv, en, got 'de'" in clean(wrong.output)


def test_a_week_or_half_year_not_begun_is_a_usage_error_naming_the_latest(data_dir: Path) -> None:
    from report import weekly

    week, half = weekly.current_week(), weekly.current_half()
    for option, period, latest in (
        ("--week", week.following(), week),
        ("--half", half.following(), half),
        ("--week", weekly.parse_week("2030-W01"), week),
    ):
        result = runner.invoke(app, ["report", option, period.key])
        assert result.exit_code == EXIT_USAGE, result.output
        text = clean(result.output)
        assert f"{period.key} has not begun" in text and f"the latest allowed is {latest.key}" in text, text
    assert not (data_dir / "kestava.sqlite3").exists()  # nothing written


def test_check_begun_allows_the_current_and_earlier_periods() -> None:
    from datetime import date

    from report import weekly

    today = date(2026, 12, 6)  # a Sunday: the last day of 2026-W49
    assert weekly.check_begun(weekly.parse_week("2026-W49"), today).key == "2026-W49"
    assert weekly.check_begun(weekly.parse_half("2026-H2"), today).key == "2026-H2"
    with pytest.raises(ValueError, match=r"2026-W50 has not begun .*latest allowed is 2026-W49, the current"):
        weekly.check_begun(weekly.parse_week("2026-W50"), today)
    with pytest.raises(ValueError, match=r"2027-H1 has not begun .*latest allowed is 2026-H2, the current"):
        weekly.check_begun(weekly.parse_half("2027-H1"), today)


def test_a_second_ingest_says_what_it_counts(data_dir: Path) -> None:
    first = runner.invoke(app, ["ingest", "hsy_emissions", "statfin_population"])
    assert first.exit_code == 0, first.output
    # nothing skipped: no "(their 0 payloads …)"
    assert "2 datasets: 2 loaded, 0 unchanged, 0 failed" in clean(first.stdout), first.stdout
    again = runner.invoke(app, ["ingest", "hsy_emissions", "statfin_population"])
    assert again.exit_code == 0, again.output
    text = clean(again.stdout)
    assert (
        "2 datasets: 0 loaded, 2 unchanged (their 4 payloads identical to the last snapshot, "
        "not loaded again), 0 failed"
    ) in text, text
    assert "payloads (HTTP 304 not modified)" in text
    [row] = [line for line in again.stdout.splitlines() if "hsy_emissions" in line]
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    assert cells[1] == "unchanged" and cells[2:8] == ["–"] * 6, cells  # nothing compared, not 0 unchanged


@pytest.mark.parametrize(
    ("command", "given", "expected"),
    [
        (
            "compute",
            "ghg_total",
            "ghg_total is an indicator; compute takes dataset ids (e.g. hsy_emissions, which feeds it)",
        ),
        ("ingest", "ghg_total", "ghg_total is an indicator; ingest takes dataset ids (e.g. hsy_emissions"),
        ("compute", "xyzzy", "unknown dataset 'xyzzy'; `kestava sources` lists the dataset ids"),
        ("compute", "hsy_emision", "unknown dataset 'hsy_emision'; nearest: hsy_emissions"),
    ],
)
def test_an_indicator_id_given_for_a_dataset_names_its_datasets(
    data_dir: Path, command: str, given: str, expected: str
) -> None:
    result = runner.invoke(app, [command, given])
    assert result.exit_code == EXIT_USAGE, result.output
    assert expected in clean(result.output)


NOTE_ADD = ["--period", "2024", "--lang", "fi", "--author", "A", "--text", "x"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [  # a breakdown part is checked whole, as the API checks it (its parent alone was)
        (["export", "ghg_by_sector.foo"], "unknown indicator 'ghg_by_sector.foo'; nearest: ghg_by_sector,"),
        (["export", "ghg_total.foo"], "unknown indicator 'ghg_total.foo'; nearest: ghg_total,"),
        (["export", "ghg_total", "ghg_by_sector.transprt"], "nearest: ghg_by_sector.transport"),
        # nothing near: where the ids are listed
        (["export", "nope"], "unknown indicator 'nope'; `kestava indicators` lists the indicator ids"),
        (["note", "list", "--indicator", "nope"], "unknown indicator 'nope'; `kestava indicators` lists"),
        (["note", "add", "nope", *NOTE_ADD], "unknown indicator 'nope'; `kestava indicators` lists"),
    ],
)
def test_an_unknown_indicator_names_the_nearest_ids_or_where_to_find_them(
    data_dir: Path, args: list[str], expected: str
) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == EXIT_USAGE, result.output
    assert expected in clean(result.output)
    assert not (data_dir / "kestava.sqlite3").exists()  # refused before any database is opened


def test_sources_translates_the_frequency(data_dir: Path) -> None:
    assert runner.invoke(app, ["ingest", "hsy_emissions"]).exit_code == 0
    for lang, annual, daily in (("fi", "Vuosittain", "Päivittäin"), ("sv", "Årligen", "Dagligen")):
        result = runner.invoke(app, ["sources", "--lang", lang])
        assert result.exit_code == EXIT_FAILED, result.output  # most datasets never fetched
        [row] = [line for line in result.stdout.splitlines() if "│ hsy_emissions" in line]  # the table's
        assert annual in row and "annual" not in row
        assert daily in result.stdout and " daily " not in result.stdout  # Fingrid's emission factor


@pytest.fixture
def computed(data_dir: Path) -> Path:
    """hsy_emissions and the population ingested and computed."""
    assert runner.invoke(app, ["ingest", "hsy_emissions", "statfin_population"]).exit_code == 0
    assert runner.invoke(app, ["compute"]).exit_code in (0, 1)
    return data_dir


def test_an_assessment_without_a_value_has_no_unit(computed: Path) -> None:
    out = computed / "all.csv"
    assert runner.invoke(app, ["export", "--out", str(out)]).exit_code == 0
    assessed = pl.read_csv(out, infer_schema_length=None).filter(pl.col("kind") == "assessment")
    assert assessed.filter(pl.col("value").is_null()).height > 0  # methods without a target
    assert assessed.filter(pl.col("value").is_null(), pl.col("unit").is_not_null()).height == 0
    assert set(assessed.filter(pl.col("value").is_not_null())["unit"]) <= {"pace_ratio", "% deviation"}


def test_an_export_that_selects_nothing_says_why_and_exits_1(computed: Path) -> None:
    out = computed / "sink.csv"
    result = runner.invoke(app, ["export", "carbon_sink_estimate", "--area", "Helsinki", "--out", str(out)])
    assert result.exit_code == EXIT_FAILED, result.output
    assert result.stdout == "" and not out.exists()  # nothing written
    assert (
        "nothing exported: carbon_sink_estimate: computed only for 049 (Espoo), not for 091 (Helsinki)"
        in clean(result.stderr)
    )
    to_stdout = runner.invoke(app, ["export", "carbon_sink_estimate", "--area", "091"])
    assert to_stdout.exit_code == EXIT_FAILED and to_stdout.stdout == ""
