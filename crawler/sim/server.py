"""One threaded HTTP server on 127.0.0.1 that answers for every simulated platform.

Paths do not collide across the platforms dfwatch uses (Reddit /api/info, /r/...; X /2/...;
GitHub /repos/...; Discord /api/v9/invites/...; Telegram /s/... and /robots.txt; Arctic
Shift /api/time_series; Mastodon /api/v1/tags/...; Forgejo /api/v1/repos/...; Bluesky
/xrpc/...; Hugging Face /api/models, /api/spaces; Civitai /api/v1/models; forums
/forums/{name}/...), so one base URL
serves as every
platform's endpoint. Every answer carries `X-Sim-Now`, the simulated time it describes.

Control endpoints (not counted as platform requests):
  GET  /_sim/now                          {"now": ISO, "day": n}
  POST /_sim/clock   {"days": 1, "hours": 0}   advance the clock
  GET  /_sim/stats   DELETE /_sim/stats   request accounting (see accounting.py)
  GET  /_sim/faults  POST /_sim/faults {Fault fields}  DELETE /_sim/faults[?platform=x]

`Simulation(record=True)` also keeps every platform exchange in `log` (request with its
headers and body, the status and headers answered, the arrival time), in memory only: the
tests read it to prove what a client sent and what it never sent.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from crawler.plugins import endpoints
from crawler.sim.accounting import Accounting
from crawler.sim.arctic_shift import ArcticShift
from crawler.sim.bluesky import Bluesky
from crawler.sim.civitai import Civitai
from crawler.sim.clock import SIM_NOW_HEADER
from crawler.sim.discord import Discord
from crawler.sim.faults import Fault, FaultPlan
from crawler.sim.forgejo import Forgejo
from crawler.sim.forums import Forums
from crawler.sim.github import GitHub
from crawler.sim.httpserver import LocalHTTPServer
from crawler.sim.huggingface import HuggingFace
from crawler.sim.mastodon import Mastodon
from crawler.sim.platform import Platform
from crawler.sim.reddit import Reddit
from crawler.sim.telegram import Telegram
from crawler.sim.wire import Exchange, Route, SimRequest, SimResponse
from crawler.sim.world import World
from crawler.sim.x import X

log = logging.getLogger("crawler.sim")

PLATFORM_CLASSES: tuple[type[Platform], ...] = (
    Reddit,
    X,
    GitHub,
    Discord,
    ArcticShift,
    Mastodon,
    Telegram,
    Forgejo,
    Bluesky,
    HuggingFace,
    Civitai,
    Forums,
)
# Every declared endpoint points here (crawler.plugins: declarations only, no client code),
# so a crawl driven by the simulation can reach no other address.
ENDPOINT_NAMES = tuple(name.upper() for name in endpoints())


class _Reset(Exception):
    """Raised to drop the connection without an answer (the `reset` fault)."""


class Simulation:
    """The world, its clock, the platforms, faults and accounting, behind one HTTP server."""

    def __init__(
        self,
        world: World | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        time_fn: Callable[[], float] = time.time,
        fault_seed: int = 0,
        record: bool = False,
        **world_kwargs: Any,
    ) -> None:
        self.world = world or World(**world_kwargs)
        self.clock = self.world.clock
        self.faults = FaultPlan(fault_seed)
        self.stats = Accounting()
        self.platforms: dict[str, Platform] = {
            cls.name: cls(self.world, time_fn=time_fn) for cls in PLATFORM_CLASSES
        }
        self._routes: list[Route] = [r for p in self.platforms.values() for r in p.routes()]
        self._host, self._port = host, port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.record = record
        self.log: list[Exchange] = []
        self._log_lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> Simulation:
        sim = self

        class Handler(_Handler):
            simulation = sim

        self._stopping.clear()
        self._server = LocalHTTPServer((self._host, self._port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="dfwatch-sim", daemon=True
        )
        self._thread.start()
        log.info(
            "sim started url=%s now=%s entities=%d", self.url, self.clock.iso(), len(self.world.entities)
        )
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in a timeout fault
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Simulation:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulation is not running; call start()")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def endpoint_env(self) -> dict[str, str]:
        """DFWATCH_ENDPOINT_* variables pointing every platform at this server."""
        return {f"DFWATCH_ENDPOINT_{name}": self.url for name in ENDPOINT_NAMES}

    @property
    def mastodon_instance(self) -> str:
        """The host:port to write as a Mastodon instance in a watchlist (served over http)."""
        return self.url.split("://", 1)[1]

    # -- convenience ----------------------------------------------------------------
    def advance(self, days: float = 1, hours: float = 0) -> None:
        """Move the world on; rate-limit windows shorter than the step have passed, so reset them."""
        self.clock.advance(days=days, hours=hours)
        step = days * 86400 + hours * 3600
        for platform in self.platforms.values():
            for limiter in platform.limiters.values():
                if step >= limiter.window:
                    limiter.reset()

    def add_fault(self, **kwargs: Any) -> Fault:
        return self.faults.add(**kwargs)

    def platform(self, name: str) -> Any:
        """One platform's module, for its controls (`sim.platform("bluesky").logins`)."""
        return self.platforms[name]

    def exchanges(self, platform: str | None = None, endpoint: str | None = None) -> list[Exchange]:
        """The recorded exchanges (record=True), optionally of one platform and endpoint."""
        with self._log_lock:
            log = list(self.log)
        if platform is None:
            return log
        routes = [
            r for r in self._routes if r.platform == platform and (endpoint is None or r.endpoint == endpoint)
        ]
        return [
            x
            for x in log
            if any(
                (r.method == x.request.method or x.request.method == "HEAD")
                and r.pattern.match(x.request.path)
                for r in routes
            )
        ]

    def _remember(self, req: SimRequest, status: int, headers: dict[str, str], at: float) -> None:
        if self.record and not req.path.startswith("/_sim/"):
            with self._log_lock:
                self.log.append(Exchange(req, status, dict(headers), at))

    # -- dispatch -------------------------------------------------------------------
    def dispatch(self, req: SimRequest) -> SimResponse:
        if req.path.startswith("/_sim/"):
            resp = self._control(req)
        else:
            resp = self._platform(req)
        resp.headers[SIM_NOW_HEADER] = self.clock.iso()
        return resp

    def _match(self, req: SimRequest) -> Route | None:
        for r in self._routes:
            if r.method == req.method or (req.method == "HEAD" and r.method == "GET"):
                m = r.pattern.match(req.path)
                if m:
                    req.params = {k: v for k, v in m.groupdict().items() if v is not None}
                    return r
        return None

    def _platform(self, req: SimRequest) -> SimResponse:
        r = self._match(req)
        if r is None:
            self.stats.request("unknown", req.path)
            return SimResponse.json(404, {"message": "Not Found"})
        platform = self.platforms[r.platform]
        self.stats.request(r.platform, r.endpoint)
        fault = self.faults.match(r.platform, r.endpoint, req.path)
        malformed = False
        if fault is not None:
            self.stats.fault(r.platform, fault.kind)
            log.info("sim fault platform=%s endpoint=%s kind=%s", r.platform, r.endpoint, fault.kind)
            if fault.kind == "rate_limit":
                return self._answered(r.platform, platform.too_many(fault.retry_after))
            if fault.kind == "server_error":
                return self._answered(r.platform, platform.server_error(fault.status))
            if fault.kind == "reset":
                raise _Reset
            if fault.kind in ("timeout", "slow"):
                if self._stopping.wait(fault.delay or 0):
                    raise _Reset
            malformed = fault.kind == "malformed"
        try:
            resp = r.handler(req)
        except Exception:
            log.exception(
                "sim handler failed platform=%s endpoint=%s path=%s", r.platform, r.endpoint, req.path
            )
            resp = platform.server_error(500)
        if resp.status == 429:
            self.stats.rate_limited(r.platform)
        if malformed and resp.body:
            resp.body = resp.body[: max(1, len(resp.body) // 2)]
        return self._answered(r.platform, resp)

    def _answered(self, platform: str, resp: SimResponse) -> SimResponse:
        self.stats.answered(platform, resp.status)
        return resp

    def _control(self, req: SimRequest) -> SimResponse:
        try:
            data = json.loads(req.body or b"{}")
        except ValueError:
            return SimResponse.json(400, {"error": "body is not JSON"})
        path = req.path.rstrip("/")
        if path == "/_sim/now":
            return SimResponse.json(200, {"now": self.clock.iso(), "day": self.clock.day_index()})
        if path == "/_sim/clock" and req.method == "POST":
            try:
                self.advance(days=float(data.get("days", 0)), hours=float(data.get("hours", 0)))
            except (TypeError, ValueError) as exc:
                return SimResponse.json(400, {"error": str(exc)})
            return SimResponse.json(200, {"now": self.clock.iso(), "day": self.clock.day_index()})
        if path == "/_sim/stats":
            if req.method == "DELETE":
                self.stats.reset()
            return SimResponse.json(200, self.stats.snapshot())
        if path == "/_sim/faults":
            if req.method == "POST":
                try:
                    fault = self.faults.add(Fault.from_dict(data))
                except (TypeError, ValueError) as exc:
                    return SimResponse.json(400, {"error": str(exc)})
                return SimResponse.json(201, fault.as_dict())
            if req.method == "DELETE":
                self.faults.clear(req.arg("platform"))
            return SimResponse.json(200, {"faults": [f.as_dict() for f in self.faults.active()]})
        return SimResponse.json(404, {"error": f"no control endpoint {req.path}"})


class _Handler(BaseHTTPRequestHandler):
    simulation: Simulation
    protocol_version = "HTTP/1.1"  # keep-alive, as the real clients expect
    server_version = "dfwatch-sim"

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = SimRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            base_url=f"http://{self.headers.get('Host') or '127.0.0.1'}",
            client_ip=self.client_address[0],
        )
        at = time.monotonic()
        try:
            resp = self.simulation.dispatch(req)
        except _Reset:
            self.simulation._remember(req, 0, {}, at)
            self.close_connection = True
            return
        self.simulation._remember(req, resp.status, resp.headers, at)
        self.send_response(resp.status)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    do_GET = do_POST = do_DELETE = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sim %s %s", self.address_string(), format % args)
