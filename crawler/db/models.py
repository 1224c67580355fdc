"""SQLAlchemy models for the codebook (docs/schema.md documents every column)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from crawler.db.types import BigId, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Community(Base):
    """One watched community; exists from its first crawl on, status unknown until seen."""

    __tablename__ = "communities"
    __table_args__ = (
        # The handle is compared case-insensitively (r/SFWdeepfakes == r/sfwdeepfakes).
        Index("uq_communities_platform_kind_handle", "platform", "kind", func.lower("handle"), unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    handle: Mapped[str] = mapped_column(String(512))
    external_id: Mapped[str | None] = mapped_column(String(128))
    title: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    nsfw: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="unknown")
    status_reason: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Consecutive checks that found the current status (1 on a change); the re-check
    # schedule of dead communities (crawler.recheck) backs off on it.
    status_checks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Metric(Base):
    """One observation of one metric; the same key again updates its value."""

    __tablename__ = "metrics"
    __table_args__ = (
        UniqueConstraint("community_id", "metric", "observed_at", "source", name="uq_metrics_observation"),
        # The reports' "latest value at or before t" seeks (crawler.report.queries).
        Index("ix_metrics_community_metric_observed", "community_id", "metric", "observed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(32))
    value: Mapped[float] = mapped_column(Float(53))
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(32))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))


class StatusChange(Base):
    """A row only when a community's status differs from the last one recorded."""

    __tablename__ = "status_changes"
    __table_args__ = (Index("ix_status_changes_community_observed", "community_id", "observed_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    old_status: Mapped[str | None] = mapped_column(String(16))
    new_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    # The last check that still saw old_status: the change happened in (previous_check_at,
    # observed_at]. With patient re-checks that span can be days long; it is kept exact.
    previous_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))


class Post(Base):
    """One post; `author` is a keyed pseudonym, never the name."""

    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("platform", "external_id", name="uq_posts_platform_external_id"),
        Index("ix_posts_community_created", "community_id", "created_at"),
        Index("ix_posts_platform_created", "platform", "created_at"),  # the deletion sweep's scan
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    author: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    link_domain: Mapped[str | None] = mapped_column(String(255))
    score: Mapped[int | None] = mapped_column(Integer)
    num_comments: Mapped[int | None] = mapped_column(Integer)
    nsfw: Mapped[bool | None] = mapped_column(Boolean)
    flair: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="visible")
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))


class Tool(Base):
    """A tool of the taxonomy in config/tools.yaml."""

    __tablename__ = "tools"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    category: Mapped[str | None] = mapped_column(String(64))


class Mention(Base):
    """A tool named in a post (found before any text is dropped)."""

    __tablename__ = "mentions"

    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    tool_id: Mapped[int] = mapped_column(ForeignKey("tools.id", ondelete="CASCADE"), primary_key=True)


class CrawlRun(Base):
    """One crawl: when, why, how it ended, and what it cost."""

    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    trigger: Mapped[str] = mapped_column(String(16), default="manual")
    status: Mapped[str] = mapped_column(String(16), default="running")
    requests: Mapped[int] = mapped_column(Integer, default=0)
    items: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    error_summary: Mapped[str | None] = mapped_column(Text)
    version: Mapped[str] = mapped_column(String(32))
    # Seconds the crawl waited for the run lock before started_at (None: no lock wait recorded).
    lock_wait_seconds: Mapped[float | None] = mapped_column(Float(53))
    # Not in DESIGN.md's list: which process ran it, so a dead run can be recognised.
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(255))


class RunSource(Base):
    """What one source did within one run."""

    __tablename__ = "run_sources"

    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id", ondelete="CASCADE"), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="running")
    requests: Mapped[int] = mapped_column(Integer, default=0)
    items: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    rate_limited_seconds: Mapped[float] = mapped_column(Float(53), default=0.0)
    error_summary: Mapped[str | None] = mapped_column(Text)
    # Estimated platform charges of the run (X's pay-per-use); NULL for sources that charge nothing.
    cost_usd: Mapped[float | None] = mapped_column(Float(53))


class RunShard(Base):
    """One shard of a distributed crawl: a part of one source's targets, run by one worker.

    Summed into `run_sources` when the run closes; kept so a run's shards can be audited.
    """

    __tablename__ = "run_shards"

    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id", ondelete="CASCADE"), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    # [[platform, kind, handle], ...]: the community keys of its targets (nothing secret).
    targets: Mapped[str] = mapped_column(Text)
    # targets (its part of the watchlist), finale (the once-per-run steps), all (the whole source)
    steps: Mapped[str] = mapped_column(String(16), default="targets")
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    items: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    rate_limited_seconds: Mapped[float] = mapped_column(Float(53), default=0.0)
    cost_usd: Mapped[float | None] = mapped_column(Float(53))
    error_summary: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(255))  # host:pid of the last worker that ran it
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SourceState(Base):
    """Small per-source state a source keeps between crawls (cursors, ETags)."""

    __tablename__ = "source_state"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BilledRead(Base):
    """One item a paying source read on one UTC day: the platform bills each id once a day.

    Kept so that several crawls of one day are charged (and capped) as the platform
    charges them; rows of past days serve only the daily totals and may be purged.
    """

    __tablename__ = "billed_reads"
    __table_args__ = (Index("ix_billed_reads_day", "day", "source"),)

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # UTC date, YYYY-MM-DD
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)  # post, user, request, ...
    item_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    cost_usd: Mapped[float] = mapped_column(Float(53))
    read_at: Mapped[datetime] = mapped_column(UTCDateTime)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))


class RunLock(Base):
    """A named lock row so two crawls of one scope never overlap."""

    __tablename__ = "run_locks"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[int | None] = mapped_column(BigId)
    holder: Mapped[str] = mapped_column(String(255))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PseudonymKeyFingerprint(Base):
    """The fingerprint of the key the authors were pseudonymised with (one row, id 1).

    Written at the first pseudonymised write; a crawl with another key stops before any
    request (crawler.db.keyguard). The key itself is never stored.
    """

    __tablename__ = "pseudonym_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    first_used_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CommunityLink(Base):
    """A post linking to a community: the evidence discovery reads (which post, from where, to what, when).

    The target is a community key as read from the text (crawler.enrich.community_links),
    watched or not; one row per (post, target), the target compared case-insensitively.
    """

    __tablename__ = "community_links"
    __table_args__ = (
        Index(
            "uq_community_links_post_target",
            "post_id",
            "platform",
            "kind",
            func.lower("handle"),
            unique=True,
        ),
        Index("ix_community_links_target", "platform", "kind", func.lower("handle")),
        Index("ix_community_links_linked_at", "linked_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    handle: Mapped[str] = mapped_column(String(512))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))


class Candidate(Base):
    """A community that watched communities link to and that was not watched when first linked."""

    __tablename__ = "candidates"
    __table_args__ = (
        Index("uq_candidates_platform_kind_handle", "platform", "kind", func.lower("handle"), unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    handle: Mapped[str] = mapped_column(String(512))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    posts: Mapped[int] = mapped_column(Integer, default=0)
    communities: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="new")
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    promoted_by: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Alert(Base):
    """One alert event, sent once: unique on its key; retried until every URL took it."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id", ondelete="SET NULL"))
    key: Mapped[str] = mapped_column(String(255), unique=True)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    pending: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))
