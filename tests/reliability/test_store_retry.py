"""crawler.db.retry: which database failures are retried, how often, and why a retry is safe.

The end-to-end tests (test_database.py) show the retries at work through the CLI; these
show the rules on real errors of the real drivers, and that re-writing a whole batch whose
commit did land (the acknowledgement was what got lost) leaves the rows as one write does.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from crawler.db import runlog
from crawler.db.retry import DatabaseFull, is_full, is_transient, write_with_retries
from crawler.db.store import Store
from crawler.enrich import Enricher
from crawler.errors import StoreError
from crawler.records import CommunityKey, CommunityObservation, MetricPoint, Post, Record

KEY = CommunityKey("x", "query", "DeepFaceLab")


def real_error(sql: str, setup: str = "", **connect: Any) -> OperationalError:
    """The OperationalError SQLAlchemy raises for `sql` on a fresh in-memory SQLite."""
    eng = create_engine("sqlite://", connect_args=connect)
    with eng.connect() as conn:
        for statement in filter(None, setup.split(";")):
            conn.exec_driver_sql(statement)
        with pytest.raises(OperationalError) as info:
            conn.exec_driver_sql(sql)
    return info.value


def locked_error(tmp_path: Path) -> OperationalError:
    db = tmp_path / "locked.db"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("create table t (x)")
    holder.execute("BEGIN IMMEDIATE")
    try:
        eng = create_engine(f"sqlite:///{db}", connect_args={"timeout": 0})
        with eng.connect() as conn, pytest.raises(OperationalError) as info:
            conn.exec_driver_sql("insert into t values (1)")
        eng.dispose()
    finally:
        holder.close()
    return info.value


def refused_error() -> OperationalError:
    """psycopg's own error for a port nobody listens on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free once closed: nothing listens there
    eng = create_engine(
        f"postgresql+psycopg://nobody@127.0.0.1:{port}/x", connect_args={"connect_timeout": 2}
    )
    with pytest.raises(OperationalError) as info:
        eng.connect()
    return info.value


def test_full_database_is_not_transient_and_becomes_one_sentence(tmp_path: Path) -> None:
    full = real_error(
        "insert into t values (randomblob(100000))", setup="create table t (x); PRAGMA max_page_count = 5"
    )
    calls = []

    def write() -> None:
        calls.append(1)
        raise StoreError("the database refused the write: database or disk is full") from full

    assert is_full(full) and not is_transient(full)
    with pytest.raises(DatabaseFull, match=r"^the database is full: database or disk is full$"):
        write_with_retries(write, what="test", sleep=lambda _s: None)
    assert len(calls) == 1


def test_locked_and_refused_are_transient_and_retried_until_they_pass(tmp_path: Path) -> None:
    failures = [locked_error(tmp_path), refused_error()]
    assert all(is_transient(f) for f in failures)
    sleeps: list[float] = []

    def write() -> str:
        if failures:
            raise failures.pop(0)
        return "stored"

    assert write_with_retries(write, what="test", sleep=sleeps.append) == "stored"
    assert sleeps == [0.5, 1.0]


def test_transient_failures_are_given_up_after_the_bound(tmp_path: Path) -> None:
    locked = locked_error(tmp_path)
    sleeps: list[float] = []
    calls = []

    def write() -> None:
        calls.append(1)
        raise locked

    with pytest.raises(StoreError, match="stayed unavailable for 6 attempts: database is locked"):
        write_with_retries(write, what="test", sleep=sleeps.append)
    assert len(calls) == 6
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 8.0]


def test_other_errors_are_not_retried() -> None:
    broken = real_error("select * from no_such_table")
    calls = []

    def write() -> None:
        calls.append(1)
        raise broken

    assert not is_transient(broken)
    with pytest.raises(StoreError, match="no such table"):
        write_with_retries(write, what="test", sleep=lambda _s: None)
    assert len(calls) == 1


def batch(config: Any) -> list[Any]:
    enrich = Enricher(config)
    now = datetime(2026, 1, 5, 12, tzinfo=UTC)
    posts = [
        Post(
            KEY,
            str(1000 + i),
            created_at=now - timedelta(minutes=i),
            title=f"DeepFaceLab {i}",
            author=f"user{i}",
        )
        for i in range(30)
    ]
    points = [MetricPoint(KEY, "posts_per_day", 100 + d, now - timedelta(days=d), "x_api") for d in range(5)]
    account = CommunityKey("x", "account", "someone")
    seen = [
        CommunityObservation(account, now, "x_api", status="suspended", status_reason="suspended", metrics={})
    ]
    records: list[Record] = [*posts, *points, *seen]
    return [enrich(r) for r in records]


def counts(engine: Engine) -> dict[str, int]:
    tables = ("communities", "posts", "mentions", "metrics", "status_changes")
    with engine.connect() as conn:
        return {t: conn.execute(text(f"select count(*) from {t}")).scalar_one() for t in tables}  # noqa: S608


def test_a_batch_rewritten_after_a_lost_acknowledgement_is_stored_once(
    engine: Engine, make_config: Any
) -> None:
    config = make_config({"x": {"queries": ["DeepFaceLab"], "accounts": ["someone"]}})
    store = Store(engine, batch_size=1000)
    store.sync_tools(config.tools)
    run_id = runlog.start_run(engine, trigger="manual", version="test", pid=1, host="test")
    records = batch(config)
    lost = [refused_error()]

    def write_then_lose_the_ack() -> None:
        store.write(records, run_id)  # committed...
        if lost:
            raise lost.pop(0)  # ...but the client never heard so

    write_with_retries(write_then_lose_the_ack, what="test", sleep=lambda _s: None)
    twice = counts(engine)
    store.write(records, run_id)

    assert twice == counts(engine)
    assert twice == {"communities": 2, "posts": 30, "mentions": 30, "metrics": 5, "status_changes": 1}
