"""Cron triggers on the Europe/Helsinki wall clock, from standard five-field cron expressions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from common.helsinki import HELSINKI


class WallClockCronTrigger(CronTrigger):  # type: ignore[misc]
    """A cron trigger on the wall clock: a time in the repeated autumn hour fires once, not twice.

    (In spring a time inside the skipped hour fires once, an hour later on the clock, as in CronTrigger.)
    """

    # the last call's (previous_fire_time, now, result), the arguments kept alive so that their ids stay
    # theirs: APScheduler's loop asks the same question twice per firing (Job._get_run_times, then the
    # next run time of run_times[-1]) with the same two objects. Not pickled (CronTrigger.__getstate__).
    _last: tuple[datetime | None, datetime, datetime | None] | None = None

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        """The next fire time after previous_fire_time (None: the first at or after now), as CronTrigger's
        but never in the repeated autumn hour; asked again with the very same objects, the last answer."""
        last = self._last
        if last is not None and last[0] is previous_fire_time and last[1] is now:
            return last[2]
        fire = self._next_fire_time(previous_fire_time, now)
        self._last = (previous_fire_time, now, fire)
        return fire

    def _next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        fire: datetime | None = super().get_next_fire_time(previous_fire_time, now)
        for _ in range(4):  # (CronTrigger computes wrongly inside the repeated hour: it can go backwards)
            if fire is None or not _second_occurrence(fire, self.timezone):
                return fire
            after = fire.astimezone(UTC)
            while _second_occurrence(after, self.timezone):  # to the end of the repeated hour
                after += timedelta(minutes=1)
            fire = super().get_next_fire_time(None, after.astimezone(self.timezone))
        return fire


def _second_occurrence(moment: datetime, zone: Any) -> bool:
    """Whether moment is the second pass of a wall-clock time that happens twice (fall back)."""
    local = moment.astimezone(zone)
    return local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()


_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def crontab_day_of_week(field: str) -> str:
    """A standard cron day-of-week field (0 or 7 = Sunday, 1 = Monday, names, ranges, steps) as the
    day names APScheduler 3 understands (its own numbers start from 0 = Monday, so "1" would be Tuesday).
    """

    def day(token: str) -> int:
        token = token.strip().lower()
        if token[:3] in _CRON_DAYS and not token.isdigit():
            return _CRON_DAYS.index(token[:3])
        if not token.isdigit() or int(token) > 7:
            raise ValueError(f"cron day of week: expected 0-7 or sun-sat, got {token!r}")
        return int(token)  # 7 (Sunday) kept as 7 here so that ranges such as 5-7 work

    days: set[int] = set()
    for item in field.split(","):
        spec, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"cron day of week: bad step in {item!r}")
        if spec == "*":
            first, last = 0, 6
        elif "-" in spec:
            low, high = spec.split("-", 1)
            first, last = day(low), day(high)
            if last < first:  # mon-sun, fri-mon
                last += 7
        else:
            first = last = day(spec)
            if step_text:
                last = max(first, 6)
        days.update(d % 7 for d in range(first, last + 1, step))
    if not days:
        raise ValueError(f"cron day of week: {field!r} matches no day")
    if days == set(range(7)):
        return "*"
    return ",".join(_CRON_DAYS[d] for d in sorted(days))


def cron(expression: str) -> WallClockCronTrigger:
    """A five-field standard cron expression (minute hour day month day-of-week), Europe/Helsinki time."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"cron expression {expression!r}: expected 5 fields, got {len(fields)}")
    minute, hour, day, month, day_of_week = fields
    if day != "*" and day_of_week != "*":
        # cron runs when either matches, APScheduler only when both do: refuse rather than differ
        raise ValueError(f"cron expression {expression!r}: restrict day of month or day of week, not both")
    return WallClockCronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=crontab_day_of_week(day_of_week),
        timezone=HELSINKI,
    )
