"""The write half of the store: one function per record kind, each one batch of statements.

Each function gets an open transaction and the ids the store resolved, sends a handful of
executemany-style statements (never one round trip per row), and returns what it stored.
Duplicates inside one batch are folded first (the last copy wins): PostgreSQL refuses an
`ON CONFLICT DO UPDATE` that touches the same row twice in one statement.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, case, func, literal_column, null, select, update
from sqlalchemy.engine import Connection

from crawler.db import models
from crawler.db.store_links import write_links
from crawler.errors import StoreError
from crawler.records import POST_STATES, STATUSES, CommunityObservation, MetricPoint, Post, PostStateUpdate

log = logging.getLogger("dfwatch.store")

_T = models.Base.metadata.tables
COMMUNITIES: Table = _T["communities"]
METRICS: Table = _T["metrics"]
STATUS_CHANGES: Table = _T["status_changes"]
POSTS: Table = _T["posts"]
TOOLS: Table = _T["tools"]
MENTIONS: Table = _T["mentions"]
SOURCE_STATE: Table = _T["source_state"]
CRAWL_RUNS: Table = _T["crawl_runs"]
BILLED_READS: Table = _T["billed_reads"]

IN_CHUNK = 500  # ids per IN (...) list: well under SQLite's 32,766 host parameters
POST_KEYS = (
    "community_id",
    "platform",
    "external_id",
    "created_at",
    "first_seen_at",
    "last_seen_at",
    "author",
    "title",
    "body",
    "url",
    "link_domain",
    "score",
    "num_comments",
    "nsfw",
    "flair",
    "state",
    "run_id",
)
METRIC_KEYS = ("community_id", "metric", "value", "observed_at", "source", "run_id")
DESCRIPTIVE = ("external_id", "title", "url", "nsfw", "created_at")

CommunityIds = Mapping[tuple[str, str, str], int]


def insert_for(conn: Connection, table: Any) -> Any:
    """The dialect's INSERT, the one that has ON CONFLICT (SQLite and PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


@functools.lru_cache(maxsize=64)
def _compiled(
    dialect: Any, stmt: Any, keys: tuple[str, ...]
) -> tuple[str, list[int] | None, list[tuple[int, Any]]]:
    """(SQL, positional order as indexes into keys or None if named, (index, processor) pairs)."""
    compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
    order = [keys.index(k) for k in compiled.positiontup or ()] if compiled.positional else None
    procs = [
        (keys.index(name), p)
        for name, b in compiled.binds.items()
        if (p := b.type.bind_processor(dialect)) is not None
    ]
    return compiled.string, order, procs


def executemany(conn: Connection, stmt: Any, rows: list[list[Any]], keys: tuple[str, ...]) -> None:
    """Run `stmt` once per row (values in `keys` order) in one driver-level executemany.

    The statement is compiled once for exactly `keys`, and each value goes through its
    column type's own bind processor, so times are stored exactly as SQLAlchemy stores
    them. This skips SQLAlchemy's per-row parameter assembly, which bench/store.py measured
    at about half the cost of storing a post. Statements must carry no literal binds
    (use literal_column) and be built once (they key the compile cache).
    """
    if not rows:
        return
    sql, order, procs = _compiled(conn.dialect, stmt, keys)
    for row in rows:
        for i, proc in procs:
            row[i] = proc(row[i])
    if order is None:
        params: list[Any] = [dict(zip(keys, row, strict=True)) for row in rows]
    elif order == list(range(len(keys))):
        params = list(map(tuple, rows))
    else:
        params = [tuple([row[i] for i in order]) for row in rows]
    conn.exec_driver_sql(sql, params)


@functools.lru_cache(maxsize=8)
def _post_ids_sql(paramstyle: str, n: int) -> str:
    """SELECT the ids of n posts of one platform, with n driver placeholders (no data in it).

    Written for the driver directly: SQLAlchemy's expanding IN re-renders the statement for
    every chunk, which bench/store.py measured at a tenth of the cost of storing a post.
    """
    mark = "?" if paramstyle == "qmark" else "%s"
    return f"SELECT id, external_id FROM posts WHERE platform = {mark} AND external_id IN ({', '.join([mark] * n)})"  # noqa: S608 - placeholders only


def chunks(items: Sequence[Any], n: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _aware(when: datetime, what: str) -> datetime:
    if when.tzinfo is None:
        raise StoreError(f"{what}: naive datetime {when!r}; records carry UTC-aware times")
    return when


# --------------------------------------------------------------------------- communities


def write_observations(
    conn: Connection, observations: Sequence[CommunityObservation], ids: CommunityIds, run_id: int | None
) -> tuple[int, int]:
    """Apply observations in time order; returns (observations applied, status changes).

    An observation older than the community's last_checked_at only fills descriptive fields
    still unknown; it neither moves last_checked_at back nor changes the status.
    """
    if not observations:
        return 0, 0
    c = COMMUNITIES.c
    cols = (c.id, c.status, c.status_reason, c.last_checked_at, c.status_checks, *(c[f] for f in DESCRIPTIVE))
    state: dict[int, dict[str, Any]] = {}
    for chunk in chunks(sorted({ids[o.key.norm] for o in observations})):
        for row in conn.execute(select(*cols).where(c.id.in_(chunk))):
            state[row.id] = dict(row._mapping)
    changes: list[dict[str, Any]] = []
    for o in sorted(observations, key=lambda o: _aware(o.observed_at, str(o.key))):
        s = state[ids[o.key.norm]]
        current = s["last_checked_at"] is None or o.observed_at >= s["last_checked_at"]
        for f in DESCRIPTIVE:
            value = getattr(o, f)
            if value is not None and (current or s[f] is None):
                s[f] = value
        if not current:
            log.debug("community=%s observed_at=%s older than last check; status kept", o.key, o.observed_at)
            continue
        previous_check, s["last_checked_at"] = s["last_checked_at"], o.observed_at
        if o.status is None:
            continue
        if o.status == s["status"]:
            # One more check that found the same status (observations of one instant count once).
            if previous_check is None or o.observed_at > previous_check:
                s["status_checks"] = (s["status_checks"] or 0) + 1
            continue
        if o.status not in STATUSES:
            log.warning("community=%s source=%s unknown status %r ignored", o.key, o.source, o.status)
            continue
        changes.append(
            {
                "community_id": s["id"],
                "observed_at": o.observed_at,
                "old_status": None if s["status"] == "unknown" else s["status"],
                "new_status": o.status,
                "reason": o.status_reason,
                "run_id": run_id,
                "previous_check_at": previous_check,
            }
        )
        log.info("community=%s status %s -> %s reason=%s", o.key, s["status"], o.status, o.status_reason)
        s["status"], s["status_reason"], s["status_checks"] = o.status, o.status_reason, 1
    names = ("status", "status_reason", "last_checked_at", "status_checks", *DESCRIPTIVE)
    stmt = (
        update(COMMUNITIES).where(c.id == bindparam("b_id")).values({n: bindparam(f"b_{n}") for n in names})
    )
    conn.execute(stmt, [{"b_id": s["id"], **{f"b_{n}": s[n] for n in names}} for s in state.values()])
    if changes:
        conn.execute(STATUS_CHANGES.insert(), changes)
    return len(observations), len(changes)


def write_metrics(
    conn: Connection,
    observations: Sequence[CommunityObservation],
    points: Sequence[MetricPoint],
    ids: CommunityIds,
    run_id: int | None,
) -> int:
    """Upsert metric rows; the same (community, metric, observed_at, source) updates value only."""
    rows: dict[tuple[Any, ...], list[Any]] = {}

    def add(cid: int, metric: str, value: float | None, when: datetime, source: str) -> None:
        if value is None:  # a hidden value is absent, never 0
            return
        rows[(cid, metric, when, source)] = [cid, metric, float(value), when, source, run_id]  # METRIC_KEYS

    for o in observations:
        for metric, value in o.metrics.items():
            add(ids[o.key.norm], metric, value, o.observed_at, o.source)
    for p in points:
        add(ids[p.key.norm], p.metric, p.value, p.observed_at, p.source)
    if not rows:
        return 0
    executemany(conn, _statements(conn).metric_upsert, list(rows.values()), METRIC_KEYS)
    return len(rows)


# --------------------------------------------------------------------------- posts


class _Statements:
    """The hot statements of one dialect, built once (they key executemany's compile cache)."""

    def __init__(self, conn: Connection) -> None:
        self.post_upsert = _post_upsert(conn)
        ins = insert_for(conn, METRICS)
        self.metric_upsert = ins.on_conflict_do_update(
            index_elements=["community_id", "metric", "observed_at", "source"],
            set_={"value": ins.excluded.value},
        )
        self.mention_insert = insert_for(conn, MENTIONS).on_conflict_do_nothing()


_STATEMENTS: dict[str, _Statements] = {}


def _statements(conn: Connection) -> _Statements:
    name = conn.dialect.name
    if name not in _STATEMENTS:
        _STATEMENTS[name] = _Statements(conn)
    return _STATEMENTS[name]


def _post_upsert(conn: Connection) -> Any:
    """INSERT ... ON CONFLICT for posts, with the rules of the codebook in its SET clause."""
    ins = insert_for(conn, POSTS)
    new, old = ins.excluded, POSTS.c
    visible: Any = literal_column("'visible'")  # a literal, not a bind: see executemany
    was_gone = old.state != visible
    now_gone = new.state != visible
    erase = was_gone | now_gone
    set_: dict[str, Any] = {
        "score": func.coalesce(new.score, old.score),
        "num_comments": func.coalesce(new.num_comments, old.num_comments),
        "last_seen_at": new.last_seen_at,
        "created_at": func.coalesce(new.created_at, old.created_at),
        "nsfw": func.coalesce(new.nsfw, old.nsfw),
        # Once removed or deleted, a post stays so (and its text stays gone).
        "state": case((was_gone & (new.state == visible), old.state), else_=new.state),
        "flair": case((erase, old.flair), else_=new.flair),
        "link_domain": case((erase, old.link_domain), else_=new.link_domain),
    }
    for col in ("title", "body", "author", "url"):
        set_[col] = case((erase, null()), else_=new[col])
    return ins.on_conflict_do_update(index_elements=["platform", "external_id"], set_=set_)


def write_posts(
    conn: Connection,
    posts: Sequence[Post],
    ids: CommunityIds,
    tools: Mapping[str, int],
    run_id: int | None,
    now: datetime,
) -> tuple[int, int]:
    """Upsert posts and replace their mentions; returns (posts, mention rows written)."""
    if not posts:
        return 0, 0
    rows: dict[tuple[str, str], list[Any]] = {}
    named: dict[tuple[str, str], tuple[bool, tuple[str, ...]]] = {}
    for p in posts:
        if p.state not in POST_STATES:
            raise StoreError(f"post {p.key.platform}:{p.external_id}: unknown state {p.state!r}")
        visible = p.state == "visible"
        pk = (p.key.platform, p.external_id)
        rows[pk] = [  # POST_KEYS order
            ids[p.key.norm],
            p.key.platform,
            p.external_id,
            p.created_at,
            now,
            now,
            p.author if visible else None,
            p.title if visible else None,
            p.body if visible else None,
            p.url if visible else None,
            p.link_domain,
            p.score,
            p.num_comments,
            p.nsfw,
            p.flair,
            p.state,
            run_id,
        ]
        named[pk] = (visible, p.mentions)
    executemany(conn, _statements(conn).post_upsert, list(rows.values()), POST_KEYS)
    post_ids: dict[tuple[str, str], int] = {}
    for platform in {pk[0] for pk in rows}:
        wanted = [ext for plat, ext in rows if plat == platform]
        for chunk in chunks(wanted):
            found = conn.exec_driver_sql(
                _post_ids_sql(conn.dialect.paramstyle, len(chunk)), (platform, *chunk)
            )
            post_ids.update(((platform, ext), pid) for pid, ext in found)
    # A visible copy says which tools the post names now; a removed copy has lost its text,
    # so it can only add to what was found while the text was there.
    replace = [post_ids[pk] for pk, (visible, _) in named.items() if visible]
    for chunk in chunks(replace):
        conn.execute(MENTIONS.delete().where(MENTIONS.c.post_id.in_(chunk)))
    mention_rows = []
    for pk, (_, names) in named.items():
        for name in dict.fromkeys(names):
            tool_id = tools.get(name)
            if tool_id is None:
                log.debug("post=%s:%s mentions unknown tool %r; ignored", *pk, name)
                continue
            mention_rows.append([post_ids[pk], tool_id])
    executemany(conn, _statements(conn).mention_insert, mention_rows, ("post_id", "tool_id"))
    write_links(conn, posts, post_ids, ids, run_id, now)  # discovery's evidence (store_links.py)
    return len(rows), len(mention_rows)


def write_removals(conn: Connection, removals: Sequence[PostStateUpdate]) -> int:
    """Apply re-checks: posts removed/deleted upstream lose their title, body, author and url;
    posts seen visible get their `last_seen_at` advanced (never moved back, never revived)."""
    if not removals:
        return 0
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for r in removals:
        if r.state not in POST_STATES:
            raise StoreError(f"post {r.platform}:{r.external_id}: unknown state {r.state!r}")
        pk = (r.platform, r.external_id)
        if r.state == "visible":
            when = _aware(r.observed_at, f"post {r.platform}:{r.external_id}")
            if pk not in seen or when > seen[pk]["b_seen"]:
                seen[pk] = {"b_platform": r.platform, "b_ext": r.external_id, "b_seen": when}
            continue
        rows[pk] = {"b_platform": r.platform, "b_ext": r.external_id, "b_state": r.state}
    written = 0
    c = POSTS.c
    if rows:
        stmt = (
            update(POSTS)
            .where(c.platform == bindparam("b_platform"), c.external_id == bindparam("b_ext"))
            .values(state=bindparam("b_state"), title=None, body=None, author=None, url=None)
        )
        result = conn.execute(stmt, list(rows.values()))
        written += result.rowcount if result.rowcount >= 0 else len(rows)
    # A post found gone in the same batch is not also marked seen; a removed post stays so.
    seen_rows = [row for pk, row in seen.items() if pk not in rows]
    if seen_rows:
        stmt = (
            update(POSTS)
            .where(
                c.platform == bindparam("b_platform"),
                c.external_id == bindparam("b_ext"),
                c.state == literal_column("'visible'"),
                c.last_seen_at < bindparam("b_seen"),
            )
            .values(last_seen_at=bindparam("b_seen"))
        )
        conn.execute(stmt, seen_rows)
    return written + len(seen_rows)
