"""Reddit's OAuth API as praw and prawcore call it.

Shapes are derived from recorded answers in /work/shared/fixtures/recorded/reddit/
(praw's own cassettes): the t5 subreddit object from info_by_sr_name.json (2020) and
subreddit_about_public.json (2019), the t3 post from subreddit_new_page.json (2016) plus the
fields Reddit added since (subreddit_subscribers, removed_by_category), the Listing envelope,
the token grant from oauth_token.json and the error bodies from not_found_404.json and
quarantined_forbidden.json. `active_user_count` / `accounts_active` are left out: Reddit
removed them from the API in 2025 (DESIGN.md).

Rate limit: "100 queries per minute (QPM) per OAuth client id ... averaged over a time
window of 10 minutes" (Reddit Data API Wiki), i.e. 600 per 10-minute window, announced in
x-ratelimit-used / -remaining (a float, as recorded: "592.0") / -reset (seconds).
"""

from __future__ import annotations

import base64
import itertools
import threading
import zlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from crawler.sim.content import REDDIT_ID_EPOCH, Item, base36
from crawler.sim.platform import Platform
from crawler.sim.ratelimit import Budget, FixedWindowLimiter
from crawler.sim.wire import Route, SimRequest, SimResponse, route
from crawler.sim.world import Entity

CONTENT_TYPE = "application/json; charset=UTF-8"  # as recorded
MAX_NAMES = 100  # /api/info takes up to 100 names or fullnames a call
LISTING_MAX = 100  # limit= is capped at 100 a page

# t5 keys kept from info_by_sr_name.json / subreddit_about_public.json (values filled per community).
SUBREDDIT_TEMPLATE: dict[str, Any] = {
    "display_name": None,
    "display_name_prefixed": None,
    "title": None,
    "public_description": "",
    "description": "",
    "subscribers": None,
    "created": None,
    "created_utc": None,
    "over18": False,
    "quarantine": False,
    "subreddit_type": "public",
    "url": None,
    "name": None,
    "id": None,
    "lang": "en",
    "submission_type": "any",
    "restrict_posting": True,
    "wiki_enabled": False,
    "user_is_banned": None,
    "user_is_moderator": None,
    "user_is_subscriber": None,
    "icon_img": "",
    "community_icon": "",
    "allow_videos": True,
    "allow_images": True,
    "spoilers_enabled": True,
    "hide_ads": False,
}
# t3 keys kept from subreddit_new_page.json; the last two lines are fields added after 2016.
POST_TEMPLATE: dict[str, Any] = {
    "domain": None,
    "subreddit": None,
    "subreddit_id": None,
    "selftext": "",
    "selftext_html": None,
    "id": None,
    "name": None,
    "author": None,
    "score": 0,
    "ups": 0,
    "downs": 0,
    "num_comments": 0,
    "over_18": False,
    "is_self": False,
    "permalink": None,
    "url": None,
    "title": None,
    "created": None,
    "created_utc": None,
    "link_flair_text": None,
    "stickied": False,
    "locked": False,
    "edited": False,
    "archived": False,
    "distinguished": None,
    "thumbnail": "",
    "media": None,
    "quarantine": False,
    "banned_by": None,
    "removal_reason": None,
    "subreddit_subscribers": None,
    "removed_by_category": None,
    "subreddit_name_prefixed": None,
}


class Reddit(Platform):
    name = "reddit"

    def __init__(self, world: Any, **kwargs: Any) -> None:
        super().__init__(world, **kwargs)
        self.limiters["oauth"] = FixedWindowLimiter(600, 600, aligned=True, time_fn=self.time_fn)
        self._tokens: dict[str, str] = {}
        self._serial = itertools.count(1)
        self._lock = threading.Lock()
        self.credentials: dict[str, str] | None = None  # client_id -> secret; None accepts any

    def routes(self) -> list[Route]:
        p = self.name
        return [
            route(p, "token", "POST", r"^/api/v1/access_token/?$", self.token),
            route(p, "info", "GET", r"^/api/info/?(\.json)?$", self.oauth(self.info)),
            route(
                p, "about", "GET", r"^/r/(?P<name>[A-Za-z0-9_]+)/about/?(\.json)?$", self.oauth(self.about)
            ),
            route(p, "new", "GET", r"^/r/(?P<names>[A-Za-z0-9_+]+)/new/?(\.json)?$", self.oauth(self.new)),
            route(p, "search", "GET", r"^/subreddits/search/?(\.json)?$", self.oauth(self.search)),
        ]

    # -- errors and headers ---------------------------------------------------------
    @staticmethod
    def _headers(b: Budget) -> dict[str, str]:
        return {
            "x-ratelimit-used": str(b.used),
            "x-ratelimit-remaining": f"{float(b.remaining):.1f}",
            "x-ratelimit-reset": str(b.reset_in),
        }

    def too_many(self, retry_after: int) -> SimResponse:
        headers = {
            "x-ratelimit-used": "600",
            "x-ratelimit-remaining": "0.0",
            "x-ratelimit-reset": str(retry_after),
        }
        return SimResponse.json(429, {"message": "Too Many Requests", "error": 429}, headers, CONTENT_TYPE)

    def server_error(self, status: int) -> SimResponse:
        return SimResponse.json(
            status,
            {"message": "Service Unavailable" if status == 503 else "Internal Server Error", "error": status},
            content_type=CONTENT_TYPE,
        )

    # -- auth -----------------------------------------------------------------------
    def token(self, req: SimRequest) -> SimResponse:
        """POST /api/v1/access_token: application-only grant (oauth_token.json)."""
        auth = req.header("authorization") or ""
        client_id = secret = ""
        if auth.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                client_id = ""
        grant = (req.form().get("grant_type") or [""])[0]
        known = self.credentials is None or self.credentials.get(client_id) == secret
        if not client_id or not known:
            return SimResponse.json(401, {"message": "Unauthorized", "error": 401}, content_type=CONTENT_TYPE)
        if grant not in (
            "client_credentials",
            "https://oauth.reddit.com/grants/installed_client",
            "password",
        ):
            return SimResponse.json(200, {"error": "unsupported_grant_type"}, content_type=CONTENT_TYPE)
        token = f"sim-{next(self._serial)}-{zlib.crc32(client_id.encode()):08x}"
        with self._lock:
            self._tokens[token] = client_id
        return SimResponse.json(
            200,
            {"access_token": token, "token_type": "bearer", "expires_in": 86400, "scope": "*"},
            content_type=CONTENT_TYPE,
        )

    def oauth(self, handler: Any) -> Any:
        """Wrap an API handler: bearer token required, one request off the client's budget."""

        def wrapped(req: SimRequest) -> SimResponse:
            auth = req.header("authorization") or ""
            token = auth[7:] if auth.lower().startswith("bearer ") else ""
            with self._lock:
                client_id = self._tokens.get(token)
            if client_id is None:
                return SimResponse.json(
                    401,
                    {"message": "Unauthorized", "error": 401},
                    {"www-authenticate": 'Bearer realm="reddit", error="invalid_token"'},
                    CONTENT_TYPE,
                )
            budget = self.limiters["oauth"].hit(client_id)
            if not budget.allowed:
                return self.too_many(budget.reset_in)
            resp: SimResponse = handler(req)
            resp.headers.update(self._headers(budget))
            return resp

        return wrapped

    # -- shapes ---------------------------------------------------------------------
    def _sub(self, name: str) -> Entity | None:
        return self.world.get("reddit", "subreddit", name)

    @staticmethod
    def _sr_id(e: Entity) -> str:
        return base36(1_000_000 + e.index * 7919)

    def subreddit_data(self, e: Entity) -> dict[str, Any]:
        status = self.world.status(e)
        d = dict(SUBREDDIT_TEMPLATE)
        sr_id = self._sr_id(e)
        d.update(
            display_name=e.name,
            display_name_prefixed=f"r/{e.name}",
            title=e.title or e.name,
            public_description=f"A community about {e.title or e.name}.",
            subscribers=self.world.members(e),
            created=e.created.timestamp(),
            created_utc=e.created.timestamp(),
            over18=e.nsfw,
            quarantine=status == "quarantined",
            url=f"/r/{e.name}/",
            name=f"t5_{sr_id}",
            id=sr_id,
            subreddit_type={"private": "private", "restricted": "restricted"}.get(status, "public"),
        )
        return d

    def post_data(self, e: Entity, item: Item, now: float) -> dict[str, Any]:
        d = dict(POST_TEMPLATE)
        pid = base36(item.id_num)
        slug = "_".join(item.title.lower().split()[:6]).strip("?:,.!")
        permalink = f"/r/{e.name}/comments/{pid}/{quote(slug)}/"
        state = item.state(now)
        is_self = item.domain is None
        d.update(
            domain=item.domain or f"self.{e.name}",
            subreddit=e.name,
            subreddit_id=f"t5_{self._sr_id(e)}",
            subreddit_name_prefixed=f"r/{e.name}",
            id=pid,
            name=f"t3_{pid}",
            author=item.author,
            score=item.grown(item.score, now),
            ups=item.grown(item.score, now),
            num_comments=item.grown(item.comments, now),
            over_18=e.nsfw,
            is_self=is_self,
            permalink=permalink,
            url=f"https://www.reddit.com{permalink}" if is_self else item.url,
            title=item.title,
            created=item.created,
            created_utc=item.created,
            link_flair_text=item.flair,
            selftext=item.text if is_self else "",
            subreddit_subscribers=self.world.members(e),
            quarantine=self.world.status(e) == "quarantined",
        )
        if state == "removed":  # what a moderator removal looks like from outside
            d.update(removed_by_category="moderator", selftext="[removed]" if is_self else "")
        elif state == "deleted":  # the author deleted it: name and text gone
            d.update(
                removed_by_category="deleted", author="[deleted]", selftext="[deleted]" if is_self else ""
            )
        return d

    @staticmethod
    def listing(
        children: list[dict[str, Any]], after: str | None = None, before: str | None = None
    ) -> dict[str, Any]:
        return {
            "kind": "Listing",
            "data": {
                "modhash": "",
                "dist": len(children),
                "children": children,
                "after": after,
                "before": before,
            },
        }

    def _error(self, status: int, reason: str | None = None, **extra: Any) -> SimResponse:
        body: dict[str, Any] = {
            "message": {403: "Forbidden", 404: "Not Found"}.get(status, "Error"),
            "error": status,
        }
        if reason:
            body = {"reason": reason, **extra, **body}
        return SimResponse.json(status, body, content_type=CONTENT_TYPE)

    def _gate(self, e: Entity | None, name: str, req: SimRequest) -> SimResponse | None:
        """The answer for a subreddit that cannot be read, or None when it can."""
        status = self.world.status(e) if e else "not_found"
        if status == "not_found":
            return SimResponse(
                302,
                b"",
                {
                    "Location": f"{req.base_url}/subreddits/search?q={quote(name)}",
                    "Content-Type": CONTENT_TYPE,
                },
            )
        if status == "banned":
            return self._error(404, "banned")
        if status == "private":
            return self._error(403, "private")
        if status == "quarantined":
            assert e is not None
            ev = self.world.event_at(e)
            return self._error(
                403, "quarantined", quarantine_message=ev.reason if ev else "", quarantine_message_html=None
            )
        return None

    # -- endpoints ------------------------------------------------------------------
    def about(self, req: SimRequest) -> SimResponse:
        name = req.params["name"]
        e = self._sub(name)
        gate = self._gate(e, name, req)
        if gate is not None:
            return gate
        assert e is not None
        return SimResponse.json(
            200, {"kind": "t5", "data": self.subreddit_data(e)}, content_type=CONTENT_TYPE
        )

    def search(self, req: SimRequest) -> SimResponse:
        return SimResponse.json(200, self.listing([]), content_type=CONTENT_TYPE)

    def info(self, req: SimRequest) -> SimResponse:
        """/api/info?sr_name=a,b or ?id=t3_x,t5_y: readable things present, the rest absent."""
        names = [n for n in (req.arg("sr_name") or "").split(",") if n]
        ids = [i for i in (req.arg("id") or "").split(",") if i]
        if len(names) > MAX_NAMES or len(ids) > MAX_NAMES:
            return self._error(400)
        children = []
        for name in names:
            e = self._sub(name)
            if e is not None and self.world.status(e) not in ("not_found", "banned"):
                children.append({"kind": "t5", "data": self.subreddit_data(e)})
        now = self.world.now().timestamp()
        for fullname in ids:
            found = self._post_by_fullname(fullname, now)
            if found is not None:
                children.append({"kind": "t3", "data": self.post_data(found[0], found[1], now)})
        return SimResponse.json(200, self.listing(children), content_type=CONTENT_TYPE)

    def _post_by_fullname(self, fullname: str, now: float) -> tuple[Entity, Item] | None:
        if not fullname.startswith("t3_"):
            return None
        try:
            num = int(fullname[3:], 36)
        except ValueError:
            return None
        index, created = num & 0xFFFFF, (num >> 20) + REDDIT_ID_EPOCH
        if index >= len(self.world.entities) or created > now:
            return None
        e = self.world.entities[index]
        if e.kind != "subreddit":
            return None
        day = self.world.day_of(datetime.fromtimestamp(created, UTC))
        for item in self.world.day_items(e, day):
            if item.id_num == num:
                return e, item
        return None

    def new(self, req: SimRequest) -> SimResponse:
        """/r/a+b/new: visible posts of the readable subreddits, newest first, paged by fullname."""
        names = req.params["names"].split("+")
        limit = req.int_arg("limit", 25, 1, LISTING_MAX)
        subs = []
        for name in names:
            e = self._sub(name)
            gate = self._gate(e, name, req)
            if gate is not None:
                if len(names) == 1:
                    return gate
                continue  # a multi silently leaves out what it cannot show
            assert e is not None
            subs.append(e)
        now = self.world.now()
        now_ts = now.timestamp()
        after = req.arg("after")
        before = req.arg("before")
        upper, lower = now_ts, float("-inf")
        upper_id: int | None = None
        lower_id: int | None = None
        if after and after.startswith("t3_"):
            upper_id = int(after[3:], 36)
            upper = min(upper, (upper_id >> 20) + REDDIT_ID_EPOCH)
        if before and before.startswith("t3_"):
            lower_id = int(before[3:], 36)
            lower = (lower_id >> 20) + REDDIT_ID_EPOCH
        posts: list[tuple[Entity, Item]] = []
        day = self.world.day_of(datetime.fromtimestamp(upper, UTC))
        oldest_day = min((self.world.day_of(e.created) for e in subs), default=day)
        # Reddit listings reach back ~1000 items; walk days back until a page is full.
        while (
            day >= oldest_day
            and (len(posts) < limit + 1 or lower_id is not None)
            and day > self.world.day_of(now) - 3650
        ):
            batch = [
                (e, it)
                for e in subs
                for it in self.world.day_items(e, day)
                if it.created <= now_ts
                and it.state(now_ts) == "visible"
                and (upper_id is None or it.id_num < upper_id)
                and it.created <= upper
                and (lower_id is None or it.id_num > lower_id)
                and it.created >= lower
            ]
            batch.sort(key=lambda p: (p[1].created, p[1].id_num), reverse=True)
            posts.extend(batch)
            if lower_id is not None and self.world.day_start(day).timestamp() < lower:
                break
            day -= 1
        if lower_id is not None:  # before= pages toward the newest: the `limit` just above the cursor
            posts = posts[-limit:]
            page, more = posts, False
        else:
            page, more = posts[:limit], len(posts) > limit
        children: list[dict[str, Any]] = [
            {"kind": "t3", "data": self.post_data(e, it, now_ts)} for e, it in page
        ]
        after_name = children[-1]["data"]["name"] if more and children else None
        return SimResponse.json(200, self.listing(children, after=after_name), content_type=CONTENT_TYPE)
