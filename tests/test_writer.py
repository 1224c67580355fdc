"""The writer thread (crawler.writer) on its own: order, checkpoints, failures, bounds.

A fake sink stands in for RecordSink and logs what it was asked to store, so each test
asserts on the order of writes. Thread hand-overs are synchronised with events (bounded
waits), never with sleeps.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from crawler.errors import DatabaseFull, StoreError
from crawler.records import CommunityKey, MetricPoint, Record
from crawler.sink import StoreState
from crawler.sources.base import SourceContext
from crawler.writer import InlineWriter, ThreadWriter, group_writer

WAIT = 10.0  # seconds a hand-over may take at most before the test fails
NEVER = 3600.0  # a linger so long the writer only stores on a full batch or at close


def point(name: str, i: int = 0) -> MetricPoint:
    key = CommunityKey("github", "repo", f"owner/{name}")
    return MetricPoint(key, "stars", float(i), datetime(2026, 1, 1, tzinfo=UTC), "test")


class LogSink:
    """RecordSink's surface; `log` is what reached the store, in order."""

    def __init__(self, batch_size: int = 100) -> None:
        self.batch_size = batch_size
        self.buffer: list[Record] = []
        self.log: list[tuple[Any, ...]] = []
        self.fail_batch: BaseException | None = None  # raised by the next flush
        self.gate: threading.Event | None = None  # a flush waits for it
        self.flushing = threading.Event()
        self.failed = threading.Event()

    def enricher(self, record: Record) -> Record:
        if isinstance(record, MetricPoint) and record.metric == "unreadable":
            raise ValueError("cannot enrich this one")
        return record

    def __call__(self, record: Record) -> None:  # pragma: no cover - the writer batches itself
        raise AssertionError("the writer uses enricher, buffer and flush")

    def flush(self) -> None:
        if not self.buffer:
            return
        batch, self.buffer = self.buffer, []
        self.flushing.set()
        if self.gate is not None:
            assert self.gate.wait(WAIT)
        if self.fail_batch is not None:
            exc, self.fail_batch = self.fail_batch, None
            self.failed.set()
            raise exc
        self.log.append(("batch", [r.key.handle.split("/")[1] for r in batch]))  # type: ignore[union-attr]

    def save_state(self, source: str, key: str, value: str) -> None:
        self.log.append(("state", source, key, value))


@pytest.fixture
def sink() -> LogSink:
    return LogSink()


@pytest.fixture
def writer(sink: LogSink) -> Iterator[ThreadWriter]:
    w = ThreadWriter(sink, linger=NEVER)
    yield w
    if sink.gate is not None:
        sink.gate.set()
    w.stop()


def context(make_config: Any, name: str) -> SourceContext:
    return SourceContext(name, make_config(), lambda _r: None)


def test_a_checkpoint_is_saved_only_after_the_records_emitted_before_it(
    sink: LogSink, writer: ThreadWriter
) -> None:
    sink.batch_size = 2
    emit = writer.emit_for("github")
    emit(point("a"))
    emit(point("b"))  # a full batch: written
    writer.save_state("github", "etag:b", "v1")
    emit(point("c"))
    writer.stop()

    assert sink.log == [("batch", ["a", "b"]), ("batch", ["c"]), ("state", "github", "etag:b", "v1")]


def test_checkpoints_wait_for_one_batch_and_the_last_value_of_a_key_wins(
    sink: LogSink, writer: ThreadWriter
) -> None:
    emit = writer.emit_for("github")
    for i in range(10):
        emit(point(f"r{i}"))
        writer.save_state("github", f"etag:r{i}", "v")
        writer.save_state("github", "cursor", str(i))
    writer.stop()

    batches = [entry for entry in sink.log if entry[0] == "batch"]
    states = [entry for entry in sink.log if entry[0] == "state"]
    assert sink.log[0] == batches[0] and len(batches) == 1  # one write for ten answers
    assert ("state", "github", "cursor", "9") in states and len(states) == 11


def test_reads_see_a_checkpoint_before_the_writer_stores_it(sink: LogSink, writer: ThreadWriter) -> None:
    class NoStore:
        def get_state(self, source: str, key: str) -> str | None:
            return None

    state = StoreState(NoStore(), "github", writer.save_state)  # type: ignore[arg-type]
    writer.emit_for("github")(point("a"))
    state.checkpoint("etag:a", "v1")

    assert state.get("etag:a") == "v1"
    assert sink.log == []  # held behind the batch, which is not full
    writer.stop()
    assert sink.log == [("batch", ["a"]), ("state", "github", "etag:a", "v1")]


def test_a_failed_batch_fails_the_sources_in_it_and_drops_their_checkpoints(
    sink: LogSink, writer: ThreadWriter, make_config: Any
) -> None:
    sink.batch_size = 2
    sink.fail_batch = StoreError("the database refused the write: constraint")
    github, telegram = writer.emit_for("github"), writer.emit_for("telegram")
    github(point("a"))
    writer.save_state("github", "etag:a", "v1")  # held: its record is in the failing batch
    github(point("b"))  # the batch [a, b] fails
    assert sink.failed.wait(WAIT)
    with pytest.raises(StoreError, match="constraint"):
        github(point("c"))  # the pipeline fails the source and stops its spider on this
    writer.save_state("github", "etag:c", "v2")  # dropped: its source lost rows
    telegram(point("t1"))
    writer.save_state("telegram", "cursor", "t1")
    contexts = [context(make_config, "github"), context(make_config, "telegram")]
    writer.close(contexts)

    assert sink.log == [("batch", ["t1"]), ("state", "telegram", "cursor", "t1")]
    assert contexts[0].failure == "storing failed: the database refused the write: constraint"
    assert isinstance(contexts[0].failure_exc, StoreError)
    assert contexts[1].failure is None
    assert writer.stats.dropped_checkpoints == 1  # etag:a; etag:c never reached the queue


def test_a_failure_in_the_last_batch_fails_its_source_at_close(
    sink: LogSink, writer: ThreadWriter, make_config: Any
) -> None:
    sink.fail_batch = StoreError("the database stayed unavailable for 6 attempts: connection refused")
    writer.emit_for("discord")(point("d"))
    writer.save_state("discord", "k", "v")
    ctx = context(make_config, "discord")
    writer.close([ctx])

    assert ctx.failure is not None and "stayed unavailable" in ctx.failure
    assert sink.log == []


def test_a_full_database_stops_every_source_and_close_raises_it(
    sink: LogSink, writer: ThreadWriter, make_config: Any
) -> None:
    sink.batch_size = 1
    sink.fail_batch = DatabaseFull("the database is full: database or disk is full")
    writer.emit_for("github")(point("a"))
    assert sink.failed.wait(WAIT)
    with pytest.raises(DatabaseFull):
        writer.emit_for("telegram")(point("t"))  # a source with no rows in the batch stops too
    contexts = [context(make_config, "github"), context(make_config, "telegram")]
    with pytest.raises(DatabaseFull):
        writer.close(contexts)
    assert all(isinstance(c.failure_exc, DatabaseFull) for c in contexts)
    assert sink.log == []


def test_a_record_that_cannot_be_enriched_fails_only_its_source(
    sink: LogSink, writer: ThreadWriter, make_config: Any
) -> None:
    bad = MetricPoint(
        CommunityKey("forums", "forum", "owner/x"), "unreadable", 1.0, point("x").observed_at, "t"
    )
    writer.emit_for("forums")(bad)
    writer.emit_for("github")(point("a"))
    contexts = [context(make_config, "forums"), context(make_config, "github")]
    writer.close(contexts)

    assert contexts[0].failure == "storing failed: internal error: ValueError: cannot enrich this one"
    assert contexts[1].failure is None
    assert sink.log == [("batch", ["a"])]


def test_a_full_queue_makes_emit_wait_for_room_and_loses_nothing(sink: LogSink) -> None:
    sink.batch_size = 1
    sink.gate = threading.Event()
    writer = ThreadWriter(sink, capacity=2, linger=NEVER)
    emit = writer.emit_for("telegram")
    emit(point("p0"))  # taken by the writer, which waits in its flush
    assert sink.flushing.wait(WAIT)
    emit(point("p1"))
    emit(point("p2"))  # the queue is full now
    blocked = threading.Thread(target=emit, args=(point("p3"),))
    blocked.start()
    sink.gate.set()
    blocked.join(WAIT)
    writer.stop()

    assert not blocked.is_alive()
    assert writer.stats.full_waits == 1
    assert sink.log == [("batch", [f"p{i}"]) for i in range(4)]


def test_the_group_writer_is_a_thread_for_spiders_unless_inline_is_asked(make_config: Any) -> None:
    from crawler.sources.registry import SpiderSource
    from crawler.sources.x import XSource

    sink = LogSink()
    threaded = group_writer(SpiderSource, sink, make_config())
    assert isinstance(threaded, ThreadWriter)
    threaded.stop()
    assert isinstance(group_writer(XSource, sink, make_config()), InlineWriter)
    inline = make_config(settings='[spiders]\nwriter = "inline"\n')
    assert isinstance(group_writer(SpiderSource, sink, inline), InlineWriter)
