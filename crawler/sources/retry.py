"""Bounded retries for API calls, shared by the API sources.

The caller says how to read a failure (`classify`); this module decides how long to wait
and when to give up. Every wait goes through `SourceContext.wait`, so it is logged with its
reason and summed into the run log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from crawler.errors import RateLimited, SourceError
from crawler.sources.base import SourceContext

T = TypeVar("T")


@dataclass(frozen=True)
class Retry:
    """How to retry a failure: after `wait` seconds (None: exponential backoff)."""

    reason: str  # e.g. "429", "503", "timeout"
    wait: float | None = None
    rate_limited: bool = False  # a rate-limit wait (summed into rate_limited_seconds)


def call_with_retries(
    ctx: SourceContext,
    target: str,
    fn: Callable[[], T],
    classify: Callable[[BaseException], Retry | None],
) -> T:
    """Call `fn`; on a failure `classify` calls retryable, wait and try again, bounded.

    At most `rate_limits.max_retries` retries (initial call + N retries). A failure that is
    not retryable propagates at once; one still failing after the last retry becomes
    `RateLimited` (for rate limits) or `SourceError`, naming the target and the reason.
    """
    limits = ctx.config.settings.rate_limits
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            decision = classify(exc)
            if decision is None:
                raise
            if attempt >= limits.max_retries:
                cls = RateLimited if decision.rate_limited else SourceError
                raise cls(f"gave up after {attempt + 1} attempts ({decision.reason})", target=target) from exc
            wait = decision.wait if decision.wait is not None else limits.backoff_seconds * 2**attempt
            attempt += 1
            ctx.count_retry(target, decision.reason, attempt)
            ctx.wait(wait, reason=decision.reason, target=target, rate_limited=decision.rate_limited)
