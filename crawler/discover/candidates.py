"""Candidates: linked communities that are not watched, from the evidence in `community_links`.

`refresh_candidates` runs after every crawl. It counts, per linked key, the distinct posts
that link to it and the distinct watched communities those posts are in, and keeps one
`candidates` row per key that was not watched when the refresh first met it: a link to a
community already watched counts as a link, never as a candidate. A row's status is `new`,
`watched` (promoted by hand or by auto-watch, or watched since) or `ignored`
(`dfwatch watch ignore`, remembered in watchlist.d/discovered.yaml and here). The counts are
recomputed from the evidence each time, so crawling the same posts again changes nothing.

`list_candidates` answers `dfwatch discover`: counts within a window, ranked by distinct
linking communities, then posts, with the communities that link.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, func, select, text, update
from sqlalchemy.exc import OperationalError, ProgrammingError

from crawler.db import models
from crawler.db.types import UTCDateTime
from crawler.errors import StoreError
from crawler.records import namespace_key, utcnow

log = logging.getLogger("dfwatch.discover")

CANDIDATES: Table = models.Base.metadata.tables["candidates"]
COMMUNITIES: Table = models.Base.metadata.tables["communities"]
STATUSES = ("new", "watched", "ignored")

Norm = tuple[str, str, str]

# Per linked key: first spelling, distinct posts, distinct linking communities, first and last link.
_AGGREGATE = """
SELECT g.platform, g.kind, g.h, g.posts, g.communities, g.first_at, g.last_at,
       (SELECT l2.handle FROM community_links l2 WHERE l2.id = g.first_id) AS spelling
FROM (
    SELECT l.platform, l.kind, lower(l.handle) AS h, MIN(l.id) AS first_id,
           COUNT(DISTINCT l.post_id) AS posts, COUNT(DISTINCT l.community_id) AS communities,
           MIN(l.linked_at) AS first_at, MAX(l.linked_at) AS last_at
    FROM community_links l
    WHERE l.linked_at >= :since AND l.linked_at <= :until
    GROUP BY l.platform, l.kind, lower(l.handle)
) g
"""
_LINKED_FROM = """
SELECT l.platform, l.kind, lower(l.handle) AS h, c.platform AS from_platform, c.kind AS from_kind,
       c.handle AS from_handle, COUNT(DISTINCT l.post_id) AS posts
FROM community_links l JOIN communities c ON c.id = l.community_id
WHERE l.linked_at >= :since AND l.linked_at <= :until
GROUP BY l.platform, l.kind, lower(l.handle), c.platform, c.kind, c.handle
"""
EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
FAR = datetime.fromisoformat("9999-01-01T00:00:00+00:00")


def _stmt(sql: str) -> Any:
    return text(sql).bindparams(
        bindparam("since", type_=UTCDateTime()), bindparam("until", type_=UTCDateTime())
    )


def as_utc(value: Any) -> datetime:
    """MIN()/MAX() of a time on SQLite come back as text; they are UTC by construction."""
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    """UTC ISO 8601 with a Z, as the report writes times."""
    return None if value is None else as_utc(value).isoformat().replace("+00:00", "Z")


@dataclass
class Candidate:
    """One linked community as `dfwatch discover` shows it."""

    platform: str
    kind: str
    handle: str
    posts: int
    communities: int
    first_seen_at: datetime
    last_seen_at: datetime
    status: str
    promoted_by: str | None = None
    linked_from: list[dict[str, Any]] = field(default_factory=list)

    @property
    def norm(self) -> Norm:
        return (self.platform, self.kind, self.handle.lower())

    def __str__(self) -> str:
        return f"{self.platform}:{self.kind}:{self.handle}"

    def as_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "kind": self.kind,
            "handle": self.handle,
            "posts": self.posts,
            "communities": self.communities,
            "first_seen_at": iso(self.first_seen_at),
            "last_seen_at": iso(self.last_seen_at),
            "status": self.status,
            "linked_from": self.linked_from,
        }


def watched_keys(conn: Connection, extra: Iterable[Norm] = ()) -> set[Norm]:
    """Every community with a row (each watchlist entry has one from its first crawl) and
    `extra` (the watchlist's own keys), with telegram's kinds folded into one namespace."""
    c = COMMUNITIES.c
    keys = {
        namespace_key((p, k, h.lower())) for p, k, h in conn.execute(select(c.platform, c.kind, c.handle))
    }
    keys.update(namespace_key(n) for n in extra)
    return keys


def _rows(conn: Connection) -> dict[Norm, Any]:
    return {(r.platform, r.kind, r.handle.lower()): r for r in conn.execute(select(CANDIDATES))}


def refresh_candidates(
    engine: Engine,
    *,
    watched: Iterable[Norm] = (),
    ignored: Iterable[Norm] = (),
    now: datetime | None = None,
) -> dict[str, int]:
    """Bring `candidates` up to date with the evidence; returns counts of what changed.

    `watched` adds the watchlist's keys to the communities that have rows; `ignored` are the
    keys `dfwatch watch ignore` wrote (they stay ignored until added by hand).
    """
    now = now or utcnow()
    ignored_set = {namespace_key(n) for n in ignored}
    out = {"new": 0, "updated": 0, "watched": 0, "ignored": 0}
    with engine.begin() as conn:
        is_watched = watched_keys(conn, watched)
        existing = _rows(conn)
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for r in conn.execute(_stmt(_AGGREGATE), {"since": EPOCH, "until": FAR}):
            norm: Norm = (r.platform, r.kind, r.h)
            ns = namespace_key(norm)
            row = existing.get(norm)
            first, last = as_utc(r.first_at), as_utc(r.last_at)
            if row is None:
                if ns in is_watched:
                    continue  # linked while watched: a link, not a candidate
                status = "ignored" if ns in ignored_set else "new"
                inserts.append(
                    {
                        "platform": r.platform,
                        "kind": r.kind,
                        "handle": r.spelling,
                        "first_seen_at": first,
                        "last_seen_at": last,
                        "posts": int(r.posts),
                        "communities": int(r.communities),
                        "status": status,
                        "status_changed_at": now,
                        "promoted_by": None,
                        "updated_at": now,
                    }
                )
                out[status if status == "ignored" else "new"] += 1
                continue
            status = row.status
            if ns in is_watched and status != "watched":
                status = "watched"
            elif ns in ignored_set and status == "new":
                status = "ignored"
            same = (row.posts, row.communities, row.status) == (int(r.posts), int(r.communities), status)
            if same and as_utc(row.last_seen_at) == last:
                continue
            if status != row.status:
                out[status] += 1
            else:
                out["updated"] += 1
            updates.append(
                {
                    "b_id": row.id,
                    "b_posts": int(r.posts),
                    "b_communities": int(r.communities),
                    "b_first": first,
                    "b_last": last,
                    "b_status": status,
                    "b_changed": now if status != row.status else row.status_changed_at,
                    "b_updated": now,
                }
            )
        if inserts:
            conn.execute(CANDIDATES.insert(), inserts)
        if updates:
            c = CANDIDATES.c
            conn.execute(
                update(CANDIDATES)
                .where(c.id == bindparam("b_id"))
                .values(
                    posts=bindparam("b_posts"),
                    communities=bindparam("b_communities"),
                    first_seen_at=bindparam("b_first"),
                    last_seen_at=bindparam("b_last"),
                    status=bindparam("b_status"),
                    status_changed_at=bindparam("b_changed"),
                    updated_at=bindparam("b_updated"),
                ),
                updates,
            )
    if any(out.values()):
        log.info("candidates refreshed %s", " ".join(f"{k}={v}" for k, v in out.items()))
    return out


def set_status(
    engine: Engine, keys: Iterable[tuple[str, str, str]], status: str, *, by: str | None = None
) -> int:
    """Mark candidates `watched` (by "manual" or "auto") or `ignored`; keys not yet
    candidates get a row, so an ignore made before any link is remembered too."""
    if status not in STATUSES:
        raise ValueError(f"unknown candidate status {status!r}")
    now = utcnow()
    n = 0
    with engine.begin() as conn:
        existing = _rows(conn)
        c = CANDIDATES.c
        for platform, kind, handle in keys:
            row = existing.get((platform, kind, handle.lower()))
            values: dict[str, Any] = {"status": status, "status_changed_at": now, "updated_at": now}
            if status == "watched":
                values["promoted_by"] = by
            if row is None:
                conn.execute(
                    CANDIDATES.insert().values(
                        platform=platform,
                        kind=kind,
                        handle=handle,
                        first_seen_at=now,
                        last_seen_at=now,
                        posts=0,
                        communities=0,
                        promoted_by=values.get("promoted_by"),
                        **{k: v for k, v in values.items() if k != "promoted_by"},
                    )
                )
            elif row.status != status:
                conn.execute(update(CANDIDATES).where(c.id == row.id).values(**values))
            else:
                continue
            n += 1
    return n


def list_candidates(
    engine: Engine,
    *,
    since: datetime,
    until: datetime | None = None,
    min_posts: int = 1,
    include_all: bool = False,
) -> list[Candidate]:
    """Candidates linked within [since, until], ranked by linking communities, then posts.

    Counts are of the window; first and last seen are of all the evidence. Without
    `include_all` only `new` ones; a key linked but never refreshed into `candidates` (no
    crawl since) is `new` unless a community row shows it watched.
    """
    until = until or utcnow()
    try:
        return _list(engine, since, until, min_posts, include_all)
    except (OperationalError, ProgrammingError) as exc:
        raise StoreError(
            f"cannot read the discovery tables ({exc.orig}): run `dfwatch db upgrade` or a crawl first"
        ) from None


def _list(
    engine: Engine, since: datetime, until: datetime, min_posts: int, include_all: bool
) -> list[Candidate]:
    with engine.connect() as conn:
        rows = _rows(conn)
        is_watched = watched_keys(conn)
        spans = {
            (r.platform, r.kind, r.h): (as_utc(r.first_at), as_utc(r.last_at))
            for r in conn.execute(_stmt(_AGGREGATE), {"since": EPOCH, "until": FAR})
        }
        window = list(conn.execute(_stmt(_AGGREGATE), {"since": since, "until": until}))
        froms: dict[Norm, list[dict[str, Any]]] = {}
        for r in conn.execute(_stmt(_LINKED_FROM), {"since": since, "until": until}):
            froms.setdefault((r.platform, r.kind, r.h), []).append(
                {
                    "platform": r.from_platform,
                    "kind": r.from_kind,
                    "handle": r.from_handle,
                    "posts": int(r.posts),
                }
            )
    out: list[Candidate] = []
    for r in window:
        norm: Norm = (r.platform, r.kind, r.h)
        row = rows.get(norm)
        if row is None and namespace_key(norm) in is_watched:
            continue  # a link to a watched community, not a candidate
        status = row.status if row is not None else "new"
        if (status != "new" and not include_all) or int(r.posts) < min_posts:
            continue
        first, last = spans[norm]
        linked = sorted(froms.get(norm, []), key=lambda f: (-f["posts"], f["platform"], f["handle"].lower()))
        out.append(
            Candidate(
                r.platform,
                r.kind,
                row.handle if row is not None else r.spelling,
                int(r.posts),
                int(r.communities),
                first,
                last,
                status,
                row.promoted_by if row is not None else None,
                linked,
            )
        )
    out.sort(key=lambda c: (-c.communities, -c.posts, c.platform, c.kind, c.handle.lower()))
    return out


def candidate_rows(engine: Engine, status: str | None = None) -> list[Candidate]:
    """Rows of `candidates` (all-time counts), optionally of one status."""
    c = CANDIDATES.c
    q = select(CANDIDATES)
    if status is not None:
        q = q.where(c.status == status)
    with engine.connect() as conn:
        rows = list(conn.execute(q.order_by(c.communities.desc(), c.posts.desc(), func.lower(c.handle))))
    return [
        Candidate(
            r.platform,
            r.kind,
            r.handle,
            r.posts,
            r.communities,
            r.first_seen_at,
            r.last_seen_at,
            r.status,
            r.promoted_by,
        )
        for r in rows
    ]
