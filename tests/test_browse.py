"""`dfwatch browse` (Datasette over the SQLite file, read-only, with the codebook) and the
SQLite snapshot a PostgreSQL database is browsed through.

The server tests start the real command in a subprocess on a free port of 127.0.0.1 and talk
HTTP to it; the browser test renders its pages in Debian's headless Chromium.
"""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, inspect, text
from typer.testing import CliRunner

from crawler import browse, codebook
from crawler.cli import app
from crawler.db.engine import make_engine, upgrade
from crawler.db.models import Community, Mention, Metric, Post, StatusChange, Tool
from crawler.db.snapshot import export_sqlite
from tests.conftest import write_config
from tests.test_report_html import ARTIFACTS, run_chromium

NOW = datetime(2018, 2, 28, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
CLI = [sys.executable, "-c", "from crawler.cli import main; main()"]
START_ATTEMPTS = 150  # × 0.1 s: how long the server may take to answer its first request


def seed(engine: Engine) -> None:
    """Two communities with daily members, a ban, a tool mentioned in posts."""
    with engine.begin() as conn:
        ids = {}
        for handle, status in (("deepfakes", "banned"), ("SFWdeepfakes", "active")):
            ids[handle] = conn.execute(
                insert(Community.__table__).values(
                    platform="reddit",
                    kind="subreddit",
                    handle=handle,
                    status=status,
                    first_seen_at=NOW - 40 * DAY,
                )
            ).inserted_primary_key[0]
        conn.execute(
            insert(Metric.__table__),
            [
                {
                    "community_id": ids[h],
                    "metric": "members",
                    "value": 1000.0 + 100 * d,
                    "observed_at": NOW - (30 - d) * DAY + timedelta(hours=hour),
                    "source": "reddit_api",
                }
                for h in ids
                for d in range(30)
                for hour in (1, 9)  # two a day: the canned query keeps the later one
            ],
        )
        conn.execute(
            insert(StatusChange.__table__).values(
                community_id=ids["deepfakes"],
                observed_at=NOW - 3 * DAY,
                old_status="active",
                new_status="banned",
                reason="HTTP 404: banned",
            )
        )
        tool = conn.execute(insert(Tool.__table__).values(name="FakeApp")).inserted_primary_key[0]
        for i in range(12):
            post = conn.execute(
                insert(Post.__table__).values(
                    community_id=ids["deepfakes"],
                    platform="reddit",
                    external_id=f"t3_{i}",
                    created_at=NOW - i * 2 * DAY,
                    first_seen_at=NOW,
                    last_seen_at=NOW,
                    state="visible",
                )
            ).inserted_primary_key[0]
            conn.execute(insert(Mention.__table__).values(post_id=post, tool_id=tool))


@pytest.fixture
def seeded_file(tmp_path: Path) -> Path:
    path = tmp_path / "dfwatch.db"
    eng = make_engine(f"sqlite:///{path}")
    upgrade(eng)
    seed(eng)
    with eng.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    eng.dispose()
    return path


# --- the snapshot ------------------------------------------------------------------------


def test_snapshot_holds_every_table_and_view_with_every_row(engine: Engine, tmp_path: Path) -> None:
    seed(engine)
    url = engine.url.render_as_string(hide_password=False)
    counts = export_sqlite(url, tmp_path / "snapshot.db")
    path = tmp_path / "snapshot.db"
    assert path.is_file() and not (tmp_path / "snapshot.db.part").exists()
    assert not (tmp_path / "snapshot.db-wal").exists()  # one self-contained file
    snap = make_engine(f"sqlite:///{path}", read_only=True)
    insp, orig = inspect(snap), inspect(engine)
    assert set(insp.get_table_names()) == set(orig.get_table_names())
    assert set(insp.get_view_names()) == {"latest_metrics", "daily_metrics"}
    with snap.connect() as s, engine.connect() as o:
        for table, n in counts.items():
            assert s.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() == n  # noqa: S608
            assert o.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() == n  # noqa: S608
        assert counts["metrics"] == 120 and counts["mentions"] == 12
        # Times survive as UTC; the views work on the copy.
        first = s.execute(text("SELECT MIN(observed_at) FROM metrics")).scalar()
        assert str(first).startswith(str((NOW - 30 * DAY).date()))
        assert s.execute(text("SELECT COUNT(*) FROM daily_metrics")).scalar() == 60
        assert s.exec_driver_sql("PRAGMA journal_mode").scalar() == "delete"
    snap.dispose()


def test_export_command_writes_a_snapshot_and_says_how_to_browse_it(
    seeded_file: Path, tmp_path: Path
) -> None:
    env = {"DFWATCH_DATABASE_URL": f"sqlite:///{seeded_file}"}
    cfg = write_config(tmp_path / "cfg")
    out = tmp_path / "out" / "copy.db"
    result = CliRunner().invoke(
        app, ["export", "--format", "sqlite", "--out", str(out), "--config", str(cfg)], env=env
    )
    assert result.exit_code == 0, result.output
    assert out.is_file() and f"dfwatch browse --db sqlite:///{out}" in result.output
    same = CliRunner().invoke(
        app, ["export", "--format", "sqlite", "--out", str(seeded_file), "--config", str(cfg)], env=env
    )
    assert same.exit_code == 2 and "is the database itself" in same.output


# --- metadata ----------------------------------------------------------------------------


def test_metadata_is_the_codebook_with_queries_and_facets(seeded_file: Path) -> None:
    meta = browse.datasette_metadata(seeded_file)
    db = meta["databases"]["dfwatch"]
    assert set(db["tables"]) - {"alembic_version"} == set(codebook.BY_NAME)
    assert db["tables"]["alembic_version"] == {"hidden": True}
    assert db["tables"]["communities"]["columns"] == codebook.datasette_tables()["communities"]["columns"]
    assert db["tables"]["communities"]["facets"] == ["platform", "kind", "status"]
    assert set(db["queries"]) == {"community_growth", "status_timeline", "tool_weekly_mentions", "candidates"}
    assert "about_url" not in meta  # no report beside the database


def test_candidates_query_appears_when_the_table_exists(seeded_file: Path) -> None:
    db = browse.datasette_metadata(seeded_file)["databases"]["dfwatch"]  # migration 0003 made it
    assert db["queries"]["candidates"]["sql"] == "SELECT * FROM candidates ORDER BY posts DESC"
    assert db["tables"]["candidates"]["facets"] == ["platform", "kind", "status"]
    con = sqlite3.connect(seeded_file)
    con.execute("DROP TABLE candidates")
    con.commit()
    con.close()
    assert "candidates" not in browse.datasette_metadata(seeded_file)["databases"]["dfwatch"]["queries"]


def test_a_server_database_is_refused_with_the_snapshot_recipe() -> None:
    with pytest.raises(Exception, match="dfwatch export --format sqlite"):
        browse.sqlite_path("postgresql+psycopg://u@127.0.0.1/test")


def test_another_host_than_loopback_is_served_only_with_a_warning(
    seeded_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []  # serve() is replaced: nothing binds 192.0.2.1 (TEST-NET-1)
    monkeypatch.setattr(browse, "serve", lambda path, **kw: calls.append({"path": path, **kw}))
    quiet = CliRunner().invoke(app, ["browse", "--db", f"sqlite:///{seeded_file}"])
    assert quiet.exit_code == 0 and "warning" not in quiet.output
    assert calls[-1]["host"] == "127.0.0.1" and calls[-1]["port"] == 8001
    loud = CliRunner().invoke(app, ["browse", "--db", f"sqlite:///{seeded_file}", "--host", "192.0.2.1"])
    assert loud.exit_code == 0 and "warning: serving the research database on 192.0.2.1" in loud.output
    assert calls[-1]["host"] == "192.0.2.1"
    assert (
        browse.is_loopback("::1") and browse.is_loopback("localhost") and not browse.is_loopback("10.0.0.1")
    )


# --- the real server ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture
def server(seeded_file: Path, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`dfwatch browse` on a snapshot of the seeded database, a report beside it."""
    snap_dir = tmp_path / "share"
    export_sqlite(f"sqlite:///{seeded_file}", snap_dir / "snapshot.db")
    (snap_dir / "report.html").write_text("<!DOCTYPE html><title>r</title><h1>latest report</h1>")
    port = free_port()
    proc = subprocess.Popen(
        [*CLI, "browse", "--db", f"sqlite:///{snap_dir / 'snapshot.db'}", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(START_ATTEMPTS):
        if proc.poll() is not None:
            pytest.fail(f"browse exited early: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if get(f"{base}/-/metadata.json")[0] == 200:
                break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("browse did not answer")
    yield base, proc
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


def test_browse_serves_the_codebook_and_the_tables(server: tuple[str, subprocess.Popen[str]]) -> None:
    base, _ = server
    status, _, body = get(f"{base}/-/metadata.json")
    meta = json.loads(body)
    cols = meta["databases"]["snapshot"]["tables"]["metrics"]["columns"]
    assert cols["value"] == codebook.column_description(codebook.BY_NAME["metrics"].column("value"))
    status, _, body = get(f"{base}/snapshot/communities.json?_shape=array")
    assert status == 200
    assert sorted(r["handle"] for r in json.loads(body)) == ["SFWdeepfakes", "deepfakes"]
    status, _, body = get(f"{base}/snapshot/community_growth.json?handle=DEEPFAKES&_shape=array")
    rows = json.loads(body)
    assert status == 200 and len(rows) == 30 and rows[-1]["members"] == 3900
    assert all(r["observed_at"].endswith("21:00:00.000000") for r in rows)  # the day's last value
    status, _, body = get(f"{base}/snapshot/tool_weekly_mentions.json?tool=fakeapp&_shape=array")
    assert status == 200 and sum(r["mentions"] for r in json.loads(body)) == 12
    status, _, body = get(f"{base}/snapshot/status_timeline.json?platform=&_shape=array")
    assert [r["new_status"] for r in json.loads(body)] == ["banned"]


def test_browse_links_and_serves_the_latest_report(server: tuple[str, subprocess.Popen[str]]) -> None:
    base, _ = server
    assert json.loads(get(f"{base}/-/metadata.json")[2])["about_url"] == "/-/report"
    status, headers, body = get(f"{base}/-/report")
    assert status == 200 and b"latest report" in body
    assert headers["content-security-policy"].startswith("default-src 'none'")
    assert b'href="/-/report"' in get(f"{base}/snapshot")[2]


def test_browse_refuses_writes(server: tuple[str, subprocess.Popen[str]]) -> None:
    base, _ = server
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, headers, _ = get(f"{base}/snapshot/communities", method=method)
        assert status == 405 and headers["allow"] == "GET, HEAD"
    status, _, body = get(f"{base}/snapshot.json?sql=DELETE+FROM+communities")
    assert status == 400 and b"must be a SELECT" in body
    status, _, body = get(f"{base}/snapshot.json?sql=SELECT+COUNT(*)+AS+n+FROM+communities&_shape=array")
    assert json.loads(body) == [{"n": 2}]


def test_browse_stops_on_sigterm(server: tuple[str, subprocess.Popen[str]]) -> None:
    base, proc = server
    proc.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status says why.
    assert proc.wait(timeout=20) in (0, -signal.SIGTERM)
    out = proc.stdout.read() if proc.stdout else ""
    assert "Traceback" not in out, out
    with pytest.raises(OSError):
        get(f"{base}/-/metadata.json")


@pytest.mark.parametrize(
    ("name", "path", "expect"),
    [
        ("browse-tables", "/snapshot", ["communities", "status_changes", "A community's growth"]),
        ("browse-growth", "/snapshot/community_growth?handle=deepfakes", ["3900", "2018-02-27", "deepfakes"]),
    ],
)
def test_browse_pages_render_in_chromium(
    server: tuple[str, subprocess.Popen[str]], tmp_path: Path, name: str, path: str, expect: list[str]
) -> None:
    base, _ = server
    proc = run_chromium(["--enable-logging=stderr", "--v=0", "--dump-dom", base + path], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Uncaught" not in proc.stderr, proc.stderr[-2000:]
    for text_ in expect:
        assert text_ in proc.stdout, text_
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"{name}.png"
    shot.unlink(missing_ok=True)
    done = run_chromium([f"--screenshot={shot}", "--window-size=1200,1400", base + path], tmp_path)
    assert done.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
