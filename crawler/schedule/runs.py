"""What the scheduler writes into the run log when it had to end a crawl itself.

A crawl killed at its timeout, or terminated at shutdown, cannot finish its own
`crawl_runs` row: the row would stay `running` until the next crawl notices the dead pid.
The scheduler knows why it killed the process, so it closes the row with that reason, and
frees the run locks the dead process held (their holder is `host:pid`, see crawler/run.py),
so the next crawl does not wait for a lock nobody will release.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, insert, or_, select, update

from crawler import __version__
from crawler.db.runlog import LOCKS, RUNS, SOURCES, holder_of

log = logging.getLogger("dfwatch.schedule")

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
    insert_if_missing: bool = False,
) -> int | None:
    """Close the newest `running` run of the child `pid` as `status` with `reason`.

    With `insert_if_missing`, a child that died before writing its row still leaves one
    (a timeout or a shutdown is always recorded). Returns the run id, or None.
    """
    runs, sources = RUNS, SOURCES
    now = datetime.now(UTC)
    with engine.begin() as conn:
        run_id = conn.execute(
            select(runs.c.id)
            .where(
                runs.c.status == "running",
                runs.c.pid == pid,
                or_(runs.c.host == host, runs.c.host.is_(None)),
                runs.c.started_at >= spawned_at - PID_REUSE_SLACK,
            )
            .order_by(runs.c.id.desc())
            .limit(1)
        ).scalar()
        if run_id is None:
            if not insert_if_missing:
                return None
            run_id = conn.execute(
                insert(runs).values(
                    started_at=spawned_at,
                    finished_at=now,
                    trigger=trigger,
                    status=status,
                    error_summary=reason,
                    version=__version__,
                    pid=pid,
                    host=host,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            log.warning(
                "run=%s pid=%d recorded as %s: %s (the crawl had not started its run)",
                run_id,
                pid,
                status,
                reason,
            )
            return int(run_id)
        conn.execute(
            update(runs)
            .where(runs.c.id == run_id)
            .values(status=status, finished_at=now, error_summary=reason)
        )
        conn.execute(
            update(sources)
            .where(sources.c.run_id == run_id, sources.c.status == "running")
            .values(status=status, error_summary=reason)
        )
    log.warning("run=%s pid=%d marked %s: %s", run_id, pid, status, reason)
    return int(run_id)


def release_child_locks(engine: Engine, *, pid: int, host: str) -> int:
    """Delete the run locks still held by the (reaped, so certainly dead) child `pid`."""
    locks = LOCKS
    with engine.begin() as conn:
        n = conn.execute(delete(locks).where(locks.c.holder == holder_of(host, pid))).rowcount
    if n:
        log.warning("released %d run lock(s) left by pid=%d", n, pid)
    return int(n or 0)
