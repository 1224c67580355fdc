"""What stays test-only of the web platforms: answers the simulation must not give.

The spider tests drive crawler/sim (one simulated world, its cases built with
crawler.sim.scenario). Two things remain here, on purpose:

* the page fixtures of tests/fakes/data/web/ (written after real t.me, phpBB, Discourse,
  GitHub, Discord, Mastodon and Arctic Shift answers; each says where it came from), which the
  parser tests read and test_sim_wave holds the simulation's answers against. The Telegram
  page fixtures carry the spellings of recorded pages (narrow no-break spaces, "12,3K",
  "1.48M"), which the simulation does not generate: the sim writes one spelling, the parsers
  must read them all;
* `FakeWeb`, a path-to-answer server for the two crawls that replay those recorded page
  variants (tests/test_telegram_crawl.py) and for an answer no platform gives (a t.me
  redirect to another site): scripting such answers into the simulation would make it lie
  about the platform it models.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from crawler.sim.httpserver import LocalHTTPServer

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

        self._server = LocalHTTPServer(("127.0.0.1", 0), _Handler)
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


# --------------------------------------------------------------------------- Telegram pages


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
