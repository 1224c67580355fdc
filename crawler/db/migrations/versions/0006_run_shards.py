"""run shards: the parts of a distributed crawl, one row per shard

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 06:20:00

* `run_shards`: one row per shard of a distributed crawl (`dfwatch crawl --distributed`):
  its source, its targets (community keys), which worker ran it, how often, and the same
  counters as `run_sources`, into which the shards of a source are summed when the run
  closes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crawler.db.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_shards",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("targets", sa.Text(), nullable=False),
        sa.Column("steps", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("rate_limited_seconds", sa.Float(precision=53), nullable=False),
        sa.Column("cost_usd", sa.Float(precision=53), nullable=True),
        sa.Column("error_summary", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(length=255), nullable=True),
        sa.Column("started_at", crawler.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", crawler.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["crawl_runs.id"], name=op.f("fk_run_shards_run_id_crawl_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "source", "shard", name=op.f("pk_run_shards")),
    )


def downgrade() -> None:
    op.drop_table("run_shards")
