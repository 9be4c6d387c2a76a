"""Alerts by webhook and e-mail: daily, then weekly, per problem; an all-clear on recovery; never raising."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import smtplib
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from typing import Any, Literal, Protocol, get_args
from urllib.parse import quote, quote_plus, urlsplit

import httpx
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Engine, bindparam, insert, or_, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from common.helsinki import HELSINKI
from common.secrets import redact
from ingest.catalogue import Catalogue
from ingest.freshness import freshness_rows
from kestava.status import used_areas
from storage import schema
from storage.alert_state import AllClear, ClosedProblem, close_problems
from storage.engine import autocommit, is_secret_parameter, once_more
from storage.newest_runs import newest_run_ids

__all__ = [
    "WEBHOOK_KINDS",
    "Alert",
    "AlertSettings",
    "Alerter",
    "Channel",
    "EmailChannel",
    "MemoryUnrecorded",
    "Problem",
    "UnrecordedStore",
    "WebhookChannel",
    "alert_failing_jobs",
    "busy_streak",
    "chat_inert",
    "check_freshness",
    "check_run",
    "consecutive_failures",
    "failure_streak",
    "redact",
    "run_problems",
    "secret_values",
    "url_password",
    "webhook_kind",
]

log = logging.getLogger(__name__)
# Environment variables whose values are secrets wherever they might turn up (logs, alerts).
_SECRET_SUFFIXES = ("_KEY", "_TOKEN", "_PASSWORD", "_SECRET")
_SECRET_NAMES = ("KESTAVA_ALERT_WEBHOOK_URL",)
# the database URL: only its password is a secret (so that a log or an alert still says which database)
_DATABASE_URL = "KESTAVA_DATABASE_URL"
_MIN_SECRET_LENGTH = 4
# job_run.trigger of the second and later attempts of one run: not counted as separate failed runs
RETRY_TRIGGER = "retry"


# the chats a webhook may post to (KESTAVA_ALERT_WEBHOOK_KIND); generic is escaped as Teams and Mattermost
WebhookKind = Literal["slack", "teams", "mattermost", "generic"]
WEBHOOK_KINDS: tuple[WebhookKind, ...] = get_args(WebhookKind)


class AlertSettings(BaseSettings):
    """Alert channels and thresholds from KESTAVA_* environment variables (no channel: log only)."""

    model_config = SettingsConfigDict(env_prefix="KESTAVA_", extra="ignore")

    alert_webhook_url: SecretStr | None = Field(
        default=None, description="JSON POST target (may hold a token)"
    )
    smtp_host: str | None = Field(default=None, description="SMTP server; unset: no e-mail")
    smtp_port: int = Field(default=25, description="465 means implicit TLS")
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = Field(default_factory=lambda: f"kestava@{socket.gethostname()}")
    smtp_starttls: bool | None = Field(default=None, description="None: STARTTLS when the server offers it")
    alert_email_to: str = Field(default="", description="comma-separated recipients")
    alert_failures: int = Field(default=2, ge=1, description="consecutive failed runs before alerting")
    alert_failing_after_h: float = Field(
        default=24.0,
        gt=0,
        description="hours after the first of a job's consecutive failed runs when it is alerted, however "
        "few runs failed (a weekly or monthly job fails once in that time)",
    )
    alert_busy_runs: int = Field(
        default=3,
        ge=1,
        description="runs in a row that found the job's lock held by another run before it is alerted as "
        "blocked (also alerted once it has been so for longer than KESTAVA_JOB_TIME_LIMIT_MIN)",
    )
    alert_daily_days: int = Field(
        default=3,
        ge=1,
        description="days an open problem is alerted again daily; after them, weekly",
    )
    alert_webhook_kind: Literal["auto", WebhookKind] = Field(
        default="auto",
        description="the chat the webhook posts to, whose rendering its text is escaped for; auto: told "
        "from the URL (webhook_kind)",
    )
    alert_timeout_s: float = Field(default=10.0, gt=0)
    alert_database_min: float = Field(
        default=10.0, gt=0, description="minutes the scheduler's job store may be unreadable before alerting"
    )

    @property
    def recipients(self) -> list[str]:
        return [address.strip() for address in self.alert_email_to.split(",") if address.strip()]


def secret_values(environ: Mapping[str, str] | None = None, extra_names: Iterable[str] = ()) -> list[str]:
    """Values of secret-looking environment variables (…_KEY, …_TOKEN, …_PASSWORD, …_SECRET, webhook URL)."""
    environ = os.environ if environ is None else environ
    names = set(extra_names) | set(_SECRET_NAMES)
    values = {
        value.strip()
        for name, value in environ.items()
        if (name in names or name.upper().endswith(_SECRET_SUFFIXES))
        and len(value.strip()) >= _MIN_SECRET_LENGTH
    }
    values |= set(url_password(environ.get(_DATABASE_URL, "")))
    return sorted(
        values, key=len, reverse=True
    )  # longest first, so a secret containing another is masked whole


def url_password(url: str) -> list[str]:
    """The secrets of a database URL: its password, in its user part or as a query parameter
    (`?password=…`, storage.engine.is_secret_parameter), as given and as written in a URL (percent-encoded);
    a URL that cannot be parsed is a secret whole (where its password is cannot be told)."""
    url = url.strip()
    if not url:
        return []
    try:
        parsed = make_url(url)
    except Exception:
        return [url] if len(url) >= _MIN_SECRET_LENGTH else []
    query = [
        value
        for name, given in parsed.query.items()
        if is_secret_parameter(name)
        for value in ((given,) if isinstance(given, str) else given)
    ]
    texts = [str(secret) for secret in (parsed.password, *query) if secret]
    forms = {form for text in texts for form in (text, quote(text, safe=""), quote_plus(text))}
    forms |= set(_written_secrets(url))  # as written, however much of it is percent-encoded
    return sorted((form for form in forms if len(form) >= _MIN_SECRET_LENGTH), key=len, reverse=True)


def _written_secrets(url: str) -> list[str]:
    """A URL's password and secret query values exactly as written in it (encoded or not, or in part)."""
    split = urlsplit(url)
    netloc_password = split.netloc.rpartition("@")[0].partition(":")[2] if "@" in split.netloc else ""
    query = [value for name, value in _query_pairs(split.query) if is_secret_parameter(name)]
    return [written for written in (netloc_password, *query) if written]


def _query_pairs(query: str) -> list[tuple[str, str]]:
    """A query's name=value pairs as written (not decoded)."""
    return [(pair.partition("=")[0], pair.partition("=")[2]) for pair in query.split("&") if pair]


@dataclass(frozen=True)
class Problem:
    """Something an operator must hear about: a failing job, a rejected payload or a late source."""

    kind: str  # failing, rejected, late, disk (the scheduler's health check)
    subject: str  # the job (failing), the dataset (rejected, late) or the folder (disk)
    message: str
    dataset: str | None = None
    job: str | None = None

    @property
    def key(self) -> str:
        """The dedupe key: one alert per key per repeat (daily, then weekly)."""
        return f"{self.kind}:{self.subject}"


def _problem_alert(problem: Problem, first_seen: datetime, now: datetime) -> Alert:
    """The alert telling of a problem first seen at first_seen, sent now."""
    return Alert(
        problem.key,
        problem.kind,
        "problem",
        problem.subject,
        problem.message,
        first_seen,
        now,
        problem.dataset,
        problem.job,
    )


@dataclass(frozen=True)
class Alert:
    """One message as sent: a problem, or the all-clear after it."""

    key: str
    kind: str
    state: str  # problem, resolved
    subject: str
    message: str
    first_seen: datetime  # naive UTC
    at: datetime  # naive UTC
    dataset: str | None = None
    job: str | None = None
    host: str = field(default_factory=socket.gethostname)

    @property
    def title(self) -> str:
        label = "RESOLVED" if self.state == "resolved" else self.kind.upper()
        return f"[Kestävä] {label}: {self.subject}"

    @property
    def text(self) -> str:
        since = _local(self.first_seen).strftime("%Y-%m-%d %H:%M %Z")
        if self.state == "resolved":
            return f"All clear: {self.subject} has recovered (problem since {since}). {self.message}".strip()
        if _local(self.first_seen).date() < _local(self.at).date():  # a repeat
            return f"Still open since {since}: {self.message}\n\nFirst seen {since} on {self.host}."
        return f"{self.message}\n\nFirst seen {since} on {self.host}."

    def payload(self, kind: WebhookKind = "generic") -> dict[str, Any]:
        """The webhook JSON body (its `text` also suits a Slack, Mattermost or Teams incoming webhook); its
        message, which may quote a source's error text, made inert for the chat of kind to render
        (chat_inert); for Slack, its mrkdwn formatting turned off."""
        inert = replace(self, message=chat_inert(self.message, kind))
        body = {
            "key": self.key,
            "kind": self.kind,
            "state": self.state,
            "subject": self.subject,
            "dataset": self.dataset,
            "job": self.job,
            "title": self.title,
            "message": inert.message,
            "text": f"{self.title}\n{inert.text}",
            "first_seen": self.first_seen.replace(tzinfo=UTC).isoformat(),
            "at": self.at.replace(tzinfo=UTC).isoformat(),
            "host": self.host,
        }
        return {**body, "mrkdwn": False} if kind == "slack" else body


# Slack (mrkdwn, docs.slack.dev/messaging/formatting-message-text): its three control characters escaped
# as it says (`<url|text>` links, `<!channel>` and `<@U…>` mentions), which it shows back as written; it
# has no backslash escapes (it would show them), so its formatting (`*bold*`, `_italic_`) is turned off
# instead (the payload's "mrkdwn": false)
_SLACK_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# Teams, Mattermost and a generic receiver (Markdown, CommonMark): the same three as entities (no HTML
# element, no autolink), and the characters of a link or image (`[text](url)`), of emphasis, code,
# strikethrough, a heading or a table backslash-escaped, the backslash itself too: each shown as written;
# an underscore within a word (hsy_emissions), which emphasises nothing, is left as it is
_MARKDOWN_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;"} | {c: "\\" + c for c in "\\[]*`~#|"}
)
# a run of underscores, whole, that is not between two letters or digits
_EDGE_UNDERSCORES = re.compile(r"(?<!_)(?:(?<![^\W_])_+|_+(?![^\W_]))(?!_)")
# a plain mention of everyone (Mattermost's @channel, @all, @here): its `@` made the full-width `＠`
_MASS_MENTION = re.compile(r"@(?=(?:channel|all|here|everyone)\b)", re.IGNORECASE)


def chat_inert(text: str, kind: WebhookKind = "generic") -> str:
    """Text the chat of kind (WEBHOOK_KINDS) shows as written, with no link, mention or formatting in it
    however it was worded (_SLACK_ESCAPES for Slack, else _MARKDOWN_ESCAPES and _EDGE_UNDERSCORES;
    _MASS_MENTION); a bare URL stays a URL shown whole."""
    if kind == "slack":
        inert = text.translate(_SLACK_ESCAPES)
    else:
        inert = _EDGE_UNDERSCORES.sub(lambda run: "\\_" * len(run[0]), text.translate(_MARKDOWN_ESCAPES))
    return _MASS_MENTION.sub("\uff20", inert)


def webhook_kind(url: str, setting: Literal["auto"] | WebhookKind = "auto") -> WebhookKind:
    """The chat a webhook posts to (WEBHOOK_KINDS): the setting KESTAVA_ALERT_WEBHOOK_KIND unless auto, else
    told from the URL's host: hooks.slack.com is Slack's incoming webhooks, *.webhook.office.com and
    outlook.office.com Teams'; any other (a Mattermost server's own, a relay) generic."""
    if setting != "auto":
        return setting
    host = (urlsplit(url).hostname or "").rstrip(".")
    if host == "hooks.slack.com":
        return "slack"
    if host.endswith(".webhook.office.com") or host == "outlook.office.com":
        return "teams"
    return "generic"


class Channel(Protocol):
    """Somewhere alerts go; `send` raises when the alert could not be delivered."""

    name: str

    def send(self, alert: Alert) -> None: ...


class WebhookChannel:
    """A JSON POST to a URL; the URL is never logged whole (it often carries a token)."""

    def __init__(self, url: str, *, timeout: float = 10.0, kind: WebhookKind = "generic") -> None:
        self.url = url
        self.timeout = timeout
        self.kind = kind  # the chat it posts to (webhook_kind): its text escaped for that chat's rendering
        parts = urlsplit(url)
        self.name = f"webhook {parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")

    def send(self, alert: Alert) -> None:
        response = httpx.post(self.url, json=alert.payload(self.kind), timeout=self.timeout)
        if response.status_code >= 300:
            raise RuntimeError(f"HTTP {response.status_code}")


class EmailChannel:
    """An e-mail through SMTP (STARTTLS when offered or required, implicit TLS on port 465)."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        *,
        user: str | None = None,
        password: str | None = None,
        starttls: bool | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.recipients = list(recipients)
        self.user = user
        self._password = password
        self.starttls = starttls
        self.timeout = timeout
        self.name = f"e-mail via {host}:{port}"

    def __repr__(self) -> str:  # never show the password
        return f"EmailChannel({self.host!r}, {self.port}, user={self.user!r})"

    def send(self, alert: Alert) -> None:
        message = EmailMessage()
        message["Subject"] = alert.title
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message.set_content(alert.text)
        if self.port == 465:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            smtp.ehlo()
            if self.port != 465 and (self.starttls or (self.starttls is None and smtp.has_extn("starttls"))):
                smtp.starttls()
                smtp.ehlo()
            if self.user:
                smtp.login(self.user, self._password or "")
            smtp.send_message(message)


def channels_from_settings(settings: AlertSettings) -> list[Channel]:
    """The configured channels: a webhook and/or e-mail."""
    channels: list[Channel] = []
    if settings.alert_webhook_url is not None and settings.alert_webhook_url.get_secret_value():
        url = settings.alert_webhook_url.get_secret_value()
        kind = webhook_kind(url, settings.alert_webhook_kind)
        channels.append(WebhookChannel(url, timeout=settings.alert_timeout_s, kind=kind))
    if settings.smtp_host and settings.recipients:
        channels.append(
            EmailChannel(
                settings.smtp_host,
                settings.smtp_port,
                settings.smtp_from,
                settings.recipients,
                user=settings.smtp_user,
                password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                starttls=settings.smtp_starttls,
                timeout=settings.alert_timeout_s,
            )
        )
    return channels


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _local(naive_utc: datetime) -> datetime:
    return naive_utc.replace(tzinfo=UTC).astimezone(HELSINKI)


def _local_day_start(naive_utc: datetime) -> datetime:
    """Midnight (Europe/Helsinki) of the day naive_utc falls on, as naive UTC."""
    day: date = _local(naive_utc).date()
    return _naive_utc(datetime.combine(day, time(0), tzinfo=HELSINKI))


def _days_before_start(naive_utc: datetime, days: int) -> datetime:
    """Midnight (Europe/Helsinki) days before the day naive_utc falls on, as naive UTC."""
    day: date = _local(naive_utc).date() - timedelta(days=days)
    return _naive_utc(datetime.combine(day, time(0), tzinfo=HELSINKI))


@dataclass(frozen=True)
class _Repeat:
    """When an open problem is alerted again: daily for its first daily_days (Helsinki) days, then weekly.

    Not due: alerted today, or first seen before the daily days and alerted within the last 7 days."""

    day_start: datetime  # naive UTC: midnight (Helsinki) today
    daily_start: datetime  # first seen before this: its daily repeats are over
    week_start: datetime  # midnight six days ago: a weekly repeat alerted since is not due

    @classmethod
    def at(cls, now: datetime, daily_days: int) -> _Repeat:
        """The repeat rule's moments for now (naive UTC)."""
        return cls(_local_day_start(now), _days_before_start(now, daily_days - 1), _days_before_start(now, 6))

    def due(self, first_seen: datetime, last_sent: datetime | None) -> bool:
        """Whether a problem open since first_seen, last alerted at last_sent, is to be alerted again now."""
        if last_sent is None:
            return True
        if last_sent >= self.day_start:
            return False
        return not (first_seen < self.daily_start and last_sent >= self.week_start)

    def params(self) -> dict[str, datetime]:
        """The bind parameters of _NOT_DUE."""
        return {"day_start": self.day_start, "daily_start": self.daily_start, "week_start": self.week_start}


# an unrecorded problem: (first seen, last sent), naive UTC
Unrecorded = tuple[datetime, datetime]


class UnrecordedStore(Protocol):
    """Where an Alerter keeps the problems it alerted without a record in alert_state (key -> Unrecorded)."""

    def load(self) -> dict[str, Unrecorded]: ...

    def save(self, entries: Mapping[str, Unrecorded]) -> None: ...

    def locked(self) -> AbstractContextManager[object]:
        """The store to this process alone while the block runs (a load, then a save)."""
        ...


class MemoryUnrecorded:
    """An UnrecordedStore in this process's memory: its repeats and all-clears hold in this process only."""

    def __init__(self) -> None:
        self._entries: dict[str, Unrecorded] = {}

    def load(self) -> dict[str, Unrecorded]:
        """The problems kept (a copy)."""
        return dict(self._entries)

    def save(self, entries: Mapping[str, Unrecorded]) -> None:
        """Keep entries, replacing what was kept."""
        self._entries = dict(entries)

    def locked(self) -> AbstractContextManager[object]:
        """Nothing to lock: no other process sees this store (the Alerter's thread lock serialises)."""
        return contextlib.nullcontext()


_state = schema.alert_state
# the problems (of those named) open and not due again (_Repeat.due): nothing to send
_NOT_DUE = or_(
    _state.c.last_sent >= bindparam("day_start"),
    (_state.c.first_seen < bindparam("daily_start")) & (_state.c.last_sent >= bindparam("week_start")),
)
_ALERTED_TODAY = select(_state.c.problem_key).where(
    _state.c.problem_key.in_(bindparam("keys", expanding=True)),
    _state.c.resolved_at.is_(None),
    _NOT_DUE,
)


class Alerter:
    """Sends problem alerts (daily for a problem's first days, then weekly: _Repeat) and all-clears.

    State lives in the alert_state table, so the repeat rule holds across processes and restarts.
    When that table cannot be written (the database is unreachable, its disk full), a problem is alerted
    all the same, repeated as ever but by the `unrecorded` store (this process's memory unless given one
    that lasts, e.g. the scheduler's file), and its all-clear comes from there; merge_unrecorded moves
    what it holds into alert_state once the database is back.
    Every public method swallows and logs its own errors: alerting never crashes the job it reports on.
    """

    def __init__(
        self,
        engine: Engine,
        settings: AlertSettings | None = None,
        *,
        channels: Sequence[Channel] | None = None,
        clock: Callable[[], datetime] = _utc_now,
        secrets: Sequence[str] | None = None,
        unrecorded: UnrecordedStore | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings or AlertSettings()
        self.channels = list(channels) if channels is not None else channels_from_settings(self.settings)
        self.clock = clock
        extra = [self.settings.smtp_password.get_secret_value()] if self.settings.smtp_password else []
        if self.settings.alert_webhook_url is not None:
            extra.append(self.settings.alert_webhook_url.get_secret_value())
        self.secrets = [*(secrets if secrets is not None else secret_values()), *extra]
        # problems alerted without a record in alert_state (it could not be written): the repeat rule and
        # the all-clear for these hold as long as the store keeps them
        self._unrecorded: UnrecordedStore = unrecorded if unrecorded is not None else MemoryUnrecorded()
        self._unrecorded_lock = threading.Lock()

    @contextlib.contextmanager
    def _holding_unrecorded(self) -> Iterator[None]:
        """The unrecorded store to this thread alone, and to this process alone where other processes share
        it (the scheduler's file: two cron runs at once would each save what it had read, one losing the
        other's problem, alerted again at its next run)."""
        with self._unrecorded_lock, self._unrecorded.locked():
            yield

    @property
    def threshold(self) -> int:
        """Consecutive failed runs of a job before it is alerted."""
        return self.settings.alert_failures

    def _now(self) -> datetime:
        return _naive_utc(self.clock())

    def now(self) -> datetime:
        """The alerter's clock, as naive UTC (when a problem closed with a run's record closes)."""
        return self._now()

    def _repeat(self, now: datetime) -> _Repeat:
        return _Repeat.at(now, self.settings.alert_daily_days)

    def _redacted(self, problem: Problem) -> Problem:
        return Problem(
            problem.kind, problem.subject, redact(problem.message, self.secrets), problem.dataset, problem.job
        )

    def problem(self, problem: Problem) -> bool:
        """Alert a problem unless it is not due again (_Repeat); True when an alert went out."""
        problem = self._redacted(problem)
        now = self._now()
        with self._holding_unrecorded():
            unrecorded = self._unrecorded.load().get(problem.key)
        if unrecorded is not None and not self._repeat(now).due(*unrecorded):
            log.debug("alert %s: not due again (sent without alert state)", problem.key)
            return False
        try:
            claim = self._claim(problem, now)
        except Exception as error:
            log.warning(
                "alert %s: could not read or record alert state (%s): alerting without it",
                problem.key,
                (self._safe(error).splitlines() or [""])[0],  # one line (SQLAlchemy adds more)
            )
            return self._problem_unrecorded(problem, now)
        if claim is None:
            log.debug("alert %s: already sent today", problem.key)
            return False
        previous_sent, first_seen = claim
        alert = _problem_alert(problem, first_seen, now)
        if self._deliver(alert):
            return True
        try:  # nothing got through: forget the claim so that the next check tries again
            with self.engine.begin() as conn:
                conn.execute(
                    update(schema.alert_state)
                    .where(
                        schema.alert_state.c.problem_key == problem.key, schema.alert_state.c.last_sent == now
                    )
                    .values(last_sent=previous_sent)
                )
        except Exception as error:
            log.warning("alert %s: could not reset alert state: %s", problem.key, self._safe(error))
        return False

    def problem_unrecorded(self, problem: Problem) -> bool:
        """Alert a problem without reading or writing alert_state (there is no database to record it in),
        unless the unrecorded store says it is not due again; its all-clear comes from that store."""
        return self._problem_unrecorded(self._redacted(problem), self._now())

    def _problem_unrecorded(self, problem: Problem, now: datetime) -> bool:
        """Alert a problem whose claim could not be recorded, unless the unrecorded store says it is not due
        again."""
        with self._holding_unrecorded():
            kept = self._unrecorded.load()
            first_seen, last_sent = kept.get(problem.key, (now, None))
            if not self._repeat(now).due(first_seen, last_sent):
                log.debug("alert %s: not due again (sent without alert state)", problem.key)
                return False
            self._unrecorded.save({**kept, problem.key: (first_seen, now)})
        alert = _problem_alert(problem, first_seen, now)
        if self._deliver(alert):
            return True
        with self._holding_unrecorded():  # nothing got through: the next check tries again
            kept = self._unrecorded.load()
            if last_sent is None:
                kept.pop(problem.key, None)
            else:
                kept[problem.key] = (first_seen, last_sent)
            self._unrecorded.save(kept)
        return False

    def _resolve_unrecorded(self, keys: Sequence[str]) -> list[ClosedProblem]:
        """Close the problems of keys alerted without a record in alert_state (those the store keeps)."""
        now = self._now()
        with self._holding_unrecorded():
            kept = self._unrecorded.load()
            gone = [(key, kept.pop(key)) for key in keys if key in kept]
            if gone:
                self._unrecorded.save(kept)
        return [ClosedProblem(key, first_seen, last_sent, now) for key, (first_seen, last_sent) in gone]

    def merge_unrecorded(self) -> list[str]:
        """Move the problems the unrecorded store keeps into alert_state (the database is back): each keeps
        the earlier first seen and the later last sent of the two records, open; the keys moved (those
        that could not be written stay in the store)."""
        with self._holding_unrecorded():
            kept = self._unrecorded.load()
            moved = [key for key, times in sorted(kept.items()) if self._merged(key, *times)]
            if moved:
                self._unrecorded.save({key: times for key, times in kept.items() if key not in moved})
        return moved

    def _merged(self, key: str, first_seen: datetime, last_sent: datetime) -> bool:
        """Record the unrecorded problem key in alert_state, open; False (logged) when that failed."""
        table = schema.alert_state
        try:
            with self.engine.begin() as conn:
                row = conn.execute(select(table).where(table.c.problem_key == key)).first()
                if row is None:
                    conn.execute(
                        insert(table).values(problem_key=key, first_seen=first_seen, last_sent=last_sent)
                    )
                    return True
                if row.resolved_at is None:  # open in both: one problem since the earlier sighting
                    first_seen = min(first_seen, row.first_seen)
                    last_sent = max(last_sent, row.last_sent or last_sent)
                conn.execute(
                    update(table)
                    .where(table.c.problem_key == key)
                    .values(first_seen=first_seen, last_sent=last_sent, resolved_at=None)
                )
        except Exception as error:
            log.warning("alert %s: could not record it in alert state: %s", key, self._safe(error))
            return False
        return True

    def problems(self, problems: Sequence[Problem]) -> int:
        """Alert each problem unless it was already alerted today (read for all in one query first, so that
        a check finding the same problems again writes nothing); how many alerts went out."""
        if not problems:
            return 0
        keys = [problem.key for problem in problems]
        repeat = self._repeat(self._now())
        try:
            alerted = once_more(lambda: self._alerted_today(keys, repeat))
        except Exception as error:
            log.warning("alert state: could not read %s: %s", ", ".join(keys), self._safe(error))
            alerted = set()  # each problem's own claim reads (and reports) again
        for key in sorted(alerted):
            log.debug("alert %s: not due again", key)
        return sum(self.problem(problem) for problem in problems if problem.key not in alerted)

    def _alerted_today(self, keys: Sequence[str], repeat: _Repeat) -> set[str]:
        """Which of the keys' problems are open and not due again: one read, its connection not pinged first
        (run once more by the caller when the server had dropped it)."""
        with autocommit(self.engine, ping=False) as conn:
            return set(conn.execute(_ALERTED_TODAY, {"keys": list(keys), **repeat.params()}).scalars())

    def resolved(self, kind: str, subject: str, message: str = "") -> bool:
        """Close the problem kind:subject if open; True when an all-clear went out."""
        return self.resolve_many([(kind, subject)], message) > 0

    def resolve_many(self, problems: Sequence[tuple[str, str]], message: str = "") -> int:
        """Close each open (kind, subject) problem, sending an all-clear for those that were alerted."""
        keys = [f"{kind}:{subject}" for kind, subject in problems]
        if not keys:
            return 0
        try:
            with autocommit(self.engine) as conn:  # one statement: nothing open means nothing written
                closed = close_problems(conn, keys, self._now())
        except Exception as error:
            log.warning("alert state: could not resolve %s: %s", ", ".join(keys), self._safe(error))
            closed = []
        return self.all_clears(closed, message, keys=keys)

    def all_clears(
        self, closed: Sequence[ClosedProblem], message: str = "", *, keys: Sequence[str] = ()
    ) -> int:
        """Send the all-clear of each closed problem that was alerted, and of those of keys this process
        alerted without a record in alert_state (closed here); how many went out."""
        unrecorded = self._resolve_unrecorded(keys) if keys else []
        recorded = {problem.key for problem in closed}
        sent = 0
        for problem in [*closed, *(p for p in unrecorded if p.key not in recorded)]:
            if problem.last_sent is None:
                continue  # never alerted: nothing to give the all-clear for
            kind, _, subject = problem.key.partition(":")
            alert = Alert(
                problem.key,
                kind,
                "resolved",
                subject,
                redact(message, self.secrets),
                problem.first_seen,
                problem.closed_at,
                subject if kind in ("rejected", "late") else None,
                subject if kind in ("failing", "hung", "blocked") else None,
            )
            sent += self._deliver(alert)
        return sent

    def ingest_all_clear(self) -> AllClear:
        """What an unchanged ingest closes with its run record: what check_run would close, at this clock."""

        def keys(dataset: str) -> list[str]:
            return [f"{kind}:{subject}" for kind, subject in run_problems(f"ingest:{dataset}", dataset)]

        return AllClear(keys=keys, clock=self._now)

    def open_problems(self) -> list[str]:
        """Keys of the problems not yet resolved."""
        table = schema.alert_state
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(table.c.problem_key)
                    .where(table.c.resolved_at.is_(None))
                    .order_by(table.c.problem_key)
                ).scalars()
            )

    def _claim(self, problem: Problem, now: datetime) -> tuple[datetime | None, datetime] | None:
        """Record that problem is being alerted now; None when it is not due again (or someone else alerts
        it)."""
        table = schema.alert_state
        repeat = self._repeat(now)
        values = {"last_sent": now, "last_message": problem.message}
        try:
            with self.engine.begin() as conn:
                row = conn.execute(select(table).where(table.c.problem_key == problem.key)).first()
                if row is None:
                    conn.execute(insert(table).values(problem_key=problem.key, first_seen=now, **values))
                    return None, now
                if row.resolved_at is not None:  # it came back
                    changed = conn.execute(
                        update(table)
                        .where(table.c.problem_key == problem.key, table.c.resolved_at.is_not(None))
                        .values(first_seen=now, resolved_at=None, **values)
                    ).rowcount
                    return (None, now) if changed else None
                if not repeat.due(row.first_seen, row.last_sent):
                    return None
                changed = conn.execute(
                    update(table)
                    .where(
                        table.c.problem_key == problem.key,
                        table.c.resolved_at.is_(None),
                        or_(table.c.last_sent.is_(None), ~_NOT_DUE),
                    )
                    .values(**values),
                    repeat.params(),
                ).rowcount
                return (row.last_sent, row.first_seen) if changed else None
        except IntegrityError:
            return None  # another process inserted the same problem at the same moment and alerts it

    def _deliver(self, alert: Alert) -> bool:
        """Send on every channel; True when at least one succeeded (or, with no channel, once logged)."""
        if not self.channels:
            log.warning("ALERT (no channel configured) %s: %s", alert.title, alert.text)
            return True
        delivered = False
        for channel in self.channels:
            try:
                channel.send(alert)
            except Exception as error:
                log.warning("alert %s: %s failed: %s", alert.key, channel.name, self._safe(error))
            else:
                delivered = True
                log.info("alert %s (%s) sent by %s", alert.key, alert.state, channel.name)
        return delivered

    def _safe(self, error: BaseException) -> str:
        return redact(f"{type(error).__name__}: {error}", self.secrets)


def consecutive_failures(engine: Engine, job: str, *, limit: int = 200) -> int:
    """How many runs of job failed in a row up to now (retry attempts and busy/rejected runs not counted)."""
    return failure_streak(engine, job, limit=limit)[0]


def failure_streak(engine: Engine, job: str, *, limit: int = 200) -> tuple[int, datetime | None]:
    """How many runs of job failed in a row up to now (as consecutive_failures), and when the first of them
    started (naive UTC; None when none failed)."""
    run = schema.job_run
    with engine.connect() as conn:
        rows = conn.execute(
            select(run.c.outcome, run.c.trigger, run.c.started_at)
            .where(run.c.job == job, run.c.outcome.in_(("success", "unchanged", "failed")))
            .order_by(run.c.id.desc())
            .limit(limit)
        ).all()
    count, first = 0, None
    for outcome, trigger, started_at in rows:
        if outcome != "failed":
            break
        first = started_at
        if trigger != RETRY_TRIGGER:
            count += 1
    return count, first


def busy_streak(engine: Engine, job: str, *, limit: int = 200) -> tuple[int, datetime | None, str | None]:
    """How many runs of job in a row found its lock held by another run (busy) up to now, when the first of
    them started (naive UTC) and the last one's error (naming the holder); (0, None, None) when none."""
    run = schema.job_run
    with engine.connect() as conn:
        rows = conn.execute(
            select(run.c.outcome, run.c.started_at, run.c.error)
            .where(run.c.job == job, run.c.outcome != "running")
            .order_by(run.c.id.desc())
            .limit(limit)
        ).all()
    count, first, error = 0, None, None
    for outcome, started_at, why in rows:
        if outcome != "busy":
            break
        count, first, error = count + 1, started_at, error if count else why
    return count, first, error


def _failing(alerter: Alerter, job: str, error: str | None, dataset: str | None) -> None:
    """Alert job as failing when it failed threshold runs in a row, or its first failure in a row is older
    than alert_failing_after_h."""
    failures, first = failure_streak(alerter.engine, job)
    if failures == 0 or first is None:
        return
    lasted = alerter.now() - first
    if failures >= alerter.threshold or lasted >= timedelta(hours=alerter.settings.alert_failing_after_h):
        since = _local(first).strftime("%Y-%m-%d %H:%M %Z")
        alerter.problem(
            Problem(
                "failing",
                job,
                # "since", not "in a row": rejected and busy runs between the failures are not counted
                f"{job} has failed {failures} run{'s' if failures != 1 else ''} since {since}, none "
                f"succeeding in between. Last error: {error or 'unknown'}",
                dataset=dataset,
                job=job,
            )
        )


def _blocked(alerter: Alerter, job: str, limit_min: float) -> None:
    """Alert job as blocked when alert_busy_runs runs in a row, or for longer than limit_min minutes, found
    its lock held by another run."""
    count, first, error = busy_streak(alerter.engine, job)
    if count == 0 or first is None:
        return
    lasted = alerter.now() - first
    if count >= alerter.settings.alert_busy_runs or lasted >= timedelta(minutes=limit_min):
        since = _local(first).strftime("%Y-%m-%d %H:%M %Z")
        alerter.problem(
            Problem(
                "blocked",
                job,
                f"{job} has not run since {since}: its {count} run{'s' if count != 1 else ''} since found "
                f"its lock held by another run ({error or 'busy'}). A hung `kestava` command or a second "
                "scheduler may hold it: find the holder (host:pid) and end it.",
                job=job,
            )
        )


def run_problems(job: str, dataset: str | None = None) -> list[tuple[str, str]]:
    """The problems (kind, subject) a successful or unchanged run of job (on dataset) clears: failing,
    hung (it ended, and well), blocked (it ran) and the dataset's rejected payload."""
    return [("failing", job), ("hung", job), ("blocked", job)] + ([("rejected", dataset)] if dataset else [])


def _keys(problems: Sequence[tuple[str, str]]) -> list[str]:
    return [f"{kind}:{subject}" for kind, subject in problems]


def check_run(
    alerter: Alerter,
    job: str,
    outcome: str,
    error: str | None = None,
    *,
    dataset: str | None = None,
    cleared: Sequence[ClosedProblem] | None = None,
    busy_limit_min: float = 360.0,
) -> None:
    """After a run's final outcome: alert a job failing N times in a row (or for alert_failing_after_h), a
    rejected payload or a job blocked by another run's lock (busy_limit_min: the job time limit);
    all-clear (of the problems given as cleared when the run's record closed them already, and of those
    alerted without a record)."""
    try:
        if outcome in ("success", "unchanged") and cleared is not None:  # closed with the run's record
            keys = _keys(run_problems(job, dataset))
            alerter.all_clears(cleared, f"{job} finished: {outcome}.", keys=keys)
        elif outcome in ("success", "unchanged"):
            alerter.resolve_many(run_problems(job, dataset), f"{job} finished: {outcome}.")
        elif outcome == "busy":
            _blocked(alerter, job, busy_limit_min)
        elif outcome == "failed":
            alerter.resolved("blocked", job, f"{job} ran again (and failed).")
            _failing(alerter, job, error, dataset)
        elif outcome == "rejected" and dataset:
            alerter.resolved("blocked", job, f"{job} ran again.")
            alerter.problem(
                Problem(
                    "rejected",
                    dataset,
                    f"{dataset}: the payload was rejected by validation and nothing was loaded (the previous "
                    f"data stay in place): {error or 'unknown'}",
                    dataset=dataset,
                    job=job,
                )
            )
    except Exception as problem:  # alerting never crashes the job
        log.warning("alerts for %s: %s", job, redact(f"{type(problem).__name__}: {problem}", alerter.secrets))


ON_TIME_AGAIN = "The source is on time again."


def check_freshness(
    alerter: Alerter, catalogue: Catalogue, today: date, datasets: Sequence[str] | None = None
) -> None:
    """Alert sources later than their publication calendar; all-clear those on time again."""
    alerter.resolve_many(alert_late_sources(alerter, catalogue, today, datasets), ON_TIME_AGAIN)


def alert_failing_jobs(alerter: Alerter, skip: Callable[[str], bool] = lambda job: False) -> None:
    """Alert each job (but those skip names) whose last run failed, as check_run would after it: a job
    run weekly or monthly is so alerted alert_failing_after_h after its first failure, and its repeats go
    on between its runs. Never raises: a failure is logged."""
    run = schema.job_run
    try:
        # each job's newest decisive run, one index probe per job (not every run ever recorded)
        latest = newest_run_ids("decisive", outcomes=("success", "unchanged", "failed"))
        with alerter.engine.connect() as conn:
            rows = conn.execute(
                select(run.c.job, run.c.error, run.c.dataset_id)
                .where(run.c.id.in_(select(latest.c.id)), run.c.outcome == "failed")
                .order_by(run.c.job)
            ).all()
        for job, error, dataset in rows:
            if not skip(job):
                _failing(alerter, job, error, dataset)
    except Exception as problem:
        log.warning("failing jobs: %s", redact(f"{type(problem).__name__}: {problem}", alerter.secrets))


def alert_late_sources(
    alerter: Alerter, catalogue: Catalogue, today: date, datasets: Sequence[str] | None = None
) -> list[tuple[str, str]]:
    """Alert sources later than their publication calendar; the (kind, subject) problems of those on time,
    for the caller to close (Alerter.resolve_many, or with a run's record). Never raises: a failure is
    logged, and nothing is to be closed."""
    try:
        # (freshness' rows, without a frame), judged on the areas the indicators use, as the report does
        rows = freshness_rows(alerter.engine, catalogue, today, used_areas())
        wanted = set(datasets) if datasets is not None else None
        fresh: list[tuple[str, str]] = []
        late: list[Problem] = []
        for row in rows:
            dataset = row["dataset"]
            if wanted is not None and dataset not in wanted:
                continue
            if row["state"] == "late":
                seen = (
                    # a dataset tracked by its releases: its date is the last release seen, not a period
                    f"the last release was seen on {row['latest_period']}, one seen on or after "
                    f"{row['expected_period_end']} was expected by {today}"
                    if row["tracks"] == "releases"
                    else f"the newest period is {row['latest_period']} (ending {row['latest_period_end']}), "
                    f"a period ending {row['expected_period_end']} was expected by {today}"
                )
                late.append(
                    Problem(
                        "late",
                        dataset,
                        f"{dataset} is later than its {row['frequency']} publication calendar: {seen}.",
                        dataset=dataset,
                    )
                )
            elif row["state"] == "fresh":
                fresh.append(("late", dataset))
        alerter.problems(late)
    except Exception as problem:
        log.warning("freshness alerts: %s", redact(f"{type(problem).__name__}: {problem}", alerter.secrets))
        return []
    return fresh
