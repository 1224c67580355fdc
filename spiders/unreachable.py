"""A host that does not resolve or refuses connections is tried twice a run; after that every
request to it fails at once, unsent (crawler.hostfail).

Offline, each of nine GitHub repositories used to go through four attempts with backoff: a
minute of `make crawl` spent learning nine times that api.github.com does not resolve. The
run's `HostFailures` (shared with the API sources through each spider's SourceContext)
allows one retry per host; a failure after it marks the host unreachable for the run.

Two pieces, because Scrapy lets requests pass the downloader middlewares long before their
slot sends them (up to CONCURRENT_REQUESTS at once, then one per download delay):

* `GuardedHTTPDownloadHandler`, Scrapy's HTTP/1.1 handler with a guard, is where a failure is
  seen first and recorded; it refuses requests to a host marked unreachable (`HostUnreachable`,
  an IgnoreRequest: not counted as sent, never retried) and fails those waiting in the host's
  slot. The attempt that marks the host (it was sent) fails with `HostFailed`, marked
  `dont_retry` for whichever retry middleware runs;
* `UnreachableHostMiddleware` refuses them earlier still, before they queue behind a delay.

Either way the spider's errback reports the same words for every target on the host.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.exceptions import CannotResolveHostError, DownloadConnectionRefusedError, IgnoreRequest
from scrapy.http import Request, Response
from twisted.internet.error import ConnectionRefusedError as TxConnectionRefusedError
from twisted.internet.error import DNSLookupError

from crawler.hostfail import HostFailures, host_of

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

log = logging.getLogger("dfwatch.spiders.unreachable")

DNS_ERRORS = (CannotResolveHostError, DNSLookupError)
REFUSED_ERRORS = (DownloadConnectionRefusedError, TxConnectionRefusedError, ConnectionRefusedError)


class HostUnreachable(IgnoreRequest):
    """A request not sent: its host was found unreachable earlier in this run."""


class HostFailed(Exception):
    """A request sent to a host that then proved unreachable (not retried)."""


def reason_of(exception: BaseException) -> str | None:
    """ "DNS lookup failed" or "connection refused" for Scrapy's and Twisted's errors, else None."""
    if isinstance(exception, DNS_ERRORS):
        return "DNS lookup failed"
    if isinstance(exception, REFUSED_ERRORS):
        return "connection refused"
    return None


def hosts_of(crawler: Crawler) -> HostFailures:
    """The run's memory of unreachable hosts (the spider's SourceContext), else the crawler's own."""
    hosts = getattr(getattr(crawler.spider, "ctx", None), "hosts", None)
    if isinstance(hosts, HostFailures):
        return hosts
    own = getattr(crawler, "_dfwatch_hosts", None)
    if not isinstance(own, HostFailures):
        own = HostFailures()
        crawler._dfwatch_hosts = own  # type: ignore[attr-defined]
    return own


class UnreachableHostMiddleware:
    """Refuses requests to a host this run found unreachable before they queue (order 560)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> UnreachableHostMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        known = hosts_of(self.crawler).unreachable(host_of(request.url))
        if known:
            raise HostUnreachable(known)


class GuardedHTTPDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler that records unreachable hosts and sends nothing more to them."""

    async def download_request(self, request: Request) -> Response:
        hosts = hosts_of(self.crawler)
        host = host_of(request.url)
        known = hosts.unreachable(host)
        if known:
            raise HostUnreachable(known)
        try:
            return await super().download_request(request)
        except Exception as exc:
            why = reason_of(exc)
            if why is None:
                raise
            message = f"host {host or '?'} unreachable: {why}"
            if hosts.failed(host, message):
                raise  # the host's one retry: the retry middleware takes it from here
            request.meta["dont_retry"] = True
            log.info("target=%s host=%s not retried: %s", request.meta.get("target"), host, why)
            self._drain(request, hosts.unreachable(host) or message)
            raise HostFailed(hosts.unreachable(host) or message) from exc

    def _drain(self, request: Request, message: str) -> None:
        """Fail the requests waiting in the host's download slot, unsent.

        Scrapy has no public hook for them; its downloader's `slots` (which AutoThrottle reads
        too) hold them with the deferreds they wait on.
        """
        engine = getattr(self.crawler, "engine", None)
        slots = getattr(getattr(engine, "downloader", None), "slots", None)
        key = request.meta.get("download_slot")
        queue = getattr(slots.get(key), "queue", None) if isinstance(slots, dict) and key else None
        drained = 0
        while queue:
            try:
                _queued, waiting = queue.popleft()
            except (IndexError, TypeError, ValueError):  # pragma: no cover - another Scrapy's layout
                break
            waiting.errback(HostUnreachable(message))
            drained += 1
        if drained:
            log.info("host=%s failed %d queued request(s) unsent: %s", key, drained, message)
