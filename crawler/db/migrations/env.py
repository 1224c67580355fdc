"""Alembic environment: dfwatch passes its engine in `config.attributes['engine']`."""

from __future__ import annotations

from alembic import context

from crawler.db.models import Base

# Tables that belong to others: APScheduler's job store lives in the same database.
FOREIGN_TABLES = {"apscheduler_jobs"}


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    return not (type_ == "table" and name in FOREIGN_TABLES)


engine = context.config.attributes["engine"]
with engine.begin() as connection:
    if connection.dialect.name == "sqlite":
        # Take the write lock before reading the schema version, and keep the DDL in one
        # transaction: a second process upgrading at the same time waits here (busy
        # timeout), then finds the schema current instead of creating the tables again.
        # (pysqlite would otherwise run each DDL statement in autocommit.)
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()
