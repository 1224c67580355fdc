"""`dfwatch query`: run one researcher's SQL statement read-only, and format the rows.

Read-only is enforced by the database, in layers, not by guessing from the SQL text:

* SQLite: the file is opened `mode=ro`, `PRAGMA query_only=ON` is set, and an authorizer
  allows only reads (SELECT, reading tables, functions, recursive CTEs, pragmas that read).
  The authorizer is what refuses `PRAGMA journal_mode=DELETE` and `ATTACH`, which the other
  two layers let through. Python's sqlite3 runs one statement per call. A progress handler
  stops a statement that runs past `[query] timeout_seconds`, and lets Ctrl-C through.
* PostgreSQL: the statement runs in a `READ ONLY` transaction that is always rolled back,
  on a connection of its own, with `statement_timeout` set, as the role `dfwatch_reader`
  (crawler.db.reader: a READ ONLY transaction alone lets a superuser run programs and read
  files). It is sent as a prepared statement (one statement only) or, for a SELECT, through
  a server-side cursor so large results stream. On a login that could reach the operating
  system (a superuser), only SELECT-like statements run, inside the reader's SECURITY
  DEFINER function, where the role cannot be switched back.
* COPY is refused on both (`--format csv` is the way to get a file).

Any refusal becomes `ReadOnlyViolation`; a statement the database cannot parse or resolve
becomes `ConfigError` with the database's own message (exit code 2).
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from crawler.db import reader
from crawler.db.engine import explain_error, make_engine
from crawler.db.query_format import TABLE_LIMIT, format_rows
from crawler.errors import ConfigError, ReadOnlyViolation, StoreError

__all__ = ["TABLE_LIMIT", "format_rows", "run_query"]

log = logging.getLogger("dfwatch.query")

READ_ONLY_MESSAGE = "this query tries to write; dfwatch query is read-only"
COPY_MESSAGE = "COPY is refused by dfwatch query; use --format csv (or json) to write rows to a file"
SELECT_ONLY_MESSAGE = (
    "the database login is a superuser (or may run programs or read server files), so "
    "dfwatch query runs only SELECT, WITH, VALUES and TABLE statements on it"
)
FETCH_ROWS = 1000  # rows per fetchmany: results stream, memory stays flat
DEFAULT_TIMEOUT_SECONDS = 300.0  # [query] timeout_seconds
SQLITE_PROGRESS_STEPS = 10_000  # SQLite VM instructions between deadline checks

# Pragmas that take an argument and still only read (the argument names a table or index).
_READING_PRAGMAS = frozenset(
    {
        "table_info",
        "table_xinfo",
        "table_list",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
        "foreign_key_check",
        "integrity_check",
        "quick_check",
    }
)
# Pragmas that write without an argument.
_WRITING_PRAGMAS = frozenset({"optimize", "wal_checkpoint", "incremental_vacuum", "shrink_memory"})
_ALLOWED_ACTIONS = frozenset(
    {
        sqlite3.SQLITE_SELECT,
        sqlite3.SQLITE_READ,
        sqlite3.SQLITE_FUNCTION,
        sqlite3.SQLITE_RECURSIVE,
    }
)
_LEAD = r"^\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/)\s*)*"  # comments before the first keyword
_SELECTISH = re.compile(_LEAD + r"(?:\(\s*)*(select|with|values|table)\b", re.I | re.S)
_COPY = re.compile(_LEAD + r"copy\b", re.I | re.S)
_WRITES = re.compile(
    _LEAD + r"(insert|update|delete|merge|create|drop|alter|truncate|grant|revoke|comment|"
    r"vacuum|reindex|cluster|lock|refresh|import|call|do|security|reassign)\b",
    re.I | re.S,
)
# A `;` ending the statement (perhaps followed by comments): the wrapper puts it in brackets.
_TRAILING_SEMICOLON = re.compile(r";(?:\s|--[^\n]*(?:\n|$)|/\*.*?\*/)*\Z", re.S)
# PostgreSQL SQLSTATEs: 25006 read_only_sql_transaction; class 42 is "syntax error or
# access rule violation" (42601 syntax, 42P01 no table, 42703 no column, 42883 no function).
_PG_READ_ONLY = {"25006"}
_PG_REFUSED = {"42501"}  # insufficient_privilege: what the reader role may not do
_PG_CANCELED = {"57014"}  # query_canceled: statement_timeout, or a cancel request
_warned_logins: set[str] = set()


def _authorize(action: int, arg1: str | None, arg2: str | None, _db: str | None, _src: str | None) -> int:
    if action in _ALLOWED_ACTIONS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA and arg1 is not None:
        name = arg1.lower()
        if (arg2 is None and name not in _WRITING_PRAGMAS) or name in _READING_PRAGMAS:
            return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def _sqlite_read_only(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA query_only=ON")
    cur.close()
    dbapi_conn.set_authorizer(_authorize)


def timeout_message(seconds: float) -> str:
    return f"the query was stopped after {seconds:g} s ([query] timeout_seconds in settings.toml)"


def _map_error(exc: Exception, timeout: float | None = None) -> Exception:
    """The user-facing error for a driver exception."""
    message = str(exc).strip()
    sqlstate = getattr(exc, "sqlstate", None)
    low = message.lower()
    if sqlstate is not None:  # psycopg
        if sqlstate in _PG_READ_ONLY or "read-only" in low or "data-modifying" in low:
            return ReadOnlyViolation(READ_ONLY_MESSAGE)
        if sqlstate in _PG_REFUSED:
            return ReadOnlyViolation(
                f"refused: {message.splitlines()[0]} (dfwatch query runs as {reader.READER_ROLE}, "
                "which may only read the research tables)"
            )
        if sqlstate in _PG_CANCELED and "timeout" in low and timeout is not None:
            return StoreError(timeout_message(timeout))
        if sqlstate.startswith("42") or sqlstate.startswith("22"):
            return ConfigError(message.splitlines()[0], entry="query")
        return StoreError(message)
    if "authoriz" in low or "readonly" in low or "read-only" in low or "query_only" in low:
        return ReadOnlyViolation(READ_ONLY_MESSAGE)
    if isinstance(exc, sqlite3.ProgrammingError) or (
        isinstance(exc, sqlite3.OperationalError)
        and any(
            w in low
            for w in (
                "syntax error",
                "no such",
                "incomplete input",
                "unrecognized",
                "ambiguous",
                "wrong number",
                "misuse",
                "near ",
            )
        )
    ):
        return ConfigError(message, entry="query")
    return StoreError(message)


@dataclass
class _Budget:
    """Time the statement may spend in the database, summed over execute and every fetch
    (the time spent writing output between fetches does not count)."""

    seconds: float
    used: float = 0.0
    since: float | None = field(default=None, repr=False)

    def start(self) -> None:
        self.since = time.monotonic()

    def stop(self) -> None:
        if self.since is not None:
            self.used += time.monotonic() - self.since
            self.since = None

    def expired(self) -> bool:
        running = time.monotonic() - self.since if self.since is not None else 0.0
        return self.used + running > self.seconds

    def sqlite_progress(self) -> int:
        """SQLite's progress handler: non-zero stops the statement ("interrupted").

        It is also where a Ctrl-C gets through: Python runs signal handlers only between
        bytecodes, so a statement running in SQLite's C code would otherwise ignore it. The
        KeyboardInterrupt raised here is swallowed by sqlite3 and seen as "interrupted" too.
        """
        return 1 if self.expired() else 0


def run_query(
    url: str, sql: str, *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
    """Run one statement read-only; returns (column names, rows streamed).

    Errors of the statement itself are raised here, before anything is returned; the row
    iterator closes the connection when exhausted (or when closed). The statement may spend
    `timeout_seconds` in the database, execute and fetches together.
    """
    if not sql.strip():
        raise ConfigError("empty query", entry="query")
    if _COPY.match(sql):
        raise ReadOnlyViolation(COPY_MESSAGE)
    engine = make_engine(url, read_only=True, poolclass=NullPool)
    dialect = engine.dialect.name
    if dialect == "sqlite":
        event.listen(engine, "connect", _sqlite_read_only)
    budget = _Budget(timeout_seconds)
    raw: Any = None
    decode: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None = None
    try:
        raw = engine.raw_connection()
    except (sqlite3.Error, _psycopg_error(), DBAPIError) as exc:  # cannot connect or open
        engine.dispose()
        raise explain_error(exc, url) or StoreError(str(exc).strip().splitlines()[0]) from None
    try:
        if dialect == "postgresql":
            cursor, columns, decode = _pg_execute(raw.driver_connection, sql, budget)
        else:
            raw.driver_connection.set_progress_handler(budget.sqlite_progress, SQLITE_PROGRESS_STEPS)
            cursor = raw.cursor()
            budget.start()
            try:
                cursor.execute(sql)
            finally:
                budget.stop()
            columns = [d[0] for d in cursor.description or ()]
    except BaseException as exc:
        if raw is not None:
            _close(raw, dialect)
        engine.dispose()
        if not isinstance(exc, sqlite3.Error | _psycopg_error()):
            raise
        raise _mapped(exc, budget) from None
    return columns, _rows(cursor, raw, engine, dialect, budget, decode)


def _mapped(exc: Exception, budget: _Budget) -> BaseException:
    if isinstance(exc, sqlite3.OperationalError) and str(exc) == "interrupted":
        # Our progress handler stopped it: at the deadline, or because of a Ctrl-C.
        return StoreError(timeout_message(budget.seconds)) if budget.expired() else KeyboardInterrupt()
    return _map_error(exc, budget.seconds)


def _psycopg_error() -> type[Exception]:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return sqlite3.Error
    return psycopg.Error


def _pg_execute(
    conn: Any, sql: str, budget: _Budget
) -> tuple[Any, list[str], Callable[[tuple[Any, ...]], tuple[Any, ...]] | None]:
    """Start the statement as the reader role; (cursor, column names, row decoder or None)."""
    conn.execute("SET TRANSACTION READ ONLY")
    # The server ends the statement at the deadline even when this process is gone.
    conn.execute("SELECT set_config('statement_timeout', %s, true)", [f"{int(budget.seconds * 1000)}ms"])
    login = reader.inspect_login(conn)
    if login.superuser and login.name not in _warned_logins:
        _warned_logins.add(login.name)
        log.warning(
            "the database login %s is a superuser: queries run as %s, but dfwatch needs no "
            "superuser; use an ordinary login that owns the schema (docs/security.md)",
            login.name,
            reader.READER_ROLE,
        )
    if login.powerful:
        if not (login.reader and login.wrapper):
            raise StoreError(
                f"the role {reader.READER_ROLE} (or its query function) is missing in this schema, and "
                f"the login {login.name} is too powerful to run queries as itself: run `dfwatch db upgrade`"
            )
        conn.execute(f"SET LOCAL ROLE {reader.READER_ROLE}")
        columns = _pg_describe(conn, sql)  # parsed, not run: refuses several statements in one
        if not _SELECTISH.match(sql):
            raise ReadOnlyViolation(READ_ONLY_MESSAGE if _WRITES.match(sql) else SELECT_ONLY_MESSAGE)
        cursor = conn.cursor(name="dfwatch_query")
        cursor.itersize = FETCH_ROWS
        budget.start()
        try:
            cursor.execute(f"SELECT {login.wrapper}(%s)", [_TRAILING_SEMICOLON.sub("", sql.rstrip())])
        finally:
            budget.stop()
        return cursor, columns, _json_row
    if login.reader:
        conn.execute(f"SET LOCAL ROLE {reader.READER_ROLE}")
    budget.start()
    try:
        if _SELECTISH.match(sql):
            cursor = conn.cursor(name="dfwatch_query")  # server-side: rows arrive as fetched
            cursor.itersize = FETCH_ROWS
            cursor.execute(sql)
        else:
            cursor = conn.cursor()
            cursor.execute(sql, prepare=True)  # a prepared statement holds exactly one command
    finally:
        budget.stop()
    return cursor, [d[0] for d in cursor.description or ()], None


def _pg_describe(conn: Any, sql: str) -> list[str]:
    """The statement's column names, from parsing it (nothing runs); one statement only."""
    from psycopg import errors, pq

    encoding = conn.info.encoding
    res = conn.pgconn.prepare(b"", sql.encode(encoding))
    if res.status == pq.ExecStatus.COMMAND_OK:
        res = conn.pgconn.describe_prepared(b"")
    if res.status != pq.ExecStatus.COMMAND_OK:
        raise errors.error_from_result(res, encoding=encoding)
    return [(res.fname(i) or b"").decode(encoding) for i in range(res.nfields)]


class _Object(list[tuple[str, Any]]):
    """A JSON object as its (key, value) pairs: a row may have two columns of one name."""


def _plain_json(value: Any) -> Any:
    if isinstance(value, _Object):
        return {k: _plain_json(v) for k, v in value}
    if isinstance(value, list):
        return [_plain_json(v) for v in value]
    return value


def _json_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """One row of the reader's query function (`row_to_json` text) as a tuple of values."""
    pairs = json.loads(row[0], object_pairs_hook=_Object, parse_float=Decimal)
    return tuple(_plain_json(v) for _, v in pairs)


def _rows(
    cursor: Any,
    raw: Any,
    engine: Any,
    dialect: str,
    budget: _Budget,
    decode: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None,
) -> Iterator[tuple[Any, ...]]:
    try:
        if cursor.description is None:
            return
        while True:
            budget.start()
            try:
                batch = cursor.fetchmany(FETCH_ROWS)
            except (sqlite3.Error, _psycopg_error()) as exc:
                raise _mapped(exc, budget) from None
            finally:
                budget.stop()
            if not batch:
                return
            if budget.expired():
                raise StoreError(timeout_message(budget.seconds))
            for row in batch:
                yield decode(row) if decode else tuple(row)
    finally:
        _close(raw, dialect)
        engine.dispose()


def _close(raw: Any, dialect: str) -> None:
    try:
        if dialect == "postgresql":
            raw.driver_connection.rollback()  # whatever happened, nothing is kept
        raw.close()
    except Exception as exc:  # noqa: BLE001 - closing must not hide the real error
        log.debug("closing the query connection failed: %s", exc)
