"""Downloader middlewares: count every request, and retry the way the server asks.

Scrapy's own RetryMiddleware ignores `Retry-After` and retries 429 at once (DESIGN.md,
measured); this one reads the server's headers (spiders.parsers.ratelimit), waits without
blocking the reactor, bounds attempts and waits by `[rate_limits]`, and counts retries and
rate-limit waits on the spider's SourceContext (→ run_sources).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import task

from spiders.parsers.ratelimit import retry_advice

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.sources.base import SourceContext

log = logging.getLogger("dfwatch.spiders.retry")

RETRIES_META = "dfwatch_retries"
GAVE_UP_META = "dfwatch_gave_up"  # why the answer the spider sees is still a failure


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


class RateLimitRetryMiddleware:
    """Retries 429, rate-limit 403s, 5xx and network errors; bounded, non-blocking waits.

    A rate-limit wait longer than `max_wait_seconds` is not waited at all: the answer goes
    to the spider marked as given up (waiting 15 minutes to be refused again for an hour
    helps nobody), and the target fails with that reason.
    """

    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        self.crawler = crawler
        self.max_retries = s.getint("DFWATCH_MAX_RETRIES", 3)
        self.max_wait = s.getfloat("DFWATCH_MAX_WAIT_SECONDS", 900.0)
        self.backoff = s.getfloat("DFWATCH_BACKOFF_SECONDS", 2.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RateLimitRetryMiddleware:
        return cls(crawler)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if request.meta.get("dont_retry"):
            return response
        advice = retry_advice(response.status, _headers(response), response.body, time.time())
        if advice is None:
            return response
        wait = advice.wait
        if wait is None:
            wait = self.backoff * 2 ** request.meta.get(RETRIES_META, 0)
        retry = await self._retry(request, advice.reason, wait, advice.rate_limited)
        return retry or response

    async def process_exception(self, request: Request, exception: Exception) -> Request | None:
        if isinstance(exception, IgnoreRequest) or request.meta.get("dont_retry"):
            return None
        wait = self.backoff * 2 ** request.meta.get(RETRIES_META, 0)
        return await self._retry(request, type(exception).__name__, wait, False)

    async def _retry(self, request: Request, reason: str, wait: float, rate_limited: bool) -> Request | None:
        attempt = request.meta.get(RETRIES_META, 0)
        target = _target(request)
        source = getattr(self.crawler.spider, "name", "?")
        if attempt >= self.max_retries:
            request.meta[GAVE_UP_META] = f"{reason}; gave up after {attempt + 1} attempts"
            log.warning(
                "source=%s target=%s gave up reason=%s attempts=%d", source, target, reason, attempt + 1
            )
            return None
        if wait > self.max_wait:
            request.meta[GAVE_UP_META] = (
                f"{reason}; server asks for {wait:.0f}s, more than max_wait_seconds={self.max_wait:.0f}"
            )
            log.warning(
                "source=%s target=%s not waiting wait=%.0fs max=%.0fs", source, target, wait, self.max_wait
            )
            return None
        ctx = _ctx(self.crawler)
        if ctx is not None:
            ctx.count_retry(target, reason, attempt + 1)
            if rate_limited:
                ctx.stats.rate_limited_seconds += wait
        log.info(
            "source=%s target=%s retry attempt=%d wait=%.1fs reason=%s",
            source,
            target,
            attempt + 1,
            wait,
            reason,
        )
        if wait > 0:
            # Imported here: importing the reactor at module level would install the
            # default one before CrawlerProcess installs the asyncio reactor.
            from twisted.internet import reactor

            await maybe_deferred_to_future(task.deferLater(reactor, wait, _noop))
        retry = request.copy()
        retry.meta[RETRIES_META] = attempt + 1
        retry.dont_filter = True
        return retry


def _headers(response: Response) -> dict[str, str]:
    return {str(k): str(v) for k, v in response.headers.to_unicode_dict().items()}


def _noop(*_args: Any) -> None:
    return None
