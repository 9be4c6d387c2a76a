"""Reports are published atomically: common.atomic alone, and `kestava report` killed at random moments."""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import os
import random
import signal
import subprocess
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import pytest

from common import atomic
from common.atomic import publish_directory, publish_file, recover
from report import weekly
from tests.conftest import LoadedTemplates

KESTAVA = Path(sys.executable).with_name("kestava")
# Replay a failure with KESTAVA_KILL_SEED=<the printed seed>; KESTAVA_KILL_TRIALS=n for a longer run.
KILL_TRIALS = int(os.environ.get("KESTAVA_KILL_TRIALS", "6"))


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def _contents(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())}


def _beside(final: Path) -> set[str]:
    return {p.name for p in final.parent.iterdir()}


# ---------------------------------------------------------------------------------------------------------
# common.atomic


def test_publish_replaces_the_whole_directory_and_leaves_nothing_behind(tmp_path: Path) -> None:
    final = tmp_path / "2026-W49" / "fi"
    with publish_directory(final) as folder:
        assert not final.exists()  # nothing is visible while it is built
        _write(folder, {"report.html": "one", "a.png": "A1", "b.png": "B1"})
    assert _contents(final) == {"report.html": "one", "a.png": "A1", "b.png": "B1"}
    first = final.resolve()
    with publish_directory(final) as folder:
        assert _contents(final)["report.html"] == "one"  # the previous report stays until the switch
        _write(folder, {"report.html": "two", "a.png": "A2"})
    assert _contents(final) == {"report.html": "two", "a.png": "A2"}  # b.png of the old one is gone
    assert not first.exists()
    assert _beside(final) == {"fi", final.resolve().name, ".fi.lock"}


def test_a_failing_build_leaves_the_previous_output(tmp_path: Path) -> None:
    final = tmp_path / "fi"
    with publish_directory(final) as folder:
        _write(folder, {"report.html": "good"})
    with pytest.raises(RuntimeError, match="chart failed"), publish_directory(final) as folder:
        _write(folder, {"report.html": "half"})
        raise RuntimeError("chart failed")
    assert _contents(final) == {"report.html": "good"}
    assert _beside(final) == {"fi", final.resolve().name, ".fi.lock"}


def test_a_directory_from_before_becomes_the_first_version(tmp_path: Path) -> None:
    final = tmp_path / "fi"
    final.mkdir()
    _write(final, {"report.html": "legacy"})
    assert recover(final) is not None
    assert final.is_symlink() and _contents(final) == {"report.html": "legacy"}
    with publish_directory(final) as folder:
        _write(folder, {"report.html": "new"})
    assert _contents(final) == {"report.html": "new"}
    assert len(atomic.versions(final)) == 1


def test_recover_from_every_point_a_run_can_be_killed_at(tmp_path: Path) -> None:
    final = tmp_path / "fi"
    with publish_directory(final) as folder:
        _write(folder, {"report.html": "published"})
    published = final.resolve()
    # killed while building, after the build was complete, with its link made, and after the switch
    (tmp_path / ".fi.99999999999999999998-1-aa.part").mkdir()
    (tmp_path / ".fi.99999999999999999998-1-aa.part" / "a.png").write_text("half")
    (tmp_path / ".fi.00000000000000000001-1-bb").mkdir()  # a superseded version not yet deleted
    (tmp_path / ".fi.00000000000000000001-1-bb.link").symlink_to(".fi.00000000000000000001-1-bb")
    assert recover(final) == published
    assert _beside(final) == {"fi", published.name, ".fi.lock"}

    # killed between renaming a directory aside and linking it: final is missing
    published.replace(tmp_path / ".fi.00000000000000000002-1-cc")
    final.unlink()
    assert recover(final) is not None
    assert _contents(final) == {"report.html": "published"}

    # a broken link and nothing complete to point it at: no report rather than a broken one
    target = final.resolve()
    for path in target.iterdir():
        path.unlink()
    target.rmdir()
    assert recover(final) is None
    assert not final.exists() and not final.is_symlink()


def test_a_link_pointed_elsewhere_by_hand_keeps_its_target(tmp_path: Path) -> None:
    elsewhere = tmp_path / "archive" / "2026-W49-fi"
    elsewhere.mkdir(parents=True)
    _write(elsewhere, {"report.html": "kept by hand"})
    final = tmp_path / "reports" / "fi"
    final.parent.mkdir()
    final.symlink_to(elsewhere, target_is_directory=True)
    with publish_directory(final) as folder:
        _write(folder, {"report.html": "new"})
    assert _contents(final) == {"report.html": "new"}
    assert _contents(elsewhere) == {"report.html": "kept by hand"}


def test_publish_file_replaces_one_file_whole(tmp_path: Path) -> None:
    final = tmp_path / "export" / "values.csv"
    with publish_file(final) as part:
        part.write_text("a,b\n1,2\n", encoding="utf-8")
    assert final.read_text(encoding="utf-8") == "a,b\n1,2\n"
    with pytest.raises(RuntimeError), publish_file(final) as part:
        part.write_text("a,b\n3", encoding="utf-8")
        raise RuntimeError("killed halfway")
    assert final.read_text(encoding="utf-8") == "a,b\n1,2\n"
    gone = subprocess.Popen(["true"])  # a process that has ended: its pid is free
    gone.wait()
    stale = final.with_name(f".values.csv.00000000000000000001-{gone.pid}-ab.part")
    stale.write_text("half", encoding="utf-8")
    with publish_file(final) as part:
        part.write_text("a,b\n5,6\n", encoding="utf-8")
    assert sorted(p.name for p in final.parent.iterdir()) == ["values.csv"]


# ---------------------------------------------------------------------------------------------------------
# `kestava report` killed at random moments


class _References(HTMLParser):
    """The local files of its own folder a report page links to (images, downloads; not the links to the
    other languages and periods, ../sv/report.html)."""

    def __init__(self) -> None:
        super().__init__()
        self.files: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            local = value and "/" not in value and not value.startswith(("#", "data:", "http"))
            if key in ("href", "src", "data-png") and local:
                self.files.add(str(value))


def _check_complete(folder: Path, why: str) -> None:
    """A report folder holds its page, every file the page references, each one whole, and nothing else."""
    html_path = folder / weekly.HTML_NAME
    assert html_path.is_file(), f"{why}: {folder} has no {weekly.HTML_NAME}: {sorted(os.listdir(folder))}"
    html = html_path.read_text(encoding="utf-8")
    assert html.rstrip().endswith("</html>"), f"{why}: {html_path} is cut short"
    refs = _References()
    refs.feed(html)
    expected = refs.files
    assert len(expected) >= 3, f"{why}: the page references no chart files: {sorted(expected)}"
    assert set(os.listdir(folder)) == expected | {weekly.HTML_NAME}, f"{why}: stray or missing files"
    for name in expected:
        body = (folder / name).read_bytes()
        if name.endswith(".png"):
            assert body.startswith(b"\x89PNG") and body.endswith(b"IEND\xaeB`\x82"), f"{why}: {name} cut"
        elif name.endswith(".svg"):
            ElementTree.fromstring(body)  # raises on a cut file
        elif name.endswith(".xlsx"):
            with zipfile.ZipFile(io.BytesIO(body)) as workbook:  # raises on a cut file
                assert workbook.testzip() is None, f"{why}: {name} damaged"
        else:
            lines = body.decode("utf-8-sig").splitlines()
            separator = ";" if ";" in lines[0] else ","  # fi and sv: ";" (weekly.write_csv)
            rows = list(csv.reader(lines, delimiter=separator))
            assert rows and all(len(r) == len(rows[0]) for r in rows), f"{why}: {name} cut"


def _fingerprint(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def report_env(
    tmp_path_factory: pytest.TempPathFactory, loaded_templates: LoadedTemplates
) -> Iterator[dict[str, str]]:
    """Environment for `kestava report` on a SQLite database loaded from the bundled snapshot (a copy of
    the run's loaded template).

    One backend is enough here: what is under test is how the files reach the disk, and the report reads
    the database the same way on both (tests/test_report.py covers both).
    """
    folder = tmp_path_factory.mktemp("kill")
    with loaded_templates.copy("sqlite", folder) as url:
        yield {**os.environ, "KESTAVA_DATABASE_URL": url, "KESTAVA_DATA_DIR": str(folder / "data")}


def _report(env: dict[str, str], out: Path, week: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(KESTAVA), "report", "--lang", "fi", "--week", week, "--out", str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_killed_report_leaves_the_previous_complete_report_or_none(
    report_env: dict[str, str], tmp_path: Path
) -> None:
    """SIGKILL at random moments of `kestava report`, half the trials over a previous report: every report
    folder on disk is whole and from one run (its files all older than the trial, or all newer)."""
    seed = int(os.environ.get("KESTAVA_KILL_SEED", str(random.SystemRandom().randrange(2**32))))
    print(f"kill trials: seed {seed} (replay with KESTAVA_KILL_SEED={seed})")
    rng = random.Random(seed)
    outcomes: Counter[str] = Counter()
    week = weekly.current_week().key  # a week with data (one that ended before the load has no report)
    kept = tmp_path / "kept"
    started = time.monotonic()
    complete = _report(report_env, kept, week)
    assert complete.wait(timeout=300) == 0, complete.stderr.read() if complete.stderr else ""
    duration = time.monotonic() - started  # import, database reads, charts, publication
    final = kept / week / "fi"
    _check_complete(final, f"seed {seed}, first run")

    for trial in range(KILL_TRIALS):
        previous = trial % 2 == 0
        out = kept if previous else tmp_path / f"fresh{trial}"
        final = out / week / "fi"
        before = _fingerprint(final) if previous else {}
        # from halfway through start-up to just after a normal run would have ended
        delay = rng.uniform(0.3 * duration, 1.05 * duration)
        why = f"seed {seed}, trial {trial} ({'over a previous report' if previous else 'first report'}, "
        why += f"killed after {delay:.2f} s of {duration:.2f} s)"
        time.sleep(0.01)  # the trial's files get later modification times than the previous report's
        trial_start = time.time()
        process = _report(report_env, out, week)
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
        if not final.exists():
            assert not previous, f"{why}: the previous report is gone"
            outcomes["no report yet"] += 1
            continue
        _check_complete(final, why)
        if _fingerprint(final) == before:
            outcomes["previous report kept"] += 1
            continue  # the previous report, untouched
        times = [p.stat().st_mtime for p in final.iterdir()]
        assert min(times) >= trial_start, f"{why}: files of two runs in one report"
        outcomes["new report complete"] += 1
    print(f"kill trials: {dict(outcomes)}")

    # the next complete run cleans up whatever the killed ones left: one real run over the kept report,
    # and the recovery every run starts with (common.atomic.recover) in the other folders
    process = _report(report_env, kept, week)
    assert process.wait(timeout=300) == 0, f"seed {seed}: a run after the kills failed"
    final = kept / week / "fi"
    _check_complete(final, f"seed {seed}, clean-up run")
    assert _beside(final) == {"fi", final.resolve().name, ".fi.lock"}, f"seed {seed}: leftovers"
    for out in tmp_path.glob("fresh*"):
        final = out / week / "fi"
        if not final.parent.exists():
            continue  # killed before the report folder was made
        published = recover(final)
        left = _beside(final) - {".fi.lock"}
        assert left == (set() if published is None else {"fi", published.name}), f"seed {seed}: {left}"
        if published is not None:
            _check_complete(final, f"seed {seed}, recovered in {out.name}")


def test_a_write_error_that_names_no_file_names_the_output_it_was_building(tmp_path: Path) -> None:
    """A full disk fails a write with "No space left on device" and no file name: the message names the
    report folder (or file) being published, and the previous output stays."""
    from kestava.cli import explain

    final = tmp_path / "reports" / "2026-W49" / "fi"
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    with pytest.raises(OSError) as caught, publish_directory(final) as building:
        (building / "report.html").write_text("half")
        raise full
    assert caught.value.filename == str(final)
    code, message = explain(caught.value)
    assert code == 2 and message == f"cannot read or write {final}: No space left on device"
    assert not final.exists() and list(final.parent.iterdir()) == [final.parent / ".fi.lock"]
    single = tmp_path / "site" / "index.html"
    with pytest.raises(OSError) as caught, publish_file(single):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert caught.value.filename == str(single)
