"""What the run hands each source, over the store: a record sink, its state, its known posts.

Sources never see the `Store` (DESIGN.md: sources never touch the store). The run builds
these three for each source's `SourceContext`:

* `RecordSink` enriches records and writes them in batches; a batch that meets a transient
  database failure is written again (bounded, `crawler.db.retry`), which the store's upserts
  make harmless;
* `StoreState` is the source's `source_state` rows: read by key, written only through
  `checkpoint`, after the sink has stored every record emitted before it;
* `StorePosts` answers what a source may ask of its stored posts (the newest one of a
  community; the ids a deletion sweep re-checks);
* `StoreStatuses` is what the run knows of every community's status history when it starts
  (status, consecutive checks, last check), behind `SourceContext.due`;
* `StoreLedger` is a paying source's billed reads per UTC day (`billed_reads`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta

from crawler.db import keyguard
from crawler.db.retry import write_with_retries
from crawler.db.store import Store
from crawler.enrich import Enricher
from crawler.recheck import CheckState
from crawler.records import CommunityKey, Post, Record


class RecordSink:
    """Enriches records and writes them to the store in batches of `batch_size`."""

    def __init__(
        self,
        store: Store,
        enricher: Enricher,
        run_id: int,
        batch_size: int,
        *,
        store_sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store, self.enricher, self.run_id = store, enricher, run_id
        self.batch_size = batch_size
        self.buffer: list[Record] = []
        self.store_sleep = store_sleep  # real time: a database outage is not a platform wait
        self.key_recorded = False  # the pseudonym key's fingerprint, once a pseudonym is written

    def __call__(self, record: Record) -> None:
        self.buffer.append(self.enricher(record))
        if len(self.buffer) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            batch, self.buffer = self.buffer, []
            if not self.key_recorded and any(isinstance(r, Post) and r.author for r in batch):
                keyguard.record_key(self.store.engine, self.enricher.key)  # first pseudonym written
                self.key_recorded = True
            write_with_retries(
                lambda: self.store.write(batch, self.run_id),
                what=f"run={self.run_id} records={len(batch)}",
                sleep=self.store_sleep,
            )

    def save_state(self, source: str, key: str, value: str) -> None:
        """Store what is buffered, then the state value (the checkpoint order)."""
        self.flush()
        write_with_retries(
            lambda: self.store.set_state(source, key, value),
            what=f"run={self.run_id} state={source}",
            sleep=self.store_sleep,
        )


class StoreState:
    """A source's `source_state`, read from the store, written through the sink's checkpoint.

    Values saved in this run are remembered, so a read after a checkpoint sees the new
    value even where the write itself is still queued (the Scrapy writer thread).
    """

    def __init__(self, store: Store, source: str, save: Callable[[str, str, str], None]) -> None:
        self._store, self._source, self._save = store, source, save
        self._saved: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        if key in self._saved:
            return self._saved[key]
        return self._store.get_state(self._source, key)

    def checkpoint(self, key: str, value: str) -> None:
        self._save(self._source, key, value)
        self._saved[key] = value


class StorePosts:
    """The store's answers about stored posts, and nothing else of it."""

    def __init__(self, store: Store, run_id: int | None = None) -> None:
        self._store = store
        self._run_id = run_id

    def ids_seen_in_run(self, platform: str) -> set[str]:
        return self._store.post_ids_seen_in_run(platform, self._run_id)

    def newest(self, key: CommunityKey) -> tuple[str, datetime | None] | None:
        return self._store.newest_post(key)

    def ids_since(self, platform: str, since: datetime) -> Iterator[str]:
        return self._store.post_ids_since(platform, since)

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
        return self._store.post_ids_due(
            platform, since=since, now=now, fraction=fraction, always_after=always_after, slack=slack
        )


class StoreStatuses:
    """The communities' check states as the run found them at its start (one read).

    A check made during the run does not move a community's next check within the same run.
    """

    def __init__(self, store: Store) -> None:
        self._states = {
            norm: CheckState(status, checks, checked)
            for norm, (status, checks, checked) in store.check_states().items()
        }

    def check_state(self, key: CommunityKey) -> CheckState | None:
        return self._states.get(key.norm)


class StoreLedger:
    """One source's billed reads, written at once (the platform billed them, stored or not).

    Read mid-crawl, so reads ride out a transient database failure like the sink's writes.
    """

    def __init__(
        self, store: Store, source: str, run_id: int | None, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._store, self._source, self._run_id, self._sleep = store, source, run_id, sleep

    def billed(self, day: date, kind: str, ids: Iterable[str]) -> set[str]:
        wanted = list(ids)
        return write_with_retries(
            lambda: self._store.billed_ids(self._source, day, kind, wanted),
            what=f"run={self._run_id} billed reads={self._source}",
            sleep=self._sleep,
        )

    def bill(self, day: date, kind: str, items: Mapping[str, float], read_at: datetime) -> None:
        write_with_retries(
            lambda: self._store.bill(self._source, day, kind, items, read_at, self._run_id),
            what=f"run={self._run_id} billed={self._source}",
            sleep=self._sleep,
        )

    def day_total(self, day: date) -> float:
        return write_with_retries(
            lambda: self._store.billed_total(self._source, day),
            what=f"run={self._run_id} day total={self._source}",
            sleep=self._sleep,
        )
