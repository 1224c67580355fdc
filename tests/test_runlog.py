"""The run log and the run lock, on SQLite and the real PostgreSQL.

The contention tests start two real processes that race for the lock at the same moment
(a multiprocessing barrier); who waits for whom is driven by events, never by timing.
"""

from __future__ import annotations

import multiprocessing as mp
import socket
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from crawler.db import runlog
from crawler.db.engine import make_engine
from crawler.errors import LockTimeout
from crawler.records import utcnow
from crawler.sources.base import SourceStats

HOST = socket.gethostname()


def rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def test_run_left_running_by_a_dead_process_is_aborted(engine: Engine) -> None:
    dead = runlog.start_run(engine, trigger="schedule", version="0.1", pid=4242, host=HOST)
    alive = runlog.start_run(engine, trigger="manual", version="0.1", pid=4343, host=HOST)
    n = runlog.abort_stale_runs(engine, host=HOST, is_alive=lambda pid: pid == 4343)
    assert n == 1
    got = dict(
        (r[0], r[1:]) for r in rows(engine, "SELECT id, status, error_summary, finished_at FROM crawl_runs")
    )
    assert got[dead][:2] == ("aborted", "process 4242 died") and got[dead][2] is not None
    assert got[alive] == ("running", None, None)
    assert runlog.abort_stale_runs(engine, host=HOST, is_alive=lambda pid: pid == 4343) == 0


def test_run_of_another_host_is_aborted_only_without_a_lock(engine: Engine) -> None:
    orphan = runlog.start_run(engine, trigger="schedule", version="0.1", pid=7, host="other")
    holder = runlog.start_run(engine, trigger="schedule", version="0.1", pid=8, host="other")
    runlog.RunLock(
        engine,
        ["source:reddit"],
        holder="other:8",
        wait_seconds=0,
        stale_seconds=3600,
        is_alive=lambda pid: True,
    ).acquire(holder)
    # A run still inside the grace period may be waiting for the lock: left alone.
    assert runlog.abort_stale_runs(engine, host=HOST, is_alive=lambda pid: False) == 0
    assert runlog.abort_stale_runs(engine, host=HOST, is_alive=lambda pid: False, grace_seconds=0) == 1
    got = dict(rows(engine, "SELECT id, status FROM crawl_runs"))
    assert got == {orphan: "aborted", holder: "running"}


def test_finish_run_sums_its_sources(engine: Engine) -> None:
    run_id = runlog.start_run(engine, trigger="manual", version="0.1", pid=1, host=HOST)
    runlog.start_source(engine, run_id, "reddit")
    runlog.finish_source(
        engine,
        run_id,
        "reddit",
        "partial",
        SourceStats(
            requests=12,
            items=300,
            errors=1,
            retries=2,
            rate_limited_seconds=31.5,
            failures=["r/deepfakes: 404 banned"],
        ),
    )
    runlog.finish_source(engine, run_id, "x", "skipped", SourceStats(), "set X_BEARER_TOKEN to enable it")
    runlog.finish_run(engine, run_id, "partial")
    assert rows(
        engine,
        "SELECT source, status, requests, items, errors, retries, rate_limited_seconds, "
        "error_summary FROM run_sources ORDER BY source",
    ) == [
        ("reddit", "partial", 12, 300, 1, 2, 31.5, "r/deepfakes: 404 banned"),
        ("x", "skipped", 0, 0, 0, 0, 0.0, "set X_BEARER_TOKEN to enable it"),
    ]
    status, requests, items, errors, finished = rows(
        engine, "SELECT status, requests, items, errors, finished_at FROM crawl_runs"
    )[0]
    assert (status, requests, items, errors) == ("partial", 12, 300, 1) and finished is not None


# --------------------------------------------------------------------------- the lock


def _lock(engine: Engine, holder: str, **kw: Any) -> runlog.RunLock:
    kw.setdefault("wait_seconds", 0)
    kw.setdefault("stale_seconds", 3600)
    kw.setdefault("poll_seconds", 0.05)
    return runlog.RunLock(engine, ["source:reddit", "source:x"], holder=holder, **kw)


def test_lock_held_by_a_live_process_times_out_naming_the_holder(engine: Engine) -> None:
    first = _lock(engine, "otherhost:99")
    first.acquire(17)
    with pytest.raises(
        LockTimeout, match=r"another crawl \(run 17, pid 99 on host otherhost\) has held the lock"
    ):
        _lock(engine, f"{HOST}:1").acquire(18)
    # Nothing half-taken: the loser holds no scope.
    assert rows(engine, "SELECT DISTINCT holder FROM run_locks") == [("otherhost:99",)]


def test_lock_is_all_or_nothing_across_scopes(engine: Engine) -> None:
    runlog.RunLock(engine, ["source:x"], holder="otherhost:5", wait_seconds=0, stale_seconds=3600).acquire(1)
    with pytest.raises(LockTimeout):
        _lock(engine, f"{HOST}:1").acquire(2)  # wants reddit and x; x is taken
    assert rows(engine, "SELECT scope, holder FROM run_locks") == [("source:x", "otherhost:5")]


def test_stale_lock_without_heartbeat_is_taken_over(engine: Engine) -> None:
    old = utcnow() - timedelta(hours=2)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO run_locks (scope, run_id, holder, acquired_at, heartbeat_at) "
                "VALUES ('source:reddit', 1, 'otherhost:5', :t, :t)"
            ),
            {"t": old.replace(tzinfo=None)},
        )
    lock = _lock(engine, f"{HOST}:2", stale_seconds=600)
    lock.acquire(2)
    assert rows(engine, "SELECT scope, run_id, holder FROM run_locks ORDER BY scope") == [
        ("source:reddit", 2, f"{HOST}:2"),
        ("source:x", 2, f"{HOST}:2"),
    ]


def test_lock_of_a_dead_process_on_this_host_is_taken_over(engine: Engine) -> None:
    _lock(engine, f"{HOST}:4242").acquire(1)
    _lock(engine, f"{HOST}:5", is_alive=lambda pid: pid != 4242).acquire(2)
    assert rows(engine, "SELECT DISTINCT holder FROM run_locks") == [(f"{HOST}:5",)]


def test_release_leaves_a_lock_taken_over_by_another_crawl(engine: Engine) -> None:
    mine = _lock(engine, "otherhost:1")
    with mine:
        assert mine.heartbeat()
        with engine.begin() as conn:
            conn.execute(text("UPDATE run_locks SET holder = 'otherhost:2'"))
        assert not mine.heartbeat()
    assert rows(engine, "SELECT DISTINCT holder FROM run_locks") == [("otherhost:2",)]


def _contender(url: str, name: str, wait: float, barrier: Any, hold: Any, out: Any) -> None:
    """One crawl process: race for the lock, report, hold it until told to let go."""
    import os

    engine = make_engine(url)
    lock = runlog.RunLock(
        engine,
        ["source:reddit", "source:github"],
        holder=f"{socket.gethostname()}:{os.getpid()}",
        wait_seconds=wait,
        stale_seconds=3600,
        poll_seconds=0.05,
    )
    # Each event carries the instant it happened (CLOCK_MONOTONIC is one clock for every
    # process here): the queue's order is not the events' order, since each process feeds
    # it from a thread of its own. "released" is stamped before the release is called, so a
    # correct lock always shows the winner's release before the loser's acquisition.
    barrier.wait()
    try:
        lock.acquire(None)
    except LockTimeout as exc:
        out.put((name, "timeout", str(exc), time.monotonic()))
        return
    out.put((name, "acquired", "", time.monotonic()))
    hold.wait(60)
    releasing = time.monotonic()
    lock.release()
    out.put((name, "released", "", releasing))
    engine.dispose()


def _race(url: str, waits: tuple[float, float]) -> tuple[list[tuple[str, str, str, float]], Any, list[Any]]:
    ctx = mp.get_context("spawn")
    barrier, hold, out = ctx.Barrier(2), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_contender, args=(url, name, w, barrier, hold, out))
        for name, w in zip(("a", "b"), waits, strict=True)
    ]
    for p in procs:
        p.start()
    return [out.get(timeout=60)], hold, [procs, out]


@pytest.mark.slow
def test_two_processes_started_together_one_gets_the_lock_the_other_times_out(
    db_url: str, engine: Engine
) -> None:
    events, hold, (procs, out) = _race(db_url, (0.3, 0.3))
    events.append(out.get(timeout=60))  # the loser gives up while the winner holds on
    hold.set()
    events.append(out.get(timeout=60))
    for p in procs:
        p.join(30)
    outcomes = sorted(e[1] for e in events)
    assert outcomes == ["acquired", "released", "timeout"]
    timeout_msg = next(e[2] for e in events if e[1] == "timeout")
    assert "has held the lock since" in timeout_msg and "try again later" in timeout_msg
    assert rows(engine, "SELECT count(*) FROM run_locks") == [(0,)]


@pytest.mark.slow
def test_two_processes_started_together_the_second_waits_for_the_first(db_url: str, engine: Engine) -> None:
    events, hold, (procs, out) = _race(db_url, (60, 60))
    assert events[0][1] == "acquired"
    hold.set()  # the winner lets go; the waiting one must now get it
    events += [out.get(timeout=60) for _ in range(3)]
    for p in procs:
        p.join(30)
    winner = events[0][0]
    loser = "b" if winner == "a" else "a"
    order = [(n, what) for n, what, _msg, _at in sorted(events, key=lambda e: e[3])]
    assert order.index((winner, "released")) < order.index((loser, "acquired"))
    assert sorted(order) == sorted(
        [(winner, "acquired"), (winner, "released"), (loser, "acquired"), (loser, "released")]
    )


def test_a_run_marked_aborted_marks_its_running_sources_aborted(engine: Engine) -> None:
    dead = runlog.start_run(engine, trigger="schedule", version="0.1", pid=4242, host=HOST)
    runlog.start_source(engine, dead, "reddit")
    runlog.finish_source(engine, dead, "x", "ok", SourceStats(requests=3, items=2))
    assert runlog.abort_stale_runs(engine, host=HOST, is_alive=lambda pid: False) == 1
    got = dict(rows(engine, "SELECT source, status FROM run_sources WHERE run_id = :r", r=dead))
    assert got == {"reddit": "aborted", "x": "ok"}


def test_a_child_closed_by_the_scheduler_closes_its_running_sources(engine: Engine) -> None:
    spawned = utcnow()
    run_id = runlog.start_run(engine, trigger="schedule", version="0.1", pid=5151, host=HOST)
    runlog.start_source(engine, run_id, "github")
    closed = runlog.close_child_run(
        engine, pid=5151, host=HOST, spawned_at=spawned, status="failed", reason="timed out after 1 min"
    )
    assert closed == run_id
    assert rows(engine, "SELECT status, error_summary FROM run_sources WHERE run_id = :r", r=run_id) == [
        ("failed", "timed out after 1 min")
    ]
    assert rows(engine, "SELECT status FROM crawl_runs WHERE id = :r", r=run_id) == [("failed",)]


def test_source_statuses_are_the_run_vocabulary_plus_skipped() -> None:
    assert set(runlog.SOURCE_STATUSES) == set(runlog.RUN_STATUSES) | {"skipped"}


def test_a_crawl_that_waited_for_the_lock_starts_when_it_took_it(make_config: Any) -> None:
    """The run log never shows two runs of one source overlapping: started_at is lock time."""
    import threading

    from crawler.run import run_crawl

    config = make_config({"github": {"repos": []}}, "[crawler]\nlock_wait_seconds = 30\n")
    eng = make_engine(config.database_url)
    from crawler.db.engine import upgrade

    upgrade(eng)
    first = runlog.start_run(eng, trigger="manual", version="0.1", pid=1, host=HOST)
    lock = runlog.RunLock(
        eng,
        ["source:none"],
        holder=f"{HOST}:1",
        wait_seconds=0,
        stale_seconds=3600,
        is_alive=lambda pid: True,
    )
    lock.acquire(first)
    released: list[Any] = []

    def release_later() -> None:
        import time

        time.sleep(1.5)
        runlog.finish_run(eng, first, "ok")
        released.append(utcnow())
        lock.release()

    t = threading.Thread(target=release_later)
    t.start()
    result = run_crawl(config)
    t.join()
    ((started, waited),) = rows(
        eng, "SELECT started_at, lock_wait_seconds FROM crawl_runs WHERE id = :r", r=result.run_id
    )
    (first_end,) = rows(eng, "SELECT finished_at FROM crawl_runs WHERE id = :r", r=first)[0]
    eng.dispose()
    assert waited is not None and waited > 0
    assert released
    assert _when(started) >= _when(first_end)


def _when(value: Any) -> Any:
    """A stored time as an aware datetime (SQLite answers raw queries with ISO text)."""
    from datetime import UTC, datetime

    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when if when.tzinfo else when.replace(tzinfo=UTC)
