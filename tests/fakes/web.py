"""One local HTTP server that answers as GitHub, Discord, Telegram, forums, Mastodon and
Arctic Shift do, for the spider tests.

Answers are built from small fixtures in tests/fakes/data/web/ (each says where it came
from: recorded GitHub answers, or the platform's documented shape). The server runs in a
thread on 127.0.0.1 with an ephemeral port, so it serves a Scrapy crawl in the test's
reactor and a `dfwatch crawl` subprocess alike; it logs every request (path, headers,
monotonic time) so tests can assert what was and was not fetched, and when.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data" / "web"


def fixture(name: str) -> Any:
    """A JSON fixture's content (its `body`, or the whole file when it has none)."""
    data = json.loads((DATA / name).read_text())
    return data.get("body", data)


@dataclass
class Answer:
    status: int = 200
    body: Any = b""  # bytes, str, or JSON-able
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if isinstance(self.body, bytes):
            body = self.body
        elif isinstance(self.body, str):
            body = self.body.encode()
            headers.setdefault("Content-Type", "text/html; charset=utf-8")
        else:
            body = json.dumps(self.body).encode()
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        return body, headers


@dataclass
class Hit:
    method: str
    path: str  # with the query string
    headers: dict[str, str]
    at: float  # time.monotonic() when the request arrived


Handler = Callable[[Hit], Answer]


class FakeWeb:
    """Routes by exact path-with-query first, then by path; unknown paths answer 404.

    `add(path, a1, a2, ...)` serves the answers in order and repeats the last one.
    `robots.txt` answers 404 (everything allowed) unless a test adds one.
    """

    def __init__(self) -> None:
        self._routes: dict[str, Handler] = {}
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hit = Hit("GET", self.path, {k.lower(): v for k, v in self.headers.items()}, time.monotonic())
                with fake._lock:
                    fake.hits.append(hit)
                answer = fake._answer(hit)
                body, headers = answer.encoded()
                self.send_response(answer.status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if answer.status != 304:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def host(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> FakeWeb:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeWeb:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- routing ----------------------------------------------------------------------
    def add(self, path: str, *answers: Answer) -> None:
        queue = list(answers)

        def serve(_hit: Hit) -> Answer:
            return queue.pop(0) if len(queue) > 1 else queue[0]

        self._routes[path] = serve

    def handle(self, path: str, handler: Handler) -> None:
        self._routes[path] = handler

    def _answer(self, hit: Hit) -> Answer:
        route = self._routes.get(hit.path) or self._routes.get(hit.path.split("?", 1)[0])
        if route is None:
            return Answer(404, {"message": "Not Found"})
        return route(hit)

    def hits_for(self, path: str) -> list[Hit]:
        """Requests whose path (with query, or without when `path` has none) equals `path`."""
        with self._lock:
            return [
                h
                for h in self.hits
                if h.path == path or ("?" not in path and h.path.split("?", 1)[0] == path)
            ]

    def paths(self) -> Iterator[str]:
        with self._lock:
            yield from (h.path for h in list(self.hits))


# --------------------------------------------------------------------------- GitHub


class FakeGithub:
    """Repositories with ETags and a quota counter: a 304 spends no quota, like GitHub."""

    def __init__(self, web: FakeWeb) -> None:
        self.web = web
        self.quota_used = 0

    def repo(
        self,
        full_name: str,
        *,
        stars: int | None = None,
        archived: bool = False,
        releases: list[list[int]] | None = None,
        etag: str = '"v1"',
    ) -> None:
        """A repository; `releases` are pages of releases, each a list of asset download counts."""
        body = dict(fixture("github_repo.json"))
        body.update(
            full_name=full_name,
            name=full_name.split("/")[1],
            archived=archived,
            html_url=f"https://github.com/{full_name}",
        )
        if stars is not None:
            body["stargazers_count"] = body["watchers_count"] = stars
        self.web.handle(f"/repos/{full_name}", self._conditional(body, etag))
        pages = releases if releases is not None else [[]]
        for i, page in enumerate(pages, start=1):
            release = fixture("github_release.json")
            items = []
            for j, count in enumerate(page):
                r = json.loads(json.dumps(release))
                r["id"] = 1000 * i + j
                r["assets"][0]["download_count"] = count
                items.append(r)
            path = f"/repos/{full_name}/releases?per_page=100" + (f"&page={i}" if i > 1 else "")
            link = None
            if i < len(pages):
                link = f'<{self.web.url}/repos/{full_name}/releases?per_page=100&page={i + 1}>; rel="next"'
            self.web.handle(path, self._conditional(items, f'"rel{i}-{etag.strip(chr(34))}"', link))

    def _conditional(self, body: Any, etag: str, link: str | None = None) -> Handler:
        def serve(hit: Hit) -> Answer:
            headers = {"ETag": etag}
            if link:
                headers["Link"] = link
            if hit.headers.get("if-none-match") == etag:
                return Answer(304, b"", headers)
            self.quota_used += 1
            return Answer(200, body, {**headers, "x-ratelimit-remaining": str(5000 - self.quota_used)})

        return serve

    def blocked(self, full_name: str) -> None:
        self.web.add(f"/repos/{full_name}", Answer(451, fixture("github_blocked_451.json")))

    def missing(self, full_name: str) -> None:
        self.web.add(f"/repos/{full_name}", Answer(404, fixture("github_not_found.json")))


# --------------------------------------------------------------------------- others


def discord_invite(web: FakeWeb, code: str, *, members: int | None = None) -> None:
    body = fixture("discord_invite.json")
    body["code"] = code
    if members is not None:
        body["approximate_member_count"] = members
    web.add(f"/api/v9/invites/{code}?with_counts=true", Answer(200, body))


def discord_expired(web: FakeWeb, code: str) -> None:
    web.add(f"/api/v9/invites/{code}?with_counts=true", Answer(404, fixture("discord_unknown_invite.json")))


def telegram_preview_html(channel: str, subscribers: str = "12.3K") -> str:
    html = (DATA / "telegram_preview.html").read_text()
    return html.replace("CHANNEL", channel).replace("SUBSCRIBERS", subscribers)


def telegram_channel(web: FakeWeb, channel: str, subscribers: str = "12.3K") -> None:
    web.add(f"/s/{channel}", Answer(200, telegram_preview_html(channel, subscribers)))


def telegram_page_html(fixture_name: str, name: str, **values: str) -> str:
    """One of the t.me/{name} page fixtures (telegram_page_*.html) with its placeholders filled."""
    html = (DATA / f"telegram_page_{fixture_name}.html").read_text()
    for placeholder, value in {"NAME": name, **values}.items():
        html = html.replace(placeholder, value)
    return html


def telegram_no_preview(web: FakeWeb, channel: str, subscribers: str = "1 474 933") -> None:
    """What t.me does for a channel whose preview is off: send /s/NAME to /NAME, a plain page."""
    web.add(f"/s/{channel}", Answer(302, b"", {"Location": f"{web.url}/{channel}"}))
    web.add(f"/{channel}", Answer(200, telegram_page_html("channel", channel, SUBSCRIBERS=subscribers)))


def telegram_page(web: FakeWeb, name: str, fixture_name: str, **values: str) -> None:
    """A group's, bot's, blocked or unknown name's t.me/NAME page; /s/NAME redirects to it."""
    web.add(f"/s/{name}", Answer(302, b"", {"Location": f"{web.url}/{name}"}))
    web.add(f"/{name}", Answer(200, telegram_page_html(fixture_name, name, **values)))


def robots(web: FakeWeb, *disallow: str) -> None:
    lines = ["User-agent: *", *(f"Disallow: {p}" for p in disallow)]
    web.add(
        "/robots.txt",
        Answer(200, b"\n".join(line.encode() for line in lines) + b"\n", {"Content-Type": "text/plain"}),
    )


def phpbb_forum(web: FakeWeb, path: str = "/phpbb") -> str:
    web.add(path, Answer(200, (DATA / "phpbb_index.html").read_text()))
    return f"{web.url}{path}"


def discourse_forum(web: FakeWeb, path: str = "/discourse") -> str:
    web.add(f"{path}/about.json", Answer(200, fixture("discourse_about.json")))
    return f"{web.url}{path}"


def mastodon_tag(web: FakeWeb, tag: str) -> None:
    body = fixture("mastodon_tag.json")
    body["name"] = tag
    web.add(f"/api/v1/tags/{tag}", Answer(200, body))


def arctic_shift_subreddit(web: FakeWeb, name: str) -> None:
    data = fixture("arctic_shift_series.json")
    web.add(f"/api/time_series?key=r%2F{name}%2Fsubscribers&precision=day", Answer(200, data["subscribers"]))
    web.add(f"/api/time_series?key=r%2F{name}%2Fposts%2Fcount&precision=day", Answer(200, data["posts"]))
