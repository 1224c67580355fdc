"""The private internals dfwatch relies on are where it expects them.

pyproject.toml bounds praw, prawcore and SQLAlchemy from above because dfwatch reaches into
them; when a new release moves one of these, this file fails first and loudly, naming what
moved, instead of a crawl failing in production.
"""

from __future__ import annotations

import inspect

import praw
import prawcore
from prawcore.rate_limit import RateLimiter
from prawcore.sessions import FiniteRetryStrategy, Session
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert


def test_praw_exposes_its_session_and_the_session_its_rate_limiter_and_retry_strategy() -> None:
    reddit = praw.Reddit(
        client_id="id",
        client_secret="secret",
        user_agent="dfwatch-test",
        check_for_updates=False,
        check_for_async=False,
    )
    session = reddit._core
    assert isinstance(session, Session), "praw.Reddit._core is no longer a prawcore Session"
    assert isinstance(session._rate_limiter, RateLimiter), "Session._rate_limiter moved"
    assert hasattr(session, "_retry_strategy_class"), "Session._retry_strategy_class moved"
    assert "requestor_class" in inspect.signature(praw.Reddit.__init__).parameters


def test_prawcore_rate_limiter_keeps_the_fields_dfwatch_reads_and_sets() -> None:
    limiter = RateLimiter(window_size=600)
    limiter.update(
        response_headers={"x-ratelimit-remaining": "10", "x-ratelimit-used": "5", "x-ratelimit-reset": "30"}
    )
    for name in ("remaining", "used", "next_request_timestamp_ns", "window_size"):
        assert hasattr(limiter, name), f"prawcore RateLimiter.{name} moved"
    assert callable(limiter.delay)
    assert hasattr(FiniteRetryStrategy, "_sleep_seconds"), "FiniteRetryStrategy._sleep_seconds moved"
    assert issubclass(prawcore.TooManyRequests, prawcore.ResponseException)


def test_sqlalchemy_compiled_statements_keep_positiontup_and_binds() -> None:
    table = Table("t", MetaData(), Column("a", Integer), Column("b", String))
    engine = create_engine("sqlite://")
    compiled = insert(table).compile(dialect=engine.dialect, column_keys=["a", "b"])
    assert compiled.positional and list(compiled.positiontup or ()) == ["a", "b"]
    assert set(compiled.binds) >= {"a", "b"}
    assert hasattr(compiled.binds["a"].type, "bind_processor")
    engine.dispose()


def test_package_data_names_files_that_exist_and_ships_the_migrations() -> None:
    """A non-editable install must carry the Alembic scripts (they are not a package)."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "crawler"
    ]
    base = root / "crawler"
    for pattern in globs:
        assert list(base.glob(pattern)), f"package-data {pattern!r} matches nothing"
    shipped = {p for pattern in globs for p in base.glob(pattern)}
    for script in (base / "db" / "migrations").rglob("*.py"):
        assert script in shipped, f"{script.relative_to(root)} would be missing from a wheel"
