"""X (Twitter) API v2 as tweepy calls it: users by username, recent counts, recent search.

Shapes from /work/shared/fixtures/recorded/x/ (tweepy's cassettes): the user object of
users_by_usernames.json, the tweet object and meta of tweets_search_recent.json, the count
buckets of tweets_counts_recent.json. The errors for suspended and unknown users follow the
documented v2 problem shapes (resource-not-found with "User has been suspended: [name]." and
"Could not find user with usernames: [name].", both answered with HTTP 200).

Rate limits per 15-minute window for app-only auth, from the X API v2 rate-limit table
(developer.x.com, "Rate limits": GET /2/users/by 300, GET /2/tweets/counts/recent 300,
GET /2/tweets/search/recent 450) and matching the x-rate-limit-limit headers recorded in the
fixtures above. x-rate-limit-reset is the epoch second the window ends.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from crawler.sim.content import Item, base36
from crawler.sim.platform import Platform
from crawler.sim.ratelimit import FixedWindowLimiter
from crawler.sim.wire import Route, SimRequest, SimResponse, route
from crawler.sim.world import Entity

WINDOW = 15 * 60
LIMITS = {"users_by": 300, "counts_recent": 300, "search_recent": 450}
RECENT = timedelta(days=7)  # recent search and counts look back seven days
PROBLEM = "https://api.twitter.com/2/problems/"
USER_FIELDS = ("created_at", "description", "location", "protected", "public_metrics", "url", "verified")
TWEET_FIELDS = (
    "created_at",
    "author_id",
    "public_metrics",
    "lang",
    "possibly_sensitive",
    "entities",
    "conversation_id",
)


def _ts(t: float | datetime) -> str:
    dt = t if isinstance(t, datetime) else datetime.fromtimestamp(t, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _parse_ts(s: str | None) -> datetime | None:
    if not s:
        return None
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


class X(Platform):
    name = "x"

    def __init__(self, world: Any, **kwargs: Any) -> None:
        super().__init__(world, **kwargs)
        for endpoint, limit in LIMITS.items():
            self.limiters[endpoint] = FixedWindowLimiter(limit, WINDOW, time_fn=self.time_fn)

    def routes(self) -> list[Route]:
        p = self.name
        return [
            route(p, "users_by", "GET", r"^/2/users/by/?$", self.limited("users_by", self.users_by)),
            route(
                p,
                "counts_recent",
                "GET",
                r"^/2/tweets/counts/recent/?$",
                self.limited("counts_recent", self.counts_recent),
            ),
            route(
                p,
                "search_recent",
                "GET",
                r"^/2/tweets/search/recent/?$",
                self.limited("search_recent", self.search_recent),
            ),
        ]

    # -- errors, auth, limits -------------------------------------------------------
    def too_many(self, retry_after: int, limit: int = 300) -> SimResponse:
        reset = int(self.time_fn()) + retry_after
        return SimResponse.json(
            429,
            {
                "title": "Too Many Requests",
                "detail": "Too Many Requests",
                "type": "about:blank",
                "status": 429,
            },
            {
                "x-rate-limit-limit": str(limit),
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(reset),
            },
        )

    def server_error(self, status: int) -> SimResponse:
        return SimResponse.json(
            status,
            {
                "title": "Service Unavailable",
                "detail": "Service Unavailable",
                "type": "about:blank",
                "status": status,
            },
        )

    @staticmethod
    def _invalid(detail: str, parameter: str, value: str) -> SimResponse:
        return SimResponse.json(
            400,
            {
                "errors": [{"parameters": {parameter: [value]}, "message": detail}],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": f"{PROBLEM}invalid-request",
            },
        )

    def limited(self, endpoint: str, handler: Any) -> Any:
        def wrapped(req: SimRequest) -> SimResponse:
            auth = req.header("authorization") or ""
            if not auth.startswith("Bearer ") or len(auth) <= 7:
                return SimResponse.json(
                    401,
                    {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"},
                )
            budget = self.limiters[endpoint].hit(auth[7:])
            if not budget.allowed:
                return self.too_many(budget.reset_in, budget.limit)
            resp: SimResponse = handler(req)
            resp.headers.update(
                {
                    "x-rate-limit-limit": str(budget.limit),
                    "x-rate-limit-remaining": str(budget.remaining),
                    "x-rate-limit-reset": str(int(budget.reset_at)),
                }
            )
            return resp

        return wrapped

    # -- users ----------------------------------------------------------------------
    @staticmethod
    def user_id(e: Entity) -> str:
        return str(900_000_000_000_000_000 + e.index * 7919)

    def user_data(self, e: Entity, fields: set[str]) -> dict[str, Any]:
        now = self.world.now()
        d: dict[str, Any] = {
            "id": self.user_id(e),
            "name": e.title or e.name.replace("_", " ").title(),
            "username": e.name,
        }
        if "created_at" in fields:
            d["created_at"] = _ts(e.created)
        if "description" in fields:
            d["description"] = f"Simulated account {e.name}."
        if "protected" in fields:
            d["protected"] = self.world.status(e) == "protected"
        if "verified" in fields:
            d["verified"] = False
        if "public_metrics" in fields:
            age = max(0.0, (now - e.created).total_seconds() / 86400)
            followers = self.world.members(e)
            d["public_metrics"] = {
                "followers_count": followers,
                "following_count": 50 + e.index % 400,
                "tweet_count": int(e.post_rate * age),
                "listed_count": followers // 200,
            }
        return d

    def users_by(self, req: SimRequest) -> SimResponse:
        names = [n for n in (req.arg("usernames") or "").split(",") if n]
        if not names or len(names) > 100:
            return self._invalid(
                "The number of values in the `usernames` query parameter list ["
                + str(len(names))
                + "] is not between 1 and 100",
                "usernames",
                req.arg("usernames") or "",
            )
        fields = set((req.arg("user.fields") or "").split(","))
        data, errors = [], []
        for name in names:
            e = self.world.get("x", "account", name)
            status = self.world.status(e) if e else "not_found"
            if status == "suspended":
                errors.append(
                    {
                        "value": name,
                        "detail": f"User has been suspended: [{name}].",
                        "title": "Forbidden",
                        "resource_type": "user",
                        "parameter": "usernames",
                        "resource_id": name,
                        "type": f"{PROBLEM}resource-not-found",
                    }
                )
            elif status == "not_found" or e is None:
                errors.append(
                    {
                        "value": name,
                        "detail": f"Could not find user with usernames: [{name}].",
                        "title": "Not Found Error",
                        "resource_type": "user",
                        "parameter": "usernames",
                        "resource_id": name,
                        "type": f"{PROBLEM}resource-not-found",
                    }
                )
            else:
                data.append(self.user_data(e, fields))
        body: dict[str, Any] = {}
        if data:
            body["data"] = data
        if errors:
            body["errors"] = errors
        return SimResponse.json(200, body)

    # -- tweets ---------------------------------------------------------------------
    def _query_window(self, req: SimRequest) -> tuple[str, datetime, datetime] | SimResponse:
        """The query and time window of a recent-counts or recent-search request, or its 400."""
        query = req.arg("query")
        if not query:
            return self._invalid("The `query` query parameter can not be empty", "query", "")
        now = self.world.now()
        start = _parse_ts(req.arg("start_time")) or now - RECENT
        end = _parse_ts(req.arg("end_time")) or now
        if start < now - RECENT:
            return self._invalid(
                "Invalid 'start_time':'"
                + (req.arg("start_time") or "")
                + "'. 'start_time' must be on or after "
                + _ts(now - RECENT),
                "start_time",
                req.arg("start_time") or "",
            )
        return query, start, min(end, now)

    def _tweets(self, query: str, start: datetime, end: datetime) -> tuple[Entity, list[Item]]:
        e = self.world.query_entity(query)
        now = self.world.now().timestamp()
        items = [it for it in self.world.items_between(e, start, end) if it.state(now) == "visible"]
        return e, items

    def counts_recent(self, req: SimRequest) -> SimResponse:
        window = self._query_window(req)
        if isinstance(window, SimResponse):
            return window
        query, start, end = window
        step = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}.get(
            req.arg("granularity") or "hour", timedelta(hours=1)
        )
        _, items = self._tweets(query, start, end)
        times = sorted(it.created for it in items)
        buckets: list[dict[str, Any]] = []
        lo = start
        while lo < end and len(buckets) < 10_080:  # 7 days of minutes at most
            if step == timedelta(days=1):
                hi = datetime(lo.year, lo.month, lo.day, tzinfo=UTC) + step
            elif step == timedelta(hours=1):
                hi = lo.replace(minute=0, second=0, microsecond=0) + step
            else:
                hi = lo.replace(second=0, microsecond=0) + step
            hi = min(hi, end)
            n = sum(1 for t in times if lo.timestamp() <= t < hi.timestamp())
            buckets.append({"end": _ts(hi), "start": _ts(lo), "tweet_count": n})
            lo = hi
        return SimResponse.json(
            200, {"data": buckets, "meta": {"total_tweet_count": sum(b["tweet_count"] for b in buckets)}}
        )

    def tweet_data(self, e: Entity, item: Item, fields: set[str], term: str) -> dict[str, Any]:
        tid = str(item.id_num)
        short = f"https://t.co/{base36(item.id_num)[-10:]}"
        text = f"{item.title} {term}" + (f" {short}" if item.url else "")
        d: dict[str, Any] = {"edit_history_tweet_ids": [tid], "id": tid, "text": text}
        now = self.world.now().timestamp()
        if "created_at" in fields:
            d["created_at"] = _ts(item.created)
        if "author_id" in fields:
            d["author_id"] = str(1_000_000_000 + int(item.author.split("_")[2]) * 31 + e.index % 31)
        if "conversation_id" in fields:
            d["conversation_id"] = tid
        if "lang" in fields:
            d["lang"] = "en"
        if "possibly_sensitive" in fields:
            d["possibly_sensitive"] = False
        if "public_metrics" in fields:
            d["public_metrics"] = {
                "retweet_count": item.grown(item.comments, now),
                "reply_count": item.grown(item.comments // 2, now),
                "like_count": item.grown(item.score, now),
                "quote_count": 0,
                "impression_count": item.grown(item.views, now),
            }
        if "entities" in fields and item.url:
            start = len(text) - len(short)
            d["entities"] = {
                "urls": [
                    {
                        "start": start,
                        "end": len(text),
                        "url": short,
                        "expanded_url": item.url,
                        "display_url": item.url.split("://", 1)[1][:26],
                    }
                ]
            }
        return d

    def search_recent(self, req: SimRequest) -> SimResponse:
        window = self._query_window(req)
        if isinstance(window, SimResponse):
            return window
        query, start, end = window
        max_results = req.int_arg("max_results", 10, 10, 100)
        e, items = self._tweets(query, start, end)
        since_id = int(req.arg("since_id") or 0)
        until_id = int(req.arg("until_id") or 0)
        token = req.arg("next_token") or req.arg("pagination_token")
        below: int | None = None
        if token:
            try:
                below = int(token, 36)
            except ValueError:
                return self._invalid(
                    "The `next_token` query parameter value [" + token + "] is not valid", "next_token", token
                )
        items = [
            it
            for it in items
            if it.id_num > since_id
            and (not until_id or it.id_num < until_id)
            and (below is None or it.id_num < below)
        ]
        items.sort(key=lambda it: it.id_num, reverse=True)
        page = items[:max_results]
        fields = set((req.arg("tweet.fields") or "").split(","))
        term = query.strip('"')
        meta: dict[str, Any] = {"result_count": len(page)}
        body: dict[str, Any] = {}
        if page:
            body["data"] = [self.tweet_data(e, it, fields, term) for it in page]
            meta.update(newest_id=str(page[0].id_num), oldest_id=str(page[-1].id_num))
            if len(items) > max_results:
                meta["next_token"] = base36(page[-1].id_num)
        body["meta"] = meta
        return SimResponse.json(200, body)
