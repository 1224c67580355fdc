"""Arctic Shift's subreddit history: GET /api/time_series?key=r/NAME/subscribers&precision=day.

Shape as DESIGN.md measured it: {"data": [{"date": epoch_seconds, "value": n}]}, one point a
UTC day, oldest first; keys r/NAME/subscribers and r/NAME/posts/count. The archive keeps the
history of subreddits banned since, which is what the backfill is for; it holds nothing for
the current day (the archive lags) nor for a subreddit it never saw.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from crawler.sim.platform import Platform
from crawler.sim.wire import Route, SimRequest, SimResponse, route

KEY_RE = re.compile(r"^r/(?P<name>[A-Za-z0-9_]{2,21})/(?P<metric>subscribers|posts/count)$")
MAX_POINTS = 3650


def _bound(raw: str | None) -> datetime | None:
    if not raw:
        return None
    if raw.isdigit():
        return datetime.fromtimestamp(int(raw), UTC)
    return datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(UTC)


class ArcticShift(Platform):
    name = "arctic_shift"

    def routes(self) -> list[Route]:
        return [route(self.name, "time_series", "GET", r"^/api/time_series/?$", self.time_series)]

    def too_many(self, retry_after: int) -> SimResponse:
        return SimResponse.json(429, {"error": "Too many requests"}, {"Retry-After": str(retry_after)})

    def server_error(self, status: int) -> SimResponse:
        return SimResponse.json(status, {"error": "Internal server error"})

    def time_series(self, req: SimRequest) -> SimResponse:
        key = req.arg("key") or ""
        m = KEY_RE.match(key)
        if not m or (req.arg("precision") or "day") != "day":
            return SimResponse.json(400, {"error": f"Invalid key or precision: {key!r}"})
        try:
            after, before = _bound(req.arg("after")), _bound(req.arg("before"))
        except ValueError:
            return SimResponse.json(400, {"error": "Invalid after/before"})
        e = self.world.get("reddit", "subreddit", m["name"])
        if e is None:
            return SimResponse.json(200, {"data": []})
        now = self.world.now()
        today = datetime(now.year, now.month, now.day, tzinfo=UTC)
        first = datetime(e.created.year, e.created.month, e.created.day, tzinfo=UTC)
        stop = self.world.frozen_at(e)
        last = min(today, stop) if stop else today
        if after:
            first = max(first, after)
        if before:
            last = min(last, before)
        points: list[dict[str, int]] = []
        day = first
        while day < last and len(points) < MAX_POINTS:
            end = day + timedelta(days=1)
            if m["metric"] == "subscribers":
                value = self.world.members(e, min(end, last))
            else:
                value = len(self.world.items_between(e, day, end - timedelta(microseconds=1)))
            points.append({"date": int(day.timestamp()), "value": value})
            day = end
        return SimResponse.json(200, {"data": points})
