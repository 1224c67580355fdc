"""`dfwatch schedule`: the long-running scheduler process.

APScheduler 3.11's BackgroundScheduler runs the jobs; this module owns the loop around it,
so that a stop (SIGTERM, SIGINT, or `stop_event` in tests) is handled in one place:
pause the scheduler (nothing new starts), let a running crawl finish within
settings.schedule.shutdown_grace_seconds, end it if it does not, shut down, exit 0.
A second signal skips the rest of the grace.

Two schedulers on one job store would both fire every job (DESIGN.md), so the scheduler
holds the run lock scope `scheduler` for its lifetime (heartbeat every minute): a second
one refuses to start. The crawls take their own per-source scopes.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import Engine, select

from crawler.config import Config
from crawler.db.engine import make_engine, upgrade
from crawler.db.runlog import LOCKS, RunLock, holder_of
from crawler.errors import LockTimeout
from crawler.schedule.child import KILL_GRACE_SECONDS, Supervisor, activate
from crawler.schedule.jobs import JOBS_TABLE, job_defaults, job_info, sync_jobs

log = logging.getLogger("dfwatch.schedule")

POLL_SECONDS = 0.5  # how often the main loop looks at the stop flag
MAX_PARALLEL_JOBS = 8  # one thread per job at most; there are 1 + per-source jobs
SCHEDULER_SCOPE = "scheduler"
HEARTBEAT_SECONDS = 60.0
SCHEDULER_STALE_SECONDS = 10 * HEARTBEAT_SECONDS  # a scheduler elsewhere silent this long is dead


class _Signals:
    """SIGTERM/SIGINT set a flag (no locks in a signal handler); the second one hurries."""

    def __init__(self) -> None:
        self.count = 0
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.count += 1

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # tests run the scheduler in a thread and stop it with stop_event
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _on_event(event: JobEvent) -> None:
    if event.code == EVENT_JOB_MISSED:
        log.warning(
            "job=%s missed its run of %s by more than the misfire grace: skipped; "
            "it runs again at its next time",
            event.job_id,
            event.scheduled_run_time,
        )
    elif event.code == EVENT_JOB_MAX_INSTANCES:
        log.warning("job=%s not started: its previous run is still going", event.job_id)


def _scheduler_holder(engine: Engine) -> str:
    with engine.connect() as conn:
        row = conn.execute(
            select(LOCKS.c.holder, LOCKS.c.heartbeat_at).where(LOCKS.c.scope == SCHEDULER_SCOPE)
        ).first()
    if row is None:
        return "it stopped just now"
    host, _, pid = row.holder.rpartition(":")
    return f"pid {pid} on host {host}, alive at {row.heartbeat_at.isoformat(timespec='seconds')}"


def _shutdown(scheduler: BackgroundScheduler, wait: bool) -> None:
    """Shut down without consuming a due run.

    Measured on APScheduler 3.11.3: `shutdown()` sets STOPPED, wakes the scheduler thread,
    and that thread runs `_process_jobs` once more (the loop checks the state only before
    waiting). A due job, such as a missed run kept for the next start, is then submitted to
    the executor that was just shut down (RuntimeError, logged) and its next run time is
    advanced anyway: the run is lost. Detaching the job store first leaves nothing to process.
    """
    scheduler.pause()
    scheduler.remove_jobstore("default", shutdown=False)
    scheduler.shutdown(wait=wait)


def run_scheduler(
    config: Config,
    *,
    config_dir: Path,
    stop_event: threading.Event | None = None,
    cli_command: Sequence[str] | None = None,
    triggers: Mapping[str, BaseTrigger] | None = None,
    kill_grace_seconds: float = KILL_GRACE_SECONDS,
) -> int:
    """Run the scheduler until SIGTERM/SIGINT or `stop_event`; the exit code (0).

    `cli_command` (how dfwatch is started, default this interpreter's `-m crawler.cli`),
    `triggers` (job id -> trigger) and `kill_grace_seconds` exist for tests.
    """
    stop = stop_event or threading.Event()
    signals = _Signals()
    engine = make_engine(config.database_url)
    upgrade(engine)  # crawl_runs must exist for the supervisor to record a killed crawl
    supervisor = Supervisor(config, engine, cli_command=cli_command, kill_grace_seconds=kill_grace_seconds)
    scheduler = BackgroundScheduler(
        timezone="UTC",
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)},
        executors={"default": ThreadPoolExecutor(MAX_PARALLEL_JOBS)},
        job_defaults=job_defaults(config),
    )
    scheduler.add_listener(_on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
    guard = RunLock(
        engine,
        [SCHEDULER_SCOPE],
        holder=holder_of(socket.gethostname(), os.getpid()),
        wait_seconds=0,
        stale_seconds=SCHEDULER_STALE_SECONDS,
    )
    try:
        guard.acquire(None)
    except LockTimeout:
        holder = _scheduler_holder(engine)
        engine.dispose()
        raise LockTimeout(
            f"another scheduler already runs on this database ({holder}); run one scheduler per database"
        ) from None
    activate(supervisor)
    signals.install()
    try:
        scheduler.start(paused=True)
        for job in sync_jobs(scheduler, config, str(config_dir), triggers):
            info = job_info(job)
            log.info(
                "job=%s cron='%s' next=%s sources=%s",
                info.id,
                info.cron,
                info.next_run_time.isoformat() if info.next_run_time else "paused",
                ",".join(info.sources),
            )
        if not stop.is_set() and not signals.count:
            scheduler.resume()
            log.info("scheduler running (UTC); SIGTERM or Ctrl-C stops it")
        beat = time.monotonic()
        while not stop.wait(POLL_SECONDS) and not signals.count:
            if time.monotonic() - beat >= HEARTBEAT_SECONDS:
                beat = time.monotonic()
                if not guard.heartbeat():
                    log.error("the scheduler lock was taken over: is another scheduler running?")
        grace = config.settings.schedule.shutdown_grace_seconds
        log.info("scheduler stopping: no new runs; a running crawl gets %.0fs to finish", grace)
        scheduler.pause()
        supervisor.stop(grace, hurry=lambda: signals.count > 1)
        _shutdown(scheduler, wait=True)
        log.info("scheduler stopped")
    finally:
        if scheduler.running:  # an error above: stop the threads, end the children now
            supervisor.stop(0)
            _shutdown(scheduler, wait=False)
        signals.restore()
        activate(None)
        guard.release()
        engine.dispose()
    return 0
