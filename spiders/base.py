"""What every dfwatch spider shares: its SourceContext, request building, failure reporting.

A spider reads its targets from `ctx.targets`, yields `crawler.records` objects (the
pipeline hands them to `ctx.emit`), and reports a target it could not read with
`ctx.fail_target` (the run becomes partial; the other targets go on).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from twisted.python.failure import Failure

from crawler.records import CommunityObservation, utcnow
from spiders.middlewares import GAVE_UP_META
from spiders.unreachable import HostFailed, HostUnreachable

if TYPE_CHECKING:
    from crawler.config import WatchTarget
    from crawler.sources.base import SourceContext


# Not `handle_httpstatus_all`: that would also stop Scrapy from following redirects
# (renamed GitHub repositories, forum URLs that move to https or index.php).
HANDLED_STATUSES = [304, *range(400, 600)]
REDIRECT_STATUSES = [301, 302, 303, 307, 308]


def original_url(response: Response) -> str:
    """The URL the spider asked for, before any redirect (conditional-request state key)."""
    redirects = response.meta.get("redirect_urls")
    if redirects:
        return str(redirects[0])
    return response.request.url if response.request else response.url


class DfwatchSpider(scrapy.Spider):
    """Base spider: `ctx` comes in as a spider argument (`crawler.crawl(Spider, ctx=ctx)`)."""

    ctx: SourceContext
    # True: a target found banned, not_found or suspended is requested only when its patient
    # re-check is due (SourceContext.due), else nothing is emitted for it. Off by default: a
    # spider whose targets share another source's communities (Arctic Shift's history of
    # banned subreddits) must not skip them.
    patient_rechecks: ClassVar[bool] = False

    def __init__(self, ctx: SourceContext, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ctx = ctx

    # -- what subclasses implement -------------------------------------------------
    def requests_for(self, target: WatchTarget) -> Iterable[Request]:
        raise NotImplementedError

    async def start(self) -> AsyncIterator[Any]:
        for target in self.ctx.targets:
            if self.patient_rechecks and not self.ctx.due(target.key):
                self.ctx.defer(target.key)
                continue
            for request in self.requests_for(target):
                yield request

    # -- helpers -----------------------------------------------------------------------
    def request(
        self,
        url: str,
        callback: Callable[..., Any],
        target: WatchTarget,
        *,
        headers: dict[str, str] | None = None,
        meta: dict[str, Any] | None = None,
        cb_kwargs: dict[str, Any] | None = None,
    ) -> Request:
        """A request whose callback sees 304 and every error status (the spider decides what
        each means); redirects are still followed unless `meta` says `dont_redirect`."""
        statuses = HANDLED_STATUSES + (REDIRECT_STATUSES if (meta or {}).get("dont_redirect") else [])
        return Request(
            url,
            callback=callback,
            errback=self.on_error,
            headers=headers,
            meta={"handle_httpstatus_list": statuses, "target": str(target.key.handle), **(meta or {})},
            cb_kwargs={"target": target, **(cb_kwargs or {})},
            dont_filter=True,
        )

    def fail(self, target: WatchTarget | str, message: str) -> None:
        name = target if isinstance(target, str) else target.key.handle
        self.ctx.fail_target(name, message)

    def fail_response(self, target: WatchTarget, response: Response, what: str = "") -> None:
        """A target whose answer we cannot use: say the status and, if we retried, why we stopped."""
        gave_up = response.meta.get(GAVE_UP_META)
        message = f"HTTP {response.status}" + (f" from {what}" if what else "")
        if gave_up:
            message += f" ({gave_up})"
        self.fail(target, message)

    def on_error(self, failure: Failure) -> None:
        """Network failures after retries, and requests robots.txt forbids."""
        request = getattr(failure, "request", None)
        target = request.meta.get("target") if request is not None else None
        exc = failure.value
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if isinstance(exc, HostUnreachable | HostFailed):  # the same words for every target on the host
            message = str(exc)
        elif isinstance(exc, IgnoreRequest) and "robots.txt" in str(exc).lower() and request is not None:
            message = f"robots.txt forbids {request.url}"
        self.fail(str(target or "?"), message)

    def status_observation(
        self, target: WatchTarget, source: str, status: str, reason: str
    ) -> CommunityObservation:
        """An observation that only says the community's status (and the evidence)."""
        return CommunityObservation(
            key=target.key, observed_at=utcnow(), source=source, status=status, status_reason=reason
        )


def json_body(response: Response) -> Any:
    """The response's JSON, or raises ValueError naming what came instead."""
    try:
        return json.loads(response.body)
    except (ValueError, UnicodeDecodeError) as exc:
        ctype = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        raise ValueError(f"not JSON ({ctype or 'no content type'}): {exc}") from None
