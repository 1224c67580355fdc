"""A fake Reddit API on 127.0.0.1 for real praw to talk to.

Answers the endpoints dfwatch uses: the application-only token grant
(`POST /api/v1/access_token`), `/api/info/?sr_name=` and `?id=`, `/r/NAME/about/` and
combined listings `/r/a+b/new` with `after` paging. Shapes come from recorded Reddit answers
(tests/fakes/data/reddit/*.json, each with its provenance); every OAuth answer carries the
three x-ratelimit headers prawcore needs. Faults are scripted per path (429 with Retry-After,
5xx, malformed JSON) and every request is counted per route, so tests and the benchmark can
hold dfwatch's own request count against what the server saw.

Behaviour modelled on Reddit's (documented in docs/sources.md):
* banned, quarantined, unknown and (by default) private subreddits are absent from
  `/api/info/?sr_name=`; their `/about` says why: 404 {reason: banned}, 403 {reason:
  private}, 403 {reason: quarantined, quarantine_message}, or a 302 to the search;
* a combined listing naming a banned / private / quarantined / unknown subreddit fails as a
  whole (404 or 403);
* `active_user_count` is not sent (removed in September 2025); posts carry
  `subreddit_subscribers`.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from crawler.sim.httpserver import LocalHTTPServer

DATA = Path(__file__).parent / "data" / "reddit"
TOKEN = "fake-access-token"


def _template(name: str) -> dict[str, Any]:
    doc = json.loads((DATA / name).read_text())
    doc.pop("provenance", None)
    return doc


T5 = _template("t5.json")
T3 = _template("t3.json")
LISTING = _template("listing.json")
TOKEN_GRANT = _template("token.json")["body"]
ERRORS = _template("errors.json")


@dataclass
class FakeSubreddit:
    """One subreddit the fake knows. status: active, restricted, archived, private,
    quarantined, banned, or unknown (the name does not exist)."""

    name: str
    status: str = "active"
    subscribers: int | None = 1000
    over18: bool = False
    weekly_visitors: int | None = None
    weekly_contributions: int | None = None
    in_info: bool | None = None  # None: Reddit's default for the status
    quarantine_message: str = "This community is quarantined: it may contain shocking content."
    created_utc: float = 1513000000.0
    sr_id: str = ""

    @property
    def listed_in_info(self) -> bool:
        if self.in_info is not None:
            return self.in_info
        return self.status in ("active", "restricted", "archived")


@dataclass
class Fault:
    """One scripted answer instead of the normal one."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (to provoke the client's timeout)

    @classmethod
    def too_many(cls, retry_after: float) -> Fault:
        return cls(
            429,
            b'{"message": "Too Many Requests", "error": 429}',
            {"retry-after": str(retry_after), "content-type": "application/json; charset=UTF-8"},
        )

    @classmethod
    def server_error(cls, status: int = 503) -> Fault:
        return cls(
            status,
            b"<html><body><h1>503 Service Unavailable</h1></body></html>",
            {"content-type": "text/html"},
        )

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """An answer that comes too late; the client should have given up and retried."""
        return cls(200, b'{"kind": "Listing", "data": {"children": []}}', {}, delay=seconds)

    @classmethod
    def malformed(cls) -> Fault:
        return cls(
            200,
            b'{"kind": "Listing", "data": {"children": [{"kind": "t5", "da',
            {"content-type": "application/json; charset=UTF-8"},
        )


@dataclass
class _Rule:
    prefix: str
    match: str | None
    faults: list[Fault]
    repeat: bool


class FakeReddit:
    """The fake server; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        client_id: str = "test-client-id",
        client_secret: str = "test-client-secret",  # noqa: S107 (test credentials)
        *,
        quota: int = 1000,
        reset_seconds: int = 300,
    ) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.quota, self.reset_seconds = quota, reset_seconds
        self.subreddits: dict[str, FakeSubreddit] = {}
        self.posts: dict[str, dict[str, Any]] = {}  # id -> t3 data
        self.counts: Counter[str] = Counter()  # route -> requests
        self.log: list[str] = []  # "METHOD path?query", in order
        self.rules: list[_Rule] = []
        self.used = 0  # OAuth requests in this rate-limit window
        self._next_sr = 100_000
        self._next_post = int("1a0000", 36)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- set-up ------------------------------------------------------------------------
    def add_subreddit(self, name: str, **kwargs: Any) -> FakeSubreddit:
        self._next_sr += 1
        sr = FakeSubreddit(name, sr_id=_b36(self._next_sr), **kwargs)
        self.subreddits[name.lower()] = sr
        return sr

    def add_post(
        self,
        subreddit: str,
        created_utc: float,
        *,
        title: str = "A post",
        selftext: str = "",
        author: str = "someone",
        url: str | None = None,
        score: int = 1,
        num_comments: int = 0,
        flair: str | None = None,
    ) -> dict[str, Any]:
        sr = self.subreddits[subreddit.lower()]
        self._next_post += 1
        pid = _b36(self._next_post)
        data = copy.deepcopy(T3["data"])
        permalink = f"/r/{sr.name}/comments/{pid}/a_post/"
        data.update(
            {
                "id": pid,
                "name": f"t3_{pid}",
                "subreddit": sr.name,
                "subreddit_id": f"t5_{sr.sr_id}",
                "author": author,
                "title": title,
                "selftext": selftext,
                "url": url or f"https://www.reddit.com{permalink}",
                "permalink": permalink,
                "domain": urlsplit(url).hostname if url else f"self.{sr.name}",
                "is_self": url is None,
                "created": created_utc,
                "created_utc": created_utc,
                "score": score,
                "num_comments": num_comments,
                "over_18": sr.over18,
                "link_flair_text": flair,
                "subreddit_subscribers": sr.subscribers,
                "removed_by_category": None,
            }
        )
        with self._lock:
            self.posts[pid] = data
        return data

    def remove_post(self, post_id: str, category: str = "moderator") -> None:
        """As Reddit shows a post a moderator (or Reddit) removed."""
        with self._lock:
            self.posts[post_id].update(removed_by_category=category, selftext="[removed]")

    def delete_post(self, post_id: str) -> None:
        """As Reddit shows a post its author deleted."""
        with self._lock:
            self.posts[post_id].update(
                removed_by_category="deleted", selftext="[deleted]", author="[deleted]"
            )

    def script(self, prefix: str, *faults: Fault, match: str | None = None, repeat: bool = False) -> None:
        """Answer the next requests to `prefix` (whose query contains `match`) with `faults`,
        one each, then normally; with repeat=True, answer every such request with faults[0]."""
        self.rules.append(_Rule(prefix, match, list(faults), repeat))

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()
            self.log.clear()

    @property
    def total_requests(self) -> int:
        return sum(self.counts.values())

    # -- server ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeReddit:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = LocalHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-reddit", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeReddit:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- routing -----------------------------------------------------------------------
    def _handle(self, req: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(req.path)
        path, query = parts.path, parse_qs(parts.query)
        route = _route(method, path, query)
        length = int(req.headers.get("content-length") or 0)
        body = req.rfile.read(length) if length else b""
        with self._lock:
            self.counts[route] += 1
            self.log.append(f"{method} {req.path}")
            if route != "token":
                self.used += 1
            fault = self._fault(path, parts.query)
        if route != "token" and req.headers.get("authorization") != f"bearer {TOKEN}":
            self._send(
                req,
                401,
                {"message": "Unauthorized", "error": 401},
                {"www-authenticate": 'Bearer realm="reddit", error="invalid_token"'},
            )
            return
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            self._send_raw(req, fault.status, fault.body, {**self._ratelimit_headers(), **fault.headers})
            return
        if route == "token":
            self._token(req, body)
        elif route == "info_sr_name":
            self._info_sr(req, query["sr_name"][0].split(","))
        elif route == "info_id":
            self._info_id(req, query["id"][0].split(","))
        elif route == "about":
            self._about(req, path.split("/")[2])
        elif route == "listing":
            self._listing(req, path.split("/")[2].split("+"), query)
        else:
            self._send(req, 404, ERRORS["not_found"])

    def _fault(self, path: str, query: str) -> Fault | None:
        for rule in self.rules:
            if path.startswith(rule.prefix) and (rule.match is None or rule.match in query) and rule.faults:
                return rule.faults[0] if rule.repeat else rule.faults.pop(0)
        return None

    def _token(self, req: BaseHTTPRequestHandler, body: bytes) -> None:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        form = parse_qs(body.decode())
        if req.headers.get("authorization") != f"Basic {expected}":
            self._send(req, 401, {"message": "Unauthorized", "error": 401}, ratelimit=False)
            return
        if form.get("grant_type") != ["client_credentials"]:
            self._send(req, 200, {"error": "unsupported_grant_type"}, ratelimit=False)
            return
        self._send(req, 200, {**TOKEN_GRANT, "access_token": TOKEN}, ratelimit=False)

    def _t5(self, sr: FakeSubreddit) -> dict[str, Any]:
        data = copy.deepcopy(T5["data"])
        data.pop("active_user_count", None)  # gone from the API since September 2025
        data.pop("accounts_active", None)
        sr_type = {"active": "public", "quarantined": "public"}.get(sr.status, sr.status)
        data.update(
            {
                "display_name": sr.name,
                "display_name_prefixed": f"r/{sr.name}",
                "name": f"t5_{sr.sr_id}",
                "id": sr.sr_id,
                "title": f"{sr.name} community",
                "url": f"/r/{sr.name}/",
                "over18": sr.over18,
                "quarantine": sr.status == "quarantined",
                "subreddit_type": sr_type,
                "created": sr.created_utc,
                "created_utc": sr.created_utc,
            }
        )
        for field_name in ("subscribers", "weekly_visitors", "weekly_contributions"):
            value = getattr(sr, field_name)
            if value is None or sr.status == "private":
                data.pop(field_name, None)
            else:
                data[field_name] = value
        return {"kind": "t5", "data": data}

    def _listing_body(self, children: list[dict[str, Any]], after: str | None) -> dict[str, Any]:
        body = copy.deepcopy(LISTING)
        body["data"].update(children=children, after=after, dist=len(children))
        return body

    def _info_sr(self, req: BaseHTTPRequestHandler, names: list[str]) -> None:
        found = [self.subreddits.get(n.lower()) for n in names[:100]]
        children = [self._t5(sr) for sr in found if sr is not None and sr.listed_in_info]
        self._send(req, 200, self._listing_body(children, None))

    def _info_id(self, req: BaseHTTPRequestHandler, fullnames: list[str]) -> None:
        with self._lock:
            posts = [copy.deepcopy(self.posts[f[3:]]) for f in fullnames[:100] if f[3:] in self.posts]
        self._send(req, 200, self._listing_body([{"kind": "t3", "data": p} for p in posts], None))

    def _refusal(
        self, sr: FakeSubreddit | None, name: str
    ) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        """How Reddit refuses a subreddit an app-only token cannot read, or None."""
        if sr is None or sr.status == "unknown":
            return 302, {}, {"location": f"/subreddits/search.json?q={name}"}
        if sr.status == "banned":
            return 404, {**ERRORS["not_found"], "reason": "banned"}, {}
        if sr.status == "private":
            return 403, {**ERRORS["forbidden"], "reason": "private"}, {}
        if sr.status == "quarantined":
            return (
                403,
                {**ERRORS["forbidden"], "reason": "quarantined", "quarantine_message": sr.quarantine_message},
                {},
            )
        return None

    def _about(self, req: BaseHTTPRequestHandler, name: str) -> None:
        sr = self.subreddits.get(name.lower())
        refusal = self._refusal(sr, name)
        if refusal:
            self._send(req, *refusal)
            return
        assert sr is not None
        self._send(req, 200, self._t5(sr))

    def _listing(self, req: BaseHTTPRequestHandler, names: list[str], query: dict[str, list[str]]) -> None:
        subs = []
        for name in names:
            sr = self.subreddits.get(name.lower())
            refusal = self._refusal(sr, name)
            if refusal:
                status, body, headers = refusal
                if status == 302:  # a combined listing with an unknown name: 404, no redirect
                    status, body, headers = 404, ERRORS["not_found"], {}
                self._send(req, status, body, headers)
                return
            subs.append(name.lower())
        limit = min(int(query.get("limit", ["25"])[0]), 100)
        after = query.get("after", [None])[0]
        with self._lock:
            posts = sorted(
                (p for p in self.posts.values() if p["subreddit"].lower() in subs),
                key=lambda p: (p["created_utc"], p["id"]),
                reverse=True,
            )
            start = 0
            if after:
                ids = [p["name"] for p in posts]
                start = ids.index(after) + 1 if after in ids else len(posts)
            page = [copy.deepcopy(p) for p in posts[start : start + limit]]
        more = start + limit < len(posts)
        children = [{"kind": "t3", "data": p} for p in page]
        self._send(req, 200, self._listing_body(children, page[-1]["name"] if page and more else None))

    # -- answers -----------------------------------------------------------------------
    def _ratelimit_headers(self) -> dict[str, str]:
        used = min(self.used, self.quota)
        return {
            "x-ratelimit-remaining": f"{self.quota - used:.1f}",
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(self.reset_seconds),
        }

    def _send(
        self,
        req: BaseHTTPRequestHandler,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
        *,
        ratelimit: bool = True,
    ) -> None:
        all_headers = {"content-type": "application/json; charset=UTF-8", **(headers or {})}
        if ratelimit:
            all_headers.update(self._ratelimit_headers())
        self._send_raw(req, status, json.dumps(body).encode(), all_headers)

    def _send_raw(
        self, req: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]
    ) -> None:
        req.send_response(status)
        for name, value in headers.items():
            req.send_header(name, value)
        req.send_header("content-length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)


def _route(method: str, path: str, query: dict[str, list[str]]) -> str:
    """The route a request counts under: token, info_sr_name, info_id, about, listing, other."""
    if method == "POST" and path.rstrip("/") == "/api/v1/access_token":
        return "token"
    if path.rstrip("/") == "/api/info":
        return "info_sr_name" if "sr_name" in query else "info_id"
    bits = path.strip("/").split("/")
    if len(bits) == 3 and bits[0] == "r" and bits[2] == "about":
        return "about"
    if len(bits) == 3 and bits[0] == "r" and bits[2] == "new":
        return "listing"
    return "other"


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"
