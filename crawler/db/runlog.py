"""The run log (crawl_runs, run_sources) and the run lock (run_locks).

Every crawl leaves one `crawl_runs` row and one `run_sources` row per source, so a
researcher can see what each crawl cost and where it failed. A crawl whose process died is
marked `aborted` by the next crawl instead of staying `running` forever.

The run lock keeps two crawls of the same scope from overlapping (two schedulers, or a
manual crawl during a scheduled one). It is a set of rows with the scope as primary key:
inserting them all in one transaction is atomic on SQLite and PostgreSQL alike, so of two
processes started in the same second exactly one wins, without advisory locks that only one
of the two databases has.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import Engine, Table, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError

from crawler.db import models
from crawler.db.retry import write_with_retries
from crawler.db.store_writes import insert_for
from crawler.errors import LockTimeout
from crawler.records import utcnow
from crawler.stats import SourceStats

log = logging.getLogger("dfwatch.runlog")

_T = models.Base.metadata.tables
RUNS: Table = _T["crawl_runs"]
SOURCES: Table = _T["run_sources"]
LOCKS: Table = _T["run_locks"]

RUN_STATUSES = ("running", "ok", "partial", "failed", "aborted")
# run_sources.status: the run's vocabulary, plus skipped (not run: no credentials, nothing
# to do). docs/schema.md documents both.
SOURCE_STATUSES = ("running", "ok", "partial", "failed", "aborted", "skipped")
# A run on another host cannot be asked whether its process lives; one that has held no
# lock for this long is taken as dead (a run waiting for the lock holds none meanwhile,
# so this must exceed the longest lock wait).
FOREIGN_RUN_GRACE_SECONDS = 6 * 3600.0

_R = TypeVar("_R")


def _in_transaction(engine: Engine, what: str, body: Callable[[Connection], _R]) -> _R:
    """Run `body` in one transaction, again after a transient database failure (bounded).

    For the idempotent run-log writes (upserts, updates, deletes): a PostgreSQL restart while
    a crawl closes its books must not turn a finished crawl into an internal error.
    """

    def attempt() -> _R:
        with engine.begin() as conn:
            return body(conn)

    return write_with_retries(attempt, what=what)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (signal 0 probes, sends nothing)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, but belongs to someone else
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A process that exited but was not reaped (its parent died and PID 1 does not reap, as
    in containers started without an init) still answers signal 0, yet holds nothing."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rpartition(b")")[2].split()[:1] == [b"Z"]
    except OSError:  # no /proc (not Linux), or it is gone by now
        return False


# --------------------------------------------------------------------------- runs


def start_run(engine: Engine, *, trigger: str, version: str, pid: int, host: str) -> int:
    """Open a crawl_runs row (status running) and return its id."""
    with engine.begin() as conn:
        result = conn.execute(
            insert(RUNS).values(
                started_at=utcnow(),
                trigger=trigger,
                status="running",
                requests=0,
                items=0,
                errors=0,
                version=version,
                pid=pid,
                host=host,
            )
        )
        run_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
    if run_id is None:  # pragma: no cover - both dialects return the key
        raise RuntimeError("the database returned no id for the new run")
    log.info("run=%d started trigger=%s pid=%d host=%s", run_id, trigger, pid, host)
    return int(run_id)


def abort_stale_runs(
    engine: Engine,
    *,
    host: str,
    is_alive: Callable[[int], bool] = pid_alive,
    grace_seconds: float = FOREIGN_RUN_GRACE_SECONDS,
) -> int:
    """Mark runs left `running` by dead processes as aborted; returns how many.

    A run of this host whose pid is gone died. A run of another host (whose pid we cannot
    probe) is taken as dead when it holds no run lock and started over `grace_seconds` ago.
    """
    now = utcnow()
    aborted = 0
    with engine.begin() as conn:
        holders = {r for (r,) in conn.execute(select(LOCKS.c.run_id).where(LOCKS.c.run_id.is_not(None)))}
        running = conn.execute(
            select(RUNS.c.id, RUNS.c.pid, RUNS.c.host, RUNS.c.started_at).where(RUNS.c.status == "running")
        ).all()
        for run_id, pid, run_host, started_at in running:
            if run_host == host and pid is not None:
                if is_alive(pid):
                    continue
                reason = f"process {pid} died"
            elif run_id in holders or started_at > now - timedelta(seconds=grace_seconds):
                continue
            else:
                reason = f"process {pid} on host {run_host} holds no run lock; presumed dead"
            done = conn.execute(
                update(RUNS)
                .where(RUNS.c.id == run_id, RUNS.c.status == "running")
                .values(status="aborted", finished_at=now, error_summary=reason)
            )
            if done.rowcount:
                _end_running_sources(conn, run_id, "aborted", reason)
                aborted += 1
                log.warning("run=%d marked aborted: %s", run_id, reason)
    return aborted


def start_source(engine: Engine, run_id: int, source: str) -> None:
    """Open the source's run_sources row (status running)."""

    def body(conn: Connection) -> None:
        ins = insert_for(conn, SOURCES).values(
            run_id=run_id,
            source=source,
            status="running",
            requests=0,
            items=0,
            errors=0,
            retries=0,
            rate_limited_seconds=0.0,
        )
        conn.execute(
            ins.on_conflict_do_update(index_elements=["run_id", "source"], set_={"status": "running"})
        )

    _in_transaction(engine, f"run={run_id} source={source} start", body)


def stats_columns(stats: SourceStats) -> dict[str, Any]:
    """A source's (or shard's) counters as the columns run_sources and run_shards share."""
    return {
        "requests": stats.requests,
        "items": stats.items,
        "errors": stats.errors,
        "retries": stats.retries,
        "rate_limited_seconds": float(stats.rate_limited_seconds),
        "cost_usd": None if stats.cost_usd is None else round(float(stats.cost_usd), 6),
    }


def finish_source(
    engine: Engine,
    run_id: int,
    source: str,
    status: str,
    stats: SourceStats,
    error_summary: str | None = None,
) -> None:
    """Close the source's row with its counters (works without start_source, e.g. skipped)."""
    if status not in SOURCE_STATUSES:
        raise ValueError(f"unknown source status {status!r}")
    values = {
        "status": status,
        **stats_columns(stats),
        "error_summary": error_summary if error_summary is not None else stats.error_summary,
    }

    def body(conn: Connection) -> None:
        ins = insert_for(conn, SOURCES).values(run_id=run_id, source=source, **values)
        conn.execute(ins.on_conflict_do_update(index_elements=["run_id", "source"], set_=values))

    _in_transaction(engine, f"run={run_id} source={source} finish", body)
    log.info(
        "run=%d source=%s status=%s requests=%d items=%d errors=%d retries=%d rate_limited=%.1fs%s%s",
        run_id,
        source,
        status,
        stats.requests,
        stats.items,
        stats.errors,
        stats.retries,
        stats.rate_limited_seconds,
        "" if stats.cost_usd is None else f" cost=${stats.cost_usd:.3f}",
        f" deferred={stats.deferred}" if stats.deferred else "",
    )


def spend_since(engine: Engine, since: datetime) -> dict[str, tuple[float, int]]:
    """USD spent per source by runs started at or after `since`: (sum of cost_usd, runs)."""
    s = SOURCES.c
    q = (
        select(s.source, func.sum(s.cost_usd), func.count())
        .join(RUNS, RUNS.c.id == s.run_id)
        .where(RUNS.c.started_at >= since, s.cost_usd.is_not(None))
        .group_by(s.source)
    )
    with engine.connect() as conn:
        return {source: (float(total or 0.0), int(n)) for source, total, n in conn.execute(q)}


def finish_run(engine: Engine, run_id: int, status: str, error_summary: str | None = None) -> None:
    """Close the run: status, finished_at, and the sums of its sources' counters."""
    if status not in RUN_STATUSES:
        raise ValueError(f"unknown run status {status!r}")
    s = SOURCES.c

    def body(conn: Connection) -> tuple[int, int, int]:
        requests, items, errors = conn.execute(
            select(
                func.coalesce(func.sum(s.requests), 0),
                func.coalesce(func.sum(s["items"]), 0),
                func.coalesce(func.sum(s.errors), 0),
            ).where(s.run_id == run_id)
        ).one()
        if status in ("aborted", "failed"):
            _end_running_sources(conn, run_id, status, error_summary)
        conn.execute(
            update(RUNS)
            .where(RUNS.c.id == run_id)
            .values(
                status=status,
                finished_at=utcnow(),
                requests=int(requests),
                items=int(items),
                errors=int(errors),
                error_summary=error_summary,
            )
        )
        return int(requests), int(items), int(errors)

    requests, items, errors = _in_transaction(engine, f"run={run_id} finish", body)
    log.info(
        "run=%d finished status=%s requests=%d items=%d errors=%d", run_id, status, requests, items, errors
    )


def _end_running_sources(conn: Connection, run_id: int, status: str, reason: str | None) -> None:
    """A run that ends aborted or failed ends its still-running sources the same way."""
    conn.execute(
        update(SOURCES)
        .where(SOURCES.c.run_id == run_id, SOURCES.c.status == "running")
        .values(status=status, error_summary=reason)
    )


def lock_taken(engine: Engine, run_id: int, waited_seconds: float) -> None:
    """The run holds its lock now: `started_at` becomes this moment, and the wait is recorded.

    So the run log never shows two runs of one source overlapping: a run's time starts when
    the lock it waited for was released to it.
    """

    def body(conn: Connection) -> None:
        conn.execute(
            update(RUNS)
            .where(RUNS.c.id == run_id)
            .values(started_at=utcnow(), lock_wait_seconds=round(float(waited_seconds), 3))
        )

    _in_transaction(engine, f"run={run_id} lock taken", body)


# --------------------------------------------------------------------------- ended by others

# A child's run row is written after the child starts; a row older than the spawn minus
# this slack belongs to an earlier process that happened to have the same pid.
PID_REUSE_SLACK = timedelta(seconds=5)


def close_child_run(
    engine: Engine,
    *,
    pid: int,
    host: str,
    spawned_at: datetime,
    status: str,
    reason: str,
    trigger: str = "schedule",
    version: str = "",
    insert_if_missing: bool = False,
) -> int | None:
    """Close the newest `running` run of process `pid` (a scheduler's child it had to end).

    A crawl killed at its timeout, or terminated at shutdown, cannot finish its own row; the
    scheduler knows why it ended the process and closes the row (and its running sources)
    with that reason. With `insert_if_missing`, a child that died before writing its row
    still leaves one. Returns the run id, or None.
    """
    if status not in RUN_STATUSES:
        raise ValueError(f"unknown run status {status!r}")
    now = utcnow()

    def body(conn: Connection) -> int | None:
        run_id = conn.execute(
            select(RUNS.c.id)
            .where(
                RUNS.c.status == "running",
                RUNS.c.pid == pid,
                or_(RUNS.c.host == host, RUNS.c.host.is_(None)),
                RUNS.c.started_at >= spawned_at - PID_REUSE_SLACK,
            )
            .order_by(RUNS.c.id.desc())
            .limit(1)
        ).scalar()
        if run_id is None:
            if not insert_if_missing:
                return None
            new_id = conn.execute(
                insert(RUNS).values(
                    started_at=spawned_at,
                    finished_at=now,
                    trigger=trigger,
                    status=status,
                    error_summary=reason,
                    version=version,
                    pid=pid,
                    host=host,
                )
            ).inserted_primary_key
            log.warning(
                "run=%s pid=%d recorded as %s: %s (the crawl had not started its run)",
                new_id[0] if new_id else None,
                pid,
                status,
                reason,
            )
            return int(new_id[0]) if new_id else None
        _end_running_sources(conn, run_id, status, reason)
        conn.execute(
            update(RUNS)
            .where(RUNS.c.id == run_id)
            .values(status=status, finished_at=now, error_summary=reason)
        )
        log.warning("run=%s pid=%d marked %s: %s", run_id, pid, status, reason)
        return int(run_id)

    return _in_transaction(engine, f"pid={pid} close run", body)


def release_locks_of(engine: Engine, *, pid: int, host: str) -> int:
    """Delete the run locks still held by the (reaped, so certainly dead) process `pid`."""

    def body(conn: Connection) -> int:
        return int(conn.execute(delete(LOCKS).where(LOCKS.c.holder == holder_of(host, pid))).rowcount or 0)

    n = _in_transaction(engine, f"pid={pid} release locks", body)
    if n:
        log.warning("released %d run lock(s) left by pid=%d", n, pid)
    return n


# --------------------------------------------------------------------------- lock


def _is_contention(exc: OperationalError) -> bool:
    """SQLite answers a competing writer with 'database is locked' (busy), not a conflict."""
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text


class RunLock:
    """Holds every scope in `scopes` or none; see the module docstring.

    `holder` is "host:pid"; a lock held by a dead pid on this host, or whose heartbeat is
    older than `stale_seconds`, is taken over.
    """

    def __init__(
        self,
        engine: Engine,
        scopes: Sequence[str],
        *,
        holder: str,
        wait_seconds: float,
        stale_seconds: float,
        poll_seconds: float = 0.5,
        is_alive: Callable[[int], bool] = pid_alive,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not scopes:
            raise ValueError("a run lock needs at least one scope")
        self.engine = engine
        self.scopes = sorted(set(scopes))
        self.holder = holder
        self.wait_seconds = wait_seconds
        self.stale_seconds = stale_seconds
        self.poll_seconds = max(0.01, poll_seconds)
        self.is_alive = is_alive
        self._sleep = sleep
        self._clock = clock
        self.held = False
        self.run_id: int | None = None

    def acquire(self, run_id: int | None) -> None:
        """Take all scopes, waiting at most `wait_seconds`; raise LockTimeout otherwise."""
        deadline = self._clock() + self.wait_seconds
        attempt = 0
        while True:
            attempt += 1
            if self._try(run_id):
                self.held, self.run_id = True, run_id
                log.info(
                    "run=%s lock acquired scopes=%s holder=%s attempt=%d",
                    run_id,
                    ",".join(self.scopes),
                    self.holder,
                    attempt,
                )
                return
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise LockTimeout(self._describe_holder())
            log.info(
                "run=%s lock busy scopes=%s attempt=%d wait=%.1fs",
                run_id,
                ",".join(self.scopes),
                attempt,
                min(self.poll_seconds, remaining),
            )
            self._sleep(min(self.poll_seconds, remaining))

    def _try(self, run_id: int | None) -> bool:
        now = utcnow()
        try:
            with self.engine.begin() as conn:
                self._clear_stale(conn, now)
                conn.execute(
                    insert(LOCKS),
                    [
                        {
                            "scope": s,
                            "run_id": run_id,
                            "holder": self.holder,
                            "acquired_at": now,
                            "heartbeat_at": now,
                        }
                        for s in self.scopes
                    ],
                )
            return True
        except IntegrityError:
            return False
        except OperationalError as exc:
            if _is_contention(exc):
                return False
            raise

    def _clear_stale(self, conn: Connection, now: datetime) -> None:
        """Delete our scopes' rows whose holder is dead or silent (exactly the rows seen)."""
        c = LOCKS.c
        rows = conn.execute(select(c.scope, c.holder, c.heartbeat_at).where(c.scope.in_(self.scopes))).all()
        for scope, holder, heartbeat_at in rows:
            why = self._stale_reason(holder, heartbeat_at, now)
            if why is None:
                continue
            # Conditional on what we saw: of two processes taking over the same stale row,
            # the second deletes nothing and its insert then fails as it should.
            gone = conn.execute(
                delete(LOCKS).where(c.scope == scope, c.holder == holder, c.heartbeat_at == heartbeat_at)
            )
            if gone.rowcount:
                log.warning("lock scope=%s taken over from holder=%s: %s", scope, holder, why)

    def _stale_reason(self, holder: str, heartbeat_at: datetime, now: datetime) -> str | None:
        if heartbeat_at < now - timedelta(seconds=self.stale_seconds):
            return f"no heartbeat since {heartbeat_at.isoformat()}"
        host, pid = _split_holder(holder)
        my_host, _ = _split_holder(self.holder)
        if host == my_host and pid is not None and holder != self.holder and not self.is_alive(pid):
            return f"process {pid} is dead"
        return None

    def _describe_holder(self) -> str:
        c = LOCKS.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(c.run_id, c.holder, c.acquired_at)
                .where(c.scope.in_(self.scopes))
                .order_by(c.acquired_at)
            ).first()
        if row is None:  # released just now: say so rather than invent a holder
            return "another crawl held the lock until just now; try again later"
        host, pid = _split_holder(row.holder)
        return (
            f"another crawl (run {row.run_id}, pid {pid} on host {host}) has held the lock since "
            f"{row.acquired_at.isoformat(timespec='seconds')}; try again later"
        )

    def heartbeat(self) -> bool:
        """Refresh our rows; False if the lock was taken over meanwhile (we held it too long)."""
        c = LOCKS.c

        def body(conn: Connection) -> int:
            return conn.execute(
                update(LOCKS)
                .where(c.scope.in_(self.scopes), c.holder == self.holder)
                .values(heartbeat_at=utcnow())
            ).rowcount

        n = _in_transaction(self.engine, f"lock heartbeat holder={self.holder}", body)
        if n < len(self.scopes):
            log.warning(
                "lock scopes=%s holder=%s lost (%d of %d rows left)",
                ",".join(self.scopes),
                self.holder,
                n,
                len(self.scopes),
            )
            return False
        return True

    def release(self) -> None:
        """Drop our rows (only ours: a lock taken over by another crawl stays theirs)."""
        c = LOCKS.c

        def body(conn: Connection) -> None:
            conn.execute(delete(LOCKS).where(c.scope.in_(self.scopes), c.holder == self.holder))

        _in_transaction(self.engine, f"lock release holder={self.holder}", body)
        if self.held:
            log.info("run=%s lock released scopes=%s", self.run_id, ",".join(self.scopes))
        self.held = False

    def __enter__(self) -> RunLock:
        if not self.held:
            self.acquire(self.run_id)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def holder_of(host: str, pid: int) -> str:
    """The `run_locks.holder` of a process: "host:pid" (read back by `_split_holder`)."""
    return f"{host}:{pid}"


def _split_holder(holder: str) -> tuple[str, int | None]:
    host, _, pid = holder.rpartition(":")
    try:
        return host, int(pid)
    except ValueError:
        return holder, None
