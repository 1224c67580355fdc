"""Telegram channels, groups and bots through their public pages on t.me.

A web page, not an API: robots.txt is obeyed (ROBOTSTXT_OBEY from the project settings)
and requests are paced by AutoThrottle.

* A channel is read from its preview, `https://t.me/s/{name}`: the subscriber counter and
  the latest posts (about twenty), one page per channel per crawl. Telegram sends a channel
  whose owner turned the preview off from `/s/{name}` to `/{name}`; that redirect is
  followed (one hop, on the same site) and the plain page read: a preview that is off is
  not a deletion.
* Groups and bots have no preview (`/s/{name}` redirects for them too), so their plain page
  `https://t.me/{name}` is asked for directly: one request each.

The plain page names the community and shows its size (spiders.parsers.telegram_page):
subscribers for a channel (`members`), "N members, M online" for a group (`members`,
`online_members`), "N monthly users" for a bot (`monthly_users`). A page that names no
community (Telegram's generic "Contact @name" page for unknown names) is `not_found` with
the page's words; a community Telegram blocked is `banned` with Telegram's notice.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.http import Request, Response

from crawler.records import CommunityObservation, utcnow
from spiders.base import DfwatchSpider
from spiders.parsers.telegram import is_preview, parse_preview
from spiders.parsers.telegram_page import block_notice, parse_page

if TYPE_CHECKING:
    from crawler.config import WatchTarget

SOURCE = "telegram_preview"  # the /s/{name} preview of a channel
PAGE_SOURCE = "telegram_page"  # the plain /{name} page of a channel, group or bot
REDIRECTS = (301, 302, 303, 307, 308)
PREVIEW_KINDS = {"channel"}  # read from /s/{name} first; groups and bots from /{name}


class TelegramSpider(DfwatchSpider):
    name = "telegram"

    def requests_for(self, target: WatchTarget) -> Iterator[Request]:
        base = self.ctx.config.endpoint("telegram")
        handle = target.key.handle
        if target.key.kind in PREVIEW_KINDS:
            yield self.request(f"{base}/s/{handle}", self.parse_preview, target, meta={"dont_redirect": True})
        else:
            yield self.page_request(target)

    def page_request(self, target: WatchTarget, via: str | None = None) -> Request:
        """The plain page; `via` says why (a preview redirect), for the evidence."""
        base = self.ctx.config.endpoint("telegram")
        return self.request(
            f"{base}/{target.key.handle}",
            self.parse_page,
            target,
            meta={"dont_redirect": True},
            cb_kwargs={"via": via},
        )

    def parse_preview(self, response: Response, target: WatchTarget) -> Iterator[Any]:
        channel = target.key.handle
        if response.status in REDIRECTS:
            location = (response.headers.get(b"Location") or b"").decode("latin-1")
            path = urlsplit(location).path.strip("/")
            if path.lower() != channel.lower():  # only t.me's own "no preview" hop is followed
                self.fail(target, f"unexpected redirect to {location}")
                return
            yield self.page_request(target, via=f"/s/{channel} redirects to /{path} (no public preview)")
            return
        if response.status == 404:
            yield self.status_observation(target, SOURCE, "not_found", "HTTP 404")
            return
        if response.status != 200:
            self.fail_response(target, response, "the preview page")
            return
        html = response.text
        if not is_preview(html):
            self.fail(target, "the page is not a channel preview")
            return
        preview = parse_preview(html, target.key)
        notice = block_notice(html)
        metrics = {"members": float(preview.members)} if preview.members is not None else {}
        yield CommunityObservation(
            key=target.key,
            observed_at=utcnow(),
            source=SOURCE,
            status="banned" if notice else "active",
            status_reason=notice,
            title=preview.title,
            url=f"https://t.me/{channel}",
            metrics=metrics,
        )
        yield from preview.posts

    def parse_page(self, response: Response, target: WatchTarget, via: str | None = None) -> Iterator[Any]:
        handle = target.key.handle
        if response.status in REDIRECTS:
            location = (response.headers.get(b"Location") or b"").decode("latin-1")
            self.fail(target, f"unexpected redirect to {location}")
            return
        if response.status == 404:
            yield self.status_observation(target, PAGE_SOURCE, "not_found", "HTTP 404")
            return
        if response.status != 200:
            self.fail_response(target, response, "the community page")
            return
        page = parse_page(response.text)
        status: str
        reason: str | None
        if page.blocked:
            status, reason = "banned", page.blocked
        elif page.missing:
            status, reason = "not_found", f"t.me/{handle} names no community: {page.missing}"
        else:
            status, reason = "active", via
        if page.kind not in (None, target.key.kind) and status == "active":
            self.logger.info(
                "source=telegram target=%s watched as %s, t.me shows a %s", handle, target.key.kind, page.kind
            )
        yield CommunityObservation(
            key=target.key,
            observed_at=utcnow(),
            source=PAGE_SOURCE,
            status=status,
            status_reason=reason,
            title=page.title,
            url=f"https://t.me/{handle}",
            metrics=page.metrics if status != "not_found" else {},
        )
