"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-29 22:20:50.728246
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crawler.db.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "communities",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("handle", sa.String(length=512), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("nsfw", sa.Boolean(), nullable=True),
        sa.Column("created_at", crawler.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("first_seen_at", crawler.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_checked_at", crawler.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_communities")),
    )
    op.create_table(
        "crawl_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("started_at", crawler.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", crawler.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("error_summary", sa.Text(), nullable=True),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crawl_runs")),
    )
    op.create_table(
        "run_locks",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("holder", sa.String(length=255), nullable=False),
        sa.Column("acquired_at", crawler.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", crawler.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_run_locks")),
    )
    op.create_table(
        "source_state",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", crawler.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "key", name=op.f("pk_source_state")),
    )
    op.create_table(
        "tools",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tools")),
        sa.UniqueConstraint("name", name=op.f("uq_tools_name")),
    )
    op.create_table(
        "metrics",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("community_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=False),
        sa.Column("observed_at", crawler.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_metrics_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["crawl_runs.id"], name=op.f("fk_metrics_run_id_crawl_runs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metrics")),
        sa.UniqueConstraint("community_id", "metric", "observed_at", "source", name="uq_metrics_observation"),
    )
    op.create_table(
        "posts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("community_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", crawler.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_seen_at", crawler.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", crawler.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("link_domain", sa.String(length=255), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("num_comments", sa.Integer(), nullable=True),
        sa.Column("nsfw", sa.Boolean(), nullable=True),
        sa.Column("flair", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_posts_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["crawl_runs.id"], name=op.f("fk_posts_run_id_crawl_runs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posts")),
        sa.UniqueConstraint("platform", "external_id", name="uq_posts_platform_external_id"),
    )
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.create_index("ix_posts_community_created", ["community_id", "created_at"], unique=False)

    op.create_table(
        "run_sources",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("rate_limited_seconds", sa.Float(precision=53), nullable=False),
        sa.Column("error_summary", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["crawl_runs.id"], name=op.f("fk_run_sources_run_id_crawl_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "source", name=op.f("pk_run_sources")),
    )
    op.create_table(
        "status_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("community_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("observed_at", crawler.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("old_status", sa.String(length=16), nullable=True),
        sa.Column("new_status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_status_changes_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["crawl_runs.id"],
            name=op.f("fk_status_changes_run_id_crawl_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_changes")),
    )
    with op.batch_alter_table("status_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_status_changes_community_observed", ["community_id", "observed_at"], unique=False
        )

    op.create_table(
        "mentions",
        sa.Column("post_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tool_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_mentions_post_id_posts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tool_id"], ["tools.id"], name=op.f("fk_mentions_tool_id_tools"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("post_id", "tool_id", name=op.f("pk_mentions")),
    )

    # The handle is compared case-insensitively (autogenerate cannot see expression indexes).
    op.create_index(
        "uq_communities_platform_kind_handle",
        "communities",
        ["platform", "kind", sa.text("lower(handle)")],
        unique=True,
    )
    op.create_index(
        "ix_metrics_community_metric_observed", "metrics", ["community_id", "metric", "observed_at"]
    )
    _create_views()


def _day(dialect: str) -> str:
    if dialect == "postgresql":
        return "(observed_at AT TIME ZONE 'UTC')::date"
    return "date(observed_at)"


def _create_views() -> None:
    day = _day(op.get_bind().dialect.name)
    op.execute(
        "CREATE VIEW latest_metrics AS "
        "SELECT community_id, metric, value, observed_at, source, run_id FROM ("
        " SELECT m.*, ROW_NUMBER() OVER (PARTITION BY community_id, metric"
        " ORDER BY observed_at DESC, id DESC) AS rn FROM metrics m) t WHERE rn = 1"
    )
    op.execute(
        "CREATE VIEW daily_metrics AS "
        "SELECT community_id, metric, day, value, observed_at, source, run_id FROM ("
        f" SELECT m.*, {day} AS day, ROW_NUMBER() OVER (PARTITION BY community_id, metric, {day}"
        " ORDER BY observed_at DESC, id DESC) AS rn FROM metrics m) t WHERE rn = 1"
    )


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS daily_metrics")
    op.execute("DROP VIEW IF EXISTS latest_metrics")
    op.drop_index("ix_metrics_community_metric_observed", table_name="metrics")
    op.drop_index("uq_communities_platform_kind_handle", table_name="communities")
    op.drop_table("mentions")
    with op.batch_alter_table("status_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_status_changes_community_observed")

    op.drop_table("status_changes")
    op.drop_table("run_sources")
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_index("ix_posts_community_created")

    op.drop_table("posts")
    op.drop_table("metrics")
    op.drop_table("tools")
    op.drop_table("source_state")
    op.drop_table("run_locks")
    op.drop_table("crawl_runs")
    op.drop_table("communities")
