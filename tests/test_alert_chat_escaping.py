"""A source's error text reaches a chat webhook inert: no link, mention or Markdown link it could render."""

from __future__ import annotations

import json
import re
import socket
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine

from kestava.alerts import Alert, Alerter, AlertSettings, check_run

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
DATASET = "hsy_emissions"
JOB = f"ingest:{DATASET}"
# what a hostile or compromised source could answer in an error body, quoted in the alert
HOSTILE = (
    "HTTP 404 Not Found: <https://evil.example|click> <!channel> <@U024BE7LH> @here "
    "[x](https://evil.example) ![i](https://evil.example/i.png) \\[y\\](https://evil.example/2) a&b"
)
# a bracket with an even number (0, 2, …) of backslashes before it opens or closes a Markdown link
UNESCAPED_BRACKET = re.compile(r"(?<!\\)(?:\\\\)*[\[\]]")


def posted(server: HTTPServer) -> list[dict[str, Any]]:
    return [json.loads(request.get_data()) for request, _ in server.log]


def rejected_alert(engine: Engine, server: HTTPServer) -> dict[str, Any]:
    """The webhook body of a rejected payload whose error quotes HOSTILE, as a real local server got it."""
    server.expect_request("/hook", method="POST").respond_with_data("ok")
    alerter = Alerter(
        engine,
        AlertSettings(alert_webhook_url=SecretStr(server.url_for("/hook"))),
        clock=lambda: T0,
        secrets=[],
    )
    check_run(alerter, JOB, "rejected", HOSTILE, dataset=DATASET)
    (body,) = posted(server)
    return body


def test_a_sources_links_and_mentions_arrive_inert_in_slack_and_teams_syntax(
    engine: Engine, httpserver: HTTPServer
) -> None:
    body = rejected_alert(engine, httpserver)
    for field in ("message", "text"):
        shown = body[field]
        # Slack: no control character left, so no <url|text> link and no <!channel> / <@U…> mention
        assert "<" not in shown and ">" not in shown, field
        assert "&lt;https://evil.example|click&gt;" in shown
        assert "&lt;!channel&gt;" in shown and "&lt;@U024BE7LH&gt;" in shown
        assert "a&amp;b" in shown  # Slack shows it back as a&b
        # Teams / Mattermost Markdown: every bracket escaped, the source's own backslashes too
        assert r"\[x\](https://evil.example)" in shown and r"!\[i\](https://evil.example/i.png)" in shown
        assert r"\\\[y\\\](https://evil.example/2)" in shown
        assert UNESCAPED_BRACKET.search(shown.removeprefix(body["title"])) is None, field
        # Mattermost's plain @here / @channel / @all: no mention of everyone
        assert "\uff20here" in shown and "@here" not in shown


def test_the_trackers_own_fields_are_unchanged(engine: Engine, httpserver: HTTPServer) -> None:
    body = rejected_alert(engine, httpserver)
    assert body["key"] == f"rejected:{DATASET}"
    assert (body["kind"], body["state"], body["subject"]) == ("rejected", "problem", DATASET)
    assert (body["dataset"], body["job"], body["host"]) == (DATASET, JOB, socket.gethostname())
    assert body["title"] == f"[Kestävä] REJECTED: {DATASET}"
    assert body["text"].startswith(f"[Kestävä] REJECTED: {DATASET}\n{DATASET}: the payload was rejected")
    assert body["text"].endswith(f"First seen 2026-03-10 11:00 EET on {socket.gethostname()}.")
    assert body["first_seen"] == body["at"] == "2026-03-10T09:00:00+00:00"


def test_the_plain_text_e_mail_keeps_the_text_as_written() -> None:
    """E-mail is sent as text/plain (EmailChannel: Alert.text), where nothing is rendered."""
    at = T0.replace(tzinfo=None)
    alert = Alert(f"rejected:{DATASET}", "rejected", "problem", DATASET, HOSTILE, at, at, DATASET, JOB)
    assert alert.text.startswith(HOSTILE)
