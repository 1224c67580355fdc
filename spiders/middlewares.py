"""Downloader middlewares: count every request, spend it from a budget, retry the way the server asks.

Scrapy's own RetryMiddleware ignores `Retry-After` and retries 429 at once (DESIGN.md,
measured). `RateLimitRetryMiddleware` takes its place: it decides *whether* and *how long*
from the server's headers (spiders.parsers.ratelimit, crawler.ratelimit), waits without
blocking the reactor, and leaves the retry itself to Scrapy's `get_retry_request` (the
`RETRY_TIMES` bound, the priority adjustment, the `retry/count`, `retry/reason_count/<why>`
and `retry/max_reached` stats). Every retry and rate-limit wait is also counted on the
spider's SourceContext (→ run_sources).

`RequestBudgetMiddleware` takes each request that names a budget (`request.meta[BUDGET_META]`,
a `BudgetKey` set by the spider) from the spider context's budget before it is sent: shared
by all workers of a distributed crawl (crawler.cluster.budget), nothing on one machine. It
waits in a thread, so the reactor keeps serving the other sites meanwhile; a rate-limit
retry on such a request holds back every worker on the same credential (`penalize`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.misc import load_object
from twisted.internet import task, threads

from crawler.sources.budget import BudgetKey, Unmetered
from spiders.parsers.ratelimit import retry_advice

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.sources.base import SourceContext

log = logging.getLogger("dfwatch.spiders.retry")

GAVE_UP_META = "dfwatch_gave_up"  # why the answer the spider sees is still a failure
TOO_LONG_STAT = "retry/wait_too_long"  # rate limits not waited for (longer than max_wait_seconds)
BUDGET_META = "dfwatch_budget"  # the BudgetKey a request is spent from


def _ctx(crawler: Crawler) -> SourceContext | None:
    return getattr(crawler.spider, "ctx", None)


def _target(request: Request) -> str:
    return str(request.meta.get("target") or request.url)


class RequestCounterMiddleware:
    """Counts every request that reached the network (answered or failed) into the run log."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RequestCounterMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        ctx = _ctx(self.crawler)
        if ctx is not None:
            ctx.count_request()
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        ctx = _ctx(self.crawler)
        if ctx is not None and not isinstance(exception, IgnoreRequest):
            ctx.count_request()


class RequestBudgetMiddleware:
    """Spends each request from its budget before it is sent (see the module docstring)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RequestBudgetMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        ctx = _ctx(self.crawler)
        key = request.meta.get(BUDGET_META)
        if ctx is None or not isinstance(key, BudgetKey) or isinstance(ctx.budget, Unmetered):
            return None
        waited = await maybe_deferred_to_future(threads.deferToThread(ctx.budget.acquire, key))
        if waited > 0:
            ctx.concurrent_waits.add(waited)
            log.info("source=%s budget=%s wait=%.1fs reason=shared budget", ctx.name, key, waited)
        return None


class RateLimitRetryMiddleware:
    """Retries 429, rate-limit 403s, 5xx and `RETRY_EXCEPTIONS`; bounded, non-blocking waits.

    A rate-limit wait longer than `DFWATCH_MAX_WAIT_SECONDS` is not waited at all: the answer
    goes to the spider marked as given up (waiting 15 minutes to be refused again for an
    hour helps nobody), and the target fails with that reason.

    Network errors: only the exception types in Scrapy's `RETRY_EXCEPTIONS` are retried, and
    a request whose meta says `dont_retry` never is. A middleware nearer the downloader
    (order above 550) sees every exception before this one and can stop its retry that way
    (a host that does not resolve, say); an exception given up on reaches the spider's
    errback unchanged.
    """

    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        if not s.getbool("RETRY_ENABLED"):
            raise NotConfigured
        self.crawler = crawler
        self.max_retries = s.getint("RETRY_TIMES")  # initial request + N retries
        self.max_wait = s.getfloat("DFWATCH_MAX_WAIT_SECONDS", 900.0)
        self.backoff = s.getfloat("DFWATCH_BACKOFF_SECONDS", 2.0)
        self.exceptions = tuple(
            load_object(e) if isinstance(e, str) else e for e in s.getlist("RETRY_EXCEPTIONS")
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RateLimitRetryMiddleware:
        return cls(crawler)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if request.meta.get("dont_retry"):
            return response
        advice = retry_advice(response.status, _headers(response), response.body)
        if advice is None:
            return response
        wait = advice.wait if advice.wait is not None else self._backoff(request)
        retry = await self._retry(request, advice.reason, wait, advice.rate_limited)
        return retry or response

    async def process_exception(self, request: Request, exception: Exception) -> Request | None:
        if request.meta.get("dont_retry") or not isinstance(exception, self.exceptions):
            return None
        return await self._retry(request, type(exception).__name__, self._backoff(request), False)

    def _backoff(self, request: Request) -> float:
        return self.backoff * 2 ** request.meta.get("retry_times", 0)

    async def _retry(self, request: Request, reason: str, wait: float, rate_limited: bool) -> Request | None:
        attempt = request.meta.get("retry_times", 0) + 1  # the retry this would be
        target = _target(request)
        spider = self.crawler.spider
        source = getattr(spider, "name", "?")
        if wait > self.max_wait and attempt <= self.max_retries:
            request.meta[GAVE_UP_META] = (
                f"{reason}; server asks for {wait:.0f}s, more than max_wait_seconds={self.max_wait:.0f}"
            )
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value(TOO_LONG_STAT)
            log.warning(
                "source=%s target=%s not waiting wait=%.0fs max=%.0fs", source, target, wait, self.max_wait
            )
            return None
        assert spider is not None
        retry = get_retry_request(
            request, spider=spider, reason=reason, max_retry_times=self.max_retries, logger=log
        )
        if retry is None:
            request.meta[GAVE_UP_META] = f"{reason}; gave up after {attempt} attempts"
            return None
        ctx = _ctx(self.crawler)
        if ctx is not None:
            ctx.count_retry(target, reason, attempt)
            if rate_limited:
                key = request.meta.get(BUDGET_META)
                if isinstance(key, BudgetKey) and not isinstance(ctx.budget, Unmetered):
                    await maybe_deferred_to_future(threads.deferToThread(ctx.penalize, key, wait))
        log.info(
            "source=%s target=%s retry attempt=%d wait=%.1fs reason=%s", source, target, attempt, wait, reason
        )
        if wait > 0:
            # Imported here: importing the reactor at module level would install the
            # default one before CrawlerProcess installs the asyncio reactor.
            from twisted.internet import reactor

            await maybe_deferred_to_future(task.deferLater(reactor, wait, _noop))
            if rate_limited and ctx is not None:
                ctx.concurrent_waits.add(wait)  # once the wait is over: overlapping ones count once
        return retry


def _headers(response: Response) -> dict[str, str]:
    return {str(k): str(v) for k, v in response.headers.to_unicode_dict().items()}


def _noop(*_args: Any) -> None:
    return None
