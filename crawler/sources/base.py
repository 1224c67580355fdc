"""What a source is, and the narrow context the run gives it.

A source turns its watchlist entries into records. It never sees the store: it yields
records (or, for Scrapy spiders, hands them to `SourceContext.emit` from a pipeline) and the
run enriches and stores them. What it may read back is narrow: its own saved state
(cursors, ETags) through `SourceState`, what the store knows of its posts through
`KnownPosts`, whether a community is due for a check (`SourceContext.due`, over what the run
knows of its status history, `KnownStatuses`), and, for sources that pay per read, which ids
were already billed today (`ReadLedger`). Everything it spends or suffers (requests, retries,
rate-limit waits, failed targets, money) is counted on its `SourceStats`, which becomes its
`run_sources` row. Hosts found unreachable are remembered for the whole run (`hosts`).
Requests are spent against a credential's `budget` (crawler.sources.budget): shared by all
workers of a distributed crawl, a no-op on one machine.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from crawler.hostfail import HostFailures
from crawler.recheck import CheckState, is_due, next_check
from crawler.records import CommunityKey, Record, utcnow
from crawler.sources.budget import UNMETERED, BudgetKey, RequestBudget
from crawler.stats import SourceStats, WaitClock

if TYPE_CHECKING:
    from crawler.config import Config, WatchTarget
    from crawler.plugins import SourceSpec

Steps = Literal["all", "targets", "finale"]  # see SourceContext

__all__ = [
    "BudgetKey",
    "KnownPosts",
    "KnownStatuses",
    "ReadLedger",
    "RequestBudget",
    "Source",
    "SourceContext",
    "SourceState",
    "SourceStats",
    "Steps",
]


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

    def ids_due(
        self,
        platform: str,
        *,
        since: datetime,
        now: datetime,
        fraction: float,
        always_after: datetime,
        slack: timedelta = timedelta(0),
    ) -> Iterator[str]:
        """Visible posts created at or after `since` that are due for a re-check at `now`.

        Due: created at or after `always_after`, or not seen visible for at least `fraction`
        of their age (less `slack`): `now - last_seen_at >= fraction * (now - created_at)`.
        """
        ...

    def ids_seen_in_run(self, platform: str) -> set[str]:
        """External ids of the platform's posts this run has stored (or seen again) so far.

        What a once-per-run step (Reddit's deletion sweep, in a distributed crawl's finale
        shard) need not ask about: the run's other shards saw them a moment ago.
        """
        ...


class _NoPosts:
    def newest(self, key: CommunityKey) -> tuple[str, datetime | None] | None:
        return None

    def ids_since(self, platform: str, since: datetime) -> Iterator[str]:
        return iter(())

    def ids_due(self, platform: str, **_when: Any) -> Iterator[str]:
        return iter(())

    def ids_seen_in_run(self, platform: str) -> set[str]:
        return set()


class KnownStatuses(Protocol):
    """What the run knows of a community's status history: enough to say when it is due."""

    def check_state(self, key: CommunityKey) -> CheckState | None:
        """Its current status, consecutive checks at it and last check; None if never seen."""
        ...


class _NoStatuses:
    def check_state(self, key: CommunityKey) -> CheckState | None:
        return None


class ReadLedger(Protocol):
    """Which items a paying source was billed for, per UTC day (platforms bill each id once a day).

    Written as soon as the items are read (the platform has billed them, stored or not), so
    a second crawl of the same day is not charged again for them.
    """

    def billed(self, day: date, kind: str, ids: Iterable[str]) -> set[str]:
        """Those of `ids` already billed on `day`."""
        ...

    def bill(self, day: date, kind: str, items: Mapping[str, float], read_at: datetime) -> None:
        """Record `items` (id -> USD) as billed on `day`."""
        ...

    def day_total(self, day: date) -> float:
        """USD billed on `day`, by every crawl of that day."""
        ...


class MemoryLedger:
    """A ReadLedger held in memory (tests, and sources run without a database)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], float] = {}  # (day, kind, id) -> USD

    def billed(self, day: date, kind: str, ids: Iterable[str]) -> set[str]:
        d = day.isoformat()
        return {i for i in ids if (d, kind, i) in self.items}

    def bill(self, day: date, kind: str, items: Mapping[str, float], read_at: datetime) -> None:
        for item_id, usd in items.items():
            self.items.setdefault((day.isoformat(), kind, item_id), usd)

    def day_total(self, day: date) -> float:
        d = day.isoformat()
        return sum(usd for (day_, _k, _i), usd in self.items.items() if day_ == d)


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
    passes its own part of them). `budget` is where requests are counted against a
    credential's limit before they are sent (`spend`); by default nothing is shared.
    `steps` says which of the source's steps run here: `all` (the whole source: one
    machine, or a source crawled as one shard), `targets` (a shard of a distributed crawl:
    its targets, without the steps that run once per crawl), `finale` (only those once-per-
    run steps, such as Reddit's deletion sweep, after every `targets` shard of the run).
    """

    def __init__(
        self,
        name: str,
        config: Config,
        emit: Callable[[Record], None],
        *,
        state: SourceState | None = None,
        known: KnownPosts | None = None,
        statuses: KnownStatuses | None = None,
        ledger: ReadLedger | None = None,
        hosts: HostFailures | None = None,
        targets: Sequence[WatchTarget] | None = None,
        budget: RequestBudget | None = None,
        steps: Steps = "all",
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.name = name
        self.config = config
        self._emit = emit
        self.state: SourceState = state if state is not None else MemoryState()
        self.known: KnownPosts = known if known is not None else _NoPosts()
        self.statuses: KnownStatuses = statuses if statuses is not None else _NoStatuses()
        self.ledger: ReadLedger = ledger if ledger is not None else MemoryLedger()
        self.hosts: HostFailures = hosts if hosts is not None else HostFailures()
        self._targets = list(targets) if targets is not None else None
        self.budget: RequestBudget = budget if budget is not None else UNMETERED
        self.steps: Steps = steps
        self._sleep = sleep
        self._clock = clock
        self.stats = SourceStats()
        # Waits of requests in flight together (spiders), counted once (see WaitClock).
        self.concurrent_waits = WaitClock(self.stats)
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

    def due(self, key: CommunityKey) -> bool:
        """Whether a check of this community is due now (crawler.recheck).

        Communities found banned, not_found or suspended on k consecutive checks are due
        again after 2^k days, at most a week; every other community at every crawl. A
        source that skips a target that is not due emits nothing for it (a skipped check is
        no check) and says so with `defer`.
        """
        return is_due(self.statuses.check_state(key), self.now())

    def defer(self, key: CommunityKey) -> None:
        """Count (and log) a check skipped because `due` said no."""
        self.stats.deferred += 1
        state = self.statuses.check_state(key)
        when = next_check(state) if state else None
        self.log.debug(
            "source=%s target=%s status=%s not due until %s",
            self.name,
            key,
            state.status if state else "?",
            when.isoformat(timespec="minutes") if when else "?",
        )

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

    def spend(self, key: BudgetKey) -> None:
        """Take one request from `key`'s budget before sending it (waits summed as rate-limit waits)."""
        waited = self.budget.acquire(key)
        if waited > 0:
            self.stats.rate_limited_seconds += waited
            self.log.info("source=%s budget=%s wait=%.1fs reason=shared budget", self.name, key, waited)

    def penalize(self, key: BudgetKey, seconds: float) -> None:
        """The platform said wait: everyone sharing `key`'s budget waits too (bounded as `wait`)."""
        bound = self.config.settings.rate_limits.max_wait_seconds
        seconds = max(0.0, min(float(seconds), bound))
        if seconds > 0:
            self.budget.penalize(key, seconds)

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
    * `has_finale`: the source has a step that runs once per crawl, after all its targets
      (`SourceContext.steps`); a distributed crawl runs it in a shard of its own, last.
    * `shard_whole`: the source keeps state that spans all its targets (read once, written
      once a crawl), so a distributed crawl runs it as one shard.
    """

    name: ClassVar[str]
    group: ClassVar[str | None] = None
    writes_off_thread: ClassVar[bool] = False
    has_finale: ClassVar[bool] = False
    shard_whole: ClassVar[bool] = False

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
