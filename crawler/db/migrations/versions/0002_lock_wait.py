"""crawl_runs.lock_wait_seconds: how long a crawl waited for the run lock

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch:
        batch.add_column(sa.Column("lock_wait_seconds", sa.Float(precision=53), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch:
        batch.drop_column("lock_wait_seconds")
