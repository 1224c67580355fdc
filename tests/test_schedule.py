"""The scheduler: missed runs after downtime, restarts, hung and crashing crawls, shutdown.

Most tests run the real scheduler (APScheduler, SQLAlchemy job store, child processes) with
a stand-in for `python -m crawler.cli` whose crawl writes a run row like the real one and
then finishes, sleeps, hangs or crashes on request (FAKE_MODES, one mode per crawl). Two
tests run the real `python -m crawler.cli crawl` with nothing enabled, which is offline.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

from crawler.config import SOURCE_NAMES, Config
from crawler.cron import crontab_trigger, crontab_weekdays
from crawler.db.engine import make_engine
from crawler.db.runlog import LOCKS, RUNS, RunLock
from crawler.errors import LockTimeout
from crawler.schedule import list_jobs, run_scheduler
from crawler.schedule.jobs import DEFAULT_JOB, JOBS_TABLE

ROOT = Path(__file__).resolve().parent.parent

FAKE_CLI = r'''
"""Stand-in for `python -m crawler.cli` (written by tests/test_schedule.py)."""
import json, os, signal, socket, sys, time
from datetime import UTC, datetime
from pathlib import Path

from crawler.schedule.parentwatch import watch_parent
watch_parent()  # as the real CLI does first

argv = sys.argv[1:]
log = Path(os.environ["FAKE_LOG"])
with log.open("a") as f:
    f.write(json.dumps(argv) + "\n")
if argv[0] == "report":
    out = Path(argv[argv.index("--out") + 1])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("report " + argv[argv.index("--format") + 1])
    sys.exit(0)
n = sum(1 for line in log.read_text().splitlines() if json.loads(line)[0] == "crawl")
modes = os.environ.get("FAKE_MODES", "ok").split(",")
mode = modes[min(n, len(modes)) - 1]

from sqlalchemy import delete, insert, update
from crawler.db.engine import make_engine
from crawler.db.runlog import LOCKS, RUNS

engine = make_engine(os.environ["DFWATCH_DATABASE_URL"])
now, host, pid = datetime.now(UTC), socket.gethostname(), os.getpid()
with engine.begin() as c:  # what run_crawl does first: a running row, then the lock
    run_id = c.execute(insert(RUNS).values(
        started_at=now, trigger=argv[argv.index("--trigger") + 1], status="running",
        version="fake", pid=pid, host=host)).inserted_primary_key[0]
    c.execute(insert(LOCKS).values(scope=f"source:fake{run_id}", run_id=run_id,
                                   holder=f"{host}:{pid}", acquired_at=now, heartbeat_at=now))
Path(f"{log}.started{n}").touch()
if mode == "crash":
    sys.exit(3)
if mode == "hang-ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if mode.startswith("hang"):
    time.sleep(600)
if mode.startswith("sleep"):
    time.sleep(float(mode[5:]))
with engine.begin() as c:
    c.execute(update(RUNS).where(RUNS.c.id == run_id).values(status="ok", finished_at=datetime.now(UTC)))
    c.execute(delete(LOCKS).where(LOCKS.c.run_id == run_id))
'''

DRIVER = """
import sys
from pathlib import Path
from crawler.config import load_config
from crawler.logs import setup_logging
from crawler.schedule import run_scheduler
setup_logging()
d = Path(sys.argv[1])
sys.exit(run_scheduler(load_config(d), config_dir=d, cli_command=sys.argv[2:], kill_grace_seconds=1))
"""


# --------------------------------------------------------------------------- helpers


def wait_for(what: str, cond: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Poll `cond` until truthy; a bounded wait, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def far_cron() -> tuple[str, datetime]:
    """A daily cron whose last fire time lies 12–13 h back (and the next 11–12 h ahead),
    whatever the time of day the test runs; and that last fire time."""
    now = datetime.now(UTC)
    hour = (now.hour + 12) % 24
    last = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if last > now:
        last -= timedelta(days=1)
    return f"0 {hour} * * *", last


class Fake:
    """The fake CLI: its command line, its invocation log, its env."""

    def __init__(self, tmp_path: Path) -> None:
        self.script = tmp_path / "fake_cli.py"
        self.script.write_text(FAKE_CLI)
        self.log = tmp_path / "fake_cli.log"
        self.command = [sys.executable, str(self.script)]

    def env(self, modes: str = "ok") -> dict[str, str]:
        return {"FAKE_LOG": str(self.log), "FAKE_MODES": modes, "PYTHONPATH": str(ROOT)}

    def calls(self, command: str = "crawl") -> list[list[str]]:
        if not self.log.exists():
            return []
        return [a for a in map(json.loads, self.log.read_text().splitlines()) if a[0] == command]

    def started(self, n: int = 1) -> bool:
        return Path(f"{self.log}.started{n}").exists()


@pytest.fixture
def fake(tmp_path: Path) -> Fake:
    return Fake(tmp_path)


class Running:
    """run_scheduler in a thread, stopped by its stop_event (signals need the main thread)."""

    def __init__(self, config: Config, **kwargs: Any) -> None:
        self.stop = threading.Event()
        self.result: list[int] = []
        self.thread = threading.Thread(
            target=lambda: self.result.append(
                run_scheduler(config, config_dir=config.directory, stop_event=self.stop, **kwargs)
            ),
            daemon=True,
        )
        self.thread.start()

    def finish(self) -> int:
        self.stop.set()
        self.thread.join(20)
        assert not self.thread.is_alive(), "the scheduler did not stop"
        return self.result[0]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'dfwatch.db'}")
    yield eng
    eng.dispose()


@pytest.fixture
def any_db(db_url: str) -> Iterator[Engine]:
    """SQLite and the real PostgreSQL (conftest's db_url); configs pass db_url=any_db.url."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def start_once(config: Config) -> None:
    """Start and stop at once: the jobs are synced, nothing runs."""
    stop = threading.Event()
    stop.set()
    assert run_scheduler(config, config_dir=config.directory, stop_event=stop) == 0


def stored_jobs(engine: Engine) -> dict[str, Job]:
    return {j.id: j for j in SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE).get_all_jobs()}


def set_next_run(engine: Engine, job_id: str, when: datetime) -> None:
    """What a scheduler stopped before `when` leaves in the store: that next run time."""
    store = SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)
    job = store.lookup_job(job_id)
    job.next_run_time = when
    store.update_job(job)


def runs(engine: Engine) -> list[Any]:
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(RUNS).order_by(RUNS.c.id)))
    except OperationalError:  # the scheduler has not created the schema yet
        return []


def next_run_in_future(engine: Engine, job_id: str = DEFAULT_JOB) -> bool:
    nxt = stored_jobs(engine)[job_id].next_run_time
    return nxt is not None and nxt > datetime.now(UTC)


def scheduler_lock_held(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            return (
                conn.execute(select(LOCKS.c.holder).where(LOCKS.c.scope == "scheduler")).first() is not None
            )
    except OperationalError:  # no schema yet
        return False


def dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# --------------------------------------------------------------------------- cron


def test_crontab_weekday_numbers_mean_what_cron_means() -> None:
    # APScheduler's from_crontab reads "1" as Tuesday; settings.toml means Monday.
    sunday_noon = datetime(2025, 6, 1, 12, tzinfo=UTC)
    nxt = crontab_trigger("0 4 * * 1").get_next_fire_time(None, sunday_noon)
    assert nxt == datetime(2025, 6, 2, 4, tzinfo=UTC)
    assert nxt is not None and nxt.strftime("%a") == "Mon"
    assert crontab_weekdays("0") == crontab_weekdays("7") == "sun"
    assert crontab_weekdays("1-5") == "mon,tue,wed,thu,fri"
    assert crontab_weekdays("*/2") == "sun,tue,thu,sat"
    assert crontab_weekdays("1/3") == "sun,mon,thu"  # 1-7/3: 1, 4, 7
    assert crontab_weekdays("sat,sun") == "sun,sat"
    assert crontab_weekdays("*") == "*"
    with pytest.raises(ValueError, match="0-7"):
        crontab_weekdays("8")


# --------------------------------------------------------------------------- job store


def test_two_start_ups_keep_one_job_each(make_config: Any, any_db: Engine) -> None:
    db = any_db
    config = make_config(
        {},
        '[schedule]\ncron = "0 3 * * *"\n[schedule.sources]\narctic_shift = "0 4 * * 1"\n',
        db_url=db.url.render_as_string(hide_password=False),
    )
    start_once(config)
    first = stored_jobs(db)
    start_once(config)
    second = stored_jobs(db)

    assert sorted(second) == ["crawl:arctic_shift", "crawl:default"]
    assert {k: j.next_run_time for k, j in second.items()} == {k: j.next_run_time for k, j in first.items()}
    default, arctic = second["crawl:default"], second["crawl:arctic_shift"]
    assert default.args[1] == [s for s in SOURCE_NAMES if s != "arctic_shift"]
    assert arctic.args[1] == ["arctic_shift"]
    assert arctic.next_run_time is not None and arctic.next_run_time.strftime("%a %H:%M") == "Mon 04:00"
    assert (default.coalesce, default.max_instances, default.misfire_grace_time) == (True, 1, 12 * 3600)


def test_missed_run_runs_once_at_start_up(make_config: Any, fake: Fake, any_db: Engine) -> None:
    db = any_db
    cron, last = far_cron()
    config = make_config(
        {},
        f'[schedule]\ncron = "{cron}"\nmisfire_grace_hours = 14\n',
        env=fake.env(),
        db_url=db.url.render_as_string(hide_password=False),
    )
    start_once(config)
    set_next_run(db, DEFAULT_JOB, last - timedelta(days=3))  # down for four fire times

    running = Running(config, cli_command=fake.command)
    wait_for("the missed run to finish", lambda: [r.status for r in runs(db)] == ["ok"])
    wait_for("the job's next run to move to the future", lambda: next_run_in_future(db))
    assert running.finish() == 0

    calls = fake.calls()
    assert len(calls) == 1  # four missed fire times, coalesced into one run
    assert calls[0][:3] == ["crawl", "--trigger", "schedule"]
    assert "--only" not in calls[0]  # every source
    assert stored_jobs(db)[DEFAULT_JOB].next_run_time == last + timedelta(days=1)


def test_run_missed_beyond_the_grace_is_skipped(make_config: Any, fake: Fake, db: Engine) -> None:
    cron, last = far_cron()
    config = make_config({}, f'[schedule]\ncron = "{cron}"\nmisfire_grace_hours = 1\n', env=fake.env())
    start_once(config)
    set_next_run(db, DEFAULT_JOB, last)  # 12-13 hours late: beyond a grace of one hour

    running = Running(config, cli_command=fake.command)
    wait_for("the missed run to be processed", lambda: next_run_in_future(db))
    assert running.finish() == 0
    assert fake.calls() == []
    assert runs(db) == []


def test_changed_cron_keeps_the_pending_missed_run(make_config: Any, fake: Fake, db: Engine) -> None:
    cron, last = far_cron()
    settings = '[schedule]\ncron = "{}"\nmisfire_grace_hours = 14\n'
    start_once(make_config({}, settings.format(cron)))
    set_next_run(db, DEFAULT_JOB, last)
    new_cron = cron.replace("0 ", "30 ", 1)  # half an hour later each day
    config = make_config({}, settings.format(new_cron), env=fake.env())

    start_once(config)  # re-sync only
    job = stored_jobs(db)[DEFAULT_JOB]
    assert job.next_run_time == last  # still due
    assert str(job.trigger.fields[6]) == "30"  # minute field of the new trigger

    running = Running(config, cli_command=fake.command)
    wait_for("the kept run to finish", lambda: [r.status for r in runs(db)] == ["ok"])
    wait_for("the next run to move on", lambda: next_run_in_future(db))
    assert running.finish() == 0
    assert len(fake.calls()) == 1
    assert stored_jobs(db)[DEFAULT_JOB].next_run_time == last + timedelta(days=1, minutes=30)


def test_changed_cron_reschedules_a_future_run(make_config: Any, db: Engine) -> None:
    start_once(make_config({}, '[schedule]\ncron = "0 3 * * *"\n'))
    start_once(make_config({}, '[schedule]\ncron = "15 5 * * *"\n'))
    nxt = stored_jobs(db)[DEFAULT_JOB].next_run_time
    assert nxt is not None and nxt.strftime("%H:%M") == "05:15"
    assert nxt - datetime.now(UTC) <= timedelta(days=1)


def test_dropped_per_source_schedule_removes_its_job(make_config: Any, db: Engine) -> None:
    start_once(make_config({}, '[schedule.sources]\nx = "0 * * * *"\n'))
    assert sorted(stored_jobs(db)) == ["crawl:default", "crawl:x"]
    start_once(make_config({}, ""))
    jobs = stored_jobs(db)
    assert sorted(jobs) == ["crawl:default"]
    assert jobs[DEFAULT_JOB].args[1] == list(SOURCE_NAMES)


def test_list_jobs_shows_planned_then_stored_jobs(make_config: Any) -> None:
    config = make_config(
        {}, '[schedule]\ncron = "0 3 * * *"\n[schedule.sources]\narctic_shift = "0 4 * * 1"\n'
    )
    before = {j.id: j for j in list_jobs(config)}
    assert {k: (j.stored, j.cron) for k, j in before.items()} == {
        "crawl:default": (False, "0 3 * * *"),
        "crawl:arctic_shift": (False, "0 4 * * mon"),
    }
    start_once(config)
    after = {j.id: j for j in list_jobs(config)}
    assert all(j.stored for j in after.values())
    assert after["crawl:arctic_shift"].sources == ["arctic_shift"]
    assert after["crawl:default"].next_run_time == before["crawl:default"].next_run_time


def test_second_scheduler_on_one_database_refuses_to_start(make_config: Any, db: Engine) -> None:
    config = make_config({}, "")
    running = Running(config)
    wait_for("the first scheduler to hold its lock", lambda: scheduler_lock_held(db))
    try:
        with pytest.raises(LockTimeout, match="another scheduler"):
            start_once(config)
    finally:
        assert running.finish() == 0


# --------------------------------------------------------------------------- children


def test_hung_crawl_is_killed_at_its_timeout_and_recorded(
    make_config: Any, fake: Fake, any_db: Engine
) -> None:
    db = any_db
    cron, last = far_cron()
    config = make_config(
        {},
        f'[schedule]\ncron = "{cron}"\nmisfire_grace_hours = 14\ntimeout_minutes = 0.02\n',
        env=fake.env("hang-ignore-term"),
        db_url=db.url.render_as_string(hide_password=False),
    )
    start_once(config)
    set_next_run(db, DEFAULT_JOB, last)

    running = Running(config, cli_command=fake.command, kill_grace_seconds=0.5)
    wait_for("the hung run to be recorded", lambda: [r.status for r in runs(db)] == ["failed"])
    assert running.finish() == 0

    (run,) = runs(db)
    assert run.error_summary == "killed after timeout of 0.02 minutes"
    assert run.finished_at is not None
    assert dead(run.pid)  # SIGTERM was ignored; SIGKILL ended it
    with db.connect() as conn:
        assert list(conn.execute(select(LOCKS))) == []  # its lock does not block the next crawl


def test_crashing_crawl_does_not_stop_later_runs(make_config: Any, fake: Fake, db: Engine) -> None:
    config = make_config({}, "", env=fake.env("crash,crash,ok"))
    running = Running(config, cli_command=fake.command, triggers={DEFAULT_JOB: IntervalTrigger(seconds=1)})
    wait_for("three runs to end", lambda: [r.status != "running" for r in runs(db)][:3] == [True] * 3)
    assert running.finish() == 0

    statuses = [(r.status, r.error_summary) for r in runs(db)]
    reason = "crawl process exited with code 3 without finishing its run"
    assert statuses[:3] == [("failed", reason), ("failed", reason), ("ok", None)]


def test_report_is_written_after_a_scheduled_crawl(
    make_config: Any, fake: Fake, db: Engine, tmp_path: Path
) -> None:
    cron, last = far_cron()
    out = tmp_path / "out" / "report.md"
    config = make_config(
        {},
        f'[schedule]\ncron = "{cron}"\nmisfire_grace_hours = 14\n'
        f'report_path = "{out}"\nreport_format = "md"\n',
        env=fake.env(),
    )
    start_once(config)
    set_next_run(db, DEFAULT_JOB, last)

    running = Running(config, cli_command=fake.command)
    wait_for("the report", lambda: out.exists())
    assert running.finish() == 0
    assert out.read_text() == "report md"
    (call,) = fake.calls("report")
    assert call[call.index("--config") + 1] == str(config.directory)


# --------------------------------------------------------------------------- SIGTERM


def _scheduler_process(config: Config, fake: Fake, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **config.env}
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(config.directory), *fake.command], env=env, cwd=tmp_path
    )


@pytest.mark.parametrize(
    ("mode", "grace", "status", "summary"),
    [
        ("sleep1.5", 30, "ok", None),
        ("hang", 0.5, "aborted", "aborted: the scheduler stopped and the shutdown grace of 0.5 s ran out"),
    ],
    ids=["finishes-within-grace", "ended-after-grace"],
)
def test_sigterm_during_a_crawl_exits_zero(
    make_config: Any,
    fake: Fake,
    db: Engine,
    tmp_path: Path,
    mode: str,
    grace: float,
    status: str,
    summary: str | None,
) -> None:
    cron, last = far_cron()
    config = make_config(
        {},
        f'[schedule]\ncron = "{cron}"\nmisfire_grace_hours = 14\nshutdown_grace_seconds = {grace}\n',
        env=fake.env(mode),
    )
    start_once(config)
    set_next_run(db, DEFAULT_JOB, last)

    proc = _scheduler_process(config, fake, tmp_path)
    try:
        wait_for("the crawl to start", lambda: fake.started(1))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    (run,) = runs(db)
    assert (run.status, run.error_summary) == (status, summary)
    assert dead(run.pid)
    assert len(fake.calls()) == 1  # nothing new started while stopping


# --------------------------------------------------------------------------- real crawls


def _real_config(make_config: Any, settings: str = "") -> Config:
    return make_config({}, settings, env={"PYTHONPATH": str(ROOT)})


def test_scheduled_real_crawl_is_recorded_as_schedule(make_config: Any, db: Engine) -> None:
    cron, last = far_cron()
    config = _real_config(make_config, f'[schedule]\ncron = "{cron}"\nmisfire_grace_hours = 14\n')
    start_once(config)
    set_next_run(db, DEFAULT_JOB, last)

    running = Running(config)  # the default command: python -m crawler.cli crawl
    wait_for("the real crawl to end", lambda: [r.status for r in runs(db)] not in ([], ["running"]), 20)
    assert running.finish() == 0
    (run,) = runs(db)
    assert (run.trigger, run.status) == ("schedule", "ok")


def test_two_crawls_started_together_wait_for_the_lock(make_config: Any, db: Engine, tmp_path: Path) -> None:
    config = _real_config(make_config, "[crawler]\nlock_wait_seconds = 30\n")
    env = {**os.environ, **config.env}
    argv = [sys.executable, "-m", "crawler.cli", "crawl", "--config", str(config.directory)]
    held = RunLock(
        db,
        ["source:none"],
        holder=f"{socket.gethostname()}:{os.getpid()}",
        wait_seconds=0,
        stale_seconds=3600,
    )
    start_once(config)  # creates the schema
    held.acquire(None)  # a manual crawl is running
    procs = [subprocess.Popen(argv, env=env, cwd=tmp_path) for _ in range(2)]
    try:
        wait_for("both crawls to start their runs", lambda: len(runs(db)) == 2, 20)
        assert [r.status for r in runs(db)] == ["running", "running"]  # both wait
        held.release()
        assert [p.wait(30) for p in procs] == [0, 0]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [r.status for r in runs(db)] == ["ok", "ok"]
    with db.connect() as conn:
        assert list(conn.execute(select(LOCKS))) == []


# --------------------------------------------------------------------------- scheduler death


def gone(pid: int) -> bool:
    """Ended: no such process, or a zombie nobody reaps (this container's PID 1 does not)."""
    from crawler.db.runlog import pid_alive

    return not pid_alive(pid)


def test_scheduler_killed_with_kill_9_takes_its_crawl_child_along_and_loses_no_run(
    make_config: Any, fake: Fake, db: Engine, tmp_path: Path
) -> None:
    cron, last = far_cron()
    config = make_config(
        {}, f'[schedule]\ncron = "{cron}"\nmisfire_grace_hours = 14\n', env=fake.env("hang,ok")
    )
    start_once(config)
    set_next_run(db, DEFAULT_JOB, last)
    proc = _scheduler_process(config, fake, tmp_path)
    try:
        wait_for("the crawl to start", lambda: fake.started(1))
        (run,) = runs(db)
        proc.kill()  # SIGKILL: the scheduler can end nothing itself
        proc.wait(10)
        wait_for("the crawl child to die with its scheduler", lambda: gone(run.pid))
    finally:
        if proc.poll() is None:
            proc.kill()
    # The dead child's lock does not block the next crawl: it is taken over at once.
    with db.connect() as conn:
        (scope,) = conn.execute(select(LOCKS.c.scope).where(LOCKS.c.scope.like("source:%"))).scalars().all()
    lock = RunLock(
        db, [scope], holder=f"{socket.gethostname()}:{os.getpid()}", wait_seconds=0, stale_seconds=3600
    )
    lock.acquire(None)
    lock.release()
    # And the restarted scheduler runs its next crawl.
    running = Running(config, cli_command=fake.command, triggers={DEFAULT_JOB: IntervalTrigger(seconds=1)})
    wait_for("the next run to finish", lambda: "ok" in [r.status for r in runs(db)])
    assert running.finish() == 0


CHILD = """
import signal, sys, time
from crawler.schedule import parentwatch
parentwatch.KILL_GRACE_SECONDS = 0.5
if sys.argv[1] == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
parentwatch.watch_parent(prctl=sys.argv[2] == "prctl")
print("watching", flush=True)
time.sleep(120)
"""
PARENT = """
import os, subprocess, sys, time
from crawler.schedule.parentwatch import watch_pipe
env, child_end, lifeline = watch_pipe()
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], *sys.argv[2:]], env={**os.environ, **env},
                         pass_fds=(child_end,), start_new_session=True, stdout=subprocess.PIPE, text=True)
os.close(child_end)
assert child.stdout.readline().strip() == "watching"
print(child.pid, flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize(
    ("mode", "mechanism"),
    [("default", "prctl"), ("default", "pipe"), ("ignore-term", "pipe")],
    ids=["parent-death-signal", "pipe-fallback", "pipe-fallback-sigkill-after-grace"],
)
def test_child_dies_when_its_parent_is_killed(mode: str, mechanism: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, CHILD, mode, mechanism], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        assert not gone(child_pid)
        parent.kill()
        parent.wait(10)
        wait_for("the child to end", lambda: gone(child_pid))
    finally:
        if parent.poll() is None:
            parent.kill()
