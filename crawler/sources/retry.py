"""Bounded retries for API calls, shared by the API sources.

The caller says how to read a failure (`classify`); this module decides how long to wait
and when to give up. Every wait goes through `SourceContext.wait`, so it is logged with its
reason and summed into the run log.

DNS failures and refused connections are the exception to `max_retries`: they are retried
once per host per run (`crawler.hostfail`, shared with the spiders through the run), and
every later call to a host marked unreachable fails at once with `HostUnreachable`, sending
nothing. This holds for any client built on requests (praw, tweepy, ...): the failed
request's host is read off the exception, else the call's `hosts` are assumed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from crawler.errors import HostUnreachable, RateLimited, SourceError
from crawler.hostfail import request_host, unreachable_reason
from crawler.sources.base import SourceContext
from crawler.sources.budget import BudgetKey

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
    *,
    hosts: Sequence[str | None] = (),
    budget: BudgetKey | None = None,
) -> T:
    """Call `fn`; on a failure `classify` calls retryable, wait and try again, bounded.

    At most `rate_limits.max_retries` retries (initial call + N retries). A failure that is
    not retryable propagates at once; one still failing after the last retry becomes
    `RateLimited` (for rate limits) or `SourceError`, naming the target and the reason.
    `hosts` are the hosts `fn` talks to: one this run marked unreachable fails the call at
    once (`HostUnreachable`), as does a DNS or connection failure past the host's one retry.
    A rate-limit wait is shared through `budget`'s key (`SourceContext.penalize`): every
    worker on the same credential holds back as long as this one does.
    """
    limits = ctx.config.settings.rate_limits
    attempt = 0
    while True:
        for host in hosts:
            known = ctx.hosts.unreachable(host)
            if known:
                raise HostUnreachable(known, target=target)
        try:
            return fn()
        except Exception as exc:
            decision = classify(exc)
            if decision is None:
                raise
            why = unreachable_reason(exc)
            if why is not None:
                host = request_host(exc) or next((h for h in hosts if h), None)
                message = f"host {host or '?'} unreachable: {why}"
                if not ctx.hosts.failed(host, message):
                    raise HostUnreachable(message, target=target) from exc
            wait = decision.wait if decision.wait is not None else limits.backoff_seconds * 2**attempt
            if decision.rate_limited and budget is not None:
                ctx.penalize(budget, wait)  # also when this worker gives up: the others must wait
            if attempt >= limits.max_retries:
                cls = RateLimited if decision.rate_limited else SourceError
                raise cls(f"gave up after {attempt + 1} attempts ({decision.reason})", target=target) from exc
            attempt += 1
            ctx.count_retry(target, decision.reason, attempt)
            ctx.wait(wait, reason=decision.reason, target=target, rate_limited=decision.rate_limited)
