"""Bounded retries of store writes over transient database failures.

A crawl spends minutes fetching; losing its records because PostgreSQL restarted for two
seconds, or because another SQLite writer held the file a little longer than the busy
timeout, would be a poor trade. So a batch write that fails with a *transient* error
(connection refused, reset or closed by the server, SQLite "database is locked") is written
again, entirely, after a bounded, logged backoff. That is safe because every store write is
an idempotent upsert (see `crawler.db.store`): a batch whose COMMIT reached the server but
whose acknowledgement was lost is simply written a second time, to the same effect.

A full disk is not transient: "database or disk is full" (SQLite's SQLITE_FULL, and
PostgreSQL's "No space left on device") becomes `DatabaseFull` at once, one sentence the
CLI can print. Anything else propagates as a `StoreError` on the first failure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, DisconnectionError, SQLAlchemyError

from crawler.errors import DatabaseFull, StoreError

log = logging.getLogger("dfwatch.store")

T = TypeVar("T")
__all__ = ["DatabaseFull", "detail", "is_full", "is_transient", "write_with_retries"]

MAX_ATTEMPTS = 6  # initial write + 5 retries
FIRST_BACKOFF_SECONDS = 0.5  # doubles each retry: 0.5 + 1 + 2 + 4 + 8 = 15.5 s at most
MAX_BACKOFF_SECONDS = 8.0

# Lower-case fragments of the driver's message that mark a failure worth another try.
# sqlite3: "database is locked" (busy timeout ran out), "database table is locked".
# psycopg 3 / libpq: refused or lost connections, a server restarting or shutting down.
TRANSIENT = (
    "database is locked",
    "database table is locked",
    "connection refused",
    "connection reset",
    "connection timed out",
    "server closed the connection",
    "consuming input failed",
    "terminating connection",
    "could not receive data from server",
    "could not send data to server",
    "ssl connection has been closed",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "broken pipe",
    "eof detected",
)
# SQLite's SQLITE_FULL ("database or disk is full"); PostgreSQL's ENOSPC.
FULL = ("database or disk is full", "no space left on device")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and its causes (StoreError wraps the SQLAlchemy error it came from)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _database_error(exc: BaseException) -> SQLAlchemyError | None:
    for e in _chain(exc):
        if isinstance(e, SQLAlchemyError):
            return e
    return None


def detail(exc: BaseException) -> str:
    """The driver's own first line (not SQLAlchemy's statement dump), for logs and summaries."""
    db = _database_error(exc)
    inner: BaseException = db.orig if isinstance(db, DBAPIError) and db.orig is not None else (db or exc)
    text = str(inner).strip() or type(inner).__name__
    return text.splitlines()[0]


def is_full(exc: BaseException) -> bool:
    """Whether `exc` (or its cause) says the database or its disk is full."""
    text = detail(exc).lower()  # the driver's words only: never the statement's parameters
    return any(marker in text for marker in FULL)


def is_transient(exc: BaseException) -> bool:
    """Whether a write failing with `exc` may succeed if tried again in a moment."""
    if is_full(exc):
        return False
    db = _database_error(exc)
    if db is None:
        return False
    if isinstance(db, DisconnectionError):
        return True
    if isinstance(db, DBAPIError) and db.connection_invalidated:
        return True  # SQLAlchemy recognised a dropped connection
    text = detail(exc).lower()
    return any(marker in text for marker in TRANSIENT)


def write_with_retries(
    write: Callable[[], T],
    *,
    what: str,
    attempts: int = MAX_ATTEMPTS,
    first_backoff: float = FIRST_BACKOFF_SECONDS,
    max_backoff: float = MAX_BACKOFF_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `write` (one whole batch; idempotent) until it succeeds, at most `attempts` times.

    Transient failures are retried after `first_backoff` seconds, doubling, capped at
    `max_backoff`. A full database raises `DatabaseFull` at once; any other failure, or a
    transient one still there after the last attempt, raises `StoreError`.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(1, attempts + 1):
        try:
            return write()
        except (StoreError, SQLAlchemyError) as exc:
            if is_full(exc):
                raise DatabaseFull(f"the database is full: {detail(exc)}") from None
            if not is_transient(exc):
                if isinstance(exc, StoreError):
                    raise
                raise StoreError(f"the database refused the write: {detail(exc)}") from exc
            if attempt == attempts:
                raise StoreError(
                    f"the database stayed unavailable for {attempts} attempts: {detail(exc)}"
                ) from exc
            wait = min(first_backoff * 2 ** (attempt - 1), max_backoff)
            log.warning(
                "store write %s failed attempt=%d/%d wait=%.1fs: %s",
                what,
                attempt,
                attempts,
                wait,
                detail(exc),
            )
            sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
