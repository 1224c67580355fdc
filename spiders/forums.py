"""Forums: Discourse through `/about.json`, phpBB through the statistics block of its index.

* phpBB index pages are web pages: robots.txt is obeyed (the project setting).
* Discourse's `/about.json` is its documented JSON API: requests carry
  `dont_obey_robotstxt` and follow Discourse's published default limits instead (60
  requests a minute per IP for anonymous API use; we send one per forum per crawl).

Metrics: `members`, `posts_total`, `topics`; Discourse adds `active_users` (users active in
the last 7 days); phpBB's "users online" (the last five minutes) is `online_members`, the
same meaning as Discord's presence count.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from scrapy.http import Request, Response

from crawler.records import CommunityObservation, utcnow
from spiders.base import DfwatchSpider, json_body
from spiders.parsers.forums import ForumFacts, parse_discourse_about, parse_phpbb_index

if TYPE_CHECKING:
    from crawler.config import WatchTarget

SOURCES = {"discourse": "discourse_api", "phpbb": "forum_page"}


class ForumsSpider(DfwatchSpider):
    name = "forums"

    def requests_for(self, target: WatchTarget) -> Iterator[Request]:
        url, engine = target.extra["url"], target.extra["engine"]
        if engine == "discourse":
            yield self.request(
                f"{url}/about.json",
                self.parse_forum,
                target,
                headers={"Accept": "application/json"},
                meta={"dont_obey_robotstxt": True},
            )
        else:
            yield self.request(url, self.parse_forum, target)

    def parse_forum(self, response: Response, target: WatchTarget) -> Iterator[Any]:
        engine = target.extra["engine"]
        source = SOURCES[engine]
        if response.status in (404, 410):
            yield self.status_observation(target, source, "not_found", f"HTTP {response.status}")
            return
        if response.status != 200:
            self.fail_response(target, response, "the forum")
            return
        try:
            facts: ForumFacts = (
                parse_discourse_about(json_body(response))
                if engine == "discourse"
                else parse_phpbb_index(response.text)
            )
        except (ValueError, AttributeError) as exc:
            self.fail(target, f"unreadable {engine} page: {exc}")
            return
        yield CommunityObservation(
            key=target.key,
            observed_at=utcnow(),
            source=source,
            status="active",
            title=facts.title,
            url=target.extra["url"],
            metrics=facts.metrics,
        )
