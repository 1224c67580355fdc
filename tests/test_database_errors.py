"""A database that cannot be used is one clear sentence and exit 2 (the user's URL or file)
or 1 (the server), never "internal error": bad ports, unknown drivers, a read-only file, a
data directory that cannot be created, a database or server that is not there."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crawler.cli import app
from crawler.db.engine import make_engine, upgrade
from tests.conftest import PG_URL, pg_skip_reason, write_config

runner = CliRunner()


def invoke(tmp_path: Path, url: str, *args: str) -> tuple[int, str]:
    cfg = write_config(tmp_path / "cfg", {})
    env = {"DFWATCH_DATABASE_URL": url, "DFWATCH_PSEUDONYM_KEY": "k" * 20}
    result = runner.invoke(app, [*args, "--config", str(cfg)], env=env)
    lines = [line for line in result.output.splitlines() if line.startswith("dfwatch:")]
    assert "internal error" not in result.output and "Traceback" not in result.output, result.output
    assert len(lines) == 1, result.output
    return result.exit_code, lines[0]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql+psycopg://u@127.0.0.1:99999/db", "database port 99999 is out of range (1-65535)"),
        ("postgresql+psycopg://u@127.0.0.1:abc/db", "port that is not a number"),
        ("mysql://u@127.0.0.1/db", "dfwatch stores to SQLite or PostgreSQL, not 'mysql'"),
        ("postgresql+psycopg2://u@127.0.0.1/db", "unknown database driver 'postgresql+psycopg2'"),
        ("sqlite+nosuchdriver:///x.db", "unknown database driver 'sqlite+nosuchdriver'"),
        ("not a url", "not a database URL"),
    ],
    ids=["port-out-of-range", "port-not-a-number", "mysql", "psycopg2", "unknown-sqlite-driver", "garbage"],
)
@pytest.mark.parametrize("command", [["crawl"], ["query", "select 1"], ["db", "upgrade"], ["report"]])
def test_bad_database_url_is_one_sentence_and_exit_2(
    tmp_path: Path, url: str, message: str, command: list[str]
) -> None:
    code, line = invoke(tmp_path, url, *command)
    assert code == 2 and message in line and "database.url" in line


def test_data_directory_that_cannot_be_created_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file where the data directory should be")
    code, line = invoke(tmp_path, f"sqlite:///{tmp_path / 'data' / 'dfwatch.db'}", "crawl")
    assert code == 2
    assert f"cannot create the data directory {tmp_path / 'data'}: a file is in the way" in line
    assert (tmp_path / "data").read_text().startswith("a file")


def test_read_only_database_file_is_exit_2_and_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "dfwatch.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    # Closed first: the last connection's close checkpoints the WAL into the file, which
    # otherwise happens whenever the engine is collected, maybe during the crawl below.
    engine.dispose()
    before = path.read_bytes()
    # Opened read-only by SQLite itself, so this holds for root too (file modes do not).
    code, line = invoke(tmp_path, f"sqlite:///file:{path}?mode=ro&uri=true", "crawl")
    assert code == 2 and "the database file is read-only" in line
    assert path.read_bytes() == before


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("command", [["crawl"], ["query", "select 1"], ["db", "upgrade"]])
def test_database_server_that_refuses_is_exit_1(tmp_path: Path, command: list[str]) -> None:
    port = _unused_port()
    code, line = invoke(tmp_path, f"postgresql+psycopg://u@127.0.0.1:{port}/db", *command)
    assert code == 1 and "the database server refused the connection" in line and f":{port}/db" in line


@pytest.mark.postgres
@pytest.mark.parametrize("command", [["crawl"], ["query", "select 1"]])
def test_unknown_postgres_database_is_exit_2_in_the_servers_words(tmp_path: Path, command: list[str]) -> None:
    if pg_skip_reason():
        pytest.skip(pg_skip_reason() or "")
    url = PG_URL.rsplit("/", 1)[0] + "/dfwatch_no_such_database"
    code, line = invoke(tmp_path, url, *command)
    assert code == 2 and 'database "dfwatch_no_such_database" does not exist' in line
