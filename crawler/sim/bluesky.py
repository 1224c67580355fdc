"""Bluesky's XRPC endpoints as the `atproto` SDK calls them, under /xrpc/.

Shapes from the lexicons (bluesky-social/atproto lexicons/: `app.bsky.actor.getProfiles`
(at most 25 actors), `getProfile`, `app.bsky.actor.defs#profileViewDetailed`,
`app.bsky.feed.searchPosts` (limit 1..100, `cursor`, `since` on sortAt, `hitsTotal`),
`app.bsky.feed.getPosts` (at most 25 URIs), `com.atproto.server.createSession` /
`refreshSession`) and the AppView's view snapshots (packages/bsky/tests/views/
__snapshots__/profile.test.ts.snap, posts.test.ts.snap). Errors are XRPC bodies
`{"error": name, "message": text}`: getProfiles leaves out accounts it cannot show, and
getProfile says why (400 `AccountTakedown` "Account has been suspended", `AccountDeactivated`
"Account is deactivated", `InvalidRequest` "Profile not found"); a wrong password is 401
`AuthenticationRequired` "Invalid identifier or password"; searchPosts without a session is
403 `AuthMissing` "Authentication Required" (public search was switched off in 2025).

Rate limits as the AppView announces them: 3,000 requests per 5 minutes per address
(`ratelimit-limit`, `-remaining`, `-reset` in epoch seconds, `-policy: 3000;w=300`), and 30
createSession calls per 5 minutes per account; past them 429 `RateLimitExceeded`.

Ids are reversible, so any answer can be recomputed from the world: an author's DID encodes
the community and the author, a post's record key is a TID of its creation time whose clock
id is its sequence number in the day.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from crawler.sim.content import Item
from crawler.sim.platform import Platform
from crawler.sim.ratelimit import Budget, FixedWindowLimiter
from crawler.sim.wire import Route, SimRequest, SimResponse, route
from crawler.sim.world import Entity, Growth

B32 = "abcdefghijklmnopqrstuvwxyz234567"  # did:plc's alphabet
S32 = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable, the TID alphabet
MAX_ACTORS = 25
MAX_URIS = 25
SEARCH_LIMIT = 100
SEARCH_DAYS = 30  # how far back a search without `since` reaches in the simulation
ADHOC_BASE = 2_000_000  # entity indexes of searches the world does not list
MODERATION = "did:plc:ar7c4by46qjdydhdevvrndac"  # Bluesky's moderation labeler
ERROR_OF_STATUS = {
    "suspended": ("AccountTakedown", "Account has been suspended"),
    "banned": ("AccountTakedown", "Account has been suspended"),
    "not_found": ("AccountDeactivated", "Account is deactivated"),
}


def _ts(t: float | datetime) -> str:
    dt = t if isinstance(t, datetime) else datetime.fromtimestamp(t, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _b32(n: int, width: int, alphabet: str = B32) -> str:
    out = ""
    for _ in range(width):
        n, d = divmod(n, 32)
        out = alphabet[d] + out
    return out


def _unb32(s: str, alphabet: str = B32) -> int:
    n = 0
    for ch in s:
        n = n * 32 + alphabet.index(ch)
    return n


def tid(created: float, clock: int) -> str:
    """A record key: 53 bits of microseconds since the epoch, 10 bits of clock id (13 chars)."""
    return _b32((int(created * 1_000_000) << 10) | (clock & 0x3FF), 13, S32)


def did_for(entity_index: int, author: int) -> str:
    """did:plc:<entity 7><author 9><8 filler>: 24 characters of the did:plc alphabet."""
    return "did:plc:" + _b32(entity_index, 7) + _b32(author, 9) + "simsimsi"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Bluesky(Platform):
    name = "bluesky"

    def __init__(self, world: Any, **kwargs: Any) -> None:
        super().__init__(world, **kwargs)
        self.limiters["ip"] = FixedWindowLimiter(3000, 300, time_fn=self.time_fn)
        self.limiters["create_session"] = FixedWindowLimiter(30, 300, time_fn=self.time_fn)
        self.logins: dict[str, str] = {}  # identifier -> app password; empty: any login works
        self.sessions: dict[str, str] = {}  # access token -> did
        self.refresh: dict[str, tuple[str, str]] = {}  # refresh token -> (did, handle)
        self.issued: list[str] = []  # every token handed out (tests look for them elsewhere)
        self._adhoc: dict[str, Entity] = {}

    def routes(self) -> list[Route]:
        p, x = self.name, r"^/xrpc/"
        return [
            route(p, "getProfiles", "GET", x + r"app\.bsky\.actor\.getProfiles$", self.get_profiles),
            route(p, "getProfile", "GET", x + r"app\.bsky\.actor\.getProfile$", self.get_profile),
            route(p, "searchPosts", "GET", x + r"app\.bsky\.feed\.searchPosts$", self.search_posts),
            route(p, "getPosts", "GET", x + r"app\.bsky\.feed\.getPosts$", self.get_posts),
            route(
                p, "createSession", "POST", x + r"com\.atproto\.server\.createSession$", self.create_session
            ),
            route(
                p,
                "refreshSession",
                "POST",
                x + r"com\.atproto\.server\.refreshSession$",
                self.refresh_session,
            ),
        ]

    def too_many(self, retry_after: int) -> SimResponse:
        reset = int(self.time_fn()) + retry_after
        return SimResponse.json(
            429,
            {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
            {
                "ratelimit-limit": "3000",
                "ratelimit-remaining": "0",
                "ratelimit-reset": str(reset),
                "ratelimit-policy": "3000;w=300",
                "retry-after": str(retry_after),
            },
        )

    def server_error(self, status: int) -> SimResponse:
        return SimResponse.json(status, {"error": "InternalServerError", "message": "Internal Server Error"})

    # -- budget ---------------------------------------------------------------------
    @staticmethod
    def _headers(b: Budget) -> dict[str, str]:
        return {
            "ratelimit-limit": str(b.limit),
            "ratelimit-remaining": str(b.remaining),
            "ratelimit-reset": str(int(b.reset_at)),
            "ratelimit-policy": f"{b.limit};w=300",
        }

    def _limited(self, req: SimRequest) -> tuple[dict[str, str], SimResponse | None]:
        budget = self.limiters["ip"].hit(req.client_ip)
        headers = self._headers(budget)
        if not budget.allowed:
            return headers, SimResponse.json(
                429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, headers
            )
        return headers, None

    @staticmethod
    def _error(status: int, error: str, message: str, headers: dict[str, str]) -> SimResponse:
        return SimResponse.json(status, {"error": error, "message": message}, headers)

    # -- accounts -------------------------------------------------------------------
    def _account(self, actor: str) -> Entity | None:
        if actor.startswith("did:"):
            for e in self.world.of_kind("bluesky", "account"):
                if self.account_did(e) == actor:
                    return e
            return None
        return self.world.get("bluesky", "account", actor.lstrip("@"))

    def account_did(self, e: Entity) -> str:
        return str(e.extra.get("did") or did_for(e.index, 0))

    def profile(self, e: Entity) -> dict[str, Any]:
        followers = self.world.members(e)
        r = self.world.rng("bsky-profile", e.key)
        now = self.world.now()
        age = max(0.0, (min(now, self.world.frozen_at(e) or now) - e.created).total_seconds() / 86400)
        did = self.account_did(e)
        return {
            "did": did,
            "handle": e.name.lower(),
            "displayName": e.title or e.name.split(".")[0],
            "description": "A simulated account.",
            "avatar": f"https://cdn.bsky.app/img/avatar/plain/{did}/bafkrei{_b32(e.index, 20)}@jpeg",
            "associated": {"lists": 0, "feedgens": 0, "starterPacks": 0, "labeler": False},
            "followersCount": followers,
            "followsCount": int(20 + followers * r.uniform(0.001, 0.01)),
            "postsCount": int(e.extra.get("posts_count", age * e.post_rate)),
            "indexedAt": _ts(e.created + timedelta(minutes=3)),
            "createdAt": _ts(e.created),
            "viewer": {"muted": False, "blockedBy": False},
            "labels": [],
        }

    def _shown(self, e: Entity | None) -> bool:
        return e is not None and self.world.status(e) == "active"

    def get_profiles(self, req: SimRequest) -> SimResponse:
        headers, refused = self._limited(req)
        if refused:
            return refused
        actors = req.query.get("actors") or []
        if not actors:
            return self._error(
                400, "InvalidRequest", 'Error: Params must have the property "actors"', headers
            )
        if len(actors) > MAX_ACTORS:
            return self._error(
                400, "InvalidRequest", f"Error: actors must not have more than {MAX_ACTORS} elements", headers
            )
        profiles = []
        for actor in actors:
            e = self._account(actor)
            if e is not None and self._shown(e):
                profiles.append(self.profile(e))
        return SimResponse.json(200, {"profiles": profiles}, headers)

    def get_profile(self, req: SimRequest) -> SimResponse:
        headers, refused = self._limited(req)
        if refused:
            return refused
        actor = req.arg("actor") or ""
        e = self._account(actor)
        if e is None or (self.world.status(e) == "not_found" and self.world.event_at(e) is None):
            return self._error(400, "InvalidRequest", "Profile not found", headers)
        status = self.world.status(e)
        if status != "active":
            error, message = ERROR_OF_STATUS.get(status, ("InvalidRequest", "Profile not found"))
            return self._error(400, error, message, headers)
        return SimResponse.json(200, self.profile(e), headers)

    # -- sessions -------------------------------------------------------------------
    def _jwt(self, did: str, scope: str, lifetime: float) -> str:
        now = int(self.time_fn())
        header = {"typ": "at+jwt", "alg": "ES256K"}
        payload = {
            "scope": scope,
            "sub": did,
            "iat": now,
            "exp": now + int(lifetime),
            "aud": "did:web:sim.bsky.social",
        }
        parts = [_b64(json.dumps(p, separators=(",", ":")).encode()) for p in (header, payload)]
        return ".".join([*parts, _b64(secrets.token_bytes(32))])

    def _session(self, req: SimRequest, did: str, handle: str) -> dict[str, Any]:
        access = self._jwt(did, "com.atproto.appPass", 2 * 3600)
        refresh = self._jwt(did, "com.atproto.refresh", 90 * 86400)
        self.issued += [access, refresh]
        self.sessions[access] = did
        self.refresh[refresh] = (did, handle)
        return {
            "did": did,
            "handle": handle,
            "didDoc": {
                "@context": ["https://www.w3.org/ns/did/v1"],
                "id": did,
                "alsoKnownAs": [f"at://{handle}"],
                "service": [
                    {
                        "id": "#atproto_pds",
                        "type": "AtprotoPersonalDataServer",
                        "serviceEndpoint": req.base_url,
                    }
                ],
            },
            "email": None,
            "emailConfirmed": True,
            "accessJwt": access,
            "refreshJwt": refresh,
            "active": True,
        }

    def create_session(self, req: SimRequest) -> SimResponse:
        headers: dict[str, str] = {}
        try:
            data = json.loads(req.body or b"{}")
        except ValueError:
            return self._error(400, "InvalidRequest", "Request body is not JSON", headers)
        identifier, password = str(data.get("identifier") or ""), str(data.get("password") or "")
        budget = self.limiters["create_session"].hit(identifier.lower())
        if not budget.allowed:
            return self._error(429, "RateLimitExceeded", "Rate Limit Exceeded", self._headers(budget))
        if not identifier or not password:
            return self._error(400, "InvalidRequest", 'Input must have the property "password"', headers)
        if self.logins and self.logins.get(identifier) != password:
            return self._error(401, "AuthenticationRequired", "Invalid identifier or password", headers)
        did = did_for(ADHOC_BASE - 1, int(hashlib.sha256(identifier.encode()).hexdigest()[:8], 16))
        return SimResponse.json(200, self._session(req, did, identifier.lower()), headers)

    def refresh_session(self, req: SimRequest) -> SimResponse:
        token = (req.header("authorization") or "").removeprefix("Bearer ").strip()
        known = self.refresh.pop(token, None)
        if known is None:
            return self._error(400, "ExpiredToken", "Token has expired", {})
        return SimResponse.json(200, self._session(req, *known), {})

    def _signed_in(self, req: SimRequest) -> bool:
        token = (req.header("authorization") or "").removeprefix("Bearer ").strip()
        return token in self.sessions

    # -- posts ----------------------------------------------------------------------
    def _query_entity(self, q: str) -> Entity:
        known = self.world.get("bluesky", "query", q)
        if known is not None:
            return known
        e = self._adhoc.get(q.lower())
        if e is None:
            r = self.world.rng("bsky-adhoc", q.lower())
            e = Entity(
                "bluesky",
                "query",
                q,
                self.world.start - timedelta(days=3650),
                Growth(0, 1, shape="linear", rate=0),
                post_rate=r.uniform(1, 20),
                index=ADHOC_BASE + len(self._adhoc),
            )
            self._adhoc[q.lower()] = e
        return e

    def _entity_by_index(self, index: int) -> Entity | None:
        if index >= ADHOC_BASE:
            return next((e for e in self._adhoc.values() if e.index == index), None)
        return self.world.entities[index] if 0 <= index < len(self.world.entities) else None

    @staticmethod
    def _author(item: Item) -> int:
        try:
            return int(item.author.split("_")[2])
        except (IndexError, ValueError):
            return 0

    def uri(self, e: Entity, item: Item) -> str:
        return f"at://{did_for(e.index, self._author(item))}/app.bsky.feed.post/{tid(item.created, item.seq)}"

    def post_view(self, e: Entity, item: Item) -> dict[str, Any]:
        now = self.world.now().timestamp()
        did = did_for(e.index, self._author(item))
        text = item.text + (f" {item.url}" if item.url else "")
        record: dict[str, Any] = {
            "$type": "app.bsky.feed.post",
            "createdAt": _ts(item.created),
            "langs": ["en"],
            "text": text,
        }
        if item.url:
            start = len(item.text.encode()) + 1
            record["facets"] = [
                {
                    "index": {"byteStart": start, "byteEnd": start + len(item.url.encode())},
                    "features": [{"$type": "app.bsky.richtext.facet#link", "uri": item.url}],
                }
            ]
            record["embed"] = {
                "$type": "app.bsky.embed.external",
                "external": {"uri": item.url, "title": item.title, "description": ""},
            }
        handle = f"sim-user-{self._author(item)}-{e.index}.bsky.social"
        view: dict[str, Any] = {
            "uri": self.uri(e, item),
            "cid": "bafyrei" + _b32(item.id_num & (2**250 - 1), 52),
            "author": {
                "did": did,
                "handle": handle,
                "labels": [],
                "viewer": {"muted": False, "blockedBy": False},
                "createdAt": _ts(e.created),
            },
            "record": record,
            "replyCount": item.grown(item.comments, now),
            "repostCount": item.grown(item.score // 4, now),
            "likeCount": item.grown(item.score, now),
            "quoteCount": 0,
            "indexedAt": _ts(item.created + 2.0),
            "viewer": {},
            "labels": [],
        }
        if e.nsfw:
            view["labels"] = [
                {"src": MODERATION, "uri": view["uri"], "val": "porn", "cts": _ts(item.created + 60)}
            ]
        return view

    def search_posts(self, req: SimRequest) -> SimResponse:
        headers, refused = self._limited(req)
        if refused:
            return refused
        if not self._signed_in(req):
            return self._error(403, "AuthMissing", "Authentication Required", headers)
        q = (req.arg("q") or "").strip()
        if not q:
            return self._error(400, "InvalidRequest", 'Error: Params must have the property "q"', headers)
        limit = req.int_arg("limit", 25, 1, SEARCH_LIMIT)
        offset = req.int_arg("cursor", 0, 0, 10_000)
        now = self.world.now()
        since = _parse(req.arg("since")) or now - timedelta(days=SEARCH_DAYS)
        until = min(now, _parse(req.arg("until")) or now)
        e = self._query_entity(q)
        items = [
            it
            for it in self.world.items_between(e, max(since, now - timedelta(days=365)), until)
            if it.state(now.timestamp()) == "visible"
        ]
        page = items[offset : offset + limit]
        body: dict[str, Any] = {"posts": [self.post_view(e, it) for it in page], "hitsTotal": len(items)}
        if offset + limit < len(items):
            body["cursor"] = str(offset + limit)
        return SimResponse.json(200, body, headers)

    def _item_of(self, uri: str) -> tuple[Entity, Item] | None:
        try:
            did, collection, rkey = uri.removeprefix("at://").split("/")
            code = did.removeprefix("did:plc:")
            index, stamp = _unb32(code[:7]), _unb32(rkey, S32)
        except ValueError:
            return None
        if collection != "app.bsky.feed.post" or len(code) != 24:
            return None
        e = self._entity_by_index(index)
        if e is None:
            return None
        created, seq = (stamp >> 10) / 1_000_000, stamp & 0x3FF
        day = self.world.day_of(datetime.fromtimestamp(created, UTC))
        for it in self.world.day_items(e, day):
            if it.seq == seq and abs(it.created - created) < 0.001:
                return e, it
        return None

    def get_posts(self, req: SimRequest) -> SimResponse:
        headers, refused = self._limited(req)
        if refused:
            return refused
        uris = req.query.get("uris") or []
        if len(uris) > MAX_URIS:
            return self._error(
                400, "InvalidRequest", f"Error: uris must not have more than {MAX_URIS} elements", headers
            )
        now = self.world.now().timestamp()
        posts = []
        for uri in uris:
            found = self._item_of(uri)
            if found is not None and found[1].created <= now and found[1].state(now) == "visible":
                posts.append(self.post_view(*found))
        return SimResponse.json(200, {"posts": posts}, headers)


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
