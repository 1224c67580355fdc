"""What every simulated platform provides to the server: routes and its own error shapes."""

from __future__ import annotations

import time
from collections.abc import Callable

from crawler.sim.ratelimit import FixedWindowLimiter
from crawler.sim.wire import Route, SimResponse
from crawler.sim.world import World


class Platform:
    """One platform's answers. Subclasses set `name` and build their routes."""

    name = "platform"

    def __init__(self, world: World, time_fn: Callable[[], float] = time.time) -> None:
        self.world = world
        self.time_fn = time_fn
        self.limiters: dict[str, FixedWindowLimiter] = {}

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def too_many(self, retry_after: int) -> SimResponse:
        """A 429 in this platform's shape (used by the rate_limit fault)."""
        return SimResponse.json(429, {"message": "Too Many Requests"}, {"Retry-After": str(retry_after)})

    def server_error(self, status: int) -> SimResponse:
        return SimResponse.json(status, {"message": "Service Unavailable", "status": status})

    def limiter(self, name: str) -> FixedWindowLimiter:
        return self.limiters[name]

    def set_limit(self, name: str, limit: int, window: float | None = None) -> None:
        """Change a budget (tests shrink 600 to 3 to reach the 429 path quickly)."""
        old = self.limiters[name]
        self.limiters[name] = FixedWindowLimiter(
            limit, window or old.window, aligned=old.aligned, time_fn=old.time_fn
        )
