"""The store: idempotent, batched upserts of records, and the few reads sources need.

Every write is safe to repeat. The same batch written twice leaves the database as it was
after the first time, so a crawl that dies half-way can simply be run again:

* a metric key (community, metric, observed_at, source) seen again updates its value only;
* a status change is recorded only when the status differs from the community's current one,
  and an observation older than the community's `last_checked_at` never flips it back;
* a post is upserted on (platform, external_id); a removed or deleted post loses its title,
  body, author and url, and never gets them back;
* a post's tool mentions are replaced by those of its latest visible copy.

Records are streamed: `write` holds at most `batch_size` of them, writes each batch in one
transaction with executemany-style statements, and keeps community and tool ids in memory.
The store knows no platform; a source's cursor lives in `source_state` through
`get_state`/`set_state`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, and_, func, literal_column, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from crawler.db.retry import detail, is_full
from crawler.db.store_writes import (
    BILLED_READS,
    COMMUNITIES,
    CRAWL_RUNS,
    POSTS,
    SOURCE_STATE,
    TOOLS,
    chunks,
    insert_for,
    write_metrics,
    write_observations,
    write_posts,
    write_removals,
)
from crawler.errors import DatabaseFull, StoreError
from crawler.records import (
    CommunityKey,
    CommunityObservation,
    MetricPoint,
    Post,
    PostStateUpdate,
    Record,
    utcnow,
)

if TYPE_CHECKING:
    from crawler.config import Tool

log = logging.getLogger("dfwatch.store")


@dataclass
class WriteStats:
    """What one `write` call stored (rows inserted or updated, per kind)."""

    communities: int = 0  # community observations applied
    metrics: int = 0
    status_changes: int = 0
    posts: int = 0
    mentions: int = 0
    post_state_updates: int = 0

    def __iadd__(self, other: WriteStats) -> WriteStats:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self


class Store:
    """Writes records to the research database and answers the reads sources need."""

    def __init__(self, engine: Engine, *, batch_size: int = 1000) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.engine = engine
        self.batch_size = batch_size
        self._community_ids: dict[tuple[str, str, str], int] = {}
        self._communities_loaded = False
        self._tool_ids: dict[str, int] | None = None

    # ------------------------------------------------------------------ setup writes

    def ensure_communities(self, keys: Iterable[CommunityKey], now: datetime) -> None:
        """Give every watched community its row (status unknown) from its first crawl on."""
        wanted: dict[tuple[str, str, str], CommunityKey] = {}
        for k in keys:
            wanted.setdefault(k.norm, k)  # the first spelling seen names the community
        if not wanted:
            return
        with self._begin() as conn:
            self._resolve_communities(conn, list(wanted.values()), now)

    def sync_tools(self, tools: Sequence[Tool]) -> None:
        """Upsert the taxonomy of config/tools.yaml (name, category)."""
        rows = {t.name: {"name": t.name, "category": t.category} for t in tools}
        if not rows:
            return
        with self._begin() as conn:
            ins = insert_for(conn, TOOLS)
            conn.execute(
                ins.on_conflict_do_update(index_elements=["name"], set_={"category": ins.excluded.category}),
                list(rows.values()),
            )
        self._tool_ids = None

    # ------------------------------------------------------------------ records

    def write(
        self, records: Iterable[Record], run_id: int | None, *, now: datetime | None = None
    ) -> WriteStats:
        """Store records in batches of `batch_size`, one transaction per batch.

        `now` stamps new communities and posts' first/last_seen_at; by default the run's
        start (so every batch of one run agrees), else the current time.
        """
        if now is None:
            now = self._run_started(run_id) or utcnow()
        total = WriteStats()
        batch: list[Record] = []
        for record in records:
            batch.append(record)
            if len(batch) >= self.batch_size:
                total += self._write_batch(batch, run_id, now)
                batch = []
        if batch:
            total += self._write_batch(batch, run_id, now)
        return total

    def _write_batch(self, batch: list[Record], run_id: int | None, now: datetime) -> WriteStats:
        observations: list[CommunityObservation] = []
        points: list[MetricPoint] = []
        posts: list[Post] = []
        removals: list[PostStateUpdate] = []
        for r in batch:
            if isinstance(r, CommunityObservation):
                observations.append(r)
            elif isinstance(r, MetricPoint):
                points.append(r)
            elif isinstance(r, Post):
                if not r.enriched:
                    raise StoreError(
                        f"post {r.key.platform}:{r.external_id} was not enriched; refusing to store raw text"
                    )
                posts.append(r)
            elif isinstance(r, PostStateUpdate):
                removals.append(r)
            else:
                raise StoreError(f"not a record: {type(r).__name__}")
        stats = WriteStats()
        with self._begin() as conn:
            keys = [o.key for o in observations] + [p.key for p in points] + [p.key for p in posts]
            ids = self._resolve_communities(conn, keys, now)
            stats.communities, stats.status_changes = write_observations(conn, observations, ids, run_id)
            stats.metrics = write_metrics(conn, observations, points, ids, run_id)
            stats.posts, stats.mentions = write_posts(conn, posts, ids, self._tools(conn), run_id, now)
            stats.post_state_updates = write_removals(conn, removals)
        log.debug("stored batch records=%d %s", len(batch), stats)
        return stats

    # ------------------------------------------------------------------ reads for sources

    def community_id(self, key: CommunityKey) -> int | None:
        with self.engine.connect() as conn:
            return self._lookup(conn, key)

    def community_status(self, key: CommunityKey) -> str | None:
        """The community's current status, or None if it has no row yet."""
        with self.engine.connect() as conn:
            return conn.execute(select(COMMUNITIES.c.status).where(self._key_clause(key))).scalar()

    def newest_post(self, key: CommunityKey) -> tuple[str, datetime | None] | None:
        """(external_id, created_at) of the community's post with the largest created_at."""
        c = POSTS.c
        q = (
            select(c.external_id, c.created_at)
            .join(COMMUNITIES, COMMUNITIES.c.id == c.community_id)
            .where(self._key_clause(key))
            .order_by(c.created_at.desc().nulls_last(), c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return (row[0], row[1]) if row else None

    def max_post_external_id(self, key: CommunityKey) -> str | None:
        """The numerically largest external id (snowflake ids stored as decimal strings)."""
        c = POSTS.c
        q = (
            select(c.external_id)
            .join(COMMUNITIES, COMMUNITIES.c.id == c.community_id)
            .where(self._key_clause(key))
            .order_by(func.length(c.external_id).desc(), c.external_id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            return conn.execute(q).scalar()

    def post_ids_since(self, platform: str, since: datetime) -> Iterator[str]:
        """External ids of visible posts created at or after `since`, streamed in id order."""
        c = POSTS.c
        q = (
            select(c.external_id)
            .where(c.platform == platform, c.state == "visible", c.created_at >= since)
            .order_by(c.id)
        )
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=1000).execute(q)
            for row in result:
                yield row[0]

    def post_ids_seen_in_run(self, platform: str, run_id: int | None) -> set[str]:
        """External ids of the platform's posts whose `last_seen_at` is the run's start or later.

        Every post a run stores is stamped with its start (`write`), so these are the posts
        the run has seen so far; none without a run.
        """
        started = self._run_started(run_id)
        if started is None:
            return set()
        c = POSTS.c
        q = select(c.external_id).where(c.platform == platform, c.last_seen_at >= started)
        with self.engine.connect() as conn:
            return {row[0] for row in conn.execute(q)}

    def post_ids_due(
        self,
        platform: str,
        *,
        since: datetime,
        now: datetime,
        fraction: float,
        always_after: datetime,
        slack: timedelta = timedelta(0),
    ) -> Iterator[str]:
        """Visible posts created at or after `since` that are due for a re-check at `now`.

        Due: created at or after `always_after`, or unseen for at least `fraction` of the
        post's age, less `slack`: now − last_seen_at ≥ fraction · (now − created_at) − slack,
        evaluated in the database as last_seen − fraction · created ≤ (1 − fraction) · now + slack
        (in epoch seconds). Streamed in id order.
        """
        c = POSTS.c
        epoch = _epoch_seconds(self.engine.dialect.name)
        bound = (1.0 - fraction) * now.timestamp() + slack.total_seconds()
        q = (
            select(c.external_id)
            .where(
                c.platform == platform,
                c.state == literal_column("'visible'"),
                c.created_at >= since,
                or_(
                    c.created_at >= always_after,
                    epoch(c.last_seen_at) - fraction * epoch(c.created_at) <= bound,
                ),
            )
            .order_by(c.id)
        )
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=1000).execute(q)
            for row in result:
                yield row[0]

    def check_states(self) -> dict[tuple[str, str, str], tuple[str, int, datetime | None]]:
        """Every community's (status, consecutive checks at it, last check), by its norm."""
        c = COMMUNITIES.c
        out: dict[tuple[str, str, str], tuple[str, int, datetime | None]] = {}
        with self.engine.connect() as conn:
            q = select(c.platform, c.kind, c.handle, c.status, c.status_checks, c.last_checked_at)
            for platform, kind, handle, status, checks, checked in conn.execute(q):
                out[(platform, kind, handle.lower())] = (status, int(checks or 0), checked)
        return out

    # ------------------------------------------------------------------ billed reads

    def billed_ids(self, source: str, day: date, kind: str, ids: Iterable[str]) -> set[str]:
        """Those of `ids` already billed to `source` on the UTC `day`."""
        c = BILLED_READS.c
        wanted = sorted(set(ids))
        found: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in chunks(wanted):
                q = select(c.item_id).where(
                    c.source == source, c.day == day.isoformat(), c.kind == kind, c.item_id.in_(chunk)
                )
                found.update(r[0] for r in conn.execute(q))
        return found

    def bill(
        self,
        source: str,
        day: date,
        kind: str,
        items: Mapping[str, float],
        read_at: datetime,
        run_id: int | None,
    ) -> None:
        """Record items (id -> USD) as billed on `day`; an item billed before keeps its row."""
        if not items:
            return
        rows = [
            {
                "source": source,
                "day": day.isoformat(),
                "kind": kind,
                "item_id": item_id,
                "cost_usd": float(usd),
                "read_at": read_at,
                "run_id": run_id,
            }
            for item_id, usd in items.items()
        ]
        with self._begin() as conn:
            conn.execute(insert_for(conn, BILLED_READS).on_conflict_do_nothing(), rows)

    def billed_total(self, source: str, day: date) -> float:
        """USD billed to `source` on the UTC `day`, over every run of that day."""
        c = BILLED_READS.c
        with self.engine.connect() as conn:
            total = conn.execute(
                select(func.coalesce(func.sum(c.cost_usd), 0.0)).where(
                    c.source == source, c.day == day.isoformat()
                )
            ).scalar()
        return float(total or 0.0)

    def get_state(self, source: str, key: str) -> str | None:
        c = SOURCE_STATE.c
        with self.engine.connect() as conn:
            return conn.execute(select(c.value).where(c.source == source, c.key == key)).scalar()

    def set_state(self, source: str, key: str, value: str) -> None:
        with self._begin() as conn:
            ins = insert_for(conn, SOURCE_STATE).values(
                source=source, key=key, value=value, updated_at=utcnow()
            )
            conn.execute(
                ins.on_conflict_do_update(
                    index_elements=["source", "key"],
                    set_={"value": ins.excluded.value, "updated_at": ins.excluded.updated_at},
                )
            )

    # ------------------------------------------------------------------ internals

    def _begin(self) -> _Transaction:
        return _Transaction(self)

    @staticmethod
    def _key_clause(key: CommunityKey) -> Any:
        c = COMMUNITIES.c
        return and_(
            c.platform == key.platform, c.kind == key.kind, func.lower(c.handle) == func.lower(key.handle)
        )

    def _lookup(self, conn: Connection, key: CommunityKey) -> int | None:
        return conn.execute(select(COMMUNITIES.c.id).where(self._key_clause(key))).scalar()

    def _resolve_communities(
        self, conn: Connection, keys: Iterable[CommunityKey], now: datetime
    ) -> dict[tuple[str, str, str], int]:
        """Ids for `keys` (by their case-folded norm), creating rows for new communities."""
        if not self._communities_loaded:
            c = COMMUNITIES.c
            for cid, platform, kind, handle in conn.execute(select(c.id, c.platform, c.kind, c.handle)):
                self._community_ids.setdefault((platform, kind, handle.lower()), cid)
            self._communities_loaded = True
        missing: dict[tuple[str, str, str], CommunityKey] = {}
        for k in keys:
            if k.norm not in self._community_ids:
                missing.setdefault(k.norm, k)
        if missing:
            ins = insert_for(conn, COMMUNITIES).on_conflict_do_nothing()
            conn.execute(
                ins,
                [
                    {
                        "platform": k.platform,
                        "kind": k.kind,
                        "handle": k.handle,
                        "status": "unknown",
                        "first_seen_at": now,
                    }
                    for k in missing.values()
                ],
            )
            for norm, k in missing.items():
                cid = self._lookup(conn, k)
                if cid is None:  # pragma: no cover - the insert above guarantees a row
                    raise StoreError(f"community {k} could not be created")
                self._community_ids[norm] = cid
                log.debug("community=%s id=%d created", k, cid)
        return self._community_ids

    def _tools(self, conn: Connection) -> dict[str, int]:
        if self._tool_ids is None:
            self._tool_ids = {name: tid for tid, name in conn.execute(select(TOOLS.c.id, TOOLS.c.name))}
        return self._tool_ids

    def _run_started(self, run_id: int | None) -> datetime | None:
        if run_id is None:
            return None
        with self.engine.connect() as conn:
            return conn.execute(select(CRAWL_RUNS.c.started_at).where(CRAWL_RUNS.c.id == run_id)).scalar()


def _epoch_seconds(dialect: str) -> Any:
    """A column's time as epoch seconds, in the dialect's own SQL (no text from outside)."""
    if dialect == "sqlite":  # times are stored as naive UTC text, which julianday() reads
        return lambda col: (func.julianday(col) - 2440587.5) * 86400.0
    return lambda col: func.extract("epoch", col)


class _Transaction:
    """One transaction; database errors become StoreError and drop the id caches.

    The caches must be dropped on rollback: ids handed out for rows created inside the
    failed transaction no longer exist.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._ctx: Any = None

    def __enter__(self) -> Connection:
        self._ctx = self.store.engine.begin()
        try:
            conn: Connection = self._ctx.__enter__()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open the database: {getattr(exc, 'orig', exc)}") from exc
        return conn

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            self._ctx.__exit__(exc_type, exc, tb)
        except SQLAlchemyError as err:
            self._forget()
            if is_full(err):
                raise DatabaseFull(f"the database is full: {detail(err)}") from err
            raise StoreError(f"the database refused the write: {getattr(err, 'orig', err)}") from err
        if exc is not None:
            self._forget()
            if isinstance(exc, SQLAlchemyError):
                raise StoreError(f"the database refused the write: {getattr(exc, 'orig', exc)}") from exc

    def _forget(self) -> None:
        self.store._community_ids.clear()
        self.store._communities_loaded = False
        self.store._tool_ids = None
