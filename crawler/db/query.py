"""`dfwatch query`: run one researcher's SQL statement read-only, and format the rows.

Read-only is enforced by the database, in layers, not by guessing from the SQL text:

* SQLite: the file is opened `mode=ro`, `PRAGMA query_only=ON` is set, and an authorizer
  allows only reads (SELECT, reading tables, functions, recursive CTEs, pragmas that read).
  The authorizer is what refuses `PRAGMA journal_mode=DELETE` and `ATTACH`, which the other
  two layers let through. Python's sqlite3 runs one statement per call.
* PostgreSQL: the statement runs in a `READ ONLY` transaction that is always rolled back,
  on a connection of its own. It is sent as a prepared statement (one statement only) or,
  for a SELECT, through a server-side cursor so large results stream.

Any refusal becomes `ReadOnlyViolation`; a statement the database cannot parse or resolve
becomes `ConfigError` with the database's own message (exit code 2).
"""

from __future__ import annotations

import csv
import json
import logging
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TextIO

from sqlalchemy import event
from sqlalchemy.pool import NullPool

from crawler.db.engine import make_engine
from crawler.errors import ConfigError, ReadOnlyViolation, StoreError

log = logging.getLogger("dfwatch.query")

READ_ONLY_MESSAGE = "this query tries to write; dfwatch query is read-only"
FETCH_ROWS = 1000  # rows per fetchmany: results stream, memory stays flat

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
_SELECTISH = re.compile(r"^\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*(select|with|values|table)\b", re.I | re.S)
# PostgreSQL SQLSTATEs: 25006 read_only_sql_transaction; class 42 is "syntax error or
# access rule violation" (42601 syntax, 42P01 no table, 42703 no column, 42883 no function).
_PG_READ_ONLY = {"25006"}


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


def _map_error(exc: Exception) -> Exception:
    """The user-facing error for a driver exception."""
    message = str(exc).strip()
    sqlstate = getattr(exc, "sqlstate", None)
    low = message.lower()
    if sqlstate is not None:  # psycopg
        if sqlstate in _PG_READ_ONLY or "read-only" in low or "data-modifying" in low:
            return ReadOnlyViolation(READ_ONLY_MESSAGE)
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


def run_query(url: str, sql: str) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
    """Run one statement read-only; returns (column names, rows streamed).

    Errors of the statement itself are raised here, before anything is returned; the row
    iterator closes the connection when exhausted (or when closed).
    """
    if not sql.strip():
        raise ConfigError("empty query", entry="query")
    engine = make_engine(url, read_only=True, poolclass=NullPool)
    dialect = engine.dialect.name
    if dialect == "sqlite":
        event.listen(engine, "connect", _sqlite_read_only)
    raw: Any = None
    try:
        raw = engine.raw_connection()
        if dialect == "postgresql":
            cursor = _pg_execute(raw.driver_connection, sql)
        else:
            cursor = raw.cursor()
            cursor.execute(sql)
    except Exception as exc:
        if raw is not None:
            _close(raw, dialect)
        engine.dispose()
        mapped = _map_error(exc)
        if mapped is exc or not isinstance(exc, sqlite3.Error | _psycopg_error()):
            raise
        raise mapped from None
    columns = [d[0] for d in cursor.description or ()]
    return columns, _rows(cursor, raw, engine, dialect)


def _psycopg_error() -> type[Exception]:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return sqlite3.Error
    return psycopg.Error


def _pg_execute(conn: Any, sql: str) -> Any:
    conn.execute("SET TRANSACTION READ ONLY")
    if _SELECTISH.match(sql):
        cursor = conn.cursor(name="dfwatch_query")  # server-side: rows arrive as fetched
        cursor.itersize = FETCH_ROWS
        cursor.execute(sql)
    else:
        cursor = conn.cursor()
        cursor.execute(sql, prepare=True)  # a prepared statement holds exactly one command
    return cursor


def _rows(cursor: Any, raw: Any, engine: Any, dialect: str) -> Iterator[tuple[Any, ...]]:
    try:
        if cursor.description is None:
            return
        while True:
            try:
                batch = cursor.fetchmany(FETCH_ROWS)
            except (sqlite3.Error, _psycopg_error()) as exc:
                raise _map_error(exc) from None
            if not batch:
                return
            for row in batch:
                yield tuple(row)
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


# --------------------------------------------------------------------------- output


def _plain(value: Any) -> Any:
    """A JSON/CSV-friendly form: ISO-8601 times, numbers as numbers, bytes as hex."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value


def format_rows(columns: Sequence[str], rows: Iterable[Sequence[Any]], fmt: str, out: TextIO) -> int:
    """Write rows as a rich table, CSV or a JSON array of objects; returns the row count."""
    n = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if v is None else _plain(v) for v in row])
            n += 1
    elif fmt == "json":
        out.write("[")
        for row in rows:
            out.write(",\n " if n else "\n ")
            out.write(json.dumps(dict(zip(columns, map(_plain, row), strict=True)), ensure_ascii=False))
            n += 1
        out.write("\n]\n" if n else "]\n")
    elif fmt == "table":
        from rich.console import Console
        from rich.table import Table

        table = Table(*columns, show_lines=False)
        for row in rows:
            table.add_row(*("" if v is None else str(_plain(v)) for v in row))
            n += 1
        Console(file=out, width=max(80, min(250, 16 * len(columns))), soft_wrap=False).print(table)
    else:
        raise ConfigError(f"unknown format {fmt!r} (table, csv or json)", entry="--format")
    return n
