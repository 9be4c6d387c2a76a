"""The log file (--log-file or KESTAVA_LOG_FILE): the lines stderr gets, secrets masked alike, opened anew
when logrotate moves it, and a path that cannot be written refused at start, naming the setting."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from common.config import get_settings
from common.errors import EXIT_USAGE
from common.logs import LogFileError, configure_logging
from kestava.cli import app
from schedule.logs import setup_logging

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cr3t-t0ken-4242-xyz"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Each test sets up logging on the root logger: the log files it opened are closed, the set-up before
    it put back."""
    root, httpx = logging.getLogger(), logging.getLogger("httpx")
    handlers, level, httpx_level = root.handlers[:], root.level, httpx.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:], root.level = handlers, level
    httpx.setLevel(httpx_level)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]


@pytest.mark.parametrize("json_lines", [False, True], ids=["plain", "json"])
def test_the_log_file_gets_the_lines_stderr_gets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], json_lines: bool
) -> None:
    log_file = tmp_path / "kestava.log"
    configure_logging(json_lines=json_lines, log_file=log_file)
    logging.getLogger("ingest.run").warning("fingrid: 3 rows added", extra={"job": "ingest:fingrid"})
    logging.getLogger("ingest.run").error("hsy: failed")
    stderr = _lines(capsys.readouterr().err)
    assert len(stderr) == 2 and "fingrid: 3 rows added" in stderr[0]
    assert _lines(log_file.read_text(encoding="utf-8")) == stderr
    if json_lines:
        assert '"job": "ingest:fingrid"' in stderr[0]


def test_after_a_rename_as_logrotate_does_the_next_line_goes_to_a_new_file(tmp_path: Path) -> None:
    log_file = tmp_path / "scheduler.log"
    setup_logging(json_lines=False, verbose=False, secrets=[], log_file=log_file)
    log = logging.getLogger("scheduler")
    log.info("before the rotation")
    rotated = log_file.rename(tmp_path / "scheduler.log.1")  # logrotate's default: no copytruncate
    assert not log_file.exists()
    log.info("after the rotation")
    assert "before the rotation" in rotated.read_text(encoding="utf-8")
    assert "after the rotation" not in rotated.read_text(encoding="utf-8")
    assert _lines(log_file.read_text(encoding="utf-8"))[-1].endswith("scheduler: after the rotation")
    os.remove(log_file)  # deleted (logrotate's rotate 0): opened anew too
    log.info("after the removal")
    assert "after the removal" in log_file.read_text(encoding="utf-8")


@pytest.mark.parametrize("json_lines", [False, True], ids=["plain", "json"])
def test_a_secret_in_an_error_is_masked_in_the_file_exactly_as_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], json_lines: bool
) -> None:
    """The scheduler's masking (schedule.logs) is its formatter's, and the file's handler has it too: the
    message, the traceback and (JSON) the escaped form."""
    log_file = tmp_path / "scheduler.log"
    setup_logging(json_lines=json_lines, verbose=False, secrets=[SECRET], log_file=log_file)
    try:
        raise RuntimeError(f'GET https://api.example.test/v1?key={SECRET} said "no {SECRET}"')
    except RuntimeError as error:
        logging.getLogger("scheduler").exception("ingest:fingrid failed: %s", error)
    stderr = capsys.readouterr().err
    written = log_file.read_text(encoding="utf-8")
    assert SECRET not in stderr and SECRET not in written
    assert "key=***" in written and "Traceback" in written
    assert written == stderr


def test_a_log_file_that_cannot_be_written_is_refused_naming_the_setting(tmp_path: Path) -> None:
    root = logging.getLogger()
    before = root.handlers[:]
    for path, why in (
        (tmp_path / "no" / "such" / "k.log", "No such file or directory"),
        (tmp_path, "directory"),
    ):
        with pytest.raises(LogFileError) as refused:
            configure_logging(log_file=path)
        message = str(refused.value)
        assert f"cannot write the log file {path}" in message and why in message
        assert "--log-file" in message and "KESTAVA_LOG_FILE" in message
        assert root.handlers == before  # nothing changed


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("KESTAVA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("KESTAVA_DATABASE_URL", raising=False)
    monkeypatch.delenv("KESTAVA_LOG_FILE", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_the_command_line_writes_its_log_to_the_file_of_the_option_or_the_setting(data_dir: Path) -> None:
    log_file = data_dir / "kestava.log"
    result = CliRunner().invoke(app, ["--log-json", "--log-file", str(log_file), "migrate"])
    assert result.exit_code == 0, result.output
    assert "migrating" in log_file.read_text(encoding="utf-8")  # storage.engine's INFO line
    other = data_dir / "other.log"
    result = CliRunner().invoke(app, ["--log-json", "migrate"], env={"KESTAVA_LOG_FILE": str(other)})
    assert result.exit_code == 0, result.output
    assert other.exists()  # (at head already: nothing to log, but opened)


def test_the_command_line_refuses_a_log_file_it_cannot_write_naming_the_setting(data_dir: Path) -> None:
    bad = data_dir / "missing" / "kestava.log"
    for args, env in ((["--log-file", str(bad), "status"], {}), (["status"], {"KESTAVA_LOG_FILE": str(bad)})):
        result = CliRunner().invoke(app, args, env=env)
        assert result.exit_code == EXIT_USAGE, result.output
        output = " ".join(result.output.split())
        assert f"error: cannot write the log file {bad} (--log-file or KESTAVA_LOG_FILE)" in output
        assert "No such file or directory" in output and "Traceback" not in output


def _scheduler(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """scheduler.py --once as cron runs it, with env (and no KESTAVA_ setting of the caller's)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KESTAVA_", "FINGRID_"))}
    return subprocess.run(
        [sys.executable, str(ROOT / "scheduler.py"), "--once", "--offline", *args],
        cwd=tmp_path,
        env={**base, "KESTAVA_DATA_DIR": str(tmp_path / "data"), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_scheduler_masks_a_secret_in_its_log_file_as_on_stderr(tmp_path: Path) -> None:
    """A start refused (its catalogue missing, at a path holding a secret value): the one error line is
    the same on stderr and in the file, the secret masked in both."""
    catalogue = tmp_path / SECRET / "catalogue.toml"
    log_file = tmp_path / "scheduler.log"
    result = _scheduler(
        tmp_path,
        "--catalogue",
        str(catalogue),
        "--database-url",
        f"sqlite:///{tmp_path / 'k.sqlite3'}",
        EXAMPLE_API_TOKEN=SECRET,
        KESTAVA_LOG_FILE=str(log_file),
    )
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "the scheduler cannot start" in errors[0] and "***" in errors[0], (
        result.stderr
    )
    written = log_file.read_text(encoding="utf-8")
    assert SECRET not in result.stderr and SECRET not in written
    assert [line for line in written.splitlines() if " ERROR " in line] == errors


def test_the_scheduler_refuses_to_start_with_a_log_file_it_cannot_write(tmp_path: Path) -> None:
    bad = tmp_path / "missing" / "scheduler.log"
    for args, env in ((["--log-file", str(bad)], {}), ([], {"KESTAVA_LOG_FILE": str(bad)})):
        result = _scheduler(tmp_path, *args, "--database-url", f"sqlite:///{tmp_path / 'k.sqlite3'}", **env)
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        (error,) = [line for line in result.stderr.splitlines() if " ERROR " in line]
        assert "the scheduler cannot start" in error and f"cannot write the log file {bad}" in error
        assert "KESTAVA_LOG_FILE" in error and "No such file or directory" in error
        assert not (tmp_path / "k.sqlite3").exists()  # refused before the database was opened


def test_setting_logging_up_again_closes_the_log_file_it_had_opened(tmp_path: Path) -> None:
    """The scheduler sets up logging twice at start (the catalogue's secrets): the first file is closed."""
    setup_logging(json_lines=False, verbose=False, secrets=[], log_file=tmp_path / "a.log")
    (first,) = [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    setup_logging(json_lines=False, verbose=False, secrets=[SECRET], log_file=tmp_path / "a.log")
    (second,) = [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    assert first is not second and first.stream is None and second.stream is not None


def test_the_command_line_masks_a_secret_in_its_log_file_and_on_stderr(data_dir: Path) -> None:
    """A command's log line holding a secret value (here the SQLite file's folder is named like the value of
    a …_TOKEN setting): masked on stderr and in the file, as the scheduler masks it."""
    folder = data_dir / SECRET
    folder.mkdir()
    log_file = data_dir / "kestava.log"
    env = {"KESTAVA_DATABASE_URL": f"sqlite:///{folder / 'k.sqlite3'}", "EXAMPLE_API_TOKEN": SECRET}
    result = CliRunner().invoke(app, ["--log-json", "--log-file", str(log_file), "migrate"], env=env)
    assert result.exit_code == 0, result.output
    written = log_file.read_text(encoding="utf-8")
    assert "migrating" in written and "***" in written  # the line that named the folder was written
    logged = [line for line in result.output.splitlines() if line.startswith("{")]  # the log on stderr
    assert any("migrating" in line for line in logged)
    assert SECRET not in written and not any(SECRET in line for line in logged)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def test_a_new_log_file_is_not_readable_by_every_user_also_after_a_rotation(tmp_path: Path) -> None:
    log_file = tmp_path / "scheduler.log"
    configure_logging(log_file=log_file)
    logging.getLogger("ingest.run").warning("first")
    expected = 0o640 & ~_umask()
    assert log_file.stat().st_mode & 0o777 == expected
    log_file.rename(tmp_path / "scheduler.log.1")  # logrotate's rename
    logging.getLogger("ingest.run").warning("second")
    assert "second" in log_file.read_text(encoding="utf-8")
    assert log_file.stat().st_mode & 0o777 == expected


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="runs the commands as another user (nobody), which needs root and setpriv",
)
def test_a_log_file_the_user_may_append_to_but_not_read_is_used() -> None:
    """Typer checks a path option for reading by default: a shared log file the operator may append to but
    not read refused `kestava status` with a usage box (exit 2) and the scheduler alike (an operations
    audit). As nobody, with a write-only log file: the command runs (here to its one-line "no database")
    and appends its line to the file."""
    with tempfile.TemporaryDirectory() as folder:  # in /tmp: pytest's own folders are root's alone
        _run_as_nobody_with_a_write_only_log_file(Path(folder))


def _run_as_nobody_with_a_write_only_log_file(tmp_path: Path) -> None:
    tmp_path.chmod(0o777)
    log_file = tmp_path / "shared.log"
    log_file.touch()
    os.chown(log_file, 65534, os.getgid())
    log_file.chmod(0o200)  # write-only for its owner, nobody
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KESTAVA_", "FINGRID_"))}
    env = {**base, "KESTAVA_DATA_DIR": str(tmp_path), "HOME": str(tmp_path)}
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    kestava = ROOT / ".venv" / "bin" / "kestava"
    reachable = subprocess.run([*as_nobody, str(kestava), "--help"], capture_output=True, timeout=60)
    if reachable.returncode != 0:  # a checkout in a folder only its owner may enter (mktemp -d)
        pytest.skip(f"nobody cannot run {kestava} here")
    for command in (
        [str(kestava), "--log-file", str(log_file), "status"],
        [sys.executable, str(ROOT / "scheduler.py"), "--list", "--log-file", str(log_file)],
    ):
        result = subprocess.run(
            [*as_nobody, *command], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
        )
        said = result.stdout + result.stderr
        assert "not readable" not in said and "cannot write the log file" not in said, said
        assert "--list" in command or "no database" in said, said  # status ran, to its one-line answer
    assert log_file.stat().st_size > 0  # the scheduler's lines appended (read as root)
