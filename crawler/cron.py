"""Crontab expressions as APScheduler 3 triggers, with crontab's weekday numbers.

APScheduler 3.x numbers weekdays from Monday = 0, crontab from Sunday = 0 (and 7), and
`CronTrigger.from_crontab` passes the numbers through unchanged: measured on 3.11.3,
`from_crontab("0 4 * * 1")` fires on Tuesdays. settings.toml speaks crontab, so the
day-of-week field is translated to weekday names here before APScheduler sees it.

One more difference stays: when both day-of-month and day-of-week are restricted, crontab
fires when either matches, APScheduler only when both do (docs/operations.md says so).
"""

from __future__ import annotations

import re

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab order: 0 = 7 = Sunday
CRON_FIELDS = ("minute", "hour", "day", "month", "day_of_week")


def _weekday(token: str) -> int:
    token = token.strip().lower()
    if token[:3] in WEEKDAYS and token.isalpha():
        return WEEKDAYS.index(token[:3])
    if not token.isdigit() or int(token) > 7:
        raise ValueError(f"day of week {token!r} is not 0-7 or sun-sat")
    return int(token)


def crontab_weekdays(field: str) -> str:
    """The crontab day-of-week `field` as APScheduler weekday names ("*" when every day)."""
    days: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"day of week step {part!r} must be at least 1")
        if base == "*":
            lo, hi = 0, 6
        elif "-" in base:
            a, b = base.split("-", 1)
            lo, hi = _weekday(a), _weekday(b)
            if lo > hi:
                raise ValueError(f"day of week range {base!r} runs backwards")
        else:
            lo = _weekday(base)
            hi = 7 if step_text else lo  # crontab: "1/2" means 1-7/2
        days.update(d % 7 for d in range(lo, hi + 1, step))
    if len(days) == len(WEEKDAYS):
        return "*"
    return ",".join(WEEKDAYS[d] for d in sorted(days))


def crontab_trigger(expr: str) -> CronTrigger:
    """A UTC CronTrigger that fires when crontab would fire for `expr` (five fields)."""
    fields = expr.split()
    if len(fields) != len(CRON_FIELDS):
        raise ValueError(f"cron {expr!r} needs 5 fields (minute hour day month weekday), has {len(fields)}")
    minute, hour, day, month, dow = fields
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=crontab_weekdays(dow), timezone="UTC"
    )


def describe_trigger(trigger: BaseTrigger) -> str:
    """A cron-like line for display: the five fields of a CronTrigger, else its repr."""
    if isinstance(trigger, CronTrigger):
        by_name = {f.name: str(f) for f in trigger.fields}
        return " ".join(by_name[name] for name in CRON_FIELDS)
    return str(trigger)


def same_trigger(a: BaseTrigger, b: BaseTrigger) -> bool:
    """Whether two triggers fire at the same times (their reprs name every field and the zone)."""
    return type(a) is type(b) and repr(a) == repr(b)


CRON_FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")


def validate_cron(expr: str) -> str:
    """A five-field crontab expression (minute hour day month weekday, UTC) the scheduler accepts.

    Weekdays are crontab's (0 and 7 = Sunday, or sun-sat), translated by `crontab_weekdays`,
    because APScheduler 3 alone counts from Monday = 0.
    """
    fields = expr.split()
    if len(fields) != len(CRON_FIELDS):
        raise ValueError(f"cron {expr!r} needs 5 fields (minute hour day month weekday), has {len(fields)}")
    # Check field by field first, so the message can say which field is wrong.
    for label, arg, value in zip(CRON_FIELD_NAMES, CRON_FIELDS, fields, strict=True):
        try:
            if arg == "day_of_week":
                crontab_weekdays(value)
            else:
                CronTrigger(timezone="UTC", **{arg: value})
        except ValueError as exc:
            reason = re.sub(r"^Error validating expression '[^']*': ", "", str(exc))
            raise ValueError(f"cron {expr!r}: {label} field {value!r}: {reason}") from None
    try:
        crontab_trigger(expr)
    except ValueError as exc:
        raise ValueError(f"cron {expr!r}: {exc}") from None
    return expr
