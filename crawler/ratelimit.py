"""How long a server asks us to wait, read from its own headers: one reader for every client.

Pure and neutral (it imports nothing of dfwatch): praw's path (crawler.sources.reddit_client),
tweepy's (crawler.sources.x) and Scrapy's (spiders.parsers.ratelimit, spiders.middlewares)
all ask it. Platforms say "wait" in different words:

=============================  ==========================================  ===================
header                         meaning                                     who sends it
=============================  ==========================================  ===================
``Retry-After: 7``             seconds (RFC 9110)                          Discord, GitHub's
``Retry-After: <HTTP-date>``   not before that time (RFC 9110)             secondary limits,
                                                                           Reddit, most HTTP
``x-ratelimit-reset-after``    seconds, with decimals                      Discord
``x-ratelimit-reset: 412``     seconds until the window resets             Reddit
``x-ratelimit-reset: <epoch>`` the window resets at that second            GitHub, Discord
``x-rate-limit-reset``         the same, X's spelling                      X
``x-ratelimit-reset: <ISO>``   the window resets at that instant           Mastodon
=============================  ==========================================  ===================

A number below `EPOCH_FLOOR` is a count of seconds (Reddit's windows are ten minutes), one
above it a Unix time. An instant is measured on the server's clock when its `Date` header
says what that was (clock skew then does not matter), else on ours plus `RESET_MARGIN`
for a reset. Callers bound what they are told (`[rate_limits] max_wait_seconds`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["EPOCH_FLOOR", "RESET_MARGIN", "header", "reset_wait", "retry_after", "wait_seconds"]

# 10^9 s is September 2001: no reset is announced that far back, and no window is that long.
EPOCH_FLOOR = 1_000_000_000.0
# Servers announce a reset as a whole second of their clock; measured on ours, one second
# more covers that truncation and the skew we cannot see.
RESET_MARGIN = 1.0
RESET_HEADERS = ("x-ratelimit-reset", "x-rate-limit-reset")


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header `name` (any case), stripped; None if absent or empty."""
    wanted = name.lower()
    for key, value in headers.items():
        if str(key).lower() == wanted:
            text = str(value).strip()
            return text or None
    return None


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _http_date(text: str) -> float | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _iso(text: str) -> float | None:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _clock(headers: Mapping[str, str], now: float | None) -> tuple[float, bool]:
    """(the time to measure against, whether it is the server's own)."""
    if now is not None:
        return now, False
    date = header(headers, "date")
    server = _http_date(date) if date else None
    if server is not None:
        return server, True
    return time.time(), False


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds `Retry-After` asks for (its seconds or its HTTP-date form), or None.

    `now` is the caller's clock (epoch seconds); without it a date is measured against the
    server's `Date` header, else against `time.time()`.
    """
    text = header(headers, "retry-after")
    if text is None:
        return None
    seconds = _number(text)
    if seconds is not None:
        return max(0.0, seconds)
    at = _http_date(text)
    if at is None:
        return None
    clock, _ = _clock(headers, now)
    return max(0.0, at - clock)


def reset_wait(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds until the rate-limit window resets, from the x-ratelimit headers, or None.

    A reset already past (or unreadable) is None: the server said nothing we can use, and
    the caller backs off on its own.
    """
    after = _number(header(headers, "x-ratelimit-reset-after"))
    if after is not None:
        return max(0.0, after)
    for name in RESET_HEADERS:
        text = header(headers, name)
        if text is None:
            continue
        value = _number(text)
        if value is not None and value < EPOCH_FLOOR:
            return max(0.0, value)  # Reddit: seconds until the reset
        at = value if value is not None else _iso(text)
        if at is None:
            continue
        clock, servers = _clock(headers, now)
        wait = at - clock + (0.0 if servers else RESET_MARGIN)
        return wait if wait > 0 else None
    return None


def wait_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """How long the server asks us to wait: `Retry-After`, else the window's reset; or None."""
    wait = retry_after(headers, now)
    return wait if wait is not None else reset_wait(headers, now)
