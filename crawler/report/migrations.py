"""The report's "where they went": links from the other watched communities after each ban.

For each ban or suspension in the window: which communities (from `community_links`) and
which link domains (from `posts.link_domain`) the other watched communities linked to in
the 14 days after it, against the 14 days before, and which of the linked communities are
watched now. The banned community's own posts and links to it are left out: they say where
it was, not where its people went. Counts are distinct posts; the after-window ends at the
report's reference time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, text

from crawler.db.types import UTCDateTime
from crawler.records import namespace_key

SPAN = timedelta(days=14)  # the weeks after a ban against the weeks before
TOP = 10  # linked communities and domains listed per ban
MIN_POSTS = 2  # posts (before and after together) a linked community or domain needs to be listed
STATUSES = ("banned", "suspended")

_BANS = """
SELECT s.community_id, s.observed_at, s.new_status, c.platform, c.kind, c.handle
FROM status_changes s JOIN communities c ON c.id = s.community_id
WHERE s.new_status IN ('banned', 'suspended') AND s.observed_at >= :start AND s.observed_at <= :now{ids}
ORDER BY s.observed_at, c.platform, c.handle
"""
_TARGETS = """
SELECT l.platform, l.kind, lower(l.handle) AS h, MIN(l.handle) AS spelling,
       COUNT(DISTINCT CASE WHEN l.linked_at < :at THEN l.post_id END) AS before,
       COUNT(DISTINCT CASE WHEN l.linked_at >= :at THEN l.post_id END) AS after
FROM community_links l
WHERE l.community_id <> :cid AND l.linked_at >= :b0 AND l.linked_at < :a1
  AND NOT (l.platform = :platform AND l.kind = :kind AND lower(l.handle) = :handle)
GROUP BY l.platform, l.kind, lower(l.handle)
"""
_DOMAINS = """
SELECT p.link_domain AS domain,
       COUNT(CASE WHEN p.created_at < :at THEN 1 END) AS before,
       COUNT(CASE WHEN p.created_at >= :at THEN 1 END) AS after
FROM posts p
WHERE p.community_id <> :cid AND p.link_domain IS NOT NULL AND p.created_at >= :b0 AND p.created_at < :a1
GROUP BY p.link_domain
"""
_WATCHED = "SELECT platform, kind, lower(handle) FROM communities"


def _parse_time(value: Any) -> datetime:
    from crawler.report.build import _parse_time as parse

    when = parse(value)
    assert when is not None  # observed_at is NOT NULL
    return when.astimezone(UTC)


def iso(value: datetime) -> str:
    from crawler.report.build import iso as build_iso

    return build_iso(value) or ""


def _stmt(sql: str, times: tuple[str, ...], ids: bool = False) -> Any:
    binds = [bindparam(n, type_=UTCDateTime()) for n in times]
    if ids:
        binds.append(bindparam("ids", expanding=True))
    return text(sql).bindparams(*binds)


def _ranked(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The TOP items with the largest rise, then the most posts after; one post is no movement."""
    items = [i for i in items if i["posts_before"] + i["posts_after"] >= MIN_POSTS]
    items.sort(
        key=lambda i: (
            -(i["posts_after"] - i["posts_before"]),
            -i["posts_after"],
            str(i.get("handle") or i.get("domain")).lower(),
        )
    )
    return items[:TOP]


def migrations(
    conn: Connection, start: datetime, now: datetime, ids: list[int] | None
) -> list[dict[str, Any]]:
    """One entry per ban or suspension in [start, now] of the communities `ids` (None: all)."""
    bans = list(
        conn.execute(
            _stmt(
                _BANS.format(ids=" AND s.community_id IN :ids" if ids is not None else ""),
                ("start", "now"),
                ids is not None,
            ),
            {"start": start, "now": now, **({"ids": ids} if ids is not None else {})},
        )
    )
    if not bans:
        return []
    watched = {namespace_key((p, k, h)) for p, k, h in conn.execute(text(_WATCHED))}
    out = []
    for ban in bans:
        at = _parse_time(ban.observed_at)
        window = {"at": at, "b0": at - SPAN, "a1": min(at + SPAN, now), "cid": ban.community_id}
        targets = conn.execute(
            _stmt(_TARGETS, ("at", "b0", "a1")),
            {**window, "platform": ban.platform, "kind": ban.kind, "handle": ban.handle.lower()},
        )
        after = [
            {
                "platform": r.platform,
                "kind": r.kind,
                "handle": r.spelling,
                "posts_before": int(r.before),
                "posts_after": int(r.after),
                "watched": namespace_key((r.platform, r.kind, r.h)) in watched,
            }
            for r in targets
        ]
        domains = [
            {"domain": r.domain, "posts_before": int(r.before), "posts_after": int(r.after)}
            for r in conn.execute(_stmt(_DOMAINS, ("at", "b0", "a1")), window)
        ]
        out.append(
            {
                "platform": ban.platform,
                "kind": ban.kind,
                "handle": ban.handle,
                "observed_at": iso(at),
                "new_status": ban.new_status,
                "after": _ranked(after),
                "domains": _ranked(domains),
            }
        )
    return out
