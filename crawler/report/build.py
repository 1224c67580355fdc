"""Assemble the report dict (the JSON contract of DESIGN.md) from the SQL of queries.py.

Python only merges, sorts and formats here; the figures come out of the database.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from crawler.errors import StoreError
from crawler.plugins import headline_metrics
from crawler.records import utcnow
from crawler.report import coverage as coverage_sql
from crawler.report import queries
from crawler.report.migrations import migrations
from crawler.report.provenance import provenance as provenance_of
from crawler.report.since import format_since

log = logging.getLogger(__name__)

CHART_COMMUNITIES = 8  # growth curves drawn in the HTML report (the first N of the sorted list)
MIN_CHART_WEEKS = 12  # the weekly mention series covers at least this many weeks


def iso(value: datetime | None) -> str | None:
    """UTC ISO 8601 with a Z, the only time format of the report."""
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive text from MAX(); it is UTC by construction
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_time(value: Any) -> datetime | None:
    """observed_at as a datetime whatever the driver returned (MAX() on SQLite returns text)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def number(value: Any) -> int | float | None:
    """Counts stay integers in JSON (1000, not 1000.0); NaN and infinities become null."""
    if value is None:
        return None
    f = float(value)
    if not math.isfinite(f):
        return None
    if f.is_integer() and abs(f) < 2**53:
        return int(f)
    return f


def _sort_key(c: dict[str, Any]) -> tuple[Any, ...]:
    """Biggest 7-day gain first; unknown gains after every known one; then size, then name.

    Gains and sizes are each row's own headline figure (members, stars, downloads, ...)."""
    d7 = c["delta_7d"]
    value = c["value"]
    return (d7 is None, -(d7 or 0), value is None, -(value or 0), c["platform"], c["handle"].lower())


def build_report(
    engine: Engine,
    *,
    since: timedelta,
    now: datetime | None = None,
    platform: str | None = None,
    handles: set[tuple[str, str, str]] | None = None,
    top: int | None = None,
    database: str | None = None,
    config_sha256: str | None = None,
    with_provenance: bool = True,
    with_coverage: bool = True,
) -> dict[str, Any]:
    """The trend report as a dict: the JSON contract plus `tool_weeks` and `member_series`.

    `now` fixes the reference time (default: the current time); nothing observed after it
    is used, so a report for a past date reads as it would have then. `handles` holds
    normalised community keys (platform, kind, lower(handle)), e.g. from a watchlist tag.

    `database` (the URL as configured; credentials are dropped) and `config_sha256` (see
    `provenance.config_sha256`) go into `provenance`. `with_provenance` and `with_coverage`
    (both on: they are part of the contract) exist for the benchmark that prices them.
    """
    now = (now or utcnow()).astimezone(UTC)
    start = now - since
    weeks = max(MIN_CHART_WEEKS, math.ceil(since / timedelta(weeks=1)))
    try:
        with engine.connect() as conn:
            queries.ensure_sqlite_math(conn)
            ids = queries.community_ids(conn, platform, handles)
            rows = queries.headline(conn, now, ids, headline_metrics())
            posts = queries.posts_7d(conn, now, ids)
            per_day = queries.posts_per_day_7d(conn, now, ids)
            communities = [_community(r, posts, per_day) for r in rows]
            if with_coverage:
                _observed(communities, coverage_sql.observations(conn, start, now, ids))
            communities.sort(key=_sort_key)
            if top is not None:
                communities = communities[:top]
            # The growth chart draws one figure (one unit): members where any row has them,
            # else the headline of the top row (a report of model hubs charts downloads).
            known = [c for c in communities if c["value"] is not None]
            lead = (
                "members"
                if any(c["metric"] == "members" for c in known)
                else (known or [{}])[0].get("metric")
            )
            charted = [c for c in known if c["metric"] == lead][:CHART_COMMUNITIES]
            series = _member_series(conn, start, now, charted, str(lead)) if charted else []
            for c in communities:
                del c["_id"]
            changes = queries.status_changes(conn, start, now, ids)
            tool_rows = queries.tools(conn, now, ids)
            week_rows = queries.tool_weeks(conn, now, weeks, ids)
            domain_rows = queries.link_domains(conn, now, ids)
            extra: dict[str, Any] = {}
            if with_provenance:
                url = database or engine.url.render_as_string(hide_password=True)
                extra["provenance"] = provenance_of(
                    conn, start, now, database=url, config_sha256=config_sha256, iso=iso
                )
            if with_coverage:
                extra["coverage"] = coverage_sql.coverage(conn, start, now)
                extra["coverage_days"] = coverage_sql.coverage_days(conn, start, now)
            moves = migrations(conn, start, now, ids)  # where they went after each ban
            spend_rows = queries.spend(conn, start, now)
    except (OperationalError, ProgrammingError) as exc:
        raise StoreError(
            f"cannot read the report tables ({exc.orig}): run `dfwatch db upgrade` or a crawl first"
        ) from None
    log.debug(
        "report built communities=%d status_changes=%d tools=%d since=%s",
        len(communities),
        len(changes),
        len(tool_rows),
        format_since(since),
    )
    return {
        "generated_at": iso(now),
        "since": format_since(since),
        "window_start": iso(start),
        "communities": communities,
        "status_changes": [_change(r) for r in changes],
        "tools": _tools(tool_rows),
        "link_domains": _domains(domain_rows),
        "migrations": moves,
        # Estimated platform charges of the window's runs (run_sources.cost_usd), per source.
        "spend": [
            {"source": r.source, "cost_usd": round(float(r.cost_usd or 0.0), 4), "runs": int(r.runs)}
            for r in spend_rows
        ],
        "tool_weeks": _weeks(week_rows, now, weeks),
        "member_series": series,
        **extra,
    }


def _observed(communities: list[dict[str, Any]], seen: dict[int, tuple[datetime | None, int]]) -> None:
    """Add `last_observed_at` and `observed_days` to each community (null and 0 if never seen)."""
    for c in communities:
        at, days = seen.get(c["_id"], (None, 0))
        c["last_observed_at"] = iso(at)
        c["observed_days"] = days


def _community(r: Any, posts: dict[int, int], per_day: dict[int, float]) -> dict[str, Any]:
    # posts_7d: stored posts where the community has any; else the daily counts the platform
    # reports (X recent counts, Mastodon tag history); else unknown.
    if r.id in posts:
        p7: int | float | None = posts[r.id]
    else:
        p7 = number(per_day.get(r.id))
    return {
        "_id": r.id,
        "platform": r.platform,
        "kind": r.kind,
        "handle": r.handle,
        "status": r.status,
        "metric": r.metric,  # the row's headline figure: members unless its source declares another
        "value": number(r.value),
        "members": number(r.value) if r.metric == "members" else None,
        "last_checked_at": iso(_parse_time(r.last_checked_at)),
        "delta_1d": number(r.delta_1d),
        "delta_7d": number(r.delta_7d),
        "delta_30d": number(r.delta_30d),
        "growth_7d_pct": number(r.growth_7d_pct),
        "growth_30d_pct": number(r.growth_30d_pct),
        "doubling_days": number(r.doubling_days),
        "posts_7d": p7,
    }


def _member_series(
    conn: Any, start: datetime, now: datetime, charted: list[dict[str, Any]], metric: str = "members"
) -> list[dict[str, Any]]:
    rows = queries.member_series(conn, start, now, [c["_id"] for c in charted], metric)
    points: dict[int, list[list[Any]]] = {}
    for r in rows:
        points.setdefault(r.community_id, []).append([iso(_parse_time(r.observed_at)), number(r.value)])
    return [
        {
            "platform": c["platform"],
            "kind": c["kind"],
            "handle": c["handle"],
            "metric": metric,
            "points": points.get(c["_id"], []),
        }
        for c in charted
    ]


def _change(r: Any) -> dict[str, Any]:
    return {
        "platform": r.platform,
        "handle": r.handle,
        "observed_at": iso(_parse_time(r.observed_at)),
        "old_status": r.old_status,
        "new_status": r.new_status,
        "reason": r.reason,
    }


def _tools(rows: list[Any]) -> list[dict[str, Any]]:
    out = [
        {
            "name": r.name,
            "mentions_7d": int(r.mentions_7d or 0),
            "mentions_prev_7d": int(r.mentions_prev_7d or 0),
            "mentions_total": int(r.mentions_total or 0),
        }
        for r in rows
    ]
    out.sort(key=lambda t: (-t["mentions_7d"], -t["mentions_total"], t["name"].lower()))
    return out


def _weeks(rows: list[Any], now: datetime, weeks: int) -> list[dict[str, Any]]:
    """A dense weekly series (zeros included) for every tool mentioned in the span, oldest first."""
    counts: dict[str, dict[int, int]] = {}
    for r in rows:
        wk = int(r.wk)
        if 0 <= wk < weeks:
            counts.setdefault(r.name, {})[wk] = counts.get(r.name, {}).get(wk, 0) + int(r.n)
    out = []
    for name in sorted(counts, key=lambda n: (-sum(counts[n].values()), n.lower())):
        for wk in range(weeks - 1, -1, -1):
            end = now - timedelta(weeks=wk)
            out.append(
                {
                    "name": name,
                    "week_start": iso(end - timedelta(weeks=1)),
                    "week_end": iso(end),
                    "mentions": counts[name].get(wk, 0),
                }
            )
    return out


def _domains(rows: list[Any]) -> list[dict[str, Any]]:
    total = sum(int(r.n) for r in rows)
    out = [{"domain": r.domain, "posts_7d": int(r.n), "share": int(r.n) / total} for r in rows]
    out.sort(key=lambda d: (-d["posts_7d"], d["domain"]))
    return out
