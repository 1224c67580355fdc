"""Copy a dfwatch database into another one, table by table: SQLite -> PostgreSQL.

    python deploy/sqlite_to_postgres.py sqlite:///data/dfwatch.db \
        postgresql+psycopg://dfwatch@dbhost:5432/dfwatch

The target gets the schema from the Alembic migrations first and must be empty. Rows are
copied parents before children in batches, ids kept (so mentions, metrics and run_sources
still point at the right rows); PostgreSQL's id sequences are then moved past the copied
ids. Run locks are not copied. Stop the scheduler and any crawl before copying.
Tried on SQLite -> PostgreSQL 16 with a database made by `dfwatch crawl`; the next crawl
on the copy got the next run id (docs/operations.md).
"""

from __future__ import annotations

import sys

from sqlalchemy import func, insert, select, text

from crawler.db.engine import make_engine, upgrade
from crawler.db.models import Base

BATCH = 5000  # rows per INSERT round trip
SKIP = {"run_locks"}  # a lock of the old database means nothing in the new one


def main(source_url: str, target_url: str) -> None:
    src = make_engine(source_url, read_only=True)
    dst = make_engine(target_url)
    upgrade(dst)
    tables = [t for t in Base.metadata.sorted_tables if t.name not in SKIP]
    with src.connect() as s, dst.begin() as d:
        for table in tables:
            if d.execute(select(func.count()).select_from(table)).scalar():
                sys.exit(f"{table.name} is not empty in the target: refusing to mix two databases")
        for table in tables:
            rows = s.execute(select(table)).mappings()
            n = 0
            while batch := rows.fetchmany(BATCH):
                d.execute(insert(table), [dict(r) for r in batch])
                n += len(batch)
            print(f"{table.name:<16} {n:>10} rows")
        if dst.dialect.name == "postgresql":
            for table in tables:
                if "id" in table.c and table.c.id.primary_key:
                    # Table names come from our own metadata, never from data.
                    d.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608
                            f"coalesce((SELECT max(id) FROM {table.name}), 0) + 1, false)"
                        )
                    )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
