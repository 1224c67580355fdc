"""Engines for SQLite (the default) and PostgreSQL, and schema upgrades through Alembic.

`make_engine` refuses a URL dfwatch cannot use (unknown driver, bad port, a data directory
it cannot create) with one sentence; `explain_error` turns what a database says when it
cannot be opened (refused, unknown database, read-only file) into one sentence too.
`upgrade` runs one upgrade at a time per database: two crawls started together on a new
database would otherwise both create the tables (see `_upgrade_lock`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from crawler.errors import ConfigError, DfwatchError, StoreError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000  # a writer waits this long for another writer's lock
UPGRADE_WAIT_SECONDS = 600.0  # how long an upgrade waits for a concurrent one to finish
UPGRADE_RETRY_SECONDS = 0.5  # SQLite: pause between attempts once the busy timeout ran out
SUPPORTED = "sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB"
_DRIVERS = {"sqlite": ("pysqlite",), "postgresql": ("psycopg",)}
ENTRY = "database.url"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: a crash loses no committed data
    cur.close()


def _parse(url: str) -> URL:
    """The URL, or ConfigError saying what dfwatch can use instead."""
    try:
        u = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"not a database URL: {exc} (use {SUPPORTED})", entry=ENTRY) from None
    except ValueError:  # a port that is not a number
        raise ConfigError(
            f"the database URL has a port that is not a number (use {SUPPORTED})", entry=ENTRY
        ) from None
    backend = u.get_backend_name()
    if backend not in _DRIVERS:
        raise ConfigError(
            f"dfwatch stores to SQLite or PostgreSQL, not {backend!r} (use {SUPPORTED})", entry=ENTRY
        )
    if backend == "postgresql" and u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg")  # psycopg 3, not psycopg2
    driver = u.get_driver_name()
    if driver not in _DRIVERS[backend]:
        raise ConfigError(
            f"unknown database driver {u.drivername!r}: dfwatch uses {backend}+{_DRIVERS[backend][0]} "
            f"(use {SUPPORTED})",
            entry=ENTRY,
        )
    if u.port is not None and not 0 < u.port < 65536:
        raise ConfigError(f"database port {u.port} is out of range (1-65535)", entry=ENTRY)
    return u


def make_engine(url: str, *, read_only: bool = False, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout.

    `read_only` opens SQLite with `mode=ro` (the engine itself refuses writes); PostgreSQL
    read-only is enforced per transaction by `crawler.db.query`.
    """
    u = _parse(url)
    if u.get_backend_name() == "sqlite":
        db = u.database or ""
        if db and db != ":memory:" and not db.startswith("file:"):
            path = Path(db)
            if read_only:
                if not path.exists():
                    raise StoreError(f"no database at {path}: run a crawl or `dfwatch db upgrade` first")
                u = u.set(database=f"file:{path.resolve()}?mode=ro", query={**u.query, "uri": "true"})
            else:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    why = (
                        "a file is in the way"
                        if isinstance(exc, FileExistsError | NotADirectoryError)
                        else exc.strerror
                    )
                    raise ConfigError(
                        f"cannot create the data directory {path.parent}: {why or exc}", entry=ENTRY
                    ) from None
        engine = create_engine(u, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        if not read_only and db and db != ":memory:":
            try:
                with engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            except DBAPIError as exc:
                engine.dispose()
                raise explain_error(exc, str(u)) or StoreError(str(exc.orig)) from None
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(u, **kwargs)


# What a database says when it cannot be opened, and whose fault it is: the config's (2) or
# the server's (1). Lower-case fragments of the driver's first line.
_CONFIG_FAULTS = (
    (
        "readonly database",
        "the database file is read-only: give this user write access to it and its directory",
    ),
    (
        "unable to open database file",
        "cannot open the database file: check that its directory exists and is writable",
    ),
    ("could not translate host name", "the database host name does not resolve"),
    ("failed to resolve host", "the database host name does not resolve"),
    ("password authentication failed", "the database refused the login (password authentication failed)"),
    ("no password supplied", "the database wants a password and the URL has none"),
    ("does not exist", None),  # FATAL: database "x" (or role "x") does not exist
)
_SERVER_FAULTS = (
    ("connection refused", "the database server refused the connection: is it running, on that port?"),
    ("timeout expired", "the database server did not answer in time"),
    ("no route to host", "the database server cannot be reached (no route to host)"),
    ("the database system is starting up", "the database server is starting up: try again shortly"),
)


def _where(url: str | None) -> str:
    if not url:
        return ""
    try:
        u = make_url(url)
    except (ArgumentError, ValueError):
        return ""
    if u.get_backend_name() == "sqlite":
        return f" ({u.database})"
    return f" ({u.host or 'localhost'}:{u.port or 5432}/{u.database or ''})"


def explain_error(exc: BaseException, url: str | None = None) -> DfwatchError | None:
    """One sentence for a database that cannot be opened or written, or None if unknown.

    ConfigError (exit 2) where the URL or the file is the user's to fix; StoreError (exit 1)
    where the server is down or unreachable.
    """
    if isinstance(exc, DfwatchError):
        return exc
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).strip().splitlines() or [""])[0]
    if "FATAL:" in first:  # libpq: "connection to server at ... failed: FATAL:  <the reason>"
        first = first.rsplit("FATAL:", 1)[1].strip()
    elif "does not exist" in first:
        return None  # a missing table or column, not a database that cannot be opened
    low = first.lower()
    where = _where(url)
    for fragment, sentence in _CONFIG_FAULTS:
        if fragment in low:
            return ConfigError(f"{sentence or first}{where}", entry=ENTRY)
    for fragment, sentence in _SERVER_FAULTS:
        if fragment in low:
            return StoreError(f"{sentence}{where}")
    return None


# --------------------------------------------------------------------------- upgrades


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


@contextlib.contextmanager
def _upgrade_lock(engine: Engine) -> Iterator[None]:
    """PostgreSQL: an advisory lock per schema, held on a connection of its own.

    SQLite needs nothing here: the migration environment takes the write lock first
    (`BEGIN IMMEDIATE`, crawler/db/migrations/env.py), so a second upgrade waits for the first
    and then finds the schema current.
    """
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.exec_driver_sql(f"SET statement_timeout = {int(UPGRADE_WAIT_SECONDS * 1000)}")
        # Keyed by schema: tests upgrade many schemas of one database side by side.
        conn.exec_driver_sql(
            "SELECT pg_advisory_lock(hashtext('dfwatch.upgrade'), hashtext(current_schema()))"
        )
        conn.commit()
        try:
            yield
        finally:
            conn.exec_driver_sql(
                "SELECT pg_advisory_unlock(hashtext('dfwatch.upgrade'), hashtext(current_schema()))"
            )
            conn.commit()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent; `dfwatch crawl` calls it first).

    Safe to run from several processes at once. On PostgreSQL it also sets up the reader
    role `dfwatch query` runs as (crawler.db.reader).
    """
    from alembic import command

    url = engine.url.render_as_string(hide_password=True)
    deadline = time.monotonic() + UPGRADE_WAIT_SECONDS
    while True:
        try:
            with _upgrade_lock(engine):
                command.upgrade(_alembic_config(engine), revision)
                if engine.dialect.name == "postgresql":
                    from crawler.db.reader import ensure_reader

                    ensure_reader(engine)
            return
        except DBAPIError as exc:
            message = str(exc.orig)
            if "database is locked" in message and time.monotonic() < deadline:
                log.info("another process is upgrading the schema; waiting")
                time.sleep(UPGRADE_RETRY_SECONDS)
                continue
            if "statement timeout" in message:
                raise StoreError(
                    f"another process held the schema upgrade for more than {UPGRADE_WAIT_SECONDS:.0f} s"
                ) from None
            raise explain_error(exc, url) or StoreError(f"cannot upgrade the database: {exc.orig}") from None


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
