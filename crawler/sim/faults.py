"""Fault injection: scripted misbehaviour per platform and endpoint.

A fault fires on matching requests (a platform, optionally one endpoint, optionally one
request path, i.e. one community): after letting `after` of them through, it hits the next
`times` of them (None: until cleared), each with `probability` (drawn from a seeded RNG, so a
scripted storm is the same storm every run). Kinds:

- ``rate_limit``   429 in the platform's own shape and headers, ``retry_after`` seconds.
- ``server_error`` ``status`` (default 503) with a short body.
- ``timeout``      waits ``delay`` seconds (default 30, beyond any sane client timeout), then
                   answers normally to a client that has usually gone.
- ``slow``         waits ``delay`` seconds (default 2), then answers normally.
- ``malformed``    the normal status and headers with the body cut in half (invalid JSON or
                   HTML missing its closing half).
- ``reset``        closes the connection without an answer.

Scriptable from Python (`FaultPlan.add`) and over HTTP (POST /_sim/faults with the same
fields as JSON; DELETE /_sim/faults clears).
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from crawler.plugins import source_names

KINDS = ("rate_limit", "server_error", "timeout", "slow", "malformed", "reset")
# The platforms a fault can name: the declared sources (crawler.plugins: declarations only,
# no client code), and "*" for all of them.
PLATFORMS = (*source_names(), "*")


@dataclass
class Fault:
    platform: str
    kind: str
    times: int | None = 1
    after: int = 0
    endpoint: str | None = None  # route name (see accounting), None: every endpoint
    path: str | None = None  # one request path (one community), None: every path
    status: int = 503
    delay: float | None = None
    retry_after: int = 30
    probability: float = 1.0
    fired: int = field(default=0)
    seen: int = field(default=0)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r} (known: {', '.join(KINDS)})")
        if self.platform not in PLATFORMS:
            raise ValueError(f"unknown platform {self.platform!r} (known: {', '.join(PLATFORMS)})")
        if self.times is not None and self.times < 0:
            raise ValueError("times must be >= 0 or None")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be within [0, 1]")
        if self.delay is None:
            self.delay = 30.0 if self.kind == "timeout" else 2.0 if self.kind == "slow" else 0.0

    @property
    def spent(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        allowed = {
            "platform",
            "kind",
            "times",
            "after",
            "endpoint",
            "path",
            "status",
            "delay",
            "retry_after",
            "probability",
        }
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        return cls(**data)


class FaultPlan:
    """The scripted faults, consulted once per request in the order they were added."""

    def __init__(self, seed: int = 0) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._rng = random.Random(f"faults:{seed}")

    def add(self, fault: Fault | None = None, /, **kwargs: Any) -> Fault:
        """Add a fault: `plan.add(Fault(...))` or `plan.add(platform="x", kind="rate_limit", times=3)`."""
        if fault is None:
            fault = Fault(**kwargs)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self, platform: str | None = None) -> None:
        with self._lock:
            self._faults = [f for f in self._faults if platform is not None and f.platform != platform]

    def active(self) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if not f.spent]

    def match(self, platform: str, endpoint: str, path: str | None = None) -> Fault | None:
        """The fault this request suffers, if any (counts it as fired)."""
        with self._lock:
            for fault in self._faults:
                if fault.spent or fault.platform not in (platform, "*"):
                    continue
                if fault.endpoint is not None and fault.endpoint != endpoint:
                    continue
                if fault.path is not None and fault.path != path:
                    continue
                fault.seen += 1
                if fault.seen <= fault.after:
                    continue
                if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                    continue
                fault.fired += 1
                return fault
            return None
