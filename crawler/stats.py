"""What a source spent and suffered in one run: the counters behind its `run_sources` row.

A neutral module: sources fill it in, the run log writes it, and neither imports the other.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_ERROR_SUMMARY = 2000  # characters of error text kept per run_sources row


@dataclass
class SourceStats:
    """Counters that become the source's `run_sources` row."""

    requests: int = 0
    items: int = 0
    errors: int = 0
    retries: int = 0
    rate_limited_seconds: float = 0.0
    cost_usd: float | None = None  # estimated platform charges; None: the source charges nothing
    deferred: int = 0  # checks of dead communities skipped as not due (crawler.recheck)
    failures: list[str] = field(default_factory=list)  # "target: message", in order

    @property
    def error_summary(self) -> str | None:
        """The failures, grouped by message: "msg (3 targets: a, b, c); other msg (d)"."""
        if not self.failures:
            return None
        by_message: dict[str, list[str]] = {}
        for failure in self.failures:
            target, sep, message = failure.partition(": ")
            if not sep:
                target, message = "", failure
            by_message.setdefault(message, []).append(target)
        parts = []
        for message, targets in by_message.items():
            named = [t for t in dict.fromkeys(targets) if t]
            if not named:
                parts.append(message)
            elif len(named) == 1:
                parts.append(f"{named[0]}: {message}")
            else:
                parts.append(f"{message} ({len(named)} targets: {', '.join(named)})")
        text = "; ".join(parts)
        return text if len(text) <= MAX_ERROR_SUMMARY else text[: MAX_ERROR_SUMMARY - 1] + "…"

    def add(self, other: SourceStats) -> None:
        """Sum another's counters into this one (shards of one source, one row)."""
        self.requests += other.requests
        self.items += other.items
        self.errors += other.errors
        self.retries += other.retries
        self.rate_limited_seconds += other.rate_limited_seconds
        if other.cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + other.cost_usd
        self.deferred += other.deferred
        self.failures.extend(other.failures)


class WaitClock:
    """Rate-limit waits of requests in flight together, counted once on `rate_limited_seconds`.

    A spider has many requests in flight; when a shared budget is spent, each of them waits,
    and summing their waits counted ten minutes of waiting as forty. `add(waited)`, called as
    each wait ends, adds only the part of (now − waited, now] not counted yet: the wall time
    during which at least one request of the source waited. Ends arrive in time order, so
    the union is exact. Thread-safe (budget waits end in threads).
    """

    def __init__(self, stats: SourceStats, clock: Callable[[], float] = time.monotonic) -> None:
        self._stats = stats
        self._clock = clock
        self._covered_until = float("-inf")
        self._lock = threading.Lock()

    def add(self, waited: float) -> float:
        """Count a wait of `waited` seconds that ends now; the seconds newly counted."""
        if waited <= 0:
            return 0.0
        with self._lock:
            end = self._clock()
            new = max(0.0, end - max(end - waited, self._covered_until))
            self._covered_until = max(self._covered_until, end)
            self._stats.rate_limited_seconds += new
            return new
