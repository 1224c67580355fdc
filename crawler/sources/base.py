"""What a source is, and the narrow context the run gives it.

A source turns its watchlist entries into records. It never sees the store: it yields
records (or, for Scrapy spiders, hands them to `SourceContext.emit` from a pipeline) and the
run enriches and stores them. What it may read back is narrow: its own saved state
(cursors, ETags) through `SourceState`, and what the store knows of its posts through
`KnownPosts`. Everything it spends or suffers (requests, retries, rate-limit waits, failed
targets) is counted on its `SourceStats`, which becomes its `run_sources` row.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from crawler.records import CommunityKey, Record, utcnow
from crawler.stats import SourceStats

if TYPE_CHECKING:
    from crawler.config import Config, WatchTarget
    from crawler.plugins import SourceSpec

__all__ = ["KnownPosts", "Source", "SourceContext", "SourceState", "SourceStats"]


class SourceState(Protocol):
    """A source's saved values (cursors, listing states, ETags), by key."""

    def get(self, key: str) -> str | None:
        """The value saved under `key`, or None."""
        ...

    def checkpoint(self, key: str, value: str) -> None:
        """Store every record emitted so far, then save `value` under `key`.

        A value saved this way never runs ahead of the rows it stands for: a crawl killed
        between the two resumes from the previous value and re-fetches, and the store's
        upserts absorb the repeats.
        """
        ...


class KnownPosts(Protocol):
    """What the store holds of a platform's posts, as far as a source needs to know."""

    def newest(self, key: CommunityKey) -> tuple[str, datetime | None] | None:
        """The newest stored post of a community: (external_id, created_at), or None."""
        ...

    def ids_since(self, platform: str, since: datetime) -> Iterator[str]:
        """External ids of the platform's visible posts created at or after `since`."""
        ...


class _NoPosts:
    def newest(self, key: CommunityKey) -> tuple[str, datetime | None] | None:
        return None

    def ids_since(self, platform: str, since: datetime) -> Iterator[str]:
        return iter(())


class MemoryState:
    """A SourceState held in memory (tests, and sources run without a database)."""

    def __init__(self, values: dict[str, str] | None = None, flush: Callable[[], None] | None = None) -> None:
        self.values = dict(values or {})
        self._flush = flush

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def checkpoint(self, key: str, value: str) -> None:
        if self._flush:
            self._flush()
        self.values[key] = value


class SourceContext:
    """The run's side of one source: targets, state, known posts, record sink, counters, clock.

    `sleep` is injectable so tests can observe waits; by default it is `time.sleep`.
    `targets` defaults to the source's watchlist entries (a shard of a distributed crawl
    passes its own part of them).
    """

    def __init__(
        self,
        name: str,
        config: Config,
        emit: Callable[[Record], None],
        *,
        state: SourceState | None = None,
        known: KnownPosts | None = None,
        targets: Sequence[WatchTarget] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.name = name
        self.config = config
        self._emit = emit
        self.state: SourceState = state if state is not None else MemoryState()
        self.known: KnownPosts = known if known is not None else _NoPosts()
        self._targets = list(targets) if targets is not None else None
        self._sleep = sleep
        self._clock = clock
        self.stats = SourceStats()
        self.failure: str | None = None  # set by fail(): the whole source failed
        self.failure_exc: BaseException | None = None
        self.log = logging.getLogger(f"dfwatch.source.{name}")

    @property
    def targets(self) -> list[WatchTarget]:
        """This source's watchlist entries (or the shard's part of them)."""
        if self._targets is not None:
            return list(self._targets)
        return self.config.targets(self.name)

    @property
    def settings(self) -> Any:
        """The source's own `[<name>]` settings (its declared model)."""
        return self.config.source_settings(self.name)

    def now(self) -> datetime:
        """The run's clock (UTC): the time records and cursors are stamped with."""
        return self._clock()

    def emit(self, record: Record) -> None:
        """Hand one record to the run (enriched and stored in batches)."""
        self.stats.items += 1
        self._emit(record)

    def checkpoint(self, key: str, value: str) -> None:
        """Store every record emitted so far, then save a value in the source's state."""
        self.state.checkpoint(key, value)

    def count_request(self, n: int = 1) -> None:
        """Count HTTP requests sent (token grants and retries included)."""
        self.stats.requests += n

    def count_retry(self, target: str, reason: str, attempt: int) -> None:
        self.stats.retries += 1
        self.log.info("source=%s target=%s retry attempt=%d reason=%s", self.name, target, attempt, reason)

    def wait(self, seconds: float, *, reason: str, target: str, rate_limited: bool = True) -> float:
        """Sleep for a bounded, logged time; returns the seconds actually waited.

        Clamped to [0, rate_limits.max_wait_seconds]; rate-limit waits are summed into
        `run_sources.rate_limited_seconds`.
        """
        bound = self.config.settings.rate_limits.max_wait_seconds
        seconds = max(0.0, min(float(seconds), bound))
        self.log.info("source=%s target=%s wait=%.1fs reason=%s", self.name, target, seconds, reason)
        if rate_limited:
            self.stats.rate_limited_seconds += seconds
        if seconds:
            self._sleep(seconds)
        return seconds

    def fail_target(self, target: str, message: str) -> None:
        """One target (or batch) failed; the rest go on and the run becomes partial."""
        message = message.removeprefix(f"{target}: ")  # a SourceError already names its target
        self.stats.errors += 1
        self.stats.failures.append(f"{target}: {message}")
        self.log.warning("source=%s target=%s failed: %s", self.name, target, message)

    def fail(self, message: str, exc: BaseException | None = None) -> None:
        """The whole source failed (its group's other members carry on).

        `exc` keeps the error that caused it, so a runner can re-raise what must stop the
        whole crawl (a full database) after its own event loop has ended.
        """
        self.failure = message
        self.failure_exc = exc
        self.stats.errors += 1
        self.log.error("source=%s failed: %s", self.name, message)


class Source:
    """Base of every source's fetcher. API sources subclass it and implement `crawl`.

    * `spec`: the source's declaration (crawler.plugins): name, credentials, endpoints, ...
    * `group`: sources sharing a group run together through `crawl_group` (the Scrapy
      spiders share one CrawlerProcess per crawl process).
    * `writes_off_thread`: the fetcher runs on an event loop that a store write must not
      hold up (the Scrapy reactor), so the run stores its records from a writer thread
      (crawler.writer).
    """

    name: ClassVar[str]
    group: ClassVar[str | None] = None
    writes_off_thread: ClassVar[bool] = False

    def __init__(self, spec: SourceSpec | None = None) -> None:
        if spec is None:
            from crawler.plugins import spec as declared_spec

            spec = declared_spec(type(self).name)
        self.spec = spec

    @property
    def source_name(self) -> str:
        return self.spec.name

    def missing_env(self, config: Config) -> tuple[str, ...]:
        return tuple(v for v in self.spec.required_env if not config.credential(v))

    def crawl(self, ctx: SourceContext) -> Iterable[Record] | None:
        """Yield records (or emit them through ctx); raise SourceError if all of it failed."""
        raise NotImplementedError

    @classmethod
    def crawl_group(cls, members: Sequence[tuple[Source, SourceContext]]) -> None:
        """Run several sources of one group together; by default one after another."""
        for source, ctx in members:
            records = source.crawl(ctx)
            for record in records or ():
                ctx.emit(record)
