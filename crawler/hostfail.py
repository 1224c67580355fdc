"""Hosts that cannot be reached in this run: retried once, then failed at once.

A DNS failure or a refused connection says something about the host, not about the one
request: offline, every target on `api.github.com` fails the same way, and retrying each
with backoff only spends the run's time (`make crawl` without network spent a minute on it).
So each host gets one retry per run for such failures; a failure after that marks the host
unreachable, and every later request to it fails at once with the reason of the failure
that marked it, without being sent.

Pure and keyed by host name: the API sources consult it through `crawler.sources.retry`
(requests under praw, tweepy and the other clients), the Scrapy spiders through
`spiders.unreachable`. One `HostFailures` lives for one run and is shared by its sources.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

log = logging.getLogger("dfwatch.hostfail")

RETRIES_PER_HOST = 1  # per run: the first DNS or connection failure on a host is retried once
_CHAIN_DEPTH = 8  # exception causes walked at most (requests wraps urllib3 wraps socket)


class HostFailures:
    """What this run has learnt about unreachable hosts (thread-safe: Scrapy and API sources)."""

    def __init__(self, retries_per_host: int = RETRIES_PER_HOST) -> None:
        self.retries_per_host = retries_per_host
        self._retried: dict[str, int] = {}
        self._dead: dict[str, str] = {}  # host -> the reason it was marked unreachable
        self._lock = threading.Lock()

    def unreachable(self, host: str | None) -> str | None:
        """The reason `host` was marked unreachable in this run, or None."""
        if not host:
            return None
        with self._lock:
            return self._dead.get(host.lower())

    def failed(self, host: str | None, reason: str) -> bool:
        """Record a DNS or connection failure on `host`; True if one more attempt is allowed.

        The first `retries_per_host` failures of a host are retried; the next one marks the
        host unreachable for the rest of the run.
        """
        if not host:
            return True  # without a host nothing can be remembered: the caller's own bound holds
        host = host.lower()
        with self._lock:
            if host in self._dead:
                return False
            used = self._retried.get(host, 0)
            if used < self.retries_per_host:
                self._retried[host] = used + 1
                return True
            self._dead[host] = reason
        log.warning("host=%s unreachable for the rest of this run: %s", host, reason)
        return False

    @property
    def hosts(self) -> dict[str, str]:
        """Every host marked unreachable in this run, with its reason."""
        with self._lock:
            return dict(self._dead)


def host_of(url: str | None) -> str | None:
    """The host name of a URL (lower case), or None."""
    if not url:
        return None
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what it wraps (args, `reason`, `original_exception`) and its causes."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < _CHAIN_DEPTH:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        for nested in (
            getattr(e, "original_exception", None),  # prawcore.RequestException
            getattr(e, "reason", None),  # urllib3 MaxRetryError
            e.__cause__,
            e.__context__,
            *(a for a in getattr(e, "args", ()) if isinstance(a, BaseException)),  # requests
        ):
            if isinstance(nested, BaseException):
                todo.append(nested)


def unreachable_reason(exc: BaseException) -> str | None:
    """ "DNS lookup failed" or "connection refused" when that is what `exc` comes down to."""
    for e in _chain(exc):
        name = type(e).__name__
        if isinstance(e, socket.gaierror) or name in ("NameResolutionError", "DNSLookupError"):
            return "DNS lookup failed"
        if isinstance(e, ConnectionRefusedError) or name == "ConnectionRefusedError":
            return "connection refused"
    return None


def request_host(exc: BaseException) -> str | None:
    """The host of the request that failed, where the exception carries it (requests does)."""
    for e in _chain(exc):
        request = getattr(e, "request", None)
        host = host_of(getattr(request, "url", None))
        if host:
            return host
        host = getattr(e, "host", None)  # urllib3's connection errors name their pool's host
        if isinstance(host, str) and host:
            return host.lower()
    return None
