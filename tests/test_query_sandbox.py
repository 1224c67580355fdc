"""`dfwatch query` as an attacker would use it: nothing reaches the operating system or other
sessions, a runaway statement stops at its deadline or at Ctrl-C, and the database is
unchanged afterwards. PostgreSQL tests run on the real server with a superuser login (the
test server's), which is the case the reader role exists for."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from crawler.db import query as query_module
from crawler.db import reader
from crawler.db.engine import make_engine, upgrade
from crawler.db.query import COPY_MESSAGE, format_rows, run_query
from crawler.db.store import Store
from crawler.errors import ReadOnlyViolation, StoreError
from crawler.records import CommunityKey, CommunityObservation, Post
from tests.conftest import write_config

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2018, 1, 20, 12, 0, tzinfo=UTC)
SUB = CommunityKey("reddit", "subreddit", "deepfakes")
RUNAWAY = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r"


@pytest.fixture
def filled(engine: Engine, db_url: str) -> str:
    store = Store(engine)
    store.write(
        [CommunityObservation(SUB, T0, "reddit_api", status="active", metrics={"members": 10.0})]
        + [Post(SUB, f"p{i}", created_at=T0, title=f"t{i}", enriched=True) for i in range(3)],
        None,
    )
    return db_url


@pytest.fixture
def pg(filled: str) -> str:
    if not filled.startswith("postgresql"):
        pytest.skip("PostgreSQL: the login's server powers")
    return filled


@pytest.fixture
def lite(filled: str) -> str:
    if not filled.startswith("sqlite"):
        pytest.skip("SQLite's progress handler")
    return filled


def snapshot(engine: Engine) -> tuple[Any, ...]:
    """What an attack could change: rows of the research tables."""
    with engine.connect() as conn:
        return tuple(
            conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()  # noqa: S608 - constant names
            for t in ("communities", "posts", "metrics", "crawl_runs", "run_locks")
        )


def refused(url: str, sql: str, match: str, **kwargs: Any) -> None:
    with pytest.raises(ReadOnlyViolation, match=match):
        _cols, rows = run_query(url, sql, **kwargs)
        list(rows)


# --------------------------------------------------------------------------- PostgreSQL


def test_copy_to_program_is_refused_and_runs_nothing(pg: str, engine: Engine, tmp_path: Path) -> None:
    marker = tmp_path / "x"
    before = snapshot(engine)
    refused(pg, f"copy (select 1) to program 'id > {marker}'", "COPY is refused")
    refused(pg, f"  -- a comment first\n  COPY posts TO '{marker}'", "COPY is refused")
    assert not marker.exists()
    assert snapshot(engine) == before


def test_copy_to_program_smuggled_through_query_to_xml_runs_nothing(
    pg: str, engine: Engine, tmp_path: Path
) -> None:
    marker = tmp_path / "x"
    before = snapshot(engine)
    with pytest.raises((ReadOnlyViolation, StoreError)):
        _cols, rows = run_query(
            pg, f"select query_to_xml('copy (select 1) to program ''id > {marker}''', true, false, '')"
        )
        list(rows)
    assert not marker.exists()
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    ("sql", "function"),
    [
        ("select pg_read_file('/etc/hostname')", "pg_read_file"),
        ("select pg_ls_dir('.')", "pg_ls_dir"),
        ("select pg_reload_conf()", "pg_reload_conf"),
        ("select * from pg_stat_file('postgresql.conf')", "pg_stat_file"),
    ],
)
def test_server_file_and_admin_functions_are_refused(
    pg: str, engine: Engine, sql: str, function: str
) -> None:
    before = snapshot(engine)
    refused(pg, sql, f"refused: permission denied for function {function}")
    assert snapshot(engine) == before


def test_pg_terminate_backend_of_another_session_is_refused(pg: str, engine: Engine) -> None:
    with engine.connect() as victim:
        pid = victim.execute(text("SELECT pg_backend_pid()")).scalar()
        with pytest.raises(
            ReadOnlyViolation, match="refused: must be a superuser to terminate superuser process"
        ):
            _cols, rows = run_query(pg, f"select pg_terminate_backend({pid})")
            list(rows)
        assert victim.execute(text("SELECT 1")).scalar() == 1  # still alive


@pytest.mark.parametrize(
    "sql",
    [
        # Switching back to the login's role inside the statement, then running SQL text.
        "select set_config('role', 'none', true), "
        "query_to_xml('select pg_read_file(''/etc/hostname'')', true, false, '')",
        "select set_config('session_authorization', session_user, true)",
        "select query_to_xml('reset role', true, false, '')",
    ],
    ids=["set-config-role", "set-config-session-authorization", "reset-role-in-query-to-xml"],
)
def test_switching_back_to_the_superuser_role_is_refused(pg: str, engine: Engine, sql: str) -> None:
    before = snapshot(engine)
    with pytest.raises((ReadOnlyViolation, StoreError), match=r"refused|not allowed"):
        _cols, rows = run_query(pg, sql)
        list(rows)
    assert snapshot(engine) == before


def test_superuser_login_may_run_only_select_statements(pg: str) -> None:
    refused(pg, "explain analyze select 1", "runs only SELECT, WITH, VALUES and TABLE")
    refused(pg, "do $$ begin perform 1; end $$", "read-only")


def test_query_runs_as_the_reader_role_and_reads_everything(pg: str) -> None:
    cols, rows = run_query(pg, "select current_user as who, count(*) as n from posts;  -- trailing")
    assert (cols, list(rows)) == (["who", "n"], [("dfwatch_reader", 3)])
    cols, rows = run_query(pg, "select 1 as a, 2 as a, '{\"x\": [1, 2.5]}'::json as j, 1.25::numeric as d")
    assert cols == ["a", "a", "j", "d"]
    assert list(rows) == [(1, 2, {"x": [1, 2.5]}, pytest.approx(1.25))]
    cols, rows = run_query(pg, "select handle from communities where false")
    assert (cols, list(rows)) == (["handle"], [])


def test_superuser_login_is_warned_about_once(
    pg: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(query_module, "_warned_logins", set())
    with caplog.at_level(logging.WARNING, logger="dfwatch.query"):
        for _ in range(2):
            list(run_query(pg, "select 1")[1])
    warnings = [r for r in caplog.records if "is a superuser" in r.getMessage()]
    assert len(warnings) == 1


def test_slow_statement_stops_at_the_statement_timeout(pg: str) -> None:
    with pytest.raises(StoreError, match=r"stopped after 0.5 s \(\[query\] timeout_seconds"):
        list(run_query(pg, "select pg_sleep(30)", timeout_seconds=0.5)[1])


def _pg_sessions(url: str, tag: str) -> int:
    """Active sessions whose application_name is `tag` (the CLI's query connection)."""
    eng = make_engine(url)
    try:
        with eng.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = :t AND state = 'active'"
                    ),
                    {"t": tag},
                ).scalar()
                or 0
            )
    finally:
        eng.dispose()


def wait_for(what: str, cond: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _cli_query(url: str, sql: str, tmp_path: Path, settings: str = "") -> subprocess.Popen[str]:
    cfg = write_config(tmp_path / f"cfg-{uuid.uuid4().hex[:6]}", {}, settings)
    env = {**os.environ, "DFWATCH_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "query", sql, "--config", str(cfg)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_killed_client_leaves_no_query_running_on_the_server(pg: str, tmp_path: Path) -> None:
    tag = f"dfw_{uuid.uuid4().hex[:8]}"
    url = f"{pg}&application_name={tag}"
    proc = _cli_query(url, "select pg_sleep(60)", tmp_path, "[query]\ntimeout_seconds = 2\n")
    try:
        wait_for("the query to run on the server", lambda: _pg_sessions(pg, tag) == 1)
        proc.kill()  # kill -9: no cancel request is ever sent
        proc.wait(10)
        wait_for("the server to end the orphaned query", lambda: _pg_sessions(pg, tag) == 0)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_ctrl_c_cancels_a_postgres_query_on_the_server(pg: str, tmp_path: Path) -> None:
    tag = f"dfw_{uuid.uuid4().hex[:8]}"
    url = f"{pg}&application_name={tag}"
    proc = _cli_query(url, "select pg_sleep(60)", tmp_path)
    try:
        wait_for("the query to run on the server", lambda: _pg_sessions(pg, tag) == 1)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=20)
        assert proc.returncode == 130 and "interrupted" in err
        assert _pg_sessions(pg, tag) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_reader_role_creation_is_safe_from_several_processes_at_once(engine: Engine, db_url: str) -> None:
    """The role is cluster-wide: test processes upgrading their own schemas create it at once."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL roles")
    role = f"dfw_test_reader_{uuid.uuid4().hex[:8]}"
    schemas = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(4)]
    base = db_url.split("?", 1)[0]
    script = (
        "import sys, time\n"
        "from crawler.db.engine import make_engine\n"
        "from crawler.db.reader import ensure_reader\n"
        "t = float(sys.argv[2])\n"
        "while time.time() < t: time.sleep(0.001)\n"
        "ensure_reader(make_engine(sys.argv[1]), role=sys.argv[3])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with engine.begin() as conn:
        for s in schemas:
            conn.execute(text(f'CREATE SCHEMA "{s}"'))
    try:
        start = str(time.time() + 1.5)
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", script, f"{base}?options=-csearch_path%3D{s}", start, role],
                env=env,
                stderr=subprocess.PIPE,
                text=True,
            )
            for s in schemas
        ]
        errs = [p.communicate(timeout=60)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0, 0], errs
        assert not any("could not" in e for e in errs), errs
        with engine.connect() as conn:
            assert (
                conn.execute(text("SELECT count(*) FROM pg_roles WHERE rolname = :r"), {"r": role}).scalar()
                == 1
            )
            for s in schemas:
                assert conn.execute(
                    text("SELECT has_schema_privilege(:r, :s, 'USAGE')"), {"r": role, "s": s}
                ).scalar()
    finally:
        with engine.begin() as conn:
            for s in schemas:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{s}" CASCADE'))
            if conn.execute(text("SELECT count(*) FROM pg_roles WHERE rolname = :r"), {"r": role}).scalar():
                conn.execute(text(f'DROP OWNED BY "{role}"'))
                conn.execute(text(f'DROP ROLE "{role}"'))


@pytest.fixture
def ordinary_login(pg: str, engine: Engine) -> Iterator[str]:
    """A login without superuser that may enter the reader role (dropped afterwards)."""
    login = f"dfw_test_login_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(text(f'CREATE ROLE "{login}" LOGIN NOSUPERUSER'))
        conn.execute(text(f'GRANT {reader.READER_ROLE} TO "{login}"'))
    url = make_url(pg).set(username=login).render_as_string(hide_password=False)
    yield url
    with engine.begin() as conn:
        conn.execute(text(f'DROP OWNED BY "{login}"'))
        conn.execute(text(f'DROP ROLE "{login}"'))


def test_ordinary_login_queries_as_the_reader_and_cannot_switch_to_anything_more(
    ordinary_login: str, engine: Engine
) -> None:
    cols, rows = run_query(ordinary_login, "select current_user as who, count(*) as n from posts")
    assert list(rows) == [("dfwatch_reader", 3)]  # the login itself may not read posts
    cols, rows = run_query(ordinary_login, "explain select 1")  # any statement, as the reader
    assert cols == ["QUERY PLAN"] and list(rows)
    # Switching back reaches only the login itself, which has no server powers either.
    refused(
        ordinary_login,
        "select set_config('role', 'none', true), "
        "query_to_xml('select pg_read_file(''/etc/hostname'')', true, false, '')",
        "refused: permission denied for function pg_read_file",
    )
    refused(ordinary_login, "delete from posts", "read-only")
    assert snapshot(engine)[1] == 3


# --------------------------------------------------------------------------- SQLite


def test_runaway_recursive_query_stops_at_the_deadline_on_sqlite(lite: str, engine: Engine) -> None:
    before = snapshot(engine)
    with pytest.raises(StoreError, match=r"stopped after 0.3 s"):
        list(run_query(lite, RUNAWAY, timeout_seconds=0.3)[1])
    assert snapshot(engine) == before


def test_copy_is_refused_on_sqlite_too(lite: str) -> None:
    refused(lite, "COPY posts TO '/tmp/x'", COPY_MESSAGE.split(";")[0])


def _opened(pid: int, path: Path) -> bool:
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.path.realpath(fd) == str(path.resolve()) for fd in fds.iterdir())
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="watches /proc for the open database")
def test_ctrl_c_stops_a_runaway_sqlite_query(lite: str, tmp_path: Path) -> None:
    proc = _cli_query(lite, RUNAWAY, tmp_path)
    try:
        db = Path(make_url(lite).database or "")
        wait_for("the query to open the database", lambda: _opened(proc.pid, db))
        time.sleep(0.5)  # let it get into the statement (a wait, not an assertion)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=20)
        assert proc.returncode == 130, err
        assert "dfwatch: interrupted" in err and "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()


# --------------------------------------------------------------------------- table cap


def test_table_of_five_thousand_rows_shows_the_limit_and_says_how_many_were_left_out(filled: str) -> None:
    import io

    sql = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5000) SELECT n FROM r"
    if filled.startswith("postgresql"):
        sql = "SELECT n FROM generate_series(1, 5000) AS n"
    out = io.StringIO()
    assert format_rows(*run_query(filled, sql), "table", out, limit=1000) == 1000
    text_out = out.getvalue()
    assert "4,000 more rows not shown" in text_out and "--format csv" in text_out
    assert " 1000 " in text_out and " 1001 " not in text_out
    out = io.StringIO()
    assert format_rows(*run_query(filled, sql), "csv", out) == 5000  # csv writes them all


def test_upgrade_grants_the_reader_tables_created_later(pg: str, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE later_table (x int)"))
    with engine.connect() as conn:
        assert conn.execute(
            text("SELECT has_table_privilege('dfwatch_reader', 'later_table', 'SELECT')")
        ).scalar()
    upgrade(engine)  # idempotent
