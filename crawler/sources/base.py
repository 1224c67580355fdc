"""What a source is, how the run talks to it, and the registry sources plug into.

A source turns the watchlist into records. It never writes to the store itself: it yields
records (or, for Scrapy spiders, hands them to `SourceContext.emit` from a pipeline), and
the run enriches and stores them. Everything a source spends or suffers (requests, retries,
rate-limit waits, failed targets) is counted on its `SourceStats`, which becomes its
`run_sources` row.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from crawler.records import Record

if TYPE_CHECKING:
    from crawler.config import Config, WatchTarget
    from crawler.db.store import Store

log = logging.getLogger("dfwatch.source")

MAX_ERROR_SUMMARY = 2000  # characters of error text kept per run_sources row


@dataclass
class SourceStats:
    """Counters that become the source's `run_sources` row."""

    requests: int = 0
    items: int = 0
    errors: int = 0
    retries: int = 0
    rate_limited_seconds: float = 0.0
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


class SourceContext:
    """The run's side of one source: config, store reads, record sink, counters, clock.

    `sleep` is injectable so tests can observe waits; by default it is `time.sleep`.
    """

    def __init__(
        self,
        name: str,
        config: Config,
        store: Store,
        run_id: int | None,
        emit: Callable[[Record], None],
        *,
        sleep: Callable[[float], None] = time.sleep,
        flush: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self._flush = flush
        self.config = config
        self.store = store
        self.run_id = run_id
        self._emit = emit
        self._sleep = sleep
        self.stats = SourceStats()
        self.failure: str | None = None  # set by fail(): the whole source failed
        self.failure_exc: BaseException | None = None
        self.log = logging.getLogger(f"dfwatch.source.{name}")

    @property
    def targets(self) -> list[WatchTarget]:
        """This source's watchlist entries."""
        return self.config.targets(self.name)

    def emit(self, record: Record) -> None:
        """Hand one record to the run (enriched and stored in batches)."""
        self.stats.items += 1
        self._emit(record)

    def checkpoint(self, key: str, value: str) -> None:
        """Store every record emitted so far, then save a cursor (`source_state`).

        A cursor saved this way never runs ahead of the rows it stands for: a crawl killed
        between the two resumes from the previous cursor and re-fetches, and the store's
        upserts absorb the repeats.
        """
        if self._flush:
            self._flush()
        self.store.set_state(self.name, key, value)

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
    """Base of every source. Subclasses set `name` and implement `crawl`.

    * `required_env`: variables without which the source is skipped (one clear line).
    * `group`: sources sharing a group run together through `crawl_group` (the Scrapy
      spiders share one CrawlerProcess per crawl process).
    """

    name: ClassVar[str]
    required_env: ClassVar[tuple[str, ...]] = ()
    group: ClassVar[str | None] = None

    def missing_env(self, config: Config) -> tuple[str, ...]:
        return tuple(v for v in self.required_env if not config.credential(v))

    def has_targets(self, config: Config) -> bool:
        return bool(config.targets(self.name))

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


_REGISTRY: dict[str, type[Source]] = {}
# Modules that define sources; imported lazily so `dfwatch --help` stays fast and a
# broken optional source cannot stop the others from loading.
SOURCE_MODULES: dict[str, str] = {
    "reddit": "crawler.sources.reddit",
    "x": "crawler.sources.x",
    "github": "spiders.sources",
    "discord": "spiders.sources",
    "telegram": "spiders.sources",
    "forums": "spiders.sources",
    "mastodon": "spiders.sources",
    "arctic_shift": "spiders.sources",
}


def register(cls: type[Source]) -> type[Source]:
    """Class decorator: make a source available to `dfwatch crawl --only NAME`."""
    _REGISTRY[cls.name] = cls
    return cls


def get_source(name: str) -> Source | None:
    """The registered source called `name`, or None if its module is not there (yet)."""
    if name not in _REGISTRY and name in SOURCE_MODULES:
        import importlib

        try:
            importlib.import_module(SOURCE_MODULES[name])
        except ModuleNotFoundError as exc:
            # Only the source's own module may be absent (a trimmed installation); a module it
            # needs that is missing is a broken install, and says so.
            if exc.name is None or not SOURCE_MODULES[name].startswith(exc.name):
                raise
            log.debug("source module for %s not importable: %s", name, exc)
    cls = _REGISTRY.get(name)
    return cls() if cls else None
