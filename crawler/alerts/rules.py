"""The alert rules of DESIGN.md, read from the database after a run. Each event has a key
that names it once and for all, so evaluating again finds the same events, not new ones:

    growth:<community id>:<UTC day>      members up more than `growth_pct_1d` % against the
                                         last observation at least 20 h older (at least
                                         `min_members` now); one a community a day
    status:<status change id>            a change between two known statuses (a first
                                         observation out of `unknown` is no event)
    candidate:<platform>:<kind>:<handle> a new candidate reached `new_candidate_posts` posts
    watched:<platform>:<kind>:<handle>   auto-watch added a candidate
    source:<source>:<first run>          a source failed `source_failing_runs` runs in a row
                                         (one per streak, named by the streak's first run)

Texts carry counts, community handles and the report's address, never post text, titles
or authors (the platform's own reason for a status is kept: it is the evidence).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, text

from crawler.db.types import UTCDateTime
from crawler.discover.candidates import as_utc

RECENT = timedelta(days=2)  # events older than this when first evaluated are history, not news
GROWTH_GAP = timedelta(hours=20)  # DESIGN.md: against the last observation at least 20 h older
STREAK_LOOKBACK = 1000  # run_sources rows read per source, at most

# Telegram's channels, groups and bots all live at t.me/<name>.
_PREFIX = {
    "subreddit": "r/",
    "account": "@",
    "hashtag": "#",
    "channel": "t.me/",
    "group": "t.me/",
    "bot": "t.me/",
}


def community_name(platform: str, kind: str, handle: str) -> str:
    """How people write the community: r/name, @name, t.me/name; with its platform where unclear."""
    prefix = _PREFIX.get(kind, "")
    if prefix == "@" or not prefix:
        return f"{platform} {kind} {prefix}{handle}"
    return f"{prefix}{handle}"


@dataclass(frozen=True)
class Event:
    kind: str  # growth, status_change, candidate, auto_watch, source_failing
    key: str
    title: str
    body: str
    community_id: int | None = None


def _times(sql: str, *names: str) -> Any:
    return text(sql).bindparams(*(bindparam(n, type_=UTCDateTime()) for n in names))


def growth_events(conn: Connection, now: datetime, pct: float, min_members: int) -> list[Event]:
    rows = conn.execute(
        _times(
            "SELECT m.community_id, m.value, m.observed_at, c.platform, c.kind, c.handle "
            "FROM metrics m JOIN communities c ON c.id = m.community_id "
            "WHERE m.metric = 'members' AND m.observed_at >= :start AND m.observed_at <= :now "
            "AND m.community_id IN (SELECT community_id FROM metrics WHERE metric = 'members' "
            "AND observed_at >= :recent AND observed_at <= :now) "
            "ORDER BY m.community_id, m.observed_at",
            "start",
            "recent",
            "now",
        ),
        {"start": now - RECENT - timedelta(days=3), "recent": now - RECENT, "now": now},
    )
    series: dict[int, list[tuple[datetime, float]]] = {}
    names: dict[int, tuple[str, str, str]] = {}
    for r in rows:
        series.setdefault(r.community_id, []).append((as_utc(r.observed_at), float(r.value)))
        names[r.community_id] = (r.platform, r.kind, r.handle)
    events = []
    for cid, points in series.items():
        t1, v1 = points[-1]
        earlier = [(t, v) for t, v in points if t <= t1 - GROWTH_GAP]
        if not earlier or v1 < min_members:
            continue
        t0, v0 = earlier[-1]
        if v0 <= 0:
            continue
        growth = 100.0 * (v1 - v0) / v0
        if growth <= pct:
            continue
        name = community_name(*names[cid])
        hours = (t1 - t0).total_seconds() / 3600
        events.append(
            Event(
                "growth",
                f"growth:{cid}:{t1.date().isoformat()}",
                f"dfwatch: {name} grew {growth:.0f} %",
                f"{name}: {v0:,.0f} → {v1:,.0f} members ({growth:+.0f} % in {hours:.0f} h), "
                f"observed {t1:%Y-%m-%d %H:%M} UTC.",
                cid,
            )
        )
    return events


def status_events(conn: Connection, now: datetime) -> list[Event]:
    rows = conn.execute(
        _times(
            "SELECT s.id, s.community_id, s.observed_at, s.old_status, s.new_status, s.reason, "
            "c.platform, c.kind, c.handle FROM status_changes s JOIN communities c ON c.id = s.community_id "
            "WHERE s.old_status IS NOT NULL AND s.old_status <> 'unknown' "
            "AND s.observed_at >= :recent AND s.observed_at <= :now ORDER BY s.observed_at, s.id",
            "recent",
            "now",
        ),
        {"recent": now - RECENT, "now": now},
    )
    events = []
    for r in rows:
        name = community_name(r.platform, r.kind, r.handle)
        reason = f" (reason: {r.reason[:200]})" if r.reason else ""
        # Back from a dead status (a name that now resolves, a ban lifted) reads as such.
        what = f"active again (was {r.old_status})" if r.new_status == "active" else r.new_status
        events.append(
            Event(
                "status_change",
                f"status:{r.id}",
                f"dfwatch: {name} {what}",
                f"{name}: {r.old_status} → {r.new_status}{reason}, observed "
                f"{as_utc(r.observed_at):%Y-%m-%d %H:%M} UTC.",
                r.community_id,
            )
        )
    return events


def _linked_from(conn: Connection, platform: str, kind: str, handle: str, limit: int = 5) -> list[str]:
    rows = conn.execute(
        text(
            "SELECT c.platform, c.kind, c.handle, COUNT(DISTINCT l.post_id) AS n FROM community_links l "
            "JOIN communities c ON c.id = l.community_id WHERE l.platform = :p AND l.kind = :k "
            "AND lower(l.handle) = lower(:h) GROUP BY c.platform, c.kind, c.handle "
            "ORDER BY n DESC, c.handle LIMIT :limit"
        ),
        {"p": platform, "k": kind, "h": handle, "limit": limit},
    )
    return [community_name(r.platform, r.kind, r.handle) for r in rows]


def candidate_events(conn: Connection, min_posts: int) -> list[Event]:
    rows = conn.execute(
        text(
            "SELECT platform, kind, handle, posts, communities, status, promoted_by FROM candidates "
            "WHERE (status = 'new' AND posts >= :n) OR (status = 'watched' AND promoted_by = 'auto') "
            "ORDER BY communities DESC, posts DESC"
        ),
        {"n": min_posts},
    )
    events = []
    for r in rows:
        name = community_name(r.platform, r.kind, r.handle)
        ident = f"{r.platform}:{r.kind}:{r.handle.lower()}"
        froms = ", ".join(_linked_from(conn, r.platform, r.kind, r.handle))
        counts = f"linked by {r.posts} posts in {r.communities} watched communities ({froms})"
        if r.status == "watched":
            events.append(
                Event(
                    "auto_watch",
                    f"watched:{ident}",
                    f"dfwatch: now watching {name}",
                    f"Auto-watch added {name}: {counts}. The next crawl follows it.",
                )
            )
        else:
            events.append(
                Event(
                    "candidate",
                    f"candidate:{ident}",
                    f"dfwatch: new candidate {name}",
                    f"{name} is {counts}. `dfwatch discover` lists it; "
                    f"`dfwatch watch add {r.platform}:{r.kind}:{r.handle}` follows it.",
                )
            )
    return events


def source_events(conn: Connection, runs: int) -> list[Event]:
    sources = [r[0] for r in conn.execute(text("SELECT DISTINCT source FROM run_sources"))]
    events = []
    for source in sources:
        rows = conn.execute(
            text(
                "SELECT run_id, status FROM run_sources WHERE source = :s AND status NOT IN ('skipped', 'running') "
                "ORDER BY run_id DESC LIMIT :limit"
            ),
            {"s": source, "limit": STREAK_LOOKBACK},
        )
        streak = []
        for run_id, status in rows:
            if status != "failed":
                break
            streak.append(run_id)
        if len(streak) < runs:
            continue
        first, last = streak[-1], streak[0]
        events.append(
            Event(
                "source_failing",
                f"source:{source}:{first}",
                f"dfwatch: source {source} failing",
                f"Source {source} failed {len(streak)} runs in a row (runs {first}–{last}); "
                "run_sources.error_summary says why.",
            )
        )
    return events


def evaluate(conn: Connection, settings: Any, now: datetime) -> list[Event]:
    """Every event the rules see now (recorded ones included: the alerts table dedupes)."""
    events = growth_events(conn, now, settings.growth_pct_1d, settings.min_members)
    if settings.status_changes:
        events += status_events(conn, now)
    events += candidate_events(conn, settings.new_candidate_posts)
    events += source_events(conn, settings.source_failing_runs)
    return events
