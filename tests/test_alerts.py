"""Alerts via a real local HTTP server and a real local SMTP server: once a day, all-clear, never crash."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, event, inspect, select

from common.secrets import redact
from ingest.catalogue import Catalogue, parse_catalogue
from kestava.alerts import (
    Alerter,
    AlertSettings,
    Problem,
    check_freshness,
    check_run,
    consecutive_failures,
    secret_values,
    url_password,
)
from storage import schema
from storage.engine import alembic_config, create_db_engine, open_database, safe_url, unpinged
from storage.jobs import finish_run, record_runs, start_run
from storage.load import DatasetInfo, SourceInfo, load_snapshot
from storage.rawstore import RawStore
from tests.conftest import make_payload

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # 11:00 in Helsinki
SMTP_PASSWORD = "smtp-pa55-word-never-logged"


class Clock:
    """An injectable clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def webhook_alerter(engine: Engine, url: str, clock: Clock, **settings: Any) -> Alerter:
    return Alerter(
        engine,
        AlertSettings(alert_webhook_url=SecretStr(url), **settings),
        clock=clock,
        secrets=["s3cr3t-key-value"],
    )


def posted(server: HTTPServer) -> list[dict[str, Any]]:
    return [json.loads(request.get_data()) for request, _ in server.log]


# ------------------------------------------------------------------------------------------ migration


def test_upgrading_an_empty_database_creates_alert_state(db_url: str) -> None:
    engine = open_database(db_url)
    try:
        script = ScriptDirectory.from_config(alembic_config())
        ours = next(r for r in script.walk_revisions() if Path(r.path).name == "0003_alert_state.py")
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        assert current == script.get_current_head()
        assert ours.revision in {r.revision for r in script.iterate_revisions(current, "base")}
        columns = {c["name"]: c for c in inspect(engine).get_columns("alert_state")}
        assert set(columns) == {"problem_key", "first_seen", "last_sent", "last_message", "resolved_at"}
        assert inspect(engine).get_pk_constraint("alert_state")["constrained_columns"] == ["problem_key"]
        assert not columns["first_seen"]["nullable"] and columns["resolved_at"]["nullable"]
    finally:
        engine.dispose()


# -------------------------------------------------------------------------------------------- webhook


def test_webhook_once_a_day_then_all_clear(engine: Engine, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    clock = Clock(T0)
    alerter = webhook_alerter(engine, httpserver.url_for("/hook"), clock)
    problem = Problem(
        "failing",
        "ingest:hsy_emissions",
        "HTTP 503 (key s3cr3t-key-value)",
        "hsy_emissions",
        "ingest:hsy_emissions",
    )

    assert alerter.problem(problem) is True
    (body,) = posted(httpserver)
    assert body["key"] == "failing:ingest:hsy_emissions"
    assert body["kind"] == "failing" and body["state"] == "problem"
    assert body["dataset"] == "hsy_emissions" and body["job"] == "ingest:hsy_emissions"
    assert body["title"] == "[Kestävä] FAILING: ingest:hsy_emissions"
    assert "HTTP 503" in body["message"] and "s3cr3t-key-value" not in json.dumps(body)
    assert body["first_seen"] == "2026-03-10T09:00:00+00:00"
    assert body["text"].startswith(body["title"])

    clock.now = T0 + timedelta(hours=11)  # 22:00 in Helsinki, the same day: nothing
    assert alerter.problem(problem) is False
    assert len(httpserver.log) == 1

    clock.now = T0 + timedelta(hours=13, minutes=30)  # 00:30 in Helsinki the next day: sent again
    assert alerter.problem(problem) is True
    assert len(httpserver.log) == 2
    assert posted(httpserver)[1]["first_seen"] == "2026-03-10T09:00:00+00:00"

    clock.now += timedelta(hours=1)
    assert (
        alerter.resolved("failing", "ingest:hsy_emissions", "ingest:hsy_emissions finished: success.") is True
    )
    clear = posted(httpserver)[2]
    assert clear["state"] == "resolved" and clear["key"] == "failing:ingest:hsy_emissions"
    assert clear["title"] == "[Kestävä] RESOLVED: ingest:hsy_emissions"
    assert "All clear" in clear["text"]
    assert alerter.resolved("failing", "ingest:hsy_emissions") is False  # only once
    assert alerter.open_problems() == []

    clock.now += timedelta(hours=1)  # the same problem comes back the same day: a new problem, alerted
    assert alerter.problem(problem) is True
    assert posted(httpserver)[3]["state"] == "problem"
    with engine.connect() as conn:
        row = conn.execute(select(schema.alert_state)).one()
    assert row.resolved_at is None and row.first_seen == clock.now.replace(tzinfo=None)


def test_problems_found_again_the_same_day_are_read_in_one_query_and_write_nothing(
    engine: Engine, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    clock = Clock(T0)
    alerter = webhook_alerter(engine, httpserver.url_for("/hook"), clock)
    late = [Problem("late", dataset, f"{dataset} is late", dataset) for dataset in ("a", "b")]
    assert alerter.problems(late) == 2
    statements: list[str] = []
    for reads_of in {engine, unpinged(engine)}:  # the read is the unpinged engine's on PostgreSQL
        event.listen(reads_of, "before_cursor_execute", lambda *args: statements.append(args[2]))
    clock.now = T0 + timedelta(hours=11)  # 22:00 in Helsinki, the same day
    more = [*late, Problem("late", "c", "c is late", "c")]
    assert alerter.problems(more) == 1  # only the new one
    assert [b["key"] for b in posted(httpserver)] == ["late:a", "late:b", "late:c"]
    assert alerter.problems(more) == 0
    # the first call: one read, then c's claim (its select and insert); the second: the read alone
    verbs = [s.split()[0].upper() for s in statements if "alert_state" in s]
    assert verbs == ["SELECT", "SELECT", "INSERT", "SELECT"]
    alerter.resolved("late", "b")
    clock.now = T0 + timedelta(hours=13, minutes=30)  # 00:30 in Helsinki the next day: sent again
    assert alerter.problems(more) == 3
    assert [b["key"] for b in posted(httpserver)[4:]] == ["late:a", "late:b", "late:c"]


def test_problems_are_deduplicated_per_kind_and_subject(engine: Engine, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    alerter = webhook_alerter(engine, httpserver.url_for("/hook"), Clock(T0))
    assert alerter.problem(Problem("rejected", "hsy_emissions", "bad column"))
    assert alerter.problem(Problem("late", "hsy_emissions", "late"))
    assert alerter.problem(Problem("rejected", "syke_emissions", "bad column"))
    assert not alerter.problem(Problem("rejected", "hsy_emissions", "another bad column"))
    assert [b["key"] for b in posted(httpserver)] == [
        "rejected:hsy_emissions",
        "late:hsy_emissions",
        "rejected:syke_emissions",
    ]
    assert alerter.open_problems() == [
        "late:hsy_emissions",
        "rejected:hsy_emissions",
        "rejected:syke_emissions",
    ]


def test_webhook_down_is_logged_and_retried_later(
    engine: Engine, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    clock = Clock(T0)
    down = webhook_alerter(engine, f"http://127.0.0.1:{dead_port}/hook?token=abc123secret", clock)
    caplog.set_level(logging.WARNING, logger="kestava.alerts")
    problem = Problem("failing", "compute", "boom", job="compute")

    assert down.problem(problem) is False  # no exception
    assert "webhook http://127.0.0.1" in caplog.text and "failed" in caplog.text
    assert "abc123secret" not in caplog.text

    httpserver.expect_request("/hook", method="POST").respond_with_data("error", status=500)
    failing = webhook_alerter(engine, httpserver.url_for("/hook"), clock)
    assert failing.problem(problem) is False
    assert "HTTP 500" in caplog.text

    httpserver.clear()
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    clock.now += timedelta(minutes=5)  # the same day: not delivered yet, so it is sent now
    assert failing.problem(problem) is True
    assert posted(httpserver)[0]["key"] == "failing:compute"


def test_no_channel_logs_the_alert_once_a_day(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="kestava.alerts")
    alerter = Alerter(engine, AlertSettings(), channels=[], clock=Clock(T0), secrets=[])
    assert alerter.problem(Problem("late", "syke_emissions", "Syke is late"))
    assert not alerter.problem(Problem("late", "syke_emissions", "Syke is late"))
    assert caplog.text.count("ALERT (no channel configured) [Kestävä] LATE: syke_emissions") == 1


def test_alert_state_errors_never_raise(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    alerter = Alerter(engine, AlertSettings(), channels=[], clock=Clock(T0), secrets=[])
    schema.alert_state.drop(engine)  # a database in a bad state: logged, never raised
    caplog.set_level(logging.WARNING, logger="kestava.alerts")
    # the problem is alerted all the same (here: logged, there is no channel), and so is its all-clear
    assert alerter.problem(Problem("late", "x", "late")) is True
    assert alerter.problem(Problem("late", "x", "late")) is False  # once a day, by the process's memory
    assert "ALERT (no channel configured) [Kestävä] LATE: x" in caplog.text
    assert alerter.resolved("late", "x") is True
    assert alerter.resolved("late", "x") is False
    check_run(alerter, "ingest:x", "success", dataset="x")
    assert "could not" in caplog.text


# --------------------------------------------------------------------------------------------- e-mail


class Mailbox:
    """aiosmtpd handler keeping every message."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


class Logins:
    def __init__(self) -> None:
        self.seen: list[tuple[bytes, bytes]] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.seen.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == SMTP_PASSWORD.encode(), handled=False)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, Mailbox, Logins]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox, logins = Mailbox(), Logins()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, authenticator=logins, auth_require_tls=False
    )
    # the server's own debug lines ("mail.log") stay out: its thread logged them after the test, to the
    # closed stream of pytest's capture ("--- Logging error ---" in CI's output)
    server_log = logging.getLogger("mail.log")
    level = server_log.level
    server_log.setLevel(logging.WARNING)
    controller.start()
    try:
        yield controller, mailbox, logins
    finally:
        controller.stop()
        server_log.setLevel(level)


def test_email_alert_and_all_clear(
    engine: Engine, smtp_server: tuple[Controller, Mailbox, Logins], caplog: pytest.LogCaptureFixture
) -> None:
    controller, mailbox, logins = smtp_server
    caplog.set_level(logging.DEBUG)
    clock = Clock(T0)
    settings = AlertSettings(
        smtp_host="127.0.0.1",
        smtp_port=controller.port,
        smtp_user="kestava",
        smtp_password=SecretStr(SMTP_PASSWORD),
        smtp_from="kestava@espoo.test",
        alert_email_to="ops@espoo.test, data@espoo.test",
    )
    alerter = Alerter(engine, settings, clock=clock)
    assert SMTP_PASSWORD not in repr(alerter.channels)

    rejected = Problem(
        "rejected", "syke_emissions", "syke_emissions: kunta_049.csv: column 'kt': expected a number"
    )
    assert alerter.problem(rejected) is True
    assert not alerter.problem(rejected)  # once a day
    (message,) = mailbox.messages
    assert message["Subject"] == "[Kestävä] REJECTED: syke_emissions"
    assert message["From"] == "kestava@espoo.test"
    assert message["To"] == "ops@espoo.test, data@espoo.test"
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert "column 'kt': expected a number" in body.decode()
    assert mailbox.envelopes[0] == ("kestava@espoo.test", ["ops@espoo.test", "data@espoo.test"])
    assert logins.seen == [(b"kestava", SMTP_PASSWORD.encode())]

    clock.now += timedelta(hours=2)
    assert alerter.resolved("rejected", "syke_emissions", "Loaded again.") is True
    assert mailbox.messages[1]["Subject"] == "[Kestävä] RESOLVED: syke_emissions"
    clear = mailbox.messages[1].get_payload(decode=True)
    assert isinstance(clear, bytes) and "All clear" in clear.decode() and "Loaded again." in clear.decode()
    assert SMTP_PASSWORD not in caplog.text


def test_smtp_down_or_wrong_password_is_logged_not_raised(
    engine: Engine, smtp_server: tuple[Controller, Mailbox, Logins], caplog: pytest.LogCaptureFixture
) -> None:
    controller, mailbox, _ = smtp_server
    caplog.set_level(logging.DEBUG)
    wrong = AlertSettings(
        smtp_host="127.0.0.1",
        smtp_port=controller.port,
        smtp_user="kestava",
        smtp_password=SecretStr("wrong-password-also-secret"),
        alert_email_to="ops@espoo.test",
        alert_timeout_s=3,
    )
    assert Alerter(engine, wrong, clock=Clock(T0)).problem(Problem("late", "a", "late")) is False
    assert "e-mail via 127.0.0.1" in caplog.text and "SMTPAuthenticationError" in caplog.text
    with socket.socket() as probe:  # an SMTP server that is down: nobody listens on this port
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    right = AlertSettings(
        smtp_host="127.0.0.1",
        smtp_port=dead_port,
        smtp_password=SecretStr(SMTP_PASSWORD),
        smtp_user="kestava",
        alert_email_to="ops@espoo.test",
        alert_timeout_s=3,
    )
    assert Alerter(engine, right, clock=Clock(T0)).problem(Problem("late", "b", "late")) is False
    assert mailbox.messages == []
    assert "ConnectionRefusedError" in caplog.text
    assert "wrong-password-also-secret" not in caplog.text and SMTP_PASSWORD not in caplog.text


# ------------------------------------------------------------------------------------ decision helpers


def record(
    engine: Engine, job: str, outcome: str, trigger: str = "scheduler", error: str | None = None
) -> None:
    run_id = start_run(engine, job, dataset_id=job.partition(":")[2] or None, trigger=trigger)
    finish_run(engine, run_id, outcome, error=error)


def test_consecutive_failures_count_runs_not_retries(engine: Engine) -> None:
    job = "ingest:hsy_emissions"
    assert consecutive_failures(engine, job) == 0
    record(engine, job, "failed")
    record(engine, job, "success")
    record(engine, job, "failed")  # run 1: three attempts
    record(engine, job, "failed", trigger="retry")
    record(engine, job, "failed", trigger="retry")
    record(engine, job, "busy")  # a busy run neither fails nor succeeds
    record(engine, job, "failed", trigger="cli")  # run 2, by hand
    assert consecutive_failures(engine, job) == 2
    assert consecutive_failures(engine, "ingest:other") == 0
    record(engine, job, "unchanged")
    assert consecutive_failures(engine, job) == 0


def test_check_run_alerts_after_n_failed_runs_and_clears(engine: Engine, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    clock = Clock(T0)
    alerter = webhook_alerter(engine, httpserver.url_for("/hook"), clock, alert_failures=2)
    job = "ingest:fingrid_emission_factor"

    record(engine, job, "failed", error="HTTP 503")
    check_run(alerter, job, "failed", "HTTP 503", dataset="fingrid_emission_factor")
    assert httpserver.log == []  # one failed run is not yet "repeatedly"
    record(engine, job, "failed", error="HTTP 503")
    check_run(alerter, job, "failed", "HTTP 503", dataset="fingrid_emission_factor")
    (alert,) = posted(httpserver)
    assert (
        alert["key"] == f"failing:{job}"
        and "failed 2 runs since " in alert["message"]
        and "none succeeding in between" in alert["message"]
    )
    assert "HTTP 503" in alert["message"]

    record(engine, job, "rejected", error="bad JSON")
    check_run(alerter, job, "rejected", "bad JSON", dataset="fingrid_emission_factor")
    assert posted(httpserver)[1]["key"] == "rejected:fingrid_emission_factor"

    record(engine, job, "success")
    check_run(alerter, job, "success", dataset="fingrid_emission_factor")
    cleared = {b["key"] for b in posted(httpserver)[2:]}
    assert cleared == {f"failing:{job}", "rejected:fingrid_emission_factor"}
    assert all(b["state"] == "resolved" for b in posted(httpserver)[2:])
    assert alerter.open_problems() == []


@pytest.mark.parametrize("runs", [1, 2])  # PostgreSQL: one run is one statement, two are two
def test_recording_runs_closes_open_problems_and_check_run_sends_their_all_clears(
    engine: Engine, httpserver: HTTPServer, runs: int
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    clock = Clock(T0)
    other = webhook_alerter(engine, httpserver.url_for("/hook"), clock)  # another process's alerter
    job = "ingest:fingrid_emission_factor"
    other.problem(Problem("failing", job, "failing", job=job))
    other.problem(
        Problem("rejected", "fingrid_emission_factor", "rejected", dataset="fingrid_emission_factor")
    )
    assert len(posted(httpserver)) == 2
    later = T0.replace(tzinfo=None) + timedelta(hours=1)
    keys = [f"failing:{job}", "rejected:fingrid_emission_factor", "failing:ingest:never_alerted"]
    rows = [
        {"job": job, "dataset_id": "fingrid_emission_factor", "outcome": "unchanged", "trigger": "scheduler"},
        {"job": "ingest:hsy_emissions", "dataset_id": "hsy_emissions", "outcome": "unchanged"},
    ][:runs]
    closed = record_runs(
        engine,
        [{**row, "started_at": later, "finished_at": later} for row in rows],
        close=keys,
        closed_at=later,
    )
    assert {(c.key, c.closed_at, c.last_sent is not None) for c in closed} == {
        (f"failing:{job}", later, True),
        ("rejected:fingrid_emission_factor", later, True),
    }
    run = schema.job_run
    with engine.connect() as conn:
        recorded = conn.execute(select(run.c.job, run.c.outcome, run.c.trigger).order_by(run.c.id)).all()
        assert [tuple(r) for r in recorded] == [
            (row["job"], "unchanged", row.get("trigger", "cli")) for row in rows
        ]
    assert other.open_problems() == []
    assert record_runs(engine, [], close=keys, closed_at=later) == []  # nothing open: nothing closed

    alerter = webhook_alerter(engine, httpserver.url_for("/hook"), clock)
    check_run(alerter, job, "unchanged", dataset="fingrid_emission_factor", cleared=closed)
    sent = posted(httpserver)[2:]
    assert {(b["key"], b["state"]) for b in sent} == {
        (f"failing:{job}", "resolved"),
        ("rejected:fingrid_emission_factor", "resolved"),
    }
    assert all(b["at"] == later.replace(tzinfo=UTC).isoformat() for b in sent)


CATALOGUE: dict[str, Any] = {
    "sources": {"hsy": {"publisher": "HSY", "licence": "CC BY 4.0", "attribution": "HSY", "homepage": "h"}},
    "datasets": {
        "annual_demo": {
            "title": "Annual",
            "source": "hsy",
            "protocol": "ckan_xlsx",
            "url": "https://example.test/a",
            "cadence": "15 6 * * 1",
            "calendar": {"frequency": "annual", "lag_days": 100, "grace_days": 30},
        }
    },
}


def load_period(engine: Engine, raw_store: RawStore, period: str, body: bytes) -> None:
    info = DatasetInfo(
        "annual_demo", "Annual", "ckan_xlsx", SourceInfo("hsy", "HSY", "CC BY 4.0", "HSY", "h")
    )
    data = pl.DataFrame(
        {"area": ["049"], "period": [period], "value": [1.0], "flag": [None], "unit": ["kt CO2e"]},
        schema={
            "area": pl.String,
            "period": pl.String,
            "value": pl.Float64,
            "flag": pl.String,
            "unit": pl.String,
        },
    )
    load_snapshot(engine, info, [make_payload(body)], data, reader_version="t/1", raw_store=raw_store)


def test_late_source_alert_and_all_clear(engine: Engine, raw_store: RawStore, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    catalogue: Catalogue = parse_catalogue(CATALOGUE)
    clock = Clock(T0)
    alerter = webhook_alerter(engine, httpserver.url_for("/hook"), clock)
    load_period(engine, raw_store, "2023", b"v1")
    today = date(2026, 3, 10)  # 2024 was due by mid-2025 (lag 100 + grace 30 days)
    check_freshness(alerter, catalogue, today)
    check_freshness(alerter, catalogue, today)  # once a day
    (late,) = posted(httpserver)
    assert late["key"] == "late:annual_demo" and late["kind"] == "late"
    assert "newest period is 2023" in late["message"] and "2024-12-31" in late["message"]

    load_period(engine, raw_store, "2025", b"v2")
    clock.now += timedelta(days=1)
    check_freshness(alerter, catalogue, today + timedelta(days=1))
    assert posted(httpserver)[1]["state"] == "resolved"
    assert posted(httpserver)[1]["key"] == "late:annual_demo"


def test_a_late_release_tracked_source_is_named_by_its_release_not_a_period(
    engine: Engine, raw_store: RawStore, httpserver: HTTPServer
) -> None:
    """A dataset whose periods are target years (tracks releases) is late by the day its release was seen:
    the alert says so, not "newest period is 2026-…" as if it held data to then."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    released = json.loads(json.dumps(CATALOGUE))
    released["datasets"]["annual_demo"]["calendar"]["tracks"] = "releases"
    catalogue: Catalogue = parse_catalogue(released)
    alerter = webhook_alerter(engine, httpserver.url_for("/hook"), Clock(T0))
    load_period(engine, raw_store, "2030", b"v1")
    seen = date.today()  # loaded now: the release seen today
    check_freshness(alerter, catalogue, seen + timedelta(days=200))  # lag 100 + grace 30 days passed
    (late,) = posted(httpserver)
    assert f"the last release was seen on {seen.isoformat()}" in late["message"], late["message"]
    assert "newest period" not in late["message"]


def test_secret_values_and_redaction() -> None:
    environ = {
        "FINGRID_API_KEY": "abcd-1234",
        "KESTAVA_SMTP_PASSWORD": "pw-9999",
        "KESTAVA_ALERT_WEBHOOK_URL": "https://hooks.example/T0/B1/xyz",
        "HOME": "/root",
        "SHORT_KEY": "ab",
    }
    secrets = secret_values(environ)
    assert set(secrets) == {"abcd-1234", "pw-9999", "https://hooks.example/T0/B1/xyz"}
    assert redact("key abcd-1234 and pw-9999 at /root", secrets) == "key *** and *** at /root"


@pytest.mark.parametrize(
    ("url", "password"),
    [
        ("sqlite:////var/lib/kestava/k.sqlite3", None),
        ("postgresql+psycopg://kestava@db.example:5432/kestava", None),  # peer, trust or .pgpass
        ("postgresql+psycopg://kestava:pa55-w0rd@db.example/kestava", "pa55-w0rd"),
        ("postgresql+psycopg://kestava:p%40ss%2Fw%3Ard%25x@db.example/kestava", "p@ss/w:rd%x"),
    ],
)
def test_only_the_database_urls_password_is_a_secret(url: str, password: str | None) -> None:
    """The database is named in logs and alerts (which one is meant shows); its password never is."""
    secrets = secret_values({"KESTAVA_DATABASE_URL": url})
    shown = redact(f"cannot open {safe_url(url)}; from {url}", secrets)
    assert safe_url(url) in shown  # the database named
    if password is None:
        assert secrets == [] and shown == f"cannot open {url}; from {url}"
    else:
        assert password in url_password(url)
        assert password not in shown and quote(password, safe="") not in shown
        assert "***@db.example" in shown
    unparsable = "postgresql+psycopg://kestava:se:cr@et@db:port/x"
    assert secret_values({"KESTAVA_DATABASE_URL": unparsable}) == [unparsable]  # whole, when unreadable


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres@127.0.0.1:5999/x?password=s3cret-pw",
        "postgresql+psycopg://postgres@db.example/x?sslmode=require&password=s3cret-pw",
        "postgresql+psycopg://postgres@db.example/x?sslpassword=s3cret-pw&application_name=kestava",
    ],
)
def test_a_password_given_as_a_query_parameter_is_a_secret_too(url: str) -> None:
    """libpq takes `?password=…` as well as `user:password@`: the audit found it repeated in the CLI's
    errors, the scheduler's log and its alert ("cannot open its database …?password=s3cret")."""
    shown = safe_url(url)
    assert "s3cret-pw" not in shown and "password=***" in shown
    assert shown.startswith("postgresql+psycopg://postgres@") and "/x?" in shown  # the database named
    assert "sslmode=require" in safe_url(url) or "sslmode" not in url
    assert url_password(url) == ["s3cret-pw"]
    assert redact(f"cannot open {url}", secret_values({"KESTAVA_DATABASE_URL": url})) == (
        f"cannot open {url.replace('s3cret-pw', '***')}"
    )


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres@db.example/x?password=s3cr%40t!x99",  # encoded in part
        "postgresql+psycopg://postgres:s3cr%40t!x99@db.example/x",
    ],
)
def test_a_password_encoded_only_in_part_is_masked_as_written(url: str) -> None:
    """Its decoded and fully encoded forms were secrets, not the form written in the URL."""
    shown = redact(f"cannot open {url}", secret_values({"KESTAVA_DATABASE_URL": url}))
    assert "s3cr" not in shown and "x99" not in shown and "***" in shown


def test_an_alert_goes_out_when_its_state_cannot_be_recorded_once_a_day_and_its_all_clear_too(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The database is unreachable (nothing listens on its port): the webhook still hears of the problem,
    once that day by the process's memory, again the next day, and gets the all-clear."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    engine = create_db_engine(f"postgresql+psycopg://postgres:pg-secret@127.0.0.1:{dead_port}/test")
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    clock = Clock(T0)
    alerter = webhook_alerter(engine, httpserver.url_for("/hook"), clock)
    problem = Problem("unreachable", "database", "the database cannot be reached")
    try:
        assert alerter.problem(problem) is True
        clock.now += timedelta(hours=1)
        assert alerter.problem(problem) is False  # the same day: once
        assert alerter.problems([problem]) == 0
        clock.now += timedelta(days=1)
        assert alerter.problem(problem) is True  # the next day: again
        assert [p["state"] for p in posted(httpserver)] == ["problem", "problem"]
        assert alerter.resolved("unreachable", "database", "Readable again.") is True
        assert alerter.resolved("unreachable", "database", "Readable again.") is False  # closed once
    finally:
        engine.dispose()
    alerts = posted(httpserver)
    assert [(a["key"], a["state"]) for a in alerts] == [
        ("unreachable:database", "problem"),
        ("unreachable:database", "problem"),
        ("unreachable:database", "resolved"),
    ]
    assert alerts[-1]["first_seen"] == alerts[0]["first_seen"] and "Readable again." in alerts[-1]["text"]
    assert "alerting without it" in caplog.text and "pg-secret" not in caplog.text
