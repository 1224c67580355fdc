"""Where a report's figures come from: version, database, config fingerprint and the runs.

    provenance(conn, start, now, database=..., config_sha256=...)  -> the `provenance` dict
    config_sha256(directory)                                       -> hex digest or None
    database_label(url)                                            -> the URL without credentials

Two reports can be compared by what was watched (the config hash) and by which crawls fed
them (the run ids). docs/reports.md defines each key.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from crawler import __version__
from crawler.db.types import UTCDateTime

# The files the config loader reads, in the order it reads them (crawler/config/loader.py).
CONFIG_FILES = ("settings.toml", "watchlist.yaml", "tools.yaml")
WATCHLIST_D = "watchlist.d"  # *.yaml merged after watchlist.yaml, in name order
_SECRET_QUERY_KEYS = ("pass", "secret", "token", "key", "auth")  # dropped from the URL's query


def config_files(directory: Path) -> list[Path]:
    """The config files as the loader reads them: the three, then watchlist.d/*.yaml by name."""
    extra = sorted((directory / WATCHLIST_D).glob("*.yaml"), key=lambda p: p.name)
    return [directory / name for name in CONFIG_FILES] + [p for p in extra if p.is_file()]


def config_sha256(directory: Path | None) -> str | None:
    """SHA-256 over the config files' bytes, or None when no config directory was loaded.

    Each file contributes its path relative to the directory, then its length and bytes (or
    a marker when an optional file is absent), so renaming, moving text between files or
    deleting one all change the digest; the directory's own location does not.
    """
    if directory is None or not directory.is_dir():
        return None
    digest = hashlib.sha256()
    for path in config_files(directory):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
        if path.is_file():
            data = path.read_bytes()
            digest.update(b"%d\0" % len(data) + data)
        else:
            digest.update(b"absent\0")
    return digest.hexdigest()


def database_label(url: str) -> str:
    """The database URL without user name, password or secret-looking query parameters.

    A SQLite path is kept as configured (relative stays relative): an absolute path would put
    the home directory, often a person's name, into every report that is shared.
    """
    try:
        u = make_url(url)
    except ArgumentError:
        return "<unparsable URL>"
    if u.get_backend_name() == "sqlite" and (u.database or "").startswith("file:"):
        # The read-only form make_engine builds (file:PATH?mode=ro, uri=true): show the path.
        u = u.set(database=u.database[len("file:") :].split("?", 1)[0], query={})  # type: ignore[index]
    query = {k: v for k, v in u.query.items() if not any(s in k.lower() for s in _SECRET_QUERY_KEYS)}
    # URL.set() reads None as "leave as is"; _replace (URL is a NamedTuple) really clears them.
    u = u.set(query=query)._replace(username=None, password=None)
    return u.render_as_string(hide_password=False)


def runs_in_window(conn: Connection, start: datetime, now: datetime) -> dict[str, Any]:
    """The crawls that started in [start, now]: how many, their ids, first start, last finish."""
    stmt = (
        text(
            "SELECT id, started_at, finished_at FROM crawl_runs"
            " WHERE started_at >= :start AND started_at <= :now ORDER BY id"
        )
        .bindparams(bindparam("start", type_=UTCDateTime()), bindparam("now", type_=UTCDateTime()))
        .columns(started_at=UTCDateTime(), finished_at=UTCDateTime())
    )
    rows = conn.execute(stmt, {"start": start, "now": now}).all()
    started = [r.started_at for r in rows]
    finished = [r.finished_at for r in rows if r.finished_at is not None]
    return {
        "count": len(rows),
        "ids": [int(r.id) for r in rows],
        "first_started_at": min(started) if started else None,
        "last_finished_at": max(finished) if finished else None,
    }


def provenance(
    conn: Connection,
    start: datetime,
    now: datetime,
    *,
    database: str,
    config_sha256: str | None,
    iso: Any,
) -> dict[str, Any]:
    """The `provenance` key of the report (times through `iso`, the report's one time format)."""
    runs = runs_in_window(conn, start, now)
    runs["first_started_at"] = iso(runs["first_started_at"])
    runs["last_finished_at"] = iso(runs["last_finished_at"])
    return {
        "dfwatch_version": __version__,
        "database": database_label(database),
        "config_sha256": config_sha256,
        "generated_at": iso(now),
        "runs": runs,
    }


def provenance_lines(report: dict[str, Any]) -> list[str]:
    """The provenance as short `key: value` lines, for the text, Markdown and HTML renderings."""
    p = report.get("provenance")
    if not p:
        return []
    runs = p["runs"]
    ids = runs["ids"]
    if not ids:
        run_text = "none in the window"
    elif len(ids) <= 12:
        run_text = f"{runs['count']} ({', '.join(map(str, ids))})"
    else:
        run_text = f"{runs['count']} (ids {ids[0]}…{ids[-1]})"
    return [
        f"dfwatch version: {p['dfwatch_version']}",
        f"database: {p['database']}",
        f"config sha256: {p['config_sha256'] or 'none (no config directory)'}",
        f"generated at: {p['generated_at']}",
        f"runs: {run_text}",
        f"first run started: {runs['first_started_at'] or '—'}",
        f"last run finished: {runs['last_finished_at'] or '—'}",
    ]
