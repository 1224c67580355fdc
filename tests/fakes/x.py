"""A fake X API v2 for tests: a threaded HTTP server on 127.0.0.1, port 0.

Answers the three endpoints the X source uses, in the shapes of the recordings in
`../shared/fixtures/recorded/x` (derived into `tests/fakes/data/x/`, provenance in each file):

* `GET /2/users/by?usernames=a,b` (at most 100): `data` for known users, an `errors` list
  for suspended and unknown ones (200, as X does);
* `GET /2/tweets/counts/recent?granularity=day[&start_time=]`: daily buckets up to now, the
  first starting at start_time (default now - 7 days), the last ending now;
* `GET /2/tweets/search/recent?query=&since_id=&until_id=&max_results=&next_token=`: newest
  first, paged with an opaque next_token.

Every answer carries x-rate-limit-* headers and a `Date`. Faults are scripted per path:
`fake.fail("/2/tweets/search/recent", 403)`, a 429 with or without a reset header, 503, a
200 with a scripted body; `after=n` lets n requests pass first (e.g. fail the second page).
`fake.requests` counts requests per path; `fake.log` keeps (path, params) in order.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from crawler.sim.httpserver import LocalHTTPServer

DATA = Path(__file__).resolve().parent / "data" / "x"
TOKEN = "fake-x-bearer-token"

USERS_BY = "/2/users/by"
COUNTS = "/2/tweets/counts/recent"
SEARCH = "/2/tweets/search/recent"
# x-rate-limit-limit per path, as the recordings show them (per app, 15 minutes).
LIMITS = {USERS_BY: 300, COUNTS: 300, SEARCH: 450}


TWEPOCH_MS = 1288834974657  # X snowflake ids count milliseconds from this instant


def snowflake(when: datetime, seq: int = 0) -> int:
    """An X post id for a moment: (ms since the X epoch) << 22, plus a sequence number."""
    return ((int(when.timestamp() * 1000) - TWEPOCH_MS) << 22) + seq


def snowflake_time(tid: int) -> datetime:
    return datetime.fromtimestamp(((tid >> 22) + TWEPOCH_MS) / 1000, UTC)


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text())
    return data


@dataclass
class Fault:
    status: int
    times: int = 1
    reset_in: int | None = None  # 429: seconds until x-rate-limit-reset; None: no header
    body: Any = None
    after: int = 0  # requests to let through before the fault starts


@dataclass
class FakeXState:
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # lower(username) -> user
    suspended: set[str] = field(default_factory=set)  # lower(username)
    tweets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # query -> posts
    day_counts: dict[date, int] = field(default_factory=dict)  # overrides of the series
    faults: dict[str, deque[Fault]] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    log: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)
    remaining: Counter[str] = field(default_factory=Counter)


class FakeX:
    """The fake server and its scripted state. Use as a context manager."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.state = FakeXState()
        fixtures = load("users.json")
        self.user_template = fixtures["users"][1]
        self.error_shapes = fixtures["errors"]
        for user in fixtures["users"]:
            self.state.users[user["username"].lower()] = dict(user)
        self.series = list(load("counts_daily.json")["days"].values())
        self.sample_tweets = load("search.json")["tweets"]
        self.problems = load("problems.json")
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self._next_id = 10**15

    # -- scripting ------------------------------------------------------------------
    def add_user(
        self,
        username: str,
        *,
        followers: int = 100,
        tweets: int = 10,
        following: int = 5,
        listed: int = 1,
        protected: bool = False,
    ) -> dict[str, Any]:
        """A known user in the fixture's shape, with the given public metrics."""
        with self.lock:
            self._next_id += 1
            user = {
                **self.user_template,
                "id": str(self._next_id),
                "username": username,
                "name": username.title(),
                "protected": protected,
                "public_metrics": {
                    "followers_count": followers,
                    "following_count": following,
                    "tweet_count": tweets,
                    "listed_count": listed,
                    "like_count": 0,
                },
            }
            self.state.users[username.lower()] = user
            return user

    def suspend(self, username: str) -> None:
        with self.lock:
            self.state.suspended.add(username.lower())

    def add_tweets(self, query: str, tweets: list[dict[str, Any]]) -> None:
        with self.lock:
            self.state.tweets.setdefault(query, []).extend(tweets)

    def make_tweets(
        self, n: int, *, start_id: int | None = None, author_id: str = "2244994945"
    ) -> list[dict[str, Any]]:
        """n posts shaped like the fixture's second one, with increasing snowflake ids from
        `start_id` (default: an hour ago); created_at is the time the id encodes."""
        base = self.sample_tweets[1]
        first = start_id if start_id is not None else snowflake(datetime.now(UTC) - timedelta(hours=1))
        return [
            {
                **base,
                "id": str(first + i),
                "edit_history_tweet_ids": [str(first + i)],
                "text": f"post {i} about DeepFaceLab",
                "author_id": author_id,
                "created_at": _iso(snowflake_time(first + i)),
            }
            for i in range(n)
        ]

    def fail(
        self,
        path: str,
        status: int,
        *,
        times: int = 1,
        reset_in: int | None = None,
        body: Any = None,
        after: int = 0,
    ) -> None:
        """After `after` more requests, the next `times` requests to `path` answer `status`."""
        with self.lock:
            self.state.faults.setdefault(path, deque()).append(Fault(status, times, reset_in, body, after))

    @property
    def requests(self) -> Counter[str]:
        return self.state.requests

    @property
    def log(self) -> list[tuple[str, dict[str, str]]]:
        return self.state.log

    # -- server ---------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeX:
        self.server = LocalHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    # -- answers --------------------------------------------------------------------
    def next_fault(self, path: str) -> Fault | None:
        with self.lock:
            queue = self.state.faults.get(path)
            if not queue:
                return None
            fault = queue[0]
            if fault.after > 0:
                fault.after -= 1
                return None
            fault.times -= 1
            if fault.times <= 0:
                queue.popleft()
            return fault

    def answer_users(self, params: dict[str, str]) -> tuple[int, Any]:
        names = [n for n in params.get("usernames", "").split(",") if n]
        if not names or len(names) > 100:
            return 400, {
                "errors": [
                    {
                        "parameters": {"usernames": [params.get("usernames", "")]},
                        "message": "The `usernames` query parameter value must have 1 to 100 items",
                    }
                ],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.twitter.com/2/problems/invalid-request",
            }
        fields = set(params.get("user.fields", "").split(","))
        data, errors = [], []
        with self.lock:
            for name in names:
                low = name.lower()
                if low in self.state.suspended:
                    errors.append(_fill(self.error_shapes["suspended"], name))
                elif low in self.state.users:
                    user = self.state.users[low]
                    # X returns only the default fields plus those asked for.
                    data.append(
                        {k: v for k, v in user.items() if k in ("id", "name", "username") or k in fields}
                    )
                else:
                    errors.append(_fill(self.error_shapes["not_found"], name))
        body: dict[str, Any] = {}
        if data:
            body["data"] = data
        if errors:
            body["errors"] = errors
        return 200, body

    def answer_counts(self, params: dict[str, str]) -> tuple[int, Any]:
        if params.get("granularity", "hour") != "day":
            return 400, {
                "title": "Invalid Request",
                "detail": "the fake only answers granularity=day",
                "type": "https://api.twitter.com/2/problems/invalid-request",
            }
        now = datetime.now(UTC).replace(microsecond=0)
        start = _parse(params.get("start_time")) or now - timedelta(days=7)
        if start < now - timedelta(days=7):
            return 400, {
                "errors": [
                    {
                        "parameters": {"start_time": [params["start_time"]]},
                        "message": "Invalid 'start_time':'...'. 'start_time' must be on or after the last 7 days.",
                    }
                ],
                "title": "Invalid Request",
                "type": "https://api.twitter.com/2/problems/invalid-request",
            }
        buckets, total, cursor = [], 0, start
        while cursor < now:
            end = min(datetime.combine(cursor.date() + timedelta(days=1), datetime.min.time(), UTC), now)
            with self.lock:
                count = self.state.day_counts.get(
                    cursor.date(), self.series[cursor.date().toordinal() % len(self.series)]
                )
            buckets.append({"end": _iso(end), "start": _iso(cursor), "tweet_count": count})
            total += count
            cursor = end
        return 200, {"data": buckets, "meta": {"total_tweet_count": total}}

    def answer_search(self, params: dict[str, str]) -> tuple[int, Any]:
        query = params.get("query", "")
        size = int(params.get("max_results", "10"))
        if not 10 <= size <= 100:
            return 400, {
                "title": "Invalid Request",
                "detail": "max_results must be 10..100",
                "type": "https://api.twitter.com/2/problems/invalid-request",
            }
        since = int(params.get("since_id", "0") or 0)
        until = int(params.get("until_id", "0") or 0)  # exclusive, as X documents it
        oldest = datetime.now(UTC) - timedelta(days=7)
        if since and snowflake_time(since) < oldest:
            # X's answer to a since_id older than recent search reaches.
            after = oldest.strftime("%Y-%m-%dT%H:%MZ")
            msg = (
                f"Invalid 'since_id':'{since}'. 'since_id' must be a tweet id created after {after}. "
                f"Please use a 'since_id' that is a tweet id created after {after}."
            )
            return 400, {
                "errors": [{"parameters": {"since_id": [str(since)]}, "message": msg}],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.twitter.com/2/problems/invalid-request",
            }
        offset = int(params["next_token"].rsplit("-", 1)[1]) if params.get("next_token") else 0
        fields = set(params.get("tweet.fields", "").split(","))
        with self.lock:
            # Recent search reaches 7 days back, whatever since_id says.
            posts = sorted(
                (
                    t
                    for t in self.state.tweets.get(query, [])
                    if int(t["id"]) > since
                    and (not until or int(t["id"]) < until)
                    and snowflake_time(int(t["id"])) >= oldest
                ),
                key=lambda t: int(t["id"]),
                reverse=True,
            )
        page = posts[offset : offset + size]
        if not page:
            return 200, {"meta": {"result_count": 0}}
        meta: dict[str, Any] = {
            "newest_id": page[0]["id"],
            "oldest_id": page[-1]["id"],
            "result_count": len(page),
        }
        if offset + size < len(posts):
            meta["next_token"] = f"b26v89c19zqg8o3fp-{offset + size}"
        data = [
            {k: v for k, v in t.items() if k in ("id", "text", "edit_history_tweet_ids") or k in fields}
            for t in page
        ]
        return 200, {"data": data, "meta": meta}


def _fill(shape: dict[str, str], name: str) -> dict[str, str]:
    return {k: v.replace("NAME", name) for k, v in shape.items()}


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _handler(fake: FakeX) -> type[BaseHTTPRequestHandler]:
    routes = {USERS_BY: fake.answer_users, COUNTS: fake.answer_counts, SEARCH: fake.answer_search}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

        def do_GET(self) -> None:
            now = time.time()
            parts = urlsplit(self.path)
            path = parts.path
            params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            with fake.lock:
                fake.state.requests[path] += 1
                fake.state.log.append((path, params))
                fake.state.user_agents.append(self.headers.get("User-Agent", ""))
            headers: dict[str, str] = {}
            if self.headers.get("Authorization") != f"Bearer {fake.token}":
                return self.reply(401, fake.problems["unauthorized"], headers, now)
            if path not in routes:
                return self.reply(
                    404,
                    {"errors": [{"message": "Sorry, that page does not exist", "code": 34}]},
                    headers,
                    now,
                )
            reset = int(now) + 900
            with fake.lock:
                fake.state.remaining[path] += 1
                remaining = max(LIMITS[path] - fake.state.remaining[path], 0)
            headers.update(
                {
                    "x-rate-limit-limit": str(LIMITS[path]),
                    "x-rate-limit-remaining": str(remaining),
                    "x-rate-limit-reset": str(reset),
                }
            )
            fault = fake.next_fault(path)
            if fault is not None:
                return self.reply_fault(fault, headers, now)
            status, body = routes[path](params)
            return self.reply(status, body, headers, now)

        def reply_fault(self, fault: Fault, headers: dict[str, str], now: float) -> None:
            body = fault.body
            if fault.status == 429:
                headers["x-rate-limit-remaining"] = "0"
                if fault.reset_in is None:
                    headers.pop("x-rate-limit-reset", None)
                else:
                    headers["x-rate-limit-reset"] = str(int(now) + fault.reset_in)
                body = body or fake.problems["too_many_requests"]
            elif fault.status == 403:
                body = body or fake.problems["client_forbidden"]
            elif fault.status == 401:
                body = body or fake.problems["unauthorized"]
            elif fault.status >= 500:
                body = body or fake.problems["service_unavailable"]
            self.reply(fault.status, body, headers, now)

        def reply(self, status: int, body: Any, headers: dict[str, str], now: float) -> None:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()  # bytes: sent as is
            self.send_response_only(status)
            # Date from the same instant as x-rate-limit-reset, as one server clock would.
            self.send_header("Date", formatdate(int(now), usegmt=True))
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(raw)

    return Handler


@contextmanager
def fake_x() -> Iterator[FakeX]:
    with FakeX() as fake:
        yield fake
