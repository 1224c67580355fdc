"""`dfwatch` with every SQLite connection capped at `$DFWATCH_TEST_MAX_PAGES` pages.

`PRAGMA max_page_count` is per connection and not stored in the file, so the cap must be set
on the crawl's own connections: this wrapper registers a pool-wide connect hook, then runs
the real CLI. A write that would grow the database past the cap fails with SQLITE_FULL,
"database or disk is full", exactly as on a full disk.

    python tests/reliability/capped_cli.py crawl --config DIR
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.pool import Pool

from crawler.cli import main


def _cap(dbapi_conn: Any, _record: Any) -> None:
    if isinstance(dbapi_conn, sqlite3.Connection):
        dbapi_conn.execute(f"PRAGMA max_page_count = {int(os.environ['DFWATCH_TEST_MAX_PAGES'])}")


if __name__ == "__main__":
    event.listen(Pool, "connect", _cap)
    main()
