"""Shared fixtures: databases (SQLite and the real PostgreSQL), config directories."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, text

from crawler.config import Config, load_config
from crawler.db.engine import make_engine, upgrade


def find_recorded_dir(start: Path | None = None, env: Mapping[str, str] | None = None) -> Path | None:
    """The recorded real platform answers: $DFWATCH_RECORDED_DIR, else the first
    shared/fixtures/recorded found walking up from this checkout (beside /work/main, and
    above a git worktree such as /work/wt/NAME alike), else None."""
    env = os.environ if env is None else env
    if env.get("DFWATCH_RECORDED_DIR"):
        return Path(env["DFWATCH_RECORDED_DIR"])
    here = (start or Path(__file__)).resolve()
    for parent in here.parents:
        candidate = parent / "shared" / "fixtures" / "recorded"
        if candidate.is_dir():
            return candidate
    return None


# The real platform answers the parsers and the simulation are held against. Tests that
# compare against them skip where they are absent, except under CI, where that is a failure.
RECORDED_DIR = find_recorded_dir()


def recorded_response(relpath: str) -> Any:
    """The `response` of one recorded exchange (e.g. "x/users_by_usernames.json"), or skip."""
    import json

    path = (RECORDED_DIR or Path("shared/fixtures/recorded")) / relpath
    if not path.exists():
        reason = f"recorded fixture {path} is not available (set DFWATCH_RECORDED_DIR)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return json.loads(path.read_text())["response"]


@pytest.fixture
def sim() -> Iterator[Any]:
    """An empty simulated world at the wall clock's now, every exchange recorded: the test
    builds its case with crawler.sim.scenario and drives the real client against it."""
    from crawler.sim.scenario import empty_world
    from crawler.sim.server import Simulation

    with Simulation(empty_world(), record=True) as s:
        yield s


PG_URL = os.environ.get("DFWATCH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_available() -> str | None:
    """None when the PostgreSQL server answers, else the reason it does not."""
    try:
        eng = make_engine(PG_URL, connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
        return None
    except Exception as exc:
        return f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}"


_PG_REASON: list[str | None] = []


def pg_skip_reason() -> str | None:
    if not _PG_REASON:
        _PG_REASON.append(_pg_available())
    return _PG_REASON[0]


def _pg_schema_url() -> tuple[str, str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    return schema, PG_URL


def config_rows(config: Config, sql: str, **params: Any) -> list[Any]:
    """Rows of one read-only query against the config's database (for asserting stored rows)."""
    eng = make_engine(config.database_url)
    try:
        with eng.connect() as conn:
            return list(conn.execute(text(sql), params))
    finally:
        eng.dispose()


class Sleeps(list[float]):
    """Records the run's waits instead of sleeping (pass as `run_crawl(..., sleep=Sleeps())`)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: SQLite in tmp_path, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'dfwatch.db'}"
        return
    reason = pg_skip_reason()
    if reason:
        pytest.skip(reason)
    schema, base = _pg_schema_url()
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    # libpq's `options` puts every connection of this URL in the new schema.
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An upgraded engine on a fresh database (SQLite and PostgreSQL)."""
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'dfwatch.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


def allow_private_hosts(settings: str) -> str:
    """Settings that let watchlist entries name 127.0.0.1 (every fake server lives there)."""
    if "allow_private_hosts" in settings:
        return settings
    if "[crawler]" in settings:
        return settings.replace("[crawler]", "[crawler]\nallow_private_hosts = true", 1)
    return settings + "\n[crawler]\nallow_private_hosts = true\n"


def write_config(
    directory: Path,
    watchlist: dict[str, Any] | None = None,
    settings: str = "",
    tools: list[dict[str, Any]] | None = None,
) -> Path:
    """Write a config directory; the default tools are the project's own taxonomy."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "settings.toml").write_text(allow_private_hosts(settings))
    (directory / "watchlist.yaml").write_text(yaml.safe_dump(watchlist or {}))
    if tools is None:
        src = Path(__file__).resolve().parent.parent / "config" / "tools.yaml"
        (directory / "tools.yaml").write_text(src.read_text())
    else:
        (directory / "tools.yaml").write_text(yaml.safe_dump({"tools": tools}))
    return directory


@pytest.fixture
def make_config(tmp_path: Path) -> Any:
    """make_config(watchlist, settings='', env={...}) -> a loaded Config in tmp_path.

    The database URL defaults to a SQLite file in tmp_path and the pseudonym key to a
    fixed test key, so nothing touches the working directory.
    """

    def _make(
        watchlist: dict[str, Any] | None = None,
        settings: str = "",
        env: dict[str, str] | None = None,
        tools: list[dict[str, Any]] | None = None,
        db_url: str | None = None,
    ) -> Config:
        d = write_config(tmp_path / f"config-{uuid.uuid4().hex[:6]}", watchlist, settings, tools)
        full_env = {
            "DFWATCH_DATABASE_URL": db_url or f"sqlite:///{tmp_path / 'dfwatch.db'}",
            "DFWATCH_PSEUDONYM_KEY": "test-key-not-secret",
            **(env or {}),
        }
        return load_config(d, env=full_env)

    return _make


_TOUCHED_LOGGERS = (
    "",
    "dfwatch",
    "crawler",
    "spiders",
    "scrapy",
    "twisted",
    "praw",
    "prawcore",
    "tweepy",
    "urllib3",
    "alembic",
    "apscheduler",
)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """CLI tests run `setup_logging`, which points handlers at streams that close after the
    test; put the logging tree back so later tests (and caplog) see it as it was."""
    import logging

    saved = {
        name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers))
        for name in _TOUCHED_LOGGERS
    }
    yield
    for name, (level, handlers) in saved.items():
        lg = logging.getLogger(name)
        lg.setLevel(level)
        lg.handlers[:] = handlers
