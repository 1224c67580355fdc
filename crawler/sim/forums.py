"""Forums: a phpBB board's index page and a Discourse site's /about.json, under /forums/{name}.

Shapes: the phpBB page follows phpBB 3.3's prosilver `index_body.html` and its English
language strings (the title "{name} - Index page", TOTAL_POSTS_COUNT "Total posts
<strong>%d</strong>", TOTAL_TOPICS, TOTAL_USERS "Total members", ONLINE_USERS_TOTAL "In total
there are <strong>%d</strong> users online :: "), trimmed to the blocks dfwatch reads, as in
tests/fakes/data/web/phpbb_index.html; a board its admin switched off (`board_disable`)
answers 200 with "This board is currently disabled." and no statistics. Discourse's
/about.json follows the Discourse API documentation (`about.stats`: `users_count`,
`posts_count`, `topics_count`, `active_users_7_days`, ... as 3.x serves them; older versions
say `user_count`, `post_count`, `topic_count`: an entity with `old_counters` answers so).

An entity (platform "forums", kind "forum") names its `engine` ("phpbb" or "discourse") and
may pin `stats` ({"posts", "topics", "online", "active_7"}); members are the world's curve.
"""

from __future__ import annotations

from html import escape
from typing import Any

from crawler.sim.platform import Platform
from crawler.sim.wire import Route, SimRequest, SimResponse, route
from crawler.sim.world import Entity

DISABLED = "<html><body>This board is currently disabled.</body></html>"


class Forums(Platform):
    name = "forums"

    def routes(self) -> list[Route]:
        p, base = self.name, r"^/forums/(?P<forum>[A-Za-z0-9_.-]+)"
        return [
            route(p, "phpbb_index", "GET", base + r"/?$", self.phpbb),
            route(p, "discourse_about", "GET", base + r"/about\.json$", self.discourse),
        ]

    def too_many(self, retry_after: int) -> SimResponse:
        return SimResponse.html(
            429, "<html><body>Too Many Requests</body></html>", {"Retry-After": str(retry_after)}
        )

    def server_error(self, status: int) -> SimResponse:
        return SimResponse.html(status, "<html><body><h1>Service Unavailable</h1></body></html>")

    def _forum(self, req: SimRequest, engine: str) -> Entity | None:
        e = self.world.get("forums", "forum", req.params["forum"])
        if e is None or e.extra.get("engine", "phpbb") != engine or self.world.status(e) == "not_found":
            return None
        return e

    def stats(self, e: Entity) -> dict[str, int]:
        """Members from the world; posts, topics, users online and active ones drawn or pinned."""
        members = self.world.members(e)
        r = self.world.rng("forum", e.key, self.world.day_of(self.world.now()))
        posts = int(members * r.uniform(1.5, 4))
        drawn = {
            "members": members,
            "posts": posts,
            "topics": max(1, posts // r.randint(5, 12)),
            "online": max(1, int(members * r.uniform(0.001, 0.004))),
            "active_7": max(1, int(members * r.uniform(0.02, 0.05))),
        }
        return drawn | dict(e.extra.get("stats") or {})

    def phpbb(self, req: SimRequest) -> SimResponse:
        e = self._forum(req, "phpbb")
        if e is None:
            return SimResponse.html(404, "<html><body><h1>Not Found</h1></body></html>")
        if self.world.status(e) != "active":
            return SimResponse.html(200, DISABLED)
        s = self.stats(e)
        title = escape(e.title or e.name)
        return SimResponse.html(
            200,
            '<!DOCTYPE html>\n<html dir="ltr" lang="en-gb">\n'
            f'<head><meta charset="utf-8" /><title>{title} - Index page</title></head>\n'
            '<body id="phpbb" class="nojs notouch section-index ltr ">\n<div id="wrap" class="wrap">\n'
            '  <div class="headerbar" role="banner"><div class="inner">\n'
            f'    <div id="site-description" class="site-description"><h1>{title}</h1><p>A simulated board</p></div>\n'
            "  </div></div>\n"
            '  <div class="stat-block online-list">\n    <h3><a href="./viewonline.php">Who is online</a></h3>\n'
            f"    <p>In total there are <strong>{s['online']}</strong> users online :: 0 registered, 0 hidden and "
            f"{s['online']} guests (based on users active over the past 5 minutes)<br /></p>\n  </div>\n"
            '  <div class="stat-block statistics">\n    <h3>Statistics</h3>\n'
            f"    <p>Total posts <strong>{s['posts']}</strong> &bull; Total topics <strong>{s['topics']}</strong> "
            f"&bull; Total members <strong>{s['members']}</strong></p>\n  </div>\n"
            "</div>\n</body>\n</html>\n",
        )

    def discourse(self, req: SimRequest) -> SimResponse:
        e = self._forum(req, "discourse")
        if e is None or self.world.status(e) != "active":
            return SimResponse.json(404, {"errors": ["The requested URL or resource could not be found."]})
        s = self.stats(e)
        old = bool(e.extra.get("old_counters"))
        stats: dict[str, Any] = {
            "topic_count" if old else "topics_count": s["topics"],
            "post_count" if old else "posts_count": s["posts"],
            "user_count" if old else "users_count": s["members"],
            "active_users_7_days": s["active_7"],
            "active_users_30_days": s["active_7"] * 3,
        }
        about = {"title": e.title or e.name, "description": "A simulated forum", "stats": stats}
        return SimResponse.json(200, {"about": about})
