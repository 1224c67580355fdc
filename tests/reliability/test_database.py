"""The database locked, briefly unreachable, or full: retried where that helps, clear where not.

* SQLite busy: another connection holds the write lock for seconds while the crawl writes;
  the crawl waits (busy_timeout) and stores everything.
* PostgreSQL unreachable: a proxy between the crawl and the shared server cuts every
  connection and refuses new ones for two seconds (the real server is never restarted:
  other people's tests use it); the batch write is retried, bounded and logged, and
  nothing is lost or doubled.
* A full disk: SQLite's SQLITE_FULL, from a page cap on the crawl's connections or from a
  real, small tmpfs; the CLI says so in one sentence, exit 1, and the database stays intact
  with everything committed before.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.fakes.x import SEARCH, TOKEN
from tests.reliability.harness import (
    Crawl,
    GatedX,
    integrity,
    make_crawl,
    query,
    scalar,
    settings,
    sqlite_path,
)
from tests.reliability.tcpproxy import TcpProxy

QUERY = "DeepFaceLab"
HOLD_SECONDS = 3.0  # how long the lock is held / the server is away
EXIT_FAILED = 1


def x_crawl(fake: GatedX, db_url: str, directory: Path, queries: list[str], **kw: Any) -> Crawl:
    return make_crawl(
        directory,
        db_url,
        {"x": {"queries": queries}},
        settings(10),
        endpoints={"x": fake.url},
        credentials={"X_BEARER_TOKEN": TOKEN},
        **kw,
    )


def posts_of(db_url: str, handle: str) -> set[str]:
    return {
        r[0]
        for r in query(
            db_url,
            """
        select p.external_id from posts p join communities c on c.id = p.community_id
        where c.handle = :h""",
            h=handle,
        )
    }


# --------------------------------------------------------------------------- SQLite busy


def test_crawl_waits_for_a_writer_holding_the_sqlite_lock_and_stores_everything(
    fake_x: GatedX, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'dfwatch.db'}"
    served = fake_x.make_tweets(250)
    fake_x.add_tweets(QUERY, served)
    gate = fake_x.gate(SEARCH, nth=2)  # the crawl is mid-query, one page stored
    proc = x_crawl(fake_x, db_url, tmp_path / "config", [QUERY]).start()
    gate.wait_reached()

    other = sqlite3.connect(sqlite_path(db_url), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # the write lock, as a long write transaction holds it
        before = scalar(db_url, "select count(*) from posts")
        gate.release()  # page 2 arrives; its batches must wait for the lock
        time.sleep(HOLD_SECONDS)
        assert scalar(db_url, "select count(*) from posts") == before  # nobody wrote meanwhile
        other.execute("COMMIT")
    finally:
        other.close()
    _out, err = proc.communicate(timeout=25)

    assert proc.returncode == 0, err
    assert posts_of(db_url, QUERY) == {t["id"] for t in served}
    assert query(db_url, "select status from crawl_runs") == [("ok",)]


# --------------------------------------------------------------------------- PostgreSQL away


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgres_outage_during_a_crawl_is_retried_and_nothing_is_lost_or_doubled(
    fake_x: GatedX, db_url: str, tmp_path: Path
) -> None:
    url = make_url(db_url)
    served = fake_x.make_tweets(250)
    fake_x.add_tweets(QUERY, served)
    gate = fake_x.gate(SEARCH, nth=2)
    with TcpProxy((url.host or "127.0.0.1", url.port or 5432)) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        proc = x_crawl(fake_x, proxied, tmp_path / "config", [QUERY]).start()
        gate.wait_reached()
        stored_before = scalar(db_url, "select count(*) from posts")
        with proxy.outage():
            gate.release()  # page 2 arrives while the server is away
            time.sleep(HOLD_SECONDS)
        _out, err = proc.communicate(timeout=25)

    assert proc.returncode == 0, err
    assert proxy.cut >= 1  # the crawl's connection was cut...
    # ...and the first write after it retried: X's billed reads are recorded as each page is
    # read, before its records are stored, so either may be the one that met the outage.
    assert re.search(r"store write run=1 (records=10|billed reads=x|billed=x) failed attempt=1/6", err)
    assert "Traceback" not in err
    assert stored_before >= 90
    assert posts_of(db_url, QUERY) == {t["id"] for t in served}
    assert scalar(db_url, "select count(*) from posts") == len(served)
    assert scalar(db_url, "select count(*) from mentions") == len(served)
    assert query(db_url, "select status from crawl_runs") == [("ok",)]


# --------------------------------------------------------------------------- a full disk


def _baseline(fake: GatedX, db_url: str, tmp_path: Path) -> set[str]:
    """A first, successful crawl whose rows must survive the full disk."""
    small = fake.make_tweets(20)
    fake.add_tweets("small", small)
    done = x_crawl(fake, db_url, tmp_path / "config-1", ["small"]).run()
    assert done.returncode == 0, done.stderr
    return {t["id"] for t in small}


def _big(fake: GatedX, n: int = 600) -> None:
    start = int(fake.make_tweets(1)[0]["id"]) + 10_000
    tweets = fake.make_tweets(n, start_id=start)
    for i, t in enumerate(tweets):  # long bodies fill pages fast
        t["text"] = f"DeepFaceLab release notes {i} " + "x" * 2000
    fake.add_tweets("big", tweets)


def _assert_clear_failure(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == EXIT_FAILED, done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("dfwatch: the database is full: "), last


def test_full_database_fails_clearly_and_keeps_earlier_rows(fake_x: GatedX, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'dfwatch.db'}"
    small = _baseline(fake_x, db_url, tmp_path)
    with contextlib.closing(sqlite3.connect(sqlite_path(db_url))) as conn:
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
    _big(fake_x)
    crawl = x_crawl(fake_x, db_url, tmp_path / "config-2", ["small", "big"])
    crawl.program = (str(Path(__file__).with_name("capped_cli.py")),)
    crawl.env["DFWATCH_TEST_MAX_PAGES"] = str(pages + 8)

    done = crawl.run()

    _assert_clear_failure(done)
    assert integrity(db_url) == "ok"
    assert posts_of(db_url, "small") == small
    assert query(db_url, "select id, status from crawl_runs order by id")[0] == (1, "ok")
    second = query(db_url, "select status, error_summary from crawl_runs where id = 2")
    assert second and second[0][0] == "failed" and second[0][1].startswith("the database is full")


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MB file system; needs the privilege to mount (skipped without it)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    mount_exe, umount_exe = shutil.which("mount"), shutil.which("umount")
    if not mount_exe or not umount_exe or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; the page-cap test covers SQLITE_FULL")
    res = subprocess.run(
        [mount_exe, "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run([umount_exe, str(mount)], check=False)


def test_full_disk_fails_clearly_and_keeps_earlier_rows(
    fake_x: GatedX, tmp_path: Path, small_tmpfs: Path
) -> None:
    db_url = f"sqlite:///{small_tmpfs / 'dfwatch.db'}"
    small = _baseline(fake_x, db_url, tmp_path)
    _big(fake_x)

    done = x_crawl(fake_x, db_url, tmp_path / "config-2", ["small", "big"]).run()

    _assert_clear_failure(done)
    assert integrity(db_url) == "ok"
    assert posts_of(db_url, "small") == small
    assert query(db_url, "select id, status from crawl_runs order by id")[0] == (1, "ok")
