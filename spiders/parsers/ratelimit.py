"""Whether an answer is worth another try, and after how long (pure).

How long the server asks for is read by `crawler.ratelimit` (one reader for every client:
`Retry-After` in both forms, the x-ratelimit reset headers); this module says which answers
are rate limits or passing failures at all, which is a question of the platforms the
spiders call (GitHub's 403 that is a limit, and the one that is an answer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from crawler.ratelimit import header, retry_after, wait_seconds

# GitHub documents a wait of at least one minute for a secondary rate limit without headers.
SECONDARY_LIMIT_WAIT = 60.0
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 522, 524})


@dataclass(frozen=True)
class RetryAdvice:
    """Retry after `wait` seconds (None: use our own backoff); `rate_limited` sums into the run log."""

    reason: str
    wait: float | None
    rate_limited: bool


def retry_advice(
    status: int, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> RetryAdvice | None:
    """Whether (and how) to retry an answer; None means "hand it to the spider as it is".

    429 is always a rate limit. 403 is one only when the server says so: GitHub's primary
    limit (`x-ratelimit-remaining: 0`), or a `Retry-After`, or the secondary-limit message;
    any other 403 (a blocked repository, a private page) is an answer, not a limit. 5xx and
    408 are retried with our own exponential backoff unless a `Retry-After` says otherwise.
    `now` is the caller's clock; None measures dates on the server's `Date` header.
    """
    if status == 429:
        return RetryAdvice("429", wait_seconds(headers, now), True)
    if status == 403:
        if header(headers, "x-ratelimit-remaining") == "0" or header(headers, "retry-after"):
            return RetryAdvice("403 rate limit", wait_seconds(headers, now), True)
        if b"secondary rate limit" in body[:2000].lower():
            return RetryAdvice("403 secondary rate limit", SECONDARY_LIMIT_WAIT, True)
        return None
    if status in RETRYABLE_STATUSES:
        return RetryAdvice(str(status), retry_after(headers, now), False)
    return None
