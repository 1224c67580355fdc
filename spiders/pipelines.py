"""The one item pipeline: hand each record to the run through the spider's SourceContext.

Spiders never write to the store; the run enriches and stores what `ctx.emit` receives,
exactly as for the API sources. For the spiders the run stores from a writer thread
(crawler.writer), so `emit` returns at once; a write that failed there for this source is
raised by its next `emit`, and handled here as an inline failure would be.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.exceptions import DropItem
from scrapy.utils.defer import deferred_from_coro

from crawler.errors import DfwatchError
from crawler.records import CommunityObservation, MetricPoint, Post, PostStateUpdate

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

RECORD_TYPES = (CommunityObservation, MetricPoint, Post, PostStateUpdate)


class EmitPipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> EmitPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, RECORD_TYPES):
            raise DropItem(f"not a dfwatch record: {type(item).__name__}")
        ctx = self.crawler.spider.ctx  # type: ignore[union-attr]
        try:
            ctx.emit(item)
        except DfwatchError as exc:
            # Scrapy would log this and go on, losing every later record without a trace:
            # fail the source and stop its spider instead; the run reports it.
            if ctx.failure is None:
                ctx.fail(f"storing failed: {exc}", exc)
                assert self.crawler.engine is not None
                deferred_from_coro(self.crawler.engine.close_spider_async(reason="store_failed"))
            raise DropItem(f"not stored: {exc}") from None
        return item
