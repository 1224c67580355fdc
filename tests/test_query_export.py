"""`dfwatch query` refuses writes and formats rows; `dfwatch export` round-trips row counts."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, text

from crawler.config import Tool
from crawler.db import runlog
from crawler.db.export import EXPORT_TABLES, export_tables
from crawler.db.query import format_rows, run_query
from crawler.db.store import Store
from crawler.errors import ConfigError, ReadOnlyViolation
from crawler.records import CommunityKey, CommunityObservation, Post
from crawler.sources.base import SourceStats

T0 = datetime(2018, 1, 20, 12, 0, tzinfo=UTC)
SUB = CommunityKey("reddit", "subreddit", "deepfakes")


@pytest.fixture
def filled(engine: Engine, db_url: str) -> str:
    """A small database with a row in every exported table; returns its URL."""
    store = Store(engine)
    store.sync_tools([Tool(name="FakeApp", category="desktop"), Tool(name="faceswap")])
    run_id = runlog.start_run(engine, trigger="manual", version="0.1", pid=1, host="h")
    store.write(
        [
            CommunityObservation(
                SUB,
                T0 + timedelta(days=d),
                "reddit_api",
                status="active",
                metrics={"members": 1000.0 * (d + 1)},
            )
            for d in range(5)
        ]
        + [
            Post(
                SUB,
                f"7r{i}",
                created_at=T0,
                title=f'post, "quoted" {i}',
                score=i,
                enriched=True,
                mentions=("FakeApp",) if i % 2 else (),
            )
            for i in range(7)
        ],
        run_id,
    )
    runlog.finish_source(engine, run_id, "reddit", "ok", SourceStats(requests=3, items=12))
    runlog.finish_run(engine, run_id, "ok")
    return db_url


@pytest.fixture
def sqlite_only(db_url: str) -> None:
    """Skip before any database is built: these statements are SQLite's own."""
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite-specific statement")


@pytest.fixture
def pg_only(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL-specific statement")


WRITES_ANYWHERE = [
    "INSERT INTO tools (name) VALUES ('x')",
    "UPDATE posts SET score = 0",
    "DELETE FROM posts",
    "DROP TABLE posts",
    "CREATE TABLE evil (x int)",
    "CREATE TEMP TABLE scratch (x int)",
]
WRITES_SQLITE = [
    "ATTACH DATABASE ':memory:' AS other",
    "PRAGMA journal_mode=DELETE",
    "PRAGMA user_version=5",
    "PRAGMA query_only=OFF",
    "VACUUM",
    "REINDEX",
]
WRITES_PG = [
    "WITH gone AS (DELETE FROM posts RETURNING id) SELECT * FROM gone",
    "TRUNCATE posts",
    "SELECT nextval(pg_get_serial_sequence('posts', 'id'))",
]
# Several statements in one go are refused outright (a prepared statement holds one), so a
# later statement can never run after an earlier one loosened the transaction.
SMUGGLED_PG = [
    "SELECT 1; DELETE FROM posts",
    "SET TRANSACTION READ WRITE; DELETE FROM posts",
    "SELECT set_config('default_transaction_read_only', 'off', false); DELETE FROM posts",
]


def _count_posts(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM posts")).scalar() or 0)


@pytest.mark.parametrize("sql", WRITES_ANYWHERE)
def test_query_refuses_writes(filled: str, engine: Engine, sql: str) -> None:
    with pytest.raises(ReadOnlyViolation, match="dfwatch query is read-only"):
        _, it = run_query(filled, sql)
        list(it)
    assert _count_posts(engine) == 7


@pytest.mark.parametrize("sql", WRITES_SQLITE)
def test_query_refuses_sqlite_writes(sqlite_only: None, filled: str, engine: Engine, sql: str) -> None:
    with pytest.raises(ReadOnlyViolation):
        _, it = run_query(filled, sql)
        list(it)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA user_version").scalar() == 0


@pytest.mark.parametrize("sql", WRITES_PG)
def test_query_refuses_postgres_writes(pg_only: None, filled: str, engine: Engine, sql: str) -> None:
    with pytest.raises(ReadOnlyViolation):
        _, it = run_query(filled, sql)
        list(it)
    assert _count_posts(engine) == 7


@pytest.mark.parametrize("sql", SMUGGLED_PG)
def test_query_refuses_several_statements_on_postgres(
    pg_only: None, filled: str, engine: Engine, sql: str
) -> None:
    with pytest.raises(ConfigError, match="multiple commands"):
        _, it = run_query(filled, sql)
        list(it)
    assert _count_posts(engine) == 7


def test_query_refuses_several_statements_on_sqlite(sqlite_only: None, filled: str, engine: Engine) -> None:
    with pytest.raises(ConfigError, match="one statement"):
        run_query(filled, "SELECT 1; DELETE FROM posts")
    assert _count_posts(engine) == 7


def test_query_reads_tables_views_and_pragmas(filled: str, engine: Engine) -> None:
    cols, it = run_query(filled, "SELECT metric, value FROM latest_metrics")
    assert (cols, list(it)) == (["metric", "value"], [("members", 5000.0)])
    if engine.dialect.name == "sqlite":
        cols, it = run_query(filled, "PRAGMA table_info(posts)")
        assert "name" in cols and any(r[1] == "external_id" for r in it)


def test_query_syntax_error_is_a_user_error_with_the_database_message(filled: str) -> None:
    with pytest.raises(ConfigError, match="syntax error") as info:
        run_query(filled, "SELEC * FROM posts")
    assert info.value.exit_code == 2
    with pytest.raises(ConfigError, match=r"no such table|does not exist"):
        run_query(filled, "SELECT * FROM no_such_table")


def test_query_formats_csv_json_and_table(filled: str) -> None:
    sql = "SELECT external_id, title, score FROM posts WHERE score < 3 ORDER BY score"
    out = io.StringIO()
    cols, it = run_query(filled, sql)
    assert format_rows(cols, it, "csv", out) == 3
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [
        ["external_id", "title", "score"],
        ["7r0", 'post, "quoted" 0', "0"],
        ["7r1", 'post, "quoted" 1', "1"],
        ["7r2", 'post, "quoted" 2', "2"],
    ]
    out = io.StringIO()
    format_rows(*run_query(filled, sql), "json", out)
    assert json.loads(out.getvalue())[1] == {"external_id": "7r1", "title": 'post, "quoted" 1', "score": 1}
    out = io.StringIO()
    format_rows(*run_query(filled, sql), "table", out)
    assert "external_id" in out.getvalue() and '"quoted" 2' in out.getvalue()
    out = io.StringIO()
    format_rows(*run_query(filled, "SELECT * FROM posts WHERE 1 = 0"), "json", out)
    assert json.loads(out.getvalue()) == []


def _expected_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() or 0)  # noqa: S608
            for t in EXPORT_TABLES
        }


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_export_round_trips_row_counts(filled: str, engine: Engine, tmp_path: Path, fmt: str) -> None:
    expected = _expected_counts(engine)
    assert all(expected.values()), expected  # every table has rows to export
    seen: list[tuple[str, int]] = []
    counts = export_tables(filled, tmp_path / "out", fmt, progress=lambda t, n: seen.append((t, n)))
    assert counts == expected
    assert {t for t, _ in seen} == set(EXPORT_TABLES)
    for table, n in expected.items():
        path = tmp_path / "out" / f"{table}.{fmt}"
        if fmt == "csv":
            with path.open(newline="") as fh:
                assert len(list(csv.DictReader(fh))) == n
        elif fmt == "jsonl":
            lines = [json.loads(line) for line in path.read_text().splitlines()]
            assert len(lines) == n
        else:
            assert pq.read_table(path).num_rows == n
    assert not list((tmp_path / "out").glob("*.part"))


def test_export_writes_times_as_iso_utc(filled: str, tmp_path: Path) -> None:
    export_tables(filled, tmp_path, "jsonl", tables=["metrics"])
    first = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])
    assert first["observed_at"] == "2018-01-20T12:00:00Z"
    export_tables(filled, tmp_path, "parquet", tables=["metrics"])
    col = pq.read_table(tmp_path / "metrics.parquet").column("observed_at")
    assert str(col.type) == "timestamp[us, tz=UTC]"
    assert col[0].as_py() == T0
