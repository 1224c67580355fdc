"""crawl cost: spend per run, billed reads per UTC day, the re-check schedule

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 18:30:00

* `run_sources.cost_usd`: the run's estimated platform charges (X pay-per-use);
* `billed_reads`: which ids a paying source read on which UTC day (each is billed once a
  day, so several crawls of one day are charged and capped as the platform charges them);
* `communities.status_checks`: consecutive checks that found the current status, on which
  the re-checks of dead communities back off;
* `status_changes.previous_check_at`: the last check that still saw the old status;
* `ix_posts_platform_created`: the deletion sweep selects a platform's posts by age.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crawler.db.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run_sources") as batch_op:
        batch_op.add_column(sa.Column("cost_usd", sa.Float(precision=53), nullable=True))
    with op.batch_alter_table("communities") as batch_op:
        batch_op.add_column(sa.Column("status_checks", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("status_changes") as batch_op:
        batch_op.add_column(
            sa.Column("previous_check_at", crawler.db.types.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("posts") as batch_op:
        batch_op.create_index("ix_posts_platform_created", ["platform", "created_at"], unique=False)
    op.create_table(
        "billed_reads",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.String(length=128), nullable=False),
        sa.Column("cost_usd", sa.Float(precision=53), nullable=False),
        sa.Column("read_at", crawler.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["crawl_runs.id"],
            name=op.f("fk_billed_reads_run_id_crawl_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("source", "day", "kind", "item_id", name=op.f("pk_billed_reads")),
    )
    with op.batch_alter_table("billed_reads") as batch_op:
        batch_op.create_index("ix_billed_reads_day", ["day", "source"], unique=False)
    # Existing communities: their current status was seen at least once if it is known.
    op.execute("UPDATE communities SET status_checks = 1 WHERE status <> 'unknown'")


def downgrade() -> None:
    op.drop_table("billed_reads")
    with op.batch_alter_table("posts") as batch_op:
        batch_op.drop_index("ix_posts_platform_created")
    with op.batch_alter_table("status_changes") as batch_op:
        batch_op.drop_column("previous_check_at")
    with op.batch_alter_table("communities") as batch_op:
        batch_op.drop_column("status_checks")
    with op.batch_alter_table("run_sources") as batch_op:
        batch_op.drop_column("cost_usd")
