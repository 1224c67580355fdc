"""PrivateHostMiddleware: no request to this machine, its network or a metadata service.

Watchlist entries name hosts (forum URLs, Mastodon instances); redirects name more. A host
that is, or resolves to, a loopback, link-local, private or cloud-metadata address
(crawler.hostguard) is refused here, at crawl time, whatever the config loader saw: a name
can resolve differently by then. The request is never sent: the target fails with the
reason, and the refusal is counted (`dfwatch/private_host_refused` in Scrapy's stats).

Allowed without a check: the configured platform endpoints (`[endpoints]`,
`DFWATCH_ENDPOINT_*`, exactly their host and port: the operator's own choice), and
everything when `DFWATCH_ALLOW_PRIVATE_HOSTS` is true (the demo and tests, whose fakes
listen on 127.0.0.1).

Names are resolved through the reactor's resolver, which is Scrapy's caching resolver, so
the address checked here is the address the download then connects to.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request
from scrapy.utils.defer import maybe_deferred_to_future

from crawler.hostguard import private_host_reason

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

log = logging.getLogger("dfwatch.spiders.hostguard")

AsyncResolver = Callable[[str], Awaitable[list[str]]]
DEFAULT_PORTS = {"http": 80, "https": 443}


def host_port(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:  # a port that is not a number: Scrapy refuses the URL itself
        port = None
    return (parts.hostname or "").rstrip(".").lower(), port


async def reactor_resolver(host: str) -> list[str]:
    """The address Scrapy will connect to (its caching resolver), or none if unresolvable."""
    from twisted.internet import reactor

    try:
        address = await maybe_deferred_to_future(reactor.resolve(host))  # type: ignore[arg-type]  # zope interface stubs
    except Exception:  # noqa: BLE001 - a name that does not resolve fails at download, as usual
        return []
    return [str(address)]


class PrivateHostMiddleware:
    """Refuses requests to private hosts, except the configured endpoints (see module)."""

    def __init__(
        self,
        crawler: Crawler | None,
        allowed: Iterable[str],
        resolve: AsyncResolver = reactor_resolver,
    ) -> None:
        self.crawler = crawler
        self.allowed = {host_port(url) for url in allowed}
        self.resolve = resolve
        self._verdicts: dict[str, str | None] = {}  # host -> refusal reason, per crawl

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PrivateHostMiddleware:
        if crawler.settings.getbool("DFWATCH_ALLOW_PRIVATE_HOSTS"):
            raise NotConfigured("private hosts are allowed")
        return cls(crawler, crawler.settings.getlist("DFWATCH_ENDPOINTS"))

    async def process_request(self, request: Request) -> None:
        host, port = host_port(request.url)
        if not host or (host, port) in self.allowed:
            return None
        if host not in self._verdicts:
            addresses = await self.resolve(host) if not _literal(host) else []
            self._verdicts[host] = private_host_reason(host, resolve=lambda _name: addresses)
        reason = self._verdicts[host]
        if reason is None:
            return None
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value("dfwatch/private_host_refused")
        log.warning("refused request=%s reason=%s", request.url, reason)
        raise IgnoreRequest(
            f"refused {host}: {reason} (set [crawler] allow_private_hosts = true to crawl it)"
        )


def _literal(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return host == "localhost" or host.endswith(".localhost")
