"""Run dfwatch spiders: all of one crawl in one CrawlerProcess, or on a test's CrawlerRunner.

`CrawlerProcess` starts the Twisted reactor, which cannot be restarted in a process
(ReactorNotRestartable), so one crawl process runs every spider of the crawl together and
the scheduler starts each crawl as its own subprocess. Tests use `schedule` with a
`CrawlerRunner` on pytest-twisted's reactor instead.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.crawler import CrawlerProcess, CrawlerRunner
from scrapy.http import Response
from scrapy.utils.misc import load_object
from twisted.python.failure import Failure

from crawler.errors import DatabaseFull
from crawler.logs import quiet_libraries
from spiders.settings import scrapy_settings

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.sources.base import Source, SourceContext

log = logging.getLogger("dfwatch.spiders")


class CrawlWatch:
    """Follows one spider: exceptions in its callbacks, and whether it finished.

    Scrapy keeps signal receivers as weak references; the watch object is held by the
    caller for the whole crawl, so its bound methods stay alive.
    """

    def __init__(self, ctx: SourceContext, crawler: Crawler) -> None:
        self.ctx = ctx
        self.crawler = crawler
        self.error: str | None = None
        self.close_reason: str | None = None
        crawler.signals.connect(self.on_spider_error, signal=signals.spider_error)
        crawler.signals.connect(self.on_spider_closed, signal=signals.spider_closed)

    def on_spider_error(self, failure: Failure, response: Response, spider: Any) -> None:
        """A callback raised: that target failed (a bug, logged with its traceback by Scrapy)."""
        target = response.meta.get("target", response.url) if response is not None else "?"
        self.ctx.fail_target(str(target), f"internal error: {type(failure.value).__name__}: {failure.value}")

    def on_spider_closed(self, spider: Any, reason: str) -> None:
        self.close_reason = reason

    def on_crawl_failed(self, failure: Failure) -> None:
        self.error = f"{type(failure.value).__name__}: {failure.value}"
        log.error("source=%s spider crashed: %s", self.ctx.name, self.error, exc_info=failure.value)

    @property
    def crashed(self) -> str | None:
        """Why the spider as a whole did not finish, or None when it did."""
        if self.error:
            return self.error
        if self.close_reason not in (None, "finished"):
            return f"spider closed: {self.close_reason}"
        return None


def schedule(runner: CrawlerRunner, members: Sequence[tuple[Source, SourceContext]]) -> list[CrawlWatch]:
    """Start one crawler per source on `runner`; returns their watches (keep them)."""
    watches = []
    for source, ctx in members:
        spidercls = load_object(source.spec.fetcher.replace(":", "."))
        crawler = runner.create_crawler(spidercls)
        watch = CrawlWatch(ctx, crawler)
        runner.crawl(crawler, ctx=ctx).addErrback(watch.on_crawl_failed)
        watches.append(watch)
    return watches


def settle(watches: Sequence[CrawlWatch]) -> None:
    """After the crawl: a spider that crashed fails its own source; the others stand.

    A full database stops the whole crawl: it is raised again here, once the reactor is done.
    """
    for watch in watches:
        if watch.crashed and watch.ctx.failure is None:
            watch.ctx.fail(f"spider crashed: {watch.crashed}")
    for watch in watches:
        if isinstance(watch.ctx.failure_exc, DatabaseFull):
            raise watch.ctx.failure_exc


def run_spiders(
    members: Sequence[tuple[Source, SourceContext]], overrides: Mapping[str, Any] | None = None
) -> None:
    """Run every member's spider in one CrawlerProcess in this process (blocks until done)."""
    if not members:
        return
    # Nothing may fetch the public suffix list (tldextract, used by Scrapy's cookie
    # middleware, which is off anyway); an empty list means "the bundled snapshot".
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    config = members[0][1].config
    process = CrawlerProcess(scrapy_settings(config, overrides))
    quiet_libraries()  # CrawlerProcess set Scrapy's loggers to DEBUG
    watches = schedule(process, members)
    process.start()
    settle(watches)
