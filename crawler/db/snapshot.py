"""`dfwatch export --format sqlite`: one SQLite file holding every table and view, streamed.

Datasette serves SQLite only, and a PostgreSQL database is often too big or too private to
hand over whole; a snapshot file is what a researcher browses or shares. The snapshot's schema
is made by the same Alembic migrations as any dfwatch database (so it carries the same
indexes and views, and `dfwatch report` and `dfwatch query` run on it too), then every table
is copied in chunks (a server-side cursor on PostgreSQL), parents before children. The file
is written under a `.part` name, switched from WAL to a rollback journal (one self-contained
file, no -wal beside it) and renamed when complete.

On PostgreSQL the copy runs in one REPEATABLE READ transaction: the snapshot is of one
instant even while a crawl writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.engine import make_url

from crawler.db import models
from crawler.db.engine import current_revision, make_engine, upgrade
from crawler.errors import ConfigError, StoreError

log = logging.getLogger("dfwatch.export")

CHUNK_ROWS = 5000  # rows per fetch and per executemany
SNAPSHOT_NAME = "snapshot.db"  # the file name when --out names a directory
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")

Progress = Callable[[str, int], None]  # (table, rows copied so far)


def snapshot_path(out: Path) -> Path:
    """`--out` names the file when it ends in .db/.sqlite/.sqlite3, else a directory for it."""
    return out if out.suffix.lower() in SQLITE_SUFFIXES else out / SNAPSHOT_NAME


def _same_file(url: str, path: Path) -> bool:
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return False
    db = u.database.removeprefix("file:").split("?", 1)[0]
    return Path(db).resolve() == path.resolve()


def export_sqlite(url: str, out: Path, progress: Progress | None = None) -> dict[str, int]:
    """Copy every table of the database at `url` into a new SQLite file; rows per table."""
    path = snapshot_path(out)
    if _same_file(url, path):
        raise ConfigError(f"{path} is the database itself: choose another --out", entry="--out")
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    for stale in (part, part.with_name(part.name + "-wal"), part.with_name(part.name + "-shm")):
        stale.unlink(missing_ok=True)
    source = make_engine(url, read_only=True)
    target = make_engine(f"sqlite:///{part}")
    counts: dict[str, int] = {}
    try:
        upgrade(target)
        have, want = current_revision(source), current_revision(target)
        if have != want:
            raise StoreError(
                f"the database is at schema revision {have or 'none'}, this dfwatch writes {want}: "
                "run `dfwatch db upgrade` first"
            )
        options = {"isolation_level": "REPEATABLE READ"} if source.dialect.name == "postgresql" else {}
        with source.connect().execution_options(**options) as src, target.begin() as dst:
            for table in models.Base.metadata.sorted_tables:
                q = select(table).order_by(*table.primary_key.columns)
                result = src.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(q)
                n = 0
                for chunk in result.partitions():
                    dst.execute(insert(table), [dict(row._mapping) for row in chunk])
                    n += len(chunk)
                    if progress is not None:
                        progress(table.name, n)
                counts[table.name] = n
                log.info("snapshot table=%s rows=%d", table.name, n)
        with target.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=DELETE")  # checkpoints and drops the -wal
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    except BaseException:
        target.dispose()
        part.unlink(missing_ok=True)
        raise
    finally:
        source.dispose()
    target.dispose()
    part.replace(path)
    log.info("snapshot written file=%s tables=%d", path, len(counts))
    return counts
