"""How long a server asks us to wait, read from its own headers (pure).

Platforms say it differently: `Retry-After` in seconds or as an HTTP date (RFC 9110,
Discord, Mastodon, GitHub's secondary limits), `x-ratelimit-reset` as epoch seconds
(GitHub) or as an ISO time (Mastodon), `x-ratelimit-reset-after` in seconds (Discord).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from crawler.parsing import iso_to_utc

# GitHub documents a wait of at least one minute for a secondary rate limit without headers.
SECONDARY_LIMIT_WAIT = 60.0
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 522, 524})


@dataclass(frozen=True)
class RetryAdvice:
    """Retry after `wait` seconds (None: use our own backoff); `rate_limited` sums into the run log."""

    reason: str
    wait: float | None
    rate_limited: bool


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for k, v in headers.items():
        if k.lower() == name:
            return v.strip()
    return None


def server_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds the server asks for (Retry-After, then the reset headers), or None."""
    retry_after = _header(headers, "retry-after")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(retry_after).timestamp() - now)
            except (TypeError, ValueError):
                pass
    reset_after = _header(headers, "x-ratelimit-reset-after")
    if reset_after:
        try:
            return max(0.0, float(reset_after))
        except ValueError:
            pass
    reset = _header(headers, "x-ratelimit-reset")
    if reset:
        try:
            # +1 s: the reset instant is truncated to whole seconds by the server.
            return max(0.0, float(reset) - now + 1.0)
        except ValueError:
            at = iso_to_utc(reset)
            if at is not None:
                return max(0.0, at.timestamp() - now + 1.0)
    return None


def retry_advice(status: int, headers: Mapping[str, str], body: bytes, now: float) -> RetryAdvice | None:
    """Whether (and how) to retry an answer; None means "hand it to the spider as it is".

    429 is always a rate limit. 403 is one only when the server says so: GitHub's primary
    limit (`x-ratelimit-remaining: 0`), or a `Retry-After`, or the secondary-limit message;
    any other 403 (a blocked repository, a private page) is an answer, not a limit. 5xx and
    408 are retried with our own exponential backoff.
    """
    if status == 429:
        return RetryAdvice("429", server_wait(headers, now), True)
    if status == 403:
        if _header(headers, "x-ratelimit-remaining") == "0" or _header(headers, "retry-after"):
            return RetryAdvice("403 rate limit", server_wait(headers, now), True)
        if b"secondary rate limit" in body[:2000].lower():
            return RetryAdvice("403 secondary rate limit", SECONDARY_LIMIT_WAIT, True)
        return None
    if status in RETRYABLE_STATUSES:
        wait = server_wait(headers, now) if _header(headers, "retry-after") else None
        return RetryAdvice(str(status), wait, False)
    return None
