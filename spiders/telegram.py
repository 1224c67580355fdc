"""Telegram channels through their public web preview (`https://t.me/s/{channel}`).

A web page, not an API: robots.txt is obeyed (ROBOTSTXT_OBEY from the project settings)
and requests are paced by AutoThrottle. One page per channel per crawl: the preview shows
the subscriber counter and the latest posts (about twenty), which a daily crawl keeps up
with for the channels we watch. Telegram sends channels without a public preview (and
names that do not exist) from `/s/{channel}` to `/{channel}`: that redirect is recorded as
not_found, without following it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.http import Request, Response

from crawler.records import CommunityObservation, utcnow
from spiders.base import DfwatchSpider
from spiders.parsers.telegram import is_preview, parse_preview

if TYPE_CHECKING:
    from crawler.config import WatchTarget

SOURCE = "telegram_preview"
REDIRECTS = (301, 302, 303, 307, 308)


class TelegramSpider(DfwatchSpider):
    name = "telegram"

    def requests_for(self, target: WatchTarget) -> Iterator[Request]:
        base = self.ctx.config.endpoint("telegram")
        yield self.request(
            f"{base}/s/{target.key.handle}", self.parse_preview, target, meta={"dont_redirect": True}
        )

    def parse_preview(self, response: Response, target: WatchTarget) -> Iterator[Any]:
        channel = target.key.handle
        if response.status in REDIRECTS:
            location = (response.headers.get(b"Location") or b"").decode("latin-1")
            path = urlsplit(location).path
            if path.startswith("/s/"):
                self.fail(target, f"unexpected redirect to {location}")
                return
            yield self.status_observation(
                target,
                SOURCE,
                "not_found",
                f"HTTP {response.status}: no public preview (redirects to {path or location})",
            )
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
        metrics = {"members": float(preview.members)} if preview.members is not None else {}
        yield CommunityObservation(
            key=target.key,
            observed_at=utcnow(),
            source=SOURCE,
            status="active",
            title=preview.title,
            url=f"https://t.me/{channel}",
            metrics=metrics,
        )
        yield from preview.posts
