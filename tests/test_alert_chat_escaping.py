"""A source's error text reaches a chat webhook inert and as written: no link, mention or formatting that
Slack, Teams or Mattermost could render, and no escape that the chat would show."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, Literal

import pytest
from markdown_it import MarkdownIt
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine

from kestava.alerts import (
    Alert,
    Alerter,
    AlertSettings,
    WebhookChannel,
    WebhookKind,
    channels_from_settings,
    check_run,
    webhook_kind,
)

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
DATASET = "hsy_emissions"
JOB = f"ingest:{DATASET}"
# what a hostile or compromised source could answer in an error body, quoted in the alert: Slack's link and
# mentions, Markdown's links, image, emphasis, code and strikethrough, an HTML element, a mention of everyone
HOSTILE = (
    "HTTP 404 Not Found: <https://evil.example|click> <!channel> <@U024BE7LH> @here "
    "[x](https://evil.example) ![i](https://evil.example/i.png) \\[y\\](https://evil.example/2) a&b &lt; "
    "*bold* _it_ `code` ~~gone~~ <script>alert(1)</script> # not a heading | a|b"
)
# what every chat shows of it: the text as written, but the `@` of the mention of everyone full-width
SHOWN = HOSTILE.replace("@here", "\uff20here")
# the tracker's own words before the source's in the alert's message
OWN_WORDS = f"{DATASET}: the payload was rejected"


def as_quoted(shown: str) -> bool:
    """Whether a message as shown is the tracker's words, then the source's (SHOWN) to the end."""
    return shown.startswith(OWN_WORDS) and shown.endswith(f": {SHOWN}")


def posted(server: HTTPServer) -> list[dict[str, Any]]:
    return [json.loads(request.get_data()) for request, _ in server.log]


def rejected_alert(
    engine: Engine, server: HTTPServer, kind: Literal["auto"] | WebhookKind = "auto"
) -> dict[str, Any]:
    """The webhook body of a rejected payload whose error quotes HOSTILE, as a real local server got it
    (kind: KESTAVA_ALERT_WEBHOOK_KIND; a local URL is told as none of the chats)."""
    server.expect_request("/hook", method="POST").respond_with_data("ok")
    settings = AlertSettings(alert_webhook_url=SecretStr(server.url_for("/hook")), alert_webhook_kind=kind)
    alerter = Alerter(engine, settings, clock=lambda: T0, secrets=[])
    check_run(alerter, JOB, "rejected", HOSTILE, dataset=DATASET)
    (body,) = posted(server)
    return body


class _Shown(HTMLParser):
    """The elements and the text of rendered HTML, as a reader sees it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)

    def handle_data(self, data: str) -> None:
        self.text += data


def markdown_shown(text: str) -> _Shown:
    """text as a CommonMark renderer with GitHub's strikethrough and tables (Mattermost, Teams) shows it."""
    shown = _Shown()
    shown.feed(MarkdownIt("commonmark").enable(["strikethrough", "table"]).render(text))
    return shown


def slack_shown(text: str) -> str:
    """text as Slack shows a message with mrkdwn off: its control sequences (`<…>`) are none here (asserted
    by the caller), and its three escapes are read back."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@pytest.mark.parametrize("kind", ["teams", "mattermost", "auto"])
def test_teams_mattermost_and_a_generic_receiver_show_a_sources_words_as_written(
    engine: Engine, httpserver: HTTPServer, kind: Literal["auto"] | WebhookKind
) -> None:
    body = rejected_alert(engine, httpserver, kind)
    assert "mrkdwn" not in body
    message = markdown_shown(body["message"])
    assert message.tags == {"p"}, message.tags  # no link, image, emphasis, code, strikethrough, script
    assert as_quoted(message.text.strip()), message.text
    text = markdown_shown(body["text"])
    assert text.tags == {"p"} and SHOWN in text.text, text.tags
    assert "@here" not in body["text"]  # Mattermost's plain mention of everyone


def test_slack_shows_a_sources_words_as_written_without_backslashes(
    engine: Engine, httpserver: HTTPServer
) -> None:
    """Slack has no backslash escapes: its three control characters are escaped as it says, its mrkdwn
    formatting (`*bold*`) is turned off, and nothing else is touched."""
    body = rejected_alert(engine, httpserver, "slack")
    assert body["mrkdwn"] is False
    for field in ("message", "text"):
        assert "<" not in body[field] and ">" not in body[field], field  # no link, mention or element
    assert as_quoted(slack_shown(body["message"]))  # the source's own backslashes and brackets as written
    assert slack_shown(body["text"]).startswith(f"{body['title']}\n{slack_shown(body['message'])}\n\n")


def test_the_webhooks_chat_is_told_from_its_url_or_the_setting() -> None:
    assert webhook_kind("https://hooks.slack.com/services/T000/B000/XXXX") == "slack"
    assert webhook_kind("https://contoso.webhook.office.com/webhookb2/abc@def/IncomingWebhook/x/y") == "teams"
    assert webhook_kind("https://chat.example.fi/hooks/xxxgenerated") == "generic"  # a Mattermost server
    assert webhook_kind("https://relay.example.fi/hook", "slack") == "slack"  # KESTAVA_ALERT_WEBHOOK_KIND
    assert webhook_kind("https://hooks.slack.com/services/x", "generic") == "generic"
    url = "https://hooks.slack.com/services/T000/B000/XXXX"
    (channel,) = channels_from_settings(AlertSettings(alert_webhook_url=SecretStr(url)))
    assert isinstance(channel, WebhookChannel) and channel.kind == "slack"


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
