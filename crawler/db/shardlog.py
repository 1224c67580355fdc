"""The shard log (run_shards): what each shard of a distributed crawl did, and its sums.

The coordinator writes every shard's row as `queued` before it sends the shard; a worker
marks it `running` when it starts (one more attempt) and closes it with its counters. A
row that is closed (ok, partial, failed) stays closed: a redelivered message of a closed
shard is skipped, so a shard is counted once however often it was delivered. When the run
closes, the shards of each source are summed into its `run_sources` row.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, Table, case, func, select, update
from sqlalchemy.engine import Connection

from crawler.db import models
from crawler.db.runlog import _in_transaction, stats_columns
from crawler.db.store_writes import insert_for
from crawler.records import utcnow
from crawler.stats import SourceStats

log = logging.getLogger("dfwatch.runlog")

SHARDS: Table = models.Base.metadata.tables["run_shards"]
RUNS: Table = models.Base.metadata.tables["crawl_runs"]
SHARD_STATUSES = ("queued", "running", "ok", "partial", "failed")
DONE = ("ok", "partial", "failed")


@dataclass
class ShardRow:
    """One row of run_shards as the worker and the coordinator read it."""

    run_id: int
    source: str
    shard: int
    targets: list[tuple[str, str, str]]
    steps: str
    status: str
    attempts: int
    stats: SourceStats = field(default_factory=SourceStats)
    error_summary: str | None = None
    run_status: str | None = None  # the crawl_runs row's status


def add_shards(
    engine: Engine, run_id: int, shards: Sequence[tuple[str, int, str, Sequence[Sequence[str]]]]
) -> None:
    """The run's shards as `queued` rows: (source, index, steps, target keys) each, in one transaction."""
    rows = [
        {
            "run_id": run_id,
            "source": source,
            "shard": index,
            "steps": steps,
            "targets": json.dumps([list(t) for t in targets]),
            "status": "queued",
            "attempts": 0,
            "requests": 0,
            "items": 0,
            "errors": 0,
            "retries": 0,
            "rate_limited_seconds": 0.0,
        }
        for source, index, steps, targets in shards
    ]

    def body(conn: Connection) -> None:
        if rows:
            conn.execute(insert_for(conn, SHARDS).on_conflict_do_nothing(), rows)

    _in_transaction(engine, f"run={run_id} shards", body)


def _row(r: object, run_status: str | None) -> ShardRow:
    m = r._mapping  # type: ignore[attr-defined]
    stats = SourceStats(
        requests=m["requests"],
        items=m["items"],
        errors=m["errors"],
        retries=m["retries"],
        rate_limited_seconds=m["rate_limited_seconds"],
        cost_usd=m["cost_usd"],
    )
    targets = [(str(p), str(k), str(h)) for p, k, h in json.loads(m["targets"] or "[]")]
    return ShardRow(
        m["run_id"],
        m["source"],
        m["shard"],
        targets,
        m["steps"],
        m["status"],
        m["attempts"],
        stats,
        m["error_summary"],
        run_status,
    )


def get_shard(engine: Engine, run_id: int, source: str, shard: int) -> ShardRow | None:
    """The shard's row with its run's status, or None (the run was deleted)."""
    c = SHARDS.c
    with engine.connect() as conn:
        r = conn.execute(
            select(SHARDS, RUNS.c.status.label("run_status"))
            .join(RUNS, RUNS.c.id == c.run_id)
            .where(c.run_id == run_id, c.source == source, c.shard == shard)
        ).first()
    return _row(r, r._mapping["run_status"]) if r is not None else None


def shards_of(engine: Engine, run_id: int) -> list[ShardRow]:
    """Every shard of a run, by source and index."""
    c = SHARDS.c
    with engine.connect() as conn:
        rows = conn.execute(select(SHARDS).where(c.run_id == run_id).order_by(c.source, c.shard)).all()
    return [_row(r, None) for r in rows]


def start_shard(engine: Engine, run_id: int, source: str, shard: int, worker: str) -> int:
    """Mark the shard running by `worker` (one more attempt); the attempts so far, this one included."""
    c = SHARDS.c

    def body(conn: Connection) -> int:
        conn.execute(
            update(SHARDS)
            .where(c.run_id == run_id, c.source == source, c.shard == shard, c.status.not_in(DONE))
            .values(status="running", attempts=c.attempts + 1, worker=worker, started_at=utcnow())
        )
        return int(
            conn.execute(
                select(c.attempts).where(c.run_id == run_id, c.source == source, c.shard == shard)
            ).scalar_one()
        )

    return _in_transaction(engine, f"run={run_id} shard={source}#{shard} start", body)


def finish_shard(
    engine: Engine,
    run_id: int,
    source: str,
    shard: int,
    status: str,
    stats: SourceStats,
    error_summary: str | None,
) -> bool:
    """Close the shard with its counters, unless it is closed already; whether this closed it."""
    if status not in DONE:
        raise ValueError(f"a shard ends ok, partial or failed, not {status!r}")
    c = SHARDS.c
    values = {
        "status": status,
        **stats_columns(stats),
        "error_summary": error_summary,
        "finished_at": utcnow(),
    }

    def body(conn: Connection) -> int:
        result = conn.execute(
            update(SHARDS)
            .where(c.run_id == run_id, c.source == source, c.shard == shard, c.status.not_in(DONE))
            .values(**values)
        )
        return int(result.rowcount or 0)

    closed = _in_transaction(engine, f"run={run_id} shard={source}#{shard} finish", body) > 0
    log.info(
        "run=%d shard=%s#%d status=%s requests=%d items=%d errors=%d%s",
        run_id,
        source,
        shard,
        status,
        stats.requests,
        stats.items,
        stats.errors,
        "" if closed else " (already closed: not counted again)",
    )
    return closed


def fail_open_shards(engine: Engine, run_id: int, reason: str) -> int:
    """Every shard of the run not closed yet becomes failed with `reason`; how many."""
    c = SHARDS.c

    def body(conn: Connection) -> int:
        result = conn.execute(
            update(SHARDS)
            .where(c.run_id == run_id, c.status.not_in(DONE))
            .values(status="failed", error_summary=reason, finished_at=utcnow())
        )
        return int(result.rowcount or 0)

    return _in_transaction(engine, f"run={run_id} shards fail", body)


def progress(engine: Engine, run_id: int) -> dict[str, tuple[int, int]]:
    """Shards (done, total) per source."""
    c = SHARDS.c
    done = func.sum(case((c.status.in_(DONE), 1), else_=0))
    with engine.connect() as conn:
        rows = conn.execute(
            select(c.source, func.coalesce(done, 0), func.count())
            .where(c.run_id == run_id)
            .group_by(c.source)
        ).all()
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}
