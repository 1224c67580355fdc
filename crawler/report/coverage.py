"""What the report's window is missing: per source the runs that ran, failed or were skipped,
per day a grid cell, and per community when it was last observed and on how many days.

    coverage(conn, start, now)            -> [{"source", "runs", "ok", "partial", "failed",
                                              "skipped", "targets_failed"}]
    coverage_days(conn, start, now)       -> [{"source", "day", "status", "ok", ...}] (days with runs)
    observations(conn, start, now, ids)   -> {community_id: (last_observed_at, observed_days)}

A run counts in the window when it started in [start, now]. A source row left `running` by a
run that ended (aborted, or failed before closing its sources) counts as failed: it never
finished. Sources of a run still in progress are left out until it ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, text

from crawler.db.types import UTCDateTime
from crawler.report.queries import _day, _ids_clause

OUTCOMES = ("ok", "partial", "failed", "skipped")
# A day's cell shows its best outcome: a failed morning run retried with success by noon left
# the day's data complete. The counts of every outcome stay beside it.
BEST_FIRST = ("ok", "partial", "failed", "skipped")

_OUTCOME = "CASE WHEN rs.status = 'running' AND r.status <> 'running' THEN 'failed' ELSE rs.status END"


def _times(sql: str, *names: str) -> Any:
    return text(sql).bindparams(*(bindparam(n, type_=UTCDateTime()) for n in names))


def _source_rows(conn: Connection, start: datetime, now: datetime, by_day: bool) -> list[Any]:
    day = f", {_day('r.started_at', conn.dialect.name)} AS day" if by_day else ""
    group = ", day" if by_day else ""
    sql = f"""
SELECT source{group},
  SUM(CASE WHEN outcome = 'ok' THEN 1 ELSE 0 END) AS ok,
  SUM(CASE WHEN outcome = 'partial' THEN 1 ELSE 0 END) AS partial,
  SUM(CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END) AS failed,
  SUM(CASE WHEN outcome = 'skipped' THEN 1 ELSE 0 END) AS skipped,
  SUM(CASE WHEN outcome = 'skipped' THEN 0 ELSE errors END) AS targets_failed,
  SUM(cost_usd) AS cost_usd
FROM (
  SELECT rs.source, rs.errors, rs.cost_usd, {_OUTCOME} AS outcome{day}
  FROM run_sources rs JOIN crawl_runs r ON r.id = rs.run_id
  WHERE r.started_at >= :start AND r.started_at <= :now
) t
WHERE outcome IN ('ok', 'partial', 'failed', 'skipped')
GROUP BY source{group}
ORDER BY source{group}
"""  # noqa: S608 - built from this module's constants; every value is a bound parameter
    return list(conn.execute(_times(sql, "start", "now"), {"start": start, "now": now}).all())


def coverage(conn: Connection, start: datetime, now: datetime) -> list[dict[str, Any]]:
    """Per source: runs in the window in which it ran (ok + partial + failed), each outcome,
    skipped runs apart, the targets that failed summed over its runs, and the estimated
    platform charges of those runs (None for a source that never charges)."""
    out = []
    for r in _source_rows(conn, start, now, by_day=False):
        counts = {k: int(getattr(r, k) or 0) for k in OUTCOMES}
        out.append(
            {
                "source": r.source,
                "runs": counts["ok"] + counts["partial"] + counts["failed"],
                **counts,
                "targets_failed": int(r.targets_failed or 0),
                "cost_usd": None if r.cost_usd is None else round(float(r.cost_usd), 4),
            }
        )
    return out


def coverage_days(conn: Connection, start: datetime, now: datetime) -> list[dict[str, Any]]:
    """One entry per source and UTC day (of the run's start) that had a run: the best outcome
    and the count of each. Days without an entry had no run of that source."""
    out = []
    for r in _source_rows(conn, start, now, by_day=True):
        counts = {k: int(getattr(r, k) or 0) for k in OUTCOMES}
        status = next(k for k in BEST_FIRST if counts[k])
        out.append({"source": r.source, "day": str(r.day)[:10], "status": status, **counts})
    return out


ID_CHUNK = 500  # community ids per statement in the second pass (SQLite's variable limit)


def _time_text(col: str, dialect: str) -> str:
    """A stored time as fixed-width UTC text 'YYYY-MM-DD HH:MM:SS.ffffff' (sorts as it reads)."""
    if dialect == "postgresql":
        return f"to_char(({col}) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
    return col  # SQLite keeps exactly that text


def _pairs(ids_clause: str) -> str:
    """(community, metric) pairs by a loose index scan: one "next metric after" seek a step."""
    return f"""
WITH RECURSIVE pairs(community_id, metric) AS (
  SELECT c.id, (SELECT MIN(m.metric) FROM metrics m WHERE m.community_id = c.id)
  FROM communities c WHERE 1 = 1{ids_clause}
  UNION ALL
  SELECT p.community_id,
    (SELECT MIN(m.metric) FROM metrics m WHERE m.community_id = p.community_id AND m.metric > p.metric)
  FROM pairs p WHERE p.metric IS NOT NULL
)"""  # noqa: S608 - built from this module's constants


def _parse(text_time: str) -> datetime:
    return datetime.fromisoformat(text_time).replace(tzinfo=UTC)


def observations(
    conn: Connection, start: datetime, now: datetime, ids: Sequence[int] | None
) -> dict[int, tuple[datetime | None, int]]:
    """Per community: the newest metric observation at or before now, and the UTC days in
    [start, now] with at least one observation of any metric.

    Each (community, metric) pair's window is read as an index range (the pairs come from a
    loose index scan, not a scan of the table), its times handed back as one string; days of
    several metrics are merged here. Only communities unobserved in the window need a second
    pass, one index seek per pair, for their last observation. On 5,000 communities × 365
    days this costs ~0.3 s where a GROUP BY over the table costs ~1.2 s (bench/report.py).
    """
    d = conn.dialect.name
    t = _time_text("m.observed_at", d)
    agg = f"group_concat({t})" if d == "sqlite" else f"string_agg({t}, ',')"
    sql = f"""{_pairs(_ids_clause("c.id", ids))}
SELECT p.community_id,
  (SELECT {agg} FROM metrics m WHERE m.community_id = p.community_id
     AND m.metric = p.metric AND m.observed_at >= :start AND m.observed_at <= :now) AS times
FROM pairs p WHERE p.metric IS NOT NULL
"""  # noqa: S608 - built from this module's constants; every value is a bound parameter
    stmt = _times(sql, "start", "now")
    if ids is not None:
        stmt = stmt.bindparams(bindparam("ids", expanding=True))
    days: dict[int, set[str]] = {}
    last: dict[int, str] = {}
    seen: set[int] = set()
    for r in conn.execute(stmt, {"start": start, "now": now, "ids": ids}):
        cid = int(r.community_id)
        seen.add(cid)
        if r.times:
            times = r.times.split(",")
            days.setdefault(cid, set()).update(x[:10] for x in times)
            newest = max(times)
            if newest > last.get(cid, ""):
                last[cid] = newest
    out: dict[int, tuple[datetime | None, int]] = {cid: (_parse(last[cid]), len(days[cid])) for cid in days}
    missing = sorted(seen - days.keys())
    for i in range(0, len(missing), ID_CHUNK):
        chunk = missing[i : i + ID_CHUNK]
        sql = f"""{_pairs(" AND c.id IN :ids")}
SELECT p.community_id,
  MAX((SELECT MAX({t}) FROM metrics m WHERE m.community_id = p.community_id
     AND m.metric = p.metric AND m.observed_at <= :now)) AS last_at
FROM pairs p WHERE p.metric IS NOT NULL GROUP BY p.community_id
"""  # noqa: S608 - built from this module's constants; every value is a bound parameter
        stmt = _times(sql, "now").bindparams(bindparam("ids", expanding=True))
        for r in conn.execute(stmt, {"now": now, "ids": chunk}):
            if r.last_at:
                out[int(r.community_id)] = (_parse(str(r.last_at)), 0)
    return out
