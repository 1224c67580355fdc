"""`dfwatch browse`: the research database in Datasette (0.65), read-only, codebook included.

    sqlite_path(url)                       -> the file a database URL names (SQLite only)
    datasette_metadata(path, report=...)   -> Datasette's metadata: codebook, queries, facets
    serve(path, host=..., port=...)        -> runs until SIGTERM or Ctrl-C

The file is opened immutable (Datasette's `-i`: no locks, nothing written, row counts
cached) unless a crawl left a non-empty `-wal` beside it; then it is opened `mode=ro`, which
reads the WAL too (an immutable open would not see its rows). Either way nothing can write:
Datasette 0.65 has no write API, SQLite refuses writes on the connection, and the front door
in this module answers 405 to every method but GET and HEAD.

The latest report is linked from every page as `/-/report` when a report file is given
(`--report`) or lies beside the database as `report.html` (where `make report` writes it).
"""

from __future__ import annotations

import importlib
import ipaddress
import logging
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from crawler import __version__, codebook
from crawler.errors import ConfigError, StoreError

log = logging.getLogger("dfwatch.browse")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8001
REPORT_PATH = "/-/report"  # where the latest report is served
REPORT_NAME = "report.html"  # looked for beside the database when --report is not given
SQL_TIME_LIMIT_MS = 3000  # Datasette's default of 1 s is short for a year of daily metrics
READ_METHODS = frozenset({"GET", "HEAD"})
# The HTML report's own policy (crawler/report/render_html.py): no script, nothing fetched.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

FACETS = {
    "communities": ["platform", "kind", "status"],
    "status_changes": ["new_status"],
    "posts": ["platform", "state"],
    "crawl_runs": ["status", "trigger"],
    "run_sources": ["source", "status"],
    "candidates": ["platform", "kind", "status"],
}

QUERIES: dict[str, dict[str, Any]] = {
    "community_growth": {
        "title": "A community's growth",
        "description": "Members per UTC day (the day's last observation) of every community with "
        "this handle, case-insensitive. A missing day is a day without an observation.",
        # SQLite returns the bare columns of the row that holds MAX(): the day's last value.
        "sql": "SELECT c.platform, c.kind, c.handle, date(m.observed_at) AS day, m.value AS members,\n"
        "  MAX(m.observed_at) AS observed_at, m.source\n"
        "FROM communities c JOIN metrics m ON m.community_id = c.id AND m.metric = 'members'\n"
        "WHERE lower(c.handle) = lower(:handle)\n"
        "GROUP BY c.id, day ORDER BY c.platform, c.kind, day",
    },
    "status_timeline": {
        "title": "Status timeline",
        "description": "Bans, suspensions, quarantines and recoveries, newest first, with the "
        "platform's own words as evidence. Leave the platform empty for all.",
        "sql": "SELECT s.observed_at, c.platform, c.kind, c.handle, s.old_status, s.new_status, s.reason\n"
        "FROM status_changes s JOIN communities c ON c.id = s.community_id\n"
        "WHERE (:platform = '' OR c.platform = :platform)\n"
        "  AND NOT (COALESCE(s.old_status, 'unknown') = 'unknown' AND s.new_status = 'active')\n"
        "ORDER BY s.observed_at DESC",
    },
    "tool_weekly_mentions": {
        "title": "A tool's weekly mentions",
        "description": "Posts naming the tool per week (weeks start on Monday, UTC, by the post's "
        "creation time), and in how many communities.",
        "sql": "SELECT date(p.created_at, '-6 days', 'weekday 1') AS week_start,\n"
        "  COUNT(*) AS mentions, COUNT(DISTINCT p.community_id) AS communities\n"
        "FROM tools t JOIN mentions mn ON mn.tool_id = t.id JOIN posts p ON p.id = mn.post_id\n"
        "WHERE lower(t.name) = lower(:tool) AND p.created_at IS NOT NULL\n"
        "GROUP BY week_start ORDER BY week_start",
    },
}
CANDIDATES_QUERY = {
    "title": "Candidates",
    "description": "Communities that watched communities link to and that are not watched yet.",
}


def sqlite_path(url: str) -> Path:
    """The SQLite file of a database URL; a server database gets the snapshot recipe."""
    try:
        u = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"not a database URL: {exc}", entry="--db") from None
    if u.get_backend_name() != "sqlite":
        raise ConfigError(
            "Datasette serves SQLite only: write a snapshot with `dfwatch export --format sqlite "
            "--out snapshot.db`, then run `dfwatch browse --db sqlite:///snapshot.db`",
            entry="--db",
        )
    db = (u.database or "").removeprefix("file:").split("?", 1)[0]
    if not db or db == ":memory:":
        raise ConfigError("an in-memory database has nothing to browse", entry="--db")
    path = Path(db)
    if not path.is_file():
        raise StoreError(f"no database at {path}: run a crawl, or write a snapshot with dfwatch export")
    return path


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, port: int) -> str:
    return (
        f"warning: serving the research database on {host}:{port}: anyone who can reach this "
        "address reads every table (post titles, pseudonymous authors); use 127.0.0.1 unless "
        "that is what you want"
    )


def _tables(path: Path) -> dict[str, list[str]]:
    """Tables and views of the file, with their columns (read-only, before Datasette opens it)."""
    con = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name"
            )
        ]
        # Names come from the schema, never from scraped data; quoted all the same.
        quoted = {n: '"' + n.replace('"', '""') + '"' for n in names}
        return {n: [r[1] for r in con.execute(f"PRAGMA table_info({quoted[n]})")] for n in names}
    finally:
        con.close()


def canned_queries(tables: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """The canned queries whose tables exist in this file."""
    queries = {name: dict(q) for name, q in QUERIES.items()}
    if "candidates" in tables:
        by_posts = "posts" in tables["candidates"]
        sql = "SELECT * FROM candidates ORDER BY posts DESC" if by_posts else "SELECT * FROM candidates"
        queries["candidates"] = {**CANDIDATES_QUERY, "sql": sql}
    return queries


def report_file(path: Path, report: Path | None) -> Path | None:
    """The report to link: the one given, else report.html beside the database, if present."""
    candidate = report or path.parent / REPORT_NAME
    if report is not None and not report.is_file():
        raise ConfigError(f"no report at {report}", entry="--report")
    return candidate if candidate.is_file() else None


def datasette_metadata(path: Path, report: Path | None = None) -> dict[str, Any]:
    """Datasette's metadata for this file: the codebook, canned queries, facets, report link."""
    tables = _tables(path)
    described = codebook.datasette_tables()
    table_meta: dict[str, dict[str, Any]] = {}
    for name, columns in tables.items():
        meta = dict(described.get(name, {}))
        if name in FACETS:
            meta["facets"] = [c for c in FACETS[name] if c in columns]
        if name == "communities":
            meta["label_column"] = "handle"
        if name == "alembic_version":
            meta["hidden"] = True  # the migration bookkeeping, not research data
        if meta:
            table_meta[name] = meta
    meta_all: dict[str, Any] = {
        "title": "dfwatch research database",
        "description": "The communities that make, share and discuss deepfake tools: members over "
        "time, status changes with their evidence, tool mentions and link domains. Times are UTC; "
        "NULL means not known, never zero; authors are keyed pseudonyms. Every table and column is "
        "described (docs/schema.md, the codebook).",
        "source": f"dfwatch {__version__}",
        "databases": {
            path.stem: {
                "tables": table_meta,
                "queries": canned_queries(tables),
            }
        },
    }
    if report is not None:
        meta_all["about"] = "Latest report"
        meta_all["about_url"] = REPORT_PATH
    return meta_all


class FrontDoor:
    """ASGI in front of Datasette: refuses every method that could write, serves the report."""

    def __init__(self, app: Any, report: Path | None):
        self.app = app
        self.report = report

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            if scope["method"] not in READ_METHODS:
                await _respond(send, 405, b"dfwatch browse is read-only\n", "text/plain; charset=utf-8")
                return
            if scope["path"] == REPORT_PATH:
                if self.report is None or not self.report.is_file():
                    await _respond(
                        send, 404, b"no report beside this database\n", "text/plain; charset=utf-8"
                    )
                else:
                    body = self.report.read_bytes()
                    await _respond(send, 200, body, "text/html; charset=utf-8", csp=REPORT_CSP)
                return
        await self.app(scope, receive, send)


async def _respond(send: Any, status: int, body: bytes, ctype: str, csp: str | None = None) -> None:
    headers = [(b"content-type", ctype.encode()), (b"content-length", str(len(body)).encode())]
    if status == 405:
        headers.append((b"allow", b"GET, HEAD"))
    if csp:
        headers.append((b"content-security-policy", csp.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def make_app(path: Path, report: Path | None = None) -> Any:
    """The ASGI app serving `path`: Datasette behind the front door."""
    from datasette.app import Datasette  # imported first: it registers Datasette's own plugins
    from datasette.cli import run_sync

    # Datasette 0.65 prints every handled error (a refused write, a typo in SQL) as a rich
    # traceback with its local variables, which hold query parameters and rows: scraped text
    # on the terminal. The error page itself is unchanged.
    setattr(importlib.import_module("datasette.handle_exception"), "rich", None)  # noqa: B010

    wal = path.with_name(path.name + "-wal")
    live = wal.is_file() and wal.stat().st_size > 0
    files = {"files": [str(path)]} if live else {"immutables": [str(path)]}
    log.info("browse file=%s mode=%s", path, "read-only (WAL present)" if live else "immutable")
    ds = Datasette(
        **files,
        metadata=datasette_metadata(path, report),
        settings={"sql_time_limit_ms": SQL_TIME_LIMIT_MS},
        version_note=f"dfwatch {__version__}",
    )
    run_sync(ds.invoke_startup)
    return FrontDoor(ds.app(), report)


def serve(
    path: Path, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, report: Path | None = None
) -> None:
    """Serve until SIGTERM or Ctrl-C (uvicorn stops gracefully on both)."""
    import uvicorn

    app = make_app(path, report_file(path, report))
    log.info("browse http://%s:%d/%s", host, port, path.stem)
    uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="on", workers=1)
