"""Mastodon hashtags, per instance: posts and accounts per day from `/api/v1/tags/{tag}`.

Calls Mastodon's documented REST API (public, no credentials), so robots.txt does not apply;
Mastodon's published default limit (300 requests per 5 minutes per IP) is far above one
request per hashtag per crawl, and 429 answers are waited out as `X-RateLimit-Reset` says.
The history covers seven days, so each crawl also refreshes the still-filling buckets
(the store updates a point observed again).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from scrapy.http import Request, Response

from crawler.records import CommunityObservation, utcnow
from spiders.base import DfwatchSpider, json_body
from spiders.parsers.mastodon import SOURCE, parse_tag_history

if TYPE_CHECKING:
    from crawler.config import WatchTarget


def instance_base(instance: str) -> str:
    """'mastodon.social' → 'https://mastodon.social'; a full http(s) URL is kept as it is."""
    if instance.startswith(("http://", "https://")):
        return instance.rstrip("/")
    return f"https://{instance}"


class MastodonSpider(DfwatchSpider):
    name = "mastodon"
    # A JSON API with published rate limits: robots.txt does not apply (see the docstring).
    custom_settings = {"ROBOTSTXT_OBEY": False}  # noqa: RUF012 (Scrapy declares a plain class attribute)

    def requests_for(self, target: WatchTarget) -> Iterator[Request]:
        base = instance_base(str(target.extra["instance"]))
        url = f"{base}/api/v1/tags/{quote(str(target.extra['tag']))}"
        yield self.request(url, self.parse_tag, target, headers={"Accept": "application/json"})

    def parse_tag(self, response: Response, target: WatchTarget) -> Iterator[Any]:
        if response.status == 404:
            yield self.status_observation(target, SOURCE, "not_found", "HTTP 404: Record not found")
            return
        if response.status != 200:
            self.fail_response(target, response, "the tag endpoint")
            return
        try:
            body = json_body(response)
            points = parse_tag_history(body, target.key)
        except (ValueError, AttributeError) as exc:
            self.fail(target, f"unreadable tag answer: {exc}")
            return
        yield CommunityObservation(
            key=target.key,
            observed_at=utcnow(),
            source=SOURCE,
            status="active",
            title=f"#{body.get('name') or target.extra['tag']}",
            url=body.get("url"),
        )
        yield from points
