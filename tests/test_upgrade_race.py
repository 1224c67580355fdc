"""Two crawls on a new database: `dfwatch crawl & dfwatch crawl &` on a fresh file (or a
fresh PostgreSQL schema) must not die with "table communities already exists". Real
concurrent processes, started together."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text

from crawler.db.engine import current_revision, make_engine
from tests.conftest import write_config

ROOT = Path(__file__).resolve().parent.parent
UPGRADE = """
import sys, time
from crawler.db.engine import make_engine, upgrade
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
upgrade(make_engine(sys.argv[1]))
"""


def _together(argvs: list[list[str]], env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    procs = [
        subprocess.Popen(a, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for a in argvs
    ]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


def test_four_upgrades_of_a_new_database_at_once_all_succeed(db_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = str(time.time() + 1.5)  # all four processes are up by then
    done = _together([[sys.executable, "-c", UPGRADE, db_url, start] for _ in range(4)], env)
    assert [d.returncode for d in done] == [0, 0, 0, 0], [d.stderr[-500:] for d in done]
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is not None
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        engine.dispose()


def test_two_crawls_started_together_on_a_new_sqlite_file_both_run(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg", {})
    db = tmp_path / "new" / "dfwatch.db"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DFWATCH_DATABASE_URL": f"sqlite:///{db}",
        "DFWATCH_PSEUDONYM_KEY": "a-test-key-long-enough",
    }
    argv = [sys.executable, "-m", "crawler.cli", "crawl", "--config", str(cfg)]
    done = _together([argv, argv], env)
    assert [d.returncode for d in done] == [0, 0], [d.stderr[-800:] for d in done]
    assert not any("already exists" in d.stderr for d in done)
    engine = make_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            runs = conn.execute(text("SELECT status FROM crawl_runs ORDER BY id")).scalars().all()
    finally:
        engine.dispose()
    assert runs == ["ok", "ok"]
