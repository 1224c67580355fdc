"""Arctic Shift `/api/time_series` → history points (pure).

Shape (measured, see DESIGN.md): `{"data": [{"date": epoch_seconds, "value": n}, ...]}`;
an error is `{"error": "..."}`.
"""

from __future__ import annotations

from typing import Any

from crawler.parsing import epoch_to_utc
from crawler.records import CommunityKey, MetricPoint
from spiders.parsers.common import as_number

SOURCE = "arctic_shift"
# Arctic Shift series key suffix → our metric name.
SERIES = {"subscribers": "members", "posts/count": "posts_per_day"}


def parse_time_series(body: Any, key: CommunityKey, metric: str) -> list[MetricPoint]:
    """The series → one MetricPoint per date; points without a date or value are skipped."""
    if not isinstance(body, dict):
        raise ValueError("time series answer is not a JSON object")
    if body.get("error"):
        raise ValueError(f"Arctic Shift error: {body['error']}")
    data = body.get("data")
    if not isinstance(data, list):
        raise ValueError("time series answer has no data list")
    points = []
    for row in data:
        if not isinstance(row, dict):
            continue
        at = epoch_to_utc(row.get("date"))
        value = as_number(row.get("value"))
        if at is not None and value is not None:
            points.append(MetricPoint(key, metric, value, at, SOURCE))
    return points
