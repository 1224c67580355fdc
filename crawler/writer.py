"""Where a source group's records are stored: in the caller's thread, or on a writer thread.

The API sources call `ctx.emit` from the run's own thread, and a store write there costs
nothing but its time. The Scrapy spiders call it from the Twisted reactor: a batch written
there (with `crawler.db.retry`'s backoffs of up to 15 s) stops every spider of the crawl
until it is stored. For them the run uses a `ThreadWriter`: records and checkpoints go, in
the order they were handed over, through a bounded queue to one thread that enriches and
stores them, while the reactor goes on fetching. `[spiders] writer = "inline"` keeps the
old path (`InlineWriter`, the sink itself), which `bench/spiders.py` measures against.

The rules the thread keeps:

* a checkpoint (`ctx.checkpoint`: a cursor, an ETag) is saved only after every record
  emitted before it is stored. The writer holds checkpoints until the batch holding those
  records is written (one batch, then its checkpoints), so a spider that checkpoints after
  each answer does not cost a write per answer; reads see the new value at once
  (`crawler.sink.StoreState` remembers what was checkpointed in the run);
* a write that fails fails the sources whose records it held: their next `emit` raises the
  store's error on the reactor (the item pipeline then fails the source and stops its
  spider, as on the inline path), their later checkpoints are dropped, and `close` fails
  the ones that emitted nothing more. A full database (`DatabaseFull`) stops everything;
* the queue holds at most `capacity` records and checkpoints. A store slower than the
  spiders for that long makes `emit` wait for room (backpressure), which is logged and
  counted; memory stays bounded;
* the run calls `close` before it reports the group: everything handed over is stored, or
  the sources it belonged to are failed.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from crawler.errors import DatabaseFull, DfwatchError, StoreError
from crawler.records import Record

if TYPE_CHECKING:
    from crawler.config import Config
    from crawler.sources.base import Source, SourceContext

log = logging.getLogger("dfwatch.writer")

# Seconds the writer waits for more work before it stores a part-filled batch and the
# checkpoints behind it: short enough that an idle writer leaves nothing unstored for long,
# long enough that a busy one writes whole batches.
LINGER_SECONDS = 0.5
MIN_CAPACITY = 1000  # records and checkpoints queued at most, whatever the batch size


class Sink(Protocol):
    """What the writers need of `crawler.sink.RecordSink`."""

    buffer: list[Record]
    batch_size: int

    @property
    def enricher(self) -> Callable[[Record], Record]: ...

    def __call__(self, record: Record) -> None: ...

    def flush(self) -> None: ...

    def save_state(self, source: str, key: str, value: str) -> None: ...


class InlineWriter:
    """The sink itself: every record and checkpoint is stored in the caller's thread."""

    running = False

    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    def emit_for(self, source: str) -> Callable[[Record], None]:
        return self.sink

    def save_state(self, source: str, key: str, value: str) -> None:
        self.sink.save_state(source, key, value)

    def close(self, contexts: Iterable[SourceContext]) -> None:
        """Store what is buffered; a failure is raised (the run fails the whole group)."""
        self.sink.flush()

    def stop(self) -> None:
        """Nothing runs on its own."""


@dataclass
class WriterStats:
    """What the writer thread did, for its closing log line and the benchmark."""

    records: int = 0
    batches: int = 0  # store writes of records
    checkpoints: int = 0  # state values saved
    dropped_checkpoints: int = 0  # of sources whose records were lost
    write_seconds: float = 0.0  # spent in store writes (records and checkpoints)
    full_waits: int = 0  # times `emit` waited for room in the queue
    full_wait_seconds: float = 0.0


@dataclass(frozen=True)
class _Emit:
    source: str
    record: Record


@dataclass(frozen=True)
class _Checkpoint:
    source: str
    key: str
    value: str


_STOP = object()


class ThreadWriter:
    """Stores a group's records and checkpoints on one thread, in the order handed over."""

    running = True

    def __init__(self, sink: Sink, *, capacity: int = MIN_CAPACITY, linger: float = LINGER_SECONDS) -> None:
        self.sink = sink
        self.linger = linger
        self.stats = WriterStats()
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, capacity))
        self._failures: dict[str, StoreError] = {}  # source -> why its records were lost
        self._fatal: StoreError | None = None  # nothing more can be stored (a full database)
        self._in_buffer: set[str] = set()  # sources with records in the sink's buffer
        self._held: dict[tuple[str, str], str] = {}  # checkpoints waiting for their batch
        self._lock = threading.Lock()  # guards _failures and _fatal (read on the reactor)
        self._thread = threading.Thread(target=self._run, name="dfwatch-writer", daemon=True)
        self._thread.start()

    # -- the reactor's side ---------------------------------------------------------
    def emit_for(self, source: str) -> Callable[[Record], None]:
        """The `emit` of one source's context."""

        def emit(record: Record) -> None:
            self._raise_failure(source)
            self._put(_Emit(source, record))

        return emit

    def save_state(self, source: str, key: str, value: str) -> None:
        """Queue a checkpoint behind the records handed over before it (StoreState's `save`)."""
        if self._failure_of(source) is None:
            self._put(_Checkpoint(source, key, value))

    def _failure_of(self, source: str) -> StoreError | None:
        with self._lock:
            return self._fatal or self._failures.get(source)

    def _raise_failure(self, source: str) -> None:
        failure = self._failure_of(source)
        if failure is not None:
            raise type(failure)(str(failure))  # a fresh one each time: DatabaseFull stays itself

    def _put(self, job: object) -> None:
        if not self.running:
            raise StoreError("the writer is closed")
        try:
            self._queue.put_nowait(job)
            return
        except queue.Full:
            pass
        started = time.monotonic()
        if self.stats.full_waits == 0:
            log.warning(
                "store slower than the spiders: %d records and checkpoints queued, the crawl waits for room",
                self._queue.maxsize,
            )
        self._queue.put(job)
        self.stats.full_waits += 1
        self.stats.full_wait_seconds += time.monotonic() - started

    # -- the run's side ---------------------------------------------------------------
    def close(self, contexts: Iterable[SourceContext]) -> None:
        """Store everything handed over, stop the thread, fail the sources whose rows were lost.

        Raises `DatabaseFull` (after failing every source) when the database took no more.
        """
        self.stop()
        for ctx in contexts:
            failure = self._failure_of(ctx.name)
            if failure is not None and ctx.failure is None:
                ctx.fail(f"storing failed: {failure}", failure)
        s = self.stats
        log.info(
            "writer records=%d batches=%d checkpoints=%d dropped_checkpoints=%d write=%.1fs full_waits=%d (%.1fs)",
            s.records,
            s.batches,
            s.checkpoints,
            s.dropped_checkpoints,
            s.write_seconds,
            s.full_waits,
            s.full_wait_seconds,
        )
        if isinstance(self._fatal, DatabaseFull):
            raise self._fatal

    def stop(self) -> None:
        """Let the thread store what is queued and end (idempotent; raises nothing)."""
        if not self.running:
            return
        self.running = False
        self._queue.put(_STOP)
        self._thread.join()

    # -- the writer thread -------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # a bug in the writer itself: fail the group, never hang it
            log.critical("writer crashed; the group's sources fail", exc_info=exc)
            with self._lock:
                self._fatal = self._fatal or StoreError(f"the writer crashed: {type(exc).__name__}: {exc}")
            while self._queue.get() is not _STOP:  # keep emit from waiting for room forever
                pass

    def _loop(self) -> None:
        while True:
            try:
                job = self._queue.get(timeout=self.linger if self._dirty() else None)
            except queue.Empty:
                self._store()
                continue
            if job is _STOP:
                self._store()
                return
            if self._fatal is not None:
                continue  # nothing can be stored any more; the queue only drains
            if isinstance(job, _Emit):
                self._emit(job)
            elif isinstance(job, _Checkpoint):
                self._checkpoint(job)

    def _dirty(self) -> bool:
        return bool(self.sink.buffer or self._held)

    def _emit(self, job: _Emit) -> None:
        self.stats.records += 1
        try:
            record = self.sink.enricher(job.record)
        except Exception as exc:  # noqa: BLE001 - a record that cannot be enriched fails its source
            self._fail({job.source}, exc)
            return
        self.sink.buffer.append(record)
        self._in_buffer.add(job.source)
        if len(self.sink.buffer) >= self.sink.batch_size:
            self._store()

    def _checkpoint(self, job: _Checkpoint) -> None:
        if self._failure_of(job.source) is not None:
            self.stats.dropped_checkpoints += 1
            return
        self._held[(job.source, job.key)] = job.value  # a later value for the key replaces it

    def _store(self) -> None:
        """Write the buffered batch, then the checkpoints held behind it."""
        if self._fatal is not None:
            return
        if self.sink.buffer:
            n, started = len(self.sink.buffer), time.monotonic()
            try:
                self.sink.flush()
            except Exception as exc:  # noqa: BLE001 - attributed to the sources in the batch
                self._lost(exc, started)
                return
            self._written(started, n)
        self._save_held()

    def _written(self, started: float, records: int) -> None:
        ended = time.monotonic()
        self.stats.batches += 1
        self.stats.write_seconds += ended - started
        self._in_buffer.clear()
        log.debug("writer stored batch records=%d in %.2fs", records, ended - started)

    def _save_held(self) -> None:
        held, self._held = self._held, {}
        for (source, key), value in held.items():
            if self._fatal is not None or self._failure_of(source) is not None:
                self.stats.dropped_checkpoints += 1
                continue
            started = time.monotonic()
            try:
                self.sink.save_state(source, key, value)
            except Exception as exc:  # noqa: BLE001 - fails the checkpoint's own source
                self._fail({source}, exc)
                continue
            finally:
                self.stats.write_seconds += time.monotonic() - started
            self.stats.checkpoints += 1

    def _lost(self, exc: BaseException, started: float) -> None:
        """A batch was not stored: its sources failed, their held checkpoints go."""
        self.stats.write_seconds += time.monotonic() - started
        sources, self._in_buffer = self._in_buffer, set()
        self.sink.buffer.clear()  # RecordSink.flush has let the batch go already
        self._fail(sources, exc)
        for source, key in list(self._held):
            if source in sources or self._fatal is not None:
                del self._held[(source, key)]
                self.stats.dropped_checkpoints += 1

    def _fail(self, sources: set[str], exc: BaseException) -> None:
        if isinstance(exc, StoreError):  # DatabaseFull among them
            error: StoreError = exc
        elif isinstance(exc, DfwatchError):
            error = StoreError(str(exc))
        else:
            log.error("writer: internal error", exc_info=exc)
            error = StoreError(f"internal error: {type(exc).__name__}: {exc}")
        log.error("writer: storing failed for %s: %s", ", ".join(sorted(sources)) or "?", error)
        with self._lock:
            if isinstance(error, DatabaseFull):  # nothing more can be stored, for anyone
                self._fatal = self._fatal or error
            for source in sources:
                self._failures.setdefault(source, error)


def group_writer(source: type[Source], sink: Sink, config: Config) -> InlineWriter | ThreadWriter:
    """The writer for one source group: a thread for sources on an event loop, else inline."""
    if source.writes_off_thread and config.settings.spiders.writer == "thread":
        capacity = max(MIN_CAPACITY, 2 * config.settings.crawler.batch_size)
        return ThreadWriter(sink, capacity=capacity)
    return InlineWriter(sink)
