"""Mastodon `/api/v1/tags/{tag}` → daily use counts (pure).

Shape (Mastodon API documentation, Tag entity): `{"name": "deepfake", "url": ...,
"history": [{"day": "1574553600", "uses": "200", "accounts": "31"}, ...]}`: the last seven
days, newest first, every number a string, `day` the UTC midnight as epoch seconds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crawler.parsing import epoch_to_utc
from crawler.records import CommunityKey, MetricPoint
from spiders.parsers.common import as_number

SOURCE = "mastodon_api"


def parse_tag_history(body: dict[str, Any], key: CommunityKey) -> list[MetricPoint]:
    """Each history day → posts_per_day (uses) and accounts_per_day, observed at that day."""
    history = body.get("history")
    if not isinstance(history, list):
        raise ValueError("tag has no history list")
    points: list[MetricPoint] = []
    for day in history:
        at: datetime | None = epoch_to_utc(day.get("day")) if isinstance(day, dict) else None
        if at is None:
            continue
        for metric, field_name in (("posts_per_day", "uses"), ("accounts_per_day", "accounts")):
            value = as_number(day.get(field_name))
            if value is not None:
                points.append(MetricPoint(key, metric, value, at, SOURCE))
    return points
