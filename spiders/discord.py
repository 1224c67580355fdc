"""Discord servers through their invite: approximate member and online counts, name, status.

Calls Discord's documented HTTP API (`GET /api/v9/invites/{code}?with_counts=true`, no
credentials needed), so robots.txt does not apply; Discord's published limits are followed
instead: one request per invite, at most two in flight, and 429 answers waited out as
their `Retry-After` / `X-RateLimit-Reset-After` say. An expired or unknown invite (404,
code 10006) is recorded as not_found with Discord's own words.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from scrapy.http import Request, Response

from crawler.records import CommunityObservation, utcnow
from spiders.base import DfwatchSpider, json_body
from spiders.parsers.discord import error_reason, parse_invite

if TYPE_CHECKING:
    from crawler.config import WatchTarget

SOURCE = "discord_api"


class DiscordSpider(DfwatchSpider):
    name = "discord"
    # A JSON API with published rate limits: robots.txt does not apply (see the docstring).
    custom_settings = {"ROBOTSTXT_OBEY": False}  # noqa: RUF012 (Scrapy declares a plain class attribute)

    def requests_for(self, target: WatchTarget) -> Iterator[Request]:
        base = self.ctx.config.endpoint("discord")
        url = f"{base}/api/v9/invites/{target.key.handle}?with_counts=true"
        yield self.request(url, self.parse_invite, target, headers={"Accept": "application/json"})

    def parse_invite(self, response: Response, target: WatchTarget) -> Iterator[Any]:
        try:
            body = json_body(response)
        except ValueError as exc:
            if response.status == 200:
                self.fail(target, f"unreadable invite answer: {exc}")
            else:
                self.fail_response(target, response, "the invite endpoint")
            return
        if response.status == 404:
            yield self.status_observation(target, SOURCE, "not_found", error_reason(404, body))
            return
        if response.status != 200 or not isinstance(body, dict):
            self.fail_response(target, response, "the invite endpoint")
            return
        facts = parse_invite(body)
        yield CommunityObservation(
            key=target.key,
            observed_at=utcnow(),
            source=SOURCE,
            status="active",
            external_id=facts.external_id,
            title=facts.title,
            url=f"https://discord.gg/{target.key.handle}",
            nsfw=facts.nsfw,
            metrics=facts.metrics,
        )
