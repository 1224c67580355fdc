"""The simulated clock: a frozen instant that only moves when told to.

The world answers as of `clock.now()`. Nothing in the simulation reads the wall clock for
content (rate-limit windows do, see ratelimit.py), so the same seed and the same sequence of
`advance` calls give byte-identical answers.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

SIM_NOW_HEADER = "X-Sim-Now"


class SimClock:
    """Simulated UTC time; `advance(days=1)` moves the world one day on."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self._start = start.astimezone(UTC)
        self._now = self._start
        self._lock = threading.Lock()

    @property
    def start(self) -> datetime:
        return self._start

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def timestamp(self) -> float:
        return self.now().timestamp()

    def advance(self, days: float = 0, hours: float = 0, seconds: float = 0) -> datetime:
        """Move time forward (never back: the world's past is fixed once observed)."""
        step = timedelta(days=days, hours=hours, seconds=seconds)
        if step < timedelta(0):
            raise ValueError("the simulated clock only moves forward")
        with self._lock:
            self._now += step
            return self._now

    def set(self, when: datetime) -> datetime:
        """Jump to an instant at or after the current one."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        with self._lock:
            if when < self._now:
                raise ValueError("the simulated clock only moves forward")
            self._now = when
            return self._now

    def day_index(self) -> int:
        """Whole simulated days since the start (day 0 is the start date)."""
        return (self.now() - self._start).days

    def iso(self) -> str:
        return self.now().strftime("%Y-%m-%dT%H:%M:%SZ")
