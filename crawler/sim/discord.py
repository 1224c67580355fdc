"""Discord's invite lookup: GET /api/v9/invites/{code}?with_counts=true.

Shape as documented (discord.com/developers/docs/resources/invite, "Get Invite"): code,
guild {id, name, ...}, channel, approximate_member_count and approximate_presence_count when
with_counts=true; an expired or revoked invite, or one of a deleted server, answers
404 {"message": "Unknown Invite", "code": 10006}. Rate-limit headers follow Discord's
documented per-bucket form (x-ratelimit-limit / -remaining / -reset / -reset-after / -bucket);
the invite route's own bucket size is unpublished, so the global 50 requests a second is used.
"""

from __future__ import annotations

from typing import Any

from crawler.sim.platform import Platform
from crawler.sim.ratelimit import FixedWindowLimiter
from crawler.sim.wire import Route, SimRequest, SimResponse, route


class Discord(Platform):
    name = "discord"

    def __init__(self, world: Any, **kwargs: Any) -> None:
        super().__init__(world, **kwargs)
        self.limiters["global"] = FixedWindowLimiter(50, 1.0, time_fn=self.time_fn)

    def routes(self) -> list[Route]:
        return [
            route(
                self.name, "invite", "GET", r"^/api/v(?:9|10)/invites/(?P<code>[A-Za-z0-9-]+)/?$", self.invite
            )
        ]

    def too_many(self, retry_after: int) -> SimResponse:
        return SimResponse.json(
            429,
            {"message": "You are being rate limited.", "retry_after": float(retry_after), "global": False},
            {"Retry-After": str(retry_after)},
        )

    def server_error(self, status: int) -> SimResponse:
        return SimResponse.json(status, {"message": "Service Unavailable", "code": 0})

    def invite(self, req: SimRequest) -> SimResponse:
        budget = self.limiters["global"].hit(req.client_ip)
        if not budget.allowed:
            return self.too_many(1)
        headers = {
            "x-ratelimit-limit": str(budget.limit),
            "x-ratelimit-remaining": str(budget.remaining),
            "x-ratelimit-reset": f"{budget.reset_at:.3f}",
            "x-ratelimit-reset-after": f"{max(0.0, budget.reset_at - budget.now):.3f}",
            "x-ratelimit-bucket": "sim-invites",
        }
        code = req.params["code"]
        e = self.world.get("discord", "server", code)
        if e is None or self.world.status(e) in ("not_found", "expired", "banned"):
            return SimResponse.json(404, {"message": "Unknown Invite", "code": 10006}, headers)
        guild_id = str(e.extra.get("guild_id") or 400_000_000_000_000_000 + e.index)
        body: dict[str, Any] = {
            "type": 0,
            "code": e.name,
            "expires_at": None,
            "guild": {
                "id": guild_id,
                "name": e.title or e.name,
                "splash": None,
                "banner": None,
                "description": None,
                "icon": None,
                "features": [],
                "verification_level": 1,
                "vanity_url_code": None,
                "nsfw_level": 0,
                "nsfw": e.nsfw,
                "premium_subscription_count": 0,
            },
            "guild_id": guild_id,
            "channel": {"id": str(int(guild_id) + 1), "type": 0, "name": "welcome"},
        }
        if (req.arg("with_counts") or "").lower() == "true":
            members = self.world.members(e)
            presence_share = self.world.rng("presence", e.key, self.world.day_of(self.world.now())).uniform(
                0.08, 0.25
            )
            body["approximate_member_count"] = members
            body["approximate_presence_count"] = int(e.extra.get("online", members * presence_share))
        body.update(e.extra.get("fields") or {})  # answer fields a test pins (crawler.sim.scenario)
        return SimResponse.json(200, body, headers)
