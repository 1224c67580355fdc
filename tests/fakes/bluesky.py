"""A fake Bluesky (AppView and PDS in one) for the source tests: XRPC on 127.0.0.1, port 0.

Answers what the `atproto` SDK sends for the Bluesky source, in the shapes of
tests/fakes/data/bluesky/ (provenance in each file):

* `GET /xrpc/app.bsky.actor.getProfiles?actors=a&actors=b` (at most 25): the profiles it
  can show; taken-down, deactivated and unknown accounts are simply absent;
* `GET /xrpc/app.bsky.actor.getProfile?actor=a`: the profile, or 400 with the XRPC error
  that says why (`AccountTakedown`, `AccountDeactivated`, `InvalidRequest`);
* `POST /xrpc/com.atproto.server.createSession`: JWTs for the one account it knows, 401
  `AuthenticationRequired` otherwise;
* `GET /xrpc/app.bsky.feed.searchPosts?q=&sort=latest&since=&limit=&cursor=`: only with a
  session (403 `AuthMissing` without), newest first, `since` on sortAt, an offset cursor;
* `GET /xrpc/app.bsky.feed.getPosts?uris=...` (at most 25): the posts still there.

Faults are scripted per path (`fake.fail(path, status, body, headers, times, after)`);
`fake.log` keeps (path, params) in order and `fake.bodies` what was POSTed, so tests can
prove what the crawler sent, and what it never sent.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

DATA = Path(__file__).resolve().parent / "data" / "bluesky"
PROFILES = "/xrpc/app.bsky.actor.getProfiles"
PROFILE = "/xrpc/app.bsky.actor.getProfile"
SESSION = "/xrpc/com.atproto.server.createSession"
SEARCH = "/xrpc/app.bsky.feed.searchPosts"
POSTS = "/xrpc/app.bsky.feed.getPosts"
HANDLE = "dfwatch-test.bsky.social"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"  # the shape of a Bluesky app password


def load(name: str) -> Any:
    return json.loads((DATA / f"{name}.json").read_text())["body"]


def _b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt(sub: str, scope: str, serial: int) -> str:
    now = int(time.time())
    payload = {"scope": scope, "sub": sub, "iat": now, "exp": now + 7200, "jti": f"fake-{serial}"}
    return ".".join([_b64({"typ": "at+jwt", "alg": "ES256K"}), _b64(payload), _b64(f"sig-{serial}".encode())])


@dataclass
class Fault:
    status: int
    body: Any = None
    headers: dict[str, str] | None = None
    times: int = 1
    after: int = 0


class FakeBluesky:
    """The fake server and its scripted state. Use as a context manager."""

    def __init__(self) -> None:
        self.profiles: dict[str, dict[str, Any]] = {}  # lower handle and did -> profile view
        self.gone: dict[str, dict[str, str]] = {}  # lower handle -> error body
        self.posts: dict[str, list[dict[str, Any]]] = {}  # query -> post views
        self.deleted: set[str] = set()
        self.faults: dict[str, deque[Fault]] = {}
        self.requests: Counter[str] = Counter()
        self.log: list[tuple[str, dict[str, list[str]]]] = []
        self.bodies: list[bytes] = []
        self.issued: list[str] = []  # every token handed out (the tests look for them elsewhere)
        self.errors = load("errors")
        self._template = load("profiles")["profiles"][0]
        self._post_template = load("posts")["posts"][0]
        self._lock = threading.Lock()
        self._serial = 0
        self.server: ThreadingHTTPServer | None = None

    # -- scripting ------------------------------------------------------------------
    def add_account(
        self, handle: str, *, followers: int = 100, posts: int = 10, did: str | None = None
    ) -> dict[str, Any]:
        with self._lock:
            self._serial += 1
            n = self._serial
        profile = copy.deepcopy(self._template)
        profile.update(
            handle=handle,
            did=did or "did:plc:" + f"{n:024d}".translate(str.maketrans("0123456789", "abcdefghij")),
            followersCount=followers,
            postsCount=posts,
            displayName=handle.split(".")[0],
        )
        self.profiles[handle.lower()] = profile
        self.profiles[profile["did"]] = profile
        return profile

    def take_down(self, handle: str, kind: str = "takedown") -> None:
        """Hide an account from getProfiles; getProfile answers `errors[kind]`."""
        profile = self.profiles.pop(handle.lower(), None)
        if profile:
            self.profiles.pop(profile["did"], None)
        self.gone[handle.lower()] = self.errors[kind]

    def add_post(
        self,
        query: str,
        created: datetime,
        *,
        text: str = "a post",
        author: str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
        link: str | None = None,
        likes: int = 0,
        replies: int = 0,
        rkey: str | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            self._serial += 1
            n = self._serial
        view = copy.deepcopy(self._post_template)
        stamp = created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        record: dict[str, Any] = {"$type": "app.bsky.feed.post", "createdAt": stamp, "text": text}
        if link:
            record["embed"] = {
                "$type": "app.bsky.embed.external",
                "external": {"uri": link, "title": "", "description": ""},
            }
        view.update(
            uri=f"at://{author}/app.bsky.feed.post/{rkey or f'3lf{n:010d}'}",
            author={**view["author"], "did": author},
            record=record,
            indexedAt=stamp,
            likeCount=likes,
            replyCount=replies,
        )
        view.pop("embed", None)
        self.posts.setdefault(query, []).append(view)
        return view

    def delete(self, uri: str) -> None:
        self.deleted.add(uri)

    def fail(
        self,
        path: str,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        after: int = 0,
    ) -> None:
        self.faults.setdefault(path, deque()).append(Fault(status, body, headers, times, after))

    # -- serving --------------------------------------------------------------------
    def _fault(self, path: str) -> Fault | None:
        queue = self.faults.get(path)
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

    def answer(
        self, method: str, path: str, params: dict[str, list[str]], headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        fault = self._fault(path)
        if fault is not None:
            return fault.status, fault.body, dict(fault.headers or {})
        limits = {"ratelimit-limit": "3000", "ratelimit-remaining": "2999", "ratelimit-policy": "3000;w=300"}
        if path == PROFILES:
            actors = params.get("actors", [])
            if len(actors) > 25:
                return (
                    400,
                    {
                        "error": "InvalidRequest",
                        "message": "Error: actors must not have more than 25 elements",
                    },
                    limits,
                )
            shown = [self.profiles[a.lower()] for a in actors if a.lower() in self.profiles]
            return 200, {"profiles": shown}, limits
        if path == PROFILE:
            actor = (params.get("actor") or [""])[0].lower()
            if actor in self.profiles:
                return 200, self.profiles[actor], limits
            return 400, self.gone.get(actor, self.errors["not_found"]), limits
        if path == SESSION and method == "POST":
            data = json.loads(body or b"{}")
            if (data.get("identifier"), data.get("password")) != (HANDLE, APP_PASSWORD):
                return 401, self.errors["bad_password"], {}
            session = copy.deepcopy(load("session"))
            with self._lock:
                self._serial += 1
                session["accessJwt"] = jwt(session["did"], "com.atproto.appPass", self._serial)
                session["refreshJwt"] = jwt(session["did"], "com.atproto.refresh", self._serial)
                self.issued += [session["accessJwt"], session["refreshJwt"]]
            session["didDoc"]["service"][0]["serviceEndpoint"] = self.url
            return 200, session, {}
        if path == SEARCH:
            auth = headers.get("authorization", "")
            if not auth.startswith("Bearer ") or auth[7:] not in self.issued:
                return 403, self.errors["auth_missing"], limits
            q = (params.get("q") or [""])[0]
            since = (params.get("since") or [""])[0]
            limit = int((params.get("limit") or ["25"])[0])
            offset = int((params.get("cursor") or ["0"])[0])
            hits = [
                v
                for v in sorted(self.posts.get(q, []), key=lambda v: v["indexedAt"], reverse=True)
                if v["uri"] not in self.deleted and (not since or _at(v["indexedAt"]) >= _at(since))
            ]
            page: dict[str, Any] = {"posts": hits[offset : offset + limit], "hitsTotal": len(hits)}
            if offset + limit < len(hits):
                page["cursor"] = str(offset + limit)
            return 200, page, limits
        if path == POSTS:
            uris = params.get("uris", [])
            everything = {v["uri"]: v for views in self.posts.values() for v in views}
            return (
                200,
                {"posts": [everything[u] for u in uris if u in everything and u not in self.deleted]},
                limits,
            )
        return 404, {"error": "MethodNotImplemented", "message": "Method Not Implemented"}, {}

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeBluesky:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                params = parse_qs(parts.query)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                with fake._lock:
                    fake.requests[parts.path] += 1
                    fake.log.append((parts.path, params))
                    if body:
                        fake.bodies.append(body)
                status, payload, extra = fake.answer(self.command, parts.path, params, headers, body)
                data = (
                    payload
                    if isinstance(payload, bytes)
                    else json.dumps(payload).encode()
                    if payload is not None
                    else b""
                )
                self.send_response(status)
                if payload is not None:
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
