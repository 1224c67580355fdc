"""The source registry: a source's fetcher, loaded from its declaration when it runs.

API fetchers are `Source` subclasses named by the declaration (`module:Class`); Scrapy
spiders run through `SpiderSource`, which hands every spider of a crawl to one
CrawlerProcess (spiders.runner). Modules load lazily, so `dfwatch --help` stays fast and an
installation without a source's module still runs the others.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Sequence
from typing import ClassVar

from crawler.plugins import SourceSpec, spec
from crawler.records import Record
from crawler.sources.base import Source, SourceContext

log = logging.getLogger("dfwatch.source")


class SpiderSource(Source):
    """A source whose fetcher is a Scrapy spider; all of one crawl share a CrawlerProcess."""

    group: ClassVar[str | None] = "scrapy"
    writes_off_thread: ClassVar[bool] = True  # the reactor must keep fetching while a batch is stored

    @property
    def spider_path(self) -> str:
        """The spider class as Scrapy's `load_object` names it (`module.Class`)."""
        return self.spec.fetcher.replace(":", ".")

    def crawl(self, ctx: SourceContext) -> Iterable[Record] | None:
        self.crawl_group([(self, ctx)])
        return None

    @classmethod
    def crawl_group(cls, members: Sequence[tuple[Source, SourceContext]]) -> None:
        from spiders.runner import run_spiders  # Scrapy loads only when a spider runs

        run_spiders(members)


def _module_of(source: SourceSpec) -> str:
    return source.fetcher.partition(":")[0]


def get_source(name: str) -> Source | None:
    """The fetcher of source `name`, or None if its module is not installed.

    Raises KeyError for a name no declaration has.
    """
    declared = spec(name)
    if declared.engine == "scrapy":
        return SpiderSource(declared)
    module_name, _, class_name = declared.fetcher.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only the source's own module may be absent (a trimmed installation); a module it
        # needs that is missing is a broken install, and says so.
        if exc.name is None or not module_name.startswith(exc.name):
            raise
        log.debug("source module for %s not importable: %s", name, exc)
        return None
    cls = getattr(module, class_name)
    if not (isinstance(cls, type) and issubclass(cls, Source)):
        raise TypeError(f"{declared.fetcher} is not a Source")
    return cls(declared)
