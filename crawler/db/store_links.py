"""The store's half of discovery: the links posts make to communities, kept as evidence.

A post's `links` (community keys read at enrichment) become `community_links` rows: which
post, in which community, links to which key, when (the post's time, else when it was
first stored). The store knows no platform: a key is three strings to it, watched or not;
crawler.discover decides what is a candidate.

Evidence accumulates: a link once seen stays, also when a later copy of the post no longer
carries it (an edit, a removal), as the post's link domain does. Writing the same batch
again adds nothing (unique on post and target).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection

from crawler.db import models
from crawler.records import Post

COMMUNITY_LINKS: Table = models.Base.metadata.tables["community_links"]
LINK_KEYS = ("post_id", "community_id", "platform", "kind", "handle", "linked_at", "first_seen_at", "run_id")

_STATEMENTS: dict[str, Any] = {}


def _insert(conn: Connection) -> Any:
    from crawler.db.store_writes import insert_for

    name = conn.dialect.name
    if name not in _STATEMENTS:  # built once: it keys executemany's compile cache
        _STATEMENTS[name] = insert_for(conn, COMMUNITY_LINKS).on_conflict_do_nothing()
    return _STATEMENTS[name]


def write_links(
    conn: Connection,
    posts: Sequence[Post],
    post_ids: Mapping[tuple[str, str], int],
    ids: Mapping[tuple[str, str, str], int],
    run_id: int | None,
    now: datetime,
) -> int:
    """Insert the community links of `posts` not stored yet; returns the rows offered."""
    from crawler.db.store_writes import executemany

    rows: dict[tuple[int, tuple[str, str, str]], list[Any]] = {}
    for p in posts:
        if not p.links:
            continue
        pid = post_ids[(p.key.platform, p.external_id)]
        for k in p.links:
            rows.setdefault(
                (pid, k.norm),
                [pid, ids[p.key.norm], k.platform, k.kind, k.handle, p.created_at or now, now, run_id],
            )
    executemany(conn, _insert(conn), list(rows.values()), LINK_KEYS)
    return len(rows)
