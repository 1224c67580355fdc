"""Request and response values the platform modules speak, free of any HTTP server.

Each platform module turns a `SimRequest` into a `SimResponse`; server.py does the socket
work. Keeping the two apart lets the platform answers be unit-tested without a server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs


@dataclass
class SimRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    base_url: str = ""  # scheme://host:port the client used, for absolute links
    client_ip: str = "127.0.0.1"
    params: dict[str, str] = field(default_factory=dict)  # named groups of the route

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def int_arg(self, name: str, default: int, lo: int, hi: int) -> int:
        """An integer query argument clamped to what the platform accepts."""
        raw = self.arg(name)
        try:
            value = int(raw) if raw is not None else default
        except ValueError:
            value = default
        return max(lo, min(hi, value))

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8", "replace"))


@dataclass
class SimResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls,
        status: int,
        payload: Any,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json; charset=utf-8",
    ) -> SimResponse:
        body = json.dumps(payload, separators=(",", ":")).encode()
        return cls(status, body, {"Content-Type": content_type, **(headers or {})})

    @classmethod
    def html(cls, status: int, text: str, headers: dict[str, str] | None = None) -> SimResponse:
        return cls(status, text.encode(), {"Content-Type": "text/html; charset=utf-8", **(headers or {})})

    @classmethod
    def text(cls, status: int, text: str, headers: dict[str, str] | None = None) -> SimResponse:
        return cls(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8", **(headers or {})})


Handler = Callable[[SimRequest], SimResponse]


@dataclass(frozen=True)
class Exchange:
    """One platform request and what it was answered (status 0: the connection was reset),
    kept by a `Simulation(record=True)` so tests can prove what a client sent, and when."""

    request: SimRequest
    status: int
    headers: dict[str, str]
    at: float  # time.monotonic() when the request arrived


@dataclass(frozen=True)
class Route:
    """One endpoint: method, a path pattern with named groups, who answers it."""

    platform: str
    endpoint: str  # a stable name for accounting and fault targeting, e.g. "info"
    method: str
    pattern: re.Pattern[str]
    handler: Handler


def route(platform: str, endpoint: str, method: str, pattern: str, handler: Handler) -> Route:
    return Route(platform, endpoint, method, re.compile(pattern), handler)


def http_date(epoch: float) -> str:
    from datetime import UTC, datetime

    return format_datetime(datetime.fromtimestamp(epoch, UTC), usegmt=True)
