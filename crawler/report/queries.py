"""The report's SQL: one statement per figure family, portable to SQLite and PostgreSQL.

Every number of the report is computed here, in the database. The only dialect-specific
pieces are three small expressions (time minus N days, epoch seconds, calendar day); they are
built from constants in this file, never from data. Every value (times, ids) is a bound
parameter.

Headline figures (members, or the metric a source declares for a kind: a repository's stars,
a model's downloads): the "last value at or before (latest − N days)" is found with an index seek per
community (a correlated MAX over ix_metrics_community_metric_observed) rather than a window
over the whole series: 4 seeks per community instead of sorting every observation. Rows of
different sources that share one observation time are reduced with ROW_NUMBER (the most
recently written row wins).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.sql.elements import TextClause

from crawler.db.types import UTCDateTime

DAY_OFFSETS = (1, 7, 30)  # delta_1d, delta_7d, delta_30d
WEEK_SECONDS = 7 * 86400

# Status rows that only say "we saw it for the first time and it was up": not news.
_FIRST_SEEN_ACTIVE = "NOT (COALESCE(s.old_status, 'unknown') = 'unknown' AND s.new_status = 'active')"


def _minus_days(col: str, days: int, dialect: str) -> str:
    """`col − days` as a value comparable with observed_at in this dialect."""
    if dialect == "postgresql":
        # Hours, not days: timestamptz − '1 day' follows the session's DST rules.
        return f"({col} - INTERVAL '{24 * days} hours')"
    # SQLite keeps UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'; strftime gives milliseconds, the
    # '999' pads them to microseconds so a row at exactly the cut-off compares as <=.
    return f"(strftime('%Y-%m-%d %H:%M:%f', {col}, '-{days} days') || '999')"


def _epoch(col: str, dialect: str) -> str:
    if dialect == "postgresql":
        return f"CAST(EXTRACT(EPOCH FROM {col}) AS DOUBLE PRECISION)"
    return f"((julianday({col}) - 2440587.5) * 86400.0)"


def _day(col: str, dialect: str) -> str:
    """The UTC calendar day, as the daily_metrics view computes it."""
    if dialect == "postgresql":
        return f"(({col}) AT TIME ZONE 'UTC')::date"
    return f"date({col})"


def _ids_clause(col: str, ids: Sequence[int] | None) -> str:
    return f" AND {col} IN :ids" if ids is not None else ""


def _stmt(sql: str, ids: Sequence[int] | None, times: Iterable[str]) -> TextClause:
    stmt = text(sql)
    binds = [bindparam(name, type_=UTCDateTime()) for name in times]
    if ids is not None:
        binds.append(bindparam("ids", expanding=True))
    return stmt.bindparams(*binds)


def ensure_sqlite_math(conn: Connection) -> None:
    """SQLite builds without the math extension lack ln(): lend it Python's."""
    if conn.dialect.name != "sqlite":
        return
    try:
        conn.exec_driver_sql("SELECT ln(2.0), floor(2.5)").all()
    except Exception:  # noqa: BLE001 - any failure here means "not compiled in"
        raw: Any = conn.connection.driver_connection
        raw.create_function("ln", 1, lambda x: math.log(x) if x and x > 0 else None, deterministic=True)
        raw.create_function("floor", 1, lambda x: None if x is None else math.floor(x), deterministic=True)


def community_ids(
    conn: Connection, platform: str | None, handles: set[tuple[str, str, str]] | None
) -> list[int] | None:
    """Ids of the communities the filters keep; None when nothing is filtered."""
    if platform is None and handles is None:
        return None
    rows = conn.execute(text("SELECT id, platform, kind, handle FROM communities")).all()
    return [
        r.id
        for r in rows
        if (platform is None or r.platform == platform)
        and (handles is None or (r.platform, r.kind, r.handle.lower()) in handles)
    ]


def _heads_case(heads: Mapping[tuple[str, str], str]) -> tuple[str, dict[str, str]]:
    """`CASE WHEN platform/kind ... THEN metric ... ELSE 'members' END`, every name a bound parameter."""
    whens, params = [], {}
    for i, ((platform, kind), metric) in enumerate(sorted(heads.items())):
        whens.append(f"WHEN c.platform = :hp{i} AND c.kind = :hk{i} THEN CAST(:hm{i} AS VARCHAR(32))")
        params.update({f"hp{i}": platform, f"hk{i}": kind, f"hm{i}": metric})
    if not whens:
        return "'members'", params
    return "CASE " + " ".join(whens) + " ELSE 'members' END", params


def headline(
    conn: Connection,
    now: datetime,
    ids: Sequence[int] | None,
    heads: Mapping[tuple[str, str], str] | None = None,
) -> list[Any]:
    """Per community: its headline metric (`heads[(platform, kind)]`, else members), the latest
    value, deltas over 1/7/30 days, growth and doubling time, all on that one metric."""
    d = conn.dialect.name
    case, case_params = _heads_case(heads or {})
    seek = (
        "(SELECT MAX(m.observed_at) FROM metrics m WHERE m.community_id = l.community_id"
        " AND m.metric = l.metric AND m.observed_at <= {cut})"
    )
    cuts = ",\n    ".join(
        seek.format(cut=_minus_days("l.at_last", n, d)) + f" AS at_{n}" for n in DAY_OFFSETS
    )
    picks = ",\n    ".join(
        f"MAX(CASE WHEN p.observed_at = cut.at_{n} THEN p.value END) AS v_{n}" for n in DAY_OFFSETS
    )
    deltas = ",\n  ".join(f"v.v_last - v.v_{n} AS delta_{n}d" for n in DAY_OFFSETS)
    # A report for a past `now` shows each community as it stood then: the status of its last
    # change at or before `now` and its last evidence of a check by then (a measurement or a
    # change), unless its latest check is itself no later than `now`; communities first seen
    # after `now` are left out.
    checked_by_now = "c.last_checked_at IS NULL OR c.last_checked_at <= :now"
    sql = f"""
WITH heads AS (
  SELECT c.id AS community_id, {case} AS metric FROM communities c WHERE 1 = 1{_ids_clause("c.id", ids)}
),
latest AS (
  SELECT h.community_id, h.metric,
    (SELECT MAX(m.observed_at) FROM metrics m WHERE m.community_id = h.community_id
      AND m.metric = h.metric AND m.observed_at <= :now) AS at_last
  FROM heads h
),
cut AS (
  SELECT l.community_id, l.metric, l.at_last,
    {cuts}
  FROM latest l WHERE l.at_last IS NOT NULL
),
picked AS (
  SELECT m.community_id, m.observed_at, m.value,
    ROW_NUMBER() OVER (PARTITION BY m.community_id, m.observed_at ORDER BY m.id DESC) AS rn
  FROM cut JOIN metrics m ON m.community_id = cut.community_id AND m.metric = cut.metric
    AND m.observed_at IN (cut.at_last, cut.at_1, cut.at_7, cut.at_30)
),
v AS (
  SELECT cut.community_id, cut.at_last,
    MAX(CASE WHEN p.observed_at = cut.at_last THEN p.value END) AS v_last,
    {picks}
  FROM cut JOIN picked p ON p.community_id = cut.community_id AND p.rn = 1
  GROUP BY cut.community_id, cut.at_last
),
asof AS (
  SELECT h.community_id,
    (SELECT MAX(s.observed_at) FROM status_changes s
      WHERE s.community_id = h.community_id AND s.observed_at <= :now) AS changed_at,
    (SELECT MAX(m.observed_at) FROM metrics m
      WHERE m.community_id = h.community_id AND m.observed_at <= :now) AS measured_at
  FROM heads h
),
was AS (
  SELECT a.community_id, a.changed_at, a.measured_at, s.new_status, s.reason,
    ROW_NUMBER() OVER (PARTITION BY a.community_id ORDER BY s.id DESC) AS rn
  FROM asof a LEFT JOIN status_changes s
    ON s.community_id = a.community_id AND s.observed_at = a.changed_at
)
SELECT c.id, c.platform, c.kind, c.handle,
  CASE WHEN {checked_by_now} THEN c.status ELSE COALESCE(w.new_status, 'unknown') END AS status,
  CASE WHEN {checked_by_now} THEN c.status_reason ELSE w.reason END AS status_reason,
  CASE WHEN {checked_by_now} THEN c.last_checked_at
       WHEN w.changed_at IS NULL THEN w.measured_at
       WHEN w.measured_at IS NULL OR w.changed_at > w.measured_at THEN w.changed_at
       ELSE w.measured_at END AS last_checked_at,
  h.metric,
  v.v_last AS value, v.at_last,
  {deltas},
  CASE WHEN v.v_7 > 0 THEN 100.0 * (v.v_last - v.v_7) / v.v_7 END AS growth_7d_pct,
  CASE WHEN v.v_30 > 0 THEN 100.0 * (v.v_last - v.v_30) / v.v_30 END AS growth_30d_pct,
  CASE WHEN v.v_30 > 0 AND v.v_last > v.v_30
       THEN 30.0 * LN(2.0) / LN(CAST(v.v_last AS DOUBLE PRECISION) / v.v_30) END AS doubling_days
FROM communities c JOIN heads h ON h.community_id = c.id LEFT JOIN v ON v.community_id = c.id
  JOIN was w ON w.community_id = c.id AND w.rn = 1
WHERE c.first_seen_at <= :now{_ids_clause("c.id", ids)}
"""  # noqa: S608 - built from this module's constants; every value (metric names too) is a bound parameter
    if d == "sqlite":
        sql = sql.replace("AS DOUBLE PRECISION", "AS REAL")
    params: dict[str, Any] = {"now": now, "ids": ids, **case_params}
    return list(conn.execute(_stmt(sql, ids, ["now"]), params).all())


def members(conn: Connection, now: datetime, ids: Sequence[int] | None) -> list[Any]:
    """`headline` with members for every community (the figure before headlines existed)."""
    return headline(conn, now, ids, {})


def posts_7d(conn: Connection, now: datetime, ids: Sequence[int] | None) -> dict[int, int]:
    """Posts created in (now − 7 days, now], counted for every community that has any post."""
    sql = f"""
SELECT c.id,
  (SELECT COUNT(*) FROM posts p WHERE p.community_id = c.id
     AND p.created_at > :week_ago AND p.created_at <= :now) AS n
FROM communities c
WHERE EXISTS (SELECT 1 FROM posts p WHERE p.community_id = c.id){_ids_clause("c.id", ids)}
"""  # noqa: S608 - built from this module's constants; every value is a bound parameter
    params = {"now": now, "week_ago": now - timedelta(days=7), "ids": ids}
    rows = conn.execute(_stmt(sql, ids, ["now", "week_ago"]), params).all()
    return {r.id: int(r.n) for r in rows}


def posts_per_day_7d(conn: Connection, now: datetime, ids: Sequence[int] | None) -> dict[int, float]:
    """Sum of the daily `posts_per_day` counts of the last 7 UTC days (today included).

    Each day counts once, with its last observation (a day's bucket fills up during the day),
    exactly as the daily_metrics view picks it; the filter is applied before the window so
    only these rows are sorted.
    """
    day = _day("m.observed_at", conn.dialect.name)
    first_day = datetime.combine((now - timedelta(days=6)).date(), datetime.min.time(), now.tzinfo)
    sql = f"""
SELECT community_id, SUM(value) AS n FROM (
  SELECT m.community_id, m.value,
    ROW_NUMBER() OVER (PARTITION BY m.community_id, {day} ORDER BY m.observed_at DESC, m.id DESC) AS rn
  FROM metrics m
  WHERE m.metric = 'posts_per_day' AND m.observed_at >= :first_day AND m.observed_at <= :now
    {_ids_clause("m.community_id", ids)}
) t WHERE rn = 1 GROUP BY community_id
"""  # noqa: S608 - built from this module's constants; every value is a bound parameter
    params = {"now": now, "first_day": first_day, "ids": ids}
    rows = conn.execute(_stmt(sql, ids, ["now", "first_day"]), params).all()
    return {r.community_id: float(r.n) for r in rows}


def status_changes(conn: Connection, start: datetime, now: datetime, ids: Sequence[int] | None) -> list[Any]:
    """Status changes observed in [start, now], oldest first, minus first-seen-active rows."""
    sql = f"""
SELECT c.platform, c.kind, c.handle, s.observed_at, s.old_status, s.new_status, s.reason
FROM status_changes s JOIN communities c ON c.id = s.community_id
WHERE s.observed_at >= :start AND s.observed_at <= :now AND {_FIRST_SEEN_ACTIVE}
  {_ids_clause("s.community_id", ids)}
ORDER BY s.observed_at, c.platform, c.handle, s.id
"""  # noqa: S608 - built from this module's constants; every value is a bound parameter
    params = {"start": start, "now": now, "ids": ids}
    return list(conn.execute(_stmt(sql, ids, ["start", "now"]), params).all())


def tools(conn: Connection, now: datetime, ids: Sequence[int] | None) -> list[Any]:
    """Per tool: mentions in posts created in the last 7 days, the 7 before, and ever (≤ now)."""
    sql = f"""
SELECT t.name,
  SUM(CASE WHEN p.created_at > :w1 AND p.created_at <= :now THEN 1 ELSE 0 END) AS mentions_7d,
  SUM(CASE WHEN p.created_at > :w2 AND p.created_at <= :w1 THEN 1 ELSE 0 END) AS mentions_prev_7d,
  COUNT(p.id) AS mentions_total
FROM tools t
LEFT JOIN mentions mn ON mn.tool_id = t.id
LEFT JOIN posts p ON p.id = mn.post_id AND (p.created_at IS NULL OR p.created_at <= :now)
  {_ids_clause("p.community_id", ids)}
GROUP BY t.id, t.name
"""  # noqa: S608 - built from this module's constants; every value is a bound parameter
    params = {"now": now, "w1": now - timedelta(days=7), "w2": now - timedelta(days=14), "ids": ids}
    return list(conn.execute(_stmt(sql, ids, ["now", "w1", "w2"]), params).all())


def tool_weeks(conn: Connection, now: datetime, weeks: int, ids: Sequence[int] | None) -> list[Any]:
    """Mentions per tool and week; week k covers (now − (k+1)·7d, now − k·7d].

    Week 0 is the window of mentions_7d and week 1 that of mentions_prev_7d. The half
    millisecond added to the age absorbs floating-point noise of SQLite's julianday() at an
    exact week boundary.
    """
    epoch = _epoch("p.created_at", conn.dialect.name)
    sql = f"""
SELECT name, wk, COUNT(*) AS n FROM (
  SELECT t.name, FLOOR((:now_epoch - {epoch} + 0.0005) / {WEEK_SECONDS}.0) AS wk
  FROM mentions mn JOIN posts p ON p.id = mn.post_id JOIN tools t ON t.id = mn.tool_id
  WHERE p.created_at > :start AND p.created_at <= :now{_ids_clause("p.community_id", ids)}
) x GROUP BY name, wk
"""  # noqa: S608 - built from this module's constants; every value is a bound parameter
    params = {"now": now, "start": now - timedelta(weeks=weeks), "now_epoch": now.timestamp(), "ids": ids}
    return list(conn.execute(_stmt(sql, ids, ["now", "start"]), params).all())


def link_domains(conn: Connection, now: datetime, ids: Sequence[int] | None) -> list[Any]:
    """Posts of the last 7 days per linked domain (posts without a link are not counted)."""
    sql = f"""
SELECT p.link_domain AS domain, COUNT(*) AS n
FROM posts p
WHERE p.link_domain IS NOT NULL AND p.created_at > :week_ago AND p.created_at <= :now
  {_ids_clause("p.community_id", ids)}
GROUP BY p.link_domain
"""  # noqa: S608 - built from this module's constants; every value is a bound parameter
    params = {"now": now, "week_ago": now - timedelta(days=7), "ids": ids}
    return list(conn.execute(_stmt(sql, ids, ["now", "week_ago"]), params).all())


def member_series(
    conn: Connection, start: datetime, now: datetime, ids: Sequence[int], metric: str = "members"
) -> list[Any]:
    """The last `metric` value of each UTC day in [start, now] for the charted communities."""
    day = _day("m.observed_at", conn.dialect.name)
    sql = f"""
SELECT community_id, observed_at, value FROM (
  SELECT m.community_id, m.observed_at, m.value,
    ROW_NUMBER() OVER (PARTITION BY m.community_id, {day} ORDER BY m.observed_at DESC, m.id DESC) AS rn
  FROM metrics m
  WHERE m.metric = :metric AND m.observed_at >= :start AND m.observed_at <= :now
    AND m.community_id IN :ids
) t WHERE rn = 1 ORDER BY community_id, observed_at
"""  # noqa: S608 - built from this module's constants; every value is a bound parameter
    params = {"start": start, "now": now, "ids": list(ids), "metric": metric}
    return list(conn.execute(_stmt(sql, ids, ["start", "now"]), params).all())


def spend(conn: Connection, start: datetime, now: datetime) -> list[Any]:
    """Estimated platform charges per source of the runs started in [start, now]."""
    sql = """
SELECT rs.source, SUM(rs.cost_usd) AS cost_usd, COUNT(*) AS runs
FROM run_sources rs JOIN crawl_runs r ON r.id = rs.run_id
WHERE rs.cost_usd IS NOT NULL AND r.started_at >= :start AND r.started_at <= :now
GROUP BY rs.source ORDER BY rs.source
"""
    return list(conn.execute(_stmt(sql, None, ["start", "now"]), {"start": start, "now": now}).all())
