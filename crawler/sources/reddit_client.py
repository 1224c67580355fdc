"""The praw client dfwatch uses for Reddit: counted, paced through the run, retried by us.

praw serves as the HTTP client (OAuth, x-ratelimit pacing) through `Reddit.request`, which
returns parsed JSON. Three hooks make its traffic accountable:

* `CountingRequestor` takes every HTTP request from the OAuth client's budget first
  (`SourceContext.spend`: shared by all workers of a distributed crawl, nothing on one
  machine) and counts it, token grants and retries included, so `run_sources.requests`
  can be held against Reddit's own accounting;
* `LoggedRateLimiter` obeys the x-ratelimit headers in bursts (Reddit averages over its
  window to allow them) and takes its sleeps through `SourceContext.wait` (logged with their
  reason, summed into `rate_limited_seconds`, injectable in tests); a window found nearly
  spent holds back every worker on the same client (`SourceContext.penalize`);
* `_NoRetries` switches off prawcore's own retries (two, after `time.sleep` with random
  jitter nobody can observe); `RedditApi.get` retries instead through `call_with_retries`,
  honouring Retry-After on 429, which praw never retries.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import praw
import prawcore
import requests
from prawcore.rate_limit import RateLimiter
from prawcore.sessions import FiniteRetryStrategy

from crawler.errors import AccessDenied, SourceError
from crawler.hostfail import host_of
from crawler.ratelimit import reset_wait, wait_seconds
from crawler.sources.base import SourceContext
from crawler.sources.budget import BudgetKey
from crawler.sources.reddit_parse import MalformedAnswer
from crawler.sources.retry import Retry, call_with_retries


class CountingRequestor(prawcore.Requestor):
    """prawcore's requestor, counting every HTTP request (token grants and retries too).

    `before_send` runs before each one is sent (it takes the request from the client's
    budget). It also applies our timeout: prawcore passes its own constant on every call.
    """

    def __init__(
        self,
        *args: Any,
        on_request: Callable[[], None],
        timeout: float,
        before_send: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, timeout=timeout, **kwargs)
        self._on_request = on_request
        self._before_send = before_send

    def request(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> requests.Response:
        if self._before_send is not None:
            self._before_send()
        self._on_request()
        return super().request(*args, timeout=self.timeout, **kwargs)


class LoggedRateLimiter(RateLimiter):
    """Reddit's x-ratelimit headers obeyed in bursts, the sleeps logged and counted via ctx.wait.

    prawcore spreads requests evenly over Reddit's 10-minute window (about 1 a second), so a
    daily crawl of 500 requests took 8 minutes of mostly sleeping. Reddit averages its limit
    over the window precisely "to support bursting" (Data API wiki), so this limiter sends
    at once while the window has more than `RESERVE` requests left, and then waits for the
    reset the server announces. The budget spent per window is the same; the crawl ends early.
    """

    RESERVE = 5  # requests left unspent in each window, for a token refresh or a second client

    def __init__(self, ctx: SourceContext, *, window_size: int, budget: BudgetKey | None = None) -> None:
        super().__init__(window_size=window_size)
        self._ctx = ctx
        self._budget = budget

    def update(self, *, response_headers: Mapping[str, str]) -> None:
        super().update(response_headers=response_headers)
        reset = reset_wait(response_headers)  # Reddit: seconds until the window resets
        if self.remaining is None or reset is None:
            return  # prawcore's own bookkeeping for answers without the headers stands
        if self.remaining > self.RESERVE:
            self.next_request_timestamp_ns = None
        else:
            self.next_request_timestamp_ns = time.monotonic_ns() + int(max(1.0, reset) * 1e9)
            if self._budget is not None:  # the window is the client's, not this process's
                self._ctx.penalize(self._budget, max(1.0, reset))

    def delay(self) -> None:
        if self.next_request_timestamp_ns is None:
            return
        seconds = (self.next_request_timestamp_ns - time.monotonic_ns()) / 1e9
        if seconds > 0:
            self._ctx.wait(
                seconds, reason=f"x-ratelimit remaining={self.remaining} used={self.used}", target="reddit"
            )


@dataclass(frozen=True)
class _NoRetries(FiniteRetryStrategy):
    """One attempt per prawcore call; `call_with_retries` does the retrying."""

    retries: int = 0

    def _sleep_seconds(self) -> float | None:
        return None


def user_agent(ctx: SourceContext) -> str:
    """REDDIT_USER_AGENT if set, else the honest default `python:dfwatch:<version> (+contact)`."""
    return ctx.config.credential("REDDIT_USER_AGENT") or ctx.config.user_agent("python")


def budget_key(ctx: SourceContext) -> BudgetKey:
    """The OAuth client's budget (`[reddit] budget_requests` per `budget_window_seconds`)."""
    settings = ctx.settings
    return BudgetKey.of(
        "reddit",
        ctx.config.credential("REDDIT_CLIENT_ID") or "",
        limit=settings.budget_requests,
        window_seconds=settings.budget_window_seconds,
    )


def build_client(ctx: SourceContext) -> praw.Reddit:
    """A read-only praw client on the configured endpoints that counts and logs its traffic."""
    config = ctx.config
    budget = budget_key(ctx)
    reddit = praw.Reddit(
        client_id=config.credential("REDDIT_CLIENT_ID"),
        client_secret=config.credential("REDDIT_CLIENT_SECRET"),
        user_agent=user_agent(ctx),
        oauth_url=config.endpoint("reddit"),
        reddit_url=config.endpoint("reddit_auth"),
        check_for_updates=False,  # otherwise praw asks PyPI on start-up
        check_for_async=False,
        requestor_class=CountingRequestor,
        requestor_kwargs={
            "on_request": ctx.count_request,
            "timeout": config.settings.rate_limits.timeout_seconds,
            "before_send": lambda: ctx.spend(budget),
        },
    )
    # praw exposes no hook for these two; both are prawcore's documented classes.
    session = reddit._core
    assert session is not None  # set by praw.Reddit.__init__
    session._rate_limiter = LoggedRateLimiter(
        ctx, window_size=session.rate_limiter.window_size, budget=budget
    )
    session._retry_strategy_class = _NoRetries
    return reddit


def classify(exc: BaseException) -> Retry | None:
    """Which failures are worth another attempt: 429, 5xx, timeouts, an expired token."""
    if isinstance(exc, prawcore.TooManyRequests):
        return Retry("429", wait=_retry_after(exc.response), rate_limited=True)
    if isinstance(exc, prawcore.InvalidToken):
        return Retry("401 token expired", wait=0)  # prawcore dropped the token; next call renews
    if isinstance(exc, prawcore.BadJSON):
        return None
    if isinstance(exc, prawcore.ResponseException) and exc.response.status_code >= 500:
        return Retry(str(exc.response.status_code))
    if isinstance(exc, prawcore.RequestException):
        original = exc.original_exception
        if isinstance(original, requests.Timeout):
            return Retry("timeout")
        if isinstance(original, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
            return Retry("connection")
    return None


def _retry_after(response: requests.Response) -> float | None:
    """Retry-After (either form), else the rate-limit reset (crawler.ratelimit); None: back off."""
    return wait_seconds(response.headers)


def error_body(exc: prawcore.ResponseException) -> Any:
    """The JSON body of an error answer (Reddit names the cause in it), or None."""
    try:
        return exc.response.json()
    except ValueError:
        return None


class RedditApi:
    """GETs through praw with bounded retries; a dead token is an AccessDenied for all."""

    def __init__(self, ctx: SourceContext, reddit: praw.Reddit) -> None:
        self.ctx, self.reddit = ctx, reddit
        self.budget = budget_key(ctx)
        # Every call may need both: the API, and the token endpoint when the token is due.
        self.hosts = (host_of(ctx.config.endpoint("reddit")), host_of(ctx.config.endpoint("reddit_auth")))

    def get(self, path: str, params: Mapping[str, str | int], target: str) -> Any:
        def call() -> Any:
            return self.reddit.request(method="GET", path=path, params=dict(params))

        try:
            return call_with_retries(self.ctx, target, call, classify, hosts=self.hosts, budget=self.budget)
        except prawcore.OAuthException as exc:
            raise AccessDenied(
                f"token grant refused ({exc}); check REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET",
                target="reddit",
            ) from exc
        except prawcore.ResponseException as exc:
            if exc.response.url and "/api/v1/access_token" in exc.response.url:
                raise AccessDenied(
                    f"token grant refused (HTTP {exc.response.status_code}); check "
                    "REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET",
                    target="reddit",
                ) from exc
            raise


# Failures that cost one batch, not the crawl: the run goes on and becomes partial.
BATCH_FAILURES = (SourceError, MalformedAnswer, prawcore.PrawcoreException)


def describe(exc: BaseException) -> str:
    if isinstance(exc, prawcore.BadJSON):
        return f"malformed JSON (HTTP {exc.response.status_code})"
    if isinstance(exc, MalformedAnswer):
        return f"unexpected answer: {exc}"
    if isinstance(exc, prawcore.ResponseException):
        return f"HTTP {exc.response.status_code}"
    return str(exc)
