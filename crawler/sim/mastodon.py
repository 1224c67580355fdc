"""A Mastodon instance's hashtag endpoint: GET /api/v1/tags/{tag}.

Shape as documented (docs.joinmastodon.org, Tag entity): name, url, history (seven days,
newest first, every number a string: {"day": "epoch", "uses": "n", "accounts": "n"}) and
following; an unknown tag is 404 {"error": "Record not found"}. Unauthenticated callers get
300 requests per 5 minutes per IP (Mastodon docs, "Rate limits"), announced in
X-RateLimit-Limit / -Remaining / -Reset (an ISO 8601 time).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from crawler.sim.platform import Platform
from crawler.sim.ratelimit import FixedWindowLimiter
from crawler.sim.wire import Route, SimRequest, SimResponse, route


class Mastodon(Platform):
    name = "mastodon"

    def __init__(self, world: Any, **kwargs: Any) -> None:
        super().__init__(world, **kwargs)
        self.limiters["ip"] = FixedWindowLimiter(300, 300, aligned=True, time_fn=self.time_fn)

    def routes(self) -> list[Route]:
        return [route(self.name, "tag", "GET", r"^/api/v1/tags/(?P<tag>[^/]+)/?$", self.tag)]

    def too_many(self, retry_after: int) -> SimResponse:
        reset = datetime.fromtimestamp(self.time_fn() + retry_after, UTC).isoformat()
        return SimResponse.json(
            429,
            {"error": "Too many requests"},
            {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
        )

    def server_error(self, status: int) -> SimResponse:
        return SimResponse.json(status, {"error": "We're sorry, but something went wrong on our end."})

    def tag(self, req: SimRequest) -> SimResponse:
        budget = self.limiters["ip"].hit(req.client_ip)
        headers = {
            "X-RateLimit-Limit": str(budget.limit),
            "X-RateLimit-Remaining": str(budget.remaining),
            "X-RateLimit-Reset": datetime.fromtimestamp(budget.reset_at, UTC).isoformat(),
        }
        if not budget.allowed:
            return SimResponse.json(429, {"error": "Too many requests"}, headers)
        tag = req.params["tag"].lstrip("#")
        e = self.world.get("mastodon", "hashtag", tag)
        if e is None:
            return SimResponse.json(404, {"error": "Record not found"}, headers)
        now = self.world.now()
        today = datetime(now.year, now.month, now.day, tzinfo=UTC)
        history = []
        for back in range(7):
            day = today - timedelta(days=back)
            uses = self.world.items_between(
                e, day, min(now, day + timedelta(days=1) - timedelta(microseconds=1))
            )
            accounts = len({it.author for it in uses})
            history.append(
                {"day": str(int(day.timestamp())), "uses": str(len(uses)), "accounts": str(accounts)}
            )
        return SimResponse.json(
            200,
            {"name": e.name, "url": f"{req.base_url}/tags/{e.name}", "history": history, "following": False},
            headers,
        )
