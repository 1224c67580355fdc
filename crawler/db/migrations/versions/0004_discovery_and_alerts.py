"""discovery and alerts: community_links (evidence), candidates, alerts

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 18:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crawler.db.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, crawler.db.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "community_links",
        sa.Column("id", ID, nullable=False),
        sa.Column("post_id", ID, nullable=False),
        sa.Column("community_id", ID, nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("handle", sa.String(length=512), nullable=False),
        _time("linked_at", False),
        _time("first_seen_at", False),
        sa.Column("run_id", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_community_links_post_id_posts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_community_links_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["crawl_runs.id"],
            name=op.f("fk_community_links_run_id_crawl_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_links")),
    )
    op.create_index(
        "uq_community_links_post_target",
        "community_links",
        ["post_id", "platform", "kind", sa.text("lower(handle)")],
        unique=True,
    )
    op.create_index(
        "ix_community_links_target", "community_links", ["platform", "kind", sa.text("lower(handle)")]
    )
    op.create_index("ix_community_links_linked_at", "community_links", ["linked_at"])

    op.create_table(
        "candidates",
        sa.Column("id", ID, nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("handle", sa.String(length=512), nullable=False),
        _time("first_seen_at", False),
        _time("last_seen_at", False),
        sa.Column("posts", sa.Integer(), nullable=False),
        sa.Column("communities", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _time("status_changed_at", True),
        sa.Column("promoted_by", sa.String(length=16), nullable=True),
        _time("updated_at", False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candidates")),
    )
    op.create_index(
        "uq_candidates_platform_kind_handle",
        "candidates",
        ["platform", "kind", sa.text("lower(handle)")],
        unique=True,
    )

    op.create_table(
        "alerts",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("community_id", ID, nullable=True),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _time("created_at", False),
        _time("sent_at", True),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("run_id", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_alerts_community_id_communities"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["crawl_runs.id"], name=op.f("fk_alerts_run_id_crawl_runs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("key", name=op.f("uq_alerts_key")),
    )


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_index("uq_candidates_platform_kind_handle", table_name="candidates")
    op.drop_table("candidates")
    op.drop_index("ix_community_links_linked_at", table_name="community_links")
    op.drop_index("ix_community_links_target", table_name="community_links")
    op.drop_index("uq_community_links_post_target", table_name="community_links")
    op.drop_table("community_links")
