"""Request budgets shared by every worker, in Redis: one credential's limit holds across machines.

`RedisBudget` is the `RequestBudget` (crawler.sources.budget) of a distributed crawl. Two
things live in Redis under each key's name (`dfwatch:budget:<platform>:<fingerprint>[:scope]`):

* the sliding window, Dramatiq's `WindowRateLimiter` on its `RedisBackend`: at most
  `limit` acquisitions in any `window_seconds` (counted per second), whoever asks;
* the "not before" instant: a 429 (or a window the platform says is spent) seen by one
  worker is written there (`penalize`, only ever moved later), and every worker sharing
  the credential waits for it before its next request.

Why wrap Dramatiq's limiter instead of using it as it is: `acquire()` never waits, it
answers "not now" (or raises `RateLimitExceeded`), which suits a Dramatiq actor that is
retried later but not an HTTP client halfway through a listing. So `acquire` here polls,
bounded: it sleeps to the next whole second (the window's granularity: nothing frees
sooner) with a little jitter so workers do not wake together, and gives up with
`RateLimited` after `max_wait_seconds` (`[rate_limits] max_wait_seconds`).

Why the sliding window and not `BucketRateLimiter`: a bucket resets on our clock, and a
platform's window need not line up with it, so a bucket lets up to twice the limit through
around a boundary. The sliding window holds for every window of that length, however the
platform aligns its own. It costs one read of `window_seconds` small keys per request
(600 for Reddit), at hundreds of requests a minute nothing a Redis notices.

Clocks: the window and the instant are read on each worker's clock (as Dramatiq's limiter
does), so workers need synchronised clocks (NTP); a skew of a second is absorbed by the
margins kept in the default limits. Redis unreachable: `SourceError`, so the request is
not sent unbudgeted and the batch fails (the run becomes partial, as for any failed batch).
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import redis
from dramatiq.rate_limits import WindowRateLimiter
from dramatiq.rate_limits.backends import RedisBackend

from crawler.errors import RateLimited, SourceError
from crawler.sources.budget import BudgetKey

log = logging.getLogger("dfwatch.budget")
ANNOUNCE_EVERY = 60.0  # seconds between two "waiting for the shared budget" lines per budget

if TYPE_CHECKING:
    from crawler.config import Config

__all__ = ["DEFAULT_PREFIX", "RedisBudget"]

DEFAULT_PREFIX = "dfwatch:budget:"
JITTER_SECONDS = 0.05  # spread of the wake-ups at a second's boundary
MIN_PAUSE = 0.01  # a poll sleeps at least this long, so polls per wait stay bounded

# Move the instant only later; keep it as long as it matters (ARGV: instant, ttl in ms).
_PENALIZE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = tonumber(ARGV[1])
if wanted > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""


class RedisBudget:
    """Credential budgets in Redis, shared by all workers that reach it (see the module doc)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        max_wait_seconds: float = 900.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.backend = RedisBackend(client=client)
        self.prefix = prefix
        self.max_wait_seconds = max_wait_seconds
        self._sleep = sleep
        self._limiters: dict[BudgetKey, WindowRateLimiter] = {}
        self._penalize: Any = client.register_script(_PENALIZE)
        self.waits: Counter[str] = Counter()  # why acquire had to wait: "not_before", "window"
        self._announced: dict[tuple[BudgetKey, str], float] = {}  # when a wait was last logged

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisBudget:
        """A budget on the Redis at `url` (the broker's: `[cluster] broker`, DFWATCH_BROKER_URL)."""
        return cls(redis.Redis.from_url(url), **kwargs)

    @classmethod
    def for_config(cls, config: Config, url: str) -> RedisBudget:
        """The budget a worker passes to every `SourceContext` (`budget=`): the broker's Redis,
        waits bounded by `[rate_limits] max_wait_seconds`."""
        return cls.from_url(url, max_wait_seconds=config.settings.rate_limits.max_wait_seconds)

    def _name(self, key: BudgetKey) -> str:
        return self.prefix + key.name

    def _limiter(self, key: BudgetKey) -> WindowRateLimiter:
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = WindowRateLimiter(
                self.backend, self._name(key), limit=key.limit, window=key.window_seconds
            )
            self._limiters[key] = limiter
        return limiter

    def not_before(self, key: BudgetKey) -> float:
        """The instant (epoch seconds) before which nobody sharing `key` sends; 0 if none."""
        value = self._redis(lambda: self.client.get(self._name(key) + ":not_before"))
        try:
            return float(value) if value is not None else 0.0
        except ValueError:
            return 0.0

    def penalize(self, key: BudgetKey, seconds: float) -> None:
        if seconds <= 0:
            return
        until = time.time() + seconds
        ttl_ms = math.ceil(seconds * 1000) + 1000
        self._redis(
            lambda: self._penalize(keys=[self._name(key) + ":not_before"], args=[repr(until), ttl_ms])
        )

    def acquire(self, key: BudgetKey) -> float:
        """Wait (bounded) for the shared instant and a free slot in the window; seconds waited."""
        started = time.monotonic()
        limiter = self._limiter(key)
        polls = math.ceil(self.max_wait_seconds / MIN_PAUSE) + 2
        for _poll in range(polls):
            waited = time.monotonic() - started
            hold = self.not_before(key) - time.time()
            if hold > 0:
                self._pause(key, hold, waited, "not_before")
                continue
            if self._redis(lambda: self._try(limiter)):
                return time.monotonic() - started
            # The window is full: its oldest second leaves at the next whole second.
            pause = 1.0 - (time.time() % 1.0) + random.uniform(0, JITTER_SECONDS)
            self._pause(key, pause, waited, "window")
        raise RateLimited(f"shared budget {key} not granted after {polls} polls", target=key.platform)

    def _pause(self, key: BudgetKey, seconds: float, waited: float, why: str) -> None:
        if waited + seconds > self.max_wait_seconds:
            raise RateLimited(
                f"shared budget {key} not granted within {self.max_wait_seconds:.0f}s ({why})",
                target=key.platform,
            )
        self.waits[why] += 1
        self._announce(key, seconds, why)
        self._sleep(max(MIN_PAUSE, seconds))

    def _announce(self, key: BudgetKey, seconds: float, why: str) -> None:
        """Say, before a wait and at most once a minute per budget, why a worker is idle."""
        now = time.monotonic()
        last = self._announced.get((key, why))
        if last is not None and now - last < ANNOUNCE_EVERY:
            return
        self._announced[(key, why)] = now
        if why == "not_before":
            log.info(
                "budget=%s held back %.0fs: a rate limit seen by a worker on this credential", key, seconds
            )
        else:
            log.info(
                "budget=%s spent (%d requests per %ds, shared by every worker on this credential): waiting",
                key,
                key.limit,
                key.window_seconds,
            )

    @staticmethod
    def _try(limiter: WindowRateLimiter) -> bool:
        with limiter.acquire(raise_on_failure=False) as acquired:
            return bool(acquired)

    @staticmethod
    def _redis(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except redis.RedisError as exc:
            raise SourceError(f"the shared budget's Redis failed: {type(exc).__name__}: {exc}") from exc

    def clear(self) -> int:
        """Delete every key under this budget's prefix (tests, benches); the count deleted."""
        names = list(self.client.scan_iter(match=self.prefix + "*", count=1000))
        return int(self.client.delete(*names)) if names else 0
