"""The Scrapy spiders as dfwatch sources: github, discord, telegram, forums, mastodon, arctic_shift.

They share the group "scrapy": the run hands all of them to `crawl_group` at once, which
runs them together in one CrawlerProcess (see spiders.runner). None needs credentials;
github uses `GITHUB_TOKEN` when it is set (5,000 requests an hour instead of 60).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from crawler.records import Record
from crawler.sources.base import Source, SourceContext, register


class SpiderSource(Source):
    """A source whose crawl is a Scrapy spider (spiders.runner.SPIDERS[name])."""

    group: ClassVar[str | None] = "scrapy"

    def crawl(self, ctx: SourceContext) -> Iterable[Record] | None:
        self.crawl_group([(self, ctx)])
        return None

    @classmethod
    def crawl_group(cls, members: Sequence[tuple[Source, SourceContext]]) -> None:
        from spiders.runner import run_spiders  # Scrapy loads only when a spider runs

        run_spiders(members)


@register
class GithubSource(SpiderSource):
    name = "github"


@register
class DiscordSource(SpiderSource):
    name = "discord"


@register
class TelegramSource(SpiderSource):
    name = "telegram"


@register
class ForumsSource(SpiderSource):
    name = "forums"


@register
class MastodonSource(SpiderSource):
    name = "mastodon"


@register
class ArcticShiftSource(SpiderSource):
    name = "arctic_shift"
