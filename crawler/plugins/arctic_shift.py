"""Arctic Shift: the history of subreddits, banned ones too (spiders.arctic_shift)."""

from __future__ import annotations

from typing import Any

from crawler.entries import Section, TargetMaker, WatchTarget
from crawler.plugins import Endpoint, SourceSpec
from crawler.plugins.reddit import Subreddit


class ArcticShiftWatch(Section):
    subreddits: tuple[Subreddit, ...] = ()


def _targets(section: ArcticShiftWatch, make: TargetMaker) -> list[WatchTarget]:
    # The same communities as the live crawl: history lands on the reddit subreddit rows.
    return make.named("reddit", "subreddit", section.subreddits)


SOURCE: Any = SourceSpec(
    name="arctic_shift",
    platform="reddit",
    kinds=("subreddit",),
    how="Scrapy, Arctic Shift API",
    fetcher="spiders.arctic_shift:ArcticShiftSpider",
    engine="scrapy",
    order=80,
    watch=ArcticShiftWatch,
    watch_default=ArcticShiftWatch(),
    targets=_targets,
    watch_doc=("arctic_shift.subreddits",),
    endpoints=(Endpoint("arctic_shift", "https://arctic-shift.photon-reddit.com", "Arctic Shift's API"),),
    metrics=("members", "posts_per_day"),
    shares="reddit",
)
