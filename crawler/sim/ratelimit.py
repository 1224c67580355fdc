"""Fixed-window request budgets, keyed (per OAuth client, per token, per IP).

Windows run on the wall clock, not the simulated one: a rate limit is about how fast a
client sends requests now, while the simulated clock jumps whole days between crawls.
`time_fn` is injectable so tests can move windows without sleeping.

Every limiter also keeps the platform's side of the ledger per key and per window
(`windows`, `max_in_window`, `exceeded`): how many requests each credential sent in each
window, refused ones included, so a test can assert that no window was ever exceeded by
the clients together (a distributed crawl's shared budgets), not only that 429s came back.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """The state of one key's window after a request was counted (or refused)."""

    limit: int
    used: int
    reset_at: float  # epoch seconds when the window ends
    allowed: bool
    now: float

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def reset_in(self) -> int:
        """Whole seconds until the window resets, at least 1 while it is open."""
        return max(1, math.ceil(self.reset_at - self.now))


@dataclass(frozen=True)
class WindowCount:
    """What one key sent in one window: `sent` = allowed + refused."""

    key: str
    start: float  # epoch seconds
    sent: int
    refused: int


class FixedWindowLimiter:
    """`limit` requests per `window` seconds per key.

    aligned=True starts windows on multiples of the window length (Reddit's 10-minute
    windows reset on the clock); aligned=False starts a key's window at its first request
    (X's and GitHub's documented behaviour: the reset time is a fixed point after the first
    counted request).
    """

    def __init__(
        self, limit: int, window: float, *, aligned: bool = False, time_fn: Callable[[], float] = time.time
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self.aligned = aligned
        self.time_fn = time_fn
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window start, used)
        self._sent: Counter[tuple[str, float]] = Counter()  # (key, window start) -> requests
        self._refused: Counter[tuple[str, float]] = Counter()
        self.arrivals: dict[str, list[float]] = {}  # key -> when each request arrived (epoch s)
        self._lock = threading.Lock()

    def _start_for(self, key: str, now: float) -> tuple[float, int]:
        start, used = self._windows.get(key, (-math.inf, 0))
        if now >= start + self.window:
            start = math.floor(now / self.window) * self.window if self.aligned else now
            used = 0
        return start, used

    def hit(self, key: str) -> Budget:
        """Count one request for `key`; allowed=False (and not counted) when exhausted."""
        with self._lock:
            now = self.time_fn()
            start, used = self._start_for(key, now)
            allowed = used < self.limit
            if allowed:
                used += 1
            else:
                self._refused[(key, start)] += 1
            self._sent[(key, start)] += 1
            self.arrivals.setdefault(key, []).append(now)
            self._windows[key] = (start, used)
            return Budget(self.limit, used, start + self.window, allowed, now)

    def peek(self, key: str) -> Budget:
        """The budget without counting a request (GitHub's 304s cost nothing)."""
        with self._lock:
            now = self.time_fn()
            start, used = self._start_for(key, now)
            return Budget(self.limit, used, start + self.window, used < self.limit, now)

    def exhaust(self, key: str) -> None:
        """Spend the rest of the window (tests of the 429 path without 600 requests)."""
        with self._lock:
            now = self.time_fn()
            start, _ = self._start_for(key, now)
            self._windows[key] = (start, self.limit)

    def reset(self) -> None:
        """Close every window (the clock jumped past them); the per-window ledger stays."""
        with self._lock:
            self._windows.clear()

    def windows(self, key: str | None = None) -> list[WindowCount]:
        """Requests per key and window, in order of window start."""
        with self._lock:
            return sorted(
                (
                    WindowCount(k, start, n, self._refused[(k, start)])
                    for (k, start), n in self._sent.items()
                    if key is None or k == key
                ),
                key=lambda w: (w.start, w.key),
            )

    def max_in_window(self, key: str | None = None) -> int:
        """The most requests one key sent in any one window (0 before any request)."""
        return max((w.sent for w in self.windows(key)), default=0)

    def exceeded(self, key: str | None = None) -> int:
        """Windows in which a key sent more than the limit (each of them answered with 429s)."""
        return sum(1 for w in self.windows(key) if w.sent > self.limit)

    def requests(self, key: str | None = None) -> int:
        """Requests received, for one key or all."""
        return sum(w.sent for w in self.windows(key))

    def forget(self) -> None:
        """Clear the per-window ledger (between the measured parts of a bench)."""
        with self._lock:
            self._sent.clear()
            self._refused.clear()
            self.arrivals.clear()
