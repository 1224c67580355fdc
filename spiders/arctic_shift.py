"""Arctic Shift history of subreddits: daily subscribers and posts, also for banned ones.

Calls Arctic Shift's JSON API (`/api/time_series`), so robots.txt does not apply. It is a
volunteer service without a published quota, so this spider is deliberately slow: one
request at a time, a second between requests, and exponential backoff on errors. Points
land on the reddit subreddit community with source `arctic_shift`, observed at the series'
own dates; a re-run writes the same keys again, which the store treats as updates, so it
never duplicates.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from scrapy.http import Request, Response

from spiders.base import DfwatchSpider, json_body
from spiders.parsers.arctic_shift import SERIES, parse_time_series

if TYPE_CHECKING:
    from crawler.config import WatchTarget


class ArcticShiftSpider(DfwatchSpider):
    name = "arctic_shift"
    custom_settings = {  # noqa: RUF012 (Scrapy declares it a plain class attribute)
        "ROBOTSTXT_OBEY": False,  # a JSON API; politeness below instead
        "CONCURRENT_REQUESTS": 1,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "DOWNLOAD_DELAY": 1.0,  # seconds between requests
    }

    def requests_for(self, target: WatchTarget) -> Iterator[Request]:
        base = self.ctx.config.endpoint("arctic_shift")
        for series, metric in SERIES.items():
            query = urlencode({"key": f"r/{target.key.handle}/{series}", "precision": "day"})
            yield self.request(
                f"{base}/api/time_series?{query}",
                self.parse_series,
                target,
                headers={"Accept": "application/json"},
                cb_kwargs={"metric": metric},
            )

    def parse_series(self, response: Response, target: WatchTarget, metric: str) -> Iterator[Any]:
        if response.status != 200:
            self.fail_response(target, response, f"the {metric} series")
            return
        try:
            points = parse_time_series(json_body(response), target.key, metric)
        except ValueError as exc:
            self.fail(target, f"{metric} series: {exc}")
            return
        self.ctx.log.info(
            "source=arctic_shift target=r/%s metric=%s points=%d", target.key.handle, metric, len(points)
        )
        yield from points
